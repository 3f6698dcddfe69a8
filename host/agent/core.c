/* The seeded write schedule and the shared write state. */
#include "agent.h"
#include "record.h"
#include "rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

int core_init(struct core *c, const struct agent_opts *o, uint64_t nblocks)
{
	memset(c, 0, sizeof(*c));
	c->o = o;
	c->nblocks = nblocks;
	c->spb = o->block_size / REC_SECTOR;
	/* alloc: only the lower half is baselined; the upper half is first written by the
	 * workload (docs/oracle.md and --help). */
	c->base_blocks = o->pattern == PAT_ALLOC ? nblocks / 2 : nblocks;
	c->gens = calloc(nblocks, sizeof(*c->gens));
	c->busy = calloc(nblocks, 1);
	if (!c->gens || !c->busy) {
		free(c->gens);
		free(c->busy);
		return -ENOMEM;
	}
	/* The schedule depends on the seed, cycle and disk only, never on timing. */
	c->rng = o->seed ^ ((uint64_t)o->cycle << 32 | o->disk) * 0x9e3779b97f4a7c15ull;
	uint64_t span = nblocks - c->base_blocks;
	if (span) {
		c->alloc_mul = (uint64_t)(span * 0.6180339887) | 1;
		while (gcd(c->alloc_mul, span) != 1)
			c->alloc_mul += 2;
	}
	c->last_flush_ns = clock_mono_ns();
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	return 0;
}

void core_release(struct core *c)
{
	free(c->gens);
	free(c->busy);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
}

static uint64_t pick_block(struct core *c)
{
	const struct agent_opts *o = c->o;
	uint64_t n = c->nblocks, i = c->issued++;

	switch (o->pattern) {
	case PAT_SEQUENTIAL:
		return i % n;
	case PAT_HOTSET: {
		uint64_t hot = n * o->hot_set_pct / 100;
		if (hot == 0)
			hot = 1;
		uint64_t r = rng_splitmix64(&c->rng);
		/* 90 % of the writes go to the hot set at the start of the span. */
		if (r % 10 != 0)
			return rng_splitmix64(&c->rng) % hot;
		return rng_splitmix64(&c->rng) % n;
	}
	case PAT_ALLOC: {
		uint64_t span = n - c->base_blocks;
		if (c->alloc_next < span) {
			uint64_t k = c->alloc_next++;
			return c->base_blocks + (uint64_t)(((unsigned __int128)k * c->alloc_mul) % span);
		}
		return rng_splitmix64(&c->rng) % n;
	}
	case PAT_RANDOM:
	default:
		return rng_splitmix64(&c->rng) % n;
	}
}

bool core_next(struct core *c, struct witem *w, bool wait)
{
	for (;;) {
		if (c->stop)
			return false;
		if (c->o->max_writes && c->seq >= c->o->max_writes && !c->have_pending)
			return false;
		if (!c->have_pending) {
			c->pending.block = pick_block(c);
			c->have_pending = true;
		}
		if (!c->busy[c->pending.block])
			break;
		if (!wait)
			return false;
		pthread_cond_wait(&c->cv, &c->mu);
	}
	c->have_pending = false;
	w->block = c->pending.block;
	w->gen = ++c->gens[w->block];
	w->seq = ++c->seq;
	w->watermark = c->acks;
	c->busy[w->block] = 1;
	return true;
}

bool core_complete(struct core *c, const struct witem *w, bool fua, int64_t submit_ns,
		   int64_t complete_ns)
{
	uint64_t idx = c->acks++;

	c->busy[w->block] = 0;
	pthread_cond_broadcast(&c->cv);
	lclient_ack(w, fua ? 1u : 0u, idx, submit_ns, complete_ns);
	c->since_flush++;
	switch (c->o->flush) {
	case FL_ALWAYS:
		return true;
	case FL_EVERY_N:
		return c->since_flush >= c->o->flush_n;
	default:
		return false;
	}
}

uint64_t core_flush_begin(struct core *c, uint64_t *id)
{
	*id = ++c->flushes;
	c->since_flush = 0;
	return c->acks;
}

void core_flush_done(struct core *c, uint64_t id, uint64_t covers, int64_t submit_ns)
{
	int64_t now = clock_mono_ns();

	pthread_mutex_lock(&c->mu);
	c->last_flush_ns = now;
	lclient_flush(id, covers, submit_ns, now);
	pthread_mutex_unlock(&c->mu);
}

int core_flush_sync(struct core *c, int (*dev_flush)(void))
{
	uint64_t id, covers;

	pthread_mutex_lock(&c->mu);
	covers = core_flush_begin(c, &id);
	pthread_mutex_unlock(&c->mu);
	int64_t t = clock_mono_ns();
	int rc = dev_flush();
	if (rc == 0)
		core_flush_done(c, id, covers, t);
	return rc;
}

void baseline_fill(const struct agent_opts *o, unsigned char *buf, uint64_t first, uint64_t n)
{
	struct rec_id id = {
		.campaign = o->campaign, .cycle = o->cycle, .disk = o->disk,
		.spb = (uint16_t)(o->block_size / REC_SECTOR),
	};
	for (uint64_t i = 0; i < n; i++) {
		id.block = first + i;
		rec_encode_block(buf + i * o->block_size, &id, o->seed);
	}
}

void write_fill(const struct agent_opts *o, unsigned char *buf, const struct witem *w)
{
	struct rec_id id = {
		.campaign = o->campaign, .cycle = o->cycle, .disk = o->disk, .block = w->block,
		.gen = w->gen, .spb = (uint16_t)(o->block_size / REC_SECTOR), .seq = w->seq,
		.watermark = w->watermark,
	};
	rec_encode_block(buf, &id, o->seed);
}
