#include "settings.h"

#include <string.h>

#include "../hal/hal.h"
#include "frame.h"
#include "protocol.h"

struct setting_def {
	const char *name;
	uint32_t def, min, max;
};

static const HAL_ROM struct setting_def defs[FW_SET_COUNT] = {
	[FW_SET_RELAY_ACTIVE]    = { "relay_active",    0,     0,   (1u << HAL_CHANNELS) - 1 },
	[FW_SET_PWROK_INVERT]    = { "pwrok_invert",    3,     0,   (1u << HAL_CHANNELS) - 1 },
	[FW_SET_MIN_OFF_MS]      = { "min_off_ms",      200,   10,  60000 },
	[FW_SET_MAX_OFF_MS]      = { "max_off_ms",      60000, 100, 3600000 },
	[FW_SET_HOST_TIMEOUT_MS] = { "host_timeout_ms", 5000,  500, 600000 },
};

static const char *const status_names[FW_SETTINGS_STATUS_COUNT] = {
	"ok", "recovered", "blank", "corrupt",
};

static const uint16_t copy_addr[2] = { FW_SETTINGS_ADDR_A, FW_SETTINGS_ADDR_B };

int fw_settings_find(const char *name, size_t len)
{
	for (int i = 0; i < FW_SET_COUNT; i++)
		if (strlen(defs[i].name) == len && memcmp(defs[i].name, name, len) == 0)
			return i;
	return -1;
}

const char *fw_settings_name(int idx)
{
	return defs[idx].name;
}

const char *fw_settings_status_name(int status)
{
	return status_names[status];
}

void fw_settings_default(struct fw_settings *s)
{
	for (int i = 0; i < FW_SET_COUNT; i++)
		s->v[i] = defs[i].def;
	s->seq = 0;
	s->slot = 1;
}

int fw_settings_check(const struct fw_settings *s, int idx, uint32_t value)
{
	if (value < defs[idx].min || value > defs[idx].max)
		return -FW_ERR_RANGE;
	/* The pair is checked against the value it would be paired with, so that no
	 * order of `set` commands can leave min_off_ms above max_off_ms. */
	if (idx == FW_SET_MIN_OFF_MS && value > s->v[FW_SET_MAX_OFF_MS])
		return -FW_ERR_RANGE;
	if (idx == FW_SET_MAX_OFF_MS && value < s->v[FW_SET_MIN_OFF_MS])
		return -FW_ERR_RANGE;
	return 0;
}

void fw_settings_encode(const struct fw_settings *s, uint8_t seq,
			uint8_t img[FW_SETTINGS_IMAGE_SIZE])
{
	img[0] = FW_SETTINGS_LAYOUT;
	img[1] = FW_SET_COUNT;
	img[2] = seq;
	for (int i = 0; i < FW_SET_COUNT; i++)
		for (int b = 0; b < 4; b++)
			img[3 + 4 * i + b] = (uint8_t)(s->v[i] >> (8 * b));
	img[FW_SETTINGS_IMAGE_SIZE - 1] = fw_crc8(img, FW_SETTINGS_IMAGE_SIZE - 1);
}

enum fw_settings_copy fw_settings_decode(struct fw_settings *s,
					 const uint8_t img[FW_SETTINGS_IMAGE_SIZE])
{
	struct fw_settings t;
	uint8_t size = FW_SETTINGS_IMAGE_SIZE, first = 3;
	int blank = 1;

	fw_settings_default(s);
	for (int i = 0; i < FW_SETTINGS_IMAGE_SIZE; i++)
		blank &= img[i] == 0xff;
	if (blank)
		return FW_COPY_BLANK;
	if (img[1] != FW_SET_COUNT)
		return FW_COPY_BAD_LAYOUT;
	if (img[0] == FW_SETTINGS_LAYOUT_V1) {
		size = FW_SETTINGS_IMAGE_SIZE_V1;
		first = 2;
	} else if (img[0] != FW_SETTINGS_LAYOUT) {
		return FW_COPY_BAD_LAYOUT;
	}
	if (fw_crc8(img, size - 1u) != img[size - 1u])
		return FW_COPY_BAD_CRC;
	for (int i = 0; i < FW_SET_COUNT; i++) {
		t.v[i] = 0;
		for (int b = 0; b < 4; b++)
			t.v[i] |= (uint32_t)img[first + 4 * i + b] << (8 * b);
	}
	/* A valid CRC over out-of-range values means a firmware that wrote them had
	 * other ranges; defaults are safer than clamping. */
	for (int i = 0; i < FW_SET_COUNT; i++)
		if (fw_settings_check(&t, i, t.v[i]) < 0)
			return FW_COPY_BAD_VALUE;
	t.seq = first == 3 ? img[2] : 0;
	t.slot = 0;
	*s = t;
	return FW_COPY_VALID;
}

enum fw_settings_status fw_settings_load(struct fw_settings *s)
{
	uint8_t img[FW_SETTINGS_IMAGE_SIZE];
	struct fw_settings c[2];
	enum fw_settings_copy st[2];

	for (uint8_t k = 0; k < 2; k++) {
		hal_eeprom_read(copy_addr[k], img, sizeof(img));
		st[k] = fw_settings_decode(&c[k], img);
		c[k].slot = k;
	}
	if (st[0] != FW_COPY_VALID && st[1] != FW_COPY_VALID) {
		fw_settings_default(s);
		return st[0] == FW_COPY_BLANK && st[1] == FW_COPY_BLANK ? FW_SETTINGS_BLANK :
									  FW_SETTINGS_CORRUPT;
	}
	if (st[0] == FW_COPY_VALID && st[1] == FW_COPY_VALID)
		/* B is newer when it is ahead of A by 1..127 modulo 256. */
		*s = (int8_t)(uint8_t)(c[1].seq - c[0].seq) > 0 ? c[1] : c[0];
	else
		*s = st[0] == FW_COPY_VALID ? c[0] : c[1];
	return st[0] == FW_COPY_BLANK || st[1] == FW_COPY_BLANK || st[0] == st[1] ?
	       FW_SETTINGS_OK : FW_SETTINGS_RECOVERED;
}

int fw_settings_store(struct fw_settings *s)
{
	uint8_t img[FW_SETTINGS_IMAGE_SIZE];
	uint8_t first = s->slot ^ 1u;

	/* The copy that is not the newest first: until it reads back whole, the newest
	 * one stays untouched. */
	for (uint8_t k = 0; k < 2; k++) {
		fw_settings_encode(s, (uint8_t)(s->seq + 1u + k), img);
		if (hal_eeprom_write(copy_addr[first ^ k], img, sizeof(img)) < 0)
			return -FW_ERR_EEPROM;
	}
	s->seq = (uint8_t)(s->seq + 2u);
	s->slot = first ^ 1u;
	return 0;
}
