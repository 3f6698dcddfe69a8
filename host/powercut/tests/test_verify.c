/* powercut verify end to end: the static agent writes a file with a flush after every
 * write, streaming to a ledger in a campaign database made by the store's migrations;
 * then `powercut verify` must find nothing lost (exit 0), and after one written block is
 * zeroed it must report exactly that block as a flushed write lost to zeroes, a
 * violation (exit 1). Its error paths are fed too: no ledger session, an unreadable
 * report, missing options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "child.h"
#include "ledger.h"
#include "store.h"
#include "util.h"

#define CAMPAIGN "77"
#define TOKEN "verify-token"
#define BS 4096

static char bin[PATH_MAX + 16], dir[PATH_MAX], db_path[PATH_MAX + 16], img[PATH_MAX + 16];

/* Run powercut with args; returns its exit status, stdout and stderr in r. */
static int powercut(struct child_result *r, const char *const *args)
{
	const char *argv[32];
	char path[PATH_MAX + 32];
	int k = 0;

	snprintf(path, sizeof(path), "%s/powercut", bin);
	argv[k++] = path;
	while (*args && k < 31)
		argv[k++] = *args++;
	argv[k] = NULL;
	assert_int_equal(child_run(argv, NULL, 120000, r), 0);
	assert_true(WIFEXITED(r->status));
	return WEXITSTATUS(r->status);
}

static int setup(void **state)
{
	char *tmp = getenv("TMPDIR");

	assert_int_equal(pc_exe_dir(dir, sizeof(dir)), 0);
	/* build/host/powercut/tests -> build/bin */
	snprintf(bin, sizeof(bin), "%s/../../../bin", dir);
	snprintf(dir, sizeof(dir), "%s/pc-verify-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/c.db", dir);
	snprintf(img, sizeof(img), "%s/disk.img", dir);

	/* The campaign database as powercut makes it: the ledger tables come from the
	 * store's migrations. */
	struct store *st = store_open(db_path, STORE_CREATE | STORE_MIGRATE);
	assert_non_null(st);
	store_close(st);

	struct ledger_config cfg = { .campaign = 77, .token = TOKEN, .cycle = 1 };
	struct ledger *l = ledger_open(&cfg, db_path);
	assert_non_null(l);
	assert_int_equal(ledger_start(l), 0);
	char port[32], agent[PATH_MAX + 48];
	snprintf(port, sizeof(port), "127.0.0.1:%u", ledger_port(l));
	snprintf(agent, sizeof(agent), "%s/powercut-agent", bin);
	int fd = open(img, O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 << 20), 0);
	close(fd);
	const char *argv[] = { agent, "write", img, "--campaign", CAMPAIGN, "--cycle", "1",
			       "--span-mib", "4", "--block-size", "4096", "--flush", "always",
			       "--writes", "300", "--ledger", port, "--token", TOKEN, "--quiet",
			       NULL };
	struct child_result r;
	assert_int_equal(child_run(argv, NULL, 60000, &r), 0);
	if (!WIFEXITED(r.status) || WEXITSTATUS(r.status))
		fail_msg("agent write failed: %s", r.err);
	child_result_release(&r);
	assert_int_equal(ledger_quiesce(l, 100, 5000), 0);
	ledger_free(l);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* powercut verify of cycle 1 finds every block ok. */
static void verify_all_ok(void)
{
	struct child_result r;
	const char *args[] = { "verify", db_path, img, "--campaign", CAMPAIGN, "--cycle", "1",
			       "--disk", "0", NULL };

	int rc = powercut(&r, args);
	if (rc != 0)
		fail_msg("verify exited %d: %s%s", rc, r.out, r.err);
	assert_non_null(strstr(r.out, "1024 blocks: ok 1024"));
	assert_non_null(strstr(r.out, "violations 0"));
	child_result_release(&r);
}

static void test_nothing_lost(void **state)
{
	verify_all_ok();
}

/* The newest write of some block, from the ledger: a flushed generation >= 1. */
static long written_block(void)
{
	char sql[] = "SELECT block FROM oracle_ack WHERE gen >= 1 ORDER BY seq DESC LIMIT 1";
	struct store *st = store_open(db_path, 0);
	sqlite3_stmt *q;
	long block = -1;

	assert_non_null(st);
	assert_int_equal(sqlite3_prepare_v2(store_db(st), sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		block = (long)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	store_close(st);
	return block;
}

static void test_zeroed_block_is_a_violation(void **state)
{
	static const char zero[BS];
	struct child_result r;
	long block = written_block();
	json_error_t e;

	assert_true(block >= 0);
	int fd = open(img, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, zero, BS, (off_t)block * BS), BS);
	close(fd);

	const char *args[] = { "verify", db_path, img, "--campaign", CAMPAIGN, "--cycle", "1",
			       "--disk", "0", "--json", NULL };
	assert_int_equal(powercut(&r, args), 1);
	json_t *j = json_loads(r.out, 0, &e);
	if (!j)
		fail_msg("no JSON from verify: %s / %s", r.out, r.err);
	assert_int_equal(json_integer_value(json_object_get(j, "violations")), 1);
	json_t *counts = json_object_get(j, "counts");
	assert_int_equal(json_integer_value(json_object_get(counts, "flushed_lost_zero")), 1);
	assert_int_equal(json_integer_value(json_object_get(counts, "ok")), 1023);
	json_t *f = json_array_get(json_object_get(j, "findings"), 0);
	assert_int_equal(json_integer_value(json_object_get(f, "block")), block);
	assert_string_equal(json_string_value(json_object_get(f, "class")), "flushed_lost_zero");
	assert_int_equal(json_array_size(json_object_get(j, "findings")), 1);
	json_decref(j);
	child_result_release(&r);
}

static void test_errors(void **state)
{
	struct child_result r;
	const char *no_session[] = { "verify", db_path, img, "--campaign", CAMPAIGN, "--cycle",
				     "9", "--disk", "0", NULL };
	const char *bad_report[] = { "verify", db_path, "-", "--campaign", CAMPAIGN, "--cycle",
				     "1", "--disk", "0", "--report", "/nonexistent/r.jsonl", NULL };
	const char *no_cycle[] = { "verify", db_path, img, "--campaign", CAMPAIGN, "--disk", "0",
				   NULL };
	const char *no_db[] = { "verify", "/nonexistent/c.db", img, "--campaign", CAMPAIGN,
				"--cycle", "1", "--disk", "0", NULL };

	assert_int_equal(powercut(&r, no_session), 1);
	assert_non_null(strstr(r.err, "has no ledger session for campaign 77, cycle 9, disk 0"));
	child_result_release(&r);
	assert_int_equal(powercut(&r, bad_report), 1);
	assert_non_null(strstr(r.err, "cannot open check report '/nonexistent/r.jsonl'"));
	child_result_release(&r);
	assert_int_equal(powercut(&r, no_cycle), 2);
	assert_non_null(strstr(r.err, "invalid --cycle ''"));
	child_result_release(&r);
	assert_int_equal(powercut(&r, no_db), 1);
	child_result_release(&r);
}

/* A pass written later under the same cycle number (a backing chain's baseline for the
 * next cycle) with another seed and span: verify still checks with what the cycle's own
 * run wrote with, the first session of its phase, not the newest session. */
static void test_later_pass_not_taken(void **state)
{
	struct store *st = store_open(db_path, 0);
	assert_non_null(st);
	assert_int_equal(sqlite3_exec(store_db(st), "INSERT INTO oracle_session (campaign, cycle,"
		" disk, peer, block_size, span_blocks, seed, agent_hello_ns, host_hello_ns, phase, pass)"
		" SELECT campaign, cycle, disk, 'pass', 512, 64, 12345, 0, 0, phase + 1, 1 FROM"
		" oracle_session WHERE cycle = 1 LIMIT 1", NULL, NULL, NULL), SQLITE_OK);
	store_close(st);
	verify_all_ok();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_lost),
		cmocka_unit_test(test_later_pass_not_taken),
		cmocka_unit_test(test_zeroed_block_is_a_violation),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
