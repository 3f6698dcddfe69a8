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
		 const char *yl)
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
	for (double v = ceil(y0 / st) * st; v <= y1 + st * 1e-9; v += st) {
		double y = MT + PH - (v - y0) * sy;
		fprintf(f, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#eee'/>"
			"<text x='%d' y='%.1f' text-anchor='end'>%g</text>\n", ML, W - MR, y, y, ML - 4,
			y + 4, fabs(v) < st * 1e-9 ? 0 : v);
	}
	fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>", ML + (W - ML - MR) / 2, MT + PH + 32);
	rpt_html_esc(f, xl);
	fprintf(f, "</text><text transform='translate(14,%d) rotate(-90)' text-anchor='middle'>",
		MT + PH / 2);
	rpt_html_esc(f, yl);
	fputs("</text>\n", f);
}

static void open_svg(FILE *f, int h, const char *title)
{
	fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 %d %d' width='%d' "
		"height='%d' font-family='sans-serif' font-size='11' role='img'><title>", W, h, W, h);
	rpt_html_esc(f, title);
	fputs("</title>\n", f);
}

static int cell_legend(const struct report *r, FILE *f, int y)
{
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct rpt_cell *c = &r->cells[i];
		int x = ML + (int)(i % 2) * 420, yy = y + (int)(i / 2) * 15;
		fprintf(f, "<rect x='%d' y='%d' width='10' height='10' fill='%s'/>"
			"<text x='%d' y='%d'>%zu: ", x, yy, rpt_cell_colour(i), x + 14, yy + 9, i + 1);
		rpt_html_esc(f, c->disk);
		fputs(" ", f);
		rpt_html_esc(f, c->format);
		fputs(" cache=", f);
		rpt_html_esc(f, c->cache);
		fputs(", ", f);
		rpt_html_esc(f, c->cut);
		fputs(" cut, ", f);
		rpt_html_esc(f, c->bench);
		fputs("</text>\n", f);
	}
	return y + (int)((r->n_cells + 1) / 2) * 15;
}

static uint64_t lost(const struct rpt_unit *u)
{
	return u->cls[RPT_UNFL_OLDER] + u->cls[RPT_UNFL_ZERO] + u->cls[RPT_FL_OLDER] +
	       u->cls[RPT_FL_ZERO] + u->cls[RPT_TORN];
}

void rpt_svg_losses(const struct report *r, FILE *f)
{
	double x0 = 0, x1 = 0, y1 = 0;
	size_t n = 0;

	for (size_t i = 0; i < r->n_units; i++) {
		const struct rpt_unit *u = &r->units[i];
		if (!u->verified)
			continue;
		double x = u->since_flush_ns / 1e6, y = (double)lost(u);
		x0 = n ? fmin(x0, x) : fmin(0, x);
		x1 = n ? fmax(x1, x) : x;
		y1 = fmax(y1, y);
		n++;
	}
	if (x1 <= x0)
		x1 = x0 + 1;
	x1 += (x1 - x0) * 0.03;
	y1 = y1 < 1 ? 1 : y1 * 1.05;
	int h = MT + PH + 44 + (int)((r->n_cells + 1) / 2) * 15 + 10;
	open_svg(f, h, "blocks lost against the time between the last completed flush and the cut");
	axes(f, x0, x1, 0, y1, "time from the last completed flush to the cut (ms)",
	     "blocks lost (unflushed, flushed, torn)");
	/* Deterministic thinning keeps a 10k-cycle page small; the counts in the tables
	 * are never thinned. */
	size_t stride = n > MAX_POINTS ? (n + MAX_POINTS - 1) / MAX_POINTS : 1, seen = 0;
	double sx = (W - ML - MR) / (x1 - x0), sy = PH / y1;
	for (size_t i = 0; i < r->n_units; i++) {
		const struct rpt_unit *u = &r->units[i];
		if (!u->verified || seen++ % stride)
			continue;
		double x = ML + (u->since_flush_ns / 1e6 - x0) * sx;
		double y = MT + PH - (double)lost(u) * sy;
		if (u->violations)
			fprintf(f, "<rect x='%.1f' y='%.1f' width='7' height='7' fill='none' "
				"stroke='%s' stroke-width='1.5'/>", x - 3.5, y - 3.5, rpt_cell_colour(u->cell));
		else
			fprintf(f, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s' fill-opacity='0.6'/>", x, y,
				rpt_cell_colour(u->cell));
	}
	fputc('\n', f);
	if (stride > 1)
		fprintf(f, "<text x='%d' y='%d' text-anchor='end'>every %zuth disk-cycle of %zu shown</text>",
			W - MR - 4, MT + 14, stride, n);
	cell_legend(r, f, MT + PH + 44);
	fputs("</svg>\n", f);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

void rpt_svg_holdup(const struct report *r, FILE *f)
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
	axes(f, lo, hi, 0, (double)top * 1.1, "hold-up time (ms)", "cycles");
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
static int severity(const struct rpt_unit *u)
{
	if (u->violations || u->meta_failure)
		return 4;
	if (!u->verified)
		return 3;
	if (u->cls[RPT_UNFL_OLDER] || u->cls[RPT_UNFL_ZERO])
		return 2;
	return 1;
}

void rpt_svg_timeline(const struct report *r, FILE *f)
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
		const struct rpt_unit *u = &r->units[i];
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
	rpt_time(a, sizeof(a), t0);
	rpt_time(b, sizeof(b), t1);
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
