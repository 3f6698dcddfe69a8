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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_and_sink),
		cmocka_unit_test(test_debug_categories),
		cmocka_unit_test(test_errno_preserved),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
