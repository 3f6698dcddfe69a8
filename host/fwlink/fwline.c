#include "fwline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

_Static_assert(FW_LINE_MAX == FW_LINE_MAX_FW, "fwlink.h and protocol.h disagree");
_Static_assert(FW_HOST_LINE_MAX == FW_LINE_MAX_HOST, "fwlink.h and protocol.h disagree");
_Static_assert(FWLINK_PROTO == FW_PROTO_VERSION, "fwlink speaks another protocol version");

const char *fw_fields_get(const struct fw_fields *f, const char *key)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->buf + f->key[i], key) == 0)
			return f->buf + f->val[i];
	return NULL;
}

const char *fw_fields_key(const struct fw_fields *f, int i)
{
	return (i >= 0 && i < f->n) ? f->buf + f->key[i] : NULL;
}

const char *fw_fields_val(const struct fw_fields *f, int i)
{
	return (i >= 0 && i < f->n) ? f->buf + f->val[i] : NULL;
}

/* strtoull accepts a sign, spaces and an empty string; the protocol allows none. */
static int parse_u64(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

int fw_fields_get_u64(const struct fw_fields *f, const char *key, uint64_t *v)
{
	const char *s = fw_fields_get(f, key);

	if (!s)
		return -ENOENT;
	return parse_u64(s, strlen(s), v);
}

int fw_fields_get_int(const struct fw_fields *f, const char *key, int *v)
{
	const char *s = fw_fields_get(f, key);
	uint64_t x;
	int neg = 0;

	if (!s)
		return -ENOENT;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (parse_u64(s, strlen(s), &x) < 0 || x > (uint64_t)INT32_MAX + (unsigned)neg)
		return -EINVAL;
	*v = neg ? (int)-(int64_t)x : (int)x;
	return 0;
}

int fwline_fields(struct fw_fields *f, const char *s, size_t len)
{
	if (len > FW_LINE_MAX)
		return -EPROTO;
	memcpy(f->buf, s, len);
	f->buf[len] = '\0';
	f->n = 0;

	size_t i = 0;

	while (i < len) {
		if (f->buf[i] == ' ') {
			i++;
			continue;
		}
		size_t start = i;
		char *eq = NULL;

		while (i < len && f->buf[i] != ' ') {
			if (f->buf[i] == '=' && !eq)
				eq = f->buf + i;
			i++;
		}
		f->buf[i] = '\0';
		if (!eq || eq == f->buf + start || f->n == FW_KV_MAX)
			return -EPROTO;
		*eq = '\0';
		f->key[f->n] = (uint8_t)start;
		f->val[f->n] = (uint8_t)(eq + 1 - f->buf);
		f->n++;
		i++;
	}
	return 0;
}

/* Next space-separated token of s[*pos..len). */
static int next_token(const char *s, size_t len, size_t *pos, const char **tok, size_t *tlen)
{
	size_t i = *pos;

	while (i < len && s[i] == ' ')
		i++;
	if (i == len)
		return -1;
	*tok = s + i;
	while (i < len && s[i] != ' ')
		i++;
	*tlen = (size_t)(s + i - *tok);
	*pos = i;
	return 0;
}

int fwline_parse(const char *line, size_t len, struct fwline *out, const char **why)
{
	const char *dummy;
	int n = fw_frame_check(line, len, FW_LINE_MAX_FW);

	if (!why)
		why = &dummy;
	memset(out, 0, sizeof(*out));
	if (n == -FW_ERR_TOO_LONG) {
		*why = "line too long";
		return -EMSGSIZE;
	}
	if (n == -FW_ERR_MALFORMED) {
		*why = "malformed line";
		return -EBADMSG;
	}
	if (n < 0) {
		*why = "bad checksum";
		return -EBADMSG;
	}

	size_t blen = (size_t)n, pos = 0, tlen;
	const char *tok;

	*why = "not a reply or an event";
	if (blen >= 1 && line[0] == '!') {
		out->kind = FWLINE_EVENT;
		pos = 1;
		if (next_token(line, blen, &pos, &tok, &tlen) < 0 || tok != line + 1 ||
		    parse_u64(tok, tlen, &out->seq) < 0) {
			*why = "bad event sequence number";
			return -EPROTO;
		}
		if (next_token(line, blen, &pos, &tok, &tlen) < 0 ||
		    parse_u64(tok, tlen, &out->t_us) < 0) {
			*why = "bad event time";
			return -EPROTO;
		}
		if (next_token(line, blen, &pos, &tok, &tlen) < 0 || tlen >= sizeof(out->name) ||
		    memchr(tok, '=', tlen)) {
			*why = "bad event name";
			return -EPROTO;
		}
		memcpy(out->name, tok, tlen);
		out->name[tlen] = '\0';
	} else if (blen >= 2 && memcmp(line, "ok", 2) == 0 && (blen == 2 || line[2] == ' ')) {
		out->kind = FWLINE_OK;
		pos = 2;
	} else if (blen > 6 && memcmp(line, "error:", 6) == 0) {
		uint64_t code;

		out->kind = FWLINE_ERROR;
		pos = 6;
		while (pos < blen && line[pos] != ' ')
			pos++;
		if (parse_u64(line + 6, pos - 6, &code) < 0 || code == 0 || code > 255) {
			*why = "bad error code";
			return -EPROTO;
		}
		out->code = (int)code;
		while (pos < blen && line[pos] == ' ')
			pos++;
		memcpy(out->text, line + pos, blen - pos);
		out->text[blen - pos] = '\0';
		return 0;
	} else {
		return -EPROTO;
	}
	if (fwline_fields(&out->f, line + pos, blen - pos) < 0) {
		*why = "bad key=value pair";
		return -EPROTO;
	}
	return 0;
}

void fwline_rx_init(struct fwline_rx *rx)
{
	rx->len = 0;
	rx->overlong = 0;
}

void fwline_rx_feed(struct fwline_rx *rx, const char *data, size_t n, fwline_fn fn, void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		char c = data[i];

		if (c == '\n') {
			fn(ctx, rx->buf, rx->len, rx->overlong);
			rx->len = 0;
			rx->overlong = 0;
		} else if (rx->len < sizeof(rx->buf)) {
			rx->buf[rx->len++] = c;
		} else {
			rx->overlong = 1;
		}
	}
}
