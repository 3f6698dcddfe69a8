/* Inline SVG plots, drawn here so that a report needs no script and no network. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

#define W 900
#define ML 70	/* margins */
#define MR 20
#define MT 20
#define PH 260	/* plot height */
#define MAX_POINTS 4000

/* A tick step of 1, 2 or 5 times a power of ten giving about n ticks. */
static double nice_step(double range, int n)
{
	double raw = range / n, p = pow(10, floor(log10(raw))), m = raw / p;

	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void axes(FILE *f, double x0, double x1, double y0, double y1, const char *xl,
		 const char *yl, bool yticks)
{
	double sx = (W - ML - MR) / (x1 - x0), sy = PH / (y1 - y0);
	double st;

	fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='#fff' stroke='#999'/>\n", ML, MT,
		W - ML - MR, PH);
	st = nice_step(x1 - x0, 8);
	for (double v = ceil(x0 / st) * st; v <= x1 + st * 1e-9; v += st) {
		double x = ML + (v - x0) * sx;
		fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%d' y2='%d' stroke='#eee'/>"
			"<text x='%.1f' y='%d' text-anchor='middle'>%g</text>\n", x, x, MT, MT + PH, x,
			MT + PH + 14, fabs(v) < st * 1e-9 ? 0 : v);
	}
	st = nice_step(y1 - y0, 5);
	for (double v = ceil(y0 / st) * st; yticks && v <= y1 + st * 1e-9; v += st) {
		double y = MT + PH - (v - y0) * sy;
		fprintf(f, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#eee'/>"
			"<text x='%d' y='%.1f' text-anchor='end'>%g</text>\n", ML, W - MR, y, y, ML - 4,
			y + 4, fabs(v) < st * 1e-9 ? 0 : v);
	}
	fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>", ML + (W - ML - MR) / 2, MT + PH + 32);
	report_html_esc(f, xl);
	fprintf(f, "</text><text transform='translate(14,%d) rotate(-90)' text-anchor='middle'>",
		MT + PH / 2);
	report_html_esc(f, yl);
	fputs("</text>\n", f);
}

static void open_svg(FILE *f, int h, const char *title)
{
	fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 %d %d' width='%d' "
		"height='%d' font-family='sans-serif' font-size='11' role='img'><title>", W, h, W, h);
	report_html_esc(f, title);
	fputs("</title>\n", f);
}

/* A cell's label in a plot row: "3. bench/disk cache (control)", cut to max
 * characters (about 6 px each at 11 px) with "...", escaped. */
static void row_label(FILE *f, const struct report *r, size_t i, size_t max)
{
	const struct report_cell *c = &r->cells[i];
	char b[320];
	int n = snprintf(b, sizeof(b), "%zu. %s/%s %s%s%s%s", i + 1, c->bench, c->disk, c->cache,
			 c->control ? " (" : "", c->control ? report_control_name(c->control) : "",
			 c->control ? ")" : "");
	if (n > 0 && (size_t)n > max && max > 3)
		memcpy(b + max - 3, "...", 4);
	report_html_esc(f, b);
}

/* The legend of the cells that are controls (which = 1) or not (0). */
static int cell_legend(const struct report *r, FILE *f, int y, int which)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_cell *c = &r->cells[i];
		if ((c->control != REPORT_CTL_NONE) != which)
			continue;
		int x = ML + (int)(k % 2) * 420, yy = y + (int)(k / 2) * 15;
		k++;
		fprintf(f, "<rect x='%d' y='%d' width='10' height='10' fill='%s'/>"
			"<text x='%d' y='%d'>", x, yy, report_cell_colour(i), x + 14, yy + 9);
		/* 400 px of a column at about 6 px a character */
		row_label(f, r, i, 58);
		fprintf(f, ", %s</text>\n", !strcmp(c->cut, "kill") ? "kill" : "power");
	}
	return y + (int)((k + 1) / 2) * 15;
}

static uint64_t lost(const struct report_unit *u)
{
	return u->cls[CLS_UNFLUSHED_LOST_OLDER] + u->cls[CLS_UNFLUSHED_LOST_ZERO] + u->cls[CLS_FLUSHED_LOST_OLDER] +
	       u->cls[CLS_FLUSHED_LOST_ZERO] + u->cls[CLS_TORN];
}

/* A logarithmic count axis: 0 gets its own row below 1, so that a cycle that lost
 * nothing is still a point. */
static double ylog(double v, double top)
{
	double d = log10(top);
	return v < 1 ? 0 : (log10(v) + 0.3) / (d + 0.3);
}

static void log_y_axis(FILE *f, double top)
{
	double w = W - ML - MR;
	for (double v = 1; v <= top * 1.0001; v *= 10) {
		double y = MT + PH - ylog(v, top) * PH;
		fprintf(f, "<line x1='%d' x2='%.0f' y1='%.1f' y2='%.1f' stroke='#eee'/>"
			"<text x='%d' y='%.1f' text-anchor='end'>%g</text>\n", ML, ML + w, y, y,
			ML - 4, y + 4, v);
	}
	fprintf(f, "<text x='%d' y='%d' text-anchor='end'>0</text>\n", ML - 4, MT + PH + 4);
}

/* The cells drawn in one loss plot: tested cells, or the controls apart (a lying
 * disk loses thousands of blocks and would flatten every other cell). */
static bool in_plot(const struct report *r, const struct report_unit *u, bool controls)
{
	return u->verified && (r->cells[u->cell].control != REPORT_CTL_NONE) == controls;
}

void report_svg_losses(const struct report *r, FILE *f, bool controls)
{
	double x0 = 0, x1 = 0, y1 = 0, ymin = 0;
	size_t n = 0;

	for (size_t i = 0; i < r->n_units; i++) {
		const struct report_unit *u = &r->units[i];
		if (!in_plot(r, u, controls))
			continue;
		double x = u->since_flush_ns / 1e6, y = (double)lost(u);
		x0 = n ? fmin(x0, x) : fmin(0, x);
		x1 = n ? fmax(x1, x) : x;
		y1 = fmax(y1, y);
		if (y > 0 && (ymin == 0 || y < ymin))
			ymin = y;
		n++;
	}
	if (x1 <= x0)
		x1 = x0 + 1;
	x1 += (x1 - x0) * 0.03;
	/* Logarithmic where the counts span two decades or more. */
	bool lg = ymin > 0 && y1 / ymin >= 100;
	double top = lg ? pow(10, ceil(log10(y1))) : y1 < 1 ? 1 : y1 * 1.05;
	size_t ncells = 0;
	for (size_t i = 0; i < r->n_cells; i++)
		ncells += (r->cells[i].control != REPORT_CTL_NONE) == controls;
	int h = MT + PH + 44 + (int)((ncells + 1) / 2) * 15 + 10;
	open_svg(f, h, controls ? "control disks: blocks lost against the time between the last "
		 "completed flush and the cut" : "blocks lost against the time between the last "
		 "completed flush and the cut");
	if (!n) {
		fprintf(f, "<text x='%d' y='%d'>no verified disk-cycle of a %s</text></svg>\n", ML,
			MT + 20, controls ? "control disk" : "tested disk");
		return;
	}
	axes(f, x0, x1, 0, lg ? 1 : top, "time from the last completed flush to the cut (ms)",
	     lg ? "blocks lost (log scale)" : "blocks lost (unflushed, flushed, torn)", !lg);
	if (lg)
		log_y_axis(f, top);
	/* Deterministic thinning keeps a 10k-cycle page small; the counts in the tables
	 * are never thinned. */
	size_t stride = n > MAX_POINTS ? (n + MAX_POINTS - 1) / MAX_POINTS : 1, seen = 0;
	double sx = (W - ML - MR) / (x1 - x0);
	for (size_t i = 0; i < r->n_units; i++) {
		const struct report_unit *u = &r->units[i];
		if (!in_plot(r, u, controls) || seen++ % stride)
			continue;
		double x = ML + (u->since_flush_ns / 1e6 - x0) * sx;
		double y = MT + PH - (lg ? ylog((double)lost(u), top) : (double)lost(u) / top) * PH;
		if (u->violations)
			fprintf(f, "<rect x='%.1f' y='%.1f' width='7' height='7' fill='none' "
				"stroke='%s' stroke-width='1.5'/>", x - 3.5, y - 3.5, report_cell_colour(u->cell));
		else
			fprintf(f, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s' fill-opacity='0.6'/>", x, y,
				report_cell_colour(u->cell));
	}
	fputc('\n', f);
	if (stride > 1)
		fprintf(f, "<text x='%d' y='%d' text-anchor='end'>every %zuth disk-cycle of %zu shown</text>",
			W - MR - 4, MT + 14, stride, n);
	cell_legend(r, f, MT + PH + 44, controls ? 1 : 0);
	fputs("</svg>\n", f);
}

/* The forest plot: per cell, the rate of violation cycles and of unflushed-loss cycles
 * with their Wilson 95 % intervals, cells grouped by cut kind, controls apart. */
#define FL 340		/* label column */
#define FP 240		/* one panel */
#define FG 36		/* between panels */
#define FR 18		/* row height */

static void forest_panel_axis(FILE *f, int x, int y0, int y1, const char *title)
{
	fprintf(f, "<text x='%d' y='%d' text-anchor='middle' font-weight='bold'>", x + FP / 2, MT);
	report_html_esc(f, title);
	fputs("</text>\n", f);
	for (int t = 0; t <= 100; t += 25) {
		double xx = x + FP * t / 100.0;
		fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%d' y2='%d' stroke='#e6e6e6'/>"
			"<text x='%.1f' y='%d' text-anchor='middle'>%d %%</text>\n", xx, xx, y0, y1, xx,
			y1 + 13, t);
	}
	fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#999'/>\n", x, y0,
		FP, y1 - y0);
}

static void forest_mark(FILE *f, int x, double y, const struct report_rate *rt, const char *col)
{
	if (!rt->n)
		return;
	double p = (double)rt->k / (double)rt->n;
	fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s' stroke-width='2'/>"
		"<rect x='%.1f' y='%.1f' width='7' height='7' fill='%s'><title>%" PRIu64 "/%" PRIu64
		" = %.1f %%, Wilson 95 %% [%.1f %%, %.1f %%]</title></rect>",
		x + rt->ci95.lo * FP, x + rt->ci95.hi * FP, y, y, col, x + p * FP - 3.5, y - 3.5, col,
		rt->k, rt->n, 100 * p, 100 * rt->ci95.lo, 100 * rt->ci95.hi);
}

void report_svg_forest(const struct report *r, FILE *f)
{
	/* Groups: power cuts, process kills, then the controls. */
	static const char *const gname[] = { "power cut", "process kill (kill -9 of QEMU)",
					     "controls (expected to fail / to pass)" };
	size_t rows = 0, groups = 0;
	for (int g = 0; g < 3; g++) {
		size_t k = 0;
		for (size_t i = 0; i < r->n_cells; i++) {
			const struct report_cell *c = &r->cells[i];
			int cg = c->control ? 2 : !strcmp(c->cut, "kill");
			k += cg == g;
		}
		rows += k;
		groups += k > 0;
	}
	int y0 = MT + 8, y1 = y0 + (int)(rows + groups) * FR + 4;
	int h = y1 + 36;
	open_svg(f, h, "forest plot: per cell, violation and unflushed-loss cycle rates with "
		 "Wilson 95 % intervals");
	int px1 = FL, px2 = FL + FP + FG;
	forest_panel_axis(f, px1, y0, y1, "cycles with a violation");
	forest_panel_axis(f, px2, y0, y1, "cycles that lost unflushed writes");
	int y = y0 + 4;
	for (int g = 0; g < 3; g++) {
		bool head = false;
		for (size_t i = 0; i < r->n_cells; i++) {
			const struct report_cell *c = &r->cells[i];
			int cg = c->control ? 2 : !strcmp(c->cut, "kill");
			if (cg != g)
				continue;
			if (!head) {
				fprintf(f, "<text x='4' y='%d' font-weight='bold'>%s</text>\n", y + 13,
					gname[g]);
				y += FR;
				head = true;
			}
			double yc = y + FR / 2.0;
			if (i % 2 == 0)
				fprintf(f, "<rect x='0' y='%d' width='%d' height='%d' fill='#f7f7f7'/>", y,
					W, FR);
			fprintf(f, "<a href='#cell-%zu'><text x='12' y='%.1f'>", i + 1, yc + 4);
			row_label(f, r, i, 44);
			fputs("</text></a>", f);
			fprintf(f, "<text x='%d' y='%.1f' text-anchor='end' fill='#555'>n=%" PRIu64
				"</text>", FL - 6, yc + 4, c->verified);
			forest_mark(f, px1, yc, &c->violation, c->control == REPORT_CTL_LYING ? "#555" :
				    "#CC0000");
			forest_mark(f, px2, yc, &c->unflushed, "#E69F00");
			fputc('\n', f);
			y += FR;
		}
	}
	fprintf(f, "<text x='4' y='%d'>square: observed rate; bar: Wilson 95 %% interval; "
		"n: verified disk-cycles</text>\n", y1 + 30);
	fputs("</svg>\n", f);
}

/* Exposure windows: per cell, one point per disk-cycle that lost acknowledged writes
 * on a logarithmic time axis, with the median and the 90th percentile marked; a cell
 * that lost none says so on its row, so that it stands next to one that did. */
void report_svg_exposure(const struct report *r, FILE *f)
{
	size_t rows = 0;
	int64_t lo = INT64_MAX, hi = 0;
	enum { RH = 22, LX = 300 };

	size_t lossy = 0;
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_exposure *e = &r->cells[i].exposure;
		rows += r->cells[i].verified > 0;
		if (!e->n)
			continue;
		lossy++;
		lo = e->min < lo ? e->min : lo;
		hi = e->max > hi ? e->max : hi;
	}
	int h = MT + (int)rows * RH + 60;
	open_svg(f, lossy ? h : MT + 40, "exposure window: age at the cut of the oldest "
		 "acknowledged write that was lost");
	if (!lossy) {
		fprintf(f, "<text x='%d' y='%d'>no disk-cycle lost an acknowledged write (or the "
			"databases predate the exposure window)</text></svg>\n", ML, MT + 20);
		return;
	}
	/* Decades of milliseconds around the data. */
	double d0 = floor(log10(fmax(lo, 1) / 1e6)), d1 = ceil(log10(fmax(hi, 1) / 1e6));
	if (d1 <= d0)
		d1 = d0 + 1;
	double pw = W - LX - 40;
#define EX(ns) (LX + (log10(fmax((double)(ns), 1) / 1e6) - d0) / (d1 - d0) * pw)
	int yb = MT + (int)rows * RH;
	for (double d = d0; d <= d1; d++) {
		double x = LX + (d - d0) / (d1 - d0) * pw;
		fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%d' y2='%d' stroke='#e6e6e6'/>"
			"<text x='%.1f' y='%d' text-anchor='middle'>%g ms</text>\n", x, x, MT, yb, x,
			yb + 14, pow(10, d));
	}
	fprintf(f, "<rect x='%d' y='%d' width='%.0f' height='%d' fill='none' stroke='#999'/>\n", LX,
		MT, pw, yb - MT);
	size_t row = 0;
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_cell *c = &r->cells[i];
		const struct report_exposure *e = &c->exposure;
		if (!c->verified)
			continue;
		double yc = MT + row * RH + RH / 2.0;
		fprintf(f, "<text x='4' y='%.1f'>", yc + 4);
		row_label(f, r, i, 40);
		fprintf(f, ", %s (%zu)</text>", !strcmp(c->cut, "kill") ? "kill" : "power", e->n);
		row++;
		if (!e->n) {
			fprintf(f, "<text x='%d' y='%.1f' fill='#555'>no acknowledged write lost in %"
				PRIu64 " verified cycle%s</text>\n", LX + 8, yc + 4, c->verified,
				c->verified == 1 ? "" : "s");
			continue;
		}
		size_t stride = e->n > 400 ? (e->n + 399) / 400 : 1, seen = 0;
		for (size_t u = 0; u < r->n_units; u++) {
			const struct report_unit *x = &r->units[u];
			if (x->cell != i || !x->have_exposure || !x->verified || seen++ % stride)
				continue;
			/* A deterministic vertical jitter by position keeps equal values apart. */
			fprintf(f, "<circle cx='%.1f' cy='%.1f' r='2.5' fill='%s' fill-opacity='0.5'/>",
				EX(x->exposure_ns), yc - 5 + (double)(seen % 5) * 2.5, report_cell_colour(i));
		}
		fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#000' stroke-width='2'>"
			"<title>median %.1f ms</title></line>"
			"<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#000' stroke-dasharray='2 2'>"
			"<title>90th percentile %.1f ms</title></line>\n",
			EX(e->p50), EX(e->p50), yc - 9, yc + 9, e->p50 / 1e6,
			EX(e->p90), EX(e->p90), yc - 9, yc + 9, e->p90 / 1e6);
	}
#undef EX
	fprintf(f, "<text x='4' y='%d'>dots: disk-cycles; solid bar: median; dashed bar: 90th "
		"percentile; (n): disk-cycles that lost an acknowledged write</text>\n", yb + 34);
	fputs("</svg>\n", f);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

void report_svg_holdup(const struct report *r, FILE *f)
{
	int64_t *v = malloc((r->n_cycles ? r->n_cycles : 1) * sizeof(*v));
	size_t n = 0;
	enum { NB = 40 };
	uint64_t bins[NB] = { 0 }, top = 1;

	if (!v)
		return;
	for (size_t i = 0; i < r->n_cycles; i++)
		if (r->cycles[i].have_cut && r->cycles[i].hold_up_ns > 0)
			v[n++] = r->cycles[i].hold_up_ns;
	int h = MT + PH + 60;
	open_svg(f, h, "PSU hold-up: relay open to PWR_OK drop");
	if (!n) {
		fprintf(f, "<text x='%d' y='%d'>no cut with a measured hold-up time</text></svg>\n", ML,
			MT + 20);
		free(v);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	/* The ATX specification's minimum, 16 ms, stays on the axis for reference. */
	double lo = fmin(v[0] / 1e6, 16) - 0.5, hi = fmax(v[n - 1] / 1e6, 16) + 0.5;
	double bw = (hi - lo) / NB;
	for (size_t i = 0; i < n; i++) {
		int b = (int)((v[i] / 1e6 - lo) / bw);
		b = b < 0 ? 0 : b >= NB ? NB - 1 : b;
		if (++bins[b] > top)
			top = bins[b];
	}
	axes(f, lo, hi, 0, (double)top * 1.1, "hold-up time (ms)", "cycles", true);
	double sx = (W - ML - MR) / (hi - lo), sy = PH / ((double)top * 1.1);
	for (int b = 0; b < NB; b++)
		if (bins[b])
			fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#0072B2'/>",
				ML + b * bw * sx + 0.5, MT + PH - bins[b] * sy, bw * sx - 1, bins[b] * sy);
	double x16 = ML + (16 - lo) * sx;
	fprintf(f, "\n<line x1='%.1f' x2='%.1f' y1='%d' y2='%d' stroke='#D55E00' stroke-dasharray='4 3'/>"
		"<text x='%.1f' y='%d' fill='#D55E00'>ATX minimum 16 ms</text>\n", x16, x16, MT, MT + PH,
		x16 + 4, MT + 12);
	fprintf(f, "<text x='%d' y='%d'>n = %zu cuts, min %.3f, median %.3f, max %.3f ms"
		"</text>\n", ML, MT + PH + 52, n, v[0] / 1e6, v[n / 2] / 1e6, v[n - 1] / 1e6);
	fputs("</svg>\n", f);
	free(v);
}

/* Worst outcome first: what a person looking at the strip must not miss. */
static int severity(const struct report_unit *u)
{
	if (u->violations || u->meta_failure)
		return 4;
	if (!u->verified)
		return 3;
	if (u->cls[CLS_UNFLUSHED_LOST_OLDER] || u->cls[CLS_UNFLUSHED_LOST_ZERO])
		return 2;
	return 1;
}

void report_svg_timeline(const struct report *r, FILE *f)
{
	static const char *const col[] = { "#fff", "#009E73", "#E69F00", "#999999", "#CC0000" };
	int64_t t0 = INT64_MAX, t1 = INT64_MIN;
	enum { NB = 240, RH = 16 };

	for (size_t i = 0; i < r->n_cycles; i++) {
		int64_t t = r->cycles[i].started_wall_ns;
		if (!t)
			continue;
		t0 = t < t0 ? t : t0;
		t1 = t > t1 ? t : t1;
	}
	int h = MT + (int)r->n_cells * (RH + 4) + 60;
	open_svg(f, h, "cycle timeline: outcome of every disk-cycle over time, one row per cell");
	if (t0 > t1) {
		fprintf(f, "<text x='%d' y='%d'>no cycle has a start time</text></svg>\n", ML, MT + 20);
		return;
	}
	unsigned char *sev = calloc(r->n_cells ? r->n_cells * NB : 1, 1);
	if (!sev) {
		fputs("</svg>\n", f);
		return;
	}
	double span = t1 > t0 ? (double)(t1 - t0) : 1;
	for (size_t i = 0; i < r->n_units; i++) {
		const struct report_unit *u = &r->units[i];
		int64_t t = r->cycles[u->cycle].started_wall_ns;
		if (!t)
			continue;
		int b = (int)((double)(t - t0) / span * (NB - 1));
		unsigned char s = (unsigned char)severity(u);
		if (s > sev[u->cell * NB + b])
			sev[u->cell * NB + b] = s;
	}
	double bw = (double)(W - ML - MR) / NB;
	for (size_t c = 0; c < r->n_cells; c++) {
		int y = MT + (int)c * (RH + 4);
		fprintf(f, "<text x='%d' y='%d' text-anchor='end'>%zu</text>", ML - 6, y + 12, c + 1);
		fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='#f6f6f6'/>", ML, y,
			W - ML - MR, RH);
		for (int b = 0; b < NB; b++)
			if (sev[c * NB + b])
				fprintf(f, "<rect x='%.1f' y='%d' width='%.1f' height='%d' fill='%s'/>",
					ML + b * bw, y, bw + 0.3, RH, col[sev[c * NB + b]]);
		fputc('\n', f);
	}
	free(sev);
	int y = MT + (int)r->n_cells * (RH + 4) + 6;
	char a[40], b[40];
	report_time(a, sizeof(a), t0);
	report_time(b, sizeof(b), t1);
	fprintf(f, "<text x='%d' y='%d'>%s</text><text x='%d' y='%d' text-anchor='end'>%s</text>\n",
		ML, y + 8, a, W - MR, y + 8, b);
	static const char *const lab[] = { NULL, "ok", "unflushed writes lost",
		"not verified (node or check failed)", "violation or metadata failure" };
	/* About 6 px per character of an 11 px sans-serif label. */
	for (int s = 1, x = ML; s <= 4; x += 14 + 6 * (int)strlen(lab[s]) + 18, s++)
		fprintf(f, "<rect x='%d' y='%d' width='10' height='10' fill='%s'/><text x='%d' y='%d'>"
			"%s</text>", x, y + 22, col[s], x + 14, y + 31, lab[s]);
	fputs("\n</svg>\n", f);
}
