/* `powercut cycle` on the full tier with ZFS (rig/benches/sim-zvol.ini): the TCG guest
 * makes a pool on an emulated NVMe drive over the volatile disk model and the agent
 * writes a zvol in it; a raw disk sits on an emulated SATA drive. One firmware-timed
 * power cut each:
 *   - sync=standard: the pool imports read-only, then read-write, the scrub finds no
 *     error, and no flushed write is lost (flushes commit OpenZFS's intent log);
 *   - sync=disabled: flushes are ignored, so writes flushed since the last
 *     transaction group are lost: the control must show violations within a short
 *     campaign (up to three cycles: a cut right after a commit loses nothing).
 * Both drives' SMART reports (smartctl's JSON from QEMU's emulated NVMe and SATA
 * drives) are recorded before the workload and after the cut, as a "smart" check
 * naming the drive's model and firmware.
 *
 * The guest is built first with scripts/build-guest (which builds OpenZFS once per
 * kernel with scripts/build-zfs, cached outside the build tree). If it cannot be
 * built, or qemu-system-x86_64 is missing, the test skips and says why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"

static struct e2e E;

static json_t *check_of(json_t *d, const char *kind)
{
	size_t k;
	json_t *c;

	json_array_foreach(json_object_get(d, "checks"), k, c)
		if (!strcmp(json_string_value(json_object_get(c, "kind")), kind))
			return c;
	return NULL;
}

static const char *result_of(json_t *d, const char *kind)
{
	json_t *c = check_of(d, kind);

	return c ? json_string_value(json_object_get(c, "result")) : "(missing)";
}

/* The drive's testimony: both reports there, naming the drive. */
static void assert_smart(json_t *d, const char *protocol)
{
	json_t *c = check_of(d, "smart");

	assert_non_null(c);
	json_t *det = json_object_get(c, "detail");
	for (int k = 0; k < 2; k++) {
		json_t *s = json_object_get(det, k ? "after" : "before");
		const char *model = json_string_value(json_object_get(s, "model"));
		const char *fw = json_string_value(json_object_get(s, "firmware"));
		print_message("  smart %s %s: %s model '%s' firmware '%s' serial '%s' "
			      "write cache %s, verdict %s\n", k ? "after" : "before",
			      json_string_value(json_object_get(d, "disk")),
			      json_string_value(json_object_get(s, "protocol")), model, fw,
			      json_string_value(json_object_get(s, "serial")),
			      json_string_value(json_object_get(s, "write_cache")),
			      json_string_value(json_object_get(c, "result")));
		assert_string_equal(json_string_value(json_object_get(s, "protocol")), protocol);
		assert_non_null(model);
		assert_non_null(fw);
		assert_true(json_is_object(json_object_get(det, k ? "smartctl_after" :
							   "smartctl_before")));
	}
	/* A power cut of an emulated drive: QEMU keeps no unsafe-shutdown count, so
	 * the cut is flagged as not counted, or the drive reports no counter. */
	const char *v = json_string_value(json_object_get(c, "result"));
	assert_true(!strcmp(v, "not-counted") || !strcmp(v, "no-counter") || !strcmp(v, "counted"));
}

static void zvol_sync_standard(void **state)
{
	int code;
	json_t *j = e2e_cycle(&E, "sim-zvol.ini", &code, NULL);

	if (!j || code != 0)
		fail_msg("powercut cycle exited %d%s", code, j ? "" : " without JSON");
	print_message("sync=standard: %.1f s, status %s\n", E.last_wall_s,
		      json_string_value(json_object_get(j, "status")));
	assert_int_equal(e2e_leftovers(&E), 0);
	json_t *z = e2e_disk(j, "a-zvol"), *r = e2e_disk(j, "b-raw");
	assert_non_null(z);
	assert_non_null(r);
	char *cls = json_dumps(json_object_get(z, "classes"), JSON_COMPACT);
	print_message("  a-zvol: %s; import-ro %s, import %s, scrub %s\n", cls,
		      result_of(z, "zpool-import-ro"), result_of(z, "zpool-import"),
		      result_of(z, "zpool-scrub"));
	free(cls);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	assert_int_equal(e2e_int(j, "violations"), 0);
	assert_true(json_is_true(json_object_get(z, "verified")));
	assert_true(e2e_int(z, "blocks") > 0);
	assert_string_equal(result_of(z, "zpool-import-ro"), "pass");
	assert_string_equal(result_of(z, "zpool-import"), "pass");
	const char *scrub = result_of(z, "zpool-scrub");
	assert_true(!strcmp(scrub, "clean") || !strcmp(scrub, "repaired"));
	/* the read-only import's diagnostics: the scan and zpool status */
	json_t *ro = json_object_get(check_of(z, "zpool-import-ro"), "detail");
	assert_true(json_is_string(json_object_get(json_object_get(ro, "scan"), "text")));
	assert_true(json_is_string(json_object_get(json_object_get(ro, "status"), "text")));
	assert_smart(z, "NVMe");
	assert_smart(r, "ATA");
	json_decref(j);
}

/* A short campaign: sync=disabled loses flushed writes when the cut comes before the
 * next transaction group (every 5 s) commits them, so one cycle may lose none; up to
 * three cycles, of which one must. */
static void zvol_sync_disabled_control(void **state)
{
	int code;
	json_t *j = NULL, *z = NULL;

	for (int cycle = 1; cycle <= 3; cycle++) {
		json_decref(j);
		j = e2e_cycle(&E, "sim-zvol.ini", &code, "disk.a-zvol.sync=disabled", NULL);
		if (!j)
			fail_msg("powercut cycle exited %d without JSON", code);
		z = e2e_disk(j, "a-zvol");
		assert_non_null(z);
		char *cls = json_dumps(json_object_get(z, "classes"), JSON_COMPACT);
		print_message("sync=disabled, cycle %d: %.1f s, status %s, a-zvol %lld violation "
			      "block(s): %s\n", cycle, E.last_wall_s,
			      json_string_value(json_object_get(j, "status")),
			      e2e_int(z, "violations"), cls);
		free(cls);
		assert_int_equal(e2e_leftovers(&E), 0);
		assert_true(json_is_true(json_object_get(z, "verified")));
		if (e2e_int(z, "violations") > 0)
			break;
	}
	/* The control fires: flushed writes were lost... */
	assert_true(e2e_int(z, "violations") > 0);
	/* ...while the pool itself is consistent: what was lost was never committed. */
	assert_string_equal(result_of(z, "zpool-import-ro"), "pass");
	assert_string_equal(result_of(z, "zpool-import"), "pass");
	assert_int_equal(e2e_int(e2e_disk(j, "b-raw"), "violations"), 0);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(zvol_sync_standard),
		cmocka_unit_test(zvol_sync_disabled_control),
	};

	static const char *const progs[] = { "qemu-system-x86_64", "qemu-storage-daemon", "nbdkit",
					     NULL };
	/* The guest, built (or found up to date) where powercut looks for it. */
	return E2E_RUN_GROUP(&E, progs, tests, 1);
}
