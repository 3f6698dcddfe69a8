/* The campaign engine: one cut cycle end to end (the only code path: `powercut cycle`
 * runs one, `powercut run` runs a campaign of them), the per-cycle plan, and the
 * bookkeeping that makes a campaign resumable after its controller was killed.
 *
 *   struct camp_plan p;
 *   camp_plan_make(cfg, seed, index, &p);          // pure: the same (seed, index) and
 *                                                  // config always give the same plan
 *   struct camp_env env = { .cfg = cfg, .db = st, .relay = relay, .obs = &obs, ... };
 *   camp_start(&env, versions, token);            // the campaign row, token, ledger
 *   struct camp_result r;
 *   camp_cycle_run(&env, &p, &r);                  // one cycle, recorded in the store
 *   camp_result_release(&r);
 *   camp_stop(&env);
 *
 * What happens is announced to env.obs (observe.h): the engine keeps no process-wide
 * state and never touches the logger's sink; the database's log watcher and the
 * progress line are observers the front end registers.
 *
 * See docs/campaign.md (plan, resume semantics, recovery, controls, evidence).
 * Functions return 0 or a negative errno and log why (git's form). They run on the
 * thread that opened env.db, which alone uses the store's connection (store.h); the
 * ledger's thread has its own.
 */
#ifndef PC_CAMPAIGN_H
#define PC_CAMPAIGN_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "config.h"
#include "observe.h"
#include "store.h"

struct relay;
struct ledger;

/* How the cut moment of a cycle is chosen. */
enum camp_timing {
	CAMP_T_WINDOW,		/* armed: the firmware draws it in [window_min, window_max] */
	CAMP_T_AFTER_FLUSH,	/* host: right after the k-th flush completed */
	CAMP_T_IN_FLUSH,	/* host: while a flush is in flight (every-n: n acks after one) */
	CAMP_T_IDLE,		/* host: idle_ms after the last flush completed */
};

struct camp_plan {
	uint32_t index;			/* 1-based plan index */
	uint64_t workload_seed;		/* the agents' seed */
	uint32_t fw_seed;		/* the firmware's draw of the armed moment */
	int cut;			/* enum cut_kind */
	int timing;			/* enum camp_timing */
	uint32_t flushes;		/* after-flush / in-flush: which flush (1-based) */
	int64_t window_min_ms, window_max_ms, off_ms, idle_ms;
};

/* Statuses, as stored in cycles.status and campaigns.status/controls: enums in
 * memory, each with one name table (campaign.c); the names are the stored strings. */
#define CAMP_CYCLE_STATUSES(X) \
	X(RUNNING, "running")		/* its row exists, the cycle is under way */ \
	X(OK, "ok")			/* recorded, no violation */ \
	X(VIOLATION, "violation")	/* recorded, a violation or metadata failure */ \
	X(FAILED, "failed")		/* could not run or not verified */ \
	X(INTERRUPTED, "interrupted")	/* a signal, or a killed controller (resume) */ \
	X(NODE_LOST, "node-lost")	/* the node did not come back */
#define CAMP_CYC_ENUM(id, name) CAMP_CYC_##id,
enum camp_cycle_status { CAMP_CYCLE_STATUSES(CAMP_CYC_ENUM) CAMP_CYC__COUNT };
#undef CAMP_CYC_ENUM
const char *camp_cycle_status_name(enum camp_cycle_status s);

#define CAMP_STATUSES(X) \
	X(RUNNING, "running") \
	X(DONE, "done")			/* the planned cycles ran, or the deadline came */ \
	X(INTERRUPTED, "interrupted") \
	X(NODE_LOST, "node-lost") \
	X(DISK_FULL, "disk-full")	/* stopped between cycles, resumable */ \
	X(FAILED, "failed")
#define CAMP_ST_ENUM(id, name) CAMP_ST_##id,
enum camp_status { CAMP_STATUSES(CAMP_ST_ENUM) CAMP_ST__COUNT };
#undef CAMP_ST_ENUM
const char *camp_status_name(enum camp_status s);
/* A stored campaigns.status back: its enum, or -EINVAL. */
int camp_status_parse(const char *name);

#define CAMP_CONTROLS(X) \
	X(NONE, "none")			/* no control disk */ \
	X(PASSED, "passed") \
	X(FAILED, "failed")
#define CAMP_CTL_ENUM(id, name) CAMP_CTL_##id,
enum camp_controls { CAMP_CONTROLS(CAMP_CTL_ENUM) CAMP_CTL__COUNT };
#undef CAMP_CTL_ENUM
const char *camp_controls_name(enum camp_controls c);

/* Cycle index's plan from the campaign seed and the bench: a pure function. */
void camp_plan_make(const struct bench_config *cfg, uint64_t seed, uint32_t index,
		    struct camp_plan *p);
const char *camp_timing_name(int timing);
/* The plan as JSON (new reference), and back (0 or -EINVAL). */
json_t *camp_plan_json(const struct camp_plan *p);
int camp_plan_from_json(json_t *j, struct camp_plan *p);

/* A host-timed target, watched through the ledger's counters (struct ledger_stats)
 * every millisecond from the moment every disk's workload runs. Every disk of the
 * bench counts: after-flush and in-flush wait until each disk (ids 1..n_disks) has
 * completed the plan's k flushes since then, so a cut never comes before a disk had
 * a flush to lose (a lying control would otherwise have nothing to show). */
struct ledger_stats;
#define CAMP_WATCH_DISKS 16
struct camp_watch {
	size_t n_disks;
	int64_t t_running, last_flush_ns;	/* host monotonic; the newest flush of any disk */
	struct {				/* per disk id */
		uint64_t flushes0;		/* completed flushes when the watch began */
		uint64_t seen;			/* ... at the last look */
		int64_t flushed_ns;		/* when the last one was seen */
		uint64_t acks_at_flush;		/* the disk's acknowledgements then */
	} d[CAMP_WATCH_DISKS];
};
void camp_watch_begin(struct camp_watch *w, size_t n_disks, const struct ledger_stats *st,
		      int64_t now_ns);
/* True when the plan's moment has come (timing other than window). */
bool camp_watch_hit(struct camp_watch *w, const struct camp_plan *p,
		    const struct cfg_workload *wl, const struct ledger_stats *st, int64_t now_ns);
/* The fewest flushes any disk completed since camp_watch_begin. */
uint64_t camp_watch_min_flushes(const struct camp_watch *w, const struct ledger_stats *st);

/* ---- A cycle's scenario: the bench's own sequence of steps (scenario.c) ----
 *
 * [campaign] scenario names the steps between the node's preparation and the record,
 * in order; each step kind is one small function of cycle.c, run from one table.
 * Unset, the scenario is today's cycle: "write cut restart check". See
 * docs/campaign.md, "Scenarios".
 */
#define CAMP_STEP_KINDS(X) \
	X(FILL, "fill")		/* every block written once, flushed (the baseline) */ \
	X(WRITE, "write")	/* write[:KEY=VALUE,...]: the workload starts ([workload],
				 * keys overridden); one per cycle */ \
	X(FLUSH, "flush")	/* the workload finishes: one flush covers all it wrote */ \
	X(IDLE, "idle")		/* idle:DURATION: nothing happens for that long */ \
	X(SNAPSHOT, "snapshot")	/* an external qcow2 snapshot as Proxmox's volume chain */ \
	X(CUT, "cut")		/* cut[:power|kill|reset]: the plan's moment while writing */ \
	X(RESTART, "restart")	/* power back (or QEMU started again), the node up */ \
	X(REBOOT, "reboot")	/* a clean guest reboot: QEMU and the host live on */ \
	X(CHECK, "check")	/* metadata checks and the agent's read-back */
#define CAMP_STEP_ENUM(id, name) CAMP_STEP_##id,
enum camp_step_kind { CAMP_STEP_KINDS(CAMP_STEP_ENUM) CAMP_STEP__COUNT };
#undef CAMP_STEP_ENUM
const char *camp_step_name(int kind);

#define CAMP_MAX_STEPS 32
struct camp_step {
	int kind;			/* enum camp_step_kind */
	int cut;			/* CUT: enum cut_kind, or -1: [campaign] cut */
	int64_t ms;			/* IDLE: how long */
	char arg[128];			/* the text after "kind:", or "" */
	bool has_workload;		/* WRITE with keys: workload holds them */
	struct cfg_workload workload;	/* the bench's [workload] with the step's keys */
};
struct camp_scenario {
	const char *name;		/* "default" or the words joined by blanks (owned) */
	size_t n;
	struct camp_step steps[CAMP_MAX_STEPS];
};
/* Parse [campaign] scenario (NULL or empty: the default cycle) and check that it can
 * run: a cut comes while the node is up and is followed by a restart before any other
 * step, one write at most, a fill before the write, and a check last. A write's keys
 * are [workload] keys applied over base (NULL: over zeroes, to check them only);
 * block_size is the bench's (the check reads with it). 0, -EINVAL (logged:
 * "[campaign] scenario: ..." saying why) or -ENOMEM. camp_scenario_release frees
 * the name. */
int camp_scenario_parse(char *const *words, const struct cfg_workload *base,
			struct camp_scenario *sc);
void camp_scenario_release(struct camp_scenario *sc);

/* Steps of a cycle, in order, as stored in cycles.step: start, prepare, then the
 * scenario's (the default's are shown), record, done. */
#define CAMP_STEPS "start prepare write cut restart check record done"

struct camp_env {
	const struct bench_config *cfg;
	struct store *db;		/* the campaign database (this thread only) */
	const char *db_path;
	struct relay *relay;		/* serial driver with simulator (the node follows its PSU) */
	const char *run_dir;		/* the bench's run directory (the simulator's socket) */
	const char *bin_dir;		/* build/bin */
	const char *work_parent;	/* the node's work directories go under it */
	const char *evidence_dir;	/* the campaign's evidence directory, or NULL: none */
	uint64_t *evidence_left;	/* bytes still allowed (decremented), or NULL */
	int64_t campaign;
	const char *token;		/* the campaign's ledger token */
	struct ledger *led;		/* the campaign's ledger, started */
	bool keep;			/* keep the node's work directory */
	struct camp_observers *obs;	/* who watches (may be NULL): observe.h */
};

/* A new campaign for env (cfg, db, db_path, obs set): its row with versions_json
 * (may be NULL), its ledger token into token (and env->token), its ledger started
 * into env->led; observers hear CAMPAIGN_BEGIN. 0 or -errno (logged); on error
 * nothing is left running. camp_stop stops the ledger. */
int camp_start(struct camp_env *env, const char *versions_json, char token[65]);
void camp_stop(struct camp_env *env);
/* The ledger of env's existing campaign (env->campaign, token): listening on
 * 127.0.0.1, serving from its own thread and connection, into env->led. 0 or -errno
 * (logged). camp_start calls it; a resumed campaign calls it itself. */
int camp_ledger_start(struct camp_env *env);

struct camp_disk_sum {
	const char *disk;		/* points into the config */
	int control;			/* enum disk_control */
	bool verified, metadata_failure;
	uint64_t violations;		/* flushed data lost, corrupt, misdirected */
	uint64_t unflushed_lost;	/* unflushed_lost_zero + unflushed_lost_older blocks */
};

struct camp_result {
	enum camp_cycle_status status;	/* ok, violation, failed, interrupted, node-lost */
	const char *step;		/* the step it reached */
	int64_t cycle_id;
	size_t n_disks;
	struct camp_disk_sum disks[8];
	double total_s;
	double overhead_s;		/* the controller's own time (docs/campaign.md) */
	json_t *json;			/* the cycle's summary (`powercut cycle --json`) */
};

/* Run plan p as one cycle of env->campaign and record it (a cycles row with the plan,
 * inserted first: UNIQUE (campaign, idx) makes a second attempt fail with -EEXIST).
 * 0 when the cycle was recorded (r->status ok, violation or failed); -EINTR when a
 * signal stopped it (r->status interrupted, the row says at which step);
 * -EHOSTDOWN when the node did not come back after the bench's retries (node-lost);
 * -EEXIST when the plan index is already recorded; another negative errno when the
 * cycle could not run. Power is left ON on return. env->obs hears CYCLE_BEGIN, each
 * STEP and DB_BUSY/DB_FREE around the ledger's busy time. */
int camp_cycle_run(struct camp_env *env, const struct camp_plan *p, struct camp_result *r);
void camp_result_release(struct camp_result *r);

/* The directory of the campaign's kept disks ([disk] keep = yes), created if absent,
 * into buf; NULL when no disk is kept, or (logged) if it cannot be made. It outlives the cycles; nothing
 * removes it but the user (its disks are the campaign's aged state). */
const char *camp_kept_dir(const struct camp_env *e, char *buf, size_t len);

/* Before the first cycle: with [relay] dc_source = pwrok, the channel's PWR_OK must
 * read DC good while its relay is on (an unwired input reads DC lost, and no cut
 * would ever show a DC edge). 0, or -ENODEV / the relay's error, logged with what to
 * do. Other sources: 0. */
int camp_dc_check(struct relay *relay, const struct bench_config *cfg);

/* versions_json for the campaign row: pc_versions_json with the relay's firmware
 * version (from its status reply). Caller frees. */
char *camp_versions(struct relay *relay, const char *powercut);
/* Processes a run started, for a later --resume to clean up after a SIGKILL: every
 * descendant of this process is appended to file as "pid starttime cmd" (a pid is
 * recorded once). 0 or -errno. */
int camp_procs_record(const char *file);
/* Kill (SIGKILL, whole process group when it leads one) the processes listed in file
 * whose start time still matches (a recycled pid is never touched), and every process
 * whose command line or working directory names one of dirs (NULL-terminated).
 * Returns the number killed, or -errno. The file is truncated. */
int camp_procs_reap(const char *file, const char *const *dirs);
/* Processes whose command line or working directory names a dir (tests). */
int camp_procs_count(const char *const *dirs);

/* Free space on the file system holding path, in bytes; 0 or -errno. */
int camp_free_bytes(const char *path, uint64_t *bytes);

/* Evidence of one cycle, into dir, at most *left bytes in all (decremented): a copy
 * of report_path (the agent's read-back, may be NULL), and for node_dir (may be NULL)
 * qemu-img check and map dumps of every qcow2 image under it and sparse copies of its
 * images (paths below node_dir flattened into file names). One evidence row per file,
 * with disk (may be NULL: the whole node). 0 or -errno. */
int camp_evidence_keep(struct store *db, int64_t cycle_id, const char *disk,
		       const char *report_path, const char *node_dir, const char *dir,
		       uint64_t *left);

/* ---- A campaign: the loop of cycles (run.c) ---- */

/* Per disk over the campaign so far: violations and unflushed losses (blocks). */
struct camp_tally {
	uint64_t violations[8], unflushed[8];
	unsigned done, planned;
	double overhead_s;		/* summed over the cycles that ran */
};

struct benchlock;

/* One campaign, new or resumed. The caller fills the inputs; camp_run takes the bench
 * lock into *lock and opens the relay into *relay (both the caller's to release, so
 * its exit path powers the node on), and fills the outputs. */
struct camp_run {
	const struct bench_config *cfg;
	struct store *db;
	const char *db_path;
	const char *run_dir;		/* the bench's run directory */
	const char *bin_dir;		/* build/bin */
	const char *version;		/* powercut's, for versions_json */
	const char *bench_file;		/* stored in run_json (new campaigns) */
	char **notify_argv;		/* stored in run_json (new campaigns), may be NULL */
	bool resume;			/* continue campaign (its row, work, evid, token) */
	bool keep;			/* keep every cycle's node work directory */
	uint64_t seed;
	int64_t planned;		/* cycles, or 0: until deadline_wall_ns */
	int64_t deadline_wall_ns;
	struct benchlock **lock;
	struct relay **relay;
	/* Who watches (may be NULL): every cycle's events, CYCLE_END after each cycle
	 * (the tally t already counts it), CAMPAIGN_END with the status set. */
	struct camp_observers *obs;
	/* in when resuming, out otherwise */
	int64_t campaign;
	char work[PATH_MAX];		/* the node work directories' parent */
	char evid[PATH_MAX + 64];	/* the evidence directory */
	char token[65];			/* the ledger token */
	/* out */
	struct camp_tally t;
	int64_t t0_ns;			/* host monotonic: the first cycle's start */
	unsigned ran;			/* cycles that ran to their record in this run */
	unsigned total;			/* cycles recorded in the campaign */
	enum camp_status status;	/* done, interrupted, node-lost, disk-full, failed */
	enum camp_controls controls;
	char why[1024];			/* why the controls failed */
	char msg[3 * PATH_MAX + 512];	/* the campaign's closing message */
};

/* Run the campaign to its end (status says which end) and record it: 0, or -EINVAL
 * (the scenario cannot run, logged), -EBUSY
 * (the bench is locked), -ENODEV (the relay cannot be opened or its DC sense is not
 * wired), -EINTR (interrupted while opening the relay), -EIO (logged). */
int camp_run(struct camp_run *run);
/* The newest campaign of db with a run that is not done (or the one want names):
 * its id, stored config text and run_json (caller frees). 0, -ENOENT, -EALREADY
 * (done; *id set), -EIO, -ENOMEM. */
int camp_run_load(struct store *db, const char *want, int64_t *id, char **config_text,
		  json_t **run);
/* A resumed campaign's run from its run_json (camp_run_load): seed, planned cycles,
 * deadline, work and evidence directories into run, the run directory into run_dir,
 * --notify's words into *notify_argv (NULL-terminated, caller frees each and the
 * array; NULL when none). 0 or -ENOMEM. */
int camp_run_from_json(json_t *j, struct camp_run *run, char *run_dir, size_t len,
		       char ***notify_argv);

#endif
