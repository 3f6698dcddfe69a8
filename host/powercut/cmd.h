/* powercut commands: one file per command (cmd/NAME.c with cmd_NAME), all listed in
 * the commands[] table in powercut.c.
 *
 * Adding a command:
 *  1. write cmd/NAME.c with `int cmd_NAME(struct pc_ctx *ctx)` and its option table
 *     `const struct cmd_opt NAME_opts[]` (may be empty: just the terminator);
 *  2. declare both below;
 *  3. add a row to commands[] in powercut.c: name, function, options, flags, usage, help;
 *  4. add cmd/NAME.c to POWERCUT_SRCS in host/powercut/build.mk.
 * main() parses options from the same tables that `powercut help CMD` prints, loads
 * the bench, takes the bench lock and opens the relay or database as the flags say,
 * and cleans up in reverse order on every exit path (the relay ends powered ON).
 */
#ifndef PC_CMD_H
#define PC_CMD_H

#include <stdbool.h>

#include "benchlock.h"
#include "config.h"
#include "relay.h"
#include "store.h"

/* Exit codes (also in `powercut help`). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* the operation failed */
	EXIT_USAGE = 2,		/* bad command line or bench config */
	EXIT_BUSY = 3,		/* the bench is locked by another powercut */
	EXIT_DEVICE = 4,	/* the relay or simulator could not be opened */
	/* 128 + N: interrupted by signal N (SIGINT 130, SIGTERM 143) */
};

enum {
	NEEDS_BENCH = 1u << 0,	/* last argument is a bench file; --set applies */
	NEEDS_LOCK  = 1u << 1,	/* take the bench lock (implies NEEDS_BENCH) */
	NEEDS_RELAY = 1u << 2,	/* open the relay (implies NEEDS_LOCK) */
	NEEDS_DB    = 1u << 3,	/* first argument is a database */
	HAS_JSON    = 1u << 4,	/* accepts --json */
};

struct cmd_opt {
	const char *name;	/* long option */
	int has_arg;		/* 0 or 1 */
	const char *arg;	/* argument name for help */
	const char *help;
};

#define CMD_MAX_OPTS 16

struct pc_ctx {
	const struct cmd *cmd;
	int argc;			/* positional arguments after the command */
	char **argv;
	const char *optval[CMD_MAX_OPTS];	/* command options, by table index */
	bool optset[CMD_MAX_OPTS];
	bool json;
	char **sets;			/* --set overrides */
	size_t n_sets;
	struct bench_config *cfg;
	char run_dir[4096];
	struct benchlock *lock;
	struct relay *relay;
	struct store *db;
};

struct cmd {
	const char *name;
	int (*fn)(struct pc_ctx *ctx);
	const struct cmd_opt *opts;
	unsigned flags;
	const char *usage;
	const char *help;
};

/* Value of the command's option `name`, or NULL when not given. */
const char *cmd_opt(const struct pc_ctx *ctx, const char *name);
bool cmd_flag(const struct pc_ctx *ctx, const char *name);
/* Print a JSON value on stdout (compact, one line) and free it. A command that fails
 * without printing one gets {"error":{"status":N,"command":C,"messages":[...]}} from
 * main under --json, with the errors it logged. */
void cmd_print_json(json_t *j);
/* The relay and node drivers, whose keys a bench may hold (bench_config_load). */
extern const struct bench_drivers cmd_bench_drivers;
/* The bench's run directory ([bench] run_dir, or run/NAME beside the programs) into
 * out. 0, or -ENOENT / -ENAMETOOLONG. */
int cmd_run_dir(const struct bench_config *cfg, char *out, size_t len);
/* The database of a campaign command: the global --db when given (main opened it),
 * else RUN_DIR/name, created and migrated, its log watcher attached (main detaches
 * and closes it). Its path into path. 0, or -errno (logged by the store). */
int cmd_campaign_db(struct pc_ctx *ctx, const char *name, char *path, size_t len);
/* Wait ms, keeping the relay link alive: 0, -EINTR when interrupted by a signal, or
 * another negative errno when the relay is lost. */
int cmd_wait(struct pc_ctx *ctx, int ms);

extern const struct cmd commands[];
extern const struct cmd_opt global_opts[];

int cmd_help(struct pc_ctx *ctx);
int cmd_version(struct pc_ctx *ctx);
int cmd_relay(struct pc_ctx *ctx);
int cmd_db(struct pc_ctx *ctx);
int cmd_config(struct pc_ctx *ctx);
int cmd_cycle(struct pc_ctx *ctx);
extern const struct cmd_opt cycle_opts[];
int cmd_verify(struct pc_ctx *ctx);
extern const struct cmd_opt verify_opts[];
int cmd_report(struct pc_ctx *ctx);
extern const struct cmd_opt report_opts[];
int cmd_run(struct pc_ctx *ctx);
extern const struct cmd_opt run_opts[];
int cmd_show(struct pc_ctx *ctx);
int cmd_explore(struct pc_ctx *ctx);
extern const struct cmd_opt explore_opts[];
extern const struct cmd_opt show_opts[];
int cmd_status(struct pc_ctx *ctx);
extern const struct cmd_opt status_opts[];
int cmd_serve(struct pc_ctx *ctx);
extern const struct cmd_opt serve_opts[];
int cmd_doctor(struct pc_ctx *ctx);
extern const struct cmd_opt doctor_opts[];
extern const struct cmd_opt help_opts[], version_opts[], relay_opts[], db_opts[], config_opts[];

#endif
