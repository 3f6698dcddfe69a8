/* The files workload's chunk record; see filerec.h. */
#include "filerec.h"
#include "ledger_proto.h"
#include "record.h"
#include "rng.h"

#include <string.h>

static const char *const op_names[] = {
#define X(e, v, s) [v] = s,
	FS_OPS(X)
#undef X
};
static const char *const sync_names[] = {
#define X(e, v, s) [v] = s,
	FS_SYNCS(X)
#undef X
};

const char *fs_op_name(unsigned op)
{
	return op < sizeof(op_names) / sizeof(*op_names) && op_names[op] ? op_names[op] : "?";
}

const char *fs_sync_name(unsigned s)
{
	return s < sizeof(sync_names) / sizeof(*sync_names) && sync_names[s] ? sync_names[s] : "?";
}

/* Layout: magic 8, campaign 8, cycle 4, disk 4, file 4, chunk 4, seq 8 (40 bytes),
 * payload words to 504, reserved 4, CRC32C of bytes 0..507 at 508. */
#define FREC_PAYLOAD_OFF 40

static void payload(unsigned char *p, const struct frec_id *id, uint64_t seed)
{
	uint64_t x = seed ^ ((uint64_t)id->file << 32 | id->chunk) * 0x9e3779b97f4a7c15ull ^ id->seq;
	for (int off = FREC_PAYLOAD_OFF; off < 504; off += 8)
		lp_put64(p + off, rng_splitmix64(&x));
}

void frec_encode(void *buf, const struct frec_id *id, uint64_t seed)
{
	unsigned char *p = buf;
	memset(p, 0, FREC_CHUNK);
	lp_put64(p, FREC_MAGIC);
	lp_put64(p + 8, id->campaign);
	lp_put32(p + 16, id->cycle);
	lp_put32(p + 20, id->disk);
	lp_put32(p + 24, id->file);
	lp_put32(p + 28, id->chunk);
	lp_put64(p + 32, id->seq);
	payload(p, id, seed);
	lp_put32(p + 508, rec_crc32c(0, p, 508));
}

enum frec_kind frec_decode(const void *buf, uint64_t seed, uint64_t campaign, uint32_t cycle,
			   uint32_t disk, struct frec_id *id)
{
	const unsigned char *p = buf;
	unsigned char want[FREC_CHUNK];
	size_t i;

	for (i = 0; i < FREC_CHUNK && !p[i]; i++)
		;
	if (i == FREC_CHUNK)
		return FREC_ZERO;
	if (lp_get64(p) != FREC_MAGIC || lp_get32(p + 508) != rec_crc32c(0, p, 508))
		return FREC_GARBAGE;
	*id = (struct frec_id){ .campaign = lp_get64(p + 8), .cycle = lp_get32(p + 16),
				.disk = lp_get32(p + 20), .file = lp_get32(p + 24),
				.chunk = lp_get32(p + 28), .seq = lp_get64(p + 32) };
	if (id->campaign != campaign || id->cycle != cycle || id->disk != disk)
		return FREC_FOREIGN;
	frec_encode(want, id, seed);
	return memcmp(want, p, FREC_CHUNK) ? FREC_GARBAGE : FREC_RECORD;
}

void frec_sql_payload(unsigned char *buf, size_t n, uint64_t seed, uint64_t txid)
{
	uint64_t x = seed ^ txid * 0xd6e8feb86659fd93ull ^ 0x73716c697465ull;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rng_splitmix64(&x);
		for (size_t k = 0; k < 8 && i + k < n; k++)
			buf[i + k] = (unsigned char)(v >> 8 * k);
	}
}
