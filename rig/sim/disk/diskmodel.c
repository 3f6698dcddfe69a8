/* The simulated disk stack: see diskmodel.h and docs/disk-model.md. */
#include "diskmodel.h"
#include "recording.h"

#include "child.h"
#include "clock.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libnbd.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FILTER_NAME "nbdkit-pcvcache-filter.so"

struct diskmodel {
	struct disk_opts o;
	char *dir;
	char *image;		/* the image QEMU writes: disk.qcow2 or disk.raw */
	char *base;		/* backing file after diskmodel_snapshot, else NULL */
	char *filter;
	char *nbdkit_sock, *nbdkit_pid, *nbdkit_log;
	char *qsd_sock, *qsd_pid, *qsd_log;
	char *uri, *disk_uri;
	struct child nbdkit, qsd;
	bool nbdkit_up, qsd_up;
	bool recorded;		/* the recording (o.record_dir) was started once */
	int log_fd;		/* both daemons' stderr, appended */
	bool reused;		/* the image of an earlier run (opts.run_dir) */
	bool forgot;
	uint64_t forgot_off, forgot_len;
};

static const char *const cache_names[] = {
	[DISK_CACHE_NONE] = "none",
	[DISK_CACHE_WRITEBACK] = "writeback",
	[DISK_CACHE_WRITETHROUGH] = "writethrough",
	[DISK_CACHE_DIRECTSYNC] = "directsync",
	[DISK_CACHE_UNSAFE] = "unsafe",
};

void disk_opts_init(struct disk_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->format = DISK_FMT_RAW;
	o->cache = DISK_CACHE_NONE;
	o->size = 64ull << 20;
}

const char *disk_cache_name(enum disk_cache_mode m)
{
	return (unsigned)m < sizeof(cache_names) / sizeof(cache_names[0]) ? cache_names[m] : "?";
}

int disk_cache_parse(const char *s, enum disk_cache_mode *m)
{
	for (unsigned i = 0; i < sizeof(cache_names) / sizeof(cache_names[0]); i++) {
		if (strcmp(s, cache_names[i]) == 0) {
			*m = (enum disk_cache_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

static int timeout_of(const struct diskmodel *dm)
{
	return dm->o.timeout_ms > 0 ? dm->o.timeout_ms : 15000;
}

/* The filter is found next to the program that uses us: build/bin/x and
 * build/rig/sim/disk/tests/x both have build/lib somewhere above them. */
static char *find_filter(const struct disk_opts *o)
{
	if (o->filter)
		return strdup(o->filter);
	const char *env = getenv("PCVCACHE_FILTER");
	if (env && *env)
		return strdup(env);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return NULL;
	exe[n] = 0;
	for (int up = 0; up < 6; up++) {
		char *slash = strrchr(exe, '/');
		if (!slash)
			break;
		*slash = 0;
		char *cand = xasprintf("%s/lib/" FILTER_NAME, exe);
		if (cand && access(cand, R_OK) == 0)
			return cand;
		free(cand);
	}
	errno = ENOENT;
	return NULL;
}

static int run_quiet(const char *const argv[], int timeout_ms, struct child_result *res)
{
	struct child_result local;
	struct child_result *r = res ? res : &local;
	int rc = child_run(argv, NULL, timeout_ms, r);
	if (rc < 0) {
		pc_err(LOG_SIM, "cannot run '%s': %s", argv[0], strerror(-rc));
		if (!res)
			child_result_release(r);
		return rc;
	}
	if (!res) {
		char why[64];
		if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0) {
			pc_err(LOG_SIM, "'%s %s' failed (%s): %s", argv[0], argv[1],
			       child_status_str(r->status, why, sizeof(why)), r->err ? r->err : "");
			rc = -EIO;
		}
		child_result_release(r);
	}
	return rc;
}

static char *qcow2_create_opts(const struct diskmodel *dm, const char *backing)
{
	const struct disk_opts *o = &dm->o;
	char *s = xasprintf("extended_l2=%s,lazy_refcounts=%s", o->extended_l2 ? "on" : "off",
			    o->lazy_refcounts ? "on" : "off");
	if (s && o->cluster_size) {
		char *t = xasprintf("%s,cluster_size=%" PRIu32, s, o->cluster_size);
		free(s);
		s = t;
	}
	if (s && o->preallocation) {
		char *t = xasprintf("%s,preallocation=%s", s, o->preallocation);
		free(s);
		s = t;
	}
	if (s && backing) {
		/* Relative, so the pair can be moved and qemu-img finds it beside us. */
		char *t = xasprintf("%s,backing_file=%s,backing_fmt=qcow2", s, backing);
		free(s);
		s = t;
	}
	return s;
}

static int create_image(struct diskmodel *dm, const char *backing)
{
	char size[32];
	snprintf(size, sizeof(size), "%" PRIu64, dm->o.size);
	if (dm->o.format == DISK_FMT_RAW) {
		const char *argv[] = { "qemu-img", "create", "-q", "-f", "raw", dm->image, size, NULL };
		return run_quiet(argv, timeout_of(dm), NULL);
	}
	char *opts = qcow2_create_opts(dm, backing);
	if (!opts)
		return -ENOMEM;
	const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-o", opts,
			       dm->image, size, NULL };
	int r = run_quiet(argv, timeout_of(dm), NULL);
	free(opts);
	if (r < 0)
		return r;
	/* NBD exports have a fixed size, so the qcow2 file cannot grow through
	 * nbdkit: give it room up front, as Proxmox puts qcow2 on a fixed-size
	 * logical volume. The tail is sparse and unreferenced by qcow2. */
	uint64_t room = dm->o.size + dm->o.size / 8 + (16ull << 20);
	if (truncate(dm->image, (off_t)room) < 0) {
		r = -errno;
		pc_err(LOG_SIM, "cannot size image '%s': %s", dm->image, strerror(errno));
	}
	return r;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	rmdir(dir);
}

struct diskmodel *diskmodel_new(const struct disk_opts *o)
{
	int err = ENOMEM;
	if (!o->size || o->size % 512) {
		pc_err(LOG_SIM, "disk size '%" PRIu64 "' is not a positive multiple of 512", o->size);
		errno = EINVAL;
		return NULL;
	}
	struct diskmodel *dm = calloc(1, sizeof(*dm));
	if (!dm)
		goto fail;
	dm->o = *o;
	dm->log_fd = -1;
	dm->nbdkit.pid = dm->qsd.pid = -1;

	if (!o->no_vcache) {
		dm->filter = find_filter(o);
		if (!dm->filter) {
			err = errno;
			pc_err(LOG_SIM, "cannot find the filter '" FILTER_NAME "' (set PCVCACHE_FILTER)");
			goto fail_dm;
		}
	}

	const char *tmp = o->tmpdir ? o->tmpdir : getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	char *tmpl = o->run_dir ? xasprintf("%s", o->run_dir) :
		     xasprintf("%s/powercut-disk.XXXXXX", tmp);
	if (!tmpl)
		goto fail_dm;
	if (o->run_dir) {
		/* A kept disk: never removed by us. */
		dm->o.keep_dir = true;
		if (mkdir(tmpl, 0700) < 0 && errno != EEXIST) {
			err = errno;
			pc_err(LOG_SIM, "cannot create run dir '%s': %s", tmpl, strerror(err));
			free(tmpl);
			goto fail_dm;
		}
	} else if (!mkdtemp(tmpl)) {
		err = errno;
		pc_err(LOG_SIM, "cannot create run dir '%s': %s", tmpl, strerror(err));
		free(tmpl);
		goto fail_dm;
	}
	dm->dir = realpath(tmpl, NULL);
	if (!dm->dir) {
		err = errno;
		rmdir(tmpl);
		free(tmpl);
		goto fail_dm;
	}
	free(tmpl);

	dm->image = xasprintf("%s/disk.%s", dm->dir, o->format == DISK_FMT_RAW ? "raw" : "qcow2");
	dm->nbdkit_sock = xasprintf("%s/nbdkit.sock", dm->dir);
	dm->nbdkit_pid = xasprintf("%s/nbdkit.pid", dm->dir);
	dm->qsd_sock = xasprintf("%s/qsd.sock", dm->dir);
	dm->qsd_pid = xasprintf("%s/qsd.pid", dm->dir);
	dm->nbdkit_log = xasprintf("%s/daemons.log", dm->dir);
	dm->uri = xasprintf("nbd+unix:///disk?socket=%s", dm->qsd_sock);
	dm->disk_uri = xasprintf("nbd+unix:///?socket=%s", dm->nbdkit_sock);
	if (!dm->image || !dm->nbdkit_sock || !dm->nbdkit_pid || !dm->qsd_sock || !dm->qsd_pid ||
	    !dm->nbdkit_log || !dm->uri || !dm->disk_uri)
		goto fail_dir;
	if (strlen(dm->nbdkit_sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		err = ENAMETOOLONG;
		pc_err(LOG_SIM, "socket path '%s' is too long for a UNIX socket", dm->nbdkit_sock);
		goto fail_dir;
	}
	dm->log_fd = open(dm->nbdkit_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (dm->log_fd < 0) {
		err = errno;
		pc_err(LOG_SIM, "cannot open '%s': %s", dm->nbdkit_log, strerror(err));
		goto fail_dir;
	}
	char *base = xasprintf("%s/base.qcow2", dm->dir);
	if (!base)
		goto fail_dir;
	if (o->run_dir && access(dm->image, F_OK) == 0) {
		dm->reused = true;
		if (access(base, F_OK) == 0)
			dm->base = base, base = NULL;
		free(base);
		return dm;
	}
	free(base);
	int r = create_image(dm, NULL);
	if (r < 0) {
		err = -r;
		goto fail_dir;
	}
	return dm;

fail_dir:
fail_dm:
	diskmodel_free(dm);
fail:
	errno = err;
	return NULL;
}

const char *diskmodel_uri(const struct diskmodel *dm) { return dm->uri; }
bool diskmodel_reused(const struct diskmodel *dm) { return dm->reused; }
bool diskmodel_has_base(const struct diskmodel *dm) { return dm->base != NULL; }

bool diskmodel_forgot(const struct diskmodel *dm, uint64_t *offset, uint64_t *len)
{
	*offset = dm->forgot_off;
	*len = dm->forgot_len;
	return dm->forgot;
}

/* The forgetful control, with every process of the stack dead: the next range reads
 * back as zeroes (qemu-io's write -z through the format layer: zero clusters in a
 * qcow2, over its backing file too, zeroed bytes in a raw image). */
static int forget_range(struct diskmodel *dm)
{
	uint64_t span = dm->o.forget_span && dm->o.forget_span < dm->o.size ?
			dm->o.forget_span : dm->o.size;
	uint64_t len = span / 32 / 65536 * 65536;
	if (len < 65536)
		len = 65536;
	uint64_t slots = span / 2 / len ? span / 2 / len : 1;
	char *cnt = xasprintf("%s/forget.count", dm->dir), cmd[96];
	unsigned long k = 0;
	if (!cnt)
		return -ENOMEM;
	FILE *f = fopen(cnt, "re");
	if (f) {
		if (fscanf(f, "%lu", &k) != 1)
			k = 0;
		fclose(f);
	}
	/* Steps of 5 visit every slot before one comes again (unless slots is a multiple
	 * of 5: a power of 2 with the default spans). */
	dm->forgot_off = (uint64_t)(k * 5 % slots) * len;
	dm->forgot_len = len;
	if ((f = fopen(cnt, "we"))) {
		fprintf(f, "%lu\n", k + 1);
		fclose(f);
	}
	free(cnt);
	snprintf(cmd, sizeof(cmd), "write -z %" PRIu64 " %" PRIu64, dm->forgot_off, len);
	const char *argv[] = { "qemu-io", "-f", dm->o.format == DISK_FMT_RAW ? "raw" : "qcow2",
			       "-c", cmd, dm->image, NULL };
	int r = run_quiet(argv, timeout_of(dm), NULL);
	dm->forgot = r == 0;
	if (r == 0)
		pc_info(LOG_SIM, "forgetful control: '%s' forgot bytes %" PRIu64 "..%" PRIu64,
			dm->image, dm->forgot_off, dm->forgot_off + len - 1);
	return r;
}
const char *diskmodel_disk_uri(const struct diskmodel *dm) { return dm->disk_uri; }
const char *diskmodel_dir(const struct diskmodel *dm) { return dm->dir; }

/* Both daemons write their pid file only once they serve (nbdkit: ready to accept;
 * qemu-storage-daemon: after every --export is set up). */
static int wait_ready(struct diskmodel *dm, struct child *c, const char *pidfile, const char *what)
{
	int64_t end = clock_mono_ms() + timeout_of(dm);
	for (;;) {
		struct stat st;
		if (stat(pidfile, &st) == 0 && st.st_size > 0)
			return 0;
		if (!child_running(c)) {
			int status;
			char why[64];
			child_finish(c, 0, &status);
			pc_err(LOG_SIM, "'%s' exited before serving (%s); see '%s'", what,
			       child_status_str(status, why, sizeof(why)), dm->nbdkit_log);
			return -EIO;
		}
		if (clock_mono_ms() > end) {
			pc_err(LOG_SIM, "'%s' did not start within %d ms; see '%s'", what,
			       timeout_of(dm), dm->nbdkit_log);
			return -ETIMEDOUT;
		}
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static int start_child(struct diskmodel *dm, struct child *c, const char *const *argv,
		       const char *pidfile, const char *sock, const char *what)
{
	unlink(pidfile);
	unlink(sock);
	memset(c, 0, sizeof(*c));
	c->argv = argv;
	c->in = CHILD_NULL;
	c->out = CHILD_FD;
	c->err = CHILD_FD;
	c->fd_out = dm->log_fd;
	c->fd_err = dm->log_fd;
	int r = child_start(c);
	if (r < 0) {
		pc_err(LOG_SIM, "cannot start '%s': %s", what, strerror(-r));
		c->pid = -1;
		return r;
	}
	r = wait_ready(dm, c, pidfile, what);
	if (r < 0 && child_running(c)) {
		int status;
		child_kill(c, SIGKILL);
		child_finish(c, -1, &status);
	}
	if (r < 0)
		c->pid = -1;
	return r;
}

static int start_nbdkit(struct diskmodel *dm)
{
	const struct disk_opts *o = &dm->o;
	char wb[32], rate[32], seed[40], maxd[40], tear[16], lying[16], filter[PATH_MAX + 16];
	char rec[PATH_MAX + 32];
	const char *argv[24];
	int n = 0;
	argv[n++] = "nbdkit";
	argv[n++] = "--foreground";
	argv[n++] = "--exit-with-parent";
	argv[n++] = "--unix";
	argv[n++] = dm->nbdkit_sock;
	argv[n++] = "--pidfile";
	argv[n++] = dm->nbdkit_pid;
	if (!o->no_vcache) {
		snprintf(filter, sizeof(filter), "--filter=%s", dm->filter);
		argv[n++] = filter;
	}
	argv[n++] = "file";
	argv[n++] = dm->image;
	if (!o->no_vcache) {
		static const char *const wbn[] = { "none", "random", "oldest" };
		snprintf(wb, sizeof(wb), "writeback=%s", wbn[o->writeback]);
		argv[n++] = wb;
		if (o->wb_rate) {
			snprintf(rate, sizeof(rate), "rate=%u", o->wb_rate);
			argv[n++] = rate;
		}
		snprintf(seed, sizeof(seed), "seed=%" PRIu64, o->seed);
		argv[n++] = seed;
		if (o->max_dirty) {
			snprintf(maxd, sizeof(maxd), "max-dirty=%" PRIu64, o->max_dirty);
			argv[n++] = maxd;
		}
		snprintf(tear, sizeof(tear), "tear=%d", o->tear);
		argv[n++] = tear;
		snprintf(lying, sizeof(lying), "lying=%d", o->lying);
		argv[n++] = lying;
		/* The file below is the platter; the host it lives on is never cut, so
		 * an fdatasync there would cost time and model nothing. */
		argv[n++] = "sync=false";
		/* QEMU's NBD client sends flushes even with cache.no-flush=on (they are
		 * its "flush to OS"); on a real host that reaches only the page cache,
		 * which the volatile cache stands for, so nothing may go down. */
		if (o->cache == DISK_CACHE_UNSAFE)
			argv[n++] = "noflush=true";
		if (o->record_dir && !dm->recorded) {
			int r = recording_begin(dm->image, o->record_dir, rec, sizeof(rec));
			if (r < 0)
				return r;
			dm->recorded = true;
			argv[n++] = rec;
		}
	}
	argv[n] = NULL;
	int r = start_child(dm, &dm->nbdkit, argv, dm->nbdkit_pid, dm->nbdkit_sock, "nbdkit");
	dm->nbdkit_up = r == 0;
	return r;
}

/* QMP's "cache" member of a node: -drive cache=MODE sets these on every node. */
static json_t *cache_obj(enum disk_cache_mode m)
{
	bool direct = m == DISK_CACHE_NONE || m == DISK_CACHE_DIRECTSYNC;
	bool noflush = m == DISK_CACHE_UNSAFE;
	return json_pack("{s:b,s:b}", "direct", direct, "no-flush", noflush);
}

static char *node_json(json_t *node)
{
	char *s = node ? json_dumps(node, JSON_COMPACT) : NULL;
	json_decref(node);
	return s;
}

/* Escape a value for QEMU's key=value syntax (a comma is written twice). */
static char *keyval_escape(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++)
		n += *p == ',' ? 2 : 1;
	char *out = malloc(n + 1), *q = out;
	if (!out)
		return NULL;
	for (const char *p = s; *p; p++) {
		*q++ = *p;
		if (*p == ',')
			*q++ = ',';
	}
	*q = 0;
	return out;
}

static int start_qsd(struct diskmodel *dm)
{
	const struct disk_opts *o = &dm->o;
	bool wt = o->cache == DISK_CACHE_WRITETHROUGH || o->cache == DISK_CACHE_DIRECTSYNC;
	char *proto = NULL, *bproto = NULL, *bfmt = NULL, *fmt = NULL, *exp = NULL, *srv = NULL;
	char *esc = NULL;
	int r = -ENOMEM;

	proto = node_json(json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "driver", "nbd",
				    "node-name", "proto", "server", "type", "unix", "path",
				    dm->nbdkit_sock, "cache", cache_obj(o->cache)));
	json_t *f = json_pack("{s:s,s:s,s:s,s:o}", "driver",
			      o->format == DISK_FMT_RAW ? "raw" : "qcow2", "node-name", "disk",
			      "file", "proto", "cache", cache_obj(o->cache));
	if (f && dm->base) {
		/* The backing file is never written after the snapshot, so it has no
		 * dirty data to lose: QEMU opens it directly, read-only. */
		bproto = node_json(json_pack("{s:s,s:s,s:s,s:b,s:o}", "driver", "file",
					     "node-name", "base-proto", "filename", dm->base,
					     "read-only", 1, "cache", cache_obj(o->cache)));
		bfmt = node_json(json_pack("{s:s,s:s,s:s,s:b,s:o}", "driver", "qcow2",
					   "node-name", "base", "file", "base-proto",
					   "read-only", 1, "cache", cache_obj(o->cache)));
		json_object_set_new(f, "backing", json_string("base"));
	} else if (f && o->format == DISK_FMT_QCOW2) {
		json_object_set_new(f, "backing", json_null());
	}
	fmt = node_json(f);
	/* The export's own writethrough flag is what makes writethrough/directsync:
	 * its BlockBackend then completes a write only after a flush (FUA). */
	exp = node_json(json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "type", "nbd", "id", "exp0",
				  "node-name", "disk", "name", "disk", "writable", 1,
				  "writethrough", wt));
	esc = keyval_escape(dm->qsd_sock);
	if (esc)
		srv = xasprintf("addr.type=unix,addr.path=%s", esc);
	if (!proto || !fmt || !exp || !srv || (dm->base && (!bproto || !bfmt)))
		goto out;

	const char *argv[20];
	int n = 0;
	argv[n++] = "qemu-storage-daemon";
	argv[n++] = "--blockdev";
	argv[n++] = proto;
	if (dm->base) {
		argv[n++] = "--blockdev";
		argv[n++] = bproto;
		argv[n++] = "--blockdev";
		argv[n++] = bfmt;
	}
	argv[n++] = "--blockdev";
	argv[n++] = fmt;
	argv[n++] = "--nbd-server";
	argv[n++] = srv;
	argv[n++] = "--export";
	argv[n++] = exp;
	argv[n++] = "--pidfile";
	argv[n++] = dm->qsd_pid;
	argv[n] = NULL;
	r = start_child(dm, &dm->qsd, argv, dm->qsd_pid, dm->qsd_sock, "qemu-storage-daemon");
	dm->qsd_up = r == 0;
out:
	free(proto);
	free(bproto);
	free(bfmt);
	free(fmt);
	free(exp);
	free(srv);
	free(esc);
	return r;
}

int diskmodel_start(struct diskmodel *dm)
{
	int r;
	if (!dm->nbdkit_up && (r = start_nbdkit(dm)) < 0)
		return r;
	if (!dm->qsd_up && (r = start_qsd(dm)) < 0)
		return r;
	return 0;
}

static void reap(struct child *c, bool *up, int sig)
{
	if (!*up)
		return;
	int status;
	child_kill(c, sig);
	child_finish(c, sig == SIGKILL ? 5000 : -1, &status);
	*up = false;
}

int diskmodel_cut(struct diskmodel *dm, enum disk_cut cut)
{
	if (!dm->qsd_up && !dm->nbdkit_up)
		return -ESRCH;
	if (cut == DISK_CUT_POWER) {
		/* The disk first: nothing may reach the platter once DC is gone. */
		reap(&dm->nbdkit, &dm->nbdkit_up, SIGKILL);
	}
	reap(&dm->qsd, &dm->qsd_up, SIGKILL);
	if (cut == DISK_CUT_POWER && dm->o.forget)
		return forget_range(dm);
	return 0;
}

static int stop_child(struct diskmodel *dm, struct child *c, bool *up, const char *what)
{
	if (!*up)
		return 0;
	int status, r = child_stop(c, timeout_of(dm), &status);
	*up = false;
	if (r < 0) {
		pc_err(LOG_SIM, "'%s' did not stop in %d ms: %s (its log: '%s')", what,
		       timeout_of(dm), strerror(-r), dm->nbdkit_log);
		return r;
	}
	return 0;
}

int diskmodel_stop(struct diskmodel *dm)
{
	int r1 = stop_child(dm, &dm->qsd, &dm->qsd_up, "qemu-storage-daemon");
	int r2 = stop_child(dm, &dm->nbdkit, &dm->nbdkit_up, "nbdkit");
	return r1 < 0 ? r1 : r2;
}

int diskmodel_snapshot(struct diskmodel *dm)
{
	if (dm->o.format != DISK_FMT_QCOW2)
		return -EINVAL;
	if (dm->base)
		return -EBUSY;
	int r = diskmodel_stop(dm);
	if (r < 0)
		return r;
	dm->base = xasprintf("%s/base.qcow2", dm->dir);
	if (!dm->base)
		return -ENOMEM;
	if (rename(dm->image, dm->base) < 0) {
		r = -errno;
		pc_err(LOG_SIM, "cannot rename '%s': %s", dm->image, strerror(errno));
		return r;
	}
	if ((r = create_image(dm, "base.qcow2")) < 0)
		return r;
	return diskmodel_start(dm);
}

/* incompatible_features of the qcow2 header (big-endian u64 at byte 72): bit 0 is
 * the dirty bit lazy_refcounts leaves set until a clean close. Read through nbdkit,
 * so the cache is seen as the restarted node sees it. */
static int read_dirty_bit(struct diskmodel *dm, bool *dirty)
{
	struct nbd_handle *h = nbd_create();
	if (!h)
		return -ENOMEM;
	uint8_t hdr[80];
	int r = 0;
	if (nbd_connect_uri(h, dm->disk_uri) == -1 || nbd_pread(h, hdr, sizeof(hdr), 0, 0) == -1) {
		pc_err(LOG_SIM, "cannot read the qcow2 header of '%s': %s", dm->disk_uri,
		       nbd_get_error());
		r = -EIO;
	} else {
		*dirty = hdr[79] & 1;
		nbd_shutdown(h, 0);
	}
	nbd_close(h);
	return r;
}

static int64_t jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* qemu-img check exits 0 (clean), 2 (corruptions), 3 (leaks) with the JSON report
 * on stdout; other exits mean the check itself failed. */
static int run_check(struct diskmodel *dm, bool repair, json_t **out, char **text)
{
	json_t *img = json_pack("{s:s,s:{s:s,s:{s:s,s:s}}}", "driver", "qcow2", "file",
				"driver", "nbd", "server", "type", "unix", "path",
				dm->nbdkit_sock);
	if (img && dm->base)
		json_object_set_new(img, "backing",
				    json_pack("{s:s,s:{s:s,s:s}}", "driver", "qcow2", "file",
					      "driver", "file", "filename", dm->base));
	char *js = node_json(img);
	char *arg = js ? xasprintf("json:%s", js) : NULL;
	free(js);
	if (!arg)
		return -ENOMEM;
	const char *argv[] = { "qemu-img", "check", "--output=json", repair ? "-r" : arg,
			       repair ? "all" : NULL, repair ? arg : NULL, NULL };
	struct child_result res;
	int r = run_quiet(argv, timeout_of(dm), &res);
	free(arg);
	if (r < 0)
		return r;
	int code = WIFEXITED(res.status) ? WEXITSTATUS(res.status) : -1;
	json_error_t jerr;
	json_t *j = res.out ? json_loads(res.out, 0, &jerr) : NULL;
	if ((code != 0 && code != 2 && code != 3) || !json_is_object(j)) {
		char why[64];
		pc_err(LOG_SIM, "qemu-img check of '%s' failed (%s): %s", dm->image,
		       child_status_str(res.status, why, sizeof(why)), res.err ? res.err : "");
		json_decref(j);
		child_result_release(&res);
		return -EIO;
	}
	if (text)
		*text = strdup(res.out);
	*out = j;
	child_result_release(&res);
	return 0;
}

int diskmodel_check(struct diskmodel *dm, struct disk_check *chk)
{
	memset(chk, 0, sizeof(*chk));
	if (dm->qsd_up)
		return -EBUSY;
	if (dm->o.format != DISK_FMT_QCOW2)
		return 0;
	int r;
	/* After a process kill nbdkit must still hold the cache; if it died by itself
	 * the kill silently became a power cut, so say so instead of checking. */
	if (dm->nbdkit_up && !child_running(&dm->nbdkit)) {
		int status;
		char why[96];
		child_finish(&dm->nbdkit, 0, &status);
		dm->nbdkit_up = false;
		pc_err(LOG_SIM, "nbdkit, the volatile cache of '%s', exited by itself (%s); see '%s'",
		       dm->image, child_status_str(status, why, sizeof(why)), dm->nbdkit_log);
		return -EIO;
	}
	if (!dm->nbdkit_up && (r = start_nbdkit(dm)) < 0)
		return r;
	if ((r = read_dirty_bit(dm, &chk->dirty)) < 0)
		return r;
	json_t *j;
	if ((r = run_check(dm, false, &j, &chk->json)) < 0)
		return r;
	chk->checked = true;
	chk->corruptions = jint(j, "corruptions");
	chk->leaks = jint(j, "leaks");
	chk->check_errors = jint(j, "check-errors");
	json_decref(j);
	if (!chk->corruptions && !chk->leaks && !chk->check_errors)
		return 0;
	if (!chk->dirty) {
		/* A clean image with errors is what a read-write open leaves alone. */
		chk->corrupt = chk->corruptions || chk->check_errors;
		return 0;
	}
	if ((r = run_check(dm, true, &j, NULL)) < 0)
		return r;
	chk->fixed_corruptions = jint(j, "corruptions-fixed");
	chk->fixed_leaks = jint(j, "leaks-fixed");
	bool left = jint(j, "corruptions") || jint(j, "check-errors");
	json_decref(j);
	chk->repairable = !left;
	chk->corrupt = left;
	return 0;
}

int diskmodel_restart(struct diskmodel *dm, struct disk_check *chk)
{
	int r;
	if (chk && (r = diskmodel_check(dm, chk)) < 0)
		return r;
	return diskmodel_start(dm);
}

void disk_check_release(struct disk_check *chk)
{
	if (!chk)
		return;
	free(chk->json);
	chk->json = NULL;
}

void diskmodel_free(struct diskmodel *dm)
{
	if (!dm)
		return;
	reap(&dm->qsd, &dm->qsd_up, SIGKILL);
	reap(&dm->nbdkit, &dm->nbdkit_up, SIGKILL);
	if (dm->log_fd >= 0)
		close(dm->log_fd);
	if (dm->dir && !dm->o.keep_dir)
		remove_dir(dm->dir);
	free(dm->dir);
	free(dm->image);
	free(dm->base);
	free(dm->filter);
	free(dm->nbdkit_sock);
	free(dm->nbdkit_pid);
	free(dm->nbdkit_log);
	free(dm->qsd_sock);
	free(dm->qsd_pid);
	free(dm->qsd_log);
	free(dm->uri);
	free(dm->disk_uri);
	free(dm);
}
