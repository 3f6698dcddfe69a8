/* powercut-agent: the verifying writer and checker (docs/oracle.md). */
#include "agent.h"
#include "filerec.h"
#include "ledger_proto.h"
#include "record.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t agent_signalled;
volatile sig_atomic_t agent_flush_asked;

void agent_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "powercut-agent: %s\n", buf);
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		agent_flush_asked = 1;
	else
		agent_signalled = sig;
}

static const char usage[] =
"usage: powercut-agent write TARGET --campaign ID [options]\n"
"       powercut-agent check TARGET --campaign ID [options]\n"
"       powercut-agent files DIR --campaign ID [options]\n"
"       powercut-agent fscheck DIR --campaign ID [options]\n"
"       powercut-agent sqlite DIR --campaign ID [options]\n"
"\n"
"TARGET is a file or block device"
#ifdef PC_AGENT_NBD
", or an NBD URI (nbd://HOST/EXPORT, nbd+unix:///EXPORT?socket=PATH)"
#else
" (NBD URIs need powercut-agent-nbd)"
#endif
".\n"
"Records, ledger protocol and check report: docs/oracle.md.\n"
"\n"
"identity (write and check must agree):\n"
"  --campaign ID        campaign id (required)\n"
"  --cycle N            cycle number (0)\n"
"  --disk ID            disk id (0)\n"
"  --seed S             payload seed (default: the campaign id)\n"
"  --block-size B       bytes per block, a multiple of 512 (4096)\n"
"  --span-mib M         MiB of the target to use (default: all of it)\n"
"workload (write):\n"
"  --queue-depth Q      writes in flight (16, at most 256)\n"
"  --pattern P          random | sequential | hotset | alloc (random); alloc baselines\n"
"                       only the lower half of the span and first writes every block\n"
"                       of the upper half once, in a scattered order, then random\n"
"  --hot-set-pct P      hotset: 90% of writes go to the first P% of the span (10)\n"
"  --flush F            never | every-n[:N] | every-ms[:T] | always | fua (never)\n"
"  --flush-n N          writes per flush for every-n (64)\n"
"  --flush-ms T         milliseconds between flushes for every-ms (100)\n"
"  --direct 0|1         O_DIRECT for files and devices (1; buffered if unsupported)\n"
"  --duration S         seconds to write (0: until SIGTERM/SIGINT)\n"
"  --writes N           stop after N writes (0: no limit)\n"
"  --baseline-exists    do not write the baseline (generation 0); flush once before\n"
"                       the first write instead (what the disk holds becomes durable)\n"
"  --ledger IP:PORT     host ledger to stream acknowledgements and flushes to\n"
"  --token-file FILE    read the campaign's ledger token from FILE (its first line);\n"
"                       or set POWERCUT_LEDGER_TOKEN; one of them with --ledger\n"
"  --token T            the token itself (bring-up only: any local user can read a\n"
"                       command line in /proc)\n"
"  --ledger-queue N     entries kept while the ledger is unreachable (131072); when\n"
"                       full, new ones are dropped, counted and reported as a gap\n"
"files (write on the file system mounted at DIR; --duration, --writes count operations):\n"
"  --sync S             fsync | fdatasync | osync | mixed (mixed: each operation picks)\n"
"  --files N            file names used (16)\n"
"  --max-chunks N       largest file in 512-byte chunks (64)\n"
"sqlite (transactions in DIR/pc.db, each acknowledged once COMMIT returned):\n"
"  --sql-journal J      wal | delete (wal)\n"
"  --sql-sync S         full | normal | extra (full)\n"
"fscheck (read every file in DIR back; what the guest's file system check said):\n"
"  --fs NAME --fsck-tool NAME --fsck-rc N --fsck-raw-rc N --mounted 0|1\n"
"  --sqlite             the disk ran the sqlite workload: check its database instead\n"
"check:\n"
"  --output FILE        write the JSON-lines report there (default: stdout)\n"
"  --quiet              no progress messages\n"
"  --help               this text\n"
"exit status: 0 done (with --ledger: the host confirmed the session), 1 I/O error,\n"
"2 bad arguments, 3 the ledger rejected the session (the host's reason on stderr)\n"
"or never confirmed it within 2 s of the end.\n";

enum { O_CAMPAIGN = 256, O_CYCLE, O_DISK, O_SEED, O_BS, O_SPAN, O_QD, O_PATTERN, O_HOT,
       O_FLUSH, O_FLUSH_N, O_FLUSH_MS, O_DIRECT, O_DURATION, O_WRITES, O_BASE, O_LEDGER,
       O_TOKEN, O_OUTPUT, O_QUIET, O_HELP, O_LQUEUE, O_TOKEN_FILE,
       O_SYNC, O_FILES, O_MAXCH, O_FS, O_FSCK_TOOL, O_FSCK_RC, O_FSCK_RAW, O_MOUNTED,
       O_SQL_JOURNAL, O_SQL_SYNC, O_SQLITE };

static const struct option longopts[] = {
	{ "campaign", 1, NULL, O_CAMPAIGN }, { "cycle", 1, NULL, O_CYCLE },
	{ "disk", 1, NULL, O_DISK }, { "seed", 1, NULL, O_SEED },
	{ "block-size", 1, NULL, O_BS }, { "span-mib", 1, NULL, O_SPAN },
	{ "queue-depth", 1, NULL, O_QD }, { "pattern", 1, NULL, O_PATTERN },
	{ "hot-set-pct", 1, NULL, O_HOT }, { "flush", 1, NULL, O_FLUSH },
	{ "flush-n", 1, NULL, O_FLUSH_N }, { "flush-ms", 1, NULL, O_FLUSH_MS },
	{ "direct", 1, NULL, O_DIRECT }, { "duration", 1, NULL, O_DURATION },
	{ "writes", 1, NULL, O_WRITES }, { "baseline-exists", 0, NULL, O_BASE },
	{ "ledger", 1, NULL, O_LEDGER }, { "token", 1, NULL, O_TOKEN },
	{ "token-file", 1, NULL, O_TOKEN_FILE },
	{ "output", 1, NULL, O_OUTPUT }, { "quiet", 0, NULL, O_QUIET },
	{ "help", 0, NULL, O_HELP }, { "ledger-queue", 1, NULL, O_LQUEUE },
	{ "sync", 1, NULL, O_SYNC }, { "files", 1, NULL, O_FILES },
	{ "max-chunks", 1, NULL, O_MAXCH }, { "fs", 1, NULL, O_FS },
	{ "fsck-tool", 1, NULL, O_FSCK_TOOL }, { "fsck-rc", 1, NULL, O_FSCK_RC },
	{ "fsck-raw-rc", 1, NULL, O_FSCK_RAW }, { "mounted", 1, NULL, O_MOUNTED },
	{ "sql-journal", 1, NULL, O_SQL_JOURNAL }, { "sql-sync", 1, NULL, O_SQL_SYNC },
	{ "sqlite", 0, NULL, O_SQLITE },
	{ NULL, 0, NULL, 0 },
};

static int bad_arg(const char *opt, const char *val, const char *why)
{
	agent_log("invalid value '%s' for --%s: %s", val, opt, why);
	return -EINVAL;
}

/* The token from the first line of path (a QEMU fw_cfg file in the guest, a private
 * file or /dev/fd/N on the host): it never appears on a command line. */
static int token_from_file(const char *path, const char **token)
{
	static char buf[LEDGER_MAX_TOKEN + 2];
	FILE *f = fopen(path, "re");
	if (!f) {
		agent_log("cannot open token file '%s': %s", path, strerror(errno));
		return -EINVAL;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!*buf || strlen(buf) > LEDGER_MAX_TOKEN)
		return bad_arg("token-file", path, "the token must be 1 to 255 bytes");
	*token = buf;
	return 0;
}

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		return bad_arg(opt, s, "not a number");
	if (v < min || v > max) {
		char why[96];
		snprintf(why, sizeof(why), "must be between %llu and %llu",
			 (unsigned long long)min, (unsigned long long)max);
		return bad_arg(opt, s, why);
	}
	*out = v;
	return 0;
}

/* One of a few words (the table ends with a NULL word): its value into *out. */
struct word {
	const char *word;
	int value;
};

static int parse_word(const char *opt, const char *s, const struct word *words, const char *want,
		      int *out)
{
	for (const struct word *w = words; w->word; w++)
		if (!strcmp(s, w->word)) {
			*out = w->value;
			return 0;
		}
	return bad_arg(opt, s, want);
}

static const struct word pattern_words[] = {
	{ "random", PAT_RANDOM }, { "sequential", PAT_SEQUENTIAL }, { "hotset", PAT_HOTSET },
	{ "alloc", PAT_ALLOC }, { NULL, 0 },
};
static const struct word sync_words[] = {
	{ "mixed", 0 }, { "fsync", FS_SYNC_FSYNC }, { "fdatasync", FS_SYNC_FDATASYNC },
	{ "osync", FS_SYNC_OSYNC }, { NULL, 0 },
};
static const struct word journal_words[] = {
	{ "wal", FS_JOURNAL_WAL }, { "delete", FS_JOURNAL_DELETE }, { NULL, 0 },
};
static const struct word sql_sync_words[] = {
	{ "full", FS_SYNC_SQLITE_FULL }, { "normal", FS_SYNC_SQLITE_NORMAL },
	{ "extra", FS_SYNC_SQLITE_EXTRA }, { NULL, 0 },
};

/* --flush=never|every-n[:N]|every-ms[:T]|always|fua */
static int parse_flush(const char *name, const char *arg, struct agent_opts *o)
{
	const char *colon = strchr(arg, ':');
	size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
	uint64_t v;
	int rc = 0;

	if (n == 5 && !strncmp(arg, "never", 5)) o->flush = FL_NEVER;
	else if (n == 7 && !strncmp(arg, "every-n", 7)) o->flush = FL_EVERY_N;
	else if (n == 8 && !strncmp(arg, "every-ms", 8)) o->flush = FL_EVERY_MS;
	else if (n == 6 && !strncmp(arg, "always", 6)) o->flush = FL_ALWAYS;
	else if (n == 3 && !strncmp(arg, "fua", 3)) o->flush = FL_FUA;
	else return bad_arg(name, arg, "want never, every-n:N, every-ms:T, always or fua");
	if (colon && o->flush == FL_EVERY_N) {
		rc = parse_u64(name, colon + 1, 1, UINT32_MAX, &v);
		o->flush_n = (uint32_t)v;
	} else if (colon && o->flush == FL_EVERY_MS) {
		rc = parse_u64(name, colon + 1, 1, 3600000, &v);
		o->flush_ms = (uint32_t)v;
	} else if (colon) {
		rc = bad_arg(name, arg, "only every-n and every-ms take a value");
	}
	return rc;
}

/* After the options: the one TARGET, a campaign, the seed's default and a ledger's
 * token. */
static int check_opts(int argc, char **argv, struct agent_opts *o, bool have_campaign)
{
	if (optind != argc - 1) {
		agent_log(optind >= argc ? "missing TARGET" : "unexpected argument '%s'",
			  optind >= argc ? "" : argv[optind + 1]);
		return -EINVAL;
	}
	o->target = argv[optind];
	if (!have_campaign) {
		agent_log("missing --campaign");
		return -EINVAL;
	}
	if (!o->seed_set)
		o->seed = o->campaign;
	if (o->ledger && !o->token) {
		const char *env = getenv("POWERCUT_LEDGER_TOKEN");
		if (env && *env && strlen(env) <= LEDGER_MAX_TOKEN)
			o->token = env;
	}
	if (o->ledger && !o->token) {
		agent_log("--ledger needs a token: --token-file, POWERCUT_LEDGER_TOKEN or --token");
		return -EINVAL;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct agent_opts *o)
{
	bool have_campaign = false;
	uint64_t v;
	int c, w, rc = 0;

	*o = (struct agent_opts){ .block_size = 4096, .queue_depth = 16, .hot_set_pct = 10,
				  .flush_n = 64, .flush_ms = 100, .direct = true,
				  .ledger_queue = 131072, .files = 16, .max_chunks = 64,
				  .fsck_raw_rc = -1, .mounted = true, .sql_journal = FS_JOURNAL_WAL,
				  .sql_sync = FS_SYNC_SQLITE_FULL };
	optind = 2;
	while (!rc && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		/* by value: the table's order need not follow the enum's */
		const char *name = "?";
		for (const struct option *lo = longopts; lo->name; lo++)
			if (lo->val == c)
				name = lo->name;
		switch (c) {
		case O_CAMPAIGN: rc = parse_u64(name, optarg, 0, UINT64_MAX, &o->campaign); have_campaign = true; break;
		case O_CYCLE: rc = parse_u64(name, optarg, 0, UINT32_MAX, &v); o->cycle = (uint32_t)v; break;
		case O_DISK: rc = parse_u64(name, optarg, 0, UINT32_MAX, &v); o->disk = (uint32_t)v; break;
		case O_SEED: rc = parse_u64(name, optarg, 0, UINT64_MAX, &o->seed); o->seed_set = true; break;
		case O_BS:
			rc = parse_u64(name, optarg, 512, 65535 * 512ull, &v);
			if (!rc && v % 512)
				rc = bad_arg(name, optarg, "must be a multiple of 512");
			o->block_size = (uint32_t)v;
			break;
		case O_SPAN: rc = parse_u64(name, optarg, 1, 1ull << 30, &o->span_mib); break;
		case O_QD: rc = parse_u64(name, optarg, 1, 256, &v); o->queue_depth = (uint32_t)v; break;
		case O_PATTERN:
			rc = parse_word(name, optarg, pattern_words,
					"want random, sequential, hotset or alloc", &w);
			if (!rc)
				o->pattern = (enum pattern)w;
			break;
		case O_HOT: rc = parse_u64(name, optarg, 1, 100, &v); o->hot_set_pct = (uint32_t)v; break;
		case O_FLUSH: rc = parse_flush(name, optarg, o); break;
		case O_FLUSH_N: rc = parse_u64(name, optarg, 1, UINT32_MAX, &v); o->flush_n = (uint32_t)v; break;
		case O_FLUSH_MS: rc = parse_u64(name, optarg, 1, 3600000, &v); o->flush_ms = (uint32_t)v; break;
		case O_DIRECT: rc = parse_u64(name, optarg, 0, 1, &v); o->direct = v; break;
		case O_DURATION: {
			char *end;
			o->duration = strtod(optarg, &end);
			if (*end || end == optarg || o->duration < 0)
				rc = bad_arg(name, optarg, "want seconds, 0 or more");
			break;
		}
		case O_WRITES: rc = parse_u64(name, optarg, 0, UINT64_MAX, &o->max_writes); break;
		case O_BASE: o->baseline_exists = true; break;
		case O_LEDGER: o->ledger = optarg; break;
		case O_TOKEN:
			o->token = optarg;
			if (!*optarg || strlen(optarg) > LEDGER_MAX_TOKEN)
				rc = bad_arg(name, "...", "must be 1 to 255 bytes");
			break;
		case O_TOKEN_FILE: rc = token_from_file(optarg, &o->token); break;
		case O_OUTPUT: o->output = optarg; break;
		case O_QUIET: o->quiet = true; break;
		case O_HELP: fputs(usage, stdout); exit(0);
		case O_LQUEUE: rc = parse_u64(name, optarg, 16, 1u << 24, &v); o->ledger_queue = (uint32_t)v; break;
		case O_SYNC:
			rc = parse_word(name, optarg, sync_words,
					"want fsync, fdatasync, osync or mixed", &o->sync);
			break;
		case O_FILES: rc = parse_u64(name, optarg, 1, 9999, &v); o->files = (uint32_t)v; break;
		case O_MAXCH: rc = parse_u64(name, optarg, 4, 1u << 20, &v); o->max_chunks = (uint32_t)v; break;
		case O_FS: o->fs = optarg; break;
		case O_FSCK_TOOL: o->fsck_tool = optarg; break;
		case O_FSCK_RC: rc = parse_u64(name, optarg, 0, 255, &v); o->fsck_rc = (int)v; break;
		case O_FSCK_RAW: rc = parse_u64(name, optarg, 0, 255, &v); o->fsck_raw_rc = (int)v; break;
		case O_MOUNTED: rc = parse_u64(name, optarg, 0, 1, &v); o->mounted = v; break;
		case O_SQL_JOURNAL:
			rc = parse_word(name, optarg, journal_words, "want wal or delete",
					&o->sql_journal);
			break;
		case O_SQL_SYNC:
			rc = parse_word(name, optarg, sql_sync_words, "want full, normal or extra",
					&o->sql_sync);
			break;
		case O_SQLITE: o->sqlite = true; break;
		default: return -EINVAL;
		}
	}
	return rc ? rc : check_opts(argc, argv, o, have_campaign);
}

static bool is_uri(const char *t)
{
	return strstr(t, "://") != NULL;
}

static int open_target(const struct agent_opts *o, bool writing, uint64_t *nblocks)
{
	uint64_t size = 0;
	int rc;

	if (is_uri(o->target)) {
#ifdef PC_AGENT_NBD
		rc = nbd_open_target(o, &size);
#else
		agent_log("cannot open '%s': this static build has no NBD support; use powercut-agent-nbd",
			  o->target);
		return -EPROTONOSUPPORT;
#endif
	} else {
		rc = file_open_target(o, writing, &size);
	}
	if (rc)
		return rc;
	uint64_t span = o->span_mib ? o->span_mib << 20 : size;
	if (span > size) {
		agent_log("span of %llu MiB is larger than '%s' (%llu bytes)",
			  (unsigned long long)o->span_mib, o->target, (unsigned long long)size);
		return -ENOSPC;
	}
	*nblocks = span / o->block_size;
	if (*nblocks == 0) {
		agent_log("'%s' is smaller than one block%s", o->target,
			  writing && !o->span_mib ? " (--span-mib creates or extends a file)" : "");
		return -ENOSPC;
	}
	return 0;
}

static void close_target(const struct agent_opts *o)
{
#ifdef PC_AGENT_NBD
	if (is_uri(o->target)) {
		nbd_close_target();
		return;
	}
#endif
	file_close_target();
}

struct run_arg {
	struct core *c;
	int rc;
};

static void *run_thread(void *arg)
{
	struct run_arg *r = arg;
#ifdef PC_AGENT_NBD
	if (is_uri(r->c->o->target)) {
		r->rc = nbd_write_run(r->c);
		return NULL;
	}
#endif
	r->rc = file_write_run(r->c);
	return NULL;
}

static void *run_thread_stop(void *arg)
{
	struct run_arg *r = arg;

	run_thread(arg);
	/* Wake the watcher whatever ended the run (limit reached, error). */
	pthread_mutex_lock(&r->c->mu);
	r->c->stop = true;
	pthread_mutex_unlock(&r->c->mu);
	return NULL;
}

/* The ledger's outcome of the write run: 0, or lclient_finish's error. */
static int write_ledger_rc;

static int cmd_write(const struct agent_opts *o)
{
	struct core c;
	uint64_t nblocks;
	int rc, lrc;

	if ((rc = open_target(o, true, &nblocks)))
		return rc;
	if ((rc = core_init(&c, o, nblocks))) {
		close_target(o);
		return rc;
	}
	if ((rc = lclient_start(o, nblocks)))
		goto out;
	if (!o->baseline_exists) {
#ifdef PC_AGENT_NBD
		rc = is_uri(o->target) ? nbd_baseline(&c) : file_baseline(&c);
#else
		rc = file_baseline(&c);
#endif
		if (rc)
			goto finish;
	} else {
		/* What the disk holds from before is made durable before the first write,
		 * and the ledger says so: the oracle holds it to that (docs/oracle.md). */
#ifdef PC_AGENT_NBD
		rc = is_uri(o->target) ? nbd_carry_flush(&c) : file_carry_flush(&c);
#else
		rc = file_carry_flush(&c);
#endif
		if (rc)
			goto finish;
	}

	/* The I/O runs in its own thread; this one watches the clock and signals. */
	struct run_arg ra = { &c, 0 };
	pthread_t th;
	int64_t t0 = clock_mono_ns(), deadline = o->duration > 0 ? t0 + (int64_t)(o->duration * 1e9) : 0;
	if ((rc = -pthread_create(&th, NULL, run_thread_stop, &ra)))
		goto finish;
	for (;;) {
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&c.mu);
		bool ended = c.stop;
		if (agent_signalled || lclient_failed() || (deadline && clock_mono_ns() >= deadline)) {
			c.stop = true;
			pthread_cond_broadcast(&c.cv);
			ended = true;
		}
		pthread_mutex_unlock(&c.mu);
		if (ended)
			break;
	}
	pthread_join(th, NULL);
	rc = ra.rc;
	double secs = (clock_mono_ns() - t0) / 1e9;
	if (!o->quiet)
		agent_log("wrote %llu blocks in %.3f s (%.0f writes/s), %llu flushes, %llu ledger entries dropped",
			  (unsigned long long)c.acks, secs, secs > 0 ? c.acks / secs : 0.0,
			  (unsigned long long)c.flushes, (unsigned long long)lclient_dropped());
	printf("{\"type\":\"write\",\"writes\":%llu,\"flushes\":%llu,\"seconds\":%.6f,\"dropped\":%llu,\"error\":%d}\n",
	       (unsigned long long)c.acks, (unsigned long long)c.flushes, secs,
	       (unsigned long long)lclient_dropped(), rc);
	fflush(stdout);
finish:
	lrc = lclient_finish(rc ? LEDGER_END_ERROR : agent_signalled ? LEDGER_END_SIGNAL : LEDGER_END_DONE,
			     c.acks, c.flushes, 2000);
	if (o->ledger) {
		/* The ledger's verdict on this run, for the driver (exit status 3 if not recorded). */
		printf("{\"type\":\"ledger\",\"status\":\"%s\",\"reason\":\"",
		       !lrc ? "recorded" : lrc == -EPROTO ? "rejected" : "unconfirmed");
		for (const char *r = lrc == -EPROTO ? lclient_reason() : ""; *r; r++) {
			if (*r == '"' || *r == '\\')
				putchar('\\');
			putchar((unsigned char)*r < 0x20 ? '?' : *r);
		}
		printf("\"}\n");
		fflush(stdout);
	}
	write_ledger_rc = lrc;
out:
	core_release(&c);
	close_target(o);
	if (rc && rc != -EINVAL)
		agent_log("write to '%s' failed: %s", o->target, strerror(-rc));
	return rc;
}

static int cmd_check(const struct agent_opts *o)
{
	uint64_t nblocks;
	FILE *out = stdout;
	int rc;

	if ((rc = open_target(o, false, &nblocks)))
		return rc;
	if (o->output && !(out = fopen(o->output, "w"))) {
		rc = -errno;
		agent_log("cannot create '%s': %s", o->output, strerror(-rc));
		close_target(o);
		return rc;
	}
	static char obuf[1 << 16];
	setvbuf(out, obuf, _IOFBF, sizeof(obuf));
	int64_t t0 = clock_mono_ns();
	struct checker *k = checker_new(o, nblocks, out);
	if (!k) {
		rc = -ENOMEM;
		goto out;
	}
#ifdef PC_AGENT_NBD
	rc = is_uri(o->target) ? nbd_check(o, k, nblocks) : file_check(o, k, nblocks);
#else
	rc = file_check(o, k, nblocks);
#endif
	int frc = checker_finish(k, (clock_mono_ns() - t0) / 1e9);
	if (!rc && frc) {
		agent_log("cannot write check report: %s", strerror(-frc));
		rc = frc;
	}
out:
	if (out != stdout)
		fclose(out);
	close_target(o);
	return rc;
}

int main(int argc, char **argv)
{
	struct agent_opts o;
	struct sigaction sa = { .sa_handler = on_signal };

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "write") && strcmp(argv[1], "check") &&
			  strcmp(argv[1], "files") && strcmp(argv[1], "fscheck") && strcmp(argv[1], "sqlite"))) {
		if (argc >= 2)
			agent_log("unknown command '%s'", argv[1]);
		fputs(usage, stderr);
		return 2;
	}
	if (parse_opts(argc, argv, &o) < 0) {
		agent_log("see 'powercut-agent --help'");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int rc;
	if (!strcmp(argv[1], "files") || !strcmp(argv[1], "sqlite")) {
		rc = !strcmp(argv[1], "files") ? files_write(&o) : sql_write(&o);
		return rc == -EPROTO ? 3 : rc ? 1 : 0;
	}
	if (!strcmp(argv[1], "fscheck"))
		return files_check(&o) ? 1 : 0;
	rc = !strcmp(argv[1], "write") ? cmd_write(&o) : cmd_check(&o);
	return rc ? 1 : write_ledger_rc ? 3 : 0;
}
