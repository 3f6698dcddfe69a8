/* The campaign database: see store.h. */
#include "store.h"
#include "clock.h"
#include "ledger_schema.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Schema version N is "migrations 0..N-1 applied". Append only. */
const struct store_migration store_migrations[] = {
	{ "initial schema",
	  "CREATE TABLE campaigns ("
	  " id INTEGER PRIMARY KEY,"
	  " created_wall_ns INTEGER NOT NULL,"
	  " created_mono_ns INTEGER NOT NULL,"
	  " bench TEXT NOT NULL,"
	  " config_text TEXT NOT NULL,"
	  " config_json TEXT NOT NULL,"
	  " config_hash TEXT NOT NULL,"
	  " versions_json TEXT NOT NULL DEFAULT '{}',"
	  " status TEXT NOT NULL DEFAULT 'running',"
	  " finished_wall_ns INTEGER);"
	  "CREATE TABLE cycles ("
	  " id INTEGER PRIMARY KEY,"
	  " campaign_id INTEGER NOT NULL REFERENCES campaigns(id),"
	  " idx INTEGER NOT NULL,"
	  " status TEXT NOT NULL,"
	  " started_mono_ns INTEGER,"
	  " finished_mono_ns INTEGER,"
	  " started_wall_ns INTEGER,"
	  " UNIQUE (campaign_id, idx));"
	  "CREATE TABLE cut_events ("
	  " id INTEGER PRIMARY KEY,"
	  " cycle_id INTEGER REFERENCES cycles(id),"
	  " channel INTEGER NOT NULL,"
	  " kind TEXT NOT NULL CHECK (kind IN ('power', 'kill')),"
	  " timed_by TEXT NOT NULL CHECK (timed_by IN ('firmware', 'host')),"
	  " window_min_ms INTEGER, window_max_ms INTEGER, off_ms INTEGER, seed INTEGER,"
	  " planned_mono_ns INTEGER,"
	  " actual_mono_ns INTEGER,"
	  " uncertainty_ns INTEGER NOT NULL,"
	  " relay_off_mono_ns INTEGER, relay_on_mono_ns INTEGER,"
	  " pwrok_fall_mono_ns INTEGER, pwrok_rise_mono_ns INTEGER,"
	  " hold_up_ns INTEGER,"
	  " detail_json TEXT);"
	  "CREATE TABLE checks ("
	  " id INTEGER PRIMARY KEY,"
	  " cycle_id INTEGER NOT NULL REFERENCES cycles(id),"
	  " disk TEXT NOT NULL,"
	  " kind TEXT NOT NULL,"
	  " result TEXT NOT NULL,"
	  " detail_json TEXT);"
	  "CREATE TABLE findings ("
	  " id INTEGER PRIMARY KEY,"
	  " cycle_id INTEGER NOT NULL REFERENCES cycles(id),"
	  " disk TEXT NOT NULL,"
	  " block INTEGER,"
	  " class TEXT NOT NULL,"
	  " detail_json TEXT,"
	  " since_flush_ns INTEGER);"
	  "CREATE TABLE events ("
	  " id INTEGER PRIMARY KEY,"
	  " campaign_id INTEGER REFERENCES campaigns(id),"
	  " wall_ns INTEGER NOT NULL,"
	  " mono_ns INTEGER NOT NULL,"
	  " level TEXT NOT NULL,"
	  " category TEXT NOT NULL,"
	  " message TEXT NOT NULL);"
	  "CREATE INDEX cycles_campaign ON cycles(campaign_id);"
	  "CREATE INDEX cut_events_cycle ON cut_events(cycle_id);"
	  "CREATE INDEX checks_cycle ON checks(cycle_id);"
	  "CREATE INDEX findings_cycle ON findings(cycle_id);"
	  "CREATE INDEX events_campaign ON events(campaign_id);" },
	{ "oracle ledger tables", ledger_schema_v1_sql },
	/* issue 7 (powercut run): the campaign's plan and run, each cycle's plan and the
	 * step it reached, the controls' verdict, evidence files. */
	{ "campaign runs",
	  "ALTER TABLE campaigns ADD COLUMN run_json TEXT;"
	  "ALTER TABLE campaigns ADD COLUMN controls TEXT;"
	  "ALTER TABLE campaigns ADD COLUMN message TEXT;"
	  "ALTER TABLE cycles ADD COLUMN plan_json TEXT;"
	  "ALTER TABLE cycles ADD COLUMN step TEXT;"
	  "ALTER TABLE cycles ADD COLUMN overhead_ns INTEGER;"
	  "CREATE TABLE evidence ("
	  " id INTEGER PRIMARY KEY,"
	  " cycle_id INTEGER NOT NULL REFERENCES cycles(id),"
	  " disk TEXT,"
	  " kind TEXT NOT NULL,"
	  " path TEXT NOT NULL,"
	  " bytes INTEGER NOT NULL);"
	  "CREATE INDEX evidence_cycle ON evidence(cycle_id);" },
	/* issue 13: ledger sessions by phase, durable memory of kept disks. */
	{ "oracle sessions and durable memory", ledger_schema_v2_sql },
	/* docs/explore.md: one row per explored crash state of a recorded disk. */
	{ "explored crash states",
	  "CREATE TABLE explore_run ("
	  " id INTEGER PRIMARY KEY,"
	  " campaign INTEGER NOT NULL,"
	  " cycle INTEGER NOT NULL,"
	  " disk TEXT NOT NULL,"
	  " disk_id INTEGER NOT NULL,"
	  " recording TEXT NOT NULL,"
	  " format TEXT NOT NULL,"
	  " cache TEXT NOT NULL,"
	  " control TEXT NOT NULL,"
	  " seed INTEGER NOT NULL,"
	  " log_entries INTEGER NOT NULL,"
	  " candidates_json TEXT,"
	  " states INTEGER NOT NULL DEFAULT 0,"
	  " seconds REAL);"
	  "CREATE TABLE explore_state ("
	  " run_id INTEGER NOT NULL REFERENCES explore_run(id),"
	  " state INTEGER NOT NULL,"
	  " kind TEXT NOT NULL,"
	  " crash_entry INTEGER NOT NULL,"
	  " crash_ns INTEGER NOT NULL,"
	  " writes INTEGER NOT NULL,"
	  " spec TEXT NOT NULL,"
	  " metadata TEXT NOT NULL,"
	  " metadata_json TEXT,"
	  " violations INTEGER,"
	  " counts_json TEXT,"
	  " PRIMARY KEY (run_id, state));" },
	/* issue 14 (scenarios): each step of a cycle's scenario, timed; the cut kind reset
	 * (a CHECK constraint changes only with the table rebuilt, rows and index kept). */
	{ "cycle steps",
	  "CREATE TABLE cut_events_new ("
	  " id INTEGER PRIMARY KEY,"
	  " cycle_id INTEGER REFERENCES cycles(id),"
	  " channel INTEGER NOT NULL,"
	  " kind TEXT NOT NULL CHECK (kind IN ('power', 'kill', 'reset')),"
	  " timed_by TEXT NOT NULL CHECK (timed_by IN ('firmware', 'host')),"
	  " window_min_ms INTEGER, window_max_ms INTEGER, off_ms INTEGER, seed INTEGER,"
	  " planned_mono_ns INTEGER,"
	  " actual_mono_ns INTEGER,"
	  " uncertainty_ns INTEGER NOT NULL,"
	  " relay_off_mono_ns INTEGER, relay_on_mono_ns INTEGER,"
	  " pwrok_fall_mono_ns INTEGER, pwrok_rise_mono_ns INTEGER,"
	  " hold_up_ns INTEGER,"
	  " detail_json TEXT);"
	  "INSERT INTO cut_events_new SELECT * FROM cut_events;"
	  "DROP TABLE cut_events;"
	  "ALTER TABLE cut_events_new RENAME TO cut_events;"
	  "CREATE INDEX cut_events_cycle ON cut_events(cycle_id);"
	  "CREATE TABLE cycle_steps ("
	  " id INTEGER PRIMARY KEY,"
	  " cycle_id INTEGER NOT NULL REFERENCES cycles(id),"
	  " seq INTEGER NOT NULL,"
	  " step TEXT NOT NULL,"
	  " arg TEXT,"
	  " started_mono_ns INTEGER NOT NULL,"
	  " ended_mono_ns INTEGER,"
	  " result TEXT NOT NULL,"
	  " detail_json TEXT);"
	  "CREATE INDEX cycle_steps_cycle ON cycle_steps(cycle_id);" },
	/* issue 19: the exposure window of each disk-cycle that lost acknowledged writes */
	{ "exposure window", ledger_exposure_sql },
	/* issue 18: the files workload's acknowledgements. */
	{ "oracle file acknowledgements", ledger_schema_v3_sql },
};
const int store_n_migrations = sizeof(store_migrations) / sizeof(store_migrations[0]);

struct store {
	sqlite3 *db;
	char *path;
	int64_t campaign;
	sqlite3_stmt *ev_stmt;	/* the log sink's statement, prepared once */
	pthread_t owner;	/* the thread that opened it (store.h, "Threads") */
	volatile int held;	/* store_log_hold */
};

static int db_err(struct store *st, const char *what)
{
	pc_err(LOG_DB, "%s in database '%s': %s", what, st->path, sqlite3_errmsg(st->db));
	return -EIO;
}

static int exec_sql(struct store *st, const char *sql, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		pc_err(LOG_DB, "%s in database '%s': %s", what, st->path, msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

int store_schema_version(struct store *st)
{
	sqlite3_stmt *s;
	int v = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return db_err(st, "cannot read schema version");
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

int store_begin(struct store *st)
{
	return exec_sql(st, "BEGIN IMMEDIATE", "cannot begin transaction");
}

int store_commit(struct store *st)
{
	return exec_sql(st, "COMMIT", "cannot commit");
}

int store_rollback(struct store *st)
{
	return exec_sql(st, "ROLLBACK", "cannot roll back");
}

int store_migrate(struct store *st, int *applied)
{
	int v = store_schema_version(st), n = 0;
	char sql[64];

	if (v < 0)
		return -EIO;
	for (int i = v; i < store_n_migrations; i++) {
		if (store_begin(st) < 0)
			return -EIO;
		/* A concurrent migrator may have got there first. */
		if (store_schema_version(st) != i) {
			store_rollback(st);
			break;
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", i + 1);
		if (exec_sql(st, store_migrations[i].sql, "migration failed") < 0 ||
		    exec_sql(st, sql, "migration failed") < 0) {
			pc_err(LOG_DB, "cannot apply migration %d '%s' to '%s'", i + 1,
			       store_migrations[i].name, st->path);
			store_rollback(st);
			return -EIO;
		}
		if (store_commit(st) < 0)
			return -EIO;
		pc_info(LOG_DB, "database '%s': applied migration %d '%s'", st->path, i + 1,
			store_migrations[i].name);
		n++;
	}
	if (applied)
		*applied = n;
	return 0;
}

struct store *store_open(const char *path, unsigned flags)
{
	struct store *st = calloc(1, sizeof(*st));
	int oflags, v, e;

	if (!st || !(st->path = strdup(path))) {
		e = ENOMEM;
		goto fail;
	}
	st->owner = pthread_self();
	if (flags & STORE_READONLY)
		oflags = SQLITE_OPEN_READONLY;
	else
		oflags = SQLITE_OPEN_READWRITE | ((flags & STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
	if (!(flags & STORE_CREATE) && access(path, F_OK) < 0) {
		e = errno;
		pc_err(LOG_DB, "cannot open database '%s': %s", path, strerror(e));
		goto fail;
	}
	if (sqlite3_open_v2(path, &st->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		pc_err(LOG_DB, "cannot open database '%s': %s", path,
		       st->db ? sqlite3_errmsg(st->db) : "out of memory");
		e = EIO;
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 10000);
	if (!(flags & STORE_READONLY) &&
	    exec_sql(st, "PRAGMA journal_mode = WAL", "cannot enable WAL") < 0) {
		e = EIO;
		goto fail;
	}
	/* FULL: a commit is on disk before it returns, in WAL mode too. */
	if (exec_sql(st, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
		     "cannot set pragmas") < 0) {
		e = EIO;
		goto fail;
	}
	v = store_schema_version(st);
	if (v < 0) {
		e = EIO;
		goto fail;
	}
	if (v > store_n_migrations) {
		pc_err(LOG_DB, "database '%s' has schema version %d, newer than this powercut "
		       "knows (%d)", path, v, store_n_migrations);
		e = EPROTO;
		goto fail;
	}
	if (v < store_n_migrations) {
		if (!(flags & STORE_MIGRATE)) {
			if (!(flags & STORE_READONLY)) {
				pc_err(LOG_DB, "database '%s' has schema version %d, expected %d "
				       "(run 'powercut db migrate')", path, v, store_n_migrations);
				e = EPROTO;
				goto fail;
			}
		} else if (store_migrate(st, NULL) < 0) {
			e = EIO;
			goto fail;
		}
	}
	return st;
fail:
	if (st) {
		sqlite3_close(st->db);
		free(st->path);
		free(st);
	}
	errno = e;
	return NULL;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->ev_stmt);
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

sqlite3 *store_db(struct store *st)
{
	return st->db;
}

const char *store_path(const struct store *st)
{
	/* SQLite's absolute name: what a campaign prints and stores as its database. */
	const char *f = sqlite3_db_filename(st->db, "main");

	return f && *f ? f : st->path;
}

json_t *store_info(struct store *st)
{
	static const char *const tables[] = { "campaigns", "cycles", "cut_events", "checks",
					      "findings", "events" };
	json_t *o = json_object(), *counts = json_object();
	char sql[128];

	json_object_set_new(o, "path", json_string(st->path));
	json_object_set_new(o, "schema_version", json_integer(store_schema_version(st)));
	json_object_set_new(o, "schema_latest", json_integer(store_n_migrations));
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		sqlite3_stmt *s;
		/* Table names come from the list above, never from input. */
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
		if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
			continue;	/* older schema: table absent */
		if (sqlite3_step(s) == SQLITE_ROW)
			json_object_set_new(counts, tables[i], json_integer(sqlite3_column_int64(s, 0)));
		sqlite3_finalize(s);
	}
	json_object_set_new(o, "counts", counts);
	return o;
}

/* Bind helpers: 0 means NULL for optional times. */
static void bind_opt_i64(sqlite3_stmt *s, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static int step_done(struct store *st, sqlite3_stmt *s, const char *what, int64_t *id)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE) {
		db_err(st, what);
		sqlite3_finalize(s);
		return -EIO;
	}
	if (id)
		*id = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	return 0;
}

static int prep(struct store *st, const char *sql, sqlite3_stmt **s, const char *what)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK)
		return db_err(st, what);
	return 0;
}

int store_campaign_insert(struct store *st, const struct store_campaign *c, int64_t *id)
{
	sqlite3_stmt *s;

	if (prep(st, "INSERT INTO campaigns (created_wall_ns, created_mono_ns, bench, "
		 "config_text, config_json, config_hash, versions_json) "
		 "VALUES (?, ?, ?, ?, ?, ?, ?)", &s, "cannot insert campaign") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, clock_wall_ns());
	sqlite3_bind_int64(s, 2, clock_mono_ns());
	bind_text(s, 3, c->bench);
	bind_text(s, 4, c->config_text);
	bind_text(s, 5, c->config_json);
	bind_text(s, 6, c->config_hash);
	bind_text(s, 7, c->versions_json ? c->versions_json : "{}");
	return step_done(st, s, "cannot insert campaign", id);
}

int store_campaign_finish(struct store *st, int64_t id, const char *status)
{
	sqlite3_stmt *s;

	if (prep(st, "UPDATE campaigns SET status = ?, finished_wall_ns = ? WHERE id = ?", &s,
		 "cannot finish campaign") < 0)
		return -EIO;
	bind_text(s, 1, status);
	sqlite3_bind_int64(s, 2, clock_wall_ns());
	sqlite3_bind_int64(s, 3, id);
	return step_done(st, s, "cannot finish campaign", NULL);
}

int store_cycle_insert(struct store *st, int64_t campaign, int64_t index, const char *status,
		       int64_t started_mono_ns, int64_t *id)
{
	sqlite3_stmt *s;

	if (prep(st, "INSERT INTO cycles (campaign_id, idx, status, started_mono_ns, "
		 "started_wall_ns) VALUES (?, ?, ?, ?, ?)", &s, "cannot insert cycle") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, campaign);
	sqlite3_bind_int64(s, 2, index);
	bind_text(s, 3, status);
	bind_opt_i64(s, 4, started_mono_ns);
	sqlite3_bind_int64(s, 5, clock_wall_ns());
	int rc = step_done(st, s, "cannot insert cycle", id);
	/* UNIQUE (campaign_id, idx): this plan index ran already. */
	return rc < 0 && sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE ? -EEXIST : rc;
}

int store_cycle_finish(struct store *st, int64_t cycle, const char *status,
		       int64_t finished_mono_ns)
{
	sqlite3_stmt *s;

	if (prep(st, "UPDATE cycles SET status = ?, finished_mono_ns = ? WHERE id = ?", &s,
		 "cannot finish cycle") < 0)
		return -EIO;
	bind_text(s, 1, status);
	bind_opt_i64(s, 2, finished_mono_ns);
	sqlite3_bind_int64(s, 3, cycle);
	return step_done(st, s, "cannot finish cycle", NULL);
}

int store_cut_insert(struct store *st, const struct store_cut *c, int64_t *id)
{
	sqlite3_stmt *s;

	if (prep(st, "INSERT INTO cut_events (cycle_id, channel, kind, timed_by, "
		 "window_min_ms, window_max_ms, off_ms, seed, planned_mono_ns, actual_mono_ns, "
		 "uncertainty_ns, relay_off_mono_ns, relay_on_mono_ns, pwrok_fall_mono_ns, "
		 "pwrok_rise_mono_ns, hold_up_ns, detail_json) "
		 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &s,
		 "cannot insert cut") < 0)
		return -EIO;
	bind_opt_i64(s, 1, c->cycle);
	sqlite3_bind_int(s, 2, c->channel);
	bind_text(s, 3, c->kind ? c->kind : "power");
	bind_text(s, 4, c->timed_by);
	sqlite3_bind_int64(s, 5, c->window_min_ms);
	sqlite3_bind_int64(s, 6, c->window_max_ms);
	sqlite3_bind_int64(s, 7, c->off_ms);
	sqlite3_bind_int64(s, 8, (int64_t)c->seed);
	bind_opt_i64(s, 9, c->planned_mono_ns);
	bind_opt_i64(s, 10, c->actual_mono_ns);
	sqlite3_bind_int64(s, 11, c->uncertainty_ns);
	bind_opt_i64(s, 12, c->relay_off_mono_ns);
	bind_opt_i64(s, 13, c->relay_on_mono_ns);
	bind_opt_i64(s, 14, c->pwrok_fall_mono_ns);
	bind_opt_i64(s, 15, c->pwrok_rise_mono_ns);
	bind_opt_i64(s, 16, c->hold_up_ns);
	bind_text(s, 17, c->detail_json);
	return step_done(st, s, "cannot insert cut", id);
}

int store_check_insert(struct store *st, int64_t cycle, const char *disk, const char *kind,
		       const char *result, const char *detail_json)
{
	sqlite3_stmt *s;

	if (prep(st, "INSERT INTO checks (cycle_id, disk, kind, result, detail_json) "
		 "VALUES (?, ?, ?, ?, ?)", &s, "cannot insert check") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, cycle);
	bind_text(s, 2, disk);
	bind_text(s, 3, kind);
	bind_text(s, 4, result);
	bind_text(s, 5, detail_json);
	return step_done(st, s, "cannot insert check", NULL);
}

int store_finding_insert(struct store *st, int64_t cycle, const char *disk, int64_t block,
			 const char *klass, const char *detail_json, int64_t since_flush_ns)
{
	sqlite3_stmt *s;

	if (prep(st, "INSERT INTO findings (cycle_id, disk, block, class, detail_json, "
		 "since_flush_ns) VALUES (?, ?, ?, ?, ?, ?)", &s, "cannot insert finding") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, cycle);
	bind_text(s, 2, disk);
	sqlite3_bind_int64(s, 3, block);
	bind_text(s, 4, klass);
	bind_text(s, 5, detail_json);
	sqlite3_bind_int64(s, 6, since_flush_ns);
	return step_done(st, s, "cannot insert finding", NULL);
}

void store_set_campaign(struct store *st, int64_t campaign)
{
	st->campaign = campaign;
}

int store_event_insert(struct store *st, int64_t wall_ns, int64_t mono_ns,
		       enum log_level level, enum log_cat cat, const char *msg)
{
	static const char *const lv[] = { "error", "warn", "info", "debug" };
	sqlite3_stmt *s = st->ev_stmt;

	if (!s && sqlite3_prepare_v2(st->db, "INSERT INTO events (campaign_id, wall_ns, "
				     "mono_ns, level, category, message) VALUES (?, ?, ?, ?, ?, ?)",
				     -1, &st->ev_stmt, NULL) != SQLITE_OK)
		return -EIO;	/* not logged: this is the log */
	s = st->ev_stmt;
	sqlite3_reset(s);
	bind_opt_i64(s, 1, st->campaign);
	sqlite3_bind_int64(s, 2, wall_ns);
	sqlite3_bind_int64(s, 3, mono_ns);
	sqlite3_bind_text(s, 4, lv[level], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, log_cat_name(cat), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, msg, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

void store_log_sink(void *ctx, enum log_level level, enum log_cat cat, int64_t wall_ns,
		    int64_t mono_ns, const char *msg)
{
	struct store *st = ctx;

	/* Another thread's message would use the connection beside its owner. */
	if (st->held || !pthread_equal(pthread_self(), st->owner))
		return;
	store_event_insert(st, wall_ns, mono_ns, level, cat, msg);
}

int store_log_attach(struct store *st)
{
	return log_watch_add(store_log_sink, st);
}

void store_log_detach(struct store *st)
{
	if (st)
		log_watch_remove(store_log_sink, st);
}

void store_log_hold(struct store *st, bool hold)
{
	st->held = hold;
}

/* ---- The campaign's queries (store.h) ---- */

/* One statement of one text and one id (an UPDATE of a row's column). */
static int set_text(struct store *st, const char *sql, const char *what, const char *text,
		    int64_t id)
{
	sqlite3_stmt *s;

	if (prep(st, sql, &s, what) < 0)
		return -EIO;
	bind_text(s, 1, text);
	sqlite3_bind_int64(s, 2, id);
	return step_done(st, s, what, NULL);
}

/* One integer from a query of (id, text): 0, -ENOENT (no row or NULL), -EIO. */
static int get_i64(struct store *st, const char *sql, const char *what, int64_t id,
		   const char *text, int64_t *v)
{
	sqlite3_stmt *s;
	int rc;

	if (prep(st, sql, &s, what) < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	if (text)
		bind_text(s, 2, text);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		*v = sqlite3_column_int64(s, 0), rc = 0;
	else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = -ENOENT;
	else
		rc = db_err(st, what);
	sqlite3_finalize(s);
	return rc;
}

int store_campaign_reopen(struct store *st, int64_t id)
{
	return set_text(st, "UPDATE campaigns SET status = ?, finished_wall_ns = NULL WHERE id = ?",
			"cannot reopen campaign", "running", id);
}

int store_campaign_set_run(struct store *st, int64_t id, const char *run_json)
{
	return set_text(st, "UPDATE campaigns SET run_json = ? WHERE id = ?",
			"cannot update the campaign", run_json, id);
}

int store_campaign_set_versions(struct store *st, int64_t id, const char *versions_json)
{
	return set_text(st, "UPDATE campaigns SET versions_json = ? WHERE id = ?",
			"cannot update the campaign", versions_json, id);
}

int store_campaign_set_verdict(struct store *st, int64_t id, const char *controls,
			       const char *message)
{
	int rc = set_text(st, "UPDATE campaigns SET controls = ? WHERE id = ?",
			  "cannot update the campaign", controls, id);

	if (rc == 0)
		rc = set_text(st, "UPDATE campaigns SET message = ? WHERE id = ?",
			      "cannot update the campaign", message, id);
	return rc;
}

static char *column_dup(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	return t ? strdup(t) : NULL;
}

int store_campaign_find_run(struct store *st, int64_t want, struct store_run_row *row)
{
	sqlite3_stmt *s;
	int rc = -ENOENT;

	memset(row, 0, sizeof(*row));
	if (prep(st, want ? "SELECT id, config_text, run_json, status FROM campaigns WHERE "
		 "id = ?1 AND run_json IS NOT NULL" :
		 "SELECT id, config_text, run_json, status FROM campaigns WHERE run_json IS NOT "
		 "NULL ORDER BY id DESC LIMIT 1", &s, "cannot read the campaigns") < 0)
		return -EIO;
	if (want)
		sqlite3_bind_int64(s, 1, want);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		row->id = sqlite3_column_int64(s, 0);
		row->config_text = column_dup(s, 1);
		row->run_json = column_dup(s, 2);
		row->status = column_dup(s, 3);
		rc = row->config_text && row->run_json && row->status ? 0 : -ENOMEM;
	} else if (r != SQLITE_DONE) {
		rc = db_err(st, "cannot read the campaigns");
	}
	sqlite3_finalize(s);
	if (rc < 0)
		store_run_row_release(row);
	return rc;
}

void store_run_row_release(struct store_run_row *row)
{
	free(row->config_text);
	free(row->run_json);
	free(row->status);
	row->config_text = row->run_json = row->status = NULL;
}

int store_campaign_token(struct store *st, int64_t campaign, char *buf, size_t len)
{
	sqlite3_stmt *s;
	int rc = -ENOENT;

	if (prep(st, "SELECT token FROM oracle_campaign_token WHERE campaign = ?", &s,
		 "cannot read the ledger token") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, campaign);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW && sqlite3_column_text(s, 0)) {
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
		rc = 0;
	} else if (r != SQLITE_ROW && r != SQLITE_DONE) {
		rc = db_err(st, "cannot read the ledger token");
	}
	sqlite3_finalize(s);
	return rc;
}

int store_cycle_count(struct store *st, int64_t campaign, int64_t *n)
{
	return get_i64(st, "SELECT COUNT(*) FROM cycles WHERE campaign_id = ?",
		       "cannot count the cycles", campaign, NULL, n);
}

int store_cycle_next_index(struct store *st, int64_t campaign, int64_t *next)
{
	return get_i64(st, "SELECT COALESCE(MAX(idx), 0) + 1 FROM cycles WHERE campaign_id = ?",
		       "cannot read the cycles", campaign, NULL, next);
}

int store_disk_lost_blocks(struct store *st, int64_t campaign, const char *disk,
			   uint64_t *violation, uint64_t *unflushed)
{
	sqlite3_stmt *s;
	int r;

	*violation = *unflushed = 0;
	if (prep(st, "SELECT class, SUM(json_extract(f.detail_json, '$.blocks')) FROM findings f"
		 " JOIN cycles c ON c.id = f.cycle_id WHERE c.campaign_id = ? AND f.disk = ? AND"
		 " f.block = -1 GROUP BY class", &s, "cannot read the findings") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, campaign);
	bind_text(s, 2, disk);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);
		uint64_t b = (uint64_t)sqlite3_column_int64(s, 1);
		if (!k)
			continue;
		if (!strcmp(k, "violation"))
			*violation += b;
		else if (!strncmp(k, "unflushed_lost", 14))
			*unflushed += b;
	}
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : db_err(st, "cannot read the findings");
}

int store_disk_violations(struct store *st, int64_t campaign, const char *disk,
			  int64_t *findings, int64_t *verified_cycles)
{
	sqlite3_stmt *s;
	int rc = 0;

	*findings = *verified_cycles = 0;
	if (prep(st, "SELECT (SELECT COUNT(*) FROM findings f JOIN cycles c ON c.id = f.cycle_id"
		 " WHERE c.campaign_id = ?1 AND f.disk = ?2 AND f.class = 'violation'),"
		 " (SELECT COUNT(*) FROM cycles c WHERE c.campaign_id = ?1 AND"
		 " c.status IN ('ok', 'violation'))", &s, "cannot read the findings") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, campaign);
	bind_text(s, 2, disk);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*findings = sqlite3_column_int64(s, 0);
		*verified_cycles = sqlite3_column_int64(s, 1);
	} else {
		rc = db_err(st, "cannot read the findings");
	}
	sqlite3_finalize(s);
	return rc;
}

int store_evidence_bytes(struct store *st, int64_t campaign, uint64_t *bytes)
{
	int64_t v = 0;
	int rc = get_i64(st, "SELECT COALESCE(SUM(e.bytes), 0) FROM evidence e JOIN cycles c"
			 " ON c.id = e.cycle_id WHERE c.campaign_id = ?", "cannot read the evidence",
			 campaign, NULL, &v);

	*bytes = v > 0 ? (uint64_t)v : 0;
	return rc;
}

int store_acked_blocks(struct store *st, int64_t campaign, int64_t cycle, int64_t disk,
		       uint64_t *blocks)
{
	sqlite3_stmt *s;
	int rc = 0;

	*blocks = 0;
	if (prep(st, "SELECT COUNT(DISTINCT block) FROM oracle_ack WHERE campaign = ? AND "
		 "cycle = ? AND disk = ?", &s, "cannot read the ledger") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, campaign);
	sqlite3_bind_int64(s, 2, cycle);
	sqlite3_bind_int64(s, 3, disk);
	if (sqlite3_step(s) == SQLITE_ROW)
		*blocks = (uint64_t)sqlite3_column_int64(s, 0);
	else
		rc = db_err(st, "cannot read the ledger");
	sqlite3_finalize(s);
	return rc;
}

int store_cycle_set_plan(struct store *st, int64_t cycle, const char *plan_json)
{
	return set_text(st, "UPDATE cycles SET plan_json = ? WHERE id = ?",
			"cannot store the cycle's plan", plan_json, cycle);
}

int store_cycle_set_step(struct store *st, int64_t cycle, const char *step)
{
	return set_text(st, "UPDATE cycles SET step = ? WHERE id = ?",
			"cannot store the cycle's step", step, cycle);
}

int store_cycle_set_overhead(struct store *st, int64_t cycle, int64_t overhead_ns)
{
	sqlite3_stmt *s;

	if (prep(st, "UPDATE cycles SET overhead_ns = ? WHERE id = ?", &s,
		 "cannot store the cycle's overhead") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, overhead_ns);
	sqlite3_bind_int64(s, 2, cycle);
	return step_done(st, s, "cannot store the cycle's overhead", NULL);
}

/* store_cycles_interrupt's statements after the step file's: (campaign) each. */
static const char *const interrupt_sql[] = {
	"UPDATE cycles SET step = 'start' WHERE campaign_id = ?1 AND status = 'running' AND "
	"step IS NULL",
	NULL,	/* fn sees the running cycles here */
	"DELETE FROM cut_events WHERE cycle_id IN (SELECT id FROM cycles WHERE campaign_id = ?1"
	" AND status = 'running')",
	"DELETE FROM checks WHERE cycle_id IN (SELECT id FROM cycles WHERE campaign_id = ?1"
	" AND status = 'running')",
	"DELETE FROM findings WHERE cycle_id IN (SELECT id FROM cycles WHERE campaign_id = ?1"
	" AND status = 'running')",
	"DELETE FROM evidence WHERE cycle_id IN (SELECT id FROM cycles WHERE campaign_id = ?1"
	" AND status = 'running')",
	"UPDATE cycles SET status = 'interrupted' WHERE campaign_id = ?1 AND status = 'running'",
};

static int interrupt_show(struct store *st, int64_t campaign,
			  void (*fn)(void *arg, int64_t idx, const char *step), void *arg)
{
	sqlite3_stmt *s;
	int r;

	if (prep(st, "SELECT idx, step FROM cycles WHERE campaign_id = ? AND status = 'running'",
		 &s, "cannot read the cycles") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, campaign);
	while ((r = sqlite3_step(s)) == SQLITE_ROW)
		if (fn)
			fn(arg, sqlite3_column_int64(s, 0), sqlite3_column_text(s, 1) ?
			   (const char *)sqlite3_column_text(s, 1) : "start");
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : db_err(st, "cannot read the cycles");
}

int store_cycles_interrupt(struct store *st, int64_t campaign, int64_t step_cycle,
			   const char *step_step,
			   void (*fn)(void *arg, int64_t idx, const char *step), void *arg)
{
	const char *what = "cannot mark the interrupted cycle";
	sqlite3_stmt *s;
	int rc;

	if (store_begin(st) < 0)
		return -EIO;
	rc = step_cycle && step_step ?
	     set_text(st, "UPDATE cycles SET step = ? WHERE id = ? AND status = 'running'", what,
		      step_step, step_cycle) : 0;
	for (size_t i = 0; rc == 0 && i < sizeof(interrupt_sql) / sizeof(*interrupt_sql); i++) {
		if (!interrupt_sql[i]) {
			rc = interrupt_show(st, campaign, fn, arg);
			continue;
		}
		if ((rc = prep(st, interrupt_sql[i], &s, what)) < 0)
			break;
		sqlite3_bind_int64(s, 1, campaign);
		rc = step_done(st, s, what, NULL);
	}
	if (rc < 0) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st);
}

int store_cycle_step_insert(struct store *st, const struct store_cycle_step *c)
{
	sqlite3_stmt *s;

	if (prep(st, "INSERT INTO cycle_steps (cycle_id, seq, step, arg, started_mono_ns, "
		 "ended_mono_ns, result, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &s,
		 "cannot store the cycle's steps") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, c->cycle);
	sqlite3_bind_int64(s, 2, c->seq);
	bind_text(s, 3, c->step);
	bind_text(s, 4, c->arg);
	sqlite3_bind_int64(s, 5, c->started_mono_ns);
	sqlite3_bind_int64(s, 6, c->ended_mono_ns);
	bind_text(s, 7, c->result);
	bind_text(s, 8, c->detail_json);
	return step_done(st, s, "cannot store the cycle's steps", NULL);
}

int store_evidence_insert(struct store *st, int64_t cycle, const char *disk, const char *kind,
			  const char *path, uint64_t bytes)
{
	sqlite3_stmt *s;

	if (prep(st, "INSERT INTO evidence (cycle_id, disk, kind, path, bytes) VALUES "
		 "(?, ?, ?, ?, ?)", &s, "cannot store the evidence") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, cycle);
	bind_text(s, 2, disk);
	bind_text(s, 3, kind);
	bind_text(s, 4, path);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)bytes);
	return step_done(st, s, "cannot store the evidence", NULL);
}

/* ---- One cycle's story (powercut show) ---- */

/* Rows of a statement as JSON objects named by column (JSON text columns parsed). */
static json_t *rows(sqlite3 *db, const char *sql, int64_t a, int64_t b, int64_t c, bool one)
{
	sqlite3_stmt *s;
	json_t *arr = json_array();

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		pc_err(LOG_DB, "cannot read the database: %s", sqlite3_errmsg(db));
		json_decref(arr);
		return NULL;
	}
	int np = sqlite3_bind_parameter_count(s);
	if (np >= 1) sqlite3_bind_int64(s, 1, a);
	if (np >= 2) sqlite3_bind_int64(s, 2, b);
	if (np >= 3) sqlite3_bind_int64(s, 3, c);
	while (sqlite3_step(s) == SQLITE_ROW) {
		json_t *o = json_object();
		for (int i = 0; i < sqlite3_column_count(s); i++) {
			const char *name = sqlite3_column_name(s, i);
			json_t *v;
			switch (sqlite3_column_type(s, i)) {
			case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(s, i)); break;
			case SQLITE_FLOAT: v = json_real(sqlite3_column_double(s, i)); break;
			case SQLITE_NULL: v = json_null(); break;
			default: {
				const char *t = (const char *)sqlite3_column_text(s, i);
				size_t l = strlen(name);
				v = l > 5 && !strcmp(name + l - 5, "_json") ? json_loads(t, 0, NULL) : NULL;
				if (!v)
					v = json_string(t);
			}
			}
			json_object_set_new(o, name, v);
		}
		json_array_append_new(arr, o);
	}
	sqlite3_finalize(s);
	if (one) {
		json_t *o = json_incref(json_array_get(arr, 0));
		json_decref(arr);
		return o ? o : json_null();
	}
	return arr;
}

int store_cycle_find(struct store *st, int64_t campaign, int64_t idx, int64_t *id)
{
	sqlite3_stmt *s;
	int rc = -ENOENT, r;

	if (prep(st, "SELECT id FROM cycles WHERE campaign_id = ? AND idx = ?", &s,
		 "cannot read the cycles") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, campaign);
	sqlite3_bind_int64(s, 2, idx);
	if ((r = sqlite3_step(s)) == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0), rc = 0;
	else if (r != SQLITE_DONE)
		rc = db_err(st, "cannot read the cycles");
	sqlite3_finalize(s);
	return rc;
}

json_t *store_cycle_story(struct store *st, int64_t cycle)
{
	sqlite3 *db = st->db;
	json_t *cy = rows(db, "SELECT * FROM cycles WHERE id = ?", cycle, 0, 0, true);

	if (!json_is_object(cy)) {
		errno = cy ? ENOENT : EIO;
		json_decref(cy);
		return NULL;
	}
	int64_t camp = json_integer_value(json_object_get(cy, "campaign_id"));
	int64_t t0 = json_integer_value(json_object_get(cy, "started_mono_ns"));
	int64_t t1 = json_integer_value(json_object_get(cy, "finished_mono_ns"));
	json_t *j = json_object();
	json_object_set_new(j, "campaign", rows(db, "SELECT id, bench, config_hash, status, "
		"controls, message, versions_json, run_json FROM campaigns WHERE id = ?", camp, 0, 0, true));
	json_object_set_new(j, "cycle", cy);
	json_object_set_new(j, "cut", rows(db, "SELECT * FROM cut_events WHERE cycle_id = ? ORDER BY "
					   "id LIMIT 1", cycle, 0, 0, true));
	json_t *has = rows(db, "SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'cycle_steps'",
			   0, 0, 0, true);
	if (json_integer_value(json_object_get(has, "n")))
		json_object_set_new(j, "steps", rows(db, "SELECT seq, step, arg, started_mono_ns, "
			"ended_mono_ns, result, detail_json FROM cycle_steps WHERE cycle_id = ? ORDER BY "
			"seq", cycle, 0, 0, false));
	json_decref(has);
	json_object_set_new(j, "cuts", rows(db, "SELECT * FROM cut_events WHERE cycle_id = ? ORDER BY "
					    "id", cycle, 0, 0, false));
	json_object_set_new(j, "events", rows(db, "SELECT wall_ns, mono_ns, level, category, message "
		"FROM events WHERE campaign_id = ? AND mono_ns >= ? AND mono_ns <= ? ORDER BY id", camp,
		t0, t1 ? t1 : INT64_MAX, false));
	json_object_set_new(j, "checks", rows(db, "SELECT disk, kind, result, detail_json FROM checks "
					      "WHERE cycle_id = ? ORDER BY id", cycle, 0, 0, false));
	json_object_set_new(j, "findings", rows(db, "SELECT disk, class, detail_json, since_flush_ns "
		"FROM findings WHERE cycle_id = ? AND block = -1 ORDER BY disk, class", cycle, 0, 0, false));
	json_object_set_new(j, "evidence", rows(db, "SELECT disk, kind, path, bytes FROM evidence "
					       "WHERE cycle_id = ? ORDER BY id", cycle, 0, 0, false));
	return j;
}

/* ---- The ledger's sessions ---- */

int store_session_campaign(struct store *st, int64_t cycle, int64_t *campaign)
{
	return get_i64(st, "SELECT MAX(campaign) FROM oracle_session WHERE cycle = ?",
		       "cannot read the ledger", cycle, NULL, campaign);
}

int store_session_find(struct store *st, int64_t campaign, int64_t cycle, int64_t disk,
		       bool by_phase, int64_t phase, struct store_session *ss)
{
	sqlite3_stmt *s;
	int rc = -ENOENT, r;

	if (prep(st, "SELECT seed, block_size, span_blocks FROM oracle_session WHERE campaign = ?1"
		 " AND cycle = ?2 AND disk = ?3 AND (?4 IS NULL OR phase = ?4) ORDER BY id LIMIT 1",
		 &s, "cannot read the ledger") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, campaign);
	sqlite3_bind_int64(s, 2, cycle);
	sqlite3_bind_int64(s, 3, disk);
	if (by_phase)
		sqlite3_bind_int64(s, 4, phase);
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		ss->seed = (uint64_t)sqlite3_column_int64(s, 0);
		ss->block_size = (uint64_t)sqlite3_column_int64(s, 1);
		ss->span_blocks = (uint64_t)sqlite3_column_int64(s, 2);
		rc = 0;
	} else if (r != SQLITE_DONE) {
		rc = db_err(st, "cannot read the ledger");
	}
	sqlite3_finalize(s);
	return rc;
}
