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
 * the next plan index. Every query goes through store.h; what happens is announced to
 * the run's observers (observe.h).
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
#include <unistd.h>

#include "benchlock.h"
#include "campaign.h"
#include "child.h"
#include "clock.h"
#include "ledger.h"
#include "log.h"
#include "relay.h"
#include "util.h"

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
 * sync=disabled) must show a violation in some verified cycle, a safe one in none
 * (why into why). */
static enum camp_controls controls_verdict(struct store *db, const struct bench_config *cfg,
					   int64_t campaign, char *why, size_t len)
{
	enum camp_controls v = CAMP_CTL_NONE;

	why[0] = 0;
	for (size_t i = 0; i < cfg->n_disks; i++) {
		const struct cfg_disk *d = cfg->disks[i];
		bool must = cfg_disk_negative(d);
		if (d->control == CONTROL_NONE && !must)
			continue;
		if (v == CAMP_CTL_NONE)
			v = CAMP_CTL_PASSED;
		int64_t viol = 0, verified = 0;
		if (store_disk_violations(db, campaign, d->name, &viol, &verified) < 0)
			return CAMP_CTL_FAILED;
		/* A forgetful disk, or a zvol with sync=disabled (it ignores flushes), must
		 * be caught as a lying one is. */
		bool bad = must ? viol == 0 : viol > 0;
		if (bad) {
			v = CAMP_CTL_FAILED;
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
	struct store_run_row row;
	int rc = store_campaign_find_run(db, want ? strtoll(want, NULL, 10) : 0, &row);

	if (rc < 0)
		return rc;
	*id = row.id;
	*run = json_loads(row.run_json, 0, NULL);
	*config_text = row.config_text;
	row.config_text = NULL;
	rc = *run ? 0 : -ENOMEM;
	if (rc == 0 && camp_status_parse(row.status) == CAMP_ST_DONE)
		rc = -EALREADY;
	store_run_row_release(&row);
	return rc;
}

int camp_run_from_json(json_t *j, struct camp_run *run, char *run_dir, size_t len,
		       char ***notify_argv)
{
	json_t *nv = json_object_get(j, "notify");

	run->seed = (uint64_t)json_integer_value(json_object_get(j, "seed"));
	run->planned = json_integer_value(json_object_get(j, "cycles"));
	run->deadline_wall_ns = json_integer_value(json_object_get(j, "deadline_wall_ns"));
	snprintf(run_dir, len, "%s", json_string_value(json_object_get(j, "run_dir")));
	snprintf(run->work, sizeof(run->work), "%s",
		 json_string_value(json_object_get(j, "work_dir")));
	snprintf(run->evid, sizeof(run->evid), "%s",
		 json_string_value(json_object_get(j, "evidence_dir")));
	*notify_argv = NULL;
	if (!json_array_size(nv))
		return 0;
	*notify_argv = calloc(json_array_size(nv) + 1, sizeof(char *));
	if (!*notify_argv)
		return -ENOMEM;
	for (size_t i = 0; i < json_array_size(nv); i++)
		if (!((*notify_argv)[i] = strdup(json_string_value(json_array_get(nv, i)))))
			return -ENOMEM;
	return 0;
}

/* run_json: what a resumed campaign needs to go on as this one would have. */
static int store_run_json(struct camp_run *run)
{
	json_t *nv = json_array();

	for (size_t i = 0; run->notify_argv && run->notify_argv[i]; i++)
		json_array_append_new(nv, json_string(run->notify_argv[i]));
	json_t *rj = json_pack("{s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:o}", "seed", (json_int_t)run->seed,
			"cycles", (json_int_t)run->planned, "deadline_wall_ns",
			(json_int_t)run->deadline_wall_ns, "run_dir", run->run_dir, "work_dir",
			run->work, "evidence_dir", run->evid, "bench_file",
			run->bench_file ? run->bench_file : "", "notify", nv);
	char *rs = rj ? json_dumps(rj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int r = rs ? store_campaign_set_run(run->db, run->campaign, rs) : -ENOMEM;

	free(rs);
	json_decref(rj);
	return r;
}

/* A scenario that cannot run stops the campaign before its first cycle. */
static int scenario_runs(const struct bench_config *cfg)
{
	struct camp_scenario sc;
	int rc = 0;

	if (camp_scenario_parse(cfg->campaign->scenario, cfg->workload, &sc) < 0)
		return -EINVAL;
	/* A write's own keys reach the simulated node's agents only. */
	for (size_t i = 0; i < sc.n && rc == 0; i++)
		if (sc.steps[i].has_workload && (cfg->node->host ||
						 !strcmp(cfg->node->driver, "proxmox"))) {
			pc_err(LOG_MAIN, "[campaign] scenario: step %zu: a write with its own "
			       "workload keys runs on the simulated node only", i + 1);
			rc = -EINVAL;
		}
	camp_scenario_release(&sc);
	return rc;
}

static void show_interrupted(void *arg, int64_t idx, const char *step)
{
	pc_info(LOG_MAIN, "cycle %" PRId64 " was interrupted at step '%s'", idx, step);
}

/* After a killed controller: its processes and node work directories go, its
 * running cycle is marked interrupted (at the step it reached) without its partial
 * record, and the campaign runs again with its token. 0 or -EIO (logged). */
static int resume_cleanup(struct camp_run *run, const char *procs)
{
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
	/* The step file is newer than the row while the workload ran (cycle.c). */
	char sf[PATH_MAX + 8], step[64] = "";
	long long sid = 0;
	snprintf(sf, sizeof(sf), "%.4000s/step", run->run_dir);
	FILE *f = fopen(sf, "re");
	if (!f || fscanf(f, "%lld %63s", &sid, step) != 2)
		sid = 0;
	if (f)
		fclose(f);
	store_cycles_interrupt(run->db, run->campaign, sid, step, show_interrupted, NULL);
	store_campaign_reopen(run->db, run->campaign);
	if (store_campaign_token(run->db, run->campaign, run->token, sizeof(run->token)) < 0) {
		pc_err(LOG_DB, "campaign %" PRId64 " of '%s' has no ledger token", run->campaign,
		       run->db_path);
		return -EIO;
	}
	return 0;
}

/* The file system of the database: it grows by the ledger's rows, the evidence by
 * its cap. The directory into dbdir; 0 or -EIO (logged). */
static int space_check(const struct camp_run *run, char *dbdir, size_t len)
{
	uint64_t need = run->cfg->campaign->evidence_cap + ((uint64_t)64 << 20), have;

	snprintf(dbdir, len, "%s", run->db_path);
	char *sl = strrchr(dbdir, '/');
	if (sl)
		*sl = 0;
	else
		snprintf(dbdir, len, ".");
	if (camp_free_bytes(dbdir, &have) == 0 && have < need) {
		pc_err(LOG_MAIN, "not enough free space in '%s' for the database and evidence: %"
		       PRIu64 " MiB free, %" PRIu64 " MiB needed (lower [campaign] evidence_cap?)",
		       dbdir, have >> 20, need >> 20);
		return -EIO;
	}
	return 0;
}

/* A new campaign: its row (the firmware's version is added once the relay answered)
 * and ledger, its work and evidence directories' names, run_json. From here on a
 * killed run is resumable. */
static int run_new(struct camp_run *run, struct camp_env *env)
{
	char *versions = camp_versions(NULL, run->version);
	int rc = camp_start(env, versions, run->token);

	free(versions);
	if (rc < 0)
		return rc;
	run->campaign = env->campaign;
	const char *tmp = getenv("TMPDIR");
	/* Short (UNIX sockets live under it) and the campaign's own. */
	snprintf(run->work, sizeof(run->work), "%.3000s/pc-%.8s", tmp && *tmp ? tmp : "/tmp",
		 run->token);
	snprintf(run->evid, sizeof(run->evid), "%.4000s.evidence/campaign-%" PRId64,
		 run->db_path, run->campaign);
	if ((rc = store_run_json(run)) < 0)
		return rc;
	pc_info(LOG_MAIN, "campaign %" PRId64 " in '%s': %s, seed %" PRIu64, run->campaign,
		run->db_path, run->planned ? "planned cycles" : "until the deadline", run->seed);
	return 0;
}

/* Everything before the first cycle: the bench lock first (after it, whatever still
 * uses the bench's files is a leftover), the dead run's cleanup or a new campaign,
 * the relay, the work directory and the ledger. camp_run's errors. */
static int run_open(struct camp_run *run, struct camp_env *env, char *dbdir, size_t len)
{
	const struct bench_config *cfg = run->cfg;
	char procs[PATH_MAX];
	pid_t holder = 0;

	*run->lock = benchlock_take(run->run_dir, cfg->bench->name, &holder);
	if (!*run->lock)
		return errno == EBUSY ? -EBUSY : -EIO;
	snprintf(procs, sizeof(procs), "%.4000s/procs", run->run_dir);
	if (run->resume) {
		if (resume_cleanup(run, procs) < 0)
			return -EIO;
	} else {
		int fd = creat(procs, 0644);
		if (fd >= 0)
			close(fd);
	}
	if (space_check(run, dbdir, len) < 0)
		return -EIO;
	if (!run->resume && run_new(run, env) < 0)
		return -EIO;
	*run->relay = relay_open(cfg, run->run_dir);
	if (!*run->relay)
		return relay_interrupted ? -EINTR : -ENODEV;
	if (camp_dc_check(*run->relay, cfg) < 0)
		return -ENODEV;
	env->relay = *run->relay;
	char *versions = camp_versions(*run->relay, run->version);
	if (versions)
		store_campaign_set_versions(run->db, run->campaign, versions);
	free(versions);
	if (pc_mkdir_p(run->work) < 0) {
		pc_err(LOG_MAIN, "cannot create the node work directory '%s'", run->work);
		return -EIO;
	}
	if (run->resume) {
		env->campaign = run->campaign;
		env->token = run->token;
		struct camp_event ev = { .kind = CAMP_EV_CAMPAIGN_BEGIN, .campaign = run->campaign,
					 .run = run };
		camp_notify(run->obs, &ev);
		if (camp_ledger_start(env) < 0)
			return -EIO;
	}
	return 0;
}

/* The tally of what is recorded so far (a resumed campaign counts its earlier
 * part), and the evidence still allowed. */
static void run_tally(struct camp_run *run, uint64_t *evidence_left)
{
	const struct bench_config *cfg = run->cfg;
	int64_t done = 0;
	uint64_t kept = 0;

	run->t = (struct camp_tally){ .planned = (unsigned)run->planned };
	if (store_cycle_count(run->db, run->campaign, &done) == 0)
		run->t.done = (unsigned)done;
	for (size_t i = 0; i < cfg->n_disks && i < 8; i++)
		store_disk_lost_blocks(run->db, run->campaign, cfg->disks[i]->name,
				       &run->t.violations[i], &run->t.unflushed[i]);
	*evidence_left = cfg->campaign->evidence_cap;
	if (store_evidence_bytes(run->db, run->campaign, &kept) == 0 && kept)
		*evidence_left = kept < *evidence_left ? *evidence_left - kept : 0;
}

/* One cycle's outcome into the tally; observers hear CYCLE_END. */
static void run_count(struct camp_run *run, int64_t next, int c, const struct camp_result *r)
{
	if (c == 0 || c == -EINTR || c == -EHOSTDOWN) {
		run->t.done++;
		for (size_t i = 0; i < r->n_disks && i < 8; i++) {
			run->t.violations[i] += r->disks[i].violations;
			run->t.unflushed[i] += r->disks[i].unflushed_lost;
		}
	}
	if (c == 0) {
		run->ran++;
		run->t.overhead_s += r->overhead_s;
	}
	struct camp_event ev = { .kind = CAMP_EV_CYCLE_END, .campaign = run->campaign,
				 .cycle = (uint32_t)next, .cycle_id = r->cycle_id, .rc = c,
				 .result = r, .run = run };
	camp_notify(run->obs, &ev);
}

/* The cycles, until the plan, the deadline, a signal, a lost node, a full disk or a
 * bench that keeps failing ends them (run->status says which). */
static void run_cycles(struct camp_run *run, struct camp_env *env, const char *dbdir)
{
	unsigned failures = 0;
	uint64_t grew_max = 0, space_need = CYCLE_SPACE_MIN, space_free = 0;
	int64_t next = 0, have = 0;

	run->t0_ns = clock_mono_ns();
	run->status = CAMP_ST_DONE;
	for (;;) {
		if (store_cycle_next_index(run->db, run->campaign, &next) < 0)
			next = -1;
		if (relay_interrupted) {
			run->status = CAMP_ST_INTERRUPTED;
			break;
		}
		if ((run->planned && next > run->planned) || next < 1 ||
		    (run->deadline_wall_ns && clock_wall_ns() >= run->deadline_wall_ns))
			break;
		/* Another process may fill the disk during a night: stop between cycles,
		 * resumable, instead of losing a cycle's record to a full disk. */
		space_need = grew_max * 2 > CYCLE_SPACE_MIN ? grew_max * 2 : CYCLE_SPACE_MIN;
		if (camp_free_bytes(dbdir, &space_free) == 0 && space_free < space_need) {
			run->status = CAMP_ST_DISK_FULL;
			snprintf(run->msg, sizeof(run->msg), "the file system of '%s' has %" PRIu64
				 " MiB free, less than the %" PRIu64 " MiB a cycle may need: stopped "
				 "before cycle %" PRId64 "; power is on; free space, then 'powercut run "
				 "--resume %s'", run->db_path, space_free >> 20,
				 (space_need + (1u << 20) - 1) >> 20, next, run->db_path);
			break;
		}
		struct camp_plan plan;
		struct camp_result r;
		camp_plan_make(run->cfg, run->seed, (uint32_t)next, &plan);
		uint64_t size0 = db_bytes(run->db_path);
		int c = camp_cycle_run(env, &plan, &r);
		uint64_t size1 = db_bytes(run->db_path);
		if (size1 > size0 && size1 - size0 > grew_max)
			grew_max = size1 - size0;
		run_count(run, next, c, &r);
		camp_result_release(&r);
		if (c == -EINTR || c == -EHOSTDOWN) {
			run->status = c == -EINTR ? CAMP_ST_INTERRUPTED : CAMP_ST_NODE_LOST;
			break;
		}
		if (c == 0) {
			failures = 0;
			continue;
		}
		/* Recorded as failed; a campaign goes on past a bad cycle, not past a bench
		 * that keeps failing. */
		pc_err(LOG_MAIN, "cycle %" PRId64 " could not run: %s", next, strerror(-c));
		if (c == -EEXIST || ++failures >= 3 ||
		    store_cycle_count(run->db, run->campaign, &have) < 0 || have < 1) {
			run->status = CAMP_ST_FAILED;
			break;
		}
		run->t.done++;
	}
}

/* The end: the controls' verdict, the status, the message, into the campaign row. */
static void run_close(struct camp_run *run)
{
	int64_t total = 0;

	run->controls = controls_verdict(run->db, run->cfg, run->campaign, run->why,
					 sizeof(run->why));
	if (run->status == CAMP_ST_INTERRUPTED)
		snprintf(run->msg, sizeof(run->msg), "interrupted; power is on; continue with "
			 "'powercut run --resume %s'", run->db_path);
	else if (run->status == CAMP_ST_NODE_LOST)
		snprintf(run->msg, sizeof(run->msg), "the node did not come back: power is on; see "
			 "the node's logs under '%s' and the simulator's in '%s'; 'powercut run "
			 "--resume %s' continues with the next cycle", run->work, run->run_dir,
			 run->db_path);
	else if (run->status != CAMP_ST_DISK_FULL)	/* run_cycles said why */
		snprintf(run->msg, sizeof(run->msg), "%s", camp_status_name(run->status));
	store_campaign_set_verdict(run->db, run->campaign, camp_controls_name(run->controls),
				   run->msg);
	store_campaign_finish(run->db, run->campaign, camp_status_name(run->status));
	if (store_cycle_count(run->db, run->campaign, &total) == 0)
		run->total = (unsigned)total;
	struct camp_event ev = { .kind = CAMP_EV_CAMPAIGN_END, .campaign = run->campaign,
				 .run = run };
	camp_notify(run->obs, &ev);
}

int camp_run(struct camp_run *run)
{
	uint64_t evidence_left = 0;
	struct camp_env env = {
		.cfg = run->cfg, .db = run->db, .db_path = run->db_path, .run_dir = run->run_dir,
		.bin_dir = run->bin_dir, .work_parent = run->work, .evidence_dir = run->evid,
		.evidence_left = &evidence_left, .keep = run->keep, .obs = run->obs,
	};
	char dbdir[PATH_MAX];
	int rc;

	run->status = CAMP_ST_FAILED;
	run->controls = CAMP_CTL_NONE;
	if ((rc = scenario_runs(run->cfg)) < 0)
		return rc;
	run->msg[0] = run->why[0] = 0;
	run->ran = run->total = 0;
	if (!run->resume)
		run->token[0] = 0;
	rc = run_open(run, &env, dbdir, sizeof(dbdir));
	if (rc == 0) {
		run_tally(run, &evidence_left);
		run_cycles(run, &env, dbdir);
		run_close(run);
	}
	camp_stop(&env);
	return rc;
}
