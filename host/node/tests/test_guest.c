/* The guest module (guest.h) pinned: the kernel command line and QEMU's arguments each
 * node driver gives build/guest, word for word. The expected texts are what the
 * drivers issued before the module existed (captured from `powercut run` on
 * rig/benches/demo-full.ini, from test_remote and from test_proxmox's transcripts),
 * with this test's paths; a change to any of them is a change of what the guest is
 * told, and must show here.
 *   local     the full tier of the qemu driver (qemu.c): six disks as in make demo's
 *             full tier (qcow2, SATA raw, LVM-thin, two ext4 file systems, an NVMe zvol),
 *             qboot, static networking, the ledger at the node's own address;
 *   remote    the qemu driver over ssh (qemu_remote.c): KVM or TCG, the bench's cores
 *             and memory, -daemonize with a pid file, DHCP, a baseline boot;
 *   proxmox   the VM's `args` (proxmox.c): the guest's part only, the -append value
 *             last in single quotes, the NIC pcl on write boots only.
 * And the console wait over a scripted poll: ready, done, QEMU's end, the timeout.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "console.h"
#include "guest.h"
#include "log.h"

#define OPTS "console=ttyS0 quiet cryptomgr.notests rodata=off ipv6.disable=1 acpi=noirq " \
	     "initcall_blacklist=crypto_kdf108_init,init_kprobe_trace"

static struct bench_config *parse(const char *text)
{
	struct bench_config *cfg = bench_config_parse("test.ini", text, NULL, 0,
						      &NODE_BENCH_DRIVERS(node_drivers));

	if (!cfg)
		fail_msg("config: see the errors above");
	return cfg;
}

/* argv joined with blanks, for one comparison. */
static void joined(const char *const *argv, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; argv[i] && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "", argv[i]);
}

static const char LOCAL_BENCH[] =
	"[bench]\nname = t\n[relay]\ndriver = null\n"
	"[node]\ndriver = qemu\ntier = full\n"
	"[disk a-qcow2]\nformat = qcow2\ncache = none\nsize = 256M\nbacking = yes\n"
	"[disk b-raw]\nformat = raw\nbus = sata\ncache = none\nsize = 256M\n"
	"[disk c-thin]\nformat = lvmthin\ncache = none\nsize = 256M\n"
	"[disk d-ext4]\nformat = qcow2\ncache = none\nsize = 256M\nfs = ext4\nworkload = files\n"
	"[disk e-sqlite]\nformat = qcow2\ncache = none\nsize = 256M\nfs = ext4\n"
	"workload = sqlite\nsqlite_journal = wal\n"
	"[disk f-zvol]\nformat = zvol\nbus = nvme\ncache = none\nsize = 256M\n"
	"sync = standard\nvolblocksize = 16K\n"
	"[workload]\nblock_size = 4K\nqueue_depth = 8\npattern = random\nspan_mib = 4\n"
	"flush = every-n\nflush_n = 32\n";

static const char LOCAL_WRITE[] = OPTS " powercut.mode=write "
	"powercut.disks=1:vda,2:ata.1,3:lvm,4:vdc,5:vdd,6:zvol powercut.campaign=1 "
	"powercut.cycle=1 powercut.w.seed=4803609087354234616 powercut.w.block_size=4096 "
	"powercut.w.span_mib=4 powercut.ledger=10.0.2.2:34993 powercut.lvm=create "
	"powercut.lvm_dev=vdb powercut.lvm_pool_size=192M powercut.lvm_lv_size=512M "
	"powercut.zfs=create powercut.zfs_dev=nvme.pc6 powercut.zfs_slog=none "
	"powercut.zfs_sync=standard powercut.zfs_volblocksize=16384 powercut.zfs_compression=off "
	"powercut.zfs_vol_size=64M powercut.modules=nvme,sata powercut.smart=2:ata.1,6:nvme.pc6 "
	"powercut.net=static:10.0.2.15/24,10.0.2.2 powercut.w.queue_depth=8 "
	"powercut.w.pattern=random powercut.w.hot_set_pct=10 powercut.w.flush=every-n "
	"powercut.w.flush_n=32 powercut.w.flush_ms=100 powercut.w.duration=30.000 "
	"powercut.w.baseline_exists powercut.fs_4=ext4 powercut.wl_4=files powercut.fs_5=ext4 "
	"powercut.wl_5=sqlite powercut.sqj_5=wal powercut.sqs_5=full";

static const char LOCAL_CHECK[] = OPTS " powercut.mode=check "
	"powercut.disks=1:vda,2:ata.1,3:lvm,4:vdc,5:vdd,6:zvol powercut.campaign=1 "
	"powercut.cycle=1 powercut.w.seed=4803609087354234616 powercut.w.block_size=4096 "
	"powercut.w.span_mib=4 powercut.lvm=activate powercut.lvm_dev=vdb "
	"powercut.lvm_pool_size=192M powercut.lvm_lv_size=512M powercut.zfs=import "
	"powercut.zfs_dev=nvme.pc6 powercut.zfs_slog=none powercut.zfs_sync=standard "
	"powercut.zfs_volblocksize=16384 powercut.zfs_compression=off powercut.zfs_vol_size=64M "
	"powercut.modules=nvme,sata powercut.smart=2:ata.1,6:nvme.pc6 powercut.net=none "
	"powercut.fs_4=ext4 powercut.wl_4=files powercut.fs_5=ext4 powercut.wl_5=sqlite "
	"powercut.sqj_5=wal powercut.sqs_5=full";

/* The local full tier, as qemu.c's boot() fills the structs. */
static void test_local(void **state)
{
	struct bench_config *cfg = parse(LOCAL_BENCH);
	static const char *const devs[] = { "vda", "ata.1", "vdb", "vdc", "vdd", "nvme.pc6" };
	struct guest_disk gd[6];
	struct node_job job = { .campaign = 1, .cycle = 1, .seed = 4803609087354234616ULL };
	char append[GUEST_APPEND_MAX], dev[6][192], node[6][8], got[16384], want[16384];
	const char *bd[] = { "B1", "B2", "B3", "B4", "B5", "B6" }, *dp[6];
	struct guest_argv a;

	assert_int_equal(cfg->n_disks, 6);
	for (size_t i = 0; i < 6; i++) {
		gd[i] = (struct guest_disk){ .cfg = cfg->disks[i], .id = (uint32_t)i + 1,
					     .dev = devs[i] };
		snprintf(node[i], sizeof(node[i]), "disk%zu", i + 1);
		guest_device(dev[i], sizeof(dev[i]), cfg->disks[i]->bus, node[i], (uint32_t)i + 1,
			     0, cfg->disks[i]->cache);
		dp[i] = dev[i];
	}
	struct guest_cmdline cmd = { .mode = GUEST_WRITE, .job = &job, .w = cfg->workload,
		.disks = gd, .n = 6, .ledger = "10.0.2.2:34993", .static_net = true,
		.baseline_exists = true, .lvm = 2, .zvol = 5 };
	assert_int_equal(guest_cmdline(&cmd, append, sizeof(append)), 0);
	assert_string_equal(append, LOCAL_WRITE);

	struct guest_qemu q = { .kernel = "G/vmlinux", .initrd = "G/initrd.cpio",
		.console = "W/console-1.log", .append = append, .fwcfg = "name=opt/powercut/token,"
		"file=W/ledger-token", .netdev = "net0", .nic_on_check = true, .smp = 1,
		.mem_mib = 1024, .qboot = true, .ahci = true, .blockdev = bd, .device = dp,
		.n_disks = 6 };
	assert_int_equal(guest_qemu_argv(&q, &a), 0);
	joined(a.argv, got, sizeof(got));
	snprintf(want, sizeof(want), "qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 1 "
		"-m 1024 -nodefaults -bios qboot.rom -display none -no-reboot "
		"-serial file:W/console-1.log -kernel G/vmlinux -initrd G/initrd.cpio "
		"-append %s -fw_cfg name=opt/powercut/token,file=W/ledger-token "
		"-netdev user,id=net0 -device virtio-net-pci,netdev=net0 -device ahci,id=ahci0 "
		"-blockdev B1 -device virtio-blk-pci,drive=disk1,write-cache=on "
		"-blockdev B2 -device ide-hd,drive=disk2,bus=ahci0.0,serial=pc2,write-cache=on "
		"-blockdev B3 -device virtio-blk-pci,drive=disk3,write-cache=on "
		"-blockdev B4 -device virtio-blk-pci,drive=disk4,write-cache=on "
		"-blockdev B5 -device virtio-blk-pci,drive=disk5,write-cache=on "
		"-blockdev B6 -device nvme,drive=disk6,serial=pc6,write-cache=on", LOCAL_WRITE);
	assert_string_equal(got, want);

	/* A zvol with a SLOG (its own disk model, a virtio disk after the others). */
	cmd.slog_dev = "vde";
	assert_int_equal(guest_cmdline(&cmd, append, sizeof(append)), 0);
	assert_non_null(strstr(append, " powercut.zfs_dev=nvme.pc6 powercut.zfs_slog=vde "));
	guest_device(got, sizeof(got), BUS_VIRTIO, "slog", 0, 0, CACHE_NONE);
	assert_string_equal(got, "virtio-blk-pci,drive=slog,write-cache=on");
	cmd.slog_dev = NULL;

	cmd.mode = GUEST_CHECK;
	cmd.lvm_created = cmd.zvol_created = true;
	assert_int_equal(guest_cmdline(&cmd, append, sizeof(append)), 0);
	assert_string_equal(append, LOCAL_CHECK);
	/* The check: no token, the NIC still there (the qemu drivers always had one). */
	q.fwcfg = NULL;
	q.check = true;
	assert_int_equal(guest_qemu_argv(&q, &a), 0);
	joined(a.argv, got, sizeof(got));
	assert_null(strstr(got, "-fw_cfg"));
	assert_non_null(strstr(got, " -netdev user,id=net0 -device virtio-net-pci,netdev=net0 "));
	bench_config_free(cfg);
}

static const char REMOTE_BENCH[] =
	"[bench]\nname = t\n[relay]\ndriver = null\n"
	"[node]\ndriver = qemu\nhost = 127.0.0.1\naccel = tcg\n"
	"[disk a-qcow2]\nformat = qcow2\ncache = none\nsize = 64M\ncluster_size = 128K\n"
	"lazy_refcounts = yes\nbacking = yes\n"
	"[disk b-raw]\nformat = raw\ncache = none\nsize = 64M\n"
	"[disk c-thin]\nformat = lvmthin\ncache = writethrough\nsize = 256M\n"
	"[workload]\nblock_size = 4K\nqueue_depth = 4\nspan_mib = 2\nflush = every-n\n"
	"flush_n = 16\n";

/* The qemu driver over ssh, as qemu_remote.c's boot() fills the structs: a baseline
 * boot (the LVM disk left out, no lvm words), the write boot, the check. */
static void test_remote(void **state)
{
	struct bench_config *cfg = parse(REMOTE_BENCH);
	static const char *const devs[] = { "vda", "vdb", "vdc" };
	struct guest_disk gd[3];
	struct node_job job = { .campaign = 1, .cycle = 0, .seed = 7, .baseline = true };
	char append[GUEST_APPEND_MAX], dev[3][96], got[8192];
	const char *bd[] = { "B1", "B2", "B3" }, *dp[3];
	struct guest_argv a;

	for (size_t i = 0; i < 3; i++) {
		gd[i] = (struct guest_disk){ .cfg = cfg->disks[i], .id = (uint32_t)i + 1,
					     .dev = devs[i], .skip = i == 2 };
		guest_device(dev[i], sizeof(dev[i]), BUS_VIRTIO, devs[i], (uint32_t)i + 1, 0,
			     cfg->disks[i]->cache);
		dp[i] = dev[i];
	}
	struct guest_cmdline cmd = { .mode = GUEST_BASELINE, .job = &job, .w = cfg->workload,
		.disks = gd, .n = 3, .ledger = "10.0.2.2:40899", .lvm = 2, .zvol = -1 };
	assert_int_equal(guest_cmdline(&cmd, append, sizeof(append)), 0);
	assert_string_equal(append, OPTS " powercut.mode=write powercut.disks=1:vda,2:vdb "
		"powercut.campaign=1 powercut.cycle=0 powercut.w.seed=7 powercut.w.block_size=4096 "
		"powercut.w.span_mib=2 powercut.ledger=10.0.2.2:40899 powercut.w.writes=1 "
		"powercut.w.flush=always");

	job.cycle = 1;
	cmd.mode = GUEST_WRITE;
	cmd.baseline_exists = true;
	for (size_t i = 0; i < 3; i++)
		gd[i].skip = false;
	assert_int_equal(guest_cmdline(&cmd, append, sizeof(append)), 0);
	assert_string_equal(append, OPTS " powercut.mode=write powercut.disks=1:vda,2:vdb,3:lvm "
		"powercut.campaign=1 powercut.cycle=1 powercut.w.seed=7 powercut.w.block_size=4096 "
		"powercut.w.span_mib=2 powercut.ledger=10.0.2.2:40899 powercut.lvm=create "
		"powercut.lvm_dev=vdc powercut.lvm_pool_size=192M powercut.lvm_lv_size=512M "
		"powercut.w.queue_depth=4 powercut.w.pattern=random powercut.w.hot_set_pct=10 "
		"powercut.w.flush=every-n powercut.w.flush_n=16 powercut.w.flush_ms=100 "
		"powercut.w.duration=30.000 powercut.w.baseline_exists");
	struct guest_qemu q = { .kernel = "R/guest/vmlinux", .initrd = "R/guest/initrd.cpio",
		.console = "R/run/console-2.log", .append = "A", .fwcfg = "name=opt/powercut/token,"
		"file=R/run/ledger-token", .netdev = "net0", .nic_on_check = true,
		.smp = cfg->node->cores, .mem_mib = cfg->node->memory_mib,
		.pidfile = "R/run/qemu.pid", .blockdev = bd, .device = dp, .n_disks = 3 };
	assert_int_equal(guest_qemu_argv(&q, &a), 0);
	joined(a.argv, got, sizeof(got));
	assert_string_equal(got, "qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 "
		"-m 1024 -nodefaults -display none -no-reboot -daemonize -pidfile R/run/qemu.pid "
		"-serial file:R/run/console-2.log -kernel R/guest/vmlinux -initrd "
		"R/guest/initrd.cpio -append A -fw_cfg name=opt/powercut/token,file=R/run/ledger-token "
		"-netdev user,id=net0 -device virtio-net-pci,netdev=net0 "
		"-blockdev B1 -device virtio-blk-pci,drive=vda,write-cache=on "
		"-blockdev B2 -device virtio-blk-pci,drive=vdb,write-cache=on "
		"-blockdev B3 -device virtio-blk-pci,drive=vdc,write-cache=off");
	/* With a usable /dev/kvm. */
	q.kvm = true;
	assert_int_equal(guest_qemu_argv(&q, &a), 0);
	joined(a.argv, got, sizeof(got));
	assert_non_null(strstr(got, "qemu-system-x86_64 -accel kvm -cpu host -smp 2 "));

	cmd.mode = GUEST_CHECK;
	cmd.lvm_created = true;
	assert_int_equal(guest_cmdline(&cmd, append, sizeof(append)), 0);
	assert_string_equal(append, OPTS " powercut.mode=check powercut.disks=1:vda,2:vdb,3:lvm "
		"powercut.campaign=1 powercut.cycle=1 powercut.w.seed=7 powercut.w.block_size=4096 "
		"powercut.w.span_mib=2 powercut.lvm=activate powercut.lvm_dev=vdc "
		"powercut.lvm_pool_size=192M powercut.lvm_lv_size=512M powercut.net=none");
	bench_config_free(cfg);
}

/* Proxmox's `args`, as proxmox.c's boot() fills the structs: a write boot with the
 * ledger and token, then the check without network. */
static void test_proxmox(void **state)
{
	struct bench_config *cfg = parse(REMOTE_BENCH);
	static const char *const devs[] = { "vda", "vdb", "vdc" };
	struct guest_disk gd[3];
	struct node_job job = { .campaign = 7, .cycle = 3, .seed = 42, .baseline = true };
	char append[GUEST_APPEND_MAX], args[8192];

	for (size_t i = 0; i < 3; i++)
		gd[i] = (struct guest_disk){ .cfg = cfg->disks[i], .id = (uint32_t)i + 1,
					     .dev = devs[i] };
	/* Proxmox's lvmthin is a storage: no guest-built pool (lvm -1). */
	struct guest_cmdline cmd = { .mode = GUEST_WRITE, .job = &job, .w = cfg->workload,
		.disks = gd, .n = 3, .ledger = "10.0.2.2:41234", .lvm = -1, .zvol = -1 };
	assert_int_equal(guest_cmdline(&cmd, append, sizeof(append)), 0);
	struct guest_qemu q = { .kernel = "/var/lib/powercut/9000/vmlinuz",
		.initrd = "/var/lib/powercut/9000/initrd.cpio",
		.console = "/var/lib/powercut/9000/console-1.log", .append = append,
		.fwcfg = "name=opt/powercut/token,file=/var/lib/powercut/9000/ledger-token",
		.netdev = "pcl" };
	assert_int_equal(guest_pve_args(&q, args, sizeof(args)), 0);
	assert_string_equal(args, "-kernel /var/lib/powercut/9000/vmlinuz -initrd "
		"/var/lib/powercut/9000/initrd.cpio -serial file:/var/lib/powercut/9000/console-1.log "
		"-fw_cfg name=opt/powercut/token,file=/var/lib/powercut/9000/ledger-token "
		"-netdev user,id=pcl -device virtio-net-pci,netdev=pcl -append '" OPTS
		" powercut.mode=write powercut.disks=1:vda,2:vdb,3:vdc powercut.campaign=7 "
		"powercut.cycle=3 powercut.w.seed=42 powercut.w.block_size=4096 powercut.w.span_mib=2 "
		"powercut.ledger=10.0.2.2:41234 powercut.w.queue_depth=4 powercut.w.pattern=random "
		"powercut.w.hot_set_pct=10 powercut.w.flush=every-n powercut.w.flush_n=16 "
		"powercut.w.flush_ms=100 powercut.w.duration=30.000'");

	cmd.mode = GUEST_CHECK;
	assert_int_equal(guest_cmdline(&cmd, append, sizeof(append)), 0);
	q.console = "/var/lib/powercut/9000/console-2.log";
	q.fwcfg = NULL;
	q.check = true;
	assert_int_equal(guest_pve_args(&q, args, sizeof(args)), 0);
	assert_string_equal(args, "-kernel /var/lib/powercut/9000/vmlinuz -initrd "
		"/var/lib/powercut/9000/initrd.cpio -serial file:/var/lib/powercut/9000/console-2.log "
		"-append '" OPTS " powercut.mode=check powercut.disks=1:vda,2:vdb,3:vdc "
		"powercut.campaign=7 powercut.cycle=3 powercut.w.seed=42 powercut.w.block_size=4096 "
		"powercut.w.span_mib=2 powercut.net=none'");
	bench_config_free(cfg);
}

/* A command line that does not fit is refused, not cut. */
static void test_too_long(void **state)
{
	struct bench_config *cfg = parse(REMOTE_BENCH);
	struct guest_disk gd = { .cfg = cfg->disks[0], .id = 1, .dev = "vda" };
	struct node_job job = { .campaign = 1 };
	struct guest_cmdline cmd = { .mode = GUEST_CHECK, .job = &job, .w = cfg->workload,
		.disks = &gd, .n = 1, .lvm = -1, .zvol = -1 };
	char small[64], args[64];

	assert_int_equal(guest_cmdline(&cmd, small, sizeof(small)), -E2BIG);
	struct guest_qemu q = { .kernel = "k", .initrd = "i", .console = "c", .append = OPTS,
				.netdev = "pcl", .check = true };
	assert_int_equal(guest_pve_args(&q, args, sizeof(args)), -E2BIG);
	bench_config_free(cfg);
}

/* ---- the console wait over a scripted poll ---- */

struct script {
	const char *const *chunks;	/* fed one per poll; NULL ends the script */
	int alive_polls;		/* polls during which QEMU still runs */
	int polls;
	int err;			/* returned by every poll once the chunks end */
};

static int script_poll(void *arg, struct guest_console *c, bool *alive)
{
	struct script *s = arg;
	const char *chunk = s->chunks[s->polls] ? s->chunks[s->polls] : NULL;

	if (chunk)
		guest_console_feed(c, chunk, strlen(chunk));
	*alive = s->polls < s->alive_polls;
	if (s->chunks[s->polls])
		s->polls++;
	else if (s->err)
		return s->err;
	return 0;
}

static int wait_for(const char *const *chunks, int alive_polls, int err, bool done,
		    int timeout_ms, int *polls)
{
	struct guest_console c;
	struct script s = { .chunks = chunks, .alive_polls = alive_polls, .err = err };
	const struct guest_console_src src = { .poll = script_poll, .arg = &s, .node = "n1",
					       .console = "console-1.log", .poll_ms = 1 };

	guest_console_init(&c, 1);
	guest_console_boot(&c, NULL, 1, false);
	int rc = guest_console_wait(&c, &src, done, timeout_ms);
	guest_console_release(&c);
	*polls = s.polls;
	return rc;
}

static void test_console_wait(void **state)
{
	/* A line split across polls counts once it is whole. */
	static const char *const ready[] = { "noise\r\nPOWERCUT rea", "dy mode=write\r\n",
					     "POWERCUT done mode=write\r\n", NULL };
	static const char *const ended[] = { "POWERCUT ready mode=write\r\n", NULL };
	/* QEMU ends right after its last words: the second read finds them. */
	static const char *const last[] = { "POWERCUT ready\r\n", "POWERCUT done\r\n", NULL };
	int polls;

	assert_int_equal(wait_for(ready, 100, 0, false, 10000, &polls), 0);
	assert_int_equal(polls, 2);
	assert_int_equal(wait_for(ready, 100, 0, true, 10000, &polls), 0);
	assert_int_equal(polls, 3);
	/* QEMU gone before done. */
	assert_int_equal(wait_for(ended, 1, 0, true, 10000, &polls), -EIO);
	assert_int_equal(wait_for(last, 1, 0, true, 10000, &polls), 0);
	/* Never done, QEMU running: the timeout; a failing transport: its errno. */
	assert_int_equal(wait_for(ended, 1000000, 0, true, 50, &polls), -ETIMEDOUT);
	assert_int_equal(wait_for(ended, 1000000, -ECONNRESET, true, 50, &polls), -ECONNRESET);
}

/* ---- the console's tail in the log ---- */

static char logged[8192];

static void sink(void *ctx, enum log_level level, enum log_cat cat, int64_t wall_ns,
		 int64_t mono_ns, const char *msg)
{
	snprintf(logged, sizeof(logged), "%s", msg);
}

static void test_console_tail(void **state)
{
	char path[] = "/tmp/test_guest.XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	assert_non_null(f);
	for (int i = 1; i <= 20; i++)
		fprintf(f, "line %d\r\n", i);
	fclose(f);
	log_set_sink(sink, NULL);
	guest_console_tail(path, 3);
	assert_non_null(strstr(logged, "ends with:\nline 18 \nline 19 \nline 20 \n"));
	assert_null(strstr(logged, "line 17"));
	/* A console without a newline at its end: its last, partial line counts. */
	f = fopen(path, "w");
	fputs("a\nb\nc", f);
	fclose(f);
	guest_console_tail(path, 2);
	assert_non_null(strstr(logged, "ends with:\nb\nc"));
	unlink(path);
	guest_console_tail(path, 3);
	assert_non_null(strstr(logged, "(nothing)"));
	log_set_sink(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_remote),
		cmocka_unit_test(test_proxmox),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_console_wait),
		cmocka_unit_test(test_console_tail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
