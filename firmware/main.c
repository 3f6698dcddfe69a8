/* powercut relay controller: the MCU's main loop. */
#include "core/controller.h"
#include "hal/hal.h"

static struct fw fw;

int main(void)
{
	fw_init(&fw);
	for (;;) {
		fw_poll(&fw);
		/* Kicked only here: a hang anywhere in the loop resets the chip, which
		 * powers every channel. */
		hal_watchdog_kick();
		hal_idle();
	}
}
