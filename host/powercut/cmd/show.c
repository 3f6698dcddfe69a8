/* powercut show DB CYCLE: one cycle's whole story from the database: its campaign,
 * plan, the cut (when, who timed it, the window, the relay and PWR_OK edges, the
 * hold-up, a host-timed cut's target and command-to-edge latency), the scenario's
 * steps (each timed, with its cut), every cut of the cycle (--json), the node's power
 * events, what was logged during the cycle, the checks, the findings by class and the
 * evidence kept. CYCLE is cycles.id (what `powercut report` links), or the plan index
 * with --campaign. --json prints the same as one object.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"

const struct cmd_opt show_opts[] = {
	{ "campaign", 1, "ID", "CYCLE is the plan index within campaign ID" },
	{ 0 }
};

/* Rows of a statement as JSON objects named by column (JSON text columns parsed). */
static json_t *rows(sqlite3 *db, const char *sql, int64_t a, int64_t b, int64_t c, bool one)
{
	sqlite3_stmt *s;
	json_t *arr = json_array();

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		pc_err(LOG_DB, "cannot read the database: %s", sqlite3_errmsg(db));
		json_decref(arr);
		return NULL;
	}
	int np = sqlite3_bind_parameter_count(s);
	if (np >= 1) sqlite3_bind_int64(s, 1, a);
	if (np >= 2) sqlite3_bind_int64(s, 2, b);
	if (np >= 3) sqlite3_bind_int64(s, 3, c);
	while (sqlite3_step(s) == SQLITE_ROW) {
		json_t *o = json_object();
		for (int i = 0; i < sqlite3_column_count(s); i++) {
			const char *name = sqlite3_column_name(s, i);
			json_t *v;
			switch (sqlite3_column_type(s, i)) {
			case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(s, i)); break;
			case SQLITE_FLOAT: v = json_real(sqlite3_column_double(s, i)); break;
			case SQLITE_NULL: v = json_null(); break;
			default: {
				const char *t = (const char *)sqlite3_column_text(s, i);
				size_t l = strlen(name);
				v = l > 5 && !strcmp(name + l - 5, "_json") ? json_loads(t, 0, NULL) : NULL;
				if (!v)
					v = json_string(t);
			}
			}
			json_object_set_new(o, name, v);
		}
		json_array_append_new(arr, o);
	}
	sqlite3_finalize(s);
	if (one) {
		json_t *o = json_incref(json_array_get(arr, 0));
		json_decref(arr);
		return o ? o : json_null();
	}
	return arr;
}

static double ms(json_t *o, const char *k, int64_t base)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) && json_integer_value(v) ? (json_integer_value(v) - base) / 1e6 : -1;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static void print_story(json_t *j)
{
	json_t *cam = json_object_get(j, "campaign"), *cy = json_object_get(j, "cycle");
	json_t *cut = json_object_get(j, "cut"), *v;
	size_t i;

	printf("cycle %" JSON_INTEGER_FORMAT " (plan index %" JSON_INTEGER_FORMAT ") of campaign %"
	       JSON_INTEGER_FORMAT " on bench '%s' (config %.12s): %s\n",
	       json_integer_value(json_object_get(cy, "id")), json_integer_value(json_object_get(cy, "idx")),
	       json_integer_value(json_object_get(cam, "id")), str(cam, "bench"), str(cam, "config_hash"),
	       str(cy, "status"));
	printf("  step reached: %s; controller time %.3f s\n", str(cy, "step"),
	       json_integer_value(json_object_get(cy, "overhead_ns")) / 1e9);
	if (json_is_object(json_object_get(cy, "plan_json"))) {
		char *p = json_dumps(json_object_get(cy, "plan_json"), JSON_COMPACT | JSON_SORT_KEYS);
		printf("  plan: %s\n", p);
		free(p);
	}
	if (json_is_object(cut)) {
		int64_t t0 = json_integer_value(json_object_get(cy, "started_mono_ns"));
		json_t *det = json_object_get(cut, "detail_json"), *hc = json_object_get(det, "host_cut");
		printf("cut: %s, timed by %s (%s), channel %" JSON_INTEGER_FORMAT ", off %"
		       JSON_INTEGER_FORMAT " ms, seed %" JSON_INTEGER_FORMAT "\n", str(cut, "kind"),
		       str(cut, "timed_by"), str(hc, "target"),
		       json_integer_value(json_object_get(cut, "channel")),
		       json_integer_value(json_object_get(cut, "off_ms")),
		       json_integer_value(json_object_get(cut, "seed")));
		if (!strcmp(str(cut, "timed_by"), "firmware"))
			printf("  window %" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT " ms after arming\n",
			       json_integer_value(json_object_get(cut, "window_min_ms")),
			       json_integer_value(json_object_get(cut, "window_max_ms")));
		else
			printf("  host target %s %s, command-to-edge latency %.3f ms\n", str(hc, "target"),
			       json_is_true(json_object_get(hc, "target_hit")) ? "reached" : "missed (cut at the window's end)",
			       json_integer_value(json_object_get(hc, "latency_ns")) / 1e6);
		printf("  times from the cycle's start (ms): relay off %.3f (+-%.3f), PWR_OK fall %.3f, "
		       "DC lost %.3f, node killed %.3f, relay on %.3f, DC back %.3f, PWR_OK rise %.3f, "
		       "node booted %.3f\n", ms(cut, "relay_off_mono_ns", t0),
		       json_integer_value(json_object_get(cut, "uncertainty_ns")) / 1e6,
		       ms(cut, "pwrok_fall_mono_ns", t0), ms(det, "dc_lost_mono_ns", t0),
		       ms(det, "node_killed_mono_ns", t0), ms(cut, "relay_on_mono_ns", t0),
		       ms(det, "dc_back_mono_ns", t0), ms(cut, "pwrok_rise_mono_ns", t0),
		       ms(det, "node_booted_mono_ns", t0));
		printf("  hold-up (relay off to PWR_OK fall): %.3f ms\n",
		       json_integer_value(json_object_get(cut, "hold_up_ns")) / 1e6);
		json_array_foreach(json_object_get(det, "edges"), i, v)
			printf("  edge %s ch %" JSON_INTEGER_FORMAT " -> %" JSON_INTEGER_FORMAT
			       " (%s) at %.3f ms, firmware %" JSON_INTEGER_FORMAT " us\n", str(v, "kind"),
			       json_integer_value(json_object_get(v, "channel")),
			       json_integer_value(json_object_get(v, "level")), str(v, "cause"),
			       ms(v, "mono_ns", t0), json_integer_value(json_object_get(v, "fw_us")));
	} else {
		printf("cut: none recorded\n");
	}
	/* The scenario's story, step by step (cycles recorded before scenarios: none). */
	if (json_array_size(json_object_get(j, "steps"))) {
		int64_t t0 = json_integer_value(json_object_get(cy, "started_mono_ns"));
		printf("steps (seconds from the cycle's start):\n");
		json_array_foreach(json_object_get(j, "steps"), i, v) {
			json_t *d = json_object_get(v, "detail_json");
			const char *arg = json_string_value(json_object_get(v, "arg"));
			const char *ck = json_string_value(json_object_get(d, "cut"));
			printf("  %2" JSON_INTEGER_FORMAT " %-8s%s%s at %7.3f, %7.3f s: %s%s%s\n",
			       json_integer_value(json_object_get(v, "seq")), str(v, "step"),
			       arg ? " " : "", arg ? arg : "",
			       ms(v, "started_mono_ns", t0) / 1e3,
			       (json_integer_value(json_object_get(v, "ended_mono_ns")) -
				json_integer_value(json_object_get(v, "started_mono_ns"))) / 1e9,
			       str(v, "result"), ck ? ", cut " : "", ck ? ck : "");
		}
	}
	printf("node events and messages:\n");
	json_array_foreach(json_object_get(j, "events"), i, v)
		printf("  %s %s: %s\n", str(v, "level"), str(v, "category"), str(v, "message"));
	printf("checks:\n");
	json_array_foreach(json_object_get(j, "checks"), i, v)
		printf("  %s %s: %s\n", str(v, "disk"), str(v, "kind"), str(v, "result"));
	printf("findings by class (blocks):\n");
	json_array_foreach(json_object_get(j, "findings"), i, v)
		printf("  %s %s: %" JSON_INTEGER_FORMAT "\n", str(v, "disk"), str(v, "class"),
		       json_integer_value(json_object_get(json_object_get(v, "detail_json"), "blocks")));
	printf("evidence:\n");
	json_array_foreach(json_object_get(j, "evidence"), i, v)
		printf("  %s %s: %s (%" JSON_INTEGER_FORMAT " bytes)\n", str(v, "disk"), str(v, "kind"),
		       str(v, "path"), json_integer_value(json_object_get(v, "bytes")));
}

int cmd_show(struct pc_ctx *ctx)
{
	struct store *st;
	sqlite3 *db;
	int64_t id;
	char *end;
	int rc = EXIT_FAIL;

	if (ctx->argc != 2) {
		pc_err(LOG_MAIN, "usage: powercut %s", ctx->cmd->usage);
		return EXIT_USAGE;
	}
	id = strtoll(ctx->argv[1], &end, 10);
	if (*end || id < 1) {
		pc_err(LOG_MAIN, "invalid cycle '%s'", ctx->argv[1]);
		return EXIT_USAGE;
	}
	st = store_open(ctx->argv[0], STORE_READONLY);
	if (!st)
		return EXIT_FAIL;
	db = store_db(st);
	if (cmd_opt(ctx, "campaign")) {
		json_t *r = rows(db, "SELECT id FROM cycles WHERE campaign_id = ? AND idx = ?",
				 strtoll(cmd_opt(ctx, "campaign"), NULL, 10), id, 0, true);
		id = json_integer_value(json_object_get(r, "id"));
		json_decref(r);
	}
	json_t *cy = rows(db, "SELECT * FROM cycles WHERE id = ?", id, 0, 0, true);
	if (!json_is_object(cy)) {
		pc_err(LOG_MAIN, "no cycle '%s' in '%s'", ctx->argv[1], ctx->argv[0]);
		json_decref(cy);
		goto out;
	}
	int64_t camp = json_integer_value(json_object_get(cy, "campaign_id"));
	int64_t t0 = json_integer_value(json_object_get(cy, "started_mono_ns"));
	int64_t t1 = json_integer_value(json_object_get(cy, "finished_mono_ns"));
	json_t *j = json_object();
	json_object_set_new(j, "campaign", rows(db, "SELECT id, bench, config_hash, status, "
		"controls, message, versions_json, run_json FROM campaigns WHERE id = ?", camp, 0, 0, true));
	json_object_set_new(j, "cycle", cy);
	json_object_set_new(j, "cut", rows(db, "SELECT * FROM cut_events WHERE cycle_id = ? ORDER BY "
					   "id LIMIT 1", id, 0, 0, true));
	json_t *has = rows(db, "SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'cycle_steps'",
			   0, 0, 0, true);
	if (json_integer_value(json_object_get(has, "n")))
		json_object_set_new(j, "steps", rows(db, "SELECT seq, step, arg, started_mono_ns, "
			"ended_mono_ns, result, detail_json FROM cycle_steps WHERE cycle_id = ? ORDER BY "
			"seq", id, 0, 0, false));
	json_decref(has);
	json_object_set_new(j, "cuts", rows(db, "SELECT * FROM cut_events WHERE cycle_id = ? ORDER BY "
					    "id", id, 0, 0, false));
	json_object_set_new(j, "events", rows(db, "SELECT wall_ns, mono_ns, level, category, message "
		"FROM events WHERE campaign_id = ? AND mono_ns >= ? AND mono_ns <= ? ORDER BY id", camp,
		t0, t1 ? t1 : INT64_MAX, false));
	json_object_set_new(j, "checks", rows(db, "SELECT disk, kind, result, detail_json FROM checks "
					      "WHERE cycle_id = ? ORDER BY id", id, 0, 0, false));
	json_object_set_new(j, "findings", rows(db, "SELECT disk, class, detail_json, since_flush_ns "
		"FROM findings WHERE cycle_id = ? AND block = -1 ORDER BY disk, class", id, 0, 0, false));
	json_object_set_new(j, "evidence", rows(db, "SELECT disk, kind, path, bytes FROM evidence "
					       "WHERE cycle_id = ? ORDER BY id", id, 0, 0, false));
	if (ctx->json)
		cmd_print_json(j);
	else {
		print_story(j);
		json_decref(j);
	}
	rc = EXIT_OK;
out:
	store_close(st);
	return rc;
}
