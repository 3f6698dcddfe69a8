/* The gpio relay: not implemented yet. Registered so that a bench naming it gets a
 * clear message instead of an unknown driver. */
#include <errno.h>

#include "log.h"
#include "relay.h"

static int gpio_open(struct relay *r)
{
	pc_err(LOG_RELAY, "relay driver 'gpio' is not implemented yet");
	return -ENOTSUP;
}

static void gpio_close(struct relay *r)
{
}

static int gpio_switch(struct relay *r, int ch)
{
	return -ENOTSUP;
}

static int gpio_status(struct relay *r, struct relay_status *s)
{
	return -ENOTSUP;
}

const struct relay_ops relay_gpio_ops = {
	.version = RELAY_OPS_VERSION,
	.name = "gpio",
	.help = "not implemented yet",
	.open = gpio_open,
	.close = gpio_close,
	.on = gpio_switch,
	.off = gpio_switch,
	.status = gpio_status,
};
