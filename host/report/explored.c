/* The report's "explored" part (docs/explore.md, docs/report.md): per cell, the crash
 * states `powercut explore` tested from the cell's recorded cycles, and for each kind of
 * failure the smallest failing state (fewest writes) as the command that exports it.
 * Self-contained: its own queries, its own model (struct report_explored), its own
 * renderers, called from load.c, render_json.c, render_html.c and render_text.c. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "render.h"
#include "report.h"

/* The unit (its cell) of disk `disk` in cycle idx of campaign id in database db. */
static size_t cell_of(const struct report *r, size_t db, int64_t campaign, int64_t idx,
		      const char *disk)
{
	for (size_t i = 0; i < r->n_units; i++) {
		const struct report_unit *u = &r->units[i];
		const struct report_cycle *cy = &r->cycles[u->cycle];
		const struct report_campaign *cp = &r->campaigns[cy->campaign];
		if (cp->db == db && cp->id == campaign && cy->idx == idx && u->disk &&
		    !strcmp(u->disk, disk))
			return u->cell;
	}
	return SIZE_MAX;
}

static void keep_smallest(struct report_explored_min *m, int64_t writes, const char *db,
			  int64_t campaign, int64_t cycle, const char *disk, int64_t state,
			  const char *kind)
{
	if (m->have && m->writes <= writes)
		return;
	m->have = true;
	m->writes = writes;
	snprintf(m->kind, sizeof(m->kind), "%s", kind);
	snprintf(m->cmd, sizeof(m->cmd), "powercut explore %.3000s %" PRId64 " --campaign %" PRId64
		 " --disk %.200s --state %" PRId64 " --export FILE", db, cycle, campaign, disk, state);
}

static int load_db(struct report *r, size_t db)
{
	sqlite3 *h;
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (sqlite3_open_v2(r->dbs[db].path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return 0;	/* load.c read it a moment ago; nothing explored to add */
	}
	/* Per run: its counts, and its smallest violating / metadata-failing state. */
	static const char sql[] =
		"SELECT r.campaign, r.cycle, r.disk, COUNT(s.state),"
		" SUM(s.violations > 0), SUM(s.metadata IN ('corrupt', 'unreadable')),"
		" SUM(s.metadata IN ('leaks', 'repairable') AND NOT IFNULL(s.violations, 0) > 0),"
		" (SELECT state || ' ' || writes || ' ' || kind FROM explore_state v WHERE v.run_id = r.id"
		"  AND v.violations > 0 ORDER BY writes, state LIMIT 1),"
		" (SELECT state || ' ' || writes || ' ' || kind FROM explore_state v WHERE v.run_id = r.id"
		"  AND v.metadata IN ('corrupt', 'unreadable') ORDER BY writes, state LIMIT 1)"
		" FROM explore_run r JOIN explore_state s ON s.run_id = r.id GROUP BY r.id ORDER BY r.id";
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;	/* an older schema: no explore tables */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t camp = sqlite3_column_int64(st, 0), cyc = sqlite3_column_int64(st, 1);
		const char *disk = (const char *)sqlite3_column_text(st, 2);
		size_t cell = disk ? cell_of(r, db, camp, cyc, disk) : SIZE_MAX;
		if (cell == SIZE_MAX)
			continue;
		struct report_explored *x = &r->explored[cell];
		x->runs++;
		x->states += (uint64_t)sqlite3_column_int64(st, 3);
		x->violation_states += (uint64_t)sqlite3_column_int64(st, 4);
		x->meta_failure_states += (uint64_t)sqlite3_column_int64(st, 5);
		x->leak_states += (uint64_t)sqlite3_column_int64(st, 6);
		for (int k = 0; k < 2; k++) {
			const char *m = (const char *)sqlite3_column_text(st, 7 + k);
			long long state, writes;
			char kind[16];
			if (m && sscanf(m, "%lld %lld %15s", &state, &writes, kind) == 3)
				keep_smallest(k ? &x->smallest_meta : &x->smallest_violation, writes,
					      r->dbs[db].path, camp, cyc, disk, state, kind);
		}
	}
	rc = rc == SQLITE_DONE ? 0 : -EIO;
	if (rc < 0)
		pc_err(LOG_REPORT, "cannot read explored states of '%s': %s", r->dbs[db].path,
		       sqlite3_errmsg(h));
out:
	sqlite3_finalize(st);
	sqlite3_close(h);
	return rc;
}

int report_explored_load(struct report *r)
{
	r->explored = calloc(r->n_cells ? r->n_cells : 1, sizeof(*r->explored));
	if (!r->explored)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_dbs; i++) {
		int rc = load_db(r, i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The two kinds of failure with a smallest state: name, JSON key, field. */
static const struct {
	const char *what, *key;
	size_t off;
} mins[] = {
	{ "violation", "smallest_violation", offsetof(struct report_explored, smallest_violation) },
	{ "metadata failure", "smallest_metadata_failure", offsetof(struct report_explored, smallest_meta) },
};
#define NMINS (sizeof(mins) / sizeof(mins[0]))

static const struct report_explored_min *min_of(const struct report_explored *x, size_t k)
{
	return (const struct report_explored_min *)((const char *)x + mins[k].off);
}

static bool any_explored(const struct report *r)
{
	for (size_t i = 0; r->explored && i < r->n_cells; i++)
		if (r->explored[i].runs)
			return true;
	return false;
}

json_t *report_explored_json(const struct report *r, size_t cell)
{
	const struct report_explored *x = r->explored ? &r->explored[cell] : NULL;
	if (!x || !x->runs)
		return json_null();
	json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I}", "explorations", (json_int_t)x->runs,
			      "states", (json_int_t)x->states, "violation_states",
			      (json_int_t)x->violation_states, "metadata_failure_states",
			      (json_int_t)x->meta_failure_states, "leak_states",
			      (json_int_t)x->leak_states);
	for (size_t k = 0; k < NMINS; k++) {
		const struct report_explored_min *m = min_of(x, k);
		json_object_set_new(o, mins[k].key, m->have ?
				    json_pack("{s:I,s:s,s:s}", "writes", (json_int_t)m->writes,
					      "kind", m->kind, "recipe", m->cmd) : json_null());
	}
	return o;
}

void report_explored_html(const struct report *r, FILE *f)
{
	if (!any_explored(r))
		return;
	fputs("<h2 id='explored'>Explored crash states</h2>\n<p class='meta'>From recorded cycles "
	      "(<code>[disk] record = yes</code>), <code>powercut explore</code> tested crash states "
	      "the cut did not happen to hit: every flush boundary, prefixes of the writes between "
	      "flushes, random subsets of the writes after the last flush, torn writes "
	      "(<code>docs/explore.md</code>). The recipe exports the smallest failing state "
	      "(fewest writes) as an image file.</p>\n<table><tr><th>#</th><th>disk</th>"
	      "<th>explorations</th><th>states</th><th>with violations</th><th>with metadata failures</th>"
	      "<th>with leaks only</th><th>smallest failing states</th></tr>\n", f);
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_explored *x = &r->explored[i];
		if (!x->runs)
			continue;
		fprintf(f, "<tr><td>%zu</td><td>", i + 1);
		report_html_esc(f, r->cells[i].disk);
		fprintf(f, "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td%s>%" PRIu64 "</td><td%s>%"
			PRIu64 "</td><td>%" PRIu64 "</td><td>", x->runs, x->states,
			x->violation_states ? " class='bad'" : "", x->violation_states,
			x->meta_failure_states ? " class='bad'" : "", x->meta_failure_states,
			x->leak_states);
		bool any = false;
		for (size_t k = 0; k < NMINS; k++) {
			const struct report_explored_min *m = min_of(x, k);
			if (!m->have)
				continue;
			fprintf(f, "%s%s (%s, %" PRId64 " writes): <code>", any ? "<br>" : "",
				mins[k].what, m->kind, m->writes);
			report_html_esc(f, m->cmd);
			fputs("</code>", f);
			any = true;
		}
		fputs(any ? "</td></tr>\n" : "none</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

void report_explored_md(const struct report *r, FILE *f)
{
	if (!any_explored(r))
		return;
	fputs("\n## Explored crash states\n\nFrom recorded cycles, crash states `powercut explore` "
	      "tested (`docs/explore.md`); the recipe exports the smallest failing state.\n\n"
	      "| # | disk | explorations | states | with violations | with metadata failures | "
	      "with leaks only | smallest failing states |\n|---|---|---:|---:|---:|---:|---:|---|\n",
	      f);
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_explored *x = &r->explored[i];
		if (!x->runs)
			continue;
		fprintf(f, "| %zu | %s | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %"
			PRIu64 " | ", i + 1, r->cells[i].disk, x->runs, x->states, x->violation_states,
			x->meta_failure_states, x->leak_states);
		bool any = false;
		for (size_t k = 0; k < NMINS; k++) {
			const struct report_explored_min *m = min_of(x, k);
			if (!m->have)
				continue;
			fprintf(f, "%s%s (%s, %" PRId64 " writes): `%s`", any ? "; " : "",
				mins[k].what, m->kind, m->writes, m->cmd);
			any = true;
		}
		fputs(any ? " |\n" : "none |\n", f);
	}
}
