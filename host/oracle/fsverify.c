/* The file oracle; see fsverify.h and docs/oracle.md, "File systems". */
#include "fsverify.h"
#include "ledger.h"
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* What the acknowledgements promise of one file id. */
struct fstate {
	uint32_t file;
	uint64_t length;
	uint32_t digest;
	uint64_t *chunk_seq;		/* per chunk, the newest acknowledged writer */
	size_t nchunks;
	uint64_t last_seq;
	char tmpname[FREC_NAME_MAX + 1];	/* PREPARE's name */
};

/* A durable name: made so by a CREATE or RENAME acknowledged with a directory sync. */
struct dname {
	char name[FREC_NAME_MAX + 1];
	uint32_t file;
	uint64_t seq;			/* the acknowledgement that made it durable */
	uint32_t prev_file;		/* what the name held before a RENAME replaced it (0) */
	char from[FREC_NAME_MAX + 1];	/* RENAME: the temporary name */
};

struct ctx {
	struct fstate *files;
	size_t nfiles;
	struct dname *names;
	size_t nnames;
	struct fsv_result *res;
};

static int cmp_seq(const void *a, const void *b)
{
	const struct fsv_ack *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static struct fstate *file_get(struct ctx *x, uint32_t file)
{
	for (size_t i = 0; i < x->nfiles; i++)
		if (x->files[i].file == file)
			return &x->files[i];
	struct fstate *n = realloc(x->files, (x->nfiles + 1) * sizeof(*n));
	if (!n)
		return NULL;
	x->files = n;
	n += x->nfiles++;
	*n = (struct fstate){ .file = file };
	return n;
}

static struct dname *name_find(struct ctx *x, const char *name)
{
	for (size_t i = 0; i < x->nnames; i++)
		if (!strcmp(x->names[i].name, name))
			return &x->names[i];
	return NULL;
}

static struct dname *name_get(struct ctx *x, const char *name)
{
	struct dname *d = name_find(x, name);
	if (d)
		return d;
	d = realloc(x->names, (x->nnames + 1) * sizeof(*d));
	if (!d)
		return NULL;
	x->names = d;
	d += x->nnames++;
	*d = (struct dname){ 0 };
	snprintf(d->name, sizeof(d->name), "%s", name);
	return d;
}

static int apply(struct ctx *x, const struct fsv_ack *a)
{
	if (a->op == FS_OP_COMMIT) {
		x->res->commits++;
		return 0;	/* check_sql() */
	}
	struct fstate *f = file_get(x, a->file);
	if (!f)
		return -ENOMEM;
	uint64_t end = (a->offset + a->nbytes + FREC_CHUNK - 1) / FREC_CHUNK;
	if (a->op != FS_OP_RENAME && end > f->nchunks) {
		uint64_t *n = realloc(f->chunk_seq, end * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memset(n + f->nchunks, 0, (end - f->nchunks) * sizeof(*n));
		f->chunk_seq = n;
		f->nchunks = end;
	}
	if (a->op != FS_OP_RENAME) {
		for (uint64_t c = a->offset / FREC_CHUNK; c < end; c++)
			f->chunk_seq[c] = a->seq;
		f->length = a->length;
		f->digest = a->digest;
	}
	f->last_seq = a->seq;
	struct dname *d;
	switch (a->op) {
	case FS_OP_PREPARE:
		snprintf(f->tmpname, sizeof(f->tmpname), "%s", a->name);
		return 0;
	case FS_OP_CREATE:
	case FS_OP_RENAME:
		if (!a->dirsync)
			return 0;	/* the name is not durable (yet) */
		if (!(d = name_get(x, a->name)))
			return -ENOMEM;
		d->prev_file = d->file != a->file ? d->file : d->prev_file;
		d->file = a->file;
		d->seq = a->seq;
		snprintf(d->from, sizeof(d->from), "%s", a->op == FS_OP_RENAME ? f->tmpname : "");
		return 0;
	case FS_OP_APPEND:
	case FS_OP_OVERWRITE:
		return 0;
	}
	pc_err(LOG_CHECK, "file acknowledgement %llu has an unknown operation %u",
		 (unsigned long long)a->seq, a->op);
	return -EINVAL;
}

static int add(struct ctx *x, enum fsv_class cls, const char *name, uint64_t seq,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int add(struct ctx *x, enum fsv_class cls, const char *name, uint64_t seq,
	       const char *fmt, ...)
{
	struct fsv_result *r = x->res;
	struct fsv_finding *n = realloc(r->findings, (r->nfindings + 1) * sizeof(*n));
	va_list ap;

	if (!n)
		return -ENOMEM;
	r->findings = n;
	n += r->nfindings++;
	*n = (struct fsv_finding){ .cls = cls, .ack_seq = seq };
	snprintf(n->name, sizeof(n->name), "%s", name);
	va_start(ap, fmt);
	vsnprintf(n->detail, sizeof(n->detail), fmt, ap);
	va_end(ap);
	r->counts[cls]++;
	if (cls != FSV_COMMIT_LOST_ALLOWED)
		r->violations++;
	return 0;
}

static const struct fsv_file *seen_find(const struct fsv_seen *s, const char *name)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (!strcmp(s->files[i].name, name))
			return &s->files[i];
	return NULL;
}

/* The file id a found file's chunks name (the first record run's), 0 if none. */
static uint32_t seen_file_id(const struct fsv_file *f)
{
	for (size_t i = 0; i < f->nruns; i++)
		if (f->runs[i].kind == FREC_RECORD)
			return f->runs[i].file;
	return 0;
}

static const struct fsv_file *seen_holding(const struct fsv_seen *s, uint32_t file)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (seen_file_id(&s->files[i]) == file)
			return &s->files[i];
	return NULL;
}

/* Every record run of f was written after seq (a newer, unacknowledged operation). */
static bool all_newer(const struct fsv_file *f, uint64_t seq)
{
	bool any = false;
	for (size_t i = 0; i < f->nruns; i++) {
		if (f->runs[i].kind != FREC_RECORD || f->runs[i].seq <= seq)
			return false;
		any = true;
	}
	return any;
}

static const char *const kind_names[] = { "record", "zero", "garbage", "foreign" };

static int check_content(struct ctx *x, const struct dname *d, const struct fstate *st,
			 const struct fsv_file *f)
{
	bool exact = f->length == st->length;
	if (f->length < st->length)
		return add(x, FSV_FILE_DAMAGED, d->name, st->last_seq,
			   "length %llu, synced %llu", (unsigned long long)f->length,
			   (unsigned long long)st->length);
	for (uint64_t c = 0; c < st->nchunks && c * FREC_CHUNK < st->length; c++) {
		const struct fsv_run *r = NULL;
		for (size_t i = 0; i < f->nruns && !r; i++)
			if (c >= f->runs[i].first && c < f->runs[i].first + f->runs[i].n)
				r = &f->runs[i];
		if (!r)
			return add(x, FSV_FILE_DAMAGED, d->name, st->chunk_seq[c],
				   "chunk %llu missing from the report", (unsigned long long)c);
		if (r->kind != FREC_RECORD)
			return add(x, FSV_FILE_DAMAGED, d->name, st->chunk_seq[c],
				   "chunk %llu reads %s, synced by operation %llu",
				   (unsigned long long)c, kind_names[r->kind],
				   (unsigned long long)st->chunk_seq[c]);
		if (r->file != st->file)
			return add(x, FSV_FILE_DAMAGED, d->name, st->chunk_seq[c],
				   "chunk %llu holds file %u's data", (unsigned long long)c, r->file);
		if (r->seq < st->chunk_seq[c])
			return add(x, FSV_FILE_DAMAGED, d->name, st->chunk_seq[c],
				   "chunk %llu reads operation %llu, synced by operation %llu",
				   (unsigned long long)c, (unsigned long long)r->seq,
				   (unsigned long long)st->chunk_seq[c]);
		exact = exact && r->seq == st->chunk_seq[c];
	}
	/* The very state that was synced: its digest must be the acknowledged one. */
	if (exact && f->digest != st->digest)
		return add(x, FSV_FILE_DAMAGED, d->name, st->last_seq,
			   "digest %08x, synced %08x", f->digest, st->digest);
	return 0;
}

static int check_name(struct ctx *x, const struct fsv_seen *s, const struct dname *d)
{
	const struct fstate *st = file_get(x, d->file);
	const struct fsv_file *f = seen_find(s, d->name), *o;
	if (!st)
		return -ENOMEM;
	if (!f) {
		if (d->from[0] && (o = seen_find(s, d->from)) && seen_file_id(o) == d->file)
			return add(x, FSV_NAME_LOST, d->name, d->seq,
				   "renamed from '%s' with a directory sync; '%s' is still there",
				   d->from, d->from);
		if ((o = seen_holding(s, d->file)))
			return add(x, FSV_NAME_LOST, d->name, d->seq,
				   "its content is found as '%s'", o->name);
		return add(x, FSV_FILE_LOST, d->name, d->seq, "made durable by operation %llu (%s)",
			   (unsigned long long)d->seq, d->from[0] ? "rename" : "create");
	}
	uint32_t id = seen_file_id(f);
	if (id && id != d->file) {
		/* A later rename over the name, never acknowledged: allowed. */
		if (all_newer(f, st->last_seq > d->seq ? st->last_seq : d->seq))
			return 0;
		if (id == d->prev_file)
			return add(x, FSV_NAME_LOST, d->name, d->seq,
				   "holds file %u again, the one the rename of operation %llu replaced",
				   id, (unsigned long long)d->seq);
		return add(x, FSV_FILE_DAMAGED, d->name, d->seq, "holds file %u, synced file %u",
			   id, d->file);
	}
	return check_content(x, d, st, f);
}

static bool sql_has(const struct fsv_sql *q, uint64_t id)
{
	for (size_t i = 0; i < q->nids; i++)
		if (id >= q->ids[i][0] && id <= q->ids[i][1])
			return true;
	return false;
}

/* The sqlite workload: the database must open and pass integrity_check, and every
 * acknowledged commit must be there, except the last ones where SQLite documents that
 * they may roll back after a power loss, allowed when what is lost is a suffix of the
 * commits, never a hole:
 *  - WAL with synchronous=NORMAL: "A transaction committed in WAL mode with
 *    synchronous=NORMAL might roll back following a power loss or system crash";
 *  - DELETE with FULL or NORMAL: a commit is the journal's unlink, and only EXTRA
 *    syncs the directory after it ("EXTRA provides additional durability if the commit
 *    is followed closely by a power loss"); the journal left behind rolls the last
 *    transaction back.
 * WAL with FULL or EXTRA, and DELETE with EXTRA, must keep every commit. */
static int check_sql(struct ctx *x, const struct fsv_ack *acks, size_t nacks, const struct fsv_sql *q)
{
	uint64_t max_present = 0, lost = 0, first_lost = 0, min_lost = UINT64_MAX;
	bool may_roll_back = false;
	const char *why = "";
	int rc;

	if (!q->opened)
		return add(x, FSV_DB_CORRUPT, "", 0, "cannot be opened: %s", q->integrity);
	if (strcmp(q->integrity, "ok") &&
	    (rc = add(x, FSV_DB_CORRUPT, "", 0, "integrity_check: %s", q->integrity)))
		return rc;
	if (q->bad_rows && (rc = add(x, FSV_DB_CORRUPT, "", 0, "%llu rows do not match their id",
				     (unsigned long long)q->bad_rows)))
		return rc;
	for (size_t i = 0; i < q->nids; i++)
		if (q->ids[i][1] > max_present)
			max_present = q->ids[i][1];
	for (size_t i = 0; i < nacks; i++) {
		const struct fsv_ack *a = &acks[i];
		if (a->op != FS_OP_COMMIT)
			continue;
		if (a->offset == FS_JOURNAL_WAL) {
			may_roll_back = a->sync == FS_SYNC_SQLITE_NORMAL;
			why = "WAL, synchronous=NORMAL";
		} else {
			may_roll_back = a->sync != FS_SYNC_SQLITE_EXTRA;
			why = a->sync == FS_SYNC_SQLITE_NORMAL ? "DELETE, synchronous=NORMAL" :
			      "DELETE, synchronous=FULL: the journal's unlink is not synced";
		}
		if (sql_has(q, a->seq))
			continue;
		if (!lost++)
			first_lost = a->seq;
		if (a->seq < min_lost)
			min_lost = a->seq;
	}
	if (!lost)
		return 0;
	if (may_roll_back && min_lost > max_present)
		return add(x, FSV_COMMIT_LOST_ALLOWED, "", first_lost,
			   "the last %llu acknowledged commits rolled back (%s)",
			   (unsigned long long)lost, why);
	return add(x, FSV_COMMIT_LOST, "", first_lost,
		   "%llu acknowledged commits missing, the first transaction %llu%s",
		   (unsigned long long)lost, (unsigned long long)first_lost,
		   may_roll_back ? " (a hole: not the rollback of the last commits SQLite allows)" : "");
}

int fsv_classify(const struct fsv_ack *acks, size_t nacks, const struct fsv_seen *seen,
		 struct fsv_result *res)
{
	struct ctx x = { .res = res };
	struct fsv_ack *sorted = NULL;
	int rc = 0;

	*res = (struct fsv_result){ 0 };
	if (nacks && !(sorted = malloc(nacks * sizeof(*sorted))))
		return -ENOMEM;
	if (nacks) {
		memcpy(sorted, acks, nacks * sizeof(*sorted));
		qsort(sorted, nacks, sizeof(*sorted), cmp_seq);
	}
	for (size_t i = 0; i < nacks && !rc; i++)
		rc = apply(&x, &sorted[i]);
	res->names = x.nnames;
	if (!rc && seen->fsck_rc != 0)
		rc = add(&x, FSV_FSCK_ERRORS, "", 0, "%s exit status %d", seen->tool, seen->fsck_rc);
	if (!rc && !seen->mounted)
		rc = add(&x, FSV_UNMOUNTABLE, "", 0, "%s could not be mounted", seen->fs);
	for (size_t i = 0; i < x.nnames && !rc && seen->mounted; i++)
		rc = check_name(&x, seen, &x.names[i]);
	if (!rc && seen->mounted && seen->sql.present)
		rc = check_sql(&x, sorted, nacks, &seen->sql);
	for (size_t i = 0; i < x.nfiles; i++)
		free(x.files[i].chunk_seq);
	free(x.files);
	free(x.names);
	free(sorted);
	if (rc)
		fsv_result_free(res);
	return rc;
}

void fsv_result_free(struct fsv_result *res)
{
	free(res->findings);
	*res = (struct fsv_result){ 0 };
}

/* --- the fscheck report ------------------------------------------------------------ */

static int bad_line(const char *what, size_t line, const char *why)
{
	pc_err(LOG_CHECK, "'%s' line %zu: %s", what, line, why);
	return -EINVAL;
}

static int parse_file(json_t *o, struct fsv_file *f)
{
	json_t *runs = json_object_get(o, "runs"), *r;
	const char *name = json_string_value(json_object_get(o, "name"));
	size_t i;

	if (!name || strlen(name) > FREC_NAME_MAX || !json_is_integer(json_object_get(o, "length")) ||
	    !json_is_integer(json_object_get(o, "digest")) || !json_is_array(runs))
		return -EINVAL;
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->length = (uint64_t)json_integer_value(json_object_get(o, "length"));
	f->digest = (uint32_t)json_integer_value(json_object_get(o, "digest"));
	f->nruns = json_array_size(runs);
	if (f->nruns && !(f->runs = calloc(f->nruns, sizeof(*f->runs))))
		return -ENOMEM;
	json_array_foreach(runs, i, r) {
		struct fsv_run *x = &f->runs[i];
		const char *k = json_string_value(json_array_get(r, 2));
		if (!json_is_integer(json_array_get(r, 0)) || !json_is_integer(json_array_get(r, 1)) || !k)
			return -EINVAL;
		x->first = (uint64_t)json_integer_value(json_array_get(r, 0));
		x->n = (uint64_t)json_integer_value(json_array_get(r, 1));
		if (!strcmp(k, "record")) {
			x->kind = FREC_RECORD;
			if (!json_is_integer(json_array_get(r, 3)) || !json_is_integer(json_array_get(r, 4)))
				return -EINVAL;
			x->file = (uint32_t)json_integer_value(json_array_get(r, 3));
			x->seq = (uint64_t)json_integer_value(json_array_get(r, 4));
		} else if (!strcmp(k, "zero")) {
			x->kind = FREC_ZERO;
		} else if (!strcmp(k, "garbage")) {
			x->kind = FREC_GARBAGE;
		} else if (!strcmp(k, "foreign")) {
			x->kind = FREC_FOREIGN;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

int fsv_parse_report(FILE *f, const char *what, struct fsv_seen *seen)
{
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	bool head = false, end = false;
	int rc = 0;

	*seen = (struct fsv_seen){ .fsck_raw_rc = -1 };
	while (!rc && getline(&line, &cap, f) > 0) {
		lineno++;
		json_error_t err;
		json_t *o = json_loads(line, 0, &err);
		const char *type = o ? json_string_value(json_object_get(o, "type")) : NULL;
		if (!type) {
			rc = bad_line(what, lineno, o ? "no type" : "not JSON");
		} else if (!strcmp(type, "fscheck")) {
			const char *fs = json_string_value(json_object_get(o, "fs"));
			const char *tool = json_string_value(json_object_get(o, "tool"));
			json_t *frc = json_object_get(o, "fsck_rc");
			if (json_integer_value(json_object_get(o, "version")) != 1 || !fs || !tool ||
			    !json_is_integer(frc) || !json_is_boolean(json_object_get(o, "mounted")))
				rc = bad_line(what, lineno, "bad fscheck header (version 1 wants fs, tool, fsck_rc, mounted)");
			else {
				snprintf(seen->fs, sizeof(seen->fs), "%s", fs);
				snprintf(seen->tool, sizeof(seen->tool), "%s", tool);
				seen->fsck_rc = (int)json_integer_value(frc);
				if (json_is_integer(json_object_get(o, "fsck_raw_rc")))
					seen->fsck_raw_rc = (int)json_integer_value(json_object_get(o, "fsck_raw_rc"));
				seen->mounted = json_is_true(json_object_get(o, "mounted"));
				head = true;
			}
		} else if (!head) {
			rc = bad_line(what, lineno, "expected the fscheck header first");
		} else if (!strcmp(type, "file")) {
			struct fsv_file *n = realloc(seen->files, (seen->nfiles + 1) * sizeof(*n));
			if (!n) {
				rc = -ENOMEM;
			} else {
				seen->files = n;
				n += seen->nfiles++;
				*n = (struct fsv_file){ 0 };
				rc = parse_file(o, n);
				if (rc == -EINVAL)
					rc = bad_line(what, lineno, "bad file line (name, length, digest, runs)");
			}
		} else if (!strcmp(type, "sqlcheck")) {
			json_t *ids = json_object_get(o, "ids"), *r;
			const char *integ = json_string_value(json_object_get(o, "integrity"));
			size_t k;
			if (!json_is_boolean(json_object_get(o, "opened")) || !integ || !json_is_array(ids)) {
				rc = bad_line(what, lineno, "bad sqlcheck line (opened, integrity, ids)");
			} else {
				struct fsv_sql *q = &seen->sql;
				q->present = true;
				q->opened = json_is_true(json_object_get(o, "opened"));
				snprintf(q->integrity, sizeof(q->integrity), "%s", integ);
				q->bad_rows = (uint64_t)json_integer_value(json_object_get(o, "bad_rows"));
				q->nids = json_array_size(ids);
				if (q->nids && !(q->ids = calloc(q->nids, sizeof(*q->ids))))
					rc = -ENOMEM;
				json_array_foreach(ids, k, r) {
					if (rc)
						break;
					if (!json_is_integer(json_array_get(r, 0)) || !json_is_integer(json_array_get(r, 1)))
						rc = bad_line(what, lineno, "bad sqlcheck id run");
					else {
						q->ids[k][0] = (uint64_t)json_integer_value(json_array_get(r, 0));
						q->ids[k][1] = (uint64_t)json_integer_value(json_array_get(r, 1));
					}
				}
			}
		} else if (!strcmp(type, "end")) {
			end = true;
		} else {
			rc = bad_line(what, lineno, "unknown type");
		}
		json_decref(o);
	}
	free(line);
	if (!rc && !end)
		rc = bad_line(what, lineno, "report ends without its end line (cut short?)");
	if (rc)
		fsv_seen_free(seen);
	return rc;
}

void fsv_seen_free(struct fsv_seen *seen)
{
	for (size_t i = 0; i < seen->nfiles; i++)
		free(seen->files[i].runs);
	free(seen->files);
	seen->files = NULL;
	seen->nfiles = 0;
	free(seen->sql.ids);
	seen->sql.ids = NULL;
	seen->sql.nids = 0;
}

/* --- the ledger --------------------------------------------------------------------- */

int fsv_load_acks(sqlite3 *db, uint64_t campaign, uint32_t cycle, uint32_t disk,
		  struct fsv_ack **acks, size_t *nacks)
{
	int64_t phase = 0;
	sqlite3_stmt *st;
	int rc = ledger_cycle_phase(db, campaign, cycle, disk, &phase);

	*acks = NULL;
	*nacks = 0;
	if (rc < 0)
		return rc;
	if (sqlite3_prepare_v2(db, "SELECT seq, op, sync, dirsync, file, offset, nbytes, length,"
			       " digest, name FROM oracle_fileack WHERE campaign = ?1 AND cycle = ?2"
			       " AND disk = ?3" LEDGER_OWN_ROWS " ORDER BY seq", -1, &st, NULL) != SQLITE_OK) {
		pc_err(LOG_CHECK, "cannot read file acknowledgements: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)campaign);
	sqlite3_bind_int64(st, 2, cycle);
	sqlite3_bind_int64(st, 3, disk);
	if (rc == 1)
		sqlite3_bind_int64(st, 4, phase);
	rc = 0;
	int s;
	while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
		struct fsv_ack *n = realloc(*acks, (*nacks + 1) * sizeof(*n));
		if (!n) {
			rc = -ENOMEM;
			break;
		}
		*acks = n;
		n += (*nacks)++;
		*n = (struct fsv_ack){
			.seq = (uint64_t)sqlite3_column_int64(st, 0),
			.op = (unsigned)sqlite3_column_int(st, 1),
			.sync = (unsigned)sqlite3_column_int(st, 2),
			.dirsync = sqlite3_column_int(st, 3),
			.file = (uint32_t)sqlite3_column_int64(st, 4),
			.offset = (uint64_t)sqlite3_column_int64(st, 5),
			.nbytes = (uint64_t)sqlite3_column_int64(st, 6),
			.length = (uint64_t)sqlite3_column_int64(st, 7),
			.digest = (uint32_t)sqlite3_column_int64(st, 8),
		};
		const unsigned char *name = sqlite3_column_text(st, 9);
		snprintf(n->name, sizeof(n->name), "%s", name ? (const char *)name : "");
	}
	if (!rc && s != SQLITE_DONE) {
		pc_err(LOG_CHECK, "cannot read file acknowledgements: %s", sqlite3_errmsg(db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	if (rc) {
		free(*acks);
		*acks = NULL;
		*nacks = 0;
	}
	return rc;
}
