/* The qemu node driver on a remote host over ssh, for real: the "remote" host is this
 * one, reached through a private sshd on 127.0.0.1 (host/ssh/tests/sshd_helper.h).
 * One process-kill cycle through the node_* calls, with a qcow2 disk (lazy refcounts,
 * a backing chain) and a raw disk, fio as load beside the agent, and the host's ledger
 * receiving the guest's acknowledgements through the driver's reverse ssh forward (the
 * guest is told 10.0.2.2:PORT, QEMU's user network's view of the node's loopback, PORT
 * the node's end of the forward, not the ledger's own port):
 *   prepare (guest copied, images created) -> workload (guest writes, fio runs) ->
 *   kill -9 of QEMU's pid -> wait_up -> check (qemu-img check, the guest's check mode,
 *   fio's last complete report) -> close (the run directory is gone, nothing runs).
 * Then: a second node finds the guest already on the "remote" host (sha256 matches:
 * not copied again), and a node whose workload cannot start (its fio job file is
 * missing) still leaves nothing behind. The watch (node_watch) says the writing guest
 * is alive, and, each on a node of its own, that it died: a panic line in its console,
 * QEMU gone (killed on the "remote" host behind the driver's back), a console silent
 * for [node] console_silence.
 *
 * Skips with the reason when sshd, the guest (scripts/build-guest), QEMU or fio is
 * missing. The guest runs under KVM when /dev/kvm is usable, else TCG.
 */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "child.h"
#include "clock.h"
#include "config.h"
#include "e2e.h"
#include "ledger.h"
#include "ledger_schema.h"
#include "node.h"
#include "sshd_helper.h"

extern int node_remote_poll_ms, node_remote_watch_ms;

static struct tsshd T;
static char bin_dir[PATH_MAX], guest_dir[PATH_MAX + 16], rdir[PATH_MAX + 16];

#define TOKEN "remote-test-token"

static struct bench_config *bench(const char *fio, const char *extra)
{
	char text[32768];

	snprintf(text, sizeof(text),
		 "[bench]\nname = remote\n[relay]\ndriver = null\n"
		 "[node]\ndriver = qemu\nhost = 127.0.0.1\nport = %d\nuser = %s\n"
		 "identity = %s/userkey\nknown_hosts = %s/known_hosts\nssh_config = /dev/null\n"
		 "remote_dir = %s\nguest = %s\naccel = tcg\n%s%s\n"
		 "[disk a-qcow2]\nformat = qcow2\ncache = none\nsize = 64M\ncluster_size = 128K\n"
		 "lazy_refcounts = yes\nbacking = yes\n"
		 "[disk b-raw]\nformat = raw\ncache = none\nsize = 64M\n"
		 "[workload]\nblock_size = 4K\nqueue_depth = 4\nspan_mib = 2\nflush = every-n\n"
		 "flush_n = 16\n"
		 "[campaign]\ncut = kill\nboot_timeout = 60s\n%s",
		 T.port, T.user, T.dir, T.dir, rdir, guest_dir, fio ? "fio = " : "", fio ? fio : "",
		 extra ? extra : "");
	struct bench_config *cfg = bench_config_parse("remote.ini", text, NULL, 0,
						      &NODE_BENCH_DRIVERS(node_drivers));
	if (!cfg)
		fail_msg("config: see the errors above");
	return cfg;
}

static size_t count(const char *pattern)
{
	glob_t g;
	size_t n = 0;

	if (glob(pattern, 0, NULL, &g) == 0)
		n = g.gl_pathc;
	globfree(&g);
	return n;
}

/* Processes whose command line mentions the "remote" directory: none may outlive
 * node_close. */
static int leftovers(bool kill_them)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int found = 0;

	while (d && (de = readdir(d))) {
		char buf[8192];
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (e2e_cmdline(de->d_name, buf, sizeof(buf)) && strstr(buf, rdir)) {
			fprintf(stderr, "left running: %.200s\n", buf);
			found++;
			/* Only ours mention the private directory. */
			if (kill_them)
				kill(atoi(de->d_name), SIGKILL);
		}
	}
	if (d)
		closedir(d);
	return found;
}

static pid_t qemu_pid(void)
{
	char pattern[PATH_MAX + 64], buf[32];
	glob_t g;
	pid_t pid = 0;

	snprintf(pattern, sizeof(pattern), "%s/run.*/qemu.pid", rdir);
	if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc == 1) {
		FILE *f = fopen(g.gl_pathv[0], "r");
		if (f && fgets(buf, sizeof(buf), f))
			pid = (pid_t)atoi(buf);
		if (f)
			fclose(f);
	}
	globfree(&g);
	return pid;
}

/* The port of powercut.ledger=10.0.2.2:PORT on QEMU's command line, or -1. */
/* QEMU's command line, NULs made blanks, in buf. */
static bool qemu_cmdline(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = '\0';
	return true;
}

static int guest_ledger_port(pid_t pid)
{
	static const char key[] = "powercut.ledger=10.0.2.2:";
	char path[64], buf[16384];
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = '\0';
	const char *at = strstr(buf, key);
	return at ? atoi(at + sizeof(key) - 1) : -1;
}

/* The node of the running test, closed by the teardown when the test failed. */
static struct node *live;

static int close_live(void **state)
{
	if (live)
		node_close(live);
	live = NULL;
	leftovers(true);
	return 0;
}

static json_t *first_check(const struct node_disk_result *r, const char *kind)
{
	size_t i;
	json_t *c;

	json_array_foreach(r->checks, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "kind")), kind))
			return c;
	return NULL;
}

/* As `powercut cycle` does: the ledger accepts the cycle the node is about to run
 * (the backing chain's baseline boot is cycle - 1). */
static void cycle_begins(void *arg, uint32_t cycle)
{
	ledger_set_cycle(arg, cycle);
}

static void kill_cycle(void **state)
{
	char db_path[PATH_MAX + 32], work[PATH_MAX + 32], job_path[PATH_MAX + 32];
	char pattern[PATH_MAX + 64];
	sqlite3 *db;
	struct ledger_stats st;
	struct node_disk_result res[NODE_MAX_DISKS];

	/* fio's load: the driver passes --filename (a file of the run directory). */
	snprintf(job_path, sizeof(job_path), "%s/load.fio", T.dir);
	assert_int_equal(tsshd_write_file(job_path, "[load]\nrw=randwrite\nbs=4k\nsize=8M\n"
					  "ioengine=psync\ntime_based=1\nruntime=600\n"), 0);
	struct bench_config *cfg = bench(job_path, NULL);

	snprintf(db_path, sizeof(db_path), "%s/ledger.db", T.dir);
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL), SQLITE_OK);
	struct ledger_config lc = { .campaign = 1, .token = TOKEN, .cycle = 1 };
	struct ledger *l = ledger_open(&lc, db_path);
	assert_non_null(l);
	assert_int_equal(ledger_start(l), 0);

	snprintf(work, sizeof(work), "%s/work", T.dir);
	assert_int_equal(mkdir(work, 0700), 0);
	struct node_env env = { .bin_dir = bin_dir, .work_dir = work };
	struct node *n = live = node_open(cfg, &env);
	assert_non_null(n);
	assert_string_equal(n->ops->name, "qemu-remote");
	int64_t t0 = clock_mono_ms();
	assert_int_equal(node_prepare(n), 0);
	print_message("prepared in %.1f s\n", (clock_mono_ms() - t0) / 1e3);
	snprintf(pattern, sizeof(pattern), "%s/run.*/a-qcow2.qcow2", rdir);
	assert_int_equal(count(pattern), 1);

	/* As `powercut cycle` says it on the fast tier; the remote driver does not use
	 * ledger_host (the ledger is on this host's loopback): it forwards ledger_port. */
	struct node_job job = { .campaign = 1, .cycle = 1, .token = TOKEN,
				.ledger_host = "127.0.0.1", .ledger_port = ledger_port(l),
				.seed = 7, .baseline = true, .cycle_begins = cycle_begins,
				.cb_arg = l };
	assert_int_equal(node_start_workload(n, &job), 0);
	pid_t pid = qemu_pid();
	assert_true(pid > 0);
	assert_int_equal(kill(pid, 0), 0);
	/* The guest's kernel command line (QEMU runs on this very host) names the node's
	 * end of the ssh forward, never the ledger's own port: every acknowledgement
	 * below came through the forward. */
	int fwd = guest_ledger_port(pid);
	print_message("the guest's ledger: 10.0.2.2:%d, the ledger's own port %u\n", fwd,
		      ledger_port(l));
	assert_true(fwd > 0);
	assert_int_not_equal(fwd, ledger_port(l));
	/* The token reached the guest in a fw_cfg file, not on QEMU's command line. */
	char qcmd[16384];
	assert_true(qemu_cmdline(pid, qcmd, sizeof(qcmd)));
	assert_null(strstr(qcmd, TOKEN));
	assert_non_null(strstr(qcmd, "name=opt/powercut/token,file="));
	assert_true(tsshd_port_open(fwd));
	/* The guest writes through the ledger: wait for acknowledgements. */
	do {
		usleep(100000);
		ledger_get_stats(l, &st);
	} while (st.acks < 300 && clock_mono_ms() - t0 < 60000);
	print_message("%llu acks, %llu flushes after %.1f s\n", (unsigned long long)st.acks,
		      (unsigned long long)st.flushes, (clock_mono_ms() - t0) / 1e3);
	assert_true(st.acks >= 300);
	/* The guest writes: the watch's poll finds QEMU running, no panic, no silence. */
	assert_int_equal(node_watch(n), 0);
	assert_null(node_death(n));

	assert_int_equal(node_power_lost(n, CUT_KILL), 0);
	/* A QEMU the cut killed is no death. */
	assert_int_equal(node_watch(n), -EHOSTDOWN);
	/* kill -9 on the node: QEMU is dead when the cut returns (perhaps not yet reaped
	 * by its parent, init). */
	assert_true(e2e_dead(pid));
	assert_int_equal(ledger_quiesce(l, 100, 5000), 0);
	assert_int_equal(node_power_back(n, &job), 0);
	assert_int_equal(node_wait_up(n, 30000), 0);

	assert_int_equal(node_check(n, &job, res), 0);
	for (size_t i = 0; i < cfg->n_disks; i++) {
		struct stat sb;
		assert_int_equal(res[i].agent_rc, 0);
		assert_non_null(res[i].report_path);
		assert_int_equal(stat(res[i].report_path, &sb), 0);
		assert_true(sb.st_size > 0);
	}
	/* qcow2 with lazy refcounts after a kill: clean, or repaired by the next open. */
	json_t *qc = first_check(&res[0], "qemu-img-check");
	assert_non_null(qc);
	const char *qr = json_string_value(json_object_get(qc, "result"));
	print_message("qemu-img check of a-qcow2: %s\n", qr);
	assert_true(!strcmp(qr, "clean") || !strcmp(qr, "repaired"));
	assert_null(first_check(&res[1], "qemu-img-check"));

	json_t *info = node_collect(n);
	assert_non_null(info);
	/* The backing chain's baseline boot, the write boot, the check boot. */
	assert_int_equal(json_integer_value(json_object_get(info, "boots")), 3);
	json_t *boots = json_object_get(info, "boot_log");
	assert_int_equal(json_array_size(boots), 3);
	json_t *figs = json_object_get(json_object_get(info, "fio"), "figures");
	assert_non_null(figs);
	json_t *w = json_object_get(json_array_get(json_object_get(figs, "jobs"), 0), "write");
	print_message("accel %s, fio: %lld writes, %.0f IOPS\n",
		      json_string_value(json_object_get(info, "accel")),
		      (long long)json_integer_value(json_object_get(w, "ios")),
		      json_real_value(json_object_get(w, "iops")));
	assert_true(json_integer_value(json_object_get(w, "ios")) > 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(info, "fio"),
			    "verify")), "pass");
	json_t *lf = json_object_get(info, "ledger_forward");
	assert_int_equal(json_integer_value(json_object_get(lf, "node_port")), fwd);
	assert_int_equal(json_integer_value(json_object_get(lf, "host_port")), ledger_port(l));
	json_decref(info);

	for (size_t i = 0; i < cfg->n_disks; i++)
		node_disk_result_release(&res[i]);
	live = NULL;
	node_close(n);
	/* The forward ended with the node's ssh connection. */
	assert_false(tsshd_port_open(fwd));
	snprintf(pattern, sizeof(pattern), "%s/run.*", rdir);
	assert_int_equal(count(pattern), 0);
	assert_int_equal(leftovers(false), 0);
	ledger_free(l);
	sqlite3_close(db);
	bench_config_free(cfg);
}

/* The guest is on the node from the first test: not copied again. A workload that
 * cannot start (fio's job file is missing) leaves nothing on the node. */
static void guest_cached_cleanup_after_failure(void **state)
{
	char kernel[PATH_MAX + 64], work[PATH_MAX + 32], pattern[PATH_MAX + 64];
	struct stat before, after;

	snprintf(kernel, sizeof(kernel), "%s/guest/vmlinux", rdir);
	assert_int_equal(stat(kernel, &before), 0);
	snprintf(work, sizeof(work), "%s/work2", T.dir);
	assert_int_equal(mkdir(work, 0700), 0);
	struct bench_config *cfg = bench("/nonexistent/load.fio", NULL);
	struct node_env env = { .bin_dir = bin_dir, .work_dir = work };
	struct node *n = live = node_open(cfg, &env);
	assert_non_null(n);
	assert_int_equal(node_prepare(n), 0);
	assert_int_equal(stat(kernel, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	snprintf(pattern, sizeof(pattern), "%s/run.*/b-raw.raw", rdir);
	assert_int_equal(count(pattern), 1);
	struct node_job job = { .campaign = 1, .cycle = 2, .token = TOKEN,
				.ledger_host = "10.0.2.2", .ledger_port = 9, .seed = 7 };
	assert_true(node_start_workload(n, &job) < 0);
	live = NULL;
	node_close(n);
	snprintf(pattern, sizeof(pattern), "%s/run.*", rdir);
	assert_int_equal(count(pattern), 0);
	assert_int_equal(leftovers(false), 0);
	bench_config_free(cfg);
}

/* A kept disk ([disk] keep = yes) lives in the campaign's kept directory on the node,
 * named as this host's: created by the first cycle's prepare, left by close (the run
 * directory goes), and used as it is by the next cycle's (the same file). */
static void kept_disk_used_again(void **state)
{
	char work[PATH_MAX + 32], kept[PATH_MAX + 32], img[PATH_MAX + 96], pattern[PATH_MAX + 64];
	struct stat first, again;

	snprintf(work, sizeof(work), "%s/work3", T.dir);
	assert_int_equal(mkdir(work, 0700), 0);
	snprintf(kept, sizeof(kept), "%s/powercut-kept.99", T.dir);
	struct bench_config *cfg = bench(NULL, NULL);
	cfg->disks[1]->keep = true;
	struct node_env env = { .bin_dir = bin_dir, .work_dir = work, .keep_dir = kept };
	snprintf(img, sizeof(img), "%s/powercut-kept.99/b-raw.raw", rdir);
	for (int cycle = 0; cycle < 2; cycle++) {
		struct node *n = live = node_open(cfg, &env);
		assert_non_null(n);
		assert_int_equal(node_prepare(n), 0);
		assert_int_equal(stat(img, cycle ? &again : &first), 0);
		/* Not in the run directory; the other disk is. */
		snprintf(pattern, sizeof(pattern), "%s/run.*/b-raw.raw", rdir);
		assert_int_equal(count(pattern), 0);
		snprintf(pattern, sizeof(pattern), "%s/run.*/a-qcow2.qcow2", rdir);
		assert_int_equal(count(pattern), 1);
		live = NULL;
		node_close(n);
	}
	assert_int_equal(first.st_ino, again.st_ino);
	assert_int_equal(first.st_mtim.tv_sec, again.st_mtim.tv_sec);
	assert_int_equal(first.st_mtim.tv_nsec, again.st_mtim.tv_nsec);
	snprintf(pattern, sizeof(pattern), "%s/run.*", rdir);
	assert_int_equal(count(pattern), 0);
	/* The forgetful control is the disk model's: refused on a real node. */
	cfg->disks[1]->control = CONTROL_FORGETFUL;
	errno = 0;
	assert_null(node_open(cfg, &env));
	assert_int_equal(leftovers(false), 0);
	bench_config_free(cfg);
}

/* A port on 127.0.0.1 that listens (the ledger forward's end here; the guest is
 * never up long enough to connect). The socket in *fd. */
static int listening_port(int *fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*fd >= 0);
	assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(*fd, 4), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

/* A node with QEMU just started (its write boot, no baseline: a plain qcow2 disk). */
static struct node *watched_node(struct bench_config *cfg, const char *name, int port)
{
	char work[PATH_MAX + 32];

	snprintf(work, sizeof(work), "%s/%s", T.dir, name);
	assert_int_equal(mkdir(work, 0700), 0);
	struct node_env env = { .bin_dir = bin_dir, .work_dir = work };
	struct node *n = live = node_open(cfg, &env);
	assert_non_null(n);
	assert_int_equal(node_prepare(n), 0);
	struct node_job job = { .campaign = 1, .cycle = 1, .token = TOKEN,
				.ledger_host = "127.0.0.1", .ledger_port = (uint16_t)port, .seed = 7 };
	assert_int_equal(node_start_workload(n, &job), 0);
	assert_true(qemu_pid() > 0);
	return n;
}

/* node_watch until it says the node died, at most ms; its rc. */
static int watch_until_dead(struct node *n, int ms)
{
	int64_t end = clock_mono_ms() + ms;
	int rc;

	while ((rc = node_watch(n)) == 0 && clock_mono_ms() < end)
		usleep(NODE_WATCH_MS * 1000);
	return rc;
}

static void watched_close(struct node *n)
{
	live = NULL;
	node_close(n);
	assert_int_equal(leftovers(false), 0);
}

/* The watch, each death fed exactly (the console file and QEMU are on this host): */
static void watch_sees_deaths(void **state)
{
	char pattern[PATH_MAX + 64];
	int fd, port = listening_port(&fd);
	struct bench_config *cfg = bench(NULL, NULL);
	const struct node_death *d;
	glob_t g;

	cfg->disks[0]->backing = false;
	cfg->node->silence_ms = 60000;
	node_remote_watch_ms = 100;

	/* A panic line in the console. QEMU is stopped first (alive, silent), so that
	 * nothing it writes lands on the line. */
	int64_t t0 = clock_mono_ms();
	struct node *n = watched_node(cfg, "watch-panic", port);
	assert_int_equal(node_watch(n), 0);	/* just started: alive */
	pid_t pid = qemu_pid();
	assert_int_equal(kill(pid, SIGSTOP), 0);
	snprintf(pattern, sizeof(pattern), "%s/run.*/console-1.log", rdir);
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	assert_int_equal(g.gl_pathc, 1);
	FILE *f = fopen(g.gl_pathv[0], "a");
	globfree(&g);
	assert_non_null(f);
	fputs("[    2.345678] Kernel panic - not syncing: VFS: Unable to mount root fs on "
	      "unknown-block(0,0)\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(watch_until_dead(n, 5000), -EOWNERDEAD);
	assert_non_null(d = node_death(n));
	assert_int_equal(d->life, NODE_LIFE_PANICKED);
	assert_non_null(strstr(d->what, "panicked (Kernel panic - not syncing: VFS: Unable to "
				     "mount root fs"));
	assert_non_null(strstr(d->what, "the write boot"));
	watched_close(n);
	print_message("panic seen, node closed %.1f s after its open\n",
		      (clock_mono_ms() - t0) / 1e3);

	/* QEMU gone: killed on the node behind the driver's back. The watch asks the node
	 * at most every node_remote_watch_ms: not at once after the look that found it
	 * alive. */
	node_remote_watch_ms = 1500;
	t0 = clock_mono_ms();
	n = watched_node(cfg, "watch-gone", port);
	pid = qemu_pid();
	int64_t looked = clock_mono_ms();
	assert_int_equal(node_watch(n), 0);	/* the look: alive */
	assert_int_equal(kill(pid, SIGKILL), 0);
	for (int64_t end = clock_mono_ms() + 5000; !e2e_dead(pid) && clock_mono_ms() < end;)
		usleep(10000);	/* the kill is delivered to all its threads */
	assert_true(e2e_dead(pid));
	assert_int_equal(node_watch(n), 0);	/* not asked again yet */
	assert_int_equal(watch_until_dead(n, 5000), -EOWNERDEAD);
	int64_t seen = clock_mono_ms() - looked;
	assert_true(seen >= 1500);
	assert_non_null(d = node_death(n));
	assert_int_equal(d->life, NODE_LIFE_STOPPED);
	char want[64];
	snprintf(want, sizeof(want), "QEMU (pid %d in '", (int)pid);
	assert_non_null(strstr(d->what, want));
	assert_non_null(strstr(d->what, "no longer runs"));
	assert_non_null(strstr(d->what, "how it ended is not known"));
	watched_close(n);
	print_message("QEMU's end seen %.1f s after the last look, node closed %.1f s after "
		      "its open\n", seen / 1e3, (clock_mono_ms() - t0) / 1e3);

	/* A console silent for console_silence: QEMU stopped, alive but saying nothing. */
	node_remote_watch_ms = 100;
	cfg->node->silence_ms = 1000;
	t0 = clock_mono_ms();
	n = watched_node(cfg, "watch-silent", port);
	assert_int_equal(kill(qemu_pid(), SIGSTOP), 0);
	int64_t stopped = clock_mono_ms();
	assert_int_equal(watch_until_dead(n, 5000), -EOWNERDEAD);
	assert_non_null(d = node_death(n));
	assert_int_equal(d->life, NODE_LIFE_SILENT);
	assert_true(d->code >= 1);
	assert_non_null(strstr(d->what, "has been silent for"));
	print_message("silence seen %.1f s after QEMU stopped\n", (clock_mono_ms() - stopped) / 1e3);
	watched_close(n);
	print_message("node closed %.1f s after its open\n", (clock_mono_ms() - t0) / 1e3);
	node_remote_watch_ms = 2000;
	close(fd);
	bench_config_free(cfg);
}

static bool have(const char *prog)
{
	const char *argv[] = { prog, "--version", NULL };
	struct child_result r;
	int rc = child_run(argv, NULL, 10000, &r);

	child_result_release(&r);
	return rc == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
}

int main(void)
{
	char exe[PATH_MAX], probe[PATH_MAX + 64];
	const char *why;
	ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (k < 0)
		return 1;
	exe[k] = 0;
	/* build/host/node/tests/test_remote: build/bin and build/guest are three up. */
	for (int up = 0; up < 4; up++)
		*strrchr(exe, '/') = 0;
	snprintf(bin_dir, sizeof(bin_dir), "%.4000s/bin", exe);
	snprintf(guest_dir, sizeof(guest_dir), "%.4000s/guest", exe);
	snprintf(probe, sizeof(probe), "%s/vmlinux", guest_dir);
	if (access(probe, R_OK) != 0) {
		printf("skip: no guest in '%s': run scripts/build-guest\n", guest_dir);
		return 77;
	}
	if (!have("qemu-system-x86_64") || !have("qemu-img") || !have("fio")) {
		printf("skip: qemu-system-x86_64, qemu-img or fio is missing\n");
		return 77;
	}
	if (tsshd_setup(&T, &why) < 0) {
		tsshd_teardown(&T);
		printf("skip: %s\n", why);
		return 77;
	}
	snprintf(rdir, sizeof(rdir), "%s/remote", T.dir);
	node_remote_poll_ms = 100;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(kill_cycle, close_live),
		cmocka_unit_test_teardown(guest_cached_cleanup_after_failure, close_live),
		cmocka_unit_test_teardown(kept_disk_used_again, close_live),
		cmocka_unit_test_teardown(watch_sees_deaths, close_live),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	tsshd_teardown(&T);
	return rc;
}
