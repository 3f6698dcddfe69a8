/* powercut config show|check|doc [BENCH.ini] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"

const struct cmd_opt config_opts[] = { { 0 } };

int cmd_config(struct pc_ctx *ctx)
{
	const char *action = ctx->argc > 0 ? ctx->argv[0] : "";
	char hash[65];
	struct bench_config *cfg;

	if (!strcmp(action, "doc")) {
		bench_config_markdown(stdout, &cmd_bench_drivers);
		return EXIT_OK;
	}
	if ((strcmp(action, "show") && strcmp(action, "check")) || ctx->argc != 2) {
		pc_err(LOG_MAIN, "usage: powercut %s", ctx->cmd->usage);
		return EXIT_USAGE;
	}
	/* --set is applied here too: `config show` shows what a run would use. */
	cfg = bench_config_load(ctx->argv[1], ctx->sets, ctx->n_sets, &cmd_bench_drivers);
	if (!cfg)
		return EXIT_USAGE;
	if (bench_config_hash(cfg, hash) < 0) {
		bench_config_free(cfg);
		return EXIT_FAIL;
	}
	if (!strcmp(action, "check")) {
		if (ctx->json) {
			json_t *j = json_object();
			json_object_set_new(j, "ok", json_true());
			json_object_set_new(j, "hash", json_string(hash));
			cmd_print_json(j);
		} else {
			printf("%s: ok (sha256 %s)\n", ctx->argv[1], hash);
		}
	} else if (ctx->json) {
		json_t *j = json_object();
		json_object_set_new(j, "config", bench_config_json(cfg));
		json_object_set_new(j, "hash", json_string(hash));
		cmd_print_json(j);
	} else {
		char *t = bench_config_text(cfg);
		printf("# effective config of %s, sha256 %s\n%s", ctx->argv[1], hash, t ? t : "");
		free(t);
	}
	bench_config_free(cfg);
	return EXIT_OK;
}
