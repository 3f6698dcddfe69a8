#include "fwlink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <libserialport.h>

#include "clockfit.h"
#include "frame.h"
#include "fwline.h"
#include "log.h"
/* the host's clock.h by path: firmware/core, also on the include path, has one */
#include "../lib/clock.h"

#define EVQ_MAX 64
/* A noisy line (an impostor device, a bad cable) garbles thousands of lines a second:
 * the first GARBLED_SHOWN of a window are logged each, the rest summed up as
 * "N garbled lines in T s" when the window ends. */
#define GARBLED_SHOWN 3
#define GARBLED_WINDOW_NS (5 * 1000000000LL)
/* Pings one resync may send: on a line that garbles every reply, more would only
 * add to the noise until the caller's deadline. */
#define RESYNC_MAX_PINGS 8

enum wait_state {
	WAIT_NONE,	/* no request outstanding: replies are unexpected */
	WAIT_REPLY,	/* the next reply (or garbled reply) answers the request */
	WAIT_DONE,	/* it arrived: rep_rc and *rep are set */
};

struct fwlink {
	char *path;			/* as configured (a link is resolved at each open) */
	char *usb_serial;
	int usb_vid, usb_pid, baud, open_timeout_ms, reconnect_ms;
	fwlink_reset_fn on_reset;
	void *ctx;

	int fd;				/* -1 while down */
	struct sp_port *sp;		/* NULL for a pty (termios path) */
	char port[PATH_MAX];
	struct fwline_rx rx;
	int64_t rx_ns;			/* time of the read() that delivered the bytes */

	/* Request matching. */
	enum wait_state wait;
	struct fw_reply *rep;		/* where the awaited reply goes */
	int rep_rc;			/* 0, -EREMOTEIO or -EBADMSG */
	int need_resync;
	uint32_t token;

	/* Events. */
	struct fw_event evq[EVQ_MAX];
	int evq_head, evq_len;
	uint64_t overflow_lost;		/* dropped from a full queue, told with the next */
	int have_seq;			/* next_seq known */
	int seq_from_status;		/* next_seq came from `status`, not from an event */
	uint64_t next_seq;
	int in_open;			/* initial handshake: events are pre-history */

	/* Reset detection from reply clocks. */
	int have_reply_t;
	uint64_t last_reply_t;
	int64_t last_reply_ns;

	uint64_t session;
	int proto_bad;
	int dead;			/* gave up reconnecting */
	int64_t down_since, next_attempt, backoff_ms;
	int flushed_banner;		/* port_open flushed a banner: the board booted */

	/* Garbled lines of the current log window (GARBLED_WINDOW_NS). */
	int64_t garbled_since;
	uint64_t garbled_in_window, garbled_hidden;

	struct fw_info info;
	struct fwlink_stats st;
	struct clockfit *cf;
};

static int64_t deadline_after(int timeout_ms)
{
	return clock_mono_ns() + (int64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000;
}

static int ms_left(int64_t deadline)
{
	int64_t left = deadline - clock_mono_ns();

	if (left <= 0)
		return 0;
	return (int)((left + 999999) / 1000000);
}

/* ---- opening ports ---- */

static speed_t baud_const(int baud)
{
	switch (baud) {
	case 9600: return B9600;
	case 19200: return B19200;
	case 38400: return B38400;
	case 57600: return B57600;
	case 230400: return B230400;
	default: return B115200;
	}
}

static int is_pty(const char *real)
{
	struct stat st;

	if (strncmp(real, "/dev/pts/", 9) == 0)
		return 1;
	/* UNIX98 pty slaves have majors 136..143. */
	return stat(real, &st) == 0 && S_ISCHR(st.st_mode) &&
	       major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143;
}

static int open_termios(struct fwlink *l, const char *real)
{
	int fd = open(real, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	struct termios t;

	if (fd < 0)
		return -errno;
	if (tcgetattr(fd, &t) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cflag &= ~(tcflag_t)CRTSCTS;
	t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	cfsetispeed(&t, baud_const(l->baud));
	cfsetospeed(&t, baud_const(l->baud));
	if (tcsetattr(fd, TCSANOW, &t) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	l->fd = fd;
	l->sp = NULL;
	return 0;
}

static int sp_errno(enum sp_return r)
{
	if (r == SP_ERR_ARG)
		return -EINVAL;
	if (r == SP_ERR_MEM)
		return -ENOMEM;
	if (r == SP_ERR_SUPP)
		return -ENOTSUP;
	return sp_last_error_code() > 0 ? -sp_last_error_code() : -EIO;
}

static int open_sp(struct fwlink *l, const char *real)
{
	struct sp_port *p = NULL;
	enum sp_return r;
	int fd;

	r = sp_get_port_by_name(real, &p);
	if (r != SP_OK)
		return sp_errno(r);
	r = sp_open(p, SP_MODE_READ_WRITE);
	if (r != SP_OK)
		goto fail_free;
	if ((r = sp_set_baudrate(p, l->baud)) != SP_OK ||
	    (r = sp_set_bits(p, 8)) != SP_OK ||
	    (r = sp_set_parity(p, SP_PARITY_NONE)) != SP_OK ||
	    (r = sp_set_stopbits(p, 1)) != SP_OK ||
	    (r = sp_set_flowcontrol(p, SP_FLOWCONTROL_NONE)) != SP_OK)
		goto fail_close;
	if ((r = sp_get_port_handle(p, &fd)) != SP_OK)
		goto fail_close;
	/* libserialport opens blocking; reads and writes here poll first. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	l->sp = p;
	l->fd = fd;
	return 0;

fail_close:;
	int e = sp_errno(r);
	sp_close(p);
	sp_free_port(p);
	return e;
fail_free:
	e = sp_errno(r);
	sp_free_port(p);
	return e;
}

bool fwlink_usb_vid_matches(int want, int vid)
{
	/* Arduino LLC, Arduino SA (genuine Uno/Nano, ATmega16U2), WCH CH340 (most
	 * Nano clones), FTDI FT232 (older Nanos, adapters). */
	static const int known[] = { 0x2341, 0x2a03, 0x1a86, 0x0403 };

	if (want)
		return vid == want;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (vid == known[i])
			return true;
	return false;
}

/* Find the USB board by VID/PID/serial. Writes its name into out. */
static int find_usb(struct fwlink *l, char *out, size_t cap, int quiet)
{
	struct sp_port **ports = NULL;
	int found = 0;

	if (sp_list_ports(&ports) != SP_OK)
		return -EIO;
	for (int i = 0; ports[i]; i++) {
		int vid = 0, pid = 0;
		const char *ser;

		if (sp_get_port_transport(ports[i]) != SP_TRANSPORT_USB)
			continue;
		if (sp_get_port_usb_vid_pid(ports[i], &vid, &pid) != SP_OK)
			continue;
		if (!fwlink_usb_vid_matches(l->usb_vid, vid) || (l->usb_pid && pid != l->usb_pid))
			continue;
		ser = sp_get_port_usb_serial(ports[i]);
		if (l->usb_serial && (!ser || strcmp(ser, l->usb_serial) != 0))
			continue;
		if (found++ == 0)
			snprintf(out, cap, "%s", sp_get_port_name(ports[i]));
		else if (!quiet)
			pc_err(LOG_SERIAL, "several USB serial ports match %04x:%04x serial '%s': '%s' and '%s'",
			       l->usb_vid, l->usb_pid, l->usb_serial ? l->usb_serial : "*",
			       out, sp_get_port_name(ports[i]));
	}
	sp_free_port_list(ports);
	if (found == 0) {
		/* CH340 chips have no serial number (libserialport reports none): such a
		 * board is told apart by where it is plugged in. */
		if (!quiet)
			pc_err(LOG_SERIAL, "cannot find a USB serial port %04x:%04x serial '%s'%s",
			       l->usb_vid, l->usb_pid, l->usb_serial ? l->usb_serial : "*",
			       l->usb_serial ? " (CH340 boards report no serial number: set [relay] "
			       "port to their /dev/serial/by-path/ link)" : "");
		return -ENOENT;
	}
	if (found > 1 && !quiet)
		pc_err(LOG_SERIAL, "set [relay] port to the board's /dev/serial/by-id/ link (or "
		       "/dev/serial/by-path/ for a CH340 board, which has no serial number)");
	/* Cutting the power of the wrong node is worse than refusing to start. */
	return found > 1 ? -ENOTUNIQ : 0;
}

static void port_close(struct fwlink *l)
{
	if (l->sp) {
		sp_close(l->sp);
		sp_free_port(l->sp);
		l->sp = NULL;
	} else if (l->fd >= 0) {
		close(l->fd);
	}
	l->fd = -1;
}

static void flush_scan(void *ctx, const char *line, size_t len, int overlong);

/* Stale input (a banner printed before we came, half a line) must not be taken
 * for an answer: drop what is queued, and what keeps coming until the line has been
 * quiet for a moment (a banner may be half printed as we open). What is dropped is
 * still looked at: a whole banner among it says that the board booted while the
 * port was away (l->flushed_banner), which a reconnect takes as a reset. */
static void flush_input(struct fwlink *l)
{
	char buf[256];
	int64_t cap = clock_mono_ns() + 250 * 1000000LL;
	struct fwline_rx scan;
	ssize_t n;

	fwline_rx_init(&scan);
	l->flushed_banner = 0;
	while ((n = read(l->fd, buf, sizeof(buf))) > 0)
		fwline_rx_feed(&scan, buf, (size_t)n, flush_scan, &l->flushed_banner);
	tcflush(l->fd, TCIFLUSH);
	for (;;) {
		struct pollfd p = { .fd = l->fd, .events = POLLIN };
		int ms = ms_left(cap);

		if (ms > 20)
			ms = 20;
		if (ms == 0 || poll(&p, 1, ms) <= 0 || !(p.revents & POLLIN))
			break;
		if ((n = read(l->fd, buf, sizeof(buf))) <= 0)
			break;
		fwline_rx_feed(&scan, buf, (size_t)n, flush_scan, &l->flushed_banner);
	}
	fwline_rx_init(&l->rx);
}

static int port_open(struct fwlink *l, int quiet)
{
	char real[PATH_MAX];
	int rc;

	if (l->path) {
		if (!realpath(l->path, real)) {
			rc = -errno;
			if (!quiet)
				pc_err(LOG_SERIAL, "cannot open serial port '%s': %s", l->path, strerror(-rc));
			return rc;
		}
	} else {
		rc = find_usb(l, real, sizeof(real), quiet);
		if (rc < 0)
			return rc;
	}
	if (is_pty(real)) {
		rc = open_termios(l, real);
	} else {
		rc = open_sp(l, real);
		/* A tty libserialport does not know (no sysfs entry): plain termios. */
		if (rc < 0 && rc != -EACCES && rc != -ENOENT && rc != -EBUSY)
			rc = open_termios(l, real);
	}
	if (rc < 0) {
		if (!quiet)
			pc_err(LOG_SERIAL, "cannot open serial port '%s': %s",
			       l->path ? l->path : real, strerror(-rc));
		return rc;
	}
	snprintf(l->port, sizeof(l->port), "%s", real);
	flush_input(l);
	pc_debug(LOG_SERIAL, "opened '%s' (%s)", real, l->sp ? "libserialport" : "termios");
	return 0;
}

/* ---- received lines ---- */

static void notice_reset(struct fwlink *l, struct fw_event *ev)
{
	l->session++;
	l->st.resets++;
	clockfit_reset(l->cf);
	/* The new session's clock, as the evidence gave it (a banner's T is always
	 * known): a reconnect compares the board's clock with it, also when no reply
	 * with a clock came since the reset. */
	l->have_reply_t = !(ev->flags & FW_EV_SYNTHETIC) || ev->t_us > 0;
	l->last_reply_t = ev->t_us;
	l->last_reply_ns = ev->rx_ns;
	ev->flags |= FW_EV_RESET;
	ev->session = l->session;
	pc_info(LOG_SERIAL, "firmware on '%s' was reset (%s)", l->port,
		(ev->flags & FW_EV_SYNTHETIC) ? "inferred" : "boot banner");
	if (l->on_reset)
		l->on_reset(l->ctx, ev);
}

static void queue_event(struct fwlink *l, const struct fw_event *ev)
{
	if (l->evq_len == EVQ_MAX) {
		/* Drop the oldest: the newest tell the current state. */
		l->evq_head = (l->evq_head + 1) % EVQ_MAX;
		l->evq_len--;
		l->overflow_lost++;
		l->st.events_lost++;
		pc_warn(LOG_SERIAL, "event queue of '%s' full: oldest event dropped", l->port);
	}
	struct fw_event *slot = &l->evq[(l->evq_head + l->evq_len) % EVQ_MAX];

	*slot = *ev;
	if (l->overflow_lost) {
		slot->flags |= FW_EV_LOST;
		slot->lost += l->overflow_lost;
		l->overflow_lost = 0;
	}
	l->evq_len++;
}

static void synth_reset(struct fwlink *l, uint64_t t_us)
{
	struct fw_event ev;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.name, sizeof(ev.name), "reset");
	ev.flags = FW_EV_SYNTHETIC;
	ev.t_us = t_us;
	ev.rx_ns = l->rx_ns;
	notice_reset(l, &ev);
	queue_event(l, &ev);
}

/* The board's settings status and brown-out level, from `status`/`version` or a
 * banner: kept in l->info and said loudly when unsafe, once per change. */
static void note_board(struct fwlink *l, const char *settings, const char *bod)
{
	int mv;

	if (settings && strcmp(settings, l->info.settings)) {
		snprintf(l->info.settings, sizeof(l->info.settings), "%s", settings);
		if (!strcmp(settings, "blank") || !strcmp(settings, "corrupt"))
			pc_warn(LOG_SERIAL, "firmware on '%s' found its EEPROM settings %s: it runs on "
				"its defaults (relay_active=0, active LOW) until they are set", l->port,
				settings);
		else if (!strcmp(settings, "recovered"))
			pc_warn(LOG_SERIAL, "firmware on '%s' found one of its two EEPROM settings copies "
				"damaged (a power loss during 'set'?) and loaded the other", l->port);
		else if (strcmp(settings, "ok"))
			pc_warn(LOG_SERIAL, "firmware on '%s' reports unknown settings status '%s'",
				l->port, settings);
	}
	if (bod && sscanf(bod, "%d", &mv) == 1 && mv != l->info.bod_mv) {
		l->info.bod_mv = mv;
		if (mv == 0)
			pc_warn(LOG_SERIAL, "brown-out detection is off on '%s': a supply dip can "
				"corrupt its EEPROM settings; set it with 'make fuses' (rig/hardware.md)",
				l->port);
	}
}

static void check_banner_proto(struct fwlink *l, const struct fw_event *ev)
{
	int proto = -1, ch;
	const char *fw = fw_event_get(ev, "fw");

	if (fw_event_get_int(ev, "proto", &proto) < 0 || proto != FWLINK_PROTO) {
		pc_err(LOG_SERIAL, "firmware on '%s' speaks protocol version '%s', this host knows only %d",
		       l->port, fw_event_get(ev, "proto") ? fw_event_get(ev, "proto") : "(none)",
		       FWLINK_PROTO);
		l->proto_bad = 1;
		return;
	}
	l->info.proto = proto;
	if (fw)
		snprintf(l->info.fw, sizeof(l->info.fw), "%s", fw);
	if (fw_event_get_int(ev, "channels", &ch) == 0)
		l->info.channels = ch;
	note_board(l, fw_event_get(ev, "settings"), fw_event_get(ev, "bod_mv"));
}

/* The boot banner: SEQ 0 or the name `boot` (either proves a reset). */
static int is_banner(const struct fwline *pl)
{
	return pl->seq == 0 || strcmp(pl->name, "boot") == 0;
}

/* Is the tail of a line from a '!' (n bytes) a boot banner on its own? A reset cuts the
 * line being printed short and the banner follows on the same line (`ok at=7757!0 24
 * boot ...*CC`); the tail's checksum decides. */
static bool banner_tail(const char *bang, size_t n, struct fwline *tl)
{
	return fwline_parse(bang, n, tl, NULL) == 0 && tl->kind == FWLINE_EVENT && is_banner(tl);
}

/* flush_input's look at a dropped line: a banner, alone or glued. */
static void flush_scan(void *ctx, const char *line, size_t len, int overlong)
{
	const char *bang = !overlong && len > 0 ? memrchr(line, '!', len) : NULL;
	struct fwline pl;

	if (bang && banner_tail(bang, len - (size_t)(bang - line), &pl))
		*(int *)ctx = 1;
}

static void on_event(struct fwlink *l, const struct fwline *pl)
{
	struct fw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.seq = pl->seq;
	ev.t_us = pl->t_us;
	memcpy(ev.name, pl->name, sizeof(ev.name));
	ev.f = pl->f;
	ev.rx_ns = l->rx_ns;
	l->st.events++;

	int boot = is_banner(pl);

	if (boot)
		check_banner_proto(l, &ev);
	/* A banner while a request waits: the firmware was reset after the request was
	 * written, or before it and the banner sat unread. Either way no reply that
	 * follows can be told apart from a late one (a request the new firmware received
	 * whole is answered after its banner; one it got while booting is lost, or
	 * answered `error:2` for its remains), so the wait ends here, as a reset, and
	 * the link resynchronises before the next request (docs/protocol.md, "Resets
	 * and requests"). */
	if (boot && l->wait == WAIT_REPLY) {
		l->rep_rc = -ECONNRESET;
		l->wait = WAIT_DONE;
	}
	if (l->in_open) {
		/* Before the handshake's `status` nothing is known: only follow SEQ. */
		l->have_seq = 1;
		l->seq_from_status = 0;
		l->next_seq = pl->seq + 1;
		return;
	}
	if (boot) {
		notice_reset(l, &ev);
	} else if (l->have_seq && pl->seq < l->next_seq) {
		/* `status` may count an event that is printed after its reply; only an
		 * event-to-event step backwards proves a reset whose banner we missed. */
		if (!l->seq_from_status) {
			pc_warn(LOG_SERIAL, "event sequence on '%s' went back from %llu to %llu without a banner",
				l->port, (unsigned long long)l->next_seq - 1, (unsigned long long)pl->seq);
			ev.lost = pl->seq - 1;	/* the banner and 1..seq-1 */
			synth_reset(l, pl->t_us);
			if (ev.lost) {
				ev.flags |= FW_EV_LOST;
				l->st.events_lost += ev.lost;
			}
		}
	} else if (l->have_seq && pl->seq > l->next_seq) {
		ev.lost = pl->seq - l->next_seq;
		ev.flags |= FW_EV_LOST;
		l->st.events_lost += ev.lost;
		pc_warn(LOG_SERIAL, "lost %llu event(s) from '%s' before event %llu",
			(unsigned long long)ev.lost, l->port, (unsigned long long)pl->seq);
	}
	l->have_seq = 1;
	l->seq_from_status = 0;
	l->next_seq = pl->seq + 1;
	ev.session = l->session;
	queue_event(l, &ev);
}

/* A firmware clock in a reply (`t=` of ping and status) that went back means a reset
 * whose banner we did not see. */
static void check_reply_clock(struct fwlink *l, const struct fw_reply *r)
{
	uint64_t t;

	if (fw_reply_get_u64(r, "t", &t) < 0)
		return;
	if (l->have_reply_t && t < l->last_reply_t && !l->in_open) {
		pc_warn(LOG_SERIAL, "firmware clock on '%s' went back from %llu to %llu us",
			l->port, (unsigned long long)l->last_reply_t, (unsigned long long)t);
		synth_reset(l, t);
		l->have_seq = 0;
	}
	l->have_reply_t = 1;
	l->last_reply_t = t;
	l->last_reply_ns = r->rx_ns;
}

/* The window's summary, when lines were left unshown: one line for a burst of noise. */
static void garbled_flush(struct fwlink *l, int64_t now)
{
	if (l->garbled_hidden)
		pc_warn(LOG_SERIAL, "ignored %llu garbled lines from '%s' in %.1f s (%llu not shown)",
			(unsigned long long)l->garbled_in_window, l->port,
			(now - l->garbled_since) / 1e9, (unsigned long long)l->garbled_hidden);
	l->garbled_in_window = l->garbled_hidden = 0;
}

/* Log a garbled line, or count it once GARBLED_SHOWN of this window were shown. */
static void garbled_note(struct fwlink *l, const char *why, const char *shown)
{
	int64_t now = clock_mono_ns();

	if (l->garbled_in_window && now - l->garbled_since >= GARBLED_WINDOW_NS)
		garbled_flush(l, now);
	if (!l->garbled_in_window)
		l->garbled_since = now;
	if (++l->garbled_in_window <= GARBLED_SHOWN)
		pc_warn(LOG_SERIAL, "ignored a garbled line from '%s' (%s): '%s'", l->port, why, shown);
	else
		l->garbled_hidden++;
}

static void on_line(void *ctx, const char *line, size_t len, int overlong)
{
	struct fwlink *l = ctx;
	struct fwline pl;
	const char *why = "line too long";
	int rc = overlong ? -EMSGSIZE : fwline_parse(line, len, &pl, &why);

	if (rc < 0) {
		char shown[41];
		size_t k;
		/* The tail from the last '!' after the first byte: a banner glued on by a
		 * reset (banner_tail), or an event after a lost newline. */
		const char *bang = !overlong && len > 1 ? memrchr(line + 1, '!', len - 1) : NULL;
		size_t tail = bang ? len - (size_t)(bang - line) : 0;
		struct fwline tl;

		/* line noise must not reach the terminal as control bytes */
		for (k = 0; k < len && k < sizeof(shown) - 1; k++)
			shown[k] = line[k] >= 0x20 && line[k] <= 0x7e ? line[k] : '?';
		shown[k] = '\0';
		if (bang && banner_tail(bang, tail, &tl)) {
			/* Not noise: what was printed before the reset. The banner ends a
			 * wait for a reply as a reset (on_event), not as a garbled reply. */
			l->st.cut_by_reset++;
			pc_info(LOG_SERIAL, "a firmware reset on '%s' cut a line short: '%.*s'", l->port,
				(int)(bang - line < (ptrdiff_t)k ? bang - line : (ptrdiff_t)k), shown);
			on_line(l, bang, tail, 0);
			return;
		}
		l->st.garbled++;
		if (rc == -EMSGSIZE)
			l->st.overlong++;
		garbled_note(l, why, shown);
		/* A garbled reply still used up the request's one reply; an event keeps
		 * its '!' and its loss shows as a SEQ gap. */
		if (l->wait == WAIT_REPLY && !(len > 0 && line[0] == '!')) {
			l->rep_rc = -EBADMSG;
			l->wait = WAIT_DONE;
		}
		/* A lost '\n' joins two lines: an event after the noise still counts. */
		if (bang)
			on_line(l, bang, tail, 0);
		return;
	}
	l->st.lines++;
	if (pl.kind == FWLINE_EVENT) {
		on_event(l, &pl);
		return;
	}
	if (l->wait != WAIT_REPLY) {
		l->st.unexpected++;
		pc_debug(LOG_SERIAL, "dropped a reply from '%s' that answers no request: '%.*s'",
			 l->port, (int)len, line);
		return;
	}
	struct fw_reply *r = l->rep;

	r->code = pl.kind == FWLINE_ERROR ? pl.code : 0;
	memcpy(r->text, pl.text, sizeof(r->text));
	r->f = pl.f;
	r->rx_ns = l->rx_ns;
	l->rep_rc = pl.kind == FWLINE_ERROR ? -EREMOTEIO : 0;
	l->wait = WAIT_DONE;
	if (pl.kind == FWLINE_OK)
		check_reply_clock(l, r);
}

/* ---- the I/O loop ---- */

static void went_down(struct fwlink *l, const char *why)
{
	pc_warn(LOG_SERIAL, "serial port '%s' went away (%s); re-opening '%s'", l->port, why,
		l->path ? l->path : "(usb)");
	port_close(l);
	fwline_rx_init(&l->rx);
	l->down_since = clock_mono_ns();
	l->next_attempt = l->down_since;
	l->backoff_ms = 20;
	if (l->reconnect_ms < 0)
		l->dead = 1;
}

/* Read what is there, waiting at most until deadline for something. Returns 0 when
 * bytes were read or the deadline passed, -ECONNRESET when the port went away. */
static int read_some(struct fwlink *l, int64_t deadline)
{
	struct pollfd p = { .fd = l->fd, .events = POLLIN };
	char buf[512];
	int n = poll(&p, 1, ms_left(deadline));

	if (l->garbled_hidden && clock_mono_ns() - l->garbled_since >= GARBLED_WINDOW_NS)
		garbled_flush(l, clock_mono_ns());
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return 0;
	if (p.revents & POLLIN) {
		ssize_t got = read(l->fd, buf, sizeof(buf));

		l->rx_ns = clock_mono_ns();
		if (got > 0) {
			fwline_rx_feed(&l->rx, buf, (size_t)got, on_line, l);
			return 0;
		}
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		went_down(l, got == 0 ? "end of file" : strerror(errno));
		return -ECONNRESET;
	}
	if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) {
		went_down(l, (p.revents & POLLHUP) ? "hang-up" : "poll error");
		return -ECONNRESET;
	}
	return 0;
}

static int write_all(struct fwlink *l, const void *data, size_t len, int64_t deadline)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(l->fd, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			went_down(l, strerror(errno));
			return -ECONNRESET;
		}
		struct pollfd pf = { .fd = l->fd, .events = POLLOUT };
		int ms = ms_left(deadline);

		if (ms == 0)
			return -ETIMEDOUT;
		poll(&pf, 1, ms);
	}
	return 0;
}

/* Send a framed line and wait for the one reply (no resync, no retry). */
static int exchange(struct fwlink *l, const char *line, size_t len, struct fw_reply *r,
		    int64_t deadline)
{
	int rc;

	memset(r, 0, sizeof(*r));
	l->rep = r;
	l->wait = WAIT_REPLY;
	r->tx_ns = clock_mono_ns();
	rc = write_all(l, line, len, deadline);
	if (rc < 0)
		goto out;
	while (l->wait == WAIT_REPLY) {
		if (clock_mono_ns() >= deadline) {
			rc = -ETIMEDOUT;
			goto out;
		}
		rc = read_some(l, deadline);
		if (rc < 0)
			goto out;
	}
	rc = l->rep_rc;
out:
	/* After a reset too: the new firmware may still answer the request. */
	if (rc == -ETIMEDOUT || rc == -EBADMSG || rc == -ECONNRESET)
		l->need_resync = 1;
	if (rc == -ETIMEDOUT)
		l->st.timeouts++;
	l->wait = WAIT_NONE;
	l->rep = NULL;
	return rc;
}

static int frame(char *out, size_t cap, const char *fmt, va_list ap)
{
	char body[FW_HOST_LINE_MAX + 8];
	int n = vsnprintf(body, sizeof(body), fmt, ap);

	if (n < 0)
		return -EINVAL;
	if ((size_t)n + 3 > FW_HOST_LINE_MAX)
		return -EMSGSIZE;
	for (int i = 0; i < n; i++)
		if (body[i] < 0x20 || body[i] > 0x7e || body[i] == '*')
			return -EINVAL;
	n = fw_frame_seal(body, (size_t)n, sizeof(body));
	if (n < 0 || (size_t)n + 1 >= cap)
		return -EMSGSIZE;
	memcpy(out, body, (size_t)n);
	out[n++] = '\n';
	out[n] = '\0';
	return n;
}

static int framef(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = frame(out, cap, fmt, ap);
	va_end(ap);
	return n;
}

/* -ECONNRESET from a banner (the port still open), not from losing the port. */
static int reset_mid_request(const struct fwlink *l, int rc)
{
	return rc == -ECONNRESET && l->fd >= 0;
}

/* Prove that no older reply is still on its way: send a ping with a fresh token and
 * drop every reply up to its echo. An error or garbled reply may be the answer to the
 * ping itself (joined to junk the firmware still held), so it triggers a fresh ping. */
static int resync(struct fwlink *l, int64_t deadline)
{
	char line[FW_HOST_LINE_MAX + 2];
	struct fw_reply r;
	uint64_t tok;
	int n, rc = -ETIMEDOUT, pings = 0;

	do {
		if (pings++ == RESYNC_MAX_PINGS) {
			pc_warn(LOG_SERIAL, "no clean answer to %d pings from '%s': the line is noisy",
				RESYNC_MAX_PINGS, l->port);
			break;
		}
		l->st.resync_pings++;
		l->token = l->token * 1103515245u + 12345u;
		n = framef(line, sizeof(line), "ping %u", (unsigned)l->token);
		if (n < 0)
			return n;
		pc_debug(LOG_SERIAL, "resynchronising '%s' with token %u", l->port, (unsigned)l->token);
		rc = exchange(l, line, (size_t)n, &r, deadline);
		while (rc == 0) {
			if (fw_reply_get_u64(&r, "token", &tok) == 0 && tok == l->token) {
				l->need_resync = 0;
				return 0;
			}
			/* A late `ok` to something older: wait for the next reply. */
			l->st.unexpected++;
			memset(&r, 0, sizeof(r));
			l->rep = &r;
			l->wait = WAIT_REPLY;
			while (l->wait == WAIT_REPLY && rc == 0) {
				if (clock_mono_ns() >= deadline)
					rc = -ETIMEDOUT;
				else
					rc = read_some(l, deadline);
			}
			l->wait = WAIT_NONE;
			l->rep = NULL;
			if (rc == 0)
				rc = l->rep_rc;
		}
	} while ((rc == -EREMOTEIO || rc == -EBADMSG || reset_mid_request(l, rc)) &&
		 clock_mono_ns() < deadline);
	l->need_resync = 1;
	/* Still out of step: the request was not sent. */
	return rc == -EREMOTEIO || rc == -EBADMSG || reset_mid_request(l, rc) ? -ETIMEDOUT : rc;
}

static int handshake(struct fwlink *l, int64_t deadline)
{
	char line[FW_HOST_LINE_MAX + 2];
	struct fw_reply r;
	int n, rc;
	uint64_t t, seq;

	/* A board that resets when its port opens (Arduino DTR) answers only after
	 * its bootloader: ask again until the deadline. */
	n = framef(line, sizeof(line), "version");
	for (;;) {
		int64_t step = clock_mono_ns() + 500 * 1000000LL;

		if (step > deadline)
			step = deadline;
		rc = l->need_resync ? resync(l, step) : 0;
		if (rc == 0)
			rc = exchange(l, line, (size_t)n, &r, step);
		if ((rc == -ETIMEDOUT || rc == -EBADMSG || reset_mid_request(l, rc)) &&
		    clock_mono_ns() < deadline)
			continue;
		break;
	}
	if (rc < 0) {
		if (rc == -ETIMEDOUT)
			pc_err(LOG_SERIAL, "no answer to 'version' from serial port '%s'", l->port);
		else if (rc != -ECONNRESET)
			pc_err(LOG_SERIAL, "bad answer to 'version' from serial port '%s': %s",
			       l->port, rc == -EREMOTEIO ? r.text : strerror(-rc));
		return rc == -EREMOTEIO ? -EPROTO : rc;
	}
	int proto = -1;

	if (fw_reply_get_int(&r, "proto", &proto) < 0 || proto != FWLINK_PROTO) {
		pc_err(LOG_SERIAL, "firmware on '%s' speaks protocol version '%s', this host knows only %d",
		       l->port, fw_reply_get(&r, "proto") ? fw_reply_get(&r, "proto") : "(none)",
		       FWLINK_PROTO);
		l->proto_bad = 1;
		return -EPROTONOSUPPORT;
	}
	l->proto_bad = 0;
	char settings_seen[sizeof(l->info.settings)];
	int bod_seen = l->info.bod_mv;

	memcpy(settings_seen, l->info.settings, sizeof(settings_seen));
	memset(&l->info, 0, sizeof(l->info));
	/* A reconnect to the same board says nothing new: keep what was said. */
	memcpy(l->info.settings, settings_seen, sizeof(settings_seen));
	l->info.bod_mv = bod_seen;
	l->info.proto = proto;
	snprintf(l->info.fw, sizeof(l->info.fw), "%s", fw_reply_get(&r, "fw") ? fw_reply_get(&r, "fw") : "");
	snprintf(l->info.mcu, sizeof(l->info.mcu), "%s", fw_reply_get(&r, "mcu") ? fw_reply_get(&r, "mcu") : "");
	fw_reply_get_int(&r, "channels", &l->info.channels);
	fw_reply_get_u64(&r, "f_cpu", &l->info.f_cpu);
	note_board(l, NULL, fw_reply_get(&r, "bod_mv"));

	n = framef(line, sizeof(line), "status");
	rc = exchange(l, line, (size_t)n, &r, deadline);
	if (rc == -EBADMSG || reset_mid_request(l, rc)) {
		rc = resync(l, deadline);
		if (rc == 0)
			rc = exchange(l, line, (size_t)n, &r, deadline);
	}
	if (rc < 0) {
		pc_err(LOG_SERIAL, "no valid answer to 'status' from serial port '%s': %s",
		       l->port, rc == -EREMOTEIO ? r.text : strerror(-rc));
		return rc == -EREMOTEIO ? -EPROTO : rc;
	}
	if (fw_reply_get_u64(&r, "t", &t) < 0 || fw_reply_get_u64(&r, "seq", &seq) < 0) {
		pc_err(LOG_SERIAL, "answer to 'status' from serial port '%s' lacks t= or seq=", l->port);
		return -EPROTO;
	}
	note_board(l, fw_reply_get(&r, "settings"), NULL);
	/* Events that the firmware numbered before this reply may still follow it. */
	if (!l->have_seq || l->next_seq < seq) {
		l->next_seq = seq;
		l->seq_from_status = 1;
	}
	l->have_seq = 1;
	return 0;
}

/* Re-open after the port went away, within the call's deadline and the reconnect
 * budget. 0 when up again, -ETIMEDOUT when the call's time ran out first, -ENOTCONN
 * when the budget is spent. */
static int reconnect(struct fwlink *l, int64_t deadline)
{
	if (l->dead)
		return -ENOTCONN;
	for (;;) {
		int64_t now = clock_mono_ns();
		int64_t give_up = l->down_since + (int64_t)l->reconnect_ms * 1000000;

		if (now >= give_up) {
			pc_err(LOG_SERIAL, "serial port '%s' did not come back within %d ms",
			       l->path ? l->path : l->port, l->reconnect_ms);
			l->dead = 1;
			return -ENOTCONN;
		}
		if (now < l->next_attempt) {
			int64_t until = l->next_attempt < deadline ? l->next_attempt : deadline;
			struct timespec ts = { .tv_sec = (until - now) / 1000000000,
					       .tv_nsec = (until - now) % 1000000000 };

			if (until > now)
				nanosleep(&ts, NULL);
			if (clock_mono_ns() >= deadline)
				return -ETIMEDOUT;
			continue;
		}
		l->backoff_ms = l->backoff_ms * 2 > 500 ? 500 : l->backoff_ms * 2;
		l->next_attempt = now + l->backoff_ms * 1000000;
		if (port_open(l, 1) < 0)
			continue;

		uint64_t old_t = l->last_reply_t, session = l->session;
		int64_t old_ns = l->last_reply_ns;
		int had_t = l->have_reply_t;
		int64_t hs_deadline = now + (int64_t)l->open_timeout_ms * 1000000;

		l->need_resync = 0;
		/* Whatever the board numbered before is unknown now; `status` tells. */
		l->have_reply_t = 0;
		l->have_seq = 0;
		int rc = handshake(l, hs_deadline < give_up ? hs_deadline : give_up);

		if (rc == -EPROTONOSUPPORT) {
			port_close(l);
			l->dead = 1;
			return rc;
		}
		if (rc < 0) {
			port_close(l);
			l->have_reply_t = had_t;
			l->last_reply_t = old_t;
			l->last_reply_ns = old_ns;
			continue;
		}
		l->st.reconnects++;
		pc_info(LOG_SERIAL, "serial port '%s' is back as '%s'", l->path ? l->path : "(usb)", l->port);

		/* A banner among the stale input that port_open dropped: the board booted
		 * while the port was away. Else a clock that kept running has advanced by
		 * the host time in between (within 1% drift and 100 ms); a younger one was
		 * reset, its banner printed while nobody listened. */
		double elapsed_us = (double)(l->last_reply_ns - old_ns) / 1000.0;

		if (l->session == session &&
		    (l->flushed_banner || (had_t && (double)l->last_reply_t + 0.01 * elapsed_us +
					   100000.0 < (double)old_t + elapsed_us)))
			synth_reset(l, l->last_reply_t);
		return 0;
	}
}

/* Make sure the port is up (reconnecting as needed) and the reply stream is in step. */
static int ready(struct fwlink *l, int64_t deadline)
{
	int rc;

	if (l->proto_bad)
		return -EPROTONOSUPPORT;
	if (l->fd < 0) {
		rc = reconnect(l, deadline);
		if (rc < 0)
			return rc;
	}
	if (l->need_resync) {
		rc = resync(l, deadline);
		if (rc < 0)
			return rc;
	}
	return l->proto_bad ? -EPROTONOSUPPORT : 0;
}

/* Requests that leave the same state when sent twice (docs/protocol.md, "Resets and
 * requests"): sent once more when their reply was lost. */
static int idempotent(const char *line)
{
	static const char *const ro[] = { "version", "status", "ping", "get", "settings",
					  "set", "defaults", "on" };

	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		size_t k = strlen(ro[i]);
		if (strncmp(line, ro[i], k) == 0 && (line[k] == ' ' || line[k] == '*'))
			return 1;
	}
	return 0;
}

static int request_line(struct fwlink *l, int timeout_ms, struct fw_reply *r,
			const char *line, size_t len, int may_retry)
{
	struct fw_reply tmp;
	int64_t deadline = deadline_after(timeout_ms);
	int rc, tries = may_retry ? 2 : 1;

	if (!r)
		r = &tmp;
	if (l->wait != WAIT_NONE)
		return -EBUSY;	/* called from on_reset */
	for (int i = 0; i < tries; i++) {
		rc = ready(l, deadline);
		if (rc < 0)
			break;
		rc = exchange(l, line, len, r, deadline);
		if (rc != -EBADMSG && rc != -ECONNRESET)
			break;
		if (i + 1 < tries) {
			l->st.retries++;
			pc_info(LOG_SERIAL, "sending '%.*s' to '%s' again after %s", (int)len - 4, line,
				l->port, rc == -EBADMSG ? "a garbled reply" :
				reset_mid_request(l, rc) ? "a firmware reset" : "losing the port");
		}
	}
	if (rc == -EBADMSG)
		pc_err(LOG_SERIAL, "garbled reply to '%.*s' from '%s'", (int)len - 4, line, l->port);
	else if (reset_mid_request(l, rc))
		pc_warn(LOG_SERIAL, "firmware on '%s' was reset before it answered '%.*s'", l->port,
			(int)len - 4, line);
	else if (rc == -ETIMEDOUT)
		pc_warn(LOG_SERIAL, "no reply to '%.*s' from '%s' within %d ms",
			(int)(len > 4 ? len - 4 : len), line, l->port, timeout_ms);
	return rc;
}

int fwlink_vrequest(struct fwlink *l, int timeout_ms, struct fw_reply *r,
		    const char *fmt, va_list ap)
{
	char line[FW_HOST_LINE_MAX + 2];
	int n = frame(line, sizeof(line), fmt, ap);

	if (n < 0) {
		pc_err(LOG_SERIAL, "cannot send request '%s' to '%s': %s", fmt, l->port, strerror(-n));
		return n;
	}
	return request_line(l, timeout_ms, r, line, (size_t)n, idempotent(line));
}

int fwlink_request(struct fwlink *l, int timeout_ms, struct fw_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = fwlink_vrequest(l, timeout_ms, r, fmt, ap);
	va_end(ap);
	return rc;
}

int fwlink_request_raw(struct fwlink *l, int timeout_ms, struct fw_reply *r,
		       const void *raw, size_t len)
{
	return request_line(l, timeout_ms, r, raw, len, 0);
}

static void pop_event(struct fwlink *l, struct fw_event *ev)
{
	*ev = l->evq[l->evq_head];
	l->evq_head = (l->evq_head + 1) % EVQ_MAX;
	l->evq_len--;
}

int fwlink_next_event(struct fwlink *l, int timeout_ms, struct fw_event *ev)
{
	int64_t deadline = deadline_after(timeout_ms);

	for (;;) {
		if (l->evq_len > 0) {
			pop_event(l, ev);
			return 0;
		}
		if (l->fd < 0) {
			int rc = reconnect(l, deadline);
			if (rc < 0)
				return rc == -ENOTCONN || rc == -EPROTONOSUPPORT ? rc : -ETIMEDOUT;
			continue;
		}
		int rc = read_some(l, deadline);

		if (rc < 0 && rc != -ECONNRESET)
			return rc;
		if (rc == 0 && l->evq_len == 0 && clock_mono_ns() >= deadline)
			return -ETIMEDOUT;
	}
}

int fwlink_pending(const struct fwlink *l)
{
	return l->evq_len;
}

int fwlink_fd(const struct fwlink *l)
{
	return l->fd;
}

uint64_t fwlink_session(const struct fwlink *l)
{
	return l->session;
}

const struct fw_info *fwlink_info(const struct fwlink *l)
{
	return &l->info;
}

void fwlink_stats(const struct fwlink *l, struct fwlink_stats *s)
{
	*s = l->st;
}

const char *fwlink_port_name(const struct fwlink *l)
{
	return l->port;
}

struct clockfit *fwlink_clockfit(struct fwlink *l)
{
	return l->cf;
}

int fwlink_clock_sync(struct fwlink *l, int n, int timeout_ms)
{
	int added = 0, rc = 0;

	for (int i = 0; i < n; i++) {
		struct fw_reply r;
		uint64_t t, session = l->session;

		rc = fwlink_request(l, timeout_ms, &r, "ping %d", i);
		if (rc < 0)
			continue;
		if (l->session != session) {
			/* A reset between send and reply: the sample belongs to neither fit. */
			continue;
		}
		if (fw_reply_get_u64(&r, "t", &t) < 0) {
			rc = -EPROTO;
			continue;
		}
		if (clockfit_add(l->cf, r.tx_ns, t, r.rx_ns) == 0)
			added++;
	}
	return added > 0 ? added : (rc < 0 ? rc : 0);
}

int fwlink_clock_map(struct fwlink *l, uint64_t fw_us, int64_t *host_ns, int64_t *unc_ns)
{
	return clockfit_map(l->cf, fw_us, host_ns, unc_ns);
}

struct fwlink *fwlink_open(const struct fwlink_opts *o)
{
	struct fwlink *l = calloc(1, sizeof(*l));
	int rc = -ENOMEM;

	if (!l)
		goto fail;
	l->fd = -1;
	l->info.bod_mv = -1;	/* not known yet: the first report is said */
	l->usb_vid = o->usb_vid;
	l->usb_pid = o->usb_pid;
	l->baud = o->baud > 0 ? o->baud : 115200;
	l->open_timeout_ms = o->open_timeout_ms > 0 ? o->open_timeout_ms : 3000;
	l->reconnect_ms = o->reconnect_ms == 0 ? 10000 : o->reconnect_ms;
	l->on_reset = o->on_reset;
	l->ctx = o->ctx;
	l->token = (uint32_t)clock_mono_ns() ^ (uint32_t)getpid();
	if (o->path && !(l->path = strdup(o->path)))
		goto fail_free;
	if (o->usb_serial && !(l->usb_serial = strdup(o->usb_serial)))
		goto fail_free;
	l->cf = clockfit_new(o->fw_clock_res_us, 0);
	if (!l->cf)
		goto fail_free;
	snprintf(l->port, sizeof(l->port), "%s", o->path ? o->path : "(usb)");
	fwline_rx_init(&l->rx);

	rc = port_open(l, 0);
	if (rc < 0)
		goto fail_cf;
	l->in_open = 1;
	rc = handshake(l, deadline_after(l->open_timeout_ms));
	l->in_open = 0;
	if (rc < 0)
		goto fail_port;
	l->evq_len = 0;		/* events from before we came are history */
	l->session = 1;
	pc_debug(LOG_SERIAL, "firmware %s (protocol %d, %d channels) on '%s'",
		 l->info.fw, l->info.proto, l->info.channels, l->port);
	return l;

fail_port:
	port_close(l);
fail_cf:
	clockfit_free(l->cf);
fail_free:
	free(l->usb_serial);
	free(l->path);
	free(l);
fail:
	errno = -rc;
	return NULL;
}

struct fwlink *fwlink_open_replay(const char *name)
{
	struct fwlink *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->fd = -1;
	l->dead = 1;		/* no port to reconnect to: requests fail at once */
	l->cf = clockfit_new(0, 0);
	if (!l->cf) {
		free(l);
		errno = ENOMEM;
		return NULL;
	}
	snprintf(l->port, sizeof(l->port), "%s", name ? name : "(replay)");
	fwline_rx_init(&l->rx);
	l->session = 1;
	return l;
}

int fwlink_feed(struct fwlink *l, const void *data, size_t n, struct fw_reply *await)
{
	int rc = -EAGAIN;

	if (await) {
		memset(await, 0, sizeof(*await));
		l->rep = await;
		l->wait = WAIT_REPLY;
	}
	l->rx_ns = clock_mono_ns();
	fwline_rx_feed(&l->rx, data, n, on_line, l);
	if (await) {
		if (l->wait == WAIT_DONE)
			rc = l->rep_rc;
		l->wait = WAIT_NONE;
		l->rep = NULL;
	}
	return rc;
}

void fwlink_close(struct fwlink *l)
{
	if (!l)
		return;
	garbled_flush(l, clock_mono_ns());
	port_close(l);
	clockfit_free(l->cf);
	free(l->usb_serial);
	free(l->path);
	free(l);
}
