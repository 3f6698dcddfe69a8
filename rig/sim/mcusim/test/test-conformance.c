/* Conformance of the firmware to docs/protocol.md, over its serial line exactly as a
 * host talks to it.
 *
 *   test-conformance                 the real firmware ELF in powercut-mcusim (fast mode)
 *   test-conformance --port DEV      a real board on DEV (make check-hw PORT=DEV)
 *
 * Every request and its reply format, every error code, rejected lines (bad checksum,
 * malformed, overlong) that must not be acted on, event sequence numbers without gaps.
 * The target is a parameter: only the setup (and nothing else) differs. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <termios.h>

#include "frame.h"
#include "harness.h"

#define TMO 5000	/* ms of wall time for one reply */

static struct h_fw fw;
static uint64_t next_seq;	/* the event sequence number expected next */
static bool seq_known;

static int req(const char *body, char *reply, size_t cap)
{
	int rc = h_fw_request(&fw, body, reply, cap, TMO);

	if (rc < 0) {
		snprintf(reply, cap, "(no reply: %s)", strerror(-rc));
		H_CHECK(0, "'%s': no reply: %s", body, strerror(-rc));
	}
	return rc;
}

/* The request must be answered `ok` and the reply must carry these keys. */
static void want_ok(const char *body, const char *const *keys, char *reply, size_t cap)
{
	char val[64];

	req(body, reply, cap);
	if (!H_CHECK(!strcmp(reply, "ok") || !strncmp(reply, "ok ", 3),
		     "'%s': want ok, got '%s'", body, reply))
		return;
	for (int i = 0; keys && keys[i]; i++)
		H_CHECK(h_kv(reply + 2, keys[i], val, sizeof(val)) == 0,
			"'%s': reply '%s' lacks key '%s'", body, reply, keys[i]);
}

/* The request must be rejected with exactly `error:CODE TEXT`. */
static void want_error_reply(const char *what, const char *reply, int code)
{
	char want[64];

	snprintf(want, sizeof(want), "error:%d %s", code, fw_err_text(code));
	H_CHECK(!strcmp(reply, want), "%s: want '%s', got '%s'", what, want, reply);
}

static void want_error(const char *body, int code)
{
	char reply[256];

	if (req(body, reply, sizeof(reply)) >= 0)
		want_error_reply(body, reply, code);
}

/* Check the queued and incoming events' sequence numbers, and return the next event
 * (any name) or fail. */
static int event(const char *name, int ch, struct h_event *ev, int timeout_ms)
{
	int rc = h_fw_event(&fw, name, ch, ev, timeout_ms);

	if (rc)
		return rc;
	if (seq_known && ev->seq != 0)
		H_CHECK(ev->seq >= next_seq, "event seq went back: %" PRIu64 " after %" PRIu64,
			ev->seq, next_seq);
	next_seq = ev->seq + 1;
	seq_known = true;
	return 0;
}

static void state_is(int ch, const char *state)
{
	char reply[256], key[8], val[16];

	req("status", reply, sizeof(reply));
	snprintf(key, sizeof(key), "ch%d", ch);
	H_CHECK(h_kv(reply, key, val, sizeof(val)) == 0 && !strcmp(val, state),
		"status '%s': want %s=%s", reply, key, state);
}

/* Wait for the boot banner and check its form. */
/* A settings status of docs/protocol.md. */
static bool settings_status_known(const char *v)
{
	return !strcmp(v, "ok") || !strcmp(v, "recovered") || !strcmp(v, "blank") ||
	       !strcmp(v, "corrupt");
}

static int banner(const char *cause, int timeout_ms)
{
	struct h_event ev;
	char v[32];
	int rc;

	for (;;) {
		rc = h_fw_event(&fw, "boot", -1, &ev, timeout_ms);
		if (rc)
			return rc;
		if (!cause || (h_kv(ev.kv, "reset", v, sizeof(v)) == 0 && !strcmp(v, cause)))
			break;
	}
	H_CHECK(ev.seq == 0, "boot banner with seq %" PRIu64 ", want 0", ev.seq);
	H_CHECK(h_kv(ev.kv, "proto", v, sizeof(v)) == 0 && atoi(v) == FW_PROTO_VERSION,
		"banner '%s': proto", ev.kv);
	H_CHECK(h_kv(ev.kv, "fw", v, sizeof(v)) == 0, "banner '%s': fw", ev.kv);
	H_CHECK(h_kv(ev.kv, "channels", v, sizeof(v)) == 0 && !strcmp(v, "2"),
		"banner '%s': channels", ev.kv);
	H_CHECK(h_kv(ev.kv, "settings", v, sizeof(v)) == 0 && settings_status_known(v),
		"banner '%s': settings", ev.kv);
	H_CHECK(h_kv(ev.kv, "bod_mv", v, sizeof(v)) == 0, "banner '%s': bod_mv", ev.kv);
	next_seq = 1;
	seq_known = true;
	h_fw_drain(&fw);
	return 0;
}

static void test_identity(void)
{
	static const char *const vkeys[] = { "fw", "proto", "mcu", "f_cpu", "channels", "bod_mv",
					     NULL };
	static const char *const skeys[] = { "t", "seq", "reset", "settings", "ch0", "pwr0", "ch1",
					     "pwr1", NULL };
	char reply[256], v[32];
	uint64_t t1, t2, tok;
	unsigned a, b, c;

	want_ok("version", vkeys, reply, sizeof(reply));
	H_CHECK(h_kv(reply, "proto", v, sizeof(v)) == 0 && atoi(v) == FW_PROTO_VERSION,
		"version proto");
	H_CHECK(h_kv(reply, "bod_mv", v, sizeof(v)) == 0 && (!strcmp(v, "0") ||
		!strcmp(v, "1800") || !strcmp(v, "2700") || !strcmp(v, "4300")), "version bod_mv");
	H_CHECK(h_kv(reply, "mcu", v, sizeof(v)) == 0 && !strcmp(v, "atmega328p"), "version mcu");
	H_CHECK(h_kv(reply, "f_cpu", v, sizeof(v)) == 0 && !strcmp(v, "16000000"),
		"version f_cpu");
	H_CHECK(h_kv(reply, "fw", v, sizeof(v)) == 0 && sscanf(v, "%u.%u.%u", &a, &b, &c) == 3,
		"version fw '%s'", v);

	want_ok("status", skeys, reply, sizeof(reply));
	H_CHECK(h_kv(reply, "settings", v, sizeof(v)) == 0 && settings_status_known(v),
		"status settings '%s'", v);
	H_CHECK(h_kv(reply, "ch0", v, sizeof(v)) == 0 && !strcmp(v, "on"), "status ch0 on");
	H_CHECK(h_kv(reply, "pwr0", v, sizeof(v)) == 0 && !strcmp(v, "1"),
		"status pwr0=1 with DC good: '%s'", reply);
	H_CHECK(h_kv_u64(reply, "seq", &t1) == 0 && t1 == next_seq,
		"status seq=%" PRIu64 ", want the next event number %" PRIu64, t1, next_seq);

	want_ok("ping", NULL, reply, sizeof(reply));
	H_CHECK(h_kv_u64(reply, "t", &t1) == 0 && h_kv_u64(reply, "token", &tok) == 0 &&
		tok == 0, "ping without token: '%s'", reply);
	want_ok("ping 4294967295", NULL, reply, sizeof(reply));
	H_CHECK(h_kv_u64(reply, "t", &t2) == 0 && h_kv_u64(reply, "token", &tok) == 0 &&
		tok == 4294967295u, "ping token echo: '%s'", reply);
	H_CHECK(t2 > t1, "clock does not advance between pings (%" PRIu64 ", %" PRIu64 ")",
		t1, t2);
	want_error("ping 4294967296", FW_ERR_RANGE);
	want_error("ping x", FW_ERR_BAD_ARGUMENT);
}

static void test_settings(void)
{
	static const char *const keys[] = { "relay_active", "pwrok_invert", "min_off_ms",
					    "max_off_ms", "host_timeout_ms", NULL };
	char reply[256];

	want_ok("settings", keys, reply, sizeof(reply));
	req("get min_off_ms", reply, sizeof(reply));
	H_CHECK(!strcmp(reply, "ok min_off_ms=200"), "default min_off_ms: '%s'", reply);
	req("set min_off_ms 300", reply, sizeof(reply));
	H_CHECK(!strcmp(reply, "ok min_off_ms=300"), "set min_off_ms: '%s'", reply);
	req("get min_off_ms", reply, sizeof(reply));
	H_CHECK(!strcmp(reply, "ok min_off_ms=300"), "get after set: '%s'", reply);
	want_error("set min_off_ms 9", FW_ERR_RANGE);
	want_error("set min_off_ms 60001", FW_ERR_RANGE);
	want_error("set host_timeout_ms 499", FW_ERR_RANGE);
	want_error("set relay_active 4", FW_ERR_RANGE);
	want_error("set min_off_ms", FW_ERR_BAD_ARGUMENT);
	want_error("set min_off_ms 1x", FW_ERR_BAD_ARGUMENT);
	want_error("get nosuch", FW_ERR_UNKNOWN_SETTING);
	want_error("set nosuch 1", FW_ERR_UNKNOWN_SETTING);
	req("get min_off_ms", reply, sizeof(reply));
	H_CHECK(!strcmp(reply, "ok min_off_ms=300"), "a rejected set changed it: '%s'", reply);
	req("defaults", reply, sizeof(reply));
	H_CHECK(!strcmp(reply, "ok"), "defaults: '%s'", reply);
	req("get min_off_ms", reply, sizeof(reply));
	H_CHECK(!strcmp(reply, "ok min_off_ms=200"), "after defaults: '%s'", reply);
	/* the rest of the suite must not be cut short by the host-silence watchdog */
	req("set host_timeout_ms 600000", reply, sizeof(reply));
	H_CHECK(!strcmp(reply, "ok host_timeout_ms=600000"), "set host_timeout_ms: '%s'", reply);
}

static void relay_event(int ch, const char *power, const char *cause, struct h_event *ev)
{
	char v[16];

	if (!H_CHECK(event("relay", ch, ev, TMO) == 0, "no relay event (%s %s) on ch%d",
		     power, cause, ch))
		return;
	H_CHECK(h_kv(ev->kv, "power", v, sizeof(v)) == 0 && !strcmp(v, power),
		"relay event '%s': want power=%s", ev->kv, power);
	H_CHECK(h_kv(ev->kv, "cause", v, sizeof(v)) == 0 && !strcmp(v, cause),
		"relay event '%s': want cause=%s", ev->kv, cause);
}

static void test_off_on_cut(void)
{
	char reply[256];
	struct h_event ev, ev2;
	uint64_t at;

	want_ok("off 1", (const char *const[]){ "at", NULL }, reply, sizeof(reply));
	relay_event(1, "off", "off", &ev);
	H_CHECK(h_kv_u64(reply, "at", &at) == 0 && ev.t >= at - 10 && ev.t <= at + 1000,
		"off: relay edge at %" PRIu64 ", reply said at=%" PRIu64, ev.t, at);
	state_is(1, "off");
	want_error("off 1", FW_ERR_BUSY);
	want_error("cut 1 300", FW_ERR_BUSY);
	want_error("arm 1 10 20 300 1", FW_ERR_BUSY);
	req("on 1", reply, sizeof(reply));
	H_CHECK(!strcmp(reply, "ok") || !strncmp(reply, "ok at=", 6), "on: '%s'", reply);
	relay_event(1, "on", "on", &ev2);
	H_CHECK(ev2.t - ev.t >= 200000, "on after %" PRIu64 " us broke min_off_ms=200",
		ev2.t - ev.t);
	state_is(1, "on");

	/* The longest cut: in fast mode a short one may be over, in simulated time,
	 * before the status request of a loaded host arrives (as in test_arm). */
	want_ok("cut 0 60000", (const char *const[]){ "at", NULL }, reply, sizeof(reply));
	relay_event(0, "off", "cut", &ev);
	state_is(0, "cut");
	relay_event(0, "on", "cut", &ev2);
	H_CHECK(ev2.t - ev.t >= 60000000 && ev2.t - ev.t <= 60000100,
		"cut 60000 ms lasted %" PRIu64 " us", ev2.t - ev.t);
	state_is(0, "on");
	want_error("cut 0 199", FW_ERR_RANGE);
	want_error("cut 0 60001", FW_ERR_RANGE);
	want_error("cut 2 300", FW_ERR_RANGE);
	want_error("cut 0", FW_ERR_BAD_ARGUMENT);
	want_error("cut 0 abc", FW_ERR_BAD_ARGUMENT);
	want_error("cut 0 300 7", FW_ERR_BAD_ARGUMENT);
	want_error("off", FW_ERR_BAD_ARGUMENT);
	want_error("on 2", FW_ERR_RANGE);
}

static void test_arm(void)
{
	char reply[256];
	struct h_event ev, ev2;
	uint64_t from, to, off1, off2;

	/* In fast mode the simulated clock runs hundreds of times faster than the wall
	 * clock while the firmware sleeps, so a window that opens 100 ms after the arm
	 * could pass before the next request arrives on a loaded host: the state checks
	 * below need the cut a simulated minute away. */
	want_ok("arm 0 60000 61000 250 7", (const char *const[]){ "from", "to", NULL },
		reply, sizeof(reply));
	h_kv_u64(reply, "from", &from);
	h_kv_u64(reply, "to", &to);
	H_CHECK(to - from == 1000000, "arm window %" PRIu64 "..%" PRIu64 " is not 1 s",
		from, to);
	state_is(0, "armed");
	want_error("cut 0 300", FW_ERR_BUSY);
	relay_event(0, "off", "arm", &ev);
	H_CHECK(ev.t >= from && ev.t <= to, "armed cut at %" PRIu64 " outside [%" PRIu64
		", %" PRIu64 "]", ev.t, from, to);
	off1 = ev.t - from;
	relay_event(0, "on", "arm", &ev2);
	H_CHECK(ev2.t - ev.t >= 250000 && ev2.t - ev.t <= 250100,
		"armed cut lasted %" PRIu64 " us, want 250 ms", ev2.t - ev.t);

	/* the same seed gives the same offset */
	want_ok("arm 0 60000 61000 250 7", NULL, reply, sizeof(reply));
	h_kv_u64(reply, "from", &from);
	relay_event(0, "off", "arm", &ev);
	relay_event(0, "on", "arm", &ev2);
	off2 = ev.t - from;
	H_CHECK(off1 == off2 || (off1 > off2 ? off1 - off2 : off2 - off1) <= 2,
		"same seed, different offsets: %" PRIu64 " and %" PRIu64 " us", off1, off2);

	want_error("disarm 0", FW_ERR_NOT_ARMED);
	want_ok("arm 1 60000 61000 300 99", NULL, reply, sizeof(reply));
	req("disarm 1", reply, sizeof(reply));
	H_CHECK(!strcmp(reply, "ok"), "disarm: '%s'", reply);
	state_is(1, "on");
	H_CHECK(h_fw_event(&fw, "relay", 1, &ev, 400) == -ETIMEDOUT,
		"a disarmed cut still fired");
	/* `on` disarms, with a disarm event */
	want_ok("arm 1 60000 61000 300 99", NULL, reply, sizeof(reply));
	req("on 1", reply, sizeof(reply));
	H_CHECK(!strncmp(reply, "ok", 2), "on while armed: '%s'", reply);
	if (H_CHECK(event("disarm", 1, &ev, TMO) == 0, "no disarm event after 'on'")) {
		char v[16];

		H_CHECK(h_kv(ev.kv, "cause", v, sizeof(v)) == 0 && !strcmp(v, "on"),
			"disarm event '%s': want cause=on", ev.kv);
	}
	state_is(1, "on");

	want_error("arm 0 200 100 300 1", FW_ERR_RANGE);
	want_error("arm 0 10 3600001 300 1", FW_ERR_RANGE);
	want_error("arm 0 10 20 100 1", FW_ERR_RANGE);	/* OFF_MS < min_off_ms */
	want_error("arm 0 10 20 300 4294967296", FW_ERR_RANGE);
	want_error("arm 0 10 20 300", FW_ERR_BAD_ARGUMENT);
	want_error("arm 0 10 20 300 x", FW_ERR_BAD_ARGUMENT);
}

/* Lines that must be rejected and never acted on. */
static void test_rejected(void)
{
	char reply[256], line[128];
	struct h_event ev;
	size_t n;

	want_error("frobnicate", FW_ERR_UNKNOWN_COMMAND);
	want_error("", FW_ERR_UNKNOWN_COMMAND);

	/* wrong checksum on a line that would power a channel off */
	h_fw_send_raw(&fw, "off 0*00\n", 9);
	if (h_fw_reply(&fw, reply, sizeof(reply), TMO) >= 0)
		want_error_reply("'off 0' with a wrong checksum", reply, FW_ERR_CHECKSUM);
	h_fw_send_raw(&fw, "off 0\n", 6);
	if (h_fw_reply(&fw, reply, sizeof(reply), TMO) >= 0)
		want_error_reply("'off 0' without a checksum", reply, FW_ERR_CHECKSUM);
	/* a correct checksum in lower case is not the format */
	snprintf(line, sizeof(line), "off 0*%02x\n", fw_crc8("off 0", 5));
	if (strpbrk(line + 6, "abcdef")) {
		h_fw_send_raw(&fw, line, strlen(line));
		if (h_fw_reply(&fw, reply, sizeof(reply), TMO) >= 0)
			want_error_reply("lower-case checksum", reply, FW_ERR_CHECKSUM);
	}
	/* a garbled byte: one bit flipped in the body, checksum of the original */
	snprintf(line, sizeof(line), "off 0*%02X\n", fw_crc8("off 0", 5));
	line[4] ^= 0x01;	/* "off 1" with the checksum of "off 0" */
	h_fw_send_raw(&fw, line, strlen(line));
	if (h_fw_reply(&fw, reply, sizeof(reply), TMO) >= 0)
		want_error_reply("garbled line", reply, FW_ERR_CHECKSUM);

	/* control byte, and a '*' inside the body, with valid-looking checksums */
	snprintf(line, sizeof(line), "off\x01" "0*%02X\n", fw_crc8("off\x01" "0", 5));
	h_fw_send_raw(&fw, line, strlen(line));
	if (h_fw_reply(&fw, reply, sizeof(reply), TMO) >= 0)
		want_error_reply("control byte in the body", reply, FW_ERR_MALFORMED);
	snprintf(line, sizeof(line), "off*0*%02X\n", fw_crc8("off*0", 5));
	h_fw_send_raw(&fw, line, strlen(line));
	if (h_fw_reply(&fw, reply, sizeof(reply), TMO) >= 0)
		want_error_reply("'*' in the body", reply, FW_ERR_MALFORMED);

	/* overlong: a valid "off 0" padded past 64 bytes, sealed correctly */
	memset(line, 0, sizeof(line));
	strcpy(line, "off 0");
	memset(line + 5, ' ', 60);	/* 65-byte body */
	n = fw_frame_seal(line, 65, sizeof(line));
	line[n++] = '\n';
	h_fw_send_raw(&fw, line, n);
	if (h_fw_reply(&fw, reply, sizeof(reply), TMO) >= 0)
		want_error_reply("overlong line", reply, FW_ERR_TOO_LONG);
	/* exactly 64 bytes is allowed: "ping" + spaces + "*CC" */
	memset(line, 0, sizeof(line));
	strcpy(line, "ping 5");
	memset(line + 6, ' ', 55);	/* 61-byte body + "*CC" = 64 */
	n = fw_frame_seal(line, 61, sizeof(line));
	line[n++] = '\n';
	h_fw_send_raw(&fw, line, n);
	if (h_fw_reply(&fw, reply, sizeof(reply), TMO) >= 0)
		H_CHECK(!strncmp(reply, "ok ", 3) || !strcmp(reply, "error:4 bad argument"),
			"a 64-byte line must not be rejected as framing: '%s'", reply);
	/* and a very long one (discarded up to and including its '\n') */
	memset(line, 'x', 120);
	line[120] = '\n';
	h_fw_send_raw(&fw, line, 121);
	if (h_fw_reply(&fw, reply, sizeof(reply), TMO) >= 0)
		want_error_reply("120-byte line", reply, FW_ERR_TOO_LONG);
	req("ping 77", reply, sizeof(reply));
	H_CHECK(strstr(reply, "token=77") != NULL, "ping after overlong lines: '%s'", reply);

	/* none of it was acted on */
	state_is(0, "on");
	state_is(1, "on");
	H_CHECK(h_fw_event(&fw, "relay", -1, &ev, 300) == -ETIMEDOUT,
		"a rejected line moved a relay: '%s'", ev.kv);
	H_CHECK(fw.garbled == 0, "%d garbled lines from the firmware", fw.garbled);
}

static void test_reset_command(void)
{
	char reply[256];

	req("reset", reply, sizeof(reply));
	H_CHECK(!strcmp(reply, "ok"), "reset: '%s'", reply);
	H_CHECK(banner("command", 5000) == 0, "no boot banner with reset=command after 'reset'");
	req("status", reply, sizeof(reply));
	H_CHECK(strstr(reply, "reset=command") != NULL, "status after reset: '%s'", reply);
}

int main(int argc, char **argv)
{
	static struct h_sim sim;
	const char *port = NULL;
	char elf[4096], reply[256];
	bool simulated;
	int status, rc;

	if (argc == 3 && !strcmp(argv[1], "--port"))
		port = argv[2];
	else if (argc != 1) {
		fprintf(stderr, "usage: %s [--port DEV]\n", argv[0]);
		return 2;
	}
	simulated = !port;
	if (simulated) {
		const char *args[] = { "--mode", "fast", "--quiet", NULL };

		snprintf(elf, sizeof(elf), "%s", h_build_path("firmware/powercut-fw.elf"));
		if (access(elf, R_OK)) {
			printf("skip: no firmware ELF '%s' (build the firmware first)\n", elf);
			return 77;
		}
		if (h_sim_start(&sim, elf, NULL, args)) {
			h_sim_cleanup(&sim);
			return 1;
		}
		port = sim.tty;
	}
	if (h_fw_open(&fw, port))
		goto out;
	/* Start from a known boot: a reset whose banner we read. On the sim, an external
	 * reset; on a board (opening the port may reset an Arduino), the command. */
	if (simulated) {
		/* The power-on banner may still be printing (a loaded machine starves the
		 * simulator): the reset then cuts it, and the head of the line before the
		 * next banner is ours, not the firmware's. */
		h_fw_cut(&fw);
		h_ctl(&sim, "reset", reply, sizeof(reply));
		rc = banner("external", 5000);
	} else {
		usleep(2000000);
		h_fw_send(&fw, "reset");
		rc = banner("command", 5000);
	}
	if (!H_CHECK(rc == 0, "no boot banner from the firmware: %s", strerror(-rc)))
		goto out_fw;
	test_identity();
	test_settings();
	test_rejected();
	test_off_on_cut();
	test_arm();
	test_reset_command();
	req("defaults", reply, sizeof(reply));
out_fw:
	h_fw_close(&fw);
out:
	if (simulated) {
		h_sim_stop(&sim, &status);
		H_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			"powercut-mcusim did not exit 0 on SIGTERM (status 0x%x)", status);
		h_sim_cleanup(&sim);
	}
	if (h_failures) {
		printf("%d conformance checks failed\n", h_failures);
		return 1;
	}
	printf("firmware conforms to docs/protocol.md (%s)\n", simulated ? "simulated" : port);
	return 0;
}
