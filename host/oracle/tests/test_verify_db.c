/* oracle_verify() and oracle_remember() on a ledger database made row by row, as the
 * ledger stores them: the durable memory of a kept disk and of a backing chain's pass,
 * sessions never mixed (verify, prune, a later pass's rows, verify again), the END's
 * count against a lost tail. Each test feeds exactly its case (docs/oracle.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "ledger_schema.h"
#include "verify.h"

#define CAMPAIGN 7
#define DISK 1
#define NBLOCKS 16
#define BS 4096

static sqlite3 *db_new(void)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void sql(sqlite3 *db, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char *err = NULL;
	if (sqlite3_exec(db, buf, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", buf, err);
}

/* A session of the run of phase `phase` (pass: a pass before cycle + 1); its id. */
static int64_t session(sqlite3 *db, uint32_t cycle, int64_t phase, bool pass, int64_t end_acks)
{
	sql(db, "INSERT INTO oracle_session (campaign, cycle, disk, peer, block_size, span_blocks,"
	    " seed, agent_hello_ns, host_hello_ns, phase, pass) VALUES (%d, %u, %d, 'p',"
	    " %d, %d, 1, 0, 100, %lld, %d)", CAMPAIGN, cycle, DISK, BS, NBLOCKS,
	    (long long)phase, pass);
	if (end_acks >= 0)
		sql(db, "UPDATE oracle_session SET end_acks = %lld WHERE id = %lld", (long long)end_acks,
		    (long long)sqlite3_last_insert_rowid(db));
	return sqlite3_last_insert_rowid(db);
}

static void baseline(sqlite3 *db, uint32_t cycle, int64_t sess)
{
	sql(db, "INSERT INTO oracle_baseline VALUES (%d, %u, %d, 0, %d, 0, 0, 200, %lld)", CAMPAIGN,
	    cycle, DISK, NBLOCKS, (long long)sess);
}

static void ack(sqlite3 *db, uint32_t cycle, int64_t sess, int block, int gen, int seq, int idx)
{
	sql(db, "INSERT INTO oracle_ack VALUES (%d, %u, %d, %d, %d, 0, %d, %d, 0, 0, 300, %lld)",
	    CAMPAIGN, cycle, DISK, block, gen, seq, idx, (long long)sess);
}

static void flush(sqlite3 *db, uint32_t cycle, int64_t sess, int covers)
{
	sql(db, "INSERT INTO oracle_flush VALUES (%d, %u, %d, 1, %d, 0, 0, 400, %lld)", CAMPAIGN,
	    cycle, DISK, covers, (long long)sess);
}

/* What a check read back: every block a generation record of cycle cyc[b], gen gen[b],
 * seq seq[b], or zeroes where kinds[b] is 'z'. */
struct readback {
	uint32_t cyc[NBLOCKS], gen[NBLOCKS];
	uint64_t seq[NBLOCKS];
	char kinds[NBLOCKS];
};

/* Every block generation 0 of cycle (the baseline as written). */
static void readback_init(struct readback *rb, uint32_t cycle)
{
	for (int b = 0; b < NBLOCKS; b++)
		rb->cyc[b] = cycle, rb->gen[b] = 0, rb->seq[b] = 0, rb->kinds[b] = 'g';
}

/* rb as the check report of cycle (a temporary file, rewound). */
static FILE *report(uint32_t cycle, const struct readback *rb)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	fprintf(f, "{\"type\":\"check\",\"version\":2,\"campaign\":%d,\"cycle\":%u,\"disk\":%d,"
		"\"block_size\":%d,\"span_blocks\":%d}\n", CAMPAIGN, cycle, DISK, BS, NBLOCKS);
	for (int b = 0; b < NBLOCKS; b++) {
		if (rb->kinds[b] == 'z')
			fprintf(f, "{\"b\":%d,\"n\":1,\"k\":\"zero\"}\n", b);
		else
			fprintf(f, "{\"b\":%d,\"n\":1,\"k\":\"gen\",\"c\":%u,\"g\":%u,\"m\":0,\"q\":%llu}\n",
				b, rb->cyc[b], rb->gen[b], (unsigned long long)rb->seq[b]);
	}
	fprintf(f, "{\"type\":\"end\",\"blocks\":%d,\"bytes\":0,\"seconds\":0}\n", NBLOCKS);
	rewind(f);
	return f;
}

static void verify(sqlite3 *db, uint32_t cycle, FILE *f, struct oracle_verify_result *r)
{
	rewind(f);
	assert_int_equal(oracle_verify(db, CAMPAIGN, cycle, DISK, f, 1000, true, r), 0);
}

/* A kept disk: cycle 1 baselined everything and wrote block 2 (gen 1); its check read
 * that back and was remembered. Cycle 2 has no baseline: block 5 reading zeroes lost a
 * record durable since cycle 1 once cycle 2's first flush completed; without that flush,
 * the loss is not a violation. */
static void test_kept_disk_memory(void **state)
{
	sqlite3 *db = db_new();
	struct readback rb;
	struct oracle_verify_result r;

	int64_t s1 = session(db, 1, 1, false, -1);
	baseline(db, 1, s1);
	ack(db, 1, s1, 2, 1, 1, 0);
	readback_init(&rb, 1);
	rb.gen[2] = 1, rb.seq[2] = 1;
	FILE *f1 = report(1, &rb);
	verify(db, 1, f1, &r);
	assert_int_equal(r.cycle.violations, 0);
	rewind(f1);
	assert_int_equal(oracle_remember(db, CAMPAIGN, 1, DISK, f1), 0);
	fclose(f1);

	int64_t s2 = session(db, 2, 2, false, -1);
	rb.kinds[5] = 'z';
	FILE *f2 = report(2, &rb);
	verify(db, 2, f2, &r);			/* no flush in cycle 2 yet */
	assert_int_equal(r.cycle.violations, 0);
	assert_int_equal(r.cycle.count[CLS_UNFLUSHED_LOST_ZERO], 1);
	assert_int_equal(r.cycle.count[CLS_OK], NBLOCKS - 1);
	flush(db, 2, s2, 0);			/* the flush before the first write */
	verify(db, 2, f2, &r);
	assert_int_equal(r.cycle.violations, 1);
	assert_int_equal(r.cycle.count[CLS_FLUSHED_LOST_ZERO], 1);
	assert_int_equal(r.cycle.carried_lost, 1);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT block, durable_cycle FROM oracle_check WHERE"
					    " cycle = 2 AND class = 'flushed_lost_zero'", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 5);
	assert_int_equal(sqlite3_column_int(st, 1), 1);	/* durable since cycle 1 */
	sqlite3_finalize(st);
	/* Block 2 rolled back from the remembered gen 1 to the baseline: flushed lost. */
	rb.kinds[5] = 'g';
	rb.gen[2] = 0, rb.seq[2] = 0;
	fclose(f2);
	f2 = report(2, &rb);
	verify(db, 2, f2, &r);
	assert_int_equal(r.cycle.count[CLS_FLUSHED_LOST_OLDER], 1);
	/* Its gen 1 with another seq: not the write that was remembered. */
	rb.gen[2] = 1, rb.seq[2] = 9;
	fclose(f2);
	f2 = report(2, &rb);
	verify(db, 2, f2, &r);
	assert_int_equal(r.cycle.count[CLS_MISDIRECTED], 1);
	fclose(f2);
	sqlite3_close(db);
}

/* The second seed on a backing chain: the pass before cycle 4 (written as cycle 3,
 * marked a pass) baselined the base and wrote block 7; the overlay reads zeroes for
 * blocks 0 and 7 after cycle 4's crash. Cycle 3's own run (its workload) is not the
 * memory: its rows are another phase. */
static void test_backing_chain_memory(void **state)
{
	sqlite3 *db = db_new();
	struct readback rb;
	struct oracle_verify_result r;

	int64_t w3 = session(db, 3, 10, false, -1);	/* cycle 3's workload */
	ack(db, 3, w3, 7, 5, 40, 0);
	int64_t p3 = session(db, 3, 11, true, 1);	/* the pass before cycle 4 */
	baseline(db, 3, p3);
	ack(db, 3, p3, 7, 1, 1, 0);
	flush(db, 3, p3, 1);
	int64_t s4 = session(db, 4, 12, false, -1);
	flush(db, 4, s4, 0);
	readback_init(&rb, 3);
	rb.gen[7] = 1, rb.seq[7] = 1;
	FILE *f = report(4, &rb);
	verify(db, 4, f, &r);
	assert_int_equal(r.cycle.violations, 0);
	assert_int_equal(r.cycle.count[CLS_OK], NBLOCKS);
	fclose(f);
	rb.kinds[0] = rb.kinds[7] = 'z';
	f = report(4, &rb);
	verify(db, 4, f, &r);
	assert_int_equal(r.cycle.violations, 2);
	assert_int_equal(r.cycle.count[CLS_FLUSHED_LOST_ZERO], 2);
	fclose(f);
	sqlite3_close(db);
}

static void same_result(const struct oracle_verify_result *a, const struct oracle_verify_result *b)
{
	for (int k = 0; k < CLS__COUNT; k++)
		assert_int_equal(a->cycle.count[k], b->cycle.count[k]);
	assert_int_equal(a->cycle.violations, b->cycle.violations);
	assert_int_equal(a->gaps, b->gaps);
	assert_int_equal(a->blocks, b->blocks);
}

/* Sessions never mixed: classify cycle 5, prune it, append the rows the next cycle's
 * pass adds under cycle 5 (ack indices from 0 again, a flush covering them), classify
 * again: the same result. Then a cycle whose raw rows stayed (its check failed): the
 * pass's flush must not cover its acks. */
static void test_sessions_never_mixed(void **state)
{
	sqlite3 *db = db_new();
	struct readback rb;
	struct oracle_verify_result r1, r2, r3;

	int64_t s5 = session(db, 5, 20, false, -1);
	baseline(db, 5, s5);
	/* Blocks 0..5 written (gen 1, ack 0..5); a flush covered acks < 2. */
	for (int b = 0; b < 6; b++)
		ack(db, 5, s5, b, 1, b + 1, b);
	flush(db, 5, s5, 2);
	/* Read back: blocks 0..3 at the baseline (0, 1 flushed: lost; 2, 3 not), the rest
	 * as written or never written. */
	readback_init(&rb, 5);
	for (int b = 4; b < 6; b++)
		rb.gen[b] = 1, rb.seq[b] = (uint64_t)b + 1;
	FILE *f = report(5, &rb);
	verify(db, 5, f, &r1);
	assert_int_equal(r1.cycle.count[CLS_FLUSHED_LOST_OLDER], 2);
	assert_int_equal(r1.cycle.count[CLS_UNFLUSHED_LOST_OLDER], 2);
	assert_true(ledger_prune(db, CAMPAIGN, 5, DISK) > 0);
	verify(db, 5, f, &r2);
	same_result(&r1, &r2);
	/* The next cycle's pass, written as cycle 5. */
	int64_t p5 = session(db, 5, 21, true, 1);
	baseline(db, 5, p5);
	ack(db, 5, p5, 3, 1, 1, 0);
	flush(db, 5, p5, 100);
	verify(db, 5, f, &r3);
	same_result(&r1, &r3);

	/* Cycle 6 kept its raw rows; a pass's flush under cycle 6 covers its own acks only. */
	int64_t s6 = session(db, 6, 22, false, -1);
	baseline(db, 6, s6);
	ack(db, 6, s6, 0, 1, 1, 0);
	readback_init(&rb, 6);
	fclose(f);
	f = report(6, &rb);
	verify(db, 6, f, &r1);
	assert_int_equal(r1.cycle.count[CLS_UNFLUSHED_LOST_OLDER], 1);
	int64_t p6 = session(db, 6, 23, true, 1);
	ack(db, 6, p6, 9, 1, 1, 0);
	flush(db, 6, p6, 100);
	verify(db, 6, f, &r2);
	same_result(&r1, &r2);
	assert_int_equal(r2.cycle.violations, 0);
	fclose(f);
	sqlite3_close(db);
}

/* A lost tail: acks 0..9 reached the ledger, the END counted 15: 5 missing, a gap. */
static void test_end_count_tail_gap(void **state)
{
	sqlite3 *db = db_new();
	struct readback rb;
	struct oracle_verify_result r;

	int64_t s = session(db, 8, 30, false, 15);
	baseline(db, 8, s);
	for (int i = 0; i < 10; i++)
		ack(db, 8, s, i, 1, i + 1, i);
	readback_init(&rb, 8);
	for (int b = 0; b < 15; b++)
		rb.gen[b] = 1, rb.seq[b] = (uint64_t)b + 1;
	FILE *f = report(8, &rb);
	verify(db, 8, f, &r);
	assert_int_equal(r.tail_gap, 5);
	assert_int_equal(r.gaps, 5);
	assert_int_equal(r.cycle.count[CLS_INFLIGHT_PERSISTED], 5);
	/* Every ack counted arrived: no gap. */
	sql(db, "UPDATE oracle_session SET end_acks = 10");
	verify(db, 8, f, &r);
	assert_int_equal(r.gaps, 0);
	/* After pruning, the count still holds against the summaries' writes. */
	sql(db, "UPDATE oracle_session SET end_acks = 15");
	assert_true(ledger_prune(db, CAMPAIGN, 8, DISK) > 0);
	verify(db, 8, f, &r);
	assert_int_equal(r.tail_gap, 5);
	fclose(f);
	sqlite3_close(db);
}

/* Many acknowledgements: loaded in one pass into a growing array (no count taken
 * first that rows arriving later could exceed), every block's own. */
static void test_many_acks_loaded(void **state)
{
	sqlite3 *db = db_new();
	struct readback rb;
	struct oracle_verify_result r;
	int per = 640, idx = 0;

	int64_t s = session(db, 9, 40, false, NBLOCKS * per);
	baseline(db, 9, s);
	sql(db, "BEGIN");
	for (int g = 1; g <= per; g++)
		for (int b = 0; b < NBLOCKS; b++, idx++)
			ack(db, 9, s, b, g, idx + 1, idx);
	sql(db, "COMMIT");
	flush(db, 9, s, idx);
	readback_init(&rb, 9);
	for (int b = 0; b < NBLOCKS; b++)
		rb.gen[b] = (uint32_t)per, rb.seq[b] = (uint64_t)(per - 1) * NBLOCKS + b + 1;
	FILE *f = report(9, &rb);
	verify(db, 9, f, &r);
	assert_int_equal(r.cycle.count[CLS_OK], NBLOCKS);
	assert_int_equal(r.gaps, 0);
	/* One block a generation back: its flushed write lost, the others untouched. */
	rb.gen[3] = (uint32_t)per - 1;
	rb.seq[3] -= NBLOCKS;
	fclose(f);
	f = report(9, &rb);
	verify(db, 9, f, &r);
	assert_int_equal(r.cycle.count[CLS_FLUSHED_LOST_OLDER], 1);
	assert_int_equal(r.cycle.count[CLS_OK], NBLOCKS - 1);
	fclose(f);
	sqlite3_close(db);
}

/* Every block class of classes.h is a column of oracle_cycle_result (a class added
 * without its column would fail here, before the INSERT built from the list fails). */
static void test_class_columns(void **state)
{
	sqlite3 *db = db_new();
	for (int c = 0; c < CLS__COUNT; c++) {
		char q[128];
		sqlite3_stmt *s;
		snprintf(q, sizeof(q), "SELECT 1 FROM pragma_table_info('oracle_cycle_result')"
			 " WHERE name = '%s'", cls_class_name(c));
		assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
		if (sqlite3_step(s) != SQLITE_ROW)
			fail_msg("no column '%s' in oracle_cycle_result", cls_class_name(c));
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_disk_memory),
		cmocka_unit_test(test_backing_chain_memory),
		cmocka_unit_test(test_sessions_never_mixed),
		cmocka_unit_test(test_end_count_tail_gap),
		cmocka_unit_test(test_many_acks_loaded),
		cmocka_unit_test(test_class_columns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
