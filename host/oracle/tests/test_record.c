/* Record format: CRC32C check value, encode/decode round trip, every kind of damage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "record.h"
#include "rng.h"

static const struct rec_id base_id = {
	.campaign = 77, .cycle = 3, .disk = 2, .block = 1234, .gen = 9,
	.sector = 5, .spb = 8, .seq = 4242, .watermark = 4000,
};

static void test_crc_check_value(void **state)
{
	assert_int_equal(rec_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(rec_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	/* Hardware and table paths agree on odd lengths and running CRCs. */
	unsigned char buf[1000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	for (size_t len = 0; len < sizeof(buf); len += 37) {
		uint32_t a = rec_crc32c(0, buf, len), b = rec_crc32c_sw(0, buf, len);
		assert_int_equal(a, b);
		assert_int_equal(rec_crc32c(a, buf + len, sizeof(buf) - len), rec_crc32c(0, buf, sizeof(buf)));
	}
}

static void test_roundtrip(void **state)
{
	unsigned char s[REC_SECTOR];
	struct rec_id out;

	rec_encode(s, &base_id, 0xfeed);
	assert_int_equal(rec_decode(s, 0xfeed, 77, &out), REC_RECORD);
	assert_true(out.campaign == 77 && out.cycle == 3 && out.disk == 2);
	assert_true(out.block == 1234 && out.gen == 9 && out.sector == 5 && out.spb == 8);
	assert_true(out.seq == 4242 && out.watermark == 4000);
	assert_memory_equal(s, "PCUTREC1", 8);
}

static void test_payload_differs(void **state)
{
	unsigned char a[REC_SECTOR], b[REC_SECTOR];
	struct rec_id id = base_id;

	rec_encode(a, &id, 1);
	id.gen++;
	rec_encode(b, &id, 1);
	assert_memory_not_equal(a + REC_PAYLOAD_OFF, b + REC_PAYLOAD_OFF, 448);
	id = base_id;
	id.block++;
	rec_encode(b, &id, 1);
	assert_memory_not_equal(a + REC_PAYLOAD_OFF, b + REC_PAYLOAD_OFF, 448);
	id = base_id;
	id.sector++;
	rec_encode(b, &id, 1);
	assert_memory_not_equal(a + REC_PAYLOAD_OFF, b + REC_PAYLOAD_OFF, 448);
	rec_encode(b, &base_id, 2);
	assert_memory_not_equal(a + REC_PAYLOAD_OFF, b + REC_PAYLOAD_OFF, 448);
}

static void test_zero(void **state)
{
	unsigned char s[REC_SECTOR] = {0};
	struct rec_id out;

	assert_int_equal(rec_decode(s, 1, 77, &out), REC_ZERO);
	s[511] = 1;	/* not all zero, no magic */
	assert_int_equal(rec_decode(s, 1, 77, &out), REC_GARBAGE);
}

static void test_every_byte_flip_detected(void **state)
{
	unsigned char s[REC_SECTOR], t[REC_SECTOR];
	struct rec_id out;

	rec_encode(s, &base_id, 5);
	for (int i = 0; i < REC_SECTOR; i++) {
		memcpy(t, s, sizeof(t));
		t[i] ^= 0x10;
		assert_int_equal(rec_decode(t, 5, 77, &out), REC_GARBAGE);
	}
}

static void test_payload_with_valid_crc_rejected(void **state)
{
	/* A sector whose CRC was recomputed over a wrong payload (e.g. written with another
	 * seed) is garbage for its own campaign. */
	unsigned char s[REC_SECTOR];
	struct rec_id out;

	rec_encode(s, &base_id, 5);
	s[100] ^= 0xff;
	uint32_t crc = rec_crc32c(0, s, REC_CRC_OFF);
	memcpy(s + REC_CRC_OFF, &crc, 4);
	assert_int_equal(rec_decode(s, 5, 77, &out), REC_GARBAGE);
	/* ...but a valid record of another campaign (payload not checkable) is a record. */
	assert_int_equal(rec_decode(s, 5, 78, &out), REC_RECORD);
	assert_int_equal(out.campaign, 77);
}

static void test_random_garbage(void **state)
{
	unsigned char s[REC_SECTOR];
	uint64_t st = 99;
	struct rec_id out;

	for (int i = 0; i < REC_SECTOR; i += 8) {
		uint64_t w = rng_splitmix64(&st);
		memcpy(s + i, &w, 8);
	}
	assert_int_equal(rec_decode(s, 5, 77, &out), REC_GARBAGE);
	/* Right magic, random rest. */
	memcpy(s, "PCUTREC1", 8);
	assert_int_equal(rec_decode(s, 5, 77, &out), REC_GARBAGE);
}

static void test_block_encode(void **state)
{
	unsigned char blk[8 * REC_SECTOR];
	struct rec_id out;

	rec_encode_block(blk, &base_id, 5);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(rec_decode(blk + i * REC_SECTOR, 5, 77, &out), REC_RECORD);
		assert_int_equal(out.sector, i);
		assert_int_equal(out.gen, 9);
	}
}

static void test_decode_many_agrees(void **state)
{
	/* 11 sectors (two interleaved groups of four and a tail), some damaged, in every
	 * position of a group. */
	unsigned char buf[11 * REC_SECTOR];
	enum rec_kind kinds[11];
	struct rec_id ids[11], one;
	struct rec_id id = base_id;

	id.spb = 11;
	rec_encode_block(buf, &id, 5);
	buf[1 * REC_SECTOR + 200] ^= 1;			/* payload */
	memset(buf + 6 * REC_SECTOR, 0, REC_SECTOR);	/* zero */
	buf[9 * REC_SECTOR + REC_CRC_OFF] ^= 1;		/* checksum */
	rec_decode_many(buf, 11, 5, 77, kinds, ids);
	for (int i = 0; i < 11; i++) {
		enum rec_kind k = rec_decode(buf + i * REC_SECTOR, 5, 77, &one);
		assert_int_equal(kinds[i], k);
		if (k == REC_RECORD)
			assert_int_equal(ids[i].sector, one.sector);
	}
	assert_int_equal(kinds[0], REC_RECORD);
	assert_int_equal(kinds[1], REC_GARBAGE);
	assert_int_equal(kinds[6], REC_ZERO);
	assert_int_equal(kinds[9], REC_GARBAGE);
	assert_int_equal(kinds[10], REC_RECORD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_check_value),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_payload_differs),
		cmocka_unit_test(test_zero),
		cmocka_unit_test(test_every_byte_flip_detected),
		cmocka_unit_test(test_payload_with_valid_crc_rejected),
		cmocka_unit_test(test_random_garbage),
		cmocka_unit_test(test_block_encode),
		cmocka_unit_test(test_decode_many_agrees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
