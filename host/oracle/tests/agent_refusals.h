/* Shared by test_agent_file.c and test_agent_nbd.c: what the ledger refuses makes either
 * build of the agent fail (exit status 3) naming the host's reason, on stderr and in its
 * {"type":"ledger"} line; a normal session exits 0 with status "recorded". Included
 * after cmocka.h, child.h, ledger.h and jansson.h. */
#ifndef PC_TEST_AGENT_REFUSALS_H
#define PC_TEST_AGENT_REFUSALS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <sqlite3.h>

#include "clock.h"
#include "ledger_schema.h"

/* The agent's {"type":"ledger"} line: its status and reason (static buffers). */
static void refusals_ledger_line(const char *out, const char **status, const char **reason)
{
	static char st[32], why[256];
	const char *line = out;

	st[0] = why[0] = 0;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		json_error_t e;
		json_t *j = json_loadb(line, n, 0, &e);
		if (j && !strcmp(json_string_value(json_object_get(j, "type")) ?: "", "ledger")) {
			snprintf(st, sizeof(st), "%s", json_string_value(json_object_get(j, "status")) ?: "");
			snprintf(why, sizeof(why), "%s", json_string_value(json_object_get(j, "reason")) ?: "");
		}
		json_decref(j);
		line = nl ? nl + 1 : NULL;
	}
	*status = st;
	*reason = why;
}

/* One write run (a few hundred writes) against the ledger at port; returns the exit
 * status, fills status/reason from the agent's ledger line, checks stderr names why. */
static int refusals_run(const char *agent_path, const char *target, uint16_t port, uint64_t campaign,
			uint32_t cycle, const char *token, const char **status, const char **reason)
{
	char p[64], camp[32], cyc[32];
	snprintf(p, sizeof(p), "127.0.0.1:%u", port);
	snprintf(camp, sizeof(camp), "%llu", (unsigned long long)campaign);
	snprintf(cyc, sizeof(cyc), "%u", cycle);
	const char *argv[] = { agent_path, "write", target, "--campaign", camp, "--cycle", cyc,
			       "--span-mib", "8", "--writes", "300", "--flush", "every-n:50",
			       "--ledger", p, "--token", token, "--quiet", NULL };
	struct child_result r;
	assert_int_equal(child_run(argv, NULL, 60000, &r), 0);
	assert_true(WIFEXITED(r.status));
	refusals_ledger_line(r.out, status, reason);
	if (!strcmp(*status, "rejected")) {
		char want[300];
		snprintf(want, sizeof(want), "ledger '%s' rejected the session: %s", p, *reason);
		if (!strstr(r.err, want))
			fail_msg("stderr '%s' lacks '%s'", r.err, want);
	}
	int code = WEXITSTATUS(r.status);
	child_result_release(&r);
	return code;
}

static void refusals_test(const char *agent_path, const char *target, const char *dbp,
			  uint64_t campaign, const char *token)
{
	struct ledger_config cfg = { .campaign = campaign, .token = token, .cycle = 3 };
	const char *st, *why;
	struct ledger_stats s0, s1;
	sqlite3 *db;

	/* The ledger's tables in a database of their own, as the campaign's would be. */
	assert_int_equal(sqlite3_open(dbp, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct ledger *l = ledger_open(&cfg, dbp);
	assert_non_null(l);
	assert_int_equal(ledger_start(l), 0);
	uint16_t port = ledger_port(l);

	/* A normal session: recorded, exit 0. */
	assert_int_equal(refusals_run(agent_path, target, port, campaign, 3, token, &st, &why), 0);
	assert_string_equal(st, "recorded");
	ledger_get_stats(l, &s0);
	assert_int_equal(s0.rejected, 0);

	/* The ledger expects another cycle (the seen defect: exit 0, nothing recorded). */
	assert_int_equal(refusals_run(agent_path, target, port, campaign, 2, token, &st, &why), 3);
	assert_string_equal(st, "rejected");
	assert_string_equal(why, "wrong cycle");

	assert_int_equal(refusals_run(agent_path, target, port, campaign, 3, "not-the-token", &st, &why), 3);
	assert_string_equal(st, "rejected");
	assert_string_equal(why, "bad campaign token");

	assert_int_equal(refusals_run(agent_path, target, port, campaign + 1, 3, token, &st, &why), 3);
	assert_string_equal(st, "rejected");
	assert_string_equal(why, "wrong campaign");
	ledger_get_stats(l, &s1);
	assert_int_equal(s1.rejected, 3);
	/* Nothing of the refused sessions was stored. */
	assert_int_equal(s1.acks, s0.acks);

	/* The host moves on to the next cycle while the agent writes: the next frame is
	 * refused ("cycle is over") and the agent stops long before its 30 s. */
	char p[64], camp[32];
	snprintf(p, sizeof(p), "127.0.0.1:%u", port);
	snprintf(camp, sizeof(camp), "%llu", (unsigned long long)campaign);
	const char *argv[] = { agent_path, "write", target, "--campaign", camp, "--cycle", "3",
			       "--span-mib", "8", "--duration", "30", "--ledger", p, "--token", token,
			       "--quiet", NULL };
	struct child c = { .argv = argv, .in = CHILD_NULL, .out = CHILD_PIPE, .err = CHILD_NULL };
	assert_int_equal(child_start(&c), 0);
	struct timespec ts = { 0, 10000000 };
	int64_t t0 = clock_mono_ns(), t1;
	do {
		nanosleep(&ts, NULL);
		ledger_get_stats(l, &s1);
		t1 = clock_mono_ns();
	} while (s1.acks < s0.acks + 200 && t1 - t0 < 20000000000LL);
	assert_true(s1.acks >= s0.acks + 200);
	ledger_set_cycle(l, 4);
	char out[4096] = "";
	size_t len = 0;
	ssize_t r;
	while (len < sizeof(out) - 1 && (r = read(c.fd_out, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)r;
	int status;
	assert_int_equal(child_finish(&c, 10000, &status), 0);
	t1 = clock_mono_ns();
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	assert_true(t1 - t0 < 20000000000LL);
	refusals_ledger_line(out, &st, &why);
	assert_string_equal(st, "rejected");
	assert_string_equal(why, "cycle is over");

	/* The host's ledger goes away mid-run and does not come back within the agent's
	 * wait: the session cannot be confirmed, the agent fails (the host never dies in a
	 * cycle; if it did, the record is incomplete). */
	ledger_set_cycle(l, 5);
	const char *argv5[] = { agent_path, "write", target, "--campaign", camp, "--cycle", "5",
				"--span-mib", "8", "--duration", "1", "--ledger", p, "--token", token,
				"--quiet", NULL };
	struct child c5 = { .argv = argv5, .in = CHILD_NULL, .out = CHILD_PIPE, .err = CHILD_NULL };
	ledger_get_stats(l, &s0);
	assert_int_equal(child_start(&c5), 0);
	t0 = clock_mono_ns();
	do {
		nanosleep(&ts, NULL);
		ledger_get_stats(l, &s1);
		t1 = clock_mono_ns();
	} while (s1.acks == s0.acks && t1 - t0 < 20000000000LL);
	assert_true(s1.acks > s0.acks);
	ledger_free(l);
	len = 0;
	out[0] = 0;
	while (len < sizeof(out) - 1 && (r = read(c5.fd_out, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = 0;
	assert_int_equal(child_finish(&c5, 10000, &status), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	refusals_ledger_line(out, &st, &why);
	assert_string_equal(st, "unconfirmed");
}

#endif
