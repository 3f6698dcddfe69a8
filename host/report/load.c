/* Reading campaign databases into the report model (report.h). Every query the
 * report makes is in this file. */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "store.h"

const struct oracle_class report_tax[REPORT_NTAX] = { REPORT_TAXONOMY(ORACLE_CLASS_ROW) };

/* A growable array of fixed-size elements. */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t nc = *cap ? *cap * 2 : 64;
	while (nc < need)
		nc *= 2;
	void *q = realloc(p, nc * elem);
	if (!q)
		return NULL;
	memset((char *)q + *cap * elem, 0, (nc - *cap) * elem);
	*cap = nc;
	return q;
}

static char *col_strdup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return strdup(t ? (const char *)t : "");
}

static json_t *col_json(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	json_t *j = t ? json_loads(t, 0, NULL) : NULL;
	return j && json_is_object(j) ? j : (json_decref(j), json_object());
}

struct loader {
	struct report *r;
	size_t cap_campaigns, cap_cycles, cap_units;
	const char *path;
	sqlite3 *db;
	size_t db_index;
	size_t first_campaign, first_cycle;	/* this database's rows start here */
};

static int sql_fail(struct loader *l, const char *what)
{
	pc_err(LOG_REPORT, "cannot read %s from database '%s': %s", what, l->path,
	       sqlite3_errmsg(l->db));
	return -EIO;
}

static bool table_exists(struct loader *l, const char *name)
{
	sqlite3_stmt *s;
	bool yes = false;

	if (sqlite3_prepare_v2(l->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
			       "name = ?", -1, &s, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	yes = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return yes;
}

/* Index of the campaign with this id in this database (ids ascend), or SIZE_MAX. */
static size_t find_campaign(struct loader *l, int64_t id)
{
	size_t lo = l->first_campaign, hi = l->r->n_campaigns;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->r->campaigns[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->r->n_campaigns && l->r->campaigns[lo].id == id ? lo : SIZE_MAX;
}

static size_t find_cycle(struct loader *l, int64_t id)
{
	size_t lo = l->first_cycle, hi = l->r->n_cycles;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->r->cycles[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->r->n_cycles && l->r->cycles[lo].id == id ? lo : SIZE_MAX;
}

static int load_campaigns(struct loader *l)
{
	struct report *r = l->r;
	sqlite3_stmt *s;
	int rc;

	/* Cycles and results of a campaign left out find no campaign and are skipped. */
	if (sqlite3_prepare_v2(l->db, "SELECT id, bench, status, config_text, config_json, "
			       "config_hash, versions_json, created_wall_ns FROM campaigns "
			       "WHERE ?1 = 0 OR id = ?1 ORDER BY id", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(l, "campaigns");
	sqlite3_bind_int64(s, 1, r->opts.campaign);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!(r->campaigns = grow(r->campaigns, &l->cap_campaigns, r->n_campaigns + 1,
					  sizeof(*r->campaigns)))) {
			sqlite3_finalize(s);
			return -ENOMEM;
		}
		struct report_campaign *c = &r->campaigns[r->n_campaigns++];
		c->db = l->db_index;
		c->id = sqlite3_column_int64(s, 0);
		c->bench = col_strdup(s, 1);
		c->status = col_strdup(s, 2);
		c->config_text = col_strdup(s, 3);
		c->config = col_json(s, 4);
		c->config_hash = col_strdup(s, 5);
		c->versions = col_json(s, 6);
		c->created_wall_ns = sqlite3_column_int64(s, 7);
		if (!c->bench || !c->status || !c->config_text || !c->config_hash) {
			sqlite3_finalize(s);
			return -ENOMEM;
		}
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return sql_fail(l, "campaigns");
	if (!table_exists(l, "oracle_campaign_token"))
		return 0;
	if (sqlite3_prepare_v2(l->db, "SELECT campaign, seed FROM oracle_campaign_token", -1, &s,
			       NULL) != SQLITE_OK)
		return sql_fail(l, "seeds");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t i = find_campaign(l, sqlite3_column_int64(s, 0));
		if (i != SIZE_MAX) {
			r->campaigns[i].has_seed = true;
			r->campaigns[i].seed = (uint64_t)sqlite3_column_int64(s, 1);
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : sql_fail(l, "seeds");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Cycles with their last cut (a scenario may cut more than once: the check measures
 * against the last), and one unit per disk of the campaign's config. */
static int load_cycles(struct loader *l)
{
	struct report *r = l->r;
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(l->db,
		"SELECT c.id, c.campaign_id, c.idx, c.status, c.started_mono_ns, c.finished_mono_ns,"
		" c.started_wall_ns, e.kind, e.timed_by, e.seed, e.relay_off_mono_ns,"
		" e.relay_on_mono_ns, e.pwrok_fall_mono_ns, e.pwrok_rise_mono_ns, e.hold_up_ns,"
		" e.uncertainty_ns, e.id IS NOT NULL"
		" FROM cycles c LEFT JOIN cut_events e ON e.id ="
		" (SELECT max(id) FROM cut_events WHERE cycle_id = c.id)"
		" ORDER BY c.id", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(l, "cycles");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t ci = find_campaign(l, sqlite3_column_int64(s, 1));
		if (ci == SIZE_MAX)
			continue;	/* foreign key off and a dangling cycle: nothing to key it by */
		if (!(r->cycles = grow(r->cycles, &l->cap_cycles, r->n_cycles + 1, sizeof(*r->cycles)))) {
			sqlite3_finalize(s);
			return -ENOMEM;
		}
		size_t cyi = r->n_cycles++;
		struct report_cycle *c = &r->cycles[cyi];
		c->campaign = ci;
		c->id = sqlite3_column_int64(s, 0);
		c->idx = sqlite3_column_int64(s, 2);
		if (!(c->status = col_strdup(s, 3))) {
			sqlite3_finalize(s);
			return -ENOMEM;
		}
		c->started_mono_ns = sqlite3_column_int64(s, 4);
		c->finished_mono_ns = sqlite3_column_int64(s, 5);
		c->started_wall_ns = sqlite3_column_int64(s, 6);
		c->have_cut = sqlite3_column_int(s, 16);
		if (c->have_cut) {
			const char *k = (const char *)sqlite3_column_text(s, 7);
			const char *t = (const char *)sqlite3_column_text(s, 8);
			snprintf(c->cut_kind, sizeof(c->cut_kind), "%s", k ? k : "");
			snprintf(c->timed_by, sizeof(c->timed_by), "%s", t ? t : "");
			c->cut_seed = sqlite3_column_int64(s, 9);
			c->relay_off_ns = sqlite3_column_int64(s, 10);
			c->relay_on_ns = sqlite3_column_int64(s, 11);
			c->pwrok_fall_ns = sqlite3_column_int64(s, 12);
			c->pwrok_rise_ns = sqlite3_column_int64(s, 13);
			c->hold_up_ns = sqlite3_column_int64(s, 14);
			c->uncertainty_ns = sqlite3_column_int64(s, 15);
		}
		/* One unit per disk, numbered as the node numbers them: by name, sorted. */
		json_t *disks = json_object_get(r->campaigns[ci].config, "disks");
		const char *names[64], *name;
		json_t *d;
		size_t nd = 0;
		json_object_foreach(disks, name, d)
			if (nd < 64)
				names[nd++] = name;
		qsort(names, nd, sizeof(names[0]), cmp_str);
		for (size_t k = 0; k < nd; k++) {
			if (!(r->units = grow(r->units, &l->cap_units, r->n_units + 1, sizeof(*r->units)))) {
				sqlite3_finalize(s);
				return -ENOMEM;
			}
			struct report_unit *u = &r->units[r->n_units++];
			u->cycle = cyi;
			u->cell = SIZE_MAX;
			u->disk = names[k];
			u->disk_id = (uint32_t)k + 1;
			u->drive = SIZE_MAX;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : sql_fail(l, "cycles");
}

/* The units of a cycle are contiguous and ordered by disk id. */
static struct report_unit *unit_of(struct report *r, size_t *first, size_t cycle, uint32_t disk_id)
{
	/* Units were appended in cycle order: bisect for the cycle's first unit. */
	size_t lo = *first, hi = r->n_units;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->units[mid].cycle < cycle)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < r->n_units && r->units[i].cycle == cycle; i++)
		if (r->units[i].disk_id == disk_id)
			return &r->units[i];
	return NULL;
}

static struct report_unit *unit_by_name(struct report *r, size_t *first, size_t cycle,
				     const char *disk)
{
	size_t lo = *first, hi = r->n_units;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->units[mid].cycle < cycle)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < r->n_units && r->units[i].cycle == cycle; i++)
		if (!strcmp(r->units[i].disk, disk))
			return &r->units[i];
	return NULL;
}

static int load_results(struct loader *l, size_t first_unit)
{
	struct report *r = l->r;
	sqlite3_stmt *s;
	int rc;

	if (!r->dbs[l->db_index].has_oracle)
		return 0;
	/* Column order: the class columns in classes.h's order, then the rest. The
	 * exposure window is in its own table, absent from databases before schema 7. */
	bool xp = table_exists(l, "oracle_exposure");
	char sql[1024];
	snprintf(sql, sizeof(sql),
		"SELECT c.id, o.disk, o.blocks, " ORACLE_CLASS_QCOLUMNS "o.violations, o.anomalies,"
		" o.gaps, o.since_flush_ns, o.have_flush, %s"
		" FROM oracle_cycle_result o JOIN cycles c ON c.campaign_id = o.campaign AND"
		" c.idx = o.cycle%s", xp ? "x.exposure_ns IS NOT NULL, x.exposure_ns" : "0, 0",
		xp ? " LEFT JOIN oracle_exposure x ON x.campaign = o.campaign AND x.cycle = o.cycle"
		     " AND x.disk = o.disk" : "");
	if (sqlite3_prepare_v2(l->db, sql, -1, &s, NULL) != SQLITE_OK)
		return sql_fail(l, "oracle results");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t cy = find_cycle(l, sqlite3_column_int64(s, 0));
		struct report_unit *u = cy == SIZE_MAX ? NULL :
			unit_of(r, &first_unit, cy, (uint32_t)sqlite3_column_int64(s, 1));
		if (!u)
			continue;
		u->verified = true;
		u->blocks = (uint64_t)sqlite3_column_int64(s, 2);
		for (int k = 0; k < CLS__COUNT; k++)
			u->cls[k] = (uint64_t)sqlite3_column_int64(s, 3 + k);
		int i = 3 + CLS__COUNT;		/* the column after the classes' */
		u->violations = (uint64_t)sqlite3_column_int64(s, i++);
		u->anomalies = (uint64_t)sqlite3_column_int64(s, i++);
		u->gaps = (uint64_t)sqlite3_column_int64(s, i++);
		u->since_flush_ns = sqlite3_column_int64(s, i++);
		u->have_flush = sqlite3_column_int(s, i++);
		u->have_exposure = sqlite3_column_int(s, i++);
		u->exposure_ns = sqlite3_column_int64(s, i);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : sql_fail(l, "oracle results");
}

/* The file findings per cycle, disk and class: the names from classes.h (after a
 * NULL, which matches nothing, so that each name brings its own comma). */
#define X(id, name, title, viol, counts) ", '" name "'"
static const char file_findings_sql[] = "SELECT cycle_id, disk, class, COUNT(*) FROM findings"
	" WHERE class IN (NULL" ORACLE_FILE_CLASSES(X) ") GROUP BY cycle_id, disk, class";
#undef X

/* Files workload disks (docs/oracle.md, "File systems"): their file_oracle check row
 * says the disk was classified (and whether it synced anything); the file classes
 * are findings, one per file. */
static int load_fs(struct loader *l, size_t first_unit)
{
	struct report *r = l->r;
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(l->db, "SELECT cycle_id, disk, json_extract(detail_json, '$.syncs')"
			       " FROM checks WHERE kind = 'file_oracle'", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(l, "file oracle checks");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t cy = find_cycle(l, sqlite3_column_int64(s, 0));
		const char *disk = (const char *)sqlite3_column_text(s, 1);
		struct report_unit *u = cy == SIZE_MAX || !disk ? NULL : unit_by_name(r, &first_unit, cy, disk);
		if (!u)
			continue;
		u->fs = u->verified = true;
		u->have_flush = sqlite3_column_int64(s, 2) > 0;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return sql_fail(l, "file oracle checks");
	if (sqlite3_prepare_v2(l->db, file_findings_sql, -1, &s, NULL) != SQLITE_OK)
		return sql_fail(l, "file findings");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t cy = find_cycle(l, sqlite3_column_int64(s, 0));
		const char *disk = (const char *)sqlite3_column_text(s, 1);
		const char *cls = (const char *)sqlite3_column_text(s, 2);
		struct report_unit *u = cy == SIZE_MAX || !disk ? NULL : unit_by_name(r, &first_unit, cy, disk);
		int k = cls ? fsv_class_parse(cls) : -EINVAL;
		if (!u || k < 0)
			continue;
		u->files[k] += (uint64_t)sqlite3_column_int64(s, 3);
		/* the rollback SQLite documents is not a violation */
		if (fsv_class_info(k)->violation == ORACLE_YES)
			u->violations += (uint64_t)sqlite3_column_int64(s, 3);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : sql_fail(l, "file findings");
}

const char *const report_drive_verdicts[5] = { "counted", "not-counted", "no-counter",
					     "no-power-cut", "no-data" };

static char *jdup(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return strdup(s ? s : "");
}

/* The drive under a unit's disk, from its smart check (docs/node.md): the same disk,
 * model, firmware and serial are one drive. */
static int smart_check(struct report *r, struct report_unit *u, const char *res, const char *detail)
{
	json_t *d = detail ? json_loads(detail, 0, NULL) : NULL;
	json_t *a = json_object_get(d, "after");

	if (!a || !json_string_value(json_object_get(a, "model")))
		a = json_object_get(d, "before");
	const char *model = json_string_value(json_object_get(a, "model"));
	const char *fw = json_string_value(json_object_get(a, "firmware"));
	const char *serial = json_string_value(json_object_get(a, "serial"));
	size_t i;
	for (i = 0; i < r->n_drives; i++) {
		struct report_drive *v = &r->drives[i];
		if (!strcmp(v->disk, u->disk) && !strcmp(v->model, model ? model : "") &&
		    !strcmp(v->firmware, fw ? fw : "") && !strcmp(v->serial, serial ? serial : ""))
			break;
	}
	if (i == r->n_drives) {
		struct report_drive *p = realloc(r->drives, (r->n_drives + 1) * sizeof(*p));
		if (!p) {
			json_decref(d);
			return -ENOMEM;
		}
		r->drives = p;
		struct report_drive *v = &p[r->n_drives++];
		memset(v, 0, sizeof(*v));
		v->disk = strdup(u->disk);
		v->protocol = jdup(a, "protocol");
		v->model = jdup(a, "model");
		v->firmware = jdup(a, "firmware");
		v->serial = jdup(a, "serial");
		v->write_cache = jdup(a, "write_cache");
		if (!v->disk || !v->protocol || !v->model || !v->firmware || !v->serial ||
		    !v->write_cache) {
			json_decref(d);
			return -ENOMEM;
		}
	}
	r->drives[i].cycles++;
	for (int k = 0; k < 5; k++)
		if (!strcmp(res, report_drive_verdicts[k]))
			r->drives[i].verdicts[k]++;
	u->drive = i;
	json_decref(d);
	return 0;
}

/* Metadata checks (qemu-img check, thin_check, lvs, zpool): "corrupt" and "fail" cannot
 * be repaired; "repaired" and "leaks" are the refcount leaks lazy_refcounts leaves. The
 * smart check is the drive's testimony, not a metadata check. */
static int load_checks(struct loader *l, size_t first_unit)
{
	struct report *r = l->r;
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(l->db, "SELECT cycle_id, disk, result, kind, detail_json FROM checks"
			       " ORDER BY cycle_id", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(l, "checks");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t cy = find_cycle(l, sqlite3_column_int64(s, 0));
		const char *disk = (const char *)sqlite3_column_text(s, 1);
		const char *res = (const char *)sqlite3_column_text(s, 2);
		struct report_unit *u = cy == SIZE_MAX || !disk ? NULL :
			unit_by_name(r, &first_unit, cy, disk);
		if (!u || !res)
			continue;
		const char *kind = (const char *)sqlite3_column_text(s, 3);
		if (kind && !strcmp(kind, "smart")) {
			if (smart_check(r, u, res, (const char *)sqlite3_column_text(s, 4)) < 0) {
				sqlite3_finalize(s);
				return -ENOMEM;
			}
			continue;
		}
		u->checked = true;
		if (!strcmp(res, "corrupt") || !strcmp(res, "fail"))
			u->meta_failure = true;
		else if (!strcmp(res, "repaired") || !strcmp(res, "leaks"))
			u->meta_repaired = true;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : sql_fail(l, "checks");
}

/* Disks on which every block the cycle wrote read back as zeroes (the finding
 * image_reads_as_zeroes, scenarios without a baseline; older databases have none). */
static int load_zeroes(struct loader *l, size_t first_unit)
{
	struct report *r = l->r;
	sqlite3_stmt *s;
	int rc;

	if (!table_exists(l, "findings"))
		return 0;
	if (sqlite3_prepare_v2(l->db, "SELECT cycle_id, disk FROM findings WHERE block = -1 AND "
			       "class = 'image_reads_as_zeroes'", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(l, "findings");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t cy = find_cycle(l, sqlite3_column_int64(s, 0));
		const char *disk = (const char *)sqlite3_column_text(s, 1);
		struct report_unit *u = cy == SIZE_MAX || !disk ? NULL :
			unit_by_name(r, &first_unit, cy, disk);
		if (u)
			u->all_zeroes = true;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : sql_fail(l, "findings");
}

static int load_one(struct loader *l)
{
	struct report *r = l->r;
	struct report_db *d = &r->dbs[l->db_index];
	struct store *st = store_open(l->path, STORE_READONLY);
	int rc;

	if (!st)
		return -errno;
	l->db = store_db(st);
	d->schema = store_schema_version(st);
	d->has_oracle = table_exists(l, "oracle_cycle_result");
	l->first_campaign = r->n_campaigns;
	l->first_cycle = r->n_cycles;
	size_t first_unit = r->n_units;
	if ((rc = load_campaigns(l)) < 0 || (rc = load_cycles(l)) < 0 ||
	    (rc = load_results(l, first_unit)) < 0 || (rc = load_checks(l, first_unit)) < 0 ||
	    (rc = load_zeroes(l, first_unit)) < 0 ||
	    (rc = load_fs(l, first_unit)) < 0)
		goto out;
	pc_debug(LOG_REPORT, "database '%s': %zu campaigns, %zu cycles", l->path,
		 r->n_campaigns - l->first_campaign, r->n_cycles - l->first_cycle);
out:
	store_close(st);
	return rc;
}

struct report *report_load(char *const *paths, size_t n, const struct report_options *o)
{
	struct report *r = calloc(1, sizeof(*r));
	struct loader l = { .r = r };
	int rc = -ENOMEM;

	if (!r)
		return NULL;
	r->opts = *o;
	r->generated_wall_ns = clock_wall_ns();
	if (!(r->dbs = calloc(n ? n : 1, sizeof(*r->dbs))))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (!(r->dbs[i].path = strdup(paths[i])))
			goto fail;
		r->n_dbs++;
		l.path = paths[i];
		l.db_index = i;
		if ((rc = load_one(&l)) < 0)
			goto fail;
	}
	if ((rc = report_analyze(r)) < 0 || (rc = report_explored_load(r)) < 0)
		goto fail;
	return r;
fail:
	report_free(r);
	errno = -rc;
	return NULL;
}

void report_free(struct report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_cells; i++) {
		struct report_cell *c = &r->cells[i];
		free(c->key);
		free(c->bench);
		free(c->cut);
		free(c->node);
		free(c->disk);
		free(c->disk_kind);
		free(c->format);
		free(c->cache);
		free(c->workload);
		free(c->flush);
		free(c->drive);
		free(c->scenario);
		free(c->fs);
	}
	free(r->cells);
	free(r->explored);
	free(r->units);
	for (size_t i = 0; i < r->n_drives; i++) {
		struct report_drive *v = &r->drives[i];
		free(v->disk);
		free(v->protocol);
		free(v->model);
		free(v->firmware);
		free(v->serial);
		free(v->write_cache);
	}
	free(r->drives);
	for (size_t i = 0; i < r->n_cycles; i++)
		free(r->cycles[i].status);
	free(r->cycles);
	for (size_t i = 0; i < r->n_campaigns; i++) {
		struct report_campaign *c = &r->campaigns[i];
		free(c->bench);
		free(c->status);
		free(c->config_text);
		free(c->config_hash);
		json_decref(c->config);
		json_decref(c->versions);
	}
	free(r->campaigns);
	for (size_t i = 0; i < r->n_dbs; i++)
		free(r->dbs[i].path);
	free(r->dbs);
	free(r);
}
