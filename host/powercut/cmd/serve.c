/* powercut serve DB: the report live over HTTP, with Prometheus metrics
 * (host/report/serve.c, docs/report.md "Live view"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "report.h"

const struct cmd_opt serve_opts[] = {
	{ "listen", 1, "ADDR:PORT", "where to listen (default 127.0.0.1:8080, loopback only; "
	  "0.0.0.0:8080 for every interface, port 0 for any free port)" },
	{ "refresh", 1, "SECONDS", "the page reloads itself this often (default 30)" },
	{ 0 }
};

static void ready(void *ctx, const char *url)
{
	const char *db = ctx;
	/* On stdout, whole, so that a script (or a test) can read the address. */
	printf("serving '%s' at %s (metrics at %smetrics)\n", db, url, url);
	fflush(stdout);
}

int cmd_serve(struct pc_ctx *ctx)
{
	const char *listen = cmd_opt(ctx, "listen"), *s = cmd_opt(ctx, "refresh");
	long refresh = 30;

	if (s) {
		char *end;
		refresh = strtol(s, &end, 10);
		if (end == s || *end || refresh < 1 || refresh > 86400) {
			pc_err(LOG_MAIN, "invalid value '%s' for '--refresh' (1 to 86400 seconds)", s);
			return EXIT_USAGE;
		}
	}
	if (ctx->argc != 1) {
		pc_err(LOG_MAIN, "expected one database (usage: powercut %s)", ctx->cmd->usage);
		return EXIT_USAGE;
	}
	int rc = report_serve(ctx->argv[0], listen ? listen : "127.0.0.1:8080", (int)refresh,
			      &relay_interrupted, ready, ctx->argv[0]);
	return rc == -EINVAL ? EXIT_USAGE : rc < 0 ? EXIT_FAIL : EXIT_OK;
}
