/* Helpers shared by the end-to-end tests and the benchmark of `powercut cycle`: find
 * the repository and the binaries from our own location, make a private run directory
 * (the bench lock and the simulator's files) and run one cycle, returning its --json. */
#ifndef PC_TESTS_E2E_H
#define PC_TESTS_E2E_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util.h"

extern char **environ;

struct e2e {
	char root[PATH_MAX];		/* the repository (has rig/benches) */
	char bin[PATH_MAX + 32];	/* build/bin */
	char powercut[PATH_MAX + 64];
	char tmp[PATH_MAX];		/* private, removed by e2e_cleanup */
	int runs;
	double last_wall_s;		/* wall time of the last e2e_cycle's powercut */
	int term_after_ms;		/* > 0: SIGTERM the next powercut after this long */
	/* NULL, or called about every 10 ms while the next powercut runs (waited: ms
	 * since it started), to act on it from outside (kill one of its node's
	 * processes); cleared when it ends. */
	void (*during)(struct e2e *e, pid_t powercut, int waited_ms);
	/* NULL, or where the next powercut's stderr goes (else to ours); cleared. */
	const char *err_path;
};

/* The test binary is below the build directory (build/tests/e2e/NAME, or a module's
 * build/host/MODULE/{tests,bench}/NAME): that is the nearest directory above it with a
 * bin/ directory. The repository is found by walking up to rig/benches. */
static inline int e2e_init(struct e2e *e)
{
	char exe[PATH_MAX], probe[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	memset(e, 0, sizeof(*e));
	if (n < 0)
		return -errno;
	exe[n] = 0;
	*strrchr(exe, '/') = 0;
	for (int up = 0; up < 3; up++) {
		struct stat st;
		snprintf(probe, sizeof(probe), "%s/bin", exe);
		if (stat(probe, &st) == 0 && S_ISDIR(st.st_mode))
			break;
		*strrchr(exe, '/') = 0;
	}
	snprintf(e->bin, sizeof(e->bin), "%s/bin", exe);
	snprintf(e->powercut, sizeof(e->powercut), "%s/powercut", e->bin);
	if (!getcwd(e->root, sizeof(e->root)))
		return -errno;
	for (;;) {
		snprintf(probe, sizeof(probe), "%s/rig/benches/sim-fast.ini", e->root);
		if (access(probe, R_OK) == 0)
			break;
		char *s = strrchr(e->root, '/');
		if (!s || s == e->root) {
			/* not below the cwd: try from the build directory */
			snprintf(e->root, sizeof(e->root), "%.4000s/..", exe);
			snprintf(probe, sizeof(probe), "%s/rig/benches/sim-fast.ini", e->root);
			if (access(probe, R_OK) < 0)
				return -ENOENT;
			break;
		}
		*s = 0;
	}
	const char *t = getenv("TMPDIR");
	snprintf(e->tmp, sizeof(e->tmp), "%s/pc-e2e.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(e->tmp))
		return -errno;
	/* powercut puts the node's files under TMPDIR: leftovers are then findable. */
	setenv("TMPDIR", e->tmp, 1);
	return 0;
}

static inline void e2e_cleanup(struct e2e *e);

/* A test's start: the programs it needs (NULL-terminated), then e2e_init and powercut
 * built. 0 to go on, else the exit status (77: skip, 1: failure) after printing why. */
static inline int e2e_start(struct e2e *e, const char *const progs[])
{
	for (size_t i = 0; progs[i]; i++) {
		if (!pc_in_path(progs[i])) {
			printf("skip: %s is not installed\n", progs[i]);
			return 77;
		}
	}
	int rc = e2e_init(e);
	if (rc < 0) {
		printf("cannot find the repository or make a directory: %s\n", strerror(-rc));
		return 1;
	}
	if (access(e->powercut, X_OK) < 0) {
		printf("skip: '%s' is not built\n", e->powercut);
		e2e_cleanup(e);
		return 77;
	}
	return 0;
}

static inline void e2e_cleanup(struct e2e *e)
{
	if (!e->tmp[0] || getenv("E2E_KEEP"))
		return;
	pid_t pid;
	char *argv[] = { "rm", "-rf", "--", e->tmp, NULL };
	if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
		waitpid(pid, NULL, 0);
}

/* Run `powercut cycle --json BENCH` with --set overrides (NULL-terminated) and a
 * private run dir and database; *exit_code gets its exit status. Returns the parsed
 * JSON (caller decrefs) or NULL when it printed none. stderr goes to ours. */
static inline json_t *e2e_cycle(struct e2e *e, const char *bench, int *exit_code, ...)
{
	char benchp[PATH_MAX + 64], runset[PATH_MAX + 64], db[PATH_MAX + 32], out[PATH_MAX + 32];
	const char *argv[64];
	int k = 0;
	va_list ap;

	e->runs++;
	snprintf(benchp, sizeof(benchp), "%s/rig/benches/%s", e->root, bench);
	snprintf(runset, sizeof(runset), "bench.run_dir=%s/run-%d", e->tmp, e->runs);
	snprintf(db, sizeof(db), "--db=%s/cycles.db", e->tmp);
	snprintf(out, sizeof(out), "%s/out-%d.json", e->tmp, e->runs);
	argv[k++] = e->powercut;
	argv[k++] = "cycle";
	argv[k++] = "--json";
	argv[k++] = db;
	argv[k++] = "--set";
	argv[k++] = runset;
	va_start(ap, exit_code);
	const char *s;
	while ((s = va_arg(ap, const char *)) && k < 60) {
		argv[k++] = "--set";
		argv[k++] = s;
	}
	va_end(ap);
	argv[k++] = benchp;
	argv[k] = NULL;

	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (e->err_path)
		posix_spawn_file_actions_addopen(&fa, 2, e->err_path, O_WRONLY | O_CREAT | O_TRUNC,
						 0644);
	e->err_path = NULL;
	pid_t pid;
	int st = 0;
	struct timespec t0, t1;
	*exit_code = -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (posix_spawn(&pid, e->powercut, &fa, NULL, (char *const *)argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return NULL;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (e->term_after_ms > 0 || e->during) {
		for (int waited = 0; waitpid(pid, &st, WNOHANG) == 0; waited += 10) {
			if (e->term_after_ms > 0 && waited >= e->term_after_ms) {
				kill(pid, SIGTERM);
				waitpid(pid, &st, 0);
				break;
			}
			if (e->during)
				e->during(e, pid, waited);
			struct timespec ts = { 0, 10000000 };
			nanosleep(&ts, NULL);
		}
		e->term_after_ms = 0;
		e->during = NULL;
	} else {
		waitpid(pid, &st, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	e->last_wall_s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	*exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	json_t *j = json_load_file(out, JSON_DISABLE_EOF_CHECK, NULL);
	return j;
}

/* disks[] entry by name, or NULL. */
static inline json_t *e2e_disk(json_t *j, const char *name)
{
	size_t i;
	json_t *d;

	json_array_foreach(json_object_get(j, "disks"), i, d)
		if (!strcmp(json_string_value(json_object_get(d, "disk")), name))
			return d;
	return NULL;
}

static inline long long e2e_class(json_t *disk, const char *cls)
{
	return json_integer_value(json_object_get(json_object_get(disk, "classes"), cls));
}

static inline long long e2e_int(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* A backing chain's violations other than its base's data lost to the overlay
 * (carried_lost: the overlay's allocation reached the platter before its data, so a
 * block written but not flushed reads zeroes instead of the base's durable record,
 * whole or, over a cache that tears, in part of its sectors (rule 3c): the second
 * seed, which a qcow2 chain over a volatile cache may show on any power cut since the
 * oracle remembers the base, docs/oracle.md). Everything else an honest chain must
 * never show. */
static inline long long e2e_chain_violations(json_t *disk)
{
	return e2e_int(disk, "violations") - e2e_int(disk, "carried_lost");
}


/* /proc/PID/cmdline with its NULs as blanks, into buf; its length (0: none, gone). */
static inline size_t e2e_cmdline(const char *pid, char *buf, size_t size)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	size_t n = fread(buf, 1, size - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = 0;
	return n;
}

/* Gone, or a zombie (its parent has not reaped it yet). */
static inline bool e2e_dead(pid_t pid)
{
	char path[64], line[256];
	bool zombie = false;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "State:", 6))
			zombie = strchr(line, 'Z') != NULL;
	if (f)
		fclose(f);
	return zombie;
}

/* Processes whose command line mentions our private directory (the simulator, the
 * node's daemons, QEMU, agents): none may outlive `powercut cycle`. Returns how many. */
static inline int e2e_leftovers(const struct e2e *e)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int found = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char buf[8192];
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (e2e_cmdline(de->d_name, buf, sizeof(buf)) && strstr(buf, e->tmp)) {
			fprintf(stderr, "left running: pid %s: %s\n", de->d_name, buf);
			found++;
		}
	}
	closedir(d);
	return found;
}

/* The full tier's guest, built (or found up to date) where powercut looks for it, by
 * scripts/build-guest (NODE_NO_GUEST_BUILD: not asked). 0 when there is one (with
 * OpenZFS in it when need_zfs: its manifest names a zfs version); else prints why as
 * a skip line, cleans up and returns 77. */
static inline int e2e_guest(struct e2e *e, bool need_zfs)
{
	char script[PATH_MAX + 64], out[PATH_MAX + 64], kernel[PATH_MAX + 80], man[PATH_MAX + 80];
	pid_t pid;
	int st = 0;

	snprintf(script, sizeof(script), "%s/scripts/build-guest", e->root);
	snprintf(out, sizeof(out), "%s/../guest", e->bin);
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", out);
	snprintf(man, sizeof(man), "%s/manifest.json", out);
	char *argv[] = { script, "--out", out, NULL };
	if (!getenv("NODE_NO_GUEST_BUILD") &&
	    posix_spawn(&pid, script, NULL, NULL, argv, environ) == 0)
		waitpid(pid, &st, 0);
	json_t *m = json_load_file(man, 0, NULL);
	bool zfs = json_is_string(json_object_get(json_object_get(m, "zfs"), "version"));
	json_decref(m);
	if (access(kernel, R_OK) == 0 && (!need_zfs || zfs))
		return 0;
	printf("skip: no guest%s in '%s' and scripts/build-guest could not build it "
	       "(exit %d; it needs Debian's package mirror once)\n", need_zfs && !access(kernel, R_OK) ?
	       " with OpenZFS" : "", out, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	e2e_cleanup(e);
	return 77;
}

/* The end of a cmocka test's main(): skip (77) unless every program of progs is
 * installed and powercut is built; with guest 0 or 1 the full tier's guest first
 * (1: with OpenZFS; -1: none); then the group, and the private directory removed.
 * Returns main's exit status. A macro, so that this header does not need cmocka
 * (the benchmark includes it too). */
#define E2E_RUN_GROUP(e, progs, tests, guest)                                      \
	({                                                                         \
		int rc_ = e2e_start((e), (progs));                                 \
		if (!rc_ && (guest) >= 0)                                          \
			rc_ = e2e_guest((e), (guest) > 0);                         \
		if (!rc_) {                                                        \
			rc_ = cmocka_run_group_tests((tests), NULL, NULL) ? 1 : 0; \
			e2e_cleanup(e);                                            \
		}                                                                  \
		rc_;                                                               \
	})

#endif
