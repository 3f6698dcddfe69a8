/* `powercut cycle` against a node over ssh, the whole hardware path but the physics:
 * the relay is the real firmware in the simulator, the power domain follows the
 * firmware's PWR_OK edges as on a hardware bench (dc_source = pwrok), and the node is
 * this machine reached through a private sshd on 127.0.0.1 running the `qemu` driver's
 * guest (rig/benches/sim-remote.ini). The cut kills QEMU on the node (kill -9 over
 * ssh) while the guest writes without flushes. The qcow2 disk is a backing chain: its
 * baseline is written by a first boot (cycle - 1, flushed, clean stop) into the base,
 * then the overlay is created and the write boot's unflushed writes allocate clusters
 * in it, so the kill rolls some back to the base's older data (the seed experiment);
 * raw (cache=none) on the surviving node keeps every acknowledged write; both disks
 * are verified, no violation. After the cycle nothing of it runs and the node's run
 * directory is gone.
 * Skips with the reason when sshd, the guest (scripts/build-guest), QEMU or qemu-img
 * is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"
#include "sshd_helper.h"

static struct e2e E;
static struct tsshd T;

static void kill_cycle_over_ssh(void **state)
{
	char port[32], user[300], id[4200], kh[4200], rdir[PATH_MAX + 32];
	int code;

	snprintf(port, sizeof(port), "node.port=%d", T.port);
	snprintf(user, sizeof(user), "node.user=%s", T.user);
	snprintf(id, sizeof(id), "node.identity=%s/userkey", T.dir);
	snprintf(kh, sizeof(kh), "node.known_hosts=%s/known_hosts", T.dir);
	snprintf(rdir, sizeof(rdir), "node.remote_dir=%s/remote", E.tmp);
	json_t *j = e2e_cycle(&E, "sim-remote.ini", &code, port, user, id, kh, rdir,
			      "node.accel=tcg", NULL);
	if (!j || code != 0)
		fail_msg("powercut cycle exited %d%s", code, j ? "" : " without JSON");
	json_t *q = e2e_disk(j, "a-qcow2"), *r = e2e_disk(j, "b-raw");
	json_t *node = json_object_get(j, "node");
	print_message("status %s in %.1f s; qcow2 lost %lld, raw lost %lld; boots %lld\n",
		      json_string_value(json_object_get(j, "status")), E.last_wall_s,
		      e2e_class(q, "unflushed_lost_older") + e2e_class(q, "unflushed_lost_zero"),
		      e2e_class(r, "unflushed_lost_older") + e2e_class(r, "unflushed_lost_zero"),
		      e2e_int(node, "boots"));
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	assert_string_equal(json_string_value(json_object_get(j, "cut")), "kill");
	assert_string_equal(json_string_value(json_object_get(j, "timed_by")), "firmware");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "dc"),
							      "source")), "pwrok");
	/* The node is the remote driver's: reached over ssh, a baseline boot for the
	 * backing chain, a write boot and a check boot. */
	assert_string_equal(json_string_value(json_object_get(j, "tier")), "remote");
	assert_non_null(strstr(json_string_value(json_object_get(node, "host")), "@127.0.0.1:"));
	assert_int_equal(e2e_int(node, "boots"), 3);
	assert_non_null(q);
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(q, "verified")));
	assert_true(json_is_true(json_object_get(r, "verified")));
	assert_int_equal(e2e_class(r, "unflushed_lost_older") + e2e_class(r, "unflushed_lost_zero"), 0);
	assert_true(e2e_class(r, "ok") > 0);
	/* The chain's overlay lost unflushed writes to the base's baseline. */
	assert_true(e2e_class(q, "unflushed_lost_older") > 0);
	assert_int_equal(e2e_int(j, "violations"), 0);
	assert_int_equal(e2e_int(j, "metadata_failures"), 0);
	json_decref(j);

	/* Nothing runs that mentions the node's directory, and the run directory is gone
	 * (the guest's cache stays for the next cycle). */
	assert_int_equal(e2e_leftovers(&E), 0);
	char dir[PATH_MAX + 32];
	snprintf(dir, sizeof(dir), "%s/remote", E.tmp);
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "run.", 4))
			fail_msg("the node's run directory '%s/%s' was left", dir, de->d_name);
	closedir(d);
}

int main(void)
{
	char guest[PATH_MAX + 64];
	const char *why;

	if (!pc_in_path("qemu-system-x86_64") || !pc_in_path("qemu-img")) {
		printf("skip: qemu-system-x86_64 or qemu-img is missing\n");
		return 77;
	}
	/* sshd's files first, outside the directory where leftovers are looked for. */
	if (tsshd_setup(&T, &why) < 0) {
		tsshd_teardown(&T);
		printf("skip: %s\n", why);
		return 77;
	}
	int rc = e2e_init(&E);
	if (rc < 0) {
		tsshd_teardown(&T);
		printf("cannot find the repository or make a directory: %s\n", strerror(-rc));
		return 1;
	}
	snprintf(guest, sizeof(guest), "%s/../guest/vmlinux", E.bin);
	if (access(guest, R_OK) < 0 || access(E.powercut, X_OK) < 0) {
		e2e_cleanup(&E);
		tsshd_teardown(&T);
		printf("skip: no guest in '%s/../guest' (scripts/build-guest) or no powercut\n",
		       E.bin);
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kill_cycle_over_ssh),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	e2e_cleanup(&E);
	tsshd_teardown(&T);
	return rc ? 1 : 0;
}
