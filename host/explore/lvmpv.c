/* lvmpv: LVM2's on-disk metadata of one PV, read from bytes (lvmpv.h).
 *
 * The layout and every check below are modelled on lvm2's own source; each rule names
 * the file it stands for:
 *   lib/label/label.{h,c}          the label: LABELONE in one of the first 4 sectors,
 *                                  its sector number and crc (_find_lvm_header)
 *   lib/format_text/text_label.c   the pv_header and its two zero-terminated disk_locn
 *                                  lists (label_check_pv_layout, _text_read)
 *   lib/format_text/layout.h,      the mda_header, its raw_locn slots, the circular
 *   lib/format_text/format-text.c  text buffer and its wrap (raw_parse_mda_header,
 *                                  _read_metadata_location_vg, _vg_read_raw_area)
 *   lib/misc/crc.{h,c}             calc_crc: CRC-32 (0xedb88320) from INITIAL_CRC, no
 *                                  final inversion
 *   lib/config/config.c            the text's checksum over both pieces
 *                                  (config_file_read_fd)
 *   libdm/libdm-config.c,          the text syntax (_get_token, _section, _value, _type)
 *   libdm/libdm-string.c           and string unescaping (dm_unescape_double_quotes)
 *   lib/format_text/import_vsn1.c  the VG, PVs, LVs and segments (_vsn1_check_version,
 *                                  _read_vg, _read_pv, _read_lvsegs, _read_segment,
 *                                  text_import_areas)
 *   lib/striped/striped.c          striped segments (stripe_count, stripes)
 *   lib/thin/thin.c                thin-pool and thin segments (_thin_pool_text_import,
 *                                  _thin_text_import)
 *   lib/activate/dev_manager.c     an area's place on the PV: pe_start + extent_size * pe
 */
#include "lvmpv.h"

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR 512u
#define LABEL_SCAN_SECTORS 4u	/* label.h: LABEL_SCAN_SECTORS */
#define LABEL_ID "LABELONE"
#define LVM2_LABEL "LVM2 001"	/* layout.h */
#define INITIAL_CRC LVMPV_INITIAL_CRC	/* crc.h */
#define MDA_HEADER_SIZE 512u
#define FMTT_MAGIC "\040\114\126\115\062\040\170\133\065\101\045\162\060\116\052\076"
#define FMTT_VERSION 1u
#define RAW_LOCN_IGNORED 0x1u
#define ID_LEN 32u
/* struct label_header: id[8], sector_xl u64, crc_xl u32, offset_xl u32, type[8] */
#define LH_SECTOR 8
#define LH_CRC 16
#define LH_OFFSET 20
#define LH_TYPE 24
/* struct pv_header: pv_uuid[32], device_size_xl u64, disk_locn {u64 offset, size}[] */
#define PVH_SIZE 40u
#define DLOCN_SIZE 16u
/* struct mda_header: checksum u32, magic[16], version u32, start u64, size u64,
 * raw_locn {u64 offset, u64 size, u32 checksum, u32 flags}[] */
#define MDAH_MAGIC 4
#define MDAH_VERSION 20
#define MDAH_START 24
#define MDAH_SIZE 32
#define MDAH_RLOCN 40
#define RLOCN_SIZE 24u

/* Bounds on what a damaged disk may claim, far above what lvm2 writes (its default
 * metadata area is about 1 MiB; the guest's VG has four LVs). */
#define TEXT_MAX (16u << 20)
#define ENTRY_MAX (1u << 18)	/* names and values in the text: bounds its tree's memory */
#define MDA_MAX 8u		/* metadata areas read from the pv_header */
#define DEPTH_MAX 32		/* section nesting */
#define LV_MAX 10000u
#define SEG_MAX 65536u
#define MSG_MAX 4096u
/* libdevmapper.h: the kernel's limits that thin.c checks */
#define THIN_MIN_CHUNK 128u
#define THIN_MAX_CHUNK 2097152u
#define THIN_MAX_DEVICE_ID ((1u << 24) - 1)

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/* crc.c's calc_crc, bitwise: the same polynomial and the same lack of a final
 * inversion (lvm2 chains calls, as config.c does over the two pieces of a text). */
uint32_t lvmpv_calc_crc(uint32_t crc, const void *data, size_t size)
{
	const uint8_t *buf = data;

	while (size--) {
		crc ^= *buf++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1u));
	}
	return crc;
}

struct rdr {
	lvmpv_read_fn rd;
	void *ctx;
	char *why;
	size_t wlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct rdr *r, const char *fmt, ...)
{
	va_list ap;

	if (r->why && r->wlen) {
		va_start(ap, fmt);
		vsnprintf(r->why, r->wlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int pread_at(struct rdr *r, void *buf, size_t len, uint64_t off, const char *what)
{
	int rc = r->rd(r->ctx, buf, len, off);

	if (rc < 0) {
		if (r->why && r->wlen)
			snprintf(r->why, r->wlen, "cannot read %s (%zu bytes at byte %" PRIu64 "): %s",
				 what, len, off, strerror(-rc));
		return -EIO;
	}
	return 0;
}

/* ---- the label and the pv_header (label.c, text_label.c) */

struct pvinfo {
	uint64_t label_off;
	uint32_t pvh_off;	/* of the pv_header in the label's sector */
	char uuid[ID_LEN + 1];
	uint64_t dev_size;
	uint64_t da_off;	/* the first data area: pe_start as the label says it */
	uint64_t mda_off[MDA_MAX], mda_size[MDA_MAX];
	unsigned nmda;
};

static int read_label(struct rdr *r, struct pvinfo *pv)
{
	uint8_t buf[LABEL_SCAN_SECTORS * SECTOR];
	const uint8_t *lh = NULL, *p, *end;
	char skipped[160] = "";
	int rc;

	if ((rc = pread_at(r, buf, sizeof(buf), 0, "the label sectors")))
		return rc;
	/* label.c _find_lvm_header: the first sector holding LABELONE whose sector field
	 * names its own sector and whose crc (from offset_xl to the sector's end, from
	 * INITIAL_CRC) matches; others are ignored. (lvm2 also offers a sector without
	 * LABELONE to its labeller, which then looks only at the type: such a sector,
	 * unchecked by any crc, is not taken here.) */
	for (unsigned s = 0; s < LABEL_SCAN_SECTORS && !lh; s++) {
		const uint8_t *h = buf + s * SECTOR;
		uint32_t want, got;

		if (memcmp(h, LABEL_ID, 8))
			continue;
		if (get64(h + LH_SECTOR) != s) {
			snprintf(skipped, sizeof(skipped), "; the label at byte %u names sector %" PRIu64,
				 s * SECTOR, get64(h + LH_SECTOR));
			continue;
		}
		want = get32(h + LH_CRC);
		got = lvmpv_calc_crc(INITIAL_CRC, h + LH_OFFSET, SECTOR - LH_OFFSET);
		if (want != got) {
			snprintf(skipped, sizeof(skipped),
				 "; the label at byte %u has checksum 0x%08x, its bytes 0x%08x",
				 s * SECTOR, want, got);
			continue;
		}
		lh = h;
		pv->label_off = s * SECTOR;
	}
	if (!lh)
		return fail(r, "no LVM2 label (LABELONE) in bytes 0-%u%s", LABEL_SCAN_SECTORS * SECTOR - 1,
			    skipped);
	/* text_label.c _text_can_handle: the type must be "LVM2 001" */
	if (memcmp(lh + LH_TYPE, LVM2_LABEL, 8)) {
		char t[9];

		for (int i = 0; i < 8; i++)
			t[i] = isprint(lh[LH_TYPE + i]) ? (char)lh[LH_TYPE + i] : '?';
		t[8] = '\0';
		return fail(r, "label at byte %" PRIu64 " has type '%s', not '" LVM2_LABEL "'",
			    pv->label_off + LH_TYPE, t);
	}
	/* text_label.c label_check_pv_layout: the pv_header and both lists inside the
	 * label's sector, each list ended by an entry of offset 0. */
	uint32_t pvoff = get32(lh + LH_OFFSET);

	if (pvoff > SECTOR - PVH_SIZE)
		return fail(r, "label at byte %" PRIu64 ": pv_header offset %" PRIu32
			    " leaves no room for the header in the sector", pv->label_off, pvoff);
	p = lh + pvoff;
	pv->pvh_off = pvoff;
	end = lh + SECTOR;
	for (unsigned i = 0; i < ID_LEN; i++)
		pv->uuid[i] = isprint(p[i]) ? (char)p[i] : '?';
	pv->uuid[ID_LEN] = '\0';
	pv->dev_size = get64(p + ID_LEN);
	p += PVH_SIZE;
	for (int list = 0; list < 2; list++) {
		unsigned n = 0;

		for (;; p += DLOCN_SIZE, n++) {
			uint64_t off, size;

			if (p + DLOCN_SIZE > end)
				return fail(r, "pv_header at byte %" PRIu64 ": the %s list runs past the label's sector",
					    pv->label_off + pvoff, list ? "metadata area" : "data area");
			off = get64(p);
			size = get64(p + 8);
			if (!off)
				break;
			if (!list && !n)
				pv->da_off = off;
			if (list && pv->nmda < MDA_MAX) {
				pv->mda_off[pv->nmda] = off;
				pv->mda_size[pv->nmda++] = size;
			}
		}
		p += DLOCN_SIZE;
	}
	return 0;
}

/* ---- the metadata area (format-text.c) */

struct text {
	char *buf;	/* NUL-terminated */
	size_t len;
	uint64_t mda_off, rl_off, rl_size;
	bool precommit;
};

static int read_mda(struct rdr *r, const struct pvinfo *pv, unsigned i, struct text *t)
{
	uint8_t h[MDA_HEADER_SIZE];
	uint64_t at = pv->mda_off[i], msize, off, size, wrap;
	uint32_t sum, flags;
	const uint8_t *rl;
	int rc;

	/* not lvm2's check (it reads what the device has): the area inside the device
	 * size the pv_header gives, so that a damaged list is a finding, not a failed
	 * read past the end */
	if (pv->dev_size && (at > pv->dev_size || pv->mda_size[i] > pv->dev_size - at ||
			     pv->mda_size[i] < MDA_HEADER_SIZE))
		return fail(r, "pv_header at byte %" PRIu64 ": metadata area at byte %" PRIu64
			    " size %" PRIu64 " lies outside the device's %" PRIu64 " bytes",
			    pv->label_off + pv->pvh_off, at, pv->mda_size[i], pv->dev_size);

	if ((rc = pread_at(r, h, sizeof(h), at, "the metadata area header")))
		return rc;
	/* raw_parse_mda_header: checksum over the header after its checksum field, magic,
	 * version, start (its own offset), size of at least a header */
	sum = lvmpv_calc_crc(INITIAL_CRC, h + MDAH_MAGIC, MDA_HEADER_SIZE - MDAH_MAGIC);
	if (sum != get32(h))
		return fail(r, "metadata area header at byte %" PRIu64 ": checksum 0x%08x, its bytes 0x%08x",
			    at, get32(h), sum);
	if (memcmp(h + MDAH_MAGIC, FMTT_MAGIC, 16))
		return fail(r, "metadata area header at byte %" PRIu64 ": wrong magic", at);
	if (get32(h + MDAH_VERSION) != FMTT_VERSION)
		return fail(r, "metadata area header at byte %" PRIu64 ": version %" PRIu32 ", not 1", at,
			    get32(h + MDAH_VERSION));
	if (get64(h + MDAH_START) != at)
		return fail(r, "metadata area header at byte %" PRIu64 ": says it starts at byte %" PRIu64,
			    at, get64(h + MDAH_START));
	msize = get64(h + MDAH_SIZE);
	if (msize < MDA_HEADER_SIZE)
		return fail(r, "metadata area header at byte %" PRIu64 ": area size %" PRIu64
			    " is smaller than its header", at, msize);
	/* Not lvm2's check either: the area must end inside the device (or below 2^64
	 * when the pv_header gives no size), so that at + off below cannot wrap onto
	 * another byte of the PV. */
	if (msize > (pv->dev_size ? pv->dev_size : UINT64_MAX) - at)
		return fail(r, "metadata area header at byte %" PRIu64 ": area size %" PRIu64
			    " runs past the device's %" PRIu64 " bytes", at, msize, pv->dev_size);
	/* _read_metadata_location_vg: slot 0 is the committed metadata; slot 1 the
	 * precommitted one, read only by a command that asks for it (a suspend), so it
	 * only sets a flag here. */
	rl = h + MDAH_RLOCN;
	off = get64(rl);
	size = get64(rl + 8);
	sum = get32(rl + 16);
	flags = get32(rl + 20);
	t->precommit = get64(rl + RLOCN_SIZE + 8) && get64(rl + RLOCN_SIZE) != off;
	if (flags & RAW_LOCN_IGNORED)
		return -ENOENT;	/* metadataignore: lvm2 reads the VG elsewhere */
	if (!off && !size)
		return fail(r, "metadata area at byte %" PRIu64 " holds no committed metadata (an orphan PV)",
			    at);
	/* _vg_read_raw_area's bounds; stricter in one point: text starting inside the
	 * header (offset < 512) is refused here, where lvm2 would fail its checksum. */
	if (off < MDA_HEADER_SIZE || off >= msize || size > msize - MDA_HEADER_SIZE || size > UINT32_MAX)
		return fail(r, "metadata area header at byte %" PRIu64 ": text at offset %" PRIu64
			    " size %" PRIu64 " lies outside the area of %" PRIu64 " bytes",
			    at, off, size, msize);
	if (!size || size > TEXT_MAX)
		return fail(r, "metadata area header at byte %" PRIu64 ": text size %" PRIu64
			    " is beyond %u", at, size, TEXT_MAX);
	/* the circular buffer: what passes the area's end continues just after the header */
	wrap = size > msize - off ? size - (msize - off) : 0;
	if (!(t->buf = malloc(size + 1)))
		return -ENOMEM;
	if ((rc = pread_at(r, t->buf, size - wrap, at + off, "the metadata text")) ||
	    (wrap && (rc = pread_at(r, t->buf + size - wrap, wrap, at + MDA_HEADER_SIZE,
				    "the wrapped metadata text"))))
		goto bad;
	t->buf[size] = '\0';
	/* config.c config_file_read_fd: the slot's checksum over both pieces */
	sum = lvmpv_calc_crc(lvmpv_calc_crc(INITIAL_CRC, (uint8_t *)t->buf, size - wrap),
		       (uint8_t *)t->buf + size - wrap, wrap);
	if (sum != get32(rl + 16)) {
		rc = fail(r, "metadata text at byte %" PRIu64 " (%" PRIu64 " bytes%s): checksum 0x%08x, "
			  "its bytes 0x%08x (a torn metadata write?)", at + off, size,
			  wrap ? ", wrapped" : "", get32(rl + 16), sum);
		goto bad;
	}
	t->len = strlen(t->buf);	/* the tokenizer stops at a NUL (_get_token) */
	t->mda_off = at;
	t->rl_off = off;
	t->rl_size = size;
	return 0;
bad:
	free(t->buf);
	t->buf = NULL;
	return rc;
}

/* ---- the config syntax (libdm-config.c) */

enum vtype { V_INT, V_FLOAT, V_STR, V_EMPTY };

struct val {
	enum vtype type;
	int64_t i;
	char *s;
	struct val *next;	/* the next element of an array */
};

struct node {
	char *key;
	int line;
	struct val *v;		/* NULL for a section */
	bool array;
	struct node *child, *last, *sib;
};

enum tok { T_EOF, T_SB, T_SE, T_AB, T_AE, T_COMMA, T_EQ, T_STR_ESC, T_STR, T_INT, T_FLOAT,
	   T_ID, T_BARE };

struct parser {
	struct rdr *r;
	const char *fb, *fe, *tb, *te;
	enum tok t;
	int line;
	int depth;
	unsigned entries;
	int err;
};

static int perr(struct parser *p, const char *what)
{
	if (!p->err)
		p->err = fail(p->r, "metadata text line %d: %s", p->line, what);
	return p->err;
}

static void eat_space(struct parser *p)
{
	while (p->te != p->fe) {
		if (*p->te == '#') {
			while (p->te != p->fe && *p->te != '\n' && *p->te)
				p->te++;
		} else if (*p->te == '\n') {
			p->line++;
			p->te++;
		} else if (isspace((unsigned char)*p->te)) {
			p->te++;
		} else {
			break;
		}
	}
	p->tb = p->te;
}

/* _get_token: after '=', '[' or ',' a token is a value (number or bare string),
 * elsewhere an identifier; strings in double quotes may hold backslash escapes. An
 * unterminated string is an error here (lvm2 would take the rest of the text). */
static void get_token(struct parser *p, enum tok prev)
{
	const bool values = prev == T_EQ || prev == T_AB || prev == T_COMMA;
	const char *te;
	int start;
	char c;

	p->tb = p->te;
	eat_space(p);
	if (p->tb == p->fe || !*p->tb) {
		p->t = T_EOF;
		return;
	}
	c = *p->tb;
	te = p->tb + 1;
	p->t = T_INT;
	switch (c) {
	case '{': p->t = T_SB; break;
	case '}': p->t = T_SE; break;
	case '[': p->t = T_AB; break;
	case ']': p->t = T_AE; break;
	case ',': p->t = T_COMMA; break;
	case '=': p->t = T_EQ; break;
	case '"':
	case '\'':
		p->t = c == '"' ? T_STR_ESC : T_STR;
		start = p->line;
		while (te != p->fe && *te && *te != c) {
			if (c == '"' && *te == '\\' && te + 1 != p->fe && te[1])
				te++;
			if (*te == '\n')
				p->line++;
			te++;
		}
		if (te == p->fe || !*te) {
			p->te = te;
			p->line = start;
			perr(p, "unterminated string");
			p->t = T_EOF;
			return;
		}
		te++;
		break;
	case '.':
		p->t = T_FLOAT;
		/* fall through */
	case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
	case '8': case '9': case '+': case '-':
		if (values) {
			for (; te != p->fe; te++) {
				if (!isdigit((unsigned char)*te)) {
					if (*te == '.' && p->t != T_FLOAT) {
						p->t = T_FLOAT;
						continue;
					}
					break;
				}
			}
			break;
		}
		/* fall through */
	default:
		p->t = values ? T_BARE : T_ID;
		while (te != p->fe && (c = *te) && !isspace((unsigned char)c) && c != '#' && c != '=' &&
		       c != '{' && c != '}')
			te++;
		break;
	}
	p->te = te;
}

static int match(struct parser *p, enum tok t, const char *what)
{
	if (p->err)
		return p->err;
	if (p->t != t) {
		char m[96];

		if (p->t == T_EOF)
			snprintf(m, sizeof(m), "%s expected, the text ends", what);
		else
			snprintf(m, sizeof(m), "%s expected, found '%.*s'", what,
				 (int)(p->te - p->tb > 24 ? 24 : p->te - p->tb), p->tb);
		return perr(p, m);
	}
	get_token(p, t);
	return p->err;
}

/* dm_unescape_double_quotes: \" and \\ lose their backslash, other escapes stay */
static char *dup_str(const char *b, const char *e, bool unescape)
{
	char *s = malloc((size_t)(e - b) + 1), *o = s;

	if (!s)
		return NULL;
	while (b < e) {
		if (unescape && *b == '\\' && b + 1 < e && (b[1] == '"' || b[1] == '\\'))
			b++;
		*o++ = *b++;
	}
	*o = '\0';
	return s;
}

static void free_vals(struct val *v)
{
	while (v) {
		struct val *n = v->next;

		free(v->s);
		free(v);
		v = n;
	}
}

static void free_node(struct node *n)
{
	while (n) {
		struct node *s = n->sib;

		free_node(n->child);
		free_vals(n->v);
		free(n->key);
		free(n);
		n = s;
	}
}

/* _type: one value */
static int count_entry(struct parser *p)
{
	if (++p->entries <= ENTRY_MAX)
		return 0;
	return perr(p, "more than 262144 names and values");
}

static struct val *parse_type(struct parser *p)
{
	struct val *v;
	char *end;

	if (count_entry(p))
		return NULL;
	if (!(v = calloc(1, sizeof(*v)))) {
		p->err = -ENOMEM;
		return NULL;
	}
	switch (p->t) {
	case T_INT:
		errno = 0;
		v->type = V_INT;
		v->i = strtoll(p->tb, &end, 10);
		if (errno || end != p->te) {
			free(v);
			perr(p, "bad integer");
			return NULL;
		}
		break;
	case T_FLOAT:
		v->type = V_FLOAT;
		break;
	case T_STR:
	case T_STR_ESC:
	case T_BARE:
		v->type = V_STR;
		if (p->t == T_BARE)
			v->s = dup_str(p->tb, p->te, false);
		else
			v->s = dup_str(p->tb + 1, p->te - 1, p->t == T_STR_ESC);
		if (!v->s) {
			free(v);
			p->err = -ENOMEM;
			return NULL;
		}
		break;
	default:
		free(v);
		perr(p, "a value expected");
		return NULL;
	}
	if (match(p, p->t, "a value")) {
		free_vals(v);
		return NULL;
	}
	return v;
}

/* _value: '[' TYPE* ']' (commas optional, as lvm2 reads them) | TYPE */
static struct val *parse_value(struct parser *p, bool *array)
{
	struct val *h = NULL, **tail = &h, *v;

	*array = p->t == T_AB;
	if (!*array)
		return parse_type(p);
	if (match(p, T_AB, "'['"))
		return NULL;
	while (p->t != T_AE) {
		if (!(v = parse_type(p)))
			goto bad;
		*tail = v;
		tail = &v->next;
		if (p->t == T_COMMA && match(p, T_COMMA, "','"))
			goto bad;
	}
	if (match(p, T_AE, "']'"))
		goto bad;
	if (!h) {	/* the empty array, one value of its own type as _value makes it */
		if (!(h = calloc(1, sizeof(*h)))) {
			p->err = -ENOMEM;
			return NULL;
		}
		h->type = V_EMPTY;
	}
	return h;
bad:
	free_vals(h);
	return NULL;
}

/* _section: IDENTIFIER '{' SECTION* '}' | IDENTIFIER '=' VALUE. Later duplicates of a
 * key are kept but never found: lvm2 warns and uses the first. */
static struct node *parse_section(struct parser *p, struct node *parent)
{
	struct node *n;

	if (p->t != T_ID && p->t != T_STR && p->t != T_STR_ESC) {
		perr(p, p->t == T_SE ? "unexpected '}'" : p->t == T_EOF ? "unexpected end of the text"
								       : "a name expected");
		return NULL;
	}
	if (count_entry(p))
		return NULL;
	if (!(n = calloc(1, sizeof(*n)))) {
		p->err = -ENOMEM;
		return NULL;
	}
	n->line = p->line;
	n->key = p->t == T_ID ? dup_str(p->tb, p->te, false)
			      : dup_str(p->tb + 1, p->te - 1, p->t == T_STR_ESC);
	if (!n->key) {
		free(n);
		p->err = -ENOMEM;
		return NULL;
	}
	if (parent->last)
		parent->last->sib = n;
	else
		parent->child = n;
	parent->last = n;
	if (!*n->key) {
		perr(p, "empty name");
		return NULL;
	}
	if (match(p, p->t, "a name"))
		return NULL;
	if (p->t == T_SB) {
		if (++p->depth > DEPTH_MAX) {
			perr(p, "sections nested too deep");
			return NULL;
		}
		if (match(p, T_SB, "'{'"))
			return NULL;
		while (p->t != T_SE) {
			if (p->t == T_EOF) {
				char m[200];

				snprintf(m, sizeof(m), "missing '}' of section '%.128s' (line %d)", n->key,
					 n->line);
				perr(p, m);
				return NULL;
			}
			if (!parse_section(p, n))
				return NULL;
		}
		if (match(p, T_SE, "'}'"))
			return NULL;
		p->depth--;
	} else {
		if (match(p, T_EQ, "'=' or '{'"))
			return NULL;
		if (!(n->v = parse_value(p, &n->array)))
			return NULL;
	}
	return n;
}

/* ---- the VG (import_vsn1.c, striped.c, thin.c) */

static const struct node *find(const struct node *sec, const char *key)
{
	for (const struct node *n = sec ? sec->child : NULL; n; n = n->sib)
		if (!strcmp(n->key, key))
			return n;
	return NULL;
}

struct ctx {
	struct rdr *r;
	const char *what;	/* "logical volume 'pool' segment1", for messages */
};

static int need(struct ctx *c, const struct node *sec, const char *key, const struct node **out)
{
	*out = find(sec, key);
	if (!*out)
		return fail(c->r, "metadata text line %d: %s has no '%s'", sec->line, c->what, key);
	return 0;
}

/* The single value of key in sec, of the given type: *out NULL when absent and not
 * required (dm_config_get_uint32/64, dm_config_get_str fail on another type). */
static int scalar(struct ctx *c, const struct node *sec, const char *key, enum vtype type,
		  bool required, const struct node **out)
{
	static const char *const type_name[] = { [V_INT] = "an integer", [V_STR] = "a string" };

	*out = find(sec, key);
	if (!*out)
		return required ? fail(c->r, "metadata text line %d: %s has no '%s'", sec->line,
				       c->what, key) : 0;
	if (!(*out)->v || (*out)->array || (*out)->v->type != type)
		return fail(c->r, "metadata text line %d: '%s' of %s is not %s", (*out)->line, key,
			    c->what, type_name[type]);
	return 0;
}

static int get_uint(struct ctx *c, const struct node *sec, const char *key, uint64_t max,
		    bool required, uint64_t *out)
{
	const struct node *n;
	int rc = scalar(c, sec, key, V_INT, required, &n);

	if (rc || !n)
		return rc;
	if (n->v->i < 0 || (uint64_t)n->v->i > max)
		return fail(c->r, "metadata text line %d: '%s' of %s is %" PRId64 ", beyond 0-%" PRIu64,
			    n->line, key, c->what, n->v->i, max);
	*out = (uint64_t)n->v->i;
	return 0;
}

static int get_str(struct ctx *c, const struct node *sec, const char *key, bool required,
		   char *out, size_t olen)
{
	const struct node *n;
	int rc = scalar(c, sec, key, V_STR, required, &n);

	if (rc || !n)
		return rc;
	if (strlen(n->v->s) >= olen)
		return fail(c->r, "metadata text line %d: '%s' of %s is longer than %zu bytes", n->line,
			    key, c->what, olen - 1);
	strcpy(out, n->v->s);
	return 0;
}

struct seg {
	uint64_t start, count;
	int line;
	const struct node *n;
};

static int cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* thin.c _thin_pool_add_message: every subsection of a thin-pool segment is a
 * message, with exactly one of create (an LV's name) or delete (a device id). */
static int read_messages(struct ctx *c, const struct node *sn, struct lvmpv_lv *lv)
{
	const struct node *m;
	size_t n = 0;
	int rc;

	for (m = sn->child; m; m = m->sib)
		if (!m->v)
			n++;
	if (n > MSG_MAX)
		return fail(c->r, "metadata text line %d: %s has more than %u messages", sn->line, c->what,
			    MSG_MAX);
	/* a pool of several segments (never written by lvm2): the last one's messages */
	free(lv->messages);
	lv->messages = NULL;
	lv->nmessages = 0;
	if (n && !(lv->messages = calloc(n, sizeof(*lv->messages))))
		return -ENOMEM;
	for (m = sn->child; m; m = m->sib) {
		struct lvmpv_msg *msg;
		const char *what = c->what;
		char mwhat[300];

		if (m->v)
			continue;
		msg = &lv->messages[lv->nmessages];
		snprintf(mwhat, sizeof(mwhat), "%s %.64s", what, m->key);
		c->what = mwhat;
		if (find(m, "create")) {
			msg->type = LVMPV_MSG_CREATE;
			rc = get_str(c, m, "create", true, msg->lv, sizeof(msg->lv));
		} else if (find(m, "delete")) {
			msg->type = LVMPV_MSG_DELETE;
			rc = get_uint(c, m, "delete", UINT32_MAX, true, &msg->device_id);
		} else {
			rc = fail(c->r, "metadata text line %d: %s is neither create nor delete", m->line,
				  mwhat);
		}
		c->what = what;
		if (rc)
			return rc;
		lv->nmessages++;
	}
	return 0;
}

struct vgctx {
	struct rdr *r;
	struct lvmpv_vg *vg;
	const char *pvname;
	uint64_t pe_start, pe_count;	/* sectors, extents */
	uint64_t extent;		/* sectors */
};

/* A striped segment (striped.c): stripe_count areas in 'stripes', one supported
 * here; its extents become an area of the LV on this PV, merged with the previous
 * one where both sides are adjacent. c->what names the segment. */
static int read_striped(struct vgctx *g, struct ctx *c, const struct seg *seg,
			struct lvmpv_lv *lv)
{
	const struct node *sn = seg->n, *sl;
	uint64_t sc, pe;
	int rc;

	if ((rc = get_uint(c, sn, "stripe_count", UINT32_MAX, true, &sc)))
		return rc;
	if (sc != 1)
		return fail(g->r, "metadata text line %d: %s has stripe_count %" PRIu64
			    "; only one stripe is supported", find(sn, "stripe_count")->line,
			    c->what, sc);
	if ((rc = need(c, sn, "stripes", &sl)))
		return rc;
	/* text_import_areas: ["pvN", PE], a volume name then an extent */
	const struct val *a = sl->v;

	if (!sl->array || !a || a->type != V_STR || !a->next || a->next->type != V_INT ||
	    a->next->next)
		return fail(g->r, "metadata text line %d: 'stripes' of %s is not [\"pv\", extent]",
			    sl->line, c->what);
	if (strcmp(a->s, g->pvname))
		return fail(g->r, "metadata text line %d: %s lies on '%.64s', not on this "
			    "volume group's one PV '%.64s'", sl->line, c->what, a->s, g->pvname);
	pe = (uint64_t)a->next->i;
	if (a->next->i < 0 || pe > g->pe_count || seg->count > g->pe_count - pe)
		return fail(g->r, "metadata text line %d: %s: extents %" PRId64 "+%" PRIu64
			    " beyond the PV's %" PRIu64, sl->line, c->what, a->next->i,
			    seg->count, g->pe_count);
	/* dev_manager.c: pe_start + extent_size * pe, in sectors */
	uint64_t eb = g->extent * SECTOR;
	struct lvmpv_area ar = { seg->start * eb, g->pe_start * SECTOR + pe * eb, seg->count * eb };
	struct lvmpv_area *prev = lv->nareas ? &lv->areas[lv->nareas - 1] : NULL;

	/* lv_merge_segments: pieces adjacent on both sides are one */
	if (prev && prev->lv_start + prev->len == ar.lv_start &&
	    prev->pv_off + prev->len == ar.pv_off) {
		prev->len += ar.len;
		return 0;
	}
	struct lvmpv_area *na = realloc(lv->areas, (lv->nareas + 1) * sizeof(*na));

	if (!na)
		return -ENOMEM;
	lv->areas = na;
	lv->areas[lv->nareas++] = ar;
	return 0;
}

/* A thin-pool segment (thin.c _thin_pool_text_import) and its queued messages. */
static int read_thin_pool(struct ctx *c, const struct node *sn, struct lvmpv_lv *lv)
{
	uint64_t chunk, zero = 0;
	int rc;

	if ((rc = get_str(c, sn, "metadata", true, lv->metadata_lv, sizeof(lv->metadata_lv))) ||
	    (rc = get_str(c, sn, "pool", true, lv->data_lv, sizeof(lv->data_lv))) ||
	    (rc = get_uint(c, sn, "transaction_id", UINT64_MAX >> 1, true, &lv->transaction_id)) ||
	    (rc = get_uint(c, sn, "chunk_size", UINT32_MAX, true, &chunk)) ||
	    (rc = get_uint(c, sn, "zero_new_blocks", UINT32_MAX, false, &zero)))
		return rc;
	if (chunk < THIN_MIN_CHUNK || chunk > THIN_MAX_CHUNK)
		return fail(c->r, "metadata text line %d: %s: unsupported chunk_size %" PRIu64
			    " (sectors %u-%u)", find(sn, "chunk_size")->line, c->what, chunk,
			    THIN_MIN_CHUNK, THIN_MAX_CHUNK);
	lv->chunk_bytes = chunk * SECTOR;
	lv->zero = zero != 0;
	return read_messages(c, sn, lv);
}

static int read_lv(struct vgctx *g, const struct node *ln, struct lvmpv_lv *lv)
{
	struct ctx c = { g->r, NULL };
	char what[200];
	struct seg *segs = NULL;
	size_t nseg = 0, cap = 0;
	uint64_t segcount;
	int rc;

	snprintf(what, sizeof(what), "logical volume '%.128s'", ln->key);
	c.what = what;
	if (strlen(ln->key) >= sizeof(lv->name))
		return fail(g->r, "metadata text line %d: logical volume name longer than %zu bytes",
			    ln->line, sizeof(lv->name) - 1);
	strcpy(lv->name, ln->key);
	if (ln->v)
		return fail(g->r, "metadata text line %d: %s is not a section", ln->line, what);
	const struct node *st = find(ln, "status");

	if (st && st->v && st->array)
		for (const struct val *v = st->v; v; v = v->next)
			if (v->type == V_STR && !strcmp(v->s, "VISIBLE"))
				lv->visible = true;
	/* _read_lvsegs: every subsection is a segment; segment_count must agree */
	if ((rc = get_uint(&c, ln, "segment_count", SEG_MAX, true, &segcount)))
		return rc;
	for (const struct node *sn = ln->child; sn; sn = sn->sib) {
		if (sn->v)
			continue;
		if (nseg == cap) {
			struct seg *ns;

			if (nseg >= SEG_MAX) {
				free(segs);
				return fail(g->r, "metadata text line %d: %s has more than %u segments",
					    ln->line, what, SEG_MAX);
			}
			cap = cap ? 2 * cap : 4;
			if (!(ns = realloc(segs, cap * sizeof(*ns)))) {
				free(segs);
				return -ENOMEM;
			}
			segs = ns;
		}
		char swhat[300];

		snprintf(swhat, sizeof(swhat), "%s %.64s", what, sn->key);
		c.what = swhat;
		segs[nseg].n = sn;
		segs[nseg].line = sn->line;
		if ((rc = get_uint(&c, sn, "start_extent", UINT32_MAX, true, &segs[nseg].start)) ||
		    (rc = get_uint(&c, sn, "extent_count", UINT32_MAX, true, &segs[nseg].count)))
			goto out;
		/* stricter than the text import: the kernel refuses a zero-length target
		 * (dm-table.c), so such an LV could never be activated */
		if (!segs[nseg].count) {
			rc = fail(g->r, "metadata text line %d: %s has extent_count 0",
				  find(sn, "extent_count")->line, swhat);
			goto out;
		}
		nseg++;
	}
	c.what = what;
	if (segcount != nseg) {
		rc = fail(g->r, "metadata text line %d: %s says segment_count %" PRIu64 " but has %zu",
			  ln->line, what, segcount, nseg);
		goto out;
	}
	if (!nseg) {
		rc = fail(g->r, "metadata text line %d: %s has no segment", ln->line, what);
		goto out;
	}
	lv->nsegs = (unsigned)nseg;
	/* check_lv_segments: no gaps or overlaps, from extent 0 */
	qsort(segs, nseg, sizeof(*segs), cmp_seg);
	uint64_t next = 0;

	for (size_t i = 0; i < nseg; i++) {
		if (segs[i].start != next) {
			rc = fail(g->r, "metadata text line %d: %s segment at extent %" PRIu64
				  " leaves a gap or overlap (expected extent %" PRIu64 ")",
				  segs[i].line, what, segs[i].start, next);
			goto out;
		}
		next += segs[i].count;
	}
	if (__builtin_mul_overflow(next, g->extent * SECTOR, &lv->size)) {
		rc = fail(g->r, "metadata text line %d: %s is too large", ln->line, what);
		goto out;
	}
	for (size_t i = 0; i < nseg; i++) {
		const struct node *sn = segs[i].n;
		char swhat[300], type[32];

		snprintf(swhat, sizeof(swhat), "%s %.64s", what, sn->key);
		c.what = swhat;
		if ((rc = get_str(&c, sn, "type", true, type, sizeof(type))))
			goto out;
		if (!i)
			strcpy(lv->type, type);
		if (!strcmp(type, "striped")) {
			if ((rc = read_striped(g, &c, &segs[i], lv)))
				goto out;
		} else if (!strcmp(type, "thin-pool")) {
			if ((rc = read_thin_pool(&c, sn, lv)))
				goto out;
		} else if (!strcmp(type, "thin")) {
			/* thin.c _thin_text_import */
			if ((rc = get_str(&c, sn, "thin_pool", true, lv->pool_lv, sizeof(lv->pool_lv))) ||
			    (rc = get_uint(&c, sn, "transaction_id", UINT64_MAX >> 1, true,
					   &lv->transaction_id)) ||
			    (rc = get_uint(&c, sn, "device_id", THIN_MAX_DEVICE_ID, true, &lv->device_id)))
				goto out;
		}
		/* other types (mirror, raid, cache, ...) are named in type and not mapped */
	}
	rc = 0;
out:
	free(segs);
	return rc;
}

/* _vsn1_check_version, _read_vg, _read_pv, then the LVs */
static int read_vg(struct rdr *r, const struct node *root, const struct pvinfo *pv,
		   struct lvmpv_vg *vg)
{
	struct ctx c = { r, "the metadata" };
	const struct node *vgn = NULL, *n, *pvs, *pvn = NULL, *lvs;
	char contents[64], id[80], what[200];
	uint64_t version;
	size_t npv = 0, nlv = 0;
	struct vgctx g = { r, vg, NULL, 0, 0, 0 };
	int rc;

	/* the root: contents and version, and the VG as its first section */
	const struct node *top = root;

	if ((rc = get_str(&c, top, "contents", true, contents, sizeof(contents))))
		return rc;
	if (strcmp(contents, "Text Format Volume Group"))
		return fail(r, "metadata text line %d: contents '%s' is not 'Text Format Volume Group'",
			    find(top, "contents")->line, contents);
	if ((rc = get_uint(&c, top, "version", UINT32_MAX, true, &version)))
		return rc;
	if (version != 1)
		return fail(r, "metadata text line %d: format version %" PRIu64 ", not 1",
			    find(top, "version")->line, version);
	for (n = root->child; n && !vgn; n = n->sib)
		if (!n->v)
			vgn = n;
	if (!vgn)
		return fail(r, "metadata text: no volume group section");
	snprintf(what, sizeof(what), "volume group '%.128s'", vgn->key);
	c.what = what;
	if (strlen(vgn->key) >= sizeof(vg->name))
		return fail(r, "metadata text line %d: volume group name too long", vgn->line);
	strcpy(vg->name, vgn->key);
	if ((rc = get_str(&c, vgn, "id", true, id, sizeof(id))) ||
	    (rc = get_uint(&c, vgn, "seqno", UINT32_MAX, true, &vg->seqno)) ||
	    (rc = get_uint(&c, vgn, "extent_size", UINT32_MAX, true, &g.extent)))
		return rc;
	if (!g.extent)
		return fail(r, "metadata text line %d: extent_size 0", find(vgn, "extent_size")->line);
	vg->extent_bytes = g.extent * SECTOR;
	/* one PV, and it must be this one (its id, without the dashes lvm2 prints) */
	if ((rc = need(&c, vgn, "physical_volumes", &pvs)))
		return rc;
	for (n = pvs->child; n; n = n->sib)
		if (!n->v && !npv++)
			pvn = n;
	if (npv != 1)
		return fail(r, "metadata text line %d: %s has %zu physical volumes; only one is supported",
			    pvs->line, what, npv);
	snprintf(what, sizeof(what), "physical volume '%.64s'", pvn->key);
	if ((rc = get_str(&c, pvn, "id", true, id, sizeof(id))))
		return rc;
	char bare[80];
	size_t k = 0;

	for (const char *s = id; *s; s++)
		if (*s != '-')
			bare[k++] = *s;
	bare[k] = '\0';
	if (strcmp(bare, pv->uuid))
		return fail(r, "metadata text line %d: %s has id '%s', but this PV's label says '%s'",
			    find(pvn, "id")->line, what, id, pv->uuid);
	/* _read_pv: pe_start (sectors) is what mapping uses (dev_manager.c); the label's
	 * first data area normally says the same */
	if ((rc = get_uint(&c, pvn, "pe_start", UINT64_MAX / SECTOR, true, &g.pe_start)) ||
	    (rc = get_uint(&c, pvn, "pe_count", UINT32_MAX, true, &g.pe_count)))
		return rc;
	uint64_t pv_bytes;

	/* every extent's byte offset must fit: then so do all areas computed below */
	if (__builtin_mul_overflow(g.pe_count, vg->extent_bytes, &pv_bytes) ||
	    __builtin_add_overflow(pv_bytes, g.pe_start * SECTOR, &pv_bytes))
		return fail(r, "metadata text line %d: %s: extents beyond 2^64 bytes", pvn->line, what);
	vg->pe_start_bytes = g.pe_start * SECTOR;
	vg->label_pe_start_bytes = pv->da_off;
	g.pvname = pvn->key;
	/* the LVs: a VG may have none */
	lvs = find(vgn, "logical_volumes");
	for (n = lvs ? lvs->child : NULL; n; n = n->sib)
		nlv++;
	if (nlv > LV_MAX)
		return fail(r, "metadata text line %d: more than %u logical volumes", lvs->line, LV_MAX);
	if (nlv && !(vg->lvs = calloc(nlv, sizeof(*vg->lvs))))
		return -ENOMEM;
	for (n = lvs ? lvs->child : NULL; n; n = n->sib) {
		if ((rc = read_lv(&g, n, &vg->lvs[vg->nlvs++])))
			return rc;
	}
	/* thin.c: the names a pool or a thin LV refers to must be LVs of the VG */
	for (size_t i = 0; i < vg->nlvs; i++) {
		const struct lvmpv_lv *lv = &vg->lvs[i];
		const char *ref[3] = { lv->metadata_lv, lv->data_lv, lv->pool_lv };
		const struct lvmpv_lv *to;

		for (int j = 0; j < 3; j++)
			if (*ref[j] && !lvmpv_find(vg, ref[j]))
				return fail(r, "metadata text: logical volume '%s' refers to '%s', "
					    "which is not in the volume group", lv->name, ref[j]);
		/* thin.c: a create message names a thin LV; its device_id is the message's */
		for (size_t mi = 0; mi < lv->nmessages; mi++) {
			struct lvmpv_msg *m = &lv->messages[mi];

			if (m->type != LVMPV_MSG_CREATE)
				continue;
			if (!(to = lvmpv_find(vg, m->lv)) || strcmp(to->type, "thin"))
				return fail(r, "metadata text: thin pool '%s' has a create message for '%s', "
					    "which is not a thin volume of the volume group", lv->name, m->lv);
			m->device_id = to->device_id;
		}
		/* thin.c attach_pool_lv: a thin LV's pool is a thin pool */
		if (*lv->pool_lv && strcmp((to = lvmpv_find(vg, lv->pool_lv))->type, "thin-pool"))
			return fail(r, "metadata text: thin volume '%s' has pool '%s' of type '%s', "
				    "not a thin pool", lv->name, lv->pool_lv, to->type);
	}
	return 0;
}

int lvmpv_read(lvmpv_read_fn rd, void *ctx, struct lvmpv_vg *vg, char *why, size_t wlen)
{
	struct rdr r = { rd, ctx, why, wlen };
	struct pvinfo pv = { 0 };
	struct text t = { 0 };
	struct node root = { .key = "<root>", .line = 1 };
	struct parser p = { .r = &r, .line = 1 };
	int rc = -ENOENT;

	memset(vg, 0, sizeof(*vg));
	if (why && wlen)
		*why = '\0';
	if ((rc = read_label(&r, &pv)))
		return rc;
	if (!pv.nmda)
		return fail(&r, "pv_header at byte %" PRIu64 " lists no metadata area", pv.label_off);
	/* the first metadata area whose committed slot is not ignored */
	rc = -ENOENT;
	for (unsigned i = 0; i < pv.nmda && rc == -ENOENT; i++)
		rc = read_mda(&r, &pv, i, &t);
	if (rc == -ENOENT)
		return fail(&r, "every metadata area of the PV is ignored (metadataignore)");
	if (rc)
		return rc;
	p.fb = p.tb = p.te = t.buf;
	p.fe = t.buf + t.len;
	get_token(&p, T_EOF);
	while (!p.err && p.t != T_EOF)
		if (!parse_section(&p, &root) && !p.err)
			perr(&p, "cannot parse");
	rc = p.err;
	if (!rc)
		rc = read_vg(&r, &root, &pv, vg);
	free_node(root.child);
	free(t.buf);
	if (rc) {
		lvmpv_free(vg);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	snprintf(vg->pv_uuid, sizeof(vg->pv_uuid), "%s", pv.uuid);
	vg->dev_size_bytes = pv.dev_size;
	vg->mda_offset = t.mda_off;
	vg->text_offset = t.rl_off;
	vg->text_size = t.rl_size;
	vg->precommit_pending = t.precommit;
	return 0;
}

const struct lvmpv_lv *lvmpv_find(const struct lvmpv_vg *vg, const char *lv)
{
	for (size_t i = 0; i < vg->nlvs; i++)
		if (!strcmp(vg->lvs[i].name, lv))
			return &vg->lvs[i];
	return NULL;
}

int lvmpv_map(const struct lvmpv_lv *lv, uint64_t lv_off, uint64_t len, uint64_t *pv_off,
	      uint64_t *run)
{
	if (!len)
		return -EINVAL;
	for (size_t i = 0; i < lv->nareas; i++) {
		const struct lvmpv_area *a = &lv->areas[i];

		if (lv_off >= a->lv_start && lv_off - a->lv_start < a->len) {
			uint64_t in = lv_off - a->lv_start;

			*pv_off = a->pv_off + in;
			*run = a->len - in < len ? a->len - in : len;
			return 0;
		}
	}
	return -ERANGE;
}

void lvmpv_free(struct lvmpv_vg *vg)
{
	if (!vg)
		return;
	for (size_t i = 0; i < vg->nlvs; i++) {
		free(vg->lvs[i].areas);
		free(vg->lvs[i].messages);
	}
	free(vg->lvs);
	memset(vg, 0, sizeof(*vg));
}
