/* Classification rules; the numbers refer to the table in docs/oracle.md. */
#include "classify.h"

#include <errno.h>
#include <string.h>

static int64_t run_version(const struct cls_run *r, uint32_t cycle)
{
	if (r->kind == CLS_S_ZERO)
		return CLS_V_ZERO;
	return r->cycle < cycle ? CLS_V_OLDCYCLE : (int64_t)r->gen;
}

static int64_t run_wide(const struct cls_run *r)
{
	return r->kind == CLS_S_ZERO ? CLS_W_ZERO : cls_wide(r->cycle, r->gen);
}

/* Write identity: a record of a generation the ledger (or the durable memory) knows,
 * but of another write (another seq: an earlier attempt, another run). */
static bool run_stale(const struct cls_block *b, const struct cls_run *r, uint32_t cycle)
{
	if (r->kind != CLS_S_GEN || !r->have_seq)
		return false;
	if (r->cycle == cycle) {
		if (r->gen == 0)
			return r->seq != 0;
		for (size_t i = 0; i < b->led.nacks; i++)
			if (b->led.acks[i].gen == r->gen && b->led.acks[i].seq &&
			    b->led.acks[i].seq != r->seq)
				return true;
		return false;
	}
	const struct cls_carry *c = &b->led.carry;
	return c->kind == CLS_C_GEN && c->have_seq && r->cycle == c->cycle && r->gen == c->gen &&
	       r->seq != c->seq;
}

/* A record of this cycle the agent cannot have written: generation 0 where nothing
 * was baselined, or a generation two or more above the newest acknowledged one when
 * every acknowledgement the write waited for is in the ledger (the agent submits
 * generation g+1 of a block only after g completed, and then g had an ack index
 * below the new write's watermark). */
static bool run_implausible(const struct cls_block *b, const struct cls_run *r, uint32_t cycle)
{
	if (r->kind != CLS_S_GEN || r->cycle != cycle)
		return false;
	if (r->gen == 0)
		return !b->led.baselined;
	uint32_t top = (b->led.acked ? b->led.newest_acked : 0) + 1;
	return r->gen > top && b->led.acks_contig && r->watermark <= b->led.acks_contig;
}

int cls_block_classify(struct cls_block *b, uint32_t cycle, uint16_t spb)
{
	bool foreign = false, bad = false, stale = false, implausible = false;
	unsigned covered = 0;
	int64_t vmin = INT64_MAX, vmax = INT64_MIN, wmin = INT64_MAX, wmax = INT64_MIN;
	const struct cls_carry *cy = &b->led.carry;
	/* A(b) and F(b) as versions across cycles; the carried record stands in for a
	 * block this cycle did not write (A) or flush (F) (docs/oracle.md). */
	int64_t A = b->led.acked ? cls_wide(cycle, b->led.newest_acked) :
		    cy->kind == CLS_C_GEN ? cls_wide(cy->cycle, cy->gen) : CLS_W_ZERO;
	int64_t F = b->led.flushed ? cls_wide(cycle, b->led.newest_flushed) :
		    cy->kind == CLS_C_GEN && cy->flushed ? cls_wide(cy->cycle, cy->gen) : INT64_MIN;

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
		stale |= run_stale(b, r, cycle);
		implausible |= run_implausible(b, r, cycle);
		int64_t v = run_version(r, cycle), w = run_wide(r);
		if (v < vmin)
			vmin = v;
		if (v > vmax)
			vmax = v;
		if (w < wmin)
			wmin = w;
		if (w > wmax)
			wmax = w;
	}
	if (covered != spb)
		return -EINVAL;

	b->vmin = vmin;
	b->vmax = vmax;
	b->anomaly = false;
	b->stale = stale;
	b->implausible = implausible;
	b->carried_lost = b->carried_kept = false;
	b->lost_min_ack = UINT64_MAX;
	/* Damage the last check read, read again the same in a block this cycle did not
	 * write: reported once, then. */
	bool same_damage = cy->kind == CLS_C_DAMAGED && !b->led.acked && cy->sectors &&
			   b->sectors && !strcmp(cy->sectors, b->sectors);
	if (foreign || stale) {				/* rule 1 */
		b->cls = CLS_MISDIRECTED;
		b->violation = true;
	} else if (bad || wmin != wmax) {		/* rules 2, 3, 3c */
		b->cls = bad ? CLS_CORRUPT : CLS_TORN;
		b->violation = bad || wmin < F;
		/* Torn below a floor that is the carried record (this cycle flushed none
		 * of its own writes of the block): the durable data lost is the carried
		 * one, as in rules 4c and 5c, only part of the block's sectors with it. */
		b->carried_lost = !bad && wmin < F && !b->led.flushed;
	} else if (!b->led.acked && cy->kind != CLS_C_GEN && wmin < cls_wide(cycle, 0)) {
		b->cls = CLS_OK;			/* rule 9: untouched, nothing carried */
		b->violation = false;
	} else if (wmin < F) {				/* rules 4, 5 */
		b->cls = wmin == CLS_W_ZERO ? CLS_FLUSHED_LOST_ZERO : CLS_FLUSHED_LOST_OLDER;
		b->violation = true;
		b->carried_lost = !b->led.flushed;
	} else if (wmin < A) {				/* rules 6, 7 */
		b->cls = wmin == CLS_W_ZERO ? CLS_UNFLUSHED_LOST_ZERO : CLS_UNFLUSHED_LOST_OLDER;
		b->violation = false;
	} else if (wmin > A) {				/* rule 8 */
		b->cls = CLS_INFLIGHT_PERSISTED;
		b->violation = false;
	} else {					/* rule 9 */
		b->cls = CLS_OK;
		b->violation = false;
	}
	if (same_damage && (b->cls == CLS_CORRUPT || b->cls == CLS_TORN || b->cls == CLS_MISDIRECTED)) {
		b->cls = CLS_OK;
		b->violation = false;
		b->carried_kept = true;
		b->carried_lost = false;
	}
	if (implausible)
		b->violation = true;

	/* Lost acknowledged writes: generations newer than the oldest version read. A
	 * misdirected or corrupt block has no trustworthy version, so it names none. */
	if (!foreign && !bad && !stale)
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

	if (b->cls == CLS_MISDIRECTED || b->cls == CLS_CORRUPT || b->carried_kept)
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
	c->implausible = 0;
	c->carried_lost = 0;
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
		c->implausible += b->implausible;
		c->carried_lost += b->carried_lost;
	}
	return 0;
}
