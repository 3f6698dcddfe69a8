/* powercut run BENCH.ini | powercut run --resume DB: a campaign of cut cycles, unattended
 * and resumable (docs/campaign.md).
 *
 * The campaign row holds the effective config (and its hash), the tool versions and
 * run_json: the seed, the planned cycles or deadline, the run and work directories,
 * the evidence directory and --notify. Cycle i runs plan i (camp_plan_make(seed, i)),
 * one row per plan index. --resume reads all of that back: it takes the bench lock,
 * kills what the dead controller left running, marks its cycle interrupted and goes on
 * at the next plan index.
 *
 * This command opens the bench, lock and relay itself (a resumed campaign's bench is
 * the config stored in the database), into ctx, so main's cleanup still undoes them
 * in reverse order and powers the relay on.
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

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int sql_exec(struct store *db, const char *sql, const char *text, int64_t a, int64_t b)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(store_db(db), sql, -1, &s, NULL) != SQLITE_OK) {
		pc_err(LOG_DB, "cannot update the campaign: %s", sqlite3_errmsg(store_db(db)));
		return -EIO;
	}
	int k = 1;
	if (text)
		sqlite3_bind_text(s, k++, text, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, k++, a);
	if (b)
		sqlite3_bind_int64(s, k, b);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

static int64_t sql_int(struct store *db, const char *sql, int64_t a)
{
	sqlite3_stmt *s;
	int64_t v = -1;

	if (sqlite3_prepare_v2(store_db(db), sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, a);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Per disk over the campaign so far: violations and unflushed losses (blocks). */
struct tally {
	uint64_t violations[8], unflushed[8];
	unsigned done, planned, ok, bad, interrupted;
	double overhead_s;
};

static void progress(const struct bench_config *cfg, const struct tally *t, int64_t t0,
		     int64_t deadline, bool tty, const struct camp_result *last)
{
	double el = (relay_now_ns() - t0) / 1e9;
	double rate = t->done ? el / t->done : 0;
	double eta = t->planned ? rate * (t->planned - t->done) :
		     deadline ? (deadline - wall_ns()) / 1e9 : 0;
	char line[1024];
	int n = 0;

	if (t->planned)
		n += snprintf(line + n, sizeof(line) - n, "%u/%u cycles", t->done, t->planned);
	else
		n += snprintf(line + n, sizeof(line) - n, "%u cycles", t->done);
	n += snprintf(line + n, sizeof(line) - n, ", %.1f s/cycle, ETA %d:%02d:%02d", rate,
		      (int)(eta / 3600), (int)(eta / 60) % 60, (int)eta % 60);
	for (size_t i = 0; i < cfg->n_disks && i < 8 && n < (int)sizeof(line) - 80; i++)
		n += snprintf(line + n, sizeof(line) - n, "; %s: %" PRIu64 " violations, %" PRIu64
			      " unflushed lost", cfg->disks[i]->name, t->violations[i], t->unflushed[i]);
	if (tty) {
		fprintf(stderr, "\r\033[K%s", line);
		fflush(stderr);
	} else if (last) {
		pc_info(LOG_MAIN, "cycle %" JSON_INTEGER_FORMAT " %s: %s",
			json_integer_value(json_object_get(last->json, "cycle")), last->status, line);
	}
}

/* The database file with its write-ahead log, in bytes (0 for what is missing). */
static uint64_t db_bytes(const char *db_path)
{
	char wal[PATH_MAX + 8];
	struct stat st;
	uint64_t n = 0;

	if (stat(db_path, &st) == 0)
		n += (uint64_t)st.st_size;
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	if (stat(wal, &st) == 0)
		n += (uint64_t)st.st_size;
	return n;
}

/* Space the next cycle may need beside the database: 16 MiB, or twice the most one
 * cycle of this run made it grow (the ledger's rows are stored before pruning). */
#define CYCLE_SPACE_MIN (16ull << 20)

/* The controls' verdict over the campaign: a lying or forgetful disk (or a zvol with
 * sync=disabled, which ignores flushes) must show a violation in some verified cycle,
 * a safe one in none. "none", "passed" or "failed" (why in *why). */
static const char *controls_verdict(struct store *db, const struct bench_config *cfg,
				    int64_t campaign, char *why, size_t len)
{
	const char *v = "none";

	why[0] = 0;
	for (size_t i = 0; i < cfg->n_disks; i++) {
		const struct cfg_disk *d = cfg->disks[i];
		bool negative = cfg_disk_negative(d);
		if (d->control == CONTROL_NONE && !negative)
			continue;
		if (!strcmp(v, "none"))
			v = "passed";
		sqlite3_stmt *s;
		int64_t viol = 0, verified = 0;
		if (sqlite3_prepare_v2(store_db(db),
				"SELECT (SELECT COUNT(*) FROM findings f JOIN cycles c ON c.id = f.cycle_id"
				" WHERE c.campaign_id = ?1 AND f.disk = ?2 AND f.class = 'violation'),"
				" (SELECT COUNT(*) FROM cycles c WHERE c.campaign_id = ?1 AND"
				" c.status IN ('ok', 'violation'))", -1, &s, NULL) != SQLITE_OK)
			return "failed";
		sqlite3_bind_int64(s, 1, campaign);
		sqlite3_bind_text(s, 2, d->name, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			viol = sqlite3_column_int64(s, 0);
			verified = sqlite3_column_int64(s, 1);
		}
		sqlite3_finalize(s);
		/* A forgetful disk, or a zvol with sync=disabled, must be caught as a lying
		 * one is. */
		bool bad = negative ? viol == 0 : viol > 0;
		if (bad) {
			v = "failed";
			size_t l = strlen(why);
			snprintf(why + l, len - l, "%s%s control '%s' %s in %" PRId64 " cycle(s)",
				 l ? "; " : "", d->control != CONTROL_NONE ?
				 config_control_name(d->control) : "sync=disabled", d->name,
				 negative ? "showed no violation" : "showed violations", verified);
		}
	}
	return v;
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

static int resolve_run_dir(const struct bench_config *cfg, char *out, size_t len)
{
	char exe[PATH_MAX];

	if (cfg->bench->run_dir) {
		snprintf(out, len, "%s", cfg->bench->run_dir);
		return 0;
	}
	if (pc_exe_dir(exe, sizeof(exe)) < 0)
		return -ENOENT;
	snprintf(out, len, "%.2048s/../run/%.1024s", exe, cfg->bench->name);
	return 0;
}

/* The newest campaign of db that has a run and is not done (or the one asked for). */
static int load_campaign(struct store *db, const char *want, int64_t *id, char **config_text,
			 json_t **run)
{
	sqlite3_stmt *s;
	int rc = -ENOENT;

	if (sqlite3_prepare_v2(store_db(db), want ?
			"SELECT id, config_text, run_json, status FROM campaigns WHERE id = ?1 AND "
			"run_json IS NOT NULL" :
			"SELECT id, config_text, run_json, status FROM campaigns WHERE run_json IS NOT "
			"NULL ORDER BY id DESC LIMIT 1", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	if (want)
		sqlite3_bind_int64(s, 1, strtoll(want, NULL, 10));
	if (sqlite3_step(s) == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		*config_text = strdup((const char *)sqlite3_column_text(s, 1));
		*run = json_loads((const char *)sqlite3_column_text(s, 2), 0, NULL);
		const char *st = (const char *)sqlite3_column_text(s, 3);
		rc = *config_text && *run ? 0 : -ENOMEM;
		if (rc == 0 && st && !strcmp(st, "done"))
			rc = -EALREADY;
	}
	sqlite3_finalize(s);
	return rc;
}

int cmd_run(struct pc_ctx *ctx)
{
	const char *resume = cmd_opt(ctx, "resume");
	char db_path[PATH_MAX], bin[PATH_MAX], evid[PATH_MAX + 64], work[PATH_MAX], procs[PATH_MAX];
	char token[65] = "", why[1024];
	char *config_text = NULL, *versions = NULL, **notify_argv = NULL;
	json_t *run = NULL;
	struct ledger *led = NULL;
	struct bench_config *cfg = NULL;
	int64_t campaign = 0, deadline = 0, planned = 0;
	uint64_t seed, evidence_left;
	const char *status = "failed";
	int rc = EXIT_FAIL;
	bool tty = isatty(2);

	if (pc_exe_dir(bin, sizeof(bin)) < 0)
		return EXIT_FAIL;
	if (resume) {
		if (ctx->argc || ctx->db || ctx->n_sets) {
			/* The campaign goes on with the settings it was planned with. */
			pc_err(LOG_MAIN, "'powercut run --resume DB' takes no bench, no --db and no --set");
			return EXIT_USAGE;
		}
		snprintf(db_path, sizeof(db_path), "%s", resume);
		ctx->db = store_open(db_path, STORE_MIGRATE);
		if (!ctx->db)
			return EXIT_FAIL;
		log_set_sink(store_log_sink, ctx->db);
		int r = load_campaign(ctx->db, cmd_opt(ctx, "campaign"), &campaign, &config_text, &run);
		if (r == -EALREADY) {
			pc_err(LOG_MAIN, "campaign %" PRId64 " of '%s' is done: nothing to resume",
			       campaign, db_path);
			rc = EXIT_USAGE;
			goto out;
		}
		if (r < 0) {
			pc_err(LOG_MAIN, "no campaign of 'powercut run' to resume in '%s'", db_path);
			rc = EXIT_USAGE;
			goto out;
		}
		char *err = NULL;
		char label[PATH_MAX + 64];
		snprintf(label, sizeof(label), "campaign %" PRId64 " of %s", campaign, db_path);
		cfg = bench_config_parse(label, config_text, NULL, 0, &err);
		if (!cfg) {
			fputs(err ? err : "invalid stored config\n", stderr);
			free(err);
			rc = EXIT_USAGE;
			goto out;
		}
		ctx->cfg = cfg;
		seed = (uint64_t)json_integer_value(json_object_get(run, "seed"));
		planned = json_integer_value(json_object_get(run, "cycles"));
		deadline = json_integer_value(json_object_get(run, "deadline_wall_ns"));
		snprintf(ctx->run_dir, sizeof(ctx->run_dir), "%s",
			 json_string_value(json_object_get(run, "run_dir")));
		snprintf(work, sizeof(work), "%s", json_string_value(json_object_get(run, "work_dir")));
		snprintf(evid, sizeof(evid), "%s", json_string_value(json_object_get(run, "evidence_dir")));
		json_t *nv = json_object_get(run, "notify");
		if (json_array_size(nv)) {
			notify_argv = calloc(json_array_size(nv) + 1, sizeof(char *));
			for (size_t i = 0; notify_argv && i < json_array_size(nv); i++)
				notify_argv[i] = strdup(json_string_value(json_array_get(nv, i)));
		}
		store_set_campaign(ctx->db, campaign);
	} else {
		char *err = NULL;
		if (ctx->argc != 1) {
			pc_err(LOG_MAIN, "usage: powercut %s", ctx->cmd->usage);
			return EXIT_USAGE;
		}
		cfg = bench_config_load(ctx->argv[0], ctx->sets, ctx->n_sets, &err);
		if (!cfg) {
			fputs(err ? err : "invalid bench\n", stderr);
			free(err);
			return EXIT_USAGE;
		}
		ctx->cfg = cfg;
		seed = cfg->campaign->seed;
		planned = cfg->campaign->cycles;
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
			planned = v;
		} else if (cmd_opt(ctx, "duration")) {
			static const struct opt_def d = { "duration", OPT_DURATION, 0, NULL, 1,
							  (int64_t)1 << 40, NULL, NULL, 0 };
			int64_t ms;
			char msg[256];
			if (opt_parse(&d, &ms, cmd_opt(ctx, "duration"), msg, sizeof(msg)) < 0) {
				pc_err(LOG_MAIN, "%s", msg);
				return EXIT_USAGE;
			}
			planned = 0;
			deadline = wall_ns() + ms * 1000000;
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
			planned = 0;
			deadline = (int64_t)t * 1000000000;
		}
		if (cmd_opt(ctx, "notify")) {
			static const struct opt_def n = { "notify", OPT_LIST, 0, NULL, 0, 0, NULL, NULL, 0 };
			char msg[256];
			if (opt_parse(&n, &notify_argv, cmd_opt(ctx, "notify"), msg, sizeof(msg)) < 0 ||
			    !notify_argv || !notify_argv[0]) {
				pc_err(LOG_MAIN, "invalid value '%s' for '--notify'", cmd_opt(ctx, "notify"));
				return EXIT_USAGE;
			}
		}
		if (resolve_run_dir(cfg, ctx->run_dir, sizeof(ctx->run_dir)) < 0)
			return EXIT_FAIL;
		if (ctx->db) {
			const char *f = sqlite3_db_filename(store_db(ctx->db), "main");
			snprintf(db_path, sizeof(db_path), "%s", f ? f : "");
		} else {
			snprintf(db_path, sizeof(db_path), "%.4000s/campaign.db", ctx->run_dir);
			if (pc_mkdir_p(ctx->run_dir) < 0 ||
			    !(ctx->db = store_open(db_path, STORE_CREATE | STORE_MIGRATE)))
				return EXIT_FAIL;
			log_set_sink(store_log_sink, ctx->db);
		}
	}
	/* The bench lock first: after it, whatever still uses the bench's files is a leftover. */
	pid_t holder = 0;
	ctx->lock = benchlock_take(ctx->run_dir, cfg->bench->name, &holder);
	if (!ctx->lock) {
		rc = errno == EBUSY ? EXIT_BUSY : EXIT_FAIL;
		goto out;
	}
	snprintf(procs, sizeof(procs), "%.4000s/procs", ctx->run_dir);
	if (resume) {
		const char *dirs[] = { ctx->run_dir, work, NULL };
		int k = camp_procs_reap(procs, dirs);
		if (k > 0)
			pc_info(LOG_MAIN, "killed %d process(es) left by the interrupted run", k);
		/* The simulator refuses a run directory whose pid file names a process that
		 * exists, and a killed one exists until its new parent reaps it. */
		char pf[PATH_MAX + 16];
		snprintf(pf, sizeof(pf), "%.4000s/mcusim.pid", ctx->run_dir);
		FILE *pff = fopen(pf, "re");
		long spid = 0;
		if (pff && fscanf(pff, "%ld", &spid) == 1 && spid > 1) {
			for (int i = 0; i < 500 && kill((pid_t)spid, 0) == 0; i++)
				usleep(20000);
		}
		if (pff)
			fclose(pff);
		/* The node work directories of the dead run. */
		const char *argv[] = { "rm", "-rf", "--", work, NULL };
		struct child_result cr;
		if (child_run(argv, NULL, 60000, &cr) == 0)
			child_result_release(&cr);
		char step[64] = "";
		sqlite3_stmt *s;
		/* The step file is newer than the row while the workload ran. */
		char sf[PATH_MAX + 8];
		snprintf(sf, sizeof(sf), "%.4000s/step", ctx->run_dir);
		FILE *f = fopen(sf, "re");
		long long sid;
		if (f && fscanf(f, "%lld %63s", &sid, step) == 2)
			sql_exec(ctx->db, "UPDATE cycles SET step = ? WHERE id = ? AND status = 'running'",
				 step, sid, 0);
		if (f)
			fclose(f);
		if (sqlite3_prepare_v2(store_db(ctx->db), "SELECT idx, step FROM cycles WHERE "
				       "campaign_id = ? AND status = 'running'", -1, &s, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(s, 1, campaign);
			while (sqlite3_step(s) == SQLITE_ROW) {
				snprintf(step, sizeof(step), "%s", sqlite3_column_text(s, 1) ?
					 (const char *)sqlite3_column_text(s, 1) : "start");
				pc_info(LOG_MAIN, "cycle %lld was interrupted at step '%s'",
					(long long)sqlite3_column_int64(s, 0), step);
			}
			sqlite3_finalize(s);
		}
		/* A partial record of the interrupted cycle goes: its row stays, interrupted. */
		static const char *const partial[] = { "cut_events", "checks", "findings", "evidence" };
		for (size_t i = 0; i < 4; i++) {
			char sql[256];
			snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE cycle_id IN (SELECT id FROM "
				 "cycles WHERE campaign_id = ? AND status = 'running')", partial[i]);
			sql_exec(ctx->db, sql, NULL, campaign, 0);
		}
		sql_exec(ctx->db, "UPDATE cycles SET status = 'interrupted' WHERE campaign_id = ? AND "
			 "status = 'running'", NULL, campaign, 0);
		sql_exec(ctx->db, "UPDATE campaigns SET status = 'running', finished_wall_ns = NULL "
			 "WHERE id = ?", NULL, campaign, 0);
		if (sqlite3_prepare_v2(store_db(ctx->db), "SELECT token FROM oracle_campaign_token "
				       "WHERE campaign = ?", -1, &s, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(s, 1, campaign);
			if (sqlite3_step(s) == SQLITE_ROW)
				snprintf(token, sizeof(token), "%s", sqlite3_column_text(s, 0));
			sqlite3_finalize(s);
		}
		if (!token[0]) {
			pc_err(LOG_DB, "campaign %" PRId64 " of '%s' has no ledger token", campaign, db_path);
			goto out;
		}
	} else {
		int fd = creat(procs, 0644);
		if (fd >= 0)
			close(fd);
	}

	/* Free space: the database grows by the ledger's rows, the evidence by its cap. */
	uint64_t need = cfg->campaign->evidence_cap + ((uint64_t)64 << 20), have;
	char dbdir[PATH_MAX];
	snprintf(dbdir, sizeof(dbdir), "%s", db_path);
	char *sl = strrchr(dbdir, '/');
	if (sl)
		*sl = 0;
	else
		snprintf(dbdir, sizeof(dbdir), ".");
	if (camp_free_bytes(dbdir, &have) == 0 && have < need) {
		pc_err(LOG_MAIN, "not enough free space in '%s' for the database and evidence: %"
		       PRIu64 " MiB free, %" PRIu64 " MiB needed (lower [campaign] evidence_cap?)",
		       dbdir, have >> 20, need >> 20);
		goto out;
	}

	if (!resume) {
		/* The row first: from here on a killed run is resumable. The firmware's
		 * version is added once the relay answered. */
		versions = camp_versions(NULL, PC_VERSION);
		char tok[33];
		if (camp_campaign_begin(ctx->db, cfg, versions, &campaign, tok) < 0)
			goto out;
		snprintf(token, sizeof(token), "%s", tok);
		const char *tmp = getenv("TMPDIR");
		/* Short (UNIX sockets live under it) and the campaign's own. */
		snprintf(work, sizeof(work), "%.3000s/pc-%.8s", tmp && *tmp ? tmp : "/tmp", token);
		snprintf(evid, sizeof(evid), "%.4000s.evidence/campaign-%" PRId64, db_path, campaign);
		json_t *nv = json_array();
		for (size_t i = 0; notify_argv && notify_argv[i]; i++)
			json_array_append_new(nv, json_string(notify_argv[i]));
		run = json_pack("{s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:o}", "seed", (json_int_t)seed,
				"cycles", (json_int_t)planned, "deadline_wall_ns", (json_int_t)deadline,
				"run_dir", ctx->run_dir, "work_dir", work, "evidence_dir", evid,
				"bench_file", ctx->argv[0], "notify", nv);
		char *rs = run ? json_dumps(run, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		int r = rs ? sql_exec(ctx->db, "UPDATE campaigns SET run_json = ? WHERE id = ?", rs,
				      campaign, 0) : -ENOMEM;
		free(rs);
		if (r < 0)
			goto out;
		pc_info(LOG_MAIN, "campaign %" PRId64 " in '%s': %s, seed %" PRIu64, campaign, db_path,
			planned ? "planned cycles" : "until the deadline", seed);
	}
	ctx->relay = relay_open(cfg, ctx->run_dir);
	if (!ctx->relay) {
		rc = relay_interrupted ? 128 + relay_interrupted : EXIT_DEVICE;
		goto out;
	}
	if (camp_dc_check(ctx->relay, cfg) < 0) {
		rc = EXIT_DEVICE;
		goto out;
	}
	free(versions);
	versions = camp_versions(ctx->relay, PC_VERSION);
	if (versions)
		sql_exec(ctx->db, "UPDATE campaigns SET versions_json = ? WHERE id = ?", versions,
			 campaign, 0);
	if (pc_mkdir_p(work) < 0) {
		pc_err(LOG_MAIN, "cannot create the node work directory '%s'", work);
		goto out;
	}
	led = camp_ledger_start(db_path, campaign, token);
	if (!led)
		goto out;

	/* The tally of what is recorded so far (a resumed campaign counts its earlier part). */
	struct tally t = { .planned = (unsigned)planned };
	t.done = (unsigned)sql_int(ctx->db, "SELECT COUNT(*) FROM cycles WHERE campaign_id = ?", campaign);
	for (size_t i = 0; i < cfg->n_disks && i < 8; i++) {
		sqlite3_stmt *s;
		if (sqlite3_prepare_v2(store_db(ctx->db), "SELECT class, SUM(json_extract(f.detail_json,"
				       " '$.blocks')) FROM findings f JOIN cycles c ON c.id = f.cycle_id"
				       " WHERE c.campaign_id = ? AND f.disk = ? AND f.block = -1 GROUP BY"
				       " class", -1, &s, NULL) != SQLITE_OK)
			continue;
		sqlite3_bind_int64(s, 1, campaign);
		sqlite3_bind_text(s, 2, cfg->disks[i]->name, -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *k = (const char *)sqlite3_column_text(s, 0);
			if (!strcmp(k, "violation"))
				t.violations[i] += (uint64_t)sqlite3_column_int64(s, 1);
			else if (!strncmp(k, "unflushed_lost", 14))
				t.unflushed[i] += (uint64_t)sqlite3_column_int64(s, 1);
		}
		sqlite3_finalize(s);
	}

	evidence_left = cfg->campaign->evidence_cap;
	int64_t kept = sql_int(ctx->db, "SELECT COALESCE(SUM(e.bytes), 0) FROM evidence e JOIN cycles c"
			       " ON c.id = e.cycle_id WHERE c.campaign_id = ?", campaign);
	evidence_left = kept > 0 && (uint64_t)kept < evidence_left ? evidence_left - (uint64_t)kept :
			kept > 0 ? 0 : evidence_left;
	struct camp_env env = {
		.cfg = cfg, .db = ctx->db, .db_path = db_path, .relay = ctx->relay,
		.run_dir = ctx->run_dir, .bin_dir = bin, .work_parent = work, .evidence_dir = evid,
		.evidence_left = &evidence_left, .campaign = campaign, .token = token, .led = led,
		.keep = cmd_flag(ctx, "keep"),
	};
	int64_t t0 = relay_now_ns();
	unsigned ran = 0, failures = 0;
	uint64_t grew_max = 0, space_need = CYCLE_SPACE_MIN, space_free = 0;
	int64_t next = 0;
	status = "done";
	for (;;) {
		next = sql_int(ctx->db, "SELECT COALESCE(MAX(idx), 0) + 1 FROM cycles WHERE "
			       "campaign_id = ?", campaign);
		if (relay_interrupted) {
			status = "interrupted";
			break;
		}
		if ((planned && next > planned) || (deadline && wall_ns() >= deadline) || next < 1)
			break;
		/* Another process may fill the disk during a night: stop between cycles,
		 * resumable, instead of losing a cycle's record to a full disk. */
		space_need = grew_max * 2 > CYCLE_SPACE_MIN ? grew_max * 2 : CYCLE_SPACE_MIN;
		if (camp_free_bytes(dbdir, &space_free) == 0 && space_free < space_need) {
			status = "disk-full";
			break;
		}
		struct camp_plan plan;
		struct camp_result r;
		camp_plan_make(cfg, seed, (uint32_t)next, &plan);
		uint64_t size0 = db_bytes(db_path);
		int c = camp_cycle_run(&env, &plan, &r);
		uint64_t size1 = db_bytes(db_path);
		if (size1 > size0 && size1 - size0 > grew_max)
			grew_max = size1 - size0;
		if (c == 0 || c == -EINTR || c == -EHOSTDOWN) {
			t.done++;
			for (size_t i = 0; i < r.n_disks && i < 8; i++) {
				t.violations[i] += r.disks[i].violations;
				t.unflushed[i] += r.disks[i].unflushed_lost;
			}
		}
		if (c == 0) {
			ran++;
			t.overhead_s += r.overhead_s;
			if (ctx->json && r.json)
				cmd_print_json(json_incref(r.json));
			progress(cfg, &t, t0, deadline, tty && !ctx->json, &r);
		}
		camp_result_release(&r);
		if (c == -EINTR) {
			status = "interrupted";
			break;
		}
		if (c == -EHOSTDOWN) {
			status = "node-lost";
			break;
		}
		if (c < 0) {
			/* Recorded as failed; a campaign goes on past a bad cycle, not past a
			 * bench that keeps failing. */
			pc_err(LOG_MAIN, "cycle %" PRId64 " could not run: %s", next, strerror(-c));
			if (c == -EEXIST || ++failures >= 3 ||
			    sql_int(ctx->db, "SELECT COUNT(*) FROM cycles WHERE campaign_id = ? AND "
				    "idx = (SELECT MAX(idx) FROM cycles WHERE campaign_id = ?1)",
				    campaign) < 1) {
				status = "failed";
				break;
			}
			t.done++;
			continue;
		}
		failures = 0;
	}
	if (tty && !ctx->json)
		fputc('\n', stderr);

	/* The end: the controls' verdict, the status, the message. */
	const char *controls = controls_verdict(ctx->db, cfg, campaign, why, sizeof(why));
	char msg[3 * PATH_MAX + 512];
	if (!strcmp(status, "interrupted"))
		snprintf(msg, sizeof(msg), "interrupted; power is on; continue with 'powercut run "
			 "--resume %s'", db_path);
	else if (!strcmp(status, "node-lost"))
		snprintf(msg, sizeof(msg), "the node did not come back: power is on; see the node's "
			 "logs under '%s' and the simulator's in '%s'; 'powercut run --resume %s' "
			 "continues with the next cycle", work, ctx->run_dir, db_path);
	else if (!strcmp(status, "disk-full"))
		snprintf(msg, sizeof(msg), "the file system of '%s' has %" PRIu64 " MiB free, less "
			 "than the %" PRIu64 " MiB a cycle may need: stopped before cycle %" PRId64
			 "; power is on; free space, then 'powercut run --resume %s'", db_path,
			 space_free >> 20, (space_need + (1u << 20) - 1) >> 20, next, db_path);
	else
		snprintf(msg, sizeof(msg), "%s", status);
	sql_exec(ctx->db, "UPDATE campaigns SET controls = ? WHERE id = ?", controls, campaign, 0);
	sql_exec(ctx->db, "UPDATE campaigns SET message = ? WHERE id = ?", msg, campaign, 0);
	store_campaign_finish(ctx->db, campaign, status);
	unsigned total = (unsigned)sql_int(ctx->db, "SELECT COUNT(*) FROM cycles WHERE campaign_id = ?",
					   campaign);
	if (!strcmp(controls, "failed"))
		pc_err(LOG_CHECK, "campaign %" PRId64 ": the controls failed: %s", campaign, why);
	if (!strcmp(status, "node-lost") || !strcmp(status, "failed") ||
	    !strcmp(status, "disk-full"))
		pc_err(LOG_MAIN, "campaign %" PRId64 " stopped: %s", campaign, msg);
	if (ctx->json) {
		cmd_print_json(json_pack("{s:s,s:I,s:s,s:i,s:i,s:s,s:s,s:f}", "db", db_path,
					 "campaign", (json_int_t)campaign, "status", status,
					 "cycles", (int)total, "planned", (int)planned, "controls",
					 controls, "message", msg, "overhead_s_per_cycle",
					 ran ? t.overhead_s / ran : 0.0));
	} else {
		if (planned)
			printf("campaign %" PRId64 " in '%s': %s after %u of %" PRId64 " planned "
			       "cycle(s); controls %s\n", campaign, db_path, status, total, planned,
			       controls);
		else
			printf("campaign %" PRId64 " in '%s': %s after %u cycle(s); controls %s\n",
			       campaign, db_path, status, total, controls);
		for (size_t i = 0; i < cfg->n_disks && i < 8; i++)
			printf("  %s%s: %" PRIu64 " violation block(s), %" PRIu64 " unflushed lost\n",
			       cfg->disks[i]->name, cfg->disks[i]->control == CONTROL_LYING ?
			       " (lying control)" : cfg->disks[i]->control == CONTROL_SAFE ?
			       " (safe control)" : cfg->disks[i]->control == CONTROL_FORGETFUL ?
			       " (forgetful control)" : cfg_disk_negative(cfg->disks[i]) ?
			       " (sync=disabled control: the setting promises nothing)" : "",
			       t.violations[i], t.unflushed[i]);
		if (strcmp(status, "done"))
			printf("  %s\n", msg);
	}
	if (notify_argv)
		notify(notify_argv, status, db_path, campaign);
	rc = !strcmp(status, "done") ? (!strcmp(controls, "failed") ? EXIT_FAIL : EXIT_OK) :
	     !strcmp(status, "interrupted") ? EXIT_OK : EXIT_FAIL;
out:
	if (led)
		ledger_free(led);
	for (size_t i = 0; notify_argv && notify_argv[i]; i++)
		free(notify_argv[i]);
	free(notify_argv);
	free(versions);
	free(config_text);
	json_decref(run);
	return rc;
}
