/* The arm scheduler's PRNG (reproducible, uniform, window edges), the 64-bit clock
 * extension across counter wrap, and the EEPROM settings fallback. */
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
	struct pc_rng r;

	/* splitmix64 from state 0: first outputs of the reference implementation */
	pc_rng_seed(&r, 0);
	assert_true(pc_rng_next(&r) == 0xe220a8397b1dcdafull);
	assert_true(pc_rng_next(&r) == 0x6e789e6aa1b965f4ull);
	assert_true(pc_rng_next(&r) == 0x06c45d188009454full);
}

static void test_reproducible(void **state)
{
	for (uint32_t seed = 0; seed < 1000; seed++)
		assert_int_equal(pc_arm_offset(seed, 123456789), pc_arm_offset(seed, 123456789));
	/* different seeds give different offsets (not all equal) */
	assert_int_not_equal(pc_arm_offset(1, 1000000), pc_arm_offset(2, 1000000));
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
	assert_true(t[0] == pc_arm_offset(987654321, 1990000));
	fw_clear();
}

static void test_window_edges(void **state)
{
	for (uint32_t span = 0; span < 4; span++) {
		uint32_t seen = 0;

		for (uint32_t seed = 0; seed < 2000; seed++) {
			uint32_t x = pc_arm_offset(seed, span);

			assert_true(x <= span);
			seen |= 1u << x;
		}
		/* both ends of [0, span] are reached */
		assert_int_equal(seen, (1u << (span + 1)) - 1);
	}
	/* full 32-bit span allowed */
	(void)pc_arm_offset(5, UINT32_MAX);
}

/* Chi-square of `draws` offsets over `bins` equal bins of [0, span]. */
static double chi_square(uint32_t span, uint32_t draws, uint32_t bins)
{
	uint32_t count[100] = { 0 };
	double n = (double)span + 1, chi = 0;

	for (uint32_t seed = 0; seed < draws; seed++) {
		uint32_t x = pc_arm_offset(seed * 2654435761u, span);

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
		struct pc_rng r;

		pc_rng_seed(&r, seed);
		count[(uint32_t)((double)((uint32_t)(pc_rng_next(&r) >> 32) % 3600000001u) * 10 / n)]++;
	}
	for (int b = 0; b < 10; b++) {
		double d = count[b] - 10000.0;

		chi += d * d / 10000.0;
	}
	assert_true(chi > 27.9);	/* 9 dof, P = 0.001 */
}

static void test_clock_extension(void **state)
{
	assert_true(pc_clock_ticks(5, 0x0010, false) == (5ull << 16 | 0x10));
	assert_true(pc_clock_ticks(5, 0x0010, true) == (6ull << 16 | 0x10));
	assert_true(pc_clock_ticks(5, 0xfff0, true) == (5ull << 16 | 0xfff0));
	assert_true(pc_clock_ticks(UINT32_MAX, 0xffff, false) == ((uint64_t)UINT32_MAX << 16 | 0xffff));
	assert_true(pc_clock_ticks(UINT32_MAX, 0x0001, true) == (1ull << 48 | 1));
}

/* Model the race: the overflow interrupt runs `lat` ticks after the wrap (held off by
 * other interrupts); a reader in a critical section samples count at t, then the flag
 * `d` ticks later. Every
 * sample must give the true time of the count read, across several wraps, up to the
 * top of the software counter (2^48 ticks: 4.4 years at 0.5 us per tick). */
static void test_clock_race(void **state)
{
	const uint64_t bases[] = { 0, (uint64_t)(UINT32_MAX - 3) << 16 };

	for (size_t b = 0; b < 2; b++)
		for (uint64_t t = bases[b] + 65536 - 300; t < bases[b] + 3 * 65536 + 300; t++)
			for (uint64_t lat = 0; lat < 200; lat += 37)
				for (uint64_t d = 0; d < 8; d += 3) {
					uint64_t tf = t + d;	/* flag read */
					/* The ISR of a wrap ran iff lat ticks after it passed before
					 * the critical section began at t; inside it, it cannot run. */
					uint64_t counted = t >= lat ? (t - lat) >> 16 : 0;
					bool pending = counted < tf >> 16;

					if ((uint64_t)pc_clock_ticks((uint32_t)counted, (uint16_t)t, pending) !=
					    t)
						fail_msg("t=%llu lat=%llu d=%llu", (unsigned long long)t,
							 (unsigned long long)lat, (unsigned long long)d);
				}
}

static void test_settings_roundtrip(void **state)
{
	struct pc_settings s, t;
	uint8_t img[PC_SETTINGS_IMAGE_SIZE];

	pc_settings_default(&s);
	s.v[PC_SET_MAX_OFF_MS] = 123456;
	pc_settings_encode(&s, img);
	assert_int_equal(pc_settings_decode(&t, img), PC_SETTINGS_LOADED);
	assert_memory_equal(&s, &t, sizeof(s));
}

static void boot_with_image(const uint8_t *img)
{
	hal_fake_reset(3);
	memcpy(hal_fake_eeprom(), img, PC_SETTINGS_IMAGE_SIZE);
	fw_boot_keep_eeprom();
}

static void test_eeprom_fallback(void **state)
{
	static const char defaults[] =
		"ok relay_active=0 pwrok_invert=3 min_off_ms=200 max_off_ms=60000 host_timeout_ms=5000";
	struct pc_settings s;
	uint8_t good[PC_SETTINGS_IMAGE_SIZE], img[PC_SETTINGS_IMAGE_SIZE];

	pc_settings_default(&s);
	s.v[PC_SET_RELAY_ACTIVE] = 1;
	s.v[PC_SET_HOST_TIMEOUT_MS] = 9999;
	pc_settings_encode(&s, good);

	boot_with_image(good);
	assert_int_equal(fw_pc.settings_status, PC_SETTINGS_LOADED);
	assert_string_equal(fw_req("settings"),
			    "ok relay_active=1 pwrok_invert=3 min_off_ms=200 max_off_ms=60000 host_timeout_ms=9999");
	assert_int_equal(hal_fake_relay_level(0), 0);

	memset(img, 0xff, sizeof(img));		/* blank */
	boot_with_image(img);
	assert_int_equal(fw_pc.settings_status, PC_SETTINGS_BLANK);
	assert_string_equal(fw_req("settings"), defaults);
	assert_int_equal(hal_fake_relay_level(0), 1);

	memcpy(img, good, sizeof(img));		/* other layout version */
	img[0] = PC_SETTINGS_LAYOUT + 1;
	img[sizeof(img) - 1] = pc_crc8(img, sizeof(img) - 1);
	boot_with_image(img);
	assert_int_equal(fw_pc.settings_status, PC_SETTINGS_BAD_LAYOUT);
	assert_string_equal(fw_req("settings"), defaults);

	memcpy(img, good, sizeof(img));		/* one bit flipped: CRC mismatch */
	img[10] ^= 0x04;
	boot_with_image(img);
	assert_int_equal(fw_pc.settings_status, PC_SETTINGS_BAD_CRC);
	assert_string_equal(fw_req("settings"), defaults);

	memcpy(img, good, sizeof(img));		/* bad CRC byte itself */
	img[sizeof(img) - 1] ^= 0x80;
	boot_with_image(img);
	assert_int_equal(fw_pc.settings_status, PC_SETTINGS_BAD_CRC);

	s.v[PC_SET_MIN_OFF_MS] = 5;		/* valid CRC, value out of range */
	pc_settings_encode(&s, img);
	boot_with_image(img);
	assert_int_equal(fw_pc.settings_status, PC_SETTINGS_BAD_VALUE);
	assert_string_equal(fw_req("settings"), defaults);

	/* the fallback is not written back; a `set` stores a valid image */
	assert_int_equal(hal_fake_eeprom_writes(), 0);
	fw_req("set min_off_ms 300");
	assert_int_equal(pc_settings_decode(&s, hal_fake_eeprom()), PC_SETTINGS_LOADED);
	assert_int_equal(s.v[PC_SET_MIN_OFF_MS], 300);
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
		cmocka_unit_test(test_settings_roundtrip),
		cmocka_unit_test(test_eeprom_fallback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
