/* powercut db info|migrate DB */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "log.h"

const struct cmd_opt db_opts[] = { { 0 } };

int cmd_db(struct pc_ctx *ctx)
{
	const char *action = ctx->argc > 0 ? ctx->argv[0] : "";
	struct store *st;

	if (ctx->argc != 2 || (strcmp(action, "info") && strcmp(action, "migrate"))) {
		pc_err(LOG_MAIN, "usage: powercut %s", ctx->cmd->usage);
		return EXIT_USAGE;
	}
	if (!strcmp(action, "info")) {
		st = store_open(ctx->argv[1], STORE_READONLY);
		if (!st)
			return EXIT_FAIL;
		json_t *j = store_info(st);
		if (ctx->json) {
			cmd_print_json(j);
		} else {
			const char *k;
			json_t *v;
			printf("database:       %s\nschema version: %lld (latest %d)\n", ctx->argv[1],
			       (long long)json_integer_value(json_object_get(j, "schema_version")),
			       store_n_migrations);
			json_object_foreach(json_object_get(j, "counts"), k, v)
				printf("%-15s %lld\n", k, (long long)json_integer_value(v));
			json_decref(j);
		}
		store_close(st);
		return EXIT_OK;
	}
	/* Opening with STORE_MIGRATE applies (and logs) every missing migration. */
	st = store_open(ctx->argv[1], STORE_CREATE | STORE_MIGRATE);
	if (!st)
		return EXIT_FAIL;
	if (ctx->json) {
		json_t *j = json_object();
		json_object_set_new(j, "schema_version", json_integer(store_schema_version(st)));
		cmd_print_json(j);
	} else {
		printf("%s: schema version %d\n", ctx->argv[1], store_schema_version(st));
	}
	store_close(st);
	return EXIT_OK;
}
