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
void store_close(struct store *st);
sqlite3 *store_db(struct store *st);

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
int store_campaign_finish(struct store *st, int64_t id, const char *status);

int store_cycle_insert(struct store *st, int64_t campaign, int64_t index, const char *status,
		       int64_t started_mono_ns, int64_t *id);
int store_cycle_finish(struct store *st, int64_t cycle, const char *status,
		       int64_t finished_mono_ns);

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
/* A log_sink_fn: log_set_sink(store_log_sink, st) sends every message to events. */
void store_log_sink(void *ctx, enum log_level level, enum log_cat cat, int64_t wall_ns,
		    int64_t mono_ns, const char *msg);

#endif
