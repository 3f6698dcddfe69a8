/* test_lvmpv: the LVM2 PV metadata reader (host/explore/lvmpv.c) on PV images built
 * here in memory the way lvm2 writes them: the label in sector 1 (pvcreate's default),
 * the pv_header with its data and metadata area lists, the metadata area header at
 * 4 KiB with its raw_locn slots, and the text in lvm2's raw on-disk form (no
 * indentation, a trailing NUL counted in the slot's size), checked against a real PV
 * the guest's lvm2 wrote (data/README.md). Each test says which lvm2 behaviour it
 * stands for; every error path is fed exactly its case and its message is asserted to
 * name the byte offset or the text's line. Last, thin_state (thin.c) on the real PV:
 * the host's own disk failing stops the exploration, the state's PV failing does not. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lvmpv.h"
#include "rng.h"
#include "thin.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)
#define INITIAL_CRC 0xf597a6cfu
#define MDA_OFF 4096ull
#define MDA_SIZE (MiB - 4096)	/* pvcreate's default: pe_start at 1 MiB */
#define UUID "AbCdEf0123456789AbCdEf0123456789"
#define UUID_TEXT "AbCdEf-0123-4567-89Ab-CdEf-0123-456789"

/* lvm2's calc_crc (lib/misc/crc.c), table-driven here, unlike the module's bitwise
 * one; checked against a vector computed with zlib (crc32(d, I ^ ~0) ^ ~0). */
static uint32_t crc_tab[256];

static uint32_t crc(uint32_t c, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	if (!crc_tab[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = v & 1 ? (v >> 1) ^ 0xedb88320u : v >> 1;
			crc_tab[i] = v;
		}
	while (n--)
		c = crc_tab[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

struct img {
	uint8_t *b;
	size_t size;
	uint64_t mda_off, mda_size;
	unsigned reads_failing;	/* fail reads at or beyond this byte when nonzero */
};

static int img_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct img *im = ctx;

	if (off > im->size || len > im->size - off)
		return -EIO;
	if (im->reads_failing && off + len > im->reads_failing)
		return -EIO;
	memcpy(buf, im->b + off, len);
	return 0;
}

/* label_header + pv_header at sector `sector` (text_label.c _text_write's layout) */
static void write_label(struct img *im, unsigned sector, const char *type, uint64_t pe_start)
{
	uint8_t *h = im->b + sector * 512;

	memset(h, 0, 512);
	memcpy(h, "LABELONE", 8);
	put64(h + 8, sector);
	put32(h + 20, 32);	/* pv_header right after the 32-byte label_header */
	memcpy(h + 24, type, 8);
	memcpy(h + 32, UUID, 32);
	put64(h + 64, im->size);
	/* data areas: one from pe_start to the end (size 0), then the terminator */
	put64(h + 72, pe_start);
	put64(h + 80, 0);
	/* 88..103 zero: end of data areas; metadata areas: one, then the terminator */
	put64(h + 104, im->mda_off);
	put64(h + 112, im->mda_size);
	put32(h + 16, crc(INITIAL_CRC, h + 20, 512 - 20));
}

static void reseal_label(struct img *im, unsigned sector)
{
	uint8_t *h = im->b + sector * 512;

	put32(h + 16, crc(INITIAL_CRC, h + 20, 512 - 20));
}

static void reseal_mdah(struct img *im)
{
	uint8_t *h = im->b + im->mda_off;

	put32(h, crc(INITIAL_CRC, h + 4, 512 - 4));
}

static void write_mdah(struct img *im)
{
	uint8_t *h = im->b + im->mda_off;

	memset(h, 0, 512);
	memcpy(h + 4, "\040\114\126\115\062\040\170\133\065\101\045\162\060\116\052\076", 16);
	put32(h + 20, 1);
	put64(h + 24, im->mda_off);
	put64(h + 32, im->mda_size);
	reseal_mdah(im);
}

/* The text with its NUL at text_off of the area, wrapping past the area's end to just
 * after the header as _vg_write_raw does; slot `slot` points at it. */
static void write_text(struct img *im, unsigned slot, uint64_t text_off, const char *text)
{
	uint64_t size = strlen(text) + 1, first = size, wrap = 0;
	uint8_t *h = im->b + im->mda_off, *rl = h + 40 + 24 * slot;

	if (text_off + size > im->mda_size) {
		wrap = text_off + size - im->mda_size;
		first = size - wrap;
	}
	memcpy(im->b + im->mda_off + text_off, text, first);
	memcpy(im->b + im->mda_off + 512, text + first, wrap);
	put64(rl, text_off);
	put64(rl + 8, size);
	put32(rl + 16, crc(INITIAL_CRC, text, size));
	put32(rl + 20, 0);
	reseal_mdah(im);
}

static void img_init(struct img *im, uint64_t mda_size)
{
	im->mda_off = MDA_OFF;
	im->mda_size = mda_size;
	im->size = MDA_OFF + mda_size;
	im->b = calloc(1, im->size);
	im->reads_failing = 0;
	assert_non_null(im->b);
}

static void img_build(struct img *im, uint64_t mda_size, const char *text)
{
	img_init(im, mda_size);
	write_label(im, 1, "LVM2 001", MiB);
	write_mdah(im);
	write_text(im, 0, 512, text);
}

/* The shape of what `vgcreate pcvg /dev/vdb; lvcreate -L 64m -T pcvg/pool -V 128m -n
 * thin` writes (rig/sim/guest/init lvm_create), in lvm2's raw on-disk form
 * (export.c's raw formatter: no indentation, no per-value comments; the generator's
 * line and the host's and time's comments stay, as in data/lvm-pv-head.bin), with the
 * physical_volumes pv0 at pe_start 2048 sectors and 4 MiB extents. */
#define VG_HEAD \
	"pcvg {\n" \
	"id = \"Wq1v2e-aaaa-bbbb-cccc-dddd-eeee-ffffff\"\n" \
	"seqno = %d\n" \
	"format = \"lvm2\"\n" \
	"status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\n" \
	"flags = []\n" \
	"extent_size = 8192\n" \
	"max_lv = 0\n" \
	"max_pv = 0\n" \
	"metadata_copies = 0\n" \
	"\n" \
	"physical_volumes {\n" \
	"\n" \
	"pv0 {\n" \
	"id = \"" UUID_TEXT "\"\n" \
	"device = \"/dev/vdb\"\n" \
	"\n" \
	"status = [\"ALLOCATABLE\"]\n" \
	"flags = []\n" \
	"dev_size = 2097152\n" \
	"pe_start = 2048\n" \
	"pe_count = 255\n" \
	"}\n" \
	"}\n" \
	"\n" \
	"logical_volumes {\n"

#define LV_STRIPED(name, vis, count, pe) \
	"\n" name " {\n" \
	"id = \"x1x2x3-aaaa-bbbb-cccc-dddd-eeee-ffffff\"\n" \
	"status = [\"READ\", \"WRITE\"" vis "]\n" \
	"flags = []\n" \
	"creation_time = 1764900000\n" \
	"creation_host = \"pcguest\"\n" \
	"segment_count = 1\n" \
	"\n" \
	"segment1 {\n" \
	"start_extent = 0\n" \
	"extent_count = " #count "\n" \
	"\n" \
	"type = \"striped\"\n" \
	"stripe_count = 1\n" \
	"\n" \
	"stripes = [\n" \
	"\"pv0\", " #pe "\n" \
	"]\n" \
	"}\n" \
	"}\n"

#define LV_POOL(extra) \
	"\n" \
	"pool {\n" \
	"id = \"p1p2p3-aaaa-bbbb-cccc-dddd-eeee-ffffff\"\n" \
	"status = [\"READ\", \"WRITE\", \"VISIBLE\"]\n" \
	"flags = []\n" \
	"creation_time = 1764900000\n" \
	"creation_host = \"pcguest\"\n" \
	"segment_count = 1\n" \
	"\n" \
	"segment1 {\n" \
	"start_extent = 0\n" \
	"extent_count = 16\n" \
	"\n" \
	"type = \"thin-pool\"\n" \
	"metadata = \"pool_tmeta\"\n" \
	"pool = \"pool_tdata\"\n" \
	"transaction_id = 1\n" \
	extra \
	"discards = \"passdown\"\n" \
	"zero_new_blocks = 1\n" \
	"}\n" \
	"}\n"

#define LV_THIN(extra) \
	"\n" \
	"thin {\n" \
	"id = \"t1t2t3-aaaa-bbbb-cccc-dddd-eeee-ffffff\"\n" \
	"status = [\"READ\", \"WRITE\", \"VISIBLE\"]\n" \
	"flags = []\n" \
	"creation_time = 1764900001\n" \
	"creation_host = \"pcguest\"\n" \
	"segment_count = 1\n" \
	"\n" \
	"segment1 {\n" \
	"start_extent = 0\n" \
	"extent_count = 32\n" \
	"\n" \
	"type = \"thin\"\n" \
	"thin_pool = \"pool\"\n" \
	"transaction_id = 0\n" \
	extra \
	"}\n" \
	"}\n"

#define VG_TAIL \
	"}\n" \
	"\n" \
	"}\n" \
	"# Generated by LVM2 version 2.03.16(2) (2022-05-18): Fri Dec  5 02:00:00 2026\n" \
	"\n" \
	"contents = \"Text Format Volume Group\"\n" \
	"version = 1\n" \
	"\n" \
	"description = \"\"\n" \
	"\n" \
	"creation_host = \"pcguest\"\t# Linux pcguest 6.1.0 #1 SMP x86_64\n" \
	"creation_time = 1764900001\t# Fri Dec  5 02:00:01 2026\n" \
	"\n"

#define THIN_VG(seqno_fmt_unused) \
	VG_HEAD \
	LV_POOL("chunk_size = 128\n") \
	LV_THIN("device_id = 1\n") \
	LV_STRIPED("lvol0_pmspare", "", 1, 0) \
	LV_STRIPED("pool_tmeta", "", 1, 17) \
	LV_STRIPED("pool_tdata", "", 16, 1) \
	VG_TAIL

static char *fmt(const char *f, int seqno)
{
	char *s = NULL;

	assert_true(asprintf(&s, f, seqno) > 0);
	return s;
}

static int rd(struct img *im, struct lvmpv_vg *vg, char *why, size_t wlen)
{
	return lvmpv_read(img_read, im, vg, why, wlen);
}

/* The read must fail with -EINVAL and a message holding every given fragment. */
static void expect_fail(struct img *im, ...)
{
	struct lvmpv_vg vg;
	char why[512];
	va_list ap;
	const char *frag;
	int rc = rd(im, &vg, why, sizeof(why));

	if (rc != -EINVAL)
		fail_msg("expected -EINVAL, got %d (%s)", rc, why);
	va_start(ap, im);
	while ((frag = va_arg(ap, const char *)))
		if (!strstr(why, frag))
			fail_msg("message '%s' lacks '%s'", why, frag);
	va_end(ap);
	assert_int_equal(vg.nlvs, 0);
	lvmpv_free(&vg);
}

static void build_text(struct img *im, const char *text)
{
	img_build(im, MDA_SIZE, text);
}

/* The guest's VG at seqno in a new image; returns the text (the caller frees both). */
static char *thin_image(struct img *im, int seqno)
{
	char *text = fmt(THIN_VG(), seqno);

	build_text(im, text);
	return text;
}

/* The CRC of the test against the zlib-computed vector: lvm2's calc_crc of
 * "123456789" from INITIAL_CRC, and chaining over two pieces gives the same. */
static void test_crc_vector(void **state)
{
	(void)state;
	assert_int_equal(crc(INITIAL_CRC, "123456789", 9), 0x4991cf02u);
	assert_int_equal(crc(crc(INITIAL_CRC, "1234", 4), "56789", 5), 0x4991cf02u);
	/* and the module's, which the fuzz target writes its images with */
	assert_int_equal(lvmpv_calc_crc(LVMPV_INITIAL_CRC, "123456789", 9), 0x4991cf02u);
	assert_int_equal(lvmpv_calc_crc(lvmpv_calc_crc(LVMPV_INITIAL_CRC, "12345", 5), "6789", 4),
			 0x4991cf02u);
}

/* The guest's VG: pool, thin, the spare and the pool's hidden LVs */
static void test_thin_vg(void **state)
{
	struct img im;
	struct lvmpv_vg vg;
	char why[256];
	char *text = thin_image(&im, 7);
	const struct lvmpv_lv *pool, *thin, *tmeta, *tdata, *spare;
	uint64_t off, run;

	(void)state;
	assert_int_equal(rd(&im, &vg, why, sizeof(why)), 0);
	assert_string_equal(vg.name, "pcvg");
	assert_int_equal(vg.seqno, 7);
	assert_int_equal(vg.extent_bytes, 4 * MiB);
	assert_int_equal(vg.pe_start_bytes, MiB);
	assert_int_equal(vg.nlvs, 5);
	assert_string_equal(vg.pv_uuid, UUID);
	assert_int_equal(vg.mda_offset, MDA_OFF);
	assert_int_equal(vg.text_offset, 512);
	assert_int_equal(vg.text_size, strlen(text) + 1);
	assert_false(vg.precommit_pending);

	assert_non_null(pool = lvmpv_find(&vg, "pool"));
	assert_string_equal(pool->type, "thin-pool");
	assert_string_equal(pool->metadata_lv, "pool_tmeta");
	assert_string_equal(pool->data_lv, "pool_tdata");
	assert_int_equal(pool->chunk_bytes, 64 * KiB);
	assert_int_equal(pool->transaction_id, 1);
	assert_true(pool->zero);
	assert_true(pool->visible);
	assert_int_equal(pool->size, 64 * MiB);
	assert_int_equal(pool->nareas, 0);

	assert_non_null(thin = lvmpv_find(&vg, "thin"));
	assert_string_equal(thin->type, "thin");
	assert_string_equal(thin->pool_lv, "pool");
	assert_int_equal(thin->device_id, 1);
	assert_int_equal(thin->size, 128 * MiB);

	assert_non_null(spare = lvmpv_find(&vg, "lvol0_pmspare"));
	assert_false(spare->visible);
	assert_non_null(tmeta = lvmpv_find(&vg, "pool_tmeta"));
	assert_string_equal(tmeta->type, "striped");
	assert_int_equal(tmeta->nareas, 1);
	/* dev_manager.c: pe_start + extent_size * pe */
	assert_int_equal(lvmpv_map(tmeta, 0, 4096, &off, &run), 0);
	assert_int_equal(off, MiB + 17 * 4 * MiB);
	assert_int_equal(run, 4096);
	assert_int_equal(lvmpv_map(tmeta, 4 * MiB - 512, 4096, &off, &run), 0);
	assert_int_equal(off, MiB + 18 * 4 * MiB - 512);
	assert_int_equal(run, 512);
	assert_int_equal(lvmpv_map(tmeta, 4 * MiB, 1, &off, &run), -ERANGE);
	assert_int_equal(lvmpv_map(tmeta, 0, 0, &off, &run), -EINVAL);
	assert_non_null(tdata = lvmpv_find(&vg, "pool_tdata"));
	assert_int_equal(lvmpv_map(tdata, 5 * MiB, 64 * MiB, &off, &run), 0);
	assert_int_equal(off, MiB + 4 * MiB + 5 * MiB);
	assert_int_equal(run, 59 * MiB);
	assert_null(lvmpv_find(&vg, "nosuch"));
	assert_int_equal(lvmpv_map(pool, 0, 1, &off, &run), -ERANGE);
	lvmpv_free(&vg);
	assert_int_equal(vg.nlvs, 0);
	lvmpv_free(&vg);
	lvmpv_free(NULL);
	free(text);
	free(im.b);
}

/* The form vgcfgbackup writes (export.c's file formatter: tabs, comments), with
 * libdm-config.c's other lexemes: single quotes, escapes (dm_unescape_double_quotes),
 * commas optional in arrays, a quoted section name, a float. */
static void test_syntax(void **state)
{
	static const char text[] =
		"# Generated by LVM2\n"
		"\"pc\\\"vg\" {\n"
		"\tid = 'Wq1v2e-aaaa-bbbb'\t# a comment\n"
		"\tseqno = 3\n"
		"\tratio = 1.5\n"
		"\ttags = [\"a\\\\b\" \"c\"]\n"
		"\textent_size = 8192\n"
		"\tphysical_volumes {\n"
		"\t\tpv0 { id = \"" UUID_TEXT "\" pe_start = 2048 pe_count = 10 }\n"
		"\t}\n"
		"\tlogical_volumes {\n"
		"\t\tlv { segment_count = 1\n"
		"\t\t\tsegment1 { start_extent = 0 extent_count = 2 type = striped stripe_count = 1\n"
		"\t\t\t\tstripes = [ \"pv0\", 3 ] } }\n"
		"\t}\n"
		"}\n"
		"contents = \"Text Format Volume Group\"\n"
		"version = 1\n";
	struct img im;
	struct lvmpv_vg vg;
	char why[256];
	uint64_t off, run;

	(void)state;
	build_text(&im, text);
	assert_int_equal(rd(&im, &vg, why, sizeof(why)), 0);
	assert_string_equal(vg.name, "pc\"vg");
	assert_int_equal(vg.nlvs, 1);
	assert_string_equal(vg.lvs[0].type, "striped");
	assert_int_equal(lvmpv_map(&vg.lvs[0], 0, 16 * MiB, &off, &run), 0);
	assert_int_equal(off, MiB + 12 * MiB);
	assert_int_equal(run, 8 * MiB);
	lvmpv_free(&vg);
	free(im.b);
}

/* format-text.c: text that passes the area's end continues just after the header;
 * the checksum covers both pieces (config.c) */
static void test_wrap(void **state)
{
	struct img im;
	struct lvmpv_vg vg;
	char why[256];
	char *text = fmt(THIN_VG(), 9);
	uint64_t size = strlen(text) + 1;
	uint64_t at = MDA_SIZE - 1000;

	(void)state;
	assert_true(size > 1000);
	img_init(&im, MDA_SIZE);
	write_label(&im, 1, "LVM2 001", MiB);
	write_mdah(&im);
	write_text(&im, 0, at, text);
	/* the second piece is really at the area's start: nothing else holds it */
	assert_memory_equal(im.b + MDA_OFF + 512, text + 1000, 64);
	assert_int_equal(rd(&im, &vg, why, sizeof(why)), 0);
	assert_int_equal(vg.seqno, 9);
	assert_int_equal(vg.text_offset, at);
	assert_non_null(lvmpv_find(&vg, "pool_tdata"));
	lvmpv_free(&vg);
	/* a torn second piece is a checksum mismatch naming the text's first byte */
	im.b[MDA_OFF + 512 + 10] ^= 0x20;
	char where[64];

	snprintf(where, sizeof(where), "byte %llu", (unsigned long long)(MDA_OFF + at));
	expect_fail(&im, "checksum", where, "wrapped", NULL);
	free(text);
	free(im.b);
}

/* The data LV after an lvextend: a second segment elsewhere on the PV; a third one
 * adjacent on both sides merges with it (lv_merge_segments). */
static void test_multiseg(void **state)
{
	static const char text[] =
		VG_HEAD
		LV_POOL("chunk_size = 128\n")
		LV_THIN("device_id = 1\n")
		LV_STRIPED("pool_tmeta", "", 1, 17)
		"\npool_tdata {\n"
		"id = \"d1\"\n"
		"status = [\"READ\", \"WRITE\"]\n"
		"segment_count = 3\n"
		"\nsegment2 {\nstart_extent = 10\nextent_count = 4\n\ntype = \"striped\"\n"
		"stripe_count = 1\n\nstripes = [\n\"pv0\", 40\n]\n}\n"
		"\nsegment1 {\nstart_extent = 0\nextent_count = 10\n\ntype = \"striped\"\n"
		"stripe_count = 1\n\nstripes = [\n\"pv0\", 1\n]\n}\n"
		"\nsegment3 {\nstart_extent = 14\nextent_count = 2\n\ntype = \"striped\"\n"
		"stripe_count = 1\n\nstripes = [\n\"pv0\", 44\n]\n}\n"
		"}\n"
		VG_TAIL;
	struct img im;
	struct lvmpv_vg vg;
	char why[256];
	char *t = fmt(text, 4);
	const struct lvmpv_lv *d;
	uint64_t off, run, E = 4 * MiB;

	(void)state;
	build_text(&im, t);
	assert_int_equal(rd(&im, &vg, why, sizeof(why)), 0);
	assert_non_null(d = lvmpv_find(&vg, "pool_tdata"));
	assert_int_equal(d->size, 16 * E);
	assert_int_equal(d->nsegs, 3);
	assert_int_equal(d->nareas, 2);
	/* across the boundary at extent 10: the run stops there */
	assert_int_equal(lvmpv_map(d, 10 * E - 4096, 8192, &off, &run), 0);
	assert_int_equal(off, MiB + 11 * E - 4096);
	assert_int_equal(run, 4096);
	assert_int_equal(lvmpv_map(d, 10 * E, 8192, &off, &run), 0);
	assert_int_equal(off, MiB + 40 * E);
	assert_int_equal(run, 8192);
	/* segments 2 and 3 are one run of 6 extents */
	assert_int_equal(lvmpv_map(d, 10 * E, 100 * E, &off, &run), 0);
	assert_int_equal(run, 6 * E);
	assert_int_equal(lvmpv_map(d, 16 * E, 1, &off, &run), -ERANGE);
	lvmpv_free(&vg);
	free(t);
	free(im.b);
}

/* _read_metadata_location_vg: slot 0 is the committed metadata, whatever slot 1 (the
 * precommitted, written before the commit) says; after the commit slot 0 points at
 * the newer text while the older one still lies in the buffer. */
static void test_slots(void **state)
{
	struct img im;
	struct lvmpv_vg vg;
	char why[256];
	char *old = fmt(THIN_VG(), 5), *new = fmt(THIN_VG(), 6);
	uint64_t new_off = 512 + ((strlen(old) + 1 + 511) / 512) * 512;

	(void)state;
	build_text(&im, old);
	write_text(&im, 1, new_off, new);	/* vg_precommit: slot 1 only */
	assert_int_equal(rd(&im, &vg, why, sizeof(why)), 0);
	assert_int_equal(vg.seqno, 5);
	assert_true(vg.precommit_pending);
	lvmpv_free(&vg);
	/* vg_commit: slot 0 takes the new location, slot 1 is cleared */
	write_text(&im, 0, new_off, new);
	memset(im.b + MDA_OFF + 40 + 24, 0, 24);
	reseal_mdah(&im);
	assert_int_equal(rd(&im, &vg, why, sizeof(why)), 0);
	assert_int_equal(vg.seqno, 6);
	assert_int_equal(vg.text_offset, new_off);
	assert_false(vg.precommit_pending);
	lvmpv_free(&vg);
	free(old);
	free(new);
	free(im.b);
}

/* ---- the label (label.c _find_lvm_header, text_label.c) */

static void test_label_errors(void **state)
{
	struct img im;
	struct lvmpv_vg vg;
	char why[256];
	char *text = thin_image(&im, 1);

	(void)state;
	/* a label in sector 0 or 3 is found as well (the scan covers 4 sectors) */
	memset(im.b + 512, 0, 512);
	write_label(&im, 3, "LVM2 001", MiB);
	assert_int_equal(rd(&im, &vg, why, sizeof(why)), 0);
	lvmpv_free(&vg);
	/* none in the first four sectors: in sector 4 it is not looked for */
	memset(im.b + 3 * 512, 0, 512);
	memcpy(im.b + 4 * 512, "LABELONE", 8);
	expect_fail(&im, "no LVM2 label", "bytes 0-2047", NULL);
	/* crc mismatch: the label is ignored, and the message says where and why */
	write_label(&im, 1, "LVM2 001", MiB);
	im.b[512 + 100] ^= 1;
	expect_fail(&im, "no LVM2 label", "byte 512", "checksum", NULL);
	/* a label naming another sector is ignored */
	write_label(&im, 1, "LVM2 001", MiB);
	put64(im.b + 512 + 8, 2);
	reseal_label(&im, 1);
	expect_fail(&im, "byte 512", "names sector 2", NULL);
	/* wrong type, crc fine */
	write_label(&im, 1, "LVM1 001", MiB);
	expect_fail(&im, "byte 536", "'LVM1 001'", NULL);
	/* pv_header offset leaving no room (label_check_pv_layout) */
	write_label(&im, 1, "LVM2 001", MiB);
	put32(im.b + 512 + 20, 480);
	reseal_label(&im, 1);
	expect_fail(&im, "byte 512", "pv_header offset 480", NULL);
	/* a disk_locn list without its terminator inside the sector */
	write_label(&im, 1, "LVM2 001", MiB);
	for (unsigned o = 72; o < 512; o += 16)
		put64(im.b + 512 + o, 4096 + o);
	reseal_label(&im, 1);
	expect_fail(&im, "byte 544", "data area list runs past", NULL);
	/* no metadata area listed */
	write_label(&im, 1, "LVM2 001", MiB);
	memset(im.b + 512 + 104, 0, 16);
	reseal_label(&im, 1);
	expect_fail(&im, "byte 512", "no metadata area", NULL);
	free(text);
	free(im.b);
}

/* ---- the metadata area header and its slots (raw_parse_mda_header, _vg_read_raw_area) */

static void test_mda_errors(void **state)
{
	struct img im;
	char *text = thin_image(&im, 1);
	uint8_t *h;

	(void)state;
	h = im.b + MDA_OFF;
	h[300] ^= 1;
	expect_fail(&im, "metadata area header at byte 4096", "checksum", NULL);
	h[300] ^= 1;
	h[5] ^= 1;
	reseal_mdah(&im);
	expect_fail(&im, "byte 4096", "wrong magic", NULL);
	h[5] ^= 1;
	put32(h + 20, 2);
	reseal_mdah(&im);
	expect_fail(&im, "byte 4096", "version 2", NULL);
	put32(h + 20, 1);
	put64(h + 24, 8192);
	reseal_mdah(&im);
	expect_fail(&im, "byte 4096", "starts at byte 8192", NULL);
	put64(h + 24, MDA_OFF);
	put64(h + 32, 100);
	reseal_mdah(&im);
	expect_fail(&im, "byte 4096", "area size 100", NULL);
	put64(h + 32, MDA_SIZE);
	/* a raw_locn outside the area: offset past its end, size beyond it, inside
	 * the header */
	put64(h + 40, MDA_SIZE);
	reseal_mdah(&im);
	expect_fail(&im, "byte 4096", "outside the area", NULL);
	put64(h + 40, 512);
	put64(h + 48, MDA_SIZE);
	reseal_mdah(&im);
	expect_fail(&im, "byte 4096", "outside the area", NULL);
	put64(h + 40, 100);
	put64(h + 48, strlen(text) + 1);
	reseal_mdah(&im);
	expect_fail(&im, "byte 4096", "offset 100", NULL);
	/* an area that runs past the device the pv_header gives (its text inside the
	 * device: read until the area's size was bounded) */
	put64(h + 40, 512);
	put64(h + 48, strlen(text) + 1);
	put64(h + 32, MDA_SIZE + 512);
	reseal_mdah(&im);
	expect_fail(&im, "byte 4096", "area size 1044992", "runs past the device's 1048576 bytes",
		    NULL);
	/* without a device size in the pv_header: an area whose end passes 2^64, where
	 * the area's offset plus a text offset would wrap onto another byte */
	put64(im.b + 512 + 64, 0);
	reseal_label(&im, 1);
	put64(h + 32, UINT64_MAX - 100);
	reseal_mdah(&im);
	expect_fail(&im, "byte 4096", "runs past the device's 0 bytes", NULL);
	/* huge: an area of 1 TiB claiming 2 GiB of text is refused before allocating */
	put64(h + 32, 1ull << 40);
	put64(h + 48, 1ull << 31);
	reseal_mdah(&im);
	expect_fail(&im, "byte 4096", "text size 2147483648", NULL);
	put64(im.b + 512 + 64, im.size);
	reseal_label(&im, 1);
	put64(h + 32, MDA_SIZE);
	put64(h + 48, strlen(text) + 1);
	reseal_mdah(&im);
	/* the torn metadata write: text changed, slot checksum old */
	im.b[MDA_OFF + 512 + 40] ^= 0x01;
	expect_fail(&im, "metadata text at byte 4608", "checksum", "torn", NULL);
	im.b[MDA_OFF + 512 + 40] ^= 0x01;
	/* RAW_LOCN_IGNORED (pvchange --metadataignore y): the area is not read */
	put32(h + 40 + 20, 1);
	reseal_mdah(&im);
	expect_fail(&im, "ignored", NULL);
	/* an empty slot 0: a PV without a VG */
	memset(h + 40, 0, 24);
	reseal_mdah(&im);
	expect_fail(&im, "byte 4096", "no committed metadata", NULL);
	free(text);
	free(im.b);
}

/* lvm2 skips a metadata area whose slot 0 is RAW_LOCN_IGNORED (format-text.c
 * rlocn_is_ignored) and reads the VG from another: here the PV's second area, as
 * `pvcreate --pvmetadatacopies 2` puts one at the end of the disk. */
static void test_second_mda(void **state)
{
	struct img im;
	struct lvmpv_vg vg;
	char why[256];
	char *text = fmt(THIN_VG(), 12);
	uint64_t second = MDA_OFF + 64 * KiB;

	(void)state;
	img_init(&im, 64 * KiB);
	im.size = second + 64 * KiB;
	assert_non_null(im.b = realloc(im.b, im.size));
	memset(im.b, 0, im.size);
	write_label(&im, 1, "LVM2 001", MiB);
	put64(im.b + 512 + 120, second);
	put64(im.b + 512 + 128, 64 * KiB);
	reseal_label(&im, 1);
	write_mdah(&im);
	write_text(&im, 0, 512, text);
	put32(im.b + MDA_OFF + 40 + 20, 1);
	reseal_mdah(&im);
	im.mda_off = second;
	write_mdah(&im);
	write_text(&im, 0, 1024, text);
	assert_int_equal(rd(&im, &vg, why, sizeof(why)), 0);
	assert_int_equal(vg.seqno, 12);
	assert_int_equal(vg.mda_offset, second);
	assert_int_equal(vg.text_offset, 1024);
	lvmpv_free(&vg);
	free(text);
	free(im.b);
}

static void test_read_error(void **state)
{
	struct img im;
	struct lvmpv_vg vg;
	char why[256];
	char *text = thin_image(&im, 1);

	(void)state;
	im.reads_failing = MDA_OFF + 600;
	assert_int_equal(rd(&im, &vg, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "byte 4608"));
	im.reads_failing = 100;
	assert_int_equal(rd(&im, &vg, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "byte 0"));
	/* no message buffer: still a clean result */
	assert_int_equal(lvmpv_read(img_read, &im, &vg, NULL, 0), -EIO);
	free(text);
	free(im.b);
}

/* ---- the text: syntax (libdm-config.c) and content (import_vsn1.c, striped.c, thin.c) */

struct text_case {
	const char *name, *text, *frag1, *frag2;
};

#define PV1 "pv0 {\nid = \"" UUID_TEXT "\"\npe_start = 2048\npe_count = 255\n}\n"
#define TAIL "contents = \"Text Format Volume Group\"\nversion = 1\n"
#define VG(pvs, lvs) \
	"vg {\nid = \"x\"\nseqno = 1\nextent_size = 8192\nphysical_volumes {\n" pvs "}\n" \
	"logical_volumes {\n" lvs "}\n}\n" TAIL
#define SEG(body) "segment1 {\nstart_extent = 0\nextent_count = 1\n" body "}\n"
#define LV1(name, body) name " {\nsegment_count = 1\n" SEG(body) "}\n"
#define LIN(pe) "type = \"striped\"\nstripe_count = 1\nstripes = [\"pv0\", " #pe "]\n"

static const struct text_case text_cases[] = {
	{ "unterminated string", "vg {\nid = \"x\nseqno = 1\n}\n", "line 2", "unterminated string" },
	{ "missing brace", "vg {\nid = \"x\"\nsub {\na = 1\n}\n", "line 6", "missing '}' of section 'vg' (line 1)" },
	{ "stray brace", "vg {\n}\n}\n" TAIL, "line 3", "unexpected '}'" },
	{ "missing equals", "vg {\nid \"x\"\n}\n", "line 2", "'=' or '{' expected" },
	{ "missing value", "vg {\nid =\n}\n", "line 3", "a value expected" },
	{ "bad integer", "vg {\nseqno = 99999999999999999999\n}\n", "line 2", "bad integer" },
	{ "unterminated array", "vg {\nflags = [\"a\",\n", "line 3", "a value expected" },
	{ "deep nesting",
	  "a{b{c{d{e{f{g{h{i{j{k{l{m{n{o{p{q{r{s{t{u{v{w{x{y{z{A{B{C{D{E{F{G{H{}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}",
	  "line 1", "nested too deep" },
	{ "no contents", "vg {\n}\nversion = 1\n", "line 1", "no 'contents'" },
	{ "wrong contents", "vg {\n}\ncontents = \"x\"\nversion = 1\n", "line 3", "contents 'x'" },
	{ "wrong version", "vg {\n}\ncontents = \"Text Format Volume Group\"\nversion = 2\n", "line 4",
	  "format version 2" },
	{ "no vg section", TAIL, "metadata text", "no volume group section" },
	{ "no seqno", "vg {\nid = \"x\"\nextent_size = 8192\n}\n" TAIL, "line 1", "no 'seqno'" },
	{ "extent size zero", "vg {\nid = \"x\"\nseqno = 1\nextent_size = 0\n}\n" TAIL, "line 4",
	  "extent_size 0" },
	{ "two pvs", VG(PV1 "pv1 {\nid = \"y\"\npe_start = 2048\npe_count = 1\n}\n", ""), "line 5",
	  "2 physical volumes" },
	{ "other pv", VG("pv0 {\nid = \"zzz\"\npe_start = 2048\npe_count = 1\n}\n", ""), "line 7",
	  "this PV's label says" },
	{ "no pe_start", VG("pv0 {\nid = \"" UUID_TEXT "\"\npe_count = 1\n}\n", ""), "line 6",
	  "no 'pe_start'" },
	{ "stripe count 2",
	  VG(PV1, LV1("lv", "type = \"striped\"\nstripe_count = 2\nstripe_size = 128\n"
			    "stripes = [\"pv0\", 0, \"pv1\", 0]\n")),
	  "line 19", "stripe_count 2" },
	{ "stripe on another pv",
	  VG(PV1, LV1("lv", "type = \"striped\"\nstripe_count = 1\nstripes = [\"pv1\", 0]\n")), "line 20",
	  "lies on 'pv1'" },
	{ "stripe not a pair", VG(PV1, LV1("lv", "type = \"striped\"\nstripe_count = 1\nstripes = [0]\n")),
	  "line 20", "not [\"pv\", extent]" },
	{ "extents beyond the pv", VG(PV1, LV1("lv", LIN(255))), "line 20", "beyond the PV's 255" },
	{ "huge extent count",
	  VG(PV1, "lv {\nsegment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 4294967295\n"
		  LIN(0) "}\n}\n"),
	  "line 20", "beyond the PV's 255" },
	{ "extent count beyond 32 bits",
	  VG(PV1, "lv {\nsegment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 4294967296\n"
		  LIN(0) "}\n}\n"),
	  "line 17", "beyond 0-4294967295" },
	{ "zero extents",
	  VG(PV1, "lv {\nsegment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 0\n" LIN(0)
		  "}\n}\n"),
	  "line 17", "extent_count 0" },
	{ "huge segment count", VG(PV1, "lv {\nsegment_count = 100000000\n}\n"), "line 14",
	  "beyond 0-65536" },
	{ "segment count disagrees", VG(PV1, "lv {\nsegment_count = 2\n" SEG(LIN(0)) "}\n"), "line 13",
	  "segment_count 2 but has 1" },
	{ "segment gap",
	  VG(PV1, "lv {\nsegment_count = 1\nsegment1 {\nstart_extent = 1\nextent_count = 1\n" LIN(0)
		  "}\n}\n"),
	  "line 15", "gap or overlap" },
	{ "no segment type", VG(PV1, LV1("lv", "stripe_count = 1\n")), "line 15", "no 'type'" },
	{ "missing chunk_size",
	  VG(PV1, LV1("m", LIN(0)) LV1("d", LIN(1))
		  LV1("pool", "type = \"thin-pool\"\nmetadata = \"m\"\npool = \"d\"\ntransaction_id = 0\n")),
	  "line 35", "segment1 has no 'chunk_size'" },
	{ "chunk_size too small",
	  VG(PV1, LV1("m", LIN(0)) LV1("d", LIN(1))
		  LV1("pool", "type = \"thin-pool\"\nmetadata = \"m\"\npool = \"d\"\ntransaction_id = 0\n"
			      "chunk_size = 64\n")),
	  "line 42", "unsupported chunk_size 64" },
	{ "unknown metadata lv",
	  VG(PV1, LV1("d", LIN(1))
		  LV1("pool", "type = \"thin-pool\"\nmetadata = \"m\"\npool = \"d\"\ntransaction_id = 0\n"
			      "chunk_size = 128\n")),
	  "metadata text", "refers to 'm'" },
	{ "thin pool not a pool",
	  VG(PV1, LV1("pool", LIN(0)) LV1("thin", "type = \"thin\"\nthin_pool = \"pool\"\n"
						 "transaction_id = 0\ndevice_id = 1\n")),
	  "thin volume 'thin'", "of type 'striped'" },
	{ "unknown message",
	  VG(PV1, LV1("m", LIN(0)) LV1("d", LIN(1))
		  LV1("pool", "type = \"thin-pool\"\nmetadata = \"m\"\npool = \"d\"\ntransaction_id = 1\n"
			      "chunk_size = 128\nmessage1 {\nrename = \"x\"\n}\n")),
	  "line 43", "message1 is neither create nor delete" },
	{ "create message for no thin lv",
	  VG(PV1, LV1("m", LIN(0)) LV1("d", LIN(1))
		  LV1("pool", "type = \"thin-pool\"\nmetadata = \"m\"\npool = \"d\"\ntransaction_id = 1\n"
			      "chunk_size = 128\nmessage1 {\ncreate = \"m\"\n}\n")),
	  "thin pool 'pool'", "create message for 'm'" },
	{ "delete message not a number",
	  VG(PV1, LV1("m", LIN(0)) LV1("d", LIN(1))
		  LV1("pool", "type = \"thin-pool\"\nmetadata = \"m\"\npool = \"d\"\ntransaction_id = 1\n"
			      "chunk_size = 128\nmessage1 {\ndelete = \"x\"\n}\n")),
	  "line 44", "'delete' of logical volume 'pool' segment1 message1 is not an integer" },
	{ "missing device_id",
	  VG(PV1, LV1("thin", "type = \"thin\"\nthin_pool = \"pool\"\ntransaction_id = 0\n")), "line 15",
	  "no 'device_id'" },
	{ "device_id beyond 24 bits",
	  VG(PV1, LV1("thin", "type = \"thin\"\nthin_pool = \"pool\"\ntransaction_id = 0\n"
			      "device_id = 16777216\n")),
	  "line 21", "beyond 0-16777215" },
	{ "chunk_size a string",
	  VG(PV1, LV1("pool", "type = \"thin-pool\"\nmetadata = \"m\"\npool = \"d\"\ntransaction_id = 0\n"
			      "chunk_size = \"128\"\n")),
	  "line 22", "not an integer" },
	{ "long lv name",
	  VG(PV1, LV1("lv_0123456789012345678901234567890123456789012345678901234567890123456789"
		      "0123456789012345678901234567890123456789012345678901234567890123456789",
		      LIN(0))),
	  "line 13", "longer than 127" },
};

static void test_text_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
		const struct text_case *tc = &text_cases[i];
		struct img im;
		struct lvmpv_vg vg;
		char why[512];
		int rc;

		build_text(&im, tc->text);
		rc = rd(&im, &vg, why, sizeof(why));
		if (rc != -EINVAL || !strstr(why, tc->frag1) || !strstr(why, tc->frag2))
			fail_msg("case '%s': rc %d, message '%s', expected '%s' and '%s'", tc->name, rc, why,
				 tc->frag1, tc->frag2);
		assert_int_equal(vg.nlvs, 0);
		lvmpv_free(&vg);
		free(im.b);
	}
}

/* Counts a damaged text could make huge: entries of the tree and LVs are bounded
 * before they cost memory. */
static void test_huge_counts(void **state)
{
	size_t cap = 900 * KiB, n;
	char *t = malloc(cap);
	struct img im;

	(void)state;
	assert_non_null(t);
	n = (size_t)snprintf(t, cap, "vg {\nflags = [");
	for (int i = 0; i < 300000; i++)
		t[n++] = '1', t[n++] = ',';
	n += (size_t)snprintf(t + n, cap - n, "]\n}\n" TAIL);
	build_text(&im, t);
	expect_fail(&im, "line 2", "more than 262144 names and values", NULL);
	free(im.b);
	n = (size_t)snprintf(t, cap, "vg {\nid = \"x\"\nseqno = 1\nextent_size = 8192\n"
			     "physical_volumes {\n" PV1 "}\nlogical_volumes {\n");
	for (int i = 0; i <= 10000; i++)
		n += (size_t)snprintf(t + n, cap - n, "l%d {}\n", i);
	n += (size_t)snprintf(t + n, cap - n, "}\n}\n" TAIL);
	assert_true(n < cap);
	build_text(&im, t);
	expect_fail(&im, "line 12", "more than 10000 logical volumes", NULL);
	free(im.b);
	free(t);
}

/* thin.c _thin_pool_add_message: the pool's messages in the text's order, a delete's
 * id, a create's thin LV with its device_id */
static void test_messages(void **state)
{
	static const char text[] =
		VG(PV1, LV1("m", LIN(0)) LV1("d", LIN(1))
			LV1("pool", "type = \"thin-pool\"\nmetadata = \"m\"\npool = \"d\"\n"
				    "transaction_id = 8\nchunk_size = 2097152\nzero_new_blocks = 0\n"
				    "message1 {\ndelete = 3\n}\nmessage2 {\ncreate = \"t\"\n}\n")
			LV1("t", "type = \"thin\"\nthin_pool = \"pool\"\ntransaction_id = 7\n"
				 "device_id = 16777215\n"));
	struct img im;
	struct lvmpv_vg vg;
	char why[256];
	const struct lvmpv_lv *pool;

	(void)state;
	build_text(&im, text);
	if (rd(&im, &vg, why, sizeof(why)))
		fail_msg("%s", why);
	assert_non_null(pool = lvmpv_find(&vg, "pool"));
	assert_int_equal(pool->chunk_bytes, 1024 * MiB);
	assert_false(pool->zero);
	assert_int_equal(pool->transaction_id, 8);
	assert_int_equal(pool->nmessages, 2);
	assert_int_equal(pool->messages[0].type, LVMPV_MSG_DELETE);
	assert_int_equal(pool->messages[0].device_id, 3);
	assert_int_equal(pool->messages[1].type, LVMPV_MSG_CREATE);
	assert_string_equal(pool->messages[1].lv, "t");
	assert_int_equal(pool->messages[1].device_id, 16777215);
	lvmpv_free(&vg);
	free(im.b);
}

/* ---- damage everywhere: the reader runs on crash states, so any byte may be wrong */

static void check_any(struct img *im, unsigned *ok, unsigned *bad)
{
	struct lvmpv_vg vg;
	char why[512] = "";
	int rc = rd(im, &vg, why, sizeof(why));

	if (rc == 0) {
		(*ok)++;
		/* whatever it read must be usable: areas inside the LV */
		for (size_t i = 0; i < vg.nlvs; i++)
			for (size_t a = 0; a < vg.lvs[i].nareas; a++)
				assert_true(vg.lvs[i].areas[a].lv_start + vg.lvs[i].areas[a].len <=
					    vg.lvs[i].size);
	} else {
		if (rc != -EINVAL)
			fail_msg("rc %d (%s)", rc, why);
		if (!*why)
			fail_msg("-EINVAL without a message");
		(*bad)++;
	}
	lvmpv_free(&vg);
}

static void test_damage(void **state)
{
	struct img im, good;
	char *text = fmt(THIN_VG(), 3);
	unsigned ok = 0, bad = 0;
	uint64_t seed = 17;

	(void)state;
	/* a small area (64 KiB), text wrapping, so that every sector is tried */
	img_init(&good, 64 * KiB);
	write_label(&good, 1, "LVM2 001", MiB);
	write_mdah(&good);
	write_text(&good, 0, 64 * KiB - 1536, text);
	im = good;
	im.b = malloc(good.size);
	assert_non_null(im.b);
	for (size_t s = 0; s < good.size / 512; s++)
		for (int how = 0; how < 3; how++) {
			memcpy(im.b, good.b, good.size);
			for (size_t i = 0; i < 512; i++) {
				uint8_t *p = im.b + s * 512 + i;

				*p = how == 0 ? 0 : how == 1 ? (uint8_t)~*p : (uint8_t)rng_splitmix64(&seed);
			}
			check_any(&im, &ok, &bad);
		}
	/* single random bytes anywhere in the label or the text, and then resealed
	 * checksums, so the parser itself meets the damage */
	for (int n = 0; n < 3000; n++) {
		uint64_t r = rng_splitmix64(&seed);
		size_t at;

		memcpy(im.b, good.b, good.size);
		if (n & 1) {
			at = 512 + r % 512;
			im.b[at] = (uint8_t)(r >> 32);
			reseal_label(&im, 1);
		} else {
			uint64_t toff = get64(im.b + MDA_OFF + 40), tsz = get64(im.b + MDA_OFF + 48);
			uint64_t k = r % tsz, pos = toff + k;
			char *copy = malloc(tsz);

			assert_non_null(copy);
			if (pos >= im.mda_size)
				pos = pos - im.mda_size + 512;
			im.b[MDA_OFF + pos] = (uint8_t)(r >> 32);
			/* reseal: the checksum of the text as it now lies */
			for (uint64_t j = 0; j < tsz; j++) {
				uint64_t q = toff + j;

				copy[j] = (char)im.b[MDA_OFF + (q >= im.mda_size ? q - im.mda_size + 512 : q)];
			}
			put32(im.b + MDA_OFF + 56, crc(INITIAL_CRC, copy, tsz));
			reseal_mdah(&im);
			free(copy);
		}
		check_any(&im, &ok, &bad);
	}
	print_message("damage: %u read fine, %u refused with a message\n", ok, bad);
	assert_true(ok > 0 && bad > 0);
	free(text);
	free(im.b);
	free(good.b);
}

/* ---- a real PV: the guest's lvm2 wrote it (host/explore/tests/data/README.md) */

#define TMETA_OFF (MiB + 513 * 4 * MiB)

struct fixture {
	uint8_t head[16 * KiB], tmeta[4 * KiB];
};

/* The PV as the fixtures give it: the two pieces, zeros elsewhere (the rest of the
 * first MiB is zero on the real disk), -EIO past its 3 GiB. */
static int fx_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct fixture *fx = ctx;
	uint8_t *b = buf;

	if (off > 3 * 1024 * MiB || len > 3 * 1024 * MiB - off)
		return -EIO;
	for (size_t i = 0; i < len; i++) {
		uint64_t o = off + i;

		b[i] = o < sizeof(fx->head) ? fx->head[o]
		       : o - TMETA_OFF < sizeof(fx->tmeta) ? fx->tmeta[o - TMETA_OFF] : 0;
	}
	return 0;
}

/* From the working directory (make check runs in the tree's root), else from the
 * program's place (BUILD/host/explore/tests/NAME). */
static int load(const char *name, void *buf, size_t len)
{
	char path[4096], exe[4096];
	FILE *f;
	ssize_t k;
	size_t n;

	snprintf(path, sizeof(path), "host/explore/tests/data/%s", name);
	if (!(f = fopen(path, "rb")) && (k = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[k] = '\0';
		for (int up = 0; up < 5; up++) {
			char *sl = strrchr(exe, '/');

			if (sl)
				*sl = '\0';
		}
		snprintf(path, sizeof(path), "%.3000s/host/explore/tests/data/%s", exe, name);
		f = fopen(path, "rb");
	}
	if (!f)
		return -errno;
	n = fread(buf, 1, len, f);
	fclose(f);
	return n == len ? 0 : -EIO;
}

static void test_real_pv(void **state)
{
	static struct fixture fx;
	struct lvmpv_vg vg;
	char why[512];
	const struct lvmpv_lv *pool, *thin, *tmeta, *tdata;
	uint64_t off, run, magic = 0;
	uint8_t sb[512];
	unsigned ok = 0, bad = 0;

	(void)state;
	if (load("lvm-pv-head.bin", fx.head, sizeof(fx.head)) ||
	    load("lvm-pv-tmeta.bin", fx.tmeta, sizeof(fx.tmeta)))
		fail_msg("fixture host/explore/tests/data/lvm-pv-*.bin not found");
	assert_int_equal(lvmpv_read(fx_read, &fx, &vg, why, sizeof(why)), 0);
	assert_string_equal(vg.name, "pcvg");
	assert_int_equal(vg.seqno, 6);
	assert_int_equal(vg.extent_bytes, 4 * MiB);
	assert_int_equal(vg.pe_start_bytes, MiB);
	assert_int_equal(vg.label_pe_start_bytes, MiB);
	assert_int_equal(vg.dev_size_bytes, 3 * 1024 * MiB);
	assert_int_equal(vg.mda_offset, 4096);
	assert_int_equal(vg.text_offset, 9216);
	assert_int_equal(vg.text_size, 2279);
	assert_string_equal(vg.pv_uuid, "Jopr99ssZsun02Xdcdk0PINGxtSDu6SS");
	assert_int_equal(vg.nlvs, 5);
	assert_non_null(pool = lvmpv_find(&vg, "pool"));
	assert_string_equal(pool->type, "thin-pool");
	assert_int_equal(pool->chunk_bytes, 64 * KiB);
	assert_int_equal(pool->transaction_id, 1);
	assert_true(pool->zero);
	assert_non_null(thin = lvmpv_find(&vg, "thin"));
	assert_int_equal(thin->device_id, 1);
	assert_int_equal(thin->size, 8 * 1024 * MiB);
	assert_non_null(tmeta = lvmpv_find(&vg, pool->metadata_lv));
	assert_non_null(tdata = lvmpv_find(&vg, pool->data_lv));
	assert_int_equal(tdata->size, 2 * 1024 * MiB);
	assert_int_equal(lvmpv_map(tdata, 0, tdata->size, &off, &run), 0);
	assert_int_equal(off, MiB + 4 * MiB);
	assert_int_equal(run, 2 * 1024 * MiB);
	/* where the map says tmeta starts, the kernel's thin pool wrote its superblock */
	assert_int_equal(lvmpv_map(tmeta, 0, sizeof(sb), &off, &run), 0);
	assert_int_equal(off, TMETA_OFF);
	assert_int_equal(fx_read(&fx, sb, sizeof(sb), off), 0);
	for (int i = 7; i >= 0; i--)
		magic = magic << 8 | sb[32 + i];
	assert_int_equal(magic, 27022010);
	lvmpv_free(&vg);
	/* its every sector damaged: read or refused, never anything else */
	for (size_t s = 0; s < sizeof(fx.head) / 512; s++) {
		uint8_t save[512];

		memcpy(save, fx.head + s * 512, 512);
		for (int how = 0; how < 2; how++) {
			int rc;

			for (size_t i = 0; i < 512; i++)
				fx.head[s * 512 + i] = how ? (uint8_t)~save[i] : 0;
			rc = lvmpv_read(fx_read, &fx, &vg, why, sizeof(why));
			if (rc && (rc != -EINVAL || !*why))
				fail_msg("sector %zu: rc %d (%s)", s, rc, why);
			rc ? bad++ : ok++;
			lvmpv_free(&vg);
		}
		memcpy(fx.head + s * 512, save, 512);
	}
	/* the label, the header and the text's 5 sectors are refused when damaged; the
	 * older texts (seqno 1-5) and zero sectors are not read */
	assert_int_equal(bad, 2 * 7);
	assert_int_equal(ok, 2 * 32 - 2 * 7);
}

/* The crash states of lvm2's own commits: its header (slot 0) still pointing at an
 * older text of the buffer, as when the power went before the header of the next
 * commit was written. All six texts are the guest's lvm2's, as lvcreate built the
 * pool step by step (data/README.md); slot 0 is rewritten to point at each. */
static void test_real_history(void **state)
{
	static struct fixture fx;
	static const struct {
		uint64_t off;
		int nlvs;
		const char *pool_type;
		uint64_t tid;
		size_t nmsg;
	} h[] = {
		{ 512, 0, NULL, 0, 0 },	{ 1536, 1, NULL, 0, 0 },
		{ 3072, 2, "striped", 0, 0 }, { 4608, 4, "thin-pool", 0, 0 },
		{ 6656, 5, "thin-pool", 1, 1 }, { 9216, 5, "thin-pool", 1, 0 },
	};
	uint8_t *m = fx.head + 4096;
	struct lvmpv_vg vg;
	char why[512];

	(void)state;
	if (load("lvm-pv-head.bin", fx.head, sizeof(fx.head)))
		fail_msg("fixture host/explore/tests/data/lvm-pv-head.bin not found");
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		size_t len = strlen((char *)m + h[i].off) + 1;
		const struct lvmpv_lv *pool, *thin;

		put64(m + 40, h[i].off);
		put64(m + 48, len);
		put32(m + 56, crc(INITIAL_CRC, m + h[i].off, len));
		put32(m, crc(INITIAL_CRC, m + 4, 508));
		if (lvmpv_read(fx_read, &fx, &vg, why, sizeof(why)))
			fail_msg("text at %llu: %s", (unsigned long long)h[i].off, why);
		assert_int_equal(vg.seqno, i + 1);
		assert_int_equal(vg.nlvs, h[i].nlvs);
		pool = lvmpv_find(&vg, "pool");
		if (!h[i].pool_type) {
			assert_null(pool);
		} else {
			assert_non_null(pool);
			assert_string_equal(pool->type, h[i].pool_type);
			assert_int_equal(pool->transaction_id, h[i].tid);
			assert_int_equal(pool->nmessages, h[i].nmsg);
		}
		if (h[i].nmsg) {
			assert_int_equal(pool->messages[0].type, LVMPV_MSG_CREATE);
			assert_string_equal(pool->messages[0].lv, "thin");
			assert_non_null(thin = lvmpv_find(&vg, "thin"));
			assert_int_equal(pool->messages[0].device_id, thin->device_id);
			assert_int_equal(thin->device_id, 1);
		}
		lvmpv_free(&vg);
	}
}

/* The crash states of one real commit (seqno 5 to 6, the last write of the guest's
 * lvcreate): lvm2 writes the new text (sectors of the circular buffer after the old
 * text) and then the header pointing at it (format-text.c _vg_write_raw, then
 * _vg_commit_raw). Every subset of those six sector writes is a state the disk may
 * hold after a power cut with a volatile cache: with the old header the VG is
 * seqno 5, whatever of the new text landed; with the new header it is seqno 6 if all
 * of the text landed, else the text's checksum fails and the metadata is unreadable. */
static void test_real_commit_states(void **state)
{
	static struct fixture fx, before;
	const uint64_t new_off = 9216, new_len = 2279, old_off = 6656, old_len = 2309;
	const unsigned first = (unsigned)((4096 + new_off) / 512);
	const unsigned nsec = (unsigned)((new_len + 511) / 512);
	uint8_t *m;
	struct lvmpv_vg vg;
	char why[512];
	unsigned seen5 = 0, seen6 = 0, refused = 0;

	(void)state;
	if (load("lvm-pv-head.bin", fx.head, sizeof(fx.head)))
		fail_msg("fixture host/explore/tests/data/lvm-pv-head.bin not found");
	/* before the commit: the header of seqno 5, nothing yet where seqno 6 goes */
	before = fx;
	m = before.head + 4096;
	memset(before.head + first * 512, 0, nsec * 512);
	put64(m + 40, old_off);
	put64(m + 48, old_len);
	put32(m + 56, crc(INITIAL_CRC, m + old_off, old_len));
	put32(m, crc(INITIAL_CRC, m + 4, 508));
	assert_int_equal(nsec, 5);
	for (unsigned set = 0; set < 1u << (nsec + 1); set++) {
		static struct fixture st;
		bool header = set & 1u << nsec, all = (set & ((1u << nsec) - 1)) == (1u << nsec) - 1;
		int rc;

		st = before;
		for (unsigned k = 0; k < nsec; k++)
			if (set & 1u << k)
				memcpy(st.head + (first + k) * 512, fx.head + (first + k) * 512, 512);
		if (header)
			memcpy(st.head + 4096, fx.head + 4096, 512);
		rc = lvmpv_read(fx_read, &st, &vg, why, sizeof(why));
		if (!header) {
			assert_int_equal(rc, 0);
			assert_int_equal(vg.seqno, 5);
			assert_int_equal(lvmpv_find(&vg, "pool")->nmessages, 1);
			seen5++;
		} else if (all) {
			assert_int_equal(rc, 0);
			assert_int_equal(vg.seqno, 6);
			seen6++;
		} else {
			assert_int_equal(rc, -EINVAL);
			assert_non_null(strstr(why, "metadata text at byte 13312"));
			assert_non_null(strstr(why, "checksum"));
			refused++;
		}
		lvmpv_free(&vg);
	}
	assert_int_equal(seen5, 32);
	assert_int_equal(seen6, 1);
	assert_int_equal(refused, 31);
}

/* ---- thin_state (thin.c): the host's own disk failing is no verdict on the state */

/* The real PV, its reads failing from the metadata LV on (a state whose metadata LV
 * cannot be read: the state's fault). */
static int fx_read_no_tmeta(void *ctx, void *buf, size_t len, uint64_t off)
{
	return off + len > TMETA_OFF ? -EIO : fx_read(ctx, buf, len, off);
}

static int thin_on(lvmpv_read_fn read_pv, const char *work, struct thin_state *r)
{
	static struct fixture fx;
	const struct thin_names nm = { "pcvg", "pool", "thin" };
	char img[4200];

	if (load("lvm-pv-head.bin", fx.head, sizeof(fx.head)) ||
	    load("lvm-pv-tmeta.bin", fx.tmeta, sizeof(fx.tmeta)))
		fail_msg("fixture host/explore/tests/data/lvm-pv-*.bin not found");
	snprintf(img, sizeof(img), "%.4000s/span.img", work);
	return thin_state(read_pv, &fx, &nm, work, 4 * MiB, img, r);
}

/* A work file that cannot be created, or written (the host's disk full: here the file
 * size limit, which cuts pwrite short as a full disk does), stops the exploration with the
 * error: every later state would fail alike, and none of them would be at fault. A
 * metadata LV the state's PV cannot give is the state's: unreadable, rc 0. */
static void test_thin_host_disk(void **state)
{
	char work[] = "/tmp/test_thin.XXXXXX", path[64];
	struct thin_state r;
	struct rlimit old, lim;

	(void)state;
	assert_non_null(mkdtemp(work));
	snprintf(path, sizeof(path), "%s/tmeta", work);

	assert_int_equal(mkdir(path, 0755), 0);		/* the work file is a directory */
	assert_int_equal(thin_on(fx_read, work, &r), -EISDIR);
	assert_false(r.readable);
	thin_state_release(&r);
	assert_int_equal(rmdir(path), 0);

	/* The file size limit cuts the first 1 MiB write short at the limit, as a disk
	 * that fills up does: a short write is ENOSPC. (SIGXFSZ ignored: EFBIG after.) */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 64 * KiB;			/* the metadata LV is MiBs */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int rc = thin_on(fx_read, work, &r);
	setrlimit(RLIMIT_FSIZE, &old);
	assert_int_equal(rc, -ENOSPC);
	assert_false(r.readable);
	thin_state_release(&r);

	assert_int_equal(thin_on(fx_read_no_tmeta, work, &r), 0);
	assert_int_equal(r.meta, EXPLORE_META_UNREADABLE);
	assert_non_null(strstr(r.json, "tmeta_error"));
	thin_state_release(&r);
	unlink(path);
	assert_int_equal(rmdir(work), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_vector),
		cmocka_unit_test(test_thin_vg),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_multiseg),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_label_errors),
		cmocka_unit_test(test_mda_errors),
		cmocka_unit_test(test_second_mda),
		cmocka_unit_test(test_read_error),
		cmocka_unit_test(test_text_errors),
		cmocka_unit_test(test_huge_counts),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_real_pv),
		cmocka_unit_test(test_real_history),
		cmocka_unit_test(test_real_commit_states),
		cmocka_unit_test(test_thin_host_disk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
