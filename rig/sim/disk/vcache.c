/* The volatile write cache: see vcache.h for the contract. */
#include "vcache.h"
/* the simulator is built without the host library's include path */
#include "../../../host/lib/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sector {
	uint64_t lba;
	uint64_t wid;			/* the write that last filled it */
	uint64_t g_lba;			/* that write's first sector ... */
	uint32_t g_n;			/* ... and its length in sectors */
	bool lied;			/* acknowledged as flushed, never to be written */
	size_t idx;			/* slot in c->dirty, or NO_IDX */
	struct sector *hnext;		/* hash chain */
	struct sector *older, *newer;	/* age list, head = oldest */
	uint8_t data[VCACHE_SECTOR];
};

#define NO_IDX ((size_t)-1)
/* Write-down buffers: large enough to coalesce, small enough to stay cheap. */
#define RUN_MAX_SECTORS 256u

struct vcache {
	struct vcache_opts o;
	struct vcache_backend be;
	uint64_t rng;
	uint64_t next_wid;

	struct sector **buckets;
	size_t nbuckets;		/* power of two */
	size_t count;			/* sectors in the cache (dirty + lied) */

	struct sector *oldest, *newest;
	struct sector **dirty;		/* write-back candidates, unordered */
	size_t ndirty, cap_dirty;

	struct vcache_stats st;
};

static size_t hash_slot(const struct vcache *c, uint64_t lba)
{
	return (size_t)((lba * 0x9e3779b97f4a7c15ull) >> 17) & (c->nbuckets - 1);
}

static struct sector *lookup(const struct vcache *c, uint64_t lba)
{
	struct sector *s = c->buckets[hash_slot(c, lba)];
	while (s && s->lba != lba)
		s = s->hnext;
	return s;
}

static int rehash(struct vcache *c, size_t n)
{
	struct sector **nb = calloc(n, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	struct sector **old = c->buckets;
	size_t oldn = c->nbuckets;
	c->buckets = nb;
	c->nbuckets = n;
	for (size_t i = 0; i < oldn; i++) {
		struct sector *s = old[i];
		while (s) {
			struct sector *next = s->hnext;
			size_t h = hash_slot(c, s->lba);
			s->hnext = nb[h];
			nb[h] = s;
			s = next;
		}
	}
	free(old);
	return 0;
}

static void dirty_add(struct vcache *c, struct sector *s)
{
	s->idx = c->ndirty;
	c->dirty[c->ndirty++] = s;
}

static void dirty_del(struct vcache *c, struct sector *s)
{
	if (s->idx == NO_IDX)
		return;
	struct sector *last = c->dirty[--c->ndirty];
	c->dirty[s->idx] = last;
	last->idx = s->idx;
	s->idx = NO_IDX;
}

static void age_unlink(struct vcache *c, struct sector *s)
{
	if (s->older)
		s->older->newer = s->newer;
	else
		c->oldest = s->newer;
	if (s->newer)
		s->newer->older = s->older;
	else
		c->newest = s->older;
	s->older = s->newer = NULL;
}

static void age_append(struct vcache *c, struct sector *s)
{
	s->older = c->newest;
	s->newer = NULL;
	if (c->newest)
		c->newest->newer = s;
	else
		c->oldest = s;
	c->newest = s;
}

static void remove_sector(struct vcache *c, struct sector *s)
{
	struct sector **pp = &c->buckets[hash_slot(c, s->lba)];
	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	dirty_del(c, s);
	age_unlink(c, s);
	c->count--;
	free(s);
}

static void mark_lied(struct vcache *c, struct sector *s)
{
	if (s->lied)
		return;
	dirty_del(c, s);
	s->lied = true;
}

/* Insert or overwrite one sector as the newest dirty data of write `wid`. */
static int put_sector(struct vcache *c, uint64_t lba, const uint8_t *data, uint64_t wid,
		      uint64_t g_lba, uint32_t g_n)
{
	if (c->ndirty == c->cap_dirty) {
		size_t n = c->cap_dirty ? c->cap_dirty * 2 : 1024;
		struct sector **d = realloc(c->dirty, n * sizeof(*d));
		if (!d)
			return -ENOMEM;
		c->dirty = d;
		c->cap_dirty = n;
	}
	struct sector *s = lookup(c, lba);
	if (!s) {
		if (c->count + 1 > c->nbuckets && rehash(c, c->nbuckets * 2) < 0)
			return -ENOMEM;
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->lba = lba;
		s->idx = NO_IDX;
		size_t h = hash_slot(c, lba);
		s->hnext = c->buckets[h];
		c->buckets[h] = s;
		c->count++;
	} else {
		age_unlink(c, s);
	}
	memcpy(s->data, data, VCACHE_SECTOR);
	s->wid = wid;
	s->g_lba = g_lba;
	s->g_n = g_n;
	s->lied = false;
	if (s->idx == NO_IDX)
		dirty_add(c, s);
	age_append(c, s);
	return 0;
}

static int cmp_lba(const void *a, const void *b)
{
	const struct sector *x = *(struct sector *const *)a, *y = *(struct sector *const *)b;
	return x->lba < y->lba ? -1 : x->lba > y->lba;
}

/* Write sectors v[0..n) down in coalesced runs, then drop them from the cache.
 * v is sorted here. On error the sectors not yet written stay dirty. */
static int write_down(struct vcache *c, struct sector **v, size_t n, uint64_t *counter)
{
	static uint8_t buf[RUN_MAX_SECTORS * VCACHE_SECTOR];
	qsort(v, n, sizeof(*v), cmp_lba);
	size_t i = 0;
	while (i < n) {
		size_t j = i + 1;
		while (j < n && j - i < RUN_MAX_SECTORS && v[j]->lba == v[j - 1]->lba + 1)
			j++;
		for (size_t k = i; k < j; k++)
			memcpy(buf + (k - i) * VCACHE_SECTOR, v[k]->data, VCACHE_SECTOR);
		int r = c->be.pwrite(c->be.ctx, buf, (uint32_t)((j - i) * VCACHE_SECTOR),
				     v[i]->lba * VCACHE_SECTOR);
		if (r < 0)
			return r;
		for (size_t k = i; k < j; k++)
			remove_sector(c, v[k]);
		*counter += j - i;
		i = j;
	}
	return 0;
}

/* The write-back unit containing s: s alone when tearing, else every sector still
 * dirty from the same write. Returns the count put in *out (caller frees). */
static int unit_of(struct vcache *c, struct sector *s, struct sector ***out)
{
	uint32_t n = c->o.tear ? 1 : s->g_n;
	struct sector **v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t k = 0;
	if (c->o.tear) {
		v[k++] = s;
	} else {
		for (uint64_t lba = s->g_lba; lba < s->g_lba + s->g_n; lba++) {
			struct sector *t = lookup(c, lba);
			if (t && t->wid == s->wid && !t->lied)
				v[k++] = t;
		}
	}
	*out = v;
	return (int)k;
}

static int write_unit(struct vcache *c, struct sector *s)
{
	struct sector **v;
	int n = unit_of(c, s, &v);
	if (n < 0)
		return n;
	uint64_t before = c->st.written_back;
	int r = write_down(c, v, (size_t)n, &c->st.written_back);
	free(v);
	return r < 0 ? r : (int)(c->st.written_back - before);
}

static int enforce_cap(struct vcache *c)
{
	if (!c->o.max_dirty)
		return 0;
	while (c->count * (uint64_t)VCACHE_SECTOR > c->o.max_dirty && c->oldest) {
		struct sector *s = c->oldest;
		if (s->lied) {
			/* The lie becomes visible: the acknowledged data is gone. */
			remove_sector(c, s);
			c->st.dropped++;
			continue;
		}
		int r = write_unit(c, s);
		if (r < 0)
			return r;
	}
	return 0;
}

struct vcache *vcache_new(const struct vcache_opts *opts, const struct vcache_backend *be)
{
	struct vcache *c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->o = *opts;
	c->be = *be;
	c->rng = opts->seed;
	c->nbuckets = 1024;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets)
		goto fail_cache;
	return c;

fail_cache:
	free(c);
fail:
	errno = ENOMEM;
	return NULL;
}

void vcache_free(struct vcache *c)
{
	if (!c)
		return;
	for (struct sector *s = c->oldest; s;) {
		struct sector *next = s->newer;
		free(s);
		s = next;
	}
	free(c->dirty);
	free(c->buckets);
	free(c);
}

int vcache_read(struct vcache *c, void *buf, uint32_t count, uint64_t off)
{
	if (!count)
		return 0;
	uint64_t first = off / VCACHE_SECTOR, last = (off + count - 1) / VCACHE_SECTOR;
	bool all_cached = true;
	for (uint64_t lba = first; lba <= last && all_cached; lba++)
		all_cached = lookup(c, lba) != NULL;
	if (!all_cached) {
		int r = c->be.pread(c->be.ctx, buf, count, off);
		if (r < 0)
			return r;
	}
	for (uint64_t lba = first; lba <= last; lba++) {
		struct sector *s = lookup(c, lba);
		if (!s)
			continue;
		uint64_t s0 = lba * VCACHE_SECTOR;
		uint64_t a = s0 > off ? s0 : off;
		uint64_t b = s0 + VCACHE_SECTOR < off + count ? s0 + VCACHE_SECTOR : off + count;
		memcpy((uint8_t *)buf + (a - off), s->data + (a - s0), b - a);
	}
	return 0;
}

int vcache_write(struct vcache *c, const void *buf, uint32_t count, uint64_t off, bool fua)
{
	if (!count)
		return 0;
	uint64_t first = off / VCACHE_SECTOR, last = (off + count - 1) / VCACHE_SECTOR;
	uint32_t n = (uint32_t)(last - first + 1);
	uint64_t wid = ++c->next_wid;
	uint8_t sec[VCACHE_SECTOR];
	for (uint64_t lba = first; lba <= last; lba++) {
		uint64_t s0 = lba * VCACHE_SECTOR;
		uint64_t a = s0 > off ? s0 : off;
		uint64_t b = s0 + VCACHE_SECTOR < off + count ? s0 + VCACHE_SECTOR : off + count;
		if (b - a < VCACHE_SECTOR) {
			/* Partial sector: merge with what a reader would see now. */
			int r = vcache_read(c, sec, VCACHE_SECTOR, s0);
			if (r < 0)
				return r;
		}
		memcpy(sec + (a - s0), (const uint8_t *)buf + (a - off), b - a);
		int r = put_sector(c, lba, sec, wid, first, n);
		if (r < 0)
			return r;
	}
	if (fua && !c->o.noflush) {
		struct sector **v = malloc(n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		size_t k = 0;
		for (uint64_t lba = first; lba <= last; lba++) {
			struct sector *s = lookup(c, lba);
			if (c->o.lying)
				mark_lied(c, s);
			else
				v[k++] = s;
		}
		int r = write_down(c, v, k, &c->st.flushed);
		free(v);
		if (r < 0)
			return r;
		if (c->o.sync && !c->o.lying && (r = c->be.flush(c->be.ctx)) < 0)
			return r;
	}
	return enforce_cap(c);
}

int vcache_zero(struct vcache *c, uint32_t count, uint64_t off, bool fua)
{
	static const uint8_t zeroes[64 * 1024];
	while (count) {
		uint32_t n = count < sizeof(zeroes) ? count : (uint32_t)sizeof(zeroes);
		int r = vcache_write(c, zeroes, n, off, fua);
		if (r < 0)
			return r;
		count -= n;
		off += n;
	}
	return 0;
}

int vcache_flush(struct vcache *c)
{
	c->st.flushes++;
	if (c->o.noflush)
		return 0;
	if (c->o.lying) {
		while (c->ndirty)
			mark_lied(c, c->dirty[c->ndirty - 1]);
		return 0;
	}
	if (c->ndirty) {
		/* Everything dirty goes down, not only the latest writes. */
		struct sector **v = malloc(c->ndirty * sizeof(*v));
		if (!v)
			return -ENOMEM;
		size_t n = c->ndirty;
		memcpy(v, c->dirty, n * sizeof(*v));
		int r = write_down(c, v, n, &c->st.flushed);
		free(v);
		if (r < 0)
			return r;
	}
	return c->o.sync ? c->be.flush(c->be.ctx) : 0;
}

int vcache_drain(struct vcache *c)
{
	bool lying = c->o.lying, noflush = c->o.noflush;
	c->o.lying = c->o.noflush = false;
	int r = vcache_flush(c);
	c->o.lying = lying;
	c->o.noflush = noflush;
	c->st.flushes--;
	if (r < 0)
		return r;
	while (c->oldest) {
		c->st.dropped++;
		remove_sector(c, c->oldest);
	}
	return 0;
}

int vcache_writeback_step(struct vcache *c, unsigned n)
{
	int total = 0;
	for (unsigned i = 0; i < n && c->ndirty; i++) {
		struct sector *s;
		if (c->o.writeback == VCACHE_WB_RANDOM) {
			s = c->dirty[rng_splitmix64(&c->rng) % c->ndirty];
		} else if (c->o.writeback == VCACHE_WB_OLDEST) {
			s = c->oldest;
			while (s && s->lied)
				s = s->newer;
			if (!s)
				break;
		} else {
			break;
		}
		int r = write_unit(c, s);
		if (r < 0)
			return r;
		total += r;
	}
	return total;
}

void vcache_get_stats(const struct vcache *c, struct vcache_stats *st)
{
	*st = c->st;
	st->dirty_sectors = c->ndirty;
	st->lied_sectors = c->count - c->ndirty;
}
