/* `powercut cycle` on the full tier: one firmware-timed power cut of a TCG guest
 * (build/guest) with three disks on the volatile disk model — qcow2 (cluster 128k,
 * extended_l2, lazy_refcounts, preallocation=metadata, a backing chain), raw, and an
 * LVM-thin pool and LV built by the guest — from the first boot through the checks
 * after the reboot: qemu-img check on the qcow2, thin_check at activation and lvs for
 * the pool, the agent's check of every disk classified against the ledger, no
 * violation on the honest model (but the chain's base data lost to its overlay, the
 * second seed, which is counted and printed), the SATA drive's SMART before and after,
 * and nothing left running. Then the seed experiment
 * in the guest: the process-kill cut without flushes rolls the qcow2 overlay back to
 * its backing file's baseline while raw keeps every write.
 *
 * The guest is built first with scripts/build-guest (cached: about a second when up to
 * date; the first build downloads Debian packages). If it cannot be built, or
 * qemu-system-x86_64 is missing, the test skips and says why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"

static struct e2e E;

static void full_cycle_three_disks(void **state)
{
	int code;
	json_t *j = e2e_cycle(&E, "sim-full.ini", &code, NULL);

	if (!j || code != 0)
		fail_msg("powercut cycle exited %d%s", code, j ? "" : " without JSON");
	char *timing = json_dumps(json_object_get(j, "timing"), JSON_COMPACT);
	print_message("status %s, timing %s\n", json_string_value(json_object_get(j, "status")),
		      timing);
	free(timing);
	/* The rig's own time: the whole cycle less every wait on the node, each wait
	 * counted once (the boot after the cut was once counted twice, making it < 0). */
	json_t *t = json_object_get(j, "timing");
	double total = json_real_value(json_object_get(t, "total_s"));
	double own = json_real_value(json_object_get(t, "overhead_s"));
	if (!(own > 0 && own < total))
		fail_msg("overhead_s %.3f is not within (0, total_s %.3f)", own, total);
	assert_int_equal(e2e_leftovers(&E), 0);
	assert_string_equal(json_string_value(json_object_get(j, "tier")), "full");
	assert_string_equal(json_string_value(json_object_get(j, "timed_by")), "firmware");
	/* The chain may lose its base's data to the overlay (the second seed): counted,
	 * printed; nothing else may be lost. */
	long long seed2 = e2e_int(e2e_disk(j, "a-qcow2"), "carried_lost");
	if (seed2)
		print_message("  the chain lost %lld block(s) of its base (the second seed)\n", seed2);
	assert_string_equal(json_string_value(json_object_get(j, "status")),
			    seed2 ? "violation" : "ok");
	assert_int_equal(e2e_int(j, "violations"), seed2);
	assert_int_equal(json_array_size(json_object_get(j, "disks")), 3);

	size_t i, k;
	json_t *d, *c;
	json_array_foreach(json_object_get(j, "disks"), i, d) {
		const char *name = json_string_value(json_object_get(d, "disk"));
		char *cls = json_dumps(json_object_get(d, "classes"), JSON_COMPACT);
		print_message("  %s: %s\n", name, cls);
		free(cls);
		assert_true(json_is_true(json_object_get(d, "verified")));
		assert_true(e2e_int(d, "blocks") > 0);
		assert_int_equal(!strcmp(name, "a-qcow2") ? e2e_chain_violations(d) :
				 e2e_int(d, "violations"), 0);
		assert_int_equal(e2e_int(d, "gaps"), 0);
		/* Every block of the span was read back and is a generation of this campaign. */
		assert_int_equal(e2e_class(d, "corrupt") + e2e_class(d, "misdirected"), 0);
		bool qimg = false, thin = false, lvs = false;
		json_array_foreach(json_object_get(d, "checks"), k, c) {
			const char *kind = json_string_value(json_object_get(c, "kind"));
			const char *res = json_string_value(json_object_get(c, "result"));
			if (!strcmp(kind, "qemu-img-check")) {
				qimg = true;
				/* lazy_refcounts: repaired by the next open is expected */
				assert_true(!strcmp(res, "clean") || !strcmp(res, "repaired"));
			} else if (!strcmp(kind, "thin_check")) {
				thin = true;
				assert_string_equal(res, "pass");
			} else if (!strcmp(kind, "lvs")) {
				lvs = true;
				assert_string_equal(res, "ok");
				assert_true(json_is_object(json_object_get(c, "detail")));
			}
		}
		if (!strcmp(name, "a-qcow2"))
			assert_true(qimg);
		/* b-raw is an emulated SATA drive: its testimony before and after */
		if (!strcmp(name, "b-raw")) {
			json_t *sm = NULL;
			json_array_foreach(json_object_get(d, "checks"), k, c)
				if (!strcmp(json_string_value(json_object_get(c, "kind")), "smart"))
					sm = c;
			assert_non_null(sm);
			json_t *det = json_object_get(sm, "detail");
			assert_string_equal(json_string_value(json_object_get(json_object_get(det,
					    "before"), "protocol")), "ATA");
			assert_string_equal(json_string_value(json_object_get(json_object_get(det,
					    "after"), "protocol")), "ATA");
		}
		if (!strcmp(name, "c-thin"))
			assert_true(thin && lvs);
	}
	/* Two boots: the workload's and the one after power came back. */
	assert_int_equal(e2e_int(json_object_get(j, "node"), "boots"), 2);
	json_decref(j);
}

/* The seed experiment on the full tier: kill -9 of QEMU while the guest writes without
 * flushing. The qcow2 overlay's new clusters were only in QEMU's metadata cache: the
 * blocks read back as the backing file's baseline; raw keeps every acknowledged
 * write (the host's cache, nbdkit, survived). */
static void full_seed_kill(void **state)
{
	int code;
	json_t *j = e2e_cycle(&E, "sim-full.ini", &code, "campaign.cut=kill",
			      "workload.flush=never", "node.writeback=none", "node.tear=no", NULL);

	if (!j || code != 0)
		fail_msg("powercut cycle exited %d%s", code, j ? "" : " without JSON");
	assert_int_equal(e2e_leftovers(&E), 0);
	json_t *q = e2e_disk(j, "a-qcow2"), *r = e2e_disk(j, "b-raw");
	assert_non_null(q);
	assert_non_null(r);
	print_message("kill, no flush: qcow2 rolled back %lld, raw lost %lld\n",
		      e2e_class(q, "unflushed_lost_older"),
		      e2e_class(r, "unflushed_lost_older") + e2e_class(r, "unflushed_lost_zero"));
	assert_true(e2e_class(q, "unflushed_lost_older") > 0);
	assert_int_equal(e2e_class(r, "unflushed_lost_older") + e2e_class(r, "unflushed_lost_zero"), 0);
	assert_int_equal(e2e_int(j, "violations"), 0);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_cycle_three_disks),
		cmocka_unit_test(full_seed_kill),
	};

	static const char *const progs[] = { "qemu-system-x86_64", "qemu-storage-daemon", "nbdkit",
					     NULL };
	/* The guest, built (or found up to date) where powercut looks for it. */
	return E2E_RUN_GROUP(&E, progs, tests, 0);
}
