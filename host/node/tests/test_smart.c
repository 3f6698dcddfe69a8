/* The drive's testimony (smart.c) against smartctl's JSON: reports captured from the
 * guest's emulated drives (QEMU's NVMe controller and its SATA disk on AHCI:
 * *-qemu.json), and reports shaped as smartctl 7.3 documents them for fields QEMU
 * does not fill (an NVMe SSD's unsafe_shutdowns, an ATA SSD's attribute 174, a disk
 * that counts only 192: *-documented.json, ata-192-only.json). Fixtures are read from
 * host/node/tests/smart/ (the tests run from the source tree's top). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "smart.h"

static json_t *fixture(const char *name)
{
	char path[256];
	json_error_t err;

	snprintf(path, sizeof(path), "host/node/tests/smart/%s", name);
	json_t *j = json_load_file(path, 0, &err);
	if (!j)
		fail_msg("cannot load fixture '%s': %s (line %d)", path, err.text, err.line);
	return j;
}

static const char *sget(const json_t *s, const char *k)
{
	const char *v = json_string_value(json_object_get(s, k));
	return v ? v : "(none)";
}

static long long iget(const json_t *s, const char *k)
{
	const json_t *v = json_object_get(s, k);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* Captured from the guest (smartctl 7.3, Debian 12) on QEMU 7.2's emulated NVMe
 * controller (serial pc1) and its ide-hd on AHCI (serial pc2). */
static void qemu_drives(void **state)
{
	json_t *sc = fixture("nvme-qemu.json");
	json_t *s = smart_summary(sc);

	assert_string_equal(sget(s, "protocol"), "NVMe");
	assert_string_equal(sget(s, "model"), "QEMU NVMe Ctrl");
	assert_string_equal(sget(s, "serial"), "pc1");
	assert_non_null(json_string_value(json_object_get(s, "firmware")));
	/* QEMU keeps no count: a power cut is never counted */
	assert_int_equal(iget(s, "unsafe_shutdowns"), 0);
	assert_int_equal(iget(s, "power_cycles"), 0);
	assert_int_equal(smart_verdict(s, s, true, NULL), SMART_NOT_COUNTED);
	json_decref(s);
	json_decref(sc);

	sc = fixture("ata-qemu.json");
	s = smart_summary(sc);
	assert_string_equal(sget(s, "protocol"), "ATA");
	assert_string_equal(sget(s, "model"), "QEMU HARDDISK");
	assert_string_equal(sget(s, "serial"), "pc2");
	assert_string_equal(sget(s, "write_cache"), "on");
	/* QEMU's ATA attributes have neither 174 nor 192 */
	assert_int_equal(iget(s, "unsafe_shutdowns"), -1);
	assert_int_equal(iget(s, "power_cycles"), 0);
	assert_int_equal(smart_verdict(s, s, true, NULL), SMART_NO_COUNTER);
	json_decref(s);
	json_decref(sc);
}

static void nvme_documented(void **state)
{
	json_t *sc = fixture("nvme-documented.json");
	json_t *s = smart_summary(sc);

	assert_string_equal(sget(s, "protocol"), "NVMe");
	assert_string_equal(sget(s, "model"), "Samsung SSD 980 PRO 1TB");
	assert_string_equal(sget(s, "firmware"), "5B2QGXA7");
	assert_string_equal(sget(s, "serial"), "S5GXNF0R000000");
	assert_int_equal(iget(s, "unsafe_shutdowns"), 89);
	assert_int_equal(iget(s, "power_cycles"), 1234);
	assert_int_equal(iget(s, "smartctl_rc"), 0);
	/* NVMe's VWC is not in smartctl's JSON: unknown until the kernel's view is added */
	assert_string_equal(sget(s, "write_cache"), "unknown");
	json_decref(s);
	json_object_set_new(sc, "powercut_write_cache", json_string("write back"));
	s = smart_summary(sc);
	assert_string_equal(sget(s, "write_cache"), "on");
	json_decref(s);
	json_object_set_new(sc, "powercut_write_cache", json_string("write through"));
	s = smart_summary(sc);
	assert_string_equal(sget(s, "write_cache"), "off");
	json_decref(s);
	json_decref(sc);
}

static void ata_attributes(void **state)
{
	json_t *sc = fixture("ata-documented.json");
	json_t *s = smart_summary(sc);

	assert_string_equal(sget(s, "protocol"), "ATA");
	assert_string_equal(sget(s, "model"), "CT500MX500SSD1");
	assert_string_equal(sget(s, "firmware"), "M3CR043");
	/* 174 wins over 192 when a drive has both */
	assert_int_equal(iget(s, "unsafe_shutdowns"), 57);
	assert_int_equal(iget(s, "unsafe_attribute"), 174);
	assert_int_equal(iget(s, "power_cycles"), 412);
	assert_string_equal(sget(s, "write_cache"), "on");
	json_decref(s);
	json_decref(sc);

	sc = fixture("ata-192-only.json");
	s = smart_summary(sc);
	assert_int_equal(iget(s, "unsafe_shutdowns"), 21);
	assert_int_equal(iget(s, "unsafe_attribute"), 192);
	assert_int_equal(iget(s, "power_cycles"), 90);
	assert_string_equal(sget(s, "write_cache"), "off");
	assert_int_equal(iget(s, "smartctl_rc"), 4);
	json_decref(s);
	json_decref(sc);
}

static void no_report(void **state)
{
	json_t *s = smart_summary(NULL);
	assert_string_equal(sget(s, "protocol"), "none");
	json_decref(s);
	json_t *e = json_object();
	s = smart_summary(e);
	assert_string_equal(sget(s, "protocol"), "none");
	json_decref(s);
	json_decref(e);
}

/* Every verdict from the case that must give it. */
static void verdicts(void **state)
{
	json_t *sc = fixture("nvme-documented.json");
	json_t *b = smart_summary(sc), *a;
	json_t *none = smart_summary(NULL);
	const char *why = NULL;

	/* the drive counted the cut */
	json_object_set_new(json_object_get(sc, "nvme_smart_health_information_log"),
			    "unsafe_shutdowns", json_integer(90));
	a = smart_summary(sc);
	assert_int_equal(smart_verdict(b, a, true, &why), SMART_COUNTED);
	assert_string_equal(smart_verdict_name(SMART_COUNTED), "counted");
	assert_non_null(why);
	/* a process kill: the drive kept its power, whatever it counted */
	assert_int_equal(smart_verdict(b, a, false, &why), SMART_NO_CUT);
	json_decref(a);
	/* the cut was not counted: flagged */
	a = smart_summary(sc);
	json_object_set_new(a, "unsafe_shutdowns", json_integer(89));
	assert_int_equal(smart_verdict(b, a, true, &why), SMART_NOT_COUNTED);
	assert_non_null(strstr(why, "may not have reached"));
	/* no counter on one side */
	json_object_del(a, "unsafe_shutdowns");
	assert_int_equal(smart_verdict(b, a, true, &why), SMART_NO_COUNTER);
	/* no report before or after */
	assert_int_equal(smart_verdict(none, a, true, &why), SMART_NO_DATA);
	assert_int_equal(smart_verdict(b, none, true, NULL), SMART_NO_DATA);
	assert_int_equal(smart_verdict(NULL, NULL, true, NULL), SMART_NO_DATA);
	json_decref(a);
	json_decref(b);
	json_decref(none);
	json_decref(sc);
}

/* The check row a real node's driver and the full tier both store: the verdict as
 * result, both summaries and reports in detail, and the drive's device when named.
 * The documented NVMe report before, the same with one more unsafe shutdown after. */
static void check_row(void **state)
{
	json_t *b = fixture("nvme-documented.json"), *a = json_deep_copy(b);
	json_t *checks = json_array();

	json_object_set_new(json_object_get(a, "nvme_smart_health_information_log"),
			    "unsafe_shutdowns", json_integer(90));
	smart_check_add(checks, b, a, true, "/dev/nvme0n1");
	smart_check_add(checks, b, b, true, NULL);
	smart_check_add(checks, b, NULL, true, NULL);
	smart_check_add(checks, b, a, false, NULL);
	assert_int_equal(json_array_size(checks), 4);
	json_t *c = json_array_get(checks, 0), *d = json_object_get(c, "detail");
	assert_string_equal(sget(c, "kind"), "smart");
	assert_string_equal(sget(c, "result"), "counted");
	assert_string_equal(sget(d, "device"), "/dev/nvme0n1");
	assert_int_equal(iget(json_object_get(d, "before"), "unsafe_shutdowns"), 89);
	assert_int_equal(iget(json_object_get(d, "after"), "unsafe_shutdowns"), 90);
	assert_string_equal(sget(json_object_get(d, "after"), "model"), "Samsung SSD 980 PRO 1TB");
	assert_true(json_equal(json_object_get(d, "smartctl_after"), a));
	assert_string_equal(sget(json_array_get(checks, 1), "result"), "not-counted");
	assert_null(json_object_get(json_object_get(json_array_get(checks, 1), "detail"), "device"));
	assert_string_equal(sget(json_array_get(checks, 2), "result"), "no-data");
	assert_true(json_is_null(json_object_get(json_object_get(json_array_get(checks, 2),
								 "detail"), "smartctl_after")));
	assert_string_equal(sget(json_array_get(checks, 3), "result"), "no-power-cut");
	json_decref(checks);
	json_decref(a);
	json_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(qemu_drives),
		cmocka_unit_test(nvme_documented),
		cmocka_unit_test(ata_attributes),
		cmocka_unit_test(no_report),
		cmocka_unit_test(verdicts),
		cmocka_unit_test(check_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
