/* Unit tests of fwlink against a scripted fake firmware on a pseudo-terminal pair.
 *
 * The fake runs in a thread on the pty master and answers the requests of
 * docs/protocol.md; each test switches on the misbehaviour it needs (a garbled
 * reply, a dropped reply, a wrong protocol version, injected events, a restart under
 * the same symlink) and asserts what fwlink made of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clockfit.h"
#include "frame.h"
#include "fwlink.h"
#include "log.h"
/* the host's clock.h by path: firmware/core, also on the include path, has one */
#include "../../lib/clock.h"

struct fake {
	char dir[256], link[300];
	int master, slave_keep;
	pthread_t th;
	int running, stop;
	pthread_mutex_t mu;
	int64_t t0_ns;			/* firmware clock zero */
	uint64_t seq;			/* next event seq */
	/* behaviour */
	int proto;
	const char *settings;		/* status's settings= */
	int bod_mv;			/* version's and the banner's bod_mv= */
	int garble_replies;		/* garble the next N replies */
	int drop_replies;		/* swallow the next N requests without reply */
	int late_reply_ms;		/* reply to dropped requests this much later */
	int reset_mid_reply;		/* the next N replies: cut short by a reset, banner glued */
	int reset_for_reply;		/* the next N replies: a reset before them, banner alone */
	const char *raw_reply;		/* the next reply written as given instead */
	int glitch;			/* fake_boot: the same board's port back (no reboot) */
	/* observations */
	int n_cut, n_requests, n_ping, n_version, n_set;
	char late[200];
	int64_t late_at;
};

static void fake_write_body(struct fake *f, const char *body, int garble)
{
	char buf[200];
	size_t n = strlen(body);

	memcpy(buf, body, n);
	n = (size_t)fw_frame_seal(buf, n, sizeof(buf));
	if (garble)
		buf[n - 1] = buf[n - 1] == '0' ? '1' : '0';	/* wrong checksum digit */
	buf[n++] = '\n';
	pthread_mutex_lock(&f->mu);
	assert_int_equal(write(f->master, buf, n), (ssize_t)n);
	pthread_mutex_unlock(&f->mu);
}

static uint64_t fake_t(struct fake *f)
{
	return (uint64_t)(clock_mono_ns() - f->t0_ns) / 1000;
}

static void fake_event(struct fake *f, const char *fmt, ...)
{
	char body[160], rest[120];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	snprintf(body, sizeof(body), "!%llu %llu %s", (unsigned long long)f->seq++,
		 (unsigned long long)fake_t(f), rest);
	fake_write_body(f, body, 0);
}

static void fake_write_raw(struct fake *f, const char *raw)
{
	size_t n = strlen(raw);

	pthread_mutex_lock(&f->mu);
	assert_int_equal(write(f->master, raw, n), (ssize_t)n);
	pthread_mutex_unlock(&f->mu);
}

/* The firmware resets (an external reset: the reset pin, a brown-out, DTR), after
 * having printed prefix of the line it was sending: the banner follows on the same
 * line, as on a board and in the simulator. */
static void fake_reset(struct fake *f, const char *prefix)
{
	char banner[160], line[300];
	int n;

	f->seq = 0;
	f->t0_ns = clock_mono_ns();
	n = snprintf(banner, sizeof(banner), "!0 %llu boot fw=0.2.0 proto=%d reset=external "
		     "channels=2 settings=%s bod_mv=%d", (unsigned long long)fake_t(f), f->proto,
		     f->settings, f->bod_mv);
	n = fw_frame_seal(banner, (size_t)n, sizeof(banner));
	assert_true(n > 0);
	f->seq = 1;
	snprintf(line, sizeof(line), "%s%.*s\n", prefix, n, banner);
	fake_write_raw(f, line);
}

static void fake_answer(struct fake *f, const char *line, size_t len)
{
	char body[160], cmd[64];
	int n = fw_frame_check(line, len, FW_LINE_MAX_HOST);
	unsigned tok = 0;

	f->n_requests++;
	if (n < 0) {
		snprintf(body, sizeof(body), "error:%d %s", -n, fw_err_text(-n));
		fake_write_body(f, body, 0);
		return;
	}
	snprintf(cmd, sizeof(cmd), "%.*s", n, line);
	if (strcmp(cmd, "version") == 0) {
		f->n_version++;
		snprintf(body, sizeof(body), "ok fw=0.2.0 proto=%d mcu=atmega328p f_cpu=16000000 "
			 "channels=2 bod_mv=%d", f->proto, f->bod_mv);
	} else if (strcmp(cmd, "status") == 0) {
		snprintf(body, sizeof(body), "ok t=%llu seq=%llu reset=power settings=%s ch0=on "
			 "pwr0=1 ch1=on pwr1=1", (unsigned long long)fake_t(f),
			 (unsigned long long)f->seq, f->settings);
	} else if (sscanf(cmd, "ping %u", &tok) == 1 || strcmp(cmd, "ping") == 0) {
		f->n_ping++;
		snprintf(body, sizeof(body), "ok t=%llu token=%u", (unsigned long long)fake_t(f), tok);
	} else if (strncmp(cmd, "cut ", 4) == 0) {
		f->n_cut++;
		snprintf(body, sizeof(body), "ok at=%llu", (unsigned long long)fake_t(f));
	} else if (strncmp(cmd, "set ", 4) == 0) {
		char key[32];
		unsigned v;

		f->n_set++;
		if (sscanf(cmd + 4, "%31s %u", key, &v) == 2)
			snprintf(body, sizeof(body), "ok %s=%u", key, v);
		else
			snprintf(body, sizeof(body), "error:4 bad argument");
	} else if (strcmp(cmd, "boom") == 0) {
		snprintf(body, sizeof(body), "ok");
		fake_write_body(f, body, 0);
		f->seq = 0;
		f->t0_ns = clock_mono_ns();
		fake_event(f, "boot fw=0.2.0 proto=%d reset=command channels=2 settings=%s bod_mv=%d",
			   f->proto, f->settings, f->bod_mv);
		return;
	} else {
		snprintf(body, sizeof(body), "error:1 unknown command");
	}
	if (f->raw_reply) {
		fake_write_raw(f, f->raw_reply);
		f->raw_reply = NULL;
		return;
	}
	if (f->reset_mid_reply > 0) {
		char part[64];

		f->reset_mid_reply--;
		/* what a 115200-baud line had carried of the reply when the reset came */
		snprintf(part, sizeof(part), "%.*s", (int)(strlen(body) / 2 + 1), body);
		fake_reset(f, part);
		return;
	}
	if (f->reset_for_reply > 0) {
		f->reset_for_reply--;
		fake_reset(f, "");
		return;
	}
	if (f->drop_replies > 0) {
		f->drop_replies--;
		if (f->late_reply_ms) {
			snprintf(f->late, sizeof(f->late), "%s", body);
			f->late_at = clock_mono_ns() + (int64_t)f->late_reply_ms * 1000000;
		}
		return;
	}
	fake_write_body(f, body, f->garble_replies > 0 ? f->garble_replies-- : 0);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	char line[256];
	size_t len = 0;

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { .fd = f->master, .events = POLLIN };
		char buf[256];

		if (f->late[0] && clock_mono_ns() >= f->late_at) {
			fake_write_body(f, f->late, 0);
			f->late[0] = '\0';
		}
		if (poll(&p, 1, 10) <= 0)
			continue;
		ssize_t n = read(f->master, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				fake_answer(f, line, len);
				len = 0;
			} else if (len < sizeof(line)) {
				line[len++] = buf[i];
			}
		}
	}
	return NULL;
}

/* A new pty behind f->link (replacing the old one atomically), the fake firmware
 * freshly booted with its banner waiting in the pty, as the simulator does. */
static void fake_boot(struct fake *f)
{
	char tmp[320];
	struct termios t;

	f->master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(f->master >= 0);
	assert_int_equal(grantpt(f->master), 0);
	assert_int_equal(unlockpt(f->master), 0);
	f->slave_keep = open(ptsname(f->master), O_RDWR | O_NOCTTY);
	assert_true(f->slave_keep >= 0);
	tcgetattr(f->slave_keep, &t);
	cfmakeraw(&t);
	tcsetattr(f->slave_keep, TCSANOW, &t);
	snprintf(tmp, sizeof(tmp), "%s/mcu.tty.new", f->dir);
	unlink(tmp);
	assert_int_equal(symlink(ptsname(f->master), tmp), 0);
	assert_int_equal(rename(tmp, f->link), 0);
	if (!f->glitch) {
		f->t0_ns = clock_mono_ns();
		f->seq = 0;
		fake_event(f, "boot fw=0.2.0 proto=%d reset=power channels=2 settings=%s bod_mv=%d",
			   f->proto, f->settings, f->bod_mv);
	}
	f->stop = 0;
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
	f->running = 1;
}

static void fake_kill(struct fake *f)
{
	if (!f->running)
		return;
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
	pthread_join(f->th, NULL);
	close(f->slave_keep);
	close(f->master);
	f->running = 0;
}

static struct fake *fake_new(int proto)
{
	struct fake *f = calloc(1, sizeof(*f));
	const char *tmpdir = getenv("TMPDIR");

	assert_non_null(f);
	pthread_mutex_init(&f->mu, NULL);
	f->proto = proto;
	f->settings = "ok";
	f->bod_mv = 2700;
	snprintf(f->dir, sizeof(f->dir), "%s/fwlink-fake-XXXXXX", tmpdir ? tmpdir : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->link, sizeof(f->link), "%s/mcu.tty", f->dir);
	fake_boot(f);
	return f;
}

static void fake_free(struct fake *f)
{
	fake_kill(f);
	unlink(f->link);
	rmdir(f->dir);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

static int resets_seen;
static uint64_t reset_session;

static void on_reset(void *ctx, const struct fw_event *ev)
{
	resets_seen++;
	reset_session = ev->session;
}

static struct fwlink *open_link(struct fake *f, int reconnect_ms)
{
	struct fwlink_opts o = { .path = f->link, .open_timeout_ms = 2000,
				 .reconnect_ms = reconnect_ms, .on_reset = on_reset };

	resets_seen = 0;
	return fwlink_open(&o);
}

/* ---- tests ---- */

static void test_open_and_requests(void **state)
{
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink *l = open_link(f, 0);
	struct fw_reply r;
	struct fw_event ev;
	uint64_t at;

	assert_non_null(l);
	assert_int_equal(fwlink_info(l)->proto, FWLINK_PROTO);
	assert_int_equal(fwlink_info(l)->channels, 2);
	assert_string_equal(fwlink_info(l)->fw, "0.2.0");
	assert_string_equal(fwlink_info(l)->settings, "ok");
	assert_int_equal(fwlink_info(l)->bod_mv, 2700);
	assert_string_equal(fwlink_info(l)->mcu, "atmega328p");
	assert_true(fwlink_session(l) == 1);
	assert_true(fwlink_fd(l) >= 0);
	/* the stale banner was flushed, not reported as an event or a reset */
	assert_int_equal(fwlink_next_event(l, 50, &ev), -ETIMEDOUT);
	assert_int_equal(resets_seen, 0);

	assert_int_equal(fwlink_request(l, 1000, &r, "cut %d %d", 0, 500), 0);
	assert_int_equal(r.code, 0);
	assert_int_equal(fw_reply_get_u64(&r, "at", &at), 0);
	assert_true(r.tx_ns > 0 && r.rx_ns >= r.tx_ns);
	assert_int_equal(f->n_cut, 1);

	assert_int_equal(fwlink_request(l, 1000, &r, "frobnicate"), -EREMOTEIO);
	assert_int_equal(r.code, 1);
	assert_string_equal(r.text, "unknown command");

	/* limits checked before anything is sent */
	int before = f->n_requests;
	assert_int_equal(fwlink_request(l, 1000, &r, "set x %060d", 1), -EMSGSIZE);
	assert_int_equal(fwlink_request(l, 1000, &r, "get a*b"), -EINVAL);
	assert_int_equal(fwlink_request(l, 1000, &r, "get a\tb"), -EINVAL);
	/* 61 bytes of body + "*CC" = 64: allowed */
	assert_int_equal(fwlink_request(l, 1000, &r, "x%060d", 1), -EREMOTEIO);
	assert_int_equal(r.code, 1);
	assert_int_equal(f->n_requests, before + 1);
	fwlink_close(l);
	fake_free(f);
}

static void test_events_and_gaps(void **state)
{
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink *l = open_link(f, 0);
	struct fw_event ev;
	struct fw_reply r;
	struct fwlink_stats st;
	int ch;

	assert_non_null(l);
	/* an event that arrives while a request waits is queued, not lost */
	fake_event(f, "relay ch=1 power=off cause=cut");
	assert_int_equal(fwlink_request(l, 1000, &r, "status"), 0);
	assert_int_equal(fwlink_pending(l), 1);
	assert_int_equal(fwlink_next_event(l, 0, &ev), 0);
	assert_string_equal(ev.name, "relay");
	assert_true(ev.seq == 1);
	assert_int_equal(ev.flags, 0);
	assert_int_equal(fw_event_get_int(&ev, "ch", &ch), 0);
	assert_int_equal(ch, 1);
	assert_string_equal(fw_event_get(&ev, "power"), "off");
	assert_true(ev.rx_ns > 0 && ev.rx_ns <= r.rx_ns);
	assert_true(ev.session == 1);

	/* a gap of two events */
	f->seq += 2;
	fake_event(f, "pwrok ch=1 level=0");
	assert_int_equal(fwlink_next_event(l, 1000, &ev), 0);
	assert_true(ev.seq == 4);
	assert_true(ev.flags & FW_EV_LOST);
	assert_true(ev.lost == 2);

	/* a garbled event line is ignored and counted; the next one shows the gap */
	char body[100];
	snprintf(body, sizeof(body), "!%llu 5 relay ch=0 power=on cause=on", (unsigned long long)f->seq++);
	fake_write_body(f, body, 1);
	fake_event(f, "relay ch=0 power=off cause=off");
	assert_int_equal(fwlink_next_event(l, 1000, &ev), 0);
	assert_true(ev.seq == 6);
	assert_true(ev.lost == 1);
	fwlink_stats(l, &st);
	assert_true(st.garbled == 1);
	assert_true(st.events_lost == 3);

	/* an overlong line is discarded whole */
	char big[300];
	memset(big, 'a', 250);
	big[0] = '!';
	big[250] = '\n';
	pthread_mutex_lock(&f->mu);
	assert_int_equal(write(f->master, big, 251), 251);
	pthread_mutex_unlock(&f->mu);
	fake_event(f, "relay ch=0 power=on cause=on");
	assert_int_equal(fwlink_next_event(l, 1000, &ev), 0);
	assert_true(ev.seq == 7);
	assert_int_equal(ev.flags, 0);
	fwlink_stats(l, &st);
	assert_true(st.overlong == 1);
	assert_true(st.garbled == 2);

	/* nothing more */
	assert_int_equal(fwlink_next_event(l, 0, &ev), -ETIMEDOUT);
	fwlink_close(l);
	fake_free(f);
}

static void test_reset_detection(void **state)
{
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink *l = open_link(f, 0);
	struct fw_event ev;
	struct fw_reply r;

	assert_non_null(l);
	assert_true(fwlink_clock_sync(l, 5, 1000) == 5);
	int64_t ns;
	assert_int_equal(fwlink_clock_map(l, 1000, &ns, NULL), 0);

	/* a banner: reset, new session, fit invalidated, callback called */
	assert_int_equal(fwlink_request(l, 1000, &r, "boom"), 0);
	assert_int_equal(fwlink_next_event(l, 1000, &ev), 0);
	assert_string_equal(ev.name, "boot");
	assert_true(ev.flags & FW_EV_RESET);
	assert_true(ev.session == 2);
	assert_true(fwlink_session(l) == 2);
	assert_int_equal(resets_seen, 1);
	assert_true(reset_session == 2);
	assert_int_equal(fwlink_clock_map(l, 1000, &ns, NULL), -EAGAIN);

	/* a reset that cuts a line short: the banner glued to its remains is still seen */
	f->seq = 0;
	f->t0_ns = clock_mono_ns();
	char glued[160], banner[100];
	size_t bl;
	snprintf(banner, sizeof(banner), "!0 %llu boot fw=0.2.0 proto=2 reset=watchdog channels=2",
		 (unsigned long long)fake_t(f));
	bl = strlen(banner);
	assert_true(fw_frame_seal(banner, bl, sizeof(banner)) > 0);
	snprintf(glued, sizeof(glued), "ok at=77%s\n", banner);
	f->seq = 1;
	pthread_mutex_lock(&f->mu);
	assert_int_equal(write(f->master, glued, strlen(glued)), (ssize_t)strlen(glued));
	pthread_mutex_unlock(&f->mu);
	assert_int_equal(fwlink_next_event(l, 1000, &ev), 0);
	assert_string_equal(ev.name, "boot");
	assert_string_equal(fw_event_get(&ev, "reset"), "watchdog");
	assert_true(ev.flags & FW_EV_RESET);
	assert_true(fwlink_session(l) == 3);
	assert_int_equal(resets_seen, 2);

	/* events 1..3, then SEQ back to 1 without a banner: inferred reset */
	fake_event(f, "relay ch=0 power=off cause=off");
	fake_event(f, "relay ch=0 power=on cause=on");
	fake_event(f, "relay ch=0 power=off cause=off");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fwlink_next_event(l, 1000, &ev), 0);
		assert_int_equal(ev.flags, 0);
	}
	f->seq = 1;
	fake_event(f, "pwrok ch=0 level=1");
	assert_int_equal(fwlink_next_event(l, 1000, &ev), 0);
	assert_string_equal(ev.name, "reset");
	assert_true(ev.flags & FW_EV_SYNTHETIC);
	assert_true(ev.flags & FW_EV_RESET);
	assert_int_equal(fwlink_next_event(l, 1000, &ev), 0);
	assert_string_equal(ev.name, "pwrok");
	assert_true(ev.session == 4);
	assert_int_equal(resets_seen, 3);

	/* the firmware clock going back in a ping reply: inferred reset */
	usleep(50 * 1000);
	assert_int_equal(fwlink_request(l, 1000, &r, "ping 1"), 0);
	f->t0_ns = clock_mono_ns();
	usleep(2000);
	assert_int_equal(fwlink_request(l, 1000, &r, "ping 2"), 0);
	assert_true(fwlink_session(l) == 5);
	assert_int_equal(fwlink_next_event(l, 0, &ev), 0);
	assert_true(ev.flags & FW_EV_SYNTHETIC);
	fwlink_close(l);
	fake_free(f);
}

static void test_garbled_replies(void **state)
{
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink *l = open_link(f, 0);
	struct fw_reply r;
	struct fwlink_stats st;

	assert_non_null(l);
	/* read-only: sent again, succeeds */
	f->garble_replies = 1;
	int pings = f->n_ping;
	assert_int_equal(fwlink_request(l, 1000, &r, "status"), 0);
	assert_non_null(fw_reply_get(&r, "seq"));
	assert_true(f->n_ping == pings + 1);	/* one resync ping in between */
	fwlink_stats(l, &st);
	assert_true(st.retries == 1);

	/* state-changing: not sent again */
	f->garble_replies = 1;
	assert_int_equal(fwlink_request(l, 1000, &r, "cut 0 300"), -EBADMSG);
	assert_int_equal(f->n_cut, 1);
	/* and the link is still in step */
	assert_int_equal(fwlink_request(l, 1000, &r, "cut 1 300"), 0);
	assert_int_equal(f->n_cut, 2);
	assert_non_null(fw_reply_get(&r, "at"));
	fwlink_close(l);
	fake_free(f);
}

/* A reset that cuts the reply short, the banner glued to its remains (`ok at=12!0 5
 * boot ...*CC`): reported as a reset, not as a garbled reply. */
static void test_reset_cuts_reply(void **state)
{
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink *l = open_link(f, 0);
	struct fw_reply r;
	struct fw_event ev;
	struct fwlink_stats st;
	uint64_t v;

	assert_non_null(l);
	/* not idempotent: not sent again; the caller is told of the reset at once */
	f->reset_mid_reply = 1;
	int64_t t0 = clock_mono_ns();
	assert_int_equal(fwlink_request(l, 2000, &r, "cut 0 300"), -ECONNRESET);
	assert_true(clock_mono_ns() - t0 < 1000 * 1000000LL);
	assert_int_equal(f->n_cut, 1);
	assert_true(fwlink_session(l) == 2);
	assert_int_equal(resets_seen, 1);
	assert_int_equal(fwlink_next_event(l, 0, &ev), 0);
	assert_string_equal(ev.name, "boot");
	assert_string_equal(fw_event_get(&ev, "reset"), "external");
	assert_true(ev.flags & FW_EV_RESET);
	assert_false(ev.flags & FW_EV_SYNTHETIC);
	fwlink_stats(l, &st);
	assert_true(st.cut_by_reset == 1);
	assert_true(st.garbled == 0);
	assert_true(st.retries == 0);

	/* idempotent (`set`): sent once more after a resync, and answered. (The
	 * resync after the reset first, so that the fake cuts the `set` reply.) */
	assert_int_equal(fwlink_request(l, 1000, &r, "ping 1"), 0);
	f->reset_mid_reply = 1;
	assert_int_equal(fwlink_request(l, 2000, &r, "set min_off_ms 250"), 0);
	assert_int_equal(fw_reply_get_u64(&r, "min_off_ms", &v), 0);
	assert_true(v == 250);
	assert_int_equal(f->n_set, 2);
	assert_true(fwlink_session(l) == 3);
	fwlink_stats(l, &st);
	assert_true(st.cut_by_reset == 2);
	assert_true(st.retries == 1);
	assert_true(st.garbled == 0);

	/* and the link is in step */
	assert_int_equal(fwlink_request(l, 1000, &r, "cut 1 300"), 0);
	assert_non_null(fw_reply_get(&r, "at"));
	assert_int_equal(f->n_cut, 2);
	fwlink_close(l);
	fake_free(f);
}

/* A reset before the reply was begun: the banner alone ends the wait as a reset,
 * at once, not after the timeout. */
static void test_reset_instead_of_reply(void **state)
{
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink *l = open_link(f, 0);
	struct fw_reply r;
	struct fw_event ev;
	struct fwlink_stats st;

	assert_non_null(l);
	f->reset_for_reply = 1;
	int64_t t0 = clock_mono_ns();
	assert_int_equal(fwlink_request(l, 3000, &r, "cut 0 300"), -ECONNRESET);
	assert_true(clock_mono_ns() - t0 < 1500 * 1000000LL);
	assert_true(fwlink_session(l) == 2);
	assert_int_equal(fwlink_next_event(l, 0, &ev), 0);
	assert_string_equal(ev.name, "boot");
	assert_true(ev.flags & FW_EV_RESET);
	fwlink_stats(l, &st);
	assert_true(st.timeouts == 0);
	assert_true(st.cut_by_reset == 0);
	assert_true(st.garbled == 0);

	/* read-only: sent again and answered */
	assert_int_equal(fwlink_request(l, 1000, &r, "ping 1"), 0);
	f->reset_for_reply = 1;
	int pings = f->n_ping;
	assert_int_equal(fwlink_request(l, 3000, &r, "status"), 0);
	assert_non_null(fw_reply_get(&r, "seq"));
	assert_true(f->n_ping == pings + 1);	/* the resync between */
	assert_true(fwlink_session(l) == 3);
	fwlink_close(l);
	fake_free(f);
}

/* Garbled lines that are not a reset stay garbled: a banner whose checksum is wrong,
 * and a well-formed event glued on (a lost newline, not a reset). */
static void test_garbled_not_reset(void **state)
{
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink *l = open_link(f, 0);
	struct fw_reply r;
	struct fw_event ev;
	struct fwlink_stats st;
	char raw[200], ev_body[100];
	int n;

	assert_non_null(l);
	/* `ok at=12` + a banner with a wrong checksum: garbled, no reset */
	f->raw_reply = "ok at=12!0 5 boot fw=0.2.0 proto=2 reset=external channels=2*00\n";
	assert_int_equal(fwlink_request(l, 1000, &r, "cut 0 300"), -EBADMSG);
	assert_true(fwlink_session(l) == 1);
	assert_int_equal(resets_seen, 0);
	assert_int_equal(fwlink_next_event(l, 0, &ev), -ETIMEDOUT);
	fwlink_stats(l, &st);
	assert_true(st.cut_by_reset == 0);
	assert_true(st.garbled == 2);	/* the line, and its tail tried alone */

	/* `ok at=12` + a valid relay event: the reply garbled, the event kept */
	assert_int_equal(fwlink_request(l, 1000, &r, "ping 1"), 0);
	n = snprintf(ev_body, sizeof(ev_body), "!%llu 9 relay ch=0 power=on cause=on",
		     (unsigned long long)f->seq++);
	n = fw_frame_seal(ev_body, (size_t)n, sizeof(ev_body));
	assert_true(n > 0);
	snprintf(raw, sizeof(raw), "ok at=12%.*s\n", n, ev_body);
	f->raw_reply = raw;
	assert_int_equal(fwlink_request(l, 1000, &r, "cut 1 300"), -EBADMSG);
	assert_true(fwlink_session(l) == 1);
	assert_int_equal(fwlink_next_event(l, 0, &ev), 0);
	assert_string_equal(ev.name, "relay");
	assert_int_equal(ev.flags, 0);
	fwlink_stats(l, &st);
	assert_true(st.cut_by_reset == 0);
	assert_true(st.garbled == 3);
	assert_int_equal(resets_seen, 0);
	fwlink_close(l);
	fake_free(f);
}

static int garbled_shown, garbled_summaries;
static char garbled_summary[256];

static void count_garbled(void *ctx, enum log_level level, enum log_cat cat, int64_t wall_ns,
			  int64_t mono_ns, const char *msg)
{
	if (strstr(msg, "ignored a garbled line"))
		garbled_shown++;
	if (strstr(msg, "garbled lines from")) {
		garbled_summaries++;
		snprintf(garbled_summary, sizeof(garbled_summary), "%s", msg);
	}
}

static void test_noisy_line(void **state)
{
	/* An impostor or a bad cable: 5000 noise lines, then replies that are all garbled.
	 * The log gets 3 lines and one summary, not 5000; resync pings are bounded. */
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink *l = open_link(f, 0);
	struct fw_reply r;
	struct fwlink_stats st;
	char noise[64];

	assert_non_null(l);
	garbled_shown = garbled_summaries = 0;
	log_set_sink(count_garbled, NULL);
	/* In bursts of 100, each read while no request waits (as between cycles): the
	 * pty's buffer is finite. */
	struct fw_event ev;
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(noise, sizeof(noise), "\x01noise %d\xff\n", i);
		pthread_mutex_lock(&f->mu);
		assert_int_equal(write(f->master, noise, (size_t)n), n);
		pthread_mutex_unlock(&f->mu);
		if (i % 100 == 99)
			while (fwlink_next_event(l, 20, &ev) != -ETIMEDOUT)
				;
	}
	fwlink_stats(l, &st);
	assert_true(st.garbled >= 5000);
	assert_int_equal(garbled_shown, 3);

	/* Every reply garbled: the resync gives up after 8 pings, not at the deadline. */
	int pings = f->n_ping;
	f->garble_replies = 1000;
	int64_t t0 = clock_mono_ns();
	assert_true(fwlink_request(l, 3000, &r, "status") < 0);
	int sent = f->n_ping - pings;
	printf("pings while every reply was garbled: %d in %.0f ms\n", sent, (clock_mono_ns() - t0) / 1e6);
	assert_true(sent >= 1 && sent <= 2 * 8);
	fwlink_stats(l, &st);
	assert_true(st.resync_pings >= (uint64_t)sent);
	f->garble_replies = 0;

	fwlink_close(l);
	log_set_sink(NULL, NULL);
	assert_int_equal(garbled_summaries, 1);
	assert_non_null(strstr(garbled_summary, "not shown)"));
	printf("%s\n", garbled_summary);
	fake_free(f);
}

static void test_timeout_and_late_reply(void **state)
{
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink *l = open_link(f, 0);
	struct fw_reply r;
	int64_t t0;

	assert_non_null(l);
	/* `cut` answered 300 ms late, after the request gave up */
	f->drop_replies = 1;
	f->late_reply_ms = 300;
	t0 = clock_mono_ns();
	assert_int_equal(fwlink_request(l, 100, &r, "cut 0 250"), -ETIMEDOUT);
	assert_true(clock_mono_ns() - t0 < 250 * 1000000LL);	/* never blocks past its timeout */
	/* the late `ok at=` must not be taken as the answer to `status` */
	assert_int_equal(fwlink_request(l, 2000, &r, "status"), 0);
	assert_non_null(fw_reply_get(&r, "seq"));
	assert_null(fw_reply_get(&r, "at"));
	fwlink_close(l);
	fake_free(f);
}

/* A board whose EEPROM was blank, with brown-out detection off: fwlink keeps both
 * (and warns); a banner after a reset brings the new status. */
static void test_board_settings_status(void **state)
{
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink *l;
	struct fw_event ev;

	f->settings = "blank";
	f->bod_mv = 0;
	l = open_link(f, 0);
	assert_non_null(l);
	assert_string_equal(fwlink_info(l)->settings, "blank");
	assert_int_equal(fwlink_info(l)->bod_mv, 0);
	f->settings = "recovered";
	f->bod_mv = 2700;
	assert_int_equal(fwlink_request(l, 1000, NULL, "boom"), 0);
	assert_int_equal(fwlink_next_event(l, 1000, &ev), 0);
	assert_string_equal(ev.name, "boot");
	assert_string_equal(fwlink_info(l)->settings, "recovered");
	assert_int_equal(fwlink_info(l)->bod_mv, 2700);
	fwlink_close(l);
	fake_free(f);
}

static void test_bad_proto(void **state)
{
	/* a newer protocol, and firmware 0.1's protocol 1 (no settings status) */
	for (int proto = FWLINK_PROTO - 1; proto <= FWLINK_PROTO + 1; proto += 2) {
		struct fake *f = fake_new(proto);
		struct fwlink_opts o = { .path = f->link, .open_timeout_ms = 1000 };

		assert_null(fwlink_open(&o));
		assert_int_equal(errno, EPROTONOSUPPORT);
		fake_free(f);
	}

	/* no such port */
	struct fwlink_opts o2 = { .path = "no-such-dir/mcu.tty" };
	assert_null(fwlink_open(&o2));
	assert_int_equal(errno, ENOENT);
}

static void test_silent_port(void **state)
{
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink_opts o = { .path = f->link, .open_timeout_ms = 300 };
	int64_t t0 = clock_mono_ns();

	fake_kill(f);			/* nobody answers, but the pty is there */
	f->master = posix_openpt(O_RDWR | O_NOCTTY);
	grantpt(f->master);
	unlockpt(f->master);
	unlink(f->link);
	assert_int_equal(symlink(ptsname(f->master), f->link), 0);
	assert_null(fwlink_open(&o));
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(clock_mono_ns() - t0 < 1500 * 1000000LL);
	close(f->master);
	fake_free(f);
}

static void test_reconnect(void **state)
{
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink *l = open_link(f, 3000);
	struct fw_reply r;
	struct fw_event ev;
	struct fwlink_stats st;

	assert_non_null(l);
	usleep(300 * 1000);	/* let the old firmware's clock run ahead of the new one */
	assert_int_equal(fwlink_request(l, 1000, &r, "ping 5"), 0);
	/* the "simulator" dies and comes back under the same link 200 ms later */
	fake_kill(f);
	usleep(200 * 1000);
	fake_boot(f);
	/* a read-only request rides over it */
	assert_int_equal(fwlink_request(l, 3000, &r, "status"), 0);
	fwlink_stats(l, &st);
	assert_true(st.reconnects == 1);
	/* the restart is a reset (its banner was flushed as stale: inferred from the clock) */
	assert_true(fwlink_session(l) == 2);
	assert_int_equal(resets_seen, 1);
	assert_int_equal(fwlink_next_event(l, 0, &ev), 0);
	assert_true(ev.flags & FW_EV_RESET);

	/* a state-changing request that loses the port is reported, not resent */
	fake_kill(f);
	f->drop_replies = 0;
	assert_int_equal(fwlink_request(l, 1000, &r, "cut 0 300"), -ECONNRESET);
	fake_boot(f);
	assert_int_equal(fwlink_request(l, 3000, &r, "ping"), 0);
	assert_int_equal(f->n_cut, 0);
	/* it came back rebooted, at once: a reset, told by the banner left in the port */
	assert_true(fwlink_session(l) == 3);
	assert_int_equal(fwlink_next_event(l, 0, &ev), 0);
	assert_true(ev.flags & FW_EV_RESET);

	/* gone for good: -ENOTCONN after the budget, without blocking past timeouts */
	fake_kill(f);
	unlink(f->link);
	int64_t t0 = clock_mono_ns();
	int rc;
	do
		rc = fwlink_request(l, 500, &r, "status");
	while (rc == -ETIMEDOUT || rc == -ECONNRESET);
	assert_int_equal(rc, -ENOTCONN);
	assert_true(clock_mono_ns() - t0 < 4500 * 1000000LL);
	assert_int_equal(fwlink_next_event(l, 100, &ev), -ENOTCONN);
	fwlink_close(l);
	fake_free(f);
}

/* The port lost at once after a reset, before any reply carried a clock (the
 * reset's re-configuration cut short, as when the simulator restarts right after
 * powercut's `off`), and back at once: the clocks cannot tell (the new board is
 * no younger, by 100 ms, than the old one would be), the banner that the new board
 * left in the port does. */
static void test_reconnect_soon_after_reset(void **state)
{
	struct fake *f = fake_new(FWLINK_PROTO);
	struct fwlink *l = open_link(f, 3000);
	struct fw_reply r;
	struct fw_event ev;
	struct fwlink_stats st;

	assert_non_null(l);
	assert_int_equal(fwlink_request(l, 1000, &r, "boom"), 0);
	assert_int_equal(fwlink_next_event(l, 1000, &ev), 0);
	assert_string_equal(ev.name, "boot");
	assert_true(fwlink_session(l) == 2);
	fake_kill(f);
	fake_boot(f);
	assert_int_equal(fwlink_request(l, 3000, &r, "status"), 0);
	fwlink_stats(l, &st);
	assert_true(st.reconnects == 1);
	assert_true(fwlink_session(l) == 3);
	assert_int_equal(resets_seen, 2);
	assert_int_equal(fwlink_next_event(l, 0, &ev), 0);
	assert_true(ev.flags & FW_EV_RESET);
	assert_true(ev.flags & FW_EV_SYNTHETIC);

	/* the same board's port back (a USB glitch), no banner in it, its clock run on:
	 * no reset */
	assert_int_equal(fwlink_request(l, 1000, &r, "ping 3"), 0);
	fake_kill(f);
	f->glitch = 1;
	fake_boot(f);
	assert_int_equal(fwlink_request(l, 3000, &r, "status"), 0);
	fwlink_stats(l, &st);
	assert_true(st.reconnects == 2);
	assert_true(fwlink_session(l) == 3);
	assert_int_equal(resets_seen, 2);
	fwlink_close(l);
	fake_free(f);
}

/* With usb_vid unset, the boards the firmware runs on are found whatever their USB
 * chip: Arduino's own, CH340 clones, FTDI; nothing else. */
static void test_usb_vids(void **state)
{
	assert_true(fwlink_usb_vid_matches(0, 0x2341));
	assert_true(fwlink_usb_vid_matches(0, 0x2a03));
	assert_true(fwlink_usb_vid_matches(0, 0x1a86));
	assert_true(fwlink_usb_vid_matches(0, 0x0403));
	assert_false(fwlink_usb_vid_matches(0, 0x16c0));
	assert_false(fwlink_usb_vid_matches(0, 0x067b));
	assert_true(fwlink_usb_vid_matches(0x067b, 0x067b));
	assert_false(fwlink_usb_vid_matches(0x2341, 0x1a86));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usb_vids),
		cmocka_unit_test(test_open_and_requests),
		cmocka_unit_test(test_events_and_gaps),
		cmocka_unit_test(test_reset_detection),
		cmocka_unit_test(test_reset_cuts_reply),
		cmocka_unit_test(test_reset_instead_of_reply),
		cmocka_unit_test(test_garbled_not_reset),
		cmocka_unit_test(test_garbled_replies),
		cmocka_unit_test(test_noisy_line),
		cmocka_unit_test(test_timeout_and_late_reply),
		cmocka_unit_test(test_bad_proto),
		cmocka_unit_test(test_board_settings_status),
		cmocka_unit_test(test_silent_port),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_reconnect_soon_after_reset),
	};
	log_set_prog("test_fwlink_fake");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
