/* The safety rules: max off, min off deferral, host-silence watchdog, power ON at
 * reset with idle relay pins, arm disarmed by host silence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* EEPROM contents for the power-at-reset matrix: what a first flash, a power loss
 * during `set` and a normal bench leave behind. */
enum ee_kind { EE_BLANK, EE_CORRUPT, EE_VALID, EE_KINDS };

static void eeprom_prepare(enum ee_kind kind, uint32_t relay_active)
{
	struct fw_settings s;
	uint8_t img[FW_SETTINGS_IMAGE_SIZE];

	fw_settings_default(&s);
	s.v[FW_SET_RELAY_ACTIVE] = relay_active;
	fw_settings_encode(&s, 7, img);
	if (kind == EE_CORRUPT)
		img[5] ^= 0x10;		/* both copies fail their CRC */
	if (kind != EE_BLANK) {
		memcpy(hal_fake_eeprom() + FW_SETTINGS_ADDR_A, img, sizeof(img));
		memcpy(hal_fake_eeprom() + FW_SETTINGS_ADDR_B, img, sizeof(img));
	}
}

/* Whatever the EEPROM holds and whichever level energizes the relays, every relay
 * pin is left released from reset on (never written, never an output): the node is
 * powered whatever the board's relay polarity. The banner and `status` say what the
 * EEPROM held. */
static void test_power_on_at_reset(void **state)
{
	static const char *const status[EE_KINDS] = { "blank", "corrupt", "ok" };

	for (uint32_t active = 0; active < 4; active++)
		for (int kind = 0; kind < EE_KINDS; kind++) {
			const struct hal_fake_write *w;
			char want[48];

			hal_fake_reset(3);
			eeprom_prepare((enum ee_kind)kind, active);
			fw_boot_keep_eeprom();
			assert_int_equal(hal_fake_writes(&w), 0);
			for (uint8_t ch = 0; ch < 2; ch++) {
				uint64_t at;
				uint8_t level;

				assert_false(hal_fake_relay_is_output(ch));
				assert_false(hal_fake_pending(ch, &at, &level));
			}
			snprintf(want, sizeof(want), " settings=%s ", status[kind]);
			assert_non_null(strstr(fw_events.line[0], want));
			assert_non_null(strstr(fw_events.line[0], " bod_mv=2700"));
			snprintf(want, sizeof(want), " settings=%s ", status[kind]);
			assert_non_null(strstr(fw_req("status"), want));
		}
}

/* The pin is driven only while the relay is energized, at the level relay_active
 * says; the restore releases it, and so does a reset in the middle of a cut. */
static void test_pin_driven_only_when_energized(void **state)
{
	for (uint32_t active = 0; active < 4; active++) {
		hal_fake_reset(3);
		eeprom_prepare(EE_VALID, active);
		fw_boot_keep_eeprom();
		fw_req("cut 0 300");
		fw_req("off 1");
		fw_run(2000, 1000);
		assert_true(hal_fake_relay_is_output(0));
		assert_int_equal(hal_fake_relay_level(0), active & 1u);
		assert_int_equal(hal_fake_relay_level(1), (active >> 1) & 1u);
		fw_run(400000, 1000);
		assert_int_equal(hal_fake_relay_level(0), HAL_PIN_FLOAT);
		assert_true(fw_find_event("relay ch=0 power=on cause=cut", 0) >= 0);
		assert_int_equal(hal_fake_relay_level(1), (active >> 1) & 1u);
		fw_boot_keep_eeprom();	/* reset while channel 1 is off */
		assert_int_equal(hal_fake_relay_level(1), HAL_PIN_FLOAT);
		fw_req("status");
		assert_non_null(strstr(fw_replies.line[fw_replies.n - 1], "ch0=on"));
		assert_non_null(strstr(fw_replies.line[fw_replies.n - 1], "ch1=on"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_max_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_watchdog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_min_off_deferral, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arm_host_silence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_on_at_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin_driven_only_when_energized, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
