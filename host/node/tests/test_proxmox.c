/* The proxmox node driver against SYNTHETIC TRANSCRIPTS: every reply below was written
 * by hand from Proxmox VE's documented commands and output formats (pvesm alloc/path/
 * free, qm create/set/start/stop/unlock/destroy/snapshot, pvesh get ... --output-format json,
 * qemu-img check --output=json, lvs --reportformat json; for zvols and drives, zfs
 * get/set, zpool list/status, pvs, lsblk and smartctl --json, each described where it
 * is used). None was recorded on a real Proxmox node: the driver has not yet met one
 * in CI.
 *
 * The seam: this program links a fake remote (remote.h) in place of remote_ssh.c. The
 * fake checks every argument vector the driver issues, in order, and answers from the
 * transcript, errors included (storage full, VM locked, volume exists, VM exists).
 *
 * With [node] fio the same cycle also starts fio beside the VM (nodefio.c: the job file
 * copied, fio started detached), stops it at the check and reads its output back. That
 * output is NOT synthetic: host/fio/tests/data/status-interval-cut.json is real output
 * of Debian's fio 3.33 captured by running rig/workloads/randwrite-load.fio here with
 * the driver's options (--thread --output-format=json --status-interval=1
 * --filesize=8M), cut in the middle of its third report as a power cut leaves it (only
 * the file name was replaced by the transcript's).
 */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "node.h"
#include "remote.h"
#include "smart.h"

extern const struct node_ops node_proxmox_ops;
extern int proxmox_poll_ms;
extern int proxmox_watch_ms;

/* One expected command and its reply. An expected word ending in '*' matches any word
 * starting with the rest; "*TEXT*" any word containing TEXT. "COPY" and "WAIT_UP" stand
 * for remote_copy/remote_wait_up; "FORWARD PORT" for remote_forward (the reply's out
 * is the node's port, a non-zero status a refused forward) and "CANCEL_FORWARD PORT"
 * for remote_forward_cancel. */
struct step {
	const char *argv[24];
	int status;
	const char *out, *err;
};

/* A reply that is the captured fio output (read at start). */
/* The proxmox driver alone: its keys are the bench's [node] keys here. */
static const struct node_ops *const pve_only[] = { &node_proxmox_ops, NULL };

static const char FIO_OUT[] = "(fio.json)";
static char *fio_json;

static const struct step *script;
static size_t n_steps, pos;
static char *issued_args[8];	/* every `--args` value, for content checks */
static size_t n_args;
static char *token_input;	/* the last standard input of `install` (the token) */

static void expect(const char *const argv[])
{
	char got[4096] = "";
	size_t off = 0;

	for (size_t i = 0; argv[i]; i++)
		off += (size_t)snprintf(got + off, sizeof(got) - off, "%s ", argv[i]);
	if (pos >= n_steps)
		fail_msg("unexpected command after the transcript ended: %s", got);
	const struct step *s = &script[pos];
	size_t i = 0;
	for (; s->argv[i] && argv[i]; i++) {
		const char *e = s->argv[i];
		size_t el = strlen(e);
		bool ok;
		if (el > 2 && e[0] == '*' && e[el - 1] == '*') {
			char mid[256];
			snprintf(mid, sizeof(mid), "%.*s", (int)(el - 2), e + 1);
			ok = strstr(argv[i], mid) != NULL;
		} else {
			ok = el && e[el - 1] == '*' ? !strncmp(e, argv[i], el - 1) : !strcmp(e, argv[i]);
		}
		if (!ok)
			fail_msg("step %zu: word %zu is '%s', expected '%s' (command: %s)", pos, i,
				 argv[i], e, got);
	}
	if (s->argv[i] || argv[i])
		fail_msg("step %zu: command has a different length: %s", pos, got);
	if (!strcmp(argv[0], "qm") && argv[1] && !strcmp(argv[1], "set") && argv[3] &&
	    !strcmp(argv[3], "--args") && n_args < 8) {
		/* The token is never on a command line (every test's job has "tok3n");
		 * a write boot names its file to QEMU instead. */
		if (strstr(argv[4], "tok3n") || strstr(argv[4], "powercut.token"))
			fail_msg("step %zu: the token is in `args`: %s", pos, argv[4]);
		if (strstr(argv[4], "powercut.mode=write") &&
		    !strstr(argv[4], " -fw_cfg name=opt/powercut/token,file=/var/lib/powercut/"
				     "9000/ledger-token "))
			fail_msg("step %zu: a write boot without the token's fw_cfg file: %s", pos,
				 argv[4]);
		issued_args[n_args++] = strdup(argv[4]);
	}
}

struct remote *remote_open(const struct bench_config *cfg, const char *run_dir)
{
	static int dummy;
	assert_string_equal(cfg->node->host, "pve1");
	return (struct remote *)&dummy;
}

void remote_close(struct remote *r)
{
}

int remote_run(struct remote *r, const char *const argv[], const char *input, int timeout_ms,
	       struct child_result *res)
{

	memset(res, 0, sizeof(*res));
	expect(argv);
	if (!strcmp(argv[0], "install")) {
		free(token_input);
		token_input = input ? strdup(input) : NULL;
	}
	const struct step *s = &script[pos++];
	res->out = strdup(s->out == FIO_OUT ? fio_json : s->out ? s->out : "");
	res->err = strdup(s->err ? s->err : "");
	res->out_len = strlen(res->out);
	res->err_len = strlen(res->err);
	res->status = (s->status & 0xff) << 8;
	return 0;
}

int remote_copy(struct remote *r, const char *local, const char *path, int timeout_ms)
{
	const char *base = strrchr(local, '/') + 1;
	const char *argv[] = { "COPY", base, path, NULL };
	struct stat st;

	expect(argv);
	pos++;
	return stat(local, &st) == 0 ? 0 : -ENOENT;
}

int remote_wait_up(struct remote *r, int timeout_ms)
{
	const char *argv[] = { "WAIT_UP", NULL };

	expect(argv);
	return script[pos++].status ? -ETIMEDOUT : 0;
}

int remote_forward(struct remote *r, int local_port, int *remote_port)
{
	char port[16];
	const char *argv[] = { "FORWARD", port, NULL };

	snprintf(port, sizeof(port), "%d", local_port);
	expect(argv);
	const struct step *s = &script[pos++];
	if (s->status)
		return -EPERM;
	*remote_port = atoi(s->out);
	return 0;
}

int remote_forward_cancel(struct remote *r, int local_port)
{
	char port[16];
	const char *argv[] = { "CANCEL_FORWARD", port, NULL };

	snprintf(port, sizeof(port), "%d", local_port);
	expect(argv);
	return script[pos++].status ? -ENOENT : 0;
}

const char *remote_name(const struct remote *r)
{
	return "root@pve1";
}

const char *remote_strerror(int err)
{
	return strerror(-err);
}

const char *remote_advice(int err)
{
	return "(the transport's advice)";
}

/* ---- the bench and its transcripts ---- */

static char work[4000], guest[4096], fio_job[4096 + 16], fio_bench[8192];

static const char *bench_text =
	"[bench]\nname = pvetest\n"
	"[relay]\ndriver = null\n"
	"[node]\ndriver = proxmox\nhost = pve1\nuser = root\nvmid = 9000\nsmart = no\n"
	"storages = local-lvm q=local\n"
	"[disk q]\nformat = qcow2\ncache = none\nsize = 1G\npreallocation = metadata\n"
	"[disk t]\nformat = lvmthin\ncache = writeback\nsize = 2G\n"
	"[workload]\nspan_mib = 16\n";

#define CLUSTER_STATUS \
	"[{\"id\":\"cluster\",\"name\":\"lab\",\"nodes\":1,\"quorate\":1,\"type\":\"cluster\"," \
	"\"version\":1},{\"id\":\"node/pve1\",\"ip\":\"192.0.2.10\",\"level\":\"\",\"local\":1," \
	"\"name\":\"pve1\",\"nodeid\":1,\"online\":1,\"type\":\"node\"}]"
/* qemu-img info --output=json of a fresh qcow2 volume (qemu 9's layout, trimmed): the
 * options the volume really has, whatever the bench asked for. */
#define QIMG_INFO(path, cluster, el2) \
	{ { "qemu-img", "info", "--output=json", "-f", "qcow2", path }, 0, \
	  "{\n    \"virtual-size\": 1073741824,\n    \"filename\": \"" path "\",\n" \
	  "    \"cluster-size\": " #cluster ",\n    \"format\": \"qcow2\",\n" \
	  "    \"actual-size\": 200704,\n    \"format-specific\": {\n" \
	  "        \"type\": \"qcow2\",\n        \"data\": {\n" \
	  "            \"compat\": \"1.1\",\n            \"compression-type\": \"zlib\",\n" \
	  "            \"lazy-refcounts\": false,\n            \"refcount-bits\": 16,\n" \
	  "            \"corrupt\": false,\n            \"extended-l2\": " el2 "\n" \
	  "        }\n    },\n    \"dirty-flag\": false\n}\n" }
/* The kernel's boot_id: a new random UUID at every boot of the node. */
#define BOOT_ID(id) { { "cat", "/proc/sys/kernel/random/boot_id" }, 0, id "\n" }
#define BOOT1 "5f0d3c1e-8a7b-4c2d-9e6f-0a1b2c3d4e5f"
#define BOOT2 "c2a9e4b7-1d3f-4e8a-b6c5-7d8e9f0a1b2c"
/* pmxcfs has mounted /etc/pve and this node's directory is there. */
#define PMXCFS_UP { { "test", "-d", "/etc/pve/nodes/pve1" }, 0, "" }

#define QVOL "local:9000/vm-9000-pc-q.qcow2"
#define QPATH "/var/lib/vz/images/9000/vm-9000-pc-q.qcow2"
#define TVOL "local-lvm:vm-9000-pc-t"
#define RDIR "/var/lib/powercut/9000"
/* Every write boot writes the token to a private file in RDIR through ssh's standard
 * input (the fake keeps the input for token_input) and names it to QEMU in `args`. */
#define TOKEN_FILE RDIR "/ledger-token"
#define TOKEN_WRITE { { "install", "-m", "0600", "/dev/stdin", TOKEN_FILE }, 0, "" }
#define FWCFG "-fw_cfg name=opt/powercut/token,file=" TOKEN_FILE
#define CONTENT(s) { "pvesh", "get", "/nodes/pve1/storage/" s "/content", "--vmid", "9000", \
		     "--output-format", "json" }

#define STEPS_Q \
	{ { "pvesh", "get", "/cluster/status", "--output-format", "json" }, 0, CLUSTER_STATUS }, \
	{ { "qm", "create", "9000", "--name", "powercut-9000", "--onboot", "0", "--memory", \
	    "1024", "--cores", "2", "--ostype", "l26" }, 0, "" }, \
	{ { "pvesh", "get", "/storage/local", "--output-format", "json" }, 0, \
	  "{\"content\":\"iso,vztmpl,images\",\"digest\":\"0f1e\",\"path\":\"/var/lib/vz\"," \
	  "\"storage\":\"local\",\"type\":\"dir\"}" }, \
	{ { "pvesm", "alloc", "local", "9000", "vm-9000-pc-q.qcow2", "1024M", "--format", \
	    "qcow2" }, 0, "Formatting '" QPATH "', fmt=qcow2 cluster_size=65536 " \
	  "extended_l2=off preallocation=off compression_type=zlib size=1073741824 " \
	  "lazy_refcounts=off refcount_bits=16\nsuccessfully created '" QVOL "'\n" }, \
	{ CONTENT("local"), 0, "[{\"content\":\"images\",\"ctime\":1718000000,\"format\":" \
	  "\"qcow2\",\"size\":1073741824,\"used\":200704,\"vmid\":9000,\"volid\":\"" QVOL "\"}]" }, \
	{ { "pvesm", "path", QVOL }, 0, QPATH "\n" }, \
	QIMG_INFO(QPATH, 65536, "false")

#define STEPS_T \
	{ { "pvesh", "get", "/storage/local-lvm", "--output-format", "json" }, 0, \
	  "{\"content\":\"rootdir,images\",\"digest\":\"9a8b\",\"storage\":\"local-lvm\"," \
	  "\"thinpool\":\"data\",\"type\":\"lvmthin\",\"vgname\":\"pve\"}" }

/* Everything of prepare that succeeds: both disks allocated, attached, the guest
 * copied. */
#define STEPS_PREPARED \
	STEPS_Q, \
	STEPS_T, \
	{ { "pvesm", "alloc", "local-lvm", "9000", "vm-9000-pc-t", "2048M", "--format", "raw" }, \
	  0, "  Logical volume \"vm-9000-pc-t\" created.\nsuccessfully created '" TVOL "'\n" }, \
	{ CONTENT("local-lvm"), 0, "[{\"content\":\"images\",\"ctime\":1718000001,\"format\":" \
	  "\"raw\",\"size\":2147483648,\"vmid\":9000,\"volid\":\"" TVOL "\"}]" }, \
	{ { "pvesm", "path", TVOL }, 0, "/dev/pve/vm-9000-pc-t\n" }, \
	{ { "qm", "set", "9000", "--virtio0", QVOL ",cache=none", "--virtio1", \
	    TVOL ",cache=writeback" }, 0, "update VM 9000: -virtio0 " QVOL ",cache=none " \
	  "-virtio1 " TVOL ",cache=writeback\n" }, \
	{ { "mkdir", "-p", RDIR }, 0, "" }, \
	{ { "COPY", "vmlinuz", RDIR "/vmlinuz" }, 0 }, \
	{ { "COPY", "initrd.cpio", RDIR "/initrd.cpio" }, 0 }

/* close of a stopped VM whose volumes qm destroy took */
#define STEPS_CLOSED \
	{ { "pvesh", "get", "/nodes/pve1/qemu/9000/status/current", "--output-format", "json" }, 0, \
	  "{\"status\":\"stopped\",\"vmid\":9000}" }, \
	{ { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }, 0, "" }, \
	{ CONTENT("local"), 0, "[]" }, \
	{ CONTENT("local-lvm"), 0, "[]" }, \
	{ { "rm", "-rf", RDIR }, 0, "" }

static const struct step happy[] = {
	STEPS_PREPARED,
	BOOT_ID(BOOT1),
	/* the cycle's workload: the ledger's port (7000 here) forwarded from the node's
	 * 127.0.0.1:41234, and the VM's user-mode network device for the guest */
	{ { "FORWARD", "7000" }, 0, "41234" }, TOKEN_WRITE,
	{ { "qm", "set", "9000", "--args", "-kernel " RDIR "/vmlinuz -initrd " RDIR
	    "/initrd.cpio -serial file:" RDIR "/console-1.log " FWCFG " -netdev user,id=pcl -device "
	    "virtio-net-pci,netdev=pcl -append 'console=ttyS0 *" }, 0,
	  "update VM 9000: -args ...\n" },
	{ { "qm", "start", "9000" }, 0, "" },
	/* the node is back: sshd answers, and a new boot_id proves it rebooted. pmxcfs
	 * (pve-cluster.service) is not ordered before sshd: the first look finds
	 * /etc/pve still empty, and pvesh, which needs pmxcfs through its IPC socket,
	 * fails the first time as Proxmox's tools do then (ipcc_send_rec). */
	{ { "WAIT_UP" }, 0 },
	BOOT_ID(BOOT2),
	{ { "test", "-d", "/etc/pve/nodes/pve1" }, 1, "" },
	PMXCFS_UP,
	{ { "pvesh", "get", "/nodes/pve1/qemu/9000/status/current", "--output-format", "json" }, 2,
	  "", "ipcc_send_rec[1] failed: Connection refused\nipcc_send_rec[2] failed: Connection "
	  "refused\nipcc_send_rec[3] failed: Connection refused\nUnable to load access control "
	  "list: Connection refused\n" },
	/* then: a cut in the middle of qm start left the VM locked */
	{ { "pvesh", "get", "/nodes/pve1/qemu/9000/status/current", "--output-format", "json" }, 0,
	  "{\"cpus\":2,\"lock\":\"create\",\"maxmem\":1073741824,\"name\":\"powercut-9000\","
	  "\"qmpstatus\":\"stopped\",\"status\":\"stopped\",\"uptime\":0,\"vmid\":9000}" },
	{ { "qm", "unlock", "9000" }, 0, "" },
	/* checks: qemu-img reports a corruption (exit 2), the thin pool is healthy */
	{ { "qemu-img", "check", "--output=json", "-f", "qcow2", QPATH }, 2,
	  "{\n    \"image-end-offset\": 262144,\n    \"total-clusters\": 16384,\n"
	  "    \"check-errors\": 0,\n    \"corruptions\": 1,\n    \"allocated-clusters\": 3,\n"
	  "    \"filename\": \"" QPATH "\",\n    \"format\": \"qcow2\",\n"
	  "    \"fragmented-clusters\": 0\n}\n", "" },
	{ { "lvs", "--reportformat", "json", "-a", "-o", "lv_name,vg_name,lv_attr,pool_lv,"
	    "data_percent,metadata_percent,lv_health_status", "pve" }, 0,
	  "  {\n      \"report\": [\n          {\n              \"lv\": [\n"
	  "                  {\"lv_name\":\"data\", \"vg_name\":\"pve\", \"lv_attr\":\"twi-aotz--\", "
	  "\"pool_lv\":\"\", \"data_percent\":\"12.50\", \"metadata_percent\":\"1.93\", "
	  "\"lv_health_status\":\"\"},\n"
	  "                  {\"lv_name\":\"vm-9000-pc-t\", \"vg_name\":\"pve\", \"lv_attr\":"
	  "\"Vwi-a-tz--\", \"pool_lv\":\"data\", \"data_percent\":\"40.00\", "
	  "\"metadata_percent\":\"\", \"lv_health_status\":\"\"}\n"
	  "              ]\n          }\n      ]\n  }\n" },
	{ { "qm", "set", "9000", "--args", "-kernel " RDIR "/vmlinuz -initrd " RDIR
	    "/initrd.cpio -serial file:" RDIR "/console-2.log -append 'console=ttyS0 *" }, 0, "" },
	{ { "qm", "start", "9000" }, 0, "" },
	{ { "cat", RDIR "/console-2.log" }, 0,
	  "SeaBIOS (version rel-1.16.3)\r\n[    0.000000] Linux version 6.1.0\r\n"
	  "POWERCUT boot contract=1 kernel=6.1.0-56-amd64 uptime_ms=900 mode=check agent=present "
	  "guest=56871c5d8712571a\r\n"
	  "POWERCUT ready mode=check disks=2 uptime_ms=1400\r\n"
	  "POWERCUT check-begin disk=1 target=/dev/vda\r\n"
	  "POWERCUT check-line disk=1 {\"type\":\"check\",\"version\":1,\"campaign\":7,\"cycle\":3}\r\n"
	  "POWERCUT check-line disk=1 {\"b\":0,\"n\":15,\"k\":\"gen\",\"c\":1,\"g\":0,\"m\":0}\r\n"
	  "POWERCUT check-end disk=1 rc=0 ms=120\r\n"
	  "POWERCUT check-begin disk=2 target=/dev/vdb\r\n"
	  "POWERCUT check-line disk=2 {\"type\":\"check\",\"version\":1,\"campaign\":7,\"cycle\":3}\r\n"
	  "POWERCUT check-end disk=2 rc=1 ms=80\r\n"
	  "POWERCUT done mode=check status=ok\r\n" },
	/* close: everything removed, then the forward ended */
	STEPS_CLOSED,
	{ { "CANCEL_FORWARD", "7000" }, 0 },
};

/* The node's sshd refuses the forward: the workload does not start (no VM started
 * with a ledger it cannot reach), and close still removes everything. */
static const struct step no_forward[] = {
	STEPS_PREPARED,
	BOOT_ID(BOOT1),
	{ { "FORWARD", "7000" }, 1, "" },
	STEPS_CLOSED,
};

/* The token file cannot be written (the node's disk is full, as GNU install says it):
 * the boot stops before `qm set`, and close removes the forward and RDIR as ever. */
static const struct step no_token[] = {
	STEPS_PREPARED,
	BOOT_ID(BOOT1),
	{ { "FORWARD", "7000" }, 0, "41234" },
	{ { "install", "-m", "0600", "/dev/stdin", TOKEN_FILE }, 1, "",
	  "install: cannot create regular file '" TOKEN_FILE "': No space left on device\n" },
	STEPS_CLOSED,
	{ { "CANCEL_FORWARD", "7000" }, 0 },
};

/* Storage full on the second disk; at close the VM is locked, destroy leaves the
 * first volume, which the driver frees itself. */
static const struct step full[] = {
	STEPS_Q,
	STEPS_T,
	{ { "pvesm", "alloc", "local-lvm", "9000", "vm-9000-pc-t", "2048M", "--format", "raw" },
	  255, "", "  Volume group \"pve\" has insufficient free space (1023 extents): 1024 "
	  "required.\nlvcreate 'pve/vm-9000-pc-t' error:   Volume group \"pve\" has insufficient "
	  "free space (1023 extents): 1024 required.\n" },
	{ { "pvesh", "get", "/nodes/pve1/qemu/9000/status/current", "--output-format", "json" }, 0,
	  "{\"lock\":\"create\",\"status\":\"stopped\",\"vmid\":9000}" },
	{ { "qm", "unlock", "9000" }, 0, "" },
	{ { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }, 2, "",
	  "can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout\n"
	  "VM is locked (create)\n" },
	{ { "qm", "unlock", "9000" }, 0, "" },
	{ { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }, 0, "" },
	{ CONTENT("local"), 0, "[{\"content\":\"images\",\"format\":\"qcow2\",\"size\":1073741824,"
	  "\"vmid\":9000,\"volid\":\"" QVOL "\"}]" },
	{ { "pvesm", "free", QVOL }, 0, "" },
};

/* The first volume already exists: prepare fails, and close must not free it. */
static const struct step exists[] = {
	{ { "pvesh", "get", "/cluster/status", "--output-format", "json" }, 0, CLUSTER_STATUS },
	{ { "qm", "create", "9000", "--name", "powercut-9000", "--onboot", "0", "--memory",
	    "1024", "--cores", "2", "--ostype", "l26" }, 0, "" },
	{ { "pvesh", "get", "/storage/local", "--output-format", "json" }, 0,
	  "{\"storage\":\"local\",\"type\":\"dir\",\"path\":\"/var/lib/vz\"}" },
	{ { "pvesm", "alloc", "local", "9000", "vm-9000-pc-q.qcow2", "1024M", "--format",
	    "qcow2" }, 255, "", "unable to create image: volume '" QVOL "' already exists\n" },
	{ { "pvesh", "get", "/nodes/pve1/qemu/9000/status/current", "--output-format", "json" }, 0,
	  "{\"status\":\"stopped\",\"vmid\":9000}" },
	{ { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }, 0, "" },
};

/* VM 9000 belongs to someone else: nothing may be destroyed. */
static const struct step vm_exists[] = {
	{ { "pvesh", "get", "/cluster/status", "--output-format", "json" }, 0, CLUSTER_STATUS },
	{ { "qm", "create", "9000", "--name", "powercut-9000", "--onboot", "0", "--memory",
	    "1024", "--cores", "2", "--ostype", "l26" }, 255, "",
	  "unable to create VM 9000 - VM 9000 already exists on node 'pve1'\n" },
};

/* fio beside the VM ([node] fio = WORK/load.fio, fio_size = 32M): the job file into the
 * VM's directory on the node and fio started detached there before the VM; at the
 * check, before anything else, fio stopped (SIGINT first) and its output read back. */
static const struct step fio_start_steps[] = {
	{ { "COPY", "load.fio", RDIR "/0-load.fio" }, 0 },
	{ { "setsid", "-f", "sh", "-c", "cd \"$1\"*", "sh", RDIR, "fio", "--thread",
	    "--output-format=json", "--status-interval=1", "--filename=" RDIR "/fio.data",
	    "--filesize=33554432", RDIR "/0-load.fio" }, 0, "" },
};
static const struct step fio_stop_steps[] = {
	{ { "sh", "-c", "*kill -INT*", "sh", RDIR "/fio.pid" }, 0, "" },
	{ { "cat", "--", RDIR "/fio.json" }, 0, FIO_OUT },
};

/* The happy cycle with fio's steps where the driver must issue them: fio starts before
 * the ledger's forward and the VM. */
static struct step fio_cycle[64];
static size_t n_fio_cycle;

static void build_fio_cycle(void)
{
	size_t n = sizeof(happy) / sizeof(happy[0]), k = 0;
	bool started = false;

	for (size_t i = 0; i < n; i++) {
		const struct step *h = &happy[i];
		if (!started && !strcmp(h->argv[0], "FORWARD")) {
			fio_cycle[k++] = fio_start_steps[0];
			fio_cycle[k++] = fio_start_steps[1];
			started = true;
		}
		if (!strcmp(h->argv[0], "qemu-img") && !strcmp(h->argv[1], "check")) {
			fio_cycle[k++] = fio_stop_steps[0];
			fio_cycle[k++] = fio_stop_steps[1];
		}
		fio_cycle[k++] = *h;
	}
	n_fio_cycle = k;
}

/* fio started, then the run fails before any check: close kills fio, then cleans up. */
static const struct step fio_close[] = {
	STEPS_Q,
	STEPS_T,
	{ { "pvesm", "alloc", "local-lvm", "9000", "vm-9000-pc-t", "2048M", "--format", "raw" },
	  0, "successfully created '" TVOL "'\n" },
	{ CONTENT("local-lvm"), 0, "[{\"format\":\"raw\",\"vmid\":9000,\"volid\":\"" TVOL "\"}]" },
	{ { "pvesm", "path", TVOL }, 0, "/dev/pve/vm-9000-pc-t\n" },
	{ { "qm", "set", "9000", "--virtio0", QVOL ",cache=none", "--virtio1",
	    TVOL ",cache=writeback" }, 0, "" },
	{ { "mkdir", "-p", RDIR }, 0, "" },
	{ { "COPY", "vmlinuz", RDIR "/vmlinuz" }, 0 },
	{ { "COPY", "initrd.cpio", RDIR "/initrd.cpio" }, 0 },
	BOOT_ID(BOOT1),
	{ { "COPY", "load.fio", RDIR "/0-load.fio" }, 0 },
	{ { "setsid", "-f", "sh", "-c", "cd \"$1\"*", "sh", RDIR, "fio", "--thread",
	    "--output-format=json", "--status-interval=1", "--filename=" RDIR "/fio.data",
	    "--filesize=33554432", RDIR "/0-load.fio" }, 0, "" },
	{ { "FORWARD", "7000" }, 0, "41234" }, TOKEN_WRITE,
	{ { "qm", "set", "9000", "--args", "-kernel *" }, 0, "" },
	{ { "qm", "start", "9000" }, 255, "", "start failed: QEMU exited with code 1\n" },
	/* close: fio first (SIGKILL), then the VM and its volumes */
	{ { "sh", "-c", "*kill -9*", "sh", RDIR "/fio.pid" }, 0, "" },
	{ { "pvesh", "get", "/nodes/pve1/qemu/9000/status/current", "--output-format", "json" }, 0,
	  "{\"status\":\"stopped\",\"vmid\":9000}" },
	{ { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }, 0, "" },
	{ CONTENT("local"), 0, "[]" },
	{ CONTENT("local-lvm"), 0, "[]" },
	{ { "rm", "-rf", RDIR }, 0, "" },
	{ { "CANCEL_FORWARD", "7000" }, 0 },
};

/* ---- backing = yes: baseline boot, qm snapshot, the overlay ----
 *
 * Disk q (qcow2, backing = yes) on pc-lvm, an LVM storage with snapshots as volume
 * chain (Proxmox VE 9), beside the thin disk t. The names follow pve-storage's
 * LVMPlugin as published (get_snap_name, volume_snapshot): `qm snapshot` renames the
 * current LV to snap_<volume name without .qcow2>_<snapshot>.qcow2 and allocates a new
 * qcow2 LV under the volume's own name, backed by it. So the volume id the VM's config
 * shows after the snapshot (pvesh get .../config, the drive string "VOLID,opt=...") is
 * the same as before, and pvesm path gives the overlay's /dev/VG/NAME; the base is not
 * in the storage's content list (list_images only lists vm-* LVs). */
static const char *chain_text =
	"[bench]\nname = pvetest\n"
	"[relay]\ndriver = null\n"
	"[node]\ndriver = proxmox\nhost = pve1\nuser = root\nvmid = 9000\nsmart = no\n"
	"storages = local-lvm q=pc-lvm\n"
	"[disk q]\nformat = qcow2\ncache = none\nsize = 1G\nbacking = yes\n"
	"cluster_size = 128K\nextended_l2 = yes\npreallocation = metadata\n"
	"[disk t]\nformat = lvmthin\ncache = writeback\nsize = 2G\n"
	"[workload]\nspan_mib = 16\n";

#define CVOL "pc-lvm:vm-9000-pc-q.qcow2"
#define CPATH "/dev/pclvm/vm-9000-pc-q.qcow2"
#define CBASE "pclvm/snap_vm-9000-pc-q_powercut-base.qcow2"
/* pve-storage's LVMPlugin activates a qcow2 volume with its whole chain, selected by
 * name (get_activate_volume_target_opts), exclusively; deactivate_volume is -aln. */
#define CSELECT "vg_name = \"pclvm\" && lv_name =~ '^(vm-9000-pc-q|snap_vm-9000-pc-q_.+)\\.qcow2$'"
#define LV_ACTIVATE { { "lvchange", "-aey", "--select", CSELECT }, 0, "" }
#define LV_DEACTIVATE { { "lvchange", "-aln", "--select", CSELECT }, 0, "" }
#define STATUS_STOPPED \
	{ { "pvesh", "get", "/nodes/pve1/qemu/9000/status/current", "--output-format", "json" }, 0, \
	  "{\"status\":\"stopped\",\"vmid\":9000}" }

#define STEPS_CQ \
	{ { "pvesh", "get", "/cluster/status", "--output-format", "json" }, 0, CLUSTER_STATUS }, \
	{ { "qm", "create", "9000", "--name", "powercut-9000", "--onboot", "0", "--memory", \
	    "1024", "--cores", "2", "--ostype", "l26" }, 0, "" }, \
	{ { "pvesh", "get", "/storage/pc-lvm", "--output-format", "json" }, 0, \
	  "{\"content\":\"images\",\"digest\":\"5c6d\",\"shared\":0,\"snapshot-as-volume-chain\":1," \
	  "\"storage\":\"pc-lvm\",\"type\":\"lvm\",\"vgname\":\"pclvm\"}" }, \
	{ { "pvesm", "alloc", "pc-lvm", "9000", "vm-9000-pc-q.qcow2", "1024M", "--format", \
	    "qcow2" }, 0, "  Logical volume \"vm-9000-pc-q.qcow2\" created.\nFormatting '" CPATH \
	  "', fmt=qcow2 cluster_size=65536 extended_l2=off preallocation=metadata " \
	  "compression_type=zlib size=1073741824 lazy_refcounts=off refcount_bits=16\n" \
	  "successfully created '" CVOL "'\n" }, \
	{ CONTENT("pc-lvm"), 0, "[{\"content\":\"images\",\"ctime\":1718000000,\"format\":" \
	  "\"qcow2\",\"size\":1073741824,\"vmid\":9000,\"volid\":\"" CVOL "\"}]" }, \
	{ { "pvesm", "path", CVOL }, 0, CPATH "\n" }

#define STEPS_CPREPARED \
	STEPS_CQ, \
	STEPS_T, \
	{ { "pvesm", "alloc", "local-lvm", "9000", "vm-9000-pc-t", "2048M", "--format", "raw" }, \
	  0, "  Logical volume \"vm-9000-pc-t\" created.\nsuccessfully created '" TVOL "'\n" }, \
	{ CONTENT("local-lvm"), 0, "[{\"content\":\"images\",\"format\":\"raw\",\"size\":" \
	  "2147483648,\"vmid\":9000,\"volid\":\"" TVOL "\"}]" }, \
	{ { "pvesm", "path", TVOL }, 0, "/dev/pve/vm-9000-pc-t\n" }, \
	{ { "qm", "set", "9000", "--virtio0", CVOL ",cache=none", "--virtio1", \
	    TVOL ",cache=writeback" }, 0, "" }, \
	{ { "mkdir", "-p", RDIR }, 0, "" }, \
	{ { "COPY", "vmlinuz", RDIR "/vmlinuz" }, 0 }, \
	{ { "COPY", "initrd.cpio", RDIR "/initrd.cpio" }, 0 }

/* The baseline boot's console at the first look (still writing): the file grows, so
 * every later look returns it with more lines after it. */
#define CONSOLE1_START \
	"POWERCUT boot contract=1 kernel=6.1.0-56-amd64 uptime_ms=900 mode=write " \
	"agent=present guest=56871c5d8712571a\r\nPOWERCUT ready mode=write disks=1 " \
	"uptime_ms=1400\r\nPOWERCUT write-start disk=1 target=/dev/vda\r\n"

/* The baseline boot up to the guest's power-off: the first look at the console finds
 * it still writing. */
#define STEPS_BASELINE \
	BOOT_ID(BOOT1), \
	{ { "FORWARD", "7000" }, 0, "41234" }, \
	TOKEN_WRITE, \
	{ { "qm", "set", "9000", "--args", "-kernel " RDIR "/vmlinuz -initrd " RDIR \
	    "/initrd.cpio -serial file:" RDIR "/console-1.log " FWCFG " -netdev user,id=pcl -device " \
	    "virtio-net-pci,netdev=pcl -append 'console=ttyS0 *" }, 0, "" }, \
	{ { "qm", "start", "9000" }, 0, "" }, \
	{ { "cat", RDIR "/console-1.log" }, 0, CONSOLE1_START }, \
	{ { "cat", RDIR "/console-1.log" }, 0, CONSOLE1_START \
	  "POWERCUT write-exit disk=1 rc=0\r\nPOWERCUT done mode=write status=ok\r\n" }, \
	STATUS_STOPPED

#define SNAPSHOT_CMD { "qm", "snapshot", "9000", "powercut-base", "--description", \
		       "powercut: the baselines, base of the volume chains" }

static const struct step chain_cycle[] = {
	STEPS_CPREPARED,
	STEPS_BASELINE,
	{ SNAPSHOT_CMD, 0, "  Rounding up size to full physical extent 1.00 GiB\n"
	  "  Logical volume \"vm-9000-pc-q.qcow2\" created.\nFormatting '" CPATH "', fmt=qcow2 "
	  "cluster_size=131072 extended_l2=on preallocation=metadata compression_type=zlib "
	  "size=1073741824 backing_file=snap_vm-9000-pc-q_powercut-base.qcow2 "
	  "backing_fmt=qcow2 lazy_refcounts=off refcount_bits=16\n" },
	{ { "pvesh", "get", "/nodes/pve1/qemu/9000/config", "--current", "1", "--output-format",
	    "json" }, 0,
	  "{\"args\":\"-kernel ...\",\"cores\":2,\"digest\":\"77aa\",\"memory\":\"1024\","
	  "\"name\":\"powercut-9000\",\"onboot\":0,\"ostype\":\"l26\",\"parent\":\"powercut-base\","
	  "\"virtio0\":\"" CVOL ",cache=none,size=1G\",\"virtio1\":\"" TVOL
	  ",cache=writeback,size=2G\"}" },
	{ { "pvesm", "path", CVOL }, 0, CPATH "\n" },
	/* The VM's stop deactivated its LVs: the chain is activated to read the overlay's
	 * options, which are Proxmox's (cluster 128k, extended L2), not pvesm alloc's. */
	LV_ACTIVATE,
	QIMG_INFO(CPATH, 131072, "true"),
	/* the write boot of cycle 3, its baseline in place */
	{ { "FORWARD", "7000" }, 0, "41234" }, TOKEN_WRITE,
	{ { "qm", "set", "9000", "--args", "-kernel " RDIR "/vmlinuz -initrd " RDIR
	    "/initrd.cpio -serial file:" RDIR "/console-2.log " FWCFG " -netdev *" }, 0, "" },
	{ { "qm", "start", "9000" }, 0, "" },
	{ { "WAIT_UP" }, 0 },
	BOOT_ID(BOOT2),
	PMXCFS_UP,
	STATUS_STOPPED,
	/* The node rebooted: Proxmox made the chain's LVs with --setautoactivation n, so
	 * nothing activated them at boot and /dev/pclvm/... does not exist (qemu-img
	 * check would exit 1: "Could not open ...: No such file or directory"). The
	 * driver activates the chain as Proxmox does, checks the overlay (clean), and
	 * deactivates it again; the overlay's LV is listed (inactive). */
	LV_ACTIVATE,
	{ { "qemu-img", "check", "--output=json", "-f", "qcow2", CPATH }, 0,
	  "{\n    \"image-end-offset\": 458752,\n    \"total-clusters\": 8192,\n"
	  "    \"check-errors\": 0,\n    \"allocated-clusters\": 12,\n"
	  "    \"filename\": \"" CPATH "\",\n    \"format\": \"qcow2\",\n"
	  "    \"fragmented-clusters\": 0\n}\n" },
	LV_DEACTIVATE,
	{ { "lvs", "--reportformat", "json", "-a", "-o", "lv_name,vg_name,lv_attr,pool_lv,"
	    "data_percent,metadata_percent,lv_health_status", "pclvm" }, 0,
	  "  {\"report\": [{\"lv\": [\n"
	  "    {\"lv_name\":\"snap_vm-9000-pc-q_powercut-base.qcow2\", \"vg_name\":\"pclvm\", "
	  "\"lv_attr\":\"-wi-------\", \"pool_lv\":\"\", \"data_percent\":\"\", "
	  "\"metadata_percent\":\"\", \"lv_health_status\":\"\"},\n"
	  "    {\"lv_name\":\"vm-9000-pc-q.qcow2\", \"vg_name\":\"pclvm\", \"lv_attr\":"
	  "\"-wi-------\", \"pool_lv\":\"\", \"data_percent\":\"\", \"metadata_percent\":\"\", "
	  "\"lv_health_status\":\"\"}\n  ]}]}\n" },
	{ { "lvs", "--reportformat", "json", "-a", "-o", "lv_name,vg_name,lv_attr,pool_lv,"
	    "data_percent,metadata_percent,lv_health_status", "pve" }, 0,
	  "{\"report\":[{\"lv\":[{\"lv_name\":\"data\",\"vg_name\":\"pve\",\"lv_attr\":"
	  "\"twi-aotz--\",\"pool_lv\":\"\",\"lv_health_status\":\"\"},{\"lv_name\":"
	  "\"vm-9000-pc-t\",\"vg_name\":\"pve\",\"lv_attr\":\"Vwi-a-tz--\",\"pool_lv\":\"data\","
	  "\"lv_health_status\":\"\"}]}]}" },
	{ { "qm", "set", "9000", "--args", "-kernel " RDIR "/vmlinuz -initrd " RDIR
	    "/initrd.cpio -serial file:" RDIR "/console-3.log -append 'console=ttyS0 *" }, 0, "" },
	{ { "qm", "start", "9000" }, 0, "" },
	{ { "cat", RDIR "/console-3.log" }, 0,
	  "POWERCUT ready mode=check disks=2 uptime_ms=1400\r\n"
	  "POWERCUT check-begin disk=1 target=/dev/vda\r\n"
	  "POWERCUT check-line disk=1 {\"type\":\"check\",\"version\":1,\"campaign\":7,\"cycle\":3}\r\n"
	  "POWERCUT check-end disk=1 rc=0 ms=120\r\n"
	  "POWERCUT check-begin disk=2 target=/dev/vdb\r\n"
	  "POWERCUT check-line disk=2 {\"type\":\"check\",\"version\":1,\"campaign\":7,\"cycle\":3}\r\n"
	  "POWERCUT check-end disk=2 rc=0 ms=80\r\n"
	  "POWERCUT done mode=check status=ok\r\n" },
	/* close: qm destroy --purge frees the overlay and, with it, its base (pve-storage's
	 * free_image walks the chain); the base is looked for by name and is gone. */
	STATUS_STOPPED,
	{ { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }, 0, "" },
	{ CONTENT("pc-lvm"), 0, "[]" },
	{ CONTENT("local-lvm"), 0, "[]" },
	{ { "lvs", "--reportformat", "json", "-o", "lv_name", CBASE }, 5, "",
	  "  Failed to find logical volume \"" CBASE "\"\n" },
	{ { "rm", "-rf", RDIR }, 0, "" },
	{ { "CANCEL_FORWARD", "7000" }, 0 },
};

/* qm snapshot fails (the VM is locked by a backup job that started meanwhile): the
 * cycle stops before its write boot; close unlocks, destroys, frees the overlay that
 * destroy left and removes the base that outlived it. */
static const struct step chain_snap_fails[] = {
	STEPS_CPREPARED,
	STEPS_BASELINE,
	{ SNAPSHOT_CMD, 255, "", "can't lock file '/var/lock/qemu-server/lock-9000.conf' - got "
	  "timeout\nVM 9000 is locked (backup)\n" },
	{ { "pvesh", "get", "/nodes/pve1/qemu/9000/status/current", "--output-format", "json" }, 0,
	  "{\"lock\":\"snapshot\",\"status\":\"stopped\",\"vmid\":9000}" },
	{ { "qm", "unlock", "9000" }, 0, "" },
	{ { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }, 2, "",
	  "VM is locked (snapshot)\n" },
	{ { "qm", "unlock", "9000" }, 0, "" },
	{ { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }, 0, "" },
	{ CONTENT("pc-lvm"), 0, "[{\"content\":\"images\",\"format\":\"qcow2\",\"vmid\":9000,"
	  "\"volid\":\"" CVOL "\"}]" },
	{ { "pvesm", "free", CVOL }, 0, "" },
	{ CONTENT("local-lvm"), 0, "[]" },
	{ { "lvs", "--reportformat", "json", "-o", "lv_name", CBASE }, 0,
	  "{\"report\":[{\"lv\":[{\"lv_name\":\"snap_vm-9000-pc-q_powercut-base.qcow2\"}]}]}" },
	{ { "lvremove", "-y", CBASE }, 0, "  Logical volume \"snap_vm-9000-pc-q_powercut-base."
	  "qcow2\" successfully removed.\n" },
	{ { "rm", "-rf", RDIR }, 0, "" },
	{ { "CANCEL_FORWARD", "7000" }, 0 },
};

/* backing = yes on a directory storage without snapshots as volume chain: refused
 * before anything is allocated; the VM is destroyed. */
static const char *chain_dir_text =
	"[bench]\nname = pvetest\n[relay]\ndriver = null\n"
	"[node]\ndriver = proxmox\nhost = pve1\nuser = root\nvmid = 9000\nsmart = no\nstorages = local\n"
	"[disk q]\nformat = qcow2\nsize = 1G\nbacking = yes\n";
static const struct step chain_refused_dir[] = {
	{ { "pvesh", "get", "/cluster/status", "--output-format", "json" }, 0, CLUSTER_STATUS },
	{ { "qm", "create", "9000", "--name", "powercut-9000", "--onboot", "0", "--memory",
	    "1024", "--cores", "2", "--ostype", "l26" }, 0, "" },
	{ { "pvesh", "get", "/storage/local", "--output-format", "json" }, 0,
	  "{\"content\":\"iso,vztmpl,images\",\"path\":\"/var/lib/vz\",\"storage\":\"local\","
	  "\"type\":\"dir\"}" },
	STATUS_STOPPED,
	{ { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }, 0, "" },
};

/* A raw disk on a directory storage beside the backing disk: qm snapshot would take it
 * too and fails on raw files, so prepare refuses it; the chain disk's volume, already
 * allocated, is freed. */
static const char *chain_raw_text =
	"[bench]\nname = pvetest\n[relay]\ndriver = null\n"
	"[node]\ndriver = proxmox\nhost = pve1\nuser = root\nvmid = 9000\nsmart = no\n"
	"storages = local q=pc-lvm\n"
	"[disk q]\nformat = qcow2\ncache = none\nsize = 1G\nbacking = yes\n"
	"cluster_size = 128K\nextended_l2 = yes\npreallocation = metadata\n"
	"[disk r]\nformat = raw\nsize = 1G\n";
static const struct step chain_refused_raw[] = {
	STEPS_CQ,
	{ { "pvesh", "get", "/storage/local", "--output-format", "json" }, 0,
	  "{\"content\":\"iso,vztmpl,images\",\"path\":\"/var/lib/vz\",\"storage\":\"local\","
	  "\"type\":\"dir\"}" },
	STATUS_STOPPED,
	{ { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }, 0, "" },
	{ CONTENT("pc-lvm"), 0, "[{\"content\":\"images\",\"format\":\"qcow2\",\"vmid\":9000,"
	  "\"volid\":\"" CVOL "\"}]" },
	{ { "pvesm", "free", CVOL }, 0, "" },
};

/* ---- what the first night on a real node would have found ---- */

/* The cut did not reach the node (a relay wired to the wrong outlet): ssh answers,
 * but the kernel's boot_id is the one read before the cut. wait_up fails. */
static const struct step not_rebooted[] = {
	STEPS_PREPARED,
	BOOT_ID(BOOT1),
	{ { "FORWARD", "7000" }, 0, "41234" }, TOKEN_WRITE,
	{ { "qm", "set", "9000", "--args", "-kernel *" }, 0, "" },
	{ { "qm", "start", "9000" }, 0, "" },
	{ { "WAIT_UP" }, 0 },
	BOOT_ID(BOOT1),
	STEPS_CLOSED,
	{ { "CANCEL_FORWARD", "7000" }, 0 },
};

/* A one-disk bench on STORAGES, and the steps around a prepare that stops at its
 * first disk: the VM created, and destroyed again by close. */
#define BENCH1(storages, disk) \
	"[bench]\nname = pvetest\n[relay]\ndriver = null\n" \
	"[node]\ndriver = proxmox\nhost = pve1\nuser = root\nvmid = 9000\nsmart = no\nstorages = " \
	storages "\n[disk q]\nformat = qcow2\nsize = 1G\n" disk
#define STEPS_VM_CREATED \
	{ { "pvesh", "get", "/cluster/status", "--output-format", "json" }, 0, CLUSTER_STATUS }, \
	{ { "qm", "create", "9000", "--name", "powercut-9000", "--onboot", "0", "--memory", \
	    "1024", "--cores", "2", "--ostype", "l26" }, 0, "" }
#define STEPS_VM_DESTROYED \
	STATUS_STOPPED, \
	{ { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }, 0, "" }

/* Bench options that pve-storage cannot give the volume, refused before pvesm alloc
 * (Plugin.pm/Common.pm: qemu-img create gets only the storage's preallocation). */
static const char *opts_cluster_text = BENCH1("local", "preallocation = metadata\n"
					      "cluster_size = 128K\n");
static const char *opts_prealloc_text = BENCH1("local", "");
static const struct step opts_refused[] = {
	STEPS_VM_CREATED,
	{ { "pvesh", "get", "/storage/local", "--output-format", "json" }, 0,
	  "{\"content\":\"images\",\"path\":\"/var/lib/vz\",\"storage\":\"local\","
	  "\"type\":\"dir\"}" },
	STEPS_VM_DESTROYED,
};
/* The volume itself disagrees with the bench (qemu-img info after the alloc: here a
 * storage whose qemu-img made extended L2 entries): refused, and the volume freed. */
static const struct step opts_volume_differs[] = {
	STEPS_VM_CREATED,
	{ { "pvesh", "get", "/storage/local", "--output-format", "json" }, 0,
	  "{\"content\":\"images\",\"path\":\"/var/lib/vz\",\"storage\":\"local\","
	  "\"type\":\"dir\",\"preallocation\":\"off\"}" },
	{ { "pvesm", "alloc", "local", "9000", "vm-9000-pc-q.qcow2", "1024M", "--format",
	    "qcow2" }, 0, "successfully created '" QVOL "'\n" },
	{ CONTENT("local"), 0, "[{\"format\":\"qcow2\",\"vmid\":9000,\"volid\":\"" QVOL "\"}]" },
	{ { "pvesm", "path", QVOL }, 0, QPATH "\n" },
	QIMG_INFO(QPATH, 65536, "true"),
	STEPS_VM_DESTROYED,
	{ CONTENT("local"), 0, "[{\"format\":\"qcow2\",\"vmid\":9000,\"volid\":\"" QVOL "\"}]" },
	{ { "pvesm", "free", QVOL }, 0, "" },
};
static const char *opts_volume_text = BENCH1("local", "");

/* qcow2 (without backing) on an LVM storage that lacks snapshot-as-volume-chain:
 * LVMPlugin's alloc_lvm_image dies ("snapshot-as-volume-chain option need to be
 * enabled to use qcow2 format"), so prepare refuses it first, naming the option. */
static const char *lvm_nochain_text = BENCH1("pc-lvm", "preallocation = metadata\n");
static const struct step lvm_nochain[] = {
	STEPS_VM_CREATED,
	{ { "pvesh", "get", "/storage/pc-lvm", "--output-format", "json" }, 0,
	  "{\"content\":\"images\",\"shared\":0,\"storage\":\"pc-lvm\",\"type\":\"lvm\","
	  "\"vgname\":\"pclvm\"}" },
	STEPS_VM_DESTROYED,
};

/* powercut doctor --cut on the bench of test_cycle: every check ok, then one cut; the
 * node comes back by itself with a new boot_id, pmxcfs a moment after sshd. */
static const struct step doctor_cut_steps[] = {
	{ { "true" }, 0, "" },
	{ { "pveversion" }, 0, "pve-manager/8.2.4/faa83925c9641325 (running kernel: 6.8.12-1-pve)\n" },
	{ { "qemu-system-x86_64", "--version" }, 0, "QEMU emulator version 9.0.2 "
	  "(pve-qemu-kvm_9.0.2-2)\nCopyright (c) 2003-2024 Fabrice Bellard\n" },
	{ { "qemu-img", "--version" }, 0, "qemu-img version 9.0.2 (pve-qemu-kvm_9.0.2-2)\n" },
	{ { "lvm", "version" }, 0, "  LVM version:     2.03.16(2) (2022-05-18)\n" },
	/* thin-provisioning-tools missing: the shell's "not found", exit 127 */
	{ { "thin_check", "-V" }, 127, "", "bash: line 1: thin_check: command not found\n" },
	{ { "pvesh", "get", "/cluster/status", "--output-format", "json" }, 0, CLUSTER_STATUS },
	{ { "pvesh", "get", "/storage/local", "--output-format", "json" }, 0,
	  "{\"content\":\"iso,vztmpl,images\",\"path\":\"/var/lib/vz\",\"storage\":\"local\","
	  "\"type\":\"dir\"}" },
	{ { "pvesh", "get", "/nodes/pve1/storage/local/status", "--output-format", "json" }, 0,
	  "{\"active\":1,\"avail\":53687091200,\"enabled\":1,\"total\":107374182400,"
	  "\"type\":\"dir\",\"used\":53687091200}" },
	STEPS_T,
	/* local-lvm: 1 GiB free, the thin disk needs 2 */
	{ { "pvesh", "get", "/nodes/pve1/storage/local-lvm/status", "--output-format", "json" }, 0,
	  "{\"active\":1,\"avail\":1073741824,\"enabled\":1,\"total\":107374182400,"
	  "\"type\":\"lvmthin\",\"used\":106300440576}" },
	{ { "pvesh", "get", "/cluster/resources", "--type", "vm", "--output-format", "json" }, 0,
	  "[{\"id\":\"qemu/100\",\"name\":\"db\",\"node\":\"pve1\",\"type\":\"qemu\","
	  "\"vmid\":100}]" },
	BOOT_ID(BOOT1),
	/* (the cut) */
	{ { "WAIT_UP" }, 0 },
	BOOT_ID(BOOT2),
	{ { "test", "-d", "/etc/pve/nodes/pve1" }, 1, "" },
	PMXCFS_UP,
};

static struct bench_config *cfg;
static struct node node;

static void begin_bench(const struct step *s, size_t n, const char *text)
{

	script = s;
	n_steps = n;
	pos = 0;
	cfg = bench_config_parse("pvetest.ini", text, NULL, 0, &NODE_BENCH_DRIVERS(pve_only));
	if (!cfg)
		fail_msg("config: see the errors above");
	node = (struct node){ .ops = &node_proxmox_ops, .cfg = cfg,
			      .env = { .bin_dir = "/nonexistent", .work_dir = work } };
	assert_int_equal(node_proxmox_ops.open(&node), 0);
}

static void begin(const struct step *s, size_t n)
{
	begin_bench(s, n, bench_text);
}

/* begin_bench with the guest in place, and the node prepared. */
static void begin_prepared(const struct step *s, size_t n, const char *text)
{
	begin_bench(s, n, text);
	free(cfg->node->guest);
	cfg->node->guest = strdup(guest);
	assert_int_equal(node_proxmox_ops.prepare(&node), 0);
}

/* After the cut: the node up again, then the checks of both disks into res. */
static void check_after_cut(const struct node_job *job, struct node_disk_result res[2])
{
	assert_int_equal(node_proxmox_ops.wait_up(&node, 60000), 0);
	for (int i = 0; i < 2; i++)
		res[i] = (struct node_disk_result){ .disk = cfg->disks[i]->name, .id = (uint32_t)i + 1,
						    .checks = json_array(), .agent_rc = -1 };
	assert_int_equal(node_proxmox_ops.check(&node, job, res), 0);
}

static void end(void)
{
	node_proxmox_ops.close(&node);
	assert_int_equal(pos, n_steps);	/* every expected command was issued */
	bench_config_free(cfg);
	for (size_t i = 0; i < n_args; i++)
		free(issued_args[i]);
	n_args = 0;
	free(token_input);
	token_input = NULL;
}

static const char *check_result(json_t *checks, const char *kind)
{
	size_t i;
	json_t *c;

	json_array_foreach(checks, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "kind")), kind))
			return json_string_value(json_object_get(c, "result"));
	return NULL;
}

static void test_cycle(void **state)
{
	struct node_job job = { .campaign = 7, .cycle = 3, .token = "tok3n",
				.ledger_host = "192.0.2.1", .ledger_port = 7000, .seed = 42,
				.baseline = true };
	struct node_disk_result res[2];
	char buf[512];

	begin_prepared(happy, sizeof(happy) / sizeof(happy[0]), bench_text);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), 0);
	assert_int_equal(node_proxmox_ops.power_lost(&node, CUT_POWER), 0);
	assert_int_equal(node_proxmox_ops.power_back(&node, &job), 0);
	check_after_cut(&job, res);

	/* The job reached the kernel command line, write mode first, then check mode. */
	assert_int_equal(n_args, 2);
	/* The guest reaches the ledger at the node's end of the forward, 10.0.2.2 behind
	 * the user-mode network device; the job's ledger_host is this host's business. */
	assert_non_null(strstr(issued_args[0], " powercut.mode=write powercut.disks=1:vda,2:vdb "
			       "powercut.campaign=7 powercut.cycle=3 powercut.w.seed=42 "));
	assert_non_null(strstr(issued_args[0], " powercut.ledger=10.0.2.2:41234 "));
	/* The token went to its file on ssh's standard input, exactly. */
	assert_string_equal(token_input, "tok3n");
	assert_non_null(strstr(issued_args[0], " " FWCFG " -netdev "));
	assert_null(strstr(issued_args[1], "-fw_cfg"));	/* the check has no ledger */
	assert_null(strstr(issued_args[0], "192.0.2.1"));
	assert_null(strstr(issued_args[0], "powercut.net="));
	assert_non_null(strstr(issued_args[0], " powercut.w.span_mib=16 "));
	assert_int_equal(issued_args[0][strlen(issued_args[0]) - 1], '\'');
	assert_null(strstr(issued_args[0], "baseline_exists"));
	assert_non_null(strstr(issued_args[1], " powercut.mode=check "));
	/* The check needs no network: no device, no DHCP, no ledger. */
	assert_null(strstr(issued_args[1], "-netdev"));
	assert_non_null(strstr(issued_args[1], " powercut.net=none'"));
	assert_null(strstr(issued_args[1], "powercut.ledger="));
	assert_null(strstr(issued_args[1], "powercut.w.flush="));

	/* Metadata: the corruption is reported, the thin LV and pool are fine. */
	assert_string_equal(check_result(res[0].checks, "qemu-img-check"), "corrupt");
	assert_string_equal(check_result(res[1].checks, "lvs"), "ok");
	assert_string_equal(check_result(res[1].checks, "thin-pool"), "ok");
	assert_null(check_result(res[0].checks, "lvs"));
	/* The agent's reports, per disk, with their exit status. */
	assert_int_equal(res[0].agent_rc, 0);
	assert_int_equal(res[1].agent_rc, 1);
	assert_non_null(res[0].report_path);
	FILE *f = fopen(res[0].report_path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_string_equal(buf, "{\"type\":\"check\",\"version\":1,\"campaign\":7,\"cycle\":3}\n");
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_string_equal(buf, "{\"b\":0,\"n\":15,\"k\":\"gen\",\"c\":1,\"g\":0,\"m\":0}\n");
	assert_null(fgets(buf, sizeof(buf), f));
	fclose(f);

	json_t *col = node_proxmox_ops.collect(&node);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(col, "volumes"), 1), "path")), "/dev/pve/vm-9000-pc-t");
	json_t *lf = json_object_get(col, "ledger_forward");
	assert_int_equal(json_integer_value(json_object_get(lf, "node_port")), 41234);
	assert_int_equal(json_integer_value(json_object_get(lf, "host_port")), 7000);
	/* The node really rebooted; the plain volume's options as qemu-img info read them. */
	json_t *boot = json_object_get(col, "boot");
	assert_string_equal(json_string_value(json_object_get(boot, "boot_id_after")), BOOT2);
	assert_true(json_is_true(json_object_get(boot, "rebooted")));
	json_t *q0 = json_object_get(json_array_get(json_object_get(col, "volumes"), 0), "qcow2");
	assert_int_equal(json_integer_value(json_object_get(q0, "cluster_size")), 65536);
	assert_false(json_is_true(json_object_get(q0, "extended_l2")));
	assert_string_equal(json_string_value(json_object_get(q0, "preallocation")), "metadata");
	json_decref(col);
	for (int i = 0; i < 2; i++) {
		unlink(res[i].report_path);
		json_decref(res[i].checks);
		free(res[i].report_path);
	}
	end();
}

/* The write totals of the fixture's reports, read here without host/fio: the second
 * (the last complete one) must be what the driver keeps. */
static json_int_t report_writes(int which)
{
	const char *at = fio_json;

	for (int i = 0; i < which; i++)
		assert_non_null(at = strstr(at + 1, "\n{\n"));
	json_t *rep = json_loads(at + (which ? 1 : 0), JSON_DISABLE_EOF_CHECK, NULL);
	if (!rep)
		return -1;
	json_int_t w = json_integer_value(json_object_get(json_object_get(json_array_get(
		json_object_get(rep, "jobs"), 0), "write"), "total_ios"));
	json_decref(rep);
	return w;
}

static void test_cycle_fio(void **state)
{
	struct node_job job = { .campaign = 7, .cycle = 3, .token = "tok3n",
				.ledger_host = "192.0.2.1", .ledger_port = 7000, .seed = 42,
				.baseline = true };
	struct node_disk_result res[2];

	/* The fixture: two complete reports, the third cut short. */
	json_int_t first = report_writes(0), second = report_writes(1);
	assert_true(first > 0 && second > first);
	assert_int_equal(report_writes(2), -1);

	build_fio_cycle();
	begin_prepared(fio_cycle, n_fio_cycle, fio_bench);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), 0);
	assert_int_equal(node_proxmox_ops.power_lost(&node, CUT_POWER), 0);
	assert_int_equal(node_proxmox_ops.power_back(&node, &job), 0);
	check_after_cut(&job, res);

	json_t *col = node_proxmox_ops.collect(&node);
	json_t *fio = json_object_get(col, "fio");
	assert_non_null(fio);
	assert_null(json_object_get(fio, "error"));
	assert_string_equal(json_string_value(json_object_get(fio, "verify")), "pass");
	json_t *figs = json_object_get(fio, "figures");
	assert_string_equal(json_string_value(json_object_get(figs, "fio_version")), "fio-3.33");
	json_t *w = json_object_get(json_array_get(json_object_get(figs, "jobs"), 0), "write");
	assert_int_equal(json_integer_value(json_object_get(w, "ios")), second);
	assert_true(json_real_value(json_object_get(w, "iops")) > 0);
	json_decref(col);
	for (int i = 0; i < 2; i++) {
		unlink(res[i].report_path);
		json_decref(res[i].checks);
		free(res[i].report_path);
	}
	end();	/* fio was stopped at the check: close issues no kill */
}

static void test_fio_killed_at_close(void **state)
{
	struct node_job job = { .campaign = 7, .cycle = 3, .token = "tok3n",
				.ledger_host = "192.0.2.1", .ledger_port = 7000, .seed = 42,
				.baseline = true };

	begin_prepared(fio_close, sizeof(fio_close) / sizeof(fio_close[0]), fio_bench);
	assert_true(node_proxmox_ops.start_workload(&node, &job) < 0);
	json_t *col = node_proxmox_ops.collect(&node);
	assert_null(json_object_get(col, "fio"));	/* never read back */
	json_decref(col);
	end();
}

/* A write boot that stops before the VM gets its job: want from start_workload. */
static void boot_stops(const struct step *steps, size_t n, int want)
{
	struct node_job job = { .campaign = 7, .cycle = 3, .token = "tok3n",
				.ledger_host = "127.0.0.1", .ledger_port = 7000, .seed = 42,
				.baseline = true };

	begin_prepared(steps, n, bench_text);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), want);
	assert_int_equal(n_args, 0);	/* the VM was never given a job */
}

static void test_forward_refused(void **state)
{
	boot_stops(no_forward, sizeof(no_forward) / sizeof(no_forward[0]), -EPERM);
	end();
}

static void test_token_write_fails(void **state)
{
	boot_stops(no_token, sizeof(no_token) / sizeof(no_token[0]), -EIO);
	assert_string_equal(token_input, "tok3n");	/* it was tried, through stdin */
	end();
}

static void test_storage_full_cleanup(void **state)
{
	begin(full, sizeof(full) / sizeof(full[0]));
	assert_int_equal(node_proxmox_ops.prepare(&node), -ENOSPC);
	end();
}

static void test_volume_exists_left_alone(void **state)
{
	begin(exists, sizeof(exists) / sizeof(exists[0]));
	assert_int_equal(node_proxmox_ops.prepare(&node), -EEXIST);
	end();
}

static void test_vm_exists_left_alone(void **state)
{
	begin(vm_exists, sizeof(vm_exists) / sizeof(vm_exists[0]));
	assert_int_equal(node_proxmox_ops.prepare(&node), -EEXIST);
	end();
}

static void test_config_errors(void **state)
{
	struct bench_config *c = bench_config_parse("x.ini",
		"[bench]\nname = x\n[relay]\ndriver = null\n[node]\ndriver = proxmox\n"
		"host = pve1\nstorages = q=local\n[disk q]\nsize = 1G\n[disk r]\nsize = 1G\n", NULL, 0,
		&NODE_BENCH_DRIVERS(pve_only));
	assert_non_null(c);
	struct node nn = { .ops = &node_proxmox_ops, .cfg = c, .env = { .work_dir = work } };
	/* disk r has no storage */
	assert_int_equal(node_proxmox_ops.open(&nn), -EINVAL);
	free(c->node->host);
	c->node->host = NULL;
	assert_int_equal(node_proxmox_ops.open(&nn), -EINVAL);
	bench_config_free(c);

	/* an emulated NVMe drive is the local full tier's, on a zvol too (a zvol itself is
	 * made on a zfspool storage: test_zvol_cycle) */
	static const char *const full_only[] = { "format = zvol\nbus = nvme\n", "bus = nvme\n" };
	for (int k = 0; k < 2; k++) {
		char text[512];
		snprintf(text, sizeof(text), "[bench]\nname = x\n[relay]\ndriver = null\n[node]\n"
			 "driver = proxmox\nhost = pve1\nstorages = local\n[disk q]\nsize = 1G\n%s",
			 full_only[k]);
		c = bench_config_parse("x.ini", text, NULL, 0, &NODE_BENCH_DRIVERS(pve_only));
		assert_non_null(c);
		nn.cfg = c;
		assert_int_equal(node_proxmox_ops.open(&nn), -ENOTSUP);
		bench_config_free(c);
	}
}

static uint32_t begun[8];
static size_t n_begun;

static void note_cycle(void *arg, uint32_t cycle)
{
	if (n_begun < 8)
		begun[n_begun++] = cycle;
}

static void chain_job(struct node_job *job)
{
	*job = (struct node_job){ .campaign = 7, .cycle = 3, .token = "tok3n",
				  .ledger_host = "192.0.2.1", .ledger_port = 7000, .seed = 42,
				  .baseline = true, .cycle_begins = note_cycle };
	n_begun = 0;
}

static void test_chain_cycle(void **state)
{
	struct node_job job;
	struct node_disk_result res[2];

	chain_job(&job);
	begin_prepared(chain_cycle, sizeof(chain_cycle) / sizeof(chain_cycle[0]), chain_text);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), 0);
	/* The ledger accepted the baseline's cycle, then the cycle's own. */
	assert_int_equal(n_begun, 2);
	assert_int_equal(begun[0], 2);
	assert_int_equal(begun[1], 3);
	assert_int_equal(node_proxmox_ops.power_lost(&node, CUT_POWER), 0);
	check_after_cut(&job, res);

	assert_int_equal(n_args, 3);
	/* Baseline boot: cycle - 1, only the chain disk (the thin LV's baseline is its
	 * zeroes, as in qemu_remote.c), one flushed write per block, no baseline_exists. */
	assert_non_null(strstr(issued_args[0], " powercut.mode=write powercut.disks=1:vda "
			       "powercut.campaign=7 powercut.cycle=2 "));
	assert_non_null(strstr(issued_args[0], " powercut.ledger=10.0.2.2:41234 "));
	assert_non_null(strstr(issued_args[0], " powercut.w.writes=1 powercut.w.flush=always'"));
	assert_null(strstr(issued_args[0], "baseline_exists"));
	assert_null(strstr(issued_args[0], "powercut.w.duration="));
	/* Write boot: the cycle itself on both disks, the baselines in place. */
	assert_non_null(strstr(issued_args[1], " powercut.mode=write powercut.disks=1:vda,2:vdb "));
	assert_non_null(strstr(issued_args[1], " powercut.cycle=3 "));
	assert_non_null(strstr(issued_args[1], " powercut.w.baseline_exists'"));
	assert_null(strstr(issued_args[1], "powercut.w.writes="));
	assert_non_null(strstr(issued_args[2], " powercut.mode=check powercut.disks=1:vda,2:vdb "));

	/* The overlay was checked (the transcript pins qemu-img's path to the one pvesm
	 * path gave after the snapshot) and is what the record names. */
	assert_string_equal(check_result(res[0].checks, "qemu-img-check"), "clean");
	assert_string_equal(check_result(res[0].checks, "lvs"), "ok");
	assert_int_equal(res[0].agent_rc, 0);
	json_t *col = node_proxmox_ops.collect(&node);
	json_t *v0 = json_array_get(json_object_get(col, "volumes"), 0);
	assert_string_equal(json_string_value(json_object_get(v0, "path")), CPATH);
	assert_string_equal(json_string_value(json_object_get(v0, "base_path")),
			    "/dev/" CBASE);
	assert_null(json_object_get(json_array_get(json_object_get(col, "volumes"), 1),
				    "base_path"));
	assert_string_equal(json_string_value(json_object_get(col, "snapshot")), "powercut-base");
	/* The overlay's own options: Proxmox's 128k with extended L2. */
	json_t *q0 = json_object_get(v0, "qcow2");
	assert_int_equal(json_integer_value(json_object_get(q0, "cluster_size")), 131072);
	assert_true(json_is_true(json_object_get(q0, "extended_l2")));
	assert_true(json_is_true(json_object_get(json_object_get(col, "boot"), "rebooted")));
	assert_int_equal(json_integer_value(json_object_get(col, "boots")), 3);
	json_decref(col);
	for (int i = 0; i < 2; i++) {
		unlink(res[i].report_path);
		json_decref(res[i].checks);
		free(res[i].report_path);
	}
	end();
}

/* The chain cannot be activated after the reboot (its VG did not come up): as on a
 * node where nothing activates Proxmox's LVs, /dev/pclvm/... does not exist and
 * qemu-img check exits 1 without a report. The check says error (not clean), nothing
 * is deactivated, and the cycle goes on to the guest's check. */
static void test_chain_inactive(void **state)
{
	struct step st[sizeof(chain_cycle) / sizeof(chain_cycle[0])];
	size_t n = sizeof(chain_cycle) / sizeof(chain_cycle[0]), k = 0;
	struct node_job job;
	struct node_disk_result res[2];
	bool after_cut = false;

	for (size_t i = 0; i < n; i++) {
		st[k] = chain_cycle[i];
		after_cut |= !strcmp(st[k].argv[0], "WAIT_UP");
		if (after_cut && !strcmp(st[k].argv[0], "lvchange") && !strcmp(st[k].argv[1], "-aey")) {
			st[k].status = 5;
			st[k].err = "  Volume group \"pclvm\" not found\n  Cannot process volume group "
				    "pclvm\n";
		} else if (after_cut && !strcmp(st[k].argv[0], "lvchange")) {
			continue;	/* no deactivation of what was never activated */
		} else if (!strcmp(st[k].argv[0], "qemu-img") && !strcmp(st[k].argv[1], "check")) {
			st[k].status = 1;
			st[k].out = "";
			st[k].err = "qemu-img: Could not open '" CPATH "': Could not open '" CPATH
				    "': No such file or directory\n";
		}
		k++;
	}
	chain_job(&job);
	begin_prepared(st, k, chain_text);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), 0);
	assert_int_equal(node_proxmox_ops.power_lost(&node, CUT_POWER), 0);
	check_after_cut(&job, res);
	assert_string_equal(check_result(res[0].checks, "qemu-img-check"), "error");
	for (int i = 0; i < 2; i++) {
		unlink(res[i].report_path);
		json_decref(res[i].checks);
		free(res[i].report_path);
	}
	end();
}

static void test_chain_snapshot_fails(void **state)
{
	struct node_job job;

	chain_job(&job);
	begin_prepared(chain_snap_fails, sizeof(chain_snap_fails) / sizeof(chain_snap_fails[0]),
		       chain_text);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), -EBUSY);
	assert_int_equal(n_args, 1);	/* no write boot without the overlay */
	assert_int_equal(n_begun, 1);
	end();	/* everything removed: the transcript's close, step by step */
}

/* A baseline boot whose agent failed: no snapshot is taken and the cycle stops. */
static void test_chain_baseline_fails(void **state)
{
	struct step bad[sizeof(chain_snap_fails) / sizeof(chain_snap_fails[0])];
	size_t k = 0, n = sizeof(chain_snap_fails) / sizeof(chain_snap_fails[0]);
	struct node_job job;

	for (size_t i = 0; i < n; i++) {
		bad[k] = chain_snap_fails[i];
		/* Never issued: the snapshot, and the look for a base no snapshot made. */
		if ((!strcmp(bad[k].argv[0], "qm") && !strcmp(bad[k].argv[1], "snapshot")) ||
		    !strcmp(bad[k].argv[0], "lvremove") ||
		    (!strcmp(bad[k].argv[0], "lvs") && !strcmp(bad[k].argv[4], "lv_name")))
			continue;
		if (bad[k].out && strstr(bad[k].out, "write-exit disk=1 rc=0"))
			bad[k].out = CONSOLE1_START "POWERCUT write-exit disk=1 rc=3\r\n"
				     "POWERCUT done mode=write status=fail\r\n";
		k++;
	}
	chain_job(&job);
	begin_prepared(bad, k, chain_text);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), -EIO);
	end();
}

static void test_chain_refused(void **state)
{
	begin_bench(chain_refused_dir, sizeof(chain_refused_dir) / sizeof(chain_refused_dir[0]),
		    chain_dir_text);
	assert_int_equal(node_proxmox_ops.prepare(&node), -EINVAL);
	end();
	begin_bench(chain_refused_raw, sizeof(chain_refused_raw) / sizeof(chain_refused_raw[0]),
		    chain_raw_text);
	assert_int_equal(node_proxmox_ops.prepare(&node), -EINVAL);
	end();
}

static void test_not_rebooted(void **state)
{
	struct node_job job = { .campaign = 7, .cycle = 3, .token = "tok3n",
				.ledger_host = "192.0.2.1", .ledger_port = 7000, .seed = 42 };

	begin_prepared(not_rebooted, sizeof(not_rebooted) / sizeof(not_rebooted[0]), bench_text);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), 0);
	assert_int_equal(node_proxmox_ops.power_lost(&node, CUT_POWER), 0);
	assert_int_equal(node_proxmox_ops.wait_up(&node, 60000), -EPROTO);
	json_t *col = node_proxmox_ops.collect(&node);
	json_t *b = json_object_get(col, "boot");
	assert_string_equal(json_string_value(json_object_get(b, "boot_id_before")), BOOT1);
	assert_false(json_is_true(json_object_get(b, "rebooted")));
	json_decref(col);
	end();
}

/* The thin pool did not activate at boot (its thin_check failed): lvs lists it with
 * lv_attr "twi---tz--" (no 'a' in the fifth place) and an empty health field, which
 * is not "healthy" but "unknown". The check says fail, a metadata failure. */
static void test_pool_inactive(void **state)
{
	struct node_job job = { .campaign = 7, .cycle = 3, .token = "tok3n",
				.ledger_host = "192.0.2.1", .ledger_port = 7000, .seed = 42,
				.baseline = true };
	struct step st[sizeof(happy) / sizeof(happy[0])];
	struct node_disk_result res[2];
	size_t n = sizeof(happy) / sizeof(happy[0]);

	memcpy(st, happy, sizeof(st));
	for (size_t i = 0; i < n; i++)
		if (!strcmp(st[i].argv[0], "lvs"))
			st[i].out = "{\"report\":[{\"lv\":[{\"lv_name\":\"data\",\"vg_name\":\"pve\","
				    "\"lv_attr\":\"twi---tz--\",\"pool_lv\":\"\",\"data_percent\":\"\","
				    "\"metadata_percent\":\"\",\"lv_health_status\":\"\"},{\"lv_name\":"
				    "\"vm-9000-pc-t\",\"vg_name\":\"pve\",\"lv_attr\":\"Vwi---tz--\","
				    "\"pool_lv\":\"data\",\"data_percent\":\"\",\"metadata_percent\":\"\","
				    "\"lv_health_status\":\"\"}]}]}";
	begin_prepared(st, n, bench_text);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), 0);
	assert_int_equal(node_proxmox_ops.power_lost(&node, CUT_POWER), 0);
	check_after_cut(&job, res);
	assert_string_equal(check_result(res[1].checks, "lvs"), "ok");
	assert_string_equal(check_result(res[1].checks, "thin-pool"), "fail");
	for (int i = 0; i < 2; i++) {
		unlink(res[i].report_path);
		json_decref(res[i].checks);
		free(res[i].report_path);
	}
	end();
}

static void test_options_refused(void **state)
{
	/* cluster_size = 128K on a plain volume: pvesm alloc makes 64K. */
	begin_bench(opts_refused, sizeof(opts_refused) / sizeof(opts_refused[0]),
		    opts_cluster_text);
	assert_int_equal(node_proxmox_ops.prepare(&node), -EINVAL);
	end();
	/* preallocation = off (the default) on a storage that preallocates metadata. */
	begin_bench(opts_refused, sizeof(opts_refused) / sizeof(opts_refused[0]),
		    opts_prealloc_text);
	assert_int_equal(node_proxmox_ops.prepare(&node), -EINVAL);
	end();
	/* The volume as made disagrees: refused and freed. */
	begin_bench(opts_volume_differs, sizeof(opts_volume_differs) /
		    sizeof(opts_volume_differs[0]), opts_volume_text);
	assert_int_equal(node_proxmox_ops.prepare(&node), -EINVAL);
	end();
}

struct dr_seen {
	char check[16][32], status[16];
	char found[16][256];
	int n, cuts;
};

static void dr_add(void *arg, const char *check, enum node_dr_status st, const char *found,
		   const char *fix)
{
	struct dr_seen *s = arg;

	if (st != NODE_DR_OK)
		assert_non_null(fix);	/* every warn and fail says what to do */
	if (s->n < 16) {
		snprintf(s->check[s->n], sizeof(s->check[0]), "%s", check);
		snprintf(s->found[s->n], sizeof(s->found[0]), "%s", found);
		s->status[s->n++] = "owf"[st];
	}
}

static int dr_cut(void *arg)
{
	((struct dr_seen *)arg)->cuts++;
	return 0;
}

static char dr_status(const struct dr_seen *s, const char *check)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->check[i], check))
			return s->status[i];
	return '-';
}

static void test_doctor_cut(void **state)
{
	struct dr_seen seen = { 0 };
	struct node_doctor d = { .add = dr_add, .cut = dr_cut, .arg = &seen };

	begin_bench(doctor_cut_steps, sizeof(doctor_cut_steps) / sizeof(doctor_cut_steps[0]),
		    bench_text);
	free(cfg->node->guest);
	cfg->node->guest = strdup(guest);
	assert_int_equal(node_proxmox_ops.doctor(&node, &d), 0);
	assert_int_equal(seen.cuts, 1);
	assert_int_equal(dr_status(&seen, "guest"), 'o');
	assert_int_equal(dr_status(&seen, "ssh"), 'o');
	assert_int_equal(dr_status(&seen, "pveversion"), 'o');
	assert_int_equal(dr_status(&seen, "thin-tools"), 'f');
	assert_int_equal(dr_status(&seen, "pve-node"), 'o');
	assert_int_equal(dr_status(&seen, "storage q"), 'o');
	assert_int_equal(dr_status(&seen, "storage t"), 'f');	/* no room */
	assert_int_equal(dr_status(&seen, "vmid"), 'o');
	assert_int_equal(dr_status(&seen, "boot-id"), 'o');
	assert_int_equal(dr_status(&seen, "boot"), 'o');
	end();
}

static void test_lvm_qcow2_needs_chain(void **state)
{
	begin_bench(lvm_nochain, sizeof(lvm_nochain) / sizeof(lvm_nochain[0]), lvm_nochain_text);
	assert_int_equal(node_proxmox_ops.prepare(&node), -EINVAL);
	end();
}

/* ---- zvols on a zfspool storage ----
 *
 * What these transcripts stand for, as read in pve-storage's ZFSPoolPlugin.pm
 * (src/PVE/Storage/ZFSPoolPlugin.pm): a zfspool storage's config has `pool` (POOL or
 * POOL/DATASET), and optional `blocksize` and `sparse`, storage options with no
 * per-volume override; alloc_image of a raw volume named vm-VMID-* runs
 * zfs_create_zvol, `zfs create [-s] [-b BLOCKSIZE] -V SIZEk POOL/NAME`, then waits for
 * /dev/zvol/POOL/NAME; path() gives /dev/zvol/POOL/NAME; free_image destroys it. The
 * zfs/zpool replies follow OpenZFS's man pages and zpool_main.c: `zfs get -Hp -o
 * property,value` prints one "PROPERTY<TAB>VALUE" line per property in the order
 * asked, numbers in bytes; `zpool list -H -o health POOL` one word; `zpool status -x
 * POOL` "pool 'POOL' is healthy" when there is nothing to explain (status_callback),
 * else the pool's full status. None was recorded on a real node. */
#define ZBENCH_N(node, disk) \
	"[bench]\nname = pvetest\n[relay]\ndriver = null\n" \
	"[node]\ndriver = proxmox\nhost = pve1\nuser = root\nvmid = 9000\n" node \
	"storages = local-zfs\n[disk z]\nformat = zvol\ncache = none\nsize = 1G\n" disk
#define ZBENCH(disk) ZBENCH_N("smart = no\n", disk)
static const char *zvol_text = ZBENCH("sync = standard\nvolblocksize = 16K\ncompression = yes\n");
#define ZVOL "local-zfs:vm-9000-pc-z"
#define ZDS "rpool/data/vm-9000-pc-z"
/* `pvesh get /storage/local-zfs` of the storage Proxmox's installer makes on a ZFS
 * root (pool rpool/data, sparse), with blocksize as given. */
#define ZFS_STORAGE(extra) \
	{ { "pvesh", "get", "/storage/local-zfs", "--output-format", "json" }, 0, \
	  "{\"content\":\"images,rootdir\",\"digest\":\"3c2d\",\"pool\":\"rpool/data\"," \
	  "\"sparse\":1,\"storage\":\"local-zfs\",\"type\":\"zfspool\"" extra "}" }
#define ZPROPS(bs, sync, comp) \
	{ { "zfs", "get", "-Hp", "-o", "property,value", \
	    "volblocksize,volsize,refreservation,sync,compression", ZDS }, 0, \
	  "volblocksize\t" bs "\nvolsize\t1073741824\nrefreservation\t0\nsync\t" sync \
	  "\ncompression\t" comp "\n" }
#define STEPS_ZALLOC \
	{ { "pvesm", "alloc", "local-zfs", "9000", "vm-9000-pc-z", "1024M", "--format", "raw" }, \
	  0, "successfully created '" ZVOL "'\n" }, \
	{ CONTENT("local-zfs"), 0, "[{\"content\":\"images\",\"ctime\":1718000002,\"format\":" \
	  "\"raw\",\"size\":1073741824,\"vmid\":9000,\"volid\":\"" ZVOL "\"}]" }, \
	{ { "pvesm", "path", ZVOL }, 0, "/dev/zvol/" ZDS "\n" }
#define STEPS_ZCLOSED \
	STATUS_STOPPED, \
	{ { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }, 0, "" }

static const struct step zvol_cycle[] = {
	STEPS_VM_CREATED,
	ZFS_STORAGE(",\"blocksize\":\"16k\""),
	STEPS_ZALLOC,
	/* the bench's sync and compression are the zvol's own properties */
	{ { "zfs", "set", "sync=standard", "compression=lz4", ZDS }, 0, "" },
	ZPROPS("16384", "standard", "lz4"),
	{ { "qm", "set", "9000", "--virtio0", ZVOL ",cache=none" }, 0, "" },
	{ { "mkdir", "-p", RDIR }, 0, "" },
	{ { "COPY", "vmlinuz", RDIR "/vmlinuz" }, 0 },
	{ { "COPY", "initrd.cpio", RDIR "/initrd.cpio" }, 0 },
	BOOT_ID(BOOT1),
	{ { "FORWARD", "7000" }, 0, "41234" }, TOKEN_WRITE,
	{ { "qm", "set", "9000", "--args", "-kernel *" }, 0, "" },
	{ { "qm", "start", "9000" }, 0, "" },
	{ { "WAIT_UP" }, 0 },
	BOOT_ID(BOOT2),
	PMXCFS_UP,
	STATUS_STOPPED,
	/* after the cut: the pool the node imported at boot, never exported here */
	{ { "zpool", "list", "-H", "-o", "health", "rpool" }, 0, "ONLINE\n" },
	{ { "zpool", "status", "-x", "rpool" }, 0, "pool 'rpool' is healthy\n" },
	ZPROPS("16384", "standard", "lz4"),
	{ { "qm", "set", "9000", "--args", "-kernel *" }, 0, "" },
	{ { "qm", "start", "9000" }, 0, "" },
	{ { "cat", RDIR "/console-2.log" }, 0,
	  "POWERCUT ready mode=check disks=1 uptime_ms=1400\r\n"
	  "POWERCUT check-begin disk=1 target=/dev/vda\r\n"
	  "POWERCUT check-line disk=1 {\"type\":\"check\",\"version\":1,\"campaign\":7,\"cycle\":3}\r\n"
	  "POWERCUT check-end disk=1 rc=0 ms=120\r\n"
	  "POWERCUT done mode=check status=ok\r\n" },
	STEPS_ZCLOSED,
	{ CONTENT("local-zfs"), 0, "[]" },
	{ { "rm", "-rf", RDIR }, 0, "" },
	{ { "CANCEL_FORWARD", "7000" }, 0 },
};

/* The same cycle where the pool came back DEGRADED (one mirror side did not return
 * after the cut): `zpool status -x` then prints the full status, not "is healthy". */
#define ZPOOL_DEGRADED_STATUS \
	"  pool: rpool\n state: DEGRADED\nstatus: One or more devices could not be used " \
	"because the label is missing or\n\tinvalid.  Sufficient replicas exist for the pool " \
	"to continue\n\tfunctioning in a degraded state.\naction: Replace the device using " \
	"'zpool replace'.\nconfig:\n\n\tNAME                              STATE     READ WRITE " \
	"CKSUM\n\trpool                             DEGRADED     0     0     0\n\t  mirror-0   " \
	"                     DEGRADED     0     0     0\n\t    nvme-eui.0025388b91b3a1c2-part3 " \
	" ONLINE       0     0     0\n\t    nvme-eui.0025388b91b3a1c3-part3  UNAVAIL      0     " \
	"0     0\n\nerrors: No known data errors\n"

static void zvol_run(const struct step *st, size_t n, const char *pool_result,
		     const char *props_result)
{
	struct node_job job = { .campaign = 7, .cycle = 3, .token = "tok3n",
				.ledger_host = "192.0.2.1", .ledger_port = 7000, .seed = 42,
				.baseline = true };
	struct node_disk_result res = { .disk = "z", .id = 1, .checks = json_array(),
					.agent_rc = -1 };

	begin_prepared(st, n, zvol_text);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), 0);
	assert_int_equal(node_proxmox_ops.power_lost(&node, CUT_POWER), 0);
	assert_int_equal(node_proxmox_ops.wait_up(&node, 60000), 0);
	assert_int_equal(node_proxmox_ops.check(&node, &job, &res), 0);
	assert_string_equal(check_result(res.checks, "zpool-import"), pool_result);
	assert_string_equal(check_result(res.checks, "zvol-props"), props_result);
	assert_int_equal(res.agent_rc, 0);
	/* The guest writes the zvol as a plain virtio disk. */
	assert_non_null(strstr(issued_args[0], " powercut.disks=1:vda "));
	json_t *col = node_proxmox_ops.collect(&node);
	json_t *v = json_array_get(json_object_get(col, "volumes"), 0);
	assert_string_equal(json_string_value(json_object_get(v, "path")), "/dev/zvol/" ZDS);
	json_t *z = json_object_get(v, "zvol");
	assert_string_equal(json_string_value(json_object_get(z, "dataset")), ZDS);
	assert_true(json_is_true(json_object_get(z, "sparse")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(z, "properties"),
							    "volblocksize")), 16384);
	json_decref(col);
	unlink(res.report_path);
	free(res.report_path);
	json_decref(res.checks);
	end();
}

static void test_zvol_cycle(void **state)
{
	zvol_run(zvol_cycle, sizeof(zvol_cycle) / sizeof(zvol_cycle[0]), "pass", "ok");
}

/* The pool DEGRADED after the cut: a metadata failure of the cycle. */
static void test_zvol_pool_degraded(void **state)
{
	size_t n = sizeof(zvol_cycle) / sizeof(zvol_cycle[0]);
	struct step st[sizeof(zvol_cycle) / sizeof(zvol_cycle[0])];

	memcpy(st, zvol_cycle, sizeof(st));
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(st[i].argv[0], "zpool") && !strcmp(st[i].argv[1], "list"))
			st[i].out = "DEGRADED\n";
		if (!strcmp(st[i].argv[0], "zpool") && !strcmp(st[i].argv[1], "status"))
			st[i].out = ZPOOL_DEGRADED_STATUS;
	}
	zvol_run(st, n, "fail", "ok");
	/* ONLINE but with data errors: `zpool status -x` explains them. */
	memcpy(st, zvol_cycle, sizeof(st));
	for (size_t i = 0; i < n; i++)
		if (!strcmp(st[i].argv[0], "zpool") && !strcmp(st[i].argv[1], "status"))
			st[i].out = "  pool: rpool\n state: ONLINE\nstatus: One or more devices has "
				    "experienced an error resulting in data\n\tcorruption.\n\n"
				    "errors: 1 data errors, use '-v' for a list\n";
	zvol_run(st, n, "fail", "ok");
	/* The zvol lost its sync property (it reads as the parent's disabled). */
	memcpy(st, zvol_cycle, sizeof(st));
	for (size_t i = 0, k = 0; i < n; i++)
		if (!strcmp(st[i].argv[0], "zfs") && !strcmp(st[i].argv[1], "get") && k++ == 1)
			st[i].out = "volblocksize\t16384\nvolsize\t1073741824\nrefreservation\t0\n"
				    "sync\tdisabled\ncompression\tlz4\n";
	zvol_run(st, n, "pass", "fail");
}

/* volblocksize = 8K on a storage with blocksize 16k: refused before pvesm alloc,
 * naming the disk (zfs_create_zvol passes the storage's -b to every zvol). */
static const char *zvol_8k_text = ZBENCH("volblocksize = 8K\n");
static const struct step zvol_bs_refused[] = {
	STEPS_VM_CREATED,
	ZFS_STORAGE(",\"blocksize\":\"16k\""),
	STEPS_ZCLOSED,
};
/* No blocksize on the storage: ZFS's default made the zvol (16K on OpenZFS 2.2+), the
 * bench asked for 8K: refused after creation, naming the disk, and the zvol freed. */
static const struct step zvol_bs_default[] = {
	STEPS_VM_CREATED,
	ZFS_STORAGE(""),
	STEPS_ZALLOC,
	{ { "zfs", "set", "sync=standard", "compression=off", ZDS }, 0, "" },
	ZPROPS("16384", "standard", "off"),
	STEPS_ZCLOSED,
	{ CONTENT("local-zfs"), 0, "[{\"format\":\"raw\",\"vmid\":9000,\"volid\":\"" ZVOL "\"}]" },
	{ { "pvesm", "free", ZVOL }, 0, "" },
};
/* A zvol disk on an LVM-thin storage, and a raw disk on a zfspool. */
static const struct step zvol_wrong_store[] = {
	STEPS_VM_CREATED,
	{ { "pvesh", "get", "/storage/local-zfs", "--output-format", "json" }, 0,
	  "{\"storage\":\"local-zfs\",\"thinpool\":\"data\",\"type\":\"lvmthin\",\"vgname\":"
	  "\"pve\"}" },
	STEPS_ZCLOSED,
};
static const char *raw_on_zfs_text =
	"[bench]\nname = pvetest\n[relay]\ndriver = null\n"
	"[node]\ndriver = proxmox\nhost = pve1\nuser = root\nvmid = 9000\nsmart = no\n"
	"storages = local-zfs\n[disk z]\nformat = raw\nsize = 1G\n";
static const struct step raw_on_zfs[] = {
	STEPS_VM_CREATED,
	ZFS_STORAGE(""),
	STEPS_ZCLOSED,
};

/* The errors logged since the last look: each refusal must name the disk and the key. */
static char errbuf[8192];

static void catch_err(void *ctx, enum log_level level, enum log_cat cat, int64_t wall_ns,
		      int64_t mono_ns, const char *msg)
{
	size_t l = strlen(errbuf);

	snprintf(errbuf + l, sizeof(errbuf) - l, "%s\n", msg);
}

static void refused(const struct step *st, size_t n, const char *text, const char *words)
{
	errbuf[0] = '\0';
	begin_bench(st, n, text);
	assert_int_equal(node_proxmox_ops.prepare(&node), -EINVAL);
	end();
	if (!strstr(errbuf, "disk 'z'") || !strstr(errbuf, words))
		fail_msg("the refusal does not say \"disk 'z'\" and \"%s\": %s", words, errbuf);
}

static void test_zvol_refused(void **state)
{
	log_watch_add(catch_err, NULL);
	refused(zvol_bs_refused, sizeof(zvol_bs_refused) / sizeof(zvol_bs_refused[0]),
		zvol_8k_text, "blocksize 16k");
	refused(zvol_bs_default, sizeof(zvol_bs_default) / sizeof(zvol_bs_default[0]),
		zvol_8k_text, "'volblocksize' differs");
	refused(zvol_wrong_store, sizeof(zvol_wrong_store) / sizeof(zvol_wrong_store[0]),
		zvol_8k_text, "type 'lvmthin'");
	refused(raw_on_zfs, sizeof(raw_on_zfs) / sizeof(raw_on_zfs[0]), raw_on_zfs_text,
		"set format = zvol");
	/* A SLOG is a device of the whole pool: refused when the bench is opened. */
	errbuf[0] = '\0';
	struct bench_config *c = bench_config_parse("x.ini", ZBENCH("slog = volatile\n"), NULL,
						    0, &NODE_BENCH_DRIVERS(pve_only));
	assert_non_null(c);
	struct node nn = { .ops = &node_proxmox_ops, .cfg = c, .env = { .work_dir = work } };
	assert_int_equal(node_proxmox_ops.open(&nn), -ENOTSUP);
	bench_config_free(c);
	log_watch_remove(catch_err, NULL);
	assert_non_null(strstr(errbuf, "disk 'z': slog = volatile"));
}

/* ---- scenario step snapshot: qm snapshot of the test VM ----
 *
 * What qm does, as read in qemu-server (PVE/QemuConfig.pm __snapshot_create_vol_snapshot
 * prints "snapshotting 'drive-virtioN' (VOLID)" per disk; PVE/QemuServer.pm
 * qemu_volume_snapshot and do_snapshots_type: a stopped VM's disks are snapshotted by
 * the storage) and pve-storage (LvmThinPlugin.pm volume_snapshot: `lvcreate -n
 * snap_LV_SNAP -pr -s VG/LV`, run_command's errmsg "lvcreate snapshot 'VG/LV' error: "
 * before lvcreate's own stderr; Plugin.pm volume_snapshot: `qemu-img snapshot -c`
 * inside a qcow2 file, which prints nothing; LvmThinPlugin.pm free_image: every
 * snap_LV_* is removed with the volume). AbstractConfig's snapshot_create warns
 * "snapshot create failed: starting cleanup" and dies with the storage's error, which
 * qm prints last. lvs exits 5 when it finds no such LV. */
#define VM_STOPPED \
	{ { "pvesh", "get", "/nodes/pve1/qemu/9000/status/current", "--output-format", "json" }, 0, \
	  "{\"status\":\"stopped\",\"vmid\":9000}" }
#define QM_SNAP(n) { "qm", "snapshot", "9000", "pc-snap" #n, "--description", \
		     "powercut: scenario step snapshot" }
#define SNAP_OUT(n) "snapshotting 'drive-virtio0' (" QVOL ")\nsnapshotting 'drive-virtio1' (" \
	TVOL ")\n  Logical volume \"snap_vm-9000-pc-t_pc-snap" #n "\" created.\n"
#define SNAP_LV(n) "pve/snap_vm-9000-pc-t_pc-snap" #n
#define SNAP_GONE(n) { { "lvs", "--reportformat", "json", "-o", "lv_name", SNAP_LV(n) }, 5, "", \
		       "  Failed to find logical volume \"" SNAP_LV(n) "\"\n" }
#define QM_DESTROY { "qm", "destroy", "9000", "--purge", "1", "--destroy-unreferenced-disks", "1" }

/* Two snapshot steps of the stopped VM, each under its own name; close destroys the
 * VM (its volumes and their snapshots with it) and finds no snapshot LV left. */
static const struct step snap_two[] = {
	STEPS_PREPARED,
	VM_STOPPED,
	{ QM_SNAP(1), 0, SNAP_OUT(1) },
	VM_STOPPED,
	{ QM_SNAP(2), 0, SNAP_OUT(2) },
	VM_STOPPED,
	{ QM_DESTROY, 0, "" },
	{ CONTENT("local"), 0, "[]" },
	{ CONTENT("local-lvm"), 0, "[]" },
	SNAP_GONE(1),
	SNAP_GONE(2),
	{ { "rm", "-rf", RDIR }, 0, "" },
};

static void test_scenario_snapshot(void **state)
{
	begin_prepared(snap_two, sizeof(snap_two) / sizeof(snap_two[0]), bench_text);
	assert_int_equal(node_proxmox_ops.snapshot(&node), 0);
	assert_int_equal(node_proxmox_ops.snapshot(&node), 0);
	/* The record: each snapshot's name, the VM's state, and what qm printed. */
	json_t *col = node_proxmox_ops.collect(&node);
	json_t *ss = json_object_get(col, "scenario_snapshots");
	assert_int_equal(json_array_size(ss), 2);
	json_t *s2 = json_array_get(ss, 1);
	assert_string_equal(json_string_value(json_object_get(s2, "name")), "pc-snap2");
	assert_string_equal(json_string_value(json_object_get(s2, "vm_status")), "stopped");
	assert_true(json_is_true(json_object_get(s2, "ok")));
	assert_string_equal(json_string_value(json_object_get(s2, "qm")), SNAP_OUT(2));
	json_decref(col);
	end();
}

/* The thin pool is full: qm snapshot fails; the step fails naming the VM, its disks
 * and qm's last line. The driver issues nothing else (no stop: the node's power and
 * the VM are the campaign's to leave on), and close still looks for the snapshot. */
static const struct step snap_full[] = {
	STEPS_PREPARED,
	VM_STOPPED,
	{ QM_SNAP(1), 255, "snapshotting 'drive-virtio0' (" QVOL ")\nsnapshotting 'drive-virtio1' ("
	  TVOL ")\n", "snapshot create failed: starting cleanup\nlvcreate snapshot '" SNAP_LV(1)
	  "' error:   Cannot create new thin volume, free space in thin pool pve/data reached "
	  "threshold.\n" },
	VM_STOPPED,
	{ QM_DESTROY, 0, "" },
	{ CONTENT("local"), 0, "[]" },
	{ CONTENT("local-lvm"), 0, "[]" },
	SNAP_GONE(1),
	{ { "rm", "-rf", RDIR }, 0, "" },
};

static void test_scenario_snapshot_fails(void **state)
{
	errbuf[0] = '\0';
	log_watch_add(catch_err, NULL);
	begin_prepared(snap_full, sizeof(snap_full) / sizeof(snap_full[0]), bench_text);
	assert_int_equal(node_proxmox_ops.snapshot(&node), -ENOSPC);
	log_watch_remove(catch_err, NULL);
	const char *words[] = { "scenario step 'snapshot'", "'qm snapshot 9000 pc-snap1'",
				"stopped VM", "'q' (" QVOL ")", "'t' (" TVOL ")",
				"free space in thin pool pve/data reached threshold." };
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strstr(errbuf, words[i]))
			fail_msg("the error does not say \"%s\": %s", words[i], errbuf);
	json_t *col = node_proxmox_ops.collect(&node);
	json_t *s1 = json_array_get(json_object_get(col, "scenario_snapshots"), 0);
	assert_false(json_is_true(json_object_get(s1, "ok")));
	json_decref(col);
	end();
}

/* qm destroy fails and pvesm free of the thin LV fails on its snapshot (LVM says it is
 * in use): close's last look finds the snapshot LV and removes it, so no snapshot of
 * the campaign is left on the node. */
static const struct step snap_stale[] = {
	STEPS_PREPARED,
	VM_STOPPED,
	{ QM_SNAP(1), 0, SNAP_OUT(1) },
	VM_STOPPED,
	{ QM_DESTROY, 255, "", "volume deactivation failed: pve/vm-9000-pc-t\n" },
	{ CONTENT("local"), 0, "[{\"content\":\"images\",\"format\":\"qcow2\",\"vmid\":9000,"
	  "\"volid\":\"" QVOL "\"}]" },
	{ { "pvesm", "free", QVOL }, 0, "" },
	{ CONTENT("local-lvm"), 0, "[{\"content\":\"images\",\"format\":\"raw\",\"vmid\":9000,"
	  "\"volid\":\"" TVOL "\"}]" },
	{ { "pvesm", "free", TVOL }, 5, "", "lvremove snapshot '" SNAP_LV(1) "' error:   Logical "
	  "volume " SNAP_LV(1) " in use.\n" },
	{ { "lvs", "--reportformat", "json", "-o", "lv_name", SNAP_LV(1) }, 0,
	  "{\"report\":[{\"lv\":[{\"lv_name\":\"snap_vm-9000-pc-t_pc-snap1\"}]}]}" },
	{ { "lvremove", "-y", SNAP_LV(1) }, 0, "  Logical volume \"snap_vm-9000-pc-t_pc-snap1\" "
	  "successfully removed.\n" },
	{ { "rm", "-rf", RDIR }, 0, "" },
};

static void test_scenario_snapshot_cleanup(void **state)
{
	begin_prepared(snap_stale, sizeof(snap_stale) / sizeof(snap_stale[0]), bench_text);
	assert_int_equal(node_proxmox_ops.snapshot(&node), 0);
	end();	/* the transcript's close, lvremove included */
}

/* The snapshot step on a storage with snapshots as volume chain (LVM): qm snapshot of
 * the stopped VM gives the volume a new overlay under its own name (pve-storage
 * LVMPlugin volume_snapshot, "Formatting ... backing_file=snap_NAME_SNAP.qcow2", its
 * options Proxmox's: cluster 128k, extended L2), so the driver reads the volume back
 * as after the baseline's snapshot (VM config, pvesm path, the chain activated,
 * qemu-img info); close looks for the snapshot's base by name. */
static const struct step snap_chain[] = {
	STEPS_CPREPARED,
	STATUS_STOPPED,
	{ { "qm", "snapshot", "9000", "pc-snap1", "--description", "powercut: scenario step "
	    "snapshot" }, 0, "snapshotting 'drive-virtio0' (" CVOL ")\n  Rounding up size to full "
	  "physical extent 1.00 GiB\n  Logical volume \"vm-9000-pc-q.qcow2\" created.\nFormatting '"
	  CPATH "', fmt=qcow2 cluster_size=131072 extended_l2=on preallocation=metadata "
	  "compression_type=zlib size=1073741824 backing_file=snap_vm-9000-pc-q_pc-snap1.qcow2 "
	  "backing_fmt=qcow2 lazy_refcounts=off refcount_bits=16\nsnapshotting 'drive-virtio1' ("
	  TVOL ")\n  Logical volume \"snap_vm-9000-pc-t_pc-snap1\" created.\n" },
	{ { "pvesh", "get", "/nodes/pve1/qemu/9000/config", "--current", "1", "--output-format",
	    "json" }, 0, "{\"parent\":\"pc-snap1\",\"virtio0\":\"" CVOL ",cache=none,size=1G\","
	  "\"virtio1\":\"" TVOL ",cache=writeback,size=2G\"}" },
	{ { "pvesm", "path", CVOL }, 0, CPATH "\n" },
	LV_ACTIVATE,
	QIMG_INFO(CPATH, 131072, "true"),
	STATUS_STOPPED,
	{ QM_DESTROY, 0, "" },
	{ CONTENT("pc-lvm"), 0, "[]" },
	{ CONTENT("local-lvm"), 0, "[]" },
	{ { "lvs", "--reportformat", "json", "-o", "lv_name", "pclvm/snap_vm-9000-pc-q_pc-snap1."
	    "qcow2" }, 5, "", "  Failed to find logical volume \"pclvm/snap_vm-9000-pc-q_pc-snap1."
	  "qcow2\"\n" },
	SNAP_GONE(1),
	{ { "rm", "-rf", RDIR }, 0, "" },
};

static void test_scenario_snapshot_chain(void **state)
{
	begin_prepared(snap_chain, sizeof(snap_chain) / sizeof(snap_chain[0]), chain_text);
	assert_int_equal(node_proxmox_ops.snapshot(&node), 0);
	json_t *col = node_proxmox_ops.collect(&node);
	json_t *q0 = json_object_get(json_array_get(json_object_get(col, "volumes"), 0), "qcow2");
	assert_int_equal(json_integer_value(json_object_get(q0, "cluster_size")), 131072);
	assert_true(json_is_true(json_object_get(q0, "extended_l2")));
	json_decref(col);
	end();
}

/* Reset and reboot are not built for Proxmox: refused, naming the driver and the step
 * (qemu-server: vm_reset is QMP system_reset, vm_reboot a shutdown after which qmeventd
 * starts a new QEMU); nothing is issued on the node. */
static void test_scenario_reset_refused(void **state)
{
	static const struct step none[] = { STEPS_PREPARED, VM_STOPPED, { QM_DESTROY, 0, "" },
		{ CONTENT("local"), 0, "[]" }, { CONTENT("local-lvm"), 0, "[]" },
		{ { "rm", "-rf", RDIR }, 0, "" } };

	errbuf[0] = '\0';
	log_watch_add(catch_err, NULL);
	begin_prepared(none, sizeof(none) / sizeof(none[0]), bench_text);
	assert_int_equal(node_proxmox_ops.reset(&node, true), -ENOTSUP);
	assert_int_equal(node_proxmox_ops.reset(&node, false), -ENOTSUP);
	log_watch_remove(catch_err, NULL);
	assert_non_null(strstr(errbuf, "node driver 'proxmox' does not support scenario step "
				       "'reboot'"));
	assert_non_null(strstr(errbuf, "node driver 'proxmox' does not support cut kind 'reset'"));
	end();
}

/* The watch while the cycle waits for the workload (node_ops.watch): the write boot's
 * console read so far (cat) and the VM's state (pvesh .../status/current, as
 * qemu-server's `qm status` reads it). Alive while the console shows no panic and the
 * VM runs; at most one look per proxmox_watch_ms (0 here, so each call looks). */
#define STEPS_WRITE_BOOT \
	STEPS_PREPARED, BOOT_ID(BOOT1), { { "FORWARD", "7000" }, 0, "41234" }, TOKEN_WRITE, \
	{ { "qm", "set", "9000", "--args", "-kernel*" }, 0, "" }, \
	{ { "qm", "start", "9000" }, 0, "" }
#define CAT_CONSOLE1 { "cat", RDIR "/console-1.log" }
#define VM_STATUS { "pvesh", "get", "/nodes/pve1/qemu/9000/status/current", "--output-format", \
		    "json" }
#define BOOTING "POWERCUT boot contract=1 kernel=6.1.0-56-amd64 uptime_ms=900 mode=write " \
		"agent=present guest=56871c5d8712571a\r\n"

static const struct step watch_alive_then_stopped[] = {
	STEPS_WRITE_BOOT,
	{ CAT_CONSOLE1, 0, BOOTING },
	{ VM_STATUS, 0, "{\"status\":\"running\",\"qmpstatus\":\"running\",\"vmid\":9000}" },
	/* an ssh that fails says nothing of the VM: alive as far as we know */
	{ CAT_CONSOLE1, 0, BOOTING },
	{ VM_STATUS, 255, "", "ssh: connect to host pve1 port 22: Connection timed out\n" },
	/* the guest's QEMU is gone: qemu-server reports the VM stopped */
	{ CAT_CONSOLE1, 0, BOOTING "POWERCUT ctl boot=write\r\n" },
	{ VM_STATUS, 0, "{\"status\":\"stopped\",\"qmpstatus\":\"stopped\",\"vmid\":9000}" },
	STEPS_CLOSED,
	{ { "CANCEL_FORWARD", "7000" }, 0 },
};

static const struct step watch_panic[] = {
	STEPS_WRITE_BOOT,
	/* the kernel's panic() on ttyS0 (kernel/panic.c): its first and last lines */
	{ CAT_CONSOLE1, 0, BOOTING "[    3.100000] Kernel panic - not syncing: VFS: Unable to "
	  "mount root fs on unknown-block(0,0)\r\n[    3.100500] CPU: 0 PID: 1 Comm: swapper/0\r\n"
	  "[    3.101000] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on "
	  "unknown-block(0,0) ]---\r\n" },
	STEPS_CLOSED,
	{ { "CANCEL_FORWARD", "7000" }, 0 },
};

static void test_watch(void **state)
{
	struct node_job job = { .campaign = 7, .cycle = 3, .token = "tok3n",
				.ledger_host = "127.0.0.1", .ledger_port = 7000, .seed = 42,
				.baseline = true };

	proxmox_watch_ms = 0;
	begin_prepared(watch_alive_then_stopped, sizeof(watch_alive_then_stopped) /
		       sizeof(watch_alive_then_stopped[0]), bench_text);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), 0);
	assert_int_equal(node_proxmox_ops.watch(&node), 0);
	assert_int_equal(node_proxmox_ops.watch(&node), 0);
	assert_null(node_death(&node));
	assert_int_equal(node_proxmox_ops.watch(&node), -EOWNERDEAD);
	const struct node_death *d = node_death(&node);
	assert_non_null(d);
	assert_int_equal(d->life, NODE_LIFE_STOPPED);
	assert_non_null(strstr(d->what, "VM 9000 on "));
	assert_non_null(strstr(d->what, "is stopped"));
	assert_non_null(strstr(d->what, "at stage 'ctl'"));
	end();

	begin_prepared(watch_panic, sizeof(watch_panic) / sizeof(watch_panic[0]), bench_text);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), 0);
	assert_int_equal(node_proxmox_ops.watch(&node), -EOWNERDEAD);
	d = node_death(&node);
	assert_non_null(d);
	assert_int_equal(d->life, NODE_LIFE_PANICKED);
	assert_non_null(strstr(d->what, "panicked (Kernel panic - not syncing: VFS: Unable"));
	assert_non_null(strstr(d->what, "---[ end Kernel panic"));
	end();
	proxmox_watch_ms = 2000;
}

/* powercut doctor on a zvol bench: the storage's blocksize against the bench's, the
 * pool's health, the parent dataset's sync. */
#define DOCTOR_HEAD \
	{ { "true" }, 0, "" }, \
	{ { "pveversion" }, 0, "pve-manager/8.2.4/faa83925c9641325 (running kernel: 6.8.12-1-pve)\n" }, \
	{ { "qemu-system-x86_64", "--version" }, 0, "QEMU emulator version 9.0.2\n" }, \
	{ { "qemu-img", "--version" }, 0, "qemu-img version 9.0.2\n" }, \
	{ { "lvm", "version" }, 0, "  LVM version:     2.03.16(2) (2022-05-18)\n" }, \
	{ { "thin_check", "-V" }, 0, "0.9.0\n" }, \
	{ { "pvesh", "get", "/cluster/status", "--output-format", "json" }, 0, CLUSTER_STATUS }
#define ZFS_STATUS \
	{ { "pvesh", "get", "/nodes/pve1/storage/local-zfs/status", "--output-format", "json" }, \
	  0, "{\"active\":1,\"avail\":53687091200,\"enabled\":1,\"total\":107374182400," \
	  "\"type\":\"zfspool\",\"used\":53687091200}" }
#define VMS_FREE \
	{ { "pvesh", "get", "/cluster/resources", "--type", "vm", "--output-format", "json" }, 0, \
	  "[]" }
static struct step dr_zfs[] = {
	DOCTOR_HEAD,
	ZFS_STORAGE(",\"blocksize\":\"16k\""),
	ZFS_STATUS,
	{ { "zpool", "list", "-H", "-o", "health", "rpool" }, 0, "ONLINE\n" },
	{ { "zfs", "get", "-H", "-o", "value", "sync", "rpool/data" }, 0, "standard\n" },
	VMS_FREE,
};
static const struct step dr_zfs_mismatch[] = {
	DOCTOR_HEAD,
	ZFS_STORAGE(",\"blocksize\":\"8k\""),
	{ { "zpool", "list", "-H", "-o", "health", "rpool" }, 0, "ONLINE\n" },
	{ { "zfs", "get", "-H", "-o", "value", "sync", "rpool/data" }, 0, "standard\n" },
	VMS_FREE,
};
static const struct step dr_zfs_noblock[] = {
	DOCTOR_HEAD,
	ZFS_STORAGE(""),
	ZFS_STATUS,
	{ { "zpool", "list", "-H", "-o", "health", "rpool" }, 0, "ONLINE\n" },
	{ { "zfs", "get", "-H", "-o", "value", "sync", "rpool/data" }, 0, "standard\n" },
	VMS_FREE,
};

static void doctor_zfs(const struct step *st, size_t n, struct dr_seen *seen)
{
	struct node_doctor d = { .add = dr_add, .arg = seen };

	memset(seen, 0, sizeof(*seen));
	begin_bench(st, n, zvol_text);
	free(cfg->node->guest);
	cfg->node->guest = strdup(guest);
	assert_int_equal(node_proxmox_ops.doctor(&node, &d), 0);
	end();
}

static const char *dr_found(const struct dr_seen *s, const char *check)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->check[i], check))
			return s->found[i];
	return "";
}

static void test_doctor_zfs(void **state)
{
	size_t n = sizeof(dr_zfs) / sizeof(dr_zfs[0]);
	struct dr_seen seen;

	doctor_zfs(dr_zfs, n, &seen);
	assert_int_equal(dr_status(&seen, "storage z"), 'o');
	assert_int_equal(dr_status(&seen, "zpool local-zfs"), 'o');
	assert_int_equal(dr_status(&seen, "zfs-sync local-zfs"), 'o');
	assert_int_equal(dr_status(&seen, "vmid"), 'o');
	/* The pool DEGRADED: fail. Not imported at all (zpool list exits 1, "cannot open
	 * 'rpool': no such pool"): fail. */
	for (size_t i = 0; i < n; i++)
		if (!strcmp(dr_zfs[i].argv[0], "zpool"))
			dr_zfs[i].out = "DEGRADED\n";
	doctor_zfs(dr_zfs, n, &seen);
	assert_int_equal(dr_status(&seen, "zpool local-zfs"), 'f');
	assert_non_null(strstr(dr_found(&seen, "zpool local-zfs"), "DEGRADED"));
	for (size_t i = 0; i < n; i++)
		if (!strcmp(dr_zfs[i].argv[0], "zpool")) {
			dr_zfs[i].status = 1;
			dr_zfs[i].out = "";
			dr_zfs[i].err = "cannot open 'rpool': no such pool\n";
		}
	doctor_zfs(dr_zfs, n, &seen);
	assert_int_equal(dr_status(&seen, "zpool local-zfs"), 'f');
	assert_non_null(strstr(dr_found(&seen, "zpool local-zfs"), "not imported"));
	/* sync=disabled on the parent: a loud warning. */
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(dr_zfs[i].argv[0], "zpool")) {
			dr_zfs[i].status = 0;
			dr_zfs[i].out = "ONLINE\n";
			dr_zfs[i].err = NULL;
		}
		if (!strcmp(dr_zfs[i].argv[0], "zfs"))
			dr_zfs[i].out = "disabled\n";
	}
	doctor_zfs(dr_zfs, n, &seen);
	assert_int_equal(dr_status(&seen, "zpool local-zfs"), 'o');
	assert_int_equal(dr_status(&seen, "zfs-sync local-zfs"), 'w');
	assert_non_null(strstr(dr_found(&seen, "zfs-sync local-zfs"), "SYNC=DISABLED"));
	/* The storage's blocksize is not the bench's volblocksize: the storage fails,
	 * naming the disk; the pool is checked all the same. */
	doctor_zfs(dr_zfs_mismatch, sizeof(dr_zfs_mismatch) / sizeof(dr_zfs_mismatch[0]), &seen);
	assert_int_equal(dr_status(&seen, "storage z"), 'f');
	assert_non_null(strstr(dr_found(&seen, "storage z"), "disk 'z'"));
	assert_int_equal(dr_status(&seen, "zpool local-zfs"), 'o');
	/* No blocksize: ZFS's default decides, known only after creation: a warning. */
	doctor_zfs(dr_zfs_noblock, sizeof(dr_zfs_noblock) / sizeof(dr_zfs_noblock[0]), &seen);
	assert_int_equal(dr_status(&seen, "storage z"), 'w');
}

/* [node] smart (the default): the drives under the zvol's pool recorded before and
 * after the cut. `zpool list -v -H -P` (OpenZFS zpool-list(8): -H tab-separated
 * without headers, -P full vdev paths; print_list_stats puts a vdev's name after a
 * tab) lists a mirror of two partitions, which `lsblk -no pkname` resolves to their
 * disks (util-linux lsblk(8): PKNAME, the parent kernel device name). The smartctl
 * reports are trimmed from smartctl 7.3's documented NVMe JSON (the fields smart.c
 * reads, as in host/node/tests/smart/nvme-documented.json): the first drive counts
 * the cut as an unsafe shutdown, the second does not. */
#define VDEV1 "/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNF0R000001-part3"
#define VDEV2 "/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNF0R000002-part3"
#define NVME_JSON(dev, serial, unsafe, cycles) \
	"{\"json_format_version\":[1,0],\"smartctl\":{\"version\":[7,3],\"exit_status\":0}," \
	"\"device\":{\"name\":\"" dev "\",\"info_name\":\"" dev "\",\"type\":\"nvme\"," \
	"\"protocol\":\"NVMe\"},\"model_name\":\"Samsung SSD 980 PRO 1TB\",\"serial_number\":" \
	"\"" serial "\",\"firmware_version\":\"5B2QGXA7\",\"nvme_smart_health_information_log\":" \
	"{\"critical_warning\":0,\"power_cycles\":" cycles ",\"unsafe_shutdowns\":" unsafe "}," \
	"\"power_cycle_count\":" cycles "}\n"
static const struct step smart_drives[] = {
	{ { "zpool", "list", "-v", "-H", "-P", "rpool" }, 0,
	  "rpool\t928G\t10.2G\t918G\t-\t-\t1%\t1%\t1.00x\tONLINE\t-\n"
	  "\tmirror-0\t928G\t10.2G\t918G\t-\t-\t1%\t1.10%\t-\tONLINE\n"
	  "\t" VDEV1 "\t-\t-\t-\t-\t-\t-\t-\t-\tONLINE\n"
	  "\t" VDEV2 "\t-\t-\t-\t-\t-\t-\t-\t-\tONLINE\n" },
	{ { "lsblk", "-no", "pkname", VDEV1 }, 0, "nvme0n1\n" },
	{ { "lsblk", "-no", "pkname", VDEV2 }, 0, "nvme1n1\n" },
};
static const struct step smart_before[] = {
	{ { "smartctl", "--json", "-x", "/dev/nvme0n1" }, 0,
	  NVME_JSON("/dev/nvme0n1", "S5GXNF0R000001", "89", "1234") },
	{ { "smartctl", "--json", "-x", "/dev/nvme1n1" }, 0,
	  NVME_JSON("/dev/nvme1n1", "S5GXNF0R000002", "41", "1200") },
};
static const struct step smart_after[] = {
	{ { "smartctl", "--json", "-x", "/dev/nvme0n1" }, 0,
	  NVME_JSON("/dev/nvme0n1", "S5GXNF0R000001", "90", "1235") },
	{ { "smartctl", "--json", "-x", "/dev/nvme1n1" }, 0,
	  NVME_JSON("/dev/nvme1n1", "S5GXNF0R000002", "41", "1201") },
};

static void test_zvol_smart(void **state)
{
	struct node_job job = { .campaign = 7, .cycle = 3, .token = "tok3n",
				.ledger_host = "192.0.2.1", .ledger_port = 7000, .seed = 42,
				.baseline = true };
	struct node_disk_result res = { .disk = "z", .id = 1, .checks = json_array(),
					.agent_rc = -1 };
	struct step st[64];
	size_t n = 0, zget = 0, boots = 0;

	/* zvol_cycle with the drives found after the allocation, read before the
	 * workload and again first thing at the check. */
	for (size_t i = 0; i < sizeof(zvol_cycle) / sizeof(zvol_cycle[0]); i++) {
		const struct step *z = &zvol_cycle[i];
		if (!strcmp(z->argv[0], "FORWARD"))
			for (size_t k = 0; k < 2; k++)
				st[n++] = smart_before[k];
		if (!strcmp(z->argv[0], "zpool") && !strcmp(z->argv[1], "list"))
			for (size_t k = 0; k < 2; k++)
				st[n++] = smart_after[k];
		st[n++] = *z;
		if (!strcmp(z->argv[0], "zfs") && !strcmp(z->argv[1], "get") && !zget++)
			for (size_t k = 0; k < 3; k++)
				st[n++] = smart_drives[k];
		boots += !strcmp(z->argv[0], "cat") && !strcmp(z->argv[1], "/proc/sys/kernel/random/boot_id");
	}
	assert_int_equal(boots, 2);
	begin_prepared(st, n, ZBENCH_N("", "sync = standard\nvolblocksize = 16K\ncompression = yes\n"));
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), 0);
	assert_int_equal(node_proxmox_ops.power_lost(&node, CUT_POWER), 0);
	assert_int_equal(node_proxmox_ops.wait_up(&node, 60000), 0);
	assert_int_equal(node_proxmox_ops.check(&node, &job, &res), 0);
	/* One smart check per drive, in the form the full tier stores (smart.h). */
	size_t i, seen = 0;
	json_t *c;
	json_array_foreach(res.checks, i, c) {
		if (strcmp(json_string_value(json_object_get(c, "kind")), "smart"))
			continue;
		json_t *d = json_object_get(c, "detail");
		const char *dev = json_string_value(json_object_get(d, "device"));
		json_t *after = json_object_get(d, "after");
		assert_string_equal(json_string_value(json_object_get(after, "model")),
				    "Samsung SSD 980 PRO 1TB");
		assert_string_equal(json_string_value(json_object_get(after, "firmware")), "5B2QGXA7");
		if (!strcmp(dev, "/dev/nvme0n1")) {
			assert_string_equal(json_string_value(json_object_get(c, "result")), "counted");
			assert_int_equal(json_integer_value(json_object_get(after, "unsafe_shutdowns")), 90);
		} else {
			assert_string_equal(dev, "/dev/nvme1n1");
			assert_string_equal(json_string_value(json_object_get(c, "result")),
					    "not-counted");
		}
		seen++;
	}
	assert_int_equal(seen, 2);
	assert_string_equal(check_result(res.checks, "zpool-import"), "pass");
	json_t *col = node_proxmox_ops.collect(&node);
	json_t *dr = json_object_get(json_array_get(json_object_get(col, "volumes"), 0), "drives");
	assert_int_equal(json_array_size(dr), 2);
	json_decref(col);
	unlink(res.report_path);
	free(res.report_path);
	json_decref(res.checks);
	end();
}

/* An LVM-thin disk: the volume group's PVs (`pvs --noheadings -o pv_name`, each
 * indented by two spaces as LVM's reports are) resolved to their disks; a PV that is
 * a whole disk has no parent (lsblk prints an empty line), and two PVs on one disk
 * are one drive. No smartctl report (not installed: exit 127) is no-data. */
static void test_lvm_smart(void **state)
{
	struct node_job job = { .campaign = 7, .cycle = 3, .token = "tok3n",
				.ledger_host = "192.0.2.1", .ledger_port = 7000, .seed = 42,
				.baseline = true };
	static const char *text =
		"[bench]\nname = pvetest\n[relay]\ndriver = null\n"
		"[node]\ndriver = proxmox\nhost = pve1\nuser = root\nvmid = 9000\nsmart = yes\n"
		"storages = local-lvm\n[disk t]\nformat = lvmthin\ncache = none\nsize = 2G\n";
	const struct step st[] = {
		STEPS_VM_CREATED,
		STEPS_T,
		{ { "pvesm", "alloc", "local-lvm", "9000", "vm-9000-pc-t", "2048M", "--format", "raw" },
		  0, "successfully created '" TVOL "'\n" },
		{ CONTENT("local-lvm"), 0, "[{\"format\":\"raw\",\"vmid\":9000,\"volid\":\"" TVOL "\"}]" },
		{ { "pvesm", "path", TVOL }, 0, "/dev/pve/vm-9000-pc-t\n" },
		{ { "pvs", "--noheadings", "-o", "pv_name", "--select", "vg_name=pve" }, 0,
		  "  /dev/sda3\n  /dev/sda4\n  /dev/sdb\n" },
		{ { "lsblk", "-no", "pkname", "/dev/sda3" }, 0, "sda\n" },
		{ { "lsblk", "-no", "pkname", "/dev/sda4" }, 0, "sda\n" },
		{ { "lsblk", "-no", "pkname", "/dev/sdb" }, 0, "\n" },
		{ { "qm", "set", "9000", "--virtio0", TVOL ",cache=none" }, 0, "" },
		{ { "mkdir", "-p", RDIR }, 0, "" },
		{ { "COPY", "vmlinuz", RDIR "/vmlinuz" }, 0 },
		{ { "COPY", "initrd.cpio", RDIR "/initrd.cpio" }, 0 },
		BOOT_ID(BOOT1),
		{ { "smartctl", "--json", "-x", "/dev/sda" }, 127, "",
		  "bash: line 1: smartctl: command not found\n" },
		{ { "smartctl", "--json", "-x", "/dev/sdb" }, 127, "",
		  "bash: line 1: smartctl: command not found\n" },
		{ { "FORWARD", "7000" }, 1, "" },
		STEPS_VM_DESTROYED,
		{ CONTENT("local-lvm"), 0, "[]" },
		{ { "rm", "-rf", RDIR }, 0, "" },
	};
	json_t *checks = json_array();

	begin_prepared(st, sizeof(st) / sizeof(st[0]), text);
	assert_int_equal(node_proxmox_ops.start_workload(&node, &job), -EPERM);
	json_t *col = node_proxmox_ops.collect(&node);
	json_t *dr = json_object_get(json_array_get(json_object_get(col, "volumes"), 0), "drives");
	assert_int_equal(json_array_size(dr), 2);
	assert_string_equal(json_string_value(json_array_get(dr, 0)), "/dev/sda");
	assert_string_equal(json_string_value(json_array_get(dr, 1)), "/dev/sdb");
	json_decref(col);
	end();
	/* What the check would store for a drive without reports. */
	smart_check_add(checks, NULL, NULL, true, "/dev/sda");
	assert_string_equal(check_result(checks, "smart"), "no-data");
	json_decref(checks);
}

/* host/fio/tests/data/status-interval-cut.json: from the cwd upwards, else beside the
 * build directory (build/host/node/tests/NAME). */
static char *load_fixture(void)
{
	static const char rel[] = "host/fio/tests/data/status-interval-cut.json";
	char dir[PATH_MAX], path[PATH_MAX + 64];
	ssize_t k;

	if (!getcwd(dir, sizeof(dir)))
		return NULL;
	for (;;) {
		snprintf(path, sizeof(path), "%s/%s", dir, rel);
		if (access(path, R_OK) == 0)
			break;
		char *sl = strrchr(dir, '/');
		if (!sl || sl == dir) {
			if ((k = readlink("/proc/self/exe", dir, sizeof(dir) - 1)) < 0)
				return NULL;
			dir[k] = 0;
			for (int up = 0; up < 4; up++)
				*strrchr(dir, '/') = 0;
			snprintf(path, sizeof(path), "%.4000s/../%s", dir, rel);
			break;
		}
		*sl = 0;
	}
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	if (!f)
		return NULL;
	FILE *m = open_memstream(&text, &len);
	char buf[8192];
	size_t n;
	while (m && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, m);
	if (m)
		fclose(m);
	fclose(f);
	return text;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[4200];
	static const char storages[] = "storages = local-lvm q=local\n";

	proxmox_poll_ms = 10;
	snprintf(work, sizeof(work), "%s/pcpve.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(work))
		return 1;
	snprintf(guest, sizeof(guest), "%s/guest", work);
	mkdir(guest, 0700);
	snprintf(path, sizeof(path), "%s/vmlinuz", guest);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/initrd.cpio", guest);
	fclose(fopen(path, "w"));
	if (!(fio_json = load_fixture())) {
		printf("cannot read host/fio/tests/data/status-interval-cut.json\n");
		return 1;
	}
	snprintf(fio_job, sizeof(fio_job), "%s/load.fio", work);
	FILE *jf = fopen(fio_job, "w");
	fputs("[load]\nrw=randwrite\n", jf);
	fclose(jf);
	/* The bench with fio in its [node] section. */
	const char *at = strstr(bench_text, storages) + strlen(storages);
	snprintf(fio_bench, sizeof(fio_bench), "%.*sfio = %s\nfio_size = 32M\n%s",
		 (int)(at - bench_text), bench_text, fio_job, at);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_cycle_fio),
		cmocka_unit_test(test_fio_killed_at_close),
		cmocka_unit_test(test_forward_refused),
		cmocka_unit_test(test_token_write_fails),
		cmocka_unit_test(test_storage_full_cleanup),
		cmocka_unit_test(test_volume_exists_left_alone),
		cmocka_unit_test(test_vm_exists_left_alone),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_chain_cycle),
		cmocka_unit_test(test_chain_snapshot_fails),
		cmocka_unit_test(test_chain_inactive),
		cmocka_unit_test(test_chain_baseline_fails),
		cmocka_unit_test(test_chain_refused),
		cmocka_unit_test(test_not_rebooted),
		cmocka_unit_test(test_pool_inactive),
		cmocka_unit_test(test_options_refused),
		cmocka_unit_test(test_lvm_qcow2_needs_chain),
		cmocka_unit_test(test_doctor_cut),
		cmocka_unit_test(test_zvol_cycle),
		cmocka_unit_test(test_zvol_pool_degraded),
		cmocka_unit_test(test_zvol_refused),
		cmocka_unit_test(test_doctor_zfs),
		cmocka_unit_test(test_zvol_smart),
		cmocka_unit_test(test_lvm_smart),
		cmocka_unit_test(test_scenario_snapshot),
		cmocka_unit_test(test_scenario_snapshot_fails),
		cmocka_unit_test(test_scenario_snapshot_cleanup),
		cmocka_unit_test(test_scenario_snapshot_chain),
		cmocka_unit_test(test_scenario_reset_refused),
		cmocka_unit_test(test_watch),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	unlink(path);
	snprintf(path, sizeof(path), "%s/vmlinuz", guest);
	unlink(path);
	unlink(fio_job);
	free(fio_json);
	rmdir(guest);
	rmdir(work);
	return rc;
}
