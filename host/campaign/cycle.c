/* One cut cycle, end to end, into the database: the one implementation behind
 * `powercut cycle` and `powercut run`.
 *
 * prepare the node's disks -> workload (baseline first) -> the cut: armed in the
 * plan's window (the firmware draws the moment from the plan's seed; the host for a
 * relay that cannot time cuts) or sent by the host at a workload phase it sees in the
 * ledger -> the node's power domain follows DC ([relay] dc_source: the simulator's
 * PSU, the firmware's PWR_OK edges, or the relay's edges): DC lost kills the node, DC
 * back boots it after the boot delay -> wait for
 * the node, power-cycling it again up to [campaign] retries -> metadata checks and the
 * agent's check of every disk -> classification against the ledger -> the record
 * (cut, checks, findings, evidence) in one transaction.
 * The cycle row is inserted first with its plan and updated with each step, so a
 * controller killed at any moment leaves a row saying where it stopped (while the
 * ledger writes, the step goes to RUN_DIR/step instead: --resume reads it).
 *
 * camp_cycle_run: cycle_begin (the row) -> cycle_prepare (node, power, disks) -> the
 * scenario's steps, each one function of step_table -> cycle_record -> cycle_end
 * (power on, node gone, status). All state is in struct cyc, one per call; what
 * happens goes to the env's observers (observe.h), every row through store.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "campaign.h"
#include "clock.h"
#include "explore.h"
#include "fsdisk.h"
#include "child.h"
#include "ledger.h"
#include "log.h"
#include "node.h"
#include "observe.h"
#include "power.h"
#include "relay.h"
#include "rng.h"
#include "verify.h"

/* A cut of the cycle, recorded once the node is back (a scenario may cut more than
 * once; the rows are written with the record). */
struct cyc_cut {
	struct store_cut sc;
	char *detail;			/* sc.detail_json, owned */
};

struct cyc {
	struct camp_env *e;
	const struct camp_plan *p;
	struct camp_result *r;
	struct camp_scenario sc;
	struct node *node;
	struct node_power *pw;
	struct node_job job;
	bool fed;			/* the cycle feeds the power domain its DC edges */
	bool blind;			/* the relay reports no edges: the cycle makes them */
	char work[PATH_MAX];
	bool have_work;
	uint32_t index;
	uint64_t acks0;
	/* the current cut's edges (reset by each cut) */
	int64_t relay_off, relay_on, pwrok_fall, pwrok_rise, relay_off_unc;
	uint64_t relay_off_fw, pwrok_fall_fw;
	json_t *edges;
	json_t *cutinfo;		/* a host-timed cut's decision */
	struct relay_cut rec;
	struct node_power_times pt;
	int cut_kind;			/* enum cut_kind of the current cut */
	bool armed;			/* a cut is armed or under way: relay on at exit */
	bool writing;			/* the workload runs (no cut since the write) */
	bool filled;			/* a fill step wrote the baseline */
	bool plan_cut_used;		/* the plan's moment was drawn (first cut while writing) */
	int tries;			/* power cycles of the last restart */
	int64_t latency;		/* host-timed: decision to relay edge */
	struct cyc_cut cuts[CAMP_MAX_STEPS];
	size_t n_cuts;
	int64_t cut_ns;			/* the last cut: when the node died */
	/* the check */
	struct node_disk_result *res;
	struct disk_outcome *out;	/* the record's per disk */
	bool checked;
	bool db_busy;			/* the ledger writes: our row waits (camp_env) */
	uint64_t violations, metadata_failures;
	/* times (host monotonic) */
	int64_t t_prepared, t_running, t_cut_done, t_up, t_checked;
	int64_t waited_ns;		/* time spent waiting on the node, the workload, power */
	char procs[PATH_MAX], stepfile[PATH_MAX];
	json_t *steps;			/* step -> seconds since the cycle's start */
	json_t *steplog;		/* the scenario's steps: [{seq, step, arg, start, end, result}] */
	int64_t t0;
};

static void notify(struct cyc *c, enum camp_event_kind kind, const char *step)
{
	struct camp_event ev = { .kind = kind, .campaign = c->e->campaign, .cycle = c->index,
				 .cycle_id = c->r->cycle_id, .step = step };

	camp_notify(c->e->obs, &ev);
}

/* The ledger's connection takes the workload's frames from here until db_free: the
 * cycle's own writes wait, and the observers hear it (the database's log watcher
 * holds its messages back). */
static void db_busy(struct cyc *c)
{
	if (c->db_busy)
		return;
	c->db_busy = true;
	notify(c, CAMP_EV_DB_BUSY, NULL);
}

static void db_free(struct cyc *c)
{
	if (!c->db_busy)
		return;
	c->db_busy = false;
	notify(c, CAMP_EV_DB_FREE, NULL);
}

static void set_step(struct cyc *c, const char *step)
{
	c->r->step = step;
	json_object_set_new(c->steps, step, json_real((clock_mono_ns() - c->t0) / 1e9));
	/* While the workload runs the ledger's connection writes all the time: an UPDATE
	 * of ours would wait for it (seconds). The step goes to a file in the run
	 * directory then (a killed process's writes are kept by the kernel), and into the
	 * row once the workload is over. */
	if (c->stepfile[0]) {
		FILE *f = fopen(c->stepfile, "we");
		if (f) {
			fprintf(f, "%" PRId64 " %s\n", c->r->cycle_id, step);
			fclose(f);
		}
	}
	if (!c->db_busy && c->r->cycle_id)
		store_cycle_set_step(c->e->db, c->r->cycle_id, step);
	if (c->procs[0])
		camp_procs_record(c->procs);
	notify(c, CAMP_EV_STEP, step);
}

static void cycle_begins(void *arg, uint32_t cycle)
{
	struct cyc *c = arg;
	struct ledger_stats st;

	/* The previous session's last frames are stored before its cycle closes. */
	ledger_quiesce(c->e->led, 50, 3000);
	/* An earlier cycle's number is a pass before this cycle (a backing chain's
	 * baseline): marked, so it is never taken for that cycle's own run. */
	if (cycle == c->index)
		ledger_set_cycle(c->e->led, cycle);
	else
		ledger_set_pass(c->e->led, cycle);
	ledger_get_stats(c->e->led, &st);
	if (cycle == c->index)
		c->acks0 = st.acks;
}

static void edge(struct cyc *c, const struct relay_event *ev)
{
	json_t *j = json_pack("{s:s,s:i,s:i,s:s,s:I,s:I,s:I}", "kind",
			      ev->kind == RELAY_EV_RELAY ? "relay" : ev->kind == RELAY_EV_PWROK ?
			      "pwrok" : "reset", "channel", ev->channel, "level", ev->level,
			      "cause", ev->cause, "mono_ns", (json_int_t)ev->mono_ns,
			      "uncertainty_ns", (json_int_t)ev->uncertainty_ns,
			      "fw_us", (json_int_t)ev->fw_us);
	json_array_append_new(c->edges, j);
	int src = c->e->cfg->relay->dc_source;
	if (c->fed && ev->kind == (src == DC_PWROK ? RELAY_EV_PWROK : RELAY_EV_RELAY))
		node_power_feed(c->pw, ev->level == 1, ev->mono_ns, ev->fw_us);
	if (ev->kind == RELAY_EV_RELAY && ev->level == 0 && !c->relay_off) {
		c->relay_off = ev->mono_ns;
		c->relay_off_unc = ev->uncertainty_ns;
		c->relay_off_fw = ev->fw_us;
	} else if (ev->kind == RELAY_EV_RELAY && ev->level == 1 && c->relay_off) {
		c->relay_on = ev->mono_ns;
	} else if (ev->kind == RELAY_EV_PWROK && ev->level == 0 && !c->pwrok_fall) {
		c->pwrok_fall = ev->mono_ns;
		c->pwrok_fall_fw = ev->fw_us;
	} else if (ev->kind == RELAY_EV_PWROK && ev->level == 1 && c->pwrok_fall) {
		c->pwrok_rise = ev->mono_ns;
	}
}

/* Keep the firmware's host watchdog fed while waiting up to ms. */
static int pump(struct cyc *c, int ms)
{
	struct relay_event ev;

	if (c->blind) {
		usleep((useconds_t)ms * 1000);
		return 0;
	}
	int rc = relay_next_event(c->e->relay, ms, &ev);

	if (rc == 0 && (ev.channel == (int)c->e->cfg->relay->channel || ev.kind == RELAY_EV_RESET))
		edge(c, &ev);
	return rc == -ETIMEDOUT ? 0 : rc;
}

/* Is the node still alive (node_watch), asked at most every NODE_WATCH_MS: *next is
 * when to ask again. 0, or -EOWNERDEAD when it died (logged by the node). */
static int watch(struct cyc *c, int64_t *next)
{
	int64_t now = clock_mono_ns();

	if (now < *next)
		return 0;
	*next = now + NODE_WATCH_MS * 1000000LL;
	return node_watch(c->node) == -EOWNERDEAD ? -EOWNERDEAD : 0;
}

static bool running_all(struct cyc *c, uint64_t want, struct ledger_stats *st)
{
	ledger_get_stats(c->e->led, st);
	return st->acks > c->acks0 && st->acked_cycle == c->index &&
	       (st->acked_disks & want) == want;
}

/* Until the workload writes on every disk. A node that dies meanwhile (its QEMU
 * ended, its guest panicked or fell silent: node_ops.watch) fails the wait at once
 * (-EOWNERDEAD); a slow one is waited for up to timeout_ms. */
static int wait_running(struct cyc *c, int timeout_ms)
{
	int64_t end = clock_mono_ns() + (int64_t)timeout_ms * 1000000, next = 0;
	struct ledger_stats st;

	/* Every disk's agent must be writing: a disk whose session has not begun when
	 * the cut comes has nothing to classify. */
	uint64_t want = 0;
	for (size_t i = 0; i < c->e->cfg->n_disks; i++)
		want |= 1ull << ((i + 1) & 63);
	while (!relay_interrupted) {
		if (running_all(c, want, &st))
			return 0;
		/* A workload that started and ended between two looks (a short duration)
		 * is not a death: the ledger is asked again after the verdict. */
		if (watch(c, &next) < 0)
			return running_all(c, want, &st) ? 0 : -EOWNERDEAD;
		if (clock_mono_ns() > end) {
			pc_err(LOG_NODE, "the workload did not start on every disk within %d ms "
			       "(disks acknowledging: %#" PRIx64 " of %#" PRIx64 ")", timeout_ms,
			       st.acked_cycle == c->index ? st.acked_disks & want : 0, want);
			return -ETIMEDOUT;
		}
		pump(c, 5);
	}
	return -EINTR;
}

/* A cut through a relay that reports no edges: the host switches it and makes the
 * edges itself (the relay edge is inside the off call), which feed the power domain
 * as the firmware's would. Returns once power is back. */
static int cut_blind(struct cyc *c, int ch, int off_ms, struct relay_cut *rec)
{
	struct relay_event ev = { .kind = RELAY_EV_RELAY, .channel = ch };
	int rc = relay_off_timed(c->e->relay, ch, off_ms, rec);

	if (rc < 0)
		return rc;
	int64_t end = clock_mono_ns() + (int64_t)off_ms * 1000000;
	ev.level = 0;
	snprintf(ev.cause, sizeof(ev.cause), "off");
	ev.mono_ns = rec->actual_ns;
	ev.uncertainty_ns = rec->uncertainty_ns;
	edge(c, &ev);
	while (clock_mono_ns() < end) {
		int64_t left_ms = (end - clock_mono_ns()) / 1000000;
		pump(c, left_ms > 20 ? 20 : left_ms < 1 ? 1 : (int)left_ms);
		if (relay_interrupted)
			return -EINTR;	/* the caller's exit path turns the relay on */
	}
	int64_t t0 = clock_mono_ns();
	if ((rc = relay_on(c->e->relay, ch)) < 0)
		return rc;
	int64_t t1 = clock_mono_ns();
	ev.level = 1;
	snprintf(ev.cause, sizeof(ev.cause), "on");
	ev.mono_ns = t0 + (t1 - t0) / 2;
	ev.uncertainty_ns = (t1 - t0) / 2 + 1;
	edge(c, &ev);
	return 0;
}

static int do_cut(struct cyc *c, int ch, int off_ms, struct relay_cut *rec)
{
	return c->blind ? cut_blind(c, ch, off_ms, rec) : relay_cut(c->e->relay, ch, off_ms, rec);
}

/* The plan's window drawn by the host, for a relay that cannot arm itself: the same
 * seed gives the same moment. Returns once the cut is over (cut_blind). */
static int64_t window_drawn(const struct camp_plan *p, int64_t t_from)
{
	uint64_t state = p->fw_seed;
	uint64_t x = rng_splitmix64(&state);
	int64_t span = p->window_max_ms - p->window_min_ms + 1;
	return t_from + (p->window_min_ms + (int64_t)(x % (uint64_t)span)) * 1000000;
}

static int host_window_cut(struct cyc *c, struct relay_cut *rec, int64_t t_from, json_t *info)
{
	const struct camp_plan *p = c->p;
	int64_t at = window_drawn(p, t_from);

	while (clock_mono_ns() < at && !relay_interrupted)
		pump(c, 1);
	if (relay_interrupted)
		return -EINTR;
	int64_t decided = clock_mono_ns();
	json_object_set_new(info, "decided_mono_ns", json_integer(decided));
	json_object_set_new(info, "drawn_mono_ns", json_integer(at));
	int rc = do_cut(c, (int)c->e->cfg->relay->channel, (int)p->off_ms, rec);
	rec->window_from_ns = t_from + p->window_min_ms * 1000000;
	rec->window_to_ns = t_from + p->window_max_ms * 1000000;
	return rc;
}

/* Host-timed cut: watch the ledger's counters (1 ms polls) for the plan's phase, then
 * cut at once. The moment the host decided is kept: the relay edge minus it is the
 * command-to-edge latency. Gives up at the window's end and cuts then ("missed"). */
static int host_cut(struct cyc *c, struct relay_cut *rec, int64_t t_running, json_t *info)
{
	const struct camp_plan *p = c->p;
	struct ledger_stats st;
	struct camp_watch w;
	int64_t end = t_running + p->window_max_ms * 1000000;
	bool hit = false;
	int ch = (int)c->e->cfg->relay->channel;

	ledger_get_stats(c->e->led, &st);
	camp_watch_begin(&w, c->e->cfg->n_disks, &st, t_running);
	while (!relay_interrupted) {
		int64_t now = clock_mono_ns();
		ledger_get_stats(c->e->led, &st);
		hit = camp_watch_hit(&w, p, c->e->cfg->workload, &st, now);
		if (hit || now > end)
			break;
		pump(c, 1);
	}
	if (relay_interrupted)
		return -EINTR;
	int64_t decided = clock_mono_ns();
	json_object_set_new(info, "target_hit", json_boolean(hit));
	json_object_set_new(info, "decided_mono_ns", json_integer(decided));
	/* The fewest flushes any disk completed before the decision. */
	json_object_set_new(info, "flushes_before",
			    json_integer((json_int_t)camp_watch_min_flushes(&w, &st)));
	json_object_set_new(info, "since_flush_ms", json_real((decided - w.last_flush_ns) / 1e6));
	if (!hit)
		pc_info(LOG_RELAY, "the %s moment did not come within %" PRId64 " ms: cutting now",
			camp_timing_name(p->timing), p->window_max_ms);
	int rc = do_cut(c, ch, (int)p->off_ms, rec);
	rec->timed_by = "host";
	if (rc == 0 && rec->planned_ns == 0)
		rec->planned_ns = decided;
	return rc;
}

static bool cycle_records(const struct bench_config *cfg)
{
	for (size_t i = 0; i < cfg->n_disks; i++)
		if (cfg->disks[i]->record)
			return true;
	return false;
}

/* [campaign] explore: every recorded disk's crash states, into the database
 * (docs/explore.md). A failed exploration is logged; the cycle's record stands.
 * Returns the time it took (not the controller's overhead: work asked for). */
static int64_t cycle_explore(struct cyc *c, const struct bench_config *cfg)
{
	const struct camp_env *e = c->e;
	int64_t t0 = clock_mono_ns();
	if (cfg->campaign->explore_states <= 0 || !e->db_path)
		return 0;
	for (size_t i = 0; i < cfg->n_disks && !relay_interrupted; i++) {
		struct explore_opts o;
		struct explore_summary s;
		if (!cfg->disks[i]->record)
			continue;
		explore_opts_init(&o);
		o.db_path = e->db_path;
		o.campaign = (uint64_t)e->campaign;
		o.cycle = c->index;
		o.disk = cfg->disks[i]->name;
		o.max_states = cfg->campaign->explore_states;
		o.seed = cfg->campaign->seed + c->index;
		o.tmpdir = e->work_parent;
		o.stop = &relay_interrupted;
		if (explore_run(store_db(e->db), &o, &s) == 0)
			pc_info(LOG_CHECK, "disk '%s': %" PRIu64 " crash states explored, %" PRIu64
				" with violations, %" PRIu64 " with metadata failures", o.disk,
				s.states, s.violation_states, s.metadata_failure_states);
	}
	return clock_mono_ns() - t0;
}

/* Per disk: metadata checks into checks, classification into findings. */
struct disk_outcome {
	struct oracle_verify_result v;
	bool fs;			/* a files or sqlite workload disk: fsv holds its outcome */
	const char *kind;		/* its workload (config_workload_name) */
	struct camp_fs_outcome fsv;
	bool verified;
	bool metadata_failure;
	uint64_t written;		/* blocks acknowledged in the cycle (before the prune) */
};

/* Every block the cycle wrote read back as zeroes (rhbz 1029344's picture): qcow2's
 * new allocations were never written down. */
static bool all_zeroes(const struct disk_outcome *o)
{
	return o->verified && o->written &&
	       o->v.cycle.count[CLS_UNFLUSHED_LOST_ZERO] + o->v.cycle.count[CLS_FLUSHED_LOST_ZERO] ==
	       o->written;
}

static int record_disk(struct cyc *c, const struct cfg_disk *cd, const struct node_disk_result *r,
		       int64_t cut_ns, struct disk_outcome *o)
{
	struct store *st = c->e->db;
	int64_t cyc = c->r->cycle_id;
	size_t i;
	json_t *chk;
	int rc = 0;

	memset(o, 0, sizeof(*o));
	json_array_foreach(r->checks, i, chk) {
		const char *kind = json_string_value(json_object_get(chk, "kind"));
		const char *res = json_string_value(json_object_get(chk, "result"));
		json_t *det = json_object_get(chk, "detail");
		char *ds = det ? json_dumps(det, JSON_COMPACT) : NULL;
		store_check_insert(st, cyc, r->disk, kind, res, ds);
		free(ds);
		if (!strcmp(res, "corrupt") || !strcmp(res, "fail")) {
			o->metadata_failure = true;
			char fd[160];
			snprintf(fd, sizeof(fd), "{\"check\":\"%s\",\"result\":\"%s\"}", kind, res);
			store_finding_insert(st, cyc, r->disk, -1, "metadata_failure", fd, 0);
		}
	}
	if (!r->report_path) {
		store_finding_insert(st, cyc, r->disk, -1, "check_failed",
				     "{\"why\":\"the agent's check did not complete\"}", 0);
		return -EIO;
	}
	if (cd->fs != DISK_FS_NONE) {
		/* The file oracle; its violations count as the disk's. */
		rc = camp_fs_record(st, cyc, (uint64_t)c->e->campaign, c->index, r->disk, r->id,
				    r->report_path, &o->fsv);
		if (rc < 0) {
			store_finding_insert(st, cyc, r->disk, -1, "check_failed",
					     "{\"why\":\"classification failed\"}", 0);
			return rc;
		}
		o->fs = o->verified = true;
		o->kind = config_workload_name(cd->workload);
		o->v.cycle.violations = o->fsv.violations;
		if (o->v.cycle.violations) {
			char dv[96];
			snprintf(dv, sizeof(dv), "{\"files\":%zu}", o->fsv.violations);
			store_finding_insert(st, cyc, r->disk, -1, "violation", dv, 0);
		}
		return 0;
	}
	FILE *f = fopen(r->report_path, "re");
	if (!f)
		return -errno;
	rc = oracle_verify(store_db(st), (uint64_t)c->e->campaign, c->index, r->id, f, cut_ns,
			   true, &o->v);
	fclose(f);
	if (rc < 0) {
		pc_err(LOG_CHECK, "cannot classify disk '%s': %s", r->disk, strerror(-rc));
		store_finding_insert(st, cyc, r->disk, -1, "check_failed",
				     "{\"why\":\"classification failed\"}", 0);
		return rc;
	}
	o->verified = true;
	store_acked_blocks(st, c->e->campaign, c->index, r->id, &o->written);
	/* One summary row per class (block -1: the whole disk); oracle_check holds the
	 * blocks themselves. */
	for (int k = 1; k < CLS__COUNT; k++) {
		if (!o->v.cycle.count[k])
			continue;
		char d[96];
		snprintf(d, sizeof(d), "{\"blocks\":%" PRIu64 "}", o->v.cycle.count[k]);
		store_finding_insert(st, cyc, r->disk, -1, cls_class_name(k), d,
				     o->v.cycle.since_flush_ns);
	}
	if (all_zeroes(o)) {
		char d[160];
		snprintf(d, sizeof(d), "{\"blocks\":%" PRIu64 ",\"why\":\"new allocations lost: the "
			 "image reads as zeroes\"}", o->written);
		store_finding_insert(st, cyc, r->disk, -1, "image_reads_as_zeroes", d,
				     o->v.cycle.since_flush_ns);
	}
	if (o->v.cycle.violations) {
		char d[96];
		snprintf(d, sizeof(d), "{\"blocks\":%" PRIu64 "}", o->v.cycle.violations);
		store_finding_insert(st, cyc, r->disk, -1, "violation", d,
				     o->v.cycle.since_flush_ns);
	}
	return 0;
}

/* The agents' seed: the plan's, but the campaign's own when a disk is kept. A record's
 * payload derives from the seed it was written with, and a kept disk's check reads
 * records of earlier cycles: one seed for the campaign lets them regenerate (the
 * schedule still differs per cycle, as it derives from the cycle too). */
static bool any_kept(const struct bench_config *cfg)
{
	for (size_t i = 0; i < cfg->n_disks; i++)
		if (cfg->disks[i]->keep)
			return true;
	return false;
}

static uint64_t job_seed(const struct bench_config *cfg, const struct camp_plan *p)
{
	return any_kept(cfg) ? cfg->campaign->seed : p->workload_seed;
}

/* A kept disk's read-back is what its next cycle begins with (docs/oracle.md, "Durable
 * memory"). A failure is logged: the next cycle then compares with an older memory. */
static void remember_kept(struct cyc *c, const struct cfg_disk *d, const struct node_disk_result *r)
{
	FILE *f;

	if (!d->keep || !r->report_path || !(f = fopen(r->report_path, "re")))
		return;
	if (oracle_remember(store_db(c->e->db), (uint64_t)c->e->campaign, c->index, r->id, f) < 0)
		pc_warn(LOG_CHECK, "the durable memory of disk '%s' was not stored", d->name);
	fclose(f);
}

static json_t *disk_json(const struct node_disk_result *r, const struct disk_outcome *o)
{
	json_t *j = json_pack("{s:s,s:i,s:O,s:b,s:b}", "disk", r->disk, "id", (int)r->id,
			      "checks", r->checks ? r->checks : json_null(), "verified",
			      o->verified, "metadata_failure", o->metadata_failure);
	json_object_set_new(j, "workload_kind", json_string(o->fs ? o->kind : "blocks"));
	if (o->verified && o->fs) {
		json_t *fj = camp_fs_json(&o->fsv);
		json_object_update(j, fj);
		json_decref(fj);
		json_object_set_new(j, "violations", json_integer((json_int_t)o->v.cycle.violations));
	} else if (o->verified) {
		json_object_set_new(j, "fs", json_string("none"));
		json_t *cls = json_object();
		for (int k = 0; k < CLS__COUNT; k++)
			json_object_set_new(cls, cls_class_name(k), json_integer((json_int_t)o->v.cycle.count[k]));
		json_object_set_new(j, "classes", cls);
		json_object_set_new(j, "blocks", json_integer((json_int_t)o->v.blocks));
		json_object_set_new(j, "violations", json_integer((json_int_t)o->v.cycle.violations));
		json_object_set_new(j, "anomalies", json_integer((json_int_t)o->v.cycle.anomalies));
		json_object_set_new(j, "gaps", json_integer((json_int_t)o->v.gaps));
		/* docs/oracle.md: a lost tail, carried durable data lost, implausible records */
		json_object_set_new(j, "tail_gap", json_integer((json_int_t)o->v.tail_gap));
		json_object_set_new(j, "carried_lost", json_integer((json_int_t)o->v.cycle.carried_lost));
		json_object_set_new(j, "implausible", json_integer((json_int_t)o->v.cycle.implausible));
		json_object_set_new(j, "since_flush_ms", json_real(o->v.cycle.since_flush_ns / 1e6));
		json_object_set_new(j, "written_blocks", json_integer((json_int_t)o->written));
		if (all_zeroes(o))
			json_object_set_new(j, "verdict", json_string("new allocations lost: the "
								      "image reads as zeroes"));
	}
	return j;
}

/* The simulated node's tier, or what a real node is. */
static const char *node_kind(const struct bench_config *cfg)
{
	if (cfg->node->host)
		return !strcmp(cfg->node->driver, "proxmox") ? "proxmox" : "remote";
	return cfg->node->tier == NODE_TIER_FULL ? "full" : "fast";
}

const char *camp_kept_dir(const struct camp_env *e, char *buf, size_t len)
{
	if (!any_kept(e->cfg))
		return NULL;
	/* Beside the cycles' work directories, named by the campaign: a resumed campaign
	 * finds its kept disks again. */
	snprintf(buf, len, "%.3000s/powercut-kept.%" PRId64,
		 e->work_parent ? e->work_parent : "/tmp", e->campaign);
	if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
		pc_err(LOG_NODE, "cannot create '%s' for the kept disks: %s", buf, strerror(errno));
		return NULL;
	}
	return buf;
}

static int cycle_insert(struct cyc *c, int64_t t0)
{
	json_t *pj = camp_plan_json(c->p);
	char *ps = pj ? json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc;

	json_decref(pj);
	rc = store_cycle_insert(c->e->db, c->e->campaign, c->index,
				camp_cycle_status_name(CAMP_CYC_RUNNING), t0, &c->r->cycle_id);
	if (rc == 0)
		rc = store_cycle_set_plan(c->e->db, c->r->cycle_id, ps);
	free(ps);
	return rc;
}

/* Wait for the node to be booted after a cut, with the power fully back. */
static int follow_cut(struct cyc *c, struct node_power_times *pt, int64_t limit)
{
	bool booted = false;

	while (!relay_interrupted) {
		int r = pump(c, 20);
		if (r < 0)
			return r;
		if (!booted && node_power_wait(c->pw, NODE_PWR_BOOTED, 0, pt) == 0)
			booted = true;
		/* PWR_OK rising says the supply is up; without it, a grace period. */
		if (booted && c->relay_on && (c->pwrok_rise || c->blind ||
					      clock_mono_ns() - c->relay_on > 2000000000))
			return 0;
		if (clock_mono_ns() > limit) {
			pc_warn(LOG_NODE, "the node is not back: relay off %s, DC lost %s, node "
				"booted %s", c->relay_off ? "seen" : "not seen",
				pt->lost_ns ? "seen" : "not seen", booted ? "yes" : "no");
			return -ETIMEDOUT;
		}
	}
	return -EINTR;
}

/* ---- The steps: one function per kind, one table ---- */

typedef int (*step_fn)(struct cyc *c, const struct camp_step *st);

/* fill: every disk's baseline, flushed, written as the previous cycle (the oracle
 * reads it as older data), so the write that follows has something to roll back to. */
static int step_fill(struct cyc *c, const struct camp_step *st)
{
	int64_t t = clock_mono_ns();
	int rc;

	/* The ledger's connection takes the fill's frames. */
	db_busy(c);
	rc = node_fill(c->node, &c->job);
	c->waited_ns += clock_mono_ns() - t;
	if (rc == 0)
		c->filled = true;
	return rc;
}

/* write: the workload on every disk, from the bench's [workload]; returns once every
 * disk's agent acknowledges writes (the workload goes on until its duration or a cut). */
static int step_write(struct cyc *c, const struct camp_step *st)
{
	const struct bench_config *cfg = c->e->cfg;
	int64_t t = clock_mono_ns();
	int rc;

	const struct cfg_workload *w = st->has_workload ? &st->workload : cfg->workload;

	/* The job (and the check that reads it back) uses the step's workload. */
	c->job.workload = st->has_workload ? &st->workload : NULL;
	c->job.baseline = !c->filled && w->baseline == BASELINE_FILL;
	node_power_set_job(c->pw, &c->job);
	db_busy(c);
	if ((rc = node_start_workload(c->node, &c->job)) < 0)
		return rc;
	if ((rc = wait_running(c, (int)cfg->campaign->boot_timeout_ms)) < 0)
		return rc;
	c->t_running = clock_mono_ns();
	c->waited_ns += c->t_running - t;
	c->writing = true;
	camp_procs_record(c->procs);
	return 0;
}

/* flush: the workload finishes with one flush covering every write it had
 * acknowledged; the step ends when the ledger has that flush from every disk. */
static int step_flush(struct cyc *c, const struct camp_step *st)
{
	size_t n = c->e->cfg->n_disks;
	uint64_t before[LEDGER_STAT_DISKS] = { 0 };
	struct ledger_stats s;
	int64_t t = clock_mono_ns(), end = t + 30 * (int64_t)1000000000;
	int rc;

	ledger_get_stats(c->e->led, &s);
	for (size_t d = 1; d <= n && d < LEDGER_STAT_DISKS; d++)
		before[d] = s.acked_cycle == c->index ? s.disk_flushes[d] : 0;
	if ((rc = node_flush(c->node)) < 0)
		return rc;
	for (;;) {
		ledger_get_stats(c->e->led, &s);
		size_t done = 0;
		for (size_t d = 1; d <= n && d < LEDGER_STAT_DISKS; d++)
			done += s.acked_cycle == c->index && s.disk_flushes[d] > before[d];
		if (done == (n < LEDGER_STAT_DISKS ? n : LEDGER_STAT_DISKS - 1))
			break;
		if (relay_interrupted)
			return -EINTR;
		if (clock_mono_ns() > end) {
			pc_err(LOG_NODE, "the workload's last flush did not reach the ledger from "
			       "every disk within 30 s (%zu of %zu)", done, n);
			return -ETIMEDOUT;
		}
		if ((rc = pump(c, 2)) < 0)
			return rc;
	}
	c->waited_ns += clock_mono_ns() - t;
	c->plan_cut_used = true;	/* the workload the plan timed is over */
	c->writing = false;
	return 0;
}

static int step_idle(struct cyc *c, const struct camp_step *st)
{
	int64_t end = clock_mono_ns() + st->ms * 1000000;

	while (clock_mono_ns() < end) {
		if (relay_interrupted)
			return -EINTR;
		int64_t left = (end - clock_mono_ns()) / 1000000;
		int rc = pump(c, left > 20 ? 20 : left < 1 ? 1 : (int)left);
		if (rc < 0)
			return rc;
	}
	c->waited_ns += st->ms * 1000000;
	return 0;
}

static int step_snapshot(struct cyc *c, const struct camp_step *st)
{
	int64_t t = clock_mono_ns();
	int rc = node_snapshot(c->node);

	c->waited_ns += clock_mono_ns() - t;
	return rc;
}

/* cut: while the workload runs, the first cut comes at the plan's moment (armed in
 * the window, or host-timed at a workload phase); any other cut is immediate. */
static int step_cut(struct cyc *c, const struct camp_step *st)
{
	const struct camp_plan *p = c->p;
	int ch = (int)c->e->cfg->relay->channel, rc;
	int64_t th = clock_mono_ns();

	c->cut_kind = st->cut >= 0 ? st->cut : p->cut;
	node_power_set_cut(c->pw, c->cut_kind);
	node_power_set_job(c->pw, &c->job);
	c->relay_off = c->relay_on = c->pwrok_fall = c->pwrok_rise = c->relay_off_unc = 0;
	c->relay_off_fw = c->pwrok_fall_fw = 0;
	json_decref(c->edges);
	json_decref(c->cutinfo);
	c->edges = json_array();
	c->cutinfo = json_object();
	memset(&c->rec, 0, sizeof(c->rec));
	memset(&c->pt, 0, sizeof(c->pt));
	c->latency = 0;
	if (c->cut_kind == CUT_RESET) {
		/* No relay: the host resets the guest, at the plan's drawn moment while the
		 * workload runs (the host draws it as for a relay that cannot arm). */
		if (c->writing && !c->plan_cut_used) {
			int64_t at = window_drawn(p, c->t_running);
			json_object_set_new(c->cutinfo, "drawn_mono_ns", json_integer(at));
			while (clock_mono_ns() < at && !relay_interrupted)
				pump(c, 1);
			if (relay_interrupted)
				return -EINTR;
			c->rec.window_from_ns = c->t_running + p->window_min_ms * 1000000;
			c->rec.window_to_ns = c->t_running + p->window_max_ms * 1000000;
		} else {
			json_object_set_new(c->cutinfo, "target", json_string("immediate"));
		}
		int64_t decided = clock_mono_ns();
		json_object_set_new(c->cutinfo, "decided_mono_ns", json_integer(decided));
		rc = node_reset(c->node, false);
		c->pt.killed_ns = clock_mono_ns();
		c->rec.planned_ns = decided;
		c->rec.actual_ns = decided;
		c->rec.timed_by = "host";
		c->waited_ns += clock_mono_ns() - th;
		if (c->writing)
			c->plan_cut_used = true;
		c->writing = false;
		return rc;
	}
	c->armed = true;
	if (!c->writing || c->plan_cut_used) {
		int64_t decided = clock_mono_ns();
		json_object_set_new(c->cutinfo, "target", json_string("immediate"));
		json_object_set_new(c->cutinfo, "decided_mono_ns", json_integer(decided));
		rc = do_cut(c, ch, (int)p->off_ms, &c->rec);
		c->rec.timed_by = "host";
		if (rc == 0 && c->rec.planned_ns == 0)
			c->rec.planned_ns = decided;
		c->waited_ns += clock_mono_ns() - th;
	} else if (p->timing == CAMP_T_WINDOW && c->blind) {
		rc = host_window_cut(c, &c->rec, c->t_running, c->cutinfo);
		c->waited_ns += clock_mono_ns() - th;
	} else if (p->timing == CAMP_T_WINDOW) {
		/* The firmware draws the moment itself, from now, with the plan's seed. */
		rc = relay_arm(c->e->relay, ch, (int)p->window_min_ms, (int)p->window_max_ms,
			       (int)p->off_ms, p->fw_seed, &c->rec);
		if (rc == 0)
			pc_debug(LOG_NODE, "armed channel %d: cut in %" PRId64 "..%" PRId64 " ms, off %"
				PRId64 " ms", ch, p->window_min_ms, p->window_max_ms, p->off_ms);
	} else {
		rc = host_cut(c, &c->rec, c->t_running, c->cutinfo);
		c->waited_ns += clock_mono_ns() - th;
	}
	if (c->writing)
		c->plan_cut_used = true;
	c->writing = false;
	return rc;
}

/* The cut that restart saw through, as its cut_events row (written with the record). */
static void cut_keep(struct cyc *c, bool planned)
{
	const struct bench_config *cfg = c->e->cfg;
	const struct camp_plan *p = c->p;
	struct cyc_cut *k = &c->cuts[c->n_cuts];

	if (c->n_cuts >= CAMP_MAX_STEPS)
		return;
	/* Host-timed: from the moment the host decided to the relay edge the firmware
	 * stamped (mapped to the host clock). */
	int64_t decided = json_integer_value(json_object_get(c->cutinfo, "decided_mono_ns"));
	c->latency = decided && c->relay_off ? c->relay_off - decided :
		     c->rec.actual_ns && c->rec.planned_ns ? c->rec.actual_ns - c->rec.planned_ns : 0;
	if (c->cut_kind == CUT_RESET)
		c->latency = c->pt.killed_ns - decided;	/* the reset's own time */
	k->sc = (struct store_cut){
		.cycle = c->r->cycle_id, .channel = (int)cfg->relay->channel,
		.kind = config_cut_name(c->cut_kind),
		.timed_by = planned && p->timing == CAMP_T_WINDOW && !c->blind &&
			    c->cut_kind != CUT_RESET ? "firmware" : "host",
		.window_min_ms = p->window_min_ms, .window_max_ms = p->window_max_ms,
		.off_ms = p->off_ms, .seed = p->fw_seed, .planned_mono_ns = c->rec.planned_ns,
		.actual_mono_ns = c->relay_off, .uncertainty_ns = c->relay_off_unc,
		.relay_off_mono_ns = c->relay_off, .relay_on_mono_ns = c->relay_on,
		.pwrok_fall_mono_ns = c->pwrok_fall, .pwrok_rise_mono_ns = c->pwrok_rise,
		/* Both edges on the firmware's own clock when it stamped them (exact). */
		.hold_up_ns = c->pwrok_fall_fw && c->relay_off_fw ?
			      (int64_t)(c->pwrok_fall_fw - c->relay_off_fw) * 1000 :
			      c->pwrok_fall && c->relay_off ? c->pwrok_fall - c->relay_off :
			      c->pt.lost_ns && c->relay_off ? c->pt.lost_ns - c->relay_off : 0,
	};
	if (!json_object_get(c->cutinfo, "target"))
		json_object_set_new(c->cutinfo, "target", json_string(camp_timing_name(p->timing)));
	if (!planned || p->timing != CAMP_T_WINDOW || c->cut_kind == CUT_RESET)
		json_object_set_new(c->cutinfo, "latency_ns", json_integer(c->latency));
	json_object_set_new(c->cutinfo, "retries", json_integer(c->tries));
	json_t *det = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:O,s:O}",
		"dc_lost_mono_ns", (json_int_t)c->pt.lost_ns, "dc_lost_sim_us",
		(json_int_t)c->pt.lost_sim_us, "node_killed_mono_ns", (json_int_t)c->pt.killed_ns,
		"dc_back_mono_ns", (json_int_t)c->pt.back_ns, "dc_back_sim_us",
		(json_int_t)c->pt.back_sim_us, "node_booted_mono_ns", (json_int_t)c->pt.booted_ns,
		"window_from_mono_ns", (json_int_t)c->rec.window_from_ns,
		"window_to_mono_ns", (json_int_t)c->rec.window_to_ns, "edges", c->edges,
		"host_cut", c->cutinfo);
	if (det) {
		json_object_set_new(det, "dc_source",
				    json_string(config_dc_source_name(cfg->relay->dc_source)));
		json_object_set_new(det, "step", json_integer((json_int_t)c->n_cuts + 1));
		/* A relay on PS_ON (IPMI) drops DC at once: no hold-up to measure. */
		json_object_set_new(det, "power_switched",
				    json_string(cfg->relay->switches == SWITCH_DC ? "dc" : "ac"));
	}
	if (cfg->relay->switches == SWITCH_DC)
		k->sc.hold_up_ns = 0;
	k->detail = det ? json_dumps(det, JSON_COMPACT) : NULL;
	k->sc.detail_json = k->detail;
	json_decref(det);
	/* The node died when its processes were killed: writes acknowledged up to then
	 * were real writes of a live node. */
	c->cut_ns = c->pt.killed_ns ? c->pt.killed_ns : c->pt.lost_ns ? c->pt.lost_ns : c->relay_off;
	c->n_cuts++;
}

/* restart: follow the cut's edges until the node booted again; power-cycle a node
 * that does not come back, up to the bench's retries; then wait for it. */
static int step_restart(struct cyc *c, const struct camp_step *st)
{
	const struct cfg_campaign *cc = c->e->cfg->campaign;
	const struct camp_plan *p = c->p;
	int ch = (int)c->e->cfg->relay->channel;
	bool planned = json_object_get(c->cutinfo, "target") == NULL;
	int64_t t_follow = clock_mono_ns();

	if (c->cut_kind == CUT_RESET) {
		/* QEMU and the host lived on: the node is up once its guest booted again
		 * (at once on the fast tier, whose guest is its agents). */
		int rc = node_wait_up(c->node, (int)cc->boot_timeout_ms);
		ledger_quiesce(c->e->led, 50, 3000);
		db_free(c);
		c->tries = 0;
		c->t_cut_done = c->t_up = clock_mono_ns();
		c->waited_ns += c->t_cut_done - t_follow;
		cut_keep(c, planned);
		return rc;
	}
	/* boot_timeout: from power back to the node up, its boot delay included. */
	int64_t limit = t_follow + ((planned && p->timing == CAMP_T_WINDOW ? p->window_max_ms : 0) +
				    p->off_ms + cc->boot_timeout_ms + 2000) * 1000000;
	int rc = follow_cut(c, &c->pt, limit);

	c->tries = 0;
	while (rc == 0 || rc == -ETIMEDOUT) {
		if (rc == 0) {
			node_power_wait(c->pw, NODE_PWR_BOOTED, 0, &c->pt);
			if (c->pt.boot_rc >= 0 && c->pt.kill_rc >= 0) {
				rc = node_wait_up(c->node, (int)cc->boot_timeout_ms);
				/* A node that died booting (QEMU ended, the guest panicked or
				 * fell silent) is a finding, not one that is slow to come
				 * back: no power cycle covers it over. */
				if (rc == 0 || rc == -EOWNERDEAD)
					break;
			}
			pc_warn(LOG_NODE, "the node did not come back after the cut");
		}
		if (c->tries++ >= cc->retries || relay_interrupted) {
			rc = relay_interrupted ? -EINTR : -EHOSTDOWN;
			break;
		}
		pc_warn(LOG_NODE, "power-cycling the node again (%d of %" PRId64 ")", c->tries,
			cc->retries);
		node_power_set_job(c->pw, &c->job);
		c->relay_on = c->pwrok_rise = 0;
		struct relay_cut again = { 0 };
		if ((rc = do_cut(c, ch, (int)p->off_ms, &again)) < 0)
			break;
		rc = follow_cut(c, &c->pt, clock_mono_ns() + (p->off_ms + cc->boot_timeout_ms + 2000) *
				1000000);
	}
	c->t_cut_done = clock_mono_ns();
	c->waited_ns += c->t_cut_done - t_follow;
	if (rc < 0)
		return rc;
	c->armed = false;
	/* Nothing arrives after the cut; the last frames before it are stored. */
	ledger_quiesce(c->e->led, 50, 3000);
	json_object_set_new(c->steps, "quiesced", json_real((clock_mono_ns() - c->t0) / 1e9));
	db_free(c);
	cut_keep(c, planned);
	c->t_up = clock_mono_ns();
	return 0;
}

/* reboot: a clean guest reboot; the workload ends, QEMU and the host live on. */
static int step_reboot(struct cyc *c, const struct camp_step *st)
{
	int64_t t = clock_mono_ns();
	int rc = node_reset(c->node, true);

	c->waited_ns += clock_mono_ns() - t;
	if (c->writing)
		c->plan_cut_used = true;	/* the workload the plan timed is over */
	c->writing = false;
	return rc;
}

static int step_check(struct cyc *c, const struct camp_step *st)
{
	int64_t t = clock_mono_ns();
	int rc = node_check(c->node, &c->job, c->res);

	c->checked = true;
	c->t_checked = clock_mono_ns();
	c->waited_ns += c->t_checked - t;
	if (rc < 0)
		pc_warn(LOG_CHECK, "the node's checks did not all complete");
	/* A check that did not complete is recorded per disk (check_failed). */
	return 0;
}

/* One function per step kind (campaign.h names them). */
static const step_fn step_table[] = {
	[CAMP_STEP_FILL] = step_fill,
	[CAMP_STEP_WRITE] = step_write,
	[CAMP_STEP_FLUSH] = step_flush,
	[CAMP_STEP_IDLE] = step_idle,
	[CAMP_STEP_SNAPSHOT] = step_snapshot,
	[CAMP_STEP_CUT] = step_cut,
	[CAMP_STEP_RESTART] = step_restart,
	[CAMP_STEP_REBOOT] = step_reboot,
	[CAMP_STEP_CHECK] = step_check,
};
_Static_assert(sizeof(step_table) / sizeof(step_table[0]) == CAMP_STEP__COUNT,
	       "one function per step kind");

static json_t *step_arg(const struct camp_step *st)
{
	return st->arg[0] ? json_string(st->arg) : json_null();
}

/* One step, timed into the step log (stored with the record). */
static int run_step(struct cyc *c, size_t seq, const struct camp_step *st)
{
	int64_t t = clock_mono_ns();
	json_t *log = json_pack("{s:i,s:s,s:o,s:I}", "seq", (int)seq + 1, "step",
				camp_step_name(st->kind), "arg", step_arg(st),
				"started_mono_ns", (json_int_t)t);

	set_step(c, camp_step_name(st->kind));
	int rc = step_table[st->kind](c, st);
	if (log) {
		json_object_set_new(log, "ended_mono_ns", json_integer(clock_mono_ns()));
		const struct node_death *d = rc == -EOWNERDEAD ? node_death(c->node) : NULL;
		json_object_set_new(log, "result", json_string(rc == 0 ? "ok" : rc == -EINTR ?
					"interrupted" : d ? "node died" : strerror(-rc)));
		if (d)
			json_object_set_new(log, "death", json_pack("{s:s,s:i,s:s}", "life",
					    node_life_name(d->life), "code", d->code, "what", d->what));
		if (st->kind == CAMP_STEP_CUT || st->kind == CAMP_STEP_RESTART)
			json_object_set_new(log, "cut", json_string(config_cut_name(c->cut_kind)));
		json_array_append_new(c->steplog, log);
	}
	return rc;
}

/* The step log into cycle_steps (the cycle's thread, with the ledger quiet). */
static void steps_store(struct cyc *c)
{
	size_t i;
	json_t *l;

	if (!c->r->cycle_id)
		return;
	json_array_foreach(c->steplog, i, l) {
		json_t *d = json_object();
		if (json_object_get(l, "cut"))
			json_object_set(d, "cut", json_object_get(l, "cut"));
		if (json_object_get(l, "disks"))
			json_object_set(d, "disks", json_object_get(l, "disks"));
		if (json_object_get(l, "death"))
			json_object_set(d, "death", json_object_get(l, "death"));
		char *ds = json_object_size(d) ? json_dumps(d, JSON_COMPACT) : NULL;
		json_decref(d);
		struct store_cycle_step row = {
			.cycle = c->r->cycle_id,
			.seq = json_integer_value(json_object_get(l, "seq")),
			.step = json_string_value(json_object_get(l, "step")),
			.arg = json_string_value(json_object_get(l, "arg")),	/* NULL: null */
			.result = json_string_value(json_object_get(l, "result")),
			.detail_json = ds,
			.started_mono_ns = json_integer_value(json_object_get(l, "started_mono_ns")),
			.ended_mono_ns = json_integer_value(json_object_get(l, "ended_mono_ns")),
		};
		store_cycle_step_insert(c->e->db, &row);
		free(ds);
	}
}

/* The cycle's row (with its plan) once its scenario is known to run. 0, -EINVAL (the
 * scenario, logged), -EEXIST (the plan index ran already), -EIO. */
static int cycle_begin(struct cyc *c)
{
	const struct camp_env *e = c->e;
	int rc;

	if (camp_scenario_parse(e->cfg->campaign->scenario, e->cfg->workload, &c->sc) < 0)
		return -EINVAL;
	if (e->run_dir) {
		snprintf(c->procs, sizeof(c->procs), "%.4000s/procs", e->run_dir);
		snprintf(c->stepfile, sizeof(c->stepfile), "%.4000s/step", e->run_dir);
	}
	if ((rc = cycle_insert(c, c->t0)) < 0) {
		if (rc == -EEXIST)
			pc_err(LOG_DB, "cycle %u of campaign %" PRId64 " is already recorded",
			       c->index, e->campaign);
		return rc;
	}
	notify(c, CAMP_EV_CYCLE_BEGIN, NULL);
	set_step(c, "start");
	return 0;
}

/* The node (in a private work directory), its power domain, its disks prepared, and
 * the job its agents run. */
static int cycle_prepare(struct cyc *c)
{
	const struct camp_env *e = c->e;
	const struct bench_config *cfg = e->cfg;
	int ch = (int)cfg->relay->channel, rc;

	/* The node's files: short paths (UNIX sockets live there), private. */
	snprintf(c->work, sizeof(c->work), "%.3000s/node.XXXXXX",
		 e->work_parent ? e->work_parent : "/tmp");
	if (!mkdtemp(c->work)) {
		rc = -errno;
		pc_err(LOG_NODE, "cannot create a directory like '%s': %s", c->work, strerror(errno));
		return rc;
	}
	c->have_work = true;
	char kept[PATH_MAX];
	struct node_env env = { .bin_dir = e->bin_dir, .work_dir = c->work,
				.keep_dir = camp_kept_dir(e, kept, sizeof(kept)) };
	char recdir[PATH_MAX];
	if (cycle_records(cfg) && e->db_path) {
		explore_recording_dir(e->db_path, (uint64_t)e->campaign, c->index, recdir,
				      sizeof(recdir));
		env.record_dir = recdir;
	}
	c->node = node_open(cfg, &env);
	if (!c->node)
		return -errno;
	c->blind = !relay_reports_edges(e->relay);
	if (cfg->relay->dc_source == DC_SIMULATOR) {
		char sock[PATH_MAX + 32];
		snprintf(sock, sizeof(sock), "%.4000s/control.sock", e->run_dir);
		c->pw = node_power_open(c->node, sock, ch, c->p->cut);
	} else {
		c->fed = true;
		c->pw = node_power_open_fed(c->node, ch, c->p->cut);
	}
	if (!c->pw)
		return -errno ? -errno : -EIO;
	set_step(c, "prepare");
	pc_debug(LOG_NODE, "campaign %" PRId64 " cycle %u: preparing %zu disk(s) on %s%s%s",
		e->campaign, c->index, cfg->n_disks, cfg->node->host ? "node '" : "the ",
		cfg->node->host ? cfg->node->host : node_kind(cfg),
		cfg->node->host ? "'" : " tier");
	int64_t t_wait0 = clock_mono_ns();
	if ((rc = node_prepare(c->node)) < 0)
		return rc;
	c->t_prepared = clock_mono_ns();
	c->waited_ns += c->t_prepared - t_wait0;
	c->job = (struct node_job){
		.campaign = (uint64_t)e->campaign, .cycle = c->index, .token = e->token,
		.ledger_host = cfg->node->tier == NODE_TIER_FULL ? "10.0.2.2" : "127.0.0.1",
		.ledger_port = ledger_port(e->led), .seed = job_seed(cfg, c->p),
		.baseline = cfg->workload->baseline == BASELINE_FILL,
		.cycle_begins = cycle_begins, .cb_arg = c,
	};
	node_power_set_job(c->pw, &c->job);
	return 0;
}

/* The cuts' rows, the last one with what the node collected. */
static void record_cuts(struct cyc *c, json_t *node_info)
{
	for (size_t i = 0; i < c->n_cuts; i++) {
		struct cyc_cut *k = &c->cuts[i];
		char *with_node = NULL;
		if (node_info && i + 1 == c->n_cuts && k->detail) {
			json_t *det = json_loads(k->detail, 0, NULL);
			if (det) {
				json_object_set(det, "node", node_info);
				with_node = json_dumps(det, JSON_COMPACT);
				json_decref(det);
			}
		}
		if (with_node)
			k->sc.detail_json = with_node;
		store_cut_insert(c->e->db, &k->sc, NULL);
		k->sc.detail_json = k->detail;
		free(with_node);
	}
}

/* Every disk's checks and classification, its summary in r, its evidence. Returns
 * the number of disks that could not be verified. */
static size_t record_disks(struct cyc *c)
{
	const struct camp_env *e = c->e;
	const struct bench_config *cfg = e->cfg;
	struct camp_result *r = c->r;
	size_t unverified = 0;

	for (size_t i = 0; i < cfg->n_disks; i++) {
		struct camp_disk_sum *d = &r->disks[i];
		struct disk_outcome *o = &c->out[i];
		if (record_disk(c, cfg->disks[i], &c->res[i], c->cut_ns, o) < 0)
			unverified++;
		if (!o->fs)
			remember_kept(c, cfg->disks[i], &c->res[i]);
		d->disk = c->res[i].disk ? c->res[i].disk : cfg->disks[i]->name;
		d->control = cfg->disks[i]->control;
		d->verified = o->verified;
		d->metadata_failure = o->metadata_failure;
		d->violations = o->v.cycle.violations;
		d->unflushed_lost = o->v.cycle.count[CLS_UNFLUSHED_LOST_ZERO] +
				    o->v.cycle.count[CLS_UNFLUSHED_LOST_OLDER];
		c->violations += o->v.cycle.violations;
		c->metadata_failures += o->metadata_failure;
		if ((o->v.cycle.violations || o->metadata_failure) && e->evidence_dir) {
			char dir[PATH_MAX];
			snprintf(dir, sizeof(dir), "%.3000s/cycle-%u/%.200s", e->evidence_dir,
				 c->index, d->disk);
			camp_evidence_keep(e->db, r->cycle_id, d->disk, c->res[i].report_path, NULL,
					   dir, e->evidence_left);
		}
	}
	/* The check step's outcome per disk: what the cycle wrote, and what it read back
	 * as (for `powercut show` and the seeds' verdicts). */
	json_t *chk = json_array_get(c->steplog, json_array_size(c->steplog) - 1);
	if (chk && !strcmp(json_string_value(json_object_get(chk, "step")), "check")) {
		json_t *dj = json_object();
		for (size_t i = 0; i < cfg->n_disks; i++) {
			json_t *o = json_pack("{s:I,s:b}", "written", (json_int_t)c->out[i].written,
					      "verified", c->out[i].verified);
			if (all_zeroes(&c->out[i]))
				json_object_set_new(o, "verdict", json_string("new allocations lost: "
						    "the image reads as zeroes"));
			json_object_set_new(dj, r->disks[i].disk, o);
		}
		json_object_set_new(chk, "disks", dj);
	}
	return unverified;
}

/* The scenario's story: each step with its start and length (seconds from the
 * cycle's start). */
static json_t *story_json(const struct cyc *c)
{
	json_t *story = json_array();
	size_t i;
	json_t *l;

	json_array_foreach(c->steplog, i, l) {
		int64_t s0 = json_integer_value(json_object_get(l, "started_mono_ns"));
		int64_t s1 = json_integer_value(json_object_get(l, "ended_mono_ns"));
		json_t *o = json_pack("{s:O,s:O,s:f,s:f,s:O}", "step", json_object_get(l, "step"),
				      "arg", json_object_get(l, "arg"), "at_s", (s0 - c->t0) / 1e9,
				      "took_s", (s1 - s0) / 1e9, "result",
				      json_object_get(l, "result"));
		if (json_object_get(l, "cut"))
			json_object_set(o, "cut", json_object_get(l, "cut"));
		json_array_append_new(story, o);
	}
	return story;
}

/* The cycle's summary (`powercut cycle --json`) into r->json. */
static void cycle_json(struct cyc *c, const struct store_cut *last, json_t *node_info,
		       int64_t t_end, int64_t explore_ns)
{
	const struct camp_env *e = c->e;
	const struct bench_config *cfg = e->cfg;
	const struct camp_plan *p = c->p;
	struct camp_result *r = c->r;
	int64_t t0 = c->t0;

	r->json = json_pack("{s:s,s:I,s:i,s:s,s:s,s:s,s:s,s:s,s:s}", "db",
		e->db_path ? e->db_path : "", "campaign", (json_int_t)e->campaign, "cycle",
		(int)c->index, "status", camp_cycle_status_name(r->status), "cut",
		last ? last->kind : "none", "timed_by", last ? last->timed_by : "none", "target",
		camp_timing_name(p->timing), "tier", node_kind(cfg), "scenario", c->sc.name);
	if (!r->json)
		return;
	json_t *disks = json_array();
	for (size_t i = 0; i < cfg->n_disks; i++)
		json_array_append_new(disks, disk_json(&c->res[i], &c->out[i]));
	json_object_set_new(r->json, "disks", disks);
	json_object_set_new(r->json, "violations", json_integer((json_int_t)c->violations));
	json_object_set_new(r->json, "metadata_failures",
			    json_integer((json_int_t)c->metadata_failures));
	json_object_set_new(r->json, "hold_up_ms", json_real(last ? last->hold_up_ns / 1e6 : 0.0));
	json_object_set_new(r->json, "power_switched",
			    json_string(cfg->relay->switches == SWITCH_DC ? "dc" : "ac"));
	/* How the node's death followed the relay: DC loss (the PSU's hold-up when
	 * PWR_OK or the simulator tells it; 0 when DC is taken from the relay) and
	 * the moment the node's processes were gone (the last cut). */
	json_object_set_new(r->json, "dc", json_pack("{s:s,s:f,s:f}", "source",
		config_dc_source_name(cfg->relay->dc_source), "lost_after_relay_ms",
		c->pt.lost_ns && c->relay_off ? (c->pt.lost_ns - c->relay_off) / 1e6 : 0.0,
		"killed_after_relay_ms",
		c->pt.killed_ns && c->relay_off ? (c->pt.killed_ns - c->relay_off) / 1e6 : 0.0));
	if (p->timing != CAMP_T_WINDOW)
		json_object_set_new(r->json, "latency_ms", json_real(c->latency / 1e6));
	json_object_set_new(r->json, "timing", json_pack(
		"{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}",
		"boot_delay_s", cfg->node->boot_delay_ms / 1e3,
		"total_s", r->total_s, "overhead_s", r->overhead_s,
		"prepare_s", (c->t_prepared - t0) / 1e9,
		"workload_start_s", c->t_running ? (c->t_running - c->t_prepared) / 1e9 : 0.0,
		"workload_to_cut_s", c->pt.lost_ns && c->t_running ?
				     (c->pt.lost_ns - c->t_running) / 1e9 : 0.0,
		"off_s", c->pt.back_ns && c->pt.lost_ns ? (c->pt.back_ns - c->pt.lost_ns) / 1e9 : 0.0,
		"check_s", (c->t_checked - c->t_up) / 1e9,
		"record_s", (t_end - c->t_checked - explore_ns) / 1e9,
		"explore_s", explore_ns / 1e9));
	if (node_info)
		json_object_set_new(r->json, "node", json_incref(node_info));
	json_object_set_new(r->json, "steps", json_incref(c->steps));
	json_object_set_new(r->json, "scenario_steps", story_json(c));
}

/* The record. The classification commits its own transactions, so a cycle stopped
 * here leaves a partial record: its status stays "running" until cycle_end, and
 * --resume deletes the rows of a cycle it marks interrupted. */
static void cycle_record(struct cyc *c)
{
	const struct camp_env *e = c->e;
	const struct bench_config *cfg = e->cfg;
	struct camp_result *r = c->r;

	set_step(c, "record");
	json_t *node_info = node_collect(c->node);
	const struct store_cut *last = c->n_cuts ? &c->cuts[c->n_cuts - 1].sc : NULL;
	record_cuts(c, node_info);
	size_t unverified = record_disks(c);
	/* The node's images once per cycle: qcow2 metadata dumps first, then copies. */
	if ((c->violations || c->metadata_failures) && e->evidence_dir) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%.3000s/cycle-%u/node", e->evidence_dir, c->index);
		camp_evidence_keep(e->db, r->cycle_id, NULL, NULL, c->work, dir, e->evidence_left);
	}
	r->status = unverified ? CAMP_CYC_FAILED : c->violations || c->metadata_failures ?
		    CAMP_CYC_VIOLATION : CAMP_CYC_OK;
	/* Classified disks give up their raw acknowledgements for one summary row per
	 * block (docs/oracle.md, "Storage"), so a night of cycles stays bounded; the next
	 * cycle is classified from its own rows only. A disk that was not classified keeps
	 * them for a later `powercut verify`; a failed prune is logged and costs only space. */
	for (size_t i = 0; i < cfg->n_disks; i++)
		if (c->out[i].verified && !cfg->disks[i]->record)	/* explore needs them */
			ledger_prune(store_db(e->db), (uint64_t)e->campaign, c->index, c->res[i].id);
	int64_t explore_ns = cycle_explore(c, cfg);

	int64_t t_end = clock_mono_ns();
	r->total_s = (t_end - c->t0) / 1e9;
	/* The controller's own time: everything but waiting on the node (prepare, the
	 * workload until the cut, power off and boot, the checks). */
	r->overhead_s = (t_end - c->t0 - c->waited_ns - explore_ns) / 1e9;
	cycle_json(c, last, node_info, t_end, explore_ns);
	json_decref(node_info);
}

/* Whatever the cycle reached: power on, the node gone, the row's status, the node's
 * files removed (kept when asked, or when the node was lost). Returns rc, -EINTR when
 * a signal came. */
static int cycle_end(struct cyc *c, int rc)
{
	const struct camp_env *e = c->e;
	const struct bench_config *cfg = e->cfg;
	struct camp_result *r = c->r;

	if (c->armed && !relay_interrupted) {
		/* An armed cut must not fire after we are gone. */
		relay_on(e->relay, (int)cfg->relay->channel);
	}
	/* The power domain first: it may be booting the node. */
	node_power_close(c->pw);
	node_close(c->node);
	/* The node is gone: the ledger goes quiet and our row can be written. */
	if (c->db_busy)
		ledger_quiesce(e->led, 50, 3000);
	db_free(c);
	if (rc == -EINTR || relay_interrupted)
		r->status = CAMP_CYC_INTERRUPTED, rc = -EINTR;
	else if (rc == -EHOSTDOWN)
		r->status = CAMP_CYC_NODE_LOST;
	if (r->cycle_id) {
		steps_store(c);
		store_cycle_finish(e->db, r->cycle_id, camp_cycle_status_name(r->status),
				   clock_mono_ns());
		store_cycle_set_overhead(e->db, r->cycle_id, (int64_t)(r->overhead_s * 1e9));
		if (rc == 0)
			set_step(c, "done");
	}
	if (c->checked)
		for (size_t i = 0; i < cfg->n_disks; i++)
			node_disk_result_release(&c->res[i]);
	if (rc == -EHOSTDOWN && c->have_work) {
		pc_err(LOG_NODE, "the node did not come back after %" PRId64 " power cycle(s): "
		       "power is left on; look at the node's logs in '%s'%s%s%s",
		       cfg->campaign->retries, c->work,
		       cfg->relay->simulator ? " and the simulator's in '" : "",
		       cfg->relay->simulator ? e->run_dir : "", cfg->relay->simulator ? "'" : "");
	}
	if (c->have_work) {
		if (e->keep || rc == -EHOSTDOWN || (rc < 0 && rc != -EINTR && c->t_prepared)) {
			/* A cycle that failed once its node ran keeps the evidence: the guest's
			 * consoles, node.log (a refused bench or a failed prepare has none). */
			pc_log(rc < 0 ? LOG_WARN : LOG_INFO, LOG_NODE, "node files kept in '%s'", c->work);
		} else {
			const char *argv[] = { "rm", "-rf", "--", c->work, NULL };
			struct child_result cr;
			if (child_run(argv, NULL, 30000, &cr) == 0)
				child_result_release(&cr);
		}
	}
	return rc;
}

int camp_cycle_run(struct camp_env *e, const struct camp_plan *p, struct camp_result *r)
{
	struct cyc c = { .e = e, .p = p, .r = r, .index = p->index, .edges = json_array(),
			 .cutinfo = json_object(), .steps = json_object(),
			 .steplog = json_array(), .t0 = clock_mono_ns(), .cut_kind = p->cut };
	struct node_disk_result res[NODE_MAX_DISKS];
	struct disk_outcome out[NODE_MAX_DISKS];
	int rc;

	memset(r, 0, sizeof(*r));
	memset(res, 0, sizeof(res));
	memset(out, 0, sizeof(out));
	c.res = res;
	c.out = out;
	r->status = CAMP_CYC_FAILED;
	r->n_disks = e->cfg->n_disks;
	if ((rc = cycle_begin(&c)) == 0) {
		rc = cycle_prepare(&c);
		/* The scenario (by default today's cycle: write cut restart check). */
		for (size_t i = 0; rc == 0 && i < c.sc.n; i++)
			rc = run_step(&c, i, &c.sc.steps[i]);
		if (rc == 0)
			cycle_record(&c);
		rc = cycle_end(&c, rc);
	}
	for (size_t i = 0; i < c.n_cuts; i++)
		free(c.cuts[i].detail);
	camp_scenario_release(&c.sc);
	json_decref(c.edges);
	json_decref(c.cutinfo);
	json_decref(c.steps);
	json_decref(c.steplog);
	return rc;
}

int camp_dc_check(struct relay *relay, const struct bench_config *cfg)
{
	struct relay_status st;
	int ch = (int)cfg->relay->channel, rc;

	if (cfg->relay->dc_source != DC_PWROK)
		return 0;
	if ((rc = relay_on(relay, ch)) < 0 || (rc = relay_status(relay, &st)) < 0)
		return rc;
	if (st.pwrok[ch] == 1)
		return 0;
	pc_err(LOG_RELAY, "PWR_OK of channel %d reads %s while its relay is on: is the node's "
	       "PWR_OK wired to the board and is pwrok_invert right (rig/hardware.md)? Without "
	       "PWR_OK sense set [relay] dc_source = relay", ch,
	       st.pwrok[ch] == 0 ? "DC lost" : "nothing");
	return -ENODEV;
}

void camp_result_release(struct camp_result *r)
{
	json_decref(r->json);
	r->json = NULL;
}
