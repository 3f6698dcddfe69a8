/* The volatile write cache of the disk model, independent of nbdkit.
 *
 * A vcache holds acknowledged writes in memory, sector by sector (512 bytes), in
 * front of a backend (the "platter": in the nbdkit filter, the file plugin). Reads
 * see the cache first. A flush (or a FUA write) writes every dirty sector down and
 * then flushes the backend. Whatever is still dirty when the process dies is lost.
 *
 * Optional physics:
 *   - write-back of dirty data over time (vcache_writeback_step, driven by the
 *     caller's clock): random picks or oldest first;
 *   - tearing: write-back of a multi-sector write may persist only some of its
 *     sectors (without it, a write-back unit is everything still dirty of one write);
 *   - lying: flushes and FUA are acknowledged but the data they cover is never
 *     written down (it stays readable in the cache until the cap evicts it, when it
 *     is dropped, or until the process dies);
 *   - a cap on dirty bytes: beyond it the oldest dirty data is written back.
 *
 * Not thread-safe: the caller serialises every call (the filter holds one mutex).
 * Functions return 0 (or a count) or a negative errno; vcache_new returns NULL and
 * sets errno. The backend's callbacks return 0 or a negative errno.
 */
#ifndef PC_VCACHE_H
#define PC_VCACHE_H

#include <stdbool.h>
#include <stdint.h>

#define VCACHE_SECTOR 512u

struct vcache_backend {
	int (*pread)(void *ctx, void *buf, uint32_t count, uint64_t off);
	int (*pwrite)(void *ctx, const void *buf, uint32_t count, uint64_t off);
	int (*flush)(void *ctx);
	void *ctx;
};

enum vcache_writeback {
	VCACHE_WB_NONE,		/* dirty data moves only on flush, FUA or the cap */
	VCACHE_WB_RANDOM,	/* each step writes back a randomly chosen dirty unit */
	VCACHE_WB_OLDEST,	/* each step writes back the oldest dirty unit */
};

struct vcache_opts {
	enum vcache_writeback writeback;
	bool tear;		/* write-back unit is one sector, not one write */
	bool lying;		/* acknowledge flush/FUA, never write their data down */
	bool sync;		/* a flush also flushes the backend (false: pwrite only) */
	bool noflush;		/* flush and FUA do nothing; data stays dirty (not doomed) */
	uint64_t seed;		/* random choices; same seed + same calls = same result */
	uint64_t max_dirty;	/* bytes; 0 = no cap */
};

struct vcache_stats {
	uint64_t dirty_sectors;		/* in the cache, write-back candidates */
	uint64_t lied_sectors;		/* in the cache, acknowledged as flushed, doomed */
	uint64_t written_back;		/* sectors written down by steps and the cap */
	uint64_t flushed;		/* sectors written down by flush and FUA */
	uint64_t dropped;		/* lied sectors dropped by the cap */
	uint64_t flushes;		/* flushes acknowledged */
};

struct vcache;

/* The backend is copied; be->ctx must outlive the cache. */
struct vcache *vcache_new(const struct vcache_opts *opts, const struct vcache_backend *be);
/* Frees the cache, discarding dirty data (what a power cut does). */
void vcache_free(struct vcache *c);

int vcache_read(struct vcache *c, void *buf, uint32_t count, uint64_t off);
int vcache_write(struct vcache *c, const void *buf, uint32_t count, uint64_t off, bool fua);
int vcache_zero(struct vcache *c, uint32_t count, uint64_t off, bool fua);
int vcache_flush(struct vcache *c);
/* Orderly shutdown of the disk: write every dirty sector down (a lying cache still
 * drops what it lied about) and flush the backend. */
int vcache_drain(struct vcache *c);
/* Perform n write-back picks as opts->writeback says. Returns the number of sectors
 * written down, or a negative errno. */
int vcache_writeback_step(struct vcache *c, unsigned n);
void vcache_get_stats(const struct vcache *c, struct vcache_stats *st);

#endif
