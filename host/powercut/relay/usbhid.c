/* The usbhid relay: not implemented yet. Registered so that a bench naming it gets a
 * clear message instead of an unknown driver. */
#include <errno.h>

#include "log.h"
#include "relay.h"

static int usbhid_open(struct relay *r)
{
	pc_err(LOG_RELAY, "relay driver 'usbhid' is not implemented yet");
	return -ENOTSUP;
}

static void usbhid_close(struct relay *r)
{
}

static int usbhid_switch(struct relay *r, int ch)
{
	return -ENOTSUP;
}

static int usbhid_status(struct relay *r, struct relay_status *s)
{
	return -ENOTSUP;
}

const struct relay_ops relay_usbhid_ops = {
	.version = RELAY_OPS_VERSION,
	.name = "usbhid",
	.help = "not implemented yet",
	.open = usbhid_open,
	.close = usbhid_close,
	.on = usbhid_switch,
	.off = usbhid_switch,
	.status = usbhid_status,
};
