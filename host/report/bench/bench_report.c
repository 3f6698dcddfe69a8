/* Benchmark: `powercut report` on a database of 10,000 cycles.
 *
 * The database is generated through the store's API the way `powercut cycle` fills
 * it: campaigns with the bench config (sim-fast with overrides), and per cycle a cut
 * event with its edges, metadata checks, summary findings, the oracle's per-disk
 * results and some per-block rows. Four campaigns of 2,500 cycles, three disks each
 * (one a lying control on the power cuts): 30,000 disk-cycles in eight cells.
 * Prints `figure report_10k_cycles_s SECONDS s 3 <=` (the HTML report, the largest).
 * Run from the repository root (it reads rig/benches/sim-fast.ini). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "classes.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define CYCLES 10000
#define CAMPAIGNS 4

/* xorshift64*: reproducible outcomes without libc's rand state. */
static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(uint64_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (rng * 2685821657736338717ull) % n;
}

static int add_campaign(struct store *st, char **sets, size_t n, int64_t *id)
{
	char hash[65];
	struct bench_config *cfg = bench_config_load("rig/benches/sim-fast.ini", sets, n, NULL);
	if (!cfg)
		return -EINVAL;	/* logged */
	char *text = bench_config_text(cfg);
	json_t *j = bench_config_json(cfg);
	char *js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	bench_config_hash(cfg, hash);
	struct store_campaign c = { .bench = cfg->bench->name, .config_text = text,
		.config_json = js, .config_hash = hash, .versions_json =
		"{\"powercut\":\"0.1.0\",\"firmware\":\"1.0\",\"qemu_img\":\"qemu-img version 7.2.22\","
		"\"kernel\":\"Linux 6.1.0 x86_64\",\"sqlite\":\"3.40.1\"}" };
	int rc = store_campaign_insert(st, &c, id);
	free(text);
	free(js);
	json_decref(j);
	bench_config_free(cfg);
	if (rc == 0) {
		char sql[128];
		snprintf(sql, sizeof(sql), "INSERT INTO oracle_campaign_token VALUES (%" PRId64
			 ", 'bench', %" PRId64 ")", *id, *id);
		rc = sqlite3_exec(store_db(st), sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
	}
	return rc;
}

static int generate(const char *path)
{
	struct store *st = store_open(path, STORE_CREATE | STORE_MIGRATE);
	sqlite3_stmt *res = NULL, *chk = NULL;
	int rc = -EIO;

	if (!st)
		return -errno;
	sqlite3_exec(store_db(st), "PRAGMA synchronous = OFF", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(store_db(st), "INSERT INTO oracle_cycle_result VALUES "
			       "(?,?,?,2048,?,?,?,?,?,?,?,?,?,?,?,0,?,?,?,1)", -1, &res, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(store_db(st), "INSERT INTO oracle_check VALUES "
			       "(?,?,?,?,'unflushed_lost_older',0,0,3,NULL,-1,-1,?,NULL)", -1, &chk, NULL) != SQLITE_OK)
		goto out;
	if (store_begin(st) < 0)
		goto out;
	static const char *const disks[] = { "lie", "qcow2", "raw" };	/* sorted: ids 1..3 */
	for (int c = 0; c < CAMPAIGNS; c++) {
		bool kill = c % 2 == 0;
		char s0[64], s1[64];
		snprintf(s0, sizeof(s0), "campaign.cut=%s", kill ? "kill" : "power");
		snprintf(s1, sizeof(s1), "workload.flush=%s", c < 2 ? "never" : "every-n");
		char *sets[] = { s0, s1 };
		int64_t camp;
		/* The bench has two disks; the third (a lying control) is added by hand to the
		 * config: --set cannot add a section. */
		if (add_campaign(st, sets, 2, &camp) < 0)
			goto out;
		char sql[512];
		snprintf(sql, sizeof(sql), "UPDATE campaigns SET config_json = json_set(config_json,"
			 " '$.disks.lie', json_set(json_extract(config_json, '$.disks.raw'),"
			 " '$.control', 'lying')) WHERE id = %" PRId64, camp);
		if (sqlite3_exec(store_db(st), sql, NULL, NULL, NULL) != SQLITE_OK)
			goto out;
		for (int i = 1; i <= CYCLES / CAMPAIGNS; i++) {
			int64_t cy, t = (int64_t)i * 2000000000;
			if (store_cycle_insert(st, camp, i, "ok", t, &cy) < 0)
				goto out;
			char det[700];
			snprintf(det, sizeof(det), "{\"dc_lost_mono_ns\":%" PRId64 ",\"edges\":[{\"kind\":"
				 "\"relay\",\"channel\":0,\"level\":0,\"mono_ns\":%" PRId64 ",\"fw_us\":%d},"
				 "{\"kind\":\"pwrok\",\"channel\":0,\"level\":0,\"mono_ns\":%" PRId64 "},"
				 "{\"kind\":\"relay\",\"channel\":0,\"level\":1,\"mono_ns\":%" PRId64 "}]}",
				 t + 418000000, t + 400000000, i * 1000, t + 418000000, t + 600000000);
			struct store_cut cut = { .cycle = cy, .kind = kill ? "kill" : "power",
				.timed_by = "firmware", .window_min_ms = 100, .window_max_ms = 400,
				.off_ms = 200, .seed = (uint64_t)(1 ^ i), .actual_mono_ns = t + 400000000,
				.uncertainty_ns = 3000, .relay_off_mono_ns = t + 400000000,
				.relay_on_mono_ns = t + 600000000, .pwrok_fall_mono_ns = t + 418000000,
				.pwrok_rise_mono_ns = t + 650000000,
				.hold_up_ns = 16000000 + (int64_t)rnd(5000000), .detail_json = det };
			if (store_cut_insert(st, &cut, NULL) < 0)
				goto out;
			for (int d = 0; d < 3; d++) {
				int64_t cls[CLS__COUNT] = { 0 }, viol = 0, since = (int64_t)rnd(400000000);
				bool lie = d == 0, q = d == 1;
				if (q && c < 2 && kill)		/* the seed result */
					cls[CLS_UNFLUSHED_LOST_OLDER] = 200 + (int64_t)rnd(1800);
				else if (!kill && !lie)
					cls[CLS_UNFLUSHED_LOST_OLDER] = (int64_t)rnd(40);
				if (lie && !kill) {
					cls[CLS_FLUSHED_LOST_ZERO] = 2048 - (int64_t)rnd(100);
					viol = cls[CLS_FLUSHED_LOST_ZERO];
				}
				if (rnd(500) == 0) {	/* a rare flushed loss */
					cls[CLS_FLUSHED_LOST_OLDER] = 1;
					viol++;
				}
				cls[CLS_INFLIGHT_PERSISTED] = (int64_t)rnd(20);
				cls[CLS_OK] = 2048;
				for (int k = 1; k < CLS__COUNT; k++)
					cls[CLS_OK] -= cls[k];
				sqlite3_reset(res);
				sqlite3_bind_int64(res, 1, camp);
				sqlite3_bind_int64(res, 2, i);
				sqlite3_bind_int64(res, 3, d + 1);
				for (int k = 0; k < CLS__COUNT; k++)
					sqlite3_bind_int64(res, 4 + k, cls[k]);
				sqlite3_bind_int64(res, 13, viol);
				sqlite3_bind_int64(res, 14, (int64_t)rnd(3));
				sqlite3_bind_int64(res, 15, t + 400000000);
				sqlite3_bind_int64(res, 16, t + 400000000 - since);
				sqlite3_bind_int64(res, 17, since);
				if (sqlite3_step(res) != SQLITE_DONE)
					goto out;
				for (int k = 1; k < CLS__COUNT; k++) {
					if (!cls[k])
						continue;
					char fd[64];
					snprintf(fd, sizeof(fd), "{\"blocks\":%" PRId64 "}", cls[k]);
					store_finding_insert(st, cy, disks[d], -1, cls_class_name(k), fd, since);
				}
				/* a few per-block rows, as the oracle keeps the blocks that are not ok */
				int64_t lost = cls[CLS_UNFLUSHED_LOST_OLDER];
				for (int b = 0; b < (lost > 20 ? 20 : lost); b++) {
					sqlite3_reset(chk);
					sqlite3_bind_int64(chk, 1, camp);
					sqlite3_bind_int64(chk, 2, i);
					sqlite3_bind_int64(chk, 3, d + 1);
					sqlite3_bind_int64(chk, 4, b * 97);
					sqlite3_bind_int64(chk, 5, since);
					if (sqlite3_step(chk) != SQLITE_DONE)
						goto out;
				}
				if (q)
					store_check_insert(st, cy, "qcow2", "qemu-img-check",
							   rnd(200) == 0 ? "repaired" : "clean",
							   "{\"dirty\":true,\"corruptions\":0,\"leaks\":0}");
			}
			store_cycle_finish(st, cy, "ok", t + 1500000000);
		}
	}
	rc = store_commit(st);
out:
	if (rc < 0)
		fprintf(stderr, "bench_report: cannot generate '%s': %s\n", path,
			sqlite3_errmsg(store_db(st)));
	sqlite3_finalize(res);
	sqlite3_finalize(chk);
	store_close(st);
	return rc;
}

static double timed_report(const char *pc, const char *fmt, const char *out, const char *db)
{
	const char *argv[] = { pc, "report", "--format", fmt, "--output", out, db, NULL };
	struct child_result r;
	int64_t t0 = clock_mono_ns();
	int rc = child_run(argv, NULL, 120000, &r);
	double s = (clock_mono_ns() - t0) / 1e9;

	if (rc < 0 || !WIFEXITED(r.status) || WEXITSTATUS(r.status)) {
		fprintf(stderr, "bench_report: powercut report --format %s failed: %s\n", fmt,
			rc < 0 ? strerror(-rc) : r.err);
		s = -1;
	}
	if (rc == 0)
		child_result_release(&r);
	return s;
}

int main(void)
{
	char dir[PATH_MAX], exe[PATH_MAX], pc[PATH_MAX + 32], db[PATH_MAX + 16], out[PATH_MAX + 16];
	const char *t = getenv("TMPDIR");
	int status = 1;

	log_set_prog("bench_report");
	log_set_level(LOG_WARN);
	if (pc_exe_dir(exe, sizeof(exe)) < 0)
		return 1;
	/* BUILD/host/report/bench -> BUILD/bin */
	snprintf(pc, sizeof(pc), "%.4000s/../../../bin/powercut", exe);
	snprintf(dir, sizeof(dir), "%s/pc-bench-report-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench_report: cannot create a directory like '%s': %s\n", dir,
			strerror(errno));
		return 1;
	}
	snprintf(db, sizeof(db), "%s/10k.db", dir);
	int64_t t0 = clock_mono_ns();
	if (generate(db) < 0)
		goto out;
	printf("generated %d cycles (%d campaigns, 3 disks each) in %.2f s\n", CYCLES, CAMPAIGNS,
	       (clock_mono_ns() - t0) / 1e9);
	static const char *const fmts[] = { "json", "md", "csv", "html" };
	double html = -1;
	for (size_t i = 0; i < 4; i++) {
		snprintf(out, sizeof(out), "%s/report.%s", dir, fmts[i]);
		double s = timed_report(pc, fmts[i], out, db);
		if (s < 0)
			goto out;
		printf("powercut report --format %s: %.3f s\n", fmts[i], s);
		if (i == 0) {
			/* The report must have read it all: 3 disk-cycles per cycle. */
			json_t *j = json_load_file(out, 0, NULL), *c;
			size_t k;
			json_int_t sum = 0;
			json_array_foreach(json_object_get(j, "cells"), k, c)
				sum += json_integer_value(json_object_get(c, "verified_cycles"));
			printf("%zu cells, %" JSON_INTEGER_FORMAT " verified disk-cycles\n",
			       json_array_size(json_object_get(j, "cells")), sum);
			json_decref(j);
			if (sum != 3 * CYCLES) {
				fprintf(stderr, "bench_report: the report holds %" JSON_INTEGER_FORMAT
					" disk-cycles, not %d\n", sum, 3 * CYCLES);
				goto out;
			}
		}
		html = s;
	}
	printf("figure report_10k_cycles_s %.3f s 3 <=\n", html);
	status = 0;
out:;
	const char *rm[] = { "rm", "-rf", "--", dir, NULL };
	struct child_result r;
	if (child_run(rm, NULL, 30000, &r) == 0)
		child_result_release(&r);
	return status;
}
