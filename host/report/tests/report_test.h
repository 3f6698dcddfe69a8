/* Shared by the report's end-to-end tests (include after cmocka.h and child.h): running
 * a command, and headless Chromium's verdict on a page. */
#ifndef PC_REPORT_TEST_H
#define PC_REPORT_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *chromium = "/usr/bin/chromium";

/* The build directory and its bin/ (this program is BUILD/host/report/tests/NAME),
 * and a fresh temporary directory named after the test (removed by rm_tmp). */
static void test_dirs(char *bin, size_t nbin, char *build, size_t nbuild, char *tmp,
		      size_t ntmp, const char *name)
{
	const char *t = getenv("TMPDIR");

	assert_int_equal(pc_exe_dir(bin, nbin), 0);
	snprintf(build, nbuild, "%.4000s/../../..", bin);
	snprintf(bin, nbin, "%.4000s/bin", build);
	snprintf(tmp, ntmp, "%s/pc-%s-XXXXXX", t && *t ? t : "/tmp", name);
	assert_non_null(mkdtemp(tmp));
}

static void rm_tmp(const char *tmp)
{
	const char *argv[] = { "rm", "-rf", "--", tmp, NULL };
	struct child_result r;
	if (child_run(argv, NULL, 30000, &r) == 0)
		child_result_release(&r);
}

/* Run to completion: the exit status, 128 + signal, or a negative errno. */
static int run(const char *const *argv, struct child_result *r, int timeout_ms)
{
	int rc = child_run(argv, NULL, timeout_ms, r);
	if (rc < 0)
		return rc;
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status);
}

static bool png_width(const char *path, uint32_t *w, uint32_t *h)
{
	unsigned char b[24];
	FILE *f = fopen(path, "rb");
	bool ok = f && fread(b, 1, 24, f) == 24 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8) &&
		  !memcmp(b + 12, "IHDR", 4);
	if (f)
		fclose(f);
	if (ok) {
		*w = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
		*h = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
	}
	return ok;
}

/* Chromium's verdict on a page: no console error, a PNG of the width asked for
 * (its profile under tmpdir). */
static void chromium_shot(const char *url, const char *png, int width, const char *tmpdir)
{
	char shot[4200], udd[4200], ws[48];
	struct child_result r;

	snprintf(shot, sizeof(shot), "--screenshot=%s", png);
	snprintf(udd, sizeof(udd), "--user-data-dir=%s/chromium", tmpdir);
	snprintf(ws, sizeof(ws), "--window-size=%d,3000", width);
	unlink(png);
	const char *cargv[] = { chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", udd, ws,
		"--enable-logging=stderr", "--v=0", shot, url, NULL };
	int rc = run(cargv, &r, 90000);
	if (rc != 0)
		fprintf(stderr, "chromium: exit %d\n%s\n", rc, r.err);
	assert_int_equal(rc, 0);
	assert_null(strstr(r.err, "Uncaught"));
	assert_null(strstr(r.err, "ERROR:CONSOLE"));
	assert_null(strstr(r.err, ":CONSOLE("));
	child_result_release(&r);
	uint32_t w = 0, h = 0;
	assert_true(png_width(png, &w, &h));
	assert_int_equal(w, (uint32_t)width);
	assert_true(h >= 1000);
	printf("rendered: %s (%ux%u)\n", png, w, h);
}

#endif
