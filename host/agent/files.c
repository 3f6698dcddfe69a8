/* The files workload (docs/oracle.md, "File systems: the files workload"): a
 * diskchecker-style writer on a mounted file system, and its read-back (fscheck).
 *
 * Writing is one thread, one operation at a time: create a file, append to it,
 * overwrite part of it in place, or replace it by a renamed temporary file. Every
 * operation ends with a sync (fsync, fdatasync, or O_SYNC writes) and, where POSIX
 * needs one for a new name to be durable (create, rename), an fsync of the directory.
 * Only then is it acknowledged to the ledger, with exactly what it made durable: the
 * file, the bytes it wrote, the file's length and the CRC32C of its whole content, and
 * its name. Every 512-byte chunk is a self-describing record (filerec.h) naming the
 * operation that wrote it, so the check can tell which operation each chunk is from.
 */
#include "agent.h"
#include "filerec.h"
#include "ledger_proto.h"
#include "record.h"
#include "rng.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_RUN_CHUNKS 4	/* chunks one operation writes at most */

struct slot {
	uint32_t file;		/* 0: no file yet */
	uint64_t *chunk_seq;	/* per chunk, the operation that wrote it */
	uint32_t nchunks;
};

struct fw {
	const struct agent_opts *o;
	int dirfd;
	struct slot *slots;
	uint64_t seq, rng;
	uint32_t next_file;
	uint64_t ops, syncs;
	unsigned char *buf;	/* max_chunks chunks */
};

static void slot_name(char *b, size_t n, char prefix, uint32_t i)
{
	snprintf(b, n, "%c%04u", prefix, i);
}

static void fill(struct fw *w, unsigned char *p, uint32_t file, uint32_t chunk, uint64_t seq)
{
	struct frec_id id = { .campaign = w->o->campaign, .cycle = w->o->cycle, .disk = w->o->disk,
			      .file = file, .chunk = chunk, .seq = seq };
	frec_encode(p, &id, w->o->seed);
}

/* CRC32C of the whole content the slot's chunks make. */
static uint32_t digest(struct fw *w, uint32_t file, const uint64_t *seqs, uint32_t n)
{
	unsigned char c[FREC_CHUNK];
	uint32_t crc = 0;
	for (uint32_t i = 0; i < n; i++) {
		fill(w, c, file, i, seqs[i]);
		crc = rec_crc32c(crc, c, FREC_CHUNK);
	}
	return crc;
}

static unsigned pick_sync(struct fw *w)
{
	return w->o->sync ? (unsigned)w->o->sync : 1 + (unsigned)(rng_splitmix64(&w->rng) % 3);
}

static int open_file(struct fw *w, const char *name, int flags, unsigned sync)
{
	int fd = openat(w->dirfd, name, flags | O_WRONLY | O_CLOEXEC | (sync == FS_SYNC_OSYNC ? O_SYNC : 0), 0644);
	if (fd < 0) {
		int e = errno;
		agent_log("cannot open '%s/%s': %s", w->o->target, name, strerror(e));
		return -e;
	}
	return fd;
}

/* Write chunks [c0, c0+n) of file with seq, sync as asked, close. */
static int write_chunks(struct fw *w, int fd, const char *name, uint32_t file, uint32_t c0,
			uint32_t n, unsigned sync)
{
	for (uint32_t i = 0; i < n; i++)
		fill(w, w->buf + (size_t)i * FREC_CHUNK, file, c0 + i, w->seq);
	size_t len = (size_t)n * FREC_CHUNK, done = 0;
	while (done < len) {
		ssize_t r = pwrite(fd, w->buf + done, len - done, (off_t)c0 * FREC_CHUNK + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			agent_log("cannot write '%s/%s': %s", w->o->target, name, strerror(e));
			close(fd);
			return -e;
		}
		done += (size_t)r;
	}
	int rc = sync == FS_SYNC_FSYNC ? fsync(fd) : sync == FS_SYNC_FDATASYNC ? fdatasync(fd) : 0;
	if (rc < 0) {
		int e = errno;
		agent_log("cannot sync '%s/%s': %s", w->o->target, name, strerror(e));
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

/* A new name is durable once its directory is synced (POSIX: fsync of the file does
 * not promise the directory entry). */
static int sync_dir(struct fw *w)
{
	if (fsync(w->dirfd) < 0) {
		int e = errno;
		agent_log("cannot sync directory '%s': %s", w->o->target, strerror(e));
		return -e;
	}
	return 0;
}

static int grow(struct slot *s, uint32_t n)
{
	uint64_t *p = realloc(s->chunk_seq, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->chunk_seq = p;
	return 0;
}

static void ack(struct fw *w, unsigned op, unsigned sync, bool dirsync, uint32_t file,
		uint32_t c0, uint32_t n, const uint64_t *seqs, uint32_t nchunks, const char *name,
		int64_t t0)
{
	struct file_ack a = { .seq = w->seq, .op = op, .sync = sync, .dirsync = dirsync,
			      .file = file, .offset = (uint64_t)c0 * FREC_CHUNK,
			      .nbytes = (uint64_t)n * FREC_CHUNK,
			      .length = (uint64_t)nchunks * FREC_CHUNK,
			      .digest = digest(w, file, seqs, nchunks), .name = name };
	lclient_filesync(&a, t0, clock_mono_ns());
	w->syncs++;
}

static int op_create(struct fw *w, struct slot *s, const char *name)
{
	unsigned sync = pick_sync(w);
	uint32_t n = 1 + (uint32_t)(rng_splitmix64(&w->rng) % MAX_RUN_CHUNKS);
	int64_t t0 = clock_mono_ns();
	int rc, fd;

	if ((rc = grow(s, n)))
		return rc;
	s->file = w->next_file++;
	if ((fd = open_file(w, name, O_CREAT | O_TRUNC, sync)) < 0)
		return fd;
	if ((rc = write_chunks(w, fd, name, s->file, 0, n, sync)) || (rc = sync_dir(w)))
		return rc;
	for (uint32_t i = 0; i < n; i++)
		s->chunk_seq[i] = w->seq;
	s->nchunks = n;
	ack(w, FS_OP_CREATE, sync, true, s->file, 0, n, s->chunk_seq, n, name, t0);
	return 0;
}

static int op_write(struct fw *w, struct slot *s, const char *name, bool append)
{
	unsigned sync = pick_sync(w);
	uint32_t n = 1 + (uint32_t)(rng_splitmix64(&w->rng) % MAX_RUN_CHUNKS), c0;
	int64_t t0 = clock_mono_ns();
	int rc, fd;

	if (append) {
		c0 = s->nchunks;
		if (c0 + n > w->o->max_chunks)
			append = false;	/* full: overwrite instead */
	}
	if (!append) {
		n = n > s->nchunks ? s->nchunks : n;
		c0 = (uint32_t)(rng_splitmix64(&w->rng) % (s->nchunks - n + 1));
	} else if ((rc = grow(s, c0 + n))) {
		return rc;
	}
	if ((fd = open_file(w, name, 0, sync)) < 0)
		return fd;
	if ((rc = write_chunks(w, fd, name, s->file, c0, n, sync)))
		return rc;
	for (uint32_t i = c0; i < c0 + n; i++)
		s->chunk_seq[i] = w->seq;
	if (c0 + n > s->nchunks)
		s->nchunks = c0 + n;
	ack(w, append ? FS_OP_APPEND : FS_OP_OVERWRITE, sync, false, s->file, c0, n,
	    s->chunk_seq, s->nchunks, name, t0);
	return 0;
}

/* Write a temporary file, sync it (acknowledged: its content is durable, its name
 * not), rename it over the slot's name and sync the directory (acknowledged: the name
 * now holds the new file). */
static int op_replace(struct fw *w, struct slot *s, const char *name)
{
	unsigned sync = pick_sync(w);
	uint32_t n = 1 + (uint32_t)(rng_splitmix64(&w->rng) % MAX_RUN_CHUNKS), file = w->next_file++;
	uint64_t *seqs = malloc(n * sizeof(*seqs));
	char tmp[16];
	int64_t t0 = clock_mono_ns();
	int rc, fd;

	if (!seqs)
		return -ENOMEM;
	slot_name(tmp, sizeof(tmp), 't', file);
	if ((fd = open_file(w, tmp, O_CREAT | O_TRUNC, sync)) < 0) {
		free(seqs);
		return fd;
	}
	if ((rc = write_chunks(w, fd, tmp, file, 0, n, sync))) {
		free(seqs);
		return rc;
	}
	for (uint32_t i = 0; i < n; i++)
		seqs[i] = w->seq;
	ack(w, FS_OP_PREPARE, sync, false, file, 0, n, seqs, n, tmp, t0);
	w->seq++;
	t0 = clock_mono_ns();
	if (renameat(w->dirfd, tmp, w->dirfd, name) < 0) {
		rc = -errno;
		agent_log("cannot rename '%s/%s' to '%s': %s", w->o->target, tmp, name, strerror(-rc));
	} else {
		rc = sync_dir(w);
	}
	if (rc) {
		free(seqs);
		return rc;
	}
	free(s->chunk_seq);
	s->chunk_seq = seqs;
	s->nchunks = n;
	s->file = file;
	ack(w, FS_OP_RENAME, sync, true, file, 0, 0, seqs, n, name, t0);
	return 0;
}

int files_write(const struct agent_opts *o)
{
	struct fw w = { .o = o, .next_file = 1, .seq = 1,
			.rng = o->seed ^ ((uint64_t)o->cycle << 32 | o->disk) ^ 0x66696c6573ull };
	int64_t t0 = clock_mono_ns(), deadline = o->duration > 0 ? t0 + (int64_t)(o->duration * 1e9) : 0;
	char name[16];
	int rc = 0;

	w.dirfd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w.dirfd < 0) {
		rc = -errno;
		agent_log("cannot open directory '%s': %s", o->target, strerror(-rc));
		return rc;
	}
	w.slots = calloc(o->files, sizeof(*w.slots));
	w.buf = malloc((size_t)MAX_RUN_CHUNKS * FREC_CHUNK);
	if (!w.slots || !w.buf) {
		rc = -ENOMEM;
		goto out;
	}
	/* The ledger's session: block size 512 (a chunk), no span (docs/oracle.md). */
	if ((rc = lclient_start(o, 0)))
		goto out;
	while (!agent_signalled && !lclient_failed() &&
	       (!o->max_writes || w.ops < o->max_writes) &&
	       (!deadline || clock_mono_ns() < deadline)) {
		uint32_t i = (uint32_t)(rng_splitmix64(&w.rng) % o->files);
		struct slot *s = &w.slots[i];
		slot_name(name, sizeof(name), 'f', i);
		unsigned r = (unsigned)(rng_splitmix64(&w.rng) % 10);
		if (!s->file)
			rc = op_create(&w, s, name);
		else if (r < 4)
			rc = op_write(&w, s, name, true);
		else if (r < 8)
			rc = op_write(&w, s, name, false);
		else
			rc = op_replace(&w, s, name);
		if (rc)
			break;
		w.seq++;
		w.ops++;
	}
	double secs = (clock_mono_ns() - t0) / 1e9;
	printf("{\"type\":\"files\",\"operations\":%llu,\"syncs\":%llu,\"seconds\":%.6f,\"dropped\":%llu,\"error\":%d}\n",
	       (unsigned long long)w.ops, (unsigned long long)w.syncs, secs,
	       (unsigned long long)lclient_dropped(), rc);
	fflush(stdout);
	int lrc = lclient_finish(rc ? LEDGER_END_ERROR : agent_signalled ? LEDGER_END_SIGNAL : LEDGER_END_DONE,
				 w.syncs, 0, 2000);
	if (!rc && lrc)
		rc = -EPROTO;
out:
	if (w.slots)
		for (uint32_t i = 0; i < o->files; i++)
			free(w.slots[i].chunk_seq);
	free(w.slots);
	free(w.buf);
	close(w.dirfd);
	return rc;
}

/* --- fscheck ------------------------------------------------------------------------ */

static const char *const kind_names[] = { "record", "zero", "garbage", "foreign" };

/* One run of a file line: [first, n, kind] or [first, n, "record", file, seq]. */
static void print_run(bool first, uint64_t run_first, uint64_t n, int kind, uint32_t file,
		      uint64_t seq)
{
	printf("%s[%llu,%llu,\"%s\"", first ? "" : ",", (unsigned long long)run_first,
	       (unsigned long long)n, kind_names[kind]);
	if (kind == FREC_RECORD)
		printf(",%u,%llu", file, (unsigned long long)seq);
	printf("]");
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One file's line: length, digest, and its chunks in runs. */
static int check_file(const struct agent_opts *o, int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	unsigned char c[FREC_CHUNK];
	uint32_t crc = 0;
	uint64_t len = 0, run_first = 0, run_n = 0, run_seq = 0;
	int run_kind = -1;
	uint32_t run_file = 0;
	bool first = true;

	if (fd < 0) {
		agent_log("cannot open '%s/%s': %s", o->target, name, strerror(errno));
		return -errno;
	}
	printf("{\"type\":\"file\",\"name\":\"%s\",\"runs\":[", name);
	for (uint64_t i = 0;; i++) {
		ssize_t r = pread(fd, c, sizeof(c), (off_t)(i * FREC_CHUNK));
		if (r < 0 && errno == EINTR) {
			i--;
			continue;
		}
		if (r < 0) {
			/* A read error is what the file holds there: garbage. */
			agent_log("cannot read '%s/%s' at %llu: %s", o->target, name,
				  (unsigned long long)i * FREC_CHUNK, strerror(errno));
			r = 0;
		}
		if (r == 0)
			break;
		crc = rec_crc32c(crc, c, (size_t)r);
		len += (uint64_t)r;
		struct frec_id id = { 0 };
		enum frec_kind k = (size_t)r < sizeof(c) ? FREC_GARBAGE :
			frec_decode(c, o->seed, o->campaign, o->cycle, o->disk, &id);
		if (k == FREC_RECORD && id.chunk != i)
			k = FREC_FOREIGN;	/* a chunk of another place */
		bool same = (int)k == run_kind && (k != FREC_RECORD ||
						    (id.file == run_file && id.seq == run_seq));
		if (!same) {
			if (run_kind >= 0) {
				print_run(first, run_first, run_n, run_kind, run_file, run_seq);
				first = false;
			}
			run_kind = (int)k;
			run_first = i;
			run_n = 0;
			run_file = id.file;
			run_seq = id.seq;
		}
		run_n++;
		if ((size_t)r < sizeof(c))
			break;
	}
	if (run_kind >= 0)
		print_run(first, run_first, run_n, run_kind, run_file, run_seq);
	printf("],\"length\":%llu,\"digest\":%u}\n", (unsigned long long)len, crc);
	close(fd);
	return 0;
}

int files_check(const struct agent_opts *o)
{
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	printf("{\"type\":\"fscheck\",\"version\":1,\"campaign\":%llu,\"cycle\":%u,\"disk\":%u,"
	       "\"fs\":\"%s\",\"tool\":\"%s\",\"fsck_rc\":%d,\"fsck_raw_rc\":%d,\"mounted\":%s}\n",
	       (unsigned long long)o->campaign, o->cycle, o->disk, o->fs ? o->fs : "none",
	       o->fsck_tool ? o->fsck_tool : "none", o->fsck_rc, o->fsck_raw_rc,
	       o->mounted ? "true" : "false");
	if (o->mounted && o->sqlite) {
		rc = sql_check(o);
	} else if (o->mounted) {
		DIR *d = opendir(o->target);
		int dfd = d ? dirfd(d) : -1;
		struct dirent *e;
		if (!d) {
			rc = -errno;
			agent_log("cannot open directory '%s': %s", o->target, strerror(-rc));
			return rc;
		}
		while ((e = readdir(d))) {
			struct stat st;
			if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
				continue;	/* ., .., lost+found */
			if (strlen(e->d_name) > FREC_NAME_MAX || strpbrk(e->d_name, "\"\\"))
				continue;	/* not the workload's */
			char **nn = realloc(names, (n + 1) * sizeof(*nn));
			if (!nn || !(nn[n] = strdup(e->d_name))) {
				free(nn ? nn : names);
				names = NULL;
				closedir(d);
				return -ENOMEM;
			}
			names = nn;
			n++;
		}
		qsort(names, n, sizeof(*names), cmp_name);
		for (size_t i = 0; i < n && !rc; i++)
			rc = check_file(o, dfd, names[i]);
		closedir(d);
	}
	printf("{\"type\":\"end\",\"files\":%zu}\n", n);
	fflush(stdout);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
