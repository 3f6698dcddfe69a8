/* Tests of logging: level and category filters, the sink, --debug parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "log.h"

struct seen {
	int n;
	enum log_level level;
	enum log_cat cat;
	int64_t wall, mono;
	char msg[256];
};

static void sink(void *ctx, enum log_level level, enum log_cat cat, int64_t wall_ns,
		 int64_t mono_ns, const char *msg)
{
	struct seen *s = ctx;

	s->n++;
	s->level = level;
	s->cat = cat;
	s->wall = wall_ns;
	s->mono = mono_ns;
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
	/* A sink that logs must not recurse. */
	pc_err(LOG_DB, "from sink");
}

static void test_filter_and_sink(void **state)
{
	struct seen s = { 0 };

	log_set_sink(sink, &s);
	log_set_level(LOG_INFO);
	pc_info(LOG_MAIN, "hello '%s'", "x");
	assert_int_equal(s.n, 1);
	assert_string_equal(s.msg, "hello 'x'");
	assert_int_equal(s.cat, LOG_MAIN);
	assert_true(s.wall > 1600000000LL * 1000000000LL);
	assert_true(s.mono > 0);
	pc_debug(LOG_SERIAL, "hidden");
	assert_int_equal(s.n, 1);
	log_set_level(LOG_WARN);
	pc_info(LOG_MAIN, "hidden");
	assert_int_equal(s.n, 1);
	pc_warn(LOG_RELAY, "shown");
	assert_int_equal(s.n, 2);
	assert_int_equal(s.level, LOG_WARN);
	log_set_sink(NULL, NULL);
	log_set_level(LOG_INFO);
}

static void test_debug_categories(void **state)
{
	const char *bad = NULL;

	assert_false(log_enabled(LOG_DEBUG, LOG_SERIAL));
	assert_int_equal(log_enable_debug("serial,relay", &bad), 0);
	assert_true(log_enabled(LOG_DEBUG, LOG_SERIAL));
	assert_true(log_enabled(LOG_DEBUG, LOG_RELAY));
	assert_false(log_enabled(LOG_DEBUG, LOG_DB));
	assert_int_equal(log_enable_debug("db,bogus,clock", &bad), -EINVAL);
	assert_non_null(bad);
	assert_int_equal(strncmp(bad, "bogus", 5), 0);
	/* A bad spec enables nothing. */
	assert_false(log_enabled(LOG_DEBUG, LOG_DB));
	assert_int_equal(log_enable_debug("all", &bad), 0);
	assert_true(log_enabled(LOG_DEBUG, LOG_REPORT));
	assert_string_equal(log_cat_name(LOG_SERIAL), "serial");
	assert_string_equal(log_cat_name(LOG_REPORT), "report");
}

static void test_errno_preserved(void **state)
{
	errno = ENOENT;
	pc_info(LOG_MAIN, "x");
	assert_int_equal(errno, ENOENT);
}

/* Everything written to the pty so far. */
static size_t drain(int m, char *buf, size_t cap)
{
	size_t n = 0;
	struct pollfd p = { .fd = m, .events = POLLIN };
	while (n < cap - 1 && poll(&p, 1, 200) == 1) {
		ssize_t k = read(m, buf + n, cap - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	buf[n] = 0;
	return n;
}

/* The status line on a terminal: drawn, cleared before a message and drawn after it,
 * cut at the terminal's width, removed; and never drawn when stderr is not a terminal. */
static void test_status_line(void **state)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	int sl = open(ptsname(m), O_RDWR | O_NOCTTY);
	assert_true(sl >= 0);
	struct termios t;
	assert_int_equal(tcgetattr(sl, &t), 0);
	cfmakeraw(&t);		/* no \n -> \r\n: the bytes as written */
	assert_int_equal(tcsetattr(sl, TCSANOW, &t), 0);
	struct winsize ws = { .ws_row = 24, .ws_col = 12 };
	assert_int_equal(ioctl(sl, TIOCSWINSZ, &ws), 0);
	int saved = dup(STDERR_FILENO);
	fflush(stderr);
	dup2(sl, STDERR_FILENO);

	log_set_level(LOG_INFO);
	log_status("3/10, ETA 0:00:07");	/* 17 characters: cut to 11 */
	log_msg(LOG_INFO, LOG_MAIN, "cycle %d ok", 3);
	log_status(NULL);
	log_msg(LOG_INFO, LOG_MAIN, "done");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	char buf[512];
	drain(m, buf, sizeof(buf));
	const char want[] = "\r\033[K3/10, ETA 0"
			    "\r\033[Kpowercut: cycle 3 ok\n3/10, ETA 0"
			    "\r\033[K"
			    "powercut: done\n";
	assert_string_equal(buf, want);
	close(sl);
	close(m);

	/* not a terminal: the status line is never drawn */
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	saved = dup(STDERR_FILENO);
	fflush(stderr);
	dup2(pfd[1], STDERR_FILENO);
	log_status("1/2");
	log_msg(LOG_INFO, LOG_MAIN, "cycle 1 ok");
	log_status(NULL);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(pfd[1]);
	ssize_t k = read(pfd[0], buf, sizeof(buf) - 1);
	assert_true(k > 0);
	buf[k] = 0;
	assert_string_equal(buf, "powercut: cycle 1 ok\n");
	close(pfd[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_and_sink),
		cmocka_unit_test(test_debug_categories),
		cmocka_unit_test(test_errno_preserved),
		cmocka_unit_test(test_status_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
