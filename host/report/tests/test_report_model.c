/* The report model against databases built here through the store's API, each
 * holding exactly the case a rule must catch: pooling only on equal cell keys (across
 * databases too), violations and unflushed losses counted per disk-cycle, unrepairable
 * metadata failures apart from repaired leaks, a node that never came back, controls
 * (a lying disk without a violation fails the report; a safe one passes), statistics
 * as stats.h computes them, examples naming their cycle, and every format rendering;
 * the exposure window's distribution (nearest-rank quantiles, unverified disk-cycles
 * left out), the Prometheus metrics with their values and label escaping, a report of
 * one campaign, powercut status, and a lost node told from a cycle that failed before
 * its cut. */
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
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "ledger_schema.h"
#include "log.h"
#include "report.h"
#include "store.h"

#include "report_store_test.h"
#include "util.h"

/* The tables below leave trailing fields out on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static char dir[PATH_MAX], db1[PATH_MAX + 16], db2[PATH_MAX + 16];

struct disk_res {
	const char *disk;
	int64_t cls[CLS__COUNT];
	int64_t violations;
	const char *check;	/* metadata check result, NULL: none */
	bool no_result;		/* the oracle never classified it */
	bool no_flush;		/* cut before the disk's first acknowledged flush */
};

static int64_t campaign(struct store *st, char **sets, size_t n_sets)
{
	int64_t id = rt_campaign(st, "rig/benches/sim-fast.ini", sets, n_sets,
				 "{\"powercut\":\"test\",\"qemu_img\":\"7.2\"}");
	char sql[128];
	snprintf(sql, sizeof(sql), "INSERT INTO oracle_campaign_token VALUES (%lld, 'x', %lld)",
		 (long long)id, (long long)(1000 + id));
	assert_int_equal(sqlite3_exec(store_db(st), sql, NULL, NULL, NULL), SQLITE_OK);
	return id;
}

/* disks must be given in sorted-name order: their ids are 1, 2, ... as the node's. */
static int64_t cycle(struct store *st, int64_t camp, int64_t idx, const char *kind,
		     const struct disk_res *d, size_t nd)
{
	int64_t cy;
	assert_int_equal(store_cycle_insert(st, camp, idx, "ok", 1000 + idx, &cy), 0);
	struct store_cut c = { .cycle = cy, .kind = kind, .timed_by = "firmware",
			       .relay_off_mono_ns = 5000, .hold_up_ns = 18000000 + idx * 1000,
			       .seed = (uint64_t)idx };
	assert_int_equal(store_cut_insert(st, &c, NULL), 0);
	for (size_t i = 0; i < nd; i++) {
		if (d[i].check)
			assert_int_equal(store_check_insert(st, cy, d[i].disk, "qemu-img-check",
							    d[i].check, NULL), 0);
		if (d[i].no_result)
			continue;
		sqlite3_stmt *s;
		assert_int_equal(sqlite3_prepare_v2(store_db(st), "INSERT INTO oracle_cycle_result "
			"VALUES (?,?,?,?, ?,?,?,?,?,?,?,?,?, ?,0,0, 0,0,?,?)", -1, &s, NULL), SQLITE_OK);
		sqlite3_bind_int64(s, 1, camp);
		sqlite3_bind_int64(s, 2, idx);
		sqlite3_bind_int64(s, 3, (int64_t)i + 1);
		sqlite3_bind_int64(s, 4, 2048);
		for (int k = 0; k < CLS__COUNT; k++)
			sqlite3_bind_int64(s, 5 + k, d[i].cls[k]);
		sqlite3_bind_int64(s, 14, d[i].violations);
		sqlite3_bind_int64(s, 15, 300000000);
		sqlite3_bind_int(s, 16, !d[i].no_flush);
		assert_int_equal(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
	}
	store_cycle_finish(st, cy, "ok", 2000 + idx);
	return cy;
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/pc-report-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(db1, sizeof(db1), "%s/a.db", dir);
	snprintf(db2, sizeof(db2), "%s/b.db", dir);

	/* Database 1: the seed bench with a process kill (disks qcow2, raw). */
	struct store *st = store_open(db1, STORE_CREATE | STORE_MIGRATE);
	assert_non_null(st);
	char *kill[] = { "campaign.cut=kill" };
	int64_t a = campaign(st, kill, 1);
	struct disk_res c1[] = { { "qcow2", { [CLS_OK] = 100, [CLS_UNFLUSHED_LOST_OLDER] = 10 }, 0, "clean" },
				 { "raw", { [CLS_OK] = 110 }, 0, NULL } };
	struct disk_res c2[] = { { "qcow2", { [CLS_OK] = 100, [CLS_FLUSHED_LOST_ZERO] = 1 }, 1, "corrupt" },
				 { "raw", { [CLS_OK] = 110, [CLS_INFLIGHT_PERSISTED] = 3 }, 0, NULL } };
	struct disk_res c3[] = { { "qcow2", { 0 }, 0, NULL, true },
				 { "raw", { [CLS_OK] = 110 }, 0, "repaired" } };
	cycle(st, a, 1, "kill", c1, 2);
	cycle(st, a, 2, "kill", c2, 2);
	cycle(st, a, 3, "kill", c3, 2);
	/* A power-cut campaign with controls: the lying disk shows no violation in one of
	 * its two cycles (the control fails), the safe disk none (it passes). */
	char *ctl[] = { "campaign.cut=power", "disk.qcow2.control=lying", "disk.raw.control=safe" };
	int64_t b = campaign(st, ctl, 3);
	struct disk_res p1[] = { { "qcow2", { [CLS_OK] = 90, [CLS_FLUSHED_LOST_OLDER] = 20 }, 20, "clean" },
				 { "raw", { [CLS_OK] = 110 }, 0, NULL } };
	struct disk_res p2[] = { { "qcow2", { [CLS_OK] = 110 }, 0, "clean" },
				 { "raw", { [CLS_OK] = 105, [CLS_UNFLUSHED_LOST_ZERO] = 5 }, 0, NULL } };
	/* ... and a cycle cut before the lying disk's first flush: nothing it could have
	 * lied about, neither for nor against the control. */
	struct disk_res p3[] = { { "qcow2", { [CLS_OK] = 110 }, 0, "clean", false, true },
				 { "raw", { [CLS_OK] = 110 }, 0, NULL } };
	cycle(st, b, 1, "power", p1, 2);
	cycle(st, b, 2, "power", p2, 2);
	cycle(st, b, 3, "power", p3, 2);
	store_close(st);

	/* Database 2: the same kill campaign (pools), and one with the qcow2 disk's cache
	 * mode changed (must not pool). */
	st = store_open(db2, STORE_CREATE | STORE_MIGRATE);
	assert_non_null(st);
	int64_t c = campaign(st, kill, 1);
	cycle(st, c, 1, "kill", c1, 2);
	char *ds[] = { "campaign.cut=kill", "disk.qcow2.cache=directsync" };
	int64_t d = campaign(st, ds, 2);
	struct disk_res q1[] = { { "qcow2", { [CLS_OK] = 110 }, 0, "clean" },
				 { "raw", { [CLS_OK] = 110 }, 0, NULL } };
	cycle(st, d, 1, "kill", q1, 2);
	store_close(st);
	return 0;
}

static int teardown(void **state)
{
	unlink(db1);
	unlink(db2);
	char p[PATH_MAX + 32];
	snprintf(p, sizeof(p), "%s/a.db-wal", dir); unlink(p);
	snprintf(p, sizeof(p), "%s/a.db-shm", dir); unlink(p);
	snprintf(p, sizeof(p), "%s/b.db-wal", dir); unlink(p);
	snprintf(p, sizeof(p), "%s/b.db-shm", dir); unlink(p);
	rmdir(dir);
	return 0;
}

static json_t *find_cell(json_t *cells, const char *cut, const char *disk, const char *cache)
{
	size_t i;
	json_t *c, *found = NULL;
	int n = 0;

	json_array_foreach(cells, i, c) {
		if (!strcmp(json_string_value(json_object_get(c, "cut")), cut) &&
		    !strcmp(json_string_value(json_object_get(c, "disk")), disk) &&
		    !strcmp(json_string_value(json_object_get(c, "cache")), cache)) {
			found = c;
			n++;
		}
	}
	assert_int_equal(n, 1);	/* exactly one cell per key */
	return found;
}

static int64_t geti(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void test_cells(void **state)
{
	char *paths[] = { db1, db2 };
	struct report_options o = REPORT_OPTIONS_INIT;
	struct report *r = report_load(paths, 2, &o);
	assert_non_null(r);
	json_t *j = report_json(r), *cells = json_object_get(j, "cells");
	/* kill: qcow2/none, raw/none (pooled over both databases), qcow2/directsync,
	 * raw of the directsync campaign (same key as raw/none: pools); power: 2 */
	assert_int_equal(json_array_size(cells), 5);

	json_t *q = find_cell(cells, "kill", "qcow2", "none");
	assert_int_equal(geti(q, "cycles"), 4);
	assert_int_equal(geti(q, "verified_cycles"), 3);
	assert_int_equal(geti(q, "campaigns"), 2);
	assert_int_equal(geti(q, "databases"), 2);
	assert_int_equal(geti(q, "violation_cycles"), 1);
	assert_int_equal(geti(q, "unflushed_loss_cycles"), 2);
	assert_int_equal(geti(q, "metadata_failures"), 1);
	assert_int_equal(geti(q, "metadata_repaired"), 0);
	assert_int_equal(geti(q, "node_lost_cycles"), 1);
	struct stats_interval ci;
	stats_wilson(1, 3, STATS_Z95, &ci);
	json_t *v = json_object_get(q, "violation_rate_ci95");
	assert_int_equal(json_array_size(v), 2);
	assert_true(json_real_value(json_array_get(v, 0)) == ci.lo);
	assert_true(json_real_value(json_array_get(v, 1)) == ci.hi);
	json_t *tax = json_object_get(q, "taxonomy");
	json_t *t = json_object_get(tax, "unflushed_lost_older");
	assert_int_equal(geti(t, "blocks"), 20);
	assert_int_equal(geti(t, "cycles"), 2);
	json_t *ex = json_array_get(json_object_get(t, "examples"), 0);
	assert_string_equal(json_string_value(json_object_get(ex, "db")), db1);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "powercut show %s %lld", db1,
		 (long long)geti(ex, "cycle_id"));
	assert_string_equal(json_string_value(json_object_get(ex, "show")), want);
	assert_int_equal(geti(json_object_get(tax, "flushed_lost_zero"), "cycles"), 1);
	/* the rate is above 1 %: no honest count of further cycles */
	assert_true(json_is_null(json_object_get(json_object_get(q, "violation"), "cycles_needed")));

	json_t *raw = find_cell(cells, "kill", "raw", "none");
	assert_int_equal(geti(raw, "cycles"), 5);
	assert_int_equal(geti(raw, "violation_cycles"), 0);
	assert_int_equal(geti(raw, "unflushed_loss_cycles"), 0);
	assert_int_equal(geti(raw, "metadata_failures"), 0);
	assert_int_equal(geti(raw, "metadata_repaired"), 1);
	/* zero failures in 5: exact bound and cycles needed for 1 % (299 in all) */
	json_t *rv = json_object_get(raw, "violation");
	assert_true(json_real_value(json_object_get(rv, "upper95")) == stats_zero_fail_upper(5, 0.05));
	assert_int_equal(geti(rv, "cycles_needed"), 299 - 5);
	assert_true(json_real_value(json_array_get(json_object_get(raw, "violation_rate_ci95"), 0)) == 0);

	json_t *dsync = find_cell(cells, "kill", "qcow2", "directsync");
	assert_int_equal(geti(dsync, "cycles"), 1);
	assert_int_equal(geti(dsync, "unflushed_loss_cycles"), 0);

	/* controls: the lying disk missed a violation once */
	json_t *lie = find_cell(cells, "power", "qcow2", "none");
	assert_string_equal(json_string_value(json_object_get(lie, "control")), "lying");
	assert_string_equal(json_string_value(json_object_get(lie, "control_state")), "failed");
	assert_int_equal(geti(lie, "control_bad_cycles"), 1);
	assert_int_equal(geti(lie, "control_unexercised_cycles"), 1);
	json_t *safe = find_cell(cells, "power", "raw", "none");
	assert_string_equal(json_string_value(json_object_get(safe, "control_state")), "passed");
	assert_int_equal(geti(safe, "unflushed_loss_cycles"), 1);
	json_t *ctl = json_object_get(j, "controls");
	assert_true(json_is_false(json_object_get(ctl, "ok")));
	assert_int_equal(geti(ctl, "failed"), 1);
	assert_int_equal(geti(ctl, "passed"), 1);
	/* controls sort after the disks under test */
	assert_string_equal(json_string_value(json_object_get(json_array_get(cells, 4), "control")) ,
			    "safe");
	/* reproducibility: three distinct configs, with their seeds and versions */
	assert_int_equal(json_array_size(json_object_get(j, "configs")), 3);
	json_decref(j);

	/* every format renders; the HTML says the controls failed, before the matrix */
	for (int f = REPORT_HTML; f <= REPORT_JSON; f++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);
		assert_int_equal(report_render(r, f, m), 0);
		fclose(m);
		assert_true(len > 200);
		if (f == REPORT_HTML) {
			char *banner = strstr(buf, "CONTROLS FAILED"), *mx = strstr(buf, "id='matrix'");
			assert_non_null(banner);
			assert_non_null(mx);
			assert_true(banner < mx);
			assert_null(strstr(buf, "<script"));
			assert_non_null(strstr(buf, "<svg"));
		}
		if (f == REPORT_CSV)
			assert_int_equal(strncmp(buf, "cell,bench,cut,", 15), 0);
		free(buf);
	}
	report_free(r);

	/* one database alone: nothing from the other */
	r = report_load(paths + 1, 1, &o);
	assert_non_null(r);
	j = report_json(r);
	q = find_cell(json_object_get(j, "cells"), "kill", "qcow2", "none");
	assert_int_equal(geti(q, "cycles"), 1);
	assert_true(json_is_true(json_object_get(json_object_get(j, "controls"), "ok")));
	json_decref(j);
	report_free(r);
}

/* The sample of a metric family whose labels start with `labels`, or -1. */
static double metric_value(const char *text, const char *name, const char *labels)
{
	char prefix[512];
	snprintf(prefix, sizeof(prefix), "\n%s{%s", name, labels);
	const char *p = strstr(text, prefix);
	if (!p)
		return -1;
	p = strstr(p, "} ");
	return p ? strtod(p + 2, NULL) : -1;
}

static void test_exposure_metrics(void **state)
{
	/* Exposure windows of the kill campaign's qcow2 (campaign 1, disk 1): 40 and 5 ms
	 * in its verified cycles 1 and 2, and one in cycle 3, which was never verified
	 * and must not count. */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(db1, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO oracle_exposure VALUES (1,1,1,0,0,40000000,3),"
				      " (1,2,1,0,0,5000000,1), (1,3,1,0,0,999000000,9)", NULL, NULL,
				      NULL), SQLITE_OK);
	sqlite3_close(db);

	char *paths[] = { db1, db2 };
	struct report_options o = REPORT_OPTIONS_INIT;
	struct report *r = report_load(paths, 2, &o);
	assert_non_null(r);
	json_t *j = report_json(r), *cells = json_object_get(j, "cells");
	json_t *q = json_object_get(find_cell(cells, "kill", "qcow2", "none"), "exposure_ms");
	assert_int_equal(geti(q, "n"), 2);
	/* nearest rank of {5, 40}: the median is the 1st, the 90th percentile the 2nd */
	assert_true(json_real_value(json_object_get(q, "min")) == 5.0);
	assert_true(json_real_value(json_object_get(q, "median")) == 5.0);
	assert_true(json_real_value(json_object_get(q, "p90")) == 40.0);
	assert_true(json_real_value(json_object_get(q, "max")) == 40.0);
	assert_int_equal(geti(json_object_get(find_cell(cells, "kill", "raw", "none"), "exposure_ms"),
			      "n"), 0);
	json_decref(j);

	/* Metrics: the kill campaign's qcow2 cell pools db1's three cycles and db2's one:
	 * 4 cycles, 3 verified, 1 violation, 2 with unflushed writes lost (10 blocks each),
	 * 1 whose node never came back. */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_int_equal(report_metrics(r, NULL, f), 0);
	fclose(f);
	const char *lq = "bench=\"sim-fast\",cut=\"kill\",disk=\"qcow2\",format=\"qcow2\","
			 "cache=\"none\",control=\"none\",key=";
	assert_true(metric_value(text, "powercut_cycles_total", lq) == 4);
	assert_true(metric_value(text, "powercut_verified_cycles_total", lq) == 3);
	assert_true(metric_value(text, "powercut_violation_cycles_total", lq) == 1);
	assert_true(metric_value(text, "powercut_unflushed_loss_cycles_total", lq) == 2);
	assert_true(metric_value(text, "powercut_unflushed_lost_blocks_total", lq) == 20);
	assert_true(metric_value(text, "powercut_node_lost_cycles_total", lq) == 1);
	assert_non_null(strstr(text, "\n# TYPE powercut_cycles_total counter\n"));
	/* the failed lying control */
	assert_non_null(strstr(text, "\npowercut_controls_failed 1\n"));
	/* no status given: no campaign gauges */
	assert_null(strstr(text, "powercut_campaign_running"));
	free(text);

	/* Label values escape backslash, double quote and newline. */
	free(r->cells[0].bench);
	r->cells[0].bench = strdup("a\"b\\c\nd");
	f = open_memstream(&text, &len);
	assert_int_equal(report_metrics(r, NULL, f), 0);
	fclose(f);
	assert_non_null(strstr(text, "{bench=\"a\\\"b\\\\c\\nd\","));
	free(text);
	report_free(r);

	/* One campaign only: the power-cut campaign of db1 (id 2) has the two control cells. */
	o.campaign = 2;
	r = report_load(paths, 1, &o);
	assert_non_null(r);
	assert_int_equal(r->n_campaigns, 1);
	assert_int_equal(r->n_cells, 2);
	for (size_t i = 0; i < r->n_cells; i++)
		assert_string_equal(r->cells[i].cut, "power");
	report_free(r);

	sqlite3_open(db1, &db);
	sqlite3_exec(db, "DELETE FROM oracle_exposure", NULL, NULL, NULL);
	sqlite3_close(db);
}

/* powercut status: a campaign in its second cycle, then one whose node was lost. */
static void test_status(void **state)
{
	char db3[PATH_MAX + 16];
	snprintf(db3, sizeof(db3), "%s/d.db", dir);
	struct store *st = store_open(db3, STORE_CREATE | STORE_MIGRATE);
	assert_non_null(st);
	char *kill[] = { "campaign.cut=kill" };
	int64_t a = campaign(st, kill, 1);
	struct disk_res c1[] = { { "qcow2", { [CLS_OK] = 100, [CLS_UNFLUSHED_LOST_OLDER] = 10 }, 0, "clean" },
				 { "raw", { [CLS_OK] = 110 }, 0, NULL } };
	cycle(st, a, 1, "kill", c1, 2);
	int64_t cy2;
	assert_int_equal(store_cycle_insert(st, a, 2, "running", 5000, &cy2), 0);
	sqlite3 *db = store_db(st);
	char sql[256];
	/* started 60 s apart; planned 10 cycles; the first done, the second in its workload */
	snprintf(sql, sizeof(sql), "UPDATE cycles SET started_wall_ns = 1000000000000 + (idx - 1) * "
		 "60000000000, step = CASE idx WHEN 1 THEN 'done' ELSE 'workload' END; "
		 "UPDATE campaigns SET run_json = '{\"cycles\":10}' WHERE id = %lld", (long long)a);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);

	json_t *j = report_status(db3, 0);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "running");
	assert_int_equal(geti(j, "cycles"), 2);
	assert_int_equal(geti(j, "cycles_done"), 1);
	assert_int_equal(geti(j, "planned"), 10);
	assert_string_equal(json_string_value(json_object_get(j, "node")), "up, running the workload");
	/* 60 s a cycle, 9 to go */
	assert_true(fabs(json_real_value(json_object_get(j, "seconds_per_cycle")) - 60) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(j, "eta_s")) - 540) < 1e-6);
	/* the cycle in progress has no outcome yet: the last one is cycle 1 */
	json_t *last = json_object_get(j, "last_cycle");
	assert_int_equal(geti(last, "cycle"), 1);
	json_t *d0 = json_array_get(json_object_get(last, "disks"), 0);
	assert_int_equal(geti(d0, "unflushed_lost"), 10);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "controls"), "state")),
			    "none");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_int_equal(report_status_text(j, f), 0);
	fclose(f);
	assert_non_null(strstr(text, "cycle 2 of 10, 60.0 s/cycle, ETA "));
	assert_non_null(strstr(text, "last cycle 1: ok; qcow2 0 violation blocks, 10 unflushed lost"));
	assert_non_null(strstr(text, "node: up, running the workload\n"));
	free(text);
	json_decref(j);

	assert_int_equal(sqlite3_exec(db, "UPDATE campaigns SET status = 'node-lost'", NULL, NULL, NULL),
			 SQLITE_OK);
	j = report_status(db3, a);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "node")),
			    "lost: it did not come back after a cut");
	assert_true(json_is_null(json_object_get(j, "eta_s")));
	json_decref(j);

	errno = 0;
	assert_null(report_status(db3, 7));
	assert_int_equal(errno, ENOENT);

	/* Node lost means cut and never checked: cycle 2 (no cut yet) and a cycle 3 that
	 * failed before its cut are only not verified; once cycle 2 has its cut, its
	 * unchecked disks count as a lost node. */
	int64_t cy3;
	assert_int_equal(store_cycle_insert(st, a, 3, "failed", 7000, &cy3), 0);
	char *p3[] = { db3 };
	struct report_options o = REPORT_OPTIONS_INIT;
	struct report *r = report_load(p3, 1, &o);
	assert_non_null(r);
	for (size_t i = 0; i < r->n_cells; i++) {
		assert_int_equal(r->cells[i].not_verified, 2);
		assert_int_equal(r->cells[i].node_lost, 0);
	}
	report_free(r);
	struct store_cut cut = { .cycle = cy2, .kind = "kill", .timed_by = "firmware" };
	assert_int_equal(store_cut_insert(st, &cut, NULL), 0);
	r = report_load(p3, 1, &o);
	assert_non_null(r);
	for (size_t i = 0; i < r->n_cells; i++)
		assert_int_equal(r->cells[i].node_lost, 1);
	report_free(r);
	store_close(st);
	char side[PATH_MAX + 32];
	unlink(db3);
	snprintf(side, sizeof(side), "%s-wal", db3);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", db3);
	unlink(side);
}

/* A DC-switched bench (relay.switches=dc, IPMI's PS_ON) is never pooled with a mains
 * cut of the same disks: its cells are its own, labelled, and its cycles say there is
 * no hold-up. */
static void test_dc_cut(void **state)
{
	char db3[PATH_MAX + 16], p[PATH_MAX + 32];
	snprintf(db3, sizeof(db3), "%s/c.db", dir);
	struct store *st = store_open(db3, STORE_CREATE | STORE_MIGRATE);
	assert_non_null(st);
	char *ac[] = { "campaign.cut=power" };
	char *dc[] = { "campaign.cut=power", "relay.switches=dc" };
	/* an unflushed loss, so that the report cites (details) both cycles */
	struct disk_res d1[] = { { "qcow2", { [CLS_OK] = 100, [CLS_UNFLUSHED_LOST_OLDER] = 10 }, 0, "clean" },
				 { "raw", { [CLS_OK] = 110 }, 0, NULL } };
	cycle(st, campaign(st, ac, 1), 1, "power", d1, 2);
	cycle(st, campaign(st, dc, 2), 1, "power", d1, 2);
	store_close(st);

	char *paths[] = { db3 };
	struct report_options o = REPORT_OPTIONS_INIT;
	struct report *r = report_load(paths, 1, &o);
	assert_non_null(r);
	json_t *j = report_json(r), *cells = json_object_get(j, "cells"), *c;
	size_t i;
	int dc_cells = 0;
	assert_int_equal(json_array_size(cells), 4);
	json_array_foreach(cells, i, c) {
		const char *node = json_string_value(json_object_get(c, "node"));
		assert_non_null(node);
		dc_cells += strstr(node, "dc-cut (no hold-up)") != NULL;
		assert_int_equal(geti(c, "cycles"), 1);
	}
	assert_int_equal(dc_cells, 2);
	json_decref(j);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_int_equal(report_render(r, REPORT_HTML, m), 0);
	fclose(m);
	assert_non_null(strstr(buf, "no hold-up (the relay switches DC, PS_ON)"));
	assert_non_null(strstr(buf, "hold-up 18.001 ms"));
	free(buf);
	report_free(r);
	unlink(db3);
	snprintf(p, sizeof(p), "%s-wal", db3); unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db3); unlink(p);
}

static void test_errors(void **state)
{
	char missing[PATH_MAX + 32];
	snprintf(missing, sizeof(missing), "%s/none.db", dir);
	char *paths[] = { db1, missing };
	struct report_options o = REPORT_OPTIONS_INIT;
	errno = 0;
	assert_null(report_load(paths, 2, &o));
	assert_int_equal(errno, ENOENT);
	enum report_format f;
	assert_int_equal(report_format_parse("pdf", &f), -EINVAL);
	assert_int_equal(report_format_parse("md", &f), 0);
	assert_int_equal(f, REPORT_MD);
}

/* The report knows every class of classes.h: the taxonomy has a row for each, with
 * its name, title and violation, in the oracle's order, no name twice, and every
 * cell's JSON taxonomy has a key for each. */
static void test_taxonomy_knows_every_class(void **state)
{
	for (int c = 0; c < CLS__COUNT; c++) {
		assert_string_equal(report_tax[c].name, cls_class_name(c));
		assert_string_equal(report_tax[c].title, cls_class_info(c)->title);
		assert_int_equal(report_tax[c].violation, cls_class_info(c)->violation);
		assert_int_equal(report_tax[c].counts, ORACLE_BLOCKS);
	}
	for (int k = 0; k < FSV_NCLASSES; k++) {
		assert_string_equal(report_tax[REPORT_TAX_FILE(k)].name, fsv_class_name(k));
		assert_int_equal(report_tax[REPORT_TAX_FILE(k)].violation, fsv_class_info(k)->violation);
		assert_int_equal(report_tax[REPORT_TAX_FILE(k)].counts, fsv_class_info(k)->counts);
	}
	/* whole-disk outcomes: the report counts only their cycles */
	assert_int_equal(report_tax[REPORT_TAX_NOT_VERIFIED].counts, ORACLE_CYCLES);
	assert_int_equal(report_tax[REPORT_TAX_UNMOUNTABLE].counts, ORACLE_CYCLES);
	assert_int_equal(report_tax[REPORT_TAX_FILE_LOST].counts, ORACLE_FILES);
	for (int t = 0; t < REPORT_NTAX; t++)
		for (int u = t + 1; u < REPORT_NTAX; u++)
			assert_string_not_equal(report_tax[t].name, report_tax[u].name);

	char *paths[] = { db1 };
	struct report_options o = REPORT_OPTIONS_INIT;
	struct report *r = report_load(paths, 1, &o);
	assert_non_null(r);
	json_t *j = report_json(r), *cells = json_object_get(j, "cells");
	assert_true(json_array_size(cells) > 0);
	json_t *tax = json_object_get(json_array_get(cells, 0), "taxonomy");
	assert_int_equal(json_object_size(tax), REPORT_NTAX);
	for (int c = 0; c < CLS__COUNT; c++)
		assert_non_null(json_object_get(tax, cls_class_name(c)));
	for (int k = 0; k < FSV_NCLASSES; k++)
		assert_non_null(json_object_get(tax, fsv_class_name(k)));
	json_decref(j);
	report_free(r);
}

int main(void)
{
	log_set_prog("test_report_model");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cells),
		cmocka_unit_test(test_exposure_metrics),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_dc_cut),
		cmocka_unit_test(test_taxonomy_knows_every_class),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
