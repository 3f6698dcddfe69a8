#include "clock.h"

uint64_t fw_clock_ticks(uint64_t wraps, uint16_t count, bool ovf_pending)
{
	/* The lower-half test needs the sample taken well within half a period (16 ms
	 * at 0.5 us per tick) of the flag check, which any critical section is. */
	uint64_t w = wraps;

	if (ovf_pending && count < 0x8000u)
		w++;
	return w << 16 | count;
}

uint64_t fw_clock_wraps_then(uint64_t now, uint16_t then_low)
{
	return now - (uint16_t)((uint16_t)now - then_low);
}
