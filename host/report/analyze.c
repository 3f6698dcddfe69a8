/* Cells, statistics and controls: the model's derived half (report.h). */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : dflt;
}

static int64_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static bool jbool(json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

/* 131072 -> "128K": sizes as the bench config writes them. */
static void size_str(char *buf, size_t len, int64_t v)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (v >= 1024 && v % 1024 == 0 && u < 3) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRId64, v);
	else
		snprintf(buf, len, "%" PRId64 "%c", v, units[u]);
}

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

/* The cell's description fields and key, from a campaign's config. The key holds
 * every option that may change a disk's outcome; two observations pool only when
 * their keys are equal. */
static int cell_fields(struct report_cell *c, const struct report_campaign *cp, const char *disk,
		       const char *cut, const char *drive)
{
	json_t *cfg = cp->config, *d = json_object_get(json_object_get(cfg, "disks"), disk);
	json_t *n = json_object_get(cfg, "node"), *w = json_object_get(cfg, "workload");
	char kind[512], node[256], wl[320], fl[64], cs[32], bs[32], sp[32], sz[32];
	const char *fmt = jstr(d, "format", "?");

	size_str(cs, sizeof(cs), jint(d, "cluster_size"));
	size_str(sz, sizeof(sz), jint(d, "size"));
	if (!strcmp(fmt, "qcow2"))
		snprintf(kind, sizeof(kind), "qcow2 cluster=%s%s%s prealloc=%s%s size=%s", cs,
			 jbool(d, "extended_l2") ? " extended_l2" : "",
			 jbool(d, "lazy_refcounts") ? " lazy_refcounts" : "",
			 jstr(d, "preallocation", "off"), jbool(d, "backing") ? " backing" : "", sz);
	else if (!strcmp(fmt, "zvol")) {
		char vb[32];
		size_str(vb, sizeof(vb), jint(d, "volblocksize"));
		snprintf(kind, sizeof(kind), "zvol sync=%s volblocksize=%s%s slog=%s bus=%s size=%s",
			 jstr(d, "sync", "standard"), vb, jbool(d, "compression") ? " compression" : "",
			 jstr(d, "slog", "none"), jstr(d, "bus", "virtio"), sz);
	} else
		snprintf(kind, sizeof(kind), "%s prealloc=%s size=%s", fmt,
			 jstr(d, "preallocation", "off"), sz);
	/* A cut of PS_ON (IPMI) has no supply hold-up: never pooled with mains cuts. */
	const char *sw = jstr(json_object_get(cfg, "relay"), "switches", "ac");
	snprintf(node, sizeof(node), "%s tier=%s writeback=%s%s%s", jstr(n, "driver", "?"),
		 jstr(n, "tier", "?"), jstr(n, "writeback", "?"), jbool(n, "tear") ? " tear" : "",
		 !strcmp(sw, "dc") ? " dc-cut (no hold-up)" : "");
	const char *flush = jstr(w, "flush", "?");
	if (!strcmp(flush, "every-n"))
		snprintf(fl, sizeof(fl), "every-n:%" PRId64, jint(w, "flush_n"));
	else if (!strcmp(flush, "every-ms"))
		snprintf(fl, sizeof(fl), "every-ms:%" PRId64, jint(w, "flush_ms"));
	else
		snprintf(fl, sizeof(fl), "%s", flush);
	size_str(bs, sizeof(bs), jint(w, "block_size"));
	snprintf(sp, sizeof(sp), "%" PRId64 "M", jint(w, "span_mib"));
	snprintf(wl, sizeof(wl), "%s bs=%s qd=%" PRId64 " span=%s%s", jstr(w, "pattern", "?"), bs,
		 jint(w, "queue_depth"), sp, jbool(w, "direct") ? "" : " buffered");
	const char *ctl = jstr(d, "control", "none");
	/* The cycle's steps (docs/campaign.md, Scenarios): "default" when unset, and the
	 * aio mode as the campaign resolved it ([disk] aio, default as Proxmox's). */
	char scen[512] = "default";
	json_t *steps = json_object_get(json_object_get(cfg, "campaign"), "scenario");
	if (json_array_size(steps)) {
		size_t k, off = 0;
		json_t *v;
		json_array_foreach(steps, k, v)
			off += (size_t)snprintf(scen + off, off < sizeof(scen) ? sizeof(scen) - off : 0,
						"%s%s", k ? " " : "", json_string_value(v));
	}
	/* The simulated node's disks are files of directory storage: qemu-server's default
	 * there is io_uring; on a Proxmox node it depends on the storage's type. */
	const char *aio = jstr(d, "aio", "default");
	if (!strcmp(aio, "default"))
		aio = !strcmp(jstr(n, "driver", "sim"), "proxmox") ? "qemu-server-default" :
		      "io_uring";
	if (strlen(kind) + 16 < sizeof(kind))
		snprintf(kind + strlen(kind), sizeof(kind) - strlen(kind), " aio=%s", aio);
	if (!strcmp(jstr(w, "baseline", "fill"), "none") && strlen(wl) + 16 < sizeof(wl))
		snprintf(wl + strlen(wl), sizeof(wl) - strlen(wl), " baseline=none");
	/* A files workload disk: its file system and mount options are part of what it
	 * is, and its workload is the files workload (the [workload] keys do not apply). */
	const char *fs = jstr(d, "fs", "none");
	if (strcmp(fs, "none")) {
		const char *mo = jstr(d, "mount_options", "");
		size_t kl = strlen(kind);
		snprintf(kind + kl, sizeof(kind) - kl, " fs=%s%s%s", fs, *mo ? " mount=" : "", mo);
		const char *kw = jstr(d, "workload", "files");
		if (!strcmp(kw, "sqlite"))	/* its modes are part of what it tests */
			snprintf(wl, sizeof(wl), "sqlite journal=%s synchronous=%s",
				 jstr(d, "sqlite_journal", "wal"), jstr(d, "sqlite_synchronous", "full"));
		else
			snprintf(wl, sizeof(wl), "%s", kw);
		snprintf(fl, sizeof(fl), "sync");
	}
	c->fs = xstrdup(fs);

	c->control = !strcmp(ctl, "lying") ? REPORT_CTL_LYING :
		     !strcmp(ctl, "safe") ? REPORT_CTL_SAFE :
		     !strcmp(ctl, "forgetful") ? REPORT_CTL_FORGETFUL : REPORT_CTL_NONE;
	if (!strcmp(fmt, "zvol") && !strcmp(jstr(d, "sync", "standard"), "disabled") &&
	    c->control == REPORT_CTL_NONE)
		c->control = REPORT_CTL_NOSYNC;
	c->bench = xstrdup(cp->bench);
	c->cut = xstrdup(cut);
	c->node = xstrdup(node);
	c->disk = xstrdup(disk);
	c->disk_kind = xstrdup(kind);
	c->format = xstrdup(fmt);
	c->cache = xstrdup(jstr(d, "cache", "?"));
	c->workload = xstrdup(wl);
	c->flush = xstrdup(fl);
	c->scenario = xstrdup(scen);
	/* Results are keyed by the hardware that produced them as well: the drive's model
	 * and firmware, when it testified (a smart check). */
	c->drive = xstrdup(drive);
	if (asprintf(&c->key, "%s|%s|%s|%s|%s|control=%s|cache=%s|%s|flush=%s|scenario=%s|drive=%s",
		     c->bench, c->cut, c->node, c->disk, c->disk_kind, ctl, c->cache, c->workload,
		     c->flush, c->scenario, c->drive ? c->drive : "") < 0)
		c->key = NULL;
	return c->bench && c->cut && c->node && c->disk && c->disk_kind && c->format && c->cache &&
	       c->workload && c->flush && c->scenario && c->drive && c->key && c->fs ? 0 : -ENOMEM;
}

static size_t find_or_add_cell(struct report *r, size_t *cap, const struct report_campaign *cp,
			       const char *disk, const char *cut, const char *drive)
{
	struct report_cell tmp = { 0 };

	if (cell_fields(&tmp, cp, disk, cut, drive) < 0)
		goto nomem;
	for (size_t i = 0; i < r->n_cells; i++) {
		if (!strcmp(r->cells[i].key, tmp.key)) {
			free(tmp.key); free(tmp.bench); free(tmp.cut); free(tmp.node); free(tmp.scenario);
			free(tmp.disk); free(tmp.disk_kind); free(tmp.format); free(tmp.cache); free(tmp.fs);
			free(tmp.workload); free(tmp.flush); free(tmp.drive);
			return i;
		}
	}
	if (r->n_cells == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct report_cell *p = realloc(r->cells, nc * sizeof(*p));
		if (!p)
			goto nomem;
		r->cells = p;
		*cap = nc;
	}
	r->cells[r->n_cells] = tmp;
	return r->n_cells++;
nomem:
	free(tmp.key); free(tmp.bench); free(tmp.cut); free(tmp.node); free(tmp.scenario); free(tmp.disk);
	free(tmp.disk_kind); free(tmp.format); free(tmp.cache); free(tmp.workload); free(tmp.flush);
	free(tmp.fs); free(tmp.drive);
	return SIZE_MAX;
}

static void rate(struct report_rate *rt, uint64_t k, uint64_t n, const struct report_options *o)
{
	rt->k = k;
	rt->n = n;
	stats_wilson(k, n, STATS_Z95, &rt->ci95);
	rt->upper95 = stats_exact_upper(k, n, o->alpha);
	rt->needed_rc = stats_cycles_needed(k, n, o->target, o->alpha, &rt->needed);
}

static void example(struct report_cell *c, int t, size_t unit)
{
	if (c->n_examples[t] < REPORT_EXAMPLES)
		c->examples[t][c->n_examples[t]++] = unit;
}

static int cmp_cells(const void *a, const void *b)
{
	const struct report_cell *x = a, *y = b;
	int d;

	/* Controls last, so the matrix opens with the disks under test. */
	if ((x->control != REPORT_CTL_NONE) != (y->control != REPORT_CTL_NONE))
		return x->control != REPORT_CTL_NONE ? 1 : -1;
	if ((d = strcmp(x->bench, y->bench)) || (d = strcmp(x->cut, y->cut)))
		return d;
	return strcmp(x->key, y->key);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Per cell, the distribution of the exposure windows of its verified disk-cycles. */
static int exposures(struct report *r)
{
	int64_t *v = malloc((r->n_units ? r->n_units : 1) * sizeof(*v));
	size_t *at = calloc(r->n_cells + 1, sizeof(*at));

	if (!v || !at) {
		free(v);
		free(at);
		return -ENOMEM;
	}
	/* Bucket by cell (counting sort), then sort each bucket. */
	for (size_t i = 0; i < r->n_units; i++)
		if (r->units[i].have_exposure && r->units[i].verified)
			at[r->units[i].cell + 1]++;
	for (size_t c = 0; c < r->n_cells; c++)
		at[c + 1] += at[c];
	size_t *fill = calloc(r->n_cells ? r->n_cells : 1, sizeof(*fill));
	if (!fill) {
		free(v);
		free(at);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n_units; i++) {
		const struct report_unit *u = &r->units[i];
		if (u->have_exposure && u->verified)
			v[at[u->cell] + fill[u->cell]++] = u->exposure_ns;
	}
	for (size_t c = 0; c < r->n_cells; c++) {
		struct report_exposure *e = &r->cells[c].exposure;
		int64_t *x = v + at[c];
		e->n = at[c + 1] - at[c];
		if (!e->n)
			continue;
		qsort(x, e->n, sizeof(*x), cmp_i64);
		e->min = x[0];
		e->max = x[e->n - 1];
		/* nearest rank: the ceil(q n)-th smallest */
		e->p50 = x[(e->n + 1) / 2 - 1];
		e->p90 = x[(9 * e->n + 9) / 10 - 1];
	}
	free(fill);
	free(at);
	free(v);
	return 0;
}

/* Each unit's cell (cells are created as first met). */
/* The drive each unit's results belong to. A unit whose drive testified names it; a
 * unit without a smart check (a cycle that failed before the check) belongs to the
 * drive its disk had in the nearest cycle of the same campaign that has one (the one
 * before it, else the first after it), so that one drive's results stay one cell.
 * SIZE_MAX where the disk never had a smart check. Caller frees. */
static size_t *unit_drives(const struct report *r)
{
	size_t n = r->n_campaigns * 64, *first = malloc((n ? n : 1) * sizeof(*first));
	size_t *last = malloc((n ? n : 1) * sizeof(*last));
	size_t *drive = malloc((r->n_units ? r->n_units : 1) * sizeof(*drive));

	if (!first || !last || !drive) {
		free(first); free(last); free(drive);
		return NULL;
	}
	for (size_t k = 0; k < n; k++)
		first[k] = last[k] = SIZE_MAX;
	for (size_t i = 0; i < r->n_units; i++) {
		const struct report_unit *u = &r->units[i];
		size_t k = r->cycles[u->cycle].campaign * 64 + u->disk_id;
		if (u->drive != SIZE_MAX && u->disk_id < 64 && first[k] == SIZE_MAX)
			first[k] = u->drive;
	}
	for (size_t i = 0; i < r->n_units; i++) {
		const struct report_unit *u = &r->units[i];
		size_t k = r->cycles[u->cycle].campaign * 64 + u->disk_id;
		drive[i] = u->drive;
		if (u->disk_id >= 64)
			continue;
		if (u->drive != SIZE_MAX)
			last[k] = u->drive;
		else
			drive[i] = last[k] != SIZE_MAX ? last[k] : first[k];
	}
	free(first);
	free(last);
	return drive;
}

static int assign_cells(struct report *r)
{
	size_t cap = 0;
	size_t memo_campaign = SIZE_MAX;
	size_t memo[3][64];	/* cell per disk id, per cut kind, for the last campaign */
	size_t *drives = unit_drives(r);

	if (!drives)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_units; i++) {
		struct report_unit *u = &r->units[i];
		const struct report_cycle *cy = &r->cycles[u->cycle];
		const struct report_campaign *cp = &r->campaigns[cy->campaign];
		/* The cut kind the cycle recorded; the config's when no cut was stored. */
		const char *cut = cy->have_cut && cy->cut_kind[0] ? cy->cut_kind :
				  jstr(json_object_get(cp->config, "campaign"), "cut", "power");
		int ck = !strcmp(cut, "kill") ? 1 : !strcmp(cut, "reset") ? 2 : 0;

		if (cy->campaign != memo_campaign) {
			memo_campaign = cy->campaign;
			for (int k = 0; k < 3; k++)
				for (size_t j = 0; j < 64; j++)
					memo[k][j] = SIZE_MAX;
		}
		/* A unit on a drive is looked up by its drive as well: no memo for those. */
		char drive[256] = "";
		if (drives[i] != SIZE_MAX) {
			const struct report_drive *v = &r->drives[drives[i]];
			snprintf(drive, sizeof(drive), "%s %s", v->model, v->firmware);
		}
		bool memo_ok = u->disk_id < 64 && drives[i] == SIZE_MAX;
		size_t cell = memo_ok ? memo[ck][u->disk_id] : SIZE_MAX;
		if (cell == SIZE_MAX) {
			cell = find_or_add_cell(r, &cap, cp, u->disk, cut, drive);
			if (cell == SIZE_MAX) {
				free(drives);
				return -ENOMEM;
			}
			if (memo_ok)
				memo[ck][u->disk_id] = cell;
		}
		u->cell = cell;
	}
	free(drives);
	return 0;
}

/* Sort the cells, then renumber the units. */
static int sort_cells(struct report *r)
{
	size_t *order = malloc((r->n_cells ? r->n_cells : 1) * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_cells; i++)
		r->cells[i].ctl_example = i;	/* the old index, temporarily */
	qsort(r->cells, r->n_cells, sizeof(*r->cells), cmp_cells);
	for (size_t i = 0; i < r->n_cells; i++)
		order[r->cells[i].ctl_example] = i;
	for (size_t i = 0; i < r->n_units; i++)
		r->units[i].cell = order[r->units[i].cell];
	free(order);
	for (size_t i = 0; i < r->n_cells; i++) {
		r->cells[i].ctl_example = SIZE_MAX;
		r->cells[i].first_wall_ns = INT64_MAX;
	}
	return 0;
}

/* What verified unit i found, into its cell's counts and taxonomy. */
static void count_verified(struct report_cell *c, const struct report_unit *u, size_t i)
{
	c->verified++;
	for (int k = 0; k < CLS__COUNT; k++) {
		if (!u->cls[k])
			continue;
		c->tax_blocks[k] += u->cls[k];
		c->tax_cycles[k]++;
		if (k != CLS_OK)
			example(c, k, i);
	}
	if (u->violations)
		c->violation_cycles++;
	if (u->cls[CLS_UNFLUSHED_LOST_OLDER] || u->cls[CLS_UNFLUSHED_LOST_ZERO])
		c->unflushed_loss_cycles++;
	if (u->anomalies) {
		c->anomaly_cycles++;
		c->tax_blocks[REPORT_TAX_ANOMALY] += u->anomalies;
		c->tax_cycles[REPORT_TAX_ANOMALY]++;
		example(c, REPORT_TAX_ANOMALY, i);
	}
	for (int k = 0; k < FSV_NCLASSES; k++) {
		if (!u->files[k])
			continue;
		c->tax_blocks[REPORT_TAX_FILE(k)] += u->files[k];
		c->tax_cycles[REPORT_TAX_FILE(k)]++;
		example(c, REPORT_TAX_FILE(k), i);
	}
	if (u->files[FSV_FSCK_ERRORS] || u->files[FSV_UNMOUNTABLE])
		c->fs_check_cycles++;
	if (u->files[FSV_FILE_LOST] || u->files[FSV_FILE_DAMAGED] || u->files[FSV_NAME_LOST] ||
	    u->files[FSV_COMMIT_LOST])
		c->synced_lost_cycles++;
	if (u->files[FSV_DB_CORRUPT])
		c->db_corrupt_cycles++;
	if (u->files[FSV_COMMIT_LOST_ALLOWED])
		c->allowed_rollback_cycles++;
	if (u->gaps) {
		c->tax_blocks[REPORT_TAX_GAPS] += u->gaps;
		c->tax_cycles[REPORT_TAX_GAPS]++;
		example(c, REPORT_TAX_GAPS, i);
	}
	/* Controls: a lying disk must show a violation in every power-cut cycle in
	 * which it had acknowledged a flush before the cut (before the first one there
	 * is nothing it could have lied about); a safe disk never. A zvol with
	 * sync=disabled loses flushed writes only when the cut comes before the next
	 * transaction group commits them: it must fire in some cycle, not in each
	 * (cell_states()). */
	bool lying_cut = report_ctl_must_fail(c->control) && c->control != REPORT_CTL_NOSYNC &&
			 !strcmp(c->cut, "power");
	if (lying_cut && !u->have_flush && !u->violations)
		c->ctl_unexercised++;
	bool bad = lying_cut ? !u->violations && u->have_flush :
		   c->control == REPORT_CTL_SAFE ? u->violations > 0 : false;
	if (bad) {
		c->ctl_bad++;
		if (c->ctl_example == SIZE_MAX)
			c->ctl_example = i;
	}
}

/* Count. Units are in database, then cycle order, so campaigns and databases change
 * monotonically: counting changes counts distinct ones. */
static int count_units(struct report *r)
{
	size_t *last_cp = calloc(r->n_cells ? r->n_cells : 1, sizeof(size_t));
	size_t *last_db = calloc(r->n_cells ? r->n_cells : 1, sizeof(size_t));
	if (!last_cp || !last_db) {
		free(last_cp);
		free(last_db);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n_cells; i++)
		last_cp[i] = last_db[i] = SIZE_MAX;
	for (size_t i = 0; i < r->n_units; i++) {
		const struct report_unit *u = &r->units[i];
		const struct report_cycle *cy = &r->cycles[u->cycle];
		struct report_cell *c = &r->cells[u->cell];

		c->cycles++;
		if (last_cp[u->cell] != cy->campaign) {
			last_cp[u->cell] = cy->campaign;
			c->ncampaigns++;
		}
		if (last_db[u->cell] != r->campaigns[cy->campaign].db) {
			last_db[u->cell] = r->campaigns[cy->campaign].db;
			c->ndbs++;
		}
		if (cy->started_wall_ns && cy->started_wall_ns < c->first_wall_ns)
			c->first_wall_ns = cy->started_wall_ns;
		if (cy->started_wall_ns > c->last_wall_ns)
			c->last_wall_ns = cy->started_wall_ns;
		if (u->meta_failure) {
			c->meta_failures++;
			c->tax_cycles[REPORT_TAX_META_FAIL]++;
			example(c, REPORT_TAX_META_FAIL, i);
		}
		if (u->verified && u->all_zeroes)
			c->zeroed_cycles++;
		if (u->meta_repaired) {
			c->meta_repaired++;
			c->tax_cycles[REPORT_TAX_META_REPAIRED]++;
			example(c, REPORT_TAX_META_REPAIRED, i);
		}
		if (u->verified) {
			count_verified(c, u, i);
			continue;
		}
		c->not_verified++;
		c->tax_cycles[REPORT_TAX_NOT_VERIFIED]++;
		example(c, REPORT_TAX_NOT_VERIFIED, i);
		/* Cut, and nothing checked at all: the node never came back for it. A cycle
		 * that failed before its cut (the relay did not answer) lost no node: it is
		 * only not verified. */
		if (!u->checked && cy->have_cut)
			c->node_lost++;
	}
	free(last_cp);
	free(last_db);
	return 0;
}

/* Each cell's rates and control state; the report's control tally. */
static void cell_states(struct report *r)
{
	r->controls_failed = r->controls_passed = 0;
	for (size_t i = 0; i < r->n_cells; i++) {
		struct report_cell *c = &r->cells[i];
		rate(&c->violation, c->violation_cycles, c->verified, &r->opts);
		rate(&c->unflushed, c->unflushed_loss_cycles, c->verified, &r->opts);
		rate(&c->meta, c->meta_failures, c->verified, &r->opts);
		if (c->first_wall_ns == INT64_MAX)
			c->first_wall_ns = 0;
		if (c->control == REPORT_CTL_NONE)
			c->ctl_state = REPORT_CTL_NOT_A_CONTROL;
		else if (report_ctl_must_fail(c->control) && strcmp(c->cut, "power"))
			c->ctl_state = REPORT_CTL_NOT_APPLICABLE;	/* the disk cache survives a kill
								 * and a reset */
		else if (!c->verified || c->ctl_unexercised == c->verified)
			c->ctl_state = REPORT_CTL_NO_DATA;
		else if (c->control == REPORT_CTL_NOSYNC)
			c->ctl_state = c->violation_cycles ? REPORT_CTL_PASSED : REPORT_CTL_FAILED;
		else
			c->ctl_state = c->ctl_bad ? REPORT_CTL_FAILED : REPORT_CTL_PASSED;
		/* A control without a verified cycle proves nothing: it counts as failed. */
		if (c->ctl_state == REPORT_CTL_FAILED || c->ctl_state == REPORT_CTL_NO_DATA)
			r->controls_failed++;
		else if (c->ctl_state == REPORT_CTL_PASSED)
			r->controls_passed++;
	}
}

int report_analyze(struct report *r)
{
	int rc;

	if ((rc = assign_cells(r)) < 0 || (rc = sort_cells(r)) < 0 || (rc = count_units(r)) < 0)
		return rc;
	cell_states(r);
	return exposures(r);
}

int report_format_parse(const char *s, enum report_format *f)
{
	if (!strcmp(s, "html"))
		*f = REPORT_HTML;
	else if (!strcmp(s, "md") || !strcmp(s, "markdown"))
		*f = REPORT_MD;
	else if (!strcmp(s, "csv"))
		*f = REPORT_CSV;
	else if (!strcmp(s, "json"))
		*f = REPORT_JSON;
	else if (!strcmp(s, "summary"))
		*f = REPORT_SUMMARY;
	else
		return -EINVAL;
	return 0;
}
