/* Relay drivers: one struct relay_ops per driver (one file each), listed in the
 * static table in relay.c and validated there (version and required hooks).
 *
 *   struct relay *r = relay_open(cfg);       // cfg->relay->driver picks the ops
 *   relay_cut(r, ch, 500, &rec);             // rec says who timed it and how well
 *   relay_close(r);                          // restores power ON on every channel
 *
 * Adding a driver: write relay/NAME.c filling a const struct relay_ops (with the table
 * of the [relay] keys only it reads, stored in struct cfg_relay), and add it to
 * relay_drivers[] in relay.c. [relay] driver names it; nothing else lists drivers.
 *
 * Channel states follow docs/protocol.md: power ON means the node is powered (relay
 * de-energized). Every exit path of powercut ends in relay_close(), which turns every
 * channel it touched back on.
 */
#ifndef PC_RELAY_H
#define PC_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* 2: the ops carry their own option table. */
#define RELAY_OPS_VERSION 2
#define RELAY_MAX_CH 8

enum relay_state { RELAY_UNKNOWN, RELAY_ON, RELAY_OFF, RELAY_CUT, RELAY_ARMED };

struct relay_status {
	char fw[32];			/* firmware / board version, "" if none */
	char id[64];			/* board serial, port or command, for people */
	int proto;			/* firmware protocol version; 0 none */
	int64_t clock_unc_ns;		/* firmware clock fit's uncertainty; 0 no fit */
	int channels;
	enum relay_state state[RELAY_MAX_CH];
	int pwrok[RELAY_MAX_CH];	/* 1 DC good, 0 DC lost, -1 not sensed */
	/* Firmware boards: their EEPROM settings status ("ok", "recovered", "blank",
	 * "corrupt"; "" for other drivers) and brown-out level in mV (0 off, -1 not
	 * known). */
	char settings[16];
	int bod_mv;
};

/* One cut as the driver saw it. Times are host CLOCK_MONOTONIC ns; 0 unknown. */
struct relay_cut {
	int channel;
	const char *timed_by;		/* "firmware" or "host" */
	int64_t planned_ns;		/* host-timed: when the host issued it */
	int64_t actual_ns;		/* the relay edge (arm: filled when it fires) */
	int64_t uncertainty_ns;		/* +- of actual_ns */
	int64_t window_from_ns, window_to_ns;	/* arm: the window the firmware drew from */
	/* The same moments on the firmware's clock (us since its reset), 0 if none. */
	uint64_t fw_at_us, fw_from_us, fw_to_us;
	int off_ms;
};

enum relay_ev_kind { RELAY_EV_RELAY, RELAY_EV_PWROK, RELAY_EV_RESET };

struct relay_event {
	enum relay_ev_kind kind;
	int channel;
	int level;			/* RELAY: 1 power on, 0 off; PWROK: 1 DC good */
	char cause[16];			/* relay edges: off, on, cut, arm, maxoff, ... */
	int64_t mono_ns;		/* the edge on the host clock */
	int64_t uncertainty_ns;
	uint64_t fw_us;			/* firmware clock, 0 if none */
};

struct relay;

struct relay_ops {
	unsigned version;		/* RELAY_OPS_VERSION */
	const char *name;
	const char *help;
	/* The [relay] keys only this driver reads (NULL: none), stored in struct
	 * cfg_relay (RELAY_CFG); the loader parses them when this driver is named and
	 * reports them at their line when another one is. Two drivers may share a key
	 * declared alike (RELAY_OPT_ACTIVE_LEVEL). */
	const struct opt_def *options;
	/* Required. */
	int (*open)(struct relay *r);
	void (*close)(struct relay *r);
	int (*on)(struct relay *r, int ch);
	int (*off)(struct relay *r, int ch);
	int (*status)(struct relay *r, struct relay_status *s);
	/* Optional: a cut the device times itself (NULL: the host does off, wait, on). */
	int (*cut)(struct relay *r, int ch, int off_ms, struct relay_cut *rec);
	/* Optional: a randomized cut the device times itself (firmware only). */
	int (*arm)(struct relay *r, int ch, int earliest_ms, int latest_ms, int off_ms,
		   uint32_t seed, struct relay_cut *rec);
	/* Optional: the next relay / PWR_OK edge or reset; -ETIMEDOUT when none. */
	int (*next_event)(struct relay *r, int timeout_ms, struct relay_event *ev);
};

struct relay {
	const struct relay_ops *ops;
	const struct bench_config *cfg;
	void *priv;
	unsigned touched;		/* channels switched off at some point: restored at close */
	const char *run_dir;		/* the bench's run directory (simulator files) */
};

/* An option row's field in struct cfg_relay. */
#define RELAY_CFG(field) offsetof(struct cfg_relay, field)
/* active_level, a key of gpio and of usbhid. */
#define RELAY_OPT_ACTIVE_LEVEL \
	{ "active_level", OPT_ENUM, RELAY_CFG(active_level), "high", OPT_NOLIMIT, \
	  config_active_levels, "gpio: line level that energizes the relay (cuts power).", 0 }

/* The driver table; NULL-terminated. */
extern const struct relay_ops *const relay_drivers[];

/* A relay driver table as the bench loader sees it (struct bench_drivers .relay). */
#define RELAY_OPT_DRIVERS(table) { (const void *const *)(table), \
	offsetof(struct relay_ops, name), offsetof(struct relay_ops, options), OPT_NO_ALIASES }

/* Check an ops table: version, required hooks, option table. 0 or -EINVAL (logged). */
int relay_ops_validate(const struct relay_ops *ops);
/* Check a driver table as it is registered: every ops table valid, every name once,
 * their option tables consistent. 0 or -EINVAL (logged). */
int relay_drivers_check(const struct relay_ops *const *table);
/* The driver called name in relay_drivers (checked first); NULL with errno ENOENT,
 * logged with the names there are, or EINVAL for a broken table. */
const struct relay_ops *relay_ops_find(const char *name);

/* Open the driver cfg->relay->driver names. NULL with errno (logged). */
struct relay *relay_open(const struct bench_config *cfg, const char *run_dir);
/* Turn every touched channel back on (best effort, logged), close, free. */
void relay_close(struct relay *r);

int relay_on(struct relay *r, int ch);
int relay_off(struct relay *r, int ch);
int relay_status(struct relay *r, struct relay_status *s);
/* Power ch down for off_ms and back; the device's own timing when it has one, else
 * the host's (off, sleep, on: the uncertainty is the time the off call took). Returns
 * once the cut started (device-timed) or once power is back (host-timed). */
int relay_cut(struct relay *r, int ch, int off_ms, struct relay_cut *rec);
/* Switch ch off now, timed by the host: rec gets the moment (the middle of the off
 * call, the call's half-length as its uncertainty); the caller turns it on again. */
int relay_off_timed(struct relay *r, int ch, int off_ms, struct relay_cut *rec);
/* -ENOTSUP for drivers that cannot time a cut themselves. */
int relay_arm(struct relay *r, int ch, int earliest_ms, int latest_ms, int off_ms,
	      uint32_t seed, struct relay_cut *rec);
/* -ENOTSUP for drivers without edge reports. */
bool relay_reports_edges(const struct relay *r);
int relay_next_event(struct relay *r, int timeout_ms, struct relay_event *ev);

const char *relay_state_name(enum relay_state s);

/* Set by the SIGINT/SIGTERM handler of powercut; long waits give up when it is set. */
extern volatile int relay_interrupted;

#endif
