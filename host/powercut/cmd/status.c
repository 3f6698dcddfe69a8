/* powercut status DB: where a campaign is, live or finished (host/report/status.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "report.h"

const struct cmd_opt status_opts[] = {
	{ "campaign", 1, "ID", "this campaign (default: the newest)" },
	{ 0 }
};

int cmd_status(struct pc_ctx *ctx)
{
	const char *s = cmd_opt(ctx, "campaign");
	long long id = 0;

	if (s) {
		char *end;
		id = strtoll(s, &end, 10);
		if (end == s || *end || id < 1) {
			pc_err(LOG_MAIN, "invalid value '%s' for '--campaign' (a campaign id)", s);
			return EXIT_USAGE;
		}
	}
	if (ctx->argc != 1) {
		pc_err(LOG_MAIN, "expected one database (usage: powercut %s)", ctx->cmd->usage);
		return EXIT_USAGE;
	}
	json_t *st = report_status(ctx->argv[0], id);
	if (!st)
		return EXIT_FAIL;
	if (ctx->json)
		cmd_print_json(st);
	else {
		report_status_text(st, stdout);
		json_decref(st);
	}
	return EXIT_OK;
}
