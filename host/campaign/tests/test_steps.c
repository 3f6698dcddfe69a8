/* The step runner (camp_cycle_run) through each kind of scenario, on the null relay
 * and the null node driver: the order of node calls each scenario produces, with no
 * QEMU, no agent, no simulator.
 *
 * The seam: everything is real (the bench parser, the store, the ledger on 127.0.0.1,
 * the power domain, the cycle) except the ledger's statistics, wrapped at link time
 * (-Wl,--wrap=ledger_get_stats): the null node runs no agent, so this test's wrapper
 * reports every disk writing and flushing whenever the cycle looks, as an agent that
 * keeps up would. The null node writes its calls to WORK_DIR/node-calls, kept with
 * env.keep. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "campaign.h"
#include "clock.h"
#include "ledger.h"
#include "log.h"
#include "node.h"
#include "relay.h"
#include "store.h"

void __real_ledger_get_stats(struct ledger *l, struct ledger_stats *st);
void __wrap_ledger_get_stats(struct ledger *l, struct ledger_stats *st);

/* The cycle the campaign runs; the wrapper reports it as the acknowledged one. */
static uint32_t cur_cycle;
static uint64_t looks;
/* A workload slow to start: no disk acknowledges for this long after the cycle first
 * looks (ns; 0: at once, INT64_MAX: never). */
static int64_t acks_after_ns, first_look_ns;

void __wrap_ledger_get_stats(struct ledger *l, struct ledger_stats *st)
{
	__real_ledger_get_stats(l, st);
	if (acks_after_ns && !first_look_ns)
		first_look_ns = clock_mono_ns();
	if (acks_after_ns && clock_mono_ns() - first_look_ns < acks_after_ns)
		return;
	looks++;
	st->acked_cycle = cur_cycle;
	st->acked_disks = ~0ull;
	st->acks = looks;
	for (size_t d = 0; d < LEDGER_STAT_DISKS; d++) {
		st->disk_acks[d] = looks;
		st->disk_flushes[d] = looks;
	}
}

/* What run_node saw besides the node's calls. */
struct seen {
	int rc;				/* camp_cycle_run's */
	double took_s;			/* its wall time */
	enum relay_state relay;		/* the relay's channel 0 at the end */
	char death[512];		/* the step log's "death" of a step that failed, or "" */
};

static char *run_node(const char *words, const char *node_keys, const char **status,
		      struct seen *seen);

/* Run one cycle of a bench with [campaign] scenario = words (NULL: the default) on
 * the null node; returns the node's calls, one per line (caller frees), and the
 * cycle's status in status (static strings). No observers: nothing else is watched. */
static char *run_scenario(const char *words, const char **status)
{
	struct seen seen;

	return run_node(words, "", status, &seen);
}

/* run_scenario with more [node] keys (node_keys: "key = value\n" lines, the null
 * node's die, die_as, slow). */
static char *run_node(const char *words, const char *node_keys, const char **status,
		      struct seen *seen)
{
	const char *tmp = getenv("TMPDIR");
	char dir[256], text[2048], db[PATH_MAX], token[65];
	struct camp_plan plan;
	struct camp_result r = { 0 };

	snprintf(dir, sizeof(dir), "%.200s/pc-steps.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(text, sizeof(text),
		 "[bench]\nname = steps\nrun_dir = %s\n[relay]\ndriver = null\nchannels = 1\n"
		 "[node]\ndriver = null\nboot_delay = 10\n%s[disk a]\nformat = raw\nsize = 16M\n"
		 "[disk b]\nformat = raw\nsize = 16M\n"
		 "[campaign]\ncycles = 1\nseed = 1\ncut = power\nwindow_min_ms = 10\n"
		 "window_max_ms = 20\noff_ms = 20\nboot_timeout = 5s\n%s%s\n", dir, node_keys,
		 words ? "scenario = " : "", words ? words : "");
	/* The drivers the controller knows, as powercut hands them to the loader. */
	const struct bench_drivers drivers = { RELAY_OPT_DRIVERS(relay_drivers),
					       NODE_OPT_DRIVERS(node_drivers) };
	struct bench_config *cfg = bench_config_parse("steps", text, NULL, 0, &drivers);
	assert_non_null(cfg);
	struct relay *relay = relay_open(cfg, dir);
	assert_non_null(relay);
	snprintf(db, sizeof(db), "%s/cycles.db", dir);
	struct store *st = store_open(db, STORE_CREATE | STORE_MIGRATE);
	assert_non_null(st);
	struct camp_env env = { .cfg = cfg, .db = st, .db_path = db, .relay = relay,
				.run_dir = dir, .bin_dir = dir, .work_parent = dir, .keep = true };
	assert_int_equal(camp_start(&env, "{}", token), 0);
	camp_plan_make(cfg, cfg->campaign->seed, 1, &plan);
	cur_cycle = 1;
	int64_t t0 = clock_mono_ns();
	int rc = camp_cycle_run(&env, &plan, &r);
	seen->took_s = (clock_mono_ns() - t0) / 1e9;
	seen->rc = rc;
	*status = rc == 0 ? camp_cycle_status_name(r.status) : "error";
	struct relay_status rs;
	assert_int_equal(relay_status(relay, &rs), 0);
	seen->relay = rs.state[0];
	/* The step that failed keeps the node's death in its row's detail. */
	seen->death[0] = 0;
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_prepare_v2(store_db(st), "SELECT json_extract(detail_json, "
			 "'$.death') FROM cycle_steps WHERE json_extract(detail_json, '$.death') "
			 "IS NOT NULL", -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
		snprintf(seen->death, sizeof(seen->death), "%s", sqlite3_column_text(q, 0));
	sqlite3_finalize(q);

	/* The node's kept directory: DIR/node.XXXXXX/node-calls. */
	char *calls = NULL, path[PATH_MAX + 300];
	DIR *dh = opendir(dir);
	struct dirent *de;
	assert_non_null(dh);
	while ((de = readdir(dh)))
		if (!strncmp(de->d_name, "node.", 5)) {
			snprintf(path, sizeof(path), "%s/%s/node-calls", dir, de->d_name);
			FILE *f = fopen(path, "re");
			size_t len = 0;
			if (f) {
				assert_int_equal(getdelim(&calls, &len, 0, f) >= 0, 1);
				fclose(f);
			}
		}
	closedir(dh);
	camp_result_release(&r);
	camp_stop(&env);
	store_close(st);
	relay_close(relay);
	bench_config_free(cfg);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
	assert_non_null(calls);
	return calls;
}

static void expect_calls(const char *words, const char *want)
{
	const char *status = NULL;
	char *got = run_scenario(words, &status);

	static char seen[4096];

	snprintf(seen, sizeof(seen), "%s", got);
	free(got);
	if (strcmp(seen, want))
		fail_msg("scenario '%s' (cycle status %s): the node was called\n%s\nbut expected\n%s",
			 words ? words : "(default)", status, seen, want);
	/* The null node checks nothing, yet the cycle ran to its record. */
	assert_string_not_equal(status, "error");
}

/* Today's cycle, write cut restart check: the write brings the baseline first (the
 * bench's default, [workload] baseline = fill); the power domain takes the node's
 * power and gives it back (after the boot delay), the cycle waits for it and checks. */
static void test_default(void **state)
{
	expect_calls(NULL, "open\nprepare\nstart_workload 1 baseline\npower_lost power\npower_back 1\n"
		     "wait_up\ncheck 1\ncollect\nclose\n");
}

/* fill writes the baseline itself: the write that follows does not. */
static void test_fill_then_write(void **state)
{
	expect_calls("fill write cut restart check",
		     "open\nprepare\nfill 1\nstart_workload 1\npower_lost power\npower_back 1\n"
		     "wait_up\ncheck 1\ncollect\nclose\n");
}

/* flush and idle before the cut: the node is told to finish; idle calls nothing. */
static void test_flush_idle(void **state)
{
	expect_calls("write flush idle:50ms cut restart check",
		     "open\nprepare\nstart_workload 1 baseline\nflush\npower_lost power\npower_back 1\n"
		     "wait_up\ncheck 1\ncollect\nclose\n");
}

/* The cut kinds: kill loses only QEMU; reset is the node's own system reset, with no
 * power edge at all: the restart waits for the node to be up (wait_up). */
static void test_cut_kill(void **state)
{
	expect_calls("write cut:kill restart check",
		     "open\nprepare\nstart_workload 1 baseline\npower_lost kill\npower_back 1\n"
		     "wait_up\ncheck 1\ncollect\nclose\n");
}

static void test_cut_reset(void **state)
{
	expect_calls("write cut:reset restart check",
		     "open\nprepare\nstart_workload 1 baseline\nreset hard\nwait_up\ncheck 1\ncollect\n"
		     "close\n");
}

/* A snapshot between two cuts, and a clean reboot: each one node call, in place. */
static void test_snapshot_reboot(void **state)
{
	expect_calls("fill snapshot cut restart write reboot cut restart check",
		     "open\nprepare\nfill 1\nsnapshot\npower_lost power\npower_back 1\nwait_up\n"
		     "start_workload 1\nreset clean\npower_lost power\npower_back 1\nwait_up\n"
		     "check 1\ncollect\nclose\n");
}

/* ---- The watch (node_ops.watch): a node that dies is a failure at once ---- */

static int count_lines(const char *calls, const char *line)
{
	int n = 0;

	for (const char *p = calls; (p = strstr(p, line)); p += strlen(line))
		n += (p == calls || p[-1] == '\n') && p[strlen(line)] == '\n';
	return n;
}

/* Dead while the cycle waits for the workload (the workload never starts here): the
 * first look finds it, the cycle fails at once, with no cut, no check, the death in
 * the write step's row and the relay on. */
static void test_dies_writing(void **state)
{
	const char *status;
	struct seen seen;

	acks_after_ns = INT64_MAX;
	first_look_ns = 0;
	char *calls = run_node(NULL, "die = write\ndie_as = killed\n", &status, &seen);
	acks_after_ns = 0;
	assert_string_equal(calls, "open\nprepare\nstart_workload 1 baseline\nwatch dead\nclose\n");
	free(calls);
	assert_int_equal(seen.rc, -EOWNERDEAD);
	assert_true(seen.took_s < 2.0);		/* not the boot timeout's 5 s */
	assert_int_not_equal(seen.relay, RELAY_OFF);
	assert_int_not_equal(seen.relay, RELAY_CUT);
	assert_int_not_equal(seen.relay, RELAY_ARMED);
	assert_non_null(strstr(seen.death, "\"life\":\"killed\""));
	assert_non_null(strstr(seen.death, "\"code\":9"));
	assert_non_null(strstr(seen.death, "killed by signal 9"));
}

/* Dead booting after the cut (a panic on the console): no power cycle covers it over
 * (retries = 3 by default would cut it again), the cycle fails at once and leaves the
 * relay on. */
static void test_dies_booting(void **state)
{
	const char *status;
	struct seen seen;
	char *calls = run_node(NULL, "die = boot\ndie_as = panicked\n", &status, &seen);

	assert_string_equal(calls, "open\nprepare\nstart_workload 1 baseline\npower_lost power\n"
			    "power_back 1\nwait_up\nclose\n");
	free(calls);
	assert_int_equal(seen.rc, -EOWNERDEAD);
	assert_true(seen.took_s < 2.0);
	assert_int_equal(seen.relay, RELAY_ON);
	assert_non_null(strstr(seen.death, "\"life\":\"panicked\""));
	assert_non_null(strstr(seen.death, "Kernel panic - not syncing"));
}

/* Each way of dying is told as such (the life's name in the record). */
static void test_death_kinds(void **state)
{
	static const char *const kinds[] = { "exited", "silent", "stopped" };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *status;
		struct seen seen;
		char keys[64], want[64];
		snprintf(keys, sizeof(keys), "die = boot\ndie_as = %s\n", kinds[i]);
		free(run_node(NULL, keys, &status, &seen));
		snprintf(want, sizeof(want), "\"life\":\"%s\"", kinds[i]);
		assert_int_equal(seen.rc, -EOWNERDEAD);
		assert_non_null(strstr(seen.death, want));
	}
}

/* Slow but alive: the workload starts after 600 ms; the cycle watches the node (more
 * than one look) and goes on to its record. */
static void test_slow_workload(void **state)
{
	const char *status;
	struct seen seen;

	acks_after_ns = 600000000LL;
	first_look_ns = 0;
	char *calls = run_node(NULL, "", &status, &seen);
	acks_after_ns = 0;
	assert_int_equal(seen.rc, 0);
	assert_true(seen.took_s >= 0.6);
	assert_true(count_lines(calls, "watch") >= 2);
	assert_non_null(strstr(calls, "watch\npower_lost power\npower_back 1\nwait_up\ncheck 1\n"));
	assert_string_equal(seen.death, "");
	free(calls);
}

/* Slow to boot after the cut (1.5 s of a 5 s boot timeout), alive: waited for. */
static void test_slow_boot(void **state)
{
	const char *status;
	struct seen seen;
	char *calls = run_node(NULL, "slow = 1500ms\n", &status, &seen);

	assert_int_equal(seen.rc, 0);
	assert_true(seen.took_s >= 1.5);
	assert_non_null(strstr(calls, "wait_up\ncheck 1\n"));
	free(calls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_fill_then_write),
		cmocka_unit_test(test_flush_idle),
		cmocka_unit_test(test_cut_kill),
		cmocka_unit_test(test_cut_reset),
		cmocka_unit_test(test_snapshot_reboot),
		cmocka_unit_test(test_dies_writing),
		cmocka_unit_test(test_dies_booting),
		cmocka_unit_test(test_death_kinds),
		cmocka_unit_test(test_slow_workload),
		cmocka_unit_test(test_slow_boot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
