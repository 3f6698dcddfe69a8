/* The HTML form: one self-contained page (inline CSS and SVG, no script). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

static const char css[] =
	"body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1280px;padding:0 16px;color:#222}"
	"h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ccc}"
	"h3{font-size:15px;margin:18px 0 6px}"
	"table{border-collapse:collapse;margin:6px 0;font-size:13px;display:block;overflow-x:auto;max-width:100%}"
	"code{overflow-wrap:anywhere}td small{display:block}th,td{border:1px solid #ccc;padding:3px 6px;"
	"vertical-align:top;text-align:left}th{background:#f0f0f0}td.n{text-align:right;"
	"font-variant-numeric:tabular-nums;white-space:nowrap}"
	"tr.ctl td{background:#f7f7ff}.bad{color:#b00000;font-weight:600}.good{color:#006644}"
	".banner{padding:10px 14px;border-radius:4px;margin:12px 0;font-weight:600}"
	".banner.ok{background:#e3f5ea;border:1px solid #7bc096}"
	".banner.fail{background:#fde2e2;border:2px solid #c00;color:#900}"
	".banner.none{background:#fff6d9;border:1px solid #e0b84c}"
	"code,pre{font-family:ui-monospace,monospace;font-size:12px}pre{background:#f6f6f6;"
	"padding:8px;overflow:auto;max-height:420px}.meta{color:#555}small{color:#555}"
	"figure{margin:12px 0;overflow-x:auto}figcaption{color:#444;max-width:900px}"
	/* On a phone a plot keeps a readable size and scrolls in its own box. */
	"svg{max-width:100%;height:auto}@media (max-width:640px){figure svg{max-width:none;width:640px}}";

static void esc(FILE *f, const char *s)
{
	report_html_esc(f, s);
}

static void td_num(FILE *f, uint64_t v, bool bad)
{
	fprintf(f, "<td class='n%s'>%" PRIu64 "</td>", bad && v ? " bad" : "", v);
}

/* Two lines: the count (and rate) in bold, the interval and bound below. */
static void td_rate(FILE *f, const struct report_rate *rt, bool bad)
{
	char p[32], lo[32], hi[32], ub[32];

	if (!rt->n) {
		fputs("<td class='n'>0/0</td>", f);
		return;
	}
	report_pct(p, sizeof(p), (double)rt->k / (double)rt->n);
	report_pct(lo, sizeof(lo), rt->ci95.lo);
	report_pct(hi, sizeof(hi), rt->ci95.hi);
	report_pct(ub, sizeof(ub), rt->upper95);
	fprintf(f, "<td class='n%s'><b>%" PRIu64 "/%" PRIu64, bad && rt->k ? " bad" : "", rt->k, rt->n);
	if (rt->k)
		fprintf(f, " = %s", p);
	fprintf(f, "</b><small>[%s, %s]</small>", lo, hi);
	if (!rt->k)
		fprintf(f, "<small>exact &le; %s</small>", ub);
	fputs("</td>", f);
}

static void controls_banner(const struct report *r, FILE *f)
{
	size_t nctl = 0;

	for (size_t i = 0; i < r->n_cells; i++)
		nctl += r->cells[i].control != REPORT_CTL_NONE;
	if (!nctl) {
		fputs("<div class='banner none'>No control disks: these campaigns declare no "
		      "<code>control = lying</code> or <code>control = safe</code> disk, so this report "
		      "does not show that the rig detects a loss on this bench.</div>\n", f);
		return;
	}
	fprintf(f, "<div class='banner %s'>", r->controls_failed ? "fail" : "ok");
	if (r->controls_failed)
		fprintf(f, "CONTROLS FAILED: %zu of %zu control cells did not behave as required. The "
			"results below cannot be trusted until this is explained.", r->controls_failed, nctl);
	else
		fprintf(f, "Controls passed: %zu control cell%s behaved as required.", r->controls_passed,
			r->controls_passed == 1 ? "" : "s");
	fputs("<ul>", f);
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_cell *c = &r->cells[i];
		if (c->control == REPORT_CTL_NONE)
			continue;
		fprintf(f, "<li>cell %zu, %s disk '", i + 1, report_control_name(c->control));
		esc(f, c->disk);
		fprintf(f, "' (%s cut, bench '", c->cut);
		esc(f, c->bench);
		fprintf(f, "'): <span class='%s'>%s</span> &mdash; ", c->ctl_state == REPORT_CTL_PASSED ?
			"good" : c->ctl_state == REPORT_CTL_NOT_APPLICABLE ? "" : "bad",
			report_ctl_state_name(c->ctl_state));
		if (report_ctl_must_fail(c->control) && c->ctl_state == REPORT_CTL_NOT_APPLICABLE)
			fprintf(f, "a process kill leaves the disk's cache intact, so a %s disk is "
				"only expected to lose flushed writes on a power cut",
				report_control_name(c->control));
		else if (report_ctl_must_fail(c->control))
			fprintf(f, "a violation in %" PRIu64 " of %" PRIu64 " verified cycles in which "
				"it had acknowledged a flush (required: every one)%s",
				c->violation_cycles, c->verified - c->ctl_unexercised,
				report_unexercised(c));
		else
			fprintf(f, "a violation in %" PRIu64 " of %" PRIu64 " verified cycles (required: none)",
				c->violation_cycles, c->verified);
		if (c->ctl_example != SIZE_MAX) {
			char a[64];
			report_anchor(a, sizeof(a), r, r->units[c->ctl_example].cycle);
			fprintf(f, "; first contradicting cycle: <a href='#%s'>%s</a>", a, a);
		}
		fputs("</li>", f);
	}
	fputs("</ul></div>\n", f);
}

static void matrix(const struct report *r, FILE *f)
{
	char t[32];

	report_pct(t, sizeof(t), r->opts.target);
	fputs("<h2 id='matrix'>Headline matrix</h2>\n<table><tr><th>#</th><th>bench</th><th>cut</th>"
	      "<th>disk</th><th>cache</th><th>flush, workload</th><th>cycles (verified)</th>"
	      "<th>violations</th><th>unflushed writes lost</th><th>metadata failures</th>"
	      "<th>leaks repaired</th><th>node lost</th>", f);
	fprintf(f, "<th>to bound violations &lt; %s</th></tr>\n", t);
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_cell *c = &r->cells[i];
		char need[64];
		fprintf(f, "<tr%s><td><a href='#cell-%zu'>%zu</a></td><td>", c->control ? " class='ctl'" : "",
			i + 1, i + 1);
		esc(f, c->bench);
		fprintf(f, "</td><td>%s</td><td><b>", report_cut_title(c->cut));
		esc(f, c->disk);
		fputs("</b>", f);
		if (c->control)
			fprintf(f, " <i>(control: %s)</i>", report_control_name(c->control));
		fputs("<small>", f);
		esc(f, c->disk_kind);
		if (c->drive[0]) {
			fputs(" drive '", f);
			esc(f, c->drive);
			fputc('\'', f);
		}
		fputs("</small><small>node ", f);
		esc(f, c->node);
		fputs("</small></td><td>", f);
		esc(f, c->cache);
		fputs("</td><td>flush ", f);
		esc(f, c->flush);
		fputs("<small>", f);
		esc(f, c->workload);
		fputs("</small>", f);
		fprintf(f, "</td><td class='n'>%" PRIu64 " (%" PRIu64 ")</td>", c->cycles, c->verified);
		td_rate(f, &c->violation, !report_ctl_must_fail(c->control));
		td_rate(f, &c->unflushed, false);
		td_rate(f, &c->meta, true);
		td_num(f, c->meta_repaired, false);
		td_num(f, c->node_lost, true);
		report_needed_str(need, sizeof(need), &c->violation);
		fprintf(f, "<td class='n'>%s</td></tr>\n", need);
	}
	fputs("</table>\n", f);
	fprintf(f, "<p class='meta'>Each row is one cell: observations pool only when bench, cut, node, "
		"disk and its options, cache mode, workload and flush policy are all equal. A cycle counts "
		"once per disk. <b>Violation</b> as defined in <code>docs/oracle.md</code> (oracle 1): a "
		"flushed write lost (whole or torn), a corrupt or a misdirected sector. Rates are "
		"k/n = observed [Wilson 95 %% interval]; with no failure the exact one-sided 95 %% upper "
		"bound 1&minus;0.05<sup>1/n</sup> is also given. <b>To bound</b>: further cycles without "
		"a violation needed before the exact 95 %% upper bound falls below %s "
		"(<code>docs/methodology.md</code>). Metadata failures count unrepairable results only; "
		"refcount leaks that the next open repairs (lazy_refcounts) are shown apart. Node lost: "
		"cycles cut in which the disk was never checked (a cycle that failed before its cut "
		"is only not verified).</p>\n", t);
}

static void example_links(const struct report *r, FILE *f, const struct report_cell *c, int t)
{
	for (size_t e = 0; e < c->n_examples[t]; e++) {
		char a[64], cmd[4200];
		const struct report_unit *u = &r->units[c->examples[t][e]];
		report_anchor(a, sizeof(a), r, u->cycle);
		report_show_cmd(cmd, sizeof(cmd), r, u);
		fprintf(f, "%s<a href='#%s' title='", e ? ", " : "", a);
		esc(f, cmd);
		fprintf(f, "'>cycle %" PRId64 "</a>", r->cycles[u->cycle].id);
	}
}

static void taxonomy(const struct report *r, FILE *f)
{
	static const char *const violation_words[] = { [ORACLE_NO] = "no",
		[ORACLE_YES] = "<span class='bad'>yes</span>",
		[ORACLE_IF_OLDER] = "if older than flushed" };

	fputs("<h2 id='taxonomy'>Failure taxonomy</h2>\n<p class='meta'>Per cell, every class of "
	      "<code>docs/oracle.md</code> that occurred: blocks in that class summed over cycles, "
	      "cycles with at least one, and up to three example cycles (details below; each "
	      "link's tooltip is its <code>powercut show</code> command).</p>\n", f);
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_cell *c = &r->cells[i];
		fprintf(f, "<h3 id='cell-%zu'><span style='color:%s'>&#9632;</span> %zu. ", i + 1,
			report_cell_colour(i), i + 1);
		esc(f, c->disk);
		fputs(" &middot; ", f);
		esc(f, c->disk_kind);
		fputs(" &middot; cache=", f);
		esc(f, c->cache);
		fprintf(f, " &middot; %s &middot; ", report_cut_title(c->cut));
		esc(f, c->bench);
		fprintf(f, "</h3>\n<p class='meta'>%" PRIu64 " cycles from %zu campaign%s in %zu database%s; "
			"workload ", c->cycles, c->ncampaigns, c->ncampaigns == 1 ? "" : "s", c->ndbs,
			c->ndbs == 1 ? "" : "s");
		esc(f, c->workload);
		fputs(", flush ", f);
		esc(f, c->flush);
		fputs("; node ", f);
		esc(f, c->node);
		fputs(".</p>\n", f);
		if (strcmp(c->fs, "none")) {
			/* docs/oracle.md, "File systems": what a files workload cell lost */
			fprintf(f, "<p class='meta'>File system %s, workload %s: synced files, names or "
				"commits lost in <b>%" PRIu64 "</b> of %" PRIu64 " verified cycles; database "
				"corrupt in <b>%" PRIu64 "</b>; the file system's own check (after the journal "
				"replay) found errors or could not mount it in <b>%" PRIu64 "</b>; the last "
				"commits rolled back as SQLite allows in %" PRIu64 ".", c->fs, c->workload,
				c->synced_lost_cycles, c->verified, c->db_corrupt_cycles, c->fs_check_cycles,
				c->allowed_rollback_cycles);
			fputs(" The <i>blocks</i> column counts files.</p>\n", f);
		}
		fputs("<table><tr><th>class</th><th>violation</th><th>blocks</th><th>cycles</th>"
		      "<th>examples</th></tr>\n", f);
		for (int t = 0; t < REPORT_NTAX; t++) {
			if (!c->tax_cycles[t])
				continue;
			fprintf(f, "<tr><td>%s</td><td>%s</td>", report_tax[t].title,
				violation_words[report_tax[t].violation]);
			if (report_tax[t].counts == ORACLE_CYCLES)	/* a whole-disk outcome */
				fputs("<td class='n'>-</td>", f);
			else
				fprintf(f, "<td class='n'>%" PRIu64 "</td>", c->tax_blocks[t]);
			fprintf(f, "<td class='n'>%" PRIu64 "</td><td>", c->tax_cycles[t]);
			example_links(r, f, c, t);
			fputs("</td></tr>\n", f);
		}
		fputs("</table>\n", f);
	}
}

static size_t first_unit(const struct report *r, size_t cycle)
{
	size_t lo = 0, hi = r->n_units;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->units[mid].cycle < cycle)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void cycle_details(const struct report *r, FILE *f)
{
	bool *cited = calloc(r->n_cycles ? r->n_cycles : 1, sizeof(bool));
	size_t n = 0;

	if (!cited)
		return;
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct report_cell *c = &r->cells[i];
		for (int t = 0; t < REPORT_NTAX; t++)
			for (size_t e = 0; e < c->n_examples[t]; e++)
				cited[r->units[c->examples[t][e]].cycle] = true;
		if (c->ctl_example != SIZE_MAX)
			cited[r->units[c->ctl_example].cycle] = true;
	}
	fputs("<h2 id='cycles'>Cycle details</h2>\n<p class='meta'>The cycles cited above. "
	      "<code>powercut show DB CYCLE</code> prints everything the database holds about one.</p>\n", f);
	for (size_t cy = 0; cy < r->n_cycles; cy++) {
		if (!cited[cy])
			continue;
		n++;
		const struct report_cycle *c = &r->cycles[cy];
		const struct report_campaign *cp = &r->campaigns[c->campaign];
		char a[64], cmd[4200], tm[40];
		report_anchor(a, sizeof(a), r, cy);
		size_t u0 = first_unit(r, cy);
		report_show_cmd(cmd, sizeof(cmd), r, &r->units[u0 < r->n_units ? u0 : 0]);
		report_time(tm, sizeof(tm), c->started_wall_ns);
		fprintf(f, "<h3 id='%s'>cycle %" PRId64 " (campaign %" PRId64 ", index %" PRId64 ")</h3>\n"
			"<p><code>", a, c->id, cp->id, c->idx);
		esc(f, cmd);
		fprintf(f, "</code><br>status %s, started %s", c->status, tm);
		bool dc = !strcmp(json_string_value(json_object_get(json_object_get(cp->config,
				"relay"), "switches")) ?: "", "dc");
		if (c->have_cut && dc)
			fprintf(f, "; %s cut timed by %s, cut seed %" PRId64 ", no hold-up (the relay "
				"switches DC, PS_ON), uncertainty &plusmn;%.1f &micro;s", c->cut_kind,
				c->timed_by, c->cut_seed, c->uncertainty_ns / 1e3);
		else if (c->have_cut)
			fprintf(f, "; %s cut timed by %s, cut seed %" PRId64 ", hold-up %.3f ms, "
				"uncertainty &plusmn;%.1f &micro;s", c->cut_kind, c->timed_by, c->cut_seed,
				c->hold_up_ns / 1e6, c->uncertainty_ns / 1e3);
		fputs("</p>\n<table><tr><th>disk</th><th>verified</th><th>violations</th>"
		      "<th>since last flush</th>", f);
		for (int k = 1; k < CLS__COUNT; k++)
			fprintf(f, "<th>%s</th>", cls_class_info(k)->title);
		fputs("<th>metadata</th></tr>\n", f);
		for (size_t ui = u0; ui < r->n_units && r->units[ui].cycle == cy; ui++) {
			const struct report_unit *u = &r->units[ui];
			fputs("<tr><td>", f);
			esc(f, u->disk);
			fprintf(f, "</td><td>%s</td>", u->verified ? "yes" : "<span class='bad'>no</span>");
			td_num(f, u->violations, true);
			if (u->verified)
				fprintf(f, "<td class='n'>%.1f ms%s</td>", u->since_flush_ns / 1e6,
					u->have_flush ? "" : " (no flush)");
			else
				fputs("<td>-</td>", f);
			for (int k = 1; k < CLS__COUNT; k++)
				td_num(f, u->cls[k], cls_class_info(k)->violation == ORACLE_YES);
			fprintf(f, "<td>%s</td></tr>\n", u->meta_failure ? "<span class='bad'>failure</span>" :
				u->meta_repaired ? "leaks repaired" : u->checked ? "clean" : "not checked");
		}
		fputs("</table>\n", f);
	}
	if (!n)
		fputs("<p>No cycle had anything to cite.</p>\n", f);
	free(cited);
}

static void reproducibility(const struct report *r, FILE *f)
{
	json_t *cfgs = report_json(r), *g;
	size_t i;

	fputs("<h2 id='repro'>Reproducibility</h2>\n<p class='meta'>Every campaign stores the "
	      "effective bench config (every key, defaults included) with its SHA-256, and the "
	      "versions of the tools that ran it. To re-run: save the config below as a file and "
	      "run it with the same powercut, firmware and QEMU; the seeds make the workload and "
	      "the cut moments the same draw.</p>\n<table><tr><th>database</th><th>schema</th></tr>", f);
	for (size_t d = 0; d < r->n_dbs; d++) {
		fputs("<tr><td><code>", f);
		esc(f, r->dbs[d].path);
		fprintf(f, "</code></td><td class='n'>%d</td></tr>", r->dbs[d].schema);
	}
	fputs("</table>\n", f);
	json_array_foreach(json_object_get(cfgs, "configs"), i, g) {
		size_t k;
		json_t *v;
		fputs("<h3>bench '", f);
		esc(f, json_string_value(json_object_get(g, "bench")));
		fputs("', config <code>", f);
		esc(f, json_string_value(json_object_get(g, "config_hash")));
		fprintf(f, "</code></h3>\n<p>%" PRId64 " campaign(s). Versions:</p><table>",
			(int64_t)json_integer_value(json_object_get(g, "campaigns")));
		json_array_foreach(json_object_get(g, "versions"), k, v) {
			const char *key;
			json_t *x;
			json_object_foreach(v, key, x) {
				char *s = json_is_string(x) ? strdup(json_string_value(x)) :
					  json_dumps(x, JSON_ENCODE_ANY);
				fputs("<tr><th>", f);
				esc(f, key);
				fputs("</th><td>", f);
				esc(f, json_is_null(x) ? "not recorded" : s ? s : "?");
				fputs("</td></tr>", f);
				free(s);
			}
		}
		fputs("</table>\n<p>Oracle payload seeds:", f);
		json_array_foreach(json_object_get(g, "seeds"), k, v)
			fprintf(f, " %" PRId64, (int64_t)json_integer_value(v));
		fputs(". Each cut's own seed is in its cycle's details (the firmware draws the moment "
		      "from it).</p>\n<details><summary>full bench config</summary><pre>", f);
		esc(f, json_string_value(json_object_get(g, "config_text")));
		fputs("</pre></details>\n", f);
	}
	json_decref(cfgs);
}

/* The drives' testimony: one row per drive (disk, model, firmware, serial). */
static void drives(const struct report *r, FILE *f)
{
	if (!r->n_drives)
		return;
	fputs("<h2 id='drives'>Drives</h2>\n<p>Each drive's own testimony (smartctl, before and "
	      "after every cycle; <code>docs/node.md</code>). <i>not-counted</i>: power cuts the "
	      "drive did not count as unsafe shutdowns, so the cut may not have reached it.</p>\n"
	      "<table><tr><th>disk</th><th>drive</th><th>firmware</th><th>serial</th>"
	      "<th>protocol</th><th>write cache</th><th>cycles</th>", f);
	for (int k = 0; k < 5; k++)
		fprintf(f, "<th>%s</th>", report_drive_verdicts[k]);
	fputs("</tr>\n", f);
	for (size_t i = 0; i < r->n_drives; i++) {
		const struct report_drive *v = &r->drives[i];
		const char *cols[] = { v->disk, v->model, v->firmware, v->serial, v->protocol,
				       v->write_cache };
		fputs("<tr>", f);
		for (int k = 0; k < 6; k++) {
			fputs("<td>", f);
			esc(f, cols[k]);
			fputs("</td>", f);
		}
		td_num(f, v->cycles, false);
		for (int k = 0; k < 5; k++)
			td_num(f, v->verdicts[k], k == 1 && v->verdicts[k]);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
}

int report_render_html(const struct report *r, FILE *f)
{
	char tm[40], t[32];

	report_time(tm, sizeof(tm), r->generated_wall_ns);
	report_pct(t, sizeof(t), r->opts.target);
	fputs("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
	      "<meta name='viewport' content='width=device-width, initial-scale=1'>", f);
	/* `powercut serve`: the page reloads itself, no script needed. */
	if (r->opts.refresh_s > 0)
		fprintf(f, "<meta http-equiv='refresh' content='%d'>", r->opts.refresh_s);
	fprintf(f, "<title>powercut durability report</title><style>%s</style></head><body>\n", css);
	fprintf(f, "<h1>powercut durability report</h1>\n<p class='meta'>Generated %s from %zu "
		"database%s: %zu campaign%s, %zu cycles, %zu disk-cycles in %zu cells. Target rate for "
		"&ldquo;cycles needed&rdquo;: %s. Sections: <a href='#forest'>rates</a>, "
		"<a href='#matrix'>matrix</a>, <a href='#exposure'>exposure</a>, "
		"<a href='#taxonomy'>taxonomy</a>, <a href='#plots'>plots</a>, "
		"<a href='#cycles'>cycles</a>, <a href='#repro'>reproducibility</a>.</p>\n", tm, r->n_dbs,
		r->n_dbs == 1 ? "" : "s", r->n_campaigns, r->n_campaigns == 1 ? "" : "s", r->n_cycles,
		r->n_units, r->n_cells, t);
	controls_banner(r, f);
	fputs("<h2 id='forest'>Which cells lose what</h2>\n<figure>", f);
	report_svg_forest(r, f);
	fputs("<figcaption>Per cell, the share of verified cycles with a violation (flushed data "
	      "lost, corrupt or misdirected) and with unflushed writes lost, with Wilson 95 % "
	      "intervals; grouped by cut kind, the controls apart. A lying control is expected at "
	      "100 % violations, a safe one at 0. Numbers as in the matrix below.</figcaption>"
	      "</figure>\n", f);
	matrix(r, f);
	taxonomy(r, f);
	fputs("<h2 id='exposure'>Exposure window</h2>\n<figure>", f);
	report_svg_exposure(r, f);
	fputs("<figcaption>How long acknowledged data stays volatile: per disk-cycle that lost an "
	      "acknowledged write, the age at the cut of the oldest one lost (the cut minus the "
	      "host's receipt of its acknowledgement), on a logarithmic axis. A cache that "
	      "writes back promptly keeps this short; one that holds writes until a flush loses "
	      "everything since the last flush.</figcaption></figure>\n", f);
	report_explored_html(r, f);
	fputs("<h2 id='plots'>Plots</h2>\n<figure>", f);
	report_svg_losses(r, f, false);
	fputs("<figcaption>Tested disks: blocks lost per disk-cycle against the time between the "
	      "last completed flush (its receipt by the host's ledger) and the cut. Circles: no "
	      "violation; squares: a violation. The count axis is logarithmic when the counts "
	      "span two decades or more. Losses growing with this time are unflushed writes; a "
	      "loss at a time near zero deserves a look.</figcaption></figure>\n<figure>", f);
	report_svg_losses(r, f, true);
	fputs("<figcaption>Control disks, apart: a lying disk loses thousands of blocks by "
	      "design and would flatten the plot above.</figcaption></figure>\n<figure>", f);
	report_svg_holdup(r, f);
	fputs("<figcaption>PSU hold-up: relay open to the PWR_OK drop, per cut (firmware clock). "
	      "A supply that drops DC sooner than its specification shortens the window in which "
	      "a disk can save its cache.</figcaption></figure>\n<figure>", f);
	report_svg_timeline(r, f);
	fputs("<figcaption>Every disk-cycle over wall time, one row per cell (numbers as in the "
	      "matrix); a slot shows the worst outcome that fell in it.</figcaption></figure>\n", f);
	drives(r, f);
	cycle_details(r, f);
	reproducibility(r, f);
	fputs("<p class='meta'>How to read this report: <code>docs/methodology.md</code>; the format: "
	      "<code>docs/report.md</code>.</p>\n</body></html>\n", f);
	return 0;
}
