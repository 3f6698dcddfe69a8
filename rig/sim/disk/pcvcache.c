/* nbdkit filter "pcvcache": a volatile disk write cache (see docs/disk-model.md).
 *
 *   nbdkit --filter=.../nbdkit-pcvcache-filter.so file IMAGE \
 *          writeback=random rate=500 tear=yes lying=no seed=7 max-dirty=64M sync=no
 *
 * One cache per nbdkit process, shared by every connection, as a disk's cache is
 * shared by everyone above it: a client that reconnects after qemu-storage-daemon
 * was killed sees what the previous one wrote. The cache lives only in this
 * process's memory, so SIGKILL of nbdkit loses every unflushed write.
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-filter.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vcache.h"
#include "wlog.h"

static struct vcache_opts opts = { .sync = true, .max_dirty = 256ull << 20 };
static unsigned rate = 200;		/* write-back picks per second */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct vcache *cache;
static nbdkit_next *plat;		/* our own context into the plugin below */
static pthread_t wb_thread;
static bool wb_running;
static bool wb_stop;
static const char *record_path;		/* record=FILE: the write log (wlog.h) */
static struct wlog_writer rec = { .fd = -1 };

/* The recorder: called with the cache's lock held once an operation completed, before
 * its reply; releases that lock. The entry is appended under the recorder's own lock,
 * taken before the cache's is released, so the log keeps the cache's completion order
 * while the next operation already runs in the cache. */
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;

static int record_unlock(enum wlog_type type, bool fua, uint64_t off, uint32_t count,
			 const void *data, int *err)
{
	if (rec.fd < 0) {
		pthread_mutex_unlock(&lock);
		return 0;
	}
	uint32_t flags = fua ? WLOG_F_FUA : 0;
	void *whole = NULL;
	int r = 0;
	if ((fua || type == WLOG_FLUSH) && (opts.lying || opts.noflush))
		flags |= WLOG_F_NOTDURABLE;
	/* A write that is not whole sectors (QEMU's qcow2 header updates) is logged
	 * as the sectors it touched, read back from the cache: what a 512-byte-sector
	 * disk holds after its read-modify-write. */
	uint64_t a = off / WLOG_SECTOR * WLOG_SECTOR;
	uint64_t b = (off + count + WLOG_SECTOR - 1) / WLOG_SECTOR * WLOG_SECTOR;
	if (type != WLOG_FLUSH && (a != off || b != off + count)) {
		whole = malloc(b - a);
		if (!whole || (r = vcache_read(cache, whole, (uint32_t)(b - a), a)) < 0) {
			pthread_mutex_unlock(&lock);
			free(whole);
			nbdkit_error("cannot record to '%s': %s", record_path,
				     strerror(whole ? -r : ENOMEM));
			*err = EIO;
			return -1;
		}
		type = WLOG_WRITE;
		off = a;
		count = (uint32_t)(b - a);
		data = whole;
	}
	pthread_mutex_lock(&rec_lock);
	pthread_mutex_unlock(&lock);
	r = wlog_append(&rec, type, flags, off, count, data);
	pthread_mutex_unlock(&rec_lock);
	free(whole);
	if (r < 0) {
		nbdkit_error("cannot record to '%s': %s", record_path, strerror(-r));
		*err = EIO;
		return -1;
	}
	return 0;
}

static int be_pread(void *ctx, void *buf, uint32_t count, uint64_t off)
{
	int err = 0;
	return plat->pread(plat, buf, count, off, 0, &err) == -1 ? -(err ? err : EIO) : 0;
}

static int be_pwrite(void *ctx, const void *buf, uint32_t count, uint64_t off)
{
	int err = 0;
	return plat->pwrite(plat, buf, count, off, 0, &err) == -1 ? -(err ? err : EIO) : 0;
}

static int be_flush(void *ctx)
{
	int err = 0;
	if (plat->can_flush(plat) != 1)
		return 0;
	return plat->flush(plat, 0, &err) == -1 ? -(err ? err : EIO) : 0;
}

static int pcv_config(nbdkit_next_config *next, nbdkit_backend *nxdata,
		      const char *key, const char *value)
{
	int b;
	if (strcmp(key, "writeback") == 0) {
		if (strcmp(value, "none") == 0)
			opts.writeback = VCACHE_WB_NONE;
		else if (strcmp(value, "random") == 0)
			opts.writeback = VCACHE_WB_RANDOM;
		else if (strcmp(value, "oldest") == 0)
			opts.writeback = VCACHE_WB_OLDEST;
		else {
			nbdkit_error("unknown writeback mode '%s' (none, random, oldest)", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "rate") == 0)
		return nbdkit_parse_unsigned("rate", value, &rate);
	if (strcmp(key, "record") == 0) {
		record_path = value;
		return 0;
	}
	if (strcmp(key, "seed") == 0)
		return nbdkit_parse_uint64_t("seed", value, &opts.seed);
	if (strcmp(key, "max-dirty") == 0) {
		int64_t n = nbdkit_parse_size(value);
		if (n < 0)
			return -1;
		opts.max_dirty = (uint64_t)n;
		return 0;
	}
	bool *flag = strcmp(key, "tear") == 0 ? &opts.tear :
		     strcmp(key, "lying") == 0 ? &opts.lying :
		     strcmp(key, "sync") == 0 ? &opts.sync :
		     strcmp(key, "noflush") == 0 ? &opts.noflush : NULL;
	if (flag) {
		if ((b = nbdkit_parse_bool(value)) < 0)
			return -1;
		*flag = b;
		return 0;
	}
	return next(nxdata, key, value);
}

#define pcv_config_help \
	"writeback=none|random|oldest  Write-back of dirty data over time (default none).\n" \
	"rate=N                    Write-back picks per second (default 200).\n" \
	"tear=BOOL                 Write back single sectors of multi-sector writes.\n" \
	"lying=BOOL                Acknowledge flushes and FUA without writing (control).\n" \
	"seed=N                    Seed of the random choices (default 0).\n" \
	"max-dirty=SIZE            Cap on cached bytes, oldest written back (default 256M).\n" \
	"sync=BOOL                 A flush also flushes the plugin below (default true).\n" \
	"noflush=BOOL              Flush and FUA do nothing, data stays dirty (cache=unsafe).\n" \
	"record=FILE               Log every completed write and flush (powercut explore)."

static void *wb_main(void *arg)
{
	const long tick_ns = 5 * 1000 * 1000;
	double credit = 0;
	for (;;) {
		struct timespec ts = { 0, tick_ns };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&lock);
		if (wb_stop) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		credit += rate * (tick_ns / 1e9);
		unsigned n = (unsigned)credit;
		credit -= n;
		if (n) {
			int r = vcache_writeback_step(cache, n);
			if (r < 0)
				nbdkit_error("write-back failed: %s", strerror(-r));
		}
		pthread_mutex_unlock(&lock);
	}
}

static int pcv_after_fork(nbdkit_backend *backend)
{
	plat = nbdkit_next_context_open(backend, 0, "", 1);
	if (!plat) {
		nbdkit_error("cannot open the plugin below the cache");
		return -1;
	}
	if (plat->prepare(plat) == -1) {
		nbdkit_next_context_close(plat);
		plat = NULL;
		return -1;
	}
	/* nbdkit answers these lazily and asserts on them before each write, so
	 * ask once here; a read-only platter cannot hold a write cache. */
	if (plat->get_size(plat) == -1 || plat->can_write(plat) != 1 ||
	    plat->can_flush(plat) == -1) {
		nbdkit_error("the plugin below the cache must be writable");
		return -1;
	}
	if (record_path) {
		int r = wlog_create(&rec, record_path);
		if (r < 0) {
			nbdkit_error("cannot create write log '%s': %s", record_path, strerror(-r));
			return -1;
		}
	}
	struct vcache_backend be = { be_pread, be_pwrite, be_flush, NULL };
	cache = vcache_new(&opts, &be);
	if (!cache) {
		nbdkit_error("cannot create the cache: %s", strerror(errno));
		return -1;
	}
	if (opts.writeback != VCACHE_WB_NONE && rate > 0) {
		int r = pthread_create(&wb_thread, NULL, wb_main, NULL);
		if (r) {
			nbdkit_error("cannot start the write-back thread: %s", strerror(r));
			return -1;
		}
		wb_running = true;
	}
	nbdkit_debug("pcvcache: writeback=%d rate=%u tear=%d lying=%d seed=%llu max-dirty=%llu",
		     opts.writeback, rate, opts.tear, opts.lying,
		     (unsigned long long)opts.seed, (unsigned long long)opts.max_dirty);
	return 0;
}

/* An orderly shutdown drains the cache, as a disk does when it is powered down
 * properly; only SIGKILL models a power cut. */
static void pcv_cleanup(nbdkit_backend *backend)
{
	if (wb_running) {
		pthread_mutex_lock(&lock);
		wb_stop = true;
		pthread_mutex_unlock(&lock);
		pthread_join(wb_thread, NULL);
		wb_running = false;
	}
	if (cache) {
		pthread_mutex_lock(&lock);
		int r = vcache_drain(cache);
		if (r < 0)
			nbdkit_error("cannot write the cache down: %s", strerror(-r));
		struct vcache_stats st;
		vcache_get_stats(cache, &st);
		nbdkit_debug("pcvcache: written back %llu, flushed %llu, dropped %llu",
			     (unsigned long long)st.written_back,
			     (unsigned long long)st.flushed, (unsigned long long)st.dropped);
		vcache_free(cache);
		cache = NULL;
		pthread_mutex_unlock(&lock);
	}
	if (plat) {
		plat->finalize(plat);
		nbdkit_next_context_close(plat);
		plat = NULL;
	}
	wlog_close(&rec);
}

static int pcv_can_zero(nbdkit_next *next, void *handle)
{
	return NBDKIT_ZERO_NATIVE;
}

static int pcv_can_fua(nbdkit_next *next, void *handle)
{
	return NBDKIT_FUA_NATIVE;
}

static int pcv_can_flush(nbdkit_next *next, void *handle)
{
	return 1;
}

/* Trim is not advertised: a discard that reached the platter before the cache's
 * older writes would need ordering rules the model does not have. */
static int pcv_can_trim(nbdkit_next *next, void *handle)
{
	return 0;
}

static int pcv_can_fast_zero(nbdkit_next *next, void *handle)
{
	return 0;
}

/* The plugin's extents describe the platter, not the cache: a hole there may hold
 * dirty data here, so none are reported. */
static int pcv_can_extents(nbdkit_next *next, void *handle)
{
	return 0;
}

static int pcv_can_cache(nbdkit_next *next, void *handle)
{
	return NBDKIT_CACHE_NONE;
}

/* Every connection sees the one shared cache and a flush covers all of it. */
static int pcv_can_multi_conn(nbdkit_next *next, void *handle)
{
	return 1;
}

static int pcv_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
		     uint64_t offset, uint32_t flags, int *err)
{
	pthread_mutex_lock(&lock);
	int r = vcache_read(cache, buf, count, offset);
	pthread_mutex_unlock(&lock);
	if (r < 0) {
		*err = -r;
		return -1;
	}
	return 0;
}

static int pcv_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
		      uint64_t offset, uint32_t flags, int *err)
{
	pthread_mutex_lock(&lock);
	int r = vcache_write(cache, buf, count, offset, flags & NBDKIT_FLAG_FUA);
	if (r < 0) {
		pthread_mutex_unlock(&lock);
		*err = -r;
		return -1;
	}
	return record_unlock(WLOG_WRITE, flags & NBDKIT_FLAG_FUA, offset, count, buf, err);
}

static int pcv_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
		    uint32_t flags, int *err)
{
	if (flags & NBDKIT_FLAG_FAST_ZERO) {
		*err = ENOTSUP;
		return -1;
	}
	pthread_mutex_lock(&lock);
	int r = vcache_zero(cache, count, offset, flags & NBDKIT_FLAG_FUA);
	if (r < 0) {
		pthread_mutex_unlock(&lock);
		*err = -r;
		return -1;
	}
	return record_unlock(WLOG_ZERO, flags & NBDKIT_FLAG_FUA, offset, count, NULL, err);
}

static int pcv_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
	pthread_mutex_lock(&lock);
	int r = vcache_flush(cache);
	if (r < 0) {
		pthread_mutex_unlock(&lock);
		*err = -r;
		return -1;
	}
	return record_unlock(WLOG_FLUSH, false, 0, 0, NULL, err);
}

static struct nbdkit_filter filter = {
	.name = "pcvcache",
	.longname = "powercut volatile write cache filter",
	.config = pcv_config,
	.config_help = pcv_config_help,
	.after_fork = pcv_after_fork,
	.cleanup = pcv_cleanup,
	.can_zero = pcv_can_zero,
	.can_fua = pcv_can_fua,
	.can_flush = pcv_can_flush,
	.can_trim = pcv_can_trim,
	.can_fast_zero = pcv_can_fast_zero,
	.can_extents = pcv_can_extents,
	.can_cache = pcv_can_cache,
	.can_multi_conn = pcv_can_multi_conn,
	.pread = pcv_pread,
	.pwrite = pcv_pwrite,
	.zero = pcv_zero,
	.flush = pcv_flush,
};

NBDKIT_REGISTER_FILTER(filter)
