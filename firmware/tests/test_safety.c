/* The safety rules: max off, min off deferral, host-silence watchdog, power ON at
 * reset with idle relay pins, arm disarmed by host silence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fwtest.h"

static int setup(void **state)
{
	fw_boot(3);
	return 0;
}

static int teardown(void **state)
{
	fw_clear();
	return 0;
}

/* Keep the host talking (a ping every interval) for duration. */
static void talk(uint64_t duration_us, uint64_t interval_us)
{
	for (uint64_t t = 0; t < duration_us; t += interval_us) {
		fw_req("ping");
		fw_run(interval_us, 1000);
	}
}

static void test_max_off(void **state)
{
	int off, on;

	fw_req("set max_off_ms 3000");
	fw_req("off 0");
	talk(5000000, 1000000);
	off = fw_find_event("relay ch=0 power=off cause=off", 0);
	on = fw_find_event("relay ch=0 power=on cause=maxoff", 0);
	assert_true(off >= 0 && on > off);
	assert_int_equal(fw_event_t((size_t)on) - fw_event_t((size_t)off), 3000000);
	assert_non_null(strstr(fw_req("status"), "ch0=on"));
	/* a max_off lowered while a channel is off applies to it */
	fw_clear();
	fw_req("off 1");
	fw_run(1500000, 1000);	/* host quiet 1.5 s < 5 s timeout */
	fw_req("set max_off_ms 1000");
	fw_run(10000, 1000);
	off = fw_find_event("relay ch=1 power=off cause=off", 0);
	on = fw_find_event("relay ch=1 power=on cause=maxoff", 0);
	assert_true(off >= 0 && on > off);
	/* overdue when set: restored at once (the set came 1.5 s after `off`) */
	assert_int_equal(fw_event_t((size_t)on) - fw_event_t((size_t)off), 1500000 - 1000);
}

static void test_host_watchdog(void **state)
{
	int off, on;

	fw_req("off 1");
	fw_run(20000000, 1000);		/* host silent */
	off = fw_find_event("relay ch=1 power=off cause=off", 0);
	on = fw_find_event("relay ch=1 power=on cause=watchdog", 0);
	assert_true(off >= 0 && on > off);
	/* the last valid line was `off` at t=0: restored host_timeout_ms later */
	assert_int_equal(fw_event_t((size_t)on), 5000000);
	/* invalid lines do not count as the host talking */
	fw_clear();
	fw_req("off 1");
	for (int i = 0; i < 8; i++) {
		fw_raw("ping*00\n", 8);
		fw_run(1000000, 1000);
	}
	on = fw_find_event("relay ch=1 power=on cause=watchdog", 0);
	assert_true(on >= 0);
	/* a talking host keeps it off until max_off */
	fw_clear();
	fw_req("set max_off_ms 9000");
	fw_req("off 0");
	talk(8000000, 1000000);
	assert_int_equal(fw_find_event("power=on", 0), -1);
	fw_run(10000000, 1000);
	assert_true(fw_find_event("relay ch=0 power=on cause=watchdog", 0) >= 0 ||
		    fw_find_event("relay ch=0 power=on cause=maxoff", 0) >= 0);
}

static void test_min_off_deferral(void **state)
{
	int off, on;

	/* the host watchdog would restore after 500 ms; min_off is 2 s */
	fw_req("set host_timeout_ms 500");
	fw_req("set min_off_ms 2000");
	fw_req("cut 0 2000");
	fw_req("on 0");	/* before the edge: cancels, nothing happens */
	fw_req("cut 0 2000");
	fw_run(3000000, 1000);
	off = fw_find_event("relay ch=0 power=off", 0);
	on = fw_find_event("relay ch=0 power=on", 0);
	assert_true(off >= 0 && on > off);
	assert_true(fw_event_t((size_t)on) - fw_event_t((size_t)off) >= 2000000);
	/* an `on` right after the edge is deferred to min_off */
	fw_clear();
	fw_req("set max_off_ms 2000");
	fw_req("off 1");
	fw_run(2000, 1000);
	fw_req("on 1");
	fw_run(3000000, 1000);
	off = fw_find_event("relay ch=1 power=off", 0);
	on = fw_find_event("relay ch=1 power=on", 0);
	assert_true(off >= 0 && on > off);
	assert_int_equal(fw_event_t((size_t)on) - fw_event_t((size_t)off), 2000000);
}

static void test_arm_host_silence(void **state)
{
	int e;

	/* the cut is due after the host falls silent: disarmed, never fires */
	fw_req("arm 0 8000 9000 500 3");
	fw_run(12000000, 1000);
	e = fw_find_event("disarm ch=0 cause=watchdog", 0);
	assert_true(e >= 0);
	assert_true(fw_event_t((size_t)e) >= 5000000 && fw_event_t((size_t)e) < 5100000);
	assert_int_equal(fw_find_event("relay", 0), -1);
	assert_non_null(strstr(fw_req("status"), "ch0=on"));
	/* with the host talking it fires */
	fw_clear();
	fw_req("arm 0 2000 3000 500 3");
	talk(4000000, 1000000);
	assert_true(fw_find_event("relay ch=0 power=off cause=arm", 0) >= 0);
	assert_true(fw_find_event("relay ch=0 power=on cause=arm", 0) >= 0);
}

static void test_power_on_at_reset(void **state)
{
	const struct hal_fake_write *w;
	size_t n;
	struct pc_settings s;
	uint8_t img[PC_SETTINGS_IMAGE_SIZE];

	/* active HIGH relays stored in EEPROM: idle is LOW */
	pc_settings_default(&s);
	s.v[PC_SET_RELAY_ACTIVE] = 3;
	pc_settings_encode(&s, img);
	hal_fake_reset(3);
	memcpy(hal_fake_eeprom(), img, sizeof(img));
	fw_boot_keep_eeprom();
	n = hal_fake_writes(&w);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_false(w[i].scheduled);
		assert_int_equal(w[i].level, 0);
	}
	for (uint8_t ch = 0; ch < 2; ch++) {
		uint64_t at;
		uint8_t level;

		assert_false(hal_fake_pending(ch, &at, &level));
		assert_int_equal(hal_fake_relay_level(ch), 0);
	}
	assert_string_equal(fw_req("status"), "ok t=0 seq=1 reset=power ch0=on pwr0=0 ch1=on pwr1=0");
	/* and a channel cut with this setting drives HIGH */
	fw_req("cut 0 300");
	fw_run(2000, 1000);
	assert_int_equal(hal_fake_relay_level(0), 1);
	/* a reset in the middle of a cut comes back with every channel on */
	fw_boot_keep_eeprom();
	assert_int_equal(hal_fake_relay_level(0), 0);
	assert_non_null(strstr(fw_req("status"), "ch0=on"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_max_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_watchdog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_min_off_deferral, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arm_host_silence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_on_at_reset, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
