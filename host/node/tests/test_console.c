/* The guest's console (console.c) for the ZFS and SMART events of docs/guest.md: every
 * rule from the lines that must trigger it. zpool-import-ro/zpool-import/zpool-scrub
 * results (pass, fail, not-run; clean, repaired, corrupt, fail), zpool's reports kept
 * as detail, smart events before and after (the kernel's write-cache view added), a
 * write boot forgetting the last cycle's reports, out-of-range disk ids ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "console.h"

static void feed(struct guest_console *c, const char *s)
{
	guest_console_feed(c, s, strlen(s));
}

static const char *result(json_t *checks, const char *kind)
{
	size_t i;
	json_t *c;

	json_array_foreach(checks, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "kind")), kind))
			return json_string_value(json_object_get(c, "result"));
	return "(missing)";
}

static json_t *detail(json_t *checks, const char *kind)
{
	size_t i;
	json_t *c;

	json_array_foreach(checks, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "kind")), kind))
			return json_object_get(c, "detail");
	return NULL;
}

static const char SCAN[] = "POWERCUT zpool phase=scan {\"cmd\":\"zpool import -d /dev\",\"rc\":0,"
			   "\"text\":\"   pool: pcpool\\n  state: ONLINE\"}\r\n";

static void zfs_after_cut(void **state)
{
	struct guest_console c;
	json_t *log = json_array(), *checks = json_array();

	guest_console_init(&c, 2);
	guest_console_boot(&c, log, 2, true);
	feed(&c, SCAN);
	feed(&c, "POWERCUT zfs op=import-ro status=ok rc=0 health=ONLINE ms=800\n"
		 "POWERCUT zpool phase=import-ro {\"cmd\":\"zpool status -p pcpool\",\"rc\":0,"
		 "\"text\":\"  pool: pcpool\"}\n"
		 "POWERCUT zfs op=import status=ok rc=0 health=ONLINE ms=700\n"
		 "POWERCUT zfs op=scrub status=ok rc=0 repaired=0B errors=0 health=ONLINE ms=300\n");
	guest_console_zfs_checks(&c, checks);
	assert_string_equal(result(checks, "zpool-import-ro"), "pass");
	assert_string_equal(result(checks, "zpool-import"), "pass");
	assert_string_equal(result(checks, "zpool-scrub"), "clean");
	json_t *ro = detail(checks, "zpool-import-ro");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ro, "scan"), "text")),
			    "   pool: pcpool\n  state: ONLINE");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ro, "status"), "cmd")),
			    "zpool status -p pcpool");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ro, "event"), "health")),
			    "ONLINE");
	json_decref(checks);

	/* the scrub repaired something: not a failure */
	checks = json_array();
	feed(&c, "POWERCUT zfs op=scrub status=ok rc=0 repaired=4K errors=0 health=ONLINE ms=300\n");
	guest_console_zfs_checks(&c, checks);
	assert_string_equal(result(checks, "zpool-scrub"), "repaired");
	json_decref(checks);
	/* the scrub found errors it could not repair: corrupt */
	checks = json_array();
	feed(&c, "POWERCUT zfs op=scrub status=ok rc=0 repaired=0B errors=3 health=ONLINE ms=300\n");
	guest_console_zfs_checks(&c, checks);
	assert_string_equal(result(checks, "zpool-scrub"), "corrupt");
	json_decref(checks);
	/* the scrub itself failed */
	checks = json_array();
	feed(&c, "POWERCUT zfs op=scrub status=fail rc=1 repaired= errors= health=DEGRADED ms=30\n");
	guest_console_zfs_checks(&c, checks);
	assert_string_equal(result(checks, "zpool-scrub"), "fail");
	json_decref(checks);
	guest_console_release(&c);
	json_decref(log);
}

/* A pool that does not import: both imports fail (a metadata failure), no scrub ran. */
static void zfs_no_import(void **state)
{
	struct guest_console c;
	json_t *log = json_array(), *checks = json_array();

	guest_console_init(&c, 1);
	guest_console_boot(&c, log, 2, true);
	feed(&c, SCAN);
	feed(&c, "POWERCUT zfs op=import-ro status=fail rc=1 ms=900\n"
		 "POWERCUT zfs op=import status=fail rc=1 ms=800\n");
	guest_console_zfs_checks(&c, checks);
	assert_string_equal(result(checks, "zpool-import-ro"), "fail");
	assert_string_equal(result(checks, "zpool-import"), "fail");
	assert_string_equal(result(checks, "zpool-scrub"), "not-run");
	json_decref(checks);
	/* a new boot forgets the last one's events: nothing ran */
	checks = json_array();
	guest_console_boot(&c, log, 3, true);
	guest_console_zfs_checks(&c, checks);
	assert_string_equal(result(checks, "zpool-import-ro"), "not-run");
	assert_string_equal(result(checks, "zpool-import"), "fail");
	json_decref(checks);
	guest_console_release(&c);
	json_decref(log);
}

static void smart_before_after(void **state)
{
	struct guest_console c;
	json_t *log = json_array(), *checks = json_array();
	static const char NV[] = "{\"device\":{\"protocol\":\"NVMe\"},\"model_name\":\"QEMU NVMe Ctrl\","
				 "\"firmware_version\":\"7.2.22\",\"serial_number\":\"pc1\","
				 "\"nvme_smart_health_information_log\":{\"unsafe_shutdowns\":%d,"
				 "\"power_cycles\":3}}";
	char line[512], js[400];

	guest_console_init(&c, 2);
	guest_console_boot(&c, log, 1, false);
	snprintf(js, sizeof(js), NV, 5);
	snprintf(line, sizeof(line), "POWERCUT smart disk=1 phase=before dev=/dev/nvme0n1 wc=back %s\n", js);
	feed(&c, line);
	/* ids outside the bench's disks are ignored */
	snprintf(line, sizeof(line), "POWERCUT smart disk=9 phase=before dev=/dev/sda wc=back %s\n", js);
	feed(&c, line);
	guest_console_boot(&c, log, 2, true);	/* the check boot keeps the write boot's */
	snprintf(js, sizeof(js), NV, 6);
	snprintf(line, sizeof(line), "POWERCUT smart disk=1 phase=after dev=/dev/nvme0n1 wc=back %s\n", js);
	feed(&c, line);
	guest_console_smart_check(&c, 0, true, checks);
	guest_console_smart_check(&c, 1, true, checks);	/* disk 2 testified nothing */
	assert_int_equal(json_array_size(checks), 1);
	assert_string_equal(result(checks, "smart"), "counted");
	json_t *d = detail(checks, "smart");
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "before"),
			    "write_cache")), "on");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "after"),
			 "unsafe_shutdowns")), 6);
	assert_true(json_is_object(json_object_get(d, "smartctl_before")));
	json_decref(checks);
	/* a process kill: the drive kept its power */
	checks = json_array();
	guest_console_smart_check(&c, 0, false, checks);
	assert_string_equal(result(checks, "smart"), "no-power-cut");
	json_decref(checks);

	/* the next cycle's write boot forgets both; an after without a before: no data */
	guest_console_boot(&c, log, 3, false);
	checks = json_array();
	guest_console_smart_check(&c, 0, true, checks);
	assert_int_equal(json_array_size(checks), 0);
	guest_console_boot(&c, log, 4, true);
	feed(&c, line);
	guest_console_smart_check(&c, 0, true, checks);
	assert_string_equal(result(checks, "smart"), "no-data");
	json_decref(checks);
	/* a smart event without a payload (smartctl printed nothing) counts as none */
	checks = json_array();
	feed(&c, "POWERCUT smart disk=2 phase=after dev=none wc=none\n");
	guest_console_smart_check(&c, 1, true, checks);
	assert_string_equal(result(checks, "smart"), "no-data");
	json_decref(checks);
	guest_console_release(&c);
	json_decref(log);
}

/* The console's own signs of a dead guest (guest_console_dead): the kernel's panic,
 * as panic() prints it on ttyS0 (kernel/panic.c: the reason, a stack dump, the end
 * marker), with the console's last lines; a console silent for the limit, at the stage
 * of its last POWERCUT event; neither while it talks. */
static void dead_guest(void **state)
{
	struct guest_console c;
	struct node_death d;

	guest_console_init(&c, 1);
	guest_console_boot(&c, NULL, 1, false);
	assert_false(guest_console_dead(&c, 60000, "the guest", &d));
	/* Silent since the boot began (the kernel's stage), then past the limit. */
	c.heard_ms -= 61000;
	assert_true(guest_console_dead(&c, 60000, "the guest", &d));
	assert_int_equal(d.life, NODE_LIFE_SILENT);
	assert_int_equal(d.code, 61);
	assert_string_equal(d.what, "the console of the guest has been silent for 61 s at stage "
			    "'kernel'");
	/* No limit: never silent. */
	assert_false(guest_console_dead(&c, 0, "the guest", &d));
	/* Each byte counts; the stage is the last event's name. */
	feed(&c, "POWERCUT boot contract=1 mode=write\r\nPOWERCUT ctl state=open port=ttyS1\r\n");
	assert_false(guest_console_dead(&c, 60000, "the guest", &d));
	c.heard_ms -= 60000;
	assert_true(guest_console_dead(&c, 60000, "the guest", &d));
	assert_non_null(strstr(d.what, "at stage 'ctl'"));
	/* A panic, whenever it came: dead, with its reason and the last lines. */
	feed(&c, "[    9.000000] Kernel panic - not syncing: Attempted to kill init! "
	     "exitcode=0x00000100\r\n[    9.000100] CPU: 0 PID: 1 Comm: init\r\n"
	     "[    9.000200] Call Trace:\r\n[    9.000300]  <TASK>\r\n[    9.000400]  dump_stack\r\n"
	     "[    9.000500]  panic+0x10/0x20\r\n[    9.000600]  do_exit\r\n"
	     "[    9.001000] ---[ end Kernel panic - not syncing: Attempted to kill init! "
	     "exitcode=0x00000100 ]---\r\n");
	assert_true(guest_console_dead(&c, 0, "the guest", &d));
	assert_int_equal(d.life, NODE_LIFE_PANICKED);
	assert_non_null(strstr(d.what, "the guest panicked (Kernel panic - not syncing: Attempted "
			       "to kill init! exitcode=0x00000100); its console ends with: "));
	/* the last six lines, in order, the control characters gone */
	assert_non_null(strstr(d.what, "<TASK> | [    9.000400]  dump_stack | "));
	assert_non_null(strstr(d.what, "| [    9.001000] ---[ end Kernel panic"));
	assert_null(strstr(d.what, "CPU: 0"));
	assert_null(strchr(d.what, '\r'));
	/* A new boot starts alive. */
	guest_console_boot(&c, NULL, 2, true);
	assert_false(guest_console_dead(&c, 60000, "the guest", &d));
	guest_console_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(zfs_after_cut),
		cmocka_unit_test(zfs_no_import),
		cmocka_unit_test(smart_before_after),
		cmocka_unit_test(dead_guest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
