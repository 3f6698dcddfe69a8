/* The serial relay: a thin adapter from the relay ops onto host/fwlink (the
 * firmware line-protocol client). With [relay] simulator=yes it also starts
 * powercut-mcusim in the bench's run directory and stops it at close. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "clockfit.h"
#include "fwlink.h"
#include "log.h"
#include "relay.h"
#include "util.h"

struct serial_priv {
	struct fwlink *l;
	struct child sim;
	bool sim_running;
	char tty[PATH_MAX];
	uint64_t session;		/* session the board was configured under */
	unsigned want_off;		/* channels we hold off: re-established after a reset */
	int64_t last_tx_ns;
};

/* Start the simulator and wait for its `ready tty=... control=... pid=N` line. */
static int sim_start(struct relay *r, struct serial_priv *p)
{
	const struct cfg_relay *c = r->cfg->relay;
	char exe[2048], bin[PATH_MAX], fw[PATH_MAX];
	char ch[16], hold[24], rise[24], act[16], inv[16], line[1024], ee[PATH_MAX];
	size_t n = 0;
	int rc;

	if ((rc = pc_exe_dir(exe, sizeof(exe))) < 0)
		return rc;
	snprintf(bin, sizeof(bin), "%s", c->sim_binary ? c->sim_binary : "");
	if (!c->sim_binary)
		snprintf(bin, sizeof(bin), "%s/powercut-mcusim", exe);
	if (c->sim_firmware)
		snprintf(fw, sizeof(fw), "%s", c->sim_firmware);
	else
		snprintf(fw, sizeof(fw), "%s/../firmware/powercut-fw.elf", exe);
	if (access(fw, R_OK) < 0) {
		rc = -errno;
		pc_err(LOG_SIM, "cannot read firmware '%s': %s", fw, strerror(-rc));
		return rc;
	}
	snprintf(ch, sizeof(ch), "%lld", (long long)c->channels);
	snprintf(hold, sizeof(hold), "%lld", (long long)c->hold_up_ms);
	snprintf(rise, sizeof(rise), "%lld", (long long)c->rise_ms);
	snprintf(act, sizeof(act), "%lld", (long long)c->relay_active);
	snprintf(inv, sizeof(inv), "%lld", (long long)c->pwrok_invert);
	/* The simulated board keeps its EEPROM in the run directory, as a board keeps
	 * it across power cycles: a first run finds it blank, later runs what was set. */
	snprintf(ee, sizeof(ee), "%.4000s/mcu-eeprom.bin", r->run_dir);
	const char *argv[] = { bin, "--firmware", fw, "--run-dir", r->run_dir, "--mode",
			       c->sim_mode == SIM_FAST ? "fast" : "realtime", "--channels", ch,
			       "--hold-up-ms", hold, "--rise-ms", rise, "--relay-active", act,
			       "--pwrok-invert", inv, "--eeprom", ee, "--quiet", NULL };
	p->sim = (struct child){ .argv = argv, .in = CHILD_NULL, .out = CHILD_PIPE,
				 .err = CHILD_INHERIT, .grace_ms = 3000 };
	rc = child_start(&p->sim);
	if (rc < 0) {
		pc_err(LOG_SIM, "cannot start simulator '%s': %s", bin, strerror(-rc));
		return rc;
	}
	p->sim_running = true;
	/* argv lives on this stack frame; keep a name for later messages. */
	static const char *const sim_name[] = { "powercut-mcusim", NULL };
	p->sim.argv = sim_name;
	int64_t deadline = clock_mono_ns() + 15000000000LL;
	while (!memchr(line, '\n', n)) {
		struct pollfd pf = { .fd = p->sim.fd_out, .events = POLLIN };
		int64_t left = (deadline - clock_mono_ns()) / 1000000;
		if (left <= 0 || relay_interrupted) {
			pc_err(LOG_SIM, "simulator '%s' did not become ready", bin);
			return -ETIMEDOUT;
		}
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		ssize_t k = read(p->sim.fd_out, line + n, sizeof(line) - 1 - n);
		if (k <= 0) {
			pc_err(LOG_SIM, "simulator '%s' exited before it was ready", bin);
			return -EIO;
		}
		n += (size_t)k;
		line[n] = '\0';
		if (n >= sizeof(line) - 1)
			break;
	}
	line[n] = '\0';
	const char *t = strstr(line, "tty=");
	if (strncmp(line, "ready ", 6) || !t) {
		pc_err(LOG_SIM, "unexpected line from simulator: '%.*s'", (int)strcspn(line, "\n"), line);
		return -EPROTO;
	}
	t += 4;
	snprintf(p->tty, sizeof(p->tty), "%.*s", (int)strcspn(t, " \n"), t);
	pc_debug(LOG_SIM, "simulator pid %d ready, tty '%s'", (int)p->sim.pid, p->tty);
	return 0;
}

static void sim_stop(struct serial_priv *p)
{
	int st;

	if (!p->sim_running)
		return;
	child_kill(&p->sim, SIGTERM);
	if (child_finish(&p->sim, 5000, &st) == -ETIMEDOUT)
		pc_warn(LOG_SIM, "simulator did not stop on SIGTERM; killed");
	p->sim_running = false;
}

static int req(struct serial_priv *p, int timeout_ms, struct fw_reply *rep, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int req(struct serial_priv *p, int timeout_ms, struct fw_reply *rep, const char *fmt, ...)
{
	struct fw_reply local;
	va_list ap;
	int rc;

	if (!rep)
		rep = &local;
	va_start(ap, fmt);
	rc = fwlink_vrequest(p->l, timeout_ms, rep, fmt, ap);
	va_end(ap);
	p->last_tx_ns = clock_mono_ns();
	if (rc == -EREMOTEIO)
		pc_debug(LOG_RELAY, "firmware answered error:%d %s", rep->code, rep->text);
	return rc;
}

/* Bring the board to what the bench says: settings, and the channels we hold off.
 * Run at open and after every firmware reset. */
static int configure(struct relay *r)
{
	struct serial_priv *p = r->priv;
	const struct cfg_relay *c = r->cfg->relay;
	int to = (int)c->timeout_ms, rc;
	const struct { const char *key; int64_t want; } set[] = {
		{ "relay_active", c->relay_active }, { "pwrok_invert", c->pwrok_invert },
	};

	uint64_t session = fwlink_session(p->l);
	/* Settings from a blank or damaged EEPROM (fwlink said which) are stored again,
	 * even when they equal the bench's: the status then reads "ok". */
	bool store = strcmp(fwlink_info(p->l)->settings, "ok") != 0;

	if (store)
		pc_warn(LOG_RELAY, "storing the bench's relay settings in the EEPROM of '%s' "
			"(it held '%s')", fwlink_port_name(p->l), fwlink_info(p->l)->settings);
	for (size_t i = 0; i < 2; i++) {
		struct fw_reply rep;
		uint64_t v;
		rc = req(p, to, &rep, "get %s", set[i].key);
		if (rc < 0)
			return rc;
		if (!store && fw_reply_get_u64(&rep, set[i].key, &v) == 0 &&
		    (int64_t)v == set[i].want)
			continue;
		/* Only when different: every set rewrites the EEPROM. */
		rc = req(p, to, NULL, "set %s %lld", set[i].key, (long long)set[i].want);
		if (rc < 0) {
			pc_err(LOG_RELAY, "cannot set firmware setting '%s'", set[i].key);
			return rc;
		}
	}
	for (int ch = 0; ch < RELAY_MAX_CH; ch++) {
		if (!(p->want_off & (1u << ch)))
			continue;
		pc_warn(LOG_RELAY, "channel %d: powering off again after the firmware reset", ch);
		rc = req(p, to, NULL, "off %d", ch);
		if (rc < 0 && rc != -EREMOTEIO)
			return rc;
	}
	rc = fwlink_clock_sync(p->l, 8, to);
	if (rc < 0)
		return rc;
	/* Only now: a configuration cut short (the port vanished again) is redone by
	 * the next call. */
	p->session = session;
	return 0;
}

static enum relay_state parse_state(const char *s)
{
	if (!s)
		return RELAY_UNKNOWN;
	if (!strcmp(s, "on"))
		return RELAY_ON;
	if (!strcmp(s, "off"))
		return RELAY_OFF;
	if (!strcmp(s, "cut"))
		return RELAY_CUT;
	if (!strcmp(s, "armed"))
		return RELAY_ARMED;
	return RELAY_UNKNOWN;
}

/* Requests whose reply a reset, the port's loss or line noise cut short, in a row,
 * before the driver gives up: a board that keeps resetting is broken, not busy. */
#define CUT_SHORT_MAX 4
/* Longest the driver keeps trying to re-establish a channel while the port is being
 * re-opened: fwlink's own reconnect budget (10 s) ends it first with -ENOTCONN. */
#define SETTLE_MS 15000

/* An outcome that a later try can mend: a reset or the port's loss before the reply
 * (-ECONNRESET), a garbled reply, a timeout while the port is being re-opened. A
 * timeout on a port that is up is a firmware that does not answer: not retried. */
static bool transient(const struct serial_priv *p, int rc)
{
	return rc == -ECONNRESET || rc == -EBADMSG || (rc == -ETIMEDOUT && fwlink_fd(p->l) < 0);
}

/* Why a request failed, for messages. */
static const char *why(const struct serial_priv *p, int rc, const struct fw_reply *rep)
{
	if (rc == -EREMOTEIO && rep)
		return rep->text;
	if (rc == -ECONNRESET)
		return fwlink_fd(p->l) >= 0 ? "the firmware was reset before it answered" :
		       "the port went away before the firmware answered";
	if (rc == -EBADMSG)
		return "garbled reply";
	return strerror(-rc);
}

static int check_reset(struct relay *r)
{
	struct serial_priv *p = r->priv;
	int rc = 0;

	/* A reset (or the port's loss) in the middle of configure() leaves the session
	 * unconfigured: configure the new one. */
	for (int i = 0; i <= CUT_SHORT_MAX && fwlink_session(p->l) != p->session; i++) {
		pc_warn(LOG_RELAY, "firmware on '%s' was reset; re-establishing its state",
			fwlink_port_name(p->l));
		rc = configure(r);
		if (rc != -ECONNRESET)
			break;
	}
	return rc;
}

/* After an `on` or `off` whose reply a reset, the port's loss or noise cut short
 * (rc), make sure the channel ends as wanted: the request may or may not have been
 * acted on, and a reset undid it (docs/protocol.md, "Resets and requests"). The
 * reset handling (configure) powers want_off channels off again; `status` then
 * tells, and what is still missing is sent. Bounded by CUT_SHORT_MAX and SETTLE_MS. */
static int settle(struct relay *r, int ch, bool off, int rc, struct fw_reply *rep)
{
	struct serial_priv *p = r->priv;
	int to = (int)r->cfg->relay->timeout_ms, cut_short = 0;
	int64_t deadline = clock_mono_ns() + SETTLE_MS * 1000000LL;
	char key[16];

	snprintf(key, sizeof(key), "ch%d", ch);
	while (transient(p, rc)) {
		if ((rc != -ETIMEDOUT && ++cut_short > CUT_SHORT_MAX) || clock_mono_ns() >= deadline) {
			pc_err(LOG_RELAY, "channel %d: cannot make sure it is %s: %s (%d tries)", ch,
			       off ? "off" : "on", why(p, rc, rep), cut_short);
			return rc;
		}
		pc_info(LOG_RELAY, "channel %d: '%s' cut short (%s); asking the firmware", ch,
			off ? "off" : "on", why(p, rc, rep));
		rc = check_reset(r);
		if (rc == 0)
			rc = req(p, to, rep, "status");
		if (rc < 0)
			continue;
		enum relay_state st = parse_state(fw_reply_get(rep, key));

		if (st == (off ? RELAY_OFF : RELAY_ON))
			return 0;
		if (off && st != RELAY_ON) {
			pc_err(LOG_RELAY, "channel %d is %s, not off", ch, fw_reply_get(rep, key) ?
			       fw_reply_get(rep, key) : "in an unknown state");
			return -EBUSY;
		}
		rc = req(p, to, rep, off ? "off %d" : "on %d", ch);
	}
	return rc;
}

static void on_reset(void *ctx, const struct fw_event *ev)
{
	pc_debug(LOG_RELAY, "firmware reset noticed (%s)", ev->name);
}

static void serial_close(struct relay *r)
{
	struct serial_priv *p = r->priv;

	fwlink_close(p->l);
	sim_stop(p);
	free(p);
}

static int serial_open(struct relay *r)
{
	const struct cfg_relay *c = r->cfg->relay;
	struct serial_priv *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	r->priv = p;
	if (c->simulator && (rc = sim_start(r, p)) < 0)
		goto fail;
	struct fwlink_opts o = {
		.path = c->simulator ? p->tty : c->port,
		.usb_vid = (int)c->usb_vid, .usb_pid = (int)c->usb_pid,
		.usb_serial = c->usb_serial,
		.open_timeout_ms = c->simulator ? 10000 : 3000,
		.on_reset = on_reset, .ctx = r,
	};
	p->l = fwlink_open(&o);
	if (!p->l) {
		rc = -errno;
		goto fail;
	}
	rc = configure(r);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	serial_close(r);
	r->priv = NULL;
	return rc;
}

static int serial_on(struct relay *r, int ch)
{
	struct serial_priv *p = r->priv;
	struct fw_reply rep;
	int rc = check_reset(r);

	if (rc < 0)
		return rc;
	p->want_off &= ~(1u << ch);
	rc = req(p, (int)r->cfg->relay->timeout_ms, &rep, "on %d", ch);
	rc = settle(r, ch, false, rc, &rep);
	if (rc < 0)
		pc_err(LOG_RELAY, "cannot power on channel %d: %s", ch, why(p, rc, &rep));
	return rc;
}

static int serial_off(struct relay *r, int ch)
{
	struct serial_priv *p = r->priv;
	struct fw_reply rep;
	int rc = check_reset(r);

	if (rc < 0)
		return rc;
	p->want_off |= 1u << ch;
	rc = req(p, (int)r->cfg->relay->timeout_ms, &rep, "off %d", ch);
	rc = settle(r, ch, true, rc, &rep);
	if (rc < 0)
		pc_err(LOG_RELAY, "cannot power off channel %d: %s", ch, why(p, rc, &rep));
	return rc;
}

static int serial_status(struct relay *r, struct relay_status *s)
{
	struct serial_priv *p = r->priv;
	const struct fw_info *info;
	struct fw_reply rep;
	int rc = check_reset(r);

	if (rc < 0)
		return rc;
	rc = req(p, (int)r->cfg->relay->timeout_ms, &rep, "status");
	if (rc < 0) {
		pc_err(LOG_RELAY, "cannot read status of '%s': %s", fwlink_port_name(p->l),
		       strerror(-rc));
		return rc;
	}
	info = fwlink_info(p->l);
	snprintf(s->fw, sizeof(s->fw), "%s", info->fw);
	snprintf(s->id, sizeof(s->id), "%s", fwlink_port_name(p->l));
	/* The settings status as it is now (`set` makes it "ok"), not as at open. */
	snprintf(s->settings, sizeof(s->settings), "%s",
		 fw_reply_get(&rep, "settings") ? fw_reply_get(&rep, "settings") : "");
	s->bod_mv = info->bod_mv;
	s->channels = info->channels < RELAY_MAX_CH ? info->channels : RELAY_MAX_CH;
	for (int ch = 0; ch < s->channels; ch++) {
		char k[16];
		int lv;
		snprintf(k, sizeof(k), "ch%d", ch);
		s->state[ch] = parse_state(fw_reply_get(&rep, k));
		snprintf(k, sizeof(k), "pwr%d", ch);
		s->pwrok[ch] = fw_reply_get_int(&rep, k, &lv) == 0 ? lv : -1;
	}
	/* For powercut doctor: the protocol and how well host time maps firmware time. */
	s->proto = info->proto;
	struct clockfit_info ci;
	if (clockfit_info(fwlink_clockfit(p->l), &ci) == 0)
		s->clock_unc_ns = ci.unc_mid_ns;
	return 0;
}

/* Firmware time to host time; when the fit cannot map, the request's round trip
 * brackets the moment. */
static void map_time(struct serial_priv *p, uint64_t fw_us, const struct fw_reply *rep,
		     int64_t *ns, int64_t *unc)
{
	if (fwlink_clock_map(p->l, fw_us, ns, unc) == 0)
		return;
	*ns = rep->tx_ns + (rep->rx_ns - rep->tx_ns) / 2;
	*unc = (rep->rx_ns - rep->tx_ns) / 2 + 1;
}

static int serial_cut(struct relay *r, int ch, int off_ms, struct relay_cut *rec)
{
	struct serial_priv *p = r->priv;
	struct fw_reply rep;
	uint64_t at;
	int rc = check_reset(r);

	if (rc < 0)
		return rc;
	rec->timed_by = "firmware";
	rc = req(p, (int)r->cfg->relay->timeout_ms, &rep, "cut %d %d", ch, off_ms);
	if (rc < 0) {
		/* Not sent again: a second cut would not be the one the cycle planned. */
		pc_err(LOG_RELAY, "cannot cut channel %d: %s", ch, why(p, rc, &rep));
		return rc;
	}
	rec->planned_ns = rep.tx_ns;
	/* A ping right after brackets the edge between two clock samples. */
	fwlink_clock_sync(p->l, 1, (int)r->cfg->relay->timeout_ms);
	if (fw_reply_get_u64(&rep, "at", &at) == 0) {
		rec->fw_at_us = at;
		map_time(p, at, &rep, &rec->actual_ns, &rec->uncertainty_ns);
	}
	return 0;
}

static int serial_arm(struct relay *r, int ch, int earliest_ms, int latest_ms, int off_ms,
		      uint32_t seed, struct relay_cut *rec)
{
	struct serial_priv *p = r->priv;
	struct fw_reply rep;
	uint64_t from, to;
	int64_t unc;
	int rc = check_reset(r);

	if (rc < 0)
		return rc;
	rec->timed_by = "firmware";
	rc = req(p, (int)r->cfg->relay->timeout_ms, &rep, "arm %d %d %d %d %u", ch, earliest_ms,
		 latest_ms, off_ms, seed);
	if (rc < 0) {
		pc_err(LOG_RELAY, "cannot arm channel %d: %s", ch, why(p, rc, &rep));
		return rc;
	}
	rec->planned_ns = rep.tx_ns;
	if (fw_reply_get_u64(&rep, "from", &from) == 0) {
		rec->fw_from_us = from;
		map_time(p, from, &rep, &rec->window_from_ns, &unc);
	}
	if (fw_reply_get_u64(&rep, "to", &to) == 0) {
		rec->fw_to_us = to;
		map_time(p, to, &rep, &rec->window_to_ns, &unc);
	}
	return 0;
}

static int serial_next_event(struct relay *r, int timeout_ms, struct relay_event *ev)
{
	struct serial_priv *p = r->priv;
	struct fw_event fe;
	int rc;

	/* Clock samples every 100 ms while we wait: they keep the firmware's
	 * host-silence watchdog quiet and give every edge a ping on each side. */
	if (clock_mono_ns() - p->last_tx_ns > 100000000LL) {
		/* A reset that cut the re-establishing short again is no error of this
		 * call: the session is still unconfigured, and the next call tries anew. */
		rc = check_reset(r);
		if (rc < 0 && !transient(p, rc))
			return rc;
		rc = fwlink_clock_sync(p->l, 1, (int)r->cfg->relay->timeout_ms);
		p->last_tx_ns = clock_mono_ns();
		/* A reset or the port's loss is told by the events (the reset event, or
		 * -ENOTCONN once the port stays away past fwlink's reconnect budget). */
		if (rc < 0 && rc != -ETIMEDOUT && rc != -EREMOTEIO && rc != -ECONNRESET)
			return rc;
	}
	if (timeout_ms > 100)
		timeout_ms = 100;
	rc = fwlink_next_event(p->l, timeout_ms, &fe);
	if (rc < 0)
		return rc;
	if (!(fe.flags & FW_EV_RESET)) {
		fwlink_clock_sync(p->l, 1, (int)r->cfg->relay->timeout_ms);
		p->last_tx_ns = clock_mono_ns();
	}
	if (fe.flags & FW_EV_RESET) {
		ev->kind = RELAY_EV_RESET;
		rc = check_reset(r);
		return rc < 0 && !transient(p, rc) ? rc : 0;
	}
	int v = 0;
	fw_event_get_int(&fe, "ch", &ev->channel);
	ev->fw_us = fe.t_us;
	if (fwlink_clock_map(p->l, fe.t_us, &ev->mono_ns, &ev->uncertainty_ns) < 0) {
		ev->mono_ns = fe.rx_ns;
		ev->uncertainty_ns = -1;
	}
	if (!strcmp(fe.name, "relay")) {
		const char *pw = fw_event_get(&fe, "power"), *cause = fw_event_get(&fe, "cause");
		ev->kind = RELAY_EV_RELAY;
		ev->level = pw && !strcmp(pw, "on");
		snprintf(ev->cause, sizeof(ev->cause), "%s", cause ? cause : "");
	} else if (!strcmp(fe.name, "pwrok")) {
		ev->kind = RELAY_EV_PWROK;
		fw_event_get_int(&fe, "level", &v);
		ev->level = v;
	} else {
		/* disarm and future events: reported as a relay event without an edge */
		ev->kind = RELAY_EV_RELAY;
		ev->level = -1;
		snprintf(ev->cause, sizeof(ev->cause), "%.15s", fe.name);
	}
	return 0;
}

/* Keys of [relay] only this driver reads (config.h, "Drivers own their keys"). */
static const struct opt_def serial_options[] = {
	{ "port", OPT_STRING, RELAY_CFG(port), NULL, OPT_NOLIMIT, NULL,
	  "serial: the port (a /dev/serial/by-id/ link is best). Unset: found by usb_vid, "
	  "usb_pid and usb_serial, or the simulator's pty when simulator=yes.", 0 },
	{ "usb_vid", OPT_INT, RELAY_CFG(usb_vid), "0", 0, 0xffff, NULL,
	  "serial: USB vendor id of the board, used when port is unset (0: Arduino 2341 or "
	  "2a03, CH340 1a86, FTDI 0403).", OPT_HEX },
	{ "usb_pid", OPT_INT, RELAY_CFG(usb_pid), "0", 0, 0xffff, NULL,
	  "serial: USB product id of the board (0: any).", OPT_HEX },
	{ "usb_serial", OPT_STRING, RELAY_CFG(usb_serial), NULL, OPT_NOLIMIT, NULL,
	  "serial: USB serial number of the board, used when port is unset (CH340 boards "
	  "have none: use port = /dev/serial/by-path/...).", 0 },
	{ "relay_active", OPT_INT, RELAY_CFG(relay_active), "0", 0, 255, NULL,
	  "Bitmask: bit n set means channel n's relay is energized by a HIGH pin "
	  "(firmware setting relay_active, simulator --relay-active).", 0 },
	{ "pwrok_invert", OPT_INT, RELAY_CFG(pwrok_invert), "3", 0, 255, NULL,
	  "Bitmask: bit n set means PWR_OK input n reads LOW when DC is good "
	  "(firmware setting pwrok_invert).", 0 },
	{ 0 }
};

const struct relay_ops relay_serial_ops = {
	.version = RELAY_OPS_VERSION,
	.name = "serial",
	.help = "powercut firmware over a serial port (or the simulator)",
	.options = serial_options,
	.open = serial_open,
	.close = serial_close,
	.on = serial_on,
	.off = serial_off,
	.status = serial_status,
	.cut = serial_cut,
	.arm = serial_arm,
	.next_event = serial_next_event,
};
