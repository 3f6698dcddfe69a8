/* Shared set-up of the agent tests (test_agent_file.c, test_agent_files.c,
 * test_agent_nbd.c). Included after cmocka.h. */
#ifndef PC_TEST_AGENT_SETUP_H
#define PC_TEST_AGENT_SETUP_H

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The agent program NAME beside this test's build directory
 * (build/host/oracle/tests/TEST -> build/bin/NAME) into agent; a test without it is
 * skipped (exit 77, the reason as its last line). */
static void agent_test_find(const char *name, char *agent, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = 0;
	snprintf(agent, len, "%s/../../../bin/%s", dirname(self), name);
	if (access(agent, X_OK) != 0) {
		printf("skip: no agent at '%s'\n", agent);
		exit(77);
	}
}

/* The test's own directory, TMPDIR/PREFIX-XXXXXX (/tmp without TMPDIR), into dir. */
static void agent_test_dir(const char *prefix, char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, len, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
	assert_non_null(mkdtemp(dir));
}

#endif
