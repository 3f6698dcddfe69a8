#include "psu.h"

void psu_ch_init(struct psu_ch *ch)
{
	ch->energized = false;
	ch->dc_good = true;
	ch->pending = false;
	ch->pending_at = 0;
}

enum psu_action psu_relay(struct psu_ch *ch, bool energized, uint64_t now,
			  uint64_t hold, uint64_t rise)
{
	bool want_good = !energized;

	ch->energized = energized;
	if (ch->dc_good == want_good) {
		/* Back to where DC already is: a bounce shorter than the hold-up, or AC lost
		 * again while DC was still rising. Whatever was pending must not happen. */
		if (!ch->pending)
			return PSU_KEEP;
		ch->pending = false;
		return PSU_CANCEL;
	}
	if (ch->pending)
		return PSU_KEEP;	/* already on its way to want_good */
	ch->pending = true;
	ch->pending_at = now + (want_good ? rise : hold);
	return PSU_SCHEDULE;
}

bool psu_fire(struct psu_ch *ch)
{
	if (ch->pending) {
		ch->pending = false;
		ch->dc_good = !ch->dc_good;
	}
	return ch->dc_good;
}
