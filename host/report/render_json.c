/* The JSON form (docs/report.md, "JSON"), and the renderer dispatch. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

static json_t *ci(const struct stats_interval *c)
{
	return json_pack("[f,f]", c->lo, c->hi);
}

static json_t *rate_json(const struct report_rate *rt)
{
	json_t *o = json_pack("{s:I,s:I,s:o,s:f}", "k", (json_int_t)rt->k, "n", (json_int_t)rt->n,
			      "ci95", ci(&rt->ci95), "upper95", rt->upper95);
	json_object_set_new(o, "rate", rt->n ? json_real((double)rt->k / (double)rt->n) : json_null());
	json_object_set_new(o, "cycles_needed", rt->needed_rc == 0 ?
			    json_integer((json_int_t)rt->needed) : json_null());
	json_object_set_new(o, "cycles_needed_note", json_string(
		rt->needed_rc == 0 ? "further failure-free cycles to bound the rate below target" :
		rt->needed_rc == -ERANGE ? "the observed rate is not below the target" :
		"not computable"));
	return o;
}

static json_t *unit_ref(const struct report *r, size_t ui)
{
	const struct report_unit *u = &r->units[ui];
	const struct report_cycle *cy = &r->cycles[u->cycle];
	const struct report_campaign *cp = &r->campaigns[cy->campaign];
	char cmd[4200], anchor[64];

	report_show_cmd(cmd, sizeof(cmd), r, u);
	report_anchor(anchor, sizeof(anchor), r, u->cycle);
	return json_pack("{s:s,s:I,s:I,s:I,s:s,s:s,s:s}", "db", r->dbs[cp->db].path,
			 "campaign", (json_int_t)cp->id, "cycle", (json_int_t)cy->idx,
			 "cycle_id", (json_int_t)cy->id, "disk", u->disk, "show", cmd,
			 "anchor", anchor);
}

static json_t *cell_json(const struct report *r, size_t i)
{
	const struct report_cell *c = &r->cells[i];
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		"key", c->key, "bench", c->bench, "cut", c->cut, "node", c->node, "disk", c->disk,
		"disk_kind", c->disk_kind, "format", c->format, "cache", c->cache,
		"workload", c->workload, "flush", c->flush,
		"control", report_control_name(c->control),
		"control_state", report_ctl_state_name(c->ctl_state));
	json_object_set_new(o, "drive", json_string(c->drive));
	json_object_set_new(o, "scenario", json_string(c->scenario));
	/* In plain words (docs/report.md): what the seed of rhbz 1029344 saw. */
	json_object_set_new(o, "image_reads_as_zeroes_cycles", json_integer((json_int_t)c->zeroed_cycles));
	if (c->zeroed_cycles) {
		char note[160];
		snprintf(note, sizeof(note), "new allocations lost: the image reads as zeroes (in %"
			 PRIu64 " of %" PRIu64 " verified cycles)", c->zeroed_cycles, c->verified);
		json_object_set_new(o, "note", json_string(note));
	}
	json_object_set_new(o, "cycles", json_integer((json_int_t)c->cycles));
	json_object_set_new(o, "explored", report_explored_json(r, i));
	json_object_set_new(o, "verified_cycles", json_integer((json_int_t)c->verified));
	json_object_set_new(o, "violation_cycles", json_integer((json_int_t)c->violation_cycles));
	json_object_set_new(o, "unflushed_loss_cycles", json_integer((json_int_t)c->unflushed_loss_cycles));
	json_object_set_new(o, "metadata_failures", json_integer((json_int_t)c->meta_failures));
	json_object_set_new(o, "metadata_repaired", json_integer((json_int_t)c->meta_repaired));
	json_object_set_new(o, "not_verified_cycles", json_integer((json_int_t)c->not_verified));
	json_object_set_new(o, "node_lost_cycles", json_integer((json_int_t)c->node_lost));
	json_object_set_new(o, "anomaly_cycles", json_integer((json_int_t)c->anomaly_cycles));
	json_object_set_new(o, "campaigns", json_integer((json_int_t)c->ncampaigns));
	json_object_set_new(o, "databases", json_integer((json_int_t)c->ndbs));
	json_object_set_new(o, "violation_rate_ci95", ci(&c->violation.ci95));
	json_object_set_new(o, "unflushed_loss_rate_ci95", ci(&c->unflushed.ci95));
	json_object_set_new(o, "metadata_failure_rate_ci95", ci(&c->meta.ci95));
	json_object_set_new(o, "violation", rate_json(&c->violation));
	json_object_set_new(o, "unflushed_loss", rate_json(&c->unflushed));
	json_object_set_new(o, "metadata_failure", rate_json(&c->meta));
	const struct report_exposure *xp = &c->exposure;
	json_object_set_new(o, "exposure_ms", xp->n ? json_pack("{s:I,s:f,s:f,s:f,s:f}", "n",
		(json_int_t)xp->n, "min", xp->min / 1e6, "median", xp->p50 / 1e6, "p90", xp->p90 / 1e6,
		"max", xp->max / 1e6) : json_pack("{s:i}", "n", 0));
	json_object_set_new(o, "control_bad_cycles", json_integer((json_int_t)c->ctl_bad));
	json_object_set_new(o, "control_unexercised_cycles", json_integer((json_int_t)c->ctl_unexercised));
	if (c->ctl_example != SIZE_MAX)
		json_object_set_new(o, "control_example", unit_ref(r, c->ctl_example));
	/* docs/oracle.md, "File systems" */
	json_object_set_new(o, "fs", json_string(c->fs));
	json_object_set_new(o, "workload_kind", json_string(!strcmp(c->fs, "none") ? "blocks" :
					     !strncmp(c->workload, "sqlite", 6) ? "sqlite" : "files"));
	if (strcmp(c->fs, "none")) {
		json_object_set_new(o, "synced_lost_cycles", json_integer((json_int_t)c->synced_lost_cycles));
		json_object_set_new(o, "fs_check_error_cycles", json_integer((json_int_t)c->fs_check_cycles));
		json_object_set_new(o, "database_corrupt_cycles", json_integer((json_int_t)c->db_corrupt_cycles));
		json_object_set_new(o, "allowed_rollback_cycles",
				    json_integer((json_int_t)c->allowed_rollback_cycles));
	}
	json_t *tax = json_object();
	for (int t = 0; t < REPORT_NTAX; t++) {
		json_t *ex = json_array();
		for (size_t e = 0; e < c->n_examples[t]; e++)
			json_array_append_new(ex, unit_ref(r, c->examples[t][e]));
		json_object_set_new(tax, report_tax[t].name, json_pack("{s:I,s:I,s:o}",
			"blocks", (json_int_t)c->tax_blocks[t], "cycles", (json_int_t)c->tax_cycles[t],
			"examples", ex));
	}
	json_object_set_new(o, "taxonomy", tax);
	return o;
}

/* Distinct configurations (by hash) with their campaigns, versions and seeds. */
static json_t *configs_json(const struct report *r)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < r->n_campaigns; i++) {
		const struct report_campaign *cp = &r->campaigns[i];
		json_t *g = NULL;
		size_t k;
		json_t *v;
		json_array_foreach(arr, k, v) {
			if (!strcmp(json_string_value(json_object_get(v, "config_hash")), cp->config_hash)) {
				g = v;
				break;
			}
		}
		if (!g) {
			g = json_pack("{s:s,s:s,s:s,s:[],s:[],s:[],s:I}", "config_hash", cp->config_hash,
				      "bench", cp->bench, "config_text", cp->config_text, "versions",
				      "seeds", "databases", "campaigns", (json_int_t)0);
			json_array_append_new(arr, g);
		}
		json_object_set_new(g, "campaigns", json_integer(
			json_integer_value(json_object_get(g, "campaigns")) + 1));
		json_t *vs = json_object_get(g, "versions"), *x;
		bool have = false;
		json_array_foreach(vs, k, x)
			have |= json_equal(x, cp->versions);
		if (!have)
			json_array_append(vs, cp->versions);
		json_t *seeds = json_object_get(g, "seeds");
		if (cp->has_seed && json_array_size(seeds) < 64) {
			have = false;
			json_array_foreach(seeds, k, x)
				have |= (uint64_t)json_integer_value(x) == cp->seed;
			if (!have)
				json_array_append_new(seeds, json_integer((json_int_t)cp->seed));
		}
		json_t *dbs = json_object_get(g, "databases");
		have = false;
		json_array_foreach(dbs, k, x)
			have |= !strcmp(json_string_value(x), r->dbs[cp->db].path);
		if (!have)
			json_array_append_new(dbs, json_string(r->dbs[cp->db].path));
	}
	return arr;
}

json_t *report_json(const struct report *r)
{
	json_t *o = json_pack("{s:s,s:i,s:I,s:f,s:f,s:s}", "type", "powercut-report", "version", 1,
			      "generated_wall_ns", (json_int_t)r->generated_wall_ns,
			      "target", r->opts.target, "confidence", 1 - r->opts.alpha,
			      "violation_definition", "docs/oracle.md (oracle 1), Classification");
	json_t *dbs = json_array();
	for (size_t i = 0; i < r->n_dbs; i++)
		json_array_append_new(dbs, json_pack("{s:s,s:i}", "path", r->dbs[i].path, "schema",
						     r->dbs[i].schema));
	json_object_set_new(o, "databases", dbs);
	json_object_set_new(o, "campaigns", json_integer((json_int_t)r->n_campaigns));
	json_object_set_new(o, "cycles", json_integer((json_int_t)r->n_cycles));
	json_t *ctl = json_array();
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_cell *c = &r->cells[i];
		if (c->control == REPORT_CTL_NONE)
			continue;
		json_array_append_new(ctl, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "bench",
			c->bench, "cut", c->cut, "disk", c->disk, "control", report_control_name(c->control),
			"state", report_ctl_state_name(c->ctl_state), "bad_cycles", (json_int_t)c->ctl_bad,
			"verified_cycles", (json_int_t)c->verified, "unexercised_cycles",
			(json_int_t)c->ctl_unexercised));
	}
	json_object_set_new(o, "controls", json_pack("{s:b,s:I,s:I,s:o}", "ok",
		r->controls_failed == 0, "failed", (json_int_t)r->controls_failed, "passed",
		(json_int_t)r->controls_passed, "cells", ctl));
	json_t *cells = json_array();
	for (size_t i = 0; i < r->n_cells; i++)
		json_array_append_new(cells, cell_json(r, i));
	json_object_set_new(o, "cells", cells);
	json_t *drives = json_array();
	for (size_t i = 0; i < r->n_drives; i++) {
		const struct report_drive *v = &r->drives[i];
		json_t *vd = json_object();
		for (int k = 0; k < 5; k++)
			json_object_set_new(vd, report_drive_verdicts[k], json_integer((json_int_t)v->verdicts[k]));
		json_array_append_new(drives, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:o}", "disk",
			v->disk, "protocol", v->protocol, "model", v->model, "firmware", v->firmware,
			"serial", v->serial, "write_cache", v->write_cache, "cycles",
			(json_int_t)v->cycles, "verdicts", vd));
	}
	json_object_set_new(o, "drives", drives);
	json_object_set_new(o, "configs", configs_json(r));
	return o;
}

static int render_json(const struct report *r, FILE *f)
{
	json_t *j = report_json(r);
	int rc = j ? json_dumpf(j, f, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) : -1;

	json_decref(j);
	if (rc < 0)
		return -ENOMEM;
	fputc('\n', f);
	return 0;
}

int report_render(const struct report *r, enum report_format fmt, FILE *f)
{
	int rc;

	switch (fmt) {
	case REPORT_HTML: rc = report_render_html(r, f); break;
	case REPORT_MD: rc = report_render_md(r, f); break;
	case REPORT_CSV: rc = report_render_csv(r, f); break;
	case REPORT_JSON: rc = render_json(r, f); break;
	case REPORT_SUMMARY: rc = report_render_summary(r, f); break;
	default: return -EINVAL;
	}
	if (rc < 0)
		return rc;
	if (fflush(f) != 0 || ferror(f))
		return -EIO;
	return 0;
}
