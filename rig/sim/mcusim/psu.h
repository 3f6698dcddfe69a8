/* The power-supply model of powercut-mcusim: one channel's relay contact to DC.
 *
 * Pure logic, in simulated CPU cycles, with no simavr dependency, so it is unit-tested
 * on the host. The relay's normally-closed contact carries the supply's AC input:
 * an energized relay removes AC. The supply keeps DC up for `hold` cycles after AC is
 * lost (the bulk capacitor), and raises DC `rise` cycles after AC returns. A relay
 * bounce shorter than the hold-up never drops DC; AC lost again while DC is still
 * rising keeps DC down.
 *
 * At most one DC transition is pending per channel; the caller keeps one timer per
 * channel and follows the returned action.
 */
#ifndef MCUSIM_PSU_H
#define MCUSIM_PSU_H

#include <stdbool.h>
#include <stdint.h>

struct psu_ch {
	bool energized;		/* relay energized: AC removed, "power off" */
	bool dc_good;		/* DC output within regulation (PWR_OK asserted) */
	bool pending;		/* a DC transition is scheduled ... */
	uint64_t pending_at;	/* ... at this cycle, to !dc_good */
};

enum psu_action {
	PSU_KEEP,	/* nothing changes for the channel's timer */
	PSU_SCHEDULE,	/* (re)arm the channel's timer at pending_at */
	PSU_CANCEL,	/* cancel the channel's timer */
};

/* A powered supply at rest: relay released, DC good, nothing pending. */
void psu_ch_init(struct psu_ch *ch);

/* The relay changed to `energized` at cycle `now`. `hold` and `rise` are the hold-up
 * and rise times in cycles. Returns what to do with the channel's timer. */
enum psu_action psu_relay(struct psu_ch *ch, bool energized, uint64_t now,
			  uint64_t hold, uint64_t rise);

/* The channel's timer fired: apply the pending transition. Returns the new dc_good. */
bool psu_fire(struct psu_ch *ch);

#endif
