/* Every request and every error code, the banner, events and line assembly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
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

static void assert_error(const char *reply, int code)
{
	char want[64];

	snprintf(want, sizeof(want), "error:%d %s", code, fw_err_text(code));
	assert_string_equal(reply, want);
}

static void test_banner(void **state)
{
	assert_int_equal(fw_events.n, 1);
	assert_string_equal(fw_events.line[0], "!0 0 boot fw=" FW_FW_VERSION
			    " proto=2 reset=power channels=2 settings=blank bod_mv=2700");
	hal_fake_set_reset_cause(HAL_RESET_WATCHDOG);
	fw_boot_keep_eeprom();
	assert_non_null(strstr(fw_events.line[0], " reset=watchdog "));
	/* relay pins are left released, as the reset left them */
	for (uint8_t ch = 0; ch < 2; ch++)
		assert_false(hal_fake_relay_is_output(ch));
	/* the brown-out level as the fuses say; 0 is off */
	hal_fake_set_bod_mv(0);
	fw_boot_keep_eeprom();
	assert_non_null(strstr(fw_events.line[0], " bod_mv=0"));
	assert_non_null(strstr(fw_req("version"), " bod_mv=0"));
}

static void test_version_status_ping(void **state)
{
	char want[128];

	snprintf(want, sizeof(want), "ok fw=%s proto=2 mcu=%s f_cpu=%u channels=2 bod_mv=2700",
		 FW_FW_VERSION, hal_mcu_name(), (unsigned)hal_f_cpu());
	assert_string_equal(fw_req("version"), want);
	hal_fake_advance(1234567);
	assert_string_equal(fw_req("status"),
			    "ok t=1234567 seq=1 reset=power settings=blank ch0=on pwr0=0 ch1=on pwr1=0");
	/* pwrok_invert 3 by default: HIGH input reads as DC lost */
	hal_fake_pwrok_set(1, 0);
	fw_req("ping");
	assert_int_equal(fw_key(fw_req("status"), "pwr1"), 1);
	assert_string_equal(fw_req("ping"), "ok t=1234567 token=0");
	assert_string_equal(fw_req("ping 4294967295"), "ok t=1234567 token=4294967295");
	assert_error(fw_req("ping 4294967296"), FW_ERR_RANGE);
	assert_error(fw_req("ping x1"), FW_ERR_BAD_ARGUMENT);
	assert_error(fw_req("ping -1"), FW_ERR_BAD_ARGUMENT);
	assert_error(fw_req("ping 1 2"), FW_ERR_BAD_ARGUMENT);
	assert_error(fw_req("version 1"), FW_ERR_BAD_ARGUMENT);
	/* spaces between words do not matter */
	assert_string_equal(fw_req("  ping   5 "), "ok t=1234567 token=5");
}

/* Numbers in replies (the clock only goes forward): every digit count, powers of ten
 * and their neighbours, and the largest clock value (the clock is 64-bit). */
static void test_numbers(void **state)
{
	static const uint64_t t[] = {
		0, 9, 10, 99, 100, 1000000, 4294967295ull, 4294967296ull, 999999999999ull,
		9999999999999999999ull, 10000000000000000000ull, 18446744073709551615ull,
	};
	char want[96];
	uint64_t now = 0;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		hal_fake_advance(t[i] - now);
		now = t[i];
		snprintf(want, sizeof(want), "ok t=%" PRIu64 " token=7", t[i]);
		assert_string_equal(fw_req("ping 7"), want);
	}
}

static void test_unknown_and_framing_errors(void **state)
{
	assert_error(fw_req("frobnicate"), FW_ERR_UNKNOWN_COMMAND);
	assert_error(fw_req("%s", ""), FW_ERR_UNKNOWN_COMMAND);
	assert_error(fw_req("PING"), FW_ERR_UNKNOWN_COMMAND);
	assert_error(fw_raw("ping\n", 5), FW_ERR_CHECKSUM);
	assert_error(fw_raw("ping*00\n", 8), FW_ERR_CHECKSUM);
	assert_error(fw_raw("\n", 1), FW_ERR_CHECKSUM);
	assert_error(fw_raw("pi\x01ng*00\n", 9), FW_ERR_MALFORMED);
	assert_string_equal(fw_raw("ping*DC\r\n", 9), "ok t=0 token=0");
}

/* A rejected line is never acted on: `cut 0 300` with a control byte, a bad
 * checksum or too long must leave the relay alone and change nothing. */
static void test_rejected_lines_not_acted_on(void **state)
{
	char good[80] = "cut 0 300", line[200];
	int n = fw_frame_seal(good, 9, sizeof(good));
	const struct hal_fake_write *w;
	size_t writes = hal_fake_writes(&w);

	memcpy(line, good, (size_t)n);
	line[n - 1] ^= 1;		/* wrong checksum */
	line[n] = '\n';
	assert_error(fw_raw(line, (size_t)n + 1), FW_ERR_CHECKSUM);
	memcpy(line, good, (size_t)n);
	line[3] = '\x1b';		/* control byte, checksum recomputed */
	n = fw_frame_seal(line, 9, sizeof(line));
	line[n] = '\n';
	assert_error(fw_raw(line, (size_t)n + 1), FW_ERR_MALFORMED);
	/* overlong: the command, padded with spaces to 62 bytes of body (65 in all) */
	memset(line, ' ', sizeof(line));
	memcpy(line, "cut 0 300", 9);
	n = fw_frame_seal(line, 62, sizeof(line));
	assert_int_equal(n, 65);
	line[n] = '\n';
	assert_error(fw_raw(line, (size_t)n + 1), FW_ERR_TOO_LONG);
	/* much longer: one reply, discarded up to its '\n', and the next line works */
	memset(line, 'a', 150);
	line[150] = '\n';
	assert_error(fw_raw(line, 151), FW_ERR_TOO_LONG);
	assert_string_equal(fw_req("ping 9"), "ok t=0 token=9");
	fw_run(500000, 1000);
	assert_int_equal(hal_fake_writes(&w), writes);
	assert_int_equal(fw_events.n, 1);	/* the banner only */
	assert_string_equal(fw_req("status"),
			    "ok t=500000 seq=1 reset=power settings=blank ch0=on pwr0=0 ch1=on pwr1=0");
}

static void test_line_limit_exact(void **state)
{
	char line[100];
	int n;

	memset(line, ' ', sizeof(line));
	memcpy(line, "ping 77", 7);
	n = fw_frame_seal(line, 61, sizeof(line));
	assert_int_equal(n, 64);
	line[n] = '\n';
	assert_string_equal(fw_raw(line, (size_t)n + 1), "ok t=0 token=77");
	n = fw_frame_seal(line, 61, sizeof(line));
	line[n] = '\r';
	line[n + 1] = '\n';
	assert_string_equal(fw_raw(line, (size_t)n + 2), "ok t=0 token=77");
}

static void test_bytes_split_across_polls(void **state)
{
	size_t before;

	fw_collect();
	before = fw_replies.n;
	hal_fake_rx("pi", 2);
	fw_poll(&fw_core);
	fw_collect();
	assert_int_equal(fw_replies.n, before);
	hal_fake_rx("ng*DC\nping*DC\n", 14);
	fw_poll(&fw_core);
	fw_collect();
	assert_int_equal(fw_replies.n, before + 2);
}

static void test_off_on(void **state)
{
	const char *r;
	int e;

	hal_fake_advance(10000);
	r = fw_req("off 1");
	assert_string_equal(r, "ok at=11000");
	assert_error(fw_req("off 1"), FW_ERR_BUSY);
	assert_error(fw_req("cut 1 500"), FW_ERR_BUSY);
	assert_error(fw_req("arm 1 0 10 500 1"), FW_ERR_BUSY);
	fw_run(2000, 100);
	e = fw_find_event("relay ch=1 power=off cause=off", 0);
	assert_true(e > 0);
	assert_int_equal(fw_event_t((size_t)e), 11000);
	assert_int_equal(fw_event_seq((size_t)e), 1);
	assert_int_equal(hal_fake_relay_level(1), 0);	/* energized: LOW with relay_active 0 */
	assert_int_equal(hal_fake_relay_level(0), HAL_PIN_FLOAT);
	assert_int_equal(fw_key(fw_req("status"), "seq"), 2);
	assert_non_null(strstr(fw_req("status"), "ch1=off"));
	assert_int_equal(hal_fake_led(), 1);
	/* min_off 200 ms not yet over: deferred to 11000 + 200000 */
	assert_string_equal(fw_req("on 1"), "ok at=211000");
	assert_string_equal(fw_req("on 1"), "ok at=211000");
	fw_run(300000, 1000);
	e = fw_find_event("relay ch=1 power=on cause=on", 0);
	assert_true(e > 0);
	assert_int_equal(fw_event_t((size_t)e), 211000);
	assert_int_equal(hal_fake_relay_level(1), HAL_PIN_FLOAT);
	assert_string_equal(fw_req("on 1"), "ok");
	assert_non_null(strstr(fw_req("status"), "ch1=on"));
	assert_int_equal(hal_fake_led(), 0);
	/* `on` after min_off: at once (one edge lead ahead) */
	fw_req("off 0");
	fw_run(400000, 1000);
	assert_string_equal(fw_req("on 0"), "ok at=713000");
	/* `on` before the off edge happened cancels it: no edge at all */
	fw_run(10000, 1000);
	fw_clear();
	fw_req("off 0");
	assert_string_equal(fw_req("on 0"), "ok");
	fw_run(500000, 1000);
	assert_int_equal(fw_find_event("relay", 0), -1);
	assert_error(fw_req("off 2"), FW_ERR_RANGE);
	assert_error(fw_req("off"), FW_ERR_BAD_ARGUMENT);
	assert_error(fw_req("on 0x1"), FW_ERR_BAD_ARGUMENT);
	assert_error(fw_req("on 99999999999"), FW_ERR_RANGE);
}

static void test_cut(void **state)
{
	int e_off, e_on;

	assert_string_equal(fw_req("cut 0 250"), "ok at=1000");
	assert_non_null(strstr(fw_req("status"), "ch0=cut"));
	fw_run(400000, 1000);
	e_off = fw_find_event("relay ch=0 power=off cause=cut", 0);
	e_on = fw_find_event("relay ch=0 power=on cause=cut", 0);
	assert_true(e_off > 0 && e_on > e_off);
	assert_int_equal(fw_event_t((size_t)e_on) - fw_event_t((size_t)e_off), 250000);
	assert_non_null(strstr(fw_req("status"), "ch0=on"));
	/* range: min_off 200 .. max_off 60000 */
	assert_error(fw_req("cut 0 199"), FW_ERR_RANGE);
	assert_error(fw_req("cut 0 60001"), FW_ERR_RANGE);
	assert_error(fw_req("cut 5 300"), FW_ERR_RANGE);
	assert_error(fw_req("cut 0"), FW_ERR_BAD_ARGUMENT);
	assert_error(fw_req("cut 0 2x"), FW_ERR_BAD_ARGUMENT);
	assert_string_equal(fw_req("cut 0 200"), "ok at=401000");
	/* `on` during a cut: restored early, but not before min_off */
	fw_run(5000, 1000);
	assert_string_equal(fw_req("on 0"), "ok at=601000");
}

static void test_arm_disarm(void **state)
{
	const char *r;
	int e;

	hal_fake_advance(1000000);
	r = fw_req("arm 0 100 300 500 42");
	assert_string_equal(r, "ok from=1100000 to=1300000");
	assert_non_null(strstr(fw_req("status"), "ch0=armed"));
	assert_error(fw_req("arm 0 100 300 500 42"), FW_ERR_BUSY);
	assert_string_equal(fw_req("disarm 0"), "ok");
	assert_error(fw_req("disarm 0"), FW_ERR_NOT_ARMED);
	assert_error(fw_req("disarm 1"), FW_ERR_NOT_ARMED);
	fw_run(500000, 1000);
	assert_int_equal(fw_find_event("relay", 0), -1);
	/* a fired arm: off inside the window, on OFF_MS later, both cause=arm */
	r = fw_req("arm 0 100 300 500 42");
	fw_run(1000000, 1000);
	e = fw_find_event("relay ch=0 power=off cause=arm", 0);
	assert_true(e > 0);
	assert_true(fw_event_t((size_t)e) >= fw_key(r, "from") && fw_event_t((size_t)e) <= fw_key(r, "to"));
	assert_int_equal(fw_event_t((size_t)e) - fw_key(r, "from"), fw_arm_offset(42, 200000));
	assert_int_equal(fw_event_t((size_t)fw_find_event("relay ch=0 power=on cause=arm", 0)) -
			 fw_event_t((size_t)e), 500000);
	assert_error(fw_req("disarm 0"), FW_ERR_NOT_ARMED);
	/* `on` disarms, with an event */
	fw_req("arm 1 1000 2000 500 1");
	assert_string_equal(fw_req("on 1"), "ok");
	assert_true(fw_find_event("disarm ch=1 cause=on", 0) > 0);
	/* ranges */
	assert_error(fw_req("arm 0 300 100 500 1"), FW_ERR_RANGE);
	assert_error(fw_req("arm 0 0 3600001 500 1"), FW_ERR_RANGE);
	assert_error(fw_req("arm 0 0 10 100 1"), FW_ERR_RANGE);
	assert_error(fw_req("arm 0 0 10 60001 1"), FW_ERR_RANGE);
	assert_error(fw_req("arm 2 0 10 500 1"), FW_ERR_RANGE);
	assert_error(fw_req("arm 0 0 10 500 4294967296"), FW_ERR_RANGE);
	assert_error(fw_req("arm 0 0 10 500"), FW_ERR_BAD_ARGUMENT);
	assert_error(fw_req("arm 0 0 10 500 1 2"), FW_ERR_BAD_ARGUMENT);
	assert_error(fw_req("arm 0 0 10 5o0 1"), FW_ERR_BAD_ARGUMENT);
	assert_string_equal(fw_req("arm 0 0 3600000 500 4294967295"), "ok from=2500000 to=3602500000");
	assert_error(fw_req("disarm x"), FW_ERR_BAD_ARGUMENT);
}

static void test_settings_commands(void **state)
{
	assert_string_equal(fw_req("settings"),
			    "ok relay_active=0 pwrok_invert=3 min_off_ms=200 max_off_ms=60000 host_timeout_ms=5000");
	assert_string_equal(fw_req("get min_off_ms"), "ok min_off_ms=200");
	assert_error(fw_req("get nothing"), FW_ERR_UNKNOWN_SETTING);
	assert_error(fw_req("get"), FW_ERR_BAD_ARGUMENT);
	assert_error(fw_req("set nothing 1"), FW_ERR_UNKNOWN_SETTING);
	assert_error(fw_req("set min_off_ms"), FW_ERR_BAD_ARGUMENT);
	assert_error(fw_req("set min_off_ms 9"), FW_ERR_RANGE);
	assert_error(fw_req("set min_off_ms 60001"), FW_ERR_RANGE);
	assert_error(fw_req("set min_off_ms ten"), FW_ERR_BAD_ARGUMENT);
	assert_error(fw_req("set relay_active 4"), FW_ERR_RANGE);
	assert_error(fw_req("set host_timeout_ms 499"), FW_ERR_RANGE);
	assert_error(fw_req("set max_off_ms 3600001"), FW_ERR_RANGE);
	assert_string_equal(fw_req("set max_off_ms 3600000"), "ok max_off_ms=3600000");
	assert_string_equal(fw_req("set max_off_ms 1000"), "ok max_off_ms=1000");
	/* min_off may not exceed max_off, whichever is set */
	assert_error(fw_req("set min_off_ms 1001"), FW_ERR_RANGE);
	assert_error(fw_req("set max_off_ms 199"), FW_ERR_RANGE);
	/* stored: a reboot keeps them */
	fw_boot_keep_eeprom();
	assert_string_equal(fw_req("get max_off_ms"), "ok max_off_ms=1000");
	/* relay_active leaves idle pins released; a store says settings=ok */
	assert_non_null(strstr(fw_req("status"), " settings=ok "));
	assert_string_equal(fw_req("set relay_active 2"), "ok relay_active=2");
	assert_int_equal(hal_fake_relay_level(0), HAL_PIN_FLOAT);
	assert_int_equal(hal_fake_relay_level(1), HAL_PIN_FLOAT);
	/* ... but not while a channel is powered down */
	fw_req("cut 1 300");
	assert_error(fw_req("set relay_active 0"), FW_ERR_BUSY);
	assert_error(fw_req("defaults"), FW_ERR_BUSY);
	fw_run(400000, 1000);
	/* the EEPROM refusing the write: error 9 and nothing changes */
	hal_fake_eeprom_fail(true);
	assert_error(fw_req("set min_off_ms 300"), FW_ERR_EEPROM);
	assert_error(fw_req("defaults"), FW_ERR_EEPROM);
	assert_string_equal(fw_req("get min_off_ms"), "ok min_off_ms=200");
	hal_fake_eeprom_fail(false);
	assert_string_equal(fw_req("defaults"), "ok");
	assert_string_equal(fw_req("settings"),
			    "ok relay_active=0 pwrok_invert=3 min_off_ms=200 max_off_ms=60000 host_timeout_ms=5000");
	assert_int_equal(hal_fake_relay_level(1), HAL_PIN_FLOAT);
	/* pwrok_invert changes the reported level */
	assert_int_equal(fw_key(fw_req("status"), "pwr0"), 0);
	fw_req("set pwrok_invert 0");
	assert_int_equal(fw_key(fw_req("status"), "pwr0"), 1);
}

static void test_reset(void **state)
{
	fw_req("off 0");
	fw_req("arm 1 1000 2000 500 1");
	fw_run(2000, 1000);
	assert_int_equal(hal_fake_relay_level(0), 0);
	fw_clear();
	assert_string_equal(fw_req("reset"), "ok");
	assert_int_equal(hal_fake_resets(), 1);
	/* power restored and the cancelled arm reported before the chip resets */
	assert_true(fw_find_event("relay ch=0 power=on cause=safety", 0) >= 0);
	assert_true(fw_find_event("disarm ch=1 cause=safety", 0) >= 0);
	assert_int_equal(hal_fake_relay_level(0), HAL_PIN_FLOAT);
	fw_boot_keep_eeprom();
	assert_non_null(strstr(fw_events.line[0], " reset=command "));
	assert_int_equal(fw_event_seq(0), 0);
}

static void test_pwrok_events(void **state)
{
	int e;

	hal_fake_advance(777);
	hal_fake_pwrok_set(0, 0);	/* inverted: DC good */
	hal_fake_advance(100);
	fw_poll(&fw_core);
	fw_collect();
	e = fw_find_event("pwrok ch=0 level=1", 0);
	assert_true(e > 0);
	assert_int_equal(fw_event_t((size_t)e), 777);
	/* a burst larger than the queue: edges are lost, the final level is still told */
	for (int i = 0; i < 21; i++)
		hal_fake_pwrok_set(1, (uint8_t)(i & 1 ? 1 : 0));
	fw_poll(&fw_core);
	fw_collect();
	assert_true(hal_event_lost() > 0);
	e = -1;
	for (int i = fw_find_event("pwrok ch=1", 0); i >= 0; i = fw_find_event("pwrok ch=1", (size_t)i + 1))
		e = i;
	assert_true(e > 0);
	assert_non_null(strstr(fw_events.line[e], "level=1"));	/* input LOW, inverted */
	/* sequence numbers have no gap */
	for (size_t i = 0; i < fw_events.n; i++)
		assert_int_equal(fw_event_seq(i), i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_banner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_status_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_and_framing_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejected_lines_not_acted_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_limit_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes_split_across_polls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arm_disarm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pwrok_events, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
