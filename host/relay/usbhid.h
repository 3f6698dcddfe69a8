/* The usbhid relay's transport seam: the driver speaks HID feature reports through
 * these hooks; usbhid.c implements them with libusb, tests with a fake that checks
 * the exact bytes. Boards: VID 16c0 PID 05df ("USBRelayN", 1..8 channels).
 *   set feature report, 8 bytes: [0xFF, n] relay n (1-based) energized, [0xFD, n]
 *     de-energized, [0xFE] all energized, [0xFC] all de-energized
 *   get feature report, 8 bytes: serial in bytes 0..4, energized bitmask in byte 7
 *     (bit n-1 for relay n) */
#ifndef PC_USBHID_H
#define PC_USBHID_H

#include <stddef.h>
#include <stdint.h>

#define USBHID_VID 0x16c0
#define USBHID_PID 0x05df
#define USBHID_REPORT 8

struct usbhid_transport {
	/* Open the board with serial `serial` (NULL: the only one). *channels gets the
	 * number from the product string, or 0 when unknown. 0 or -errno. */
	int (*open)(void **h, const char *serial, int *channels);
	int (*set_feature)(void *h, const uint8_t report[USBHID_REPORT]);
	int (*get_feature)(void *h, uint8_t report[USBHID_REPORT]);
	void (*close)(void *h);
};

/* The channel count of a board whose USB product string is "USBRelayN" (N 1..8), or
 * -1 for any other string: 16c0:05df is V-USB's shared id, so only boards naming
 * themselves so are claimed. */
int usbhid_product_channels(const char *product);

/* For tests: replace the libusb transport (NULL restores it). */
void usbhid_set_transport(const struct usbhid_transport *t);

#endif
