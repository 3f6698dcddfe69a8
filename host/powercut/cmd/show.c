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
	if (cmd_opt(ctx, "campaign") &&
	    store_cycle_find(st, strtoll(cmd_opt(ctx, "campaign"), NULL, 10), id, &id) < 0)
		id = 0;		/* no such cycle, said below */
	json_t *j = store_cycle_story(st, id);
	if (!j) {
		if (errno == ENOENT)
			pc_err(LOG_MAIN, "no cycle '%s' in '%s'", ctx->argv[1], ctx->argv[0]);
		goto out;
	}
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
