/* `powercut doctor` end to end: the real binary against
 *  - the simulated bench (rig/benches/sim.ini): every check ok, exit 0;
 *  - a Proxmox bench whose node refuses ssh (nothing listens on its port): the ssh
 *    check fails with ssh's reason, exit 1;
 *  - a Proxmox bench whose node is a private sshd on 127.0.0.1 (sshd_helper) with
 *    Proxmox's tools replaced by scripts on the session's PATH that answer as a
 *    Proxmox VE 8 node does (SYNTHETIC: written from pve-manager's and pvesh's
 *    documented output, not recorded on a node): the bench's storage 'nosuch' does
 *    not exist (pvesh dies "storage 'nosuch' does not exist", exit 255, as
 *    PVE::Storage's storage_config does) and VMID 9000 belongs to another VM (listed
 *    by /cluster/resources). Both named, exit 1; the rest ok.
 * Skips (77) without sshd. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "child.h"
#include "e2e.h"
#include "sshd_helper.h"

static int failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); \
		       printf("\n"); failures++; } \
} while (0)

static struct e2e E;

/* Run doctor --json on bench (its run directory a private one); its exit status into
 * *code, its JSON returned. */
static json_t *doctor(const char *bench, int *code)
{
	char run[PATH_MAX + 64];
	snprintf(run, sizeof(run), "bench.run_dir=%s/run", E.tmp);
	const char *argv[] = { E.powercut, "doctor", "--json", "--set", run, bench, NULL };
	struct child_result r;
	json_error_t e;
	json_t *j;

	*code = -1;
	if (child_run(argv, NULL, 120000, &r) < 0) {
		child_result_release(&r);
		return NULL;
	}
	*code = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
	if (!(j = json_loads(r.out ? r.out : "", 0, &e)))
		printf("doctor printed no JSON: %s\n--- stdout\n%s--- stderr\n%s", e.text,
		       r.out ? r.out : "", r.err ? r.err : "");
	child_result_release(&r);
	return j;
}

/* The check named name in doctor's JSON, or NULL. */
static json_t *check(json_t *j, const char *name)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(j, "checks"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "check")), name))
			return c;
	return NULL;
}

static const char *field(json_t *j, const char *name, const char *key)
{
	json_t *c = check(j, name);
	const char *v = c ? json_string_value(json_object_get(c, key)) : NULL;

	return v ? v : "";
}

static void test_sim(void)
{
	char bench[PATH_MAX + 32];
	int code;

	snprintf(bench, sizeof(bench), "%s/rig/benches/sim.ini", E.root);
	json_t *j = doctor(bench, &code);
	CHECK(j && code == 0, "sim.ini: exit %d", code);
	if (!j)
		return;
	size_t i, n = 0;
	json_t *c;
	json_array_foreach(json_object_get(j, "checks"), i, c) {
		n++;
		CHECK(!strcmp(json_string_value(json_object_get(c, "status")), "ok"),
		      "sim.ini: check '%s' is %s: %s", json_string_value(json_object_get(c, "check")),
		      json_string_value(json_object_get(c, "status")),
		      json_string_value(json_object_get(c, "found")));
	}
	CHECK(!strcmp(json_string_value(json_object_get(j, "result")), "ok"), "sim.ini: result");
	/* The relay, its firmware and PWR_OK, the node's tools, the space: all there. */
	for (const char *const *w = (const char *const[]){ "relay", "firmware", "settings", "pwrok",
		"clock", "qemu-img", "qemu-storage-daemon", "nbdkit", "space", NULL }; *w; w++)
		CHECK(check(j, *w), "sim.ini: no check '%s'", *w);
	printf("ok   sim.ini: %zu checks, every one ok\n", n);
	json_decref(j);
}

/* The bench, and a known_hosts file naming the helper's host key for this port. */
static int write_bench(const char *path, const struct tsshd *t, int port, const char *dir)
{
	char text[32768], kh[PATH_MAX + 32];
	size_t len;

	snprintf(kh, sizeof(kh), "%s/hostkey.pub", t->dir);
	char *pub = tsshd_read_file(kh, &len);
	if (!pub)
		return -ENOENT;
	snprintf(text, sizeof(text), "[127.0.0.1]:%d %s", port, pub);
	free(pub);
	snprintf(kh, sizeof(kh), "%s/known_hosts", dir);
	tsshd_write_file(kh, text);

	snprintf(text, sizeof(text),
		 "[bench]\nname = doctortest\nrun_dir = %s/run\n"
		 "[relay]\ndriver = null\nchannels = 1\ndc_source = relay\n"
		 "[node]\ndriver = proxmox\nhost = 127.0.0.1\nport = %d\nuser = %s\n"
		 "identity = %s/userkey\nknown_hosts = %s/known_hosts\nvmid = 9000\n"
		 "storages = t=local-lvm q=nosuch\nguest = %s/guest\n"
		 "[disk q]\nformat = qcow2\nsize = 1G\npreallocation = metadata\n"
		 "[disk t]\nformat = lvmthin\nsize = 1G\n",
		 dir, port, t->user, t->dir, dir, dir);
	return tsshd_write_file(path, text);
}

/* Proxmox VE's tools as scripts: what each prints on a PVE 8 node. */
static const struct { const char *name, *text; } fakes[] = {
	{ "pveversion", "#!/bin/sh\necho 'pve-manager/8.2.4/faa83925c9641325 (running kernel: "
	  "6.8.12-1-pve)'\n" },
	{ "qemu-system-x86_64", "#!/bin/sh\necho 'QEMU emulator version 9.0.2 (pve-qemu-kvm_9.0.2-2)'\n"
	  "echo 'Copyright (c) 2003-2024 Fabrice Bellard and the QEMU Project developers'\n" },
	{ "qemu-img", "#!/bin/sh\necho 'qemu-img version 9.0.2 (pve-qemu-kvm_9.0.2-2)'\n" },
	{ "lvm", "#!/bin/sh\necho '  LVM version:     2.03.16(2) (2022-05-18)'\n"
	  "echo '  Library version: 1.02.185 (2022-05-18)'\n" },
	{ "thin_check", "#!/bin/sh\necho 0.9.0\n" },
	/* pvesh get PATH [--opts]: the cluster of one node pve1, the LVM-thin storage
	 * local-lvm (active, 100 GiB free), no other storage, and VM 9000 "web1". */
	{ "pvesh", "#!/bin/sh\n"
	  "case \"$2\" in\n"
	  "/cluster/status) echo '[{\"id\":\"node/pve1\",\"ip\":\"192.0.2.10\",\"local\":1,"
	  "\"name\":\"pve1\",\"nodeid\":1,\"online\":1,\"type\":\"node\"}]' ;;\n"
	  "/storage/local-lvm) echo '{\"content\":\"rootdir,images\",\"digest\":\"9a8b\","
	  "\"storage\":\"local-lvm\",\"thinpool\":\"data\",\"type\":\"lvmthin\",\"vgname\":\"pve\"}' ;;\n"
	  "/storage/*) echo \"storage '${2#/storage/}' does not exist\" >&2; exit 255 ;;\n"
	  "/nodes/pve1/storage/local-lvm/status) echo '{\"active\":1,\"avail\":107374182400,"
	  "\"content\":\"images,rootdir\",\"enabled\":1,\"shared\":0,\"total\":214748364800,"
	  "\"type\":\"lvmthin\",\"used\":107374182400}' ;;\n"
	  "/cluster/resources) echo '[{\"id\":\"qemu/9000\",\"maxmem\":2147483648,\"name\":\"web1\","
	  "\"node\":\"pve1\",\"status\":\"running\",\"type\":\"qemu\",\"vmid\":9000},"
	  "{\"id\":\"qemu/100\",\"name\":\"db\",\"node\":\"pve1\",\"type\":\"qemu\",\"vmid\":100}]' ;;\n"
	  "*) echo \"no '$2' in this transcript\" >&2; exit 255 ;;\n"
	  "esac\n" },
};

static void test_proxmox(const struct tsshd *t)
{
	char dir[PATH_MAX + 16], bin[PATH_MAX + 32], path[PATH_MAX + 64], bench[PATH_MAX + 32];
	char extra[PATH_MAX + 96];
	struct child sshd;
	int code, port;

	snprintf(dir, sizeof(dir), "%s/doctor", t->dir);
	snprintf(bin, sizeof(bin), "%s/bin", dir);
	mkdir(dir, 0700);
	mkdir(bin, 0700);
	snprintf(path, sizeof(path), "%s/guest", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/guest/vmlinuz", dir);
	tsshd_write_file(path, "kernel");
	snprintf(path, sizeof(path), "%s/guest/initrd.cpio", dir);
	tsshd_write_file(path, "initrd");
	for (size_t i = 0; i < sizeof(fakes) / sizeof(fakes[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", bin, fakes[i].name);
		tsshd_write_file(path, fakes[i].text);
		chmod(path, 0755);
	}
	snprintf(bench, sizeof(bench), "%s/b.ini", dir);

	/* 1. Nothing listens on the node's ssh port. */
	port = tsshd_free_port();
	write_bench(bench, t, port, dir);
	json_t *j = doctor(bench, &code);
	CHECK(j && code == 1, "refused: exit %d", code);
	CHECK(!strcmp(field(j, "ssh", "status"), "fail"), "refused: ssh is '%s'",
	      field(j, "ssh", "status"));
	CHECK(strstr(field(j, "ssh", "found"), "connection refused"), "refused: '%s'",
	      field(j, "ssh", "found"));
	CHECK(*field(j, "ssh", "fix"), "refused: no fix");
	CHECK(!check(j, "vmid"), "refused: checks went on without ssh");
	CHECK(!strcmp(field(j, "relay", "status"), "ok"), "refused: relay");
	printf("ok   a node that refuses ssh: '%s'\n", field(j, "ssh", "found"));
	json_decref(j);

	/* 2. A plain Linux node for the qemu driver over ssh: this host's own QEMU and
	 * fio answer (no /dev/kvm here: accel = tcg says that is expected). */
	char qb[PATH_MAX + 32], text[32768], kh[PATH_MAX + 32];
	snprintf(kh, sizeof(kh), "%s/known_hosts", t->dir);
	snprintf(qb, sizeof(qb), "%s/q.ini", dir);
	snprintf(text, sizeof(text),
		 "[bench]\nname = doctorq\nrun_dir = %s/run\n"
		 "[relay]\ndriver = null\nchannels = 1\ndc_source = relay\n"
		 "[node]\ndriver = qemu\nhost = 127.0.0.1\nport = %d\nuser = %s\n"
		 "identity = %s/userkey\nknown_hosts = %s\naccel = tcg\n"
		 "remote_dir = %s/remote\nguest = %s/guest\n"
		 "[disk q]\nformat = qcow2\nsize = 64M\n", dir, t->port, t->user, t->dir, kh,
		 dir, dir);
	tsshd_write_file(qb, text);
	j = doctor(qb, &code);
	CHECK(j && code == 0, "qemu over ssh: exit %d", code);
	for (const char *const *w = (const char *const[]){ "ssh", "qemu", "qemu-img", "kvm",
		"remote-dir", "guest", NULL }; *w; w++)
		CHECK(!strcmp(field(j, *w, "status"), "ok"), "qemu over ssh: '%s' is '%s': %s", *w,
		      field(j, *w, "status"), field(j, *w, "found"));
	printf("ok   qemu over ssh: '%s'\n", field(j, "qemu", "found"));
	json_decref(j);

	/* 3. The node answers with Proxmox's tools on its PATH. */
	port = tsshd_free_port();
	snprintf(extra, sizeof(extra), "SetEnv PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin\n", bin);
	if (tsshd_start_extra(t, port, extra, &sshd) < 0) {
		CHECK(0, "cannot start the second sshd");
		return;
	}
	write_bench(bench, t, port, dir);
	j = doctor(bench, &code);
	tsshd_stop(&sshd);
	CHECK(j && code == 1, "node: exit %d", code);
	for (const char *const *w = (const char *const[]){ "ssh", "pveversion", "qemu", "qemu-img",
		"lvm2", "thin-tools", "pve-node", "storage t", "guest", NULL }; *w; w++)
		CHECK(!strcmp(field(j, *w, "status"), "ok"), "node: '%s' is '%s': %s", *w,
		      field(j, *w, "status"), field(j, *w, "found"));
	CHECK(!strcmp(field(j, "storage q", "status"), "fail") &&
	      strstr(field(j, "storage q", "found"), "'nosuch'") &&
	      strstr(field(j, "storage q", "found"), "does not exist"),
	      "node: storage q: %s", field(j, "storage q", "found"));
	CHECK(!strcmp(field(j, "vmid", "status"), "fail") &&
	      strstr(field(j, "vmid", "found"), "9000") && strstr(field(j, "vmid", "found"), "web1"),
	      "node: vmid: %s", field(j, "vmid", "found"));
	CHECK(strstr(field(j, "vmid", "fix"), "[node] vmid"), "node: vmid fix: %s",
	      field(j, "vmid", "fix"));
	CHECK(strstr(field(j, "pveversion", "found"), "pve-manager/8.2.4"), "node: pveversion");
	CHECK(!strcmp(json_string_value(json_object_get(j, "result")) ?: "", "fail"), "result");
	printf("ok   missing storage: '%s'\nok   VMID in use: '%s'\n", field(j, "storage q", "found"),
	       field(j, "vmid", "found"));
	json_decref(j);
}

int main(int argc, char **argv)
{
	static const char *const progs[] = { "qemu-storage-daemon", "nbdkit", NULL };
	struct tsshd t;
	const char *why;
	int rc = e2e_start(&E, progs);

	if (rc)
		return rc;
	test_sim();
	if (tsshd_setup(&t, &why) < 0) {
		tsshd_teardown(&t);
		e2e_cleanup(&E);
		printf("%d failures\nskip: %s\n", failures, why);
		return failures ? 1 : 77;
	}
	test_proxmox(&t);
	tsshd_teardown(&t);
	e2e_cleanup(&E);
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
