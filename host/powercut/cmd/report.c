/* powercut report DB...: a durability report from campaign databases (host/report,
 * docs/report.md). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "log.h"
#include "report.h"

const struct cmd_opt report_opts[] = {
	{ "format", 1, "FMT", "html (default), md, csv, json (--json is --format=json) or summary "
	  "(a short table for a terminal)" },
	{ "output", 1, "FILE", "write the report to FILE (replaced whole; default: standard output)" },
	{ "target", 1, "RATE", "rate that 'cycles needed' bounds, 0 < RATE < 1 (default 0.01)" },
	{ "compare", 0, NULL, "compare two cells, the first two arguments (numbers or keys): "
	  "Fisher's exact test and the cycles needed to tell them apart (text or json)" },
	{ 0 }
};

/* Write to a temporary file beside FILE and rename, so a reader never sees half a
 * report and a failed run leaves the previous one. */
static int write_file(const struct report *r, enum report_format fmt, const char *path)
{
	char tmp[PATH_MAX];
	int fd, rc;
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
		pc_err(LOG_REPORT, "cannot write report '%s': %s", path, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	if ((fd = mkstemp(tmp)) < 0 || !(f = fdopen(fd, "w"))) {
		rc = -errno;
		pc_err(LOG_REPORT, "cannot write report '%s': %s", path, strerror(-rc));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return rc;
	}
	/* mkstemp made it 0600: give it the mode any new file would get. */
	mode_t mask = umask(0);
	umask(mask);
	rc = fchmod(fd, 0666 & ~mask) < 0 ? -errno : 0;
	if (rc == 0)
		rc = report_render(r, fmt, f);
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		pc_err(LOG_REPORT, "cannot write report '%s': %s", path, strerror(-rc));
		unlink(tmp);
	}
	return rc;
}

int cmd_report(struct pc_ctx *ctx)
{
	struct report_options o = REPORT_OPTIONS_INIT;
	enum report_format fmt = ctx->json ? REPORT_JSON : REPORT_HTML;
	const char *s, *out = cmd_opt(ctx, "output");
	struct report *r;
	int rc;

	if ((s = cmd_opt(ctx, "format")) && report_format_parse(s, &fmt) < 0) {
		pc_err(LOG_MAIN, "invalid value '%s' for '--format' (html, md, csv, json or summary)", s);
		return EXIT_USAGE;
	}
	if ((s = cmd_opt(ctx, "target"))) {
		char *end;
		o.target = strtod(s, &end);
		if (end == s || *end || !(o.target > 0 && o.target < 1)) {
			pc_err(LOG_MAIN, "invalid value '%s' for '--target' (a rate between 0 and 1, "
			       "e.g. 0.01)", s);
			return EXIT_USAGE;
		}
	}
	bool cmp = cmd_flag(ctx, "compare");
	int first = cmp ? 2 : 0;
	if (cmp && fmt != REPORT_JSON && cmd_opt(ctx, "format")) {
		pc_err(LOG_MAIN, "'--compare' prints text, or JSON with '--format=json'");
		return EXIT_USAGE;
	}
	if (ctx->argc < first + 1) {
		pc_err(LOG_MAIN, "missing %s (usage: powercut %s)", cmp && ctx->argc < 2 ?
		       "the two cells to compare" : "database", ctx->cmd->usage);
		return EXIT_USAGE;
	}
	if (!(r = report_load(ctx->argv + first, (size_t)(ctx->argc - first), &o)))
		return EXIT_FAIL;
	if (cmp) {
		size_t a, b;
		if (report_cell_find(r, ctx->argv[0], &a) < 0 || report_cell_find(r, ctx->argv[1], &b) < 0) {
			report_free(r);
			return EXIT_USAGE;
		}
		if (fmt == REPORT_JSON)
			cmd_print_json(report_compare_json(r, a, b));
		else
			rc = report_compare_text(r, a, b, stdout);
		report_free(r);
		return EXIT_OK;
	}
	if (out) {
		rc = write_file(r, fmt, out);
	} else if ((rc = report_render(r, fmt, stdout)) < 0) {
		pc_err(LOG_REPORT, "cannot write report to standard output: %s", strerror(-rc));
	}
	report_free(r);
	return rc < 0 ? EXIT_FAIL : EXIT_OK;
}
