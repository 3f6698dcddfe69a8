/* Settings of the relay controller and their EEPROM image.
 *
 * One table (settings.c) gives each setting its name, default and range; `get`,
 * `set`, `settings` and the EEPROM loader all use it.
 *
 * EEPROM image at address 0 (PC_SETTINGS_IMAGE_SIZE bytes):
 *   0      layout version (PC_SETTINGS_LAYOUT)
 *   1      number of values (PC_SET_COUNT)
 *   2..    each value as 4 bytes little-endian, in enum order
 *   last   CRC-8/SMBUS of all the bytes before it
 */
#ifndef PC_SETTINGS_H
#define PC_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#define PC_SETTINGS_LAYOUT 1
#define PC_SETTINGS_ADDR   0

enum pc_setting {
	PC_SET_RELAY_ACTIVE,
	PC_SET_PWROK_INVERT,
	PC_SET_MIN_OFF_MS,
	PC_SET_MAX_OFF_MS,
	PC_SET_HOST_TIMEOUT_MS,
	PC_SET_COUNT
};

#define PC_SETTINGS_IMAGE_SIZE (2 + 4 * PC_SET_COUNT + 1)

struct pc_settings {
	uint32_t v[PC_SET_COUNT];
};

/* What pc_settings_load found. */
enum pc_settings_status {
	PC_SETTINGS_LOADED,	/* a valid image */
	PC_SETTINGS_BLANK,	/* erased EEPROM (all 0xFF): defaults */
	PC_SETTINGS_BAD_LAYOUT,	/* other layout version or value count: defaults */
	PC_SETTINGS_BAD_CRC,	/* CRC mismatch: defaults */
	PC_SETTINGS_BAD_VALUE,	/* a value out of its range: defaults */
};

/* Index of the setting named name[0..len), or -1. */
int pc_settings_find(const char *name, size_t len);

/* Name of setting idx (a static string). */
const char *pc_settings_name(int idx);

void pc_settings_default(struct pc_settings *s);

/* Whether setting idx may take value given the others in s (ranges of the table,
 * and min_off_ms <= max_off_ms). Returns 0 or -PC_ERR_RANGE. */
int pc_settings_check(const struct pc_settings *s, int idx, uint32_t value);

/* Serialize to / parse from an EEPROM image (see above). */
void pc_settings_encode(const struct pc_settings *s, uint8_t img[PC_SETTINGS_IMAGE_SIZE]);
enum pc_settings_status pc_settings_decode(struct pc_settings *s,
					   const uint8_t img[PC_SETTINGS_IMAGE_SIZE]);

/* Read the settings from EEPROM through the HAL; on any mismatch s holds the defaults. */
enum pc_settings_status pc_settings_load(struct pc_settings *s);

/* Write the settings to EEPROM. Returns 0 or -PC_ERR_EEPROM. */
int pc_settings_store(const struct pc_settings *s);

#endif
