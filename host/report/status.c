/* The state of a campaign for `powercut status` and `powercut serve` (report.h). The
 * rates and the controls' verdict come from the report model of that one campaign, so
 * the rules are those of the report; the campaign's plan, its current step and the
 * times come from its rows. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "render.h"
#include "store.h"

static json_t *iso(int64_t wall_ns)
{
	char b[40];
	if (!wall_ns)
		return json_null();
	report_time(b, sizeof(b), wall_ns);
	return json_string(b);
}

/* What the node is doing, from the step the campaign's current cycle reached. */
static const char *node_state(const char *camp_status, const char *cycle_status,
			      const char *step)
{
	static const struct { const char *step, *state; } steps[] = {
		{ "start", "starting a cycle" }, { "prepare", "preparing the disks" },
		{ "workload", "up, running the workload" }, { "cut", "being cut" },
		{ "recover", "coming back after the cut" }, { "check", "up, checking the disks" },
		{ "record", "recording the cycle" }, { "done", "between cycles" },
	};
	if (!strcmp(camp_status, "node-lost"))
		return "lost: it did not come back after a cut";
	if (strcmp(camp_status, "running"))
		return "idle: the campaign is not running";
	if (!strcmp(cycle_status, "node-lost"))
		return "lost: it did not come back after a cut";
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (!strcmp(steps[i].step, step))
			return steps[i].state;
	return "unknown";
}

/* What status reads from the campaign's rows. */
struct campaign_rows {
	int64_t id, created, finished;
	char bench[256], status[32], message[512];
	json_t *run;			/* run_json, parsed (or NULL); owned */
	/* the newest cycle row: its step is where the campaign is now */
	int64_t ncycles, first_wall, last_wall;
	char step[32], cstatus[32];
};

/* The campaign (0: the newest) and its newest cycle. 0, or -errno with a logged
 * message (-ENOENT: no such campaign). */
static int read_rows(const char *db_path, int64_t campaign, struct campaign_rows *c)
{
	struct store *st = store_open(db_path, STORE_READONLY);
	sqlite3_stmt *s = NULL;
	int rc;

	if (!st)
		return -errno;
	sqlite3 *db = store_db(st);
	if (sqlite3_prepare_v2(db, "SELECT id, bench, status, run_json, created_wall_ns, "
			       "finished_wall_ns, message FROM campaigns WHERE ?1 = 0 OR id = ?1 "
			       "ORDER BY id DESC LIMIT 1", -1, &s, NULL) != SQLITE_OK)
		goto sql;
	sqlite3_bind_int64(s, 1, campaign);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		if (rc != SQLITE_DONE)
			goto sql;
		pc_err(LOG_REPORT, campaign ? "database '%s' has no campaign %" PRId64 :
		       "database '%s' has no campaign", db_path, campaign);
		sqlite3_finalize(s);
		store_close(st);
		return -ENOENT;
	}
	c->id = sqlite3_column_int64(s, 0);
	snprintf(c->bench, sizeof(c->bench), "%s", (const char *)sqlite3_column_text(s, 1));
	snprintf(c->status, sizeof(c->status), "%s", (const char *)sqlite3_column_text(s, 2));
	const char *rj = (const char *)sqlite3_column_text(s, 3);
	c->run = rj ? json_loads(rj, 0, NULL) : NULL;
	c->created = sqlite3_column_int64(s, 4);
	c->finished = sqlite3_column_int64(s, 5);
	const char *msg = (const char *)sqlite3_column_text(s, 6);
	snprintf(c->message, sizeof(c->message), "%s", msg ? msg : "");
	sqlite3_finalize(s);

	if (sqlite3_prepare_v2(db, "SELECT (SELECT COUNT(*) FROM cycles WHERE campaign_id = ?1), "
			       "(SELECT MIN(started_wall_ns) FROM cycles WHERE campaign_id = ?1), "
			       "idx, status, IFNULL(step, ''), started_wall_ns FROM cycles "
			       "WHERE campaign_id = ?1 ORDER BY idx DESC LIMIT 1", -1, &s, NULL) != SQLITE_OK)
		goto sql;
	sqlite3_bind_int64(s, 1, c->id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		c->ncycles = sqlite3_column_int64(s, 0);
		c->first_wall = sqlite3_column_int64(s, 1);
		snprintf(c->cstatus, sizeof(c->cstatus), "%s", (const char *)sqlite3_column_text(s, 3));
		snprintf(c->step, sizeof(c->step), "%s", (const char *)sqlite3_column_text(s, 4));
		c->last_wall = sqlite3_column_int64(s, 5);
	} else if (rc != SQLITE_DONE) {
		goto sql;
	}
	sqlite3_finalize(s);
	store_close(st);
	return 0;
sql:
	pc_err(LOG_REPORT, "cannot read the campaign from database '%s': %s", db_path,
	       sqlite3_errmsg(db));
	sqlite3_finalize(s);
	store_close(st);
	return -EIO;
}

/* Pace and progress: cycles done, seconds per cycle, the ETA, into o. */
static void pace(json_t *o, const struct campaign_rows *c)
{
	int64_t now = clock_wall_ns(), planned = json_integer_value(json_object_get(c->run, "cycles"));
	int64_t deadline = json_integer_value(json_object_get(c->run, "deadline_wall_ns"));
	/* A cycle in progress is not done: count the finished ones for the pace. */
	int64_t done = c->ncycles - (!strcmp(c->step, "done") || strcmp(c->status, "running") ? 0 : 1);
	double per = done > 0 && c->last_wall > c->first_wall ?
		     (double)(c->last_wall - c->first_wall) / 1e9 /
		     (double)(c->ncycles > 1 ? c->ncycles - 1 : 1) : 0;

	json_object_set_new(o, "cycles_done", json_integer((json_int_t)done));
	json_object_set_new(o, "planned", planned ? json_integer(planned) : json_null());
	json_object_set_new(o, "deadline", iso(deadline));
	json_object_set_new(o, "seconds_per_cycle", per > 0 ? json_real(per) : json_null());
	double eta = -1;
	if (!strcmp(c->status, "running")) {
		if (planned && per > 0)
			eta = per * (double)(planned - done > 0 ? planned - done : 0);
		else if (deadline)
			eta = deadline > now ? (double)(deadline - now) / 1e9 : 0;
	}
	json_object_set_new(o, "eta_s", eta >= 0 ? json_real(eta) : json_null());
	json_object_set_new(o, "eta", eta >= 0 ? iso(now + (int64_t)(eta * 1e9)) : json_null());
	json_object_set_new(o, "seconds_since_last_cycle", c->last_wall ?
			    json_real((double)(now - c->last_wall) / 1e9) : json_null());
}

/* The last cycle the oracle classified, per disk (null when none). */
static json_t *last_cycle(const struct report *r)
{
	for (size_t cy = r->n_cycles; cy-- > 0;) {
		size_t u0 = SIZE_MAX;
		for (size_t i = 0; i < r->n_units; i++)
			if (r->units[i].cycle == cy) {
				u0 = i;
				break;
			}
		const struct report_cycle *c = &r->cycles[cy];
		if (!strcmp(c->status, "running") && cy + 1 == r->n_cycles)
			continue;	/* still going: its outcome is not known */
		json_t *last = json_pack("{s:I,s:s,s:o,s:[]}", "cycle", (json_int_t)c->idx, "status",
					 c->status, "started", iso(c->started_wall_ns), "disks");
		for (size_t i = u0; i < r->n_units && r->units[i].cycle == cy; i++) {
			const struct report_unit *u = &r->units[i];
			json_t *d = json_pack("{s:s,s:b,s:I,s:I}", "disk", u->disk, "verified",
					      u->verified, "violations", (json_int_t)u->violations,
					      "unflushed_lost", (json_int_t)(u->cls[CLS_UNFLUSHED_LOST_OLDER] +
					      u->cls[CLS_UNFLUSHED_LOST_ZERO]));
			json_object_set_new(d, "exposure_ms", u->have_exposure ?
					    json_real(u->exposure_ns / 1e6) : json_null());
			json_array_append_new(json_object_get(last, "disks"), d);
		}
		return last;
	}
	return json_null();
}

/* The cells so far, and the controls among them, into o. */
static void cells(json_t *o, const struct report *r)
{
	json_t *ctl = json_array(), *all = json_array();
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_cell *c = &r->cells[i];
		json_t *x = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "disk", c->disk, "cut", c->cut,
				      "cycles", (json_int_t)c->cycles, "verified", (json_int_t)c->verified,
				      "violation_cycles", (json_int_t)c->violation_cycles,
				      "unflushed_loss_cycles", (json_int_t)c->unflushed_loss_cycles);
		if (c->control) {
			json_object_set_new(x, "control", json_string(report_control_name(c->control)));
			json_object_set_new(x, "state", json_string(report_ctl_state_name(c->ctl_state)));
			json_array_append(ctl, x);
		}
		json_array_append_new(all, x);
	}
	size_t nctl = json_array_size(ctl);
	json_object_set_new(o, "controls", json_pack("{s:s,s:I,s:I,s:o}", "state", !nctl ? "none" :
		r->controls_failed ? "failed so far" : "passed so far", "passed",
		(json_int_t)r->controls_passed, "failed", (json_int_t)r->controls_failed, "cells", ctl));
	json_object_set_new(o, "cells", all);
}

json_t *report_status(const char *db_path, int64_t campaign)
{
	struct campaign_rows c = { 0 };
	int rc = read_rows(db_path, campaign, &c);

	if (rc < 0) {
		json_decref(c.run);
		errno = -rc;
		return NULL;
	}
	struct report_options ro = REPORT_OPTIONS_INIT;
	ro.campaign = c.id;
	char *paths[] = { (char *)db_path };
	struct report *r = report_load(paths, 1, &ro);
	if (!r) {
		rc = errno;
		json_decref(c.run);
		errno = rc;
		return NULL;
	}
	json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:o,s:o,s:I}", "db", db_path, "campaign",
			      (json_int_t)c.id, "bench", c.bench, "status", c.status, "started",
			      iso(c.created), "finished", iso(c.finished), "cycles",
			      (json_int_t)c.ncycles);
	pace(o, &c);
	json_object_set_new(o, "node", json_string(node_state(c.status, c.cstatus, c.step)));
	json_object_set_new(o, "message", json_string(c.message));
	json_object_set_new(o, "last_cycle", last_cycle(r));
	cells(o, r);
	report_free(r);
	json_decref(c.run);
	return o;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

int report_status_text(json_t *o, FILE *f)
{
	json_t *p = json_object_get(o, "planned"), *eta = json_object_get(o, "eta_s");
	size_t i;
	json_t *x;

	fprintf(f, "campaign %" JSON_INTEGER_FORMAT " (bench '%s') in '%s': %s\n",
		json_integer_value(json_object_get(o, "campaign")), jstr(o, "bench"), jstr(o, "db"),
		jstr(o, "status"));
	fprintf(f, "cycle %" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(o, "cycles")));
	if (json_is_integer(p))
		fprintf(f, " of %" JSON_INTEGER_FORMAT, json_integer_value(p));
	else if (json_is_string(json_object_get(o, "deadline")))
		fprintf(f, " (until %s)", jstr(o, "deadline"));
	if (json_is_number(json_object_get(o, "seconds_per_cycle")))
		fprintf(f, ", %.1f s/cycle", json_number_value(json_object_get(o, "seconds_per_cycle")));
	if (json_is_number(eta)) {
		int s = (int)json_number_value(eta);
		fprintf(f, ", ETA %s (in %d:%02d:%02d)", jstr(o, "eta"), s / 3600, s / 60 % 60, s % 60);
	}
	fputc('\n', f);
	json_t *last = json_object_get(o, "last_cycle");
	if (json_is_object(last)) {
		fprintf(f, "last cycle %" JSON_INTEGER_FORMAT ": %s", json_integer_value(
			json_object_get(last, "cycle")), jstr(last, "status"));
		json_array_foreach(json_object_get(last, "disks"), i, x) {
			fprintf(f, "%s %s ", i ? "," : ";", jstr(x, "disk"));
			if (!json_is_true(json_object_get(x, "verified")))
				fputs("not verified", f);
			else
				fprintf(f, "%" JSON_INTEGER_FORMAT " violation blocks, %" JSON_INTEGER_FORMAT
					" unflushed lost", json_integer_value(json_object_get(x, "violations")),
					json_integer_value(json_object_get(x, "unflushed_lost")));
		}
		fputc('\n', f);
	}
	json_t *ctl = json_object_get(o, "controls");
	fprintf(f, "controls: %s", jstr(ctl, "state"));
	json_array_foreach(json_object_get(ctl, "cells"), i, x)
		fprintf(f, "%s %s (%s, %s cut) %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
			" violation cycles: %s", i ? "," : ";", jstr(x, "disk"), jstr(x, "control"),
			jstr(x, "cut"), json_integer_value(json_object_get(x, "violation_cycles")),
			json_integer_value(json_object_get(x, "verified")), jstr(x, "state"));
	fprintf(f, "\nnode: %s\n", jstr(o, "node"));
	const char *m = jstr(o, "message");
	if (strcmp(m, "-") && *m && strcmp(m, jstr(o, "status")))
		fprintf(f, "%s\n", m);
	return ferror(f) ? -EIO : 0;
}
