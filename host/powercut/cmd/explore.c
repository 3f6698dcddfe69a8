/* powercut explore DB CYCLE [--disk NAME]: every crash state of one recorded cycle
 * (docs/explore.md). Parses, calls host/explore, prints. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "explore.h"
#include "log.h"
#include "relay.h"

const struct cmd_opt explore_opts[] = {
	{ "disk", 1, "NAME", "the recorded disk (default: every recorded disk of the cycle)" },
	{ "campaign", 1, "ID", "campaign id (default: the newest campaign with that cycle)" },
	{ "states", 1, "N", "budget of crash states per disk (default 200)" },
	{ "seconds", 1, "S", "budget of time per disk (default: none)" },
	{ "seed", 1, "N", "seed of the random subsets and tears (default 1)" },
	{ "state", 1, "ID", "with --export or --report: the explored state" },
	{ "export", 1, "FILE", "write state --state of --disk as an image file and stop" },
	{ "report", 1, "FILE", "classify this check report (another read-back of state "
	  "--state) against that state's crash point, print its classes and stop" },
	{ 0 }
};

static int num(const char *name, const char *s, double max, double *v)
{
	char *end;
	errno = 0;
	double x = s ? strtod(s, &end) : 0;
	if (!s || !*s || *end || errno || x < 0 || x > max) {
		pc_err(LOG_MAIN, "invalid %s '%s' (expected a number up to %.0f)", name,
		       s ? s : "", max);
		return -EINVAL;
	}
	*v = x;
	return 0;
}

static json_t *summary_json(const char *disk, const struct explore_summary *s)
{
	json_t *k = json_object();
	for (int i = 0; i < EXPLORE__KINDS; i++)
		json_object_set_new(k, explore_kind_name(i), json_pack("{s:I,s:I}", "candidates",
				    (json_int_t)(s->candidates[i] > INT64_MAX ? INT64_MAX :
						 s->candidates[i]),
				    "explored", (json_int_t)s->explored[i]));
	return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:o}",
			 "disk", disk, "run", (json_int_t)s->run_id,
			 "log_entries", (json_int_t)s->log_entries,
			 "log_writes", (json_int_t)s->log_writes,
			 "log_flushes", (json_int_t)s->log_flushes,
			 "baseline_entries", (json_int_t)s->baseline_entries,
			 "states", (json_int_t)s->states,
			 "violation_states", (json_int_t)s->violation_states,
			 "metadata_failure_states", (json_int_t)s->metadata_failure_states,
			 "leak_states", (json_int_t)s->leak_states,
			 "smallest_violation", (json_int_t)s->smallest_violation,
			 "smallest_metadata_failure", (json_int_t)s->smallest_metadata_failure,
			 "seconds", s->seconds,
			 "states_per_s", s->seconds > 0 ? s->states / s->seconds : 0.0,
			 "kinds", k);
}

static void print_summary(const char *db, uint64_t campaign, uint32_t cycle, const char *disk,
			  const struct explore_summary *s)
{
	printf("disk '%s': %" PRIu64 " states from %" PRIu64 " writes and %" PRIu64
	       " flushes in %.1f s (%.1f/s)\n", disk, s->states, s->log_writes, s->log_flushes,
	       s->seconds, s->seconds > 0 ? s->states / s->seconds : 0.0);
	for (int i = 0; i < EXPLORE__KINDS; i++)
		printf("  %-9s %6" PRIu64 " of %" PRIu64 "\n", explore_kind_name(i), s->explored[i],
		       s->candidates[i]);
	printf("  with violations %" PRIu64 ", with metadata failures %" PRIu64
	       ", with leaks only %" PRIu64 "\n", s->violation_states, s->metadata_failure_states,
	       s->leak_states);
	if (s->smallest_violation >= 0)
		printf("  smallest violation: powercut explore %s %" PRIu32 " --campaign %" PRIu64
		       " --disk %s --state %" PRId64 " --export FILE\n", db, cycle, campaign, disk,
		       s->smallest_violation);
	if (s->smallest_metadata_failure >= 0)
		printf("  smallest metadata failure: powercut explore %s %" PRIu32 " --campaign %"
		       PRIu64 " --disk %s --state %" PRId64 " --export FILE\n", db, cycle, campaign,
		       disk, s->smallest_metadata_failure);
}

static int explore_db(struct pc_ctx *ctx, struct store *st);

int cmd_explore(struct pc_ctx *ctx)
{
	if (ctx->argc != 2) {
		pc_err(LOG_MAIN, "usage: powercut %s", ctx->cmd->usage);
		return EXIT_USAGE;
	}
	struct store *st = store_open(ctx->argv[0], STORE_MIGRATE);
	if (!st)
		return EXIT_FAIL;
	int rc = explore_db(ctx, st);
	store_close(st);
	return rc;
}

static int explore_db(struct pc_ctx *ctx, struct store *st)
{
	sqlite3 *db = store_db(st);	/* lent to explore, which owns its tables */
	int64_t newest = 0;
	struct explore_opts o;
	double cycle, v;
	uint64_t campaign = 0;
	const char *state = cmd_opt(ctx, "state"), *out = cmd_opt(ctx, "export");
	const char *report = cmd_opt(ctx, "report");
	int rc = EXIT_FAIL;

	explore_opts_init(&o);
	if (num("cycle", ctx->argv[1], UINT32_MAX, &cycle) < 0)
		return EXIT_USAGE;
	if (!state != !(out || report) || (out && report)) {
		pc_err(LOG_MAIN, "usage: powercut %s", ctx->cmd->usage);
		return EXIT_USAGE;
	}
	o.db_path = ctx->argv[0];
	o.cycle = (uint32_t)cycle;
	o.stop = &relay_interrupted;
	if (cmd_opt(ctx, "campaign")) {
		if (num("--campaign", cmd_opt(ctx, "campaign"), (double)INT64_MAX, &v) < 0)
			return EXIT_USAGE;
		campaign = (uint64_t)v;
	} else if (store_session_campaign(st, o.cycle, &newest) == 0) {
		campaign = (uint64_t)newest;
	} else {
		pc_err(LOG_MAIN, "'%s' has no cycle %" PRIu32, ctx->argv[0], o.cycle);
		return EXIT_FAIL;
	}
	o.campaign = campaign;
	if (cmd_opt(ctx, "states")) {
		if (num("--states", cmd_opt(ctx, "states"), 1e9, &v) < 0)
			return EXIT_USAGE;
		if (v < 1) {
			pc_err(LOG_MAIN, "invalid --states '%s' (expected 1 or more)",
			       cmd_opt(ctx, "states"));
			return EXIT_USAGE;
		}
		o.max_states = (int64_t)v;
	}
	if (cmd_opt(ctx, "seconds") && num("--seconds", cmd_opt(ctx, "seconds"), 1e7,
					   &o.max_seconds) < 0)
		return EXIT_USAGE;
	if (cmd_opt(ctx, "seed")) {
		if (num("--seed", cmd_opt(ctx, "seed"), 1e18, &v) < 0)
			return EXIT_USAGE;
		o.seed = (uint64_t)v;
	}

	if (out || report) {
		if (!cmd_opt(ctx, "disk") || num("--state", state, 1e12, &v) < 0) {
			pc_err(LOG_MAIN, "--%s needs --disk and --state", out ? "export" : "report");
			return EXIT_USAGE;
		}
		o.disk = cmd_opt(ctx, "disk");
	}
	if (report) {
		json_t *res = NULL;
		if (explore_classify(db, &o, (int64_t)v, report, &res) < 0)
			return EXIT_FAIL;
		if (ctx->json) {
			cmd_print_json(res);
		} else {
			char *c = json_dumps(json_object_get(res, "counts"), JSON_COMPACT);
			printf("state %.0f of disk '%s', read back in '%s': %" JSON_INTEGER_FORMAT
			       " violations, classes %s\n", v, o.disk, report,
			       json_integer_value(json_object_get(res, "violations")), c ? c : "{}");
			free(c);
			json_decref(res);
		}
		return EXIT_OK;
	}
	if (out) {
		if (explore_export(db, &o, (int64_t)v, out) < 0)
			return EXIT_FAIL;
		if (!ctx->json)
			printf("wrote state %.0f of disk '%s' to '%s'\n", v, o.disk, out);
		else
			cmd_print_json(json_pack("{s:s,s:I,s:s}", "disk", o.disk, "state",
						 (json_int_t)v, "file", out));
		return EXIT_OK;
	}

	/* The disks: the one named, or every recording of the cycle. */
	char dir[PATH_MAX];
	explore_recording_dir(ctx->argv[0], campaign, o.cycle, dir, sizeof(dir));
	struct dirent **names = NULL;
	int nd = 0;
	if (!cmd_opt(ctx, "disk")) {
		nd = scandir(dir, &names, NULL, alphasort);
		if (nd < 0) {
			pc_err(LOG_MAIN, "cycle %" PRIu32 " of campaign %" PRIu64 " has no recording "
			       "('%s': %s); set [disk] record = yes", o.cycle, campaign, dir,
			       strerror(errno));
			return EXIT_FAIL;
		}
	}
	json_t *disks = json_array();
	struct explore_summary tot = { 0 };
	bool any = false, failed = false;
	for (int i = cmd_opt(ctx, "disk") ? -1 : 0; i < nd; i++) {
		const char *disk = i < 0 ? cmd_opt(ctx, "disk") : names[i]->d_name;
		if (i >= 0 && disk[0] == '.')
			continue;
		struct explore_summary s;
		o.disk = disk;
		if (explore_run(db, &o, &s) < 0) {
			failed = true;
			continue;
		}
		any = true;
		tot.states += s.states;
		tot.violation_states += s.violation_states;
		tot.metadata_failure_states += s.metadata_failure_states;
		tot.leak_states += s.leak_states;
		if (ctx->json)
			json_array_append_new(disks, summary_json(disk, &s));
		else
			print_summary(ctx->argv[0], campaign, o.cycle, disk, &s);
	}
	for (int i = 0; i < nd; i++)
		free(names[i]);
	free(names);
	if (ctx->json)
		cmd_print_json(json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "campaign",
					 (json_int_t)campaign, "cycle", (json_int_t)o.cycle,
					 "states", (json_int_t)tot.states, "violation_states",
					 (json_int_t)tot.violation_states, "metadata_failure_states",
					 (json_int_t)tot.metadata_failure_states, "leak_states",
					 (json_int_t)tot.leak_states, "disks", disks));
	else
		json_decref(disks);
	/* The status says whether the exploration ran; what it found is in the output and
	 * the database (a lying control is supposed to show violations). */
	rc = any && !failed ? EXIT_OK : EXIT_FAIL;
	return rc;
}
