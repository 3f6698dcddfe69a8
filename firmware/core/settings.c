#include "settings.h"

#include <string.h>

#include "../hal/hal.h"
#include "frame.h"
#include "protocol.h"

struct setting_def {
	const char *name;
	uint32_t def, min, max;
};

static const struct setting_def defs[PC_SET_COUNT] = {
	[PC_SET_RELAY_ACTIVE]    = { "relay_active",    0,     0,   (1u << HAL_CHANNELS) - 1 },
	[PC_SET_PWROK_INVERT]    = { "pwrok_invert",    3,     0,   (1u << HAL_CHANNELS) - 1 },
	[PC_SET_MIN_OFF_MS]      = { "min_off_ms",      200,   10,  60000 },
	[PC_SET_MAX_OFF_MS]      = { "max_off_ms",      60000, 100, 3600000 },
	[PC_SET_HOST_TIMEOUT_MS] = { "host_timeout_ms", 5000,  500, 600000 },
};

int pc_settings_find(const char *name, size_t len)
{
	for (int i = 0; i < PC_SET_COUNT; i++)
		if (strlen(defs[i].name) == len && memcmp(defs[i].name, name, len) == 0)
			return i;
	return -1;
}

const char *pc_settings_name(int idx)
{
	return defs[idx].name;
}

void pc_settings_default(struct pc_settings *s)
{
	for (int i = 0; i < PC_SET_COUNT; i++)
		s->v[i] = defs[i].def;
}

int pc_settings_check(const struct pc_settings *s, int idx, uint32_t value)
{
	if (value < defs[idx].min || value > defs[idx].max)
		return -PC_ERR_RANGE;
	/* The pair is checked against the value it would be paired with, so that no
	 * order of `set` commands can leave min_off_ms above max_off_ms. */
	if (idx == PC_SET_MIN_OFF_MS && value > s->v[PC_SET_MAX_OFF_MS])
		return -PC_ERR_RANGE;
	if (idx == PC_SET_MAX_OFF_MS && value < s->v[PC_SET_MIN_OFF_MS])
		return -PC_ERR_RANGE;
	return 0;
}

void pc_settings_encode(const struct pc_settings *s, uint8_t img[PC_SETTINGS_IMAGE_SIZE])
{
	img[0] = PC_SETTINGS_LAYOUT;
	img[1] = PC_SET_COUNT;
	for (int i = 0; i < PC_SET_COUNT; i++)
		for (int b = 0; b < 4; b++)
			img[2 + 4 * i + b] = (uint8_t)(s->v[i] >> (8 * b));
	img[PC_SETTINGS_IMAGE_SIZE - 1] = pc_crc8(img, PC_SETTINGS_IMAGE_SIZE - 1);
}

enum pc_settings_status pc_settings_decode(struct pc_settings *s,
					   const uint8_t img[PC_SETTINGS_IMAGE_SIZE])
{
	struct pc_settings t;
	int blank = 1;

	pc_settings_default(s);
	for (int i = 0; i < PC_SETTINGS_IMAGE_SIZE; i++)
		blank &= img[i] == 0xff;
	if (blank)
		return PC_SETTINGS_BLANK;
	if (img[0] != PC_SETTINGS_LAYOUT || img[1] != PC_SET_COUNT)
		return PC_SETTINGS_BAD_LAYOUT;
	if (pc_crc8(img, PC_SETTINGS_IMAGE_SIZE - 1) != img[PC_SETTINGS_IMAGE_SIZE - 1])
		return PC_SETTINGS_BAD_CRC;
	for (int i = 0; i < PC_SET_COUNT; i++) {
		t.v[i] = 0;
		for (int b = 0; b < 4; b++)
			t.v[i] |= (uint32_t)img[2 + 4 * i + b] << (8 * b);
	}
	/* A valid CRC over out-of-range values means a firmware that wrote them had
	 * other ranges; defaults are safer than clamping. */
	for (int i = 0; i < PC_SET_COUNT; i++)
		if (pc_settings_check(&t, i, t.v[i]) < 0)
			return PC_SETTINGS_BAD_VALUE;
	*s = t;
	return PC_SETTINGS_LOADED;
}

enum pc_settings_status pc_settings_load(struct pc_settings *s)
{
	uint8_t img[PC_SETTINGS_IMAGE_SIZE];

	hal_eeprom_read(PC_SETTINGS_ADDR, img, sizeof(img));
	return pc_settings_decode(s, img);
}

int pc_settings_store(const struct pc_settings *s)
{
	uint8_t img[PC_SETTINGS_IMAGE_SIZE];

	pc_settings_encode(s, img);
	return hal_eeprom_write(PC_SETTINGS_ADDR, img, sizeof(img)) < 0 ? -PC_ERR_EEPROM : 0;
}
