/* LVM-thin crash states: see thin.h and docs/explore.md ("LVM-thin"). */
#include "thin.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "child.h"
#include "log.h"

#define THIN_PKG "thin-provisioning-tools"
#define OUT_KEEP 2000	/* bytes of thin_check's report kept in the state's row */

int thin_tools_check(void)
{
	const char *argv[] = { "thin_check", "-V", NULL };
	struct child_result r;
	int rc = child_run(argv, NULL, 10000, &r);

	if (rc == -ENOENT) {
		pc_err(LOG_CHECK, "cannot run 'thin_check': not installed (Debian package '%s', "
		       "scripts/install-deps)", THIN_PKG);
		return -ENOENT;
	}
	if (rc == 0 || rc == -ETIMEDOUT)
		child_result_release(&r);
	return rc == 0 ? 0 : rc;
}

static void set_why(json_t *j, const char *key, const char *why)
{
	json_object_set_new(j, key, json_string(why));
}

/* Copy len bytes of an LV from lv_off (mapped onto the PV by lvmpv_map) to fd at
 * file_off. 0 or a negative errno, why says which byte. A failure to write the work
 * file (the host's disk full) is the host's, not the state's: *ours is set. */
static int copy_range(lvmpv_read_fn rd, void *ctx, const struct lvmpv_lv *lv, uint64_t lv_off,
		      uint64_t len, int fd, uint64_t file_off, char *why, size_t wlen, bool *ours)
{
	static char buf[1 << 20];
	int rc = 0;

	for (uint64_t done = 0; done < len && !rc;) {
		uint64_t pv, run;
		if (lvmpv_map(lv, lv_off + done, len - done, &pv, &run) < 0) {
			snprintf(why, wlen, "byte %" PRIu64 " lies beyond the areas of LV '%s'",
				 lv_off + done, lv->name);
			return -ERANGE;
		}
		if (run > sizeof(buf))
			run = sizeof(buf);
		if ((rc = rd(ctx, buf, run, pv)) < 0) {
			snprintf(why, wlen, "cannot read LV '%s' at PV byte %" PRIu64, lv->name, pv);
			break;
		}
		ssize_t w = pwrite(fd, buf, run, (off_t)(file_off + done));
		if (w != (ssize_t)run) {
			rc = w < 0 ? -errno : -ENOSPC;	/* short: the file system is full */
			*ours = true;
			snprintf(why, wlen, "cannot write the work file: %s", strerror(-rc));
		}
		done += run;
	}
	return rc;
}

/* Copy an LV's first len bytes into a new file. */
static int copy_lv(lvmpv_read_fn rd, void *ctx, const struct lvmpv_lv *lv, uint64_t len,
		   const char *path, char *why, size_t wlen, bool *ours)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		int rc = -errno;
		*ours = true;
		snprintf(why, wlen, "cannot create '%.200s': %s", path, strerror(-rc));
		return rc;
	}
	int rc = copy_range(rd, ctx, lv, 0, len, fd, 0, why, wlen, ours);
	close(fd);
	return rc;
}

/* thin_check ended without an exit status (a signal, the timeout): it did not pass. */
#define CHECK_DIED 256

/* thin_check's exit status, or CHECK_DIED, and the first bytes of what it said; a
 * negative errno when it could not be run at all (not a verdict on the metadata). */
static int run_check(const char *tmeta, bool ignore_non_fatal, json_t *out, const char *key)
{
	const char *argv[] = { "thin_check", tmeta, NULL, NULL };
	struct child_result r;

	if (ignore_non_fatal)
		argv[2] = "--ignore-non-fatal-errors";
	int rc = child_run(argv, NULL, 120000, &r);
	if (rc < 0 && rc != -ETIMEDOUT)
		return rc;
	int st = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
	size_t n = r.err_len + r.out_len;
	char *all = malloc(n + 1);
	if (all) {
		memcpy(all, r.out, r.out_len);
		memcpy(all + r.out_len, r.err, r.err_len);
		all[n < OUT_KEEP ? n : OUT_KEEP] = 0;
		json_object_set_new(out, key, json_pack("{s:i,s:s}", "rc", st, "output", all));
		free(all);
	}
	child_result_release(&r);
	return r.timed_out || st < 0 ? CHECK_DIED : st;
}

/* The numeric value of attribute name="..." in an element of a line of thin_dump's
 * XML (machine-written: one element per line, attributes double-quoted). */
static bool attr(const char *line, const char *name, uint64_t *v)
{
	char key[40];
	snprintf(key, sizeof(key), " %s=\"", name);
	const char *p = strstr(line, key);
	if (!p)
		return false;
	char *end;
	p += strlen(key);
	/* digits only: strtoull would take a sign ("-1" as 2^64 - 1) or blanks */
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	*v = strtoull(p, &end, 10);
	return !errno && *end == '"';
}

struct mapping {
	uint64_t origin, data, len;	/* in chunks */
};

struct dump {
	uint64_t chunk_bytes, transaction;
	bool device_seen;
	struct mapping *m;
	size_t n, cap;
};

/* The superblock and the mappings of device dev among the first span_chunks of it,
 * from thin_dump's XML. 0, or -EINVAL with why naming the line. */
static int parse_dump(const char *xml, uint64_t dev, uint64_t span_chunks, struct dump *d,
		      char *why, size_t wlen)
{
	FILE *f = fopen(xml, "re");
	char *line = NULL;
	size_t cap = 0;
	bool in = false, super = false;
	unsigned lineno = 0;
	int rc = 0;

	if (!f) {
		snprintf(why, wlen, "cannot read '%.200s': %s", xml, strerror(errno));
		return -errno;
	}
	while (!rc && getline(&line, &cap, f) > 0) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';	/* a message quotes it on one line */
		uint64_t a, b, c;
		if (strstr(line, "<superblock ")) {
			if (!attr(line, "data_block_size", &a) || !a || a > (1u << 21) ||
			    !attr(line, "transaction", &d->transaction))
				goto bad;
			d->chunk_bytes = a * 512;	/* thin_dump counts 512-byte sectors */
			super = true;
		} else if (strstr(line, "<device ")) {
			if (!attr(line, "dev_id", &a))
				goto bad;
			in = a == dev;
			d->device_seen |= in;
		} else if (strstr(line, "</device>")) {
			in = false;
		} else if (in && strstr(line, "<single_mapping ")) {
			if (!attr(line, "origin_block", &a) || !attr(line, "data_block", &b))
				goto bad;
			c = 1;
			goto add;
		} else if (in && strstr(line, "<range_mapping ")) {
			if (!attr(line, "origin_begin", &a) || !attr(line, "data_begin", &b) ||
			    !attr(line, "length", &c) || !c)
				goto bad;
			goto add;
		} else if (in && strchr(line, '<')) {
			/* any other element of the thin device (a shared subtree's <ref>,
			 * say) may hold mappings: passed over, they would read as holes */
			goto bad;
		}
		continue;
add:
		if (a >= span_chunks)
			continue;
		if (c > span_chunks - a)
			c = span_chunks - a;
		if (d->n == d->cap) {
			size_t nc = d->cap ? d->cap * 2 : 64;
			struct mapping *m = realloc(d->m, nc * sizeof(*m));
			if (!m) {
				rc = -ENOMEM;
				break;
			}
			d->m = m;
			d->cap = nc;
		}
		d->m[d->n++] = (struct mapping){ a, b, c };
		continue;
bad:
		snprintf(why, wlen, "'%.200s' line %u: not a mapping thin_dump writes: %.80s", xml,
			 lineno, line);
		rc = -EINVAL;
	}
	free(line);
	fclose(f);
	if (!rc && !super) {
		snprintf(why, wlen, "'%.200s' has no superblock", xml);
		rc = -EINVAL;
	}
	return rc;
}

/* The first span bytes of the thin volume into img: mapped chunks from tdata, the
 * rest holes (read as zeroes, as dm-thin reads an unprovisioned block). */
static int assemble(lvmpv_read_fn rd, void *ctx, const struct lvmpv_lv *tdata,
		    const struct dump *d, uint64_t span, const char *img, char *why, size_t wlen,
		    bool *ours)
{
	int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = 0;

	if (fd < 0) {
		rc = -errno;
		*ours = true;
		snprintf(why, wlen, "cannot create '%.200s': %s", img, strerror(-rc));
		return rc;
	}
	if (ftruncate(fd, (off_t)span) < 0) {
		rc = -errno;
		*ours = true;
		snprintf(why, wlen, "cannot size '%.200s': %s", img, strerror(-rc));
	}
	for (size_t i = 0; i < d->n && !rc; i++) {
		/* origin and len are bounded by the span (parse_dump); data is as the dump
		 * says it, and data * chunk_bytes must not wrap onto another chunk of tdata */
		uint64_t at = d->m[i].origin * d->chunk_bytes, len = d->m[i].len * d->chunk_bytes;
		uint64_t from;
		if (at + len > span)
			len = span - at;
		if (__builtin_mul_overflow(d->m[i].data, d->chunk_bytes, &from) ||
		    from > tdata->size || len > tdata->size - from) {
			snprintf(why, wlen, "thin_dump maps chunk %" PRIu64 " to data chunk %" PRIu64
				 ", beyond the %" PRIu64 " bytes of the pool's data LV '%s'",
				 d->m[i].origin, d->m[i].data, tdata->size, tdata->name);
			rc = -ERANGE;
			break;
		}
		rc = copy_range(rd, ctx, tdata, from, len, fd, at, why, wlen, ours);
	}
	close(fd);
	return rc;
}

/* The volumes the state's own VG metadata names, or why not. */
static int find_lvs(const struct lvmpv_vg *vg, const struct thin_names *nm,
		    const struct lvmpv_lv **pool, const struct lvmpv_lv **tmeta,
		    const struct lvmpv_lv **tdata, const struct lvmpv_lv **thin, char *why,
		    size_t wlen)
{
	if (strcmp(vg->name, nm->vg)) {
		snprintf(why, wlen, "the PV belongs to VG '%s', not '%s'", vg->name, nm->vg);
		return -ENOENT;
	}
	*pool = lvmpv_find(vg, nm->pool);
	*thin = lvmpv_find(vg, nm->lv);
	if (!*pool || strcmp((*pool)->type, "thin-pool") || !*thin || strcmp((*thin)->type, "thin") ||
	    strcmp((*thin)->pool_lv, nm->pool)) {
		snprintf(why, wlen, "VG '%s' (seqno %" PRIu64 ") has no thin pool '%s' with a thin "
			 "LV '%s'", vg->name, vg->seqno, nm->pool, nm->lv);
		return -ENOENT;
	}
	*tmeta = lvmpv_find(vg, (*pool)->metadata_lv);
	*tdata = lvmpv_find(vg, (*pool)->data_lv);
	if (!*tmeta || !*tdata || !(*tmeta)->nareas || !(*tdata)->nareas) {
		snprintf(why, wlen, "the pool's metadata LV '%s' or data LV '%s' is missing",
			 (*pool)->metadata_lv, (*pool)->data_lv);
		return -ENOENT;
	}
	return 0;
}

int thin_state(lvmpv_read_fn rd, void *ctx, const struct thin_names *nm, const char *work,
	       uint64_t span, const char *img, struct thin_state *r)
{
	char why[512] = "", tmeta_path[PATH_MAX], xml[PATH_MAX];
	const struct lvmpv_lv *pool, *tmeta, *tdata, *thin;
	struct lvmpv_vg vg;
	struct dump d = { 0 };
	json_t *j = json_object();
	int rc = 0;

	memset(r, 0, sizeof(*r));
	r->meta = EXPLORE_META_UNREADABLE;
	snprintf(tmeta_path, sizeof(tmeta_path), "%.4000s/tmeta", work);
	snprintf(xml, sizeof(xml), "%.4000s/thin.xml", work);
	/* Unreadable: what lvm2 could not activate at all (no VG, no pool, no LVs). */
	if (lvmpv_read(rd, ctx, &vg, why, sizeof(why)) < 0) {
		set_why(j, "vg_error", why);
		goto out;
	}
	json_object_set_new(j, "vg_seqno", json_integer((json_int_t)vg.seqno));
	if (find_lvs(&vg, nm, &pool, &tmeta, &tdata, &thin, why, sizeof(why)) < 0) {
		set_why(j, "vg_error", why);
		goto out;
	}
	json_object_set_new(j, "device_id", json_integer((json_int_t)thin->device_id));
	json_object_set_new(j, "transaction_id", json_integer((json_int_t)pool->transaction_id));
	bool ours = false;
	if ((rc = copy_lv(rd, ctx, tmeta, tmeta->size, tmeta_path, why, sizeof(why), &ours)) < 0) {
		if (ours)
			goto host_fault;
		rc = 0;
		set_why(j, "tmeta_error", why);
		goto out;
	}
	/* thin_check as lvm2 runs it before activating the pool. Its errors are FATAL or
	 * NON_FATAL (thin-provisioning-tools 0.9 metadata_checker.cc: a space map counting
	 * a block more often than the btrees reference it, a leak, is NON_FATAL; anything
	 * else is FATAL); --ignore-non-fatal-errors exits 0 unless one was FATAL. Clean:
	 * the first run passes; leaks: only the second; corrupt: neither. */
	int st = run_check(tmeta_path, false, j, "thin_check"), st2 = 1;
	if (st > 0)
		st2 = run_check(tmeta_path, true, j, "thin_check_ignore_non_fatal");
	if (st < 0 || st2 < 0) {
		/* A fork or an exec that failed says nothing of the metadata: no verdict
		 * (every later state would get the same), the exploration stops. Missing,
		 * thin_tools_check names the package. */
		rc = st < 0 ? st : st2;
		if (rc != -ENOENT || thin_tools_check() == 0)
			pc_err(LOG_CHECK, "cannot run 'thin_check': %s", strerror(-rc));
		goto out;
	}
	r->meta = st == 0 ? EXPLORE_META_CLEAN : st2 == 0 ? EXPLORE_META_LEAKS : EXPLORE_META_CORRUPT;
	/* The committed superblock's mappings: what dm-thin loads when the pool is
	 * activated. A corrupt pool is still read where thin_dump can read it (as
	 * qemu-img reads a corrupt qcow2 read-only); when it cannot, nothing is read. */
	const char *dump[] = { "thin_dump", "-o", xml, tmeta_path, NULL };
	struct child_result cr;
	int drc = child_run(dump, NULL, 120000, &cr);
	if (drc < 0 && drc != -ETIMEDOUT) {
		/* As for thin_check: a tool that did not run judges no state. */
		rc = drc;
		pc_err(LOG_CHECK, "cannot run 'thin_dump': %s", strerror(-rc));
		goto out;
	}
	bool dumped = drc == 0 && WIFEXITED(cr.status) && WEXITSTATUS(cr.status) == 0;
	if (!dumped) {
		char how[96];
		snprintf(why, sizeof(why), "thin_dump %s: %.300s", drc == -ETIMEDOUT ?
			 "timed out after 120 s" : child_status_str(cr.status, how, sizeof(how)),
			 cr.err ? cr.err : "");
		set_why(j, "dump_error", why);
	}
	child_result_release(&cr);
	if (!dumped) {
		if (r->meta != EXPLORE_META_CORRUPT)
			r->meta = EXPLORE_META_UNREADABLE;
		goto out;
	}
	uint64_t chunk = pool->chunk_bytes ? pool->chunk_bytes : 65536;
	if (parse_dump(xml, thin->device_id, (span + chunk - 1) / chunk, &d, why, sizeof(why)) < 0) {
		set_why(j, "dump_error", why);
		r->meta = EXPLORE_META_UNREADABLE;
		goto out;
	}
	json_object_set_new(j, "superblock_transaction", json_integer((json_int_t)d.transaction));
	json_object_set_new(j, "mappings", json_integer((json_int_t)d.n));
	/* What lvm2 and dm-thin refuse to activate: a chunk size other than the VG's
	 * (dm-thin: "changing the data block size ... is not supported"); a transaction
	 * id other than the VG's, unless it is one behind and the VG queues messages
	 * (libdm-deptree.c _thin_pool_node_send_messages: "Thin pool ... transaction_id is
	 * ..., while expected ..."); a thin device the metadata does not hold. vgchange
	 * -ay does not send the queued messages before it loads the thin LV, so a queued
	 * create does not make the device, nor a queued delete remove it: the guest's
	 * kernel failed to load a thin LV whose create was queued but not in the metadata
	 * (ENODATA), and read a device the metadata held, its create queued again, as the
	 * metadata has it (test_explore_lvm.sh's cross-check, on the rig's setup states). */
	bool replay = d.transaction + 1 == pool->transaction_id && pool->nmessages;
	if (replay)
		json_object_set_new(j, "queued_messages", json_integer((json_int_t)pool->nmessages));
	if (d.chunk_bytes != chunk)
		snprintf(why, sizeof(why), "the pool's chunk is %" PRIu64 " bytes in its "
			 "metadata, %" PRIu64 " in the VG", d.chunk_bytes, chunk);
	else if (d.transaction != pool->transaction_id && !replay)
		snprintf(why, sizeof(why), "the pool's transaction_id is %" PRIu64 ", the VG "
			 "expects %" PRIu64, d.transaction, pool->transaction_id);
	else if (!d.device_seen)
		snprintf(why, sizeof(why), "the pool's metadata has no thin device %" PRIu64,
			 thin->device_id);
	if (*why) {
		set_why(j, "activation_error", why);
		r->meta = EXPLORE_META_UNREADABLE;
		goto out;
	}
	if ((rc = assemble(rd, ctx, tdata, &d, span, img, why, sizeof(why), &ours)) < 0) {
		if (ours)
			goto host_fault;
		rc = 0;
		set_why(j, "read_error", why);
		r->meta = EXPLORE_META_UNREADABLE;
		goto out;
	}
	r->readable = true;
	goto out;
host_fault:
	/* The host's own disk failed (full, read-only): that says nothing of the state,
	 * and every later state would fail alike. No verdict; the exploration stops, as
	 * when thin_check cannot run. */
	r->meta = EXPLORE_META_UNREADABLE;
	pc_err(LOG_CHECK, "%s", why);
out:
	lvmpv_free(&vg);
	free(d.m);
	unlink(tmeta_path);
	unlink(xml);
	r->json = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return rc;
}

void thin_state_release(struct thin_state *r)
{
	free(r->json);
	r->json = NULL;
}
