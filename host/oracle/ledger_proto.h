/* Ledger wire protocol version 3 (docs/oracle.md, "The ledger protocol"): frame types,
 * sizes and little-endian helpers. Shared by the agent (libc only) and the host server.
 * Version 2 adds the host's replies (ACCEPT, REJECT, RECORDED); version 3 adds FILESYNC
 * (the files workload's acknowledgements). The host still serves version 1 and 2
 * agents (version 1 without replies); FILESYNC in a session of version 2 or older is
 * refused.
 */
#ifndef PC_LEDGER_PROTO_H
#define PC_LEDGER_PROTO_H

#include <stdint.h>

#define LEDGER_PROTO_VERSION	3
#define LEDGER_PROTO_MIN	1		/* oldest version the host serves */
#define LEDGER_MAX_FRAME	(1u << 20)	/* bytes after the length field */
#define LEDGER_MAX_TOKEN	255
#define LEDGER_MAX_ACKS		16384		/* entries in one ACKS frame */

enum ledger_frame_type {
	LEDGER_HELLO = 1,
	LEDGER_BASELINE = 2,
	LEDGER_ACKS = 3,
	LEDGER_FLUSH = 4,
	LEDGER_GAP = 5,
	LEDGER_END = 6,
	LEDGER_FILESYNC = 7,		/* version 3 */
	/* Host -> agent (version 2). */
	LEDGER_ACCEPT = 16,
	LEDGER_REJECT = 17,
	LEDGER_RECORDED = 18,
};

/* REJECT codes; the frame also carries the host's reason as text. */
enum ledger_reject_code {
	LEDGER_REJ_PROTOCOL = 1,	/* malformed input, unknown type, bad size or version */
	LEDGER_REJ_TOKEN = 2,
	LEDGER_REJ_CAMPAIGN = 3,
	LEDGER_REJ_CYCLE = 4,		/* not the cycle the host runs (or no longer) */
	LEDGER_REJ_HOST = 5,		/* the host could not store the input */
};

/* Body sizes (after the type byte). HELLO: fixed part plus the token. */
#define LEDGER_HELLO_FIXED	(2 + 2 + 8 + 4 + 4 + 4 + 8 + 8 + 8)
#define LEDGER_BASELINE_SIZE	(4 + 8 + 8 + 8 + 8)
#define LEDGER_ACKS_HEAD	(4 + 4)
#define LEDGER_ACK_ENTRY	48
#define LEDGER_FLUSH_SIZE	(4 + 8 + 8 + 8 + 8)
#define LEDGER_GAP_SIZE		(4 + 8 + 8)
#define LEDGER_END_SIZE		(4 + 8 + 8 + 8 + 4)
/* FILESYNC: u32 cycle, u64 seq, u8 op, u8 sync, u8 dirsync, u8 0, u32 file, u64 offset,
 * u64 nbytes, u64 length, u32 digest, u64 submit, u64 complete, u16 n; n bytes name. */
#define LEDGER_FILESYNC_FIXED	(4 + 8 + 4 + 4 + 8 + 8 + 8 + 4 + 8 + 8 + 2)
#define LEDGER_FILESYNC_NAME_MAX 63
#define LEDGER_ACCEPT_SIZE	4			/* u32 cycle */
#define LEDGER_REJECT_FIXED	(4 + 8 + 2)		/* u32 code, u64 offset, u16 n; n bytes text */
#define LEDGER_REJECT_MAX_TEXT	200
#define LEDGER_RECORDED_SIZE	(4 + 8)			/* u32 cycle, u64 acks stored */

#define LEDGER_ACK_FUA		1u

enum ledger_end_reason { LEDGER_END_DONE = 0, LEDGER_END_SIGNAL = 1, LEDGER_END_ERROR = 2 };

static inline void lp_put16(unsigned char *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static inline void lp_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void lp_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
/* A frame's head: length (type byte and body) and type. Returns where the body goes. */
static inline unsigned char *lp_frame(unsigned char *p, uint8_t type, uint32_t body)
{
	lp_put32(p, 1 + body);
	p[4] = type;
	return p + 5;
}
static inline uint16_t lp_get16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t lp_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t lp_get64(const unsigned char *p)
{
	return (uint64_t)lp_get32(p) | (uint64_t)lp_get32(p + 4) << 32;
}

#endif
