/* The arm scheduler's PRNG (reproducible, uniform, window edges), the 64-bit clock
 * extension across counter wrap, and the EEPROM settings fallback. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fwtest.h"
#include "../core/clock.h"
#include "../core/rng.h"

static void test_splitmix_reference(void **state)
{
	struct fw_rng r;

	/* splitmix64 from state 0: first outputs of the reference implementation */
	fw_rng_seed(&r, 0);
	assert_true(fw_rng_next(&r) == 0xe220a8397b1dcdafull);
	assert_true(fw_rng_next(&r) == 0x6e789e6aa1b965f4ull);
	assert_true(fw_rng_next(&r) == 0x06c45d188009454full);
}

static void test_reproducible(void **state)
{
	for (uint32_t seed = 0; seed < 1000; seed++)
		assert_int_equal(fw_arm_offset(seed, 123456789), fw_arm_offset(seed, 123456789));
	/* different seeds give different offsets (not all equal) */
	assert_int_not_equal(fw_arm_offset(1, 1000000), fw_arm_offset(2, 1000000));
	/* through the firmware: two boots, same seed, same cut moment */
	uint64_t t[2];

	for (int i = 0; i < 2; i++) {
		const char *r;
		int e;

		fw_boot(3);
		hal_fake_advance(12345 + 1000 * (uint64_t)i);
		r = fw_req("arm 1 10 2000 300 987654321");
		fw_run(2100000, 1000);
		e = fw_find_event("relay ch=1 power=off cause=arm", 0);
		assert_true(e >= 0);
		t[i] = fw_event_t((size_t)e) - fw_key(r, "from");
		fw_req("ping");
	}
	assert_true(t[0] == t[1]);
	assert_true(t[0] == fw_arm_offset(987654321, 1990000));
	fw_clear();
}

static void test_window_edges(void **state)
{
	for (uint32_t span = 0; span < 4; span++) {
		uint32_t seen = 0;

		for (uint32_t seed = 0; seed < 2000; seed++) {
			uint32_t x = fw_arm_offset(seed, span);

			assert_true(x <= span);
			seen |= 1u << x;
		}
		/* both ends of [0, span] are reached */
		assert_int_equal(seen, (1u << (span + 1)) - 1);
	}
	/* full 32-bit span allowed */
	(void)fw_arm_offset(5, UINT32_MAX);
}

/* Chi-square of `draws` offsets over `bins` equal bins of [0, span]. */
static double chi_square(uint32_t span, uint32_t draws, uint32_t bins)
{
	uint32_t count[100] = { 0 };
	double n = (double)span + 1, chi = 0;

	for (uint32_t seed = 0; seed < draws; seed++) {
		uint32_t x = fw_arm_offset(seed * 2654435761u, span);

		count[(uint32_t)((double)x * bins / n)]++;
	}
	for (uint32_t b = 0; b < bins; b++) {
		double expect = (double)draws / bins, d = count[b] - expect;

		chi += d * d / expect;
	}
	return chi;
}

static void test_uniform(void **state)
{
	/* 99 degrees of freedom: P(chi2 > 148.2) = 0.001. Fixed seeds: deterministic. */
	double c1 = chi_square(3599999, 200000, 100);
	/* the longest window, where a plain modulo would favour the first 19 %: */
	double c2 = chi_square(3600000000u, 200000, 100);

	print_message("chi-square (99 dof): 1 h-ish window %.1f, 1 h window %.1f\n", c1, c2);
	assert_true(c1 < 148.2);
	assert_true(c2 < 148.2);
}

/* The rejection step matters: a biased reduction is detected by the same test. */
static void test_uniform_test_can_fail(void **state)
{
	uint32_t count[10] = { 0 };
	double n = 3600000001.0, chi = 0;

	for (uint32_t seed = 0; seed < 100000; seed++) {
		struct fw_rng r;

		fw_rng_seed(&r, seed);
		count[(uint32_t)((double)((uint32_t)(fw_rng_next(&r) >> 32) % 3600000001u) * 10 / n)]++;
	}
	for (int b = 0; b < 10; b++) {
		double d = count[b] - 10000.0;

		chi += d * d / 10000.0;
	}
	assert_true(chi > 27.9);	/* 9 dof, P = 0.001 */
}

static void test_clock_extension(void **state)
{
	assert_true(fw_clock_ticks(5, 0x0010, false) == (5ull << 16 | 0x10));
	assert_true(fw_clock_ticks(5, 0x0010, true) == (6ull << 16 | 0x10));
	assert_true(fw_clock_ticks(5, 0xfff0, true) == (5ull << 16 | 0xfff0));
	assert_true(fw_clock_ticks(UINT32_MAX, 0xffff, false) == ((uint64_t)UINT32_MAX << 16 | 0xffff));
	/* 48-bit wrap counts: past the 32-bit count's own wrap (4.46 years), on */
	assert_true(fw_clock_ticks(UINT32_MAX, 0x0001, true) == (1ull << 48 | 1));
	assert_true(fw_clock_ticks(1ull << 32, 0x0001, false) == (1ull << 48 | 1));
}

/* Model the race: the overflow interrupt runs `lat` ticks after the wrap (held off by
 * other interrupts); a reader in a critical section samples count at t, then the flag
 * `d` ticks later. Every
 * sample must give the true time of the count read, across several wraps, and across
 * 2^48 ticks (4.46 years at 0.5 us per tick), where a 32-bit wrap count ran out. */
static void test_clock_race(void **state)
{
	const uint64_t bases[] = { 0, (uint64_t)(UINT32_MAX - 1) << 16 };

	for (size_t b = 0; b < 2; b++)
		for (uint64_t t = bases[b] + 65536 - 300; t < bases[b] + 3 * 65536 + 300; t++)
			for (uint64_t lat = 0; lat < 200; lat += 37)
				for (uint64_t d = 0; d < 8; d += 3) {
					uint64_t tf = t + d;	/* flag read */
					/* The ISR of a wrap ran iff lat ticks after it passed before
					 * the critical section began at t; inside it, it cannot run. */
					uint64_t counted = t >= lat ? (t - lat) >> 16 : 0;
					bool pending = counted < tf >> 16;

					if (fw_clock_ticks(counted, (uint16_t)t, pending) !=
					    t)
						fail_msg("t=%llu lat=%llu d=%llu", (unsigned long long)t,
							 (unsigned long long)lat, (unsigned long long)d);
				}
}

/* An interrupt handler keeps only the low 16 bits of the wrap count; the event is
 * converted later with the full count of then: right for every distance below 65536
 * wraps, across the low 16 bits' own wrap, the 32-bit word's and near 2^48. */
static void test_clock_wraps_then(void **state)
{
	const uint64_t nows[] = { 0, 5, 0xffff, 0x10000, 0x10005, 0xffffffffull,
				  0x100000003ull, (1ull << 48) - 2, 1ull << 48 };

	for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++)
		for (uint64_t back = 0; back < 65536 && back <= nows[i]; back += back < 70 ? 1 : 997) {
			uint64_t then = nows[i] - back;

			if (fw_clock_wraps_then(nows[i], (uint16_t)then) != then)
				fail_msg("now=%#llx then=%#llx", (unsigned long long)nows[i],
					 (unsigned long long)then);
		}
	/* 65536 wraps or more between: not recoverable, and said so (hal_avr.c) */
	assert_true(fw_clock_wraps_then(0x20000, 0) == 0x20000);
}

static void test_settings_roundtrip(void **state)
{
	struct fw_settings s, t;
	uint8_t img[FW_SETTINGS_IMAGE_SIZE];

	fw_settings_default(&s);
	s.v[FW_SET_MAX_OFF_MS] = 123456;
	fw_settings_encode(&s, 42, img);
	assert_int_equal(fw_settings_decode(&t, img), FW_COPY_VALID);
	assert_memory_equal(s.v, t.v, sizeof(s.v));
	assert_int_equal(t.seq, 42);
}

/* Copy images, each built from `base` with a sequence number and a way to spoil it. */
enum spoil { SP_NONE, SP_BLANK, SP_CRC, SP_CRC_BYTE, SP_LAYOUT, SP_COUNT, SP_VALUE, SP_HALF };

static void copy_make(uint8_t *img, const struct fw_settings *base, uint8_t seq, enum spoil sp)
{
	struct fw_settings s = *base;

	if (sp == SP_VALUE)
		s.v[FW_SET_MIN_OFF_MS] = 5;	/* valid CRC, value out of range */
	fw_settings_encode(&s, seq, img);
	switch (sp) {
	case SP_BLANK: memset(img, 0xff, FW_SETTINGS_IMAGE_SIZE); break;
	case SP_CRC: img[10] ^= 0x04; break;	/* one bit flipped */
	case SP_CRC_BYTE: img[FW_SETTINGS_IMAGE_SIZE - 1] ^= 0x80; break;
	case SP_LAYOUT: img[0] = FW_SETTINGS_LAYOUT + 1; break;
	case SP_COUNT: img[1] = FW_SET_COUNT + 1; break;
	case SP_HALF:	/* a write cut short over an erased copy */
		memset(img + FW_SETTINGS_IMAGE_SIZE / 2, 0xff, FW_SETTINGS_IMAGE_SIZE -
		       FW_SETTINGS_IMAGE_SIZE / 2);
		break;
	default: break;
	}
	if (sp == SP_LAYOUT || sp == SP_COUNT)
		img[FW_SETTINGS_IMAGE_SIZE - 1] = fw_crc8(img, FW_SETTINGS_IMAGE_SIZE - 1);
}

static void boot_with(const uint8_t *a, const uint8_t *b)
{
	hal_fake_reset(3);
	memcpy(hal_fake_eeprom() + FW_SETTINGS_ADDR_A, a, FW_SETTINGS_IMAGE_SIZE);
	memcpy(hal_fake_eeprom() + FW_SETTINGS_ADDR_B, b, FW_SETTINGS_IMAGE_SIZE);
	fw_boot_keep_eeprom();
}

static uint32_t host_timeout(void)
{
	return (uint32_t)fw_key(fw_req("get host_timeout_ms"), "host_timeout_ms");
}

static void test_eeprom_copies(void **state)
{
	struct fw_settings s1, s2;
	uint8_t a[FW_SETTINGS_IMAGE_SIZE], b[FW_SETTINGS_IMAGE_SIZE];
	static const enum spoil damaged[] = { SP_CRC, SP_CRC_BYTE, SP_LAYOUT, SP_COUNT, SP_VALUE,
					      SP_HALF };

	fw_settings_default(&s1);
	s1.v[FW_SET_HOST_TIMEOUT_MS] = 1111;
	s2 = s1;
	s2.v[FW_SET_HOST_TIMEOUT_MS] = 2222;

	/* both valid: the one ahead modulo 256 wins, whichever slot it is in */
	copy_make(a, &s1, 5, SP_NONE);
	copy_make(b, &s2, 6, SP_NONE);
	boot_with(a, b);
	assert_int_equal(fw_core.settings_status, FW_SETTINGS_OK);
	assert_int_equal(host_timeout(), 2222);
	copy_make(a, &s1, 0, SP_NONE);
	copy_make(b, &s2, 255, SP_NONE);
	boot_with(a, b);
	assert_int_equal(host_timeout(), 1111);
	assert_int_equal(fw_core.set.slot, 0);

	/* one valid, one blank: ok (a first store, or firmware 0.1's single copy) */
	copy_make(a, &s1, 1, SP_NONE);
	copy_make(b, &s2, 0, SP_BLANK);
	boot_with(a, b);
	assert_int_equal(fw_core.settings_status, FW_SETTINGS_OK);
	assert_int_equal(host_timeout(), 1111);

	/* one damaged, in either slot and any way: the other, "recovered" */
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		copy_make(a, &s1, 9, SP_NONE);
		copy_make(b, &s2, 10, damaged[i]);
		boot_with(a, b);
		assert_int_equal(fw_core.settings_status, FW_SETTINGS_RECOVERED);
		assert_int_equal(host_timeout(), 1111);
		assert_non_null(strstr(fw_events.line[0], " settings=recovered "));
		boot_with(b, a);
		assert_int_equal(fw_core.settings_status, FW_SETTINGS_RECOVERED);
		assert_int_equal(host_timeout(), 1111);

		/* none valid: defaults, "corrupt" (and with a blank one too) */
		copy_make(a, &s1, 9, damaged[i]);
		boot_with(a, b);
		assert_int_equal(fw_core.settings_status, FW_SETTINGS_CORRUPT);
		assert_int_equal(host_timeout(), 5000);
		copy_make(b, &s1, 9, SP_BLANK);
		boot_with(a, b);
		assert_int_equal(fw_core.settings_status, FW_SETTINGS_CORRUPT);
		assert_non_null(strstr(fw_events.line[0], " settings=corrupt "));
	}

	/* blank: defaults; nothing is written back until a store */
	copy_make(a, &s1, 0, SP_BLANK);
	boot_with(a, a);
	assert_int_equal(fw_core.settings_status, FW_SETTINGS_BLANK);
	assert_string_equal(fw_req("settings"),
			    "ok relay_active=0 pwrok_invert=3 min_off_ms=200 max_off_ms=60000 host_timeout_ms=5000");
	assert_int_equal(hal_fake_eeprom_writes(), 0);
	fw_clear();
}

/* Firmware 0.1's image (layout 1, one copy at address 0, no sequence number). */
static void test_eeprom_layout_v1(void **state)
{
	uint8_t img[FW_SETTINGS_IMAGE_SIZE], blank[FW_SETTINGS_IMAGE_SIZE];
	uint32_t v[FW_SET_COUNT] = { 3, 0, 250, 70000, 7000 };

	memset(img, 0xff, sizeof(img));
	memset(blank, 0xff, sizeof(blank));
	img[0] = FW_SETTINGS_LAYOUT_V1;
	img[1] = FW_SET_COUNT;
	for (int i = 0; i < FW_SET_COUNT; i++)
		for (int k = 0; k < 4; k++)
			img[2 + 4 * i + k] = (uint8_t)(v[i] >> (8 * k));
	img[FW_SETTINGS_IMAGE_SIZE_V1 - 1] = fw_crc8(img, FW_SETTINGS_IMAGE_SIZE_V1 - 1);
	boot_with(img, blank);
	assert_int_equal(fw_core.settings_status, FW_SETTINGS_OK);
	assert_string_equal(fw_req("settings"),
			    "ok relay_active=3 pwrok_invert=0 min_off_ms=250 max_off_ms=70000 host_timeout_ms=7000");
	/* the next store turns it into two layout-2 copies */
	fw_req("set min_off_ms 300");
	fw_boot_keep_eeprom();
	assert_int_equal(fw_core.settings_status, FW_SETTINGS_OK);
	assert_int_equal(hal_fake_eeprom()[FW_SETTINGS_ADDR_A], FW_SETTINGS_LAYOUT);
	assert_int_equal(hal_fake_eeprom()[FW_SETTINGS_ADDR_B], FW_SETTINGS_LAYOUT);
	assert_int_equal(fw_key(fw_req("get host_timeout_ms"), "host_timeout_ms"), 7000);
	fw_clear();
}

/* A store writes the older copy first, then the newer one; a power loss at any point
 * leaves a valid copy holding the old or the new settings, never the defaults. */
static void test_eeprom_store_power_loss(void **state)
{
	struct fw_settings s;
	uint8_t a[FW_SETTINGS_IMAGE_SIZE], b[FW_SETTINGS_IMAGE_SIZE];

	fw_settings_default(&s);
	s.v[FW_SET_HOST_TIMEOUT_MS] = 1111;
	copy_make(a, &s, 20, SP_NONE);
	copy_make(b, &s, 21, SP_NONE);		/* B is the newest */

	for (unsigned ok = 0; ok < 3; ok++) {
		boot_with(a, b);
		hal_fake_eeprom_fail_after(ok);
		if (ok < 2)
			assert_string_equal(fw_req("set host_timeout_ms 2222"), "error:9 eeprom");
		else
			assert_string_equal(fw_req("set host_timeout_ms 2222"),
					    "ok host_timeout_ms=2222");
		/* the settings in use change only with the store */
		assert_int_equal(host_timeout(), ok < 2 ? 1111 : 2222);
		fw_boot_keep_eeprom();
		/* cut in the first copy (A): B holds the old settings; cut in the second
		 * (B): A holds the new ones; not cut: both new */
		assert_int_equal(host_timeout(), ok == 0 ? 1111 : 2222);
		assert_int_equal(fw_core.settings_status, ok < 2 ? FW_SETTINGS_RECOVERED :
								 FW_SETTINGS_OK);
		assert_non_null(strstr(fw_req("status"), ok < 2 ? " settings=recovered " :
							      " settings=ok "));
		/* a later store (the EEPROM healthy again) repairs both copies */
		hal_fake_eeprom_fail_after(UINT_MAX);
		fw_req("set host_timeout_ms 3333");
		assert_non_null(strstr(fw_req("status"), " settings=ok "));
		fw_boot_keep_eeprom();
		assert_int_equal(fw_core.settings_status, FW_SETTINGS_OK);
		assert_int_equal(host_timeout(), 3333);
	}
	fw_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splitmix_reference),
		cmocka_unit_test(test_reproducible),
		cmocka_unit_test(test_window_edges),
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_uniform_test_can_fail),
		cmocka_unit_test(test_clock_extension),
		cmocka_unit_test(test_clock_race),
		cmocka_unit_test(test_clock_wraps_then),
		cmocka_unit_test(test_settings_roundtrip),
		cmocka_unit_test(test_eeprom_copies),
		cmocka_unit_test(test_eeprom_layout_v1),
		cmocka_unit_test(test_eeprom_store_power_loss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
