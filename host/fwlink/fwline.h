/* fwline: parsing of firmware lines and splitting a byte stream into lines.
 * Internal to host/fwlink (fwlink.c and the unit tests); not part of the public API.
 */
#ifndef PC_FWLINE_H
#define PC_FWLINE_H

#include <stddef.h>
#include <stdint.h>

#include "fwlink.h"

enum fwline_kind {
	FWLINE_OK,		/* `ok[ key=value...]` */
	FWLINE_ERROR,		/* `error:N text` */
	FWLINE_EVENT,		/* `!SEQ T NAME[ key=value...]` */
};

struct fwline {
	enum fwline_kind kind;
	int code;			/* FWLINE_ERROR: N */
	char text[FW_LINE_MAX + 1];	/* FWLINE_ERROR: the text */
	uint64_t seq, t_us;		/* FWLINE_EVENT */
	char name[24];			/* FWLINE_EVENT */
	struct fw_fields f;		/* key=value pairs (ok replies and events) */
};

/* Parse one received line, given without its '\n' (a trailing '\r' is allowed).
 * Returns 0 with *out filled, or
 *   -EBADMSG    bad or missing checksum, a control byte, a '*' in the body
 *   -EMSGSIZE   more than FW_LINE_MAX bytes
 *   -EPROTO     a well-framed line that is none of the three kinds, or whose
 *               SEQ/T/code/key=value syntax is wrong, or with more than FW_KV_MAX pairs
 * *why (may be NULL) gets a static description of the failure. */
int fwline_parse(const char *line, size_t len, struct fwline *out, const char **why);

/* Split "k=v k2=v2" (copied into f->buf) into pairs. 0 or -EPROTO. */
int fwline_fields(struct fw_fields *f, const char *s, size_t len);

/* Splits a byte stream into lines. Lines longer than FW_LINE_MAX + 1 (room for a
 * '\r') are cut short and reported as overlong, up to and including their '\n'. */
struct fwline_rx {
	char buf[FW_LINE_MAX + 2];
	size_t len;
	int overlong;		/* discarding up to the next '\n' */
};

/* Called per complete line: line[0..len) without '\n'; overlong != 0 means the line
 * exceeded the limit (line then holds its first bytes). */
typedef void (*fwline_fn)(void *ctx, const char *line, size_t len, int overlong);

void fwline_rx_init(struct fwline_rx *rx);
void fwline_rx_feed(struct fwline_rx *rx, const char *data, size_t n, fwline_fn fn, void *ctx);

#endif
