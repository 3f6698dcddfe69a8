/* Settings of the relay controller and their EEPROM images.
 *
 * One table (settings.c) gives each setting its name, default and range; `get`,
 * `set`, `settings` and the EEPROM loader all use it.
 *
 * The EEPROM holds two copies of the settings, at FW_SETTINGS_ADDR_A and _B, so that
 * a power loss while one is written leaves the other whole. A store writes the copy
 * that does not hold the newest valid image first, then the other; at every moment
 * at least one valid copy holds either the old or the new settings. Each copy
 * (FW_SETTINGS_IMAGE_SIZE bytes):
 *   0      layout version (FW_SETTINGS_LAYOUT)
 *   1      number of values (FW_SET_COUNT)
 *   2      sequence number: of two valid copies the newer is the one ahead modulo 256
 *   3..    each value as 4 bytes little-endian, in enum order
 *   last   CRC-8/SMBUS of all the bytes before it
 * Firmware 0.1 kept one copy at address 0 in layout 1 (no sequence number, 23
 * bytes); such an image is read as copy A with sequence number 0.
 *
 * Whatever the EEPROM holds, the node stays powered: relay pins are released while
 * idle (hal.h), so a wrong relay_active can only keep a cut from happening.
 */
#ifndef FW_SETTINGS_H
#define FW_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#define FW_SETTINGS_LAYOUT 2
#define FW_SETTINGS_LAYOUT_V1 1
#define FW_SETTINGS_ADDR_A 0
#define FW_SETTINGS_ADDR_B 32

enum fw_setting {
	FW_SET_RELAY_ACTIVE,
	FW_SET_PWROK_INVERT,
	FW_SET_MIN_OFF_MS,
	FW_SET_MAX_OFF_MS,
	FW_SET_HOST_TIMEOUT_MS,
	FW_SET_COUNT
};

#define FW_SETTINGS_IMAGE_SIZE (3 + 4 * FW_SET_COUNT + 1)
#define FW_SETTINGS_IMAGE_SIZE_V1 (2 + 4 * FW_SET_COUNT + 1)

struct fw_settings {
	uint32_t v[FW_SET_COUNT];
	uint8_t seq;		/* sequence number of the newest stored copy */
	uint8_t slot;		/* which copy that is: 0 (A) or 1 (B) */
};

/* What the EEPROM holds, as fw_settings_load found it (the `settings=` of the
 * banner and of `status`). */
enum fw_settings_status {
	FW_SETTINGS_OK,		/* a valid copy, and the other valid or blank */
	FW_SETTINGS_RECOVERED,	/* a valid copy loaded; the other is damaged (a power
				 * loss during a store): the next store rewrites it */
	FW_SETTINGS_BLANK,	/* erased EEPROM (all 0xFF): defaults */
	FW_SETTINGS_CORRUPT,	/* no valid copy: defaults */
	FW_SETTINGS_STATUS_COUNT
};

/* What one copy holds. */
enum fw_settings_copy {
	FW_COPY_VALID,
	FW_COPY_BLANK,		/* all 0xFF */
	FW_COPY_BAD_LAYOUT,	/* other layout version or value count */
	FW_COPY_BAD_CRC,
	FW_COPY_BAD_VALUE,	/* a value out of its range (a firmware with other ranges) */
};

/* Index of the setting named name[0..len), or -1. */
int fw_settings_find(const char *name, size_t len);

/* Name of setting idx (a static string). */
const char *fw_settings_name(int idx);

/* Name of a status ("ok", "recovered", "blank", "corrupt"; a static string). */
const char *fw_settings_status_name(int status);

/* The defaults, as if nothing had been stored (seq 0, copy B the newest, so that the
 * first store writes copy A first). */
void fw_settings_default(struct fw_settings *s);

/* Whether setting idx may take value given the others in s (ranges of the table,
 * and min_off_ms <= max_off_ms). Returns 0 or -FW_ERR_RANGE. */
int fw_settings_check(const struct fw_settings *s, int idx, uint32_t value);

/* Serialize s with sequence number seq to one copy's image / parse one copy (layout
 * 2, or layout 1 with seq 0). On anything but FW_COPY_VALID, s holds the defaults. */
void fw_settings_encode(const struct fw_settings *s, uint8_t seq,
			uint8_t img[FW_SETTINGS_IMAGE_SIZE]);
enum fw_settings_copy fw_settings_decode(struct fw_settings *s,
					 const uint8_t img[FW_SETTINGS_IMAGE_SIZE]);

/* Read both copies through the HAL and keep the newest valid one; with none, s holds
 * the defaults. */
enum fw_settings_status fw_settings_load(struct fw_settings *s);

/* Store s in both copies (see above) and update s->seq and s->slot. Returns 0 or
 * -FW_ERR_EEPROM (a copy did not read back: s is unchanged, the EEPROM may hold the
 * new settings in one copy). */
int fw_settings_store(struct fw_settings *s);

#endif
