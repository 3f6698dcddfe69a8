/* The self-describing 512-byte sector record (docs/oracle.md, "The sector record").
 *
 * Shared by powercut-agent (which writes and reads records) and the host classifier.
 * Pure functions, no allocation, libc only, so the static agent can link it.
 */
#ifndef PC_RECORD_H
#define PC_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define REC_SECTOR	512
#define REC_MAGIC	0x3143455254554350ull	/* "PCUTREC1" little-endian */
#define REC_PAYLOAD_OFF	56
#define REC_PAYLOAD_WORDS 56
#define REC_CRC_OFF	508

/* What one sector was written as (or read back as). */
struct rec_id {
	uint64_t campaign;
	uint32_t cycle;
	uint32_t disk;
	uint64_t block;
	uint32_t gen;		/* 0 = baseline */
	uint16_t sector;	/* index within the block */
	uint16_t spb;		/* sectors per block */
	uint64_t seq;		/* write sequence number, 0 for the baseline */
	uint64_t watermark;	/* acknowledgements seen when the write was submitted */
};

/* What a read-back sector is. */
enum rec_kind {
	REC_RECORD,	/* magic and CRC right, payload regenerates (when checkable) */
	REC_ZERO,	/* all 512 bytes zero */
	REC_GARBAGE,	/* anything else */
};

/* CRC32C (Castagnoli), init and final XOR 0xFFFFFFFF; crc32c(0, "123456789", 9) is
 * 0xE3069283. Pass the previous result as crc to continue a running CRC. Uses SSE4.2
 * when the CPU has it, a table otherwise. */
uint32_t rec_crc32c(uint32_t crc, const void *buf, size_t len);
/* The table implementation, exposed so tests can compare both paths. */
uint32_t rec_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* Fill a 512-byte sector buf with the record of id; the payload is derived from seed. */
void rec_encode(void *buf, const struct rec_id *id, uint64_t seed);

/* Encode all spb sectors of one block write into buf (spb * 512 bytes); id->sector is
 * ignored and id->spb must be set. */
void rec_encode_block(void *buf, const struct rec_id *id, uint64_t seed);

/* Decode a read-back sector. On REC_RECORD *id is filled. The payload is verified
 * only when id's campaign equals expect_campaign (the seed is per campaign); a record
 * of another campaign with a right CRC is still REC_RECORD. */
enum rec_kind rec_decode(const void *buf, uint64_t seed, uint64_t expect_campaign,
			 struct rec_id *id);

/* rec_decode() for n consecutive sectors of buf, into kinds[n] and ids[n] (ids of
 * non-records are unspecified). Faster than n calls: checksums run interleaved. */
void rec_decode_many(const void *buf, size_t n, uint64_t seed, uint64_t expect_campaign,
		     enum rec_kind *kinds, struct rec_id *ids);

#endif
