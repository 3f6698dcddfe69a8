/* End to end on a file target: the static agent writes with flushes and streams to a
 * ledger, is killed with SIGKILL, checks; the classifier must find nothing lost (a
 * process kill keeps the page cache). Then the file is tampered with (a block zeroed, a
 * byte corrupted, a block copied over another, blocks rolled back to the baseline) and
 * each block must be classified as docs/oracle.md says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_setup.h"

#include <errno.h>
#include <fcntl.h>
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
#include "record.h"
#include "verify.h"

#define CAMPAIGN 4242
#define TOKEN "e2e-token"
#define BS 4096
#define SPAN_MIB 8

static int CYCLE = 1;
static char agent[PATH_MAX], dir[256], db_path[300], img[300], report[300];

static int64_t q1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void run_check(void)
{
	char campaign[32], cycle[32], span[32];
	snprintf(campaign, sizeof(campaign), "%d", CAMPAIGN);
	snprintf(cycle, sizeof(cycle), "%d", CYCLE);
	snprintf(span, sizeof(span), "%d", SPAN_MIB);
	const char *argv[] = { agent, "check", img, "--campaign", campaign, "--cycle", cycle,
			       "--span-mib", span, "--output", report, NULL };
	struct child_result r;
	assert_int_equal(child_run(argv, NULL, 60000, &r), 0);
	if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
		fail_msg("agent check failed: %s", r.err);
	child_result_release(&r);
}

static void verify(sqlite3 *db, int64_t cut, struct oracle_verify_result *res)
{
	FILE *f = fopen(report, "r");
	assert_non_null(f);
	assert_int_equal(oracle_verify(db, CAMPAIGN, CYCLE, 0, f, cut, true, res), 0);
	fclose(f);
}

static const char *class_of(sqlite3 *db, int64_t block)
{
	static char cls[64];
	char sql[200];
	sqlite3_stmt *st;
	snprintf(sql, sizeof(sql), "SELECT class FROM oracle_check WHERE cycle = %d AND block = %lld",
		 CYCLE, (long long)block);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	strcpy(cls, sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : "ok");
	sqlite3_finalize(st);
	return cls;
}

struct seen {
	int n, violations;
};

static int on_finding(void *ctx, const struct cls_block *b, const char *detail, int64_t since)
{
	struct seen *s = ctx;
	json_error_t e;
	json_t *o = json_loads(detail, 0, &e);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "class")), cls_class_name(b->cls));
	assert_int_equal(json_is_true(json_object_get(o, "violation")), b->violation);
	json_decref(o);
	s->n++;
	s->violations += b->violation;
	return 0;
}

static void pwrite_block(int fd, int64_t block, const void *buf)
{
	assert_int_equal(pwrite(fd, buf, BS, (off_t)block * BS), BS);
}

/* Overwrite block with its generation-0 record: a rollback to the baseline. */
static void rollback(int fd, int64_t block)
{
	unsigned char buf[BS];
	struct rec_id id = { .campaign = CAMPAIGN, .cycle = CYCLE, .block = (uint64_t)block,
			     .gen = 0, .spb = BS / 512 };
	rec_encode_block(buf, &id, CAMPAIGN);
	pwrite_block(fd, block, buf);
}

static void test_kill_check_tamper(void **state)
{
	sqlite3 *db;
	struct ledger_config cfg = { .campaign = CAMPAIGN, .token = TOKEN, .cycle = CYCLE };
	struct ledger *l;
	struct ledger_stats st;
	char port[64], campaign[32], cycle[32], span[32];

	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL), SQLITE_OK);
	l = ledger_open(&cfg, db_path);
	assert_non_null(l);
	assert_int_equal(ledger_start(l), 0);

	snprintf(port, sizeof(port), "127.0.0.1:%u", ledger_port(l));
	snprintf(campaign, sizeof(campaign), "%d", CAMPAIGN);
	snprintf(cycle, sizeof(cycle), "%d", CYCLE);
	snprintf(span, sizeof(span), "%d", SPAN_MIB);
	const char *argv[] = { agent, "write", img, "--campaign", campaign, "--cycle", cycle,
			       "--span-mib", span, "--block-size", "4096", "--queue-depth", "4",
			       "--flush", "every-n:50", "--ledger", port, "--token", TOKEN,
			       "--duration", "60", "--quiet", NULL };
	struct child c = { .argv = argv, .in = CHILD_NULL, .out = CHILD_NULL, .err = CHILD_INHERIT };
	assert_int_equal(child_start(&c), 0);
	int64_t t0 = clock_mono_ns();
	do {
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
		ledger_get_stats(l, &st);
	} while (st.acks < 3000 && clock_mono_ns() - t0 < 30000000000LL);
	assert_true(st.acks >= 3000);
	int64_t cut = clock_mono_ns();
	assert_int_equal(child_kill(&c, SIGKILL), 0);
	int status;
	child_finish(&c, 10000, &status);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(ledger_quiesce(l, 100, 5000), 0);
	ledger_free(l);

	/* 1. A process kill loses nothing on a plain file. */
	struct oracle_verify_result res;
	run_check();
	verify(db, cut, &res);
	printf("after kill: blocks %llu ok %llu inflight %llu flushes %lld since_flush %.3f ms\n",
	       (unsigned long long)res.blocks, (unsigned long long)res.cycle.count[CLS_OK],
	       (unsigned long long)res.cycle.count[CLS_INFLIGHT_PERSISTED],
	       (long long)q1(db, "SELECT COUNT(*) FROM oracle_flush"), res.cycle.since_flush_ns / 1e6);
	assert_int_equal(res.blocks, SPAN_MIB * 1048576 / BS);
	assert_int_equal(res.cycle.violations, 0);
	assert_int_equal(res.cycle.count[CLS_OK] + res.cycle.count[CLS_INFLIGHT_PERSISTED], res.blocks);
	assert_int_equal(res.cycle.anomalies, 0);
	assert_true(res.cycle.have_flush);
	/* Receive times lag the agent by the batching delay, so a flush completed just
	 * before the cut may be received just after it. */
	assert_true(res.cycle.since_flush_ns > -100000000LL && res.cycle.since_flush_ns < 60000000000LL);
	assert_true(q1(db, "SELECT COUNT(*) FROM oracle_baseline") == 1);

	/* The campaign prunes a cycle after its record (cycle.c); the next cycle is
	 * classified from its own rows only, so everything below must still hold. */
	int64_t acks1 = q1(db, "SELECT COUNT(*) FROM oracle_ack WHERE cycle = 1");
	assert_int_equal(ledger_prune(db, CAMPAIGN, CYCLE, 0), acks1);
	assert_int_equal(q1(db, "SELECT COUNT(*) FROM oracle_ack WHERE cycle = 1"), 0);
	assert_int_equal(q1(db, "SELECT SUM(writes) FROM oracle_block_summary WHERE cycle = 1"), acks1);

	/* 2. Cycle 2: 1050 writes with a flush every 100, ending normally, so the last
	 * ~50 writes are unflushed. Then tamper. Candidates for rollbacks come from the
	 * ledger: every write of a block covered by a flush (F = A >= 1), or none covered
	 * (F = 0, the baseline). */
	CYCLE = 2;
	cfg.cycle = 2;
	snprintf(cycle, sizeof(cycle), "%d", CYCLE);
	l = ledger_open(&cfg, db_path);
	assert_non_null(l);
	assert_int_equal(ledger_start(l), 0);
	snprintf(port, sizeof(port), "127.0.0.1:%u", ledger_port(l));
	/* The token from a file (as the guest's fw_cfg file), not the command line. */
	char tfile[PATH_MAX + 16];
	snprintf(tfile, sizeof(tfile), "%s.token", img);
	FILE *tf = fopen(tfile, "w");
	assert_non_null(tf);
	fputs(TOKEN "\n", tf);
	fclose(tf);
	const char *argv2[] = { agent, "write", img, "--campaign", campaign, "--cycle", cycle,
				"--span-mib", span, "--queue-depth", "4", "--flush", "every-n:100",
				"--writes", "1050", "--ledger", port, "--token-file", tfile, "--quiet",
				NULL };
	struct child_result cr;
	assert_int_equal(child_run(argv2, NULL, 60000, &cr), 0);
	assert_true(WIFEXITED(cr.status) && WEXITSTATUS(cr.status) == 0);
	child_result_release(&cr);
	unlink(tfile);
	assert_int_equal(ledger_quiesce(l, 100, 5000), 0);
	ledger_free(l);
	cut = clock_mono_ns();

	int64_t covers = q1(db, "SELECT MAX(covers) FROM oracle_flush WHERE cycle = 2");
	char sql[300];
	snprintf(sql, sizeof(sql), "SELECT block FROM oracle_ack WHERE cycle = 2 AND block > 20 GROUP BY block"
		 " HAVING MAX(ack_index) < %lld ORDER BY block LIMIT 1", (long long)covers);
	int64_t flushed_blk = q1(db, sql);
	snprintf(sql, sizeof(sql), "SELECT block FROM oracle_ack WHERE cycle = 2 AND block > 20 GROUP BY block"
		 " HAVING MIN(ack_index) >= %lld ORDER BY block LIMIT 1", (long long)covers);
	int64_t unflushed_blk = q1(db, sql);
	assert_true(covers >= 1000 - 4 && covers <= 1050);
	assert_true(flushed_blk > 20);
	assert_true(unflushed_blk > 20);

	int fd = open(img, O_RDWR);
	assert_true(fd >= 0);
	unsigned char buf[BS], zero[BS] = { 0 };
	pwrite_block(fd, 10, zero);				/* zeroes */
	assert_int_equal(pread(fd, buf, BS, 11 * BS), BS);	/* one corrupt byte */
	buf[3 * 512 + 100] ^= 0x5a;
	pwrite_block(fd, 11, buf);
	assert_int_equal(pread(fd, buf, BS, 13 * BS), BS);	/* block 13 copied over 12 */
	pwrite_block(fd, 12, buf);
	rollback(fd, flushed_blk);
	rollback(fd, unflushed_blk);
	close(fd);

	run_check();
	verify(db, cut, &res);
	assert_string_equal(class_of(db, 10), "flushed_lost_zero");
	assert_string_equal(class_of(db, 11), "corrupt");
	assert_string_equal(class_of(db, 12), "misdirected");
	assert_string_equal(class_of(db, flushed_blk), "flushed_lost_older");
	assert_int_equal(res.cycle.violations, 4);
	assert_int_equal(res.cycle.count[CLS_FLUSHED_LOST_ZERO], 1);
	assert_int_equal(res.cycle.count[CLS_CORRUPT], 1);
	assert_int_equal(res.cycle.count[CLS_MISDIRECTED], 1);
	assert_int_equal(res.cycle.count[CLS_FLUSHED_LOST_OLDER], 1);
	assert_string_equal(class_of(db, unflushed_blk), "unflushed_lost_older");
	assert_int_equal(res.cycle.count[CLS_UNFLUSHED_LOST_OLDER], 1);
	/* Nothing else changed: the rest reads back as acknowledged. */
	assert_int_equal(res.cycle.count[CLS_OK], res.blocks - 5);
	assert_int_equal(q1(db, "SELECT violations FROM oracle_cycle_result WHERE cycle = 2"), 4);
	assert_int_equal(q1(db, "SELECT COUNT(*) FROM oracle_check WHERE cycle = 2 AND violation = 1"), 4);
	assert_int_equal(q1(db, "SELECT violations FROM oracle_cycle_result WHERE cycle = 1"), 0);

	/* The exposure window: the oldest acknowledged write lost is the oldest ack of the
	 * three blocks that lost theirs (zeroed 10, and the two rolled back to generation
	 * 0: every write of this cycle to them is lost); the corrupt and the misdirected
	 * block name no version, so none of theirs. Cycle 1 lost nothing: no row. */
	assert_int_equal(q1(db, "SELECT COUNT(*) FROM oracle_exposure WHERE cycle = 1"), 0);
	snprintf(sql, sizeof(sql), "SELECT MIN(recv_ns) FROM oracle_ack WHERE cycle = 2 AND gen > 0 AND "
		 "block IN (10, %lld, %lld)", (long long)flushed_blk, (long long)unflushed_blk);
	int64_t oldest = q1(db, sql);
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM oracle_ack WHERE cycle = 2 AND gen > 0 AND "
		 "block IN (10, %lld, %lld)", (long long)flushed_blk, (long long)unflushed_blk);
	int64_t nlost = q1(db, sql);
	assert_true(nlost >= 3);
	assert_int_equal(q1(db, "SELECT oldest_lost_recv_ns FROM oracle_exposure WHERE cycle = 2"), oldest);
	assert_int_equal(q1(db, "SELECT exposure_ns FROM oracle_exposure WHERE cycle = 2"), cut - oldest);
	assert_int_equal(q1(db, "SELECT lost_acks FROM oracle_exposure WHERE cycle = 2"), nlost);

	/* The findings walk the controller stores with store_finding_insert(). */
	struct seen seen = { 0, 0 };
	FILE *f = fopen(report, "r");
	assert_non_null(f);
	assert_int_equal(oracle_verify_each(db, CAMPAIGN, CYCLE, 0, f, cut, false, &res, on_finding, &seen), 0);
	fclose(f);
	assert_int_equal(seen.violations, 4);
	assert_int_equal(seen.n, (int)(res.blocks - res.cycle.count[CLS_OK]) + (int)res.cycle.anomalies -
			 (int)q1(db, "SELECT COUNT(*) FROM oracle_check WHERE cycle = 2 AND class != 'ok' AND anomaly = 1"));

	/* 3. Pruned ledger still classifies (without ordering anomalies). */
	assert_true(ledger_prune(db, CAMPAIGN, CYCLE, 0) > 0);
	verify(db, cut, &res);
	assert_int_equal(res.cycle.violations, 4);
	sqlite3_close(db);
}

/* The ledger is down while the agent writes: the writes go on, the queue (1000 entries)
 * fills, the rest is dropped and counted; when the ledger comes up the agent connects,
 * delivers what it kept, reports the gap, and ends. */
static void test_ledger_late_and_full(void **state)
{
	sqlite3 *db;
	struct ledger_config cfg = { .campaign = CAMPAIGN, .token = TOKEN, .cycle = 5 };
	char port[64], campaign[32];
	struct ledger *l;

	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL), SQLITE_OK);
	/* A port nobody listens on (yet). */
	l = ledger_open(&cfg, db_path);
	assert_non_null(l);
	cfg.port = ledger_port(l);
	ledger_free(l);

	snprintf(port, sizeof(port), "127.0.0.1:%u", cfg.port);
	snprintf(campaign, sizeof(campaign), "%d", CAMPAIGN);
	const char *argv[] = { agent, "write", img, "--campaign", campaign, "--cycle", "5",
			       "--span-mib", "8", "--writes", "3000", "--ledger-queue", "1000",
			       "--ledger", port, "--quiet", NULL };
	/* The token from the environment, as powercut hands it to local agents. */
	const char *env[] = { "POWERCUT_LEDGER_TOKEN=" TOKEN, NULL };
	struct child c = { .argv = argv, .env = env, .in = CHILD_NULL, .out = CHILD_PIPE,
			   .err = CHILD_INHERIT };
	assert_int_equal(child_start(&c), 0);
	/* The agent prints its summary when the writes are done, before it gives up on
	 * the ledger (it waits up to 2 s). */
	char out[4096] = "";
	size_t len = 0;
	while (!strstr(out, "\"type\":\"write\"") && len < sizeof(out) - 1) {
		ssize_t r = read(c.fd_out, out + len, sizeof(out) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		out[len] = 0;
	}
	assert_non_null(strstr(out, "\"writes\":3000"));
	l = ledger_open(&cfg, db_path);
	assert_non_null(l);
	assert_int_equal(ledger_start(l), 0);
	int status;
	assert_int_equal(child_finish(&c, 10000, &status), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(ledger_quiesce(l, 50, 5000), 0);
	ledger_free(l);

	int64_t acks = q1(db, "SELECT COUNT(*) FROM oracle_ack WHERE cycle = 5");
	int64_t gap = q1(db, "SELECT SUM(count) FROM oracle_gap WHERE cycle = 5 AND source = 'agent'");
	assert_true(acks > 900 && acks < 1000);
	assert_int_equal(acks + gap, 3000);
	assert_int_equal(q1(db, "SELECT MAX(ack_index) FROM oracle_ack WHERE cycle = 5"), acks - 1);
	assert_int_equal(q1(db, "SELECT first_ack_index FROM oracle_gap WHERE cycle = 5"), acks);
	assert_int_equal(q1(db, "SELECT end_dropped FROM oracle_session WHERE cycle = 5"), gap);
	assert_int_equal(q1(db, "SELECT end_reason FROM oracle_session WHERE cycle = 5"), 0);
	assert_int_equal(q1(db, "SELECT COUNT(*) FROM oracle_baseline WHERE cycle = 5"), 1);
	sqlite3_close(db);
}

#include "agent_refusals.h"

static void test_ledger_refusals(void **state)
{
	refusals_test(agent, img, db_path, CAMPAIGN, TOKEN);
}

static int setup(void **state)
{
	agent_test_find("powercut-agent", agent, sizeof(agent));
	agent_test_dir("pc-agent", dir, sizeof(dir));
	snprintf(db_path, sizeof(db_path), "%s/campaign.db", dir);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(report, sizeof(report), "%s/check.jsonl", dir);
	return 0;
}

static int teardown(void **state)
{
	char p[400];
	const char *files[] = { "campaign.db", "campaign.db-wal", "campaign.db-shm", "disk.img", "check.jsonl" };
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
		cmocka_unit_test_setup_teardown(test_kill_check_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger_late_and_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger_refusals, setup, teardown),
	};
	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
