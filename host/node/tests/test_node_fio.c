/* fio beside the agent on the local simulated node (fast tier), for real: the node_*
 * calls with the host's ledger receiving the agent's acknowledgements, real fio running
 * rig/workloads/randwrite-load.fio (its size= is 256M; [node] fio_size unset must give
 * the simulated node's 64M data file in the node's work directory):
 *   - a power cut kills fio with the node's other processes (its pids are gone when
 *     node_power_lost returns); the check keeps the last complete interval report:
 *     figures with writes, verify pass;
 *   - a process-kill cut leaves fio running; the check stops it (SIGINT) and keeps
 *     its final report; fio_size = 8M sets the data file's size;
 *   - close kills fio when no check ran.
 * After each case no process mentions the private directory. Skips when fio,
 * qemu-storage-daemon or nbdkit is missing or the agent is not built.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "child.h"
#include "config.h"
#include "e2e.h"
#include "fio.h"
#include "ledger.h"
#include "ledger_schema.h"
#include "node.h"

#define TOKEN "node-fio-test-token"

static char bin_dir[PATH_MAX], tmp[PATH_MAX], job_file[PATH_MAX + 64];
static int cases;

struct rig {
	struct bench_config *cfg;
	sqlite3 *db;
	struct ledger *l;
	struct node *n;
	char work[PATH_MAX + 32];
	struct node_job job;
};

static struct rig *live;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Pids of processes whose command line mentions dir, and (comm) only those named so
 * when comm is set. */
static int procs(const char *dir, const char *comm, pid_t *pids, int max, bool kill_them)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int found = 0;

	while (d && (de = readdir(d))) {
		char path[300], buf[8192], name[64] = "";
		FILE *f;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (!e2e_cmdline(de->d_name, buf, sizeof(buf)) || !strstr(buf, dir))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if ((f = fopen(path, "r"))) {
			if (fgets(name, sizeof(name), f))
				name[strcspn(name, "\n")] = 0;
			fclose(f);
		}
		if (comm && strcmp(name, comm))
			continue;
		if (!comm)
			fprintf(stderr, "left running: pid %s: %.200s\n", de->d_name, buf);
		if (found < max)
			pids[found] = (pid_t)atoi(de->d_name);
		found++;
		/* Only ours mention the private directory. */
		if (kill_them)
			kill((pid_t)atoi(de->d_name), SIGKILL);
	}
	if (d)
		closedir(d);
	return found;
}

static void rig_close(struct rig *r)
{
	if (r->n)
		node_close(r->n);
	r->n = NULL;
	if (r->l)
		ledger_free(r->l);
	r->l = NULL;
	if (r->db)
		sqlite3_close(r->db);
	r->db = NULL;
	bench_config_free(r->cfg);
	r->cfg = NULL;
}

static int teardown(void **state)
{
	if (live) {
		rig_close(live);
		procs(live->work, NULL, NULL, 0, true);
	}
	live = NULL;
	return 0;
}

/* A fast-tier node with one raw disk and fio, its workload started and fio's output
 * holding at least one complete report. */
static void rig_start(struct rig *r, const char *cut, const char *extra)
{
	char text[8192], db_path[PATH_MAX + 64];

	memset(r, 0, sizeof(*r));
	live = r;
	snprintf(r->work, sizeof(r->work), "%s/case-%d", tmp, ++cases);
	assert_int_equal(mkdir(r->work, 0700), 0);
	snprintf(text, sizeof(text),
		 "[bench]\nname = node-fio\n[relay]\ndriver = null\n"
		 "[node]\ndriver = qemu\ntier = fast\nfio = %s\n%s\n"
		 "[disk raw]\nformat = raw\ncache = none\nsize = 64M\n"
		 "[workload]\nblock_size = 4K\nqueue_depth = 4\nspan_mib = 2\n"
		 "flush = every-n\nflush_n = 16\n"
		 "[campaign]\ncut = %s\nboot_timeout = 30s\n", job_file, extra ? extra : "", cut);
	r->cfg = bench_config_parse("node-fio.ini", text, NULL, 0, &NODE_BENCH_DRIVERS(node_drivers));
	if (!r->cfg)
		fail_msg("config: see the errors above");

	snprintf(db_path, sizeof(db_path), "%s/ledger.db", r->work);
	assert_int_equal(sqlite3_open(db_path, &r->db), SQLITE_OK);
	sqlite3_busy_timeout(r->db, 5000);
	assert_int_equal(sqlite3_exec(r->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(r->db, ledger_schema_sql, NULL, NULL, NULL), SQLITE_OK);
	struct ledger_config lc = { .campaign = 1, .token = TOKEN, .cycle = 1 };
	assert_non_null(r->l = ledger_open(&lc, db_path));
	assert_int_equal(ledger_start(r->l), 0);

	struct node_env env = { .bin_dir = bin_dir, .work_dir = r->work };
	assert_non_null(r->n = node_open(r->cfg, &env));
	assert_string_equal(r->n->ops->name, "qemu");
	assert_int_equal(node_prepare(r->n), 0);
	r->job = (struct node_job){ .campaign = 1, .cycle = 1, .token = TOKEN,
				    .ledger_host = "127.0.0.1", .ledger_port = ledger_port(r->l),
				    .seed = 7, .baseline = true };
	assert_int_equal(node_start_workload(r->n, &r->job), 0);
}

/* Wait until fio has printed a complete interval report (at most 10 s). */
static void wait_report(struct rig *r)
{
	char path[PATH_MAX + 64];
	int64_t t0 = now_ms();
	bool ok = false;

	snprintf(path, sizeof(path), "%s/fio.json", r->work);
	while (!ok && now_ms() - t0 < 10000) {
		usleep(200000);
		json_t *j = json_load_file(path, JSON_DISABLE_EOF_CHECK, NULL);
		ok = j && json_array_size(json_object_get(j, "jobs")) > 0;
		json_decref(j);
	}
	print_message("fio's first report after %.1f s\n", (now_ms() - t0) / 1e3);
	assert_true(ok);
}

static long long data_size(const struct rig *r)
{
	char path[PATH_MAX + 64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/fio.data", r->work);
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The figures of the node's record: writes of the first job, and the verify result. */
static long long record_writes(struct rig *r, const char **verify)
{
	json_t *info = node_collect(r->n);
	json_t *fio = json_object_get(info, "fio");
	char *txt = json_dumps(json_object_get(fio, "error"), JSON_ENCODE_ANY);

	assert_non_null(fio);
	if (json_object_get(fio, "error"))
		fail_msg("fio's record is an error: %s", txt);
	free(txt);
	json_t *w = json_object_get(json_array_get(json_object_get(json_object_get(fio, "figures"),
							     "jobs"), 0), "write");
	long long ios = json_integer_value(json_object_get(w, "ios"));
	static char v[16];
	snprintf(v, sizeof(v), "%s", json_string_value(json_object_get(fio, "verify")) ?: "");
	*verify = v;
	print_message("fio: %lld writes, %.0f IOPS, verify %s\n", ios,
		      json_real_value(json_object_get(w, "iops")), v);
	json_decref(info);
	return ios;
}

static void check_and_close(struct rig *r)
{
	struct node_disk_result res;	/* node_check fills it */

	assert_int_equal(ledger_quiesce(r->l, 100, 5000), 0);
	assert_int_equal(node_power_back(r->n, &r->job), 0);
	assert_int_equal(node_wait_up(r->n, 30000), 0);
	assert_int_equal(node_check(r->n, &r->job, &res), 0);
	assert_int_equal(res.agent_rc, 0);
	node_disk_result_release(&res);
}

static void power_cut_kills_fio(void **state)
{
	struct rig r;
	pid_t pids[8];
	const char *verify;

	rig_start(&r, "power", NULL);
	wait_report(&r);
	int k = procs(r.work, "fio", pids, 8, false);
	assert_true(k >= 1 && k <= 8);
	assert_int_equal(node_power_lost(r.n, CUT_POWER), 0);
	for (int i = 0; i < k; i++)
		assert_true(e2e_dead(pids[i]));
	check_and_close(&r);
	/* The last complete report before the cut. */
	assert_true(record_writes(&r, &verify) > 0);
	assert_string_equal(verify, "pass");
	/* 64M on the simulated node, not the job file's 256M; in the work directory. */
	assert_int_equal(data_size(&r), 64LL << 20);
	rig_close(&r);
	assert_int_equal(procs(r.work, NULL, NULL, 0, false), 0);
	live = NULL;
}

static void kill_cut_spares_fio(void **state)
{
	struct rig r;
	pid_t pids[8];
	const char *verify;

	rig_start(&r, "kill", "fio_size = 8M");
	wait_report(&r);
	int k = procs(r.work, "fio", pids, 8, false);
	assert_true(k >= 1 && k <= 8);
	assert_int_equal(node_power_lost(r.n, CUT_KILL), 0);
	/* Only QEMU (and the agents in it) died: fio runs on until the check. */
	for (int i = 0; i < k; i++)
		assert_false(e2e_dead(pids[i]));
	check_and_close(&r);
	for (int i = 0; i < k; i++)
		assert_true(e2e_dead(pids[i]));
	assert_true(record_writes(&r, &verify) > 0);
	assert_string_equal(verify, "pass");
	assert_int_equal(data_size(&r), 8LL << 20);
	rig_close(&r);
	assert_int_equal(procs(r.work, NULL, NULL, 0, false), 0);
	live = NULL;
}

static void close_kills_fio(void **state)
{
	struct rig r;
	pid_t pids[8];
	int k = 0;

	rig_start(&r, "power", NULL);
	for (int64_t t0 = now_ms(); k == 0 && now_ms() - t0 < 5000; usleep(100000))
		k = procs(r.work, "fio", pids, 8, false);
	assert_true(k >= 1 && k <= 8);
	rig_close(&r);
	for (int i = 0; i < k; i++)
		assert_true(e2e_dead(pids[i]));
	assert_int_equal(procs(r.work, NULL, NULL, 0, false), 0);
	live = NULL;
}

static bool have(const char *prog, const char *arg)
{
	const char *argv[] = { prog, arg, NULL };
	struct child_result r;
	int rc = child_run(argv, NULL, 10000, &r);

	child_result_release(&r);
	return rc == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
}

/* rig/workloads/randwrite-load.fio: from the cwd upwards, else beside the build
 * directory (build/host/node/tests/NAME). */
static int find_job(const char *build)
{
	char dir[PATH_MAX];

	if (getcwd(dir, sizeof(dir))) {
		for (;;) {
			snprintf(job_file, sizeof(job_file), "%s/rig/workloads/randwrite-load.fio", dir);
			if (access(job_file, R_OK) == 0)
				return 0;
			char *s = strrchr(dir, '/');
			if (!s || s == dir)
				break;
			*s = 0;
		}
	}
	snprintf(job_file, sizeof(job_file), "%.4000s/../rig/workloads/randwrite-load.fio", build);
	return access(job_file, R_OK) == 0 ? 0 : -ENOENT;
}

int main(void)
{
	char exe[PATH_MAX], agent[PATH_MAX + 64];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (k < 0)
		return 1;
	exe[k] = 0;
	/* build/host/node/tests/test_node_fio: build is four levels up. */
	for (int up = 0; up < 4; up++)
		*strrchr(exe, '/') = 0;
	snprintf(bin_dir, sizeof(bin_dir), "%.4000s/bin", exe);
	snprintf(agent, sizeof(agent), "%s/powercut-agent-nbd", bin_dir);
	if (find_job(exe) < 0) {
		printf("cannot find rig/workloads/randwrite-load.fio\n");
		return 1;
	}
	if (!have("fio", "--version") || !have("qemu-storage-daemon", "--version") ||
	    !have("nbdkit", "--version")) {
		printf("skip: fio, qemu-storage-daemon or nbdkit is missing\n");
		return 77;
	}
	if (access(agent, X_OK) < 0) {
		printf("skip: '%s' is not built\n", agent);
		return 77;
	}
	const char *t = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/pc-nodefio.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmp)) {
		printf("cannot create a directory like '%s': %s\n", tmp, strerror(errno));
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(power_cut_kills_fio, teardown),
		cmocka_unit_test_teardown(kill_cut_spares_fio, teardown),
		cmocka_unit_test_teardown(close_kills_fio, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	const char *rm[] = { "rm", "-rf", "--", tmp, NULL };
	struct child_result res;
	if (!getenv("E2E_KEEP") && child_run(rm, NULL, 30000, &res) == 0)
		child_result_release(&res);
	return rc ? 1 : 0;
}
