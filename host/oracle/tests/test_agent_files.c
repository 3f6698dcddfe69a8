/* End to end for the files workload: the static agent writes files in a directory and
 * acknowledges every sync over ledger protocol 3 (FILESYNC), is killed with SIGKILL
 * (a process kill keeps the page cache: nothing synced may be lost), reads the
 * directory back with fscheck, and the file oracle finds nothing. Then the directory is
 * tampered with the way a file system losing synced data would (a synced file removed,
 * one truncated, one chunk rolled back to an older write) and each is found in its
 * class. The sqlite workload the same way: killed, every acknowledged commit found;
 * then rows deleted (commit_lost) and the database file damaged (database_corrupt).
 * A version 2 session sending FILESYNC is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_setup.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "child.h"
#include "clock.h"
#include "fsverify.h"
#include "ledger.h"
#include "ledger_proto.h"
#include "ledger_schema.h"
#include "log.h"

#define CAMPAIGN 5151
#define CYCLE 3
#define TOKEN "files-token"

static char agent[PATH_MAX], dir[256], db_path[300], fsdir[300], report[300];
static bool sql_mode;		/* fscheck --sqlite */

static void run_fscheck(void)
{
	char campaign[32], cycle[32], out[400];
	snprintf(campaign, sizeof(campaign), "%d", CAMPAIGN);
	snprintf(cycle, sizeof(cycle), "%d", CYCLE);
	const char *argv[] = { agent, "fscheck", fsdir, "--campaign", campaign, "--cycle", cycle,
			       "--fs", "ext4", "--fsck-tool", "e2fsck", "--fsck-rc", "0",
			       sql_mode ? "--sqlite" : NULL, NULL };
	struct child_result r;
	assert_int_equal(child_run(argv, NULL, 60000, &r), 0);
	if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
		fail_msg("agent fscheck failed: %s", r.err);
	snprintf(out, sizeof(out), "%s", report);
	FILE *f = fopen(out, "w");
	assert_non_null(f);
	fputs(r.out, f);
	fclose(f);
	child_result_release(&r);
}

/* Classify the directory against the ledger; the findings' classes, counted. */
static void classify(sqlite3 *db, struct fsv_result *res)
{
	struct fsv_ack *acks;
	size_t n;
	struct fsv_seen seen;
	run_fscheck();
	assert_int_equal(fsv_load_acks(db, CAMPAIGN, CYCLE, 0, &acks, &n), 0);
	assert_true(n > 10);
	FILE *f = fopen(report, "r");
	assert_non_null(f);
	assert_int_equal(fsv_parse_report(f, report, &seen), 0);
	fclose(f);
	assert_int_equal(fsv_classify(acks, n, &seen, res), 0);
	for (size_t i = 0; i < res->nfindings; i++)
		printf("finding: %s '%s': %s\n", fsv_class_name(res->findings[i].cls),
		       res->findings[i].name, res->findings[i].detail);
	fsv_seen_free(&seen);
	free(acks);
}

/* classify() for the sqlite workload: fscheck --sqlite. */
static void classify_sql(sqlite3 *db, struct fsv_result *res)
{
	sql_mode = true;
	classify(db, res);
	sql_mode = false;
}

/* The name of a durable file the ledger says was synced, with at least min chunks. */
static void synced_file(sqlite3 *db, int nth, int min_chunks, char *name, size_t len)
{
	sqlite3_stmt *st;
	char sql[300];
	snprintf(sql, sizeof(sql), "SELECT name FROM oracle_fileack WHERE op IN (1, 5) AND"
		 " length >= %d GROUP BY name ORDER BY name LIMIT 1 OFFSET %d", min_chunks * 512, nth);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(name, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* Open the test's database with the ledger tables, run the agent (workload and its
 * options, NULL-terminated) under a ledger until it acknowledged min_acks, kill it
 * with SIGKILL (as a power cut kills the guest's agent), stop the ledger. */
static sqlite3 *run_killed(unsigned min_acks, const char *workload, ...)
{
	sqlite3 *db;
	struct ledger_config cfg = { .campaign = CAMPAIGN, .token = TOKEN, .cycle = CYCLE };
	struct ledger *l;
	struct ledger_stats st;
	char port[64], campaign[32], cycle[32];
	const char *argv[32];
	int k = 0;
	va_list ap;

	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL), SQLITE_OK);
	assert_non_null(l = ledger_open(&cfg, db_path));
	assert_int_equal(ledger_start(l), 0);
	snprintf(port, sizeof(port), "127.0.0.1:%u", ledger_port(l));
	snprintf(campaign, sizeof(campaign), "%d", CAMPAIGN);
	snprintf(cycle, sizeof(cycle), "%d", CYCLE);
	const char *fixed[] = { agent, workload, fsdir, "--campaign", campaign, "--cycle", cycle,
				"--ledger", port, "--token", TOKEN, "--duration", "60", "--quiet" };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++)
		argv[k++] = fixed[i];
	va_start(ap, workload);
	for (const char *a; (a = va_arg(ap, const char *)) && k < 31;)
		argv[k++] = a;
	va_end(ap);
	argv[k] = NULL;
	struct child c = { .argv = argv, .in = CHILD_NULL, .out = CHILD_NULL, .err = CHILD_INHERIT };
	assert_int_equal(child_start(&c), 0);
	int64_t t0 = clock_mono_ns();
	do {
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
		ledger_get_stats(l, &st);
	} while (st.acks < min_acks && clock_mono_ns() - t0 < 30000000000LL);
	assert_true(st.acks >= min_acks);
	assert_int_equal(child_kill(&c, SIGKILL), 0);
	int status;
	child_finish(&c, 10000, &status);
	assert_int_equal(ledger_quiesce(l, 100, 5000), 0);
	ledger_free(l);
	return db;
}

static void test_files_kill_tamper(void **state)
{
	char path[400], name[64];
	sqlite3 *db = run_killed(300, "files", "--sync", "mixed", "--files", "8", NULL);

	/* 1. A process kill loses nothing. */
	struct fsv_result res;
	classify(db, &res);
	assert_true(res.names >= 8);
	assert_int_equal(res.violations, 0);
	fsv_result_free(&res);

	/* 2. A synced file removed: lost. */
	synced_file(db, 0, 1, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", fsdir, name);
	assert_int_equal(unlink(path), 0);
	classify(db, &res);
	assert_int_equal(res.counts[FSV_FILE_LOST], 1);
	assert_int_equal(res.violations, 1);
	fsv_result_free(&res);

	/* 3. Another truncated to nothing: damaged. */
	synced_file(db, 1, 1, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", fsdir, name);
	assert_int_equal(truncate(path, 0), 0);
	classify(db, &res);
	assert_int_equal(res.counts[FSV_FILE_LOST], 1);
	assert_int_equal(res.counts[FSV_FILE_DAMAGED], 1);
	fsv_result_free(&res);

	/* 4. A byte of a third flipped: damaged (garbage chunk). */
	synced_file(db, 2, 1, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", fsdir, name);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	unsigned char b;
	assert_int_equal(pread(fd, &b, 1, 100), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, 100), 1);
	close(fd);
	classify(db, &res);
	assert_int_equal(res.counts[FSV_FILE_DAMAGED], 2);
	assert_int_equal(res.violations, 3);
	fsv_result_free(&res);
	sqlite3_close(db);
}


static int sql_findings(sqlite3 *db, enum fsv_class cls)
{
	struct fsv_result res;
	classify_sql(db, &res);
	int n = (int)res.counts[cls];
	fsv_result_free(&res);
	return n;
}

static void test_sqlite_kill_tamper(void **state)
{
	char path[400];
	sqlite3 *db = run_killed(200, "sqlite", "--sql-journal", "wal", "--sql-sync", "full", NULL);

	/* 1. A process kill loses no commit; the WAL is recovered on the copy. */
	struct fsv_result res;
	classify_sql(db, &res);
	assert_true(res.commits >= 200);
	assert_int_equal(res.violations, 0);
	fsv_result_free(&res);

	/* 2. Acknowledged commits deleted (in the middle: a hole): commit_lost. */
	sqlite3 *t;
	snprintf(path, sizeof(path), "%s/pc.db", fsdir);
	assert_int_equal(sqlite3_open(path, &t), SQLITE_OK);
	assert_int_equal(sqlite3_exec(t, "DELETE FROM t WHERE id BETWEEN 50 AND 60", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(t);
	assert_int_equal(sql_findings(db, FSV_COMMIT_LOST), 1);

	/* 3. The database file's header damaged: database_corrupt. */
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "garbage garbage!", 16, 0), 16);
	close(fd);
	assert_int_equal(sql_findings(db, FSV_DB_CORRUPT), 1);
	sqlite3_close(db);
}

/* A version 2 agent has no FILESYNC: the host refuses it as an unknown frame. */
static void test_filesync_needs_v3(void **state)
{
	struct ledger_config cfg = { .campaign = CAMPAIGN, .token = TOKEN, .cycle = CYCLE };
	sqlite3 *db;
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL), SQLITE_OK);
	struct ledger *l = ledger_open(&cfg, db_path);
	assert_non_null(l);
	assert_int_equal(ledger_start(l), 0);
	for (int ver = 2; ver <= 3; ver++) {
		unsigned char buf[512], *p;
		size_t tl = strlen(TOKEN), n = 0;
		p = lp_frame(buf, LEDGER_HELLO, (uint32_t)(LEDGER_HELLO_FIXED + tl));
		lp_put16(p, (uint16_t)ver);
		lp_put16(p + 2, (uint16_t)tl);
		memcpy(p + 4, TOKEN, tl);
		p += 4 + tl;
		memset(p, 0, 44);
		lp_put64(p, CAMPAIGN);
		lp_put32(p + 8, CYCLE);
		lp_put32(p + 16, 512);
		n = (size_t)(p + 44 - buf);
		p = lp_frame(buf + n, LEDGER_FILESYNC, LEDGER_FILESYNC_FIXED + 5);
		memset(p, 0, LEDGER_FILESYNC_FIXED + 5);
		lp_put32(p, CYCLE);
		lp_put64(p + 4, 1);
		p[12] = FS_OP_CREATE;
		p[13] = FS_SYNC_FSYNC;
		p[14] = 1;
		lp_put16(p + LEDGER_FILESYNC_FIXED - 2, 5);
		memcpy(p + LEDGER_FILESYNC_FIXED, "f0001", 5);
		n += 5 + LEDGER_FILESYNC_FIXED + 5;

		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(ledger_port(l)) };
		sa.sin_addr.s_addr = htonl(0x7f000001);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(write(fd, buf, n), (ssize_t)n);
		/* ACCEPT, then (version 2) a REJECT naming the frame */
		unsigned char in[512];
		size_t got = 0;
		int64_t t0 = clock_mono_ns();
		while (got < 5 + LEDGER_ACCEPT_SIZE + 5 + LEDGER_REJECT_FIXED && clock_mono_ns() - t0 < 5000000000LL) {
			ssize_t r = recv(fd, in + got, sizeof(in) - got, MSG_DONTWAIT);
			if (r == 0)
				break;
			if (r > 0)
				got += (size_t)r;
			else
				usleep(10000);
			if (ver == 3 && got >= 5 + LEDGER_ACCEPT_SIZE)
				break;
		}
		assert_true(got >= 5 + LEDGER_ACCEPT_SIZE);
		assert_int_equal(in[4], LEDGER_ACCEPT);
		if (ver == 2) {
			assert_true(got > 9 + LEDGER_ACCEPT_SIZE);
			assert_int_equal(in[5 + LEDGER_ACCEPT_SIZE + 4], LEDGER_REJECT);
		}
		close(fd);
	}
	assert_int_equal(ledger_quiesce(l, 100, 5000), 0);
	ledger_free(l);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM oracle_fileack", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);	/* only version 3's */
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static int setup(void **state)
{
	agent_test_find("powercut-agent", agent, sizeof(agent));
	agent_test_dir("pc-files", dir, sizeof(dir));
	snprintf(db_path, sizeof(db_path), "%s/campaign.db", dir);
	snprintf(fsdir, sizeof(fsdir), "%s/fs", dir);
	snprintf(report, sizeof(report), "%s/fscheck.jsonl", dir);
	assert_int_equal(mkdir(fsdir, 0755), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];
	/* only what setup made, under the test's own mkdtemp directory */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_files_kill_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_kill_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filesync_needs_v3, setup, teardown),
	};
	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
