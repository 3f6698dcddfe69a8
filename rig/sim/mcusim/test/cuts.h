/* Armed cuts measured on both sides: what the firmware reports on its serial line
 * and what the simulator recorded, to the cycle. Shared by the timing test, the
 * cut benchmark and the demo's client. */
#ifndef MCUSIM_CUTS_H
#define MCUSIM_CUTS_H

#include <stdint.h>

#include "harness.h"

struct cut_cfg {
	int ch;
	unsigned earliest_ms, latest_ms, off_ms;
	uint32_t seed;
};

struct cut_res {
	uint64_t from, to;		/* the armed window, firmware clock (us) */
	uint64_t fw_off, fw_on;		/* relay edges reported by the firmware */
	uint64_t fw_lost, fw_back;	/* PWR_OK edges reported by the firmware */
	/* the simulator's edges, microseconds since the MCU's reset (exact, cycles/16) */
	double sim_off, sim_on, sim_lost, sim_back;
	double edge_err;		/* |sim_off - fw_off| */
	double pwrok_err;		/* max of |sim_lost - fw_lost|, |sim_back - fw_back| */
	double hold_up;			/* sim_lost - sim_off */
	double rise;			/* sim_back - sim_on */
	/* Independent of where the firmware clock starts: */
	double clock_offset;		/* sim_lost - fw_lost: time since reset minus T */
	double edge_rel_err;		/* |(sim_off - fw_off) - clock_offset| */
	double fw_hold_up;		/* fw_lost - fw_off: the hold-up the firmware saw */
};

/* Prepare the firmware for a series of cuts: a known boot (external reset through
 * the control socket), host_timeout_ms raised so fast mode does not trip it, and
 * min_off_ms set to min_off_ms. Returns 0 or a negative errno. */
int cuts_setup(struct h_fw *fw, struct h_sim *sim, unsigned min_off_ms);

/* One armed cut, waited for to the end (DC back); timeouts in wall time are scaled
 * for realtime mode. Returns 0, or a negative errno with a message on stderr. */
int cut_run(struct h_fw *fw, struct h_sim *sim, const struct cut_cfg *cfg,
	    struct cut_res *r);

#endif
