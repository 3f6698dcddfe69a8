/* Crash-state exploration: see explore.h and docs/explore.md. */
#include "explore.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libnbd.h>

#include "child.h"
#include "classify.h"
#include "clock.h"
#include "log.h"
#include "qmp.h"
#include "recording.h"
#include "rng.h"
#include "thin.h"
#include "util.h"
#include "verify.h"
#include "wlog.h"

static const char *const kind_names[] = {
#define X(e, s) s,
	EXPLORE_KINDS(X)
#undef X
};
static const char *const meta_names[] = {
#define X(e, s) s,
	EXPLORE_META(X)
#undef X
};

const char *explore_kind_name(enum explore_kind k)
{
	return k < EXPLORE__KINDS ? kind_names[k] : "?";
}

const char *explore_meta_name(enum explore_meta m)
{
	return m < EXPLORE__META ? meta_names[m] : "?";
}

void explore_opts_init(struct explore_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_states = 200;
	o->seed = 1;
}

void explore_recording_dir(const char *db_path, uint64_t campaign, uint32_t cycle, char *out,
			   size_t len)
{
	snprintf(out, len, "%.3900s.rec/campaign-%" PRIu64 "/cycle-%" PRIu32, db_path, campaign,
		 cycle);
}

/* ---- one exploration ---- */

struct meta {
	char disk[128];
	uint32_t id;
	bool qcow2, lazy_refcounts;
	bool lvmthin;		/* the guest's PV: the thin volume is read through its pool */
	struct thin_names thin;
	char cache[32], control[16];
};

struct session {
	uint64_t seed, block_size, span_blocks;
};

/* One exploration: its recording, the daemons that serve its states, its budget. */
struct exploration {
	const struct explore_opts *o;
	sqlite3 *db;		/* the campaign database (rows) */
	sqlite3 *led;		/* read-only, with TEMP views: the ledger at a crash point */
	struct meta m;
	struct session ses;
	struct wlog *wl;
	char rec[PATH_MAX];	/* the recording's directory */
	char work[PATH_MAX];	/* states, sockets, reports */
	char agent[PATH_MAX], filter[PATH_MAX];
	char nbd_sock[PATH_MAX], qsd_sock[PATH_MAX];
	struct child nbdkit, qsd;
	bool nbdkit_up, qsd_up;
	char qmp_sock[PATH_MAX];
	struct qmp *qmp;	/* qemu-storage-daemon's monitor (qcow2 read-back) */
	uint64_t *ndata;	/* ndata[c]: data entries among the first c */
	size_t *durable;	/* durable[c]: entries made durable by barriers among the first c */
	sqlite3_stmt *ins;
	struct explore_summary *s;
	int64_t t0;
	uint64_t rng;
};

/* A candidate state. */
struct candidate {
	enum explore_kind kind;
	size_t crash;		/* entries completed at the crash: 0 .. n */
	size_t upto;		/* entries 0 .. upto-1 whole */
	size_t *extra;		/* more whole entries (subset) */
	size_t nextra;
	size_t torn;		/* torn entry (kind TORN) */
	uint64_t torn_mask;	/* bit i: sector i persisted (first 64 sectors) */
};

static int load_meta(struct exploration *x)
{
	char path[PATH_MAX + 32];
	json_error_t je;

	snprintf(path, sizeof(path), "%.4000s/%s", x->rec, RECORDING_META);
	json_t *j = json_load_file(path, 0, &je);
	if (!j) {
		pc_err(LOG_CHECK, "cannot read recording '%s': %s (line %d)", path, je.text, je.line);
		return -ENOENT;
	}
	const char *d = json_string_value(json_object_get(j, "disk"));
	const char *f = json_string_value(json_object_get(j, "format"));
	const char *c = json_string_value(json_object_get(j, "cache"));
	const char *k = json_string_value(json_object_get(j, "control"));
	json_t *id = json_object_get(j, "id");
	if (!d || !f || !c || !k || !json_is_integer(id)) {
		pc_err(LOG_CHECK, "recording '%s' lacks disk, id, format, cache or control", path);
		json_decref(j);
		return -EINVAL;
	}
	snprintf(x->m.disk, sizeof(x->m.disk), "%s", d);
	snprintf(x->m.cache, sizeof(x->m.cache), "%s", c);
	snprintf(x->m.control, sizeof(x->m.control), "%s", k);
	x->m.id = (uint32_t)json_integer_value(id);
	x->m.qcow2 = !strcmp(f, "qcow2");
	x->m.lvmthin = !strcmp(f, "lvmthin");
	if (!x->m.qcow2 && !x->m.lvmthin && strcmp(f, "raw")) {
		pc_err(LOG_CHECK, "recording '%s' is of format '%s': raw, qcow2 or lvmthin are "
		       "explored", path, f);
		json_decref(j);
		return -EINVAL;
	}
	/* The names the guest gave its volumes (rig/sim/guest/init's defaults). */
	static const struct { const char *key, *def; size_t off; } names[] = {
		{ "vg", "pcvg", offsetof(struct thin_names, vg) },
		{ "pool", "pool", offsetof(struct thin_names, pool) },
		{ "lv", "thin", offsetof(struct thin_names, lv) },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = json_string_value(json_object_get(j, names[i].key));
		snprintf((char *)&x->m.thin + names[i].off, sizeof(x->m.thin.vg), "%s",
			 v ? v : names[i].def);
	}
	x->m.lazy_refcounts = json_is_true(json_object_get(j, "lazy_refcounts"));
	json_decref(j);
	return 0;
}

static int load_session(struct exploration *x)
{
	sqlite3_stmt *st;
	int rc = -ENOENT;

	if (sqlite3_prepare_v2(x->db, "SELECT seed, block_size, span_blocks FROM oracle_session "
			       "WHERE campaign = ?1 AND cycle = ?2 AND disk = ?3 "
			       "ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK) {
		pc_err(LOG_DB, "cannot read the ledger: %s", sqlite3_errmsg(x->db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)x->o->campaign);
	sqlite3_bind_int64(st, 2, x->o->cycle);
	sqlite3_bind_int64(st, 3, x->m.id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		x->ses.seed = (uint64_t)sqlite3_column_int64(st, 0);
		x->ses.block_size = (uint64_t)sqlite3_column_int64(st, 1);
		x->ses.span_blocks = (uint64_t)sqlite3_column_int64(st, 2);
		rc = 0;
	} else {
		pc_err(LOG_CHECK, "the ledger has no session for campaign %" PRIu64 ", cycle %"
		       PRIu32 ", disk '%s'", x->o->campaign, x->o->cycle, x->m.disk);
	}
	sqlite3_finalize(st);
	return rc;
}

/* One number about this cycle and disk from the campaign database (sql binds ?1
 * campaign, ?2 cycle, ?3 disk id), or 0 when there is none. */
static int64_t cycle_value(struct exploration *x, const char *sql)
{
	sqlite3_stmt *st;
	int64_t t = 0;

	if (sqlite3_prepare_v2(x->db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)x->o->campaign);
	sqlite3_bind_int64(st, 2, x->o->cycle);
	sqlite3_bind_int64(st, 3, x->m.id);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return t;
}

/* When the node died in that cycle (the cut time the classification used), or 0. */
static int64_t cycle_cut_ns(struct exploration *x)
{
	return cycle_value(x, "SELECT cut_ns FROM oracle_cycle_result WHERE campaign = ?1 "
			   "AND cycle = ?2 AND disk = ?3");
}

/* When the ledger received this cycle's baseline of the disk, or, without one, when
 * the disk's first agent of the cycle said hello (the full tier's guest writes no
 * baseline on a fresh disk, and sets up its LVM-thin pool before its agent starts);
 * 0: neither. */
static int64_t baseline_recv_ns(struct exploration *x)
{
	int64_t b = cycle_value(x, "SELECT IFNULL(MAX(recv_ns), 0) FROM oracle_baseline WHERE "
				"campaign = ?1 AND cycle = ?2 AND disk = ?3");
	return b ? b : cycle_value(x, "SELECT IFNULL(MIN(host_hello_ns), 0) FROM oracle_session "
				   "WHERE campaign = ?1 AND cycle = ?2 AND disk = ?3");
}

/* The ledger as of a crash point: a second, read-only connection to the campaign
 * database in which TEMP views named like the ledger's tables hide the rows of this
 * cycle and disk received at or after the cut-off in temp.crash (unqualified names
 * resolve to the temp schema first, so oracle_verify() reads the views). Setting the
 * cut-off is one UPDATE; the database is never written. */
static int ledger_views(struct exploration *x)
{
	static const char *const tables[] = { "oracle_ack", "oracle_flush", "oracle_baseline" };
	char sql[512];

	if (sqlite3_open_v2(x->o->db_path, &x->led, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		pc_err(LOG_DB, "cannot open '%s': %s", x->o->db_path, sqlite3_errmsg(x->led));
		return -EIO;
	}
	sqlite3_busy_timeout(x->led, 5000);
	if (sqlite3_exec(x->led, "CREATE TEMP TABLE crash (cutoff INTEGER NOT NULL);"
			 "INSERT INTO temp.crash VALUES (0)", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "CREATE TEMP VIEW %s AS SELECT * FROM main.%s WHERE "
			 "campaign != %" PRIu64 " OR cycle != %" PRIu32 " OR disk != %" PRIu32
			 " OR recv_ns < (SELECT cutoff FROM temp.crash)", tables[i], tables[i],
			 x->o->campaign, x->o->cycle, x->m.id);
		if (sqlite3_exec(x->led, sql, NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
	}
	return 0;
fail:
	pc_err(LOG_DB, "cannot cut the ledger of '%s' at crash points: %s", x->o->db_path,
	       sqlite3_errmsg(x->led));
	return -EIO;
}

/* ---- processes ---- */

/* Until path accepts a connection (the daemon serves), c exits, or timeout_ms. */
static int wait_socket(const char *path, struct child *c, int timeout_ms)
{
	int64_t end = clock_mono_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		int fd = pc_unix_connect(path);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (fd == -ENAMETOOLONG)
			return fd;
		if (!child_running(c))
			return -ECHILD;
		if (clock_mono_ns() > end)
			return -ETIMEDOUT;
		struct timespec ts = { 0, 500000 };
		nanosleep(&ts, NULL);
	}
}

static void stop_child(struct child *c, bool *up)
{
	int st;
	if (!*up)
		return;
	child_kill(c, SIGKILL);
	child_finish(c, 5000, &st);
	*up = false;
}

static int start_nbdkit(struct exploration *x)
{
	char fopt[PATH_MAX + 16], base[PATH_MAX + 32], log[PATH_MAX + 32], states[PATH_MAX + 32],
	     err[PATH_MAX + 32];

	snprintf(fopt, sizeof(fopt), "--filter=%s", x->filter);
	snprintf(base, sizeof(base), "%.4000s/%s", x->rec, RECORDING_BASE);
	snprintf(log, sizeof(log), "log=%.4000s/%s", x->rec, RECORDING_LOG);
	snprintf(states, sizeof(states), "states=%.4000s/states", x->work);
	snprintf(err, sizeof(err), "%.4000s/nbdkit.log", x->work);
	const char *argv[] = { "nbdkit", "--foreground", "--exit-with-parent", "--readonly",
			       "--unix", x->nbd_sock, fopt, "file", base, log, states, NULL };
	int fd = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	x->nbdkit = (struct child){ .argv = argv, .in = CHILD_NULL, .out = CHILD_NULL,
				    .err = fd >= 0 ? CHILD_FD : CHILD_NULL, .fd_err = fd };
	int rc = child_start(&x->nbdkit);
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		pc_err(LOG_CHECK, "cannot start nbdkit: %s", strerror(-rc));
		return rc;
	}
	x->nbdkit_up = true;
	if ((rc = wait_socket(x->nbd_sock, &x->nbdkit, 15000)) < 0) {
		pc_err(LOG_CHECK, "nbdkit did not serve the recording: %s (see '%s')",
		       strerror(-rc), err);
		stop_child(&x->nbdkit, &x->nbdkit_up);
	}
	return rc;
}

/* ---- states ---- */

static size_t ndata_of(const struct candidate *c, const struct exploration *x)
{
	return x->ndata[c->upto] + c->nextra + (c->kind == EXPLORE_TORN);
}

static int write_spec(struct exploration *x, const struct candidate *c, int64_t id, char **spec)
{
	char path[PATH_MAX + 64];
	size_t len = 0;
	FILE *m = open_memstream(spec, &len);

	if (!m)
		return -ENOMEM;
	fprintf(m, "upto %zu\n", c->upto);
	for (size_t i = 0; i < c->nextra; i++)
		fprintf(m, "entry %zu\n", c->extra[i]);
	if (c->kind == EXPLORE_TORN) {
		uint32_t ns = x->wl->e[c->torn].h.count / WLOG_SECTOR;
		for (uint32_t s = 0; s < ns && s < 64;) {
			if (!(c->torn_mask >> s & 1)) {
				s++;
				continue;
			}
			uint32_t e = s;
			while (e < ns && e < 64 && (c->torn_mask >> e & 1))
				e++;
			fprintf(m, "entry %zu %u %u\n", c->torn, s, e - s);
			s = e;
		}
	}
	if (fclose(m))
		return -ENOMEM;
	snprintf(path, sizeof(path), "%.4000s/states/s%" PRId64, x->work, id);
	FILE *f = fopen(path, "we");
	if (!f || fputs(*spec, f) < 0 || fclose(f)) {
		pc_err(LOG_CHECK, "cannot write '%s': %s", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

/* qemu-img check of the state's qcow2 through nbdkit, its report into a file (its
 * stderr, one line per error, can be long: not captured). */
static int check_start(struct exploration *x, const char *uri, struct child *c)
{
	char out[PATH_MAX + 32];
	snprintf(out, sizeof(out), "%.4000s/check.json", x->work);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	/* exec copies argv; the static array only keeps it valid while child_start runs. */
	static const char *argv[8];
	argv[0] = "qemu-img"; argv[1] = "check"; argv[2] = "--output=json"; argv[3] = "-f";
	argv[4] = "qcow2"; argv[5] = uri; argv[6] = NULL;
	*c = (struct child){ .argv = argv, .in = CHILD_NULL, .out = CHILD_FD, .fd_out = fd,
			     .err = CHILD_NULL };
	int rc = child_start(c);
	close(fd);
	return rc;
}

static enum explore_meta check_finish(struct exploration *x, struct child *c, char **json)
{
	char out[PATH_MAX + 32];
	int status;
	json_error_t je;

	if (child_finish(c, 60000, &status) < 0)
		return EXPLORE_META_UNREADABLE;
	/* Exit status 2 and 3 still report (corruptions, leaks): only the JSON counts. */
	snprintf(out, sizeof(out), "%.4000s/check.json", x->work);
	json_t *j = json_load_file(out, JSON_DISABLE_EOF_CHECK, &je);
	if (!j)
		return EXPLORE_META_UNREADABLE;
	int64_t corrupt = json_integer_value(json_object_get(j, "corruptions"));
	int64_t errs = json_integer_value(json_object_get(j, "check-errors"));
	int64_t leaks = json_integer_value(json_object_get(j, "leaks"));
	enum explore_meta m = corrupt || errs ? EXPLORE_META_CORRUPT : leaks ? EXPLORE_META_LEAKS :
			      EXPLORE_META_CLEAN;
	/* With lazy_refcounts a crash leaves refcounts wrong on purpose, and the next
	 * read-write open repairs them (docs/explore.md). */
	if (m == EXPLORE_META_CORRUPT && !errs && x->m.lazy_refcounts)
		m = EXPLORE_META_REPAIRABLE;
	json_object_del(j, "filename");
	*json = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return m;
}

/* One qemu-storage-daemon for the whole exploration, driven over QMP: each state is a
 * blockdev-add of the state's NBD export and a qcow2 or raw node on it, exported for the
 * agent, deleted after. (A daemon per state cost a third of the time per state.) */
static int start_qsd(struct exploration *x)
{
	char chardev[PATH_MAX + 64], srv[PATH_MAX + 64];

	snprintf(chardev, sizeof(chardev), "socket,id=m,path=%.4000s,server=on,wait=off", x->qmp_sock);
	snprintf(srv, sizeof(srv), "addr.type=unix,addr.path=%.4000s", x->qsd_sock);
	const char *argv[] = { "qemu-storage-daemon", "--chardev", chardev, "--monitor", "chardev=m",
			       "--nbd-server", srv, NULL };
	x->qsd = (struct child){ .argv = argv, .in = CHILD_NULL, .out = CHILD_NULL,
				 .err = CHILD_NULL };
	int rc = child_start(&x->qsd);
	if (rc < 0) {
		pc_err(LOG_CHECK, "cannot start qemu-storage-daemon: %s", strerror(-rc));
		return rc;
	}
	x->qsd_up = true;
	if ((rc = wait_socket(x->qsd_sock, &x->qsd, 15000)) < 0)
		goto fail;
	if (!(x->qmp = qmp_open(x->qmp_sock, 0))) {
		rc = -errno;
		goto fail;
	}
	return 0;
fail:
	pc_err(LOG_CHECK, "qemu-storage-daemon did not come up: %s", strerror(-rc));
	stop_child(&x->qsd, &x->qsd_up);
	return rc;
}

/* Open state id's image (qcow2 or raw) read-only and export it as sN; why says why not.
 * file: a file to open (raw) instead of the state's NBD export (lvmthin's read-back). */
static int qsd_attach(struct exploration *x, int64_t id, const char *file, char *why, size_t len)
{
	char f[32], d[32], e[32], name[32];
	snprintf(f, sizeof(f), "f%" PRId64, id);
	snprintf(d, sizeof(d), "d%" PRId64, id);
	snprintf(e, sizeof(e), "e%" PRId64, id);
	snprintf(name, sizeof(name), "s%" PRId64, id);
	json_t *nbd = file ? json_pack("{s:s,s:{s:s,s:s,s:b,s:s}}", "execute", "blockdev-add",
				       "arguments", "driver", "file", "node-name", f, "read-only", 1,
				       "filename", file) :
		      json_pack("{s:s,s:{s:s,s:s,s:b,s:{s:s,s:s},s:s}}", "execute", "blockdev-add",
				"arguments", "driver", "nbd", "node-name", f, "read-only", 1,
				"server", "type", "unix", "path", x->nbd_sock, "export", name);
	int rc = qmp_execute(x->qmp, nbd, why, len);
	if (rc < 0)
		return rc;
	json_t *fmt = json_pack("{s:s,s:{s:s,s:s,s:s,s:b}}", "execute", "blockdev-add", "arguments",
				"driver", x->m.qcow2 && !file ? "qcow2" : "raw", "node-name", d, "file", f,
				"read-only", 1);
	rc = qmp_execute(x->qmp, fmt, why, len);
	if (rc < 0)
		return rc;
	json_t *exp = json_pack("{s:s,s:{s:s,s:s,s:s,s:s}}", "execute", "block-export-add",
				"arguments", "type", "nbd", "id", e, "node-name", d, "name", name);
	return qmp_execute(x->qmp, exp, why, len);
}

static void qsd_detach(struct exploration *x, int64_t id)
{
	char n[32], why[256];
	/* The export goes once its client left (the agent has); the nodes after it. */
	snprintf(n, sizeof(n), "e%" PRId64, id);
	qmp_execute(x->qmp, json_pack("{s:s,s:{s:s,s:s}}", "execute", "block-export-del",
				      "arguments", "id", n, "mode", "hard"), why, sizeof(why));
	for (int i = 0; i < 2; i++) {
		snprintf(n, sizeof(n), "%c%" PRId64, i ? 'f' : 'd', id);
		for (int t = 0; t < 200; t++) {
			json_t *del = json_pack("{s:s,s:{s:s}}", "execute", "blockdev-del",
						"arguments", "node-name", n);
			if (qmp_execute(x->qmp, del, why, sizeof(why)) == 0 ||
			    !strstr(why, "in use"))
				break;
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
}

/* libnbd's reads of the state's PV for lvmpv and thin_state. */
static int nbd_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	return nbd_pread(ctx, buf, len, off, 0) < 0 ? -EIO : 0;
}

/* An lvmthin state: the pool's metadata verdict from the state's own PV bytes (served
 * by pcreplay as sN) and, unless the pool cannot be read, its thin volume's span in img.
 * *skip: nothing to read back (the verdict stands alone). A negative errno only when
 * the exploration cannot go on (thin-provisioning-tools missing). */
static int thin_read(struct exploration *x, int64_t id, const char *img, enum explore_meta *meta,
		     char **mjson, bool *skip)
{
	char uri[PATH_MAX + 64];
	struct thin_state t;
	struct nbd_handle *h = nbd_create();

	snprintf(uri, sizeof(uri), "nbd+unix:///s%" PRId64 "?socket=%.4000s", id, x->nbd_sock);
	if (!h || nbd_connect_uri(h, uri) < 0) {
		pc_err(LOG_CHECK, "state %" PRId64 ": cannot read '%s': %s; exploration stopped",
		       id, uri, nbd_get_error());
		nbd_close(h);
		return -EIO;
	}
	int rc = thin_state(nbd_read, h, &x->m.thin, x->work,
			    x->ses.span_blocks * x->ses.block_size, img, &t);
	nbd_shutdown(h, 0);
	nbd_close(h);
	if (rc < 0) {
		thin_state_release(&t);
		return rc;
	}
	*meta = t.meta;
	*mjson = t.json;
	*skip = !t.readable;
	return 0;
}

static int agent_check(struct exploration *x, const char *uri, const char *out)
{
	char a_camp[24], a_cycle[16], a_disk[16], a_seed[24], a_bs[24], a_span[24];
	struct child_result r;

	snprintf(a_camp, sizeof(a_camp), "%" PRIu64, x->o->campaign);
	snprintf(a_cycle, sizeof(a_cycle), "%" PRIu32, x->o->cycle);
	snprintf(a_disk, sizeof(a_disk), "%" PRIu32, x->m.id);
	snprintf(a_seed, sizeof(a_seed), "%" PRIu64, x->ses.seed);
	snprintf(a_bs, sizeof(a_bs), "%" PRIu64, x->ses.block_size);
	snprintf(a_span, sizeof(a_span), "%" PRIu64, (x->ses.span_blocks * x->ses.block_size) >> 20);
	const char *argv[] = { x->agent, "check", uri, "--campaign", a_camp, "--cycle", a_cycle,
			       "--disk", a_disk, "--seed", a_seed, "--block-size", a_bs,
			       "--span-mib", a_span, "--output", out, "--quiet", NULL };
	int rc = child_run(argv, NULL, 120000, &r);
	if (rc == 0 && !(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)) {
		pc_debug(LOG_CHECK, "agent check of '%s': %s", uri, r.err ? r.err : "");
		rc = -EIO;
	}
	if (rc == 0 || rc == -ETIMEDOUT)
		child_result_release(&r);
	return rc;
}

/* oracle_verify() against the ledger as of cutoff_ns (rows received before it). */
static int classify(struct exploration *x, const char *report, int64_t cutoff_ns,
		    struct oracle_verify_result *res)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(x->led, "UPDATE temp.crash SET cutoff = ?1", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, cutoff_ns);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	FILE *f = fopen(report, "re");
	if (!f)
		return -errno;
	rc = oracle_verify(x->led, x->o->campaign, x->o->cycle, x->m.id, f,
			   cutoff_ns == INT64_MAX ? 0 : cutoff_ns, false, res);
	fclose(f);
	return rc;
}

static int run_state(struct exploration *x, const struct candidate *c, int64_t id)
{
	char *spec = NULL, *mjson = NULL, uri[PATH_MAX + 64], report[PATH_MAX + 64];
	struct oracle_verify_result res;
	enum explore_meta meta = EXPLORE_META_NONE;
	bool verified = false;
	int rc;

	if ((rc = write_spec(x, c, id, &spec)) < 0)
		return rc;
	snprintf(uri, sizeof(uri), "nbd+unix:///s%" PRId64 "?socket=%.4000s", id, x->nbd_sock);
	snprintf(report, sizeof(report), "%.4000s/check.jsonl", x->work);
	unlink(report);
	/* Opened by QEMU as the restarted node would (qcow2 or raw, read-only), read back
	 * by the agent; for qcow2 the metadata check runs beside it (two cores). */
	char why[256] = "", img[PATH_MAX + 32];
	struct child chk;
	bool checking = x->m.qcow2 && check_start(x, uri, &chk) == 0;
	bool skip = false;
	if (x->m.lvmthin) {
		snprintf(img, sizeof(img), "%.4000s/span.img", x->work);
		if ((rc = thin_read(x, id, img, &meta, &mjson, &skip)) < 0) {
			free(spec);
			return rc;
		}
	}
	int arc = skip ? 0 : qsd_attach(x, id, x->m.lvmthin ? img : NULL, why, sizeof(why));
	if (arc == -EPIPE) {
		/* Not this state's fault: every later one would read as unreadable. */
		pc_err(LOG_CHECK, "state %" PRId64 ": %s; exploration stopped", id, why);
		if (checking)
			child_finish(&chk, 60000, &(int){ 0 });
		free(spec);
		return arc;
	}
	if (arc == 0 && !skip) {
		snprintf(uri, sizeof(uri), "nbd+unix:///s%" PRId64 "?socket=%.4000s", id,
			 x->qsd_sock);
		if (agent_check(x, uri, report) < 0)
			snprintf(why, sizeof(why), "the agent's check failed");
	}
	if (!skip)
		qsd_detach(x, id);
	if (x->m.qcow2)
		meta = checking ? check_finish(x, &chk, &mjson) : EXPLORE_META_UNREADABLE;
	if (*why) {
		pc_debug(LOG_CHECK, "state %" PRId64 ": unreadable: %s", id, why);
		meta = EXPLORE_META_UNREADABLE;
		json_t *j = mjson ? json_loads(mjson, 0, NULL) : json_object();
		json_object_set_new(j, "open_error", json_string(why));
		free(mjson);
		mjson = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	/* The crash happened before entry `crash` completed: the ledger knew what it
	 * had received by then, and nothing later (docs/explore.md, "Crash points"). */
	int64_t cutoff = c->crash < x->wl->n ? x->wl->e[c->crash].h.t_ns : INT64_MAX;
	int64_t crash_ns = c->crash < x->wl->n ? cutoff :
			   x->wl->n ? x->wl->e[x->wl->n - 1].h.t_ns : 0;
	if (meta != EXPLORE_META_UNREADABLE && !skip) {
		rc = classify(x, report, cutoff, &res);
		if (rc < 0)
			pc_warn(LOG_CHECK, "state %" PRId64 ": cannot classify: %s", id, strerror(-rc));
		verified = rc == 0;
	}
	json_t *counts = json_object();
	if (verified)
		for (int k = 0; k < CLS__COUNT; k++)
			if (res.cycle.count[k])
				json_object_set_new(counts, cls_class_name(k),
						    json_integer((json_int_t)res.cycle.count[k]));
	char *cj = json_dumps(counts, JSON_COMPACT);
	json_decref(counts);

	uint64_t writes = ndata_of(c, x);
	sqlite3_stmt *st = x->ins;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, x->s->run_id);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_text(st, 3, explore_kind_name(c->kind), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)c->crash);
	sqlite3_bind_int64(st, 5, crash_ns);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)writes);
	sqlite3_bind_text(st, 7, spec, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 8, explore_meta_name(meta), -1, SQLITE_STATIC);
	if (mjson)
		sqlite3_bind_text(st, 9, mjson, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 9);
	if (verified)
		sqlite3_bind_int64(st, 10, (sqlite3_int64)res.cycle.violations);
	else
		sqlite3_bind_null(st, 10);
	sqlite3_bind_text(st, 11, cj ? cj : "{}", -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	if (rc < 0)
		pc_err(LOG_DB, "cannot store state %" PRId64 ": %s", id, sqlite3_errmsg(x->db));
	free(cj);
	free(spec);
	free(mjson);

	struct explore_summary *s = x->s;
	s->states++;
	/* Rows go in batches: a commit per state would cost more than the state, and one
	 * transaction for all would hold the database's write lock from a ledger that may
	 * be serving a campaign meanwhile. */
	if (s->states % 32 == 0 && sqlite3_exec(x->db, "COMMIT; BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		pc_warn(LOG_DB, "cannot commit explored states: %s", sqlite3_errmsg(x->db));
	s->explored[c->kind]++;
	bool viol = verified && res.cycle.violations;
	if (viol) {
		s->violation_states++;
		pc_debug(LOG_CHECK, "state %" PRId64 " (%s, %" PRIu64 " writes): %" PRIu64
			 " violations", id, explore_kind_name(c->kind), writes, res.cycle.violations);
	}
	if (explore_meta_failure(meta))
		s->metadata_failure_states++;
	if (meta == EXPLORE_META_LEAKS || meta == EXPLORE_META_REPAIRABLE)
		s->leak_states++;
	return rc;
}

/* ---- choosing states ---- */

/* Spread `take` picks evenly over `avail` candidates: the i-th pick. */
static size_t spread(size_t i, size_t take, size_t avail)
{
	return take >= avail ? i : (size_t)((double)i * avail / take);
}

static bool out_of_budget(struct exploration *x)
{
	if (x->o->max_seconds > 0 && (clock_mono_ns() - x->t0) / 1e9 >= x->o->max_seconds)
		return true;
	return x->o->stop && *x->o->stop;
}

/* How many states of each kind the budget allows: shares, boundaries and prefixes
 * first, as the issue orders them; what a kind cannot use goes to the next. */
static void share_budget(struct exploration *x, const uint64_t avail[EXPLORE__KINDS], uint64_t budget,
			 uint64_t take[EXPLORE__KINDS])
{
	static const double share[EXPLORE__KINDS] = { 0.25, 0.40, 0.15, 0.20 };
	uint64_t used = 0;

	for (int k = 0; k < EXPLORE__KINDS; k++) {
		x->s->candidates[k] = avail[k];
		take[k] = (uint64_t)(budget * share[k]);
		if (take[k] > avail[k])
			take[k] = avail[k];
		used += take[k];
	}
	for (int k = 0; k < EXPLORE__KINDS && used < budget; k++) {
		uint64_t more = avail[k] - take[k];
		if (more > budget - used)
			more = budget - used;
		take[k] += more;
		used += more;
	}
}

/* Up to take random subsets of the ntail writes after the last durable flush (dn),
 * each once, crash at the end (log entry n). 0 or the first state's negative errno. */
static int run_subsets(struct exploration *x, const size_t *tail, size_t ntail, size_t n, size_t dn,
		       uint64_t take, int64_t *id)
{
	size_t *pick = calloc(ntail + 1, sizeof(*pick));
	uint64_t *hashes = calloc(take + 1, sizeof(*hashes));
	uint64_t done = 0;
	int rc = 0;

	for (uint64_t tries = 0; pick && hashes && done < take && tries < take * 8 && !rc &&
	     !out_of_budget(x); tries++) {
		size_t k = 0;
		uint64_t h = 1469598103934665603ull;
		/* Every other subset is dense: each write kept with probability 15/16, a
		 * cache that lost only a few writes. A sparse one (1/2) seldom keeps every
		 * write of a multi-block metadata commit (a thin pool's btree, lvm2's
		 * label, header and text), so it shows metadata failures; a dense one
		 * keeps the metadata and loses data under it. */
		uint64_t mask = tries & 1 ? 15 : 1;
		for (size_t i = 0; i < ntail; i++)
			if (rng_splitmix64(&x->rng) & mask) {
				pick[k++] = tail[i];
				h = (h ^ i) * 1099511628211ull;
			}
		if (k == 0 || k == ntail)
			continue;	/* the durable prefix and the full log are other states */
		h ^= k;
		bool dup = false;
		for (uint64_t j = 0; j < done && !dup; j++)
			dup = hashes[j] == h;
		if (dup)
			continue;
		hashes[done++] = h;
		struct candidate cd = { .kind = EXPLORE_SUBSET, .crash = n, .upto = dn, .extra = pick,
				   .nextra = k };
		rc = run_state(x, &cd, ++*id);
	}
	free(pick);
	free(hashes);
	return rc;
}

/* take torn writes among the nt multi-sector ones (torn[]), each with a random proper,
 * non-empty part of its sectors. */
static int run_torn(struct exploration *x, const size_t *torn, size_t nt, uint64_t take, int64_t *id)
{
	int rc = 0;

	for (uint64_t i = 0; i < take && !rc && !out_of_budget(x); i++) {
		size_t e = torn[spread(i, take, nt)];
		uint32_t ns = x->wl->e[e].h.count / WLOG_SECTOR;
		uint64_t all = ns >= 64 ? UINT64_MAX : (1ull << ns) - 1;
		uint64_t m = rng_splitmix64(&x->rng) & all;
		if (m == 0)
			m = 1;
		if (m == all)
			m &= ~(1ull << (rng_splitmix64(&x->rng) % (ns < 64 ? ns : 64)));
		struct candidate cd = { .kind = EXPLORE_TORN, .crash = e + 1, .upto = e, .torn = e,
				   .torn_mask = m };
		rc = run_state(x, &cd, ++*id);
	}
	return rc;
}

static int explore_states(struct exploration *x)
{
	const struct wlog *wl = x->wl;
	size_t n = wl->n, *bnd = NULL, *pre = NULL, *torn = NULL, nb = 0, np = 0, nt = 0;
	size_t *tail = NULL, ntail = 0;
	uint8_t *seen = NULL;
	int rc = -ENOMEM;
	int64_t id = 0;
	uint64_t budget = x->o->max_states > 0 ? (uint64_t)x->o->max_states : 200;

	x->ndata = calloc(n + 1, sizeof(*x->ndata));
	x->durable = calloc(n + 1, sizeof(*x->durable));
	bnd = calloc(n + 1, sizeof(*bnd));
	pre = calloc(n + 1, sizeof(*pre));
	torn = calloc(n + 1, sizeof(*torn));
	tail = calloc(n + 1, sizeof(*tail));
	seen = calloc(n + 2, 1);
	if (!x->ndata || !x->durable || !bnd || !pre || !torn || !tail || !seen)
		goto out;
	/* The oracle judges a crash only once the ledger has this cycle's baseline (a
	 * real cut never comes before: the window opens with the workload running). A
	 * crash point whose ledger lacks it would read the baseline's records as ones the
	 * agent cannot have written: those entries are not crash points. Without a
	 * baseline the agent's hello opens the window: what came before is the rig's
	 * setup (the guest's vgcreate and lvcreate), not the workload's. */
	int64_t brecv = baseline_recv_ns(x);
	size_t c0 = 0;
	while (brecv && c0 < n && wl->e[c0].h.t_ns <= brecv)
		c0++;
	x->s->baseline_entries = c0;
	for (size_t i = 0; i < n; i++) {
		const struct wlog_entry *e = &wl->e[i];
		bool data = e->h.type != WLOG_FLUSH;
		x->ndata[i + 1] = x->ndata[i] + data;
		x->durable[i + 1] = wlog_barrier(e) ? i + 1 : x->durable[i];
		if (data)
			x->s->log_writes++;
		else
			x->s->log_flushes++;
		if (i + 1 < c0)
			continue;
		if (e->h.type == WLOG_FLUSH || (e->h.flags & WLOG_F_FUA)) {
			bnd[nb++] = i + 1;
			seen[x->ndata[i + 1]] = 1;
		}
		if (e->h.type == WLOG_WRITE && e->h.count > WLOG_SECTOR)
			torn[nt++] = i;
	}
	/* Prefixes whose writes a flush boundary already holds are the same disk with a
	 * laxer ledger: the boundary (stricter) stands for them. */
	for (size_t i = c0 ? c0 - 1 : 0; i < n; i++)
		if (wl->e[i].h.type != WLOG_FLUSH && !seen[x->ndata[i + 1]])
			pre[np++] = i + 1;
	size_t dn = x->durable[n];
	for (size_t i = dn; i < n; i++)
		if (wl->e[i].h.type != WLOG_FLUSH)
			tail[ntail++] = i;
	uint64_t nsub = ntail >= 2 ? (ntail >= 63 ? UINT64_MAX : (1ull << ntail) - 2) : 0;

	uint64_t avail[EXPLORE__KINDS] = { nb, np, nsub, nt }, take[EXPLORE__KINDS];
	share_budget(x, avail, budget, take);

	rc = 0;
	for (uint64_t i = 0; i < take[EXPLORE_BOUNDARY] && !rc && !out_of_budget(x); i++) {
		size_t c = bnd[spread(i, take[EXPLORE_BOUNDARY], nb)];
		struct candidate cd = { .kind = EXPLORE_BOUNDARY, .crash = c, .upto = c };
		rc = run_state(x, &cd, ++id);
	}
	for (uint64_t i = 0; i < take[EXPLORE_PREFIX] && !rc && !out_of_budget(x); i++) {
		size_t c = pre[spread(i, take[EXPLORE_PREFIX], np)];
		struct candidate cd = { .kind = EXPLORE_PREFIX, .crash = c, .upto = c };
		rc = run_state(x, &cd, ++id);
	}
	if (!rc)
		rc = run_subsets(x, tail, ntail, n, dn, take[EXPLORE_SUBSET], &id);
	if (!rc)
		rc = run_torn(x, torn, nt, take[EXPLORE_TORN], &id);
out:
	free(bnd);
	free(pre);
	free(torn);
	free(tail);
	free(seen);
	return rc;
}

/* ---- entry points ---- */

static int ex_open(struct exploration *x, sqlite3 *db, const struct explore_opts *o,
		   struct explore_summary *s)
{
	char dir[PATH_MAX], why[512];
	const char *tmp = o->tmpdir ? o->tmpdir : getenv("TMPDIR");

	memset(x, 0, sizeof(*x));
	x->o = o;
	x->db = db;
	x->s = s;
	x->rng = o->seed ^ 0x6578706c6f7265ull;	/* "explore" */
	memset(s, 0, sizeof(*s));
	s->run_id = s->smallest_violation = s->smallest_metadata_failure = -1;
	explore_recording_dir(o->db_path, o->campaign, o->cycle, dir, sizeof(dir));
	snprintf(x->rec, sizeof(x->rec), "%.3800s/%.200s", dir, o->disk);
	int rc = load_meta(x);
	if (rc < 0)
		return rc;
	if ((rc = load_session(x)) < 0)
		return rc;
	char lp[PATH_MAX + 32];
	snprintf(lp, sizeof(lp), "%.4000s/%s", x->rec, RECORDING_LOG);
	x->wl = wlog_map(lp, why, sizeof(why));
	if (!x->wl) {
		rc = -errno;
		pc_err(LOG_CHECK, "%s", why);
		return rc;
	}
	if (x->wl->truncated)
		pc_info(LOG_CHECK, "'%s' ends in a partial entry (cut while it was written; "
			"never acknowledged): dropped", lp);
	/* A process-kill cut leaves the disk model (and its recorder) running: what it
	 * logged after the node died is the next boot's, not this crash's. */
	int64_t cut = cycle_cut_ns(x);
	size_t keep = x->wl->n;
	while (cut > 0 && keep > 0 && x->wl->e[keep - 1].h.t_ns > cut)
		keep--;
	if (keep < x->wl->n) {
		pc_info(LOG_CHECK, "'%s': %zu entries logged after the cut left out", lp,
			x->wl->n - keep);
		x->wl->n = keep;
	}
	s->log_entries = x->wl->n;
	if (x->m.lvmthin && (rc = thin_tools_check()) < 0)
		return rc;
	if (pc_exe_dir(dir, sizeof(dir)) < 0)
		return -ENOENT;
	snprintf(x->agent, sizeof(x->agent), "%.4000s/powercut-agent-nbd", dir);
	const char *f = getenv("PCREPLAY_FILTER");
	snprintf(x->filter, sizeof(x->filter), "%.4000s", f && *f ? f : "");
	if (!*x->filter)
		snprintf(x->filter, sizeof(x->filter), "%.4000s/../lib/nbdkit-pcreplay-filter.so", dir);
	if (access(x->filter, R_OK) < 0 || access(x->agent, X_OK) < 0) {
		pc_err(LOG_CHECK, "cannot find '%s' or '%s' (run make)", x->filter, x->agent);
		return -ENOENT;
	}
	snprintf(x->work, sizeof(x->work), "%.4000s/pc-explore.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(x->work)) {
		rc = -errno;
		pc_err(LOG_CHECK, "cannot create a directory like '%s': %s", x->work, strerror(-rc));
		x->work[0] = 0;
		return rc;
	}
	char sd[PATH_MAX + 16];
	snprintf(sd, sizeof(sd), "%.4000s/states", x->work);
	if (mkdir(sd, 0755) < 0)
		return -errno;
	snprintf(x->nbd_sock, sizeof(x->nbd_sock), "%.4000s/nbdkit.sock", x->work);
	snprintf(x->qsd_sock, sizeof(x->qsd_sock), "%.4000s/qsd.sock", x->work);
	snprintf(x->qmp_sock, sizeof(x->qmp_sock), "%.4000s/qmp.sock", x->work);
	if ((rc = start_nbdkit(x)) < 0)
		return rc;
	return start_qsd(x);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void ex_close(struct exploration *x)
{
	qmp_close(x->qmp);
	stop_child(&x->qsd, &x->qsd_up);
	stop_child(&x->nbdkit, &x->nbdkit_up);
	if (x->ins)
		sqlite3_finalize(x->ins);
	if (x->led)
		sqlite3_close(x->led);
	wlog_free(x->wl);
	free(x->ndata);
	free(x->durable);
	if (x->work[0])
		nftw(x->work, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int64_t smallest(sqlite3 *db, int64_t run, const char *where)
{
	char sql[512];
	sqlite3_stmt *st;
	int64_t id = -1;

	snprintf(sql, sizeof(sql), "SELECT state FROM explore_state WHERE run_id = ?1 AND (%s) "
		 "ORDER BY writes, state LIMIT 1", where);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, run);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

int explore_run(sqlite3 *db, const struct explore_opts *o, struct explore_summary *s)
{
	struct exploration x;
	int rc = ex_open(&x, db, o, s);
	sqlite3_stmt *st = NULL;

	x.t0 = clock_mono_ns();
	if (rc < 0)
		goto out;
	if ((rc = ledger_views(&x)) < 0)
		goto out;
	char rec_rel[PATH_MAX];
	snprintf(rec_rel, sizeof(rec_rel), "%s", x.rec);
	if (sqlite3_prepare_v2(db, "INSERT INTO explore_run (campaign, cycle, disk, disk_id, "
			       "recording, format, cache, control, seed, log_entries) VALUES "
			       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", -1, &st, NULL) != SQLITE_OK) {
		pc_err(LOG_DB, "cannot record the exploration: %s (run 'powercut db migrate')",
		       sqlite3_errmsg(db));
		rc = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)o->campaign);
	sqlite3_bind_int64(st, 2, o->cycle);
	sqlite3_bind_text(st, 3, x.m.disk, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, x.m.id);
	sqlite3_bind_text(st, 5, rec_rel, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, x.m.qcow2 ? "qcow2" : x.m.lvmthin ? "lvmthin" : "raw", -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, 7, x.m.cache, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, x.m.control, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)o->seed);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)x.wl->n);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	st = NULL;
	if (rc < 0)
		goto out;
	s->run_id = sqlite3_last_insert_rowid(db);
	if (sqlite3_prepare_v2(db, "INSERT INTO explore_state (run_id, state, kind, crash_entry, "
			       "crash_ns, writes, spec, metadata, metadata_json, violations, "
			       "counts_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
			       -1, &x.ins, NULL) != SQLITE_OK) {
		rc = -EIO;
		goto out;
	}
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	rc = explore_states(&x);
	s->seconds = (clock_mono_ns() - x.t0) / 1e9;
	json_t *cand = json_object();
	for (int k = 0; k < EXPLORE__KINDS; k++)
		json_object_set_new(cand, explore_kind_name(k), json_pack("{s:I,s:I}", "candidates",
				    (json_int_t)(s->candidates[k] > INT64_MAX ? INT64_MAX : s->candidates[k]),
				    "explored", (json_int_t)s->explored[k]));
	char *cj = json_dumps(cand, JSON_COMPACT);
	json_decref(cand);
	if (sqlite3_prepare_v2(db, "UPDATE explore_run SET candidates_json = ?1, states = ?2, "
			       "seconds = ?3 WHERE id = ?4", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, cj, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)s->states);
		sqlite3_bind_double(st, 3, s->seconds);
		sqlite3_bind_int64(st, 4, s->run_id);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	free(cj);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		pc_err(LOG_DB, "cannot store the explored states: %s", sqlite3_errmsg(db));
		rc = rc ? rc : -EIO;
	}
	s->smallest_violation = smallest(db, s->run_id, "violations > 0");
	s->smallest_metadata_failure = smallest(db, s->run_id,
						"metadata IN ('corrupt', 'unreadable')");
out:
	ex_close(&x);
	return rc;
}

/* State `state` of the newest exploration of o's disk and cycle: its spec and crash
 * point. 0 or -ENOENT (logged). */
static int state_row(sqlite3 *db, const struct explore_opts *o, int64_t state, char **spec,
		     int64_t *crash)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(db, "SELECT spec, crash_entry FROM explore_state WHERE state = ?1 "
			       "AND run_id = (SELECT MAX(id) FROM explore_run WHERE campaign = ?2 "
			       "AND cycle = ?3 AND disk = ?4)", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, state);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)o->campaign);
	sqlite3_bind_int64(st, 3, o->cycle);
	sqlite3_bind_text(st, 4, o->disk, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		pc_err(LOG_CHECK, "no explored state %" PRId64 " of disk '%s' in cycle %" PRIu32
		       " (run 'powercut explore' first)", state, o->disk, o->cycle);
		rc = -ENOENT;
	} else {
		*spec = strdup((const char *)sqlite3_column_text(st, 0));
		*crash = sqlite3_column_int64(st, 1);
		if (!*spec)
			rc = -ENOMEM;
	}
	sqlite3_finalize(st);
	return rc;
}

int explore_classify(sqlite3 *db, const struct explore_opts *o, int64_t state,
		     const char *report, json_t **out)
{
	struct explore_summary s;
	struct exploration x;
	struct oracle_verify_result res;
	char *spec = NULL;
	int64_t crash = 0;
	int rc = ex_open(&x, db, o, &s);

	if (rc < 0 || (rc = state_row(db, o, state, &spec, &crash)) < 0 ||
	    (rc = ledger_views(&x)) < 0)
		goto out;
	/* The same cut-off as run_state's: the ledger as of the state's crash point. */
	int64_t cutoff = crash >= 0 && (size_t)crash < x.wl->n ? x.wl->e[crash].h.t_ns : INT64_MAX;
	if ((rc = classify(&x, report, cutoff, &res)) < 0) {
		pc_err(LOG_CHECK, "cannot classify '%s' as state %" PRId64 ": %s", report, state,
		       strerror(-rc));
		goto out;
	}
	json_t *counts = json_object();
	for (int k = 0; k < CLS__COUNT; k++)
		if (res.cycle.count[k])
			json_object_set_new(counts, cls_class_name(k),
					    json_integer((json_int_t)res.cycle.count[k]));
	*out = json_pack("{s:I,s:I,s:o}", "state", (json_int_t)state, "violations",
			 (json_int_t)res.cycle.violations, "counts", counts);
out:
	free(spec);
	ex_close(&x);
	return rc;
}

int explore_export(sqlite3 *db, const struct explore_opts *o, int64_t state, const char *out)
{
	struct explore_summary s;
	struct exploration x;
	sqlite3_stmt *st = NULL;
	char *spec = NULL;
	int64_t crash;
	int rc = ex_open(&x, db, o, &s);

	if (rc < 0 || (rc = state_row(db, o, state, &spec, &crash)) < 0)
		goto out;
	char path[PATH_MAX + 64], uri[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%.4000s/states/s%" PRId64, x.work, state);
	FILE *f = fopen(path, "we");
	if (!spec || !f || fputs(spec, f) < 0 || fclose(f)) {
		rc = -EIO;
		goto out;
	}
	snprintf(uri, sizeof(uri), "nbd+unix:///s%" PRId64 "?socket=%.4000s", state, x.nbd_sock);
	/* The image file's bytes, holes kept: raw in, raw out whatever the disk's format. */
	const char *argv[] = { "qemu-img", "convert", "-f", "raw", "-O", "raw", "-S", "4k", uri,
			       out, NULL };
	struct child_result r;
	rc = child_run(argv, NULL, 300000, &r);
	if (rc == 0 && !(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)) {
		pc_err(LOG_CHECK, "cannot write '%s': %s", out, r.err ? r.err : "qemu-img failed");
		rc = -EIO;
	}
	if (rc == 0 || rc == -ETIMEDOUT)
		child_result_release(&r);
out:
	if (st)
		sqlite3_finalize(st);
	free(spec);
	ex_close(&x);
	return rc;
}
