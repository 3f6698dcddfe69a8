/* Formatting shared by the renderers. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "render.h"

void report_pct(char *buf, size_t len, double v)
{
	double p = v * 100;

	if (p == 0)
		snprintf(buf, len, "0 %%");
	else if (p >= 10)
		snprintf(buf, len, "%.1f %%", p);
	else if (p >= 1)
		snprintf(buf, len, "%.2f %%", p);
	else
		snprintf(buf, len, "%.2g %%", p);
}

void report_rate_str(char *buf, size_t len, const struct report_rate *rt)
{
	char p[32], lo[32], hi[32], ub[32];

	if (!rt->n) {
		snprintf(buf, len, "0/0");
		return;
	}
	report_pct(p, sizeof(p), (double)rt->k / (double)rt->n);
	report_pct(lo, sizeof(lo), rt->ci95.lo);
	report_pct(hi, sizeof(hi), rt->ci95.hi);
	if (rt->k == 0) {
		report_pct(ub, sizeof(ub), rt->upper95);
		snprintf(buf, len, "0/%" PRIu64 " [%s, %s], exact \u2264 %s", rt->n, lo, hi, ub);
	} else {
		snprintf(buf, len, "%" PRIu64 "/%" PRIu64 " = %s [%s, %s]", rt->k, rt->n, p, lo, hi);
	}
}

void report_needed_str(char *buf, size_t len, const struct report_rate *rt)
{
	if (rt->needed_rc == 0 && rt->needed == 0)
		snprintf(buf, len, "bounded");
	else if (rt->needed_rc == 0)
		snprintf(buf, len, "%" PRIu64 " more", rt->needed);
	else if (rt->needed_rc == -ERANGE)
		snprintf(buf, len, "rate above target");
	else
		snprintf(buf, len, "n/a");
}

const char *report_unexercised(const struct report_cell *c)
{
	static char buf[128];

	if (!c->ctl_unexercised)
		return "";
	snprintf(buf, sizeof(buf), "; %" PRIu64 " cycle%s cut before its first acknowledged "
		 "flush, which cannot show a lie", c->ctl_unexercised,
		 c->ctl_unexercised == 1 ? "" : "s");
	return buf;
}

const char *report_ctl_state_name(int s)
{
	switch (s) {
	case REPORT_CTL_PASSED: return "passed";
	case REPORT_CTL_FAILED: return "failed";
	case REPORT_CTL_NO_DATA: return "no verified cycle";
	case REPORT_CTL_NOT_APPLICABLE: return "not applicable";
	default: return "none";
	}
}

const char *report_control_name(int c)
{
	return c == REPORT_CTL_LYING ? "lying" : c == REPORT_CTL_SAFE ? "safe" :
	       c == REPORT_CTL_FORGETFUL ? "forgetful" :
	       c == REPORT_CTL_NOSYNC ? "sync=disabled (the setting promises nothing)" : "none";
}

const char *report_cut_title(const char *cut)
{
	return !strcmp(cut, "kill") ? "process kill" : !strcmp(cut, "reset") ? "system reset" :
	       "power cut";
}

void report_show_cmd(char *buf, size_t len, const struct report *r, const struct report_unit *u)
{
	const struct report_cycle *cy = &r->cycles[u->cycle];
	const char *db = r->dbs[r->campaigns[cy->campaign].db].path;

	snprintf(buf, len, "powercut show %s %" PRId64, db, cy->id);
}

void report_anchor(char *buf, size_t len, const struct report *r, size_t cycle)
{
	const struct report_cycle *cy = &r->cycles[cycle];

	snprintf(buf, len, "cycle-%zu-%" PRId64, r->campaigns[cy->campaign].db + 1, cy->id);
}

void report_time(char *buf, size_t len, int64_t wall_ns)
{
	time_t t = (time_t)(wall_ns / 1000000000);
	struct tm tm;

	if (!wall_ns || !gmtime_r(&t, &tm)) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm);
}

void report_html_esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

const char *report_cell_colour(size_t i)
{
	/* Okabe-Ito: distinguishable with colour blindness. */
	static const char *const pal[] = { "#0072B2", "#D55E00", "#009E73", "#CC79A7",
					   "#E69F00", "#56B4E9", "#000000", "#F0E442" };
	return pal[i % (sizeof(pal) / sizeof(pal[0]))];
}
