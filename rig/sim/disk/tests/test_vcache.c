/* Unit tests of the volatile write cache against a memory "platter". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vcache.h"

#define NSECT 256u
#define S VCACHE_SECTOR

struct platter {
	uint8_t data[NSECT * S];
	unsigned pwrites, flushes;
	uint64_t sectors_written;
	int fail_writes;	/* return this from pwrite when non-zero */
};

static int p_pread(void *ctx, void *buf, uint32_t count, uint64_t off)
{
	struct platter *p = ctx;
	assert_true(off + count <= sizeof(p->data));
	memcpy(buf, p->data + off, count);
	return 0;
}

static int p_pwrite(void *ctx, const void *buf, uint32_t count, uint64_t off)
{
	struct platter *p = ctx;
	if (p->fail_writes)
		return p->fail_writes;
	assert_true(off + count <= sizeof(p->data));
	memcpy(p->data + off, buf, count);
	p->pwrites++;
	p->sectors_written += count / S;
	return 0;
}

static int p_flush(void *ctx)
{
	((struct platter *)ctx)->flushes++;
	return 0;
}

static struct vcache *mk(struct platter *p, struct vcache_opts *o)
{
	struct vcache_backend be = { p_pread, p_pwrite, p_flush, p };
	struct vcache *c = vcache_new(o, &be);
	assert_non_null(c);
	return c;
}

static void fill(struct vcache *c, uint64_t sector, unsigned n, uint8_t byte, bool fua)
{
	uint8_t buf[NSECT * S];
	memset(buf, byte, n * S);
	assert_int_equal(vcache_write(c, buf, n * S, sector * S, fua), 0);
}

/* Sectors [sector, sector+n) of the platter that hold `byte` throughout. */
static unsigned on_platter(const struct platter *p, uint64_t sector, unsigned n, uint8_t byte)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		bool all = true;
		for (unsigned j = 0; j < S && all; j++)
			all = p->data[(sector + i) * S + j] == byte;
		k += all;
	}
	return k;
}

static void reads_see_cache_platter_untouched(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	struct vcache_opts o = { .sync = true };
	struct vcache *c = mk(&p, &o);
	fill(c, 10, 4, 0xaa, false);
	uint8_t buf[4 * S];
	assert_int_equal(vcache_read(c, buf, sizeof(buf), 10 * S), 0);
	for (unsigned i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xaa);
	assert_int_equal(p.pwrites, 0);
	vcache_free(c);	/* the power cut: nothing reached the platter */
	assert_int_equal(on_platter(&p, 10, 4, 0), 4);
}

static void flush_writes_everything_dirty(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	struct vcache_opts o = { .sync = true };
	struct vcache *c = mk(&p, &o);
	fill(c, 0, 8, 0x01, false);
	fill(c, 100, 8, 0x02, false);
	fill(c, 4, 2, 0x03, false);	/* overwrites part of the first write */
	assert_int_equal(vcache_flush(c), 0);
	assert_int_equal(p.flushes, 1);
	assert_int_equal(on_platter(&p, 0, 4, 0x01), 4);
	assert_int_equal(on_platter(&p, 4, 2, 0x03), 2);
	assert_int_equal(on_platter(&p, 6, 2, 0x01), 2);
	assert_int_equal(on_platter(&p, 100, 8, 0x02), 8);
	struct vcache_stats st;
	vcache_get_stats(c, &st);
	assert_int_equal(st.dirty_sectors, 0);
	vcache_free(c);
}

static void sync_off_skips_backend_flush(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	struct vcache_opts o = { .sync = false };
	struct vcache *c = mk(&p, &o);
	fill(c, 0, 1, 0x01, false);
	assert_int_equal(vcache_flush(c), 0);
	assert_int_equal(p.flushes, 0);
	assert_int_equal(on_platter(&p, 0, 1, 0x01), 1);
	vcache_free(c);
}

static void fua_writes_only_its_own_data(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	struct vcache_opts o = { .sync = true };
	struct vcache *c = mk(&p, &o);
	fill(c, 0, 4, 0x01, false);
	fill(c, 50, 4, 0x02, true);
	assert_int_equal(on_platter(&p, 50, 4, 0x02), 4);
	assert_int_equal(on_platter(&p, 0, 4, 0), 4);
	assert_int_equal(p.flushes, 1);
	vcache_free(c);
}

static void lying_acknowledges_but_never_writes(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	struct vcache_opts o = { .sync = true, .lying = true, .writeback = VCACHE_WB_RANDOM };
	struct vcache *c = mk(&p, &o);
	fill(c, 0, 8, 0x01, false);
	assert_int_equal(vcache_flush(c), 0);
	fill(c, 20, 2, 0x02, true);
	/* Write-back never picks what was lied about. */
	assert_int_equal(vcache_writeback_step(c, 100), 0);
	uint8_t buf[S];
	assert_int_equal(vcache_read(c, buf, S, 0), 0);
	assert_int_equal(buf[0], 0x01);
	assert_int_equal(p.pwrites, 0);
	assert_int_equal(p.flushes, 0);
	/* Even an orderly shutdown drops it. */
	assert_int_equal(vcache_drain(c), 0);
	assert_int_equal(on_platter(&p, 0, 8, 0), 8);
	assert_int_equal(on_platter(&p, 20, 2, 0), 2);
	vcache_free(c);
}

static void noflush_keeps_data_dirty_not_doomed(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	struct vcache_opts o = { .sync = true, .noflush = true, .writeback = VCACHE_WB_OLDEST };
	struct vcache *c = mk(&p, &o);
	fill(c, 0, 4, 0x01, false);
	assert_int_equal(vcache_flush(c), 0);
	fill(c, 8, 4, 0x02, true);
	assert_int_equal(p.pwrites, 0);
	assert_int_equal(p.flushes, 0);
	/* Unlike a lie, the data may still be written back, and a drain keeps it. */
	assert_int_equal(vcache_writeback_step(c, 1), 4);
	assert_int_equal(on_platter(&p, 0, 4, 0x01), 4);
	assert_int_equal(vcache_drain(c), 0);
	assert_int_equal(on_platter(&p, 8, 4, 0x02), 4);
	vcache_free(c);
}

static void lying_cap_drops_oldest(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	struct vcache_opts o = { .sync = true, .lying = true, .max_dirty = 4 * S };
	struct vcache *c = mk(&p, &o);
	fill(c, 0, 4, 0x01, false);
	assert_int_equal(vcache_flush(c), 0);
	fill(c, 10, 4, 0x02, false);
	/* The lied-about sectors were evicted without being written: reads now see
	 * the platter's old data. */
	uint8_t buf[S];
	assert_int_equal(vcache_read(c, buf, S, 0), 0);
	assert_int_equal(buf[0], 0);
	struct vcache_stats st;
	vcache_get_stats(c, &st);
	assert_int_equal(st.dropped, 4);
	vcache_free(c);
}

static void writeback_whole_write_without_tear(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	struct vcache_opts o = { .sync = true, .writeback = VCACHE_WB_RANDOM, .seed = 1 };
	struct vcache *c = mk(&p, &o);
	fill(c, 0, 16, 0x01, false);
	fill(c, 8, 1, 0x02, false);	/* a later write splits the first one */
	fill(c, 64, 16, 0x03, false);
	int n = vcache_writeback_step(c, 1);
	assert_true(n == 15 || n == 1 || n == 16);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(vcache_writeback_step(c, 1) >= 0, 1);
	/* Each write reached the platter whole or not at all, and the split one
	 * kept its later sector's data. */
	unsigned a = on_platter(&p, 0, 8, 0x01) + on_platter(&p, 9, 7, 0x01);
	assert_true(a == 0 || a == 15);
	assert_true(on_platter(&p, 64, 16, 0x03) % 16 == 0);
	assert_int_equal(on_platter(&p, 8, 1, 0x01), 0);
	vcache_free(c);
}

static void writeback_one_sector_with_tear(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	struct vcache_opts o = { .sync = true, .writeback = VCACHE_WB_RANDOM, .tear = true,
				 .seed = 2 };
	struct vcache *c = mk(&p, &o);
	fill(c, 0, 64, 0x01, false);
	assert_int_equal(vcache_writeback_step(c, 20), 20);
	assert_int_equal(on_platter(&p, 0, 64, 0x01), 20);
	/* Random picks: not simply the first 20 sectors. */
	assert_true(on_platter(&p, 0, 20, 0x01) < 20);
	vcache_free(c);
}

static void writeback_oldest_in_order(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	struct vcache_opts o = { .sync = true, .writeback = VCACHE_WB_OLDEST };
	struct vcache *c = mk(&p, &o);
	fill(c, 30, 2, 0x01, false);
	fill(c, 10, 2, 0x02, false);
	fill(c, 20, 2, 0x03, false);
	assert_int_equal(vcache_writeback_step(c, 2), 4);
	assert_int_equal(on_platter(&p, 30, 2, 0x01), 2);
	assert_int_equal(on_platter(&p, 10, 2, 0x02), 2);
	assert_int_equal(on_platter(&p, 20, 2, 0), 2);
	vcache_free(c);
}

static void same_seed_same_result(void **state)
{
	static struct platter p1, p2, p3;
	memset(&p1, 0, sizeof(p1));
	memset(&p2, 0, sizeof(p2));
	memset(&p3, 0, sizeof(p3));
	struct vcache_opts o = { .writeback = VCACHE_WB_RANDOM, .tear = true, .seed = 42 };
	struct vcache *c1 = mk(&p1, &o), *c2 = mk(&p2, &o);
	o.seed = 43;
	struct vcache *c3 = mk(&p3, &o);
	struct vcache *cs[] = { c1, c2, c3 };
	for (unsigned k = 0; k < 3; k++) {
		fill(cs[k], 0, 128, 0x07, false);
		assert_int_equal(vcache_writeback_step(cs[k], 40), 40);
	}
	assert_memory_equal(p1.data, p2.data, sizeof(p1.data));
	assert_memory_not_equal(p1.data, p3.data, sizeof(p1.data));
	for (unsigned k = 0; k < 3; k++)
		vcache_free(cs[k]);
}

static void cap_writes_back_oldest(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	struct vcache_opts o = { .max_dirty = 8 * S };
	struct vcache *c = mk(&p, &o);
	for (unsigned i = 0; i < 6; i++)
		fill(c, i * 4, 4, (uint8_t)(0x10 + i), false);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(on_platter(&p, i * 4, 4, (uint8_t)(0x10 + i)), 4);
	for (unsigned i = 4; i < 6; i++)
		assert_int_equal(on_platter(&p, i * 4, 4, 0), 4);
	vcache_free(c);
}

static void partial_sector_merges(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	memset(p.data + 3 * S, 0x55, S);
	struct vcache_opts o = { 0 };
	struct vcache *c = mk(&p, &o);
	uint8_t b[10];
	memset(b, 0xee, sizeof(b));
	assert_int_equal(vcache_write(c, b, sizeof(b), 3 * S + 100, false), 0);
	uint8_t r[S];
	assert_int_equal(vcache_read(c, r, S, 3 * S), 0);
	assert_int_equal(r[99], 0x55);
	assert_int_equal(r[100], 0xee);
	assert_int_equal(r[109], 0xee);
	assert_int_equal(r[110], 0x55);
	assert_int_equal(vcache_flush(c), 0);
	assert_memory_equal(p.data + 3 * S, r, S);
	vcache_free(c);
}

static void zero_is_a_cached_write(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	memset(p.data, 0x77, sizeof(p.data));
	struct vcache_opts o = { 0 };
	struct vcache *c = mk(&p, &o);
	assert_int_equal(vcache_zero(c, 8 * S, 0, false), 0);
	uint8_t r[8 * S];
	assert_int_equal(vcache_read(c, r, sizeof(r), 0), 0);
	assert_int_equal(r[0], 0);
	assert_int_equal(on_platter(&p, 0, 8, 0x77), 8);
	vcache_free(c);
}

static void failed_flush_keeps_data_dirty(void **state)
{
	static struct platter p;
	memset(&p, 0, sizeof(p));
	struct vcache_opts o = { .sync = true };
	struct vcache *c = mk(&p, &o);
	fill(c, 0, 4, 0x01, false);
	p.fail_writes = -EIO;
	assert_int_equal(vcache_flush(c), -EIO);
	struct vcache_stats st;
	vcache_get_stats(c, &st);
	assert_int_equal(st.dirty_sectors, 4);
	p.fail_writes = 0;
	assert_int_equal(vcache_flush(c), 0);
	assert_int_equal(on_platter(&p, 0, 4, 0x01), 4);
	vcache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_see_cache_platter_untouched),
		cmocka_unit_test(flush_writes_everything_dirty),
		cmocka_unit_test(sync_off_skips_backend_flush),
		cmocka_unit_test(fua_writes_only_its_own_data),
		cmocka_unit_test(lying_acknowledges_but_never_writes),
		cmocka_unit_test(noflush_keeps_data_dirty_not_doomed),
		cmocka_unit_test(lying_cap_drops_oldest),
		cmocka_unit_test(writeback_whole_write_without_tear),
		cmocka_unit_test(writeback_one_sector_with_tear),
		cmocka_unit_test(writeback_oldest_in_order),
		cmocka_unit_test(same_seed_same_result),
		cmocka_unit_test(cap_writes_back_oldest),
		cmocka_unit_test(partial_sector_merges),
		cmocka_unit_test(zero_is_a_cached_write),
		cmocka_unit_test(failed_flush_keeps_data_dirty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
