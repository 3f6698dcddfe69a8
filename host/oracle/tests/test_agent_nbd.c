/* The NBD build of the agent against a qemu-storage-daemon export (raw, cache.direct):
 * writes with FUA and with a flush policy stream to the ledger, the check report is
 * classified with nothing lost, and FUA writes count as flushed. Then a process kill of
 * the storage daemon during unflushed writes on a raw image: raw keeps every
 * acknowledged write (DESIGN.md, "Two kinds of cut"), so still nothing is lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_setup.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "child.h"
#include "clock.h"
#include "ledger.h"
#include "ledger_schema.h"
#include "log.h"
#include "verify.h"

#define CAMPAIGN 77
#define TOKEN "nbd-token"

static char agent[PATH_MAX], dir[256], db_path[300], img[300], sock[300], report[300], uri[400];
static struct child qsd;
static char blockdev[600], nbdsrv[400];
static const char *qsd_argv[] = { "qemu-storage-daemon", "--blockdev", blockdev,
				  "--blockdev", "driver=raw,node-name=disk0,file=file0",
				  "--nbd-server", nbdsrv,
				  "--export", "type=nbd,id=exp0,node-name=disk0,name=disk,writable=on", NULL };

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static void qsd_start(void)
{
	unlink(sock);
	memset(&qsd, 0, sizeof(qsd));
	qsd.argv = qsd_argv;
	qsd.in = CHILD_NULL;
	qsd.out = CHILD_NULL;
	qsd.err = CHILD_INHERIT;
	assert_int_equal(child_start(&qsd), 0);
	for (int i = 0; i < 500 && access(sock, F_OK); i++)
		sleep_ms(10);
	assert_int_equal(access(sock, F_OK), 0);
}

static void qsd_stop(int sig)
{
	int st;
	child_kill(&qsd, sig);
	child_finish(&qsd, 5000, &st);
}

static void run(const char *const argv[], int want_exit)
{
	struct child_result r;
	assert_int_equal(child_run(argv, NULL, 60000, &r), 0);
	if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != want_exit)
		fail_msg("'%s %s' failed: %s", argv[0], argv[1], r.err);
	child_result_release(&r);
}

static void check_and_verify(sqlite3 *db, const char *cycle, struct oracle_verify_result *res)
{
	const char *argv[] = { agent, "check", uri, "--campaign", "77", "--cycle", cycle,
			       "--span-mib", "16", "--output", report, NULL };
	run(argv, 0);
	FILE *f = fopen(report, "r");
	assert_non_null(f);
	assert_int_equal(oracle_verify(db, CAMPAIGN, (uint32_t)atoi(cycle), 0, f, 0, true, res), 0);
	fclose(f);
}

static void test_nbd(void **state)
{
	sqlite3 *db;
	struct ledger_config cfg = { .campaign = CAMPAIGN, .token = TOKEN, .cycle = 1 };
	char port[64];
	struct oracle_verify_result res;

	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL), SQLITE_OK);
	struct ledger *l = ledger_open(&cfg, db_path);
	assert_non_null(l);
	assert_int_equal(ledger_start(l), 0);
	snprintf(port, sizeof(port), "127.0.0.1:%u", ledger_port(l));
	qsd_start();

	/* Cycle 1: FUA writes; every acknowledged write is flushed by itself. */
	const char *w1[] = { agent, "write", uri, "--campaign", "77", "--cycle", "1", "--span-mib", "16",
			     "--queue-depth", "8", "--flush", "fua", "--writes", "3000",
			     "--ledger", port, "--token", TOKEN, "--quiet", NULL };
	run(w1, 0);
	assert_int_equal(ledger_quiesce(l, 50, 5000), 0);
	check_and_verify(db, "1", &res);
	assert_int_equal(res.blocks, 4096);
	assert_int_equal(res.cycle.violations, 0);
	assert_int_equal(res.cycle.count[CLS_OK], 4096);
	assert_int_equal(res.gaps, 0);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*), SUM(flags & 1) FROM oracle_ack WHERE cycle = 1",
					    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 3000);
	assert_int_equal(sqlite3_column_int64(st, 1), 3000);
	sqlite3_finalize(st);

	/* Cycle 2: the alloc pattern with timed flushes, stopped by SIGTERM: it finishes
	 * what is in flight and sends END. */
	ledger_set_cycle(l, 2);
	const char *w2[] = { agent, "write", uri, "--campaign", "77", "--cycle", "2", "--span-mib", "16",
			     "--pattern", "alloc", "--flush", "every-ms:20", "--ledger", port,
			     "--token", TOKEN, "--quiet", NULL };
	struct child a = { .argv = w2, .in = CHILD_NULL, .out = CHILD_NULL, .err = CHILD_INHERIT };
	assert_int_equal(child_start(&a), 0);
	sleep_ms(700);
	int status;
	child_kill(&a, SIGTERM);
	assert_int_equal(child_finish(&a, 10000, &status), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(ledger_quiesce(l, 50, 5000), 0);
	check_and_verify(db, "2", &res);
	assert_int_equal(res.cycle.violations, 0);
	assert_int_equal(res.cycle.count[CLS_OK], 4096);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT end_reason FROM oracle_session WHERE cycle = 2",
					    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);	/* stopped by a signal */
	sqlite3_finalize(st);

	/* Cycle 3: kill -9 of the storage daemon under unflushed writes; raw loses nothing
	 * acknowledged. The agent sees its export vanish and ends with an error. */
	ledger_set_cycle(l, 3);
	const char *w3[] = { agent, "write", uri, "--campaign", "77", "--cycle", "3", "--span-mib", "16",
			     "--flush", "never", "--ledger", port, "--token", TOKEN, "--quiet", NULL };
	struct child b = { .argv = w3, .in = CHILD_NULL, .out = CHILD_NULL, .err = CHILD_NULL };
	assert_int_equal(child_start(&b), 0);
	struct ledger_stats ls0, ls;
	ledger_get_stats(l, &ls0);
	int64_t t0 = clock_mono_ns();
	do {
		sleep_ms(10);
		ledger_get_stats(l, &ls);
	} while (ls.acks < ls0.acks + 2000 && clock_mono_ns() - t0 < 20000000000LL);
	int64_t cut = clock_mono_ns();
	qsd_stop(SIGKILL);
	assert_int_equal(child_finish(&b, 10000, &status), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	assert_int_equal(ledger_quiesce(l, 50, 5000), 0);
	qsd_start();
	check_and_verify(db, "3", &res);
	(void)cut;
	assert_int_equal(res.cycle.violations, 0);
	assert_int_equal(res.cycle.count[CLS_UNFLUSHED_LOST_OLDER] + res.cycle.count[CLS_UNFLUSHED_LOST_ZERO], 0);
	assert_true(res.cycle.count[CLS_OK] + res.cycle.count[CLS_INFLIGHT_PERSISTED] == 4096);
	qsd_stop(SIGTERM);
	ledger_free(l);
	sqlite3_close(db);
}

#include "agent_refusals.h"

/* The NBD build fails the same way on what the ledger refuses. */
static void test_nbd_ledger_refusals(void **state)
{
	qsd_start();
	refusals_test(agent, uri, db_path, CAMPAIGN, TOKEN);
	qsd_stop(SIGTERM);
}

static int setup(void **state)
{
	agent_test_find("powercut-agent-nbd", agent, sizeof(agent));
	const char *probe[] = { "qemu-storage-daemon", "--version", NULL };
	struct child_result r;
	if (child_run(probe, NULL, 10000, &r) == -ENOENT) {
		child_result_release(&r);
		printf("skip: qemu-storage-daemon not found\n");
		exit(77);
	}
	child_result_release(&r);
	agent_test_dir("pc-agent-nbd", dir, sizeof(dir));
	snprintf(db_path, sizeof(db_path), "%s/campaign.db", dir);
	snprintf(img, sizeof(img), "%s/disk.raw", dir);
	snprintf(sock, sizeof(sock), "%s/nbd.sock", dir);
	snprintf(report, sizeof(report), "%s/check.jsonl", dir);
	snprintf(uri, sizeof(uri), "nbd+unix:///disk?socket=%s", sock);
	snprintf(blockdev, sizeof(blockdev), "driver=file,node-name=file0,filename=%s,cache.direct=on", img);
	snprintf(nbdsrv, sizeof(nbdsrv), "addr.type=unix,addr.path=%s", sock);
	const char *mk[] = { "qemu-img", "create", "-q", "-f", "raw", img, "16M", NULL };
	assert_int_equal(child_run(mk, NULL, 30000, &r), 0);
	child_result_release(&r);
	return 0;
}

static int teardown(void **state)
{
	char p[400];
	const char *files[] = { "campaign.db", "campaign.db-wal", "campaign.db-shm", "disk.raw",
				"nbd.sock", "check.jsonl" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nbd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nbd_ledger_refusals, setup, teardown),
	};
	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
