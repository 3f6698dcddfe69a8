/* `powercut cycle` on the fast tier, the cut coming from the real firmware in the
 * simulator (an armed, firmware-timed cut) through the PSU model to the node's power
 * domain. Each case is one complete cycle read back from --json:
 *   - the seed experiment, process-kill cut, no flush: qcow2 cache=none (backing
 *     chain, cluster 128k, extended_l2, lazy_refcounts) loses unflushed writes,
 *     rolled back to the baseline; raw on the same node loses none;
 *   - the same with a flush after every write (queue depth 1): qcow2 loses at most the
 *     one write in flight;
 *   - power cuts over the honest volatile cache (random write-back, tearing): no
 *     flushed write is ever lost, while unflushed ones are (but for the backing
 *     chain's base data lost to its overlay, the second seed: counted, printed);
 *   - the lying disk: a violation every time;
 *   - and after every run nothing of the node or the simulator is left running, also
 *     when the cycle is interrupted (SIGTERM) or the node cannot be prepared.
 * Skips when qemu-storage-daemon or nbdkit is missing. NODE_POWER_CYCLES sets the
 * number of honest power-cut cycles (default 3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"

static struct e2e E;

static json_t *run(const char *what, ...)
{
	const char *sets[24];
	int n = 0, code;
	va_list ap;

	va_start(ap, what);
	const char *s;
	while ((s = va_arg(ap, const char *)) && n < 23)
		sets[n++] = s;
	va_end(ap);
	while (n < 23)
		sets[n++] = NULL;
	json_t *j = e2e_cycle(&E, "sim-fast.ini", &code, sets[0], sets[1], sets[2], sets[3],
			      sets[4], sets[5], sets[6], sets[7], sets[8], sets[9], sets[10],
			      sets[11], sets[12], sets[13], sets[14], sets[15], NULL);
	if (!j || code != 0)
		fail_msg("%s: powercut cycle exited %d%s (%s)", what, code, j ? "" : " without JSON",
			 strerror(errno));
	double hold = json_real_value(json_object_get(j, "hold_up_ms"));
	print_message("%s: status %s, hold-up %.3f ms\n", what,
		      json_string_value(json_object_get(j, "status")), hold);
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(j, "disks"), i, d) {
		char *txt = json_dumps(json_object_get(d, "classes"), JSON_COMPACT);
		print_message("  %s: %s violations=%lld\n", json_string_value(json_object_get(d, "disk")),
			      txt, e2e_int(d, "violations"));
		free(txt);
	}
	assert_int_equal(e2e_leftovers(&E), 0);
	/* The cut came from the firmware, and PWR_OK fell a PSU hold-up (18 ms) after the
	 * relay opened, both on the firmware's clock. */
	assert_string_equal(json_string_value(json_object_get(j, "timed_by")), "firmware");
	assert_true(hold > 10 && hold < 40);
	return j;
}

static void seed_kill_no_flush(void **state)
{
	json_t *j = run("seed, kill, no flush", "campaign.cut=kill", "workload.flush=never",
			"node.writeback=none", "node.tear=no", NULL);
	json_t *q = e2e_disk(j, "qcow2"), *r = e2e_disk(j, "raw");
	assert_non_null(q);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(j, "cut")), "kill");
	/* qcow2: rolled back to the baseline of the backing file. */
	assert_true(e2e_class(q, "unflushed_lost_older") > 0);
	assert_int_equal(e2e_int(q, "violations"), 0);
	/* raw: the host survived, so every acknowledged write is there. */
	assert_int_equal(e2e_class(r, "unflushed_lost_older") + e2e_class(r, "unflushed_lost_zero"), 0);
	assert_int_equal(e2e_int(r, "violations"), 0);
	assert_true(e2e_class(r, "ok") > 0);
	json_decref(j);
}

static void seed_kill_flush(void **state)
{
	json_t *j = run("seed, kill, flush always", "campaign.cut=kill", "workload.flush=always",
			"workload.queue_depth=1", "node.writeback=none", "node.tear=no", NULL);
	json_t *q = e2e_disk(j, "qcow2");
	assert_non_null(q);
	/* At most the one write whose flush had not completed. */
	assert_true(e2e_class(q, "unflushed_lost_older") + e2e_class(q, "unflushed_lost_zero") <= 1);
	assert_true(e2e_class(q, "ok") > 0);
	assert_int_equal(e2e_int(q, "violations"), 0);
	json_decref(j);
}

static void power_honest(void **state)
{
	const char *env = getenv("NODE_POWER_CYCLES");
	int cycles = env && atoi(env) > 0 ? atoi(env) : 3;
	long long lost = 0;

	for (int i = 0; i < cycles; i++) {
		char seed[32];
		snprintf(seed, sizeof(seed), "campaign.seed=%d", 100 + i);
		json_t *j = run("power cut, honest disks", seed, "campaign.cut=power",
				"workload.flush=every-n", "workload.flush_n=500", NULL);
		json_t *q = e2e_disk(j, "qcow2");
		long long seed2 = e2e_int(q, "carried_lost");
		if (seed2)
			print_message("  the chain lost %lld block(s) of its base (the second seed)\n",
				      seed2);
		assert_string_equal(json_string_value(json_object_get(j, "status")),
				    seed2 ? "violation" : "ok");
		assert_int_equal(e2e_int(e2e_disk(j, "raw"), "violations"), 0);
		assert_int_equal(e2e_chain_violations(q), 0);
		assert_int_equal(e2e_int(j, "metadata_failures"), 0);
		size_t k;
		json_t *d;
		json_array_foreach(json_object_get(j, "disks"), k, d)
			lost += e2e_class(d, "unflushed_lost_older") + e2e_class(d, "unflushed_lost_zero") +
				e2e_class(d, "torn");
		json_decref(j);
	}
	/* The model must have lost something, or these cycles prove nothing. */
	assert_true(lost > 0);
}

static void power_lying_caught(void **state)
{
	json_t *j = run("power cut, lying disk", "campaign.cut=power", "disk.raw.control=lying",
			"workload.flush=every-n", "workload.flush_n=32", NULL);
	json_t *r = e2e_disk(j, "raw");
	assert_non_null(r);
	assert_true(e2e_int(r, "violations") > 0);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "violation");
	json_decref(j);
}

/* Interrupted in the middle of the workload (SIGTERM): exit 128+15, and the relay's
 * close, the power domain and the node's close leave nothing running. */
static void interrupted_leaves_nothing(void **state)
{
	int code;

	E.term_after_ms = 700;
	json_t *j = e2e_cycle(&E, "sim-fast.ini", &code, "campaign.window_min_ms=3000",
			      "campaign.window_max_ms=4000", NULL);
	json_decref(j);
	assert_int_equal(code, 128 + SIGTERM);
	assert_int_equal(e2e_leftovers(&E), 0);
}

/* A node that cannot come up (the full tier without a guest): a failure, not a hang,
 * and nothing left running. */
static void failed_prepare_leaves_nothing(void **state)
{
	int code;
	json_t *j = e2e_cycle(&E, "sim-fast.ini", &code, "node.tier=full",
			      "node.guest=/nonexistent-guest", NULL);
	json_decref(j);
	assert_int_equal(code, 1);
	assert_int_equal(e2e_leftovers(&E), 0);
}

/* LVM-thin needs the guest: the fast tier refuses the bench (exit 2). */
static void lvmthin_fast_refused(void **state)
{
	int code;
	json_t *j = e2e_cycle(&E, "sim-fast.ini", &code, "disk.raw.format=lvmthin", NULL);
	json_decref(j);
	assert_int_equal(code, 2);
	assert_int_equal(e2e_leftovers(&E), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seed_kill_no_flush),
		cmocka_unit_test(seed_kill_flush),
		cmocka_unit_test(power_honest),
		cmocka_unit_test(power_lying_caught),
		cmocka_unit_test(interrupted_leaves_nothing),
		cmocka_unit_test(failed_prepare_leaves_nothing),
		cmocka_unit_test(lvmthin_fast_refused),
	};

	static const char *const progs[] = { "qemu-storage-daemon", "nbdkit", "qemu-img", NULL };
	return E2E_RUN_GROUP(&E, progs, tests, -1);
}
