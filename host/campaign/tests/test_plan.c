/* The per-cycle plan (pure, reproducible, independent per index, host-cut share) and
 * the leftover-process bookkeeping (recorded descendants killed, a pid whose start
 * time does not match spared, processes naming a directory found and killed), and the
 * host-timed targets fed exactly the ledger counters each must catch; the scenario
 * parser, every rule fed its case. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "campaign.h"
#include "ledger.h"
#include "observe.h"

static struct bench_config *load(const char *extra)
{
	char text[2048];

	snprintf(text, sizeof(text), "[bench]\nname = t\n[relay]\ndriver = null\n[node]\n"
		 "driver = qemu\n[disk a]\nformat = raw\n[campaign]\nseed = 7\n"
		 "window_min_ms = 100\nwindow_max_ms = 400\n%s", extra);
	struct bench_config *cfg = bench_config_parse("test", text, NULL, 0, NULL);
	return cfg;
}

static void test_plan_pure(void **state)
{
	struct bench_config *cfg = load("host_cuts = 50\n");
	struct camp_plan a, b;

	assert_non_null(cfg);
	for (uint32_t i = 1; i <= 200; i++) {
		camp_plan_make(cfg, 7, i, &a);
		camp_plan_make(cfg, 7, i, &b);
		assert_memory_equal(&a, &b, sizeof(a));
		assert_int_equal(a.index, i);
		assert_true(a.flushes >= 1 && a.flushes <= 4);
		/* round trip through the stored JSON */
		json_t *j = camp_plan_json(&a);
		assert_int_equal(camp_plan_from_json(j, &b), 0);
		json_decref(j);
		assert_memory_equal(&a, &b, sizeof(a));
	}
	bench_config_free(cfg);
}

static void test_plan_varies(void **state)
{
	struct bench_config *cfg = load("host_cuts = 50\n");
	struct camp_plan a, b;
	int same_seed = 0, host = 0, kinds[4] = { 0 };

	for (uint32_t i = 1; i <= 1000; i++) {
		camp_plan_make(cfg, 7, i, &a);
		camp_plan_make(cfg, 7, i + 1, &b);
		same_seed += a.workload_seed == b.workload_seed || a.fw_seed == b.fw_seed;
		host += a.timing != CAMP_T_WINDOW;
		kinds[a.timing]++;
		camp_plan_make(cfg, 8, i, &b);
		assert_true(a.workload_seed != b.workload_seed);
	}
	assert_int_equal(same_seed, 0);
	/* 50 % host-timed, the three host targets all drawn */
	assert_in_range(host, 400, 600);
	for (int k = 1; k < 4; k++)
		assert_in_range(kinds[k], 100, 250);
	bench_config_free(cfg);

	cfg = load("");
	for (uint32_t i = 1; i <= 100; i++) {
		camp_plan_make(cfg, 7, i, &a);
		assert_int_equal(a.timing, CAMP_T_WINDOW);
		assert_int_equal(a.window_min_ms, 100);
		assert_int_equal(a.window_max_ms, 400);
	}
	bench_config_free(cfg);
}

static pid_t spawn_sleep(const char *cwd, bool own_group)
{
	pid_t p = fork();

	if (p == 0) {
		if (own_group)
			setpgid(0, 0);
		if (cwd && chdir(cwd) < 0)
			_exit(1);
		execlp("sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	usleep(50000);
	return p;
}

static bool alive(pid_t p)
{
	/* reaped by us: a zombie is dead */
	return waitpid(p, NULL, WNOHANG) == 0;
}

static void test_procs(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], file[4200], other[4200];

	snprintf(dir, sizeof(dir), "%s/test_plan.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/procs", dir);
	snprintf(other, sizeof(other), "%s/elsewhere", dir);

	/* Recorded: a descendant. */
	pid_t rec = spawn_sleep(NULL, true);
	assert_int_equal(camp_procs_record(file), 0);
	assert_int_equal(camp_procs_record(file), 0);	/* not recorded twice */
	FILE *f = fopen(file, "r");
	char line[256];
	int lines = 0, found = 0;
	while (fgets(line, sizeof(line), f)) {
		lines++;
		found += atoi(line) == rec;
	}
	fclose(f);
	assert_int_equal(found, 1);

	/* Spared: a live pid listed with another start time (a recycled pid). */
	pid_t spared = spawn_sleep(NULL, false);
	f = fopen(file, "a");
	fprintf(f, "%d 1\n", (int)spared);
	fclose(f);

	/* Found by its working directory, never recorded. */
	pid_t bydir = spawn_sleep(dir, true);
	const char *dirs[] = { dir, NULL };
	assert_int_equal(camp_procs_count(dirs), 1);

	int k = camp_procs_reap(file, dirs);
	assert_true(k >= 2);
	usleep(100000);
	assert_false(alive(rec));
	assert_false(alive(bydir));
	assert_true(alive(spared));
	assert_int_equal(camp_procs_count(dirs), 0);
	kill(spared, SIGKILL);
	waitpid(spared, NULL, 0);
	unlink(file);
	rmdir(dir);
	(void)lines;
	(void)other;
}

/* Two disks; disk 1 flushes, disk 2 has not yet: after-flush k=1 must wait for disk 2
 * (a cut then could not show a lying disk 2's lie), and come the moment it flushed. */
static void test_target_after_flush_every_disk(void **state)
{
	struct cfg_workload wl = { .flush = FLUSH_EVERY_N, .flush_n = 32 };
	struct camp_plan p = { .timing = CAMP_T_AFTER_FLUSH, .flushes = 1 };
	struct ledger_stats st = { 0 };
	struct camp_watch w;

	st.disk_flushes[1] = 3;		/* before the workload ran everywhere: not counted */
	camp_watch_begin(&w, 2, &st, 0);
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 1000));
	st.disk_flushes[1] = 6;
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 2000));
	assert_int_equal(camp_watch_min_flushes(&w, &st), 0);
	st.disk_flushes[2] = 1;
	assert_true(camp_watch_hit(&w, &p, &wl, &st, 3000));
	assert_int_equal(camp_watch_min_flushes(&w, &st), 1);
	/* the k-th: k = 2 needs a second flush of disk 2 too */
	p.flushes = 2;
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 4000));
	st.disk_flushes[2] = 2;
	assert_true(camp_watch_hit(&w, &p, &wl, &st, 5000));
}

/* In flush, every-n: once every disk flushed, a disk with n acknowledgements since its
 * own last flush (its next flush is then in flight); another disk's acks and flushes
 * do not count for it. */
static void test_target_in_flush_every_n(void **state)
{
	struct cfg_workload wl = { .flush = FLUSH_EVERY_N, .flush_n = 4 };
	struct camp_plan p = { .timing = CAMP_T_IN_FLUSH, .flushes = 1 };
	struct ledger_stats st = { 0 };
	struct camp_watch w;

	camp_watch_begin(&w, 2, &st, 0);
	st.disk_flushes[1] = 1;
	st.disk_acks[1] = 10;
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 1));
	st.disk_acks[1] = 20;		/* disk 2 has not flushed: not yet */
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 2));
	st.disk_flushes[1] = 2;		/* disk 1 flushed again: counts from 20 */
	st.disk_flushes[2] = 1;
	st.disk_acks[2] = 50;
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 3));
	st.disk_acks[1] = 23;
	st.disk_acks[2] = 53;
	st.disk_flushes[2] = 2;		/* disk 2's flushes do not restart disk 1's count */
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 4));
	st.disk_acks[1] = 24;
	assert_true(camp_watch_hit(&w, &p, &wl, &st, 5));
}

/* In flush, every-ms: a disk's next flush is due flush_ms after its last one. */
static void test_target_in_flush_every_ms(void **state)
{
	struct cfg_workload wl = { .flush = FLUSH_EVERY_MS, .flush_ms = 10 };
	struct camp_plan p = { .timing = CAMP_T_IN_FLUSH, .flushes = 1 };
	struct ledger_stats st = { 0 };
	struct camp_watch w;
	const int64_t ms = 1000000;

	camp_watch_begin(&w, 2, &st, 0);
	st.disk_flushes[1] = 1;
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 50 * ms));	/* disk 2: none yet */
	st.disk_flushes[2] = 1;
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 55 * ms));
	/* disk 1's is due at 60 ms, although disk 2 flushed at 55 */
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 59 * ms));
	assert_true(camp_watch_hit(&w, &p, &wl, &st, 60 * ms));
}

/* Idle: idle_ms since the last flush of any disk, and not before window_min_ms. */
static void test_target_idle(void **state)
{
	struct cfg_workload wl = { .flush = FLUSH_EVERY_N, .flush_n = 32 };
	struct camp_plan p = { .timing = CAMP_T_IDLE, .idle_ms = 20, .window_min_ms = 30 };
	struct ledger_stats st = { 0 };
	struct camp_watch w;
	const int64_t ms = 1000000;

	camp_watch_begin(&w, 2, &st, 0);
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 25 * ms));	/* before window_min */
	st.disk_flushes[2] = 1;
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 26 * ms));	/* a flush: idle anew */
	assert_false(camp_watch_hit(&w, &p, &wl, &st, 45 * ms));
	assert_true(camp_watch_hit(&w, &p, &wl, &st, 46 * ms));
}


/* Scenarios (scenario.c): the default is today's cycle; each rule that keeps a
 * scenario runnable refuses exactly its case, with a message saying why. */
/* The scenario's errors come through the logger: the last one is kept here. */
static char logged[512];

static void keep_error(void *ctx, enum log_level level, enum log_cat cat, int64_t wall_ns,
		       int64_t mono_ns, const char *msg)
{
	if (level == LOG_ERROR)
		snprintf(logged, sizeof(logged), "%s", msg);
}

static int scenario_parse(char *const *words, const struct cfg_workload *base,
			  struct camp_scenario *sc, char *err, size_t len)
{
	logged[0] = 0;
	assert_int_equal(log_watch_add(keep_error, NULL), 0);
	int rc = camp_scenario_parse(words, base, sc);
	log_watch_remove(keep_error, NULL);
	snprintf(err, len, "%s", logged);
	/* One message for a refusal, none for a scenario that runs. */
	if (rc == -EINVAL)
		assert_true(strncmp(err, "[campaign] scenario: ", 21) == 0);
	else
		assert_string_equal(err, "");
	return rc;
}

static void parse_ok(const char *words, size_t n, const char *name)
{
	char buf[512], *w[40] = { 0 }, err[256];
	size_t k = 0;
	struct camp_scenario sc;

	snprintf(buf, sizeof(buf), "%s", words ? words : "");
	for (char *t = strtok(buf, " "); t && k < 39; t = strtok(NULL, " "))
		w[k++] = t;
	int rc = scenario_parse(words ? w : NULL, NULL, &sc, err, sizeof(err));
	if (rc)
		fprintf(stderr, "'%s': %s\n", words, err);
	assert_int_equal(rc, 0);
	assert_int_equal(sc.n, n);
	assert_string_equal(sc.name, name);
	camp_scenario_release(&sc);
}

static void parse_bad(const char *words, const char *why)
{
	char buf[512], *w[40] = { 0 }, err[256];
	size_t k = 0;
	struct camp_scenario sc;

	snprintf(buf, sizeof(buf), "%s", words);
	for (char *t = strtok(buf, " "); t && k < 39; t = strtok(NULL, " "))
		w[k++] = t;
	assert_int_equal(scenario_parse(w, NULL, &sc, err, sizeof(err)), -EINVAL);
	if (!strstr(err, why))
		fail_msg("'%s': message '%s' lacks '%s'", words, err, why);
}

static void test_scenario_parse(void **state)
{
	struct camp_scenario sc;
	char err[256];

	/* The default: write cut restart check, the cut of [campaign] cut. */
	assert_int_equal(scenario_parse(NULL, NULL, &sc, err, sizeof(err)), 0);
	assert_int_equal(sc.n, 4);
	assert_int_equal(sc.steps[0].kind, CAMP_STEP_WRITE);
	assert_int_equal(sc.steps[1].kind, CAMP_STEP_CUT);
	assert_int_equal(sc.steps[1].cut, -1);
	assert_int_equal(sc.steps[2].kind, CAMP_STEP_RESTART);
	assert_int_equal(sc.steps[3].kind, CAMP_STEP_CHECK);
	assert_string_equal(sc.name, "default");
	camp_scenario_release(&sc);
	parse_ok(NULL, 4, "default");
	/* The seeds' presets. */
	parse_ok("fill cut:kill restart snapshot write cut:kill restart check", 8,
		 "fill cut:kill restart snapshot write cut:kill restart check");
	parse_ok("write cut restart check", 4, "write cut restart check");
	parse_ok("write cut:reset restart cut:kill restart check", 6,
		 "write cut:reset restart cut:kill restart check");
	/* A reboot ends the workload: a snapshot may follow it. */
	parse_ok("fill write reboot snapshot cut:kill restart check", 7,
		 "fill write reboot snapshot cut:kill restart check");
	parse_bad("write cut reboot restart check", "the node is down after the cut");
	/* flush: the workload finishes with one flush, then the node idles. */
	parse_ok("write flush idle:1s cut restart check", 6, "write flush idle:1s cut restart check");
	parse_bad("flush write cut restart check", "flush needs the workload running");
	parse_bad("write reboot flush cut restart check", "flush needs the workload running");
	parse_bad("write flush flush cut restart check", "flush needs the workload running");
	/* Several cuts, idle, a snapshot after a cut of the workload. */
	parse_ok("write idle:250ms cut:power restart cut:kill restart snapshot check", 8,
		 "write idle:250ms cut:power restart cut:kill restart snapshot check");
	char *w[] = { "write", "idle:1.5s", "cut:kill", "restart", "check", NULL };
	assert_int_equal(scenario_parse(w, NULL, &sc, err, sizeof(err)), 0);
	assert_int_equal(sc.steps[1].ms, 1500);
	assert_int_equal(sc.steps[2].cut, CUT_KILL);
	camp_scenario_release(&sc);
	assert_string_equal(camp_step_name(CAMP_STEP_SNAPSHOT), "snapshot");

	parse_bad("write cut restart chek", "unknown step 'chek'");
	parse_bad("write idle cut restart check", "idle takes a duration");
	parse_bad("write idle:soon cut restart check", "idle takes a duration");
	parse_bad("write cut:reboot restart check", "a cut is power, kill or reset");
	/* A write's own [workload] keys, parsed by the bench's table. */
	struct cfg_workload base = { .block_size = 4096, .span_mib = 256, .flush = FLUSH_EVERY_N,
				     .duration_ms = 30000 };
	char *ww[] = { "write:duration=500ms,flush=never,span_mib=8", "cut", "restart", "check",
		       NULL };
	assert_int_equal(scenario_parse(ww, &base, &sc, err, sizeof(err)), 0);
	assert_true(sc.steps[0].has_workload);
	assert_int_equal(sc.steps[0].workload.duration_ms, 500);
	assert_int_equal(sc.steps[0].workload.flush, FLUSH_NEVER);
	assert_int_equal(sc.steps[0].workload.span_mib, 8);
	assert_int_equal(sc.steps[0].workload.block_size, 4096);	/* the bench's */
	assert_false(sc.steps[1].has_workload);
	camp_scenario_release(&sc);
	parse_bad("write:flush=sometimes cut restart check", "invalid value 'sometimes'");
	parse_bad("write:speed=9 cut restart check", "unknown key 'speed'");
	parse_bad("write:block_size=8K cut restart check", "cannot set 'block_size'");
	parse_bad("write:duration cut restart check", "is not KEY=VALUE");
	parse_bad("write restart check", "restart without a cut");
	parse_bad("write cut check", "the node is down after the cut");
	parse_bad("write cut cut restart check", "the node is down after the cut");
	parse_bad("write cut restart write cut restart check", "a second write");
	parse_bad("write fill cut restart check", "fill comes once, before the write");
	parse_bad("write cut restart", "the last step must be check");
	parse_bad("fill cut restart check", "no write step");
	parse_bad("write check", "check before any cut");
	parse_bad("write cut restart check cut restart check", "check comes last");
	parse_bad("write snapshot cut restart check", "snapshot while the workload runs");
}

/* The observer list (observe.c): observers are called in the order added, with the
 * event; a removed one is not called again and the others keep their order. */
static char seen[64];

static void obs_a(void *arg, const struct camp_event *ev)
{
	size_t l = strlen(seen);
	snprintf(seen + l, sizeof(seen) - l, "a%d", (int)ev->kind);
}

static void obs_b(void *arg, const struct camp_event *ev)
{
	size_t l = strlen(seen);
	snprintf(seen + l, sizeof(seen) - l, "b%s", ev->step ? ev->step : "-");
}

static void obs_count(void *arg, const struct camp_event *ev)
{
	__atomic_add_fetch((int *)arg, 1, __ATOMIC_RELAXED);
}

struct adder {
	struct camp_observers *obs;
	int calls;
	int rc;
};

/* A status page's thread registers itself while the campaign's thread notifies. */
static void *add_from_thread(void *arg)
{
	struct adder *a = arg;

	a->rc = camp_observe_add(a->obs, obs_count, &a->calls);
	return NULL;
}

static void test_observers(void **state)
{
	struct camp_observers obs;
	struct camp_event ev = { .kind = CAMP_EV_STEP, .step = "cut" };
	int dummy[CAMP_MAX_OBSERVERS];

	camp_observers_init(&obs);
	camp_notify(NULL, &ev);		/* nobody watches: nothing happens */
	camp_notify(&obs, &ev);
	assert_string_equal(seen, "");
	assert_int_equal(camp_observe_add(&obs, obs_a, NULL), 0);
	assert_int_equal(camp_observe_add(&obs, obs_b, NULL), 0);
	assert_int_equal(camp_observe_add(&obs, obs_a, NULL), -EEXIST);
	assert_int_equal(camp_observe_add(&obs, NULL, NULL), -EINVAL);
	camp_notify(&obs, &ev);
	assert_string_equal(seen, "a2bcut");		/* CAMP_EV_STEP is 2 */
	assert_int_equal(CAMP_EV_STEP, 2);
	assert_string_equal(camp_event_name(CAMP_EV_DB_BUSY), "db-busy");
	/* Removal: the other keeps being called. */
	assert_int_equal(camp_observe_remove(&obs, obs_a, NULL), 0);
	assert_int_equal(camp_observe_remove(&obs, obs_a, NULL), -ENOENT);
	seen[0] = 0;
	camp_notify(&obs, &ev);
	assert_string_equal(seen, "bcut");
	/* Added again, it comes after b now. */
	assert_int_equal(camp_observe_add(&obs, obs_a, NULL), 0);
	seen[0] = 0;
	ev.step = NULL;
	camp_notify(&obs, &ev);
	assert_string_equal(seen, "b-a2");
	/* The list is bounded. */
	for (int i = 2; i < CAMP_MAX_OBSERVERS; i++)
		assert_int_equal(camp_observe_add(&obs, obs_count, &dummy[i]), 0);
	assert_int_equal(camp_observe_add(&obs, obs_count, &dummy[0]), -ENOSPC);
	for (int i = 2; i < CAMP_MAX_OBSERVERS; i++)
		assert_int_equal(camp_observe_remove(&obs, obs_count, &dummy[i]), 0);
	/* Another thread adds an observer while events flow; once added it hears them,
	 * once removed no more. */
	struct adder a = { .obs = &obs, .rc = -1 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, add_from_thread, &a), 0);
	for (int i = 0; i < 1000; i++)
		camp_notify(&obs, &ev);
	pthread_join(th, NULL);
	assert_int_equal(a.rc, 0);
	int before = a.calls;
	camp_notify(&obs, &ev);
	assert_int_equal(a.calls, before + 1);
	assert_int_equal(camp_observe_remove(&obs, obs_count, &a.calls), 0);
	camp_notify(&obs, &ev);
	assert_int_equal(a.calls, before + 1);
	camp_observers_release(&obs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenario_parse),
		cmocka_unit_test(test_observers),
		cmocka_unit_test(test_plan_pure),
		cmocka_unit_test(test_plan_varies),
		cmocka_unit_test(test_target_after_flush_every_disk),
		cmocka_unit_test(test_target_in_flush_every_n),
		cmocka_unit_test(test_target_in_flush_every_ms),
		cmocka_unit_test(test_target_idle),
		cmocka_unit_test(test_procs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
