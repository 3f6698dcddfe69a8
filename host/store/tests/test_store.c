/* Tests of the store: migrations, version checks, inserts, and a writer killed with
 * SIGKILL mid-transaction leaving an intact database with every committed row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

static char dir[256];

static int setup(void **state)
{
	const char *t = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/pc-store-XXXXXX", t && *t ? t : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	const char *argv[] = { "rm", "-rf", dir, NULL };
	pid_t p = fork();

	if (p == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	waitpid(p, NULL, 0);
	return 0;
}

static char *db_path(const char *name)
{
	static char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static int64_t query_i64(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void test_migrate_and_versions(void **state)
{
	char *p = db_path("m.db");
	struct store *st;

	/* Missing file without STORE_CREATE. */
	assert_null(store_open(p, STORE_MIGRATE));
	assert_int_equal(errno, ENOENT);
	/* A database at version 0 without STORE_MIGRATE is refused. */
	st = store_open(p, STORE_CREATE);
	assert_null(st);
	assert_int_equal(errno, EPROTO);
	st = store_open(p, STORE_CREATE | STORE_MIGRATE);
	assert_non_null(st);
	assert_int_equal(store_schema_version(st), store_n_migrations);
	int applied = -1;
	assert_int_equal(store_migrate(st, &applied), 0);
	assert_int_equal(applied, 0);
	sqlite3 *db = store_db(st);
	assert_int_equal(query_i64(db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(query_i64(db, "PRAGMA synchronous"), 2);	/* FULL */
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	/* A schema newer than this program is refused. */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
	store_close(st);
	assert_null(store_open(p, STORE_MIGRATE));
	assert_int_equal(errno, EPROTO);
}

static void test_inserts_and_foreign_keys(void **state)
{
	struct store *st = store_open(db_path("i.db"), STORE_CREATE | STORE_MIGRATE);
	struct store_campaign c = { "sim", "[bench]\n", "{}", "abc", "{\"powercut\":\"0\"}" };
	int64_t camp, cyc, cut;

	assert_non_null(st);
	assert_int_equal(store_campaign_insert(st, &c, &camp), 0);
	assert_int_equal(store_cycle_insert(st, camp, 0, "running", 123, &cyc), 0);
	struct store_cut k = { .cycle = cyc, .channel = 0, .kind = "power", .timed_by = "firmware",
			       .actual_mono_ns = 1000, .uncertainty_ns = 50, .hold_up_ns = 18000000 };
	assert_int_equal(store_cut_insert(st, &k, &cut), 0);
	k.timed_by = "nobody";	/* CHECK constraint */
	assert_int_equal(store_cut_insert(st, &k, NULL), -EIO);
	assert_int_equal(store_check_insert(st, cyc, "qcow2", "qemu-img", "ok", "{}"), 0);
	assert_int_equal(store_finding_insert(st, cyc, "qcow2", 7, "unflushed-lost", "{}", 5), 0);
	/* A finding for a cycle that does not exist violates the foreign key. */
	assert_int_equal(store_finding_insert(st, cyc + 100, "qcow2", 7, "x", NULL, 0), -EIO);
	store_set_campaign(st, camp);
	log_set_sink(store_log_sink, st);
	log_msg(LOG_INFO, LOG_MAIN, "hello '%s'", "db");
	log_set_sink(NULL, NULL);
	json_t *info = store_info(st);
	json_t *counts = json_object_get(info, "counts");
	assert_int_equal(json_integer_value(json_object_get(counts, "campaigns")), 1);
	assert_int_equal(json_integer_value(json_object_get(counts, "cut_events")), 1);
	assert_int_equal(json_integer_value(json_object_get(counts, "findings")), 1);
	assert_int_equal(json_integer_value(json_object_get(counts, "events")), 1);
	assert_int_equal(json_integer_value(json_object_get(info, "schema_version")), store_n_migrations);
	json_decref(info);
	assert_int_equal(query_i64(store_db(st), "SELECT campaign_id FROM events WHERE message = 'hello ''db'''"), camp);
	assert_int_equal(query_i64(store_db(st), "SELECT hold_up_ns FROM cut_events"), 18000000);
	store_close(st);
}

/* The campaign's queries (store.h): each one's answer, and its error path where a
 * caller acts on it. */
static void test_campaign_queries(void **state)
{
	struct store *st = store_open(db_path("q.db"), STORE_CREATE | STORE_MIGRATE);
	struct store_campaign c = { "sim", "[bench]\n", "{}", "abc", NULL };
	struct store_run_row row;
	int64_t camp, c1, c2, n = -1, next = -1, f = -1, v = -1;
	uint64_t viol = 9, unfl = 9, bytes = 9;
	char tok[65];

	assert_non_null(st);
	/* Absolute, as SQLite names the file. */
	assert_true(store_path(st)[0] == '/');
	assert_non_null(strstr(store_path(st), "/q.db"));
	/* No run yet: a campaign of `powercut cycle` has no run_json. */
	assert_int_equal(store_campaign_find_run(st, 0, &row), -ENOENT);
	assert_int_equal(store_campaign_insert(st, &c, &camp), 0);
	assert_int_equal(store_campaign_find_run(st, 0, &row), -ENOENT);
	assert_int_equal(store_campaign_set_run(st, camp, "{\"seed\":1}"), 0);
	assert_int_equal(store_campaign_find_run(st, 0, &row), 0);
	assert_int_equal(row.id, camp);
	assert_string_equal(row.run_json, "{\"seed\":1}");
	assert_string_equal(row.status, "running");
	assert_string_equal(row.config_text, "[bench]\n");
	store_run_row_release(&row);
	assert_int_equal(store_campaign_find_run(st, camp + 1, &row), -ENOENT);
	/* The token is the ledger's: absent until it registered one. */
	assert_int_equal(store_campaign_token(st, camp, tok, sizeof(tok)), -ENOENT);

	assert_int_equal(store_cycle_next_index(st, camp, &next), 0);
	assert_int_equal(next, 1);
	assert_int_equal(store_cycle_insert(st, camp, 1, "running", 100, &c1), 0);
	/* UNIQUE (campaign, idx): a second attempt of plan index 1 is -EEXIST. */
	assert_int_equal(store_cycle_insert(st, camp, 1, "running", 100, &c2), -EEXIST);
	assert_int_equal(store_cycle_insert(st, camp, 2, "running", 200, &c2), 0);
	assert_int_equal(store_cycle_count(st, camp, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_cycle_next_index(st, camp, &next), 0);
	assert_int_equal(next, 3);
	assert_int_equal(store_cycle_set_plan(st, c1, "{\"index\":1}"), 0);
	assert_int_equal(store_cycle_set_overhead(st, c1, 12345), 0);
	assert_int_equal(query_i64(store_db(st), "SELECT overhead_ns FROM cycles WHERE idx = 1"), 12345);

	/* Cycle 1 is recorded: violations and unflushed losses summed per class. */
	assert_int_equal(store_finding_insert(st, c1, "d", -1, "violation", "{\"blocks\":3}", 0), 0);
	assert_int_equal(store_finding_insert(st, c1, "d", -1, "unflushed_lost_zero",
					      "{\"blocks\":4}", 0), 0);
	assert_int_equal(store_finding_insert(st, c1, "d", -1, "unflushed_lost_older",
					      "{\"blocks\":5}", 0), 0);
	assert_int_equal(store_finding_insert(st, c1, "e", -1, "violation", "{\"blocks\":7}", 0), 0);
	assert_int_equal(store_cycle_finish(st, c1, "violation", 150), 0);
	assert_int_equal(store_disk_lost_blocks(st, camp, "d", &viol, &unfl), 0);
	assert_int_equal(viol, 3);
	assert_int_equal(unfl, 9);
	assert_int_equal(store_disk_violations(st, camp, "d", &f, &v), 0);
	assert_int_equal(f, 1);
	assert_int_equal(v, 1);
	assert_int_equal(store_evidence_insert(st, c1, NULL, "image", "/x/y", 4096), 0);
	assert_int_equal(store_evidence_bytes(st, camp, &bytes), 0);
	assert_int_equal(bytes, 4096);
	/* Evidence of a cycle that does not exist violates the foreign key. */
	assert_int_equal(store_evidence_insert(st, c2 + 10, NULL, "image", "/x/z", 1), -EIO);
	struct store_cycle_step cs = { .cycle = c1, .seq = 1, .step = "write", .result = "ok",
				       .started_mono_ns = 1, .ended_mono_ns = 2 };
	assert_int_equal(store_cycle_step_insert(st, &cs), 0);
	assert_int_equal(query_i64(store_db(st), "SELECT COUNT(*) FROM cycle_steps WHERE arg IS NULL "
				   "AND detail_json IS NULL"), 1);
	/* powercut show: the cycle by plan index, its story. */
	int64_t id = 0;
	assert_int_equal(store_cycle_find(st, camp, 1, &id), 0);
	assert_int_equal(id, c1);
	assert_int_equal(store_cycle_find(st, camp, 9, &id), -ENOENT);
	json_t *story = store_cycle_story(st, c1);
	assert_non_null(story);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(story, "cycle"), "idx")), 1);
	/* Ordered by disk and class: d's unflushed_lost_older, _zero, violation, e's. */
	assert_int_equal(json_array_size(json_object_get(story, "findings")), 4);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(
		json_object_get(story, "findings"), 2), "detail_json"), "blocks")), 3);
	assert_int_equal(json_array_size(json_object_get(story, "evidence")), 1);
	json_decref(story);
	errno = 0;
	assert_null(store_cycle_story(st, c2 + 100));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(store_campaign_set_verdict(st, camp, "passed", "done"), 0);
	assert_int_equal(store_campaign_finish(st, camp, "done"), 0);
	assert_int_equal(store_campaign_reopen(st, camp), 0);
	assert_int_equal(query_i64(store_db(st), "SELECT COUNT(*) FROM campaigns WHERE status = "
				   "'running' AND finished_wall_ns IS NULL AND controls = 'passed'"), 1);
	store_close(st);
}

/* The ledger's sessions: the newest campaign of a cycle; a cycle's first session, of
 * its own phase when asked (a later pass under the same cycle number is not it). */
static void test_sessions(void **state)
{
	struct store *st = store_open(db_path("s.db"), STORE_CREATE | STORE_MIGRATE);
	struct store_session ss = { 0 };
	int64_t camp = 0;

	assert_non_null(st);
	assert_int_equal(store_session_campaign(st, 1, &camp), -ENOENT);
	assert_int_equal(store_session_find(st, 1, 1, 1, false, 0, &ss), -ENOENT);
	assert_int_equal(sqlite3_exec(store_db(st), "INSERT INTO oracle_session (campaign, cycle, "
		"disk, peer, block_size, span_blocks, seed, agent_hello_ns, host_hello_ns, phase) VALUES "
		"(2, 1, 1, 'a', 4096, 64, 11, 0, 0, 0), (2, 1, 1, 'b', 512, 32, 22, 0, 0, 1), "
		"(3, 1, 1, 'c', 4096, 64, 33, 0, 0, 0)", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_session_campaign(st, 1, &camp), 0);
	assert_int_equal(camp, 3);
	assert_int_equal(store_session_find(st, 2, 1, 1, false, 0, &ss), 0);
	assert_int_equal(ss.seed, 11);
	assert_int_equal(store_session_find(st, 2, 1, 1, true, 1, &ss), 0);
	assert_int_equal(ss.seed, 22);
	assert_int_equal(ss.block_size, 512);
	assert_int_equal(ss.span_blocks, 32);
	assert_int_equal(store_session_find(st, 2, 1, 1, true, 7, &ss), -ENOENT);
	store_close(st);
}

static int shown;

static void show(void *arg, int64_t idx, const char *step)
{
	assert_int_equal(idx, 2);
	assert_string_equal(step, arg);
	shown++;
}

/* A killed controller's running cycle: its step from the step file (or 'start'), its
 * partial record gone, its status interrupted; a recorded cycle is left alone. */
static void test_cycles_interrupt(void **state)
{
	struct store *st = store_open(db_path("r.db"), STORE_CREATE | STORE_MIGRATE);
	struct store_campaign c = { "sim", "[bench]\n", "{}", "abc", NULL };
	int64_t camp, c1, c2;

	assert_non_null(st);
	assert_int_equal(store_campaign_insert(st, &c, &camp), 0);
	assert_int_equal(store_cycle_insert(st, camp, 1, "ok", 100, &c1), 0);
	assert_int_equal(store_cycle_insert(st, camp, 2, "running", 200, &c2), 0);
	assert_int_equal(store_check_insert(st, c1, "d", "qemu-img", "ok", NULL), 0);
	assert_int_equal(store_check_insert(st, c2, "d", "qemu-img", "ok", NULL), 0);
	assert_int_equal(store_finding_insert(st, c2, "d", -1, "violation", NULL, 0), 0);
	/* No step stored yet: 'start'. */
	shown = 0;
	assert_int_equal(store_cycles_interrupt(st, camp, 0, NULL, show, "start"), 0);
	assert_int_equal(shown, 1);
	assert_int_equal(query_i64(store_db(st), "SELECT COUNT(*) FROM cycles WHERE status = "
				   "'interrupted' AND step = 'start' AND idx = 2"), 1);
	assert_int_equal(query_i64(store_db(st), "SELECT COUNT(*) FROM checks"), 1);
	assert_int_equal(query_i64(store_db(st), "SELECT COUNT(*) FROM findings"), 0);
	assert_int_equal(query_i64(store_db(st), "SELECT COUNT(*) FROM cycles WHERE status = 'ok'"), 1);
	/* The step file's step wins over the row's while the cycle still runs. */
	int64_t c3;
	assert_int_equal(store_cycle_insert(st, camp, 3, "running", 300, &c3), 0);
	assert_int_equal(store_cycle_set_step(st, c3, "write"), 0);
	assert_int_equal(store_cycles_interrupt(st, camp, c3, "cut", NULL, NULL), 0);
	assert_int_equal(query_i64(store_db(st), "SELECT COUNT(*) FROM cycles WHERE idx = 3 AND "
				   "step = 'cut' AND status = 'interrupted'"), 1);
	/* A step file naming a finished cycle changes nothing. */
	assert_int_equal(store_cycles_interrupt(st, camp, c1, "cut", NULL, NULL), 0);
	assert_int_equal(query_i64(store_db(st), "SELECT COUNT(*) FROM cycles WHERE step = 'cut'"), 1);
	store_close(st);
}

static void *log_elsewhere(void *arg)
{
	log_msg(LOG_INFO, LOG_MAIN, "from another thread");
	return NULL;
}

/* The store as a log watcher: its owner thread's messages, none while held, none of
 * another thread (the connection is not shared). */
static void test_log_watcher(void **state)
{
	struct store *st = store_open(db_path("l.db"), STORE_CREATE | STORE_MIGRATE);
	pthread_t th;

	assert_non_null(st);
	assert_int_equal(store_log_attach(st), 0);
	log_msg(LOG_WARN, LOG_DB, "stored");
	store_log_hold(st, true);
	log_msg(LOG_WARN, LOG_DB, "held back");
	store_log_hold(st, false);
	assert_int_equal(pthread_create(&th, NULL, log_elsewhere, NULL), 0);
	pthread_join(th, NULL);
	store_log_detach(st);
	log_msg(LOG_WARN, LOG_DB, "after detach");
	assert_int_equal(query_i64(store_db(st), "SELECT COUNT(*) FROM events"), 1);
	assert_int_equal(query_i64(store_db(st), "SELECT COUNT(*) FROM events WHERE message = "
				   "'stored' AND level = 'warn' AND category = 'db'"), 1);
	store_close(st);
}

#define ROWS_PER_TX 20

/* The writer: commits transactions of ROWS_PER_TX rows forever, reporting the number
 * of each committed transaction on fd. */
static void writer(const char *path, int fd)
{
	struct store *st = store_open(path, STORE_CREATE | STORE_MIGRATE);
	sqlite3_stmt *s;

	if (!st)
		_exit(2);
	if (sqlite3_prepare_v2(store_db(st), "INSERT INTO events (wall_ns, mono_ns, level, "
			       "category, message) VALUES (?, ?, 'info', 'main', ?)", -1, &s,
			       NULL) != SQLITE_OK)
		_exit(3);
	for (int64_t tx = 0;; tx++) {
		if (store_begin(st) < 0)
			_exit(4);
		for (int i = 0; i < ROWS_PER_TX; i++) {
			char msg[64];
			snprintf(msg, sizeof(msg), "tx %lld row %d", (long long)tx, i);
			sqlite3_bind_int64(s, 1, tx);
			sqlite3_bind_int64(s, 2, i);
			sqlite3_bind_text(s, 3, msg, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(s) != SQLITE_DONE)
				_exit(5);
			sqlite3_reset(s);
		}
		if (store_commit(st) < 0)
			_exit(6);
		if (write(fd, &tx, sizeof(tx)) != sizeof(tx))
			_exit(7);
	}
}

static void test_sigkill_writer(void **state)
{
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();

	for (int round = 0; round < 4; round++) {
		char name[32];
		int pfd[2];
		pid_t pid;
		int64_t tx, last = -1;
		int st_;

		snprintf(name, sizeof(name), "kill%d.db", round);
		char *p = db_path(name);
		assert_int_equal(pipe(pfd), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			writer(p, pfd[1]);
		}
		close(pfd[1]);
		/* Let it commit some transactions, then kill it at a random moment. */
		int want = 5 + (int)(rand_r(&seed) % 40);
		while (last < want && read(pfd[0], &tx, sizeof(tx)) == sizeof(tx))
			last = tx;
		usleep((useconds_t)(rand_r(&seed) % 3000));
		kill(pid, SIGKILL);
		/* Commits reported before the kill landed. */
		while (read(pfd[0], &tx, sizeof(tx)) == sizeof(tx))
			last = tx;
		close(pfd[0]);
		assert_int_equal(waitpid(pid, &st_, 0), pid);
		assert_true(WIFSIGNALED(st_) && WTERMSIG(st_) == SIGKILL);
		assert_true(last >= want);

		struct store *st = store_open(p, 0);
		assert_non_null(st);
		sqlite3 *db = store_db(st);
		sqlite3_stmt *s;
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
		sqlite3_finalize(s);
		int64_t rows = query_i64(db, "SELECT count(*) FROM events");
		int64_t maxtx = query_i64(db, "SELECT max(wall_ns) FROM events");
		int64_t distinct = query_i64(db, "SELECT count(DISTINCT wall_ns) FROM events");
		/* Every reported commit is there (at most one more committed but unreported),
		 * and only whole transactions. */
		assert_true(maxtx == last || maxtx == last + 1);
		assert_int_equal(rows, (maxtx + 1) * ROWS_PER_TX);
		assert_int_equal(distinct, maxtx + 1);
		store_close(st);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_and_versions),
		cmocka_unit_test(test_inserts_and_foreign_keys),
		cmocka_unit_test(test_campaign_queries),
		cmocka_unit_test(test_cycles_interrupt),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_log_watcher),
		cmocka_unit_test(test_sigkill_writer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
