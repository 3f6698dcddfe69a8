/* Relay driver table and the generic parts of every driver. See relay.h. */
#include "relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

extern const struct relay_ops relay_null_ops, relay_exec_ops, relay_serial_ops,
	relay_usbhid_ops, relay_gpio_ops;

/* [relay] driver names one of these; the order is the one of help and docs. */
const struct relay_ops *const relay_drivers[] = {
	&relay_serial_ops, &relay_usbhid_ops, &relay_gpio_ops, &relay_exec_ops,
	&relay_null_ops, NULL
};

volatile int relay_interrupted;

const char *relay_state_name(enum relay_state s)
{
	static const char *const n[] = { "unknown", "on", "off", "cut", "armed" };

	return (unsigned)s < 5 ? n[s] : "unknown";
}

int relay_ops_validate(const struct relay_ops *ops)
{
	if (!ops || !ops->name) {
		pc_err(LOG_RELAY, "relay driver without a name");
		return -EINVAL;
	}
	if (ops->version != RELAY_OPS_VERSION) {
		pc_err(LOG_RELAY, "relay driver '%s' has ops version %u, expected %u", ops->name,
		       ops->version, RELAY_OPS_VERSION);
		return -EINVAL;
	}
	if (!ops->open || !ops->close || !ops->on || !ops->off || !ops->status) {
		pc_err(LOG_RELAY, "relay driver '%s' lacks a required hook (open, close, on, "
		       "off, status)", ops->name);
		return -EINVAL;
	}
	return 0;
}

int relay_drivers_check(const struct relay_ops *const *table)
{
	const struct opt_drivers d = RELAY_OPT_DRIVERS(table);

	for (size_t i = 0; table[i]; i++)
		if (relay_ops_validate(table[i]) < 0)
			return -EINVAL;
	/* Names once each, option tables well formed and consistent. */
	return opt_drivers_check(&d, NULL, "relay");
}

const struct relay_ops *relay_ops_find(const char *name)
{
	const struct opt_drivers d = RELAY_OPT_DRIVERS(relay_drivers);
	char names[256];

	if (relay_drivers_check(relay_drivers) < 0) {
		errno = EINVAL;
		return NULL;
	}
	for (size_t i = 0; name && relay_drivers[i]; i++)
		if (!strcmp(relay_drivers[i]->name, name))
			return relay_drivers[i];
	pc_err(LOG_RELAY, "unknown relay driver '%s' (drivers: %s)", name ? name : "",
	       opt_drivers_names(&d, names, sizeof(names)));
	errno = ENOENT;
	return NULL;
}

struct relay *relay_open(const struct bench_config *cfg, const char *run_dir)
{
	const struct relay_ops *ops = relay_ops_find(cfg->relay->driver);
	struct relay *r;
	int rc;

	if (!ops)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->ops = ops;
	r->cfg = cfg;
	r->run_dir = run_dir;
	rc = ops->open(r);
	if (rc < 0) {
		free(r);
		errno = -rc;
		return NULL;
	}
	pc_debug(LOG_RELAY, "relay driver '%s' open", ops->name);
	return r;
}

void relay_close(struct relay *r)
{
	if (!r)
		return;
	/* Whatever happened, leave the node powered. */
	for (int ch = 0; ch < RELAY_MAX_CH; ch++) {
		if (!(r->touched & (1u << ch)))
			continue;
		int rc = r->ops->on(r, ch);
		if (rc < 0)
			pc_err(LOG_RELAY, "cannot restore power on channel %d: %s", ch, strerror(-rc));
		else
			pc_debug(LOG_RELAY, "channel %d powered on at exit", ch);
	}
	r->ops->close(r);
	free(r);
}

static int check_ch(struct relay *r, int ch)
{
	if (ch < 0 || ch >= r->cfg->relay->channels || ch >= RELAY_MAX_CH) {
		pc_err(LOG_RELAY, "no channel %d on relay '%s' (channels: %lld)", ch,
		       r->ops->name, (long long)r->cfg->relay->channels);
		return -EINVAL;
	}
	return 0;
}

int relay_on(struct relay *r, int ch)
{
	int rc = check_ch(r, ch);

	if (rc == 0)
		rc = r->ops->on(r, ch);
	if (rc == 0)
		r->touched &= ~(1u << ch);
	return rc;
}

int relay_off(struct relay *r, int ch)
{
	int rc = check_ch(r, ch);

	if (rc < 0)
		return rc;
	/* Marked before the call: a failed or interrupted off may still have switched. */
	r->touched |= 1u << ch;
	return r->ops->off(r, ch);
}

int relay_status(struct relay *r, struct relay_status *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < RELAY_MAX_CH; i++)
		s->pwrok[i] = -1;
	s->bod_mv = -1;
	s->channels = (int)r->cfg->relay->channels;
	return r->ops->status(r, s);
}

static void sleep_ms_interruptible(int ms)
{
	int64_t end = clock_mono_ns() + (int64_t)ms * 1000000;

	while (!relay_interrupted) {
		int64_t left = end - clock_mono_ns();
		if (left <= 0)
			break;
		if (left > 20000000)
			left = 20000000;
		struct timespec ts = { 0, (long)left };
		nanosleep(&ts, NULL);
	}
}

/* What every cut record starts from; marks ch as touched (the exit turns it on). */
static int cut_begin(struct relay *r, int ch, int off_ms, struct relay_cut *rec)
{
	int rc = check_ch(r, ch);

	if (rc < 0)
		return rc;
	memset(rec, 0, sizeof(*rec));
	rec->channel = ch;
	rec->off_ms = off_ms;
	r->touched |= 1u << ch;
	return 0;
}

/* The off edge timed by the host: somewhere inside the off call. */
static int off_timed(struct relay *r, int ch, struct relay_cut *rec)
{
	int64_t t0 = clock_mono_ns();
	int rc = r->ops->off(r, ch);
	int64_t t1 = clock_mono_ns();

	rec->timed_by = "host";
	rec->planned_ns = t0;
	rec->actual_ns = t0 + (t1 - t0) / 2;
	rec->uncertainty_ns = (t1 - t0) / 2 + 1;
	return rc;
}

int relay_off_timed(struct relay *r, int ch, int off_ms, struct relay_cut *rec)
{
	int rc = cut_begin(r, ch, off_ms, rec);

	return rc < 0 ? rc : off_timed(r, ch, rec);
}

int relay_cut(struct relay *r, int ch, int off_ms, struct relay_cut *rec)
{
	int rc = cut_begin(r, ch, off_ms, rec);

	if (rc < 0)
		return rc;
	if (r->ops->cut)
		return r->ops->cut(r, ch, off_ms, rec);
	if ((rc = off_timed(r, ch, rec)) < 0)
		return rc;
	sleep_ms_interruptible(off_ms);
	rc = r->ops->on(r, ch);
	if (rc == 0)
		r->touched &= ~(1u << ch);
	return rc;
}

int relay_arm(struct relay *r, int ch, int earliest_ms, int latest_ms, int off_ms,
	      uint32_t seed, struct relay_cut *rec)
{
	int rc = check_ch(r, ch);

	if (rc < 0)
		return rc;
	if (!r->ops->arm) {
		pc_err(LOG_RELAY, "relay driver '%s' cannot time a cut itself (only serial can)",
		       r->ops->name);
		return -ENOTSUP;
	}
	memset(rec, 0, sizeof(*rec));
	rec->channel = ch;
	rec->off_ms = off_ms;
	r->touched |= 1u << ch;
	return r->ops->arm(r, ch, earliest_ms, latest_ms, off_ms, seed, rec);
}

bool relay_reports_edges(const struct relay *r)
{
	return r->ops->next_event != NULL;
}

int relay_next_event(struct relay *r, int timeout_ms, struct relay_event *ev)
{
	if (!r->ops->next_event)
		return -ENOTSUP;
	memset(ev, 0, sizeof(*ev));
	return r->ops->next_event(r, timeout_ms, ev);
}
