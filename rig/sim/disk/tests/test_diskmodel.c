/* The disk model through real processes: nbdkit with the pcvcache filter, and
 * qemu-storage-daemon above it. Data is written and read with libnbd; every
 * expectation is about what reads back after a cut, never about the model's own
 * counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libnbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diskmodel.h"
#include "log.h"
#include "util.h"

#define KIB 1024ull
#define MIB (1024ull * 1024)

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static struct nbd_handle *nbd_open_uri(const char *uri)
{
	struct nbd_handle *h = nbd_create();
	assert_non_null(h);
	if (nbd_connect_uri(h, uri) == -1)
		fail_msg("cannot connect to '%s': %s", uri, nbd_get_error());
	return h;
}

/* Fill [off, off+len) with a byte per 512-byte sector: fill(sector index). */
static void put(struct nbd_handle *h, uint64_t off, uint64_t len, uint8_t byte, bool flush)
{
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	memset(buf, byte, len);
	if (nbd_pwrite(h, buf, len, off, 0) == -1)
		fail_msg("pwrite at %llu: %s", (unsigned long long)off, nbd_get_error());
	if (flush && nbd_flush(h, 0) == -1)
		fail_msg("flush: %s", nbd_get_error());
	free(buf);
}

/* Count the sectors of [off, off+len) that read back as `byte`. */
static uint64_t count_sectors(struct nbd_handle *h, uint64_t off, uint64_t len, uint8_t byte)
{
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	if (nbd_pread(h, buf, len, off, 0) == -1)
		fail_msg("pread at %llu: %s", (unsigned long long)off, nbd_get_error());
	uint64_t n = 0;
	for (uint64_t s = 0; s < len / 512; s++) {
		bool all = true;
		for (unsigned i = 0; i < 512 && all; i++)
			all = buf[s * 512 + i] == byte;
		n += all;
	}
	free(buf);
	return n;
}

static bool all_are(const char *uri, uint64_t off, uint64_t len, uint8_t byte)
{
	struct nbd_handle *h = nbd_open_uri(uri);
	bool r = count_sectors(h, off, len, byte) == len / 512;
	nbd_close(h);
	return r;
}

static struct diskmodel *dm_new(struct disk_opts *o)
{
	struct diskmodel *dm = diskmodel_new(o);
	if (!dm)
		fail_msg("diskmodel_new: %s", strerror(errno));
	return dm;
}

static void dm_start(struct diskmodel *dm)
{
	int r = diskmodel_start(dm);
	if (r < 0)
		fail_msg("diskmodel_start: %s (logs in '%s')", strerror(-r), diskmodel_dir(dm));
}

static void dm_restart(struct diskmodel *dm, struct disk_check *chk)
{
	int r = diskmodel_restart(dm, chk);
	if (r < 0)
		fail_msg("diskmodel_restart: %s (logs in '%s')", strerror(-r), diskmodel_dir(dm));
}

/* cmocka runs teardown after a failed test too: nothing is left running. */
static int teardown(void **state)
{
	diskmodel_free(*state);
	*state = NULL;
	return 0;
}

/* --- the volatile cache at the QEMU level (raw, cache=none) --- */

static void power_cut_keeps_flushed_loses_unflushed(void **state)
{
	struct disk_opts o;
	disk_opts_init(&o);
	o.size = 8 * MIB;
	struct diskmodel *dm = *state = dm_new(&o);
	dm_start(dm);
	struct nbd_handle *h = nbd_open_uri(diskmodel_uri(dm));
	put(h, 0, 256 * KIB, 0xaa, true);
	put(h, 1 * MIB, 256 * KIB, 0xbb, false);
	/* Acknowledged and readable before the cut: the cache serves it. */
	assert_int_equal(count_sectors(h, 1 * MIB, 256 * KIB, 0xbb), 512);
	assert_int_equal(diskmodel_cut(dm, DISK_CUT_POWER), 0);
	nbd_close(h);
	dm_restart(dm, NULL);
	assert_true(all_are(diskmodel_uri(dm), 0, 256 * KIB, 0xaa));
	assert_true(all_are(diskmodel_uri(dm), 1 * MIB, 256 * KIB, 0x00));
}

static void process_kill_keeps_unflushed_raw(void **state)
{
	struct disk_opts o;
	disk_opts_init(&o);
	o.size = 8 * MIB;
	struct diskmodel *dm = *state = dm_new(&o);
	dm_start(dm);
	struct nbd_handle *h = nbd_open_uri(diskmodel_uri(dm));
	put(h, 1 * MIB, 256 * KIB, 0xbb, false);
	assert_int_equal(diskmodel_cut(dm, DISK_CUT_KILL), 0);
	nbd_close(h);
	dm_restart(dm, NULL);
	assert_true(all_are(diskmodel_uri(dm), 1 * MIB, 256 * KIB, 0xbb));
}

static void lying_disk_loses_flushed(void **state)
{
	struct disk_opts o;
	disk_opts_init(&o);
	o.size = 8 * MIB;
	o.lying = true;
	struct diskmodel *dm = *state = dm_new(&o);
	dm_start(dm);
	struct nbd_handle *h = nbd_open_uri(diskmodel_uri(dm));
	put(h, 0, 256 * KIB, 0xaa, true);
	assert_int_equal(count_sectors(h, 0, 256 * KIB, 0xaa), 512);
	assert_int_equal(diskmodel_cut(dm, DISK_CUT_POWER), 0);
	nbd_close(h);
	dm_restart(dm, NULL);
	assert_true(all_are(diskmodel_uri(dm), 0, 256 * KIB, 0x00));
}

/* Each cache mode's mapping, seen through a power cut over the volatile cache:
 * flushed data survives unless QEMU drops flushes (unsafe); unflushed data survives
 * only when the export is writethrough. */
static void cache_mode_case(void **state, enum disk_cache_mode m, bool flushed_kept,
			    bool unflushed_kept)
{
	struct disk_opts o;
	disk_opts_init(&o);
	o.size = 8 * MIB;
	o.cache = m;
	struct diskmodel *dm = *state = dm_new(&o);
	dm_start(dm);
	struct nbd_handle *h = nbd_open_uri(diskmodel_uri(dm));
	put(h, 0, 128 * KIB, 0xaa, true);
	put(h, 1 * MIB, 128 * KIB, 0xbb, false);
	assert_int_equal(diskmodel_cut(dm, DISK_CUT_POWER), 0);
	nbd_close(h);
	dm_restart(dm, NULL);
	print_message("cache=%s\n", disk_cache_name(m));
	assert_true(all_are(diskmodel_uri(dm), 0, 128 * KIB, flushed_kept ? 0xaa : 0));
	assert_true(all_are(diskmodel_uri(dm), 1 * MIB, 128 * KIB, unflushed_kept ? 0xbb : 0));
}

static void cache_none(void **state) { cache_mode_case(state, DISK_CACHE_NONE, true, false); }
static void cache_writeback(void **state) { cache_mode_case(state, DISK_CACHE_WRITEBACK, true, false); }
static void cache_writethrough(void **state) { cache_mode_case(state, DISK_CACHE_WRITETHROUGH, true, true); }
static void cache_directsync(void **state) { cache_mode_case(state, DISK_CACHE_DIRECTSYNC, true, true); }
static void cache_unsafe(void **state) { cache_mode_case(state, DISK_CACHE_UNSAFE, false, false); }

/* --- write-back physics, on the disk as nbdkit serves it --- */

enum { NWRITES = 64, WSECT = 64 };	/* 64 writes of 32 KiB */

/* Write NWRITES multi-sector writes (write i fills its range with 0x40+i), let the
 * write-back thread run for wait_ms, cut the power, and count per write how many
 * of its sectors persisted. */
static void run_writeback(struct diskmodel *dm, int wait_ms, unsigned persisted[NWRITES])
{
	dm_start(dm);
	struct nbd_handle *h = nbd_open_uri(diskmodel_disk_uri(dm));
	for (unsigned i = 0; i < NWRITES; i++)
		put(h, (uint64_t)i * WSECT * 512, WSECT * 512, (uint8_t)(0x40 + i), false);
	msleep(wait_ms);
	assert_int_equal(diskmodel_cut(dm, DISK_CUT_POWER), 0);
	nbd_close(h);
	dm_restart(dm, NULL);
	h = nbd_open_uri(diskmodel_disk_uri(dm));
	for (unsigned i = 0; i < NWRITES; i++) {
		persisted[i] = (unsigned)count_sectors(h, (uint64_t)i * WSECT * 512, WSECT * 512,
						       (uint8_t)(0x40 + i));
		unsigned zero = (unsigned)count_sectors(h, (uint64_t)i * WSECT * 512,
							WSECT * 512, 0);
		/* A sector is either the new data or the old (zero), never anything else. */
		assert_int_equal(persisted[i] + zero, WSECT);
	}
	nbd_close(h);
}

static void random_writeback_persists_a_subset(void **state)
{
	struct disk_opts o;
	disk_opts_init(&o);
	o.size = 8 * MIB;
	o.writeback = DISK_WB_RANDOM;
	o.wb_rate = 100;	/* writes per second: about a third in 200 ms */
	o.seed = 11;
	struct diskmodel *dm = *state = dm_new(&o);
	unsigned p[NWRITES];
	run_writeback(dm, 200, p);
	unsigned whole = 0, none = 0, later_kept_earlier_lost = 0;
	for (unsigned i = 0; i < NWRITES; i++) {
		whole += p[i] == WSECT;
		none += p[i] == 0;
		/* Without tearing a write goes down whole or not at all. */
		assert_true(p[i] == 0 || p[i] == WSECT);
		for (unsigned j = 0; j < i; j++)
			later_kept_earlier_lost += p[i] == WSECT && p[j] == 0;
	}
	print_message("persisted %u of %u writes\n", whole, NWRITES);
	assert_true(whole > 0);
	assert_true(none > 0);
	/* Random order: some write persisted while an earlier one was lost. */
	assert_true(later_kept_earlier_lost > 0);
}

static void tearing_persists_part_of_a_write(void **state)
{
	struct disk_opts o;
	disk_opts_init(&o);
	o.size = 8 * MIB;
	o.writeback = DISK_WB_RANDOM;
	o.tear = true;
	o.wb_rate = 6000;	/* sectors per second: about a third of 4096 in 200 ms */
	o.seed = 12;
	struct diskmodel *dm = *state = dm_new(&o);
	unsigned p[NWRITES];
	run_writeback(dm, 200, p);
	unsigned torn = 0;
	for (unsigned i = 0; i < NWRITES; i++)
		torn += p[i] > 0 && p[i] < WSECT;
	print_message("%u of %u writes torn\n", torn, NWRITES);
	assert_true(torn > 0);
}

static void cap_writes_back_oldest(void **state)
{
	struct disk_opts o;
	disk_opts_init(&o);
	o.size = 8 * MIB;
	o.max_dirty = 16 * WSECT * 512;	/* room for 16 of the 64 writes */
	struct diskmodel *dm = *state = dm_new(&o);
	unsigned p[NWRITES];
	run_writeback(dm, 0, p);
	for (unsigned i = 0; i < NWRITES; i++)
		assert_int_equal(p[i], i < NWRITES - 16 ? WSECT : 0);
}

/* --- the seed experiment at the QEMU level (process kill) --- */

struct seed_case {
	enum disk_format fmt;
	enum disk_cache_mode cache;
	bool flush;
	uint8_t expect;		/* 0x11: rolled back to the baseline; 0xde: new data */
};

static void seed_experiment(void **state, const struct seed_case *sc)
{
	struct disk_opts o;
	disk_opts_init(&o);
	o.format = sc->fmt;
	o.cache = sc->cache;
	o.size = 32 * MIB;
	o.cluster_size = 128 * KIB;
	o.extended_l2 = true;
	o.lazy_refcounts = true;
	struct diskmodel *dm = *state = dm_new(&o);
	dm_start(dm);
	const uint64_t len = 4 * MIB;
	struct nbd_handle *h = nbd_open_uri(diskmodel_uri(dm));
	put(h, 0, len, 0x11, true);
	nbd_close(h);
	if (sc->fmt == DISK_FMT_QCOW2) {
		int r = diskmodel_snapshot(dm);
		if (r < 0)
			fail_msg("diskmodel_snapshot: %s", strerror(-r));
	}
	h = nbd_open_uri(diskmodel_uri(dm));
	/* 4 KiB writes, as badblocks wrote them in the seed. */
	for (uint64_t off = 0; off < len; off += 64 * KIB)
		put(h, off, 64 * KIB, 0xde, false);
	if (sc->flush && nbd_flush(h, 0) == -1)
		fail_msg("flush: %s", nbd_get_error());
	assert_int_equal(count_sectors(h, 0, len, 0xde), len / 512);
	assert_int_equal(diskmodel_cut(dm, DISK_CUT_KILL), 0);
	nbd_close(h);
	struct disk_check chk;
	dm_restart(dm, &chk);
	if (chk.checked)
		print_message("check: dirty=%d corruptions=%lld leaks=%lld fixed=%lld+%lld\n",
			      chk.dirty, (long long)chk.corruptions, (long long)chk.leaks,
			      (long long)chk.fixed_corruptions, (long long)chk.fixed_leaks);
	/* Whatever the kill left, qemu-img check finds no corruption it cannot repair. */
	assert_false(chk.corrupt);
	disk_check_release(&chk);
	h = nbd_open_uri(diskmodel_uri(dm));
	uint64_t n = count_sectors(h, 0, len, sc->expect);
	nbd_close(h);
	print_message("%llu of %llu sectors read back as 0x%02x\n", (unsigned long long)n,
		      (unsigned long long)(len / 512), sc->expect);
	assert_int_equal(n, len / 512);
}

static void seed_qcow2_none_noflush_rolls_back(void **state)
{
	static const struct seed_case c = { DISK_FMT_QCOW2, DISK_CACHE_NONE, false, 0x11 };
	seed_experiment(state, &c);
}

static void seed_qcow2_none_flush_keeps(void **state)
{
	static const struct seed_case c = { DISK_FMT_QCOW2, DISK_CACHE_NONE, true, 0xde };
	seed_experiment(state, &c);
}

static void seed_raw_none_noflush_keeps(void **state)
{
	static const struct seed_case c = { DISK_FMT_RAW, DISK_CACHE_NONE, false, 0xde };
	seed_experiment(state, &c);
}

static void seed_qcow2_writethrough_keeps(void **state)
{
	static const struct seed_case c = { DISK_FMT_QCOW2, DISK_CACHE_WRITETHROUGH, false, 0xde };
	seed_experiment(state, &c);
}


int main(void)
{
	static const char *const need[] = { "qemu-storage-daemon", "qemu-img", "nbdkit" };
	for (unsigned i = 0; i < 3; i++) {
		if (!pc_in_path(need[i])) {
			printf("skip: '%s' not found in PATH\n", need[i]);
			return 77;
		}
	}
	log_set_prog("test_diskmodel");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(power_cut_keeps_flushed_loses_unflushed, teardown),
		cmocka_unit_test_teardown(process_kill_keeps_unflushed_raw, teardown),
		cmocka_unit_test_teardown(lying_disk_loses_flushed, teardown),
		cmocka_unit_test_teardown(cache_none, teardown),
		cmocka_unit_test_teardown(cache_writeback, teardown),
		cmocka_unit_test_teardown(cache_writethrough, teardown),
		cmocka_unit_test_teardown(cache_directsync, teardown),
		cmocka_unit_test_teardown(cache_unsafe, teardown),
		cmocka_unit_test_teardown(random_writeback_persists_a_subset, teardown),
		cmocka_unit_test_teardown(tearing_persists_part_of_a_write, teardown),
		cmocka_unit_test_teardown(cap_writes_back_oldest, teardown),
		cmocka_unit_test_teardown(seed_qcow2_none_noflush_rolls_back, teardown),
		cmocka_unit_test_teardown(seed_qcow2_none_flush_keeps, teardown),
		cmocka_unit_test_teardown(seed_raw_none_noflush_keeps, teardown),
		cmocka_unit_test_teardown(seed_qcow2_writethrough_keeps, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
