/* Line framing and error texts of the powercut serial protocol (see frame.h). */
#include "frame.h"

/* A bitwise CRC instead of a 256-byte table: the AVR has 2 KiB of RAM and a table in
 * flash needs pgm_read_byte, which the host build does not have. Lines are short. */
uint8_t fw_crc8_update(uint8_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len--) {
		crc ^= *p++;
		for (uint8_t bit = 0; bit < 8; bit++)
			crc = (uint8_t)((crc & 0x80) ? (crc << 1) ^ 0x07 : crc << 1);
	}
	return crc;
}

uint8_t fw_crc8(const void *buf, size_t len)
{
	return fw_crc8_update(0, buf, len);
}

/* Upper-case only: the contract says CC is upper-case, and accepting one spelling
 * keeps a line and its checksum in one-to-one correspondence. */
static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int fw_frame_check(const char *line, size_t len, size_t max)
{
	size_t star = len, stars = 0;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > max)
		return -FW_ERR_TOO_LONG;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c > 0x7e)
			return -FW_ERR_MALFORMED;
		if (c == '*') {
			star = i;
			stars++;
		}
	}
	if (stars > 1)
		return -FW_ERR_MALFORMED;
	if (stars == 0 || len - star != 3)
		return -FW_ERR_CHECKSUM;

	int hi = hex_value(line[star + 1]), lo = hex_value(line[star + 2]);

	if (hi < 0 || lo < 0 || fw_crc8(line, star) != (uint8_t)(hi << 4 | lo))
		return -FW_ERR_CHECKSUM;
	return (int)star;
}

int fw_frame_seal(char *buf, size_t len, size_t cap)
{
	static const char digits[] = "0123456789ABCDEF";

	if (cap < 4 || len > cap - 4)
		return -1;

	uint8_t crc = fw_crc8(buf, len);

	buf[len] = '*';
	buf[len + 1] = digits[crc >> 4];
	buf[len + 2] = digits[crc & 0x0f];
	buf[len + 3] = '\0';
	return (int)(len + 3);
}

const char *fw_err_text(int code)
{
	/* Indexed by code; kept here so every part prints the same texts. */
	static const char *const texts[FW_ERR_MAX + 1] = {
		[FW_ERR_UNKNOWN_COMMAND] = "unknown command",
		[FW_ERR_CHECKSUM]        = "bad checksum",
		[FW_ERR_TOO_LONG]        = "line too long",
		[FW_ERR_BAD_ARGUMENT]    = "bad argument",
		[FW_ERR_RANGE]           = "out of range",
		[FW_ERR_BUSY]            = "channel busy",
		[FW_ERR_NOT_ARMED]       = "not armed",
		[FW_ERR_UNKNOWN_SETTING] = "unknown setting",
		[FW_ERR_EEPROM]          = "eeprom",
		[FW_ERR_MALFORMED]       = "malformed line",
	};

	if (code < FW_ERR_MIN || code > FW_ERR_MAX)
		return "unknown error";
	return texts[code];
}
