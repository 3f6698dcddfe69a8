/* Tests of the bench lock (busy, stale lock of a killed process taken over) and of
 * the small helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlock.h"
#include "child.h"
#include "util.h"

static char dir[256];

static int setup(void **state)
{
	const char *t = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/pc-util-XXXXXX", t && *t ? t : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	const char *argv[] = { "rm", "-rf", dir, NULL };
	struct child_result r;

	if (child_run(argv, NULL, 10000, &r) == 0)
		child_result_release(&r);
	return 0;
}

static pid_t lock_pid(const char *run)
{
	char p[512], buf[32] = "";
	FILE *f;

	snprintf(p, sizeof(p), "%s/lock", run);
	f = fopen(p, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return (pid_t)atol(buf);
}

static void test_lock_busy_and_stale(void **state)
{
	char run[512];
	struct benchlock *a, *b;
	pid_t holder = -1;
	int pfd[2];

	snprintf(run, sizeof(run), "%s/run/deep/bench", dir);
	a = benchlock_take(run, "t", &holder);
	assert_non_null(a);
	assert_int_equal(lock_pid(run), getpid());
	/* Taken: a second taker (here another open of the same file) is refused. */
	b = benchlock_take(run, "t", &holder);
	assert_null(b);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(holder, getpid());
	benchlock_release(a);

	/* A holder killed with SIGKILL: the kernel drops its flock, the next taker
	 * succeeds and replaces the stale pid. */
	assert_int_equal(pipe(pfd), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct benchlock *l = benchlock_take(run, "t", NULL);
		(void)!write(pfd[1], l ? "y" : "n", 1);
		pause();
		_exit(0);
	}
	char c;
	assert_int_equal(read(pfd[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	assert_null(benchlock_take(run, "t", &holder));
	assert_int_equal(holder, child);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_int_equal(lock_pid(run), child);	/* stale pid still in the file */
	a = benchlock_take(run, "t", &holder);
	assert_non_null(a);
	assert_int_equal(lock_pid(run), getpid());
	benchlock_release(a);
	close(pfd[0]);
	close(pfd[1]);
}

static void test_versions(void **state)
{
	json_t *extra = json_pack("{s:s}", "agent", "1.2");
	json_t *j = pc_versions_json("0.1.0", NULL, extra);

	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "powercut")), "0.1.0");
	assert_true(json_is_null(json_object_get(j, "firmware")));
	assert_string_equal(json_string_value(json_object_get(j, "agent")), "1.2");
	assert_non_null(strstr(json_string_value(json_object_get(j, "kernel")), "Linux "));
	json_t *q = json_object_get(j, "qemu_img");
	assert_true(json_is_null(q) || !strncmp(json_string_value(q), "qemu-img version", 16));
	json_decref(j);
	json_decref(extra);
}

static void test_exe_dir_and_mkdir(void **state)
{
	char d[PATH_MAX], p[600];
	struct stat st;

	assert_int_equal(pc_exe_dir(d, sizeof(d)), 0);
	assert_non_null(strstr(d, "tests"));
	assert_int_equal(pc_exe_dir(d, 3), -ENAMETOOLONG);
	snprintf(p, sizeof(p), "%s/a/b/c", dir);
	assert_int_equal(pc_mkdir_p(p), 0);
	assert_int_equal(pc_mkdir_p(p), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_busy_and_stale),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_exe_dir_and_mkdir),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
