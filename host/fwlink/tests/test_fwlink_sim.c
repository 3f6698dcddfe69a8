/* Integration tests: fwlink against the real firmware ELF running in powercut-mcusim.
 *
 * Finds build/bin/powercut-mcusim and build/firmware/powercut-fw.elf relative to its
 * own executable (build/host/fwlink/tests/), or through POWERCUT_MCUSIM and
 * POWERCUT_FW; skips (exit 77) when either is missing.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "child.h"
#include "clockfit.h"
#include "fwlink.h"
#include "log.h"
/* the host's clock.h by path: firmware/core, also on the include path, has one */
#include "../../lib/clock.h"

/* snprintf that fails the test on truncation (and keeps gcc's truncation analysis quiet) */
static void fmt(char *buf, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t cap, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	int n = vsnprintf(buf, cap, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "path too long: '%s'\n", buf);
		exit(1);
	}
}

static char mcusim[PATH_MAX], fw[PATH_MAX], tmpbase[PATH_MAX];

struct sim {
	char dir[PATH_MAX], tty[PATH_MAX + 16], sock[PATH_MAX + 16];
	struct child c;
	int up;
};

static int read_line_fd(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t n = 0;
	int64_t end = clock_mono_ns() + (int64_t)timeout_ms * 1000000;

	while (n + 1 < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = (end - clock_mono_ns()) / 1000000;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		if (read(fd, buf + n, 1) != 1)
			return -EIO;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return (int)n;
}

static void sim_start(struct sim *s, const char *mode)
{
	char line[PATH_MAX * 3];
	const char *argv[] = { mcusim, "--firmware", fw, "--run-dir", s->dir, "--mode", mode,
			       "--quiet", NULL };

	memset(&s->c, 0, sizeof(s->c));
	s->c.argv = argv;
	s->c.in = CHILD_NULL;
	s->c.out = CHILD_PIPE;
	s->c.err = CHILD_INHERIT;
	assert_int_equal(child_start(&s->c), 0);
	int n = read_line_fd(s->c.fd_out, line, sizeof(line), 10000);
	if (n < 0 || strncmp(line, "ready ", 6) != 0)
		fail_msg("simulator did not get ready: '%s'", n < 0 ? strerror(-n) : line);
	fmt(s->tty, sizeof(s->tty), "%s/mcu.tty", s->dir);
	fmt(s->sock, sizeof(s->sock), "%s/control.sock", s->dir);
	s->up = 1;
}

static void sim_stop(struct sim *s, int sig)
{
	int status;

	if (!s->up)
		return;
	child_kill(&s->c, sig);
	child_finish(&s->c, 5000, &status);
	s->up = 0;
}

/* What a test left behind when an assertion ended it early; the teardown frees it. */
static struct sim *live_sim;
static struct fwlink *live_link;

static struct sim *sim_new(const char *mode)
{
	struct sim *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	fmt(s->dir, sizeof(s->dir), "%s/fwlink-sim-XXXXXX", tmpbase);
	assert_non_null(mkdtemp(s->dir));
	live_sim = s;
	sim_start(s, mode);
	return s;
}

static void sim_free(struct sim *s)
{
	char cmd[PATH_MAX + 32];

	sim_stop(s, SIGTERM);
	/* the simulator removes its own files; anything left is ours to clean */
	const char *argv[] = { "rm", "-rf", s->dir, NULL };
	struct child_result r;
	(void)cmd;
	child_run(argv, NULL, 5000, &r);
	child_result_release(&r);
	free(s);
	live_sim = NULL;
}

static int teardown(void **state)
{
	fwlink_close(live_link);
	live_link = NULL;
	if (live_sim)
		sim_free(live_sim);
	return 0;
}

/* One control-socket command; the reply (first line, or up to "end" for `edges`) in buf. */
static int ctl(struct sim *s, const char *cmd, char *buf, size_t cap)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t n = 0;

	assert_true(fd >= 0);
	fmt(a.sun_path, sizeof(a.sun_path), "%s", s->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	assert_int_equal(write(fd, "\n", 1), 1);
	int multi = strcmp(cmd, "edges") == 0;
	for (;;) {
		int k = read_line_fd(fd, buf + n, cap - n, 5000);
		if (k < 0) {
			close(fd);
			return k;
		}
		if (!multi || strncmp(buf + n, "end", 3) == 0)
			break;
		n += (size_t)k;
		buf[n++] = '\n';
	}
	close(fd);
	return 0;
}

static struct fwlink *link_open(struct sim *s)
{
	struct fwlink_opts o = { .path = s->tty, .open_timeout_ms = 5000, .reconnect_ms = 15000 };
	struct fwlink *l = fwlink_open(&o);

	if (!l)
		fail_msg("fwlink_open '%s': %s", s->tty, strerror(errno));
	live_link = l;
	return l;
}

/* Wait for the next event named `name` (others are skipped and counted). */
static int wait_event(struct fwlink *l, const char *name, int timeout_ms, struct fw_event *ev)
{
	int64_t end = clock_mono_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		int left = (int)((end - clock_mono_ns()) / 1000000);
		if (left <= 0)
			return -ETIMEDOUT;
		int rc = fwlink_next_event(l, left, ev);
		if (rc < 0)
			return rc;
		if (strcmp(ev->name, name) == 0)
			return 0;
	}
}

/* Drop queued events (earlier edges) so the next wait sees only new ones. */
static void drain(struct fwlink *l)
{
	struct fw_event ev;

	while (fwlink_next_event(l, 100, &ev) == 0)
		;
}

static void expect_error(struct fwlink *l, int code, const char *fmt, const char *arg)
{
	struct fw_reply r;
	char body[80];

	snprintf(body, sizeof(body), fmt, arg);
	int rc = fwlink_request(l, 2000, &r, "%s", body);
	if (rc != -EREMOTEIO || r.code != code)
		fail_msg("'%s': expected error %d, got rc %d code %d '%s'", body, code, rc, r.code, r.text);
}

static void test_every_request(void **state)
{
	struct sim *s = sim_new("fast");
	struct fwlink *l = link_open(s);
	struct fw_reply r;
	struct fw_event ev;
	uint64_t v, from, to;

	/* version */
	assert_int_equal(fwlink_request(l, 2000, &r, "version"), 0);
	assert_string_equal(fw_reply_get(&r, "proto"), "2");
	assert_non_null(fw_reply_get(&r, "fw"));
	assert_string_equal(fw_reply_get(&r, "mcu"), "atmega328p");
	assert_int_equal(fwlink_info(l)->proto, 2);
	/* the simulator's fuses: brown-out detection at 2.7 V, read by the firmware */
	assert_string_equal(fw_reply_get(&r, "bod_mv"), "2700");
	assert_int_equal(fwlink_info(l)->bod_mv, 2700);
	assert_true(fwlink_info(l)->channels >= 1);
	/* status */
	assert_int_equal(fwlink_request(l, 2000, &r, "status"), 0);
	assert_int_equal(fw_reply_get_u64(&r, "t", &v), 0);
	assert_int_equal(fw_reply_get_u64(&r, "seq", &v), 0);
	assert_string_equal(fw_reply_get(&r, "ch0"), "on");
	/* a fresh simulator's EEPROM is blank, as a first flash leaves it */
	assert_string_equal(fw_reply_get(&r, "settings"), "blank");
	assert_string_equal(fwlink_info(l)->settings, "blank");
	/* ping */
	assert_int_equal(fwlink_request(l, 2000, &r, "ping 4242"), 0);
	assert_string_equal(fw_reply_get(&r, "token"), "4242");
	assert_int_equal(fw_reply_get_u64(&r, "t", &v), 0);
	/* settings, get, set, defaults */
	assert_int_equal(fwlink_request(l, 2000, &r, "settings"), 0);
	assert_non_null(fw_reply_get(&r, "min_off_ms"));
	assert_non_null(fw_reply_get(&r, "host_timeout_ms"));
	assert_int_equal(fwlink_request(l, 2000, &r, "set min_off_ms 250"), 0);
	assert_string_equal(fw_reply_get(&r, "min_off_ms"), "250");
	assert_int_equal(fwlink_request(l, 2000, &r, "get min_off_ms"), 0);
	assert_string_equal(fw_reply_get(&r, "min_off_ms"), "250");
	assert_int_equal(fwlink_request(l, 2000, &r, "status"), 0);
	assert_string_equal(fw_reply_get(&r, "settings"), "ok");
	assert_int_equal(fwlink_request(l, 2000, &r, "defaults"), 0);
	assert_int_equal(fwlink_request(l, 2000, &r, "get min_off_ms"), 0);
	assert_string_equal(fw_reply_get(&r, "min_off_ms"), "200");
	expect_error(l, 8, "get %s", "no_such_key");
	expect_error(l, 5, "set min_off_ms %s", "5");

	/* off / on */
	assert_int_equal(fwlink_request(l, 2000, &r, "off 0"), 0);
	assert_int_equal(fw_reply_get_u64(&r, "at", &v), 0);
	assert_int_equal(wait_event(l, "relay", 3000, &ev), 0);
	assert_string_equal(fw_event_get(&ev, "power"), "off");
	assert_string_equal(fw_event_get(&ev, "cause"), "off");
	expect_error(l, 6, "cut 0 %s", "300");		/* busy */
	assert_int_equal(fwlink_request(l, 2000, &r, "on 0"), 0);
	assert_int_equal(wait_event(l, "relay", 3000, &ev), 0);
	assert_string_equal(fw_event_get(&ev, "power"), "on");

	/* cut: off now, on by itself; PWR_OK follows */
	drain(l);
	assert_int_equal(fwlink_request(l, 2000, &r, "cut 0 300"), 0);
	assert_int_equal(fw_reply_get_u64(&r, "at", &v), 0);
	assert_int_equal(wait_event(l, "relay", 3000, &ev), 0);
	assert_string_equal(fw_event_get(&ev, "cause"), "cut");
	uint64_t t_off = ev.t_us;
	assert_int_equal(wait_event(l, "pwrok", 3000, &ev), 0);
	assert_string_equal(fw_event_get(&ev, "level"), "0");
	assert_int_equal(wait_event(l, "relay", 5000, &ev), 0);
	assert_string_equal(fw_event_get(&ev, "power"), "on");
	assert_true(ev.t_us - t_off >= 300000 && ev.t_us - t_off < 301000);

	/* arm: a firmware-timed cut inside [from, to] */
	drain(l);
	assert_int_equal(fwlink_request(l, 2000, &r, "arm 0 10 50 250 1234"), 0);
	assert_int_equal(fw_reply_get_u64(&r, "from", &from), 0);
	assert_int_equal(fw_reply_get_u64(&r, "to", &to), 0);
	assert_int_equal(wait_event(l, "relay", 3000, &ev), 0);
	assert_string_equal(fw_event_get(&ev, "cause"), "arm");
	assert_string_equal(fw_event_get(&ev, "power"), "off");
	assert_true(ev.t_us >= from && ev.t_us <= to);
	assert_int_equal(wait_event(l, "relay", 3000, &ev), 0);
	assert_string_equal(fw_event_get(&ev, "power"), "on");

	/* disarm */
	expect_error(l, 7, "disarm %s", "0");
	assert_int_equal(fwlink_request(l, 2000, &r, "arm 0 60000 60000 250 7"), 0);
	assert_int_equal(fwlink_request(l, 2000, &r, "disarm 0"), 0);
	expect_error(l, 7, "disarm %s", "0");

	/* errors */
	expect_error(l, 1, "%s", "frobnicate");
	expect_error(l, 4, "cut %s", "zero");
	expect_error(l, 5, "cut 0 %s", "5");
	expect_error(l, 5, "cut %s 300", "9");

	/* reset: ok, then the banner with reset=command; a new session */
	uint64_t session = fwlink_session(l);
	assert_int_equal(fwlink_request(l, 2000, &r, "reset"), 0);
	assert_int_equal(wait_event(l, "boot", 5000, &ev), 0);
	assert_true(ev.flags & FW_EV_RESET);
	assert_string_equal(fw_event_get(&ev, "reset"), "command");
	assert_true(fwlink_session(l) == session + 1);
	assert_int_equal(fwlink_request(l, 2000, &r, "status"), 0);

	struct fwlink_stats st;
	fwlink_stats(l, &st);
	assert_true(st.garbled == 0);
	assert_true(st.events_lost == 0);
	teardown(NULL);
}

static void test_garbled_line(void **state)
{
	struct sim *s = sim_new("fast");
	struct fwlink *l = link_open(s);
	struct fw_reply r;
	struct fw_event ev;
	char big[100];

	/* a bad checksum: error 2, and the cut is not acted on */
	static const char bad[] = "cut 0 300*00\n";
	assert_int_equal(fwlink_request_raw(l, 2000, &r, bad, sizeof(bad) - 1), -EREMOTEIO);
	assert_int_equal(r.code, 2);
	/* a missing checksum */
	static const char none[] = "cut 0 300\n";
	assert_int_equal(fwlink_request_raw(l, 2000, &r, none, sizeof(none) - 1), -EREMOTEIO);
	assert_int_equal(r.code, 2);
	/* an overlong line: error 3 */
	memset(big, 'a', 80);
	big[80] = '\n';
	assert_int_equal(fwlink_request_raw(l, 2000, &r, big, 81), -EREMOTEIO);
	assert_int_equal(r.code, 3);
	/* nothing happened */
	assert_int_equal(fwlink_request(l, 2000, &r, "status"), 0);
	assert_string_equal(fw_reply_get(&r, "ch0"), "on");
	assert_int_equal(fwlink_next_event(l, 300, &ev), -ETIMEDOUT);
	/* and the link is in step: a proper cut works */
	assert_int_equal(fwlink_request(l, 2000, &r, "cut 0 200"), 0);
	assert_int_equal(wait_event(l, "relay", 3000, &ev), 0);
	teardown(NULL);
}

static void test_reset_and_restart(void **state)
{
	struct sim *s = sim_new("fast");
	struct fwlink *l = link_open(s);
	struct fw_reply r;
	struct fw_event ev;
	char buf[256];
	struct fwlink_stats st;

	/* reset through the control socket: the banner is noticed */
	assert_int_equal(ctl(s, "reset", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ok");
	assert_int_equal(wait_event(l, "boot", 5000, &ev), 0);
	assert_true(ev.flags & FW_EV_RESET);
	assert_true(fwlink_session(l) == 2);

	/* kill the simulator, start it again on the same run dir */
	sleep(1);
	assert_int_equal(fwlink_request(l, 2000, &r, "ping 1"), 0);
	sim_stop(s, SIGKILL);
	sim_start(s, "fast");
	assert_int_equal(fwlink_request(l, 10000, &r, "status"), 0);
	fwlink_stats(l, &st);
	assert_true(st.reconnects == 1);
	assert_true(fwlink_session(l) == 3);
	assert_int_equal(fwlink_request(l, 2000, &r, "cut 1 200"), 0);
	assert_int_equal(wait_event(l, "relay", 3000, &ev), 0);
	assert_true(ev.session == 3);
	teardown(NULL);
}

/* Relay edges as the simulator saw them (wall_ns: its CLOCK_MONOTONIC) against the
 * firmware's relay events mapped through the fit. */
static void test_clock_fit(void **state)
{
	struct sim *s = sim_new("realtime");
	struct fwlink *l = link_open(s);
	struct fw_reply r;
	struct fw_event ev;
	static char buf[1 << 16];
	uint64_t t_fw[4];
	int nfw = 0;
	double worst = 0, worst_unc = 0;

	assert_int_equal(ctl(s, "clear", buf, sizeof(buf)), 0);
	/* pings spread over the whole run, two cuts in between; their relay events are
	 * collected while pinging */
	assert_true(fwlink_clock_sync(l, 10, 1000) >= 8);
	for (int cut = 0; cut < 2; cut++) {
		int rc = fwlink_request(l, 2000, &r, cut == 0 ? "cut 0 300" : "cut 0 200");
		if (rc != 0)
			fail_msg("cut %d: rc %d '%s'", cut, rc, r.text);
		int64_t end = clock_mono_ns() + 5000 * 1000000LL;
		while (nfw < 2 * (cut + 1) && clock_mono_ns() < end) {
			assert_true(fwlink_clock_sync(l, 2, 1000) >= 1);
			while (nfw < 4 && fwlink_next_event(l, 30, &ev) == 0)
				if (strcmp(ev.name, "relay") == 0)
					t_fw[nfw++] = ev.t_us;
		}
		assert_int_equal(nfw, 2 * (cut + 1));
	}
	assert_true(fwlink_clock_sync(l, 10, 1000) >= 8);

	struct clockfit_info info;
	assert_int_equal(clockfit_info(fwlink_clockfit(l), &info), 0);
	print_message("fit: %d/%d samples, min rtt %.0f us, drift %.1f ppm, residual rms %.0f us, unc mid %.0f us\n",
		      info.used, info.samples, info.min_rtt_ns / 1e3, info.drift_ppm,
		      info.residual_rms_ns / 1e3, info.unc_mid_ns / 1e3);

	assert_int_equal(ctl(s, "edges", buf, sizeof(buf)), 0);
	int k = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		long long wall;
		unsigned ch, en;
		if (sscanf(line, "relay ch=%u energized=%u", &ch, &en) != 2 || ch != 0)
			continue;
		char *w = strstr(line, "wall_ns=");
		assert_non_null(w);
		wall = atoll(w + 8);
		assert_true(k < nfw);
		int64_t ns, unc;
		assert_int_equal(fwlink_clock_map(l, t_fw[k], &ns, &unc), 0);
		double err = (double)(ns - wall);
		print_message("edge %d: mapped - simulator wall = %+.0f us, stated +-%.0f us\n",
			      k, err / 1e3, unc / 1e3);
		/* The simulator stamps wall_ns when it handles the edge, up to one I/O tick
		 * (250 us) after simulated time reached it; allow that on top. */
		if (fabs(err) > (double)unc + 300e3)
			fail_msg("edge %d off by %.0f us, beyond the stated %.0f us", k, err / 1e3, unc / 1e3);
		if (fabs(err) > worst)
			worst = fabs(err);
		if (unc > worst_unc)
			worst_unc = (double)unc;
		k++;
	}
	assert_int_equal(k, 4);
	printf("figure clock_fit_error_us %.1f us 1000 <=\n", worst / 1e3);
	printf("figure clock_fit_uncertainty_us %.1f us 1000 <=\n", worst_unc / 1e3);
	teardown(NULL);
}

static int exists(const char *p)
{
	return access(p, R_OK) == 0;
}

int main(void)
{
	char self[PATH_MAX], build[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return 1;
	self[n] = '\0';
	/* build/host/fwlink/tests/NAME -> build */
	snprintf(build, sizeof(build), "%s", self);
	for (int i = 0; i < 4; i++) {
		char *slash = strrchr(build, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(mcusim, sizeof(mcusim), "%s", getenv("POWERCUT_MCUSIM") ? getenv("POWERCUT_MCUSIM") : "");
	if (!mcusim[0])
		fmt(mcusim, sizeof(mcusim), "%s/bin/powercut-mcusim", build);
	snprintf(fw, sizeof(fw), "%s", getenv("POWERCUT_FW") ? getenv("POWERCUT_FW") : "");
	if (!fw[0])
		fmt(fw, sizeof(fw), "%s/firmware/powercut-fw.elf", build);
	if (!exists(mcusim) || !exists(fw)) {
		printf("skip: needs '%s' and '%s' (make build)\n", mcusim, fw);
		return 77;
	}
	if (getenv("TMPDIR"))
		snprintf(tmpbase, sizeof(tmpbase), "%s", getenv("TMPDIR"));
	else {
		fmt(tmpbase, sizeof(tmpbase), "%s/tmp", build);
		mkdir(tmpbase, 0755);
	}
	log_set_prog("test_fwlink_sim");

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_every_request, teardown),
		cmocka_unit_test_teardown(test_garbled_line, teardown),
		cmocka_unit_test_teardown(test_reset_and_restart, teardown),
		cmocka_unit_test_teardown(test_clock_fit, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
