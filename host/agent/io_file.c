/* Files and block devices: a pool of queue_depth threads doing pwrite (O_DIRECT when
 * asked and possible), fdatasync for flushes, RWF_DSYNC for FUA. */
#include "agent.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static int fd = -1;
static bool fd_direct;

int file_open_target(const struct agent_opts *o, bool writing, uint64_t *size)
{
	int flags = (writing ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC;
	struct stat st;

	fd = open(o->target, flags | (o->direct ? O_DIRECT : 0), 0644);
	fd_direct = o->direct;
	if (fd < 0 && errno == EINVAL && o->direct) {
		/* tmpfs and some filesystems refuse O_DIRECT: go on buffered, and say so. */
		fd = open(o->target, flags, 0644);
		fd_direct = false;
		if (fd >= 0 && !o->quiet)
			agent_log("'%s' does not support O_DIRECT; using buffered I/O", o->target);
	}
	if (fd < 0) {
		int e = errno;
		agent_log("cannot open '%s': %s", o->target, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0)
			return -errno;
	} else {
		*size = (uint64_t)st.st_size;
		uint64_t want = o->span_mib << 20;
		if (writing && S_ISREG(st.st_mode) && want > *size) {
			if (ftruncate(fd, (off_t)want) < 0) {
				int e = errno;
				agent_log("cannot extend '%s' to %llu MiB: %s", o->target,
					  (unsigned long long)o->span_mib, strerror(e));
				return -e;
			}
			*size = want;
		}
	}
	return 0;
}

void file_close_target(void)
{
	if (fd >= 0)
		close(fd);
	fd = -1;
}

static int pwrite_all(const void *buf, size_t len, uint64_t off, int rwflags)
{
	struct iovec iov = { (void *)buf, len };
	while (len) {
		ssize_t w = pwritev2(fd, &iov, 1, (off_t)off, rwflags);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		iov.iov_base = (char *)iov.iov_base + w;
		iov.iov_len -= (size_t)w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static void *aligned(size_t n)
{
	void *p = NULL;
	return posix_memalign(&p, 4096, n) ? NULL : p;
}

int file_baseline(struct core *c)
{
	const struct agent_opts *o = c->o;
	uint64_t per = CHUNK / o->block_size ? CHUNK / o->block_size : 1;
	unsigned char *buf = aligned(per * o->block_size);
	int64_t t0 = clock_mono_ns();
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t b = 0; b < c->base_blocks && !rc; b += per) {
		uint64_t n = c->base_blocks - b < per ? c->base_blocks - b : per;
		baseline_fill(o, buf, b, n);
		rc = pwrite_all(buf, n * o->block_size, b * o->block_size, 0);
	}
	free(buf);
	if (!rc && fdatasync(fd) < 0)
		rc = -errno;
	if (rc) {
		agent_log("cannot write baseline to '%s': %s", o->target, strerror(-rc));
		return rc;
	}
	c->last_flush_ns = clock_mono_ns();
	lclient_baseline(0, c->base_blocks, t0, c->last_flush_ns);
	return 0;
}

static int file_flush(void)
{
	return fdatasync(fd) < 0 ? -errno : 0;
}

int file_carry_flush(struct core *c)
{
	int rc = core_flush_sync(c, file_flush);

	if (rc)
		agent_log("cannot flush '%s' before the first write: %s", c->o->target, strerror(-rc));
	return rc;
}

static void do_flush(struct core *c)
{
	int rc = core_flush_sync(c, file_flush);

	if (rc) {
		pthread_mutex_lock(&c->mu);
		if (!c->error)
			c->error = rc;
		c->stop = true;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
}

static void *worker(void *arg)
{
	struct core *c = arg;
	const struct agent_opts *o = c->o;
	unsigned char *buf = aligned(o->block_size);
	bool fua = o->flush == FL_FUA;
	struct witem w;

	if (!buf) {
		pthread_mutex_lock(&c->mu);
		c->error = -ENOMEM;
		c->stop = true;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		return NULL;
	}
	pthread_mutex_lock(&c->mu);
	/* SIGUSR1 (a scenario's flush): no new writes; file_write_run flushes once. */
	while (!agent_flush_asked && core_next(c, &w, true)) {
		pthread_mutex_unlock(&c->mu);
		write_fill(o, buf, &w);
		int64_t t0 = clock_mono_ns();
		int rc = pwrite_all(buf, o->block_size, w.block * o->block_size, fua ? RWF_DSYNC : 0);
		int64_t t1 = clock_mono_ns();
		pthread_mutex_lock(&c->mu);
		if (rc) {
			if (!c->error)
				c->error = rc;
			c->stop = true;
			c->busy[w.block] = 0;
			pthread_cond_broadcast(&c->cv);
			break;
		}
		if (core_complete(c, &w, fua, t0, t1)) {
			pthread_mutex_unlock(&c->mu);
			do_flush(c);
			pthread_mutex_lock(&c->mu);
		}
	}
	pthread_mutex_unlock(&c->mu);
	free(buf);
	return NULL;
}

static void *flusher(void *arg)
{
	struct core *c = arg;
	struct timespec ts = { c->o->flush_ms / 1000, (long)(c->o->flush_ms % 1000) * 1000000 };

	while (!c->stop) {
		nanosleep(&ts, NULL);
		if (!c->stop)
			do_flush(c);
	}
	return NULL;
}

int file_write_run(struct core *c)
{
	pthread_t th[256], fl;
	uint32_t n = c->o->queue_depth;
	bool have_fl = false;
	uint32_t started = 0;

	for (; started < n; started++)
		if (pthread_create(&th[started], NULL, worker, c))
			break;
	if (c->o->flush == FL_EVERY_MS && !pthread_create(&fl, NULL, flusher, c))
		have_fl = true;
	for (uint32_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	/* Every write in flight completed: one flush covers them all, whatever the policy. */
	if (agent_flush_asked && !c->error)
		do_flush(c);
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_mutex_unlock(&c->mu);
	if (have_fl)
		pthread_join(fl, NULL);
	return c->error;
}

int file_check(const struct agent_opts *o, struct checker *k, uint64_t nblocks)
{
	uint64_t per = CHECK_CHUNK / o->block_size ? CHECK_CHUNK / o->block_size : 1;
	unsigned slot = 0;

	for (uint64_t b = 0; b < nblocks; b += per, slot = (slot + 1) % CHECK_SLOTS) {
		uint64_t n = nblocks - b < per ? nblocks - b : per;
		size_t want = n * o->block_size, got = 0;
		unsigned char *buf = checker_slot(k, slot, true);
		if (!buf)
			return -ENOMEM;
		while (got < want) {
			ssize_t r = pread(fd, buf + got, want - got, (off_t)(b * o->block_size + got));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				int e = r < 0 ? errno : EIO;
				agent_log("cannot read '%s' at byte %llu: %s", o->target,
					  (unsigned long long)(b * o->block_size + got),
					  r < 0 ? strerror(e) : "end of file");
				return -e;
			}
			got += (size_t)r;
		}
		checker_slot_ready(k, slot, want);
	}
	return 0;
}
