/* Every classification rule of docs/oracle.md fed exactly the case it must catch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "classify.h"

#define CYCLE 7
#define SPB 8

static struct cls_run gen_run(uint16_t first, uint16_t n, uint32_t gen, uint64_t wm)
{
	return (struct cls_run){ .first = first, .n = n, .kind = CLS_S_GEN, .cycle = CYCLE,
				 .gen = gen, .watermark = wm };
}

static struct cls_run kind_run(uint16_t first, uint16_t n, enum cls_skind k)
{
	return (struct cls_run){ .first = first, .n = n, .kind = k };
}

/* A baselined block with A and F given (F < 0: nothing flushed). */
static struct cls_block blk(int A, int F, const struct cls_run *runs, size_t nruns)
{
	struct cls_block b = { .block = 42, .runs = runs, .nruns = nruns };
	b.led.acked = A >= 0;
	b.led.baselined = A >= 0;
	b.led.newest_acked = A >= 0 ? (uint32_t)A : 0;
	b.led.flushed = F >= 0;
	b.led.newest_flushed = F >= 0 ? (uint32_t)F : 0;
	return b;
}

static enum cls_class classify(struct cls_block *b)
{
	assert_int_equal(cls_block_classify(b, CYCLE, SPB), 0);
	return b->cls;
}

static void test_ok(void **state)
{
	struct cls_run r[] = { gen_run(0, SPB, 2, 10) };
	struct cls_block b = blk(2, 1, r, 1);
	assert_int_equal(classify(&b), CLS_OK);
	assert_false(b.violation);
	/* Untouched block outside the baseline reading zeroes. */
	struct cls_run z[] = { kind_run(0, SPB, CLS_S_ZERO) };
	b = blk(-1, -1, z, 1);
	assert_int_equal(classify(&b), CLS_OK);
}

static void test_inflight_persisted(void **state)
{
	struct cls_run r[] = { gen_run(0, SPB, 3, 10) };
	struct cls_block b = blk(2, 1, r, 1);
	assert_int_equal(classify(&b), CLS_INFLIGHT_PERSISTED);
	assert_false(b.violation);
	/* Never acknowledged at all (outside the baseline). */
	struct cls_run r1[] = { gen_run(0, SPB, 1, 10) };
	b = blk(-1, -1, r1, 1);
	assert_int_equal(classify(&b), CLS_INFLIGHT_PERSISTED);
}

static void test_unflushed_lost_older(void **state)
{
	struct cls_run r[] = { gen_run(0, SPB, 0, 0) };
	struct cls_block b = blk(2, 0, r, 1);
	assert_int_equal(classify(&b), CLS_UNFLUSHED_LOST_OLDER);
	assert_false(b.violation);
}

static void test_unflushed_lost_zero(void **state)
{
	struct cls_run r[] = { kind_run(0, SPB, CLS_S_ZERO) };
	struct cls_block b = blk(1, -1, r, 1);
	assert_int_equal(classify(&b), CLS_UNFLUSHED_LOST_ZERO);
	assert_false(b.violation);
}

static void test_flushed_lost_older(void **state)
{
	struct cls_run r[] = { gen_run(0, SPB, 1, 5) };
	struct cls_block b = blk(2, 2, r, 1);
	assert_int_equal(classify(&b), CLS_FLUSHED_LOST_OLDER);
	assert_true(b.violation);
	/* Rolled back past the flushed baseline to an earlier cycle's record. */
	struct cls_run o[] = { gen_run(0, SPB, 5, 5) };
	o[0].cycle = CYCLE - 1;
	b = blk(0, 0, o, 1);
	assert_int_equal(classify(&b), CLS_FLUSHED_LOST_OLDER);
	assert_true(b.violation);
}

static void test_flushed_lost_zero(void **state)
{
	struct cls_run r[] = { kind_run(0, SPB, CLS_S_ZERO) };
	struct cls_block b = blk(0, 0, r, 1);	/* the baseline itself is flushed */
	assert_int_equal(classify(&b), CLS_FLUSHED_LOST_ZERO);
	assert_true(b.violation);
}

static void test_torn(void **state)
{
	struct cls_run r[] = { gen_run(0, 4, 3, 10), gen_run(4, 4, 2, 8) };
	struct cls_block b = blk(3, 2, r, 2);
	assert_int_equal(classify(&b), CLS_TORN);
	assert_false(b.violation);
	assert_int_equal(b.vmin, 2);
	assert_int_equal(b.vmax, 3);
	/* Half zero, not below a flush: torn, no violation. */
	struct cls_run z[] = { gen_run(0, 4, 1, 10), kind_run(4, 4, CLS_S_ZERO) };
	b = blk(1, -1, z, 2);
	assert_int_equal(classify(&b), CLS_TORN);
	assert_false(b.violation);
}

static void test_torn_across_flush(void **state)
{
	struct cls_run r[] = { gen_run(0, 4, 3, 10), gen_run(4, 4, 2, 8) };
	struct cls_block b = blk(3, 3, r, 2);
	assert_int_equal(classify(&b), CLS_TORN);
	assert_true(b.violation);
}

static void test_corrupt(void **state)
{
	struct cls_run r[] = { gen_run(0, 3, 2, 10), kind_run(3, 1, CLS_S_BAD), gen_run(4, 4, 2, 10) };
	struct cls_block b = blk(2, 2, r, 3);
	assert_int_equal(classify(&b), CLS_CORRUPT);
	assert_true(b.violation);
	/* Corrupt even when nothing was flushed. */
	b = blk(2, -1, r, 3);
	assert_int_equal(classify(&b), CLS_CORRUPT);
	assert_true(b.violation);
}

static void test_misdirected(void **state)
{
	/* The agent reports a valid record of another block, disk or campaign as foreign. */
	struct cls_run r[] = { gen_run(0, 5, 2, 10), kind_run(5, 1, CLS_S_FOREIGN), gen_run(6, 2, 2, 10) };
	struct cls_block b = blk(2, -1, r, 3);
	assert_int_equal(classify(&b), CLS_MISDIRECTED);
	assert_true(b.violation);
	/* A record of a later cycle cannot be this block's past: misdirected. */
	struct cls_run f[] = { gen_run(0, SPB, 1, 1) };
	f[0].cycle = CYCLE + 1;
	b = blk(2, 2, f, 1);
	assert_int_equal(classify(&b), CLS_MISDIRECTED);
	assert_true(b.violation);
	/* Misdirected wins over corrupt. */
	struct cls_run m[] = { kind_run(0, 1, CLS_S_BAD), kind_run(1, 7, CLS_S_FOREIGN) };
	b = blk(2, 2, m, 2);
	assert_int_equal(classify(&b), CLS_MISDIRECTED);
}

static void test_bad_runs_rejected(void **state)
{
	struct cls_run r[] = { gen_run(0, 4, 3, 10) };
	struct cls_block b = blk(3, 3, r, 1);
	assert_int_equal(cls_block_classify(&b, CYCLE, SPB), -EINVAL);
	struct cls_run g[] = { gen_run(0, 4, 3, 10), gen_run(5, 3, 3, 10) };
	b = blk(3, 3, g, 2);
	assert_int_equal(cls_block_classify(&b, CYCLE, SPB), -EINVAL);
}

/* Worked example 11: block 10's gen 4 (ack index 100) lost, block 11's gen 2 persisted. */
static void anomaly_case(uint64_t wm11, bool expect)
{
	struct cls_ack a10[] = { { 3, 50, 0 }, { 4, 100, 0 } };
	struct cls_ack a11[] = { { 1, 20, 0 }, { 2, 160, 0 } };
	struct cls_run r10[] = { gen_run(0, SPB, 3, 40) };
	struct cls_run r11[] = { gen_run(0, SPB, 2, wm11) };
	struct cls_block b[2] = { blk(4, 0, r10, 1), blk(2, 0, r11, 1) };
	b[0].block = 10; b[0].led.acks = a10; b[0].led.nacks = 2;
	b[1].block = 11; b[1].led.acks = a11; b[1].led.nacks = 2;
	struct cls_cycle c = { .cycle = CYCLE, .spb = SPB, .cut_ns = 5000, .last_flush_ns = 1200,
			       .have_flush = true };

	assert_int_equal(cls_cycle_classify(&c, b, 2), 0);
	assert_int_equal(b[0].cls, CLS_UNFLUSHED_LOST_OLDER);
	assert_int_equal(b[1].cls, CLS_OK);
	assert_int_equal(b[0].lost_min_ack, 100);
	assert_false(b[0].anomaly);
	assert_int_equal(b[1].anomaly, expect);
	assert_int_equal(c.anomalies, expect ? 1 : 0);
	assert_int_equal(c.violations, 0);
	assert_int_equal(c.count[CLS_UNFLUSHED_LOST_OLDER], 1);
	assert_int_equal(c.count[CLS_OK], 1);
	assert_int_equal(c.since_flush_ns, 3800);
}

static void test_ordering_anomaly_present(void **state) { anomaly_case(150, true); }
static void test_ordering_anomaly_absent(void **state) { anomaly_case(90, false); }

static void test_cycle_counts(void **state)
{
	struct cls_run ok[] = { gen_run(0, SPB, 1, 0) };
	struct cls_run z[] = { kind_run(0, SPB, CLS_S_ZERO) };
	struct cls_run bad[] = { kind_run(0, SPB, CLS_S_BAD) };
	struct cls_block b[3] = { blk(1, 1, ok, 1), blk(1, 1, z, 1), blk(1, 0, bad, 1) };
	struct cls_cycle c = { .cycle = CYCLE, .spb = SPB };

	assert_int_equal(cls_cycle_classify(&c, b, 3), 0);
	assert_int_equal(c.count[CLS_OK], 1);
	assert_int_equal(c.count[CLS_FLUSHED_LOST_ZERO], 1);
	assert_int_equal(c.count[CLS_CORRUPT], 1);
	assert_int_equal(c.violations, 2);
	assert_string_equal(cls_class_name(CLS_TORN), "torn");
}

/* Every class in classes.h has a name that parses back to it, a title, and no name
 * twice (a class added to one list and not its table would fail here, or not
 * compile); unknown names and values are refused. */
static void test_class_tables(void **state)
{
	for (int c = 0; c < CLS__COUNT; c++) {
		assert_int_equal(cls_class_parse(cls_class_name(c)), c);
		assert_true(cls_class_info(c)->title[0]);
	}
	for (int c = 0; c < FSV_NCLASSES; c++) {
		assert_int_equal(fsv_class_parse(fsv_class_name(c)), c);
		assert_true(fsv_class_info(c)->title[0]);
		assert_int_equal(cls_class_parse(fsv_class_name(c)), -EINVAL);
	}
	assert_string_equal(cls_class_name(CLS_MISDIRECTED), "misdirected");
	assert_string_equal(fsv_class_name(FSV_COMMIT_LOST_ALLOWED), "commit_lost_allowed");
	assert_int_equal(cls_class_parse("Torn"), -EINVAL);
	assert_int_equal(fsv_class_parse(""), -EINVAL);
	assert_string_equal(cls_class_name(CLS__COUNT), "unknown");
	assert_string_equal(fsv_class_name(FSV_NCLASSES), "?");
	/* what the report prints as "violation" */
	assert_int_equal(cls_class_info(CLS_FLUSHED_LOST_ZERO)->violation, ORACLE_YES);
	assert_int_equal(cls_class_info(CLS_UNFLUSHED_LOST_ZERO)->violation, ORACLE_NO);
	assert_int_equal(cls_class_info(CLS_TORN)->violation, ORACLE_IF_OLDER);
	assert_int_equal(fsv_class_info(FSV_COMMIT_LOST_ALLOWED)->violation, ORACLE_NO);
	assert_int_equal(fsv_class_info(FSV_NAME_LOST)->violation, ORACLE_YES);
}

/* ---- Durable memory (docs/oracle.md, rules with a carried record) ---- */

/* A block this cycle did not baseline, carrying what the last check read (or what a
 * pass before the cycle wrote): a record of cycle c, generation g, seq q. */
static struct cls_block carried(int A, int F, uint32_t c, uint32_t g, uint64_t q, bool flushed,
				const struct cls_run *runs, size_t nruns)
{
	struct cls_block b = blk(A, F, runs, nruns);
	b.led.baselined = false;
	b.led.carry = (struct cls_carry){ .kind = CLS_C_GEN, .cycle = c, .gen = g, .have_seq = true,
					  .seq = q, .from = c, .flushed = flushed };
	return b;
}

static struct cls_run old_run(uint16_t first, uint16_t n, uint32_t cycle, uint32_t gen, uint64_t seq)
{
	struct cls_run r = gen_run(first, n, gen, 0);
	r.cycle = cycle;
	r.have_seq = true;
	r.seq = seq;
	return r;
}

/* Carried-durable ok: the record read is the carried one. */
static void test_carried_ok(void **state)
{
	struct cls_run r[] = { old_run(0, SPB, 5, 3, 77) };
	struct cls_block b = carried(-1, -1, 5, 3, 77, true, r, 1);
	assert_int_equal(classify(&b), CLS_OK);
	assert_false(b.violation);
	/* A newer record of an earlier cycle than remembered: in flight then, not a loss. */
	struct cls_run n[] = { old_run(0, SPB, 6, 1, 9) };
	b = carried(-1, -1, 5, 3, 77, true, n, 1);
	assert_int_equal(classify(&b), CLS_INFLIGHT_PERSISTED);
	assert_false(b.violation);
}

/* Carried-durable lost, zeroes: the second seed. On a backing chain the pass wrote
 * cycle 6's baseline (gen 0) into the base; cycle 7 flushed before its first write;
 * the overlay reads back zeroes after the crash. */
static void test_carried_flushed_lost_zero(void **state)
{
	struct cls_run z[] = { kind_run(0, SPB, CLS_S_ZERO) };
	struct cls_block b = carried(-1, -1, CYCLE - 1, 0, 0, true, z, 1);
	assert_int_equal(classify(&b), CLS_FLUSHED_LOST_ZERO);
	assert_true(b.violation);
	assert_true(b.carried_lost);
	/* Written this cycle and not flushed since: the carried record is still the floor. */
	b = carried(2, -1, CYCLE - 1, 0, 0, true, z, 1);
	assert_int_equal(classify(&b), CLS_FLUSHED_LOST_ZERO);
	assert_true(b.carried_lost);
	/* The cycle's flush never completed: nothing was made durable, the loss is not a
	 * violation. */
	b = carried(-1, -1, CYCLE - 1, 0, 0, false, z, 1);
	assert_int_equal(classify(&b), CLS_UNFLUSHED_LOST_ZERO);
	assert_false(b.violation);
}

/* Carried-durable lost, older: an older record than the carried one. */
static void test_carried_flushed_lost_older(void **state)
{
	struct cls_run r[] = { old_run(0, SPB, 5, 2, 40) };
	struct cls_block b = carried(-1, -1, 5, 3, 77, true, r, 1);
	assert_int_equal(classify(&b), CLS_FLUSHED_LOST_OLDER);
	assert_true(b.violation);
	assert_true(b.carried_lost);
	/* Written this cycle, rolled back to the carried record: an unflushed loss. */
	struct cls_run c[] = { old_run(0, SPB, 5, 3, 77) };
	b = carried(2, -1, 5, 3, 77, true, c, 1);
	assert_int_equal(classify(&b), CLS_UNFLUSHED_LOST_OLDER);
	assert_false(b.violation);
	/* ... and below a flush of this cycle: flushed lost, not of the carried data. */
	b = carried(2, 1, 5, 3, 77, true, c, 1);
	assert_int_equal(classify(&b), CLS_FLUSHED_LOST_OLDER);
	assert_false(b.carried_lost);
}

/* Carried-durable lost, torn (rule 3c): on a backing chain cycle 7 wrote generation 1
 * of a block whose base holds cycle 6's generation 0 (made durable by cycle 7's first
 * flush), without a flush since; the cut tore it as the volatile cache writes back
 * sector by sector: the overlay's allocation and part of the new data reached the
 * platter, the rest of the subcluster reads zeroes. The zeroes are older than the
 * carried record: a flushed write lost (a violation), and the loss is of the carried
 * record, the second seed showing up torn (carried_lost, which the end-to-end tests
 * count apart). */
static void test_carried_flushed_lost_torn(void **state)
{
	struct cls_run t[] = { gen_run(0, 3, 1, 5), kind_run(3, 5, CLS_S_ZERO) };
	struct cls_block b = carried(1, -1, CYCLE - 1, 0, 0, true, t, 2);
	assert_int_equal(classify(&b), CLS_TORN);
	assert_true(b.violation);
	assert_true(b.carried_lost);
	/* Part base, part zeroes (the subcluster's allocation reached the platter for
	 * another sector run): the same. */
	struct cls_run z[] = { old_run(0, 4, CYCLE - 1, 0, 0), kind_run(4, 4, CLS_S_ZERO) };
	b = carried(1, -1, CYCLE - 1, 0, 0, true, z, 2);
	assert_int_equal(classify(&b), CLS_TORN);
	assert_true(b.violation);
	assert_true(b.carried_lost);
	/* The cycle's first flush never completed: nothing was made durable, torn is not
	 * a violation. */
	b = carried(1, -1, CYCLE - 1, 0, 0, false, t, 2);
	assert_int_equal(classify(&b), CLS_TORN);
	assert_false(b.violation);
	assert_false(b.carried_lost);
	/* Torn between the new write and the carried record itself: nothing below it. */
	struct cls_run n[] = { gen_run(0, 4, 1, 5), old_run(4, 4, CYCLE - 1, 0, 0) };
	b = carried(1, -1, CYCLE - 1, 0, 0, true, n, 2);
	assert_int_equal(classify(&b), CLS_TORN);
	assert_false(b.violation);
	assert_false(b.carried_lost);
	/* Torn below a flush of the cycle's own: a violation of this cycle's data, not of
	 * the carried record. */
	struct cls_run o[] = { gen_run(0, 4, 2, 9), kind_run(4, 4, CLS_S_ZERO) };
	b = carried(2, 1, CYCLE - 1, 0, 0, true, o, 2);
	assert_int_equal(classify(&b), CLS_TORN);
	assert_true(b.violation);
	assert_false(b.carried_lost);
	/* Counted by the cycle as carried_lost, one violation. */
	struct cls_cycle cyc = { .cycle = CYCLE, .spb = SPB };
	struct cls_block two[2] = { carried(1, -1, CYCLE - 1, 0, 0, true, t, 2),
				    carried(2, 1, CYCLE - 1, 0, 0, true, o, 2) };
	assert_int_equal(cls_cycle_classify(&cyc, two, 2), 0);
	assert_int_equal(cyc.violations, 2);
	assert_int_equal(cyc.carried_lost, 1);
}

/* Carried loss reported once: a block the last check read as zeroes carries zeroes. */
static void test_carried_zero_once(void **state)
{
	struct cls_run z[] = { kind_run(0, SPB, CLS_S_ZERO) };
	struct cls_block b = blk(-1, -1, z, 1);
	b.led.carry = (struct cls_carry){ .kind = CLS_C_ZERO, .from = 5, .flushed = true };
	assert_int_equal(classify(&b), CLS_OK);
	assert_false(b.violation);
}

/* Carried damage reported once: the same sectors read again are ok; other damage is not. */
static void test_carried_damage_once(void **state)
{
	struct cls_run r[] = { gen_run(0, 3, 2, 10), kind_run(3, 1, CLS_S_BAD), gen_run(4, 4, 2, 10) };
	r[0].cycle = r[2].cycle = 5;
	struct cls_block b = blk(-1, -1, r, 3);
	b.sectors = "[same]";
	b.led.carry = (struct cls_carry){ .kind = CLS_C_DAMAGED, .from = 5, .sectors = "[same]" };
	assert_int_equal(classify(&b), CLS_OK);
	assert_true(b.carried_kept);
	assert_false(b.violation);
	b.sectors = "[other]";
	assert_int_equal(classify(&b), CLS_CORRUPT);
	assert_true(b.violation);
	/* Written this cycle: classified against this cycle's ledger, as any block. */
	b = blk(2, -1, r, 3);
	b.sectors = "[same]";
	b.led.carry = (struct cls_carry){ .kind = CLS_C_DAMAGED, .from = 5, .sectors = "[same]" };
	assert_int_equal(classify(&b), CLS_CORRUPT);
}

/* Write identity: a record of an acknowledged generation written by another write. */
static void test_stale_same_generation(void **state)
{
	struct cls_ack a[] = { { 2, 40, 11 } };
	struct cls_run r[] = { gen_run(0, SPB, 2, 10) };
	r[0].have_seq = true;
	r[0].seq = 11;
	struct cls_block b = blk(2, 1, r, 1);
	b.led.acks = a;
	b.led.nacks = 1;
	assert_int_equal(classify(&b), CLS_OK);
	r[0].seq = 12;			/* an earlier attempt's gen 2 */
	assert_int_equal(classify(&b), CLS_MISDIRECTED);
	assert_true(b.stale);
	assert_true(b.violation);
	/* Against the durable memory: the carried record's seq. */
	struct cls_run c[] = { old_run(0, SPB, 5, 3, 78) };
	b = carried(-1, -1, 5, 3, 77, true, c, 1);
	assert_int_equal(classify(&b), CLS_MISDIRECTED);
	assert_true(b.stale);
	/* A report without seqs (check report 1) compares nothing. */
	c[0].have_seq = false;
	assert_int_equal(classify(&b), CLS_OK);
}

/* Implausible records: generation 0 where nothing was baselined, and a generation the
 * agent could not have had in flight when every ack it waited for is in the ledger. */
static void test_implausible(void **state)
{
	struct cls_run r0[] = { gen_run(0, SPB, 0, 0) };
	struct cls_block b = blk(-1, -1, r0, 1);
	assert_int_equal(classify(&b), CLS_INFLIGHT_PERSISTED);
	assert_true(b.implausible);
	assert_true(b.violation);
	b = blk(0, 0, r0, 1);			/* baselined: plausible */
	assert_int_equal(classify(&b), CLS_OK);
	assert_false(b.implausible);
	/* A = 1: gen 2 may be in flight; gen 3 needed gen 2's ack, below its watermark. */
	struct cls_run r3[] = { gen_run(0, SPB, 3, 50) };
	b = blk(1, 1, r3, 1);
	b.led.acks_contig = 100;
	assert_int_equal(classify(&b), CLS_INFLIGHT_PERSISTED);
	assert_true(b.implausible);
	assert_true(b.violation);
	/* The watermark is beyond what the ledger holds: gen 2's ack may be the lost tail. */
	r3[0].watermark = 150;
	assert_int_equal(classify(&b), CLS_INFLIGHT_PERSISTED);
	assert_false(b.implausible);
	assert_false(b.violation);
	struct cls_run r2[] = { gen_run(0, SPB, 2, 50) };
	b = blk(1, 1, r2, 1);
	b.led.acks_contig = 100;
	assert_int_equal(classify(&b), CLS_INFLIGHT_PERSISTED);
	assert_false(b.implausible);
}

/* A torn block in the ordering anomaly: its lost generations give L, and its newest
 * sector of this cycle is compared with L as a whole block's would be. */
static void test_torn_ordering_anomaly(void **state)
{
	struct cls_ack a0[] = { { 1, 10, 0 }, { 2, 30, 0 } };
	struct cls_ack a1[] = { { 1, 5, 0 } };
	/* Block 0: torn between gen 2 (watermark 25) and gen 1: gen 2 (ack 30) lost in part. */
	struct cls_run r0[] = { gen_run(0, 4, 2, 25), gen_run(4, 4, 1, 8) };
	/* Block 1: its gen 2 persisted, submitted with watermark 40 > 30. */
	struct cls_run r1[] = { gen_run(0, SPB, 2, 40) };
	struct cls_block b[2] = { blk(2, 0, r0, 2), blk(1, 0, r1, 1) };
	b[0].led.acks = a0; b[0].led.nacks = 2;
	b[1].led.acks = a1; b[1].led.nacks = 1;
	struct cls_cycle c = { .cycle = CYCLE, .spb = SPB };

	assert_int_equal(cls_cycle_classify(&c, b, 2), 0);
	assert_int_equal(b[0].cls, CLS_TORN);
	assert_int_equal(b[0].lost_min_ack, 30);
	assert_true(b[1].anomaly);
	assert_false(b[0].anomaly);	/* its newest sector's watermark 25 < 30 */
	r1[0].watermark = 20;
	assert_int_equal(cls_cycle_classify(&c, b, 2), 0);
	assert_false(b[1].anomaly);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_inflight_persisted),
		cmocka_unit_test(test_unflushed_lost_older),
		cmocka_unit_test(test_unflushed_lost_zero),
		cmocka_unit_test(test_flushed_lost_older),
		cmocka_unit_test(test_flushed_lost_zero),
		cmocka_unit_test(test_torn),
		cmocka_unit_test(test_torn_across_flush),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_misdirected),
		cmocka_unit_test(test_bad_runs_rejected),
		cmocka_unit_test(test_ordering_anomaly_present),
		cmocka_unit_test(test_ordering_anomaly_absent),
		cmocka_unit_test(test_cycle_counts),
		cmocka_unit_test(test_class_tables),
		cmocka_unit_test(test_carried_ok),
		cmocka_unit_test(test_carried_flushed_lost_zero),
		cmocka_unit_test(test_carried_flushed_lost_older),
		cmocka_unit_test(test_carried_flushed_lost_torn),
		cmocka_unit_test(test_carried_zero_once),
		cmocka_unit_test(test_carried_damage_once),
		cmocka_unit_test(test_stale_same_generation),
		cmocka_unit_test(test_implausible),
		cmocka_unit_test(test_torn_ordering_anomaly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
