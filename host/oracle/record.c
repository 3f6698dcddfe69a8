/* Sector records and CRC32C. See record.h and docs/oracle.md. */
#include "record.h"

#include <string.h>

#define K1 0xd6e8feb86659fd93ull
#define K2 0xa0761d6478bd642full
#define K3 0xe7037ed1a0b428dbull
#define K4 0x8ebc6af09c88c6e3ull

static uint32_t crc_table[8][256];
static int crc_table_ready;

static void crc_table_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int t = 1; t < 8; t++)
			crc_table[t][n] = (crc_table[t - 1][n] >> 8) ^
					  crc_table[0][crc_table[t - 1][n] & 0xff];
	__atomic_store_n(&crc_table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t rec_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* Racing initialisers compute identical tables, so no lock is needed. */
	if (!__atomic_load_n(&crc_table_ready, __ATOMIC_ACQUIRE))
		crc_table_init();
	crc = ~crc;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= crc;
		crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
		      crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
		      crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
		      crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc;

	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

uint32_t rec_crc32c(uint32_t crc, const void *buf, size_t len)
{
	static int has_hw = -1;

	if (has_hw < 0) {
		__builtin_cpu_init();
		has_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	}
	return has_hw ? crc32c_hw(crc, buf, len) : rec_crc32c_sw(crc, buf, len);
}
#else
uint32_t rec_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return rec_crc32c_sw(crc, buf, len);
}
#endif

static inline void put16(unsigned char *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static inline void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
static inline void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = v >> (8 * i); }
static inline uint16_t get16(const unsigned char *p) { return p[0] | (uint16_t)p[1] << 8; }
static inline uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
	return v;
}
static inline uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
	return v;
}

static uint64_t payload_state(const struct rec_id *id, uint64_t seed)
{
	return seed ^ id->campaign * K1 ^ ((uint64_t)id->cycle << 32 | id->disk) * K2 ^
	       id->block * K3 ^ ((uint64_t)id->gen << 16 | id->sector) * K4;
}

void rec_encode(void *buf, const struct rec_id *id, uint64_t seed)
{
	unsigned char *p = buf;
	uint64_t st = payload_state(id, seed);

	put64(p + 0, REC_MAGIC);
	put64(p + 8, id->campaign);
	put32(p + 16, id->cycle);
	put32(p + 20, id->disk);
	put64(p + 24, id->block);
	put32(p + 32, id->gen);
	put16(p + 36, id->sector);
	put16(p + 38, id->spb);
	put64(p + 40, id->seq);
	put64(p + 48, id->watermark);
	for (int i = 0; i < REC_PAYLOAD_WORDS; i++)
		put64(p + REC_PAYLOAD_OFF + 8 * i, rec_splitmix64(&st));
	put32(p + 504, 0);
	put32(p + REC_CRC_OFF, rec_crc32c(0, p, REC_CRC_OFF));
}

void rec_encode_block(void *buf, const struct rec_id *id, uint64_t seed)
{
	struct rec_id s = *id;

	for (unsigned i = 0; i < id->spb; i++) {
		s.sector = i;
		rec_encode((unsigned char *)buf + (size_t)i * REC_SECTOR, &s, seed);
	}
}

static int all_zero(const unsigned char *p)
{
	uint64_t acc = 0;

	for (int i = 0; i < REC_SECTOR; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		acc |= w;
	}
	return acc == 0;
}

enum rec_kind rec_decode(const void *buf, uint64_t seed, uint64_t expect_campaign,
			 struct rec_id *id)
{
	const unsigned char *p = buf;

	if (get64(p) != REC_MAGIC)
		return all_zero(p) ? REC_ZERO : REC_GARBAGE;
	if (get32(p + REC_CRC_OFF) != rec_crc32c(0, p, REC_CRC_OFF) || get32(p + 504) != 0)
		return REC_GARBAGE;
	id->campaign = get64(p + 8);
	id->cycle = get32(p + 16);
	id->disk = get32(p + 20);
	id->block = get64(p + 24);
	id->gen = get32(p + 32);
	id->sector = get16(p + 36);
	id->spb = get16(p + 38);
	id->seq = get64(p + 40);
	id->watermark = get64(p + 48);
	if (id->campaign == expect_campaign) {
		uint64_t st = payload_state(id, seed);
		for (int i = 0; i < REC_PAYLOAD_WORDS; i++)
			if (get64(p + REC_PAYLOAD_OFF + 8 * i) != rec_splitmix64(&st))
				return REC_GARBAGE;
	}
	return REC_RECORD;
}
