/* End to end: a small fast-tier campaign made by the real `powercut cycle` (firmware
 * in the simulator, qemu-storage-daemon, the agent over NBD), then `powercut report`.
 *
 * - The seed result, asserted on the JSON of the same databases: with the process
 *   kill and no flush, qcow2 with cache=none loses unflushed writes in every cycle;
 *   raw (cache=none) and qcow2 with cache=directsync lose none; nothing is a violation.
 * - A power cut with a lying raw disk: the control is caught, the report says so.
 * - The exposure window: qcow2 with cache=none under a kill without flushes loses
 *   acknowledged writes in every cycle, so it has a window per cycle; raw has none.
 * - `--compare`: qcow2 (2 of 2 cycles lost unflushed writes) against raw (0 of 3): the
 *   hypergeometric tables with those margins have probabilities 3/10, 6/10, 1/10
 *   (C(2,x) C(3,2-x) / C(5,2)), so Fisher's two-sided p is 1/10.
 * - `powercut status` on the finished campaign.
 * - The HTML page: self-contained (no script, nothing fetched), the forest plot before
 *   the matrix, rendered by headless Chromium at 1366 px and at 390 px (a phone) to
 *   BUILD/report/report-1366.png and report-390.png with no console error and no
 *   page-level horizontal scrolling (measured in an iframe of that width: headless
 *   Chromium does not make a window narrower than 500 px); the page itself is kept
 *   beside them (BUILD/report/report.html).
 * Skips (77) when Chromium is missing, after the JSON assertions. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "child.h"
#include "util.h"

#include "report_test.h"

static char bin[PATH_MAX], build[PATH_MAX], tmp[PATH_MAX], db[PATH_MAX + 16];
static bool skip_render;

static void cycle(const char *const *sets, size_t n)
{
	char pc[PATH_MAX + 16], rd[PATH_MAX + 32];
	const char *argv[40];
	size_t k = 0;
	struct child_result r;

	snprintf(pc, sizeof(pc), "%s/powercut", bin);
	/* A private run directory: its own bench lock and simulator socket. */
	snprintf(rd, sizeof(rd), "bench.run_dir=%s/run", tmp);
	argv[k++] = pc;
	argv[k++] = "cycle";
	argv[k++] = "--json";
	argv[k++] = "--db";
	argv[k++] = db;
	argv[k++] = "--set";
	argv[k++] = rd;
	for (size_t i = 0; i < n; i++) {
		argv[k++] = "--set";
		argv[k++] = sets[i];
	}
	argv[k++] = "rig/benches/sim-fast.ini";
	argv[k] = NULL;
	int rc = run(argv, &r, 120000);
	if (rc != 0)
		fprintf(stderr, "powercut cycle: exit %d\n%s\n%s\n", rc, r.out, r.err);
	assert_int_equal(rc, 0);
	child_result_release(&r);
}

static json_t *report_json(void)
{
	char pc[PATH_MAX + 16];
	struct child_result r;
	snprintf(pc, sizeof(pc), "%s/powercut", bin);
	const char *argv[] = { pc, "report", "--format", "json", db, NULL };
	assert_int_equal(run(argv, &r, 60000), 0);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	if (!j)
		fprintf(stderr, "report JSON: %s\n", e.text);
	assert_non_null(j);
	child_result_release(&r);
	return j;
}

static int setup(void **state)
{
	test_dirs(bin, sizeof(bin), build, sizeof(build), tmp, sizeof(tmp), "report-e2e");
	snprintf(db, sizeof(db), "%s/c.db", tmp);
	return 0;
}

static int teardown(void **state)
{
	rm_tmp(tmp);
	return 0;
}

static json_t *cell(json_t *cells, const char *cut, const char *disk, const char *cache)
{
	size_t i;
	json_t *c;
	json_array_foreach(cells, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "cut")), cut) &&
		    !strcmp(json_string_value(json_object_get(c, "disk")), disk) &&
		    !strcmp(json_string_value(json_object_get(c, "cache")), cache))
			return c;
	fail_msg("no cell %s/%s/%s", cut, disk, cache);
	return NULL;
}

static json_int_t geti(json_t *c, const char *k)
{
	assert_true(json_is_integer(json_object_get(c, k)));
	return json_integer_value(json_object_get(c, k));
}

static void test_seed_result(void **state)
{
	static const char *const kill[] = { "campaign.cut=kill", "workload.flush=never" };
	static const char *const kill_ds[] = { "campaign.cut=kill", "workload.flush=never",
					       "disk.qcow2.cache=directsync" };
	static const char *const lying[] = { "campaign.cut=power", "node.writeback=none",
					     "disk.raw.control=lying" };
	cycle((const char *const *)kill, 2);
	cycle((const char *const *)kill, 2);
	cycle((const char *const *)kill_ds, 3);
	cycle((const char *const *)lying, 3);

	json_t *j = report_json(), *cells = json_object_get(j, "cells");
	json_t *q = cell(cells, "kill", "qcow2", "none");
	json_t *raw = cell(cells, "kill", "raw", "none");
	json_t *ds = cell(cells, "kill", "qcow2", "directsync");

	/* qcow2 cache=none: both kill cycles pooled, both lost unflushed writes */
	assert_int_equal(geti(q, "cycles"), 2);
	assert_int_equal(geti(q, "verified_cycles"), 2);
	assert_int_equal(geti(q, "unflushed_loss_cycles"), 2);
	/* raw pools over all three kill campaigns (its key did not change) */
	assert_int_equal(geti(raw, "cycles"), 3);
	assert_int_equal(geti(raw, "verified_cycles"), 3);
	assert_int_equal(geti(raw, "unflushed_loss_cycles"), 0);
	assert_int_equal(geti(ds, "cycles"), 1);
	assert_int_equal(geti(ds, "verified_cycles"), 1);
	assert_int_equal(geti(ds, "unflushed_loss_cycles"), 0);
	json_t *c;
	size_t i;
	json_array_foreach(cells, i, c) {
		if (strcmp(json_string_value(json_object_get(c, "control")), "lying")) {
			assert_int_equal(geti(c, "violation_cycles"), 0);
			assert_int_equal(geti(c, "metadata_failures"), 0);
		}
		json_t *ci = json_object_get(c, "violation_rate_ci95");
		assert_int_equal(json_array_size(ci), 2);
		assert_true(json_number_value(json_array_get(ci, 0)) <= json_number_value(json_array_get(ci, 1)));
	}
	/* the lying disk is the control, and the rig caught it */
	/* the exposure window: every kill cycle of qcow2 lost acknowledged writes */
	json_t *xq = json_object_get(q, "exposure_ms"), *xr = json_object_get(raw, "exposure_ms");
	assert_int_equal(geti(xq, "n"), 2);
	assert_true(json_number_value(json_object_get(xq, "min")) > 0);
	assert_true(json_number_value(json_object_get(xq, "min")) <=
		    json_number_value(json_object_get(xq, "max")));
	assert_int_equal(geti(xr, "n"), 0);
	json_t *lie = cell(cells, "power", "raw", "none");
	assert_string_equal(json_string_value(json_object_get(lie, "control")), "lying");
	assert_int_equal(geti(lie, "violation_cycles"), 1);
	assert_true(json_is_true(json_object_get(json_object_get(j, "controls"), "ok")));
	json_decref(j);
}

static void test_formats(void **state)
{
	char pc[PATH_MAX + 16];
	struct child_result r;
	snprintf(pc, sizeof(pc), "%s/powercut", bin);
	const char *csv[] = { pc, "report", "--format=csv", db, NULL };
	assert_int_equal(run(csv, &r, 60000), 0);
	assert_int_equal(strncmp(r.out, "cell,bench,cut,", 15), 0);
	child_result_release(&r);
	const char *md[] = { pc, "report", "--format=md", "--target", "0.05", db, NULL };
	assert_int_equal(run(md, &r, 60000), 0);
	assert_non_null(strstr(r.out, "## Headline matrix"));
	assert_non_null(strstr(r.out, "< 5.00 %"));
	child_result_release(&r);
	/* the terminal summary: a header, one line per cell, the controls; 100 columns */
	const char *sum[] = { pc, "report", "--format=summary", db, NULL };
	assert_int_equal(run(sum, &r, 60000), 0);
	assert_int_equal(strncmp(r.out, "#   bench/disk", 14), 0);
	size_t lines = 0;
	for (char *l = r.out, *e; *l; l = e + 1, lines++) {
		e = strchr(l, '\n');
		assert_non_null(e);
		if (e - l > 100)
			fail_msg("summary line longer than 100 columns: %.*s", (int)(e - l), l);
	}
	assert_int_equal(lines, 1 + 5 + 1);
	assert_non_null(strstr(r.out, "[S] safe control; controls: passed"));
	assert_non_null(strstr(r.out, "sim-fast/raw [L]"));
	/* qcow2, cache=none, kill: no violation in 2, unflushed loss in both (Wilson 95 %
	 * for 0/2: [0, z^2/(2+z^2)] = [0, 65.8 %]) */
	char want[200];
	snprintf(want, sizeof(want), "%-30s %-12s %-5s %-22s %s\n", "sim-fast/qcow2", "none", "kill",
		 "0/2 [0-66%]", "2/2 [34-100%]");
	if (!strstr(r.out, want))
		fail_msg("no line '%s' in the summary:\n%s", want, r.out);
	child_result_release(&r);
	const char *bad[] = { pc, "report", "--format=pdf", db, NULL };
	assert_int_equal(run(bad, &r, 60000), 2);
	assert_non_null(strstr(r.err, "invalid value 'pdf' for '--format'"));
	child_result_release(&r);
	const char *badt[] = { pc, "report", "--target=1.5", db, NULL };
	assert_int_equal(run(badt, &r, 60000), 2);
	child_result_release(&r);
	char missing[PATH_MAX + 16];
	snprintf(missing, sizeof(missing), "%s/nope.db", tmp);
	const char *miss[] = { pc, "report", missing, NULL };
	assert_int_equal(run(miss, &r, 60000), 1);
	assert_non_null(strstr(r.err, "cannot open database"));
	child_result_release(&r);
}

/* The number of a cell in the report (1-based), as `--compare` takes it. */
static int cell_number(json_t *cells, const char *cut, const char *disk, const char *cache)
{
	json_t *c = cell(cells, cut, disk, cache);
	size_t i;
	json_t *x;
	json_array_foreach(cells, i, x)
		if (x == c)
			return (int)i + 1;
	return -1;
}

static void test_compare(void **state)
{
	char pc[PATH_MAX + 16], a[16], b[16];
	struct child_result r;
	json_error_t e;

	json_t *rep = report_json(), *cells = json_object_get(rep, "cells");
	snprintf(a, sizeof(a), "%d", cell_number(cells, "kill", "qcow2", "none"));
	/* the other by its key */
	const char *key = json_string_value(json_object_get(cell(cells, "kill", "raw", "none"), "key"));
	snprintf(b, sizeof(b), "%d", cell_number(cells, "kill", "raw", "none"));
	snprintf(pc, sizeof(pc), "%s/powercut", bin);
	const char *argv[] = { pc, "report", "--compare", "--format=json", a, key, db, NULL };
	assert_int_equal(run(argv, &r, 60000), 0);
	json_t *j = json_loads(r.out, 0, &e);
	assert_non_null(j);
	child_result_release(&r);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "b"), "cell")), atoi(b));
	json_t *u = json_object_get(j, "unflushed_loss");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(u, "a"), "k")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(u, "b"), "n")), 3);
	/* by hand: tables x = 0, 1, 2 with probabilities 3/10, 6/10, 1/10; p = 1/10 */
	double p = json_number_value(json_object_get(u, "p_value"));
	assert_true(fabs(p - 0.1) < 1e-12);
	assert_true(json_integer_value(json_object_get(u, "cycles_per_cell")) > 0);
	/* no violation in either: equal rates, p = 1, no number of cycles */
	json_t *v = json_object_get(j, "violation");
	assert_true(fabs(json_number_value(json_object_get(v, "p_value")) - 1) < 1e-12);
	assert_true(json_is_null(json_object_get(v, "cycles_per_cell")));
	json_decref(j);
	json_decref(rep);

	const char *text[] = { pc, "report", "--compare", a, b, db, NULL };
	assert_int_equal(run(text, &r, 60000), 0);
	assert_non_null(strstr(r.out, "unflushed loss"));
	assert_non_null(strstr(r.out, " 0.1 "));
	child_result_release(&r);
	const char *nocell[] = { pc, "report", "--compare", a, "99", db, NULL };
	assert_int_equal(run(nocell, &r, 60000), 2);
	assert_non_null(strstr(r.err, "no cell '99'"));
	child_result_release(&r);
	const char *badfmt[] = { pc, "report", "--compare", "--format=md", a, b, db, NULL };
	assert_int_equal(run(badfmt, &r, 60000), 2);
	child_result_release(&r);
}

static void test_status(void **state)
{
	char pc[PATH_MAX + 16];
	struct child_result r;
	json_error_t e;

	snprintf(pc, sizeof(pc), "%s/powercut", bin);
	const char *argv[] = { pc, "status", "--json", "--campaign", "1", db, NULL };
	assert_int_equal(run(argv, &r, 60000), 0);
	json_t *j = json_loads(r.out, 0, &e);
	assert_non_null(j);
	child_result_release(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "campaign")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "cycles")), 1);
	json_t *last = json_object_get(j, "last_cycle");
	assert_int_equal(json_array_size(json_object_get(last, "disks")), 2);
	assert_string_equal(json_string_value(json_object_get(j, "controls") ?
		json_object_get(json_object_get(j, "controls"), "state") : NULL), "none");
	json_decref(j);
	/* the newest campaign: the lying control, caught */
	const char *text[] = { pc, "status", db, NULL };
	assert_int_equal(run(text, &r, 60000), 0);
	assert_non_null(strstr(r.out, "campaign 4"));
	assert_non_null(strstr(r.out, "controls: passed so far"));
	assert_non_null(strstr(r.out, "node: "));
	child_result_release(&r);
	const char *none[] = { pc, "status", "--campaign", "9", db, NULL };
	assert_int_equal(run(none, &r, 60000), 1);
	assert_non_null(strstr(r.err, "has no campaign 9"));
	child_result_release(&r);
}

/* How far the page scrolls sideways at this width (scrollWidth - clientWidth of its
 * root), laid out in an iframe of that width: the page goes in srcdoc (same origin,
 * so the probe's script may measure it; the page itself has none), and Chromium's
 * --dump-dom prints the DOM with the probe's answer once the frame loaded. */
static int page_scroll(const char *page, size_t n, int width)
{
	char probe[PATH_MAX + 32], url[PATH_MAX + 48], udd[PATH_MAX + 48];
	struct child_result r;

	snprintf(probe, sizeof(probe), "%s/probe.html", tmp);
	FILE *f = fopen(probe, "w");
	assert_non_null(f);
	fprintf(f, "<!DOCTYPE html><html><body style='margin:0'><iframe id='f' style='width:%dpx;"
		"height:1200px;border:0' srcdoc=\"", width);
	for (size_t i = 0; i < n; i++)
		if (page[i] == '&')
			fputs("&amp;", f);
		else if (page[i] == '"')
			fputs("&quot;", f);
		else
			fputc(page[i], f);
	fputs("\"></iframe><script>f.onload=function(){var d=f.contentDocument.documentElement;"
	      "document.body.setAttribute('data-scroll',String(d.scrollWidth-d.clientWidth))}"
	      "</script></body></html>\n", f);
	assert_int_equal(fclose(f), 0);
	snprintf(url, sizeof(url), "file://%s", probe);
	snprintf(udd, sizeof(udd), "--user-data-dir=%s/chromium", tmp);
	const char *cargv[] = { chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", udd, "--window-size=1400,1300", "--virtual-time-budget=10000",
		"--dump-dom", url, NULL };
	assert_int_equal(run(cargv, &r, 90000), 0);
	const char *m = strstr(r.out, "data-scroll=\"");
	if (!m)
		fprintf(stderr, "probe: no answer from the iframe\n%.2000s\n", r.out);
	assert_non_null(m);
	int v = atoi(m + 13);
	child_result_release(&r);
	printf("page at %d px scrolls sideways by %d px\n", width, v);
	return v;
}

static void test_html_rendered(void **state)
{
	char pc[PATH_MAX + 16], dir[PATH_MAX + 16], html[PATH_MAX + 32], png[PATH_MAX + 32];
	char url[PATH_MAX + 48], abs[PATH_MAX];
	struct child_result r;

	snprintf(pc, sizeof(pc), "%s/powercut", bin);
	snprintf(dir, sizeof(dir), "%s/report", build);
	assert_int_equal(pc_mkdir_p(dir), 0);
	snprintf(html, sizeof(html), "%s/report.html", dir);
	const char *argv[] = { pc, "report", "--output", html, db, NULL };
	assert_int_equal(run(argv, &r, 60000), 0);
	child_result_release(&r);

	/* self-contained: no script, nothing to fetch */
	FILE *f = fopen(html, "r");
	assert_non_null(f);
	static char page[4 << 20];
	size_t n = fread(page, 1, sizeof(page) - 1, f);
	fclose(f);
	page[n] = 0;
	assert_null(strstr(page, "<script"));
	assert_null(strstr(page, "src="));
	assert_null(strstr(page, "href='http"));
	assert_null(strstr(page, "url("));
	assert_non_null(strstr(page, "Controls passed"));
	assert_true(strstr(page, "Controls passed") < strstr(page, "id='matrix'"));
	assert_non_null(strstr(page, "<svg"));
	/* the picture first: the forest plot before the matrix, the exposure window, the
	 * controls' losses apart */
	assert_non_null(strstr(page, "id='forest'"));
	assert_true(strstr(page, "id='forest'") < strstr(page, "id='matrix'"));
	assert_non_null(strstr(page, "forest plot: per cell"));
	assert_non_null(strstr(page, "id='exposure'"));
	assert_non_null(strstr(page, "control disks: blocks lost"));
	assert_null(strstr(page, "http-equiv='refresh'"));

	if (access(chromium, X_OK) < 0) {
		skip_render = true;
		return;
	}
	assert_non_null(realpath(html, abs));
	snprintf(url, sizeof(url), "file://%s", abs);
	static const int widths[] = { 1366, 390 };
	for (size_t k = 0; k < 2; k++) {
		snprintf(png, sizeof(png), "%s/report-%d.png", dir, widths[k]);
		chromium_shot(url, png, widths[k], tmp);
		assert_int_equal(page_scroll(page, n, widths[k]), 0);
	}
	/* The probe can fail: a page wider than the window scrolls. */
	const char wide[] = "<!DOCTYPE html><html><body><div style='width:2000px'>wide</div></body></html>";
	assert_true(page_scroll(wide, sizeof(wide) - 1, 390) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_result),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_html_rendered),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	if (rc == 0 && skip_render) {
		printf("skip: no chromium at '%s' (the report's JSON assertions passed)\n", chromium);
		return 77;
	}
	return rc;
}
