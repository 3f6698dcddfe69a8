/* powercut version [--json] */
#include <stdio.h>

#include "cmd.h"
#include "util.h"

#ifndef PC_VERSION
#define PC_VERSION "0.1.0"
#endif

const struct cmd_opt version_opts[] = { { 0 } };

int cmd_version(struct pc_ctx *ctx)
{
	if (ctx->json) {
		/* The same object a campaign stores, plus the schema this build writes. */
		json_t *extra = json_pack("{s:i, s:s}", "schema_version", store_n_migrations,
					  "sqlite", sqlite3_libversion());
		json_t *j = pc_versions_json(PC_VERSION, NULL, extra);
		json_decref(extra);
		cmd_print_json(j);
	} else {
		printf("powercut %s (database schema %d)\n", PC_VERSION, store_n_migrations);
	}
	return EXIT_OK;
}
