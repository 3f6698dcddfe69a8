/* The relay ops table and the usbhid and gpio drivers through their transport
 * seams: fakes that check the exact feature reports and line values a board would
 * receive, and feed back the state bytes a board would report. No hardware. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/tests/log_capture.h"
#include "gpio.h"
#include "relay.h"
#include "usbhid.h"

/* ---- fake USB HID board ---- */

static struct {
	char serial[6];
	int channels;
	uint8_t state;			/* energized bitmask */
	uint8_t sent[16][USBHID_REPORT];
	int n_sent;
	bool open, fail_set, stuck;
} board;

static int fake_open(void **h, const char *serial, int *channels)
{
	if (serial && strcmp(serial, board.serial))
		return -ENOENT;
	board.open = true;
	*channels = board.channels;
	*h = &board;
	return 0;
}

/* Acts on the report as the board's firmware does. */
static int fake_set(void *h, const uint8_t r[USBHID_REPORT])
{
	if (board.fail_set)
		return -EIO;
	memcpy(board.sent[board.n_sent++], r, USBHID_REPORT);
	if (board.stuck)	/* takes the report, switches nothing */
		return 0;
	if (r[0] == 0xFF && r[1] >= 1 && r[1] <= 8)
		board.state |= (uint8_t)(1u << (r[1] - 1));
	else if (r[0] == 0xFD && r[1] >= 1 && r[1] <= 8)
		board.state &= (uint8_t)~(1u << (r[1] - 1));
	else if (r[0] == 0xFE)
		board.state = 0xFF;
	else if (r[0] == 0xFC)
		board.state = 0;
	return 0;
}

static int fake_get(void *h, uint8_t r[USBHID_REPORT])
{
	memset(r, 0, USBHID_REPORT);
	memcpy(r, board.serial, 5);
	r[7] = board.state;
	return 0;
}

static void fake_close(void *h)
{
	board.open = false;
}

static const struct usbhid_transport fake_usb = { fake_open, fake_set, fake_get, fake_close };

static struct bench_config *cfg_of(const char *relay_section)
{
	const struct bench_drivers d = { .relay = RELAY_OPT_DRIVERS(relay_drivers) };
	char *text;
	struct bench_config *c;

	assert_true(asprintf(&text, "[bench]\nname = t\n[relay]\n%s", relay_section) > 0);
	c = bench_config_parse("t.ini", text, NULL, 0, &d);
	assert_non_null(c);
	free(text);
	return c;
}

static void expect_sent(int i, uint8_t b0, uint8_t b1)
{
	const uint8_t want[USBHID_REPORT] = { b0, b1, 0, 0, 0, 0, 0, 0 };

	assert_true(i < board.n_sent);
	assert_memory_equal(board.sent[i], want, USBHID_REPORT);
}

static void test_usbhid_bytes(void **state)
{
	struct bench_config *c = cfg_of("driver = usbhid\nchannels = 2\nusbhid_serial = QWERT\n");
	struct relay_status s;
	struct relay *r;

	memset(&board, 0, sizeof(board));
	strcpy(board.serial, "QWERT");
	board.channels = 2;
	board.state = 0x02;	/* relay 2 energized at start: channel 1 powered off */
	usbhid_set_transport(&fake_usb);
	r = relay_open(c, "/nonexistent");
	assert_non_null(r);
	assert_int_equal(relay_status(r, &s), 0);
	assert_string_equal(s.id, "usbhid:QWERT");
	assert_int_equal(s.state[0], RELAY_ON);
	assert_int_equal(s.state[1], RELAY_OFF);
	/* Power off channel 0 = energize relay 1: [0xFF, 1]. */
	assert_int_equal(relay_off(r, 0), 0);
	expect_sent(0, 0xFF, 0x01);
	assert_int_equal(board.state, 0x03);
	/* Power on channel 1 = de-energize relay 2: [0xFD, 2]. */
	assert_int_equal(relay_on(r, 1), 0);
	expect_sent(1, 0xFD, 0x02);
	assert_int_equal(relay_status(r, &s), 0);
	assert_int_equal(s.state[0], RELAY_OFF);
	assert_int_equal(s.state[1], RELAY_ON);
	/* A channel the bench does not have is refused before any byte is sent. */
	assert_int_equal(relay_off(r, 2), -EINVAL);
	assert_int_equal(board.n_sent, 2);
	/* Closing powers channel 0 back on. */
	relay_close(r);
	expect_sent(2, 0xFD, 0x01);
	assert_int_equal(board.n_sent, 3);
	assert_int_equal(board.state, 0x00);
	assert_false(board.open);
	bench_config_free(c);
}

/* Only "USBRelayN" boards are claimed among the V-USB devices sharing 16c0:05df. */
static void test_usbhid_product(void **state)
{
	assert_int_equal(usbhid_product_channels("USBRelay2"), 2);
	assert_int_equal(usbhid_product_channels("USBRelay8"), 8);
	assert_int_equal(usbhid_product_channels("USBRelay9"), -1);
	assert_int_equal(usbhid_product_channels("USBRelay"), -1);
	assert_int_equal(usbhid_product_channels("USBRelay22"), -1);
	assert_int_equal(usbhid_product_channels("USBasp"), -1);
	assert_int_equal(usbhid_product_channels("DigiUSB"), -1);
	assert_int_equal(usbhid_product_channels(""), -1);
	assert_int_equal(usbhid_product_channels(NULL), -1);
}

static void test_usbhid_active_low_and_errors(void **state)
{
	struct bench_config *c = cfg_of("driver = usbhid\nchannels = 1\nactive_level = low\n");
	struct relay_cut rec;
	struct relay *r;

	memset(&board, 0, sizeof(board));
	strcpy(board.serial, "AAAAA");
	board.channels = 1;
	usbhid_set_transport(&fake_usb);
	r = relay_open(c, "/nonexistent");
	assert_non_null(r);
	/* Normally-open wiring: power off = de-energize. A host-timed cut. */
	assert_int_equal(relay_cut(r, 0, 10, &rec), 0);
	expect_sent(0, 0xFD, 0x01);
	expect_sent(1, 0xFF, 0x01);
	assert_string_equal(rec.timed_by, "host");
	assert_true(rec.uncertainty_ns > 0);
	assert_int_equal(relay_arm(r, 0, 1, 2, 3, 4, &rec), -ENOTSUP);
	board.fail_set = true;
	assert_int_equal(relay_off(r, 0), -EIO);
	board.fail_set = false;
	/* A relay that takes the report but does not switch: read back, an error. */
	board.stuck = true;
	assert_int_equal(relay_off(r, 0), -EIO);
	expect_sent(2, 0xFD, 0x01);
	board.stuck = false;
	relay_close(r);	/* the failed offs may have switched: restored */
	expect_sent(3, 0xFF, 0x01);
	bench_config_free(c);

	/* Wrong serial, and more channels than the board has. */
	c = cfg_of("driver = usbhid\nusbhid_serial = ZZZZZ\n");
	assert_null(relay_open(c, "/nonexistent"));
	assert_int_equal(errno, ENOENT);
	bench_config_free(c);
	c = cfg_of("driver = usbhid\nchannels = 4\n");
	assert_null(relay_open(c, "/nonexistent"));
	bench_config_free(c);
	usbhid_set_transport(NULL);
}

/* ---- fake GPIO line ---- */

static struct {
	char chip[32];
	unsigned line;
	int value, initial;
	int values[16], n;
	bool held;
} gl;

static int g_open(void **h, const char *chip, unsigned line, int initial)
{
	snprintf(gl.chip, sizeof(gl.chip), "%s", chip);
	gl.line = line;
	gl.value = gl.initial = initial;
	gl.held = true;
	*h = &gl;
	return 0;
}

static int g_set(void *h, int v)
{
	assert_true(gl.held);
	gl.value = v;
	gl.values[gl.n++] = v;
	return 0;
}

static int g_get(void *h)
{
	return gl.value;
}

static void g_close(void *h)
{
	gl.held = false;
}

static const struct gpio_transport fake_gpio = { g_open, g_set, g_get, g_close };

static void test_gpio_levels(void **state)
{
	for (int low = 0; low < 2; low++) {
		struct bench_config *c = cfg_of(low ?
			"driver = gpio\ngpio_chip = gpiochip3\ngpio_line = 17\nactive_level = low\n" :
			"driver = gpio\ngpio_chip = gpiochip3\ngpio_line = 17\n");
		struct relay_status s;
		struct relay *r;
		int cut = low ? 0 : 1;

		memset(&gl, 0, sizeof(gl));
		gpio_set_transport(&fake_gpio);
		r = relay_open(c, "/nonexistent");
		assert_non_null(r);
		/* Requested at open, at the level that leaves the node powered. */
		assert_string_equal(gl.chip, "gpiochip3");
		assert_int_equal(gl.line, 17);
		assert_int_equal(gl.initial, !cut);
		assert_int_equal(relay_off(r, 0), 0);
		assert_int_equal(gl.value, cut);
		assert_int_equal(relay_status(r, &s), 0);
		assert_int_equal(s.state[0], RELAY_OFF);
		assert_int_equal(relay_on(r, 1), -EINVAL);	/* one line, one channel */
		relay_close(r);
		/* Held until close, and powered on before it was released. */
		assert_int_equal(gl.n, 2);
		assert_int_equal(gl.values[1], !cut);
		assert_false(gl.held);
		bench_config_free(c);
	}
	gpio_set_transport(NULL);
}

static int stub_open(struct relay *r) { return 0; }
static void stub_close(struct relay *r) { }
static int stub_sw(struct relay *r, int ch) { return 0; }
static int stub_status(struct relay *r, struct relay_status *s) { return 0; }

static void test_ops_validation(void **state)
{
	struct relay_ops ok = { .version = RELAY_OPS_VERSION, .name = "stub", .help = "",
				.open = stub_open, .close = stub_close, .on = stub_sw,
				.off = stub_sw, .status = stub_status };
	struct relay_ops v = ok;

	assert_int_equal(relay_ops_validate(&ok), 0);
	v.version = RELAY_OPS_VERSION + 1;
	assert_int_equal(relay_ops_validate(&v), -EINVAL);
	v = ok;
	v.off = NULL;
	assert_int_equal(relay_ops_validate(&v), -EINVAL);
	v = ok;
	v.status = NULL;
	assert_int_equal(relay_ops_validate(&v), -EINVAL);
	v = ok;
	v.name = NULL;
	assert_int_equal(relay_ops_validate(&v), -EINVAL);
	/* Every registered driver passes and is found by its name. */
	static const char *const names[] = { "serial", "usbhid", "gpio", "exec", "null" };
	assert_int_equal(relay_drivers_check(relay_drivers), 0);
	for (size_t i = 0; i < 5; i++) {
		assert_non_null(relay_drivers[i]);
		assert_string_equal(relay_drivers[i]->name, names[i]);
		assert_int_equal(relay_ops_validate(relay_drivers[i]), 0);
		assert_ptr_equal(relay_ops_find(names[i]), relay_drivers[i]);
	}
	assert_null(relay_drivers[5]);
	free(logged());
	/* An unknown name: the error names it and the drivers there are. */
	assert_null(relay_ops_find("nope"));
	assert_int_equal(errno, ENOENT);
	char *e = logged();
	assert_string_equal(e, "unknown relay driver 'nope' (drivers: serial, usbhid, gpio, exec, "
			    "null)\n");
	free(e);
	/* Only the firmware can time a cut itself. */
	assert_non_null(relay_ops_find("serial")->arm);
	assert_null(relay_ops_find("usbhid")->arm);
}

/* A driver table is refused as it is registered: a name twice, an ops table of
 * another version, a driver key that is a [relay] key of its own. */
static void test_table_registration(void **state)
{
	static const struct opt_def own_key[] = {
		{ "channel", OPT_INT, RELAY_CFG(channel), "0", OPT_NOLIMIT, NULL, "x", 0 }, { 0 }
	};
	struct relay_ops a = { .version = RELAY_OPS_VERSION, .name = "a", .help = "",
			       .open = stub_open, .close = stub_close, .on = stub_sw,
			       .off = stub_sw, .status = stub_status };
	struct relay_ops b = a, old = a, clash = a;
	b.name = "a";
	old.name = "old";
	old.version = 1;
	clash.name = "clash";
	clash.options = own_key;
	const struct relay_ops *const twice[] = { &a, &b, NULL };
	const struct relay_ops *const versions[] = { &a, &old, NULL };
	const struct relay_ops *const keys[] = { &a, &clash, NULL };
	char *e;

	assert_int_equal(relay_drivers_check(twice), -EINVAL);
	e = logged();
	assert_string_equal(e, "relay driver 'a' is registered twice\n");
	free(e);
	assert_int_equal(relay_drivers_check(versions), -EINVAL);
	e = logged();
	assert_string_equal(e, "relay driver 'old' has ops version 1, expected 2\n");
	free(e);
	/* The loader knows [relay]'s own keys: a driver may not take one. */
	const struct bench_drivers d = { .relay = RELAY_OPT_DRIVERS(keys) };
	assert_int_equal(relay_drivers_check(keys), 0);	/* alone, the table is sound */
	assert_null(bench_config_parse("t.ini", "[bench]\nname = t\n[relay]\ndriver = a\n",
				       NULL, 0, &d));
	e = logged();
	assert_non_null(strstr(e, "relay driver 'clash': option 'channel' is declared twice (or "
			       "is a key of [relay] itself)\n"));
	free(e);
}

/* The real tables: a key of one driver with another is an error at its line. */
static void test_keys_of_other_drivers(void **state)
{
	const struct bench_drivers d = { .relay = RELAY_OPT_DRIVERS(relay_drivers) };
	char *e;

	assert_null(bench_config_parse("t.ini", "[bench]\nname = t\n[relay]\ndriver = exec\n"
				       "exec_on = true\nexec_off = true\ngpio_line = 4\n"
				       "port = /dev/ttyACM0\n", NULL, 0, &d));
	e = logged();
	assert_string_equal(e,
		"t.ini:8: key 'port' in [relay] is an option of driver 'serial', not of driver 'exec'\n"
		"t.ini:7: key 'gpio_line' in [relay] is an option of driver 'gpio', not of driver "
		"'exec'\n");
	free(e);
	struct bench_config *c = cfg_of("driver = usbhid\nactive_level = low\n");
	assert_int_equal(c->relay->active_level, ACTIVE_LOW);
	bench_config_free(c);
	free(logged());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_validation),
		cmocka_unit_test(test_table_registration),
		cmocka_unit_test(test_keys_of_other_drivers),
		cmocka_unit_test(test_usbhid_bytes),
		cmocka_unit_test(test_usbhid_active_low_and_errors),
		cmocka_unit_test(test_usbhid_product),
		cmocka_unit_test(test_gpio_levels),
	};
	log_watch_add(log_capture, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
