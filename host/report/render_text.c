/* The Markdown, CSV and terminal summary forms. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

/* Markdown table cells: a '|' would end the cell. */
static void md(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '\n')
			fputc(' ', f);
		else
			fputc(*s, f);
	}
}

/* The title, what the report covers and the controls' verdict; the number of control
 * cells. */
static size_t md_head(const struct report *r, FILE *f)
{
	char tm[40];

	report_time(tm, sizeof(tm), r->generated_wall_ns);
	fprintf(f, "# powercut durability report\n\nGenerated %s from %zu database(s): %zu "
		"campaign(s), %zu cycles, %zu disk-cycles in %zu cells. The HTML form "
		"(`--format html`) adds plots and cycle details.\n\n", tm, r->n_dbs, r->n_campaigns,
		r->n_cycles, r->n_units, r->n_cells);
	size_t nctl = 0;
	for (size_t i = 0; i < r->n_cells; i++)
		nctl += r->cells[i].control != REPORT_CTL_NONE;
	if (!nctl)
		fputs("> **No control disks**: the rig's ability to detect a loss is not shown by "
		      "these campaigns.\n\n", f);
	else if (r->controls_failed)
		fprintf(f, "> **CONTROLS FAILED**: %zu of %zu control cells did not behave as required; "
			"the results below cannot be trusted until this is explained.\n\n",
			r->controls_failed, nctl);
	else
		fprintf(f, "> Controls passed (%zu).\n\n", r->controls_passed);
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_cell *c = &r->cells[i];
		if (!c->control)
			continue;
		fprintf(f, "- cell %zu, %s disk `", i + 1, report_control_name(c->control));
		md(f, c->disk);
		fprintf(f, "` (%s cut): **%s**, violations in %" PRIu64 " of %" PRIu64 " verified cycles%s"
			"%s\n", c->cut, report_ctl_state_name(c->ctl_state), c->violation_cycles,
			c->verified - c->ctl_unexercised, c->ctl_unexercised ?
			" in which it had acknowledged a flush" : "", report_unexercised(c));
	}
	return nctl;
}

/* One row per cell: rates and what it takes to bound the violation rate. */
static void md_matrix(const struct report *r, FILE *f, size_t nctl, const char *t)
{
	fprintf(f, "%s## Headline matrix\n\n| # | bench | cut | disk | cache | workload, flush | cycles "
		"(verified) | violations | unflushed lost | metadata failures | leaks repaired | "
		"node lost | to bound violations < %s |\n|---|---|---|---|---|---|---:|---:|---:|---:|"
		"---:|---:|---:|\n", nctl ? "\n" : "", t);
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_cell *c = &r->cells[i];
		char v[160], u[160], m[160], need[64];
		report_rate_str(v, sizeof(v), &c->violation);
		report_rate_str(u, sizeof(u), &c->unflushed);
		report_rate_str(m, sizeof(m), &c->meta);
		report_needed_str(need, sizeof(need), &c->violation);
		fprintf(f, "| %zu | ", i + 1);
		md(f, c->bench);
		fprintf(f, " | %s | **", report_cut_title(c->cut));
		md(f, c->disk);
		fputs("** ", f);
		md(f, c->disk_kind);
		if (c->drive[0]) {
			fputs(" drive '", f);
			md(f, c->drive);
			fputc('\'', f);
		}
		if (c->control)
			fprintf(f, " (control: %s)", report_control_name(c->control));
		fputs(" | ", f);
		md(f, c->cache);
		fputs(" | ", f);
		md(f, c->workload);
		fputs(", flush ", f);
		md(f, c->flush);
		fprintf(f, " | %" PRIu64 " (%" PRIu64 ") | %s | %s | %s | %" PRIu64 " | %" PRIu64 " | %s |\n",
			c->cycles, c->verified, v, u, m, c->meta_repaired, c->node_lost, need);
	}
}

/* Cell c's taxonomy: every class that occurred, with example commands. */
static void md_taxonomy(const struct report *r, FILE *f, size_t i)
{
	const struct report_cell *c = &r->cells[i];

	fprintf(f, "\n### %zu. ", i + 1);
	md(f, c->disk);
	fputs(", ", f);
	md(f, c->disk_kind);
	fprintf(f, ", cache=%s, %s cut\n\n", c->cache, c->cut);
	if (strcmp(c->scenario, "default"))
		fprintf(f, "Scenario: `%s`.\n\n", c->scenario);
	if (c->zeroed_cycles)
		fprintf(f, "**New allocations lost: the image reads as zeroes** in %" PRIu64
			" of %" PRIu64 " verified cycles (every block the cycle wrote).\n\n",
			c->zeroed_cycles, c->verified);
	if (strcmp(c->fs, "none"))
		fprintf(f, "File system %s, workload %s: synced files, names or commits lost in %"
			PRIu64 " of %" PRIu64 " verified cycles; database corrupt in %" PRIu64
			"; the file system's own check (after the journal replay) found errors or "
			"could not mount it in %" PRIu64 "; the last commits rolled back as SQLite "
			"allows in %" PRIu64 " (file classes count findings).\n\n", c->fs, c->workload,
			c->synced_lost_cycles, c->verified, c->db_corrupt_cycles, c->fs_check_cycles,
			c->allowed_rollback_cycles);
	fputs("| class | blocks | cycles | examples |\n|---|---:|---:|---|\n", f);
	for (int t = 0; t < REPORT_NTAX; t++) {
		if (!c->tax_cycles[t])
			continue;
		fprintf(f, "| %s | %" PRIu64 " | %" PRIu64 " | ", report_tax[t].name,
			c->tax_blocks[t], c->tax_cycles[t]);
		for (size_t e = 0; e < c->n_examples[t]; e++) {
			char cmd[4200];
			report_show_cmd(cmd, sizeof(cmd), r, &r->units[c->examples[t][e]]);
			fprintf(f, "%s`", e ? ", " : "");
			md(f, cmd);
			fputc('`', f);
		}
		fputs(" |\n", f);
	}
}

/* Each drive's own testimony (nothing when no drive testified). */
static void md_drives(const struct report *r, FILE *f)
{
	if (!r->n_drives)
		return;
	fputs("\n## Drives\n\nEach drive's own testimony (smartctl, before and after every "
	      "cycle; `docs/node.md`). \"not-counted\": power cuts the drive did not count "
	      "as unsafe shutdowns, so the cut may not have reached it.\n\n| disk | drive | "
	      "firmware | serial | protocol | write cache | cycles |", f);
	for (int k = 0; k < 5; k++)
		fprintf(f, " %s |", report_drive_verdicts[k]);
	fputs("\n|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|\n", f);
	for (size_t i = 0; i < r->n_drives; i++) {
		const struct report_drive *v = &r->drives[i];
		const char *cols[] = { v->disk, v->model, v->firmware, v->serial, v->protocol,
				       v->write_cache };
		fputc('|', f);
		for (int k = 0; k < 6; k++) {
			fputc(' ', f);
			md(f, cols[k]);
			fputs(" |", f);
		}
		fprintf(f, " %" PRIu64 " |", v->cycles);
		for (int k = 0; k < 5; k++)
			fprintf(f, " %" PRIu64 " |", v->verdicts[k]);
		fputc('\n', f);
	}
}

/* Every configuration with its versions, seeds and INI text. */
static void md_repro(const struct report *r, FILE *f)
{
	fputs("\n## Reproducibility\n", f);
	json_t *j = report_json(r), *g;
	size_t k;
	json_array_foreach(json_object_get(j, "configs"), k, g) {
		char *vs = json_dumps(json_object_get(g, "versions"), JSON_COMPACT);
		char *ss = json_dumps(json_object_get(g, "seeds"), JSON_COMPACT);
		fprintf(f, "\n### bench `%s`, config `%s`\n\n%" PRId64 " campaign(s); versions `%s`; "
			"oracle seeds `%s`.\n\n```ini\n%s```\n", json_string_value(json_object_get(g, "bench")),
			json_string_value(json_object_get(g, "config_hash")),
			(int64_t)json_integer_value(json_object_get(g, "campaigns")), vs ? vs : "",
			ss ? ss : "", json_string_value(json_object_get(g, "config_text")));
		free(vs);
		free(ss);
	}
	json_decref(j);
}

int report_render_md(const struct report *r, FILE *f)
{
	char t[32];

	report_pct(t, sizeof(t), r->opts.target);
	size_t nctl = md_head(r, f);
	md_matrix(r, f, nctl, t);
	fprintf(f, "\nViolation as defined in `docs/oracle.md` (oracle 1). Rates: k/n = observed "
		"[Wilson 95 %% interval]; with no failure, the exact one-sided 95 %% upper bound "
		"1 - 0.05^(1/n). \"To bound\": further cycles without a violation before that bound "
		"falls below %s (`docs/methodology.md`).\n\n## Failure taxonomy\n", t);
	for (size_t i = 0; i < r->n_cells; i++)
		md_taxonomy(r, f, i);
	md_drives(r, f);
	report_explored_md(r, f);
	md_repro(r, f);
	return 0;
}

/* RFC 4180 quoting. */
static void csv(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_rate(FILE *f, const struct report_rate *rt)
{
	fprintf(f, ",%.6g,%.6g,%.6g,%.6g", rt->n ? (double)rt->k / (double)rt->n : 0, rt->ci95.lo,
		rt->ci95.hi, rt->upper95);
}

int report_render_csv(const struct report *r, FILE *f)
{
	fputs("cell,bench,cut,node,disk,disk_kind,cache,workload,flush,control,control_state,cycles,"
	      "verified_cycles,violation_cycles,unflushed_loss_cycles,metadata_failures,"
	      "metadata_repaired,node_lost_cycles,anomaly_cycles,violation_rate,violation_ci95_lo,"
	      "violation_ci95_hi,violation_upper95,unflushed_rate,unflushed_ci95_lo,unflushed_ci95_hi,"
	      "unflushed_upper95,metadata_rate,metadata_ci95_lo,metadata_ci95_hi,metadata_upper95,"
	      "violation_cycles_needed", f);
	for (int t = 0; t < REPORT_NTAX; t++)
		fprintf(f, ",%s_blocks,%s_cycles", report_tax[t].name, report_tax[t].name);
	fputs("\r\n", f);
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_cell *c = &r->cells[i];
		const char *fields[] = { c->bench, c->cut, c->node, c->disk, c->disk_kind, c->cache,
					 c->workload, c->flush, report_control_name(c->control),
					 report_ctl_state_name(c->ctl_state) };
		fprintf(f, "%zu", i + 1);
		for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
			fputc(',', f);
			csv(f, fields[k]);
		}
		fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%" PRIu64, c->cycles, c->verified, c->violation_cycles, c->unflushed_loss_cycles,
			c->meta_failures, c->meta_repaired, c->node_lost, c->anomaly_cycles);
		csv_rate(f, &c->violation);
		csv_rate(f, &c->unflushed);
		csv_rate(f, &c->meta);
		if (c->violation.needed_rc == 0)
			fprintf(f, ",%" PRIu64, c->violation.needed);
		else
			fputs(",", f);
		for (int t = 0; t < REPORT_NTAX; t++)
			fprintf(f, ",%" PRIu64 ",%" PRIu64, c->tax_blocks[t], c->tax_cycles[t]);
		fputs("\r\n", f);
	}
	return 0;
}

/* A percentage in at most 4 characters where it can be, never in exponent form. */
static void short_pct(char *buf, size_t len, double v)
{
	v *= 100;
	if (v == 0 || v >= 99.95)
		snprintf(buf, len, "%.0f", v);
	else if (v >= 10)
		snprintf(buf, len, "%.0f", v);
	else if (v >= 1)
		snprintf(buf, len, "%.1f", v);
	else if (v >= 0.01)
		snprintf(buf, len, "%.2f", v);
	else
		snprintf(buf, len, "<0.01");
}

/* "3/40 [2.6-20%]": a count with its interval, for a narrow column (the rate itself
 * is the count's quotient; the interval is what a reader cannot work out). */
static void short_rate(char *buf, size_t len, const struct report_rate *rt)
{
	char lo[16], hi[16];

	if (!rt->n) {
		snprintf(buf, len, "0/0");
		return;
	}
	short_pct(lo, sizeof(lo), rt->ci95.lo);
	short_pct(hi, sizeof(hi), rt->ci95.hi);
	snprintf(buf, len, "%" PRIu64 "/%" PRIu64 " [%s-%s%%]", rt->k, rt->n, lo, hi);
}

/* The closing table of a run or the demo: one line per cell, at most 100 columns
 * (counts up to 9,999 cycles; longer ones push the last column out). */
int report_render_summary(const struct report *r, FILE *f)
{
	enum { CELL_W = 30 };
	bool ctl = false;

	fprintf(f, "%-3s %-*s %-12s %-5s %-22s %s\n", "#", CELL_W, "bench/disk", "cache", "cut",
		"violations [95%]", "unflushed loss [95%]");
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_cell *c = &r->cells[i];
		char cell[256], v[64], u[64];
		const char *mark = c->control == REPORT_CTL_LYING ? " [L]" : c->control == REPORT_CTL_SAFE ?
				   " [S]" : "";
		size_t ml = strlen(mark);
		int n = snprintf(cell, sizeof(cell), "%s/%s", c->bench, c->disk);
		/* Cut a long name at the end, marked, and keep the control's mark. */
		if ((size_t)n + ml > CELL_W) {
			cell[CELL_W - ml - 1] = '~';
			cell[CELL_W - ml] = 0;
		}
		strcat(cell, mark);
		ctl |= c->control != REPORT_CTL_NONE;
		short_rate(v, sizeof(v), &c->violation);
		short_rate(u, sizeof(u), &c->unflushed);
		fprintf(f, "%-3zu %-*s %-12.12s %-5s %-22s %s\n", i + 1, CELL_W, cell, c->cache,
			!strcmp(c->cut, "kill") ? "kill" : "power", v, u);
	}
	if (!r->n_cells)
		fputs("(no cycles)\n", f);
	fprintf(f, "%scontrols: %s\n", ctl ? "[L] lying control, [S] safe control; " : "",
		r->controls_failed ? "FAILED" : r->controls_passed ? "passed" : "none declared");
	return ferror(f) ? -EIO : 0;
}
