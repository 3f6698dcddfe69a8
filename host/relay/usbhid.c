/* The usbhid relay: the common 16c0:05df USB HID relay boards, through libusb.
 * The protocol bytes are in usbhid.h; the transport is a seam so tests can check the
 * exact reports without a board. Power is off while a relay is energized
 * (normally-closed contact carrying power, active_level=high); active_level=low
 * inverts that for boards wired on the normally-open contact. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libusb.h>

#include "log.h"
#include "relay.h"
#include "usbhid.h"

int usbhid_product_channels(const char *product)
{
	/* dcttech's boards name themselves "USBRelay1" .. "USBRelay8"; every other
	 * V-USB device shares 16c0:05df. */
	if (!product || strncmp(product, "USBRelay", 8) || product[8] < '1' || product[8] > '8' ||
	    product[9])
		return -1;
	return product[8] - '0';
}

/* ---- libusb transport ---- */

struct usb_handle {
	libusb_context *ctx;
	libusb_device_handle *dev;
};

enum { HID_GET_REPORT = 0x01, HID_SET_REPORT = 0x09, HID_FEATURE = 3 };

static int usb_set_feature(void *h, const uint8_t report[USBHID_REPORT])
{
	struct usb_handle *u = h;
	uint8_t buf[USBHID_REPORT];
	int n;

	memcpy(buf, report, sizeof(buf));
	n = libusb_control_transfer(u->dev, LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_CLASS |
				    LIBUSB_RECIPIENT_INTERFACE, HID_SET_REPORT, HID_FEATURE << 8, 0,
				    buf, sizeof(buf), 1000);
	return n == (int)sizeof(buf) ? 0 : -EIO;
}

static int usb_get_feature(void *h, uint8_t report[USBHID_REPORT])
{
	struct usb_handle *u = h;
	int n = libusb_control_transfer(u->dev, LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_CLASS |
					LIBUSB_RECIPIENT_INTERFACE, HID_GET_REPORT,
					HID_FEATURE << 8, 0, report, USBHID_REPORT, 1000);
	return n == USBHID_REPORT ? 0 : -EIO;
}

static void usb_close(void *h)
{
	struct usb_handle *u = h;

	if (!u)
		return;
	if (u->dev) {
		libusb_release_interface(u->dev, 0);
		libusb_close(u->dev);
	}
	libusb_exit(u->ctx);
	free(u);
}

static int usb_open(void **hp, const char *serial, int *channels)
{
	struct usb_handle *u = calloc(1, sizeof(*u));
	libusb_device **list = NULL;
	ssize_t n;
	int rc = -ENOENT;

	if (!u)
		return -ENOMEM;
	if (libusb_init(&u->ctx) != 0) {
		free(u);
		return -EIO;
	}
	n = libusb_get_device_list(u->ctx, &list);
	for (ssize_t i = 0; i < n && !u->dev; i++) {
		struct libusb_device_descriptor d;
		libusb_device_handle *dev;
		uint8_t rep[USBHID_REPORT];
		unsigned char prod[64] = "";

		if (libusb_get_device_descriptor(list[i], &d) != 0 || d.idVendor != USBHID_VID ||
		    d.idProduct != USBHID_PID)
			continue;
		if (libusb_open(list[i], &dev) != 0) {
			rc = -EACCES;
			continue;
		}
		/* 16c0:05df is V-USB's shared id: only a board that says it is a relay
		 * board is claimed (and its kernel driver detached). */
		if (libusb_get_string_descriptor_ascii(dev, d.iProduct, prod, sizeof(prod) - 1) < 0 ||
		    usbhid_product_channels((const char *)prod) < 0) {
			pc_debug(LOG_RELAY, "USB device %04x:%04x '%s' is not a USBRelayN board: skipped",
				 d.idVendor, d.idProduct, (const char *)prod);
			libusb_close(dev);
			continue;
		}
		libusb_set_auto_detach_kernel_driver(dev, 1);
		if (libusb_claim_interface(dev, 0) != 0) {
			libusb_close(dev);
			rc = -EBUSY;
			continue;
		}
		u->dev = dev;
		if (usb_get_feature(u, rep) < 0 ||
		    (serial && strncmp((const char *)rep, serial, 5) != 0)) {
			/* Another board (or one that does not answer): not ours. */
			libusb_release_interface(dev, 0);
			libusb_close(dev);
			u->dev = NULL;
			continue;
		}
		/* "USBRelay2": the channel count is the trailing digit. */
		*channels = usbhid_product_channels((const char *)prod);
	}
	libusb_free_device_list(list, 1);
	if (!u->dev) {
		usb_close(u);
		return rc;
	}
	*hp = u;
	return 0;
}

static const struct usbhid_transport usb_transport = {
	.open = usb_open,
	.set_feature = usb_set_feature,
	.get_feature = usb_get_feature,
	.close = usb_close,
};

static const struct usbhid_transport *transport = &usb_transport;

void usbhid_set_transport(const struct usbhid_transport *t)
{
	transport = t ? t : &usb_transport;
}

/* ---- the driver ---- */

struct usbhid_priv {
	const struct usbhid_transport *t;
	void *h;
	char serial[6];
	int channels;
};

static int usbhid_open(struct relay *r)
{
	struct usbhid_priv *p = calloc(1, sizeof(*p));
	const char *want = r->cfg->relay->usbhid_serial;
	uint8_t rep[USBHID_REPORT];
	int rc;

	if (!p)
		return -ENOMEM;
	p->t = transport;
	rc = p->t->open(&p->h, want, &p->channels);
	if (rc < 0) {
		if (want)
			pc_err(LOG_RELAY, "cannot open USB HID relay board '%s' (%04x:%04x): %s", want,
			       USBHID_VID, USBHID_PID, strerror(-rc));
		else
			pc_err(LOG_RELAY, "cannot open a USB HID relay board (%04x:%04x): %s",
			       USBHID_VID, USBHID_PID, strerror(-rc));
		free(p);
		return rc;
	}
	rc = p->t->get_feature(p->h, rep);
	if (rc < 0) {
		pc_err(LOG_RELAY, "cannot read USB HID relay board state: %s", strerror(-rc));
		p->t->close(p->h);
		free(p);
		return rc;
	}
	memcpy(p->serial, rep, 5);
	p->serial[5] = '\0';
	if (p->channels && r->cfg->relay->channels > p->channels) {
		pc_err(LOG_RELAY, "USB HID relay board '%s' has %d channels, the bench says %lld",
		       p->serial, p->channels, (long long)r->cfg->relay->channels);
		p->t->close(p->h);
		free(p);
		return -EINVAL;
	}
	r->priv = p;
	pc_debug(LOG_RELAY, "USB HID relay board '%s', state 0x%02x", p->serial, rep[7]);
	return 0;
}

static void usbhid_close(struct relay *r)
{
	struct usbhid_priv *p = r->priv;

	p->t->close(p->h);
	free(p);
}

/* Power off means energized unless the board is wired normally-open. */
static int set_power(struct relay *r, int ch, bool power_on)
{
	struct usbhid_priv *p = r->priv;
	bool energize = !power_on;
	uint8_t rep[USBHID_REPORT] = { 0 };
	int rc;

	if (r->cfg->relay->active_level == ACTIVE_LOW)
		energize = !energize;
	rep[0] = energize ? 0xFF : 0xFD;
	rep[1] = (uint8_t)(ch + 1);
	rc = p->t->set_feature(p->h, rep);
	if (rc < 0) {
		pc_err(LOG_RELAY, "cannot switch relay %d of USB HID board '%s': %s", ch + 1,
		       p->serial, strerror(-rc));
		return rc;
	}
	/* The board acknowledges nothing: read its state back, so that a relay that did
	 * not switch (another V-USB device, a dead coil driver) is an error, not a cut
	 * that never happened. */
	if ((rc = p->t->get_feature(p->h, rep)) < 0) {
		pc_err(LOG_RELAY, "cannot read back relay %d of USB HID board '%s': %s", ch + 1,
		       p->serial, strerror(-rc));
		return rc;
	}
	if (!!(rep[7] & (1u << ch)) != energize) {
		pc_err(LOG_RELAY, "relay %d of USB HID board '%s' did not switch (state 0x%02x after "
		       "the request)", ch + 1, p->serial, rep[7]);
		return -EIO;
	}
	return 0;
}

static int usbhid_on(struct relay *r, int ch)
{
	return set_power(r, ch, true);
}

static int usbhid_off(struct relay *r, int ch)
{
	return set_power(r, ch, false);
}

static int usbhid_status(struct relay *r, struct relay_status *s)
{
	struct usbhid_priv *p = r->priv;
	uint8_t rep[USBHID_REPORT];
	int rc = p->t->get_feature(p->h, rep);

	if (rc < 0) {
		pc_err(LOG_RELAY, "cannot read USB HID relay board '%s': %s", p->serial, strerror(-rc));
		return rc;
	}
	snprintf(s->id, sizeof(s->id), "usbhid:%.5s", (const char *)rep);
	for (int ch = 0; ch < s->channels && ch < RELAY_MAX_CH; ch++) {
		bool energized = rep[7] & (1u << ch);
		if (r->cfg->relay->active_level == ACTIVE_LOW)
			energized = !energized;
		s->state[ch] = energized ? RELAY_OFF : RELAY_ON;
	}
	return 0;
}

/* Keys of [relay] only this driver reads (config.h, "Drivers own their keys"). */
static const struct opt_def usbhid_options[] = {
	{ "usbhid_serial", OPT_STRING, RELAY_CFG(usbhid_serial), NULL, OPT_NOLIMIT, NULL,
	  "usbhid: serial of the board (5 characters); unset: the only board present.", 0 },
	RELAY_OPT_ACTIVE_LEVEL,
	{ 0 }
};

const struct relay_ops relay_usbhid_ops = {
	.version = RELAY_OPS_VERSION,
	.name = "usbhid",
	.help = "USB HID relay boards 16c0:05df, 1-8 channels (libusb)",
	.options = usbhid_options,
	.open = usbhid_open,
	.close = usbhid_close,
	.on = usbhid_on,
	.off = usbhid_off,
	.status = usbhid_status,
};
