/* The campaign database: see store.h. */
#include "store.h"
#include "ledger_schema.h"

#include <errno.h>
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
};
const int store_n_migrations = sizeof(store_migrations) / sizeof(store_migrations[0]);

struct store {
	sqlite3 *db;
	char *path;
	int64_t campaign;
	sqlite3_stmt *ev_stmt;	/* the log sink's statement, prepared once */
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

static int64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int store_campaign_insert(struct store *st, const struct store_campaign *c, int64_t *id)
{
	sqlite3_stmt *s;

	if (prep(st, "INSERT INTO campaigns (created_wall_ns, created_mono_ns, bench, "
		 "config_text, config_json, config_hash, versions_json) "
		 "VALUES (?, ?, ?, ?, ?, ?, ?)", &s, "cannot insert campaign") < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, now_ns(CLOCK_REALTIME));
	sqlite3_bind_int64(s, 2, now_ns(CLOCK_MONOTONIC));
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
	sqlite3_bind_int64(s, 2, now_ns(CLOCK_REALTIME));
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
	sqlite3_bind_int64(s, 5, now_ns(CLOCK_REALTIME));
	return step_done(st, s, "cannot insert cycle", id);
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
	store_event_insert(ctx, wall_ns, mono_ns, level, cat, msg);
}
