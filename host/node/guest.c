/* The guest's command line, QEMU arguments and console wait. See guest.h. */
#include "guest.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

static const char *const pattern_names[] = { "random", "sequential", "hotset", "alloc" };
static const char *const flush_names[] = { "never", "every-n", "every-ms", "always", "fua" };
static const char *const zfs_syncs[] = { "standard", "always", "disabled" };

/* snprintf at *off, which grows past len once the text does not fit (checked once at
 * the end). */
__attribute__((format(printf, 4, 5)))
static void add(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int k = vsnprintf(buf + (*off < len ? *off : len), *off < len ? len - *off : 0, fmt, ap);
	va_end(ap);
	*off += k > 0 ? (size_t)k : 0;
}

void guest_disks_vd(const struct bench_config *cfg, struct guest_disk *gd, char (*names)[8])
{
	for (size_t i = 0; i < cfg->n_disks && i < NODE_MAX_DISKS; i++) {
		snprintf(names[i], 8, "vd%c", (char)('a' + i));
		gd[i] = (struct guest_disk){ .cfg = cfg->disks[i], .id = (uint32_t)i + 1,
					     .dev = names[i] };
	}
}

/* powercut.disks: ID:DEV of every disk of this boot, the guest's own volumes by role. */
static void cmd_disks(const struct guest_cmdline *g, char *buf, size_t len, size_t *off)
{
	bool first = true;

	for (size_t i = 0; i < g->n; i++) {
		if (g->disks[i].skip)
			continue;
		add(buf, len, off, "%s%" PRIu32 ":%s", first ? "" : ",", g->disks[i].id,
		    (int)i == g->lvm ? "lvm" : (int)i == g->zvol ? "zvol" : g->disks[i].dev);
		first = false;
	}
}

/* The guest's own volumes: the LVM-thin pool and LV, the ZFS pool and zvol. */
static void cmd_volumes(const struct guest_cmdline *g, char *buf, size_t len, size_t *off)
{
	if (g->lvm >= 0 && g->mode != GUEST_BASELINE) {
		uint64_t mib = g->disks[g->lvm].cfg->size >> 20;
		add(buf, len, off, " powercut.lvm=%s powercut.lvm_dev=%s powercut.lvm_pool_size=%"
		    PRIu64 "M powercut.lvm_lv_size=%" PRIu64 "M", g->lvm_created ? "activate" :
		    "create", g->disks[g->lvm].dev, mib * 3 / 4, mib * 2);
	}
	/* The zvol is a quarter of the disk: OpenZFS 2.1 keeps at least 128 MiB of a pool
	 * back (spa_slop_shift's minimum), and a non-sparse zvol, as Proxmox makes them,
	 * reserves its whole size. */
	if (g->zvol >= 0) {
		const struct cfg_disk *z = g->disks[g->zvol].cfg;
		add(buf, len, off, " powercut.zfs=%s powercut.zfs_dev=%s powercut.zfs_slog=%s"
		    " powercut.zfs_sync=%s powercut.zfs_volblocksize=%" PRIu64
		    " powercut.zfs_compression=%s powercut.zfs_vol_size=%" PRIu64 "M",
		    g->zvol_created ? "import" : "create", g->disks[g->zvol].dev,
		    g->slog_dev ? g->slog_dev : "none", zfs_syncs[z->zfs_sync], z->volblocksize,
		    z->compression ? "lz4" : "off", (z->size >> 20) / 4);
	}
}

/* Module sets for NVMe and SATA disks, and the drives whose SMART is read. */
static void cmd_drives(const struct guest_cmdline *g, char *buf, size_t len, size_t *off)
{
	bool nvme = false, sata = false, first = true;
	char smart[256] = "";
	size_t soff = 0;

	for (size_t i = 0; i < g->n; i++) {
		const struct cfg_disk *d = g->disks[i].cfg;
		if (d->bus == BUS_VIRTIO || g->disks[i].skip)
			continue;
		nvme |= d->bus == BUS_NVME;
		sata |= d->bus == BUS_SATA;
		add(smart, sizeof(smart), &soff, "%s%" PRIu32 ":%s", first ? "" : ",",
		    g->disks[i].id, g->disks[i].dev);
		first = false;
	}
	if (soff >= sizeof(smart))
		*off += len;	/* too long: guest_cmdline says so */
	else if (nvme || sata)
		add(buf, len, off, " powercut.modules=%s%s%s powercut.smart=%s", nvme ? "nvme" : "",
		    nvme && sata ? "," : "", sata ? "sata" : "", smart);
}

/* A disk with a file system: the guest makes it (write) or checks it (check), and
 * runs the files workload on it (rig/sim/guest/init, docs/guest.md). The bench
 * allows one only on the local full tier (config.c). */
static void cmd_filesystems(const struct guest_cmdline *g, char *buf, size_t len, size_t *off)
{
	for (size_t i = 0; i < g->n; i++) {
		const struct cfg_disk *d = g->disks[i].cfg;
		uint32_t id = g->disks[i].id;
		if (d->fs == DISK_FS_NONE || g->disks[i].skip)
			continue;
		add(buf, len, off, " powercut.fs_%" PRIu32 "=%s powercut.wl_%" PRIu32 "=%s", id,
		    config_fs_name(d->fs), id, config_workload_name(d->workload));
		if (d->workload == DISK_WL_SQLITE)
			add(buf, len, off, " powercut.sqj_%" PRIu32 "=%s powercut.sqs_%" PRIu32 "=%s",
			    id, config_sql_journal_name(d->sqlite_journal), id,
			    config_sql_sync_name(d->sqlite_synchronous));
		if (d->mount_options && d->mount_options[0])
			add(buf, len, off, " powercut.mnt_%" PRIu32 "=%s", id, d->mount_options);
	}
}

int guest_cmdline(const struct guest_cmdline *g, char *buf, size_t len)
{
	const struct cfg_workload *w = g->w;
	bool check = g->mode == GUEST_CHECK;
	size_t off = 0;

	add(buf, len, &off, "console=ttyS0 quiet " GUEST_KERNEL_OPTS " powercut.mode=%s "
	    "powercut.disks=", check ? "check" : "write");
	cmd_disks(g, buf, len, &off);
	add(buf, len, &off, " powercut.campaign=%" PRIu64 " powercut.cycle=%u powercut.w.seed=%"
	    PRIu64 " powercut.w.block_size=%" PRIu64 " powercut.w.span_mib=%" PRId64,
	    g->job->campaign, g->job->cycle, g->job->seed, w->block_size, w->span_mib);
	if (!check)
		add(buf, len, &off, " powercut.ledger=%s", g->ledger);
	cmd_volumes(g, buf, len, &off);
	cmd_drives(g, buf, len, &off);
	/* The check reports on the console: no network. */
	if (check)
		add(buf, len, &off, " powercut.net=none");
	else if (g->static_net)
		add(buf, len, &off, " powercut.net=static:10.0.2.15/24,10.0.2.2");
	if (g->mode == GUEST_BASELINE)	/* as the local tier's host baselines */
		add(buf, len, &off, " powercut.w.writes=1 powercut.w.flush=always");
	else if (!check)
		add(buf, len, &off, " powercut.w.queue_depth=%" PRId64 " powercut.w.pattern=%s"
		    " powercut.w.hot_set_pct=%" PRId64 " powercut.w.flush=%s"
		    " powercut.w.flush_n=%" PRId64 " powercut.w.flush_ms=%" PRId64
		    " powercut.w.duration=%.3f%s", w->queue_depth, pattern_names[w->pattern],
		    w->hot_set_pct, flush_names[w->flush], w->flush_n, w->flush_ms,
		    w->duration_ms / 1000.0, g->baseline_exists ? " powercut.w.baseline_exists" : "");
	cmd_filesystems(g, buf, len, &off);
	if (g->ctl && !check)
		add(buf, len, &off, " powercut.ctl=%s", g->ctl);
	if (off >= len) {
		pc_err(LOG_NODE, "kernel command line too long");
		return -E2BIG;
	}
	return 0;
}

void guest_device(char *buf, size_t len, int bus, const char *node, uint32_t id, int port,
		  int cache)
{
	const char *wc = cache == CACHE_WRITETHROUGH || cache == CACHE_DIRECTSYNC ? "off" : "on";

	if (bus == BUS_NVME)
		snprintf(buf, len, "nvme,drive=%.15s,serial=pc%" PRIu32 ",write-cache=%s", node, id,
			 wc);
	else if (bus == BUS_SATA)
		snprintf(buf, len, "ide-hd,drive=%.15s,bus=ahci0.%d,serial=pc%" PRIu32
			 ",write-cache=%s", node, port, id, wc);
	else
		snprintf(buf, len, "virtio-blk-pci,drive=%.15s,write-cache=%s", node, wc);
}

/* The user-mode NIC's -netdev and -device values; false when the boot has none. */
static bool nic_of(const struct guest_qemu *q, char *netdev, size_t nlen, char *dev, size_t dlen)
{
	snprintf(netdev, nlen, "user,id=%s", q->netdev);
	snprintf(dev, dlen, "virtio-net-pci,netdev=%s", q->netdev);
	return !q->check || q->nic_on_check;
}

int guest_qemu_argv(const struct guest_qemu *q, struct guest_argv *a)
{
	const char **v = a->argv;
	bool nic = nic_of(q, a->netdev, sizeof(a->netdev), a->nic, sizeof(a->nic));
	size_t k = 0;

	if (q->n_disks > NODE_MAX_DISKS + 1) {
		pc_err(LOG_NODE, "QEMU's command line has room for %d disks", NODE_MAX_DISKS + 1);
		return -E2BIG;
	}
	snprintf(a->serial, sizeof(a->serial), "file:%s", q->console);
	snprintf(a->smp, sizeof(a->smp), "%" PRId64, q->smp);
	snprintf(a->mem, sizeof(a->mem), "%" PRId64, q->mem_mib);
	v[k++] = "qemu-system-x86_64";
	v[k++] = "-accel"; v[k++] = q->kvm ? "kvm" : "tcg,thread=multi";
	v[k++] = "-cpu"; v[k++] = q->kvm ? "host" : "max";
	v[k++] = "-smp"; v[k++] = a->smp;
	v[k++] = "-m"; v[k++] = a->mem;
	v[k++] = "-nodefaults";
	if (q->qboot) {
		v[k++] = "-bios"; v[k++] = "qboot.rom";
	}
	v[k++] = "-display"; v[k++] = "none";
	if (!q->reboot)
		v[k++] = "-no-reboot";
	if (q->qmp) {
		snprintf(a->qmp, sizeof(a->qmp), "unix:%s,server=on,wait=off", q->qmp);
		v[k++] = "-qmp"; v[k++] = a->qmp;
	}
	if (q->pidfile) {
		v[k++] = "-daemonize";
		v[k++] = "-pidfile"; v[k++] = q->pidfile;
	}
	v[k++] = "-serial"; v[k++] = a->serial;
	v[k++] = "-kernel"; v[k++] = q->kernel;
	v[k++] = "-initrd"; v[k++] = q->initrd;
	v[k++] = "-append"; v[k++] = q->append;
	if (q->fwcfg) {
		v[k++] = "-fw_cfg"; v[k++] = q->fwcfg;
	}
	if (nic) {
		v[k++] = "-netdev"; v[k++] = a->netdev;
		v[k++] = "-device"; v[k++] = a->nic;
	}
	if (q->ahci) {
		v[k++] = "-device"; v[k++] = "ahci,id=ahci0";
	}
	if (q->ctl) {
		snprintf(a->ctl, sizeof(a->ctl), "socket,id=pcctl,path=%s,server=on,wait=off",
			 q->ctl);
		v[k++] = "-chardev"; v[k++] = a->ctl;
		v[k++] = "-device"; v[k++] = "isa-serial,chardev=pcctl";
	}
	for (size_t i = 0; i < q->n_disks; i++) {
		v[k++] = "-blockdev"; v[k++] = q->blockdev[i];
		v[k++] = "-device"; v[k++] = q->device[i];
	}
	v[k] = NULL;
	return 0;
}

int guest_pve_args(const struct guest_qemu *q, char *buf, size_t len)
{
	char netdev[64], dev[96];
	bool nic = nic_of(q, netdev, sizeof(netdev), dev, sizeof(dev));
	size_t off = 0;

	add(buf, len, &off, "-kernel %s -initrd %s -serial file:%s", q->kernel, q->initrd,
	    q->console);
	if (q->fwcfg)
		add(buf, len, &off, " -fw_cfg %s", q->fwcfg);
	if (nic)
		add(buf, len, &off, " -netdev %s -device %s", netdev, dev);
	add(buf, len, &off, " -append '%s'", q->append);
	if (off >= len) {
		pc_err(LOG_NODE, "kernel command line too long");
		return -E2BIG;
	}
	return 0;
}

int guest_console_wait(struct guest_console *c, const struct guest_console_src *s,
		       bool want_done, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	const char *what = want_done ? "done" : "ready";
	char on[160] = "";

	if (s->node)
		snprintf(on, sizeof(on), " on '%.140s'", s->node);
	for (;;) {
		bool alive = true;
		int rc = s->poll(s->arg, c, &alive);
		/* What QEMU wrote between the read and its end: read once more. */
		if (rc == 0 && !alive)
			rc = s->poll(s->arg, c, &alive);
		if (want_done ? c->done : c->ready)
			return 0;
		int wrc = s->watch ? s->watch(s->watch_arg) : 0;
		if (wrc < 0)
			return wrc;
		if (rc == 0 && !alive) {
			pc_err(LOG_NODE, "the guest%s ended before it was %s (console '%s')", on, what,
			       s->console);
			return -EIO;
		}
		if (clock_mono_ms() > end) {
			pc_err(LOG_NODE, "the guest%s was not %s within %d ms (console '%s')", on, what,
			       timeout_ms, s->console);
			return rc < 0 ? rc : -ETIMEDOUT;
		}
		usleep((useconds_t)s->poll_ms * 1000);
	}
}

void guest_console_tail(const char *path, int lines)
{
	char buf[4096];
	FILE *f = fopen(path, "re");
	long size;
	size_t n = 0;

	if (f && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    fseek(f, size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0, SEEK_SET) == 0)
		n = fread(buf, 1, sizeof(buf) - 1, f);
	if (f)
		fclose(f);
	buf[n] = '\0';
	/* The last `lines` lines; control characters (the CRs) become blanks. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\n')
			buf[i] = ' ';
	char *start = buf + n - (n && buf[n - 1] == '\n');
	for (int k = 0; start > buf && (start[-1] != '\n' || ++k < lines);)
		start--;
	pc_warn(LOG_NODE, "the console '%s' ends with:\n%s", path, n ? start : "(nothing)");
}
