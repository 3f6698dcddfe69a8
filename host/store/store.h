/* The campaign database: SQLite, one versioned schema with migrations.
 *
 * The schema version is PRAGMA user_version: the number of migrations applied. The
 * migrations are one static table in store.c (a name and SQL each), applied in order,
 * each in its own transaction together with the user_version bump. Adding one is one
 * line at the end of that table; never edit a migration that has been released.
 *
 * The database runs in WAL mode with synchronous=FULL and foreign keys on, so every
 * committed row survives the host crashing. Data goes in through prepared
 * statements only.
 *
 * Times: *_mono_ns are host CLOCK_MONOTONIC nanoseconds (the reference clock of every
 * measured time), *_wall_ns CLOCK_REALTIME nanoseconds (for people).
 *
 *   struct store *st = store_open("results/x.db", STORE_CREATE | STORE_MIGRATE);
 *   int64_t id; store_campaign_insert(st, &c, &id);
 *   store_close(st);
 *
 * Every query the campaign makes is a store_* function below: callers never write
 * SQL. store_db() lends the raw connection only to modules that own tables of their
 * own in the same file (the oracle's ledger, explore, the report's loader).
 *
 * Threads: a store belongs to the thread that opened it. Only that thread calls
 * store_* with it (the connection is opened SQLITE_OPEN_NOMUTEX); another thread opens
 * its own connection to the same file (the ledger's thread does). The log watcher
 * (store_log_attach) is the one exception: it is called from every thread that logs
 * and stores only its owner's messages.
 *
 * Errors: 0 or a negative errno (-EIO for SQLite's errors, logged with the database's
 * path; -ENOENT for a row that is not there, not logged); constructors return NULL
 * and set errno. Strings a call returns are the caller's to free() unless said
 * otherwise; strings passed in are copied.
 */
#ifndef PC_STORE_H
#define PC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "log.h"

struct store_migration {
	const char *name;
	const char *sql;
};

/* The migrations, in order; store_n_migrations is the newest schema version. */
extern const struct store_migration store_migrations[];
extern const int store_n_migrations;

enum {
	STORE_CREATE   = 1u << 0,	/* create the file when missing */
	STORE_MIGRATE  = 1u << 1,	/* apply missing migrations on open */
	STORE_READONLY = 1u << 2,	/* open read-only (db info) */
};

struct store;

/* Open (and per flags create and migrate) the database. NULL with errno and a
 * logged message: ENOENT (missing, no STORE_CREATE), EPROTO (the schema is newer
 * than this program, or older and STORE_MIGRATE not given), EIO (SQLite error). */
struct store *store_open(const char *path, unsigned flags);
/* Close the connection (NULL: nothing); the log watcher must be detached first. */
void store_close(struct store *st);
/* The connection, lent to a module that owns its own tables (see above): the store
 * keeps it; never closed by the borrower, used on the owner thread only. */
sqlite3 *store_db(struct store *st);
/* The database file's absolute path (the store's, valid until store_close). */
const char *store_path(const struct store *st);

/* Schema version of the open database (PRAGMA user_version). */
int store_schema_version(struct store *st);
/* Apply the missing migrations; *applied (may be NULL) gets how many. 0 or -errno. */
int store_migrate(struct store *st, int *applied);

/* Row counts of every table and the schema version, as a JSON object. */
json_t *store_info(struct store *st);

/* Transactions (BEGIN IMMEDIATE / COMMIT / ROLLBACK). 0 or -EIO. */
int store_begin(struct store *st);
int store_commit(struct store *st);
int store_rollback(struct store *st);

struct store_campaign {
	const char *bench;
	const char *config_text, *config_json, *config_hash;
	const char *versions_json;	/* {"powercut": "...", "firmware": "...", ...} */
};
int store_campaign_insert(struct store *st, const struct store_campaign *c, int64_t *id);
/* status and finished_wall_ns (now). */
int store_campaign_finish(struct store *st, int64_t id, const char *status);
/* A resumed campaign runs again: status 'running', finished_wall_ns NULL. */
int store_campaign_reopen(struct store *st, int64_t id);
/* campaigns.run_json (a `powercut run` campaign's plan of the run), versions_json,
 * and the end's controls verdict and closing message. */
int store_campaign_set_run(struct store *st, int64_t id, const char *run_json);
int store_campaign_set_versions(struct store *st, int64_t id, const char *versions_json);
int store_campaign_set_verdict(struct store *st, int64_t id, const char *controls,
			       const char *message);

/* A `powercut run` campaign as stored: the one with id want, or (want 0) the newest
 * that has run_json. Its strings are the caller's: store_run_row_release frees them.
 * 0, -ENOENT (none), -EIO, -ENOMEM. */
struct store_run_row {
	int64_t id;
	char *config_text, *run_json, *status;
};
int store_campaign_find_run(struct store *st, int64_t want, struct store_run_row *row);
void store_run_row_release(struct store_run_row *row);

/* The campaign's ledger token (oracle_campaign_token) into buf. 0, -ENOENT, -EIO. */
int store_campaign_token(struct store *st, int64_t campaign, char *buf, size_t len);

/* What a campaign recorded so far. */
int store_cycle_count(struct store *st, int64_t campaign, int64_t *n);
/* The plan index after the highest recorded (1 for none). */
int store_cycle_next_index(struct store *st, int64_t campaign, int64_t *next);
/* Blocks of disk's per-disk summary findings (block -1): class violation, and the
 * unflushed_lost_* classes together. */
int store_disk_lost_blocks(struct store *st, int64_t campaign, const char *disk,
			   uint64_t *violation, uint64_t *unflushed);
/* A control's record: disk's violation findings, and the campaign's verified cycles
 * (status ok or violation). */
int store_disk_violations(struct store *st, int64_t campaign, const char *disk,
			  int64_t *findings, int64_t *verified_cycles);
/* Bytes of evidence kept for the campaign's cycles. */
int store_evidence_bytes(struct store *st, int64_t campaign, uint64_t *bytes);
/* Distinct blocks the ledger holds acknowledged for (campaign, cycle, disk id). */
int store_acked_blocks(struct store *st, int64_t campaign, int64_t cycle, int64_t disk,
		       uint64_t *blocks);

/* A cycle row: -EEXIST (logged) when (campaign, index) is already recorded. */
int store_cycle_insert(struct store *st, int64_t campaign, int64_t index, const char *status,
		       int64_t started_mono_ns, int64_t *id);
int store_cycle_finish(struct store *st, int64_t cycle, const char *status,
		       int64_t finished_mono_ns);
/* cycles.plan_json, step (the step the cycle reached), overhead_ns. */
int store_cycle_set_plan(struct store *st, int64_t cycle, const char *plan_json);
int store_cycle_set_step(struct store *st, int64_t cycle, const char *step);
int store_cycle_set_overhead(struct store *st, int64_t cycle, int64_t overhead_ns);
/* After a killed controller, in one transaction: cycle step_cycle (0: none) gets
 * step_step if it is still running (the step file is newer than the row), a running
 * cycle without a step gets 'start', each is shown to fn (may be NULL) with its
 * index and step, its partial record (cut_events, checks, findings, evidence) goes
 * and it becomes 'interrupted'. 0 or -EIO. */
int store_cycles_interrupt(struct store *st, int64_t campaign, int64_t step_cycle,
			   const char *step_step,
			   void (*fn)(void *arg, int64_t idx, const char *step), void *arg);

/* One step of a cycle's scenario (cycle_steps). arg and detail_json may be NULL. */
struct store_cycle_step {
	int64_t cycle;
	int64_t seq;
	const char *step, *arg, *result, *detail_json;
	int64_t started_mono_ns, ended_mono_ns;
};
int store_cycle_step_insert(struct store *st, const struct store_cycle_step *s);

/* The ledger's sessions (oracle_session, the oracle's table): the newest campaign
 * with a session of cycle, and the first session of (campaign, cycle, disk) -- of
 * phase only when by_phase -- with what its agent wrote with. 0, -ENOENT, -EIO. */
int store_session_campaign(struct store *st, int64_t cycle, int64_t *campaign);
struct store_session {
	uint64_t seed, block_size, span_blocks;
};
int store_session_find(struct store *st, int64_t campaign, int64_t cycle, int64_t disk,
		       bool by_phase, int64_t phase, struct store_session *s);

/* The id of plan index idx of campaign: 0, -ENOENT or -EIO. */
int store_cycle_find(struct store *st, int64_t campaign, int64_t idx, int64_t *id);
/* One cycle's whole story (`powercut show`) as one JSON object (a new reference):
 * its campaign, the cycle row, its first cut and every cut, its steps, the events
 * logged during it, its checks, per-disk findings and evidence. Columns named *_json
 * are parsed. NULL with errno ENOENT (no such cycle) or EIO (logged). */
json_t *store_cycle_story(struct store *st, int64_t cycle);

/* One evidence file of a cycle (disk NULL: the whole node). */
int store_evidence_insert(struct store *st, int64_t cycle, const char *disk, const char *kind,
			  const char *path, uint64_t bytes);

/* One cut. Unknown times are 0 and stored as NULL. */
struct store_cut {
	int64_t cycle;			/* cycles.id, or 0 for a bench-bring-up cut */
	int channel;
	const char *kind;		/* "power" | "kill" | "reset" */
	const char *timed_by;		/* "firmware" | "host" */
	int64_t window_min_ms, window_max_ms, off_ms;
	uint64_t seed;
	int64_t planned_mono_ns;	/* when the host planned it (host-timed) */
	int64_t actual_mono_ns;		/* the cut itself (relay edge) */
	int64_t uncertainty_ns;		/* +- of actual_mono_ns */
	int64_t relay_off_mono_ns, relay_on_mono_ns;
	int64_t pwrok_fall_mono_ns, pwrok_rise_mono_ns;
	int64_t hold_up_ns;		/* relay off edge to PWR_OK fall */
	const char *detail_json;	/* may be NULL */
};
int store_cut_insert(struct store *st, const struct store_cut *c, int64_t *id);

int store_check_insert(struct store *st, int64_t cycle, const char *disk, const char *kind,
		       const char *result, const char *detail_json);
int store_finding_insert(struct store *st, int64_t cycle, const char *disk, int64_t block,
			 const char *klass, const char *detail_json, int64_t since_flush_ns);

/* One log message into events (the campaign is the current one set below). */
int store_event_insert(struct store *st, int64_t wall_ns, int64_t mono_ns,
		       enum log_level level, enum log_cat cat, const char *msg);
void store_set_campaign(struct store *st, int64_t campaign);
/* The database as a log watcher: log messages go to events. Only messages logged on
 * the store's owner thread are stored, and none while held (the campaign holds it
 * while the ledger's connection writes: an insert of ours would wait for it).
 * attach: 0 or log_watch_add's error; detach before store_close. */
int store_log_attach(struct store *st);
void store_log_detach(struct store *st);
void store_log_hold(struct store *st, bool hold);
/* The same as a log_sink_fn (ctx: the store), for log_set_sink. */
void store_log_sink(void *ctx, enum log_level level, enum log_cat cat, int64_t wall_ns,
		    int64_t mono_ns, const char *msg);

#endif
