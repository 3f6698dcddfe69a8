/* powercut version [--json] */
#include <stdio.h>

#include "cmd.h"

#ifndef PC_VERSION
#define PC_VERSION "0.1.0"
#endif

const struct cmd_opt version_opts[] = { { 0 } };

int cmd_version(struct pc_ctx *ctx)
{
	if (ctx->json) {
		json_t *j = json_object();
		json_object_set_new(j, "powercut", json_string(PC_VERSION));
		json_object_set_new(j, "schema_version", json_integer(store_n_migrations));
		cmd_print_json(j);
	} else {
		printf("powercut %s (database schema %d)\n", PC_VERSION, store_n_migrations);
	}
	return EXIT_OK;
}
