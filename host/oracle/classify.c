/* Classification rules; the numbers refer to the table in docs/oracle.md. */
#include "classify.h"

#include <errno.h>
#include <string.h>

static const char *const class_names[CLS__COUNT] = {
	[CLS_OK] = "ok",
	[CLS_INFLIGHT_PERSISTED] = "inflight_persisted",
	[CLS_UNFLUSHED_LOST_OLDER] = "unflushed_lost_older",
	[CLS_UNFLUSHED_LOST_ZERO] = "unflushed_lost_zero",
	[CLS_FLUSHED_LOST_OLDER] = "flushed_lost_older",
	[CLS_FLUSHED_LOST_ZERO] = "flushed_lost_zero",
	[CLS_TORN] = "torn",
	[CLS_CORRUPT] = "corrupt",
	[CLS_MISDIRECTED] = "misdirected",
};

const char *cls_class_name(enum cls_class c)
{
	return (unsigned)c < CLS__COUNT ? class_names[c] : "unknown";
}

static int64_t run_version(const struct cls_run *r, uint32_t cycle)
{
	if (r->kind == CLS_S_ZERO)
		return CLS_V_ZERO;
	return r->cycle < cycle ? CLS_V_OLDCYCLE : (int64_t)r->gen;
}

int cls_block_classify(struct cls_block *b, uint32_t cycle, uint16_t spb)
{
	bool foreign = false, bad = false;
	unsigned covered = 0;
	int64_t vmin = INT64_MAX, vmax = INT64_MIN;
	int64_t A = b->led.acked ? (int64_t)b->led.newest_acked : CLS_V_ZERO;
	int64_t F = b->led.flushed ? (int64_t)b->led.newest_flushed : INT64_MIN;

	for (size_t i = 0; i < b->nruns; i++) {
		const struct cls_run *r = &b->runs[i];

		if (r->n == 0 || r->first != covered)
			return -EINVAL;
		covered += r->n;
		if (r->kind == CLS_S_FOREIGN || (r->kind == CLS_S_GEN && r->cycle > cycle)) {
			foreign = true;
			continue;
		}
		if (r->kind == CLS_S_BAD) {
			bad = true;
			continue;
		}
		int64_t v = run_version(r, cycle);
		if (v < vmin)
			vmin = v;
		if (v > vmax)
			vmax = v;
	}
	if (covered != spb)
		return -EINVAL;

	b->vmin = vmin;
	b->vmax = vmax;
	b->anomaly = false;
	b->lost_min_ack = UINT64_MAX;
	if (foreign) {					/* rule 1 */
		b->cls = CLS_MISDIRECTED;
		b->violation = true;
	} else if (bad) {				/* rule 2 */
		b->cls = CLS_CORRUPT;
		b->violation = true;
	} else if (vmin != vmax) {			/* rule 3 */
		b->cls = CLS_TORN;
		b->violation = vmin < F;
	} else if (!b->led.acked && vmin < 0) {		/* rule 9: untouched this cycle */
		b->cls = CLS_OK;
		b->violation = false;
	} else if (vmin < F) {				/* rules 4, 5 */
		b->cls = vmin == CLS_V_ZERO ? CLS_FLUSHED_LOST_ZERO : CLS_FLUSHED_LOST_OLDER;
		b->violation = true;
	} else if (vmin < A) {				/* rules 6, 7 */
		b->cls = vmin == CLS_V_ZERO ? CLS_UNFLUSHED_LOST_ZERO : CLS_UNFLUSHED_LOST_OLDER;
		b->violation = false;
	} else if (vmin > A) {				/* rule 8 */
		b->cls = CLS_INFLIGHT_PERSISTED;
		b->violation = false;
	} else {					/* rule 9 */
		b->cls = CLS_OK;
		b->violation = false;
	}

	/* Lost acknowledged writes: generations newer than the oldest version read. A
	 * misdirected or corrupt block has no trustworthy version, so it names none. */
	if (!foreign && !bad)
		for (size_t i = 0; i < b->led.nacks; i++) {
			const struct cls_ack *a = &b->led.acks[i];
			if ((int64_t)a->gen > vmin && a->ack_index < b->lost_min_ack)
				b->lost_min_ack = a->ack_index;
		}
	return 0;
}

/* The watermark of the newest write of this cycle that persisted in the block. */
static bool persisted_watermark(const struct cls_block *b, uint32_t cycle, uint64_t *wm)
{
	bool found = false;

	if (b->cls == CLS_MISDIRECTED || b->cls == CLS_CORRUPT)
		return false;
	for (size_t i = 0; i < b->nruns; i++) {
		const struct cls_run *r = &b->runs[i];
		if (r->kind == CLS_S_GEN && r->cycle == cycle && r->gen >= 1 &&
		    (!found || r->watermark > *wm)) {
			*wm = r->watermark;
			found = true;
		}
	}
	return found;
}

int cls_cycle_classify(struct cls_cycle *c, struct cls_block *blocks, size_t n)
{
	uint64_t lmin = UINT64_MAX;

	memset(c->count, 0, sizeof(c->count));
	c->violations = 0;
	c->anomalies = 0;
	c->since_flush_ns = c->cut_ns - c->last_flush_ns;
	for (size_t i = 0; i < n; i++) {
		int rc = cls_block_classify(&blocks[i], c->cycle, c->spb);
		if (rc < 0)
			return rc;
		if (blocks[i].lost_min_ack < lmin)
			lmin = blocks[i].lost_min_ack;
	}
	for (size_t i = 0; i < n; i++) {
		struct cls_block *b = &blocks[i];
		uint64_t wm = 0;

		if (lmin != UINT64_MAX && persisted_watermark(b, c->cycle, &wm) && wm > lmin) {
			b->anomaly = true;
			c->anomalies++;
		}
		c->count[b->cls]++;
		if (b->violation)
			c->violations++;
	}
	return 0;
}
