/* The write log: see wlog.h for the format and the contract. */
#include "wlog.h"
/* also built into the nbdkit filters, without the host library's include path */
#include "../../../host/lib/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct wlog_fhdr {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;
};

static int write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t r = writev(fd, iov, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

int wlog_create(struct wlog_writer *w, const char *path)
{
	struct wlog_fhdr h = { .version = WLOG_VERSION, .hdr_size = sizeof(h) };

	memcpy(h.magic, WLOG_MAGIC, 8);
	w->seq = 0;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0)
		return -errno;
	struct iovec iov = { &h, sizeof(h) };
	int rc = write_all(w->fd, &iov, 1);
	if (rc < 0) {
		close(w->fd);
		w->fd = -1;
	}
	w->bytes = sizeof(h);
	return rc;
}

int wlog_append(struct wlog_writer *w, enum wlog_type type, uint32_t flags, uint64_t off,
		uint32_t count, const void *data)
{
	struct wlog_head h = { .magic = WLOG_ENTRY_MAGIC, .type = type, .flags = flags,
			       .count = count, .off = off, .t_ns = clock_mono_ns(),
			       .seq = w->seq };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)data, data ? count : 0 } };
	/* The page cache of the host is the recorder's medium: it survives the kill of
	 * nbdkit, which is all a simulated power cut does to this host. */
	int rc = write_all(w->fd, iov, data ? 2 : 1);
	if (rc == 0) {
		w->seq++;
		w->bytes += sizeof(h) + (data ? count : 0);
	}
	return rc;
}

void wlog_close(struct wlog_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

struct wlog *wlog_map(const char *path, char *why, size_t why_len)
{
	struct wlog *l = calloc(1, sizeof(*l));
	struct stat sb;
	int fd = -1, err = 0;
	size_t cap = 0;

	if (!l)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		err = errno;
		snprintf(why, why_len, "cannot open write log '%s': %s", path, strerror(err));
		goto fail;
	}
	if ((size_t)sb.st_size < sizeof(struct wlog_fhdr)) {
		err = EINVAL;
		snprintf(why, why_len, "write log '%s' is too short (%lld bytes)", path,
			 (long long)sb.st_size);
		goto fail;
	}
	l->map_len = (size_t)sb.st_size;
	l->map = mmap(NULL, l->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (l->map == MAP_FAILED) {
		err = errno;
		l->map = NULL;
		snprintf(why, why_len, "cannot map write log '%s': %s", path, strerror(err));
		goto fail;
	}
	const uint8_t *p = l->map;
	struct wlog_fhdr fh;
	memcpy(&fh, p, sizeof(fh));
	if (memcmp(fh.magic, WLOG_MAGIC, 8) || fh.version != WLOG_VERSION ||
	    fh.hdr_size < sizeof(fh) || fh.hdr_size > l->map_len) {
		err = EINVAL;
		snprintf(why, why_len, "'%s' is not a version %u write log (byte 0)", path,
			 WLOG_VERSION);
		goto fail;
	}
	size_t at = fh.hdr_size;
	while (at < l->map_len) {
		struct wlog_head h;
		if (l->map_len - at < sizeof(h)) {
			l->truncated = true;
			break;
		}
		memcpy(&h, p + at, sizeof(h));
		if (h.magic != WLOG_ENTRY_MAGIC || h.seq != l->n || h.type < WLOG_WRITE ||
		    h.type > WLOG_FLUSH || (h.count % WLOG_SECTOR) || (h.off % WLOG_SECTOR)) {
			err = EINVAL;
			snprintf(why, why_len, "write log '%s': bad entry %zu at byte %zu", path,
				 l->n, at);
			goto fail;
		}
		size_t dlen = h.type == WLOG_WRITE ? h.count : 0;
		if (l->map_len - at - sizeof(h) < dlen) {
			l->truncated = true;
			break;
		}
		if (l->n == cap) {
			cap = cap ? cap * 2 : 1024;
			struct wlog_entry *ne = realloc(l->e, cap * sizeof(*ne));
			if (!ne) {
				err = ENOMEM;
				snprintf(why, why_len, "out of memory");
				goto fail;
			}
			l->e = ne;
		}
		l->e[l->n++] = (struct wlog_entry){ .h = h, .at = at,
						    .data = dlen ? p + at + sizeof(h) : NULL };
		at += sizeof(h) + dlen;
	}
	close(fd);
	return l;
fail:
	if (fd >= 0)
		close(fd);
	wlog_free(l);
	errno = err;
	return NULL;
}

void wlog_free(struct wlog *l)
{
	if (!l)
		return;
	if (l->map)
		munmap(l->map, l->map_len);
	free(l->e);
	free(l);
}
