/* nbdkit filter "pcreplay": serves one crash state of a recorded disk, the recording's
 * base image (the plugin below, read-only) plus a chosen set of the logged writes,
 * without copying the image (docs/explore.md).
 *
 *   nbdkit -r -U SOCK --filter=.../nbdkit-pcreplay-filter.so file BASE \
 *          log=WRITES.wlog states=DIR
 *
 * The export name names a state: the file DIR/NAME, written by powercut explore before
 * it connects. One line per directive, applied in the log's order whatever the order
 * of the lines (a later write of a sector hides an earlier one):
 *
 *   upto N            entries 0 .. N-1 of the log, whole
 *   entry E           entry E, whole
 *   entry E S C       sectors S .. S+C-1 of entry E (counted from its first): a torn write
 *
 * Flushes in the log carry no data and are ignored here: which writes a state holds is
 * the explorer's choice. The sector map is built at open and kept for the next
 * connection to the same state (the metadata check and the read-back both open it).
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-filter.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wlog.h"

static const char *log_path;
static const char *states_dir;
static struct wlog *wl;

struct sec {
	uint64_t lba;
	uint64_t seq;
	const uint8_t *data;	/* NULL: zeroes */
};

struct state {
	struct sec *s;
	size_t n, cap;
	char name[256];
	unsigned refs;		/* connections using it, plus one while it is the cached one */
};

/* The last state built: qemu-img check and qemu-storage-daemon open the same state one
 * after the other (or at once), and a map of a long recording costs milliseconds. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct state *cached;

static void state_put(struct state *st)
{
	if (--st->refs == 0) {
		free(st->s);
		free(st);
	}
}

static int pcr_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
		      const char *value)
{
	if (strcmp(key, "log") == 0) {
		log_path = value;
		return 0;
	}
	if (strcmp(key, "states") == 0) {
		states_dir = value;
		return 0;
	}
	return next(nxdata, key, value);
}

#define pcr_config_help \
	"log=FILE                  The write log of the recording (required).\n" \
	"states=DIR                Where the state files named by export names are (required)."

static int pcr_config_complete(nbdkit_next_config_complete *next, nbdkit_backend *nxdata)
{
	char why[512];
	if (!log_path || !states_dir) {
		nbdkit_error("log= and states= are required");
		return -1;
	}
	wl = wlog_map(log_path, why, sizeof(why));
	if (!wl) {
		nbdkit_error("%s", why);
		return -1;
	}
	return next(nxdata);
}

static void pcr_unload(void)
{
	if (cached)
		state_put(cached);
	cached = NULL;
	wlog_free(wl);
	wl = NULL;
}

static int add_entry(struct state *st, size_t e, uint64_t first, uint64_t count)
{
	const struct wlog_entry *x = &wl->e[e];
	if (x->h.type == WLOG_FLUSH)
		return 0;
	uint64_t ns = x->h.count / WLOG_SECTOR;
	if (first > ns || count > ns - first) {
		nbdkit_error("entry %zu has %llu sectors, not %llu from %llu", e,
			     (unsigned long long)ns, (unsigned long long)count,
			     (unsigned long long)first);
		return -1;
	}
	for (uint64_t i = first; i < first + count; i++) {
		if (st->n == st->cap) {
			size_t cap = st->cap ? st->cap * 2 : 4096;
			struct sec *s = realloc(st->s, cap * sizeof(*s));
			if (!s) {
				nbdkit_error("out of memory");
				return -1;
			}
			st->s = s;
			st->cap = cap;
		}
		st->s[st->n++] = (struct sec){ .lba = x->h.off / WLOG_SECTOR + i, .seq = x->h.seq,
					      .data = x->data ? x->data + i * WLOG_SECTOR : NULL };
	}
	return 0;
}

static int cmp_sec(const void *a, const void *b)
{
	const struct sec *x = a, *y = b;
	if (x->lba != y->lba)
		return x->lba < y->lba ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Read DIR/NAME into a sorted map holding the newest chosen version of each sector. */
static int load_state(struct state *st, const char *name)
{
	char path[4096], line[256];
	int lineno = 0, rc = -1;

	if (!*name || strchr(name, '/') || name[0] == '.') {
		nbdkit_error("export name '%s' is not a state name", name);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", states_dir, name);
	FILE *f = fopen(path, "re");
	if (!f) {
		nbdkit_error("cannot open state '%s': %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b, c;
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "upto %llu", &a) == 1) {
			if (a > wl->n)
				goto bad;
			for (size_t e = 0; e < a; e++)
				if (add_entry(st, e, 0, wl->e[e].h.count / WLOG_SECTOR) < 0)
					goto out;
			continue;
		}
		int k = sscanf(line, "entry %llu %llu %llu", &a, &b, &c);
		if ((k == 1 || k == 3) && a < wl->n) {
			if (k == 1) {
				b = 0;
				c = wl->e[a].h.count / WLOG_SECTOR;
			}
			if (add_entry(st, a, b, c) < 0)
				goto out;
			continue;
		}
bad:
		nbdkit_error("state '%s', line %d: cannot parse '%.*s'", path, lineno,
			     (int)strcspn(line, "\n"), line);
		goto out;
	}
	qsort(st->s, st->n, sizeof(*st->s), cmp_sec);
	size_t w = 0;
	for (size_t i = 0; i < st->n; i++) {
		if (w && st->s[w - 1].lba == st->s[i].lba)
			w--;
		st->s[w++] = st->s[i];
	}
	st->n = w;
	rc = 0;
out:
	fclose(f);
	return rc;
}

static void *pcr_open(nbdkit_next_open *next, nbdkit_context *nxdata, int readonly,
		      const char *exportname, int is_tls)
{
	if (next(nxdata, 1, "") == -1)
		return NULL;
	pthread_mutex_lock(&lock);
	struct state *st = cached;
	if (st && !strcmp(st->name, exportname)) {
		st->refs++;
		pthread_mutex_unlock(&lock);
		return st;
	}
	pthread_mutex_unlock(&lock);
	st = calloc(1, sizeof(*st));
	if (!st) {
		nbdkit_error("out of memory");
		return NULL;
	}
	if (strlen(exportname) >= sizeof(st->name) || load_state(st, exportname) < 0) {
		if (strlen(exportname) >= sizeof(st->name))
			nbdkit_error("export name '%.64s...' is too long", exportname);
		free(st->s);
		free(st);
		return NULL;
	}
	strcpy(st->name, exportname);
	st->refs = 2;
	pthread_mutex_lock(&lock);
	if (cached)
		state_put(cached);
	cached = st;
	pthread_mutex_unlock(&lock);
	nbdkit_debug("pcreplay: state '%s' holds %zu sectors", exportname, st->n);
	return st;
}

static void pcr_close(void *handle)
{
	pthread_mutex_lock(&lock);
	state_put(handle);
	pthread_mutex_unlock(&lock);
}

static int pcr_can_write(nbdkit_next *next, void *handle)
{
	return 0;
}

static int pcr_can_extents(nbdkit_next *next, void *handle)
{
	return 0;
}

static int pcr_can_cache(nbdkit_next *next, void *handle)
{
	return NBDKIT_CACHE_NONE;
}

static int pcr_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
		     uint64_t offset, uint32_t flags, int *err)
{
	struct state *st = handle;
	if (next->pread(next, buf, count, offset, 0, err) == -1)
		return -1;
	uint64_t lo = offset / WLOG_SECTOR, hi = (offset + count + WLOG_SECTOR - 1) / WLOG_SECTOR;
	size_t a = 0, b = st->n;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (st->s[m].lba < lo)
			a = m + 1;
		else
			b = m;
	}
	for (size_t i = a; i < st->n && st->s[i].lba < hi; i++) {
		uint64_t s0 = st->s[i].lba * WLOG_SECTOR, s1 = s0 + WLOG_SECTOR;
		uint64_t c0 = s0 > offset ? s0 : offset, c1 = s1 < offset + count ? s1 : offset + count;
		uint8_t *dst = (uint8_t *)buf + (c0 - offset);
		if (st->s[i].data)
			memcpy(dst, st->s[i].data + (c0 - s0), c1 - c0);
		else
			memset(dst, 0, c1 - c0);
	}
	return 0;
}

static struct nbdkit_filter filter = {
	.name = "pcreplay",
	.longname = "powercut crash-state replay filter",
	.config = pcr_config,
	.config_complete = pcr_config_complete,
	.config_help = pcr_config_help,
	.unload = pcr_unload,
	.open = pcr_open,
	.close = pcr_close,
	.can_write = pcr_can_write,
	.can_extents = pcr_can_extents,
	.can_cache = pcr_can_cache,
	.pread = pcr_pread,
};

NBDKIT_REGISTER_FILTER(filter)
