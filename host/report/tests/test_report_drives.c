/* The report's ZFS and drive parts against a database built here through the store's
 * API (rig/benches/sim-zvol.ini's campaign): a zvol with sync=disabled is a negative
 * control (a violation in each power cut with a flush passes it, a cycle without one
 * fails it) named as a setting that promises nothing; zvol cells carry sync and
 * volblocksize; cells are keyed by the drive's model and firmware (a firmware change
 * makes a new cell); the per-drive table counts the smart checks' verdicts. */
#include <errno.h>
#include <limits.h>
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
#include "report.h"
#include "store.h"

#include "report_store_test.h"

static char dir[PATH_MAX], db[PATH_MAX + 16];

static int64_t campaign(struct store *st, char **sets, size_t n_sets)
{
	return rt_campaign(st, "rig/benches/sim-zvol.ini", sets, n_sets, "{}");
}

/* One power-cut cycle: the zvol (disk id 1) with `viol` violation blocks, its drive's
 * smart check (firmware fw, verdict; none when fw is NULL, as in a cycle that failed
 * before its checks), b-raw clean. */
static void cycle(struct store *st, int64_t camp, int64_t idx, int64_t viol, const char *fw,
		  const char *verdict)
{
	int64_t cy;
	assert_int_equal(store_cycle_insert(st, camp, idx, "ok", 1000 + idx, &cy), 0);
	struct store_cut c = { .cycle = cy, .kind = "power", .timed_by = "firmware",
			       .relay_off_mono_ns = 5000, .hold_up_ns = 18000000, .seed = 1 };
	assert_int_equal(store_cut_insert(st, &c, NULL), 0);
	char detail[512];
	if (!fw)
		goto results;
	snprintf(detail, sizeof(detail), "{\"before\":{\"protocol\":\"NVMe\",\"model\":\"QEMU NVMe Ctrl\","
		 "\"firmware\":\"%s\",\"serial\":\"pc1\",\"write_cache\":\"on\"},\"after\":{\"protocol\":"
		 "\"NVMe\",\"model\":\"QEMU NVMe Ctrl\",\"firmware\":\"%s\",\"serial\":\"pc1\","
		 "\"write_cache\":\"on\"}}", fw, fw);
	assert_int_equal(store_check_insert(st, cy, "a-zvol", "smart", verdict, detail), 0);
	assert_int_equal(store_check_insert(st, cy, "a-zvol", "zpool-import-ro", "pass", NULL), 0);
results:
	for (int d = 1; d <= 2; d++) {
		sqlite3_stmt *s;
		assert_int_equal(sqlite3_prepare_v2(store_db(st), "INSERT INTO oracle_cycle_result "
			"VALUES (?,?,?,?, ?,?,?,?,?,?,?,?,?, ?,0,0, 0,0,?,1)", -1, &s, NULL), SQLITE_OK);
		sqlite3_bind_int64(s, 1, camp);
		sqlite3_bind_int64(s, 2, idx);
		sqlite3_bind_int64(s, 3, d);
		sqlite3_bind_int64(s, 4, 1024);
		for (int k = 0; k < CLS__COUNT; k++)
			sqlite3_bind_int64(s, 5 + k, k == CLS_OK ? 1000 : 0);
		sqlite3_bind_int64(s, 14, d == 1 ? viol : 0);
		sqlite3_bind_int64(s, 15, 300000000);
		assert_int_equal(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
	}
	store_cycle_finish(st, cy, viol ? "violation" : "ok", 2000 + idx);
}

static json_t *cell_of(json_t *cells, const char *disk, const char *sync, const char *drive)
{
	size_t i;
	json_t *c;

	json_array_foreach(cells, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "disk")), disk) &&
		    strstr(json_string_value(json_object_get(c, "disk_kind")), sync) &&
		    !strcmp(json_string_value(json_object_get(c, "drive")), drive))
			return c;
	return NULL;
}

static void report_zvol_drives(void **state)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/pc-report-drives-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/z.db", dir);
	struct store *st = store_open(db, STORE_CREATE | STORE_MIGRATE);
	assert_non_null(st);
	/* sync=disabled: violations in both cycles with firmware 8.2.1 (the control
	 * passes); with firmware 9.0.0, a cycle without one (the control fails there) */
	char *dis[] = { "disk.a-zvol.sync=disabled" };
	int64_t a = campaign(st, dis, 1);
	cycle(st, a, 1, 12, "8.2.1", "not-counted");
	cycle(st, a, 2, 7, "8.2.1", "not-counted");
	cycle(st, a, 3, 0, "9.0.0", "counted");
	/* sync=standard: no violation */
	int64_t b = campaign(st, NULL, 0);
	cycle(st, b, 1, 0, "8.2.1", "not-counted");
	/* a cycle without a smart check belongs to the drive its disk had: no fourth cell */
	cycle(st, b, 2, 0, NULL, NULL);
	store_close(st);

	char *paths[] = { db };
	struct report_options o = REPORT_OPTIONS_INIT;
	struct report *r = report_load(paths, 1, &o);
	assert_non_null(r);
	json_t *j = report_json(r), *cells = json_object_get(j, "cells");

	json_t *c1 = cell_of(cells, "a-zvol", "sync=disabled", "QEMU NVMe Ctrl 8.2.1");
	json_t *c2 = cell_of(cells, "a-zvol", "sync=disabled", "QEMU NVMe Ctrl 9.0.0");
	json_t *c3 = cell_of(cells, "a-zvol", "sync=standard", "QEMU NVMe Ctrl 8.2.1");
	assert_non_null(c1);
	assert_non_null(c2);
	assert_non_null(c3);
	assert_non_null(strstr(json_string_value(json_object_get(c1, "disk_kind")),
			       "volblocksize=16K"));
	assert_string_equal(json_string_value(json_object_get(c3, "control")), "none");
	assert_int_equal(json_integer_value(json_object_get(c3, "cycles")), 2);
	/* two campaigns (disabled, standard) with the same drive: two cells */
	size_t i, nz = 0;
	json_t *c;
	json_array_foreach(cells, i, c)
		nz += !strcmp(json_string_value(json_object_get(c, "disk")), "a-zvol");
	assert_int_equal(nz, 3);
	assert_non_null(strstr(json_string_value(json_object_get(c1, "control")), "promises nothing"));
	assert_string_equal(json_string_value(json_object_get(c1, "control_state")), "passed");
	assert_string_equal(json_string_value(json_object_get(c2, "control_state")), "failed");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "controls"), "failed")), 1);
	/* a smart check is not a metadata check: no metadata failures */
	assert_int_equal(json_integer_value(json_object_get(c1, "metadata_failures")), 0);

	/* the per-drive table: one row per (disk, model, firmware, serial) */
	json_t *drives = json_object_get(j, "drives"), *d;
	assert_int_equal(json_array_size(drives), 2);
	bool seen = false;
	json_array_foreach(drives, i, d) {
		if (strcmp(json_string_value(json_object_get(d, "firmware")), "8.2.1"))
			continue;
		seen = true;
		assert_int_equal(json_integer_value(json_object_get(d, "cycles")), 3);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "verdicts"),
								    "not-counted")), 3);
		assert_string_equal(json_string_value(json_object_get(d, "write_cache")), "on");
	}
	assert_true(seen);
	json_decref(j);

	/* rendered: the Drives section in Markdown and HTML */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(report_render(r, REPORT_MD, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "## Drives"));
	assert_non_null(strstr(buf, "| a-zvol | QEMU NVMe Ctrl | 8.2.1 | pc1 | NVMe | on | 3 |"));
	free(buf);
	f = open_memstream(&buf, &len);
	assert_int_equal(report_render(r, REPORT_HTML, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "<h2 id='drives'>"));
	free(buf);
	report_free(r);
	unlink(db);
	char p[PATH_MAX + 32];
	snprintf(p, sizeof(p), "%s-wal", db); unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db); unlink(p);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(report_zvol_drives),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
