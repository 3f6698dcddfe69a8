/* Helpers for the firmware's host unit tests: boot the core on the fake HAL, send
 * framed requests, collect replies and events, run the clock. */
#ifndef FW_FWTEST_H
#define FW_FWTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/frame.h"
#include "../core/controller.h"
#include "../core/rng.h"
#include "../hal/host/hal_fake.h"

#define FW_MAX_LINES 256

extern struct fw fw_core;

/* Output lines since the last fw_collect, checksums verified and stripped. */
struct fw_lines {
	char *line[FW_MAX_LINES];
	size_t n;
};

/* Fresh fake (PWR_OK inputs at pwrok_levels), optionally with EEPROM contents
 * prepared by `prep`, then fw_init. The banner is left in fw_events. */
void fw_boot(uint8_t pwrok_levels);
void fw_boot_keep_eeprom(void);		/* an MCU reset over the same fake, then fw_init */

/* Collect output: every line must be a valid frame of at most 128 bytes. Replies
 * and events are appended to fw_replies / fw_events. */
void fw_collect(void);
extern struct fw_lines fw_replies, fw_events;
void fw_clear(void);

/* Send body sealed with its CRC, poll once, and return the one reply it produced
 * (asserts exactly one). The string stays valid until fw_clear. */
const char *fw_req(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Send raw bytes (no sealing), poll, return the one reply. */
const char *fw_raw(const void *buf, size_t len);

/* Advance the clock by us in steps of at most step_us, polling after each. */
void fw_run(uint64_t us, uint64_t step_us);

/* Value of " key=" in line, as unsigned; asserts it is present. */
uint64_t fw_key(const char *line, const char *key);
bool fw_has_key(const char *line, const char *key);

/* Index of the first event whose text contains all of `needle` after "!SEQ T ",
 * starting at from; -1 if none. fw_event_t gives its T. */
int fw_find_event(const char *needle, size_t from);
uint64_t fw_event_t(size_t idx);
uint64_t fw_event_seq(size_t idx);

#endif
