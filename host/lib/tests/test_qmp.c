/* The QMP client (qmp.c) against a scripted monitor on a UNIX socket: a thread that
 * sends QEMU's greeting, then answers each line it reads with the next line of its
 * script. What the script stands for is QEMU's QMP specification (docs/interop/
 * qmp-spec in QEMU's source): the server speaks first with {"QMP": {...}}, the client
 * must send qmp_capabilities before any other command, each command gets exactly one
 * {"return": ...} or {"error": {"class", "desc"}}, and events ({"event": ...,
 * "timestamp": ...}) may arrive between them at any time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 19, \"minor\": 2, \"major\": 7}}, \"capabilities\": [\"oob\"]}}\n"
#define RETURN "{\"return\": {}}\n"
#define RESET_EVENT "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"RESET\", \"data\": {\"guest\": false, \"reason\": \"host-qmp-system-reset\"}}\n"

struct monitor {
	int listen_fd;
	const char *greeting;		/* NULL: say nothing at all */
	const char *const *answers;	/* one per line read; NULL ends: hang up */
	bool silent;			/* read, never answer (a hung monitor) */
	char got[8][256];		/* the lines the client sent */
	int n_got;
};

static void *monitor_run(void *arg)
{
	struct monitor *m = arg;
	int fd = accept(m->listen_fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "r+");
	if (m->greeting) {
		fputs(m->greeting, f);
		fflush(f);
	}
	char line[256];
	for (int i = 0; m->answers && m->answers[i] && fgets(line, sizeof(line), f); i++) {
		if (m->n_got < 8)
			snprintf(m->got[m->n_got++], sizeof(m->got[0]), "%s", line);
		if (m->silent) {
			while (fgets(line, sizeof(line), f))
				;
			break;
		}
		fputs(m->answers[i], f);
		fflush(f);
	}
	fclose(f);
	return NULL;
}

static char path[108];
static pthread_t thread;

static void monitor_start(struct monitor *m)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *t = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/pc-qmp-%d.sock", t && *t ? t : "/tmp", (int)getpid());
	unlink(path);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	m->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(m->listen_fd >= 0);
	assert_int_equal(bind(m->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(m->listen_fd, 1), 0);
	assert_int_equal(pthread_create(&thread, NULL, monitor_run, m), 0);
}

static void monitor_stop(struct monitor *m)
{
	pthread_join(thread, NULL);
	close(m->listen_fd);
	unlink(path);
}

/* Capabilities negotiated first, then the command; an event before an answer skipped. */
static void test_command_returns(void **state)
{
	const char *const answers[] = { RETURN, RESET_EVENT RETURN, NULL };
	struct monitor m = { .greeting = GREETING, .answers = answers };
	char why[128] = "untouched";

	monitor_start(&m);
	struct qmp *q = qmp_open(path, 5000);
	assert_non_null(q);
	assert_int_equal(qmp_execute(q, json_pack("{s:s}", "execute", "system_reset"), why,
				     sizeof(why)), 0);
	assert_string_equal(why, "untouched");
	qmp_close(q);
	monitor_stop(&m);
	assert_int_equal(m.n_got, 2);
	assert_non_null(strstr(m.got[0], "\"qmp_capabilities\""));
	assert_non_null(strstr(m.got[1], "\"system_reset\""));
}

/* A refused command: -EIO with QEMU's desc. */
static void test_command_error(void **state)
{
	const char *const answers[] = { RETURN, "{\"error\": {\"class\": \"GenericError\", "
					"\"desc\": \"Node 'd1' is busy: block device is in use\"}}\n", NULL };
	struct monitor m = { .greeting = GREETING, .answers = answers };
	char why[128] = "";

	monitor_start(&m);
	struct qmp *q = qmp_open(path, 5000);
	assert_non_null(q);
	assert_int_equal(qmp_execute(q, json_pack("{s:s,s:{s:s}}", "execute", "blockdev-del",
						  "arguments", "node-name", "d1"), why, sizeof(why)), -EIO);
	assert_string_equal(why, "Node 'd1' is busy: block device is in use");
	qmp_close(q);
	monitor_stop(&m);
}

/* The monitor hangs up before answering: -EPIPE, said in why. */
static void test_monitor_closes(void **state)
{
	const char *const answers[] = { RETURN, NULL };
	struct monitor m = { .greeting = GREETING, .answers = answers };
	char why[128] = "";

	monitor_start(&m);
	struct qmp *q = qmp_open(path, 5000);
	assert_non_null(q);
	assert_int_equal(qmp_execute(q, json_pack("{s:s}", "execute", "quit"), why, sizeof(why)),
			 -EPIPE);
	assert_string_equal(why, "the monitor closed");
	qmp_close(q);
	monitor_stop(&m);
}

/* Something that is not QMP on the socket: EPROTO. */
static void test_not_qmp(void **state)
{
	const char *const answers[] = { NULL };
	struct monitor m = { .greeting = "{\"hello\": 1}\n", .answers = answers };

	monitor_start(&m);
	errno = 0;
	assert_null(qmp_open(path, 5000));
	assert_int_equal(errno, EPROTO);
	monitor_stop(&m);
}

/* A monitor that reads the command and never answers: -ETIMEDOUT after the limit. */
static void test_monitor_hangs(void **state)
{
	const char *const answers[] = { RETURN, RETURN, NULL };
	struct monitor m = { .greeting = GREETING, .answers = answers };
	char why[128] = "";

	monitor_start(&m);
	struct qmp *q = qmp_open(path, 300);
	assert_non_null(q);
	m.silent = true;	/* from the next line on: the capabilities were answered */
	assert_int_equal(qmp_execute(q, json_pack("{s:s}", "execute", "query-status"), why,
				     sizeof(why)), -ETIMEDOUT);
	assert_string_equal(why, "the monitor did not answer in time");
	qmp_close(q);
	monitor_stop(&m);
}

/* No monitor at all: the connect's errno. */
static void test_no_monitor(void **state)
{
	errno = 0;
	assert_null(qmp_open("/nonexistent/qmp.sock", 1000));
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_returns),
		cmocka_unit_test(test_command_error),
		cmocka_unit_test(test_monitor_closes),
		cmocka_unit_test(test_not_qmp),
		cmocka_unit_test(test_monitor_hangs),
		cmocka_unit_test(test_no_monitor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
