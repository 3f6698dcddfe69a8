/* The `qemu` node driver, running locally: the simulated node of the simulated bench.
 *
 * Every disk sits on the volatile disk model (rig/sim/disk: nbdkit with the pcvcache
 * filter serving the image). Two tiers ([node] tier):
 *   fast  qemu-storage-daemon is the node's QEMU (format layer, cache mode) and the
 *         agent (powercut-agent-nbd) writes through libnbd as a node process;
 *   full  qemu-system-x86_64 under TCG boots build/guest; each disk is QEMU's NBD
 *         client on the disk model with the format layer (qcow2/raw) in QEMU, as a
 *         virtio-blk device (or NVMe, or SATA on AHCI: [disk] bus); an lvmthin disk
 *         is a raw device on which the guest builds a thin pool and LV, a zvol disk
 *         one on which it builds a ZFS pool (with a SLOG on a disk model of its own,
 *         [disk] slog) and a zvol. The guest's agent reaches the ledger at 10.0.2.2.
 *         NVMe and SATA drives answer SMART queries: the guest reports smartctl's
 *         JSON before the workload and after the cut, a "smart" check per disk.
 * A power cut SIGKILLs every node process at once (QEMU or qemu-storage-daemon, every
 * nbdkit, the fast tier's agents); the process-kill cut kills only QEMU (and the
 * agents, which run "in" it). See docs/node.md.
 * With [node] fio, fio runs beside the workload as a node process on a file of the
 * node's work directory (never on the disk model's exports, which are the agent's):
 * a power cut kills it with the rest, otherwise the check stops it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "console.h"
#include "fio.h"
#include "guest.h"
#include "imgcheck.h"
#include "log.h"
#include "node.h"
#include "nodefio.h"
#include "qmp.h"
#include "util.h"
/* diskmodel.h and config.h both name an enum disk_format (the model's and the bench's). */
#define disk_format dm_disk_format
#include "diskmodel.h"
#include "recording.h"
#undef disk_format

struct qdisk {
	const struct cfg_disk *cfg;
	uint32_t id;
	struct diskmodel *dm;
	struct disk_check chk;
	bool have_chk;
	struct child agent;		/* fast tier: the writer */
	bool agent_live;
	char dev[24];			/* full tier, as the guest names it: vda, nvme.pc2, ata.1 */
	bool reused;			/* a kept disk from an earlier cycle: no baseline */
};

struct qpriv {
	struct qdisk d[NODE_MAX_DISKS];
	size_t n;
	bool full;
	int lvm;			/* index of the lvmthin disk, -1 none */
	bool lvm_created;
	int zvol;			/* index of the zvol disk, -1 none */
	bool zvol_created;
	struct diskmodel *slog;		/* the zvol's SLOG (a virtio disk after the others) */
	char slog_dev[16];
	bool sata;			/* an AHCI controller is needed */
	int last_cut;			/* CUT_POWER or CUT_KILL: the drives' verdict */
	char agent_nbd[PATH_MAX];
	char guest[PATH_MAX];
	char dir[PATH_MAX];
	int log_fd;
	/* full tier */
	struct child qemu;
	bool qemu_live;
	int boots;
	char console[PATH_MAX + 32];
	char ctl[PATH_MAX + 16];	/* the guest's control port (write boots) */
	int ctl_fd;			/* connected to it while QEMU runs, or -1 */
	char qmp[PATH_MAX + 16];	/* QEMU's monitor (write boots) */
	bool reset_pending;		/* a reset cut: wait_up waits for the idle boot */
	bool check_boot;		/* QEMU runs a check boot */
	int con_fd;
	struct guest_console con;	/* this boot's POWERCUT events, check reports */
	json_t *boot_log;		/* every boot: {"boot": N, "events": [...]} */
	char *report_path[NODE_MAX_DISKS];
	/* fio beside the agent */
	struct child fio;
	bool fio_live;			/* not reaped yet */
	bool fio_ran;			/* started this cycle: its output is read at check */
	struct nodefio_argv fio_args;
	char fio_jobs[NODEFIO_MAX_JOBS][PATH_MAX];
	json_t *fio_rec;		/* {"figures", "verify"} or {"error"} */
};

/* fio's data file on the simulated node when [node] fio_size is 0: the work directory
 * is on this host's tmp, beside the disk images. */
#define FIO_LOCAL_SIZE (64ULL << 20)

static enum disk_cache_mode cache_of(int c)
{
	switch (c) {
	case CACHE_WRITEBACK: return DISK_CACHE_WRITEBACK;
	case CACHE_WRITETHROUGH: return DISK_CACHE_WRITETHROUGH;
	case CACHE_DIRECTSYNC: return DISK_CACHE_DIRECTSYNC;
	case CACHE_UNSAFE: return DISK_CACHE_UNSAFE;
	default: return DISK_CACHE_NONE;
	}
}

static const char *const flush_names[] = { "never", "every-n", "every-ms", "always", "fua" };
static const char *const pattern_names[] = { "random", "sequential", "hotset", "alloc" };
static const char *const prealloc_names[] = { NULL, "metadata", "falloc", "full" };

static int qemu_open(struct node *n)
{
	struct qpriv *q = calloc(1, sizeof(*q));
	const struct cfg_node *cn = n->cfg->node;

	if (!q)
		return -ENOMEM;
	q->log_fd = -1;
	q->con_fd = -1;
	q->ctl_fd = -1;
	q->lvm = -1;
	q->zvol = -1;
	q->full = cn->tier == NODE_TIER_FULL;
	guest_console_init(&q->con, n->cfg->n_disks);
	snprintf(q->dir, sizeof(q->dir), "%s", n->env.work_dir);
	snprintf(q->agent_nbd, sizeof(q->agent_nbd), "%.4000s/powercut-agent-nbd", n->env.bin_dir);
	if (cn->guest)
		snprintf(q->guest, sizeof(q->guest), "%s", cn->guest);
	else
		snprintf(q->guest, sizeof(q->guest), "%.4000s/../guest", n->env.bin_dir);
	if (n->cfg->n_disks == 0 || n->cfg->n_disks > NODE_MAX_DISKS) {
		pc_err(LOG_NODE, "the bench has %zu disks; the qemu node takes 1 to %d",
		       n->cfg->n_disks, NODE_MAX_DISKS);
		free(q);
		return -EINVAL;
	}
	for (size_t i = 0; i < n->cfg->n_disks; i++) {
		const struct cfg_disk *d = n->cfg->disks[i];
		q->d[i].cfg = d;
		q->d[i].id = (uint32_t)i + 1;
		if (d->control == CONTROL_FORGETFUL && d->format == DISK_LVMTHIN) {
			pc_err(LOG_NODE, "disk '%s': the forgetful control zeroes a range of the "
			       "image, which would take the LVM metadata with it; use raw or qcow2",
			       d->name);
			free(q);
			return -ENOTSUP;
		}
		if (d->keep && !n->env.keep_dir) {
			pc_err(LOG_NODE, "disk '%s' is kept across cycles, but this run has no "
			       "place for kept disks", d->name);
			free(q);
			return -EINVAL;
		}
		if (d->format == DISK_LVMTHIN) {
			if (!q->full) {
				pc_err(LOG_NODE, "disk '%s' is lvmthin: LVM-thin needs the full tier "
				       "([node] tier = full)", d->name);
				free(q);
				return -ENOTSUP;
			}
			if (q->lvm >= 0) {
				pc_err(LOG_NODE, "disk '%s': only one lvmthin disk per node", d->name);
				free(q);
				return -ENOTSUP;
			}
			if (d->bus != BUS_VIRTIO) {
				/* the guest's lvm.conf filter accepts /dev/vd* only */
				pc_err(LOG_NODE, "disk '%s': an lvmthin disk must be on bus=virtio",
				       d->name);
				free(q);
				return -ENOTSUP;
			}
			q->lvm = (int)i;
		}
		if (d->format == DISK_ZVOL) {
			if (!q->full || q->zvol >= 0) {
				pc_err(LOG_NODE, "disk '%s' is a zvol: %s", d->name, q->full ?
				       "only one zvol disk per node" :
				       "ZFS needs the full tier ([node] tier = full)");
				free(q);
				return -ENOTSUP;
			}
			q->zvol = (int)i;
		}
		if (d->bus != BUS_VIRTIO && !q->full) {
			pc_err(LOG_NODE, "disk '%s': bus=%s needs the full tier ([node] tier = full)",
			       d->name, d->bus == BUS_NVME ? "nvme" : "sata");
			free(q);
			return -ENOTSUP;
		}
	}
	q->n = n->cfg->n_disks;
	n->priv = q;
	return 0;
}

static void kill_agents(struct qpriv *q, int sig)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->d[i].agent_live)
			child_kill(&q->d[i].agent, sig);
}

static void reap_agents(struct qpriv *q)
{
	for (size_t i = 0; i < q->n; i++) {
		int st;
		if (!q->d[i].agent_live)
			continue;
		child_kill(&q->d[i].agent, SIGKILL);
		child_finish(&q->d[i].agent, 5000, &st);
		q->d[i].agent_live = false;
	}
}

/* The control port's connection goes with the QEMU it reached. */
static void ctl_close(struct qpriv *q)
{
	if (q->ctl_fd >= 0)
		close(q->ctl_fd);
	q->ctl_fd = -1;
}

static void qemu_stop(struct qpriv *q)
{
	int st;

	ctl_close(q);
	if (!q->qemu_live)
		return;
	child_kill(&q->qemu, SIGKILL);
	child_finish(&q->qemu, 5000, &st);
	q->qemu_live = false;
}

static void reports_close(struct qpriv *q)
{
	guest_console_reports_close(&q->con);
}

/* ---- fio beside the agent ---- */

static int fio_start(struct node *n, struct qpriv *q)
{
	const struct cfg_node *cn = n->cfg->node;
	const char *jobs[NODEFIO_MAX_JOBS + 1] = { 0 };
	char out[PATH_MAX + 32];
	int fd, rc;

	if ((rc = nodefio_count(cn->fio)) <= 0 || q->fio_live)
		return rc < 0 ? rc : 0;
	/* fio runs in the work directory (its verify state lands there): the job files
	 * are named as powercut was given them, relative to its own directory. */
	for (int j = 0; cn->fio[j]; j++) {
		if (!realpath(cn->fio[j], q->fio_jobs[j])) {
			rc = -errno;
			pc_err(LOG_NODE, "cannot find the fio job file '%s': %s", cn->fio[j],
			       strerror(-rc));
			return rc;
		}
		jobs[j] = q->fio_jobs[j];
	}
	if ((rc = nodefio_argv(&q->fio_args, q->dir, cn->fio_size ? cn->fio_size : FIO_LOCAL_SIZE,
			       jobs)) < 0)
		return rc;
	snprintf(out, sizeof(out), "%s/fio.json", q->dir);
	if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		rc = -errno;
		pc_err(LOG_NODE, "cannot create '%s': %s", out, strerror(-rc));
		return rc;
	}
	q->fio = (struct child){ .argv = q->fio_args.argv, .dir = q->dir, .in = CHILD_NULL,
				 .out = CHILD_FD, .err = CHILD_FD, .fd_out = fd, .fd_err = fd };
	rc = child_start(&q->fio);
	close(fd);
	if (rc < 0) {
		pc_err(LOG_NODE, "cannot start 'fio': %s", strerror(-rc));
		return rc;
	}
	q->fio_live = q->fio_ran = true;
	pc_debug(LOG_NODE, "fio runs beside the agent (pid %d, output '%s')", (int)q->fio.pid, out);
	return 0;
}

/* A power cut, or close: fio dies with the node. */
static void fio_kill(struct qpriv *q)
{
	int st;

	if (!q->fio_live)
		return;
	child_kill(&q->fio, SIGKILL);
	child_finish(&q->fio, 5000, &st);
	q->fio_live = false;
}

/* At the check: stop fio if it survived the cut (SIGINT: it prints a last report;
 * SIGKILL after 5 s, as the remote drivers do), then keep its last complete report. */
static void fio_stop(struct qpriv *q)
{
	char path[PATH_MAX + 32];
	int st;

	if (q->fio_live) {
		child_kill(&q->fio, SIGINT);
		for (int i = 0; i < 50 && child_running(&q->fio); i++)
			usleep(100 * 1000);
		if (child_running(&q->fio)) {
			pc_warn(LOG_NODE, "fio did not end on SIGINT: killed");
			child_kill(&q->fio, SIGKILL);
		}
		child_finish(&q->fio, 5000, &st);
		q->fio_live = false;
	}
	if (!q->fio_ran)
		return;
	q->fio_ran = false;
	json_decref(q->fio_rec);
	snprintf(path, sizeof(path), "%s/fio.json", q->dir);
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0;
	if (f) {
		FILE *m = open_memstream(&text, &len);
		char buf[16384];
		size_t k;
		while (m && (k = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, k, m);
		if (m)
			fclose(m);
		fclose(f);
	}
	q->fio_rec = text ? fio_record(text) :
		     json_pack("{s:s}", "error", "fio's output could not be read back");
	free(text);
	json_t *e = json_object_get(q->fio_rec, "error");
	if (e)
		pc_warn(LOG_NODE, "fio: %s ('%s')", json_string_value(e), path);
}

static void qemu_close(struct node *n)
{
	struct qpriv *q = n->priv;

	if (!q)
		return;
	reap_agents(q);
	qemu_stop(q);
	fio_kill(q);
	reports_close(q);
	diskmodel_free(q->slog);
	for (size_t i = 0; i < q->n; i++) {
		diskmodel_free(q->d[i].dm);
		if (q->d[i].have_chk)
			disk_check_release(&q->d[i].chk);
		free(q->report_path[i]);
	}
	if (q->con_fd >= 0)
		close(q->con_fd);
	if (q->log_fd >= 0)
		close(q->log_fd);
	json_decref(q->boot_log);
	json_decref(q->fio_rec);
	guest_console_release(&q->con);
	free(q);
	n->priv = NULL;
}

/* [disk] record: the recording's directory, and what the disk is (recording.json). */
static bool record_dir(struct node *n, const struct qdisk *d, char *out, size_t len)
{
	const struct cfg_disk *c = d->cfg;

	if (!c->record || !n->env.record_dir)
		return false;
	if (c->backing || (c->format == DISK_LVMTHIN && c->fs != DISK_FS_NONE)) {
		pc_warn(LOG_NODE, "disk '%s' is not recorded: recording covers raw and qcow2 "
			"without a backing file, and lvmthin without a file system", c->name);
		return false;
	}
	snprintf(out, len, "%.3000s/%.200s", n->env.record_dir, c->name);
	if (pc_mkdir_p(out) < 0)
		return false;
	char meta[PATH_MAX + 32];
	snprintf(meta, sizeof(meta), "%.4000s/%s", out, RECORDING_META);
	/* An lvmthin disk's model holds the guest's PV (raw): recorded as raw is, with the
	 * names the guest gives its VG, pool and thin LV (rig/sim/guest/init). */
	const char *fmt = c->format == DISK_QCOW2 ? "qcow2" :
			  c->format == DISK_LVMTHIN ? "lvmthin" : "raw";
	json_t *j = json_pack("{s:s,s:i,s:s,s:s,s:s,s:b,s:I}", "disk", c->name, "id", (int)d->id,
			      "format", fmt, "cache",
			      disk_cache_name(cache_of(c->cache)), "control",
			      config_control_name(c->control),
			      "lazy_refcounts", c->lazy_refcounts, "size", (json_int_t)c->size);
	if (j && c->format == DISK_LVMTHIN) {
		json_t *names = json_pack("{s:s,s:s,s:s}", "vg", "pcvg", "pool", "pool", "lv", "thin");
		json_object_update(j, names);
		json_decref(names);
	}
	int rc = j ? json_dump_file(j, meta, JSON_COMPACT) : -1;
	json_decref(j);
	if (rc < 0) {
		pc_err(LOG_NODE, "cannot write '%s'", meta);
		return false;
	}
	return true;
}

static int qemu_prepare(struct node *n)
{
	struct qpriv *q = n->priv;
	const struct cfg_node *cn = n->cfg->node;
	char path[PATH_MAX + 32];
	int virtio = 0, sata = 0;

	snprintf(path, sizeof(path), "%s/node.log", q->dir);
	q->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (q->log_fd < 0) {
		int rc = -errno;
		pc_err(LOG_NODE, "cannot open '%s': %s", path, strerror(-rc));
		return rc;
	}
	if (access(q->agent_nbd, X_OK) < 0) {
		pc_err(LOG_NODE, "cannot run the agent '%s': %s", q->agent_nbd, strerror(errno));
		return -ENOENT;
	}
	if (q->full) {
		char k[PATH_MAX + 16], i[PATH_MAX + 16];
		snprintf(k, sizeof(k), "%s/vmlinux", q->guest);
		snprintf(i, sizeof(i), "%s/initrd.cpio", q->guest);
		if (access(k, R_OK) < 0 || access(i, R_OK) < 0) {
			pc_err(LOG_NODE, "no guest in '%s' (vmlinux, initrd.cpio): run "
			       "'scripts/build-guest'", q->guest);
			return -ENOENT;
		}
	}
	for (size_t i = 0; i < q->n; i++) {
		struct qdisk *d = &q->d[i];
		struct disk_opts o;

		disk_opts_init(&o);
		o.format = d->cfg->format == DISK_QCOW2 ? DISK_FMT_QCOW2 : DISK_FMT_RAW;
		o.cache = cache_of(d->cfg->cache);
		o.size = d->cfg->size;
		o.cluster_size = (uint32_t)d->cfg->cluster_size;
		o.extended_l2 = d->cfg->extended_l2;
		o.lazy_refcounts = d->cfg->lazy_refcounts;
		o.preallocation = prealloc_names[d->cfg->preallocation];
		o.lying = d->cfg->control == CONTROL_LYING;
		o.writeback = cn->writeback == NODE_WB_RANDOM ? DISK_WB_RANDOM :
			      cn->writeback == NODE_WB_OLDEST ? DISK_WB_OLDEST : DISK_WB_NONE;
		if (o.lying)
			o.writeback = DISK_WB_NONE;	/* a control is caught every time */
		o.tear = cn->tear;
		o.forget = d->cfg->control == CONTROL_FORGETFUL;
		o.forget_span = (uint64_t)n->cfg->workload->span_mib << 20;
		o.seed = n->cfg->campaign->seed + i;
		o.tmpdir = q->dir;
		char kept[PATH_MAX];
		if (d->cfg->keep) {
			snprintf(kept, sizeof(kept), "%.4000s/disk%u", n->env.keep_dir, d->id);
			o.run_dir = kept;
		}
		char recdir[PATH_MAX];
		if (record_dir(n, d, recdir, sizeof(recdir)))
			o.record_dir = recdir;
		d->dm = diskmodel_new(&o);
		if (!d->dm) {
			int rc = -errno;
			pc_err(LOG_NODE, "cannot create disk '%s': %s", d->cfg->name, strerror(-rc));
			return rc;
		}
		d->reused = diskmodel_reused(d->dm);
		if (d->reused && (int)i == q->lvm)
			q->lvm_created = true;	/* its thin pool and LV are on the image */
		if (d->reused)
			pc_info(LOG_NODE, "disk '%s' is kept: cycle on its image in '%s'",
				d->cfg->name, diskmodel_dir(d->dm));
		int rc = diskmodel_start(d->dm);
		if (rc < 0) {
			pc_err(LOG_NODE, "cannot start disk '%s': %s (see '%s')", d->cfg->name,
			       strerror(-rc), diskmodel_dir(d->dm));
			return rc;
		}
		/* How the guest finds it: virtio disks are named in order, NVMe
		 * controllers by serial (they probe in parallel), SATA disks by port. */
		if (d->cfg->bus == BUS_NVME)
			snprintf(d->dev, sizeof(d->dev), "nvme.pc%u", d->id);
		else if (d->cfg->bus == BUS_SATA)
			snprintf(d->dev, sizeof(d->dev), "ata.%d", ++sata);
		else
			snprintf(d->dev, sizeof(d->dev), "vd%c", 'a' + virtio++);
	}
	q->sata = sata > 0;
	if (sata > 6) {
		pc_err(LOG_NODE, "the bench has %d sata disks; the AHCI controller has 6 ports", sata);
		return -EINVAL;
	}
	if (q->zvol >= 0 && q->d[q->zvol].cfg->slog != ZFS_SLOG_NONE) {
		const struct cfg_disk *z = q->d[q->zvol].cfg;
		struct disk_opts o;
		disk_opts_init(&o);
		o.format = DISK_FMT_RAW;
		o.cache = cache_of(z->cache);
		o.size = z->size;
		o.lying = z->slog == ZFS_SLOG_LYING;
		o.writeback = o.lying || cn->writeback == NODE_WB_NONE ? DISK_WB_NONE :
			      cn->writeback == NODE_WB_RANDOM ? DISK_WB_RANDOM : DISK_WB_OLDEST;
		o.tear = cn->tear;
		o.seed = n->cfg->campaign->seed + NODE_MAX_DISKS;
		o.tmpdir = q->dir;
		int rc;
		if (!(q->slog = diskmodel_new(&o)))
			rc = -errno;
		else
			rc = diskmodel_start(q->slog);
		if (rc < 0) {
			pc_err(LOG_NODE, "cannot create the SLOG of disk '%s': %s", z->name,
			       strerror(-rc));
			return rc;
		}
		snprintf(q->slog_dev, sizeof(q->slog_dev), "vd%c", 'a' + virtio);
	}
	return 0;
}

/* Agent arguments common to write and check. */
static int agent_common(const struct node *n, const struct node_job *job, const struct qdisk *d,
			char bufs[][32], const char **argv, int k)
{
	const struct cfg_workload *w = job->workload ? job->workload : n->cfg->workload;

	snprintf(bufs[0], 32, "%" PRIu64, job->campaign);
	snprintf(bufs[1], 32, "%u", job->cycle);
	snprintf(bufs[2], 32, "%u", d->id);
	snprintf(bufs[3], 32, "%" PRIu64, job->seed);
	snprintf(bufs[4], 32, "%" PRIu64, w->block_size);
	snprintf(bufs[5], 32, "%" PRId64, w->span_mib);
	argv[k++] = "--campaign"; argv[k++] = bufs[0];
	argv[k++] = "--cycle"; argv[k++] = bufs[1];
	argv[k++] = "--disk"; argv[k++] = bufs[2];
	argv[k++] = "--seed"; argv[k++] = bufs[3];
	argv[k++] = "--block-size"; argv[k++] = bufs[4];
	argv[k++] = "--span-mib"; argv[k++] = bufs[5];
	argv[k++] = "--quiet";
	return k;
}

/* Host side, through qemu-storage-daemon: a write pass of the agent to its end. */
static int agent_run_nbd(struct node *n, struct qdisk *d, const struct node_job *job,
			 const char *const *extra)
{
	struct qpriv *q = n->priv;
	char bufs[8][32], ledger[300];
	const char *argv[48];
	int k = 0, st = 0;

	argv[k++] = q->agent_nbd;
	argv[k++] = "write";
	argv[k++] = diskmodel_uri(d->dm);
	k = agent_common(n, job, d, bufs, argv, k);
	/* This pass runs on the host itself, whatever address the guest uses. */
	snprintf(ledger, sizeof(ledger), "127.0.0.1:%u", job->ledger_port);
	argv[k++] = "--ledger"; argv[k++] = ledger;
	while (extra && *extra && k < 46)
		argv[k++] = *extra++;
	argv[k] = NULL;
	char tenv[300];
	const char *env[] = { tenv, NULL };
	int rc = node_token_env(job, tenv, sizeof(tenv));
	if (rc < 0)
		return rc;
	struct child c = { .argv = argv, .env = env, .in = CHILD_NULL, .out = CHILD_FD,
			   .err = CHILD_FD, .fd_out = q->log_fd, .fd_err = q->log_fd };
	rc = child_start(&c);
	if (rc < 0)
		return rc;
	rc = child_finish(&c, 120000, &st);
	if (rc < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		char why[64];
		pc_err(LOG_NODE, "agent pass on disk '%s' failed: %s", d->cfg->name,
		       rc < 0 ? strerror(-rc) : child_status_str(st, why, sizeof(why)));
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

/* Baselines written from the host through qemu-storage-daemon, as cycle - 1 (flushed,
 * the stack then stopped cleanly): for a backing qcow2 disk, with snap, the seed's
 * volume-chain snapshot follows (the image becomes the read-only backing file of a new
 * overlay); with all, every disk but the LVM one gets one (the full tier: the guest's
 * agents share one set of options, so they all write with the baseline existing; a
 * scenario's fill step). */
static int host_baselines(struct node *n, const struct node_job *job, bool all, bool snap)
{
	struct qpriv *q = n->priv;
	bool begun = false;

	for (size_t i = 0; i < q->n; i++) {
		struct qdisk *d = &q->d[i];
		bool chain = d->cfg->backing && d->cfg->format == DISK_QCOW2;
		/* A kept disk holds what its last cycle left: no new baseline, no new link
		 * in the chain (its backing file, if any, is already there); the guest's
		 * own volumes (thin LV, zvol) start as zeroes. */
		if (d->reused || (!chain && !(all && (int)i != q->lvm && (int)i != q->zvol)))
			continue;
		struct node_job base = *job;
		base.cycle = job->cycle ? job->cycle - 1 : 0;
		static const char *const extra[] = { "--writes", "1", "--flush", "always", NULL };
		if (!begun && job->cycle_begins)
			job->cycle_begins(job->cb_arg, base.cycle);
		begun = true;
		int rc = agent_run_nbd(n, d, &base, extra);
		if (rc < 0)
			return rc;
		if (!chain || !snap)
			continue;
		if ((rc = diskmodel_snapshot(d->dm)) < 0) {
			pc_err(LOG_NODE, "cannot snapshot disk '%s': %s", d->cfg->name, strerror(-rc));
			return rc;
		}
		pc_debug(LOG_NODE, "disk '%s': baseline of cycle %u is the backing file",
			 d->cfg->name, base.cycle);
	}
	return 0;
}

/* ---- fast tier ---- */

static int fast_start(struct node *n, const struct node_job *job)
{
	struct qpriv *q = n->priv;
	const struct cfg_workload *w = job->workload ? job->workload : n->cfg->workload;
	int rc;

	/* Without a baseline (a scenario's fill wrote it, or [workload] baseline = none)
	 * the agent writes into what the disk holds. */
	if ((job->baseline && (rc = host_baselines(n, job, false, true)) < 0) ||
	    (rc = fio_start(n, q)) < 0)
		return rc;
	if (job->cycle_begins)
		job->cycle_begins(job->cb_arg, job->cycle);
	for (size_t i = 0; i < q->n; i++) {
		struct qdisk *d = &q->d[i];
		/* argv must live as long as the child: static per disk. */
		static char bufs[NODE_MAX_DISKS][12][32];
		static char ledger[NODE_MAX_DISKS][300];
		static const char *argv[NODE_MAX_DISKS][48];
		const char **a = argv[i];
		int k = 0;

		a[k++] = q->agent_nbd;
		a[k++] = "write";
		a[k++] = diskmodel_uri(d->dm);
		k = agent_common(n, job, d, bufs[i], a, k);
		snprintf(ledger[i], sizeof(ledger[i]), "%s:%u", job->ledger_host, job->ledger_port);
		snprintf(bufs[i][6], 32, "%" PRId64, w->queue_depth);
		snprintf(bufs[i][7], 32, "%" PRId64, w->hot_set_pct);
		snprintf(bufs[i][8], 32, "%" PRId64, w->flush_n);
		snprintf(bufs[i][9], 32, "%" PRId64, w->flush_ms);
		snprintf(bufs[i][10], 32, "%.3f", w->duration_ms / 1000.0);
		a[k++] = "--ledger"; a[k++] = ledger[i];
		a[k++] = "--queue-depth"; a[k++] = bufs[i][6];
		a[k++] = "--pattern"; a[k++] = pattern_names[w->pattern];
		a[k++] = "--hot-set-pct"; a[k++] = bufs[i][7];
		a[k++] = "--flush"; a[k++] = flush_names[w->flush];
		a[k++] = "--flush-n"; a[k++] = bufs[i][8];
		a[k++] = "--flush-ms"; a[k++] = bufs[i][9];
		a[k++] = "--duration"; a[k++] = bufs[i][10];
		if (!job->baseline || d->reused || (d->cfg->backing && d->cfg->format == DISK_QCOW2))
			a[k++] = "--baseline-exists";
		a[k] = NULL;
		static char tenv[NODE_MAX_DISKS][300];
		static const char *env[NODE_MAX_DISKS][2];
		if ((rc = node_token_env(job, tenv[i], sizeof(tenv[i]))) < 0)
			return rc;
		env[i][0] = tenv[i];
		d->agent = (struct child){ .argv = a, .env = env[i], .in = CHILD_NULL,
					   .out = CHILD_FD, .err = CHILD_FD, .fd_out = q->log_fd,
					   .fd_err = q->log_fd };
		if ((rc = child_start(&d->agent)) < 0) {
			pc_err(LOG_NODE, "cannot start the agent on disk '%s': %s", d->cfg->name,
			       strerror(-rc));
			return rc;
		}
		d->agent_live = true;
	}
	return 0;
}

static int fast_power_back(struct node *n)
{
	struct qpriv *q = n->priv;

	reap_agents(q);
	for (size_t i = 0; i < q->n; i++) {
		struct qdisk *d = &q->d[i];
		if (d->have_chk)
			disk_check_release(&d->chk);
		d->have_chk = false;
		int rc = diskmodel_restart(d->dm, &d->chk);
		if (rc < 0) {
			pc_err(LOG_NODE, "disk '%s' did not come back: %s (see '%s')", d->cfg->name,
			       strerror(-rc), diskmodel_dir(d->dm));
			return rc;
		}
		d->have_chk = true;
	}
	return 0;
}

static int fast_check(struct node *n, const struct node_job *job, struct node_disk_result *res)
{
	struct qpriv *q = n->priv;
	int ret = 0;

	for (size_t i = 0; i < q->n; i++) {
		struct qdisk *d = &q->d[i];
		char bufs[8][32], out[PATH_MAX + 64];
		const char *argv[40];
		int k = 0;
		struct child_result r;

		snprintf(out, sizeof(out), "%s/check-%u-%u.jsonl", q->dir, job->cycle, d->id);
		argv[k++] = q->agent_nbd;
		argv[k++] = "check";
		argv[k++] = diskmodel_uri(d->dm);
		k = agent_common(n, job, d, bufs, argv, k);
		argv[k++] = "--output";
		argv[k++] = out;
		argv[k] = NULL;
		int rc = child_run(argv, NULL, 120000, &r);
		res[i].agent_rc = rc < 0 ? -1 : WIFEXITED(r.status) ? WEXITSTATUS(r.status) : 128;
		if (rc < 0 || res[i].agent_rc) {
			pc_err(LOG_NODE, "agent check of disk '%s' failed: %s", d->cfg->name,
			       rc < 0 ? strerror(-rc) : r.err ? r.err : "");
			ret = ret ? ret : -EIO;
		} else {
			res[i].report_path = strdup(out);
		}
		if (rc == 0 || rc == -ETIMEDOUT)
			child_result_release(&r);
	}
	return ret;
}

/* ---- full tier ---- */

static char *blockdev_json(struct diskmodel *dm, int format, int cache, const char *node)
{
	char sock[PATH_MAX + 32], base[PATH_MAX + 32];
	struct stat sb;

	snprintf(sock, sizeof(sock), "%s/nbdkit.sock", diskmodel_dir(dm));
	snprintf(base, sizeof(base), "%s/base.qcow2", diskmodel_dir(dm));
	json_t *proto = json_pack("{s:s,s:{s:s,s:s},s:o}", "driver", "nbd", "server", "type",
				  "unix", "path", sock, "cache", guest_cache_obj(cache));
	json_t *f = json_pack("{s:s,s:s,s:o,s:o}", "driver",
			      format == DISK_QCOW2 ? "qcow2" : "raw", "node-name", node,
			      "file", proto, "cache", guest_cache_obj(cache));
	if (f && format == DISK_QCOW2) {
		/* The overlay's relative backing name cannot be resolved against an NBD
		 * URI: the chain is given explicitly (the base is never written again). */
		if (stat(base, &sb) == 0)
			json_object_set_new(f, "backing", json_pack("{s:s,s:b,s:{s:s,s:s,s:b}}",
					    "driver", "qcow2", "read-only", 1, "file", "driver",
					    "file", "filename", base, "read-only", 1));
		else
			json_object_set_new(f, "backing", json_null());
	}
	char *s = f ? json_dumps(f, JSON_COMPACT) : NULL;
	json_decref(f);
	return s;
}

/* The disk model without qemu-storage-daemon: QEMU itself is the NBD client. */
static int disks_serve(struct qpriv *q)
{
	if (q->slog) {
		int rc = diskmodel_start(q->slog);
		if (rc == 0)
			rc = diskmodel_cut(q->slog, DISK_CUT_KILL);
		if (rc < 0) {
			pc_err(LOG_NODE, "cannot serve the SLOG disk: %s", strerror(-rc));
			return rc;
		}
	}
	for (size_t i = 0; i < q->n; i++) {
		int rc = diskmodel_start(q->d[i].dm);
		if (rc == 0)
			rc = diskmodel_cut(q->d[i].dm, DISK_CUT_KILL);	/* nothing unflushed yet */
		if (rc < 0) {
			pc_err(LOG_NODE, "cannot serve disk '%s': %s", q->d[i].cfg->name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* The full tier's QEMU: the guest of guest.h with every disk (and the zvol's SLOG) as
 * QEMU's NBD client on its disk model. */
static int boot(struct node *n, const struct node_job *job, bool check)
{
	struct qpriv *q = n->priv;
	char append[GUEST_APPEND_MAX], fwcfg[PATH_MAX + 64], kernel[PATH_MAX + 16];
	char initrd[PATH_MAX + 16], node[NODE_MAX_DISKS + 1][16], dev[NODE_MAX_DISKS + 1][192];
	char *bd[NODE_MAX_DISKS + 1] = { 0 };
	const char *devs[NODE_MAX_DISKS + 1];
	struct guest_disk gd[NODE_MAX_DISKS];
	struct guest_argv a;
	int rc;

	for (size_t i = 0; i < q->n; i++)
		gd[i] = (struct guest_disk){ .cfg = q->d[i].cfg, .id = q->d[i].id, .dev = q->d[i].dev };
	char ledger[300];
	snprintf(ledger, sizeof(ledger), "%s:%u", job->ledger_host, job->ledger_port);
	const struct guest_cmdline cmd = {
		.mode = check ? GUEST_CHECK : GUEST_WRITE, .job = job,
		.w = job->workload ? job->workload : n->cfg->workload, .disks = gd, .n = q->n,
		.ledger = ledger, .static_net = true,
		/* written from the host (a new thin LV's baseline is its zeroes) */
		.baseline_exists = true,
		.lvm = q->lvm, .lvm_created = q->lvm_created, .zvol = q->zvol,
		.zvol_created = q->zvol_created, .slog_dev = q->slog ? q->slog_dev : NULL,
		.ctl = check ? NULL : "ttyS1",
	};
	if ((rc = guest_cmdline(&cmd, append, sizeof(append))) < 0)
		return rc;
	if (!check && (rc = node_token_fwcfg(job, q->dir, fwcfg, sizeof(fwcfg))) < 0) {
		pc_err(LOG_NODE, "cannot write the ledger token file in '%s': %s", q->dir,
		       strerror(-rc));
		return rc;
	}
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", q->guest);
	snprintf(initrd, sizeof(initrd), "%s/initrd.cpio", q->guest);
	snprintf(q->console, sizeof(q->console), "%s/console-%d.log", q->dir, ++q->boots);
	snprintf(q->ctl, sizeof(q->ctl), "%s/ctl.sock", q->dir);
	snprintf(q->qmp, sizeof(q->qmp), "%s/qmp.sock", q->dir);
	ctl_close(q);
	unlink(q->ctl);
	unlink(q->qmp);
	size_t nd = q->n + (q->slog != NULL);
	rc = -ENOMEM;
	for (size_t i = 0; i < nd; i++) {
		bool slog = i == q->n;
		const struct cfg_disk *cd = slog ? q->d[q->zvol].cfg : q->d[i].cfg;
		snprintf(node[i], sizeof(node[i]), slog ? "slog" : "disk%u", slog ? 0 : q->d[i].id);
		if (!(bd[i] = blockdev_json(slog ? q->slog : q->d[i].dm, slog ? DISK_RAW : cd->format,
					    cd->cache, node[i])))
			goto out;
		guest_device(dev[i], sizeof(dev[i]), slog ? BUS_VIRTIO : cd->bus, node[i],
			     slog ? 0 : q->d[i].id, slog ? 0 : q->d[i].dev[4] - '1', cd->cache);
		devs[i] = dev[i];
	}
	const struct guest_qemu qa = {
		.kernel = kernel, .initrd = initrd, .console = q->console, .append = append,
		.fwcfg = check ? NULL : fwcfg, .netdev = "net0", .nic_on_check = true,
		.check = check, .smp = 1, .mem_mib = 1024, .qboot = true, .ahci = q->sata,
		.blockdev = (const char *const *)bd, .device = devs, .n_disks = nd,
		.ctl = check ? NULL : q->ctl, .qmp = check ? NULL : q->qmp, .reboot = !check,
	};
	if ((rc = guest_qemu_argv(&qa, &a)) < 0)
		goto out;

	if (!q->boot_log)
		q->boot_log = json_array();
	guest_console_boot(&q->con, q->boot_log, q->boots, check);
	if (q->con_fd >= 0)
		close(q->con_fd);
	q->con_fd = -1;
	unlink(q->console);
	q->qemu = (struct child){ .argv = a.argv, .in = CHILD_NULL, .out = CHILD_FD,
				  .err = CHILD_FD, .fd_out = q->log_fd, .fd_err = q->log_fd };
	rc = child_start(&q->qemu);
	if (rc < 0) {
		pc_err(LOG_NODE, "cannot start 'qemu-system-x86_64': %s", strerror(-rc));
		goto out;
	}
	/* argv is on this frame: keep a name for messages. */
	static const char *const name[] = { "qemu-system-x86_64", NULL };
	q->qemu.argv = name;
	q->qemu_live = true;
	q->check_boot = check;
	pc_debug(LOG_NODE, "booted the guest (%s mode), console '%s'", check ? "check" : "write",
		 q->console);
out:
	for (size_t i = 0; i < nd; i++)
		free(bd[i]);
	return rc;
}

/* guest_console_src's poll: what the console file gained; alive while QEMU runs. */
static int con_poll(void *arg, struct guest_console *c, bool *alive)
{
	struct qpriv *q = arg;

	if (q->con_fd < 0)
		q->con_fd = open(q->console, O_RDONLY | O_CLOEXEC);
	for (ssize_t k = 1; q->con_fd >= 0 && k > 0;) {
		char buf[16384];
		if ((k = read(q->con_fd, buf, sizeof(buf))) > 0)
			guest_console_feed(c, buf, (size_t)k);
	}
	*alive = child_running(&q->qemu);
	return 0;
}

/* Is the node alive? The fast tier: every agent that ended did so with status 0 (an
 * agent's death is the node's: its NBD server, qemu-storage-daemon, gone, or its
 * ledger refusing it). The full tier: QEMU still runs, the guest's kernel did not
 * panic and its console said something within [node] console_silence. checking: the
 * wait is for the check's `done`, whose agents may read for long without a word (no
 * silence limit), after which the guest powers off (QEMU's status 0 is its end).
 * 0, or node_died's -EOWNERDEAD. */
static int qemu_life(struct node *n, bool checking)
{
	struct qpriv *q = n->priv;
	struct node_death d = { 0 };
	char how[96];
	bool alive;
	int st;

	if (!q->full) {
		for (size_t i = 0; i < q->n; i++) {
			struct qdisk *k = &q->d[i];
			if (!k->agent_live || !child_exited(&k->agent, &st) ||
			    (WIFEXITED(st) && WEXITSTATUS(st) == 0))
				continue;
			d.life = WIFSIGNALED(st) ? NODE_LIFE_KILLED : NODE_LIFE_EXITED;
			d.code = WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st);
			snprintf(d.what, sizeof(d.what), "the agent on disk '%s' (pid %d) %s (its "
				 "messages are in '%.600s/node.log')", k->cfg->name, (int)k->agent.pid,
				 child_status_str(st, how, sizeof(how)), q->dir);
			return node_died(n, &d);
		}
		return 0;
	}
	if (!q->qemu_live)
		return 0;
	con_poll(q, &q->con, &alive);	/* its last words first: a panic, a done */
	const char *boot = q->check_boot ? "check boot" : "write boot";
	bool exited = child_exited(&q->qemu, &st);
	char who[64];
	snprintf(who, sizeof(who), "the guest (the %s)", boot);
	if (exited && checking && q->con.done && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	/* A panic first: a kernel told to reboot on one ends QEMU (-no-reboot) too. */
	if (q->con.panic) {
		guest_console_dead(&q->con, 0, who, &d);	/* says the panic */
	} else if (exited) {
		d.life = WIFSIGNALED(st) ? NODE_LIFE_KILLED : NODE_LIFE_EXITED;
		d.code = WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st);
		snprintf(d.what, sizeof(d.what), "QEMU (pid %d, the %s, console '%.600s') %s at "
			 "stage '%s'", (int)q->qemu.pid, boot, q->console,
			 child_status_str(st, how, sizeof(how)),
			 q->con.stage[0] ? q->con.stage : "kernel");
	} else if (!guest_console_dead(&q->con, checking ? 0 : n->cfg->node->silence_ms, who, &d)) {
		return 0;
	}
	/* The console file stays in the node's directory (a failed cycle keeps it): what
	 * the guest and its kernel said last goes to the log as well. */
	guest_console_tail(q->console, 15);
	return node_died(n, &d);
}

static int qemu_watch(struct node *n)
{
	return qemu_life(n, false);
}

static int watch_ready(void *arg)
{
	return qemu_life(arg, false);
}

static int watch_done(void *arg)
{
	return qemu_life(arg, true);
}

/* Wait for the console to show ready (want_done: done), the node to die, or the
 * timeout. */
static int con_wait(struct node *n, bool want_done, int timeout_ms)
{
	struct qpriv *q = n->priv;
	const struct guest_console_src src = { .poll = con_poll, .arg = q, .console = q->console,
					       .poll_ms = 20, .watch = want_done ? watch_done :
					       watch_ready, .watch_arg = n };
	int rc = guest_console_wait(&q->con, &src, want_done, timeout_ms);

	/* The console file goes with the node's directory once the cycle passes (a boot
	 * that was not ready in time is power-cycled again): what the guest and its
	 * kernel said last goes to the log, and with it to the campaign's events (a
	 * death logged it already). */
	if (rc < 0 && rc != -EOWNERDEAD)
		guest_console_tail(q->console, 15);
	return rc;
}

/* A line to the full tier's guest on its control port (ttyS1, rig/sim/guest/init's
 * ctl_loop): QEMU listens on the socket as the port's backend. One connection for
 * the QEMU's life: QEMU reads from it only as fast as the guest's UART takes bytes,
 * and drops what it had not read when the client hangs up. */
static int ctl_send(struct qpriv *q, const char *line)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%s\n", line), rc = 0;

	if (!q->qemu_live || q->check_boot) {
		pc_err(LOG_NODE, "'%s' needs the write boot's guest up: %s", line, q->qemu_live ?
		       "after a power cut or a kill the full tier's node runs its check boot "
		       "(cut:reset and reboot keep the guest)" : "QEMU is not running");
		return -ESRCH;
	}
	if (q->ctl_fd < 0 && (q->ctl_fd = pc_unix_connect(q->ctl)) < 0)
		rc = q->ctl_fd;
	else if (send(q->ctl_fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
		rc = -errno;
	if (rc < 0) {
		pc_err(LOG_NODE, "cannot send '%s' to the guest's control port '%s': %s", line,
		       q->ctl, strerror(-rc));
		ctl_close(q);
	}
	return rc;
}

/* QMP: one command on QEMU's monitor; 0 when QEMU answered "return". */
static int qmp_command(struct qpriv *q, const char *cmd)
{
	char why[256] = "";
	struct qmp *m = qmp_open(q->qmp, 10000);
	int rc;

	if (!m) {
		rc = -errno;
		pc_err(LOG_NODE, "cannot reach QEMU's monitor '%s': %s", q->qmp, strerror(-rc));
		return rc;
	}
	rc = qmp_execute(m, json_pack("{s:s}", "execute", cmd), why, sizeof(why));
	if (rc < 0)
		pc_err(LOG_NODE, "QEMU's monitor did not do '%s': %s", cmd, why);
	qmp_close(m);
	return rc;
}

/* This boot's first EVENT with KEY=VALUE (value NULL: any) on its console, or NULL. */
static json_t *con_said(const struct qpriv *q, const char *event, const char *key,
			const char *value)
{
	size_t i;
	json_t *ev;

	json_array_foreach(q->con.events, i, ev) {
		const char *v = json_string_value(json_object_get(ev, key));
		if (!strcmp(json_string_value(json_object_get(ev, "event")) ?: "", event) && v &&
		    (!value || !strcmp(v, value)))
			return ev;
	}
	return NULL;
}

/* Wait until this boot says EVENT KEY=VALUE (value NULL: any); the event (borrowed)
 * into *found. -EOWNERDEAD when the node died first (qemu_life), -EIO when QEMU ended,
 * -ETIMEDOUT (all logged). */
static int con_wait_event(struct node *n, const char *event, const char *key,
			  const char *value, int timeout_ms, json_t **found)
{
	struct qpriv *q = n->priv;
	int64_t end = clock_mono_ms() + timeout_ms;

	for (;;) {
		bool alive = true;
		json_t *ev;
		int rc;
		con_poll(q, &q->con, &alive);
		if ((ev = con_said(q, event, key, value))) {
			if (found)
				*found = ev;
			return 0;
		}
		if ((rc = qemu_life(n, false)) < 0)
			return rc;
		if (!alive || clock_mono_ms() > end) {
			pc_err(LOG_NODE, "the guest %s before it said '%s %s=%s' (console '%s')",
			       alive ? "timed out" : "ended", event, key, value ? value : "...",
			       q->console);
			guest_console_tail(q->console, 15);
			return alive ? -ETIMEDOUT : -EIO;
		}
		usleep(20 * 1000);
	}
}

/* The boot's first word on the control port, once the guest opened it: "write" for
 * the cycle's boot, "idle" for the same QEMU's boot after a reset or a reboot. */
static int ctl_boot(struct node *n, const char *what)
{
	struct qpriv *q = n->priv;
	int rc = con_wait_event(n, "ctl", "state", "open", (int)n->cfg->campaign->boot_timeout_ms,
				NULL);

	return rc < 0 ? rc : ctl_send(q, what);
}

/* The same QEMU boots the guest again (after a reset or a reboot): a new boot in the
 * record, told it is an idle one, up when it says ready. */
static int guest_again(struct node *n)
{
	struct qpriv *q = n->priv;
	bool alive;
	int rc;

	con_poll(q, &q->con, &alive);	/* the last boot's last words */
	guest_console_boot(&q->con, q->boot_log, ++q->boots, false);
	if ((rc = ctl_boot(n, "idle")) < 0)
		return rc;
	return con_wait(n, false, (int)n->cfg->campaign->boot_timeout_ms);
}

static int full_start(struct node *n, const struct node_job *job)
{
	struct qpriv *q = n->priv;
	int rc;

	if ((rc = host_baselines(n, job, job->baseline, true)) < 0 || (rc = disks_serve(q)) < 0 ||
	    (rc = fio_start(n, q)) < 0)
		return rc;
	if (job->cycle_begins)
		job->cycle_begins(job->cb_arg, job->cycle);
	q->reset_pending = false;
	if ((rc = boot(n, job, false)) < 0)
		return rc;
	return ctl_boot(n, "write");
}

/* The check's reports: the guest's check-lines of each disk go to its file. */
static int reports_open(struct qpriv *q, const struct node_job *job)
{
	reports_close(q);
	for (size_t i = 0; i < q->n; i++) {
		char p[PATH_MAX + 64];
		snprintf(p, sizeof(p), "%s/check-%u-%u.jsonl", q->dir, job->cycle, q->d[i].id);
		free(q->report_path[i]);
		q->report_path[i] = strdup(p);
		q->con.reports[i] = fopen(p, "we");
		if (!q->con.reports[i] || !q->report_path[i])
			return -errno;
	}
	return 0;
}

static int full_power_back(struct node *n, const struct node_job *job)
{
	struct qpriv *q = n->priv;

	bool alive;

	qemu_stop(q);
	con_poll(q, &q->con, &alive);	/* what the killed boot said, for the record */
	for (size_t i = 0; i < q->n; i++) {
		struct qdisk *d = &q->d[i];
		if (d->have_chk)
			disk_check_release(&d->chk);
		d->have_chk = false;
		/* The node's host checks its images before it starts the VM again. */
		int rc = diskmodel_check(d->dm, &d->chk);
		if (rc < 0) {
			pc_err(LOG_NODE, "cannot check disk '%s': %s", d->cfg->name, strerror(-rc));
			return rc;
		}
		d->have_chk = true;
	}
	int rc = disks_serve(q);
	if (rc < 0)
		return rc;
	if ((rc = reports_open(q, job)) < 0)
		return rc;
	q->lvm_created = q->lvm >= 0;
	q->zvol_created = q->zvol >= 0;
	return boot(n, job, true);
}

static int full_check(struct node *n, const struct node_job *job, struct node_disk_result *res)
{
	struct qpriv *q = n->priv;
	int rc = 0, st;

	/* No power cut since the workload's boot (a reset, a reboot): the guest QEMU
	 * booted again checks the disks itself, as it sees them through that QEMU. */
	if (q->qemu_live && !q->check_boot && ((rc = reports_open(q, job)) < 0 ||
					       (rc = ctl_send(q, "check")) < 0))
		return rc;
	rc = con_wait(n, true, (int)n->cfg->campaign->boot_timeout_ms);

	reports_close(q);
	if (q->qemu_live) {
		/* The guest powers off after done; wait for that, then make sure. */
		if (child_finish(&q->qemu, 10000, &st) < 0)
			pc_warn(LOG_NODE, "QEMU did not end after the check; killed");
		q->qemu_live = false;
		ctl_close(q);
	}
	for (size_t i = 0; i < q->n; i++) {
		res[i].agent_rc = q->con.check_rc[i];
		if (q->con.check_rc[i] == 0 && q->report_path[i])
			res[i].report_path = strdup(q->report_path[i]);
		else if (rc == 0)
			rc = -EIO;
	}
	return rc;
}

/* ---- hooks ---- */

static int qemu_start_workload(struct node *n, const struct node_job *job)
{
	struct qpriv *q = n->priv;

	return q->full ? full_start(n, job) : fast_start(n, job);
}

static int qemu_power_lost(struct node *n, int cut)
{
	struct qpriv *q = n->priv;

	/* Everything at once first, reaping after: the order of deaths must not let one
	 * process outlive another by the time a reap takes. */
	kill_agents(q, SIGKILL);
	if (q->qemu_live)
		child_kill(&q->qemu, SIGKILL);
	if (cut != CUT_KILL && q->fio_live)
		child_kill(&q->fio, SIGKILL);	/* a node process; a process kill spares it */
	for (size_t i = 0; i < q->n; i++)
		if (q->d[i].dm)
			diskmodel_cut(q->d[i].dm, cut == CUT_KILL ? DISK_CUT_KILL : DISK_CUT_POWER);
	if (q->slog)
		diskmodel_cut(q->slog, cut == CUT_KILL ? DISK_CUT_KILL : DISK_CUT_POWER);
	q->last_cut = cut;
	reap_agents(q);
	qemu_stop(q);
	if (cut != CUT_KILL)
		fio_kill(q);
	return 0;
}

static int qemu_power_back(struct node *n, const struct node_job *job)
{
	struct qpriv *q = n->priv;

	return q->full ? full_power_back(n, job) : fast_power_back(n);
}

static int qemu_wait_up(struct node *n, int timeout_ms)
{
	struct qpriv *q = n->priv;

	if (q->full && q->reset_pending) {
		q->reset_pending = false;
		return guest_again(n);
	}
	return q->full ? con_wait(n, false, timeout_ms) : 0;
}

static int qemu_check(struct node *n, const struct node_job *job, struct node_disk_result *res)
{
	struct qpriv *q = n->priv;
	int rc;

	fio_stop(q);
	rc = q->full ? full_check(n, job, res) : fast_check(n, job, res);

	for (size_t i = 0; i < q->n; i++) {
		struct qdisk *d = &q->d[i];
		if (d->have_chk && d->chk.checked) {
			/* lazy_refcounts leaves refcount errors after a crash that the next
			 * read-write open repairs: expected, not a failure. */
			const struct imgcheck_found f = {
				.result = d->chk.corrupt ? "corrupt" : d->chk.repairable ?
					  "repaired" : (d->chk.leaks ? "leaks" : "clean"),
				.dirty = d->chk.dirty, .corruptions = d->chk.corruptions,
				.leaks = d->chk.leaks, .check_errors = d->chk.check_errors,
				.fixed_corruptions = d->chk.fixed_corruptions,
				.fixed_leaks = d->chk.fixed_leaks,
				.report = d->chk.json ? json_loads(d->chk.json, 0, NULL) : NULL,
			};
			imgcheck_add(res[i].checks, &f);
		}
		if ((int)i == q->lvm)
			guest_console_lvm_checks(&q->con, res[i].checks);
		if ((int)i == q->zvol)
			guest_console_zfs_checks(&q->con, res[i].checks);
		if (q->full)
			guest_console_smart_check(&q->con, i, q->last_cut != CUT_KILL, res[i].checks);
	}
	return rc;
}

static json_t *qemu_collect(struct node *n)
{
	struct qpriv *q = n->priv;
	json_t *j = json_pack("{s:s,s:s}", "tier", q->full ? "full" : "fast", "dir", q->dir);

	if (q->full) {
		json_object_set_new(j, "boots", json_integer(q->boots));
		json_object_set(j, "boot_log", q->boot_log ? q->boot_log : json_null());
	}
	if (q->fio_rec)
		json_object_set(j, "fio", q->fio_rec);
	return j;
}

/* The scenario hooks below act on the fast tier's processes; the full tier's guest
 * boots with its workload and has no channel for them. */
static int fast_only(const char *what)
{
	pc_err(LOG_NODE, "%s runs on the fast tier only", what);
	return -ENOTSUP;
}

/* Scenario step fill: every disk's baseline from the host, as host_baselines writes
 * them, without the backing chain's snapshot (a snapshot step makes it). */
static int qemu_fill(struct node *n, const struct node_job *job)
{
	struct qpriv *q = n->priv;

	return q->full ? fast_only("scenario step 'fill'") : host_baselines(n, job, true, false);
}

/* Scenario step snapshot on the full tier: the thin snapshot of the lvmthin disk as
 * Proxmox's LvmThinPlugin makes it (volume_snapshot: lvcreate -n snap_VOL_SNAP -pr
 * -s VG/VOL, read-only, skipped by autoactivation), taken in the guest where the
 * pool lives, on the control port's "snapshot" (the guest is idle: after a flush,
 * a reset or a reboot). Proxmox's qcow2 volume chain needs QEMU to reopen the image
 * on a new overlay: the fast tier makes it; here a qcow2 disk keeps its image. */
static int full_snapshot(struct node *n)
{
	struct qpriv *q = n->priv;
	json_t *ev = NULL;
	int rc;

	if (q->lvm < 0) {
		pc_err(LOG_NODE, "scenario step 'snapshot' on the full tier snapshots an lvmthin "
		       "disk, and the bench has none (qcow2's volume chain: the fast tier)");
		return -ENOTSUP;
	}
	for (size_t i = 0; i < q->n; i++)
		if (q->d[i].cfg->format == DISK_QCOW2)
			pc_warn(LOG_NODE, "disk '%s': no snapshot on the full tier (qcow2's volume "
				"chain is the fast tier's)", q->d[i].cfg->name);
	if ((rc = ctl_send(q, "snapshot")) < 0 ||
	    (rc = con_wait_event(n, "snapshot", "status", NULL, 60000, &ev)) < 0)
		return rc;
	const char *lv = json_string_value(json_object_get(ev, "lv"));
	if (strcmp(json_string_value(json_object_get(ev, "status")), "ok")) {
		pc_err(LOG_NODE, "disk '%s': the thin snapshot '%s' failed (console '%s')",
		       q->d[q->lvm].cfg->name, lv ? lv : "?", q->console);
		guest_console_tail(q->console, 15);
		return -EIO;
	}
	pc_info(LOG_NODE, "disk '%s': thin snapshot '%s' taken", q->d[q->lvm].cfg->name,
		lv ? lv : "?");
	return 0;
}

/* Scenario step snapshot: Proxmox's volume-chain snapshot of every qcow2 disk (QEMU
 * flushes and reopens; here qemu-storage-daemon stops cleanly, the image becomes the
 * read-only backing file of a new overlay with the same options, and it starts). */
static int qemu_snapshot(struct node *n)
{
	struct qpriv *q = n->priv;

	if (q->full)
		return full_snapshot(n);
	for (size_t i = 0; i < q->n; i++) {
		struct qdisk *d = &q->d[i];
		if (d->cfg->format != DISK_QCOW2)
			continue;
		int rc = diskmodel_snapshot(d->dm);
		/* A kept disk's chain was made by an earlier cycle (one level only). */
		if (rc == -EBUSY && d->reused) {
			pc_info(LOG_NODE, "disk '%s' is kept: its snapshot is an earlier cycle's",
				d->cfg->name);
			continue;
		}
		if (rc < 0) {
			pc_err(LOG_NODE, "cannot snapshot disk '%s': %s%s", d->cfg->name, strerror(-rc),
			       rc == -EBUSY ? " (one snapshot per cycle)" : "");
			return rc;
		}
		pc_info(LOG_NODE, "disk '%s': snapshot taken, the image is a new overlay",
			d->cfg->name);
	}
	return 0;
}

/* Cut kind reset: QEMU's system reset; clean: a guest reboot. The fast tier's guest
 * is its agents: they stop at once (reset), or on SIGTERM after their writes in flight
 * completed (reboot), while qemu-storage-daemon keeps its qcow2 metadata cache as
 * QEMU does across a guest reset (a reset drains requests; it does not flush the
 * image). The full tier's QEMU resets the machine through its monitor (QMP
 * system_reset: devices reset, the block layer and the disk model untouched, so what
 * QEMU had not written to its backend is still in its memory), or the guest reboots
 * itself on the control port's "reboot" (agents stopped, sync, volumes released,
 * reboot -f; QEMU resets the machine and lives on). Either way the same QEMU boots
 * the guest again, idle: the reboot waits for it here, the reset in wait_up (the
 * restart step). */
static int qemu_reset(struct node *n, bool clean)
{
	struct qpriv *q = n->priv;
	int rc;

	if (q->full && clean) {
		if ((rc = ctl_send(q, "reboot")) < 0 ||
		    (rc = con_wait_event(n, "reboot", "status", "ok", 60000, NULL)) < 0)
			return rc;
		return guest_again(n);
	}
	if (q->full) {
		if (!q->qemu_live || !child_running(&q->qemu) || q->check_boot) {
			pc_err(LOG_NODE, "%s: nothing to reset", q->qemu_live && q->check_boot ?
			       "after a power cut or a kill the full tier's node runs its check boot" :
			       "QEMU is not running (the guest powers off when its workload ends)");
			return -ESRCH;
		}
		if ((rc = qmp_command(q, "system_reset")) == 0)
			q->reset_pending = true;
		return rc;
	}
	kill_agents(q, clean ? SIGTERM : SIGKILL);
	for (int i = 0; clean && i < 100; i++) {
		bool live = false;
		for (size_t k = 0; k < q->n; k++)
			live |= q->d[k].agent_live && child_running(&q->d[k].agent);
		if (!live)
			break;
		usleep(50 * 1000);
	}
	reap_agents(q);
	return 0;
}

/* Scenario step flush: the agents finish on SIGUSR1 (their last flush covers every
 * write they had acknowledged): the fast tier's are node processes; the full tier's
 * guest signals its own on the control port's "flush", and then stays up, idle,
 * until the next cut (it does not power off: QEMU's clean exit would flush what a
 * cut is there to find). */
static int qemu_flush(struct node *n)
{
	struct qpriv *q = n->priv;

	if (q->full)
		return ctl_send(q, "flush");
	kill_agents(q, SIGUSR1);
	return 0;
}

/* powercut doctor: the programs the simulated node runs, with their versions, and
 * the parts of this build it needs (the NBD agent or the guest, the disk model's
 * nbdkit filter). */
static int qemu_doctor(struct node *n, const struct node_doctor *d)
{
	struct qpriv *q = n->priv;
	const struct {
		const char *check, *argv[3];
		bool full_only;
	} tools[] = {
		{ "qemu-img", { "qemu-img", "--version" }, false },
		{ "qemu-storage-daemon", { "qemu-storage-daemon", "--version" }, false },
		{ "nbdkit", { "nbdkit", "--version" }, false },
		{ "qemu", { "qemu-system-x86_64", "--version" }, true },
	};
	char found[2 * PATH_MAX + 64], filter[PATH_MAX + 64];

	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		struct child_result r;
		if (tools[i].full_only && !q->full)
			continue;
		int rc = child_run(tools[i].argv, NULL, 30000, &r);
		const char *t = r.out ? r.out : "";
		snprintf(found, sizeof(found), "%.*s", (int)strcspn(t, "\n"), t);
		if (rc == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && found[0])
			d->add(d->arg, tools[i].check, NODE_DR_OK, found, NULL);
		else
		{
			snprintf(found, sizeof(found), "'%s' does not run here", tools[i].argv[0]);
			d->add(d->arg, tools[i].check, NODE_DR_FAIL, found,
			       "make deps (scripts/install-deps)");
		}
		child_result_release(&r);
	}
	if (getenv("PCVCACHE_FILTER") && *getenv("PCVCACHE_FILTER"))
		snprintf(filter, sizeof(filter), "%s", getenv("PCVCACHE_FILTER"));
	else
		snprintf(filter, sizeof(filter), "%.4000s/../lib/nbdkit-pcvcache-filter.so",
			 n->env.bin_dir);
	bool ok = access(filter, R_OK) == 0;
	snprintf(found, sizeof(found), "%s '%s'", ok ? "disk model filter" : "no disk model "
		 "filter at", filter);
	d->add(d->arg, "disk-model", ok ? NODE_DR_OK : NODE_DR_FAIL, found, ok ? NULL : "make build");
	if (q->full) {
		char k[PATH_MAX + 16], i2[PATH_MAX + 16];
		snprintf(k, sizeof(k), "%s/vmlinuz", q->guest);
		snprintf(i2, sizeof(i2), "%s/initrd.cpio", q->guest);
		ok = access(k, R_OK) == 0 && access(i2, R_OK) == 0;
		snprintf(found, sizeof(found), "%s '%s'", ok ? "kernel and initramfs in" :
			 "no kernel or initramfs in", q->guest);
		d->add(d->arg, "guest", ok ? NODE_DR_OK : NODE_DR_FAIL, found,
		       ok ? NULL : "make guest, or set [node] guest");
	} else {
		ok = access(q->agent_nbd, X_OK) == 0;
		snprintf(found, sizeof(found), "%s '%s'", ok ? "agent" : "no agent at",
			 q->agent_nbd);
		d->add(d->arg, "agent", ok ? NODE_DR_OK : NODE_DR_FAIL, found,
		       ok ? NULL : "make build");
	}
	if (d->cut)
		d->add(d->arg, "boot", NODE_DR_OK, "the simulated node boots when the simulator "
		       "restores DC: `powercut cycle` measures it", NULL);
	return 0;
}

/* Keys of [node] only this driver reads (config.h, "Drivers own their keys"). */
static const struct opt_def qemu_options[] = {
	{ "writeback", OPT_ENUM, NODE_CFG(writeback), "none", OPT_NOLIMIT, config_writebacks,
	  "Simulated node: the volatile disk cache writes dirty data down by itself over time: "
	  "none, random (an arbitrary subset survives a cut) or oldest.", 0 },
	{ "tear", OPT_BOOL, NODE_CFG(tear), "no", OPT_NOLIMIT, NULL,
	  "Simulated node: the volatile disk cache may write part of a multi-sector write.", 0 },
	NODE_OPT_CONSOLE_SILENCE,
	{ 0 }
};
static const char *const qemu_names[] = { "sim", "qemu", NULL };

const struct node_ops node_qemu_ops = {
	.version = NODE_OPS_VERSION,
	.name = "qemu",
	.help = "local QEMU: fast tier (disk model + agent over NBD) or full tier (TCG guest)",
	.options = qemu_options,
	.names = qemu_names,
	.open = qemu_open,
	.close = qemu_close,
	.prepare = qemu_prepare,
	.start_workload = qemu_start_workload,
	.power_lost = qemu_power_lost,
	.power_back = qemu_power_back,
	.wait_up = qemu_wait_up,
	.check = qemu_check,
	.collect = qemu_collect,
	.fill = qemu_fill,
	.snapshot = qemu_snapshot,
	.reset = qemu_reset,
	.flush = qemu_flush,
	.doctor = qemu_doctor,
	.watch = qemu_watch,
};
