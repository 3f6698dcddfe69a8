/* Tests of the child-process module: real processes, short timeouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_true_false(void **state)
{
	const char *t[] = { "true", NULL }, *f[] = { "false", NULL };
	struct child_result r;

	assert_int_equal(child_run(t, NULL, 5000, &r), 0);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
	child_result_release(&r);
	assert_int_equal(child_run(f, NULL, 5000, &r), 0);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 1);
	child_result_release(&r);
}

static void test_capture_and_input(void **state)
{
	const char *argv[] = { "sh", "-c", "cat; echo err >&2; exit 3", NULL };
	struct child_result r;
	char buf[64];

	assert_int_equal(child_run(argv, "hello\n", 5000, &r), 0);
	assert_string_equal(r.out, "hello\n");
	assert_int_equal(r.out_len, 6);
	assert_string_equal(r.err, "err\n");
	assert_int_equal(WEXITSTATUS(r.status), 3);
	assert_string_equal(child_status_str(r.status, buf, sizeof(buf)), "exited with status 3");
	child_result_release(&r);
}

static void test_missing_binary(void **state)
{
	const char *argv[] = { "powercut-no-such-binary-xyz", NULL };
	struct child c = { .argv = argv, .in = CHILD_NULL, .out = CHILD_NULL, .err = CHILD_NULL };
	struct child_result r;

	assert_int_equal(child_start(&c), -ENOENT);
	assert_int_equal(c.exec_errno, ENOENT);
	assert_int_equal(c.pid, -1);
	assert_int_equal(child_run(argv, NULL, 1000, &r), -ENOENT);
}

static void test_env_and_dir(void **state)
{
	const char *argv[] = { "sh", "-c", "echo \"$PC_TEST_A:$HOME\"; pwd", NULL };
	const char *env[] = { "PC_TEST_A=abc", "HOME=/nonexistent-home", NULL };
	struct child c = { .argv = argv, .env = env, .dir = "/", .in = CHILD_NULL,
			   .out = CHILD_PIPE, .err = CHILD_INHERIT };
	char buf[256] = "";
	size_t n = 0;
	ssize_t k;
	int st;

	assert_int_equal(child_start(&c), 0);
	assert_true(c.fd_out >= 0);
	assert_int_equal(c.fd_in, -1);
	while ((k = read(c.fd_out, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)k;
	buf[n] = '\0';
	assert_int_equal(child_finish(&c, 5000, &st), 0);
	assert_string_equal(buf, "abc:/nonexistent-home\n/\n");
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_timeout(void **state)
{
	const char *argv[] = { "sleep", "30", NULL };
	struct child_result r;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(child_run(argv, NULL, 200, &r), -ETIMEDOUT);
	assert_true(r.timed_out);
	assert_true(WIFSIGNALED(r.status));
	assert_int_equal(WTERMSIG(r.status), SIGTERM);
	long ms = ms_since(&t0);
	assert_true(ms >= 190 && ms < 2000);
	child_result_release(&r);
}

static void test_ignores_sigterm(void **state)
{
	/* The child ignores SIGTERM (and so does its sleep): only SIGKILL ends it. */
	const char *argv[] = { "sh", "-c", "trap '' TERM; sleep 30; exit 0", NULL };
	struct child c = { .argv = argv, .in = CHILD_NULL, .out = CHILD_NULL,
			   .err = CHILD_NULL, .grace_ms = 200 };
	struct timespec t0;
	int st;

	assert_int_equal(child_start(&c), 0);
	assert_true(child_running(&c));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(child_finish(&c, 200, &st), -ETIMEDOUT);
	long ms = ms_since(&t0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_true(ms >= 390 && ms < 3000);
	assert_false(child_running(&c));
}

/* A daemon that misses the first SIGTERM (its handler runs, but the loop does not see
 * it) must still stop cleanly: the shell counts the TERMs and exits 0 on the second. */
static void test_stop_resends_sigterm(void **state)
{
	const char *argv[] = { "sh", "-c",
			       "n=0; trap 'n=$((n+1))' TERM; "
			       "while [ $n -lt 2 ]; do sleep 0.01; done; exit 0", NULL };
	struct child c = { .argv = argv, .in = CHILD_NULL, .out = CHILD_NULL,
			   .err = CHILD_NULL, .grace_ms = 200 };
	int st;

	assert_int_equal(child_start(&c), 0);
	usleep(100 * 1000);	/* the trap is set */
	assert_int_equal(child_stop(&c, 5000, &st), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_false(child_running(&c));
}

/* One that never stops on SIGTERM is killed after the time limit and grace. */
static void test_stop_times_out(void **state)
{
	const char *argv[] = { "sh", "-c", "trap '' TERM; sleep 30; exit 0", NULL };
	struct child c = { .argv = argv, .in = CHILD_NULL, .out = CHILD_NULL,
			   .err = CHILD_NULL, .grace_ms = 200 };
	struct timespec t0;
	int st;

	assert_int_equal(child_start(&c), 0);
	usleep(100 * 1000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(child_stop(&c, 300, &st), -ETIMEDOUT);
	long ms = ms_since(&t0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_true(ms >= 490 && ms < 3000);
}

/* Wait up to ms for the reparented pid to end; returns its wait status or -1. */
static int reap_within(pid_t g, int ms)
{
	int st = 0;

	for (int i = 0; i < ms / 10; i++) {
		pid_t w = waitpid(g, &st, WNOHANG);
		if (w == g)
			return st;
		usleep(10000);
	}
	return -1;
}

static void test_dies_with_parent(void **state)
{
	/* A parent killed by SIGKILL (no cleanup runs) takes its child with it. */
	int fds[2];
	pid_t mid, g = 0;

	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(fds), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		const char *argv[] = { "sleep", "30", NULL };
		struct child c = { .argv = argv };
		if (child_start(&c) < 0)
			_exit(1);
		if (write(fds[1], &c.pid, sizeof(c.pid)) != sizeof(c.pid))
			_exit(1);
		raise(SIGKILL);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &g, sizeof(g)), sizeof(g));
	close(fds[0]);
	assert_int_equal(waitpid(mid, NULL, 0), mid);
	int st = reap_within(g, 2000);
	assert_true(st != -1);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void *start_in_thread(void *arg)
{
	return (void *)(intptr_t)child_start(arg);
}

static void test_thread_child_outlives_thread(void **state)
{
	/* The death signal follows the forking thread: a child started by a thread that
	 * then ends must still run (the spawner thread forks it). */
	const char *argv[] = { "sleep", "30", NULL };
	struct child c = { .argv = argv };
	pthread_t th;
	void *ret;
	int st;

	assert_int_equal(pthread_create(&th, NULL, start_in_thread, &c), 0);
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_int_equal((intptr_t)ret, 0);
	usleep(300000);
	assert_true(child_running(&c));
	assert_int_equal(child_stop(&c, 2000, &st), 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
}

static void test_grandchildren_killed(void **state)
{
	/* Orphans come to us, so we can see how the grandchild ended. */
	const char *argv[] = { "sh", "-c", "sleep 30 & echo $!; wait", NULL };
	struct child_result r;
	pid_t g;
	int st = 0;

	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(child_run(argv, NULL, 300, &r), -ETIMEDOUT);
	g = (pid_t)atoi(r.out);
	assert_true(g > 0);
	for (int i = 0; i < 200; i++) {
		pid_t w = waitpid(g, &st, WNOHANG);
		if (w == g)
			break;
		assert_int_equal(w, 0);
		usleep(10000);
	}
	assert_true(WIFSIGNALED(st));
	assert_int_equal(kill(g, 0), -1);
	child_result_release(&r);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void test_large_outputs(void **state)
{
	/* A large stderr before a large stdout deadlocks a reader that drains one
	 * stream first; a large input echoed back deadlocks a writer that feeds all
	 * input before reading. */
	const char *argv[] = { "sh", "-c",
			       "head -c 1000000 /dev/zero >&2; cat; head -c 300000 /dev/zero", NULL };
	size_t in_len = 2000000;
	char *input = malloc(in_len + 1);
	struct child_result r;

	assert_non_null(input);
	for (size_t i = 0; i < in_len; i++)
		input[i] = (char)('a' + i % 26);
	input[in_len] = '\0';
	assert_int_equal(child_run(argv, input, 20000, &r), 0);
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_int_equal(r.err_len, 1000000);
	assert_int_equal(r.out_len, in_len + 300000);
	assert_memory_equal(r.out, input, in_len);
	assert_int_equal(r.out[in_len + 5], '\0');
	child_result_release(&r);
	free(input);
}

static void test_child_not_reading_input(void **state)
{
	/* The child exits at once; writing the rest of the input must not SIGPIPE us. */
	const char *argv[] = { "true", NULL };
	size_t n = 4 << 20;
	char *input = malloc(n + 1);
	struct child_result r;

	assert_non_null(input);
	memset(input, 'x', n);
	input[n] = '\0';
	assert_int_equal(child_run(argv, input, 10000, &r), 0);
	assert_int_equal(WEXITSTATUS(r.status), 0);
	child_result_release(&r);
	free(input);
	sigset_t pending;
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGPIPE));
}

static void test_exit_with_daemonized_grandchild(void **state)
{
	/* The child exits at once but leaves a grandchild holding stdout open: child_run
	 * returns when the child is done, not when the grandchild is. */
	const char *argv[] = { "sh", "-c", "sleep 3 & echo done", NULL };
	struct child_result r;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(child_run(argv, NULL, 10000, &r), 0);
	assert_true(ms_since(&t0) < 2000);
	assert_string_equal(r.out, "done\n");
	child_result_release(&r);
}

/* child_exited: the status of a child that ended, read without reaping it (the node's
 * watch asks while a wait of its own reaps later): false while it runs; then its exit
 * status or its signal, the same as child_finish gives after. */
static void test_exited_unreaped(void **state)
{
	const char *argv[] = { "sh", "-c", "read x; exit 3", NULL };
	struct child c = { .argv = argv, .in = CHILD_PIPE, .out = CHILD_NULL, .err = CHILD_NULL };
	int st = -1, fst;

	assert_int_equal(child_start(&c), 0);
	assert_false(child_exited(&c, &st));
	assert_int_equal(write(c.fd_in, "\n", 1), 1);
	for (int i = 0; i < 500 && !child_exited(&c, &st); i++)
		usleep(10000);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
	assert_true(child_exited(&c, &st));	/* still there to read: not reaped */
	assert_int_equal(child_finish(&c, 1000, &fst), 0);
	assert_int_equal(fst, st);
	assert_false(child_exited(&c, &st));	/* reaped now */

	const char *sleeper[] = { "sleep", "30", NULL };
	struct child k = { .argv = sleeper, .in = CHILD_NULL, .out = CHILD_NULL, .err = CHILD_NULL };
	assert_int_equal(child_start(&k), 0);
	assert_false(child_exited(&k, &st));
	assert_int_equal(child_kill(&k, SIGKILL), 0);
	for (int i = 0; i < 500 && !child_exited(&k, &st); i++)
		usleep(10000);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_int_equal(child_finish(&k, 1000, &fst), 0);
	assert_int_equal(fst, st);
}

static void test_kill_group(void **state)
{
	const char *argv[] = { "sleep", "30", NULL };
	struct child c = { .argv = argv, .in = CHILD_NULL, .out = CHILD_NULL, .err = CHILD_NULL };
	int st;

	assert_int_equal(child_start(&c), 0);
	assert_int_equal(getpgid(c.pid), c.pid);
	assert_int_equal(child_kill(&c, SIGINT), 0);
	assert_int_equal(child_finish(&c, 5000, &st), 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGINT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_true_false),
		cmocka_unit_test(test_capture_and_input),
		cmocka_unit_test(test_missing_binary),
		cmocka_unit_test(test_env_and_dir),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_ignores_sigterm),
		cmocka_unit_test(test_stop_resends_sigterm),
		cmocka_unit_test(test_stop_times_out),
		cmocka_unit_test(test_grandchildren_killed),
		cmocka_unit_test(test_large_outputs),
		cmocka_unit_test(test_child_not_reading_input),
		cmocka_unit_test(test_exit_with_daemonized_grandchild),
		cmocka_unit_test(test_kill_group),
		cmocka_unit_test(test_exited_unreaped),
		cmocka_unit_test(test_dies_with_parent),
		cmocka_unit_test(test_thread_child_outlives_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
