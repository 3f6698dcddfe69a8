/* powercut: the host controller. The command table, global options, and the one
 * place that sets up and tears down what commands need (see cmd.h): the bench and its
 * run directory, the database (attached to the logger as a watcher, detached before
 * it closes), the bench lock, the relay. Errors reach the user through the logger
 * only; --json collects them as a log watcher. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cmd.h"
#include "log.h"
#include "node.h"
#include "util.h"

const struct cmd commands[] = {
	{ "help", cmd_help, help_opts, 0, "help [CMD|config]",
	  "show commands, one command's options, or every bench option" },
	{ "version", cmd_version, version_opts, HAS_JSON, "version [--json]",
	  "show the version of powercut" },
	{ "relay", cmd_relay, relay_opts, NEEDS_BENCH | NEEDS_LOCK | NEEDS_RELAY | HAS_JSON,
	  "relay list|status|on|off|cut|arm|selftest BENCH.ini",
	  "drive the bench's relay for bring-up (status, switch, cut, self-test)" },
	{ "db", cmd_db, db_opts, HAS_JSON, "db info|migrate DB",
	  "show a campaign database's schema version and counts, or migrate it" },
	{ "config", cmd_config, config_opts, HAS_JSON, "config show|check|doc [BENCH.ini]",
	  "print the effective bench config (text or --json) with its hash, check it, or "
	  "print docs/config.md" },
	{ "cycle", cmd_cycle, cycle_opts, NEEDS_BENCH | NEEDS_LOCK | NEEDS_RELAY | HAS_JSON,
	  "cycle [--db=FILE] BENCH.ini", "run one cut cycle end to end into the database" },
	{ "verify", cmd_verify, verify_opts, HAS_JSON,
	  "verify DB TARGET --campaign ID --cycle N --disk ID [--report FILE]",
	  "read a disk back with the agent and classify it against the ledger in DB "
	  "(bring-up; exit 1 on a violation)" },
	{ "report", cmd_report, report_opts, HAS_JSON,
	  "report [--format=html|md|csv|json] [--output=FILE] [--target=RATE] DB... | "
	  "report --compare CELL CELL DB...",
	  "durability report from one or more campaign databases, or two cells compared" },
	{ "run", cmd_run, run_opts, HAS_JSON,
	  "run [--cycles N|--duration TIME|--until HH:MM] [--db FILE] [--notify CMD] BENCH.ini | "
	  "run --resume DB", "run a campaign of cut cycles, unattended and resumable" },
	{ "explore", cmd_explore, explore_opts, HAS_JSON,
	  "explore [--disk NAME] [--states N] [--seconds S] [--seed N] [--campaign ID] DB CYCLE | "
	  "explore --disk NAME --state ID (--export FILE|--report FILE) DB CYCLE",
	  "test every crash state of a recorded cycle's disks against the ledger "
	  "(docs/explore.md)" },
	{ "show", cmd_show, show_opts, HAS_JSON, "show [--json] [--campaign ID] DB CYCLE",
	  "print one cycle's whole story from a campaign database" },
	{ "status", cmd_status, status_opts, HAS_JSON, "status [--json] [--campaign ID] DB",
	  "where a campaign is: cycle n of N, ETA, the last cycle, the controls, the node" },
	{ "serve", cmd_serve, serve_opts, 0, "serve [--listen ADDR:PORT] [--refresh S] DB",
	  "serve the report live over HTTP, with Prometheus metrics at /metrics" },
	{ "doctor", cmd_doctor, doctor_opts, NEEDS_BENCH | NEEDS_LOCK | HAS_JSON,
	  "doctor [--cut] [--json] BENCH.ini",
	  "check a bench before its first night: relay, node, storages, space (each ok, "
	  "warn or fail with a fix; read-only unless --cut)" },
	{ 0 }
};

const struct cmd_opt global_opts[] = {
	{ "debug", 1, "CATS", "debug messages for categories: main,config,serial,relay,clock,"
	  "db,child,node,ledger,agent,check,sim,ssh,report or all" },
	{ "quiet", 0, NULL, "only warnings and errors (-q)" },
	{ "verbose", 0, NULL, "debug messages for every category (-v)" },
	{ "json", 0, NULL, "machine-readable output (commands that report something)" },
	{ "set", 1, "SECTION.KEY=VALUE", "override a bench option (repeatable; "
	  "disk.NAME.KEY for a disk)" },
	{ "help", 0, NULL, "this command's help" },
	{ "db", 1, "PATH", "campaign database: log messages go to its events table, and "
	  "relay cuts to cut_events (created and migrated if needed)" },
	{ 0 }
};

static void on_signal(int sig)
{
	relay_interrupted = sig;
}

const char *cmd_opt(const struct pc_ctx *ctx, const char *name)
{
	for (int i = 0; ctx->cmd->opts[i].name; i++)
		if (!strcmp(ctx->cmd->opts[i].name, name))
			return ctx->optset[i] ? (ctx->optval[i] ? ctx->optval[i] : "") : NULL;
	return NULL;
}

bool cmd_flag(const struct pc_ctx *ctx, const char *name)
{
	return cmd_opt(ctx, name) != NULL;
}

/* --json: a failing command that printed nothing on stdout prints an error object
 * instead, with the errors it logged (the first JSON_ERR_MAX of them). */
#define JSON_ERR_MAX 20
static struct {
	pthread_mutex_t mu;
	json_t *messages;	/* error messages, in order */
	bool printed;		/* the command printed its own JSON */
} json_out = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void json_err_add(const char *msg)
{
	pthread_mutex_lock(&json_out.mu);
	if (json_out.messages && json_array_size(json_out.messages) < JSON_ERR_MAX)
		json_array_append_new(json_out.messages, json_string(msg));
	pthread_mutex_unlock(&json_out.mu);
}

static void json_err_watch(void *ctx, enum log_level level, enum log_cat cat, int64_t wall_ns,
			   int64_t mono_ns, const char *msg)
{
	if (level == LOG_ERROR)
		json_err_add(msg);
}

const struct bench_drivers cmd_bench_drivers = {
	RELAY_OPT_DRIVERS(relay_drivers), NODE_OPT_DRIVERS(node_drivers)
};

void cmd_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(j);
	json_out.printed = true;
}

int cmd_wait(struct pc_ctx *ctx, int ms)
{
	int64_t end = clock_mono_ms() + ms;

	while (!relay_interrupted) {
		int64_t left = end - clock_mono_ms();
		if (left <= 0)
			return 0;
		if (ctx->relay && ctx->relay->ops->next_event) {
			struct relay_event ev;
			/* Keeps the link alive and notices resets while we wait. */
			int rc = relay_next_event(ctx->relay, (int)(left < 200 ? left : 200), &ev);
			if (rc < 0 && rc != -ETIMEDOUT && rc != -EINTR && rc != -ECONNRESET &&
			    rc != -EREMOTEIO && rc != -EBADMSG) {
				pc_err(LOG_RELAY, "lost the relay while waiting: %s", strerror(-rc));
				return rc;
			}
		} else {
			struct timespec s = { 0, (left < 50 ? left : 50) * 1000000 };
			nanosleep(&s, NULL);
		}
	}
	return -EINTR;
}

static const struct cmd *find_cmd(const char *name)
{
	for (const struct cmd *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static void print_opts(FILE *f, const struct cmd_opt *o)
{
	for (; o->name; o++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s%s", o->name, o->has_arg ? "=" : "",
			 o->has_arg ? o->arg : "");
		fprintf(f, "  %-28s %s\n", left, o->help);
	}
}

void cmd_usage(FILE *f, const struct cmd *c);
void cmd_usage(FILE *f, const struct cmd *c)
{
	fprintf(f, "usage: powercut %s\n\n%s\n", c->usage, c->help);
	if (c->opts[0].name) {
		fprintf(f, "\noptions:\n");
		print_opts(f, c->opts);
	}
	fprintf(f, "\nglobal options:\n");
	print_opts(f, global_opts);
}

void main_usage(FILE *f);
void main_usage(FILE *f)
{
	fprintf(f, "usage: powercut [GLOBAL OPTIONS] COMMAND [ARGS]\n\ncommands:\n");
	for (const struct cmd *c = commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->help);
	fprintf(f, "\nglobal options:\n");
	print_opts(f, global_opts);
	fprintf(f, "\nexit status: 0 ok, 1 the operation failed, 2 bad command line or "
		"bench config,\n3 the bench is locked by another powercut, 4 the relay or "
		"simulator could not be\nopened, 128+N interrupted by signal N (130 SIGINT, "
		"143 SIGTERM).\n"
		"\n`powercut help CMD` or `powercut CMD --help` for a command's options,\n"
		"`powercut help config` for every bench option.\n");
}

int cmd_run_dir(const struct bench_config *cfg, char *out, size_t len)
{
	char exe[PATH_MAX];
	int rc;

	if (cfg->bench->run_dir) {
		snprintf(out, len, "%s", cfg->bench->run_dir);
		return 0;
	}
	if ((rc = pc_exe_dir(exe, sizeof(exe))) < 0)
		return rc;
	if ((size_t)snprintf(out, len, "%.2048s/../run/%.1024s", exe, cfg->bench->name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int cmd_campaign_db(struct pc_ctx *ctx, const char *name, char *path, size_t len)
{
	int rc;

	if (ctx->db) {
		snprintf(path, len, "%s", store_path(ctx->db));
		return 0;
	}
	snprintf(path, len, "%.4000s/%s", ctx->run_dir, name);
	if ((rc = pc_mkdir_p(ctx->run_dir)) < 0)
		return rc;
	if (!(ctx->db = store_open(path, STORE_CREATE | STORE_MIGRATE)))
		return -errno;
	store_log_attach(ctx->db);
	return 0;
}

static int run_main(int argc, char **argv);

int main(int argc, char **argv)
{
	bool json = false;
	const char *name = NULL;

	/* Known before the command line is parsed, so that its own errors are reported. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		json |= !strcmp(argv[i], "--json");
		if (!name && argv[i][0] != '-')
			name = argv[i];
		if ((!strcmp(argv[i], "--set") || !strcmp(argv[i], "--debug")) && i + 1 < argc)
			i++;
	}
	if (json) {
		json_out.messages = json_array();
		log_watch_add(json_err_watch, NULL);
	}
	int rc = run_main(argc, argv);
	if (json) {
		log_watch_remove(json_err_watch, NULL);
		if (rc != EXIT_OK && !json_out.printed) {
			pthread_mutex_lock(&json_out.mu);
			json_t *e = json_pack("{s:{s:i,s:o,s:O}}", "error", "status", rc,
					      "command", name ? json_string(name) : json_null(),
					      "messages", json_out.messages);
			pthread_mutex_unlock(&json_out.mu);
			cmd_print_json(e);
		}
		json_decref(json_out.messages);
	}
	return rc;
}

/* What the command's flags ask for, in order: signals, the bench, --db, the bench
 * lock, the relay. main's cleanup undoes whatever was set up. EXIT_OK or an exit
 * status. */
static int cmd_setup(struct pc_ctx *ctx, const char *db_path)
{
	const int rc = EXIT_USAGE;

	/* Signals only set a flag: every wait checks it, and cleanup below runs. */
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* config and run load their bench themselves (run: unless --resume) */
	if (ctx->n_sets && !(ctx->cmd->flags & NEEDS_BENCH) && strcmp(ctx->cmd->name, "config") &&
	    strcmp(ctx->cmd->name, "run")) {
		pc_err(LOG_MAIN, "'powercut %s' takes no bench, so no --set", ctx->cmd->name);
		return rc;
	}
	if (ctx->cmd->flags & NEEDS_BENCH) {
		if (ctx->argc < 1) {
			pc_err(LOG_MAIN, "missing bench file (usage: powercut %s)", ctx->cmd->usage);
			return rc;
		}
		ctx->cfg = bench_config_load(ctx->argv[ctx->argc - 1], ctx->sets, ctx->n_sets,
					     &cmd_bench_drivers);
		if (!ctx->cfg)
			return rc;
		ctx->argc--;
		if (cmd_run_dir(ctx->cfg, ctx->run_dir, sizeof(ctx->run_dir)) < 0)
			return rc;
	}
	if (db_path) {
		ctx->db = store_open(db_path, STORE_CREATE | STORE_MIGRATE);
		if (!ctx->db)
			return EXIT_FAIL;
		store_log_attach(ctx->db);
		pc_debug(LOG_DB, "logging to database '%s'", db_path);
	}
	/* `relay list` needs no device. */
	bool list_only = !strcmp(ctx->cmd->name, "relay") && ctx->argc >= 1 &&
			 !strcmp(ctx->argv[0], "list");
	if ((ctx->cmd->flags & NEEDS_LOCK) && !list_only) {
		pid_t holder;
		ctx->lock = benchlock_take(ctx->run_dir, ctx->cfg->bench->name, &holder);
		if (!ctx->lock)
			return errno == EBUSY ? EXIT_BUSY : EXIT_FAIL;
	}
	if ((ctx->cmd->flags & NEEDS_RELAY) && !list_only) {
		ctx->relay = relay_open(ctx->cfg, ctx->run_dir);
		if (!ctx->relay)
			return relay_interrupted ? 128 + relay_interrupted : EXIT_DEVICE;
	}
	return EXIT_OK;
}

/* The command is the first argument that is not an option or an option's value
 * (-1: none). */
static int command_word(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-')
			return i;
		if ((!strcmp(argv[i], "--set") || !strcmp(argv[i], "--debug")) && i + 1 < argc)
			i++;
	}
	return -1;
}

/* getopt's table: the global options (1000 + index), then the command's (2000 +). */
static void long_options(const struct cmd *cmd, struct option *lopts)
{
	int n = 0;

	for (int g = 0; global_opts[g].name; g++)
		lopts[n++] = (struct option){ global_opts[g].name, global_opts[g].has_arg, NULL, 1000 + g };
	for (int i = 0; cmd->opts[i].name && i < CMD_MAX_OPTS; i++)
		lopts[n++] = (struct option){ cmd->opts[i].name, cmd->opts[i].has_arg, NULL, 2000 + i };
	lopts[n] = (struct option){ 0 };
}

static int run_main(int argc, char **argv)
{
	struct pc_ctx ctx = { 0 };
	struct option lopts[2 * CMD_MAX_OPTS + 2];
	char **sets = NULL, **pos = NULL;
	size_t n_sets = 0;
	int npos = 0, ci = -1, rc = EXIT_USAGE;
	bool want_help = false;
	const char *db_path = NULL;
	const struct cmd *cmd = NULL;

	log_set_prog("powercut");
	ci = command_word(argc, argv);
	if (ci < 0) {
		bool h = false;
		for (int i = 1; i < argc; i++)
			h |= !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
		main_usage(h ? stdout : stderr);
		return h ? EXIT_OK : EXIT_USAGE;
	}
	cmd = find_cmd(argv[ci]);
	if (!cmd) {
		pc_err(LOG_MAIN, "unknown command '%s' (see 'powercut help')", argv[ci]);
		return EXIT_USAGE;
	}
	ctx.cmd = cmd;
	long_options(cmd, lopts);

	/* argv without the command word; getopt permutes, positionals collected after. */
	char **av = calloc((size_t)argc + 1, sizeof(*av));
	sets = calloc((size_t)argc + 1, sizeof(*sets));
	pos = calloc((size_t)argc + 1, sizeof(*pos));
	if (!av || !sets || !pos)
		return EXIT_FAIL;
	int ac = 0;
	for (int i = 0; i < argc; i++)
		if (i != ci)
			av[ac++] = argv[i];
	opterr = 0;
	int c, idx;
	while ((c = getopt_long(ac, av, "qvh", lopts, &idx)) != -1) {
		switch (c) {
		case 'q': log_set_level(LOG_WARN); break;
		case 'v': log_enable_debug("all", NULL); break;
		case 'h': want_help = true; break;
		case 1000: {	/* debug */
			const char *bad;
			if (log_enable_debug(optarg, &bad) < 0) {
				pc_err(LOG_MAIN, "unknown debug category '%.*s' in '--debug=%s'",
				       (int)strcspn(bad, ","), bad, optarg);
				goto out;
			}
			break;
		}
		case 1001: log_set_level(LOG_WARN); break;
		case 1002: log_enable_debug("all", NULL); break;
		case 1003:
			if (!(cmd->flags & HAS_JSON)) {
				pc_err(LOG_MAIN, "'powercut %s' has no --json output", cmd->name);
				goto out;
			}
			ctx.json = true;
			break;
		case 1004: sets[n_sets++] = optarg; break;
		case 1005: want_help = true; break;
		case 1006: db_path = optarg; break;
		case '?':
			if (optopt)
				pc_err(LOG_MAIN, "unknown option '-%c' for 'powercut %s'", optopt, cmd->name);
			else
				pc_err(LOG_MAIN, "unknown option '%s' for 'powercut %s' (see 'powercut %s --help')",
				       av[optind - 1], cmd->name, cmd->name);
			goto out;
		case ':':
			pc_err(LOG_MAIN, "option '%s' needs a value", av[optind - 1]);
			goto out;
		default:
			if (c >= 2000 && c < 2000 + CMD_MAX_OPTS) {
				ctx.optset[c - 2000] = true;
				ctx.optval[c - 2000] = optarg;
			}
			break;
		}
	}
	for (int i = optind; i < ac; i++)
		pos[npos++] = av[i];
	ctx.argc = npos;
	ctx.argv = pos;
	ctx.sets = sets;
	ctx.n_sets = n_sets;
	if (want_help) {
		cmd_usage(stdout, cmd);
		rc = EXIT_OK;
		goto out;
	}

	if ((rc = cmd_setup(&ctx, db_path)) != EXIT_OK)
		goto out;
	rc = cmd->fn(&ctx);
	if (relay_interrupted) {
		pc_info(LOG_MAIN, "interrupted by signal %d (%s)", relay_interrupted,
			strsignal(relay_interrupted));
		rc = 128 + relay_interrupted;
	}
out:
	/* Reverse order of setup; relay_close powers every touched channel back on. */
	relay_close(ctx.relay);
	if (ctx.db) {
		store_log_detach(ctx.db);
		store_close(ctx.db);
	}
	benchlock_release(ctx.lock);
	bench_config_free(ctx.cfg);
	free(av);
	free(sets);
	free(pos);
	return rc;
}
