/* End-to-end tests of the serial relay driver and `powercut relay` against the real
 * firmware ELF running in powercut-mcusim: the simulator started by powercut itself
 * (the "new user" case), every relay command, SIGINT/SIGTERM leaving power ON, a
 * firmware reset and a simulator restart in the middle of a session (state
 * re-established), resets and restarts that cut the reply to `off` short, and a
 * garbled line never acted on. The relay's real state is read
 * from the simulator's control socket, not from powercut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "child.h"
#include "clock.h"
#include "fwlink.h"
#include "util.h"

static char build[PATH_MAX], pc[PATH_MAX], sim_bin[PATH_MAX], fw[PATH_MAX];
static char tmp[PATH_MAX], run_b[PATH_MAX + 16], bench_a[PATH_MAX + 16], bench_b[PATH_MAX + 16];
static struct child sim = { .pid = -1 };
static char sim_tty[PATH_MAX];

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int sim_start(void)
{
	static const char *argv[16];
	char line[1024];
	size_t n = 0;
	int i = 0;

	argv[i++] = sim_bin; argv[i++] = "--firmware"; argv[i++] = fw;
	argv[i++] = "--run-dir"; argv[i++] = run_b; argv[i++] = "--quiet"; argv[i] = NULL;
	sim = (struct child){ .argv = argv, .in = CHILD_NULL, .out = CHILD_PIPE, .err = CHILD_INHERIT };
	if (child_start(&sim) < 0)
		return -1;
	while (n < sizeof(line) - 1) {
		struct pollfd p = { .fd = sim.fd_out, .events = POLLIN };
		if (poll(&p, 1, 10000) <= 0)
			return -1;
		ssize_t k = read(sim.fd_out, line + n, sizeof(line) - 1 - n);
		if (k <= 0)
			return -1;
		n += (size_t)k;
		line[n] = '\0';
		if (strchr(line, '\n'))
			break;
	}
	char *t = strstr(line, "tty=");
	if (!t)
		return -1;
	snprintf(sim_tty, sizeof(sim_tty), "%.*s", (int)strcspn(t + 4, " \n"), t + 4);
	return 0;
}

static void sim_stop(void)
{
	int st;

	if (sim.pid > 0) {
		child_kill(&sim, SIGTERM);
		child_finish(&sim, 5000, &st);
	}
}

/* One request on the simulator's control socket; reply line in out. */
static int ctl(const char *req, char *out, size_t len)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t n = 0;

	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%.90s/control.sock", run_b) >=
	    sizeof(a.sun_path))
		return -1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (write(fd, req, strlen(req)) < 0 || write(fd, "\n", 1) < 0) {
		close(fd);
		return -1;
	}
	while (n < len - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 3000) <= 0)
			break;
		ssize_t k = read(fd, out + n, len - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		out[n] = '\0';
		if (strchr(out, '\n'))
			break;
	}
	out[n] = '\0';
	close(fd);
	return n ? 0 : -1;
}

/* The simulator's edge stream (control `subscribe`): every relay, DC, PWR_OK and
 * reset edge it records, in order, from the moment of subscribing. A transient state
 * (a relay released for the few milliseconds between a reset and powercut's next
 * `off`) shows there even when a poll of `status` would miss it. */
struct watch {
	int fd;
	char buf[4096];
	size_t len;
	bool saw_reset;		/* a `reset ...` line went by */
};

static int watch_open(struct watch *w)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char line[64];

	memset(w, 0, sizeof(*w));
	w->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%.90s/control.sock", run_b) >=
	    sizeof(a.sun_path) || w->fd < 0 || connect(w->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    write(w->fd, "subscribe\n", 10) != 10)
		return -1;
	/* the `ok` comes before any event */
	for (size_t n = 0; n < sizeof(line) - 1; n++) {
		struct pollfd p = { .fd = w->fd, .events = POLLIN };
		if (poll(&p, 1, 3000) <= 0 || read(w->fd, line + n, 1) != 1)
			return -1;
		if (line[n] == '\n')
			return strncmp(line, "ok", 2) == 0 ? 0 : -1;
	}
	return -1;
}

static void watch_close(struct watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

/* Wait at most ms for an event line that starts with prefix; lines before it are
 * passed over. */
static bool watch_until(struct watch *w, const char *prefix, int ms)
{
	int64_t end = clock_mono_ms() + ms;

	for (;;) {
		char *nl;

		while ((nl = memchr(w->buf, '\n', w->len))) {
			size_t n = (size_t)(nl - w->buf) + 1;
			bool hit = strncmp(w->buf, prefix, strlen(prefix)) == 0;

			if (strncmp(w->buf, "reset ", 6) == 0)
				w->saw_reset = true;
			memmove(w->buf, w->buf + n, w->len - n);
			w->len -= n;
			if (hit)
				return true;
		}
		int64_t left = end - clock_mono_ms();
		struct pollfd p = { .fd = w->fd, .events = POLLIN };

		if (left <= 0 || w->len == sizeof(w->buf) || poll(&p, 1, (int)left) <= 0)
			return false;
		ssize_t k = read(w->fd, w->buf + w->len, sizeof(w->buf) - w->len);
		if (k <= 0)
			return false;
		w->len += (size_t)k;
	}
}

/* Energized state of relay 0 as the simulator sees the pin (1 = power off). */
static int relay0(void)
{
	char buf[1024];
	const char *p;

	if (ctl("status", buf, sizeof(buf)) < 0 || !(p = strstr(buf, " relay0=")))
		return -1;
	return p[8] - '0';
}

static bool wait_relay0(int want, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		if (relay0() == want)
			return true;
		msleep(20);
	}
	return relay0() == want;
}

/* Run powercut with args; stdout in *out (caller frees); returns the exit status. */
static int run_pc(char **out, const char *a1, const char *a2, const char *a3, const char *a4,
		  const char *a5, const char *a6)
{
	const char *argv[] = { pc, a1, a2, a3, a4, a5, a6, NULL };
	struct child_result r;
	int rc = child_run(argv, NULL, 30000, &r);

	assert_int_equal(rc, 0);
	if (r.err_len)
		fprintf(stderr, "%s", r.err);
	if (out)
		*out = strdup(r.out);
	child_result_release(&r);
	return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : 128 + WTERMSIG(r.status);
}

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (!j)
		fprintf(stderr, "bad JSON '%s': %s\n", s, e.text);
	assert_non_null(j);
	return j;
}

static int setup(void **state)
{
	char exe[PATH_MAX];
	FILE *f;

	if (pc_exe_dir(exe, sizeof(exe)) < 0)
		return -1;
	/* build/host/powercut/tests -> build */
	snprintf(build, sizeof(build), "%.4000s/../../..", exe);
	snprintf(pc, sizeof(pc), "%.4000s/bin/powercut", build);
	snprintf(sim_bin, sizeof(sim_bin), "%.4000s/bin/powercut-mcusim", build);
	snprintf(fw, sizeof(fw), "%.4000s/firmware/powercut-fw.elf", build);
	const char *t = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/pc-relay-sim-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(run_b, sizeof(run_b), "%s/simb", tmp);
	snprintf(bench_a, sizeof(bench_a), "%s/a.ini", tmp);
	snprintf(bench_b, sizeof(bench_b), "%s/b.ini", tmp);
	/* A: as shipped (rig/benches/sim.ini): powercut starts the simulator itself and
	 * finds it and the firmware relative to its own executable. */
	if (!(f = fopen(bench_a, "w")))
		return -1;
	fprintf(f, "[bench]\nname = a\nrun_dir = %s/runa\n[relay]\ndriver = serial\n"
		"simulator = yes\n", tmp);
	fclose(f);
	/* B: a port, as for a real board: the test's own simulator. */
	if (!(f = fopen(bench_b, "w")))
		return -1;
	fprintf(f, "[bench]\nname = b\nrun_dir = %s/runb\n[relay]\ndriver = serial\n"
		"port = %s/mcu.tty\n[campaign]\noff_ms = 300\n", tmp, run_b);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	const char *argv[] = { "rm", "-rf", tmp, NULL };
	struct child_result r;

	sim_stop();
	if (child_run(argv, NULL, 10000, &r) == 0)
		child_result_release(&r);
	return 0;
}

static void test_status_starts_simulator(void **state)
{
	char *out = NULL, path[PATH_MAX + 32];

	assert_int_equal(run_pc(&out, "relay", "status", bench_a, NULL, NULL, NULL), 0);
	assert_non_null(strstr(out, "firmware: 0."));
	assert_non_null(strstr(out, "channel 0: on, PWR_OK good"));
	assert_non_null(strstr(out, "channel 1: on, PWR_OK good"));
	/* The simulated board's EEPROM was blank (a first run): the driver stored the
	 * bench's settings, which the status now reads back; BOD as the fuses say. */
	assert_non_null(strstr(out, "settings: ok\n"));
	assert_non_null(strstr(out, "brown-out: 2.7 V\n"));
	free(out);
	struct stat st;
	snprintf(path, sizeof(path), "%s/runa/mcu-eeprom.bin", tmp);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 1024);
	assert_int_equal(run_pc(&out, "relay", "status", bench_a, "--json", NULL, NULL), 0);
	json_t *j = parse(out);
	free(out);
	assert_string_equal(json_string_value(json_object_get(j, "settings")), "ok");
	assert_int_equal(json_integer_value(json_object_get(j, "bod_mv")), 2700);
	assert_string_equal(json_string_value(json_object_get(j, "driver")), "serial");
	assert_true(strlen(json_string_value(json_object_get(j, "firmware"))) > 0);
	json_t *chs = json_object_get(j, "channels");
	assert_int_equal(json_array_size(chs), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *c = json_array_get(chs, i);
		assert_string_equal(json_string_value(json_object_get(c, "state")), "on");
		assert_int_equal(json_integer_value(json_object_get(c, "pwrok")), 1);
	}
	json_decref(j);
	/* The simulator was stopped: it removes its pty link when it exits cleanly. */
	snprintf(path, sizeof(path), "%s/runa/mcu.tty", tmp);
	assert_int_equal(access(path, F_OK), -1);
}

/* Find the first event of kind with level in a JSON events array. */
static json_t *find_ev(json_t *ev, const char *kind, int level)
{
	for (size_t i = 0; i < json_array_size(ev); i++) {
		json_t *e = json_array_get(ev, i);
		if (!strcmp(json_string_value(json_object_get(e, "kind")), kind) &&
		    json_integer_value(json_object_get(e, "level")) == level)
			return e;
	}
	return NULL;
}

static int64_t jget(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	assert_non_null(v);
	return json_integer_value(v);
}

static void test_cut_events(void **state)
{
	char *out = NULL;

	assert_int_equal(sim_start(), 0);
	assert_int_equal(run_pc(&out, "relay", "cut", bench_b, "--off-ms", "300", "--json"), 0);
	json_t *j = parse(out);
	free(out);
	assert_string_equal(json_string_value(json_object_get(j, "timed_by")), "firmware");
	int64_t unc = jget(j, "uncertainty_ns");
	assert_true(unc > 0);
	json_t *ev = json_object_get(j, "events");
	json_t *off = find_ev(ev, "relay", 0), *fall = find_ev(ev, "pwrok", 0);
	json_t *on = find_ev(ev, "relay", 1);
	assert_non_null(off);
	assert_non_null(fall);
	assert_non_null(on);
	/* The firmware's clock: the PSU model's 18 ms hold-up, the requested 300 ms. */
	int64_t hold = jget(fall, "fw_us") - jget(off, "fw_us");
	int64_t offt = jget(on, "fw_us") - jget(off, "fw_us");
	assert_true(hold > 17000 && hold < 19500);
	assert_true(offt >= 300000 && offt < 301000);
	/* The reply's `at` is the relay edge the event reports. */
	assert_true(llabs(jget(j, "fw_at_us") - jget(off, "fw_us")) <= 100);
	/* Host times: the cut record and the event map the same firmware time, so they
	 * agree within their stated uncertainties, and the order of edges holds. */
	int64_t a = jget(j, "actual_ns"), b = jget(off, "mono_ns");
	int64_t ub = jget(off, "uncertainty_ns");
	assert_true(llabs(a - b) <= unc + ub);
	assert_true(jget(fall, "mono_ns") + jget(fall, "uncertainty_ns") >= b - ub);
	assert_true(jget(on, "mono_ns") + jget(on, "uncertainty_ns") >=
		    jget(fall, "mono_ns") - jget(fall, "uncertainty_ns"));
	json_decref(j);
	assert_int_equal(relay0(), 0);
}

static void test_arm(void **state)
{
	char *out = NULL;

	assert_int_equal(run_pc(&out, "relay", "arm", bench_b, "--window", "100..300", "--json"), 0);
	json_t *j = parse(out);
	free(out);
	int64_t from = jget(j, "fw_from_us"), to = jget(j, "fw_to_us");
	int64_t at = jget(j, "fw_at_us");
	assert_true(to - from == 200000);
	/* The firmware drew the moment inside the window it announced. */
	assert_true(at >= from && at <= to);
	assert_string_equal(json_string_value(json_object_get(j, "timed_by")), "firmware");
	assert_non_null(find_ev(json_object_get(j, "events"), "relay", 1));
	json_decref(j);
}

static void test_selftest_and_on_off(void **state)
{
	char *out = NULL;

	assert_int_equal(run_pc(&out, "relay", "selftest", bench_b, "--json", NULL, NULL), 0);
	json_t *j = parse(out);
	free(out);
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_t *c0 = json_array_get(json_object_get(j, "channels"), 0);
	double hold = json_real_value(json_object_get(c0, "hold_up_ms"));
	assert_true(hold > 17 && hold < 19.5);
	json_decref(j);
	assert_int_equal(run_pc(NULL, "relay", "off", bench_b, "--for", "400ms", NULL), 0);
	assert_int_equal(relay0(), 0);
	assert_int_equal(run_pc(NULL, "relay", "on", bench_b, NULL, NULL, NULL), 0);
	assert_int_equal(relay0(), 0);
}

/* The `powercut relay off` of hold_then(); stopped by stop_holder() also when an
 * assertion left the test early, so that it cannot hold the bench's lock into the
 * next test. */
static struct child holder = { .pid = -1 };

static int stop_holder(void **state)
{
	int st;

	if (holder.pid > 0) {
		child_kill(&holder, SIGTERM);
		child_finish(&holder, 10000, &st);
	}
	return 0;
}

/* Hold power off with `powercut relay off`, then end powercut with sig. */
static void hold_then(int sig, void (*meanwhile)(void))
{
	static const char *argv[] = { NULL, "relay", "off", NULL, "-q", NULL };
	struct child *c = &holder;
	int st;

	argv[0] = pc;
	argv[3] = bench_b;
	*c = (struct child){ .argv = argv, .in = CHILD_NULL, .out = CHILD_NULL, .err = CHILD_INHERIT };
	assert_int_equal(child_start(c), 0);
	assert_true(wait_relay0(1, 5000));
	if (meanwhile)
		meanwhile();
	/* After a reset powercut switches it off again: as soon as it notices, which a
	 * loaded machine delays. */
	assert_true(wait_relay0(1, 5000));
	msleep(300);	/* past the firmware's min_off_ms, so `on` is not deferred */
	assert_int_equal(relay0(), 1);
	child_kill(c, sig);
	assert_int_equal(child_finish(c, 10000, &st), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 128 + sig);
	/* powercut is gone and the relay is de-energized: the node is powered (at once,
	 * or when the firmware's min_off_ms has passed on its own clock, which runs
	 * slower than the host's when the simulator is starved of CPU). */
	assert_true(wait_relay0(0, 3000));
}

static void test_sigint_sigterm(void **state)
{
	hold_then(SIGINT, NULL);
	hold_then(SIGTERM, NULL);
}

static void firmware_reset(void)
{
	char buf[256];
	struct watch w;

	/* Subscribed before the reset: every edge after it is in the stream. */
	assert_int_equal(watch_open(&w), 0);
	assert_int_equal(ctl("reset", buf, sizeof(buf)), 0);
	/* The reset powers the node (relay released, at the reset's cycle) ... */
	assert_true(watch_until(&w, "relay ch=0 energized=0 ", 2000));
	/* ... and powercut notices and powers it off again (as soon as it notices,
	 * which a loaded machine delays). */
	assert_true(watch_until(&w, "relay ch=0 energized=1 ", 5000));
	assert_true(w.saw_reset);
	watch_close(&w);
}

static void test_reset_mid_session(void **state)
{
	hold_then(SIGTERM, firmware_reset);
}

static void sim_restart(void)
{
	sim_stop();
	assert_int_equal(sim_start(), 0);
	/* A fresh firmware starts powered; powercut reconnects to the same path and
	 * re-establishes its state. */
	assert_true(wait_relay0(1, 8000));
}

static void test_sim_restart_reconnect(void **state)
{
	hold_then(SIGTERM, sim_restart);
}

/* Resets that land while the reply to powercut's `off` is still on the line: each
 * (but the first) is sent the moment the relay is energized again, 1 ms after the
 * firmware parsed `off`, while its `ok at=...*CC` (17 bytes, 1.6 ms at 117.6 kbaud)
 * is still being printed. Most rounds the banner cuts that reply short (a brown-out
 * or a DTR reset on a board does the same): powercut must take it as a reset and
 * hold the channel off again, not give up on a garbled reply. */
static void resets_at_the_edge(void)
{
	char buf[256];
	struct watch w;

	assert_int_equal(watch_open(&w), 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(ctl("reset", buf, sizeof(buf)), 0);
		assert_true(watch_until(&w, "relay ch=0 energized=0 ", 2000));
		assert_true(watch_until(&w, "relay ch=0 energized=1 ", 5000));
	}
	watch_close(&w);
}

static void test_resets_while_off_is_answered(void **state)
{
	hold_then(SIGTERM, resets_at_the_edge);
}

/* The same with the simulator restarted at the edge: the port goes away with the
 * reply to `off` unfinished (a USB cable pulled). powercut re-opens the port and
 * holds the channel off on the new board, rather than fail with "Connection reset
 * by peer". */
static void restarts_at_the_edge(void)
{
	for (int i = 0; i < 3; i++) {
		struct watch w;

		sim_stop();
		assert_int_equal(sim_start(), 0);
		assert_int_equal(watch_open(&w), 0);
		/* (a reconnect faster than the subscription would leave it energized) */
		assert_true(watch_until(&w, "relay ch=0 energized=1 ", 8000) || relay0() == 1);
		watch_close(&w);
	}
}

static void test_restarts_while_off_is_answered(void **state)
{
	hold_then(SIGTERM, restarts_at_the_edge);
}

static void test_firmware_restores_by_itself(void **state)
{
	struct fwlink_opts o = { .path = sim_tty };
	struct fwlink *l = fwlink_open(&o);
	struct child_result r;

	assert_non_null(l);
	assert_int_equal(fwlink_request(l, 2000, NULL, "set max_off_ms 500"), 0);
	fwlink_close(l);
	/* The hold ends with an error when the firmware gives power back on its own. */
	const char *argv[] = { pc, "relay", "off", bench_b, "--for", "5s", NULL };
	assert_int_equal(child_run(argv, NULL, 20000, &r), 0);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 1);
	assert_non_null(strstr(r.err, "restored power by itself (cause maxoff)"));
	child_result_release(&r);
	l = fwlink_open(&o);
	assert_non_null(l);
	assert_int_equal(fwlink_request(l, 2000, NULL, "defaults"), 0);
	fwlink_close(l);
}

static void test_garbled_line_not_acted_on(void **state)
{
	struct fwlink_opts o = { .path = sim_tty };
	struct fwlink *l = fwlink_open(&o);
	struct fw_reply r;
	static const char bad[] = "off 0*00\n";	/* the checksum of "off 0" is not 00 */

	assert_non_null(l);
	assert_int_equal(fwlink_request_raw(l, 2000, &r, bad, sizeof(bad) - 1), -EREMOTEIO);
	assert_int_equal(r.code, 2);
	msleep(100);
	assert_int_equal(relay0(), 0);
	fwlink_close(l);
}

int main(void)
{
	char exe[PATH_MAX], p[PATH_MAX + 64];

	if (pc_exe_dir(exe, sizeof(exe)) == 0) {
		snprintf(p, sizeof(p), "%s/../../../firmware/powercut-fw.elf", exe);
		if (access(p, R_OK) < 0) {
			printf("skip: no firmware ELF at %s\n", p);
			return 77;
		}
		snprintf(p, sizeof(p), "%s/../../../bin/powercut-mcusim", exe);
		if (access(p, X_OK) < 0) {
			printf("skip: no simulator at %s\n", p);
			return 77;
		}
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_starts_simulator),
		cmocka_unit_test(test_cut_events),
		cmocka_unit_test(test_arm),
		cmocka_unit_test(test_selftest_and_on_off),
		cmocka_unit_test_teardown(test_sigint_sigterm, stop_holder),
		cmocka_unit_test_teardown(test_reset_mid_session, stop_holder),
		cmocka_unit_test_teardown(test_sim_restart_reconnect, stop_holder),
		cmocka_unit_test_teardown(test_resets_while_off_is_answered, stop_holder),
		cmocka_unit_test_teardown(test_restarts_while_off_is_answered, stop_holder),
		cmocka_unit_test(test_firmware_restores_by_itself),
		cmocka_unit_test(test_garbled_line_not_acted_on),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
