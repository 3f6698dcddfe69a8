/* The `qemu` node driver on a remote Linux/KVM host over ssh (host/node/remote.h): the
 * full tier's guest, booted by the node's own qemu-system-x86_64, for benches without
 * Proxmox. Selected by [node] driver = qemu with [node] host set.
 *
 * prepare   a private run directory on the node (mktemp -d under [node] remote_dir);
 *           the guest's vmlinux and initrd.cpio copied to REMOTE_DIR/guest unless the
 *           node's sha256sum already matches (that cache is kept across runs); the
 *           disks created with qemu-img in the run directory (qcow2 with the bench's
 *           options; raw; the lvmthin disk is a raw image on which the guest builds
 *           its pool).
 * baseline  only with a backing = yes qcow2 disk, as the local tier's host baselines
 *           (qemu.c): a first boot, as cycle - 1, writes the baselines (--writes 1
 *           --flush always) and stops cleanly; then each backing image becomes
 *           NAME.base.qcow2, the backing file of a new overlay under the image's name,
 *           the image under test from then on. The write boot's unflushed writes
 *           allocate clusters in the overlay, which a cut rolls back to the base's
 *           older data (the seed bugs). One more boot per cycle.
 * start     fio jobs of [node] fio (copied to the run dir, run detached with
 *           --output-format=json --status-interval=1); then QEMU (KVM when the node
 *           has a usable /dev/kvm, else TCG) with -daemonize -pidfile, the console
 *           into a file of the run dir, which is read back over ssh to follow the
 *           guest's POWERCUT events (guest.h and console.h, shared with the other
 *           drivers).
 * ledger    before every write boot, a reverse ssh forward from the node's loopback
 *           to the ledger on this host; the guest gets 10.0.2.2:PORT (QEMU's user
 *           network's view of the node's loopback, PORT the node's end).
 * cut       process kill: kill -9 of QEMU's pid on the node. A power cut is the
 *           relay's: the node itself goes dark, so nothing is done here but the
 *           record of the moment (node.c).
 * wait_up   ssh answers again (remote_wait_up) and the killed QEMU is gone.
 * watch     at most every 2 s, one ssh command (the console poll): the guest's kernel
 *           panicked, QEMU is gone, or the console said nothing for [node]
 *           console_silence; the waits for a boot's done watch the first two.
 * check     fio is stopped and its last complete JSON report kept; qemu-img check
 *           --output=json of every qcow2 image; the guest in check mode, its
 *           check-lines fetched back into one report file per disk.
 * close     kills what still runs and removes the run directory, even after a
 *           failed cycle.
 * keep      a [disk] keep = yes disk lives in REMOTE_DIR/powercut-kept.CAMPAIGN (named
 *           as this host's kept-disk directory), created in the first cycle only;
 *           later cycles neither create nor baseline it (nor snapshot a kept chain
 *           again). As the guest's agents share one set of options, a cycle with a
 *           kept disk runs them all with the baseline existing: the other disks get
 *           theirs in the baseline boot, as a backing chain's (docs/campaign.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "console.h"
#include "guest.h"
#include "imgcheck.h"
#include "log.h"
#include "node.h"
#include "nodedoctor.h"
#include "nodefio.h"
#include "util.h"
#include "remote.h"

#define CMD_TIMEOUT_MS 120000

/* Shell words for the node. A pid file that outlived a power cut may name another
 * process after the reboot: a process is ours only when it runs (not a zombie) under
 * the expected command name. ALIVE defines alive PID NAME. */
#define ALIVE "alive() { [ \"$(cat /proc/$1/comm 2>/dev/null)\" = \"$2\" ] && " \
	      "! grep -qs '^State:[[:space:]]*Z' /proc/$1/status; }; "
#define QEMU_COMM "qemu-system-x86"	/* the kernel's 15 characters of the name */

/* Tests shorten the console poll and the watch's. */
int node_remote_poll_ms = 250;
int node_remote_watch_ms = 2000;

struct rpriv {
	struct remote *r;
	size_t n;
	int lvm;			/* index of the lvmthin disk, -1 none */
	bool lvm_created;
	char guest[PATH_MAX];		/* local: vmlinux, initrd.cpio */
	char gdir[PATH_MAX];		/* node: REMOTE_DIR/guest (kept) */
	char rdir[PATH_MAX];		/* node: this run's directory (removed) */
	char kdir[PATH_MAX];		/* node: the campaign's kept disks (kept), or "" */
	bool reused[NODE_MAX_DISKS];	/* a kept disk's image from an earlier cycle */
	bool any_reused;
	char img[NODE_MAX_DISKS][PATH_MAX + 64];
	char pidfile[PATH_MAX + 32], console[PATH_MAX + 32];
	bool kvm, qemu_started;
	bool chained;			/* the baseline boot ran: every disk has a baseline */
	/* The ledger on this host's loopback is out of the node's reach: asked at every
	 * write boot, a reverse forward over ssh (remote.h); job->ledger_host, how a node
	 * on this host would reach it, is not used. */
	struct remote_ledger ledger;
	int boots;
	long con_off;			/* console bytes already read */
	struct guest_console con;
	/* What the last console poll that reached the node saw (con_poll): QEMU gone,
	 * and the pid its pid file named (0: none read). */
	bool gone;
	long qemu_pid;
	/* The watch (qemu_remote_watch): on from a boot's start until a cut or a kill
	 * ends that QEMU on purpose; the boot's name for messages; host monotonic ms of
	 * its next look. */
	bool watching;
	const char *boot_what;
	int64_t watch_next;
	json_t *boot_log;
	char *report_path[NODE_MAX_DISKS];
	struct nodefio fio;		/* fio beside the agent */
};

static const char *const prealloc_names[] = { "off", "metadata", "falloc", "full" };

/* Run argv on the node; 0 when it exited 0, else a negative errno (logged unless
 * quiet). res, when given, keeps the output (release it). */
static int rrun(struct rpriv *p, const char *const argv[], bool quiet, struct child_result *res)
{
	struct child_result own;
	struct child_result *r = res ? res : &own;
	char why[512], st[64];
	int rc = remote_run(p->r, argv, NULL, CMD_TIMEOUT_MS, r);

	if (rc == 0 && !(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)) {
		pc_last_line(r->err, why, sizeof(why));
		if (!quiet)
			pc_err(LOG_NODE, "'%s' failed on '%s': %s", argv[0], remote_name(p->r),
			       *why ? why : child_status_str(r->status, st, sizeof(st)));
		rc = -EIO;
	}
	if (!res)
		child_result_release(r);
	return rc;
}

static int qemu_remote_open(struct node *n)
{
	const struct cfg_node *cn = n->cfg->node;
	struct rpriv *p;

	if (n->cfg->n_disks == 0 || n->cfg->n_disks > NODE_MAX_DISKS) {
		pc_err(LOG_NODE, "the bench has %zu disks; the qemu node takes 1 to %d",
		       n->cfg->n_disks, NODE_MAX_DISKS);
		return -EINVAL;
	}
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	p->n = n->cfg->n_disks;
	p->lvm = -1;
	for (size_t i = 0; i < p->n; i++) {
		const struct cfg_disk *d = n->cfg->disks[i];
		if (node_disk_refuse_forgetful(d, "qemu-remote") ||
		    node_disk_refuse_full_tier(d, "qemu-remote")) {
			free(p);
			return -ENOTSUP;
		}
		if (d->format != DISK_LVMTHIN)
			continue;
		if (p->lvm >= 0) {
			pc_err(LOG_NODE, "disk '%s': only one lvmthin disk per node",
			       n->cfg->disks[i]->name);
			free(p);
			return -ENOTSUP;
		}
		p->lvm = (int)i;
	}
	if (cn->guest)
		snprintf(p->guest, sizeof(p->guest), "%s", cn->guest);
	else
		snprintf(p->guest, sizeof(p->guest), "%.4000s/../guest", n->env.bin_dir);
	snprintf(p->gdir, sizeof(p->gdir), "%s/guest", cn->remote_dir);
	guest_console_init(&p->con, p->n);
	nodefio_init(&p->fio);
	if (!(p->r = remote_open(n->cfg, n->env.work_dir))) {
		int rc = -errno;
		free(p);
		return rc;
	}
	n->priv = p;
	return 0;
}

/* SHA-256 of a local file, through libcrypto (config.h). */
static int local_sha256(const char *path, char out[65])
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	void *m = st.st_size ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (m == MAP_FAILED)
		return -errno;
	rc = sha256_hex(m ? m : "", (size_t)st.st_size, out);
	if (m)
		munmap(m, (size_t)st.st_size);
	return rc;
}

/* Copy a guest file unless the node's copy has the same SHA-256. */
static int guest_copy(struct rpriv *p, const char *name)
{
	char local[PATH_MAX + 32], path[PATH_MAX + 32], sum[65];
	struct child_result res;
	int rc;

	snprintf(local, sizeof(local), "%s/%s", p->guest, name);
	snprintf(path, sizeof(path), "%s/%s", p->gdir, name);
	if ((rc = local_sha256(local, sum)) < 0) {
		pc_err(LOG_NODE, "cannot read '%s': %s: run 'scripts/build-guest'", local,
		       strerror(-rc));
		return rc;
	}
	const char *argv[] = { "sha256sum", "--", path, NULL };
	rc = rrun(p, argv, true, &res);
	bool same = rc == 0 && res.out && !strncmp(res.out, sum, 64);
	child_result_release(&res);
	if (rc < 0 && rc != -EIO)
		return rc;
	if (same) {
		pc_debug(LOG_NODE, "guest '%s' on '%s' is up to date", name, remote_name(p->r));
		return 0;
	}
	pc_info(LOG_NODE, "copying the guest's '%s' to '%s'", name, remote_name(p->r));
	return remote_copy(p->r, local, path, CMD_TIMEOUT_MS);
}

static void qcow2_opts(const struct cfg_disk *d, char *opts, size_t len)
{
	snprintf(opts, len, "cluster_size=%" PRIu64 ",extended_l2=%s,lazy_refcounts=%s,"
		 "preallocation=%s", d->cluster_size, d->extended_l2 ? "on" : "off",
		 d->lazy_refcounts ? "on" : "off", prealloc_names[d->preallocation]);
}

static bool is_chain(const struct cfg_disk *d)
{
	return d->backing && d->format == DISK_QCOW2;
}

/* A backing disk is created as its base alone, under the image's name: the image
 * under test of the baseline boot, which chain_snapshot then moves aside. A kept disk
 * whose image is there from an earlier cycle is used as it is. */
static int disk_create(struct node *n, struct rpriv *p, size_t i)
{
	const struct cfg_disk *d = n->cfg->disks[i];
	const char *dir = d->keep ? p->kdir : p->rdir;
	char size[32], opts[256];

	snprintf(size, sizeof(size), "%" PRIu64, d->size);
	snprintf(p->img[i], sizeof(p->img[i]), "%s/%s.%s", dir, d->name,
		 d->format == DISK_QCOW2 ? "qcow2" : "raw");
	if (d->keep) {
		const char *test[] = { "test", "-e", p->img[i], NULL };
		if (rrun(p, test, true, NULL) == 0) {
			p->reused[i] = p->any_reused = true;
			if ((int)i == p->lvm)
				p->lvm_created = true;	/* its thin pool is on the image */
			pc_info(LOG_NODE, "disk '%s' is kept: cycle on '%s'", d->name, p->img[i]);
			return 0;
		}
	}
	if (d->format != DISK_QCOW2) {
		const char *argv[] = { "qemu-img", "create", "-q", "-f", "raw", p->img[i], size, NULL };
		return rrun(p, argv, false, NULL);
	}
	qcow2_opts(d, opts, sizeof(opts));
	const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-o", opts, p->img[i],
			       size, NULL };
	return rrun(p, argv, false, NULL);
}

/* The seed's volume-chain snapshot: the image, which holds the baseline, becomes
 * NAME.base.qcow2, the read-only backing file of a new overlay with the same options
 * that takes the image's name and is the image under test from now on. The workload's
 * writes then allocate clusters in the overlay, whose metadata a cut without a flush
 * rolls back to the base's older data. */
static int chain_snapshot(struct node *n, struct rpriv *p, size_t i)
{
	const struct cfg_disk *d = n->cfg->disks[i];
	char size[32], opts[256], base[PATH_MAX + 64];
	int rc;

	snprintf(size, sizeof(size), "%" PRIu64, d->size);
	snprintf(base, sizeof(base), "%s/%s.base.qcow2", d->keep ? p->kdir : p->rdir, d->name);
	qcow2_opts(d, opts, sizeof(opts));
	const char *mv[] = { "mv", "-f", "--", p->img[i], base, NULL };
	const char *ov[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-o", opts, "-b", base,
			     "-F", "qcow2", p->img[i], size, NULL };
	if ((rc = rrun(p, mv, false, NULL)) < 0)
		return rc;
	return rrun(p, ov, false, NULL);
}

static int qemu_remote_prepare(struct node *n)
{
	struct rpriv *p = n->priv;
	struct child_result res;
	char tmpl[PATH_MAX + 32];
	int rc;

	snprintf(tmpl, sizeof(tmpl), "%s/run.XXXXXX", n->cfg->node->remote_dir);
	const char *mk[] = { "mkdir", "-p", "--", p->gdir, NULL };
	const char *mktemp[] = { "mktemp", "-d", "--", tmpl, NULL };
	if ((rc = rrun(p, mk, false, NULL)) < 0)
		return rc;
	if ((rc = rrun(p, mktemp, false, &res)) == 0) {
		pc_last_line(res.out, p->rdir, sizeof(p->rdir));
		if (p->rdir[0] != '/')
			rc = -EPROTO;
	}
	child_result_release(&res);
	if (rc < 0)
		return rc;
	snprintf(p->pidfile, sizeof(p->pidfile), "%s/qemu.pid", p->rdir);
	if (n->env.keep_dir) {
		const char *slash = strrchr(n->env.keep_dir, '/');
		snprintf(p->kdir, sizeof(p->kdir), "%s/%s", n->cfg->node->remote_dir,
			 slash ? slash + 1 : n->env.keep_dir);
		const char *mkk[] = { "mkdir", "-p", "--", p->kdir, NULL };
		if ((rc = rrun(p, mkk, false, NULL)) < 0)
			return rc;
	}
	if ((rc = guest_copy(p, "vmlinux")) < 0 || (rc = guest_copy(p, "initrd.cpio")) < 0)
		return rc;
	const char *kvm[] = { "test", "-r", "/dev/kvm", "-a", "-w", "/dev/kvm", NULL };
	int accel = n->cfg->node->accel;
	rc = accel == NODE_ACCEL_TCG ? -EIO : rrun(p, kvm, true, NULL);
	if (rc < 0 && rc != -EIO)
		return rc;
	if (rc < 0 && accel == NODE_ACCEL_KVM) {
		pc_err(LOG_NODE, "node '%s' has no usable '/dev/kvm' ([node] accel = kvm)",
		       remote_name(p->r));
		return -ENODEV;
	}
	p->kvm = rc == 0;
	for (size_t i = 0; i < p->n; i++)
		if ((rc = disk_create(n, p, i)) < 0)
			return rc;
	pc_info(LOG_NODE, "node '%s': %zu disk(s) in '%s', QEMU with %s", remote_name(p->r), p->n,
		p->rdir, p->kvm ? "KVM" : "TCG");
	return 0;
}

/* Does disk i take part in the baseline boot? The backing chains always; on the
 * cycle that writes the baseline, every other disk but the LVM one too, as on the
 * local full tier: the guest's agents share one set of options, so the write boot
 * that follows runs them all with the baseline existing (a new thin LV's baseline is
 * its zeroes). */
static bool in_baseline(const struct node *n, const struct rpriv *p,
			const struct node_job *job, size_t i)
{
	if (p->reused[i])
		return false;	/* a kept disk writes on what its last cycle left */
	return is_chain(n->cfg->disks[i]) || ((job->baseline || p->any_reused) && (int)i != p->lvm);
}

static int boot(struct node *n, const struct node_job *job, enum guest_mode mode)
{
	bool check = mode == GUEST_CHECK;
	struct rpriv *p = n->priv;
	char kernel[PATH_MAX + 16], initrd[PATH_MAX + 16], append[GUEST_APPEND_MAX];
	char dn[NODE_MAX_DISKS][8], dev[NODE_MAX_DISKS][96], ledger[32] = "", fwcfg[PATH_MAX + 64];
	char *bd[NODE_MAX_DISKS] = { 0 };
	const char *devs[NODE_MAX_DISKS];
	struct guest_disk gd[NODE_MAX_DISKS];
	struct guest_argv a;
	int rc;

	guest_disks_vd(n->cfg, gd, dn);
	for (size_t i = 0; i < p->n; i++)
		gd[i].skip = mode == GUEST_BASELINE && !in_baseline(n, p, job, i);
	/* The token: a private file on the node, never on a command line (remote.h). */
	if (!check && (rc = remote_ledger_boot(p->r, &p->ledger, job->ledger_port, p->rdir,
					       job->token, CMD_TIMEOUT_MS, ledger, sizeof(ledger),
					       fwcfg, sizeof(fwcfg))) < 0)
		return rc;
	const struct guest_cmdline cmd = {
		.mode = mode, .job = job, .w = n->cfg->workload, .disks = gd, .n = p->n,
		.ledger = ledger, .baseline_exists = !job->baseline || p->chained || p->any_reused,
		.lvm = p->lvm, .lvm_created = p->lvm_created, .zvol = -1,
	};
	if ((rc = guest_cmdline(&cmd, append, sizeof(append))) < 0)
		return rc;
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", p->gdir);
	snprintf(initrd, sizeof(initrd), "%s/initrd.cpio", p->gdir);
	snprintf(p->console, sizeof(p->console), "%s/console-%d.log", p->rdir, ++p->boots);
	rc = -ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		const struct cfg_disk *d = n->cfg->disks[i];
		/* The qcow2 overlay finds its backing file by name, next to it. */
		json_t *f = json_pack("{s:s,s:s,s:{s:s,s:s,s:o},s:o}", "driver",
			d->format == DISK_QCOW2 ? "qcow2" : "raw", "node-name", dn[i],
			"file", "driver", "file", "filename", p->img[i], "cache",
			guest_cache_obj(d->cache), "cache", guest_cache_obj(d->cache));
		bd[i] = f ? json_dumps(f, JSON_COMPACT) : NULL;
		json_decref(f);
		if (!bd[i])
			goto out;
		guest_device(dev[i], sizeof(dev[i]), BUS_VIRTIO, dn[i], gd[i].id, 0, d->cache);
		devs[i] = dev[i];
	}
	const struct guest_qemu qa = {
		.kernel = kernel, .initrd = initrd, .console = p->console, .append = append,
		.fwcfg = check ? NULL : fwcfg, .netdev = "net0", .nic_on_check = true,
		.check = check, .kvm = p->kvm, .smp = n->cfg->node->cores,
		.mem_mib = n->cfg->node->memory_mib, .pidfile = p->pidfile,
		.blockdev = (const char *const *)bd, .device = devs, .n_disks = p->n,
	};
	if ((rc = guest_qemu_argv(&qa, &a)) < 0)
		goto out;

	if (!p->boot_log)
		p->boot_log = json_array();
	guest_console_boot(&p->con, p->boot_log, p->boots, check);
	if (mode == GUEST_BASELINE)	/* a write boot to the console, told apart in the evidence */
		json_object_set_new(json_array_get(p->boot_log, json_array_size(p->boot_log) - 1),
				    "mode", json_string("baseline"));
	p->con_off = 0;
	p->gone = false;
	p->qemu_pid = 0;
	p->boot_what = check ? "check boot" : mode == GUEST_BASELINE ? "baseline boot" :
		       "write boot";
	if ((rc = rrun(p, a.argv, false, NULL)) < 0)
		goto out;
	p->qemu_started = p->watching = true;
	pc_debug(LOG_NODE, "booted the guest on '%s' (%s mode), console '%s'", remote_name(p->r),
		 check ? "check" : mode == GUEST_BASELINE ? "baseline" : "write", p->console);
out:
	for (size_t i = 0; i < p->n; i++)
		free(bd[i]);
	return rc;
}

#define PID_TAG "powercut-qemu-pid "

/* guest_console_src's poll: what the console gained since the last poll; *alive:
 * QEMU still runs. */
static int con_poll(void *arg, struct guest_console *c, bool *alive)
{
	struct rpriv *p = arg;
	char off[32];
	struct child_result res;
	/* One round trip: the new bytes, the pid file's pid on stderr (tagged: ssh's own
	 * messages share the stream), then QEMU's liveness as the exit status. */
	const char *argv[] = { "sh", "-c", ALIVE "tail -c \"+$1\" -- \"$2\" 2>/dev/null; "
			       "pid=$(cat \"$3\" 2>/dev/null) && echo \"" PID_TAG "$pid\" >&2 && "
			       "alive \"$pid\" " QEMU_COMM, "sh", off, p->console, p->pidfile, NULL };

	snprintf(off, sizeof(off), "%ld", p->con_off + 1);
	int rc = remote_run(p->r, argv, NULL, CMD_TIMEOUT_MS, &res);
	if (rc == 0) {
		guest_console_feed(c, res.out, res.out_len);
		p->con_off += (long)res.out_len;
		*alive = WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0;
		p->gone = !*alive;
		const char *tag = res.err ? strstr(res.err, PID_TAG) : NULL;
		if (tag)
			p->qemu_pid = strtol(tag + sizeof(PID_TAG) - 1, NULL, 10);
	}
	child_result_release(&res);
	return rc;
}

/* Is the node alive, as the last console poll that reached it saw it? Not when the
 * guest's kernel panicked (first: a kernel told to reboot on one ends QEMU too,
 * -no-reboot), QEMU is gone, or (silence) its console said nothing for [node]
 * console_silence. QEMU ran daemonized on the node: its exit status went to nobody
 * that could tell it here, so a QEMU that is gone is said to be so, with its pid file's
 * pid. 0, or node_died's -EOWNERDEAD. */
static int remote_life(struct node *n, bool silence)
{
	struct rpriv *p = n->priv;
	struct node_death d = { 0 };
	char who[200], pid[32] = "no pid";

	snprintf(who, sizeof(who), "the guest on '%s' (the %s)", remote_name(p->r), p->boot_what);
	if (p->qemu_pid > 0)
		snprintf(pid, sizeof(pid), "pid %ld", p->qemu_pid);
	if (p->con.panic) {
		guest_console_dead(&p->con, 0, who, &d);	/* says the panic */
	} else if (p->gone) {
		d.life = NODE_LIFE_STOPPED;
		snprintf(d.what, sizeof(d.what), "QEMU (%s in '%.300s' on '%s', the %s, "
			 "console '%.300s') no longer runs at stage '%s'; how it ended is not "
			 "known: it ran daemonized on the node, its exit status went to nobody",
			 pid, p->pidfile, remote_name(p->r), p->boot_what, p->console,
			 p->con.stage[0] ? p->con.stage : "kernel");
	} else if (!guest_console_dead(&p->con, silence ? n->cfg->node->silence_ms : 0, who, &d)) {
		return 0;
	}
	return node_died(n, &d);
}

/* node_ops.watch while the cycle waits for the workload: one ssh command (con_poll),
 * so at most every node_remote_watch_ms. An ssh that fails says nothing of the node:
 * alive, as far as we know (as the proxmox driver's). A QEMU that a cut or a kill
 * ended on purpose is not watched. */
static int qemu_remote_watch(struct node *n)
{
	struct rpriv *p = n->priv;
	int64_t now = clock_mono_ms();
	bool alive = true;

	if (!p->watching || now < p->watch_next)
		return 0;
	p->watch_next = now + node_remote_watch_ms;
	if (con_poll(p, &p->con, &alive) < 0)
		return 0;
	return remote_life(n, true);
}

/* guest_console_wait's watch, after each of its polls: the check's (and the baseline
 * boot's) done has no silence limit (an agent reading a large disk says nothing until
 * it is done), as on the local full tier. */
static int watch_done(void *arg)
{
	struct node *n = arg;
	struct rpriv *p = n->priv;

	return p->watching ? remote_life(n, false) : 0;
}

/* Wait for the console to show done, the node to die (watch_done), or timeout. */
static int con_wait(struct node *n, int timeout_ms)
{
	struct rpriv *p = n->priv;
	const struct guest_console_src src = { .poll = con_poll, .arg = p,
		.node = remote_name(p->r), .console = p->console, .poll_ms = node_remote_poll_ms,
		.watch = watch_done, .watch_arg = n };

	return guest_console_wait(&p->con, &src, true, timeout_ms);
}

/* Kill QEMU from its pid file (sig) and wait until it is gone; 0 when none runs. */
static int qemu_kill(struct rpriv *p, const char *sig)
{
	const char *argv[] = { "sh", "-c", ALIVE "pid=$(cat \"$1\" 2>/dev/null) && "
			       "alive \"$pid\" " QEMU_COMM " || { rm -f -- \"$1\"; exit 0; }; "
			       "kill \"$2\" \"$pid\"; i=0; while alive \"$pid\" " QEMU_COMM "; do "
			       "[ $i -lt 100 ] || exit 1; sleep 0.05; i=$((i+1)); done; rm -f -- \"$1\"",
			       "sh", p->pidfile, sig, NULL };

	if (!p->qemu_started)
		return 0;
	p->watching = false;
	int rc = rrun(p, argv, false, NULL);
	if (rc == 0)
		p->qemu_started = false;
	return rc;
}

/* The local tier's host baselines, in the guest: a boot of cycle - 1 whose agents
 * write the baseline, flushed, and end by themselves; the guest syncs and powers off
 * (QEMU closes the images cleanly). Then each backing disk's base gets its overlay. */
static int baseline_boot(struct node *n, struct rpriv *p, const struct node_job *job)
{
	struct node_job base = *job;
	int64_t t0 = clock_mono_ms();
	int rc, want = 0;

	for (size_t i = 0; i < p->n; i++)
		want += in_baseline(n, p, job, i);
	base.cycle = job->cycle ? job->cycle - 1 : 0;
	if (job->cycle_begins)
		job->cycle_begins(job->cb_arg, base.cycle);
	if ((rc = boot(n, &base, GUEST_BASELINE)) < 0)
		return rc;
	rc = con_wait(n, (int)n->cfg->campaign->boot_timeout_ms);
	/* done is the guest's last word before power-off: QEMU ends by itself. */
	for (int64_t end = clock_mono_ms() + 10000; rc == 0 && clock_mono_ms() < end;) {
		bool alive = true;
		if (con_poll(p, &p->con, &alive) == 0 && !alive)
			break;
		usleep((useconds_t)node_remote_poll_ms * 1000);
	}
	if (qemu_kill(p, "-TERM") < 0) {
		qemu_kill(p, "-KILL");
		if (rc == 0)
			rc = -EIO;
	}
	if (rc == 0 && !guest_console_writes_ok(&p->con, want)) {
		pc_err(LOG_NODE, "the guest on '%s' did not write the baselines (console '%s')",
		       remote_name(p->r), p->console);
		rc = -EIO;
	}
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < p->n; i++) {
		if (!is_chain(n->cfg->disks[i]) || p->reused[i])
			continue;
		if ((rc = chain_snapshot(n, p, i)) < 0)
			return rc;
		pc_debug(LOG_NODE, "disk '%s': baseline of cycle %u is the backing file",
			 n->cfg->disks[i]->name, base.cycle);
	}
	p->chained = true;
	pc_info(LOG_NODE, "node '%s': %d baseline(s) of cycle %u written in %.1f s (boot %d)",
		remote_name(p->r), want, base.cycle, (clock_mono_ms() - t0) / 1e3, p->boots);
	return 0;
}

static int qemu_remote_start_workload(struct node *n, const struct node_job *job)
{
	struct rpriv *p = n->priv;
	bool pass = false;
	int rc;

	/* A baseline boot when a disk needs its baseline written before the write boot: a
	 * new backing chain, or any disk beside a kept one (the agents share options). */
	for (size_t i = 0; i < p->n; i++)
		pass |= in_baseline(n, p, job, i) && (is_chain(n->cfg->disks[i]) || p->any_reused);
	if (pass && !p->chained && (rc = baseline_boot(n, p, job)) < 0)
		return rc;
	if ((rc = nodefio_start(&p->fio, p->r, p->rdir, n->cfg->node)) < 0)
		return rc;
	if (job->cycle_begins)
		job->cycle_begins(job->cb_arg, job->cycle);
	return boot(n, job, GUEST_WRITE);
}

static int qemu_remote_power_lost(struct node *n, int cut)
{
	struct rpriv *p = n->priv;

	p->watching = false;	/* the cut ends QEMU: no death */
	if (cut != CUT_KILL)
		return 0;	/* the relay cut the node's power: it is dark, nothing to do */
	return qemu_kill(p, "-KILL");
}

static int qemu_remote_power_back(struct node *n, const struct node_job *job)
{
	return 0;	/* the node's firmware powers it on ("restore on AC power loss") */
}

static int qemu_remote_wait_up(struct node *n, int timeout_ms)
{
	struct rpriv *p = n->priv;
	int rc = remote_wait_up(p->r, timeout_ms);

	if (rc < 0)
		return rc;
	if (p->qemu_started) {
		/* A power cut took QEMU with the node; a process kill left its pid file. */
		bool alive = false;
		if ((rc = con_poll(p, &p->con, &alive)) < 0)
			return rc;
		if (alive) {
			pc_warn(LOG_NODE, "QEMU still ran on '%s' after the cut: killed",
				remote_name(p->r));
			if ((rc = qemu_kill(p, "-KILL")) < 0)
				return rc;
		}
		p->qemu_started = false;
	}
	return 0;
}

static int qemu_remote_check(struct node *n, const struct node_job *job,
			     struct node_disk_result *res)
{
	struct rpriv *p = n->priv;
	int rc;

	nodefio_stop(&p->fio);
	/* Metadata before the guest opens the images again. */
	for (size_t i = 0; i < p->n; i++)
		if (n->cfg->disks[i]->format == DISK_QCOW2)
			imgcheck_qcow2(imgcheck_remote_run, p->r, p->img[i],
				       n->cfg->disks[i]->lazy_refcounts, res[i].checks);
	guest_console_reports_close(&p->con);
	for (size_t i = 0; i < p->n; i++) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof(path), "%s/check-%u-%zu.jsonl", n->env.work_dir, job->cycle,
			 i + 1);
		free(p->report_path[i]);
		p->report_path[i] = strdup(path);
		p->con.reports[i] = fopen(path, "we");
		if (!p->con.reports[i] || !p->report_path[i]) {
			rc = -errno;
			pc_err(LOG_NODE, "cannot create '%s': %s", path, strerror(errno));
			return rc;
		}
	}
	p->lvm_created = p->lvm >= 0;
	if ((rc = boot(n, job, GUEST_CHECK)) == 0)
		rc = con_wait(n, (int)n->cfg->campaign->boot_timeout_ms);
	guest_console_reports_close(&p->con);
	/* The guest powers off after done: QEMU ends by itself, else it is killed. */
	if (qemu_kill(p, "-TERM") < 0)
		qemu_kill(p, "-KILL");
	for (size_t i = 0; i < p->n; i++) {
		res[i].agent_rc = p->con.check_rc[i];
		if (p->con.check_rc[i] == 0 && p->report_path[i])
			res[i].report_path = strdup(p->report_path[i]);
		else if (rc == 0)
			rc = -EIO;
		if ((int)i == p->lvm)
			guest_console_lvm_checks(&p->con, res[i].checks);
	}
	return rc;
}

static void qemu_remote_close(struct node *n)
{
	struct rpriv *p = n->priv;

	if (!p)
		return;
	nodefio_release(&p->fio);
	qemu_kill(p, "-KILL");
	if (p->rdir[0]) {
		const char *rm[] = { "rm", "-rf", "--", p->rdir, NULL };
		if (rrun(p, rm, false, NULL) < 0)
			pc_warn(LOG_NODE, "'%s' may be left on '%s'", p->rdir, remote_name(p->r));
	}
	remote_ledger_close(p->r, &p->ledger);
	guest_console_release(&p->con);
	for (size_t i = 0; i < p->n; i++)
		free(p->report_path[i]);
	json_decref(p->boot_log);
	remote_close(p->r);
	free(p);
	n->priv = NULL;
}

static json_t *qemu_remote_collect(struct node *n)
{
	struct rpriv *p = n->priv;
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:i}", "tier", "full", "host", remote_name(p->r),
			      "dir", p->rdir, "accel", p->kvm ? "kvm" : "tcg", "boots", p->boots);

	if (p->ledger.node_port)
		json_object_set_new(j, "ledger_forward", remote_ledger_json(&p->ledger));
	json_object_set(j, "boot_log", p->boot_log ? p->boot_log : json_null());
	if (p->fio.record)
		json_object_set(j, "fio", p->fio.record);
	return j;
}

/* powercut doctor: the guest here, ssh, the node's QEMU and tools, whether it has a
 * usable /dev/kvm (else TCG, slower), and that [node] remote_dir can be made; with a
 * cut, the node back by itself with a new boot_id. */
static int qemu_remote_doctor(struct node *n, const struct node_doctor *d)
{
	static const struct nd_tool tools[] = {
		{ "qemu", { "qemu-system-x86_64", "--version" }, "qemu-system-x86" },
		{ "qemu-img", { "qemu-img", "--version" }, "qemu-utils" },
		{ "fio", { "fio", "--version" }, "fio" },
	};
	struct rpriv *p = n->priv;
	const char *cn_dir = n->cfg->node->remote_dir;
	const char *kvm[] = { "test", "-w", "/dev/kvm", NULL };
	const char *mk[] = { "mkdir", "-p", "--", cn_dir, NULL };
	int64_t t0, up, timeout = n->cfg->campaign->boot_timeout_ms;

	nd_guest(d, p->guest);
	if (nd_ssh(d, p->r) < 0)
		return 0;
	nd_tools(d, p->r, tools, sizeof(tools) / sizeof(tools[0]) - (n->cfg->node->fio ? 0 : 1));
	bool has_kvm = rrun(p, kvm, true, NULL) == 0;
	nd_add(d, "kvm", has_kvm || n->cfg->node->accel == NODE_ACCEL_TCG ? NODE_DR_OK :
	       NODE_DR_WARN, "enable virtualisation in the node's BIOS and load kvm_intel or "
	       "kvm_amd, or set [node] accel = tcg", "%s", has_kvm ? "/dev/kvm usable: the guest "
	       "runs under KVM" : "no usable /dev/kvm: the guest runs under TCG (slower)");
	/* mkdir -p of the directory the driver uses anyway: nothing else is written. */
	bool made = rrun(p, mk, true, NULL) == 0;
	nd_add(d, "remote-dir", made ? NODE_DR_OK : NODE_DR_FAIL, "set [node] remote_dir to a "
	       "directory the ssh user may write", "'%s' on '%s'%s", cn_dir, remote_name(p->r),
	       made ? "" : " cannot be made");
	if (d->cut && nd_cut(d, p->r, timeout, &t0, &up) == 0)
		nd_add(d, "boot", up * 10 > timeout * 8 ? NODE_DR_WARN : NODE_DR_OK,
		       "raise [campaign] boot_timeout", "the node came back by itself: ssh after "
		       "%.1f s (boot_timeout %" PRId64 " s)", up / 1000.0, timeout / 1000);
	return 0;
}

/* Keys of [node] only this driver reads (config.h, "Drivers own their keys"). */
static const struct opt_def remote_options[] = {
	NODE_OPTS_REMOTE_VM,
	NODE_OPT_CONSOLE_SILENCE,
	{ "accel", OPT_ENUM, NODE_CFG(accel), "auto", OPT_NOLIMIT, config_accels,
	  "qemu on a remote host: QEMU's accelerator: auto (KVM when the node's /dev/kvm is "
	  "usable, else TCG), kvm or tcg.", 0 },
	{ 0 }
};
static const char *const remote_names[] = { "qemu", NULL };

const struct node_ops node_qemu_remote_ops = {
	.version = NODE_OPS_VERSION,
	.name = "qemu-remote",
	.help = "QEMU on a Linux/KVM host over ssh ([node] driver = qemu with host set): the "
		"guest with its disks as image files on the node",
	.options = remote_options,
	.names = remote_names,
	.open = qemu_remote_open,
	.close = qemu_remote_close,
	.prepare = qemu_remote_prepare,
	.start_workload = qemu_remote_start_workload,
	.power_lost = qemu_remote_power_lost,
	.power_back = qemu_remote_power_back,
	.wait_up = qemu_remote_wait_up,
	.check = qemu_remote_check,
	.collect = qemu_remote_collect,
	.doctor = qemu_remote_doctor,
	.watch = qemu_remote_watch,
};
