/* Issue 5's end-to-end proof: powercut-agent-nbd writes through the real disk stack,
 * the ledger records what it was told, the stack is cut, the agent checks, and the
 * classifier (oracle_verify) says what was lost.
 *
 *   - the seed experiment (process kill): qcow2 overlay on a backing file, cluster
 *     128k, extended_l2, lazy_refcounts, cache=none, writes without a flush ->
 *     unflushed writes lost, rolled back to the baseline; with a flush before the
 *     kill -> none lost; raw -> none lost; writethrough -> none lost;
 *   - power cuts at random moments over the volatile cache (random write-back,
 *     tearing): raw and qcow2 may lose unflushed writes, never a flushed one;
 *   - the lying disk: a violation in every run.
 *
 * Skips (exit 77, reason on the last line) when the agent binary or a daemon is
 * missing. PROOF_CYCLES overrides the number of power-cut cycles per backend.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "classify.h"
#include "clock.h"
#include "diskmodel.h"
#include "ledger.h"
#include "ledger_schema.h"
#include "log.h"
#include "rng.h"
#include "util.h"
#include "verify.h"

#define SPAN_MIB 4
#define BLOCK 4096
#define TOKEN "proof-token"

static char agent_path[PATH_MAX + 64];
static char workdir[PATH_MAX];

struct proof {
	struct diskmodel *dm;
	sqlite3 *db;
	struct ledger *led;
	char db_path[PATH_MAX + 16];
	uint64_t campaign;
	int log_fd;
	uint64_t rng;
	struct child agent;	/* the running writer, if agent_live */
	bool agent_live;
};

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static int setup(void **state)
{
	struct proof *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->log_fd = -1;
	static unsigned n;
	p->campaign = ((uint64_t)getpid() << 16) + ++n;
	p->rng = p->campaign;
	snprintf(p->db_path, sizeof(p->db_path), "%s/ledger-%u.db", workdir, n);
	assert_int_equal(sqlite3_open(p->db_path, &p->db), SQLITE_OK);
	sqlite3_busy_timeout(p->db, 5000);
	char *err = NULL;
	if (sqlite3_exec(p->db, ledger_schema_sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("schema: %s", err);
	assert_int_equal(ledger_campaign_register(p->db, p->campaign, TOKEN, p->campaign), 0);
	struct ledger_config cfg = { .addr = "127.0.0.1", .campaign = p->campaign,
				     .token = TOKEN, .cycle = 0 };
	p->led = ledger_open(&cfg, p->db_path);
	assert_non_null(p->led);
	assert_int_equal(ledger_start(p->led), 0);
	char logp[PATH_MAX + 16];
	snprintf(logp, sizeof(logp), "%s/agent-%u.log", workdir, n);
	p->log_fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	assert_true(p->log_fd >= 0);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct proof *p = *state;
	if (!p)
		return 0;
	if (p->agent_live) {
		int st;
		child_kill(&p->agent, SIGKILL);
		child_finish(&p->agent, 5000, &st);
	}
	diskmodel_free(p->dm);
	if (p->led)
		ledger_free(p->led);
	if (p->db)
		sqlite3_close(p->db);
	if (p->log_fd >= 0)
		close(p->log_fd);
	unlink(p->db_path);
	free(p);
	return 0;
}

static void new_disk(struct proof *p, const struct disk_opts *o)
{
	struct disk_opts oo = *o;
	oo.tmpdir = workdir;
	p->dm = diskmodel_new(&oo);
	if (!p->dm)
		fail_msg("diskmodel_new: %s", strerror(errno));
	int r = diskmodel_start(p->dm);
	if (r < 0)
		fail_msg("diskmodel_start: %s (see '%s')", strerror(-r), diskmodel_dir(p->dm));
}

/* Start `powercut-agent-nbd write` on the export; extra arguments end with NULL. */
static struct child *agent_start(struct proof *p, uint32_t cycle, ...)
{
	struct child *c = &p->agent;
	static char camp[32], cyc[16], port[32], span[16];
	static const char *argv[40];
	snprintf(camp, sizeof(camp), "%llu", (unsigned long long)p->campaign);
	snprintf(cyc, sizeof(cyc), "%u", cycle);
	snprintf(port, sizeof(port), "127.0.0.1:%u", ledger_port(p->led));
	snprintf(span, sizeof(span), "%d", SPAN_MIB);
	int n = 0;
	argv[n++] = agent_path;
	argv[n++] = "write";
	argv[n++] = diskmodel_uri(p->dm);
	argv[n++] = "--campaign";
	argv[n++] = camp;
	argv[n++] = "--cycle";
	argv[n++] = cyc;
	argv[n++] = "--block-size";
	argv[n++] = "4096";
	argv[n++] = "--span-mib";
	argv[n++] = span;
	argv[n++] = "--ledger";
	argv[n++] = port;
	argv[n++] = "--token";
	argv[n++] = TOKEN;
	argv[n++] = "--quiet";
	va_list ap;
	va_start(ap, cycle);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 39)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	/* The previous agent's last frames must be stored before its cycle closes. */
	ledger_quiesce(p->led, 100, 3000);
	ledger_set_cycle(p->led, cycle);
	memset(c, 0, sizeof(*c));
	c->argv = argv;
	c->in = CHILD_NULL;
	c->out = CHILD_FD;
	c->err = CHILD_FD;
	c->fd_out = c->fd_err = p->log_fd;
	int r = child_start(c);
	if (r < 0)
		fail_msg("cannot start '%s': %s", agent_path, strerror(-r));
	p->agent_live = true;
	return c;
}

/* Wait for the agent; after a cut it sees its export vanish and exits on its own. */
static int agent_wait(struct proof *p, int timeout_ms)
{
	int status = 0;
	int r = child_finish(&p->agent, timeout_ms, &status);
	p->agent_live = false;
	if (r < 0)
		fail_msg("agent did not finish: %s", strerror(-r));
	return status;
}

static void wait_acks(struct proof *p, uint64_t base, uint64_t n, struct child *c)
{
	int64_t end = clock_mono_ns() + 10ll * 1000000000;
	struct ledger_stats st;
	for (;;) {
		ledger_get_stats(p->led, &st);
		if (st.acks >= base + n)
			return;
		if (!child_running(c))
			fail_msg("agent exited before %llu acknowledgements",
				 (unsigned long long)n);
		if (clock_mono_ns() > end)
			fail_msg("no acknowledgements within 10 s");
		msleep(2);
	}
}

/* Run the agent's check on the restarted stack and classify the cycle. */
static void check_and_verify(struct proof *p, uint32_t cycle, int64_t cut_ns,
			     struct oracle_verify_result *res)
{
	char out[PATH_MAX + 32], camp[32], cyc[16], span[16];
	snprintf(out, sizeof(out), "%s/check-%llu-%u.jsonl", workdir,
		 (unsigned long long)p->campaign, cycle);
	snprintf(camp, sizeof(camp), "%llu", (unsigned long long)p->campaign);
	snprintf(cyc, sizeof(cyc), "%u", cycle);
	snprintf(span, sizeof(span), "%d", SPAN_MIB);
	const char *argv[] = { agent_path, "check", diskmodel_uri(p->dm), "--campaign", camp,
			       "--cycle", cyc, "--block-size", "4096", "--span-mib", span,
			       "--output", out, "--quiet", NULL };
	struct child_result r;
	int rc = child_run(argv, NULL, 30000, &r);
	if (rc < 0 || !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
		fail_msg("agent check failed (%d): %s", rc, r.err ? r.err : "");
	child_result_release(&r);
	assert_int_equal(ledger_quiesce(p->led, 100, 3000), 0);
	FILE *f = fopen(out, "r");
	assert_non_null(f);
	rc = oracle_verify(p->db, p->campaign, cycle, 0, f, cut_ns, false, res);
	fclose(f);
	unlink(out);
	if (rc < 0)
		fail_msg("oracle_verify of cycle %u: %s", cycle, strerror(-rc));
}

static void restart(struct proof *p, struct disk_check *chk)
{
	int r = diskmodel_restart(p->dm, chk);
	if (r < 0)
		fail_msg("diskmodel_restart: %s (see '%s')", strerror(-r), diskmodel_dir(p->dm));
}

static uint64_t lost_unflushed(const struct oracle_verify_result *v)
{
	return v->cycle.count[CLS_UNFLUSHED_LOST_OLDER] + v->cycle.count[CLS_UNFLUSHED_LOST_ZERO];
}

static void print_counts(const char *what, const struct oracle_verify_result *v)
{
	print_message("%s:", what);
	for (int c = 0; c < CLS__COUNT; c++)
		if (v->cycle.count[c])
			print_message(" %s=%llu", cls_class_name(c),
				      (unsigned long long)v->cycle.count[c]);
	print_message(" violations=%llu\n", (unsigned long long)v->cycle.violations);
}

/* --- the seed experiment, process kill --- */

struct seed_case {
	const char *name;
	enum disk_format fmt;
	enum disk_cache_mode cache;
	bool flush;		/* a flush reaches the export before the kill */
	bool expect_loss;
};

static void seed_run(void **state, const struct seed_case *sc)
{
	struct proof *p = *state;
	struct disk_opts o;
	disk_opts_init(&o);
	o.format = sc->fmt;
	o.cache = sc->cache;
	o.size = 32ull << 20;
	o.cluster_size = 128 * 1024;
	o.extended_l2 = true;
	o.lazy_refcounts = true;
	new_disk(p, &o);

	/* Cycle 0: the baseline (the seed's 0x11 fill), flushed. */
	agent_start(p, 0, "--writes", "1", "--flush", "always", NULL);
	int st = agent_wait(p, 30000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The seed's `qm snapshot`: the filled image becomes the backing file. */
	if (sc->fmt == DISK_FMT_QCOW2)
		assert_int_equal(diskmodel_snapshot(p->dm), 0);

	/* Cycle 1: new data over the baseline, no flush by the agent. */
	agent_start(p, 1, "--baseline-exists", "--writes", "3000", "--flush", "never",
		    "--queue-depth", "16", NULL);
	st = agent_wait(p, 30000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (sc->flush) {
		struct nbd_handle *h = nbd_create();
		assert_non_null(h);
		if (nbd_connect_uri(h, diskmodel_uri(p->dm)) == -1 || nbd_flush(h, 0) == -1)
			fail_msg("flush: %s", nbd_get_error());
		nbd_close(h);
	}
	int64_t cut = clock_mono_ns();
	assert_int_equal(diskmodel_cut(p->dm, DISK_CUT_KILL), 0);
	struct disk_check chk;
	restart(p, &chk);
	assert_false(chk.corrupt);
	disk_check_release(&chk);

	struct oracle_verify_result v;
	check_and_verify(p, 1, cut, &v);
	print_counts(sc->name, &v);
	assert_int_equal(v.cycle.violations, 0);
	assert_int_equal(v.gaps, 0);
	if (sc->expect_loss) {
		/* Rolled back to the baseline: nearly every block written in cycle 1
		 * (3000 random writes over 1024 blocks) reads back as cycle 0's data. */
		assert_true(v.cycle.count[CLS_UNFLUSHED_LOST_OLDER] > v.blocks / 2);
		assert_int_equal(v.cycle.count[CLS_UNFLUSHED_LOST_ZERO], 0);
	} else {
		assert_int_equal(lost_unflushed(&v), 0);
		assert_true(v.cycle.count[CLS_OK] == v.blocks);
	}
}

static void seed_qcow2_none_noflush(void **state)
{
	static const struct seed_case c = { "qcow2 none, no flush", DISK_FMT_QCOW2,
					    DISK_CACHE_NONE, false, true };
	seed_run(state, &c);
}

static void seed_qcow2_none_flush(void **state)
{
	static const struct seed_case c = { "qcow2 none, flush", DISK_FMT_QCOW2,
					    DISK_CACHE_NONE, true, false };
	seed_run(state, &c);
}

static void seed_raw_none_noflush(void **state)
{
	static const struct seed_case c = { "raw none, no flush", DISK_FMT_RAW,
					    DISK_CACHE_NONE, false, false };
	seed_run(state, &c);
}

static void seed_qcow2_writethrough_noflush(void **state)
{
	static const struct seed_case c = { "qcow2 writethrough, no flush", DISK_FMT_QCOW2,
					    DISK_CACHE_WRITETHROUGH, false, false };
	seed_run(state, &c);
}

/* --- power cuts at random moments over the volatile cache --- */

static unsigned cycles_wanted(unsigned dflt)
{
	const char *s = getenv("PROOF_CYCLES");
	return s && atoi(s) > 0 ? (unsigned)atoi(s) : dflt;
}

struct power_totals {
	uint64_t cycles, violations, violated_cycles, lost_unflushed, torn, blocks;
	uint64_t repairable;
};

static void power_cycles(struct proof *p, const struct disk_opts *o, unsigned ncycles,
			 struct power_totals *t)
{
	memset(t, 0, sizeof(*t));
	new_disk(p, o);
	for (unsigned cyc = 1; cyc <= ncycles; cyc++) {
		struct ledger_stats st0;
		ledger_get_stats(p->led, &st0);
		struct child *a = agent_start(p, cyc, "--flush", "every-n", "--flush-n", "32",
					      "--queue-depth", "16", "--pattern",
					      (cyc % 2) ? "random" : "alloc", NULL);
		/* A random moment in the workload, after the baseline was flushed. */
		wait_acks(p, st0.acks, 1, a);
		msleep((int)(rng_splitmix64(&p->rng) % 150));
		int64_t cut = clock_mono_ns();
		assert_int_equal(diskmodel_cut(p->dm, DISK_CUT_POWER), 0);
		agent_wait(p, 10000);
		struct disk_check chk;
		restart(p, &chk);
		assert_false(chk.corrupt);
		t->repairable += chk.repairable;
		disk_check_release(&chk);
		struct oracle_verify_result v;
		check_and_verify(p, cyc, cut, &v);
		t->cycles++;
		t->blocks += v.blocks;
		t->violations += v.cycle.violations;
		t->violated_cycles += v.cycle.violations > 0;
		t->lost_unflushed += lost_unflushed(&v);
		t->torn += v.cycle.count[CLS_TORN];
	}
	print_message("%llu cycles: %llu unflushed writes lost, %llu torn, %llu violations in "
		      "%llu cycles, %llu repairable checks\n",
		      (unsigned long long)t->cycles, (unsigned long long)t->lost_unflushed,
		      (unsigned long long)t->torn, (unsigned long long)t->violations,
		      (unsigned long long)t->violated_cycles, (unsigned long long)t->repairable);
}

static void volatile_opts(struct disk_opts *o, enum disk_format fmt, uint64_t seed)
{
	disk_opts_init(o);
	o->format = fmt;
	o->cache = DISK_CACHE_NONE;
	o->size = 32ull << 20;
	o->cluster_size = 128 * 1024;
	o->extended_l2 = true;
	o->lazy_refcounts = true;
	o->writeback = DISK_WB_RANDOM;
	o->wb_rate = 2000;
	o->tear = true;
	o->seed = seed;
}

static void power_raw_never_loses_flushed(void **state)
{
	struct proof *p = *state;
	struct disk_opts o;
	volatile_opts(&o, DISK_FMT_RAW, 1);
	struct power_totals t;
	power_cycles(p, &o, cycles_wanted(20), &t);
	assert_int_equal(t.violations, 0);
	/* The model must actually have lost something, or the run proves nothing. */
	assert_true(t.lost_unflushed + t.torn > 0);
}

static void power_qcow2_never_loses_flushed(void **state)
{
	struct proof *p = *state;
	struct disk_opts o;
	volatile_opts(&o, DISK_FMT_QCOW2, 2);
	struct power_totals t;
	power_cycles(p, &o, cycles_wanted(20), &t);
	assert_int_equal(t.violations, 0);
	assert_true(t.lost_unflushed + t.torn > 0);
}

static void power_lying_disk_always_caught(void **state)
{
	struct proof *p = *state;
	struct disk_opts o;
	disk_opts_init(&o);
	o.size = 32ull << 20;
	o.lying = true;
	/* No write-back: with it, a lying disk sometimes writes everything down before
	 * the lie could matter (measured: 9 of 10 cycles caught), and a control must
	 * be caught every time. */
	o.writeback = DISK_WB_NONE;
	struct power_totals t;
	unsigned n = cycles_wanted(20) / 2;
	power_cycles(p, &o, n ? n : 1, &t);
	assert_int_equal(t.violated_cycles, t.cycles);
}


/* The agent is built beside us: build/bin/ above build/rig/sim/disk/tests/. */
static bool find_agent(void)
{
	const char *env = getenv("PC_AGENT_NBD");
	if (env && *env) {
		snprintf(agent_path, sizeof(agent_path), "%s", env);
		return access(agent_path, X_OK) == 0;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return false;
	exe[n] = 0;
	for (int up = 0; up < 6; up++) {
		char *slash = strrchr(exe, '/');
		if (!slash)
			break;
		*slash = 0;
		snprintf(agent_path, sizeof(agent_path), "%s/bin/powercut-agent-nbd", exe);
		if (access(agent_path, X_OK) == 0)
			return true;
	}
	return false;
}

static void remove_tree(const char *dir)
{
	const char *argv[] = { "rm", "-rf", "--", dir, NULL };
	struct child_result r;
	if (child_run(argv, NULL, 30000, &r) == 0)
		child_result_release(&r);
}

int main(void)
{
	static const char *const need[] = { "qemu-storage-daemon", "qemu-img", "nbdkit" };
	for (unsigned i = 0; i < 3; i++) {
		if (!pc_in_path(need[i])) {
			printf("skip: '%s' not found in PATH\n", need[i]);
			return 77;
		}
	}
	if (!find_agent()) {
		printf("skip: powercut-agent-nbd not built (bin/powercut-agent-nbd above this "
		       "program, or PC_AGENT_NBD)\n");
		return 77;
	}
	log_set_prog("test_proof");
	log_set_level(LOG_WARN);
	const char *tmp = getenv("TMPDIR");
	snprintf(workdir, sizeof(workdir), "%s/powercut-proof.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(workdir)) {
		printf("cannot create a work dir: %s\n", strerror(errno));
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(seed_qcow2_none_noflush, setup, teardown),
		cmocka_unit_test_setup_teardown(seed_qcow2_none_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(seed_raw_none_noflush, setup, teardown),
		cmocka_unit_test_setup_teardown(seed_qcow2_writethrough_noflush, setup, teardown),
		cmocka_unit_test_setup_teardown(power_raw_never_loses_flushed, setup, teardown),
		cmocka_unit_test_setup_teardown(power_qcow2_never_loses_flushed, setup, teardown),
		cmocka_unit_test_setup_teardown(power_lying_disk_always_caught, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (!getenv("PROOF_KEEP"))
		remove_tree(workdir);
	return rc;
}
