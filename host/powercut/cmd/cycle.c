/* powercut cycle BENCH.ini: exactly one cut cycle, end to end, into the database: a
 * campaign of one cycle, run by the campaign engine (host/campaign/cycle.c, the same
 * code path as `powercut run`). Its plan is plan index N of the bench's seed, so
 * `powercut cycle --index N` repeats cycle N of a `powercut run` of the same bench.
 * See docs/node.md and docs/campaign.md. Every exit path leaves power ON (main's
 * relay_close) and nothing running (the engine's node_close).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "cmd.h"
#include "ledger.h"
#include "log.h"
#include "util.h"

#ifndef PC_VERSION
#define PC_VERSION "0.1.0"
#endif

/* The database is the global --db (default: RUN_DIR/cycles.db, RUN_DIR being the
 * bench's run directory). */
const struct cmd_opt cycle_opts[] = {
	{ "index", 1, "N", "the cycle's index within its campaign (default 1): plan N of the "
	  "bench's seed" },
	{ "keep", 0, NULL, "keep the node's work directory (images, logs, reports)" },
	{ 0 }
};

static void print_text(const struct camp_result *r)
{
	json_t *j = r->json, *d;
	size_t i;

	printf("cycle %d of campaign %" JSON_INTEGER_FORMAT " (%s node, %s cut timed by %s) in "
	       "'%s': %s\n", (int)json_integer_value(json_object_get(j, "cycle")),
	       json_integer_value(json_object_get(j, "campaign")),
	       json_string_value(json_object_get(j, "tier")),
	       json_string_value(json_object_get(j, "cut")),
	       json_string_value(json_object_get(j, "timed_by")),
	       json_string_value(json_object_get(j, "db")), camp_cycle_status_name(r->status));
	json_t *t = json_object_get(j, "timing");
	printf("  cut %.1f ms after the workload started, hold-up %.1f ms, off %.0f ms; rig time "
	       "%.2f s of %.2f s\n",
	       json_real_value(json_object_get(t, "workload_to_cut_s")) * 1e3,
	       json_real_value(json_object_get(j, "hold_up_ms")),
	       json_real_value(json_object_get(t, "off_s")) * 1e3, r->overhead_s, r->total_s);
	json_array_foreach(json_object_get(j, "disks"), i, d) {
		size_t k;
		json_t *chk;
		const char *key;
		json_t *v;
		printf("  disk %s:", json_string_value(json_object_get(d, "disk")));
		json_array_foreach(json_object_get(d, "checks"), k, chk)
			printf(" %s=%s", json_string_value(json_object_get(chk, "kind")),
			       json_string_value(json_object_get(chk, "result")));
		if (!json_is_true(json_object_get(d, "verified"))) {
			printf(" (not verified)\n");
			continue;
		}
		printf(" blocks=%" JSON_INTEGER_FORMAT,
		       json_integer_value(json_object_get(d, "blocks")));
		json_object_foreach(json_object_get(d, "classes"), key, v)
			if (json_integer_value(v))
				printf(" %s=%" JSON_INTEGER_FORMAT, key, json_integer_value(v));
		printf(" violations=%" JSON_INTEGER_FORMAT "\n",
		       json_integer_value(json_object_get(d, "violations")));
	}
}

int cmd_cycle(struct pc_ctx *ctx)
{
	const struct bench_config *cfg = ctx->cfg;
	char db_path[PATH_MAX], bin[PATH_MAX], token[65];
	const char *tmp = getenv("TMPDIR");
	struct camp_result r = { 0 };
	struct camp_plan plan;
	struct camp_observers obs;
	uint32_t index = 1;
	int rc = EXIT_FAIL, ch = (int)cfg->relay->channel;

	if (cmd_opt(ctx, "index")) {
		long v = strtol(cmd_opt(ctx, "index"), NULL, 10);
		if (v < 1 || v > 1000000000) {
			pc_err(LOG_MAIN, "invalid value '%s' for '--index'", cmd_opt(ctx, "index"));
			return EXIT_USAGE;
		}
		index = (uint32_t)v;
	}
	if (ch < 0 || ch >= (int)cfg->relay->channels) {
		pc_err(LOG_MAIN, "channel %d is not one of the relay's %d", ch,
		       (int)cfg->relay->channels);
		return EXIT_USAGE;
	}
	if (pc_exe_dir(bin, sizeof(bin)) < 0)
		return EXIT_FAIL;
	if (camp_dc_check(ctx->relay, cfg) < 0)
		return EXIT_DEVICE;
	if (cmd_campaign_db(ctx, "cycles.db", db_path, sizeof(db_path)) < 0)
		return EXIT_FAIL;
	camp_observers_init(&obs);
	camp_observe_add(&obs, camp_db_observer, ctx->db);
	struct camp_env env = {
		.cfg = cfg, .db = ctx->db, .db_path = db_path, .relay = ctx->relay,
		.run_dir = ctx->run_dir, .bin_dir = bin, .work_parent = tmp && *tmp ? tmp : "/tmp",
		.keep = cmd_flag(ctx, "keep"), .obs = &obs,
	};
	char *versions = camp_versions(ctx->relay, PC_VERSION);
	if (camp_start(&env, versions, token) < 0)
		goto out;
	camp_plan_make(cfg, cfg->campaign->seed, index, &plan);
	int r_ = camp_cycle_run(&env, &plan, &r);
	if (r_ == 0 && r.json) {
		if (ctx->json)
			cmd_print_json(json_incref(r.json));
		else
			print_text(&r);
	}
	rc = r_ == 0 && r.status != CAMP_CYC_FAILED ? EXIT_OK :
	     r_ == -ENOTSUP || r_ == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	store_campaign_finish(ctx->db, env.campaign, camp_status_name(rc == EXIT_OK ?
							CAMP_ST_DONE : CAMP_ST_FAILED));
out:
	camp_result_release(&r);
	camp_stop(&env);
	camp_observers_release(&obs);
	free(versions);
	return rc;
}
