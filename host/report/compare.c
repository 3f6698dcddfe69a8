/* Two cells side by side (`powercut report --compare A B`): for the violation and the
 * unflushed-loss rate, Fisher's exact test of the difference and the cycles per cell
 * that would tell the two apart at the observed rates (docs/report.md, "Comparing
 * two cells"). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "render.h"

/* The test's level and the power the cycle count aims at. */
#define CMP_ALPHA 0.05
#define CMP_POWER 0.8

int report_cell_find(const struct report *r, const char *spec, size_t *cell)
{
	char *end;
	unsigned long long v = strtoull(spec, &end, 10);

	if (*spec && *spec != '-' && !*end) {
		if (v < 1 || v > r->n_cells) {
			pc_err(LOG_REPORT, "no cell '%s': the report has cells 1 to %zu", spec,
			       r->n_cells);
			return -ENOENT;
		}
		*cell = (size_t)v - 1;
		return 0;
	}
	for (size_t i = 0; i < r->n_cells; i++)
		if (!strcmp(r->cells[i].key, spec)) {
			*cell = i;
			return 0;
		}
	pc_err(LOG_REPORT, "no cell with key '%s' (a number 1 to %zu, or a key as in the JSON "
	       "form's \"key\")", spec, r->n_cells);
	return -ENOENT;
}

struct measure {
	const char *name, *title;
	const struct report_rate *a, *b;
	double p_value;
	int p_rc;
	uint64_t per_cell;	/* cycles per cell to tell them apart */
	int need_rc;		/* 0, -ERANGE (no difference observed), -EINVAL (no data) */
};

static void measure(struct measure *m, const char *name, const char *title,
		    const struct report_rate *a, const struct report_rate *b)
{
	m->name = name;
	m->title = title;
	m->a = a;
	m->b = b;
	m->p_rc = stats_fisher_exact(a->k, a->n, b->k, b->n, &m->p_value);
	m->need_rc = a->n && b->n ? stats_cycles_to_separate((double)a->k / (double)a->n,
		(double)b->k / (double)b->n, CMP_ALPHA, CMP_POWER, &m->per_cell) : -EINVAL;
}

static json_t *side(const struct report_rate *rt)
{
	json_t *o = json_pack("{s:I,s:I,s:[f,f]}", "k", (json_int_t)rt->k, "n", (json_int_t)rt->n,
			      "ci95", rt->ci95.lo, rt->ci95.hi);
	json_object_set_new(o, "rate", rt->n ? json_real((double)rt->k / (double)rt->n) : json_null());
	return o;
}

static json_t *measure_json(const struct measure *m)
{
	json_t *o = json_pack("{s:o,s:o}", "a", side(m->a), "b", side(m->b));
	bool both = m->a->n && m->b->n;
	json_object_set_new(o, "difference", both ? json_real((double)m->a->k / (double)m->a->n -
					(double)m->b->k / (double)m->b->n) : json_null());
	json_object_set_new(o, "p_value", m->p_rc == 0 ? json_real(m->p_value) : json_null());
	json_object_set_new(o, "cycles_per_cell", m->need_rc == 0 ?
			    json_integer((json_int_t)m->per_cell) : json_null());
	if (m->need_rc == 0) {
		uint64_t ma = m->per_cell > m->a->n ? m->per_cell - m->a->n : 0;
		uint64_t mb = m->per_cell > m->b->n ? m->per_cell - m->b->n : 0;
		json_object_set_new(o, "more_cycles", json_pack("{s:I,s:I}", "a", (json_int_t)ma,
								"b", (json_int_t)mb));
	}
	json_object_set_new(o, "note", json_string(m->need_rc == 0 ? "cycles per cell for a "
		"two-sided test at 5 % to find this difference 4 times in 5 (Fleiss, continuity-"
		"corrected)" : m->need_rc == -ERANGE ? "equal rates observed: no number of cycles "
		"is expected to tell them apart" : "a cell has no verified cycle"));
	return o;
}

static json_t *cell_ref(const struct report *r, size_t i)
{
	const struct report_cell *c = &r->cells[i];
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "cell", (json_int_t)i + 1, "key", c->key,
			 "bench", c->bench, "cut", c->cut, "disk", c->disk, "format", c->format,
			 "cache", c->cache, "control", report_control_name(c->control));
}

json_t *report_compare_json(const struct report *r, size_t a, size_t b)
{
	struct measure v, u;

	measure(&v, "violation", "violations", &r->cells[a].violation, &r->cells[b].violation);
	measure(&u, "unflushed_loss", "unflushed loss", &r->cells[a].unflushed, &r->cells[b].unflushed);
	return json_pack("{s:o,s:o,s:s,s:f,s:f,s:o,s:o}", "a", cell_ref(r, a), "b", cell_ref(r, b),
			 "test", "Fisher's exact test, two-sided", "alpha", CMP_ALPHA, "power",
			 CMP_POWER, "violation", measure_json(&v), "unflushed_loss", measure_json(&u));
}

static void cell_line(const struct report *r, size_t i, char tag, FILE *f)
{
	const struct report_cell *c = &r->cells[i];
	fprintf(f, "%c = cell %zu: %s %s cache=%s%s%s, %s cut, bench '%s'\n", tag, i + 1, c->disk,
		c->format, c->cache, c->control ? ", control " : "", c->control ?
		report_control_name(c->control) : "", !strcmp(c->cut, "kill") ? "process kill" : "power",
		c->bench);
}

static void frac(char *buf, size_t len, const struct report_rate *rt)
{
	char p[32];
	report_pct(p, sizeof(p), rt->n ? (double)rt->k / (double)rt->n : 0);
	snprintf(buf, len, "%" PRIu64 "/%" PRIu64 " = %s", rt->k, rt->n, p);
}

int report_compare_text(const struct report *r, size_t a, size_t b, FILE *f)
{
	struct measure m[2];

	measure(&m[0], "violation", "violation cycles", &r->cells[a].violation, &r->cells[b].violation);
	measure(&m[1], "unflushed_loss", "unflushed loss", &r->cells[a].unflushed, &r->cells[b].unflushed);
	cell_line(r, a, 'A', f);
	cell_line(r, b, 'B', f);
	fprintf(f, "\n%-17s %-17s %-17s %-11s %s\n", "", "A", "B", "p (Fisher)", "cycles per cell "
		"to tell apart");
	for (int i = 0; i < 2; i++) {
		char fa[48], fb[48], p[32], need[96];
		frac(fa, sizeof(fa), m[i].a);
		frac(fb, sizeof(fb), m[i].b);
		if (m[i].p_rc == 0)
			snprintf(p, sizeof(p), "%.3g", m[i].p_value);
		else
			snprintf(p, sizeof(p), "-");
		if (m[i].need_rc == 0) {
			uint64_t ma = m[i].per_cell > m[i].a->n ? m[i].per_cell - m[i].a->n : 0;
			uint64_t mb = m[i].per_cell > m[i].b->n ? m[i].per_cell - m[i].b->n : 0;
			snprintf(need, sizeof(need), "%" PRIu64 " (%" PRIu64 " more in A, %" PRIu64
				 " in B)", m[i].per_cell, ma, mb);
		} else {
			snprintf(need, sizeof(need), "%s", m[i].need_rc == -ERANGE ?
				 "equal rates observed" : "no verified cycle");
		}
		fprintf(f, "%-17s %-17s %-17s %-11s %s\n", m[i].title, fa, fb, p, need);
	}
	fprintf(f, "\np: two-sided Fisher exact test of the difference in rates. Cycles: per cell, "
		"for a\ntwo-sided test at 5 %% to find the observed difference 4 times in 5 (Fleiss,\n"
		"continuity-corrected).\n");
	return ferror(f) ? -EIO : 0;
}
