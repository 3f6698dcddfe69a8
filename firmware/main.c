/* powercut relay controller: the MCU's main loop. */
#include "core/pc.h"
#include "hal/hal.h"

static struct pc pc;

int main(void)
{
	pc_init(&pc);
	for (;;) {
		pc_poll(&pc);
		/* Kicked only here: a hang anywhere in the loop resets the chip, which
		 * powers every channel. */
		hal_watchdog_kick();
		hal_idle();
	}
}
