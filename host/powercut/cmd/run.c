/* powercut run BENCH.ini | powercut run --resume DB: a campaign of cut cycles, unattended
 * and resumable (docs/campaign.md). The command parses its options, calls camp_run
 * (host/campaign/run.c: the loop, resume, the campaign's record) and prints.
 *
 * camp_run takes the bench lock and opens the relay into ctx (a resumed campaign's
 * bench is the config stored in the database), so main's cleanup still undoes them in
 * reverse order and powers the relay on. The progress line is an observer of the
 * campaign's events (observe.h), beside the database's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "campaign.h"
#include "child.h"
#include "clock.h"
#include "cmd.h"
#include "ledger.h"
#include "log.h"
#include "options.h"
#include "util.h"

#ifndef PC_VERSION
#define PC_VERSION "0.1.0"
#endif

const struct cmd_opt run_opts[] = {
	{ "cycles", 1, "N", "run N cycles (default: [campaign] cycles)" },
	{ "duration", 1, "TIME", "run cycles for this long (8h, 90m, 30s)" },
	{ "until", 1, "HH:MM", "run cycles until this local time" },
	{ "notify", 1, "CMD", "run CMD (split on blanks, no shell) when the campaign ends or "
	  "stops; POWERCUT_STATUS, POWERCUT_DB, POWERCUT_CAMPAIGN in its environment" },
	{ "resume", 1, "DB", "continue the newest unfinished campaign of DB" },
	{ "campaign", 1, "ID", "with --resume: the campaign to continue" },
	{ "keep", 0, NULL, "keep every cycle's node work directory" },
	{ 0 }
};

/* One log line per cycle (that cycle's outcome, with the count and ETA), and on a
 * terminal the campaign's totals in the logger's status line at the bottom. */
static void progress(const struct bench_config *cfg, const struct camp_tally *t, int64_t t0,
		     int64_t deadline, bool tty, const struct camp_result *last)
{
	double el = (clock_mono_ns() - t0) / 1e9;
	double rate = t->done ? el / t->done : 0;
	double eta = t->planned ? rate * (t->planned - t->done) :
		     deadline ? (deadline - clock_wall_ns()) / 1e9 : 0;
	char line[1024], when[64];
	int n = 0;

	if (t->planned)
		snprintf(when, sizeof(when), "%u/%u, ETA %d:%02d:%02d", t->done, t->planned,
			 (int)(eta / 3600), (int)(eta / 60) % 60, (int)eta % 60);
	else
		snprintf(when, sizeof(when), "%u done, %d:%02d:%02d left", t->done,
			 (int)(eta / 3600), (int)(eta / 60) % 60, (int)eta % 60);
	if (last) {
		for (size_t i = 0; i < last->n_disks && i < cfg->n_disks && i < 8 &&
		     n < (int)sizeof(line) - 80; i++)
			n += snprintf(line + n, sizeof(line) - n, "%s%s %" PRIu64 "/%" PRIu64,
				      i ? ", " : "", cfg->disks[i]->name, last->disks[i].violations,
				      last->disks[i].unflushed_lost);
		pc_info(LOG_MAIN, "cycle %" JSON_INTEGER_FORMAT " %s (%s): violation/unflushed "
			"blocks %s", json_integer_value(json_object_get(last->json, "cycle")),
			camp_cycle_status_name(last->status), when, line);
	}
	if (!tty)
		return;
	n = snprintf(line, sizeof(line), "%s, %.1f s/cycle; so far", when, rate);
	for (size_t i = 0; i < cfg->n_disks && i < 8 && n < (int)sizeof(line) - 80; i++)
		n += snprintf(line + n, sizeof(line) - n, "%s %s %" PRIu64 "/%" PRIu64, i ? "," : "",
			      cfg->disks[i]->name, t->violations[i], t->unflushed[i]);
	log_status(line);
}

static void notify(char **argv, const char *status, const char *db, int64_t campaign)
{
	char e1[64], e2[PATH_MAX + 16], e3[64];
	const char *env[] = { e1, e2, e3, NULL };
	struct child c = { .argv = (const char *const *)argv, .env = env, .in = CHILD_NULL,
			   .out = CHILD_INHERIT, .err = CHILD_INHERIT };
	int st;

	snprintf(e1, sizeof(e1), "POWERCUT_STATUS=%s", status);
	snprintf(e2, sizeof(e2), "POWERCUT_DB=%s", db);
	snprintf(e3, sizeof(e3), "POWERCUT_CAMPAIGN=%" PRId64, campaign);
	if (child_start(&c) < 0) {
		pc_warn(LOG_MAIN, "cannot run notify command '%s'", argv[0]);
		return;
	}
	if (child_finish(&c, 60000, &st) < 0 || st != 0)
		pc_warn(LOG_MAIN, "notify command '%s' failed", argv[0]);
}

struct run_view {
	struct pc_ctx *ctx;
	bool tty;
};

/* The progress observer: after every cycle that ran, its JSON (--json) or the
 * progress line. */
static void on_event(void *arg, const struct camp_event *ev)
{
	struct run_view *v = arg;
	const struct camp_run *run = ev->run;

	if (ev->kind != CAMP_EV_CYCLE_END || ev->rc != 0 || !run)
		return;
	if (v->ctx->json && ev->result->json)
		cmd_print_json(json_incref(ev->result->json));
	progress(run->cfg, &run->t, run->t0_ns, run->deadline_wall_ns, v->tty && !v->ctx->json,
		 ev->result);
}

/* --resume DB: the campaign as stored (its config, its run). EXIT_* */
static int run_resume(struct pc_ctx *ctx, const char *resume, struct camp_run *cr,
		      char *db_path, size_t len, char ***notify_argv)
{
	char *config_text = NULL, label[PATH_MAX + 64];
	json_t *run = NULL;
	int rc = EXIT_USAGE;

	if (ctx->argc || ctx->db || ctx->n_sets) {
		/* The campaign goes on with the settings it was planned with. */
		pc_err(LOG_MAIN, "'powercut run --resume DB' takes no bench, no --db and no --set");
		return EXIT_USAGE;
	}
	snprintf(db_path, len, "%s", resume);
	ctx->db = store_open(db_path, STORE_MIGRATE);
	if (!ctx->db)
		return EXIT_FAIL;
	store_log_attach(ctx->db);
	int r = camp_run_load(ctx->db, cmd_opt(ctx, "campaign"), &cr->campaign, &config_text, &run);
	if (r == -EALREADY) {
		pc_err(LOG_MAIN, "campaign %" PRId64 " of '%s' is done: nothing to resume",
		       cr->campaign, db_path);
		goto out;
	}
	if (r < 0) {
		pc_err(LOG_MAIN, "no campaign of 'powercut run' to resume in '%s'", db_path);
		goto out;
	}
	snprintf(label, sizeof(label), "campaign %" PRId64 " of %s", cr->campaign, db_path);
	ctx->cfg = bench_config_parse(label, config_text, NULL, 0, &cmd_bench_drivers);
	if (!ctx->cfg)
		goto out;
	cr->resume = true;
	rc = camp_run_from_json(run, cr, ctx->run_dir, sizeof(ctx->run_dir), notify_argv) < 0 ?
	     EXIT_FAIL : EXIT_OK;
	store_set_campaign(ctx->db, cr->campaign);
out:
	free(config_text);
	json_decref(run);
	return rc;
}

/* --cycles N | --duration TIME | --until HH:MM into cr->planned or its deadline. */
static int run_until(struct pc_ctx *ctx, struct camp_run *cr)
{
	int given = !!cmd_opt(ctx, "cycles") + !!cmd_opt(ctx, "duration") + !!cmd_opt(ctx, "until");

	if (given > 1) {
		pc_err(LOG_MAIN, "give one of '--cycles', '--duration' and '--until'");
		return EXIT_USAGE;
	}
	if (cmd_opt(ctx, "cycles")) {
		char *end;
		long v = strtol(cmd_opt(ctx, "cycles"), &end, 10);
		if (*end || v < 1 || v > 100000000) {
			pc_err(LOG_MAIN, "invalid value '%s' for '--cycles'", cmd_opt(ctx, "cycles"));
			return EXIT_USAGE;
		}
		cr->planned = v;
	} else if (cmd_opt(ctx, "duration")) {
		static const struct opt_def d = { "duration", OPT_DURATION, 0, NULL, 1,
						  (int64_t)1 << 40, NULL, NULL, 0 };
		int64_t ms;
		if (opt_parse(&d, &ms, cmd_opt(ctx, "duration"), NULL, NULL) < 0)
			return EXIT_USAGE;
		cr->planned = 0;
		cr->deadline_wall_ns = clock_wall_ns() + ms * 1000000;
	} else if (cmd_opt(ctx, "until")) {
		int hh, mm;
		char c;
		if (sscanf(cmd_opt(ctx, "until"), "%d:%d%c", &hh, &mm, &c) != 2 || hh < 0 ||
		    hh > 23 || mm < 0 || mm > 59) {
			pc_err(LOG_MAIN, "invalid value '%s' for '--until' (expected HH:MM)",
			       cmd_opt(ctx, "until"));
			return EXIT_USAGE;
		}
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		tm.tm_hour = hh, tm.tm_min = mm, tm.tm_sec = 0;
		time_t t = mktime(&tm);
		if (t <= now)
			t += 86400;
		cr->planned = 0;
		cr->deadline_wall_ns = (int64_t)t * 1000000000;
	}
	return EXIT_OK;
}

/* A new campaign of BENCH.ini. EXIT_* */
static int run_fresh(struct pc_ctx *ctx, struct camp_run *cr, char *db_path, size_t len,
		     char ***notify_argv)
{
	int rc;

	if (ctx->argc != 1) {
		pc_err(LOG_MAIN, "usage: powercut %s", ctx->cmd->usage);
		return EXIT_USAGE;
	}
	ctx->cfg = bench_config_load(ctx->argv[0], ctx->sets, ctx->n_sets, &cmd_bench_drivers);
	if (!ctx->cfg)
		return EXIT_USAGE;
	cr->seed = ctx->cfg->campaign->seed;
	cr->planned = ctx->cfg->campaign->cycles;
	cr->bench_file = ctx->argv[0];
	if ((rc = run_until(ctx, cr)) != EXIT_OK)
		return rc;
	if (cmd_opt(ctx, "notify")) {
		static const struct opt_def n = { "notify", OPT_LIST, 0, NULL, 0, 0, NULL, NULL, 0 };
		if (opt_set(&n, notify_argv, cmd_opt(ctx, "notify")) < 0 ||
		    !*notify_argv || !(*notify_argv)[0]) {
			pc_err(LOG_MAIN, "invalid value '%s' for '--notify'", cmd_opt(ctx, "notify"));
			return EXIT_USAGE;
		}
	}
	if (cmd_run_dir(ctx->cfg, ctx->run_dir, sizeof(ctx->run_dir)) < 0 ||
	    cmd_campaign_db(ctx, "campaign.db", db_path, len) < 0)
		return EXIT_FAIL;
	return EXIT_OK;
}

/* The end, as text or JSON; the exit status. */
static int run_report(struct pc_ctx *ctx, const struct camp_run *cr, const char *db_path)
{
	const struct bench_config *cfg = cr->cfg;
	const char *status = camp_status_name(cr->status);

	if (cr->controls == CAMP_CTL_FAILED)
		pc_err(LOG_CHECK, "campaign %" PRId64 ": the controls failed: %s", cr->campaign, cr->why);
	if (cr->status == CAMP_ST_NODE_LOST || cr->status == CAMP_ST_FAILED ||
	    cr->status == CAMP_ST_DISK_FULL)
		pc_err(LOG_MAIN, "campaign %" PRId64 " stopped: %s", cr->campaign, cr->msg);
	if (ctx->json) {
		cmd_print_json(json_pack("{s:s,s:I,s:s,s:i,s:i,s:s,s:s,s:f}", "db", db_path,
					 "campaign", (json_int_t)cr->campaign, "status", status,
					 "cycles", (int)cr->total, "planned", (int)cr->planned, "controls",
					 camp_controls_name(cr->controls), "message", cr->msg,
					 "overhead_s_per_cycle", cr->ran ? cr->t.overhead_s / cr->ran : 0.0));
	} else {
		if (cr->planned)
			printf("campaign %" PRId64 " in '%s': %s after %u of %" PRId64 " planned "
			       "cycle(s); controls %s\n", cr->campaign, db_path, status, cr->total,
			       cr->planned, camp_controls_name(cr->controls));
		else
			printf("campaign %" PRId64 " in '%s': %s after %u cycle(s); controls %s\n",
			       cr->campaign, db_path, status, cr->total,
			       camp_controls_name(cr->controls));
		for (size_t i = 0; i < cfg->n_disks && i < 8; i++) {
			const struct cfg_disk *d = cfg->disks[i];
			const char *ctl = d->control == CONTROL_LYING ? " (lying control)" :
					  d->control == CONTROL_SAFE ? " (safe control)" :
					  d->control == CONTROL_FORGETFUL ? " (forgetful control)" :
					  cfg_disk_negative(d) ?
					  " (sync=disabled control: the setting promises nothing)" : "";
			/* a files or sqlite disk's violations are findings of the file oracle */
			if (d->fs != DISK_FS_NONE)
				printf("  %s%s: %s, %s: %" PRIu64 " file system finding(s) (lost, "
				       "damaged, corrupt, check errors)\n", d->name, ctl,
				       config_fs_name(d->fs), config_workload_name(d->workload),
				       cr->t.violations[i]);
			else
				printf("  %s%s: %" PRIu64 " violation block(s), %" PRIu64 " unflushed lost\n",
				       d->name, ctl, cr->t.violations[i], cr->t.unflushed[i]);
		}
		if (cr->status != CAMP_ST_DONE)
			printf("  %s\n", cr->msg);
	}
	if (cr->notify_argv)
		notify(cr->notify_argv, status, db_path, cr->campaign);
	return cr->status == CAMP_ST_DONE ? (cr->controls == CAMP_CTL_FAILED ? EXIT_FAIL : EXIT_OK) :
	       cr->status == CAMP_ST_INTERRUPTED ? EXIT_OK : EXIT_FAIL;
}

int cmd_run(struct pc_ctx *ctx)
{
	const char *resume = cmd_opt(ctx, "resume");
	char db_path[PATH_MAX], bin[PATH_MAX];
	char **notify_argv = NULL;
	struct run_view view = { .ctx = ctx, .tty = isatty(2) };
	struct camp_observers obs;
	struct camp_run cr = { .version = PC_VERSION, .bin_dir = bin, .lock = &ctx->lock,
			       .relay = &ctx->relay, .obs = &obs };
	int rc;

	if (pc_exe_dir(bin, sizeof(bin)) < 0)
		return EXIT_FAIL;
	camp_observers_init(&obs);
	rc = resume ? run_resume(ctx, resume, &cr, db_path, sizeof(db_path), &notify_argv) :
	     run_fresh(ctx, &cr, db_path, sizeof(db_path), &notify_argv);
	if (rc != EXIT_OK)
		goto out;
	cr.cfg = ctx->cfg;
	cr.db = ctx->db;
	cr.db_path = db_path;
	cr.run_dir = ctx->run_dir;
	cr.notify_argv = notify_argv;
	cr.keep = cmd_flag(ctx, "keep");
	camp_observe_add(&obs, camp_db_observer, ctx->db);
	camp_observe_add(&obs, on_event, &view);

	int r = camp_run(&cr);
	if (view.tty && !ctx->json && cr.t0_ns)
		log_status(NULL);
	if (r < 0)
		rc = r == -EBUSY ? EXIT_BUSY : r == -ENODEV ? EXIT_DEVICE : r == -EINVAL ? EXIT_USAGE :
		     r == -EINTR ? 128 + relay_interrupted : EXIT_FAIL;
	else
		rc = run_report(ctx, &cr, db_path);
out:
	camp_observers_release(&obs);
	for (size_t i = 0; notify_argv && notify_argv[i]; i++)
		free(notify_argv[i]);
	free(notify_argv);
	return rc;
}
