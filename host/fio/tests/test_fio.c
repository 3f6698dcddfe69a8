/* fio JSON parsing on real fio output produced here: fio runs for about a second on
 * a small file in a private temporary directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "child.h"
#include "fio.h"

static char dir[4096];

static char *run_fio(const char *const extra[], int *exit_status)
{
	char file[4200];
	const char *argv[32] = { "fio", "--name=pc", "--size=4M", "--bs=4k",
				 "--ioengine=psync", "--output-format=json" };
	size_t k = 6;
	struct child_result r;

	snprintf(file, sizeof(file), "--filename=%s/data", dir);
	argv[k++] = file;
	for (size_t i = 0; extra[i]; i++)
		argv[k++] = extra[i];
	argv[k] = NULL;
	assert_int_equal(child_run(argv, NULL, 30000, &r), 0);
	*exit_status = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
	char *out = strdup(r.out);
	child_result_release(&r);
	return out;
}

static void test_real_output(void **state)
{
	const char *extra[] = { "--rw=randrw", "--time_based", "--runtime=1", NULL };
	int st;
	char *out = run_fio(extra, &st), *prefixed;

	assert_int_equal(st, 0);
	/* Other lines may come first. */
	assert_true(asprintf(&prefixed, "fio: some warning\nnote: another line\n%s", out) > 0);
	json_t *f = fio_figures(prefixed);
	assert_non_null(f);
	assert_int_equal(strncmp(json_string_value(json_object_get(f, "fio_version")), "fio-", 4), 0);
	json_t *job = json_array_get(json_object_get(f, "jobs"), 0);
	assert_string_equal(json_string_value(json_object_get(job, "name")), "pc");
	for (int d = 0; d < 2; d++) {
		json_t *x = json_object_get(job, d ? "write" : "read");
		assert_true(json_real_value(json_object_get(x, "iops")) > 0);
		assert_true(json_integer_value(json_object_get(x, "ios")) > 0);
		assert_true(json_integer_value(json_object_get(x, "bw_kib")) > 0);
		double p50 = json_real_value(json_object_get(x, "lat_p50_us"));
		double p99 = json_real_value(json_object_get(x, "lat_p99_us"));
		assert_true(p50 > 0 && p50 <= p99);
	}
	assert_string_equal(fio_verify_result(f), "pass");
	json_decref(f);
	free(prefixed);
	free(out);
}

/* fio's own verify as the secondary check: a corrupted block is a fail. */
static void test_verify_fail(void **state)
{
	/* verify_state_save=0: fio would otherwise leave its state file in the cwd */
	const char *write[] = { "--rw=write", "--verify=crc32c", "--do_verify=0",
				"--verify_state_save=0", NULL };
	const char *verify[] = { "--rw=write", "--verify=crc32c", "--verify_only",
				 "--verify_state_save=0", NULL };
	char path[4200];
	int st;
	char *out = run_fio(write, &st);
	json_t *f = fio_figures(out);

	assert_non_null(f);
	assert_string_equal(fio_verify_result(f), "pass");
	json_decref(f);
	free(out);
	snprintf(path, sizeof(path), "%s/data", dir);
	FILE *fp = fopen(path, "r+b");
	fseek(fp, 8192 + 100, SEEK_SET);
	fputs("garbage", fp);
	fclose(fp);
	out = run_fio(verify, &st);
	assert_int_not_equal(st, 0);
	f = fio_figures(out);
	assert_non_null(f);
	assert_string_equal(fio_verify_result(f), "fail");
	json_decref(f);
	free(out);
	unlink(path);
}

/* --status-interval: one report per second, then the final one; a run cut short ends
 * in a partial report. The last complete one is kept, and its counts are the run's
 * (larger than the first interval's). */
static void test_status_interval_cut(void **state)
{
	const char *extra[] = { "--rw=randwrite", "--time_based", "--runtime=2500ms",
				"--status-interval=1", NULL };
	int st;
	char *out = run_fio(extra, &st);

	assert_int_equal(st, 0);
	json_t *first = fio_figures(out), *last = fio_figures_last(out);
	assert_non_null(first);
	assert_non_null(last);
	json_int_t ios_first = json_integer_value(json_object_get(json_object_get(
		json_array_get(json_object_get(first, "jobs"), 0), "write"), "ios"));
	json_int_t ios_last = json_integer_value(json_object_get(json_object_get(
		json_array_get(json_object_get(last, "jobs"), 0), "write"), "ios"));
	assert_true(ios_first > 0);
	assert_true(ios_last > ios_first);

	/* Cut the output in the middle of its final report: the one before it is kept. */
	char *final = strstr(out, "\n{\n"), *next;
	assert_non_null(final);
	while ((next = strstr(final + 1, "\n{\n")))
		final = next;
	size_t cut = (size_t)(final - out) + (strlen(final) / 2);
	out[cut] = '\0';
	json_t *kept = fio_figures_last(out);
	assert_non_null(kept);
	json_int_t ios_kept = json_integer_value(json_object_get(json_object_get(
		json_array_get(json_object_get(kept, "jobs"), 0), "write"), "ios"));
	assert_true(ios_kept >= ios_first && ios_kept < ios_last);
	/* The node's per-cycle record of that output: the kept report's figures. */
	json_t *rec = fio_record(out);
	assert_non_null(rec);
	assert_string_equal(json_string_value(json_object_get(rec, "verify")), "pass");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(
		json_object_get(json_object_get(rec, "figures"), "jobs"), 0), "write"), "ios")),
		ios_kept);
	assert_null(json_object_get(rec, "error"));
	json_decref(rec);
	/* Nothing complete at all. */
	out[(size_t)(strstr(out, "{\n") - out) + 40] = '\0';
	errno = 0;
	assert_null(fio_figures_last(out));
	assert_int_equal(errno, ENODATA);
	assert_string_equal(fio_strerror(errno), "no complete JSON report in fio's output");
	rec = fio_record(out);
	assert_string_equal(json_string_value(json_object_get(rec, "error")),
			    "no complete JSON report in fio's output");
	assert_null(json_object_get(rec, "figures"));
	json_decref(rec);
	json_decref(first);
	json_decref(last);
	json_decref(kept);
	free(out);
}

/* The second report of host/fio/tests/data/status-interval-cut.json (real output of
 * fio 3.33 running rig/workloads/randwrite-load.fio, whose job verifies), trimmed to
 * the members the figures use: the read-back ran 1 ms for 25,670 reads, which fio
 * reports as 25.67 million IOPS. The figures give the rate over the job's 1887 ms. */
static void test_verify_reads(void **state)
{
	static const char out[] =
		"{\n  \"fio version\" : \"fio-3.33\",\n  \"jobs\" : [\n    {\n"
		"      \"jobname\" : \"randwrite-load\", \"error\" : 0, \"elapsed\" : 2,\n"
		"      \"job options\" : { \"verify\" : \"crc32c\" },\n"
		"      \"read\" : { \"io_bytes\" : 105144320, \"io_kbytes\" : 102680, "
		"\"bw\" : 102680000, \"iops\" : 25670000.000000, \"runtime\" : 1, "
		"\"total_ios\" : 25670 },\n"
		"      \"write\" : { \"io_bytes\" : 105144320, \"io_kbytes\" : 102680, "
		"\"bw\" : 54414, \"iops\" : 14109.167992, \"runtime\" : 1887, "
		"\"total_ios\" : 26623 },\n"
		"      \"job_runtime\" : 1887\n    }\n  ]\n}\n";
	json_t *f = fio_figures(out);

	assert_non_null(f);
	json_t *job = json_array_get(json_object_get(f, "jobs"), 0);
	json_t *rd = json_object_get(job, "read"), *wr = json_object_get(job, "write");
	/* 25670 reads over 1.887 s */
	assert_true(json_real_value(json_object_get(rd, "iops")) > 13603.0 &&
		    json_real_value(json_object_get(rd, "iops")) < 13604.0);
	assert_int_equal(json_integer_value(json_object_get(rd, "bw_kib")), 102680 * 1000 / 1887);
	assert_string_equal(json_string_value(json_object_get(rd, "rate_over")), "job");
	/* The writes ran the whole job: fio's own figures, unmarked. */
	assert_true(json_real_value(json_object_get(wr, "iops")) == 14109.167992);
	assert_int_equal(json_integer_value(json_object_get(wr, "bw_kib")), 54414);
	assert_null(json_object_get(wr, "rate_over"));
	json_decref(f);
}

static void test_no_report(void **state)
{

	assert_null(fio_figures("fio: no such engine\n"));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(fio_strerror(-ENOENT), "no JSON report in fio's output");
	assert_null(fio_figures("x\n{\"jobs\": ["));
	assert_int_equal(errno, EBADMSG);
	assert_string_equal(fio_strerror(EBADMSG), "fio's JSON report does not parse");
	assert_null(fio_figures("{\"fio version\": \"x\"}\n"));
	assert_int_equal(errno, EPROTO);
	assert_string_equal(fio_strerror(EPROTO), "fio's JSON report has no jobs");
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	const char *probe[] = { "fio", "--version", NULL };
	struct child_result r;

	if (child_run(probe, NULL, 10000, &r) != 0) {
		printf("skip: no fio\n");
		return 77;
	}
	child_result_release(&r);
	snprintf(dir, sizeof(dir), "%s/pcfio.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_output),
		cmocka_unit_test(test_verify_fail),
		cmocka_unit_test(test_status_interval_cut),
		cmocka_unit_test(test_no_report),
		cmocka_unit_test(test_verify_reads),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char path[4200];
	snprintf(path, sizeof(path), "%s/data", dir);
	unlink(path);
	rmdir(dir);
	return rc;
}
