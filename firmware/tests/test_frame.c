/* Framing: CRC-8/SMBUS, fw_frame_check's cases, fw_frame_seal, error texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../core/frame.h"

/* Reference CRC computed independently, byte-wise from the polynomial's definition
 * (long division of the message followed by 8 zero bits). */
static uint8_t crc_ref(const uint8_t *p, size_t len)
{
	unsigned reg = 0;

	for (size_t i = 0; i < len + 1; i++) {
		unsigned byte = i < len ? p[i] : 0;

		for (int b = 7; b >= 0; b--) {
			reg = (reg << 1) | ((byte >> b) & 1u);
			if (reg & 0x100)
				reg ^= 0x107;
		}
	}
	return (uint8_t)reg;
}

static void test_crc_vectors(void **state)
{
	uint8_t buf[64];

	/* the catalogue check value of CRC-8/SMBUS */
	assert_int_equal(fw_crc8("123456789", 9), 0xF4);
	assert_int_equal(fw_crc8("", 0), 0x00);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(buf); len++)
		assert_int_equal(fw_crc8(buf, len), crc_ref(buf, len));
	assert_int_equal(fw_crc8_update(fw_crc8(buf, 10), buf + 10, 20), fw_crc8(buf, 30));
}

static int check(const char *s, size_t max)
{
	return fw_frame_check(s, strlen(s), max);
}

static void test_check_valid(void **state)
{
	char buf[80] = "ping 42";
	int n = fw_frame_seal(buf, 7, sizeof(buf));

	assert_int_equal(n, 10);
	assert_int_equal(buf[7], '*');
	assert_int_equal(check(buf, 64), 7);
	/* a trailing \r is ignored */
	strcat(buf, "\r");
	assert_int_equal(check(buf, 64), 7);
	/* empty body */
	assert_int_equal(check("*00", 64), 0);
}

static void test_check_checksum(void **state)
{
	char buf[80] = "status";
	int n = fw_frame_seal(buf, 6, sizeof(buf));

	assert_int_equal(check("status", 64), -FW_ERR_CHECKSUM);	/* missing */
	assert_int_equal(check("", 64), -FW_ERR_CHECKSUM);		/* empty line */
	assert_int_equal(check("status*", 64), -FW_ERR_CHECKSUM);	/* no digits */
	assert_int_equal(check("status*1", 64), -FW_ERR_CHECKSUM);	/* one digit */
	buf[n - 1] = buf[n - 1] == '0' ? '1' : '0';			/* wrong CRC */
	assert_int_equal(check(buf, 64), -FW_ERR_CHECKSUM);
	/* lower-case digits are not the contract's spelling */
	strcpy(buf, "ping");
	n = fw_frame_seal(buf, 4, sizeof(buf));
	assert_string_equal(buf, "ping*DC");
	assert_int_equal(check("ping*dc", 64), -FW_ERR_CHECKSUM);
	assert_int_equal(check("ping*DC0", 64), -FW_ERR_CHECKSUM);	/* three digits */
	/* one flipped bit anywhere in the body is caught */
	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 7; b++) {
			char t[8];

			memcpy(t, "ping*DC", 8);
			t[i] ^= (char)(1 << b);
			if (t[i] < 0x20 || t[i] > 0x7e || t[i] == '*')
				continue;
			assert_int_equal(check(t, 64), -FW_ERR_CHECKSUM);
		}
}

static void test_check_malformed(void **state)
{
	char buf[80];

	strcpy(buf, "pi\tng");
	fw_frame_seal(buf, 5, sizeof(buf));
	assert_int_equal(check(buf, 64), -FW_ERR_MALFORMED);		/* control byte */
	strcpy(buf, "pi\x7fng");
	fw_frame_seal(buf, 5, sizeof(buf));
	assert_int_equal(check(buf, 64), -FW_ERR_MALFORMED);		/* DEL */
	strcpy(buf, "pi\xc3\xa9");
	fw_frame_seal(buf, 4, sizeof(buf));
	assert_int_equal(check(buf, 64), -FW_ERR_MALFORMED);		/* non-ASCII */
	strcpy(buf, "a*b");
	fw_frame_seal(buf, 3, sizeof(buf));
	assert_int_equal(check(buf, 64), -FW_ERR_MALFORMED);		/* '*' in body */
	assert_int_equal(fw_frame_check("ping\0*00", 8, 64), -FW_ERR_MALFORMED); /* NUL */
	assert_int_equal(check("ping\r\r", 64), -FW_ERR_MALFORMED);	/* only one \r */
}

static void test_check_too_long(void **state)
{
	char buf[200];

	memset(buf, 'x', 61);
	assert_int_equal(fw_frame_seal(buf, 61, sizeof(buf)), 64);
	assert_int_equal(check(buf, FW_LINE_MAX_HOST), 61);		/* exactly 64: ok */
	strcat(buf, "\r");
	assert_int_equal(check(buf, FW_LINE_MAX_HOST), 61);		/* \r not counted */
	memset(buf, 'x', 62);
	fw_frame_seal(buf, 62, sizeof(buf));
	assert_int_equal(check(buf, FW_LINE_MAX_HOST), -FW_ERR_TOO_LONG);	/* 65 */
	assert_int_equal(check(buf, FW_LINE_MAX_FW), 62);
	/* too long wins over the other errors */
	memset(buf, '\t', 100);
	buf[100] = 0;
	assert_int_equal(check(buf, FW_LINE_MAX_HOST), -FW_ERR_TOO_LONG);
}

static void test_seal_capacity(void **state)
{
	char buf[8] = "abcd";

	assert_int_equal(fw_frame_seal(buf, 4, 8), 7);
	assert_int_equal(buf[7], '\0');
	memcpy(buf, "abcde", 6);
	assert_int_equal(fw_frame_seal(buf, 5, 8), -1);
	assert_string_equal(buf, "abcde");				/* unchanged */
	assert_int_equal(fw_frame_seal(buf, 0, 3), -1);
}

static void test_err_texts(void **state)
{
	static const char *const want[] = {
		NULL, "unknown command", "bad checksum", "line too long", "bad argument",
		"out of range", "channel busy", "not armed", "unknown setting", "eeprom",
		"malformed line",
	};

	assert_int_equal(FW_ERR_MAX, 10);
	for (int i = 1; i <= 10; i++)
		assert_string_equal(fw_err_text(i), want[i]);
	assert_string_equal(fw_err_text(0), "unknown error");
	assert_string_equal(fw_err_text(11), "unknown error");
	assert_string_equal(fw_err_text(-2), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_vectors),
		cmocka_unit_test(test_check_valid),
		cmocka_unit_test(test_check_checksum),
		cmocka_unit_test(test_check_malformed),
		cmocka_unit_test(test_check_too_long),
		cmocka_unit_test(test_seal_capacity),
		cmocka_unit_test(test_err_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
