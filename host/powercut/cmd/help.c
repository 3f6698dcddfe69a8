/* powercut help [CMD|config] */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "log.h"

const struct cmd_opt help_opts[] = { { 0 } };

void cmd_usage(FILE *f, const struct cmd *c);
void main_usage(FILE *f);

int cmd_help(struct pc_ctx *ctx)
{
	if (ctx->argc == 0) {
		main_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(ctx->argv[0], "config")) {
		bench_config_help(stdout, &cmd_bench_drivers);
		return EXIT_OK;
	}
	for (const struct cmd *c = commands; c->name; c++) {
		if (!strcmp(c->name, ctx->argv[0])) {
			cmd_usage(stdout, c);
			return EXIT_OK;
		}
	}
	pc_err(LOG_MAIN, "unknown command '%s' (see 'powercut help')", ctx->argv[0]);
	return EXIT_USAGE;
}
