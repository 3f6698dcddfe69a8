/* A campaign of cut cycles, unattended and resumable: the loop behind `powercut run`
 * (docs/campaign.md). The command parses its options and prints; this file takes the
 * bench lock, cleans up after a killed controller, runs the cycles and records the
 * campaign's end.
 *
 * The campaign row holds the effective config (and its hash), the tool versions and
 * run_json: the seed, the planned cycles or deadline, the run and work directories,
 * the evidence directory and --notify. Cycle i runs plan i (camp_plan_make(seed, i)),
 * one row per plan index. A resumed campaign reads all of that back: the loop kills
 * what the dead controller left running, marks its cycle interrupted and goes on at
 * the next plan index.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "benchlock.h"
#include "campaign.h"
#include "child.h"
#include "ledger.h"
#include "log.h"
#include "relay.h"
#include "util.h"

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
 * sync=disabled) must show a violation in some verified cycle, a safe one in none.
 * "none", "passed" or "failed" (why in *why). */
static const char *controls_verdict(struct store *db, const struct bench_config *cfg,
				    int64_t campaign, char *why, size_t len)
{
	const char *v = "none";

	why[0] = 0;
	for (size_t i = 0; i < cfg->n_disks; i++) {
		const struct cfg_disk *d = cfg->disks[i];
		bool must = cfg_disk_negative(d);
		if (d->control == CONTROL_NONE && !must)
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
		/* A forgetful disk, or a zvol with sync=disabled (it ignores flushes), must
		 * be caught as a lying one is. */
		bool bad = must ? viol == 0 : viol > 0;
		if (bad) {
			v = "failed";
			size_t l = strlen(why);
			snprintf(why + l, len - l, "%s%s control '%s' %s in %" PRId64 " cycle(s)",
				 l ? "; " : "", d->control != CONTROL_NONE ?
				 config_control_name(d->control) : "sync=disabled", d->name,
				 must ? "showed no violation" : "showed violations", verified);
		}
	}
	return v;
}

/* The newest campaign of db that has a run and is not done (or the one asked for). */
int camp_run_load(struct store *db, const char *want, int64_t *id, char **config_text,
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

int camp_run(struct camp_run *run)
{
	const struct bench_config *cfg = run->cfg;
	struct store *db = run->db;
	const char *db_path = run->db_path;
	char procs[PATH_MAX];
	char *versions = NULL;
	json_t *rj = NULL;
	struct ledger *led = NULL;
	uint64_t evidence_left;
	int rc = -EIO;

	run->status = "failed";
	run->controls = "none";
	/* A scenario that cannot run stops the campaign before its first cycle. */
	struct camp_scenario sc;
	char serr[256];
	if (camp_scenario_parse(cfg->campaign->scenario, cfg->workload, &sc, serr,
				sizeof(serr)) < 0) {
		pc_err(LOG_MAIN, "[campaign] scenario: %s", serr);
		return -EINVAL;
	}
	/* A write's own keys reach the simulated node's agents only. */
	for (size_t i = 0; i < sc.n; i++)
		if (sc.steps[i].has_workload && (cfg->node->host ||
						 !strcmp(cfg->node->driver, "proxmox"))) {
			pc_err(LOG_MAIN, "[campaign] scenario: step %zu: a write with its own "
			       "workload keys runs on the simulated node only", i + 1);
			camp_scenario_release(&sc);
			return -EINVAL;
		}
	camp_scenario_release(&sc);
	run->msg[0] = run->why[0] = 0;
	run->ran = run->total = 0;
	if (!run->resume)
		run->token[0] = 0;
	/* The bench lock first: after it, whatever still uses the bench's files is a leftover. */
	pid_t holder = 0;
	*run->lock = benchlock_take(run->run_dir, cfg->bench->name, &holder);
	if (!*run->lock) {
		rc = errno == EBUSY ? -EBUSY : -EIO;
		goto out;
	}
	snprintf(procs, sizeof(procs), "%.4000s/procs", run->run_dir);
	if (run->resume) {
		const char *dirs[] = { run->run_dir, run->work, NULL };
		int k = camp_procs_reap(procs, dirs);
		if (k > 0)
			pc_info(LOG_MAIN, "killed %d process(es) left by the interrupted run", k);
		/* The simulator refuses a run directory whose pid file names a process that
		 * exists, and a killed one exists until its new parent reaps it. */
		char pf[PATH_MAX + 16];
		snprintf(pf, sizeof(pf), "%.4000s/mcusim.pid", run->run_dir);
		FILE *pff = fopen(pf, "re");
		long spid = 0;
		if (pff && fscanf(pff, "%ld", &spid) == 1 && spid > 1) {
			for (int i = 0; i < 500 && kill((pid_t)spid, 0) == 0; i++)
				usleep(20000);
		}
		if (pff)
			fclose(pff);
		/* The node work directories of the dead run. */
		const char *argv[] = { "rm", "-rf", "--", run->work, NULL };
		struct child_result cr;
		if (child_run(argv, NULL, 60000, &cr) == 0)
			child_result_release(&cr);
		char step[64] = "";
		sqlite3_stmt *s;
		/* The step file is newer than the row while the workload ran. */
		char sf[PATH_MAX + 8];
		snprintf(sf, sizeof(sf), "%.4000s/step", run->run_dir);
		FILE *f = fopen(sf, "re");
		long long sid;
		if (f && fscanf(f, "%lld %63s", &sid, step) == 2)
			sql_exec(db, "UPDATE cycles SET step = ? WHERE id = ? AND status = 'running'",
				 step, sid, 0);
		if (f)
			fclose(f);
		/* A controller killed between the row's insert and its first step left it
		 * without one: it stopped at the start. */
		sql_exec(db, "UPDATE cycles SET step = 'start' WHERE campaign_id = ? AND "
			 "status = 'running' AND step IS NULL", NULL, run->campaign, 0);
		if (sqlite3_prepare_v2(store_db(db), "SELECT idx, step FROM cycles WHERE "
				       "campaign_id = ? AND status = 'running'", -1, &s, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(s, 1, run->campaign);
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
			sql_exec(db, sql, NULL, run->campaign, 0);
		}
		sql_exec(db, "UPDATE cycles SET status = 'interrupted' WHERE campaign_id = ? AND "
			 "status = 'running'", NULL, run->campaign, 0);
		sql_exec(db, "UPDATE campaigns SET status = 'running', finished_wall_ns = NULL "
			 "WHERE id = ?", NULL, run->campaign, 0);
		if (sqlite3_prepare_v2(store_db(db), "SELECT token FROM oracle_campaign_token "
				       "WHERE campaign = ?", -1, &s, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(s, 1, run->campaign);
			if (sqlite3_step(s) == SQLITE_ROW)
				snprintf(run->token, sizeof(run->token), "%s", sqlite3_column_text(s, 0));
			sqlite3_finalize(s);
		}
		if (!run->token[0]) {
			pc_err(LOG_DB, "campaign %" PRId64 " of '%s' has no ledger token", run->campaign, db_path);
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

	if (!run->resume) {
		/* The row first: from here on a killed run is resumable. The firmware's
		 * version is added once the relay answered. */
		versions = camp_versions(NULL, run->version);
		char tok[33];
		if (camp_campaign_begin(db, cfg, versions, &run->campaign, tok) < 0)
			goto out;
		snprintf(run->token, sizeof(run->token), "%s", tok);
		const char *tmp = getenv("TMPDIR");
		/* Short (UNIX sockets live under it) and the campaign's own. */
		snprintf(run->work, sizeof(run->work), "%.3000s/pc-%.8s", tmp && *tmp ? tmp : "/tmp", run->token);
		snprintf(run->evid, sizeof(run->evid), "%.4000s.evidence/campaign-%" PRId64, db_path, run->campaign);
		json_t *nv = json_array();
		for (size_t i = 0; run->notify_argv && run->notify_argv[i]; i++)
			json_array_append_new(nv, json_string(run->notify_argv[i]));
		rj = json_pack("{s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:o}", "seed", (json_int_t)run->seed,
				"cycles", (json_int_t)run->planned, "deadline_wall_ns", (json_int_t)run->deadline_wall_ns,
				"run_dir", run->run_dir, "work_dir", run->work, "evidence_dir", run->evid,
				"bench_file", run->bench_file ? run->bench_file : "", "notify", nv);
		char *rs = rj ? json_dumps(rj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		int r = rs ? sql_exec(db, "UPDATE campaigns SET run_json = ? WHERE id = ?", rs,
				      run->campaign, 0) : -ENOMEM;
		free(rs);
		if (r < 0)
			goto out;
		pc_info(LOG_MAIN, "campaign %" PRId64 " in '%s': %s, seed %" PRIu64, run->campaign, db_path,
			run->planned ? "planned cycles" : "until the deadline", run->seed);
	}
	*run->relay = relay_open(cfg, run->run_dir);
	if (!*run->relay) {
		rc = relay_interrupted ? -EINTR : -ENODEV;
		goto out;
	}
	if (camp_dc_check(*run->relay, cfg) < 0) {
		rc = -ENODEV;
		goto out;
	}
	free(versions);
	versions = camp_versions(*run->relay, run->version);
	if (versions)
		sql_exec(db, "UPDATE campaigns SET versions_json = ? WHERE id = ?", versions,
			 run->campaign, 0);
	if (pc_mkdir_p(run->work) < 0) {
		pc_err(LOG_MAIN, "cannot create the node work directory '%s'", run->work);
		goto out;
	}
	led = camp_ledger_start(db_path, run->campaign, run->token);
	if (!led)
		goto out;

	/* The tally of what is recorded so far (a resumed campaign counts its earlier part). */
	run->t = (struct camp_tally){ .planned = (unsigned)run->planned };
	run->t.done = (unsigned)sql_int(db, "SELECT COUNT(*) FROM cycles WHERE campaign_id = ?", run->campaign);
	for (size_t i = 0; i < cfg->n_disks && i < 8; i++) {
		sqlite3_stmt *s;
		if (sqlite3_prepare_v2(store_db(db), "SELECT class, SUM(json_extract(f.detail_json,"
				       " '$.blocks')) FROM findings f JOIN cycles c ON c.id = f.cycle_id"
				       " WHERE c.campaign_id = ? AND f.disk = ? AND f.block = -1 GROUP BY"
				       " class", -1, &s, NULL) != SQLITE_OK)
			continue;
		sqlite3_bind_int64(s, 1, run->campaign);
		sqlite3_bind_text(s, 2, cfg->disks[i]->name, -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *k = (const char *)sqlite3_column_text(s, 0);
			if (!strcmp(k, "violation"))
				run->t.violations[i] += (uint64_t)sqlite3_column_int64(s, 1);
			else if (!strncmp(k, "unflushed_lost", 14))
				run->t.unflushed[i] += (uint64_t)sqlite3_column_int64(s, 1);
		}
		sqlite3_finalize(s);
	}

	evidence_left = cfg->campaign->evidence_cap;
	int64_t kept = sql_int(db, "SELECT COALESCE(SUM(e.bytes), 0) FROM evidence e JOIN cycles c"
			       " ON c.id = e.cycle_id WHERE c.campaign_id = ?", run->campaign);
	evidence_left = kept > 0 && (uint64_t)kept < evidence_left ? evidence_left - (uint64_t)kept :
			kept > 0 ? 0 : evidence_left;
	struct camp_env env = {
		.cfg = cfg, .db = db, .db_path = db_path, .relay = *run->relay,
		.run_dir = run->run_dir, .bin_dir = run->bin_dir, .work_parent = run->work, .evidence_dir = run->evid,
		.evidence_left = &evidence_left, .campaign = run->campaign, .token = run->token, .led = led,
		.keep = run->keep,
	};
	run->t0_ns = relay_now_ns();
	unsigned failures = 0;
	uint64_t grew_max = 0, space_need = CYCLE_SPACE_MIN, space_free = 0;
	int64_t next = 0;
	run->status = "done";
	for (;;) {
		next = sql_int(db, "SELECT COALESCE(MAX(idx), 0) + 1 FROM cycles WHERE "
			       "campaign_id = ?", run->campaign);
		if (relay_interrupted) {
			run->status = "interrupted";
			break;
		}
		if ((run->planned && next > run->planned) || (run->deadline_wall_ns && wall_ns() >= run->deadline_wall_ns) || next < 1)
			break;
		/* Another process may fill the disk during a night: stop between cycles,
		 * resumable, instead of losing a cycle's record to a full disk. */
		space_need = grew_max * 2 > CYCLE_SPACE_MIN ? grew_max * 2 : CYCLE_SPACE_MIN;
		if (camp_free_bytes(dbdir, &space_free) == 0 && space_free < space_need) {
			run->status = "disk-full";
			break;
		}
		struct camp_plan plan;
		struct camp_result r;
		camp_plan_make(cfg, run->seed, (uint32_t)next, &plan);
		uint64_t size0 = db_bytes(db_path);
		int c = camp_cycle_run(&env, &plan, &r);
		uint64_t size1 = db_bytes(db_path);
		if (size1 > size0 && size1 - size0 > grew_max)
			grew_max = size1 - size0;
		if (c == 0 || c == -EINTR || c == -EHOSTDOWN) {
			run->t.done++;
			for (size_t i = 0; i < r.n_disks && i < 8; i++) {
				run->t.violations[i] += r.disks[i].violations;
				run->t.unflushed[i] += r.disks[i].unflushed_lost;
			}
		}
		if (c == 0) {
			run->ran++;
			run->t.overhead_s += r.overhead_s;
		}
		if (run->on_cycle)
			run->on_cycle(run->arg, run, c, &r);
		camp_result_release(&r);
		if (c == -EINTR) {
			run->status = "interrupted";
			break;
		}
		if (c == -EHOSTDOWN) {
			run->status = "node-lost";
			break;
		}
		if (c < 0) {
			/* Recorded as failed; a campaign goes on past a bad cycle, not past a
			 * bench that keeps failing. */
			pc_err(LOG_MAIN, "cycle %" PRId64 " could not run: %s", next, strerror(-c));
			if (c == -EEXIST || ++failures >= 3 ||
			    sql_int(db, "SELECT COUNT(*) FROM cycles WHERE campaign_id = ? AND "
				    "idx = (SELECT MAX(idx) FROM cycles WHERE campaign_id = ?1)",
				    run->campaign) < 1) {
				run->status = "failed";
				break;
			}
			run->t.done++;
			continue;
		}
		failures = 0;
	}

	/* The end: the controls' verdict, the status, the message. */
	run->controls = controls_verdict(db, cfg, run->campaign, run->why, sizeof(run->why));
		if (!strcmp(run->status, "interrupted"))
		snprintf(run->msg, sizeof(run->msg), "interrupted; power is on; continue with 'powercut run "
			 "--resume %s'", db_path);
	else if (!strcmp(run->status, "node-lost"))
		snprintf(run->msg, sizeof(run->msg), "the node did not come back: power is on; see the node's "
			 "logs under '%s' and the simulator's in '%s'; 'powercut run --resume %s' "
			 "continues with the next cycle", run->work, run->run_dir, db_path);
	else if (!strcmp(run->status, "disk-full"))
		snprintf(run->msg, sizeof(run->msg), "the file system of '%s' has %" PRIu64 " MiB free, less "
			 "than the %" PRIu64 " MiB a cycle may need: stopped before cycle %" PRId64
			 "; power is on; free space, then 'powercut run --resume %s'", db_path,
			 space_free >> 20, (space_need + (1u << 20) - 1) >> 20, next, db_path);
	else
		snprintf(run->msg, sizeof(run->msg), "%s", run->status);
	sql_exec(db, "UPDATE campaigns SET controls = ? WHERE id = ?", run->controls, run->campaign, 0);
	sql_exec(db, "UPDATE campaigns SET message = ? WHERE id = ?", run->msg, run->campaign, 0);
	store_campaign_finish(db, run->campaign, run->status);
	run->total = (unsigned)sql_int(db, "SELECT COUNT(*) FROM cycles WHERE campaign_id = ?",
				       run->campaign);
	rc = 0;
out:
	if (led)
		ledger_free(led);
	free(versions);
	json_decref(rj);
	return rc;
}
