/* libFuzzer target: the LVM2 PV metadata reader (host/explore/lvmpv.c), which runs on
 * crash states where any byte may be damaged. An input whose first byte is even is
 * the PV's first bytes as they are (the label, headers and text all damaged at
 * random); otherwise the rest of the input is a metadata text, put behind a valid
 * label and metadata area header with lvm2's checksums so that the text parser and
 * the VG reader meet it. Either way lvmpv_read returns 0 or -EINVAL with a message,
 * and a VG it returns maps inside its LVs. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lvmpv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MDA_OFF 4096u
#define MDA_SIZE 65536u

struct pv {
	const uint8_t *b;
	size_t size;
};

static int pv_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct pv *pv = ctx;

	if (off > pv->size || len > pv->size - off)
		return -EIO;
	memcpy(buf, pv->b + off, len);
	return 0;
}

static void put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The label in sector 1, the area at 4 KiB, the text at 512 bytes into it. */
static uint8_t *wrap_text(const uint8_t *text, size_t len, size_t *size)
{
	uint8_t *b = calloc(1, MDA_OFF + MDA_SIZE), *h = b + 512, *m = b + MDA_OFF;

	if (!b)
		abort();
	memcpy(h, "LABELONE", 8);
	put(h + 8, 1, 8);
	put(h + 20, 32, 4);
	memcpy(h + 24, "LVM2 001", 8);
	memcpy(h + 32, "AbCdEf0123456789AbCdEf0123456789", 32);
	put(h + 64, MDA_OFF + MDA_SIZE, 8);
	put(h + 72, 1u << 20, 8);
	put(h + 104, MDA_OFF, 8);
	put(h + 112, MDA_SIZE, 8);
	put(h + 16, lvmpv_calc_crc(LVMPV_INITIAL_CRC, h + 20, 492), 4);
	memcpy(m + 4, "\040\114\126\115\062\040\170\133\065\101\045\162\060\116\052\076", 16);
	put(m + 20, 1, 4);
	put(m + 24, MDA_OFF, 8);
	put(m + 32, MDA_SIZE, 8);
	memcpy(m + 512, text, len);	/* NUL after it: calloc */
	put(m + 40, 512, 8);
	put(m + 48, len + 1, 8);
	put(m + 56, lvmpv_calc_crc(LVMPV_INITIAL_CRC, m + 512, len + 1), 4);
	put(m, lvmpv_calc_crc(LVMPV_INITIAL_CRC, m + 4, 508), 4);
	*size = MDA_OFF + MDA_SIZE;
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lvmpv_vg vg;
	struct pv pv = { data + 1, size ? size - 1 : 0 };
	uint8_t *own = NULL;
	char why[512] = "";
	int rc;

	if (!size)
		return 0;
	if (data[0] & 1) {
		if (size - 1 > MDA_SIZE - 1024)
			return 0;
		pv.b = own = wrap_text(data + 1, size - 1, &pv.size);
	}
	rc = lvmpv_read(pv_read, &pv, &vg, why, sizeof(why));
	if (rc != 0 && rc != -EINVAL && rc != -EIO)
		abort();
	if (rc && !why[0])
		abort();
	for (size_t i = 0; i < vg.nlvs; i++) {
		const struct lvmpv_lv *lv = &vg.lvs[i];
		uint64_t off, run;

		if (lvmpv_find(&vg, lv->name) == NULL)
			abort();
		for (size_t a = 0; a < lv->nareas; a++)
			if (lv->areas[a].lv_start + lv->areas[a].len > lv->size ||
			    lvmpv_map(lv, lv->areas[a].lv_start, ~0ull, &off, &run) || run != lv->areas[a].len)
				abort();
	}
	lvmpv_free(&vg);
	free(own);
	return 0;
}
