/* The `proxmox` node driver: a Proxmox VE node over ssh (host/node/remote.h).
 *
 * prepare   finds the node's name (pvesh /cluster/status), creates the test VM
 *           (qm create, onboot 0), allocates every disk under test on its storage
 *           (pvesm alloc; the storage's type from pvesh /storage decides the volume
 *           name and format; a qcow2 or preallocation option of the bench that the
 *           storage cannot give the volume is refused, naming the key; the qcow2
 *           options are then read back from the volume with qemu-img info), finds
 *           volume ids (pvesh .../content) and paths (pvesm path), attaches them with
 *           the cache mode under test (qm set --virtioN), and copies the guest's
 *           kernel and initramfs to the node. A zvol disk needs a zfspool storage
 *           whose blocksize is the bench's volblocksize (pve-storage gives every zvol
 *           the storage's); its sync and compression are set on the zvol and all read
 *           back (zfs get). With [node] smart, the physical drives under each
 *           volume are found (a pool's vdevs, a VG's PVs, partitions resolved to
 *           their disks).
 * baseline  only with a backing = yes qcow2 disk, as the qemu driver over ssh does
 *           (qemu_remote.c): a first boot of the VM as cycle - 1 writes the baselines
 *           (powercut.w.writes=1 powercut.w.flush=always) and powers off by itself;
 *           then `qm snapshot VMID powercut-base` of the stopped VM, which on a storage
 *           with "snapshots as volume chain" (Proxmox VE 9) renames each qcow2 volume
 *           to its snapshot's name and puts a new qcow2 overlay under the volume's
 *           name on top: the write boot's unflushed writes allocate clusters in that
 *           overlay, which a cut rolls back to the base's older data (the seed bugs).
 *           The overlay's volume id and path are read back the Proxmox way (the VM's
 *           config as JSON, pvesm path). qm snapshot takes every disk of the VM, so
 *           with a backing disk every other disk must be a thin LV (prepare refuses
 *           anything else). One more boot per cycle.
 * start     smartctl of each drive as the cut will find it; fio jobs of [node] fio
 *           beside the VM (nodefio.h: copied into the driver's
 *           directory on the node, run detached); a reverse ssh forward from the node's
 *           loopback to the ledger on this host; then sets `args` (-kernel/-initrd/
 *           -append with the job per docs/guest.md, the console into a file on the
 *           node, a user-mode network device through which the guest reaches the
 *           forward at 10.0.2.2) and starts the VM (qm start).
 * cut       the node loses DC: nothing to do; a process-kill cut kills the VM's QEMU
 *           from its pid file.
 * wait_up   ssh answers again; the kernel's boot_id is compared with the one read before
 *           the cut (a power cut must change it, a process kill must not); pmxcfs has
 *           mounted /etc/pve (/etc/pve/nodes/NODE exists: it is not ordered before
 *           sshd); then the VM's state (pvesh .../status/current, retried until the
 *           deadline) is read; a stale lock is removed (qm unlock).
 * check     metadata first (qemu-img check --output=json on qcow2 volumes, a qcow2
 *           chain on LVM activated for it as Proxmox does and deactivated after; lvs
 *           JSON for LVM-thin volumes and their pool, an inactive pool a failure;
 *           for a zvol its pool's health and `zpool status -x`, never an export or
 *           a scrub of the host's pool, and the zvol's properties; each drive's
 *           smartctl again, one smart check per drive), then the guest in check
 *           mode; its
 *           `check-line`s become one report file per disk. fio is stopped first and
 *           its last complete report kept.
 * snapshot  the scenario step: `qm snapshot VMID pc-snapN` of the VM as it is (every
 *           disk; a volume-chain disk is read back after it, as after the base's);
 *           recorded, and looked for by name at close. Cut kind reset and step
 *           reboot are refused with the reason (proxmox_reset); fill and flush are
 *           not ops of this driver.
 * close     stops and destroys the VM and frees every volume this driver allocated
 *           (never one it found existing), even after a failed cycle; kills fio.
 *           Freeing a volume-chain qcow2 volume frees its snapshot volumes with it
 *           (qm destroy --purge, or pvesm free of what is left); those are not listed
 *           in the storage's content, so close looks for the base under its
 *           snapshot name (lvs for LVM, the file for a directory) and frees it.
 *
 * This driver has not yet met a real Proxmox node in CI: its tests replay synthetic
 * transcripts written from Proxmox's documented commands (host/node/tests/test_proxmox.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "smart.h"

#define CMD_TIMEOUT_MS 120000
/* The snapshot that turns each backing disk into base + overlay. */
#define SNAP_NAME "powercut-base"
/* Physical drives recorded under one volume (a pool's vdevs, a VG's PVs). */
#define PDRIVES 8

struct pdisk {
	const struct cfg_disk *cfg;
	const char *storage;
	char stype[32];			/* dir, lvm, lvmthin, ... */
	const char *fmt;		/* qcow2 or raw */
	char filename[160];
	char volid[320];
	char path[PATH_MAX];
	bool created;			/* this driver allocated it: free it at close */
	bool chain_store;		/* the storage makes snapshots as volume chains */
	char vg[128], lv[160];		/* LVM volumes */
	char base_path[PATH_MAX];	/* the chain's base after the snapshot */
	char prealloc[16];		/* what the storage gives the volume */
	json_t *qopts;			/* qcow2 options read from the volume under test */
	/* zvols (a zfspool storage): its `pool` (POOL or POOL/DATASET), `blocksize` and
	 * `sparse`, storage options that every zvol of the storage gets; the zvol's
	 * dataset, and its properties as read back after creation. */
	char pool[128], blocksize[16];
	bool sparse;
	char dataset[320];
	json_t *zprops;
	/* The physical drives under the volume ([node] smart): whole disks, and each
	 * one's smartctl report from before the cycle's cut. */
	char drives[PDRIVES][96];
	size_t n_drives;
	json_t *smart_before[PDRIVES];
};

struct ppriv {
	struct remote *r;
	long vmid;
	char vmid_s[24];
	char node[128];
	bool vm_created, started;
	bool snapped;			/* qm snapshot ran (or was tried): the chains exist */
	/* The scenario step snapshot's (pc-snapN), each one tried, for close's last look,
	 * and what each did for the record. */
	char (*snaps)[24];
	size_t n_snaps;
	json_t *snap_log;
	struct pdisk d[NODE_MAX_DISKS];
	size_t n;
	char rdir[PATH_MAX];		/* on the node: remote_dir/VMID */
	char kernel[PATH_MAX + 16], initrd[PATH_MAX + 16], console[PATH_MAX + 32];
	int boots;
	struct guest_console con;	/* the console of the boot being read */
	long con_off;			/* its bytes already fed */
	json_t *events;			/* its POWERCUT lines, for the record */
	int poll_ms;			/* console poll interval */
	struct nodefio fio;		/* fio beside the VM, in rdir */
	/* The ledger on this host's loopback is out of the node's reach: asked at every
	 * write boot, a reverse forward over ssh (remote.h); job->ledger_host, how a node
	 * on this host would reach it, is not used. */
	struct remote_ledger ledger;
	/* The kernel's boot_id before the cut and after the node came back: a power cut
	 * must change it (the node really rebooted), a process kill must not. */
	char boot_before[64], boot_after[64];
	int cut;			/* enum cut_kind of the last power_lost, -1 none */
	int64_t watch_next;		/* proxmox_watch: host monotonic ms of its next look */
};

static const char *const cache_names[] = { "none", "writeback", "writethrough", "directsync",
					   "unsafe" };

/* Tests shorten the console poll. */
int proxmox_poll_ms = 1000;

/* Proxmox's tools say what went wrong only in words; these are the cases a bench
 * must tell apart (the message itself is always shown). */
static int pve_errno(const char *err)
{
	if (!err)
		return -EIO;
	if (strstr(err, "already exists"))
		return -EEXIST;
	if (strstr(err, "space") || strstr(err, "No space left"))
		return -ENOSPC;
	if (strstr(err, "is locked"))
		return -EBUSY;
	if (strstr(err, "does not exist") || strstr(err, "no such"))
		return -ENOENT;
	return -EIO;
}

/* Run argv; 0 when it exited 0. Otherwise a negative errno, logged unless quiet. */
static int prun(struct ppriv *p, const char *const argv[], const char *input, bool quiet,
		struct child_result *res)
{
	int rc = remote_run(p->r, argv, input, CMD_TIMEOUT_MS, res);
	char why[512], st[64];

	if (rc < 0)
		return rc;
	if (WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0)
		return 0;
	rc = pve_errno(res->err);
	pc_last_line(res->err, why, sizeof(why));
	if (!quiet)
		pc_err(LOG_NODE, "'%s %s' failed on '%s': %s", argv[0], argv[1] ? argv[1] : "",
		       remote_name(p->r), *why ? why : child_status_str(res->status, st, sizeof(st)));
	return rc;
}

static int prun0(struct ppriv *p, const char *const argv[], bool quiet)
{
	struct child_result res;
	int rc = prun(p, argv, NULL, quiet, &res);

	child_result_release(&res);
	return rc;
}

/* Run argv and parse its stdout as JSON; quiet: a failure to run is not logged. */
static int prun_json_q(struct ppriv *p, const char *const argv[], bool quiet, json_t **out)
{
	struct child_result res;
	json_error_t e;
	int rc = prun(p, argv, NULL, quiet, &res);

	*out = NULL;
	if (rc == 0 && !(*out = json_loads(res.out ? res.out : "", 0, &e))) {
		pc_err(LOG_NODE, "cannot parse the JSON of '%s %s' from '%s': %s", argv[0], argv[1],
		       remote_name(p->r), e.text);
		rc = -EPROTO;
	}
	child_result_release(&res);
	return rc;
}

static int prun_json(struct ppriv *p, const char *const argv[], json_t **out)
{
	return prun_json_q(p, argv, false, out);
}


static int find_node_name(struct node *n, struct ppriv *p)
{
	static const char *const argv[] = { "pvesh", "get", "/cluster/status",
					    "--output-format", "json", NULL };
	json_t *st, *e;
	size_t i;
	int rc;

	if (n->cfg->node->pve_node) {
		snprintf(p->node, sizeof(p->node), "%s", n->cfg->node->pve_node);
		return 0;
	}
	if ((rc = prun_json(p, argv, &st)) < 0)
		return rc;
	rc = -ENOENT;
	json_array_foreach(st, i, e) {
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *name = json_string_value(json_object_get(e, "name"));
		json_t *local = json_object_get(e, "local");
		/* pvesh prints booleans of this API as 0/1 integers. */
		bool is_local = json_is_true(local) || json_integer_value(local) == 1;
		if (type && name && !strcmp(type, "node") && is_local) {
			snprintf(p->node, sizeof(p->node), "%s", name);
			rc = 0;
		}
	}
	json_decref(st);
	if (rc < 0)
		pc_err(LOG_NODE, "no local node in /cluster/status of '%s': set [node] pve_node",
		       remote_name(p->r));
	return rc;
}

/* The storage of disk `name`: a DISK=STORAGE word, else the first bare word. */
static const char *storage_of(const struct cfg_node *cn, const char *name)
{
	const char *any = NULL;
	size_t len = strlen(name);

	for (char **w = cn->storages; w && *w; w++) {
		if (!strncmp(*w, name, len) && (*w)[len] == '=')
			return *w + len + 1;
		if (!strchr(*w, '=') && !any)
			any = *w;
	}
	return any;
}

/* What a zvol on a zfspool storage cannot have, refused when the bench is opened
 * (true, logged): a SLOG is a device of the whole pool (`zpool add POOL log DEV`), not
 * of one volume, so the driver cannot give one zvol its own, and the guest sees the
 * zvol as a virtio disk (the emulated NVMe/SATA drives are the local full tier's). */
static bool zvol_refused(const struct cfg_disk *c)
{
	static const char *const slogs[] = { "none", "volatile", "lying" };

	if (c->slog != ZFS_SLOG_NONE)
		pc_err(LOG_NODE, "disk '%s': slog = %s cannot be given to one zvol on a Proxmox "
		       "node: a SLOG is a log device of the whole pool (zpool add POOL log DEV), "
		       "shared by every dataset in it; set slog = none (the pool's own log "
		       "devices, if any, are measured as they are)", c->name, slogs[c->slog]);
	else if (c->bus != BUS_VIRTIO)
		pc_err(LOG_NODE, "disk '%s': bus = nvme|sata is built only for the local full tier; "
		       "node driver 'proxmox' attaches a zvol as virtio", c->name);
	return c->slog != ZFS_SLOG_NONE || c->bus != BUS_VIRTIO;
}

static int proxmox_open(struct node *n)
{
	const struct cfg_node *cn = n->cfg->node;
	struct ppriv *p;

	if (!cn->host) {
		pc_err(LOG_NODE, "node driver 'proxmox' needs [node] host");
		return -EINVAL;
	}
	/* qemu-server's drive schema: virtio0 to virtio15. */
	if (n->cfg->n_disks > 16) {
		pc_err(LOG_NODE, "node driver 'proxmox': at most 16 disks (virtio0-15)");
		return -EINVAL;
	}
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	p->vmid = (long)cn->vmid;
	snprintf(p->vmid_s, sizeof(p->vmid_s), "%ld", p->vmid);
	snprintf(p->rdir, sizeof(p->rdir), "%s/%ld", cn->remote_dir, p->vmid);
	p->n = n->cfg->n_disks;
	p->poll_ms = proxmox_poll_ms;
	p->cut = -1;
	nodefio_init(&p->fio);
	guest_console_init(&p->con, p->n);
	for (size_t i = 0; i < p->n; i++) {
		struct pdisk *d = &p->d[i];
		d->cfg = n->cfg->disks[i];
		if (node_disk_refuse_kept(d->cfg, "proxmox") ||
		    (d->cfg->format == DISK_ZVOL ? zvol_refused(d->cfg) :
		     node_disk_refuse_full_tier(d->cfg, "proxmox"))) {
			free(p);
			return -ENOTSUP;
		}
		if (!(d->storage = storage_of(cn, d->cfg->name))) {
			pc_err(LOG_NODE, "no storage for disk '%s': add '%s=STORAGE' to [node] storages",
			       d->cfg->name, d->cfg->name);
			free(p);
			return -EINVAL;
		}
	}
	if (!(p->r = remote_open(n->cfg, n->env.work_dir))) {
		int rc = -errno;
		free(p);
		return rc;
	}
	n->priv = p;
	return 0;
}

static bool is_chain(const struct cfg_disk *d)
{
	return d->backing && d->format == DISK_QCOW2;
}

/* What snapshot SNAP of disk d leaves on the storage outside the volume, as
 * pve-storage names it (get_snap_name; LvmThinPlugin volume_snapshot): a chain's base
 * snap_NAME_SNAP.qcow2 on LVM (NAME without its .qcow2), snap-SNAP-NAME in a
 * directory; a thin LV's snapshot snap_LV_SNAP beside it. false: nothing outside the
 * volume (an internal qcow2 snapshot, a zvol's, which go with it). For the record
 * and close's last look. */
static bool snap_residue(const struct pdisk *d, const char *snap, char *out, size_t len)
{
	const char *slash = strrchr(d->path, '/');
	const char *name = slash ? slash + 1 : d->path, *dot = strrchr(name, '.');
	int dl = (int)(name - d->path);

	if (!slash)
		return false;
	if (!strcmp(d->stype, "lvmthin"))
		snprintf(out, len, "%.*ssnap_%s_%s", dl, d->path, name, snap);
	else if (!is_chain(d->cfg) && !d->chain_store)
		return false;
	else if (strcmp(d->stype, "lvm"))
		snprintf(out, len, "%.*ssnap-%s-%s", dl, d->path, snap, name);
	else
		snprintf(out, len, "%.*ssnap_%.*s_%s.qcow2", dl, d->path,
			 (int)(dot ? dot - name : (int)strlen(name)), name, snap);
	return true;
}

/* Where the base of a chain disk's volume will be after the baseline's snapshot. */
static void chain_base(struct pdisk *d)
{
	snap_residue(d, SNAP_NAME, d->base_path, sizeof(d->base_path));
}

/* Volume id and path of a freshly allocated disk: the storage's content list (JSON)
 * names the volume; pvesm path prints its path (one line). */
static int disk_locate(struct ppriv *p, struct pdisk *d)
{
	char url[512];
	const char *list[] = { "pvesh", "get", url, "--vmid", p->vmid_s, "--output-format",
			       "json", NULL };
	const char *path[] = { "pvesm", "path", d->volid, NULL };
	struct child_result res;
	json_t *c, *e;
	size_t i, flen = strlen(d->filename);
	int rc;

	snprintf(url, sizeof(url), "/nodes/%s/storage/%s/content", p->node, d->storage);
	if ((rc = prun_json(p, list, &c)) < 0)
		return rc;
	d->volid[0] = '\0';
	json_array_foreach(c, i, e) {
		const char *v = json_string_value(json_object_get(e, "volid"));
		size_t vl = v ? strlen(v) : 0;
		if (vl > flen && !strcmp(v + vl - flen, d->filename) &&
		    (v[vl - flen - 1] == ':' || v[vl - flen - 1] == '/'))
			snprintf(d->volid, sizeof(d->volid), "%s", v);
	}
	json_decref(c);
	if (!d->volid[0]) {
		pc_err(LOG_NODE, "volume '%s' is not in the content of storage '%s'", d->filename,
		       d->storage);
		return -ENOENT;
	}
	if ((rc = prun(p, path, NULL, false, &res)) == 0) {
		pc_last_line(res.out, d->path, sizeof(d->path));
		if (d->path[0] != '/')
			rc = -EPROTO;
	}
	child_result_release(&res);
	if (rc == 0 && (!strcmp(d->stype, "lvmthin") || !strcmp(d->stype, "lvm"))) {
		/* /dev/VG/LV */
		const char *vg = d->path + 5, *slash = strchr(vg, '/');
		if (strncmp(d->path, "/dev/", 5) || !slash)
			return -EPROTO;
		snprintf(d->vg, sizeof(d->vg), "%.*s", (int)(slash - vg), vg);
		snprintf(d->lv, sizeof(d->lv), "%s", slash + 1);
	}
	if (rc == 0 && is_chain(d->cfg))
		chain_base(d);
	return rc;
}

static bool any_chain(const struct ppriv *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (is_chain(p->d[i].cfg))
			return true;
	return false;
}

/* pvesh prints this API's booleans as 0/1 integers (sometimes strings). */
static bool pve_bool(const json_t *v)
{
	return json_is_true(v) || json_integer_value(v) == 1 ||
	       (json_is_string(v) && !strcmp(json_string_value(v), "1"));
}

/* qm snapshot takes every disk of the VM. A backing disk needs a storage that makes
 * the snapshot a volume chain (anything else would be an internal qcow2 snapshot,
 * not the backing file under test); every other disk of such a VM is snapshotted
 * too, which only a thin LV takes without changing what it measures into something
 * else (raw volumes on plain LVM or a directory cannot be snapshotted at all, a
 * qcow2 one would become a chain or carry an internal snapshot). Refused before the
 * volume is allocated. */
static int chain_allowed(struct ppriv *p, struct pdisk *d, bool file, char *why, size_t len)
{
	if (is_chain(d->cfg) && (!d->chain_store || (!file && strcmp(d->stype, "lvm")))) {
		snprintf(why, len, "disk '%s' has backing = yes but storage '%s' (type '%s') does "
			 "not make snapshots as volume chains: use an LVM or directory storage with "
			 "snapshot-as-volume-chain 1, or set backing = no", d->cfg->name, d->storage,
			 d->stype);
		return -EINVAL;
	}
	if (!is_chain(d->cfg) && any_chain(p) && strcmp(d->stype, "lvmthin")) {
		snprintf(why, len, "disk '%s' on storage '%s' (type '%s') would be taken by the "
			 "snapshot of the backing = yes disk(s) (qm snapshot takes every disk of the "
			 "VM): put it on an LVM-thin storage, give it backing = yes, or measure it "
			 "in a bench without backing disks", d->cfg->name, d->storage, d->stype);
		return -EINVAL;
	}
	return 0;
}

/* What pve-storage gives a new volume (Plugin.pm preallocation_cmd_opt, Common.pm
 * qemu_img_create / qemu_img_create_qcow2_backed, LVMPlugin.pm alloc_lvm_image):
 * `pvesm alloc` runs qemu-img create with the storage's `preallocation` (default
 * metadata for qcow2; for raw files off, metadata meaning off) and nothing else, so a
 * qcow2 volume has qemu-img's defaults (cluster 64K, no extended L2, no lazy
 * refcounts); the overlay that `qm snapshot` puts on a volume chain gets
 * extended_l2=on,cluster_size=128k of Proxmox's own. LVM volumes (raw) take no
 * preallocation. The bench's options label every result, so one the storage cannot
 * honour is refused before anything is allocated, naming the key and the value that
 * this storage would give. */
struct pve_qopts {
	uint64_t cluster_size;
	bool extended_l2, lazy_refcounts;
};

static const char *const prealloc_names[] = { "off", "metadata", "falloc", "full" };

static int options_honoured(struct pdisk *d, bool file, const char *store_prealloc,
			    char *why, size_t len)
{
	const struct cfg_disk *c = d->cfg;
	const char *want = prealloc_names[c->preallocation];
	struct pve_qopts q = { 65536, false, false };
	char what[160] = "";

	if (c->format == DISK_QCOW2)
		snprintf(d->prealloc, sizeof(d->prealloc), "%s", store_prealloc ?: "metadata");
	else if (file)
		snprintf(d->prealloc, sizeof(d->prealloc), "%s",
			 !store_prealloc || !strcmp(store_prealloc, "metadata") ? "off" : store_prealloc);
	else
		snprintf(d->prealloc, sizeof(d->prealloc), "off");
	if (strcmp(want, d->prealloc)) {
		if (c->format == DISK_QCOW2 || file)
			snprintf(why, len, "disk '%s': preallocation = %s cannot be honoured by storage "
			       "'%s', which preallocates its %s volumes with '%s' (pvesm alloc takes the "
			       "storage's preallocation): set preallocation = %s, or `pvesm set %s "
			       "--preallocation %s`", c->name, want, d->storage, d->fmt ?: "", d->prealloc,
			       d->prealloc, d->storage, want);
		else
			snprintf(why, len, "disk '%s': preallocation = %s cannot be honoured by storage "
			       "'%s' (type '%s'): LVM volumes take none; set preallocation = off",
			       c->name, want, d->storage, d->stype);
		return -EINVAL;
	}
	if (c->format != DISK_QCOW2)
		return 0;
	if (is_chain(c)) {
		q.cluster_size = 131072;
		q.extended_l2 = true;
		snprintf(what, sizeof(what), "the overlay that qm snapshot makes of a volume chain has");
	} else {
		snprintf(what, sizeof(what), "pvesm alloc makes qcow2 volumes with qemu-img's defaults:");
	}
	if (c->cluster_size != q.cluster_size) {
		snprintf(why, len, "disk '%s': cluster_size = %" PRIu64 "K cannot be honoured by "
		       "storage '%s' (%s cluster_size %" PRIu64 "K): set cluster_size = %" PRIu64 "K",
		       c->name, c->cluster_size >> 10, d->storage, what, q.cluster_size >> 10,
		       q.cluster_size >> 10);
		return -EINVAL;
	}
	if (c->extended_l2 != q.extended_l2) {
		snprintf(why, len, "disk '%s': extended_l2 = %s cannot be honoured by storage '%s' "
		       "(%s extended_l2 %s): set extended_l2 = %s", c->name,
		       c->extended_l2 ? "yes" : "no", d->storage, what, q.extended_l2 ? "on" : "off",
		       q.extended_l2 ? "yes" : "no");
		return -EINVAL;
	}
	if (c->lazy_refcounts) {
		snprintf(why, len, "disk '%s': lazy_refcounts = yes cannot be honoured by storage "
		       "'%s' (%s lazy_refcounts off): set lazy_refcounts = no", c->name, d->storage,
		       what);
		return -EINVAL;
	}
	return 0;
}

/* The LVs of a qcow2 volume on LVM and of its chain, as pve-storage's LVMPlugin
 * (get_activate_volume_target_opts) selects them for lvchange: the volume and every
 * snap_NAME_SNAP.qcow2 base. Proxmox creates them with --setautoactivation n and
 * deactivates them when the VM stops, so after a reboot /dev/VG/LV does not exist
 * until they are activated; Proxmox activates exclusively (-aey) before use and
 * deactivates (-aln) after. */
static bool lvm_chain(const struct pdisk *d)
{
	return !strcmp(d->stype, "lvm") && d->cfg->format == DISK_QCOW2 && d->vg[0];
}

static int lvm_chain_activate(struct ppriv *p, const struct pdisk *d, bool on)
{
	char sel[1024], name[160], re[320];
	size_t k = 0;

	/* The volume's name without .qcow2, its dots escaped for LVM's regex. */
	snprintf(name, sizeof(name), "%.*s", (int)(strlen(d->lv) - (strlen(d->lv) > 6 &&
		 !strcmp(d->lv + strlen(d->lv) - 6, ".qcow2") ? 6 : 0)), d->lv);
	for (const char *c = name; *c && k + 3 < sizeof(re); c++) {
		if (*c == '.')
			re[k++] = '\\';
		re[k++] = *c;
	}
	re[k] = '\0';
	snprintf(sel, sizeof(sel), "vg_name = \"%s\" && lv_name =~ '^(%s|snap_%s_.+)\\.qcow2$'",
		 d->vg, re, re);
	const char *argv[] = { "lvchange", on ? "-aey" : "-aln", "--select", sel, NULL };
	return prun0(p, argv, false);
}

/* The qcow2 options of the volume under test, read with qemu-img info: they must be
 * the bench's (options_honoured predicted them from pve-storage's code; this is the
 * volume itself). Kept for the record. */
static int read_qopts(struct ppriv *p, struct pdisk *d)
{
	const char *argv[] = { "qemu-img", "info", "--output=json", "-f", "qcow2", d->path, NULL };
	json_t *j, *data;
	int rc;

	if ((rc = prun_json(p, argv, &j)) < 0)
		return rc;
	data = json_object_get(json_object_get(j, "format-specific"), "data");
	uint64_t cs = (uint64_t)json_integer_value(json_object_get(j, "cluster-size"));
	bool el2 = json_is_true(json_object_get(data, "extended-l2"));
	bool lazy = json_is_true(json_object_get(data, "lazy-refcounts"));
	json_decref(j);
	json_decref(d->qopts);
	d->qopts = json_pack("{s:I,s:b,s:b,s:s}", "cluster_size", (json_int_t)cs, "extended_l2",
			     el2, "lazy_refcounts", lazy, "preallocation", d->prealloc);
	const char *key = cs != d->cfg->cluster_size ? "cluster_size" :
			  el2 != d->cfg->extended_l2 ? "extended_l2" :
			  lazy != d->cfg->lazy_refcounts ? "lazy_refcounts" : NULL;
	if (key) {
		pc_err(LOG_NODE, "disk '%s': volume '%s' was made with cluster_size %" PRIu64 "K, "
		       "extended_l2 %s, lazy_refcounts %s (qemu-img info), not as the bench asks: "
		       "'%s' differs; set it in [disk %s] as the storage makes it", d->cfg->name,
		       d->volid, cs >> 10, el2 ? "on" : "off", lazy ? "on" : "off", key,
		       d->cfg->name);
		return -EINVAL;
	}
	return 0;
}

/* A zfspool storage's blocksize as pve-storage writes it (verify_zfs_blocksize: a
 * number with an optional k or m suffix, either case) in bytes; 0 if it is not one. */
static uint64_t zfs_blocksize(const char *v)
{
	char *end;
	unsigned long long b = strtoull(v, &end, 10);

	if (end == v)
		return 0;
	if (*end == 'k' || *end == 'K')
		b <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		b <<= 20, end++;
	return *end ? 0 : (uint64_t)b;
}

/* A zvol disk on a zfspool storage. pve-storage's ZFSPoolPlugin (zfs_create_zvol)
 * makes every volume `zfs create [-s] [-b BLOCKSIZE] -V SIZEk POOL/NAME` with the
 * storage's `sparse` and `blocksize`: no per-volume option reaches it, and a zvol's
 * volblocksize cannot change after creation. A storage blocksize other than the
 * bench's is refused here; with none set the zvol gets ZFS's default, read back
 * after creation (zvol_setup). sync and compression are the zvol's own properties,
 * set on it after creation. */
static int zvol_fits(struct pdisk *d, char *why, size_t len)
{
	const struct cfg_disk *c = d->cfg;
	uint64_t bs = d->blocksize[0] ? zfs_blocksize(d->blocksize) : 0;

	if (strcmp(d->stype, "zfspool")) {
		snprintf(why, len, "disk '%s' is zvol but storage '%s' is of type '%s': use a "
			 "zfspool storage", c->name, d->storage, d->stype);
		return -EINVAL;
	}
	if (!d->pool[0]) {
		snprintf(why, len, "zfspool storage '%s' of disk '%s' names no pool: fix it in "
			 "/etc/pve/storage.cfg", d->storage, c->name);
		return -EINVAL;
	}
	if (c->preallocation != PREALLOC_OFF) {
		snprintf(why, len, "disk '%s': preallocation = %s cannot be honoured by storage '%s' "
			 "(type 'zfspool'): zvols take none (a non-sparse zvol only reserves its "
			 "space); set preallocation = off", c->name, prealloc_names[c->preallocation],
			 d->storage);
		return -EINVAL;
	}
	if (d->blocksize[0] && bs != c->volblocksize) {
		snprintf(why, len, "disk '%s': volblocksize = %" PRIu64 "K cannot be honoured by "
			 "storage '%s', which creates every zvol with blocksize %s (pve-storage "
			 "passes the storage's blocksize to zfs create -b, and a zvol's volblocksize "
			 "is fixed at creation): set volblocksize = %" PRIu64 "K, or `pvesm set %s "
			 "--blocksize %" PRIu64 "k` (new volumes only)", c->name,
			 c->volblocksize >> 10, d->storage, d->blocksize, bs >> 10, d->storage,
			 c->volblocksize >> 10);
		return -EINVAL;
	}
	d->fmt = "raw";
	snprintf(d->prealloc, sizeof(d->prealloc), "off");
	return 0;
}

static bool file_store(const struct pdisk *d)
{
	return !strcmp(d->stype, "dir") || !strcmp(d->stype, "nfs") || !strcmp(d->stype, "cifs");
}

/* The storage of disk d as pvesh describes it (type, snapshots as volume chain, its
 * preallocation), and whether the disk fits it: 0, -ENOENT (no such storage, or the
 * storage cannot be read: *why says which), -EINVAL (*why says what to change). */
static int storage_fits(struct ppriv *p, struct pdisk *d, bool quiet, char *why, size_t len)
{
	char url[256], prealloc[16];
	const char *stor[] = { "pvesh", "get", url, "--output-format", "json", NULL };
	json_t *s;
	int rc;

	snprintf(url, sizeof(url), "/storage/%s", d->storage);
	if ((rc = prun_json_q(p, stor, quiet, &s)) < 0) {
		snprintf(why, len, "storage '%s' of disk '%s' cannot be read%s: create it (`pvesm "
			 "add`, docs/proxmox.md, 4) or fix [node] storages", d->storage, d->cfg->name,
			 rc == -ENOENT ? " (it does not exist)" : "");
		return rc == -ENOENT ? rc : -ENOENT;
	}
	snprintf(d->stype, sizeof(d->stype), "%s",
		 json_string_value(json_object_get(s, "type")) ?: "");
	d->chain_store = pve_bool(json_object_get(s, "snapshot-as-volume-chain"));
	snprintf(prealloc, sizeof(prealloc), "%s",
		 json_string_value(json_object_get(s, "preallocation")) ?: "");
	snprintf(d->pool, sizeof(d->pool), "%s", json_string_value(json_object_get(s, "pool")) ?: "");
	snprintf(d->blocksize, sizeof(d->blocksize), "%s",
		 json_string_value(json_object_get(s, "blocksize")) ?: "");
	d->sparse = pve_bool(json_object_get(s, "sparse"));
	json_decref(s);
	bool file = file_store(d);
	if ((rc = chain_allowed(p, d, file, why, len)) < 0)
		return rc;
	if (d->cfg->format == DISK_ZVOL)
		return zvol_fits(d, why, len);
	/* A zfspool storage's volumes are zvols: the bench says so, and their options. */
	if (!strcmp(d->stype, "zfspool")) {
		snprintf(why, len, "disk '%s' is %s but storage '%s' is a zfspool, whose volumes "
			 "are zvols: set format = zvol", d->cfg->name,
			 d->cfg->format == DISK_QCOW2 ? "qcow2" : d->cfg->format == DISK_RAW ?
			 "raw" : "lvmthin", d->storage);
		return -EINVAL;
	}
	/* pve-storage's LVMPlugin (alloc_lvm_image) dies on qcow2 without it. */
	if (d->cfg->format == DISK_QCOW2 && !strcmp(d->stype, "lvm") && !d->chain_store) {
		snprintf(why, len, "disk '%s' is qcow2 but LVM storage '%s' does not have "
			 "snapshot-as-volume-chain set, without which pvesm alloc refuses qcow2: "
			 "`pvesm set %s --snapshot-as-volume-chain 1` (Proxmox VE 9), or use a "
			 "directory storage", d->cfg->name, d->storage, d->storage);
		return -EINVAL;
	}
	if (d->cfg->format == DISK_LVMTHIN && strcmp(d->stype, "lvmthin")) {
		snprintf(why, len, "disk '%s' is lvmthin but storage '%s' is of type '%s'",
			 d->cfg->name, d->storage, d->stype);
		return -EINVAL;
	}
	if (d->cfg->format == DISK_QCOW2 && !file && strcmp(d->stype, "lvm")) {
		snprintf(why, len, "disk '%s' is qcow2 but storage '%s' is of type '%s' (use a "
			 "directory, or LVM with snapshots as volume chain)", d->cfg->name,
			 d->storage, d->stype);
		return -EINVAL;
	}
	d->fmt = d->cfg->format == DISK_QCOW2 ? "qcow2" : "raw";
	return options_honoured(d, file, *prealloc ? prealloc : NULL, why, len);
}

static const char *const zfs_sync_names[] = { "standard", "always", "disabled" };

/* A zvol's properties (zfs get -Hp: one "PROPERTY\tVALUE" line each, numbers in
 * bytes) as {"volblocksize", "volsize", "refreservation", "sync", "compression"};
 * NULL when they cannot be read (logged unless quiet). */
static json_t *zvol_props(struct ppriv *p, const struct pdisk *d, bool quiet)
{
	const char *argv[] = { "zfs", "get", "-Hp", "-o", "property,value",
			       "volblocksize,volsize,refreservation,sync,compression", d->dataset,
			       NULL };
	struct child_result res;
	json_t *j = NULL;

	if (prun(p, argv, NULL, quiet, &res) == 0 && res.out) {
		j = json_object();
		char *save;
		for (char *line = strtok_r(res.out, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *tab = strchr(line, '\t'), *end;
			if (!tab)
				continue;
			*tab++ = '\0';
			tab[strcspn(tab, "\r\t")] = '\0';
			unsigned long long v = strtoull(tab, &end, 10);
			json_object_set_new(j, line, *tab && !*end ? json_integer((json_int_t)v) :
					    json_string(tab));
		}
	}
	child_result_release(&res);
	return j;
}

/* The first of the bench's zvol options that props does not show, or NULL. */
static const char *zvol_differs(const struct pdisk *d, const json_t *props)
{
	const char *sync = json_string_value(json_object_get(props, "sync")) ?: "";
	const char *comp = json_string_value(json_object_get(props, "compression")) ?: "";

	if ((uint64_t)json_integer_value(json_object_get(props, "volblocksize")) !=
	    d->cfg->volblocksize)
		return "volblocksize";
	if (strcmp(sync, zfs_sync_names[d->cfg->zfs_sync]))
		return "sync";
	if (strcmp(comp, d->cfg->compression ? "lz4" : "off"))
		return "compression";
	return NULL;
}

/* The zvol just allocated: its dataset POOL/NAME (pvesm path gives /dev/zvol/POOL/NAME,
 * ZFSPoolPlugin's path), the bench's sync and compression set on it (its own
 * properties, whatever its parent has), then everything read back: volblocksize was
 * decided at creation by the storage's blocksize or, with none, by ZFS's default, so
 * a zvol that is not the bench's is refused here (close frees it). */
static int zvol_setup(struct ppriv *p, struct pdisk *d)
{
	char sync[32], comp[32];
	const char *key;
	int rc;

	snprintf(d->dataset, sizeof(d->dataset), "%s/%s", d->pool, d->filename);
	if (strncmp(d->path, "/dev/zvol/", 10) || strcmp(d->path + 10, d->dataset)) {
		pc_err(LOG_NODE, "disk '%s': pvesm path gives '%s', not the zvol '/dev/zvol/%s' of "
		       "storage '%s'", d->cfg->name, d->path, d->dataset, d->storage);
		return -EPROTO;
	}
	snprintf(sync, sizeof(sync), "sync=%s", zfs_sync_names[d->cfg->zfs_sync]);
	snprintf(comp, sizeof(comp), "compression=%s", d->cfg->compression ? "lz4" : "off");
	const char *set[] = { "zfs", "set", sync, comp, d->dataset, NULL };
	if ((rc = prun0(p, set, false)) < 0)
		return rc;
	json_decref(d->zprops);
	if (!(d->zprops = zvol_props(p, d, false)))
		return -EIO;
	if ((key = zvol_differs(d, d->zprops))) {
		char hint[256] = "";
		if (!strcmp(key, "volblocksize") && !d->blocksize[0])
			snprintf(hint, sizeof(hint), "; storage '%s' sets no blocksize, so ZFS's "
				 "default made it: set volblocksize to it, or `pvesm set %s "
				 "--blocksize` to the bench's", d->storage, d->storage);
		pc_err(LOG_NODE, "disk '%s': zvol '%s' was made with volblocksize %" PRId64 ", sync "
		       "%s, compression %s (zfs get), not as the bench asks: '%s' differs%s",
		       d->cfg->name, d->dataset,
		       (int64_t)json_integer_value(json_object_get(d->zprops, "volblocksize")),
		       json_string_value(json_object_get(d->zprops, "sync")) ?: "?",
		       json_string_value(json_object_get(d->zprops, "compression")) ?: "?", key,
		       hint);
		return -EINVAL;
	}
	return 0;
}

static int disk_alloc(struct ppriv *p, struct pdisk *d)
{
	char size[32], why[512];
	int rc;

	if ((rc = storage_fits(p, d, false, why, sizeof(why))) < 0) {
		if (rc == -EINVAL)
			pc_err(LOG_NODE, "%s", why);
		return rc;
	}
	bool file = file_store(d);
	/* Proxmox names a file volume with its format's extension; LVM volumes plain,
	 * except qcow2 on LVM (snapshots as volume chain). */
	snprintf(d->filename, sizeof(d->filename), "vm-%ld-pc-%s%s%s", p->vmid, d->cfg->name,
		 file || d->cfg->format == DISK_QCOW2 ? "." : "",
		 file || d->cfg->format == DISK_QCOW2 ? d->fmt : "");
	/* pvesm sizes are in KiB unless suffixed; M keeps them exact for MiB sizes. */
	snprintf(size, sizeof(size), "%" PRIu64 "M", (d->cfg->size + (1 << 20) - 1) >> 20);
	const char *alloc[] = { "pvesm", "alloc", d->storage, p->vmid_s, d->filename, size,
				"--format", d->fmt, NULL };
	if ((rc = prun0(p, alloc, false)) < 0) {
		if (rc == -EEXIST)
			pc_err(LOG_NODE, "volume '%s' already exists on storage '%s': an earlier run "
			       "left it, or another VM owns id %ld; it is left alone (free it with "
			       "pvesm free, or choose another [node] vmid)", d->filename, d->storage,
			       p->vmid);
		else if (rc == -ENOSPC)
			pc_err(LOG_NODE, "storage '%s' has no room for disk '%s' (%s)", d->storage,
			       d->cfg->name, size);
		return rc;
	}
	d->created = true;
	if ((rc = disk_locate(p, d)) < 0)
		return rc;
	/* A chain's volume under test is the overlay of the snapshot (chain_locate). */
	if (d->cfg->format == DISK_QCOW2 && !is_chain(d->cfg))
		rc = read_qopts(p, d);
	if (d->cfg->format == DISK_ZVOL)
		rc = zvol_setup(p, d);
	return rc;
}

/* Add drive dev (a partition resolved to its disk: lsblk's pkname, empty for a whole
 * disk) to d's drives, once. */
static void drive_add(struct ppriv *p, struct pdisk *d, const char *dev)
{
	const char *argv[] = { "lsblk", "-no", "pkname", dev, NULL };
	struct child_result res;
	char parent[64] = "", disk[96];

	if (prun(p, argv, NULL, true, &res) == 0)
		pc_last_line(res.out, parent, sizeof(parent));
	child_result_release(&res);
	parent[strcspn(parent, " \t")] = '\0';
	if (parent[0])
		snprintf(disk, sizeof(disk), "/dev/%s", parent);
	else
		snprintf(disk, sizeof(disk), "%s", dev);
	for (size_t i = 0; i < d->n_drives; i++)
		if (!strcmp(d->drives[i], disk))
			return;
	if (d->n_drives < PDRIVES)
		snprintf(d->drives[d->n_drives++], sizeof(d->drives[0]), "%s", disk);
}

/* The physical drives under disk d's volume, for their SMART testimony: a zfspool's
 * vdevs (`zpool list -v -H -P POOL`: the leaf vdevs are the fields that are full
 * paths), an LVM volume group's PVs (`pvs --noheadings -o pv_name`). A directory
 * storage's drive is not looked for. Nothing found is a warning, never a failure:
 * the drives' word is testimony, not the verdict. */
static void find_drives(struct ppriv *p, struct pdisk *d)
{
	char pool[sizeof(d->pool)], sel[160];
	struct child_result res;
	char *save;

	snprintf(pool, sizeof(pool), "%.*s", (int)strcspn(d->pool, "/"), d->pool);
	snprintf(sel, sizeof(sel), "vg_name=%s", d->vg);
	const char *zl[] = { "zpool", "list", "-v", "-H", "-P", pool, NULL };
	const char *pvs[] = { "pvs", "--noheadings", "-o", "pv_name", "--select", sel, NULL };
	const char *const *argv = d->dataset[0] ? zl : d->vg[0] ? pvs : NULL;

	if (!argv)
		return;
	if (prun(p, argv, NULL, false, &res) == 0 && res.out) {
		for (char *line = strtok_r(res.out, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *f, *fs;
			for (f = strtok_r(line, " \t", &fs); f; f = strtok_r(NULL, " \t", &fs))
				if (!strncmp(f, "/dev/", 5))
					drive_add(p, d, f);
		}
	}
	child_result_release(&res);
	if (!d->n_drives)
		pc_warn(LOG_NODE, "disk '%s': no physical drive found under storage '%s': no SMART "
			"record", d->cfg->name, d->storage);
}

/* smartctl's JSON report of drive dev (-x: with ATA's write-cache state). smartctl's
 * exit status is a bit mask that is not 0 for a drive with logged errors, so the
 * report is taken whenever it parses; NULL when none does. */
static json_t *smart_read(struct ppriv *p, const char *dev)
{
	const char *argv[] = { "smartctl", "--json", "-x", dev, NULL };
	struct child_result res;
	json_t *j = NULL;

	if (remote_run(p->r, argv, NULL, CMD_TIMEOUT_MS, &res) == 0 && res.out)
		j = json_loads(res.out, 0, NULL);
	child_result_release(&res);
	if (!json_is_object(j)) {
		json_decref(j);
		pc_warn(LOG_NODE, "no smartctl report of '%s' on '%s'", dev, remote_name(p->r));
		return NULL;
	}
	return j;
}

static int proxmox_prepare(struct node *n)
{
	struct ppriv *p = n->priv;
	const struct cfg_node *cn = n->cfg->node;
	char mem[24], cores[24], name[64], vk[NODE_MAX_DISKS][32];
	char vv[NODE_MAX_DISKS][PATH_MAX + 64], guest[PATH_MAX], local[PATH_MAX + 32];
	const char *set[8 + 2 * NODE_MAX_DISKS];
	int rc, k = 0;

	if ((rc = find_node_name(n, p)) < 0)
		return rc;
	snprintf(mem, sizeof(mem), "%" PRId64, cn->memory_mib);
	snprintf(cores, sizeof(cores), "%" PRId64, cn->cores);
	snprintf(name, sizeof(name), "powercut-%ld", p->vmid);
	/* No NIC of Proxmox's: the guest's one network is the user-mode device of `args`
	 * (boot), which leads to the ledger's forward; a bridge NIC beside it would
	 * compete for eth0. */
	const char *create[] = { "qm", "create", p->vmid_s, "--name", name, "--onboot", "0",
				 "--memory", mem, "--cores", cores, "--ostype", "l26", NULL };
	if ((rc = prun0(p, create, false)) < 0) {
		if (rc == -EEXIST)
			pc_err(LOG_NODE, "VM %ld already exists on '%s': it is not ours, so it is "
			       "left alone; choose a free [node] vmid", p->vmid, remote_name(p->r));
		return rc;
	}
	p->vm_created = true;
	for (size_t i = 0; i < p->n; i++)
		if ((rc = disk_alloc(p, &p->d[i])) < 0)
			return rc;
	for (size_t i = 0; cn->smart && i < p->n; i++)
		find_drives(p, &p->d[i]);
	set[k++] = "qm"; set[k++] = "set"; set[k++] = p->vmid_s;
	for (size_t i = 0; i < p->n; i++) {
		snprintf(vk[i], sizeof(vk[i]), "--virtio%zu", i);
		/* aio: the bench's, or none given and qemu-server chooses as it does. */
		snprintf(vv[i], sizeof(vv[i]), "%s,cache=%s%s%s", p->d[i].volid,
			 cache_names[p->d[i].cfg->cache], p->d[i].cfg->aio ? ",aio=" : "",
			 p->d[i].cfg->aio ? disk_aio_name(p->d[i].cfg->aio) : "");
		set[k++] = vk[i];
		set[k++] = vv[i];
	}
	set[k] = NULL;
	if ((rc = prun0(p, set, false)) < 0)
		return rc;

	const char *mk[] = { "mkdir", "-p", p->rdir, NULL };
	if ((rc = prun0(p, mk, false)) < 0)
		return rc;
	if (cn->guest)
		snprintf(guest, sizeof(guest), "%s", cn->guest);
	else
		snprintf(guest, sizeof(guest), "%s/../guest", n->env.bin_dir);
	snprintf(p->kernel, sizeof(p->kernel), "%s/vmlinuz", p->rdir);
	snprintf(p->initrd, sizeof(p->initrd), "%s/initrd.cpio", p->rdir);
	snprintf(local, sizeof(local), "%s/vmlinuz", guest);
	if ((rc = remote_copy(p->r, local, p->kernel, CMD_TIMEOUT_MS)) < 0)
		return rc;
	snprintf(local, sizeof(local), "%s/initrd.cpio", guest);
	return remote_copy(p->r, local, p->initrd, CMD_TIMEOUT_MS);
}

static int vm_status_q(struct ppriv *p, char *status, size_t len, bool *locked, bool quiet)
{
	char url[256];
	const char *argv[] = { "pvesh", "get", url, "--output-format", "json", NULL };
	json_t *j;
	int rc;

	snprintf(url, sizeof(url), "/nodes/%s/qemu/%ld/status/current", p->node, p->vmid);
	if ((rc = prun_json_q(p, argv, quiet, &j)) < 0)
		return rc;
	snprintf(status, len, "%s", json_string_value(json_object_get(j, "status")) ?: "");
	*locked = json_object_get(j, "lock") != NULL;
	json_decref(j);
	return 0;
}

static int vm_status(struct ppriv *p, char *status, size_t len, bool *locked)
{
	return vm_status_q(p, status, len, locked, false);
}

/* Does disk i take part in the baseline boot? As in qemu_remote.c: the backing chains
 * always; on the cycle that writes the baseline, every other disk but the LVM-thin
 * one too, since the guest's agents share one set of options and the write boot that
 * follows runs them all with the baseline existing (a new thin LV's baseline is its
 * zeroes). */
static bool in_baseline(const struct ppriv *p, const struct node_job *job, size_t i)
{
	return is_chain(p->d[i].cfg) || (job->baseline && p->d[i].cfg->format != DISK_LVMTHIN);
}

/* Boot the guest: `args` carries its part of QEMU's command line (guest.h), then qm
 * start. In write mode the VM gets the user-mode network device pcl (the guest's eth0,
 * its only NIC), the ledger at 10.0.2.2 and the token as the fw_cfg file
 * opt/powercut/token; the check reports on the console and needs no network. */
static int boot(struct node *n, const struct node_job *job, enum guest_mode mode)
{
	struct ppriv *p = n->priv;
	bool check = mode == GUEST_CHECK;
	char append[GUEST_APPEND_MAX], args[8192], ledger[32] = "", fwcfg[PATH_MAX + 64];
	char dn[NODE_MAX_DISKS][8];
	struct guest_disk gd[NODE_MAX_DISKS];
	int rc;

	/* Proxmox's lvmthin is its storage: the guest sees every disk as a plain vdX. */
	guest_disks_vd(n->cfg, gd, dn);
	for (size_t i = 0; i < p->n; i++)
		gd[i].skip = mode == GUEST_BASELINE && !in_baseline(p, job, i);
	/* The token goes to a private file in rdir through ssh's standard input, as with
	 * the remote driver, never into `args` (QEMU's command line on the node, readable
	 * in /proc, and the VM's config). Written at every write boot: a power cut may
	 * have lost the unsynced file, and the job's token is the one that counts. */
	if (!check && (rc = remote_ledger_boot(p->r, &p->ledger, job->ledger_port, p->rdir,
					       job->token, CMD_TIMEOUT_MS, ledger, sizeof(ledger),
					       fwcfg, sizeof(fwcfg))) < 0)
		return rc;
	const struct guest_cmdline cmd = {
		.mode = mode, .job = job, .w = n->cfg->workload, .disks = gd, .n = p->n,
		.ledger = ledger, .baseline_exists = !job->baseline || p->snapped, .lvm = -1,
		.zvol = -1,
	};
	if ((rc = guest_cmdline(&cmd, append, sizeof(append))) < 0)
		return rc;
	snprintf(p->console, sizeof(p->console), "%s/console-%d.log", p->rdir, ++p->boots);
	const struct guest_qemu qa = {
		.kernel = p->kernel, .initrd = p->initrd, .console = p->console, .append = append,
		.fwcfg = check ? NULL : fwcfg, .netdev = "pcl", .check = check,
	};
	if ((rc = guest_pve_args(&qa, args, sizeof(args))) < 0)
		return rc;
	const char *set[] = { "qm", "set", p->vmid_s, "--args", args, NULL };
	const char *start[] = { "qm", "start", p->vmid_s, NULL };
	if ((rc = prun0(p, set, false)) < 0)
		return rc;
	if ((rc = prun0(p, start, false)) < 0)
		return rc;
	p->started = true;
	json_decref(p->events);
	p->events = json_array();
	guest_console_boot(&p->con, NULL, p->boots, check);
	p->con.lines = p->events;
	p->con_off = 0;
	return 0;
}

/* guest_console_src's poll: the console file read whole (cat), what is new fed. QEMU's
 * liveness is not asked: the wait ends at `done` or at its timeout. */
static int con_poll(void *arg, struct guest_console *c, bool *alive)
{
	struct ppriv *p = arg;
	const char *cat[] = { "cat", p->console, NULL };
	struct child_result r;
	int rc = remote_run(p->r, cat, NULL, CMD_TIMEOUT_MS, &r);

	if (rc == 0 && r.out && r.out_len > (size_t)p->con_off) {
		guest_console_feed(c, r.out + p->con_off, r.out_len - (size_t)p->con_off);
		p->con_off = (long)r.out_len;
	}
	child_result_release(&r);
	return rc;
}

/* Read the console every poll_ms until it shows the guest's `done`, or timeout ms. */
static int con_wait(struct ppriv *p, int64_t timeout)
{
	const struct guest_console_src src = { .poll = con_poll, .arg = p,
		.node = remote_name(p->r), .console = p->console, .poll_ms = p->poll_ms };

	return guest_console_wait(&p->con, &src, true, (int)timeout);
}

/* The baseline boot's console until `done`, then the VM's own stop (the guest powers
 * off after done); a VM still running 10 s later is stopped with qm stop. 0 when done
 * was seen and every agent's write-exit said rc=0, want of them. */
static int baseline_wait(struct node *n, struct ppriv *p, int want)
{
	const char *stop[] = { "qm", "stop", p->vmid_s, NULL };
	char status[32] = "";
	bool locked;
	int rc = con_wait(p, n->cfg->campaign->boot_timeout_ms);

	for (int64_t waited = 0; waited <= 10000; waited += p->poll_ms) {
		if (vm_status(p, status, sizeof(status), &locked) == 0 && strcmp(status, "running"))
			break;
		usleep((useconds_t)p->poll_ms * 1000);
	}
	if (!strcmp(status, "running") || !status[0]) {
		int src = prun0(p, stop, false);
		if (rc == 0 && src < 0)
			rc = src;
	}
	p->started = false;
	if (rc == 0 && !guest_console_writes_ok(&p->con, want)) {
		pc_err(LOG_NODE, "the guest on '%s' did not write the baselines: not every one of "
		       "%d agents ended with rc=0 (console '%s')", remote_name(p->r), want,
		       p->console);
		rc = -EIO;
	}
	return rc;
}

/* A qcow2 volume that qm snapshot turns into a new overlay on its old image. */
static bool vol_chain(const struct pdisk *d)
{
	return d->cfg->format == DISK_QCOW2 && d->chain_store;
}

/* After the snapshot: the volume each chain disk is attached as now (the VM's config
 * as JSON: virtioN = VOLID,cache=...) and its path. On a volume-chain storage Proxmox
 * keeps the volume's name for the new overlay and gives the base the snapshot's name
 * (pve-storage: snap_NAME_SNAP.qcow2 on LVM, snap-SNAP-NAME.qcow2 in a directory); the
 * driver asks rather than assumes, so a storage that names them otherwise is followed. */
static int chain_locate(struct ppriv *p)
{
	char url[256], key[32];
	const char *conf[] = { "pvesh", "get", url, "--current", "1", "--output-format", "json",
			       NULL };
	json_t *c;
	int rc;

	snprintf(url, sizeof(url), "/nodes/%s/qemu/%ld/config", p->node, p->vmid);
	if ((rc = prun_json(p, conf, &c)) < 0)
		return rc;
	for (size_t i = 0; i < p->n && rc == 0; i++) {
		struct pdisk *d = &p->d[i];
		struct child_result res;
		if (!vol_chain(d))
			continue;
		snprintf(key, sizeof(key), "virtio%zu", i);
		const char *drive = json_string_value(json_object_get(c, key));
		if (!drive || !*drive || *drive == ',') {
			pc_err(LOG_NODE, "disk '%s' is not attached as '%s' of VM %ld after the "
			       "snapshot", d->cfg->name, key, p->vmid);
			rc = -ENOENT;
			break;
		}
		snprintf(d->volid, sizeof(d->volid), "%.*s", (int)strcspn(drive, ","), drive);
		const char *path[] = { "pvesm", "path", d->volid, NULL };
		if ((rc = prun(p, path, NULL, false, &res)) == 0) {
			pc_last_line(res.out, d->path, sizeof(d->path));
			if (d->path[0] != '/')
				rc = -EPROTO;
		}
		child_result_release(&res);
		if (rc == 0 && is_chain(d->cfg))
			chain_base(d);
		/* The stopped VM's volumes were deactivated when it stopped. */
		if (rc == 0 && lvm_chain(d))
			rc = lvm_chain_activate(p, d, true);
		if (rc == 0)
			rc = read_qopts(p, d);
	}
	json_decref(c);
	return rc;
}

/* Baselines, then qm snapshot of the stopped VM: each backing disk's volume holds its
 * baseline and becomes the base of a new overlay. */
static int baseline_boot(struct node *n, struct ppriv *p, const struct node_job *job)
{
	const char *snap[] = { "qm", "snapshot", p->vmid_s, SNAP_NAME, "--description",
			       "powercut: the baselines, base of the volume chains", NULL };
	struct node_job base = *job;
	int rc, want = 0;

	for (size_t i = 0; i < p->n; i++)
		want += in_baseline(p, job, i);
	base.cycle = job->cycle ? job->cycle - 1 : 0;
	if (job->cycle_begins)
		job->cycle_begins(job->cb_arg, base.cycle);
	if ((rc = boot(n, &base, GUEST_BASELINE)) < 0)
		return rc;
	if ((rc = baseline_wait(n, p, want)) < 0)
		return rc;
	/* From here on a snapshot may exist, even half made: close must look for it. */
	p->snapped = true;
	if ((rc = prun0(p, snap, false)) < 0) {
		pc_err(LOG_NODE, "cannot snapshot VM %ld on '%s' ('%s'): the backing disks have no "
		       "overlay, so the cycle is not run", p->vmid, remote_name(p->r), SNAP_NAME);
		return rc;
	}
	if ((rc = chain_locate(p)) < 0)
		return rc;
	pc_info(LOG_NODE, "node '%s': %d baseline(s) of cycle %u written (boot %d), snapshot '%s'",
		remote_name(p->r), want, base.cycle, p->boots, SNAP_NAME);
	return 0;
}

static int proxmox_start_workload(struct node *n, const struct node_job *job)
{
	struct ppriv *p = n->priv;
	int rc;

	/* Before anything of this cycle: the node's boot as the cut will find it. */
	p->boot_after[0] = '\0';
	p->cut = -1;
	if ((rc = nd_boot_id(p->r, p->boot_before, sizeof(p->boot_before))) < 0) {
		pc_err(LOG_NODE, "cannot read the boot_id of '%s'", remote_name(p->r));
		return rc;
	}
	if (any_chain(p) && !p->snapped && (rc = baseline_boot(n, p, job)) < 0)
		return rc;
	/* The drives' counters as the cut will find them. */
	for (size_t i = 0; i < p->n; i++)
		for (size_t k = 0; k < p->d[i].n_drives; k++) {
			json_decref(p->d[i].smart_before[k]);
			p->d[i].smart_before[k] = smart_read(p, p->d[i].drives[k]);
		}
	if ((rc = nodefio_start(&p->fio, p->r, p->rdir, n->cfg->node)) < 0)
		return rc;
	if (job->cycle_begins)
		job->cycle_begins(job->cb_arg, job->cycle);
	return boot(n, job, GUEST_WRITE);
}

static int proxmox_power_lost(struct node *n, int cut)
{
	struct ppriv *p = n->priv;
	char pidfile[64];

	p->cut = cut;
	if (cut != CUT_KILL)
		return 0;	/* the node is dark: nothing can or need be done there */
	snprintf(pidfile, sizeof(pidfile), "/var/run/qemu-server/%ld.pid", p->vmid);
	const char *kill9[] = { "sh", "-c", "kill -9 \"$(cat \"$1\")\"", "sh", pidfile, NULL };
	return prun0(p, kill9, false);
}

static int proxmox_power_back(struct node *n, const struct node_job *job)
{
	return 0;	/* the node's firmware powers it on ("restore on AC power loss") */
}

/* Did the node really reboot? The boot_id read before the cut against the one now:
 * a power cut must have changed it (else the relay did not reach the node's power),
 * a process kill must not have. Retried until end: right after sshd answers the
 * first commands may still fail. */
static int check_boot(struct ppriv *p, int64_t end)
{
	int rc;

	while ((rc = nd_boot_id(p->r, p->boot_after, sizeof(p->boot_after))) < 0 &&
	       clock_mono_ms() < end)
		usleep((useconds_t)p->poll_ms * 1000);
	if (rc < 0) {
		pc_err(LOG_NODE, "cannot read the boot_id of '%s' after the cut", remote_name(p->r));
		return rc;
	}
	bool rebooted = strcmp(p->boot_before, p->boot_after) != 0;
	if (p->cut == CUT_POWER && !rebooted) {
		pc_err(LOG_NODE, "node '%s' answers but did not reboot (boot_id '%s' unchanged): the "
		       "cut did not reach its power; check the relay's wiring and [relay] channel",
		       remote_name(p->r), p->boot_after);
		return -EPROTO;
	}
	if (p->cut == CUT_KILL && rebooted) {
		pc_err(LOG_NODE, "node '%s' rebooted during a process-kill cut (boot_id '%s' -> "
		       "'%s')", remote_name(p->r), p->boot_before, p->boot_after);
		return -EPROTO;
	}
	return 0;
}

/* pmxcfs (pve-cluster.service) mounts /etc/pve, and it is not ordered before sshd:
 * until /etc/pve/nodes/NODE exists, qm and pvesh fail ("ipcc_send_rec[1] failed"). */
static int wait_pmxcfs(struct ppriv *p, int64_t end)
{
	char dir[256];
	int rc;

	snprintf(dir, sizeof(dir), "/etc/pve/nodes/%s", p->node);
	const char *argv[] = { "test", "-d", dir, NULL };
	while ((rc = prun0(p, argv, true)) < 0 && clock_mono_ms() < end)
		usleep((useconds_t)p->poll_ms * 1000);
	if (rc < 0)
		pc_err(LOG_NODE, "'%s' did not appear on '%s' before the boot deadline: pmxcfs "
		       "(pve-cluster.service) did not start; see `journalctl -u pve-cluster` on the "
		       "node", dir, remote_name(p->r));
	return rc;
}

static int proxmox_wait_up(struct node *n, int timeout_ms)
{
	struct ppriv *p = n->priv;
	int64_t end = clock_mono_ms() + timeout_ms;
	char status[32];
	bool locked;
	int rc;

	if ((rc = remote_wait_up(p->r, timeout_ms)) < 0)
		return rc;
	if (p->boot_before[0] && (rc = check_boot(p, end)) < 0)
		return rc;
	if (p->node[0] && (rc = wait_pmxcfs(p, end)) < 0)
		return rc;
	if (!p->vm_created)
		return 0;
	/* pvesh needs pmxcfs and pvedaemon's view of it: retried until the deadline. */
	while ((rc = vm_status_q(p, status, sizeof(status), &locked, true)) < 0 &&
	       clock_mono_ms() < end)
		usleep((useconds_t)p->poll_ms * 1000);
	if (rc < 0 && (rc = vm_status(p, status, sizeof(status), &locked)) < 0)
		return rc;
	if (locked) {
		/* A cut in the middle of qm start leaves the VM locked. */
		const char *unlock[] = { "qm", "unlock", p->vmid_s, NULL };
		pc_warn(LOG_NODE, "VM %ld was left locked by the cut: unlocking it", p->vmid);
		if ((rc = prun0(p, unlock, false)) < 0)
			return rc;
	}
	if (!strcmp(status, "running")) {
		/* Not after a power cut; after a process kill, QEMU's pid may linger. */
		const char *stop[] = { "qm", "stop", p->vmid_s, NULL };
		if ((rc = prun0(p, stop, false)) < 0)
			return rc;
	}
	return 0;
}

static void check_lvm(struct ppriv *p, struct pdisk *d, json_t *checks)
{
	const char *argv[] = { "lvs", "--reportformat", "json", "-a", "-o",
			       "lv_name,vg_name,lv_attr,pool_lv,data_percent,metadata_percent,"
			       "lv_health_status", d->vg, NULL };
	json_t *j, *lvs, *e, *vol = NULL, *pool = NULL;
	size_t i;

	if (prun_json(p, argv, &j) < 0) {
		node_check_add(checks, "lvs", "error", NULL);
		return;
	}
	lvs = json_object_get(json_array_get(json_object_get(j, "report"), 0), "lv");
	json_array_foreach(lvs, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "lv_name")) ?: "", d->lv))
			vol = e;
	const char *pname = vol ? json_string_value(json_object_get(vol, "pool_lv")) : NULL;
	json_array_foreach(lvs, i, e)
		if (pname && *pname && !strcmp(json_string_value(json_object_get(e, "lv_name")) ?: "",
					      pname))
			pool = e;
	node_check_add(checks, "lvs", vol ? "ok" : "missing", vol ? json_incref(vol) : NULL);
	if (pname && *pname && !pool) {
		node_check_add(checks, "thin-pool", "missing", NULL);
	} else if (pname && *pname) {
		/* lvs leaves lv_health_status empty for an inactive pool (one whose
		 * boot-time activation failed, for example on thin_check): its health is
		 * unknown, and its volumes cannot be opened. lv_attr's fifth character is
		 * 'a' for an active LV. Either is a metadata failure. */
		const char *health = json_string_value(json_object_get(pool, "lv_health_status"));
		const char *attr = json_string_value(json_object_get(pool, "lv_attr")) ?: "";
		bool active = strlen(attr) > 4 && attr[4] == 'a';
		json_t *det = json_pack("{s:O}", "lv", pool);
		if (!active)
			json_object_set_new(det, "why", json_string("the thin pool is not active"));
		else if (health && *health)
			json_object_set_new(det, "why", json_string(health));
		node_check_add(checks, "thin-pool", !active || (health && *health) ? "fail" : "ok",
			       det);
	}
	json_decref(j);
}

/* The zvol's pool and the zvol after the cut, within what a live Proxmox host allows:
 * the host imported the pool itself at boot (zfs-import-cache / zfs-import-scan), so it
 * is never exported or imported again here, and not scrubbed (a production pool may
 * hold terabytes). zpool-import: the pool is listed, ONLINE, and `zpool status -x`
 * finds nothing wrong (errors or a degraded device print a full status instead of
 * "is healthy"). zvol-props: the zvol and the properties set before the cycle. */
static void check_zfs(struct ppriv *p, struct pdisk *d, json_t *checks)
{
	char pool[sizeof(d->pool)], health[32] = "";
	struct child_result res;

	snprintf(pool, sizeof(pool), "%.*s", (int)strcspn(d->pool, "/"), d->pool);
	const char *list[] = { "zpool", "list", "-H", "-o", "health", pool, NULL };
	const char *status[] = { "zpool", "status", "-x", pool, NULL };
	int rc = prun(p, list, NULL, true, &res);
	if (rc == 0)
		pc_last_line(res.out, health, sizeof(health));
	json_t *det = json_pack("{s:s,s:s}", "pool", pool, "health", rc == 0 ? health : "");
	if (rc < 0)
		json_object_set_new(det, "why", json_string(res.err ? res.err : ""));
	child_result_release(&res);
	bool healthy = false;
	if (rc == 0 && prun(p, status, NULL, true, &res) == 0) {
		healthy = res.out && strstr(res.out, "is healthy");
		json_object_set_new(det, "status", json_string(res.out ? res.out : ""));
		child_result_release(&res);
	}
	node_check_add(checks, "zpool-import", rc == 0 && !strcmp(health, "ONLINE") && healthy ?
		       "pass" : "fail", det);
	json_t *props = zvol_props(p, d, true);
	node_check_add(checks, "zvol-props", props && !zvol_differs(d, props) ? "ok" : "fail",
		       props ? props : json_pack("{s:s}", "why", "zfs get found no such zvol"));
}

/* The check boot: its console until `done` (or the timeout), each disk's check-lines
 * into a report file (kept when the disk had any), check-end's rc as agent_rc. */
static int guest_check(struct node *n, const struct node_job *job, struct node_disk_result *res)
{
	struct ppriv *p = n->priv;
	char path[NODE_MAX_DISKS][PATH_MAX + 64];
	int rc;

	if ((rc = boot(n, job, GUEST_CHECK)) < 0)
		return rc;
	for (size_t i = 0; i < p->n; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/check-%u-%zu.jsonl", n->env.work_dir,
			 job->cycle, i + 1);
		if (!(p->con.reports[i] = fopen(path[i], "we")))
			pc_err(LOG_NODE, "cannot create '%s': %s", path[i], strerror(errno));
	}
	rc = con_wait(p, n->cfg->campaign->boot_timeout_ms);
	guest_console_reports_close(&p->con);
	for (size_t i = 0; i < p->n; i++) {
		if (rc == 0 && p->con.check_lines[i]) {
			free(res[i].report_path);
			res[i].report_path = strdup(path[i]);
		} else {
			unlink(path[i]);
		}
		if (rc == 0)
			res[i].agent_rc = p->con.check_rc[i];
	}
	return rc < 0 ? -ETIMEDOUT : 0;
}

static int proxmox_check(struct node *n, const struct node_job *job, struct node_disk_result *res)
{
	struct ppriv *p = n->priv;

	nodefio_stop(&p->fio);
	/* Each drive's word on the cut: one smart check per drive (smart.h). */
	for (size_t i = 0; i < p->n; i++)
		for (size_t k = 0; k < p->d[i].n_drives; k++) {
			json_t *after = smart_read(p, p->d[i].drives[k]);
			smart_check_add(res[i].checks, p->d[i].smart_before[k], after,
					p->cut == CUT_POWER, p->d[i].drives[k]);
			json_decref(after);
		}
	/* Metadata before the guest opens the volumes again. */
	for (size_t i = 0; i < p->n; i++) {
		struct pdisk *d = &p->d[i];
		if (!strcmp(d->fmt, "qcow2")) {
			/* After the reboot the chain's LVs are inactive (lvm_chain_activate);
			 * the guest's qm start activates them again itself. */
			bool act = lvm_chain(d) && lvm_chain_activate(p, d, true) == 0;
			/* No repair pass: the volumes are Proxmox's (pvesm alloc), never
			 * created with lazy_refcounts. */
			imgcheck_qcow2(imgcheck_remote_run, p->r, d->path, false, res[i].checks);
			if (act)
				lvm_chain_activate(p, d, false);
		}
		if (d->vg[0])
			check_lvm(p, d, res[i].checks);
		if (d->dataset[0])
			check_zfs(p, d, res[i].checks);
	}
	return guest_check(n, job, res);
}

/* Close's last look for what a snapshot left outside its volume (snap_residue):
 * an LV is removed if lvs still lists it (logged, it should have gone), a file
 * removed if there. */
static void residue_remove(struct ppriv *p, const struct pdisk *d, const char *path)
{
	if (!strcmp(d->stype, "lvm") || !strcmp(d->stype, "lvmthin")) {
		char lv[sizeof(d->vg) + PATH_MAX];
		snprintf(lv, sizeof(lv), "%s/%s", d->vg, strrchr(path, '/') + 1);
		const char *lvs[] = { "lvs", "--reportformat", "json", "-o", "lv_name", lv, NULL };
		const char *lvremove[] = { "lvremove", "-y", lv, NULL };
		if (prun0(p, lvs, true) == 0) {
			pc_warn(LOG_NODE, "the snapshot '%s' of disk '%s' outlived its volume: removed",
				lv, d->cfg->name);
			prun0(p, lvremove, false);
		}
	} else {
		const char *rmb[] = { "rm", "-f", "--", path, NULL };
		prun0(p, rmb, false);
	}
}

/* Scenario step snapshot: `qm snapshot VMID pc-snapN`, N counting this VM's snapshots
 * (the campaign opens the node, so a new VM, every cycle: the names never meet an
 * older snapshot; the cycle's record says which cycle). qm takes every disk
 * of the VM (qemu-server QemuConfig snapshot_create, __snapshot_create_vol_snapshot):
 * of a stopped VM through the storage (pve-storage volume_snapshot: lvcreate -n
 * snap_LV_SNAP -pr -s VG/LV on LVM-thin, qemu-img snapshot -c inside a qcow2 file,
 * a new overlay under the volume's name on a volume-chain storage); of a running one
 * through QMP (QemuServer.pm qemu_volume_snapshot: blockdev-snapshot-internal-sync
 * for qcow2 files, blockdev_external_snapshot for volume chains, the storage for
 * the rest). No --vmstate: the guest's RAM is not saved. A disk qm cannot snapshot
 * (raw on a directory or plain LVM) makes it fail as a whole, and so the step. */
static int proxmox_snapshot(struct node *n)
{
	struct ppriv *p = n->priv;
	char name[24], status[32] = "", why[512], disks[512] = "";
	const char *argv[] = { "qm", "snapshot", p->vmid_s, name, "--description",
			       "powercut: scenario step snapshot", NULL };
	struct child_result res = { 0 };
	bool locked;
	size_t off = 0;
	int rc;

	if (!p->vm_created)
		return -ESRCH;
	void *grown = realloc(p->snaps, (p->n_snaps + 1) * sizeof(*p->snaps));
	if (!grown)
		return -ENOMEM;
	p->snaps = grown;
	snprintf(name, sizeof(name), "pc-snap%zu", p->n_snaps + 1);
	if ((rc = vm_status(p, status, sizeof(status), &locked)) < 0)
		return rc;
	/* From here on the snapshot may exist, even half made: close must look for it. */
	snprintf(p->snaps[p->n_snaps++], sizeof(*p->snaps), "%s", name);
	int64_t t = clock_mono_ms();
	rc = prun(p, argv, NULL, true, &res);
	int64_t ms = clock_mono_ms() - t;
	pc_last_line(rc < 0 ? res.err : res.out, why, sizeof(why));
	if (!p->snap_log)
		p->snap_log = json_array();
	json_array_append_new(p->snap_log, json_pack("{s:s,s:s,s:I,s:b,s:s}", "name", name,
		"vm_status", status, "ms", (json_int_t)ms, "ok", rc == 0, "qm", res.out ? res.out : ""));
	if (rc < 0) {
		for (size_t i = 0; i < p->n; i++)
			off += (size_t)snprintf(disks + off, off < sizeof(disks) ? sizeof(disks) - off : 0,
						"%s'%s' (%s)", i ? ", " : "", p->d[i].cfg->name,
						p->d[i].volid);
		pc_err(LOG_NODE, "scenario step 'snapshot': 'qm snapshot %ld %s' of the %s VM failed "
		       "on '%s' (disks %s): %s", p->vmid, name, status, remote_name(p->r), disks,
		       *why ? why : strerror(-rc));
	} else {
		pc_info(LOG_NODE, "node '%s': snapshot '%s' of the %s VM %ld taken (%" PRId64
			" ms)", remote_name(p->r), name, status, p->vmid, ms);
	}
	child_result_release(&res);
	/* A volume chain's disk is now Proxmox's overlay, with Proxmox's qcow2 options,
	 * which label the results from here on: read back as after the base's snapshot. */
	for (size_t i = 0; rc == 0 && i < p->n; i++)
		if (vol_chain(&p->d[i]))
			return chain_locate(p);
	return rc;
}

/* Cut kind reset and step reboot: not built for Proxmox. qm reset is QMP
 * system_reset (QemuServer.pm vm_reset), but the guest would boot its write job
 * again from the VM's args; qm reboot is a shutdown after which qmeventd starts a
 * new QEMU (vm_reboot, create_reboot_request), so what QEMU cached would not live on
 * as the step means. */
static int proxmox_reset(struct node *n, bool clean)
{
	pc_err(LOG_NODE, "node driver 'proxmox' does not support %s yet: %s", clean ?
	       "scenario step 'reboot'" : "cut kind 'reset'", clean ?
	       "qm reboot stops QEMU and starts a new one, so QEMU's cache would not live on" :
	       "after qm reset the guest would boot its write job again");
	return -ENOTSUP;
}

static void proxmox_close(struct node *n)
{
	struct ppriv *p = n->priv;
	char status[32] = "";
	bool locked = false;

	if (!p)
		return;
	nodefio_release(&p->fio);
	if (p->vm_created) {
		const char *unlock[] = { "qm", "unlock", p->vmid_s, NULL };
		const char *stop[] = { "qm", "stop", p->vmid_s, NULL };
		const char *destroy[] = { "qm", "destroy", p->vmid_s, "--purge", "1",
					  "--destroy-unreferenced-disks", "1", NULL };
		if (vm_status(p, status, sizeof(status), &locked) == 0 && locked)
			prun0(p, unlock, false);
		if (!strcmp(status, "running"))
			prun0(p, stop, false);
		if (prun0(p, destroy, false) == -EBUSY && prun0(p, unlock, false) == 0)
			prun0(p, destroy, false);
	}
	/* Volumes that qm destroy did not take (not attached yet, or it failed). */
	for (size_t i = 0; i < p->n; i++) {
		struct pdisk *d = &p->d[i];
		if (!d->created)
			continue;
		char url[512], vol[sizeof(d->volid)];
		const char *list[] = { "pvesh", "get", url, "--vmid", p->vmid_s, "--output-format",
				       "json", NULL };
		json_t *c, *e;
		size_t k;
		bool present = false;
		snprintf(url, sizeof(url), "/nodes/%s/storage/%s/content", p->node, d->storage);
		if (prun_json(p, list, &c) < 0) {
			pc_warn(LOG_NODE, "volume '%s' on '%s' may be left behind", d->filename,
				d->storage);
			continue;
		}
		json_array_foreach(c, k, e) {
			const char *v = json_string_value(json_object_get(e, "volid"));
			size_t vl = v ? strlen(v) : 0, fl = strlen(d->filename);
			if (vl > fl && !strcmp(v + vl - fl, d->filename)) {
				present = true;
				snprintf(vol, sizeof(vol), "%s", v);
			}
		}
		json_decref(c);
		if (present) {
			const char *freev[] = { "pvesm", "free", vol, NULL };
			prun0(p, freev, false);
		}
	}
	/* A chain's base is freed with its overlay, but it is not in the storage's content
	 * list: look for it by name, so that a failed destroy never leaves it behind. */
	for (size_t i = 0; p->snapped && i < p->n; i++)
		if (p->d[i].created && p->d[i].base_path[0])
			residue_remove(p, &p->d[i], p->d[i].base_path);
	/* So are the scenario's snapshots (qemu-server's destroy_vm and pvesm free call
	 * vdisk_free: LvmThinPlugin free_image removes snap_LV_* first, a chain's plugin
	 * its snapshot volumes): the same last look for each. */
	for (size_t k = 0; k < p->n_snaps; k++)
		for (size_t i = 0; i < p->n; i++) {
			char res[PATH_MAX];
			if (p->d[i].created && snap_residue(&p->d[i], p->snaps[k], res, sizeof(res)))
				residue_remove(p, &p->d[i], res);
		}
	if (p->kernel[0]) {
		const char *rm[] = { "rm", "-rf", p->rdir, NULL };
		prun0(p, rm, false);
	}
	remote_ledger_close(p->r, &p->ledger);
	for (size_t i = 0; i < p->n; i++) {
		json_decref(p->d[i].qopts);
		json_decref(p->d[i].zprops);
		for (size_t k = 0; k < p->d[i].n_drives; k++)
			json_decref(p->d[i].smart_before[k]);
	}
	json_decref(p->events);
	json_decref(p->snap_log);
	free(p->snaps);
	guest_console_release(&p->con);
	remote_close(p->r);
	free(p);
	n->priv = NULL;
}

static json_t *proxmox_collect(struct node *n)
{
	struct ppriv *p = n->priv;
	json_t *j = json_pack("{s:s,s:I,s:i}", "node", p->node, "vmid", (json_int_t)p->vmid,
			      "boots", p->boots);
	json_t *vols = json_array();

	for (size_t i = 0; i < p->n; i++)
	{
		json_t *v = json_pack("{s:s,s:s,s:s,s:s}", "disk", p->d[i].cfg->name,
			"volid", p->d[i].volid, "path", p->d[i].path, "storage_type", p->d[i].stype);
		if (p->d[i].base_path[0])
			json_object_set_new(v, "base_path", json_string(p->d[i].base_path));
		/* The volume's own qcow2 options (qemu-img info), which label its results. */
		if (p->d[i].qopts)
			json_object_set(v, "qcow2", p->d[i].qopts);
		/* The zvol's dataset and properties (zfs get), and the storage's options. */
		if (p->d[i].n_drives) {
			json_t *dr = json_array();
			for (size_t k = 0; k < p->d[i].n_drives; k++)
				json_array_append_new(dr, json_string(p->d[i].drives[k]));
			json_object_set_new(v, "drives", dr);
		}
		if (p->d[i].zprops)
			json_object_set_new(v, "zvol", json_pack("{s:s,s:s,s:b,s:O}", "dataset",
				p->d[i].dataset, "storage_blocksize", p->d[i].blocksize, "sparse",
				p->d[i].sparse, "properties", p->d[i].zprops));
		json_array_append_new(vols, v);
	}
	if (p->snapped)
		json_object_set_new(j, "snapshot", json_string(SNAP_NAME));
	/* The scenario's snapshots: name, the VM's state, how long, what qm printed. */
	if (p->snap_log)
		json_object_set(j, "scenario_snapshots", p->snap_log);
	if (p->boot_before[0])
		json_object_set_new(j, "boot", json_pack("{s:s,s:s?,s:b}", "boot_id_before",
			p->boot_before, "boot_id_after", p->boot_after[0] ? p->boot_after : NULL,
			"rebooted", p->boot_after[0] && strcmp(p->boot_before, p->boot_after)));
	json_object_set_new(j, "volumes", vols);
	if (p->ledger.node_port)
		json_object_set_new(j, "ledger_forward", remote_ledger_json(&p->ledger));
	json_object_set(j, "events", p->events ? p->events : json_null());
	if (p->fio.record)
		json_object_set(j, "fio", p->fio.record);
	return j;
}

/* ---- powercut doctor ---- */

/* The node's tools, each with the package that brings it; pveversion first, which
 * tells a Proxmox VE node from any other. */
static void doctor_tools(struct node *n, struct ppriv *p, const struct node_doctor *d)
{
	static const struct nd_tool tools[] = {
		{ "qemu", { "qemu-system-x86_64", "--version" }, "pve-qemu-kvm" },
		{ "qemu-img", { "qemu-img", "--version" }, "pve-qemu-kvm" },
		{ "lvm2", { "lvm", "version" }, "lvm2" },
		{ "thin-tools", { "thin_check", "-V" }, "thin-provisioning-tools" },
		{ "fio", { "fio", "--version" }, "fio" },
	};
	const char *pvev[] = { "pveversion", NULL };
	struct child_result res;
	char line[256];

	int rc = prun(p, pvev, NULL, true, &res);
	pc_last_line(res.out, line, sizeof(line));
	if (rc == 0 && line[0])
		nd_add(d, "pveversion", NODE_DR_OK, NULL, "%s", line);
	else
		nd_add(d, "pveversion", NODE_DR_FAIL, "point [node] host at a Proxmox VE node, or "
		       "use [node] driver = qemu for plain QEMU over ssh", "'pveversion' does not "
		       "run on '%s': not a Proxmox VE node", remote_name(p->r));
	child_result_release(&res);
	/* fio only when the bench runs it beside the VM. */
	nd_tools(d, p->r, tools, sizeof(tools) / sizeof(tools[0]) - (n->cfg->node->fio ? 0 : 1));
}

/* Each disk's storage: it exists, fits the disk (the rules prepare applies) and has
 * room for it, counting every disk on the same storage (and on plain LVM, the chain
 * disk's overlay as big again: qm snapshot allocates a second LV). */
static void doctor_storages(struct ppriv *p, const struct node_doctor *d)
{
	char why[512], url[512], fix[512];

	for (size_t i = 0; i < p->n; i++) {
		struct pdisk *dk = &p->d[i];
		char check[64];
		snprintf(check, sizeof(check), "storage %s", dk->cfg->name);
		int rc = storage_fits(p, dk, true, why, sizeof(why));
		if (rc < 0) {
			/* The why ends in what to do; the fix repeats it as one line. */
			const char *colon = strrchr(why, ':');
			snprintf(fix, sizeof(fix), "%s", colon ? colon + 2 : why);
			nd_add(d, check, NODE_DR_FAIL, fix, "%.*s", colon ? (int)(colon - why) :
			   (int)strlen(why), why);
			continue;
		}
		uint64_t need = 0;
		for (size_t k = 0; k < p->n; k++)
			if (!strcmp(p->d[k].storage, dk->storage))
				need += p->d[k].cfg->size * (is_chain(p->d[k].cfg) &&
							     !strcmp(dk->stype, "lvm") ? 2 : 1);
		snprintf(url, sizeof(url), "/nodes/%s/storage/%s/status", p->node, dk->storage);
		const char *st[] = { "pvesh", "get", url, "--output-format", "json", NULL };
		json_t *j;
		if (prun_json_q(p, st, true, &j) < 0) {
			nd_add(d, check, NODE_DR_WARN, "check `pvesm status` on the node",
			   "storage '%s' fits disk '%s', but its status cannot be read", dk->storage,
			   dk->cfg->name);
			continue;
		}
		uint64_t avail = (uint64_t)json_integer_value(json_object_get(j, "avail"));
		bool active = pve_bool(json_object_get(j, "active"));
		json_decref(j);
		if (!active) {
			snprintf(fix, sizeof(fix), "on the node: `pvesm status --storage %s`; enable and "
				 "activate it", dk->storage);
			nd_add(d, check, NODE_DR_FAIL, fix, "storage '%s' is not active on node '%s'",
			   dk->storage, p->node);
		} else if (avail < need) {
			nd_add(d, check, NODE_DR_FAIL, "free space on the storage, or make the disks smaller",
			   "storage '%s' has %" PRIu64 " MiB free, the bench's disks on it need %"
			   PRIu64 " MiB", dk->storage, avail >> 20, need >> 20);
		} else if (dk->cfg->format == DISK_ZVOL && !dk->blocksize[0]) {
			/* Nothing tells ZFS's default volblocksize before a zvol exists. */
			snprintf(fix, sizeof(fix), "`pvesm set %s --blocksize %" PRIu64 "k` pins it to "
				 "the bench's", dk->storage, dk->cfg->volblocksize >> 10);
			nd_add(d, check, NODE_DR_WARN, fix, "storage '%s' (zfspool '%s') fits disk '%s', "
			   "but sets no blocksize: its zvols get ZFS's default volblocksize (16K since "
			   "OpenZFS 2.2, 8K before), checked only after creation; %" PRIu64 " MiB "
			   "free, %" PRIu64 " MiB needed", dk->storage, dk->pool, dk->cfg->name,
			   avail >> 20, need >> 20);
		} else if (dk->cfg->format == DISK_ZVOL) {
			nd_add(d, check, NODE_DR_OK, NULL, "storage '%s' (zfspool '%s', blocksize %s, %s) "
			   "fits disk '%s' (volblocksize %" PRIu64 "K); %" PRIu64 " MiB free, %" PRIu64
			   " MiB needed", dk->storage, dk->pool, dk->blocksize, dk->sparse ? "sparse" :
			   "reserved", dk->cfg->name, dk->cfg->volblocksize >> 10, avail >> 20,
			   need >> 20);
		} else {
			nd_add(d, check, NODE_DR_OK, NULL, "storage '%s' (%s) fits disk '%s' (%s, "
			   "preallocation %s); %" PRIu64 " MiB free, %" PRIu64 " MiB needed",
			   dk->storage, dk->stype, dk->cfg->name, dk->fmt, dk->prealloc, avail >> 20,
			   need >> 20);
		}
	}
}

/* Each zfspool storage the bench uses, once: its pool is ONLINE (zpool list; a
 * degraded, faulted or suspended pool is not the stack the bench means to measure),
 * and the `sync` of the dataset the zvols are made in, which they inherit: the driver
 * sets the bench's sync on its own zvol, but sync=disabled there means every other
 * zvol of the node acknowledges flushes it has not written, and promises nothing
 * after a power loss. */
static void doctor_zpools(struct ppriv *p, const struct node_doctor *d)
{
	char check[64], fix[512], pool[128];

	for (size_t i = 0; i < p->n; i++) {
		struct pdisk *dk = &p->d[i];
		bool seen = false;
		if (strcmp(dk->stype, "zfspool") || !dk->pool[0])
			continue;
		for (size_t k = 0; k < i; k++)
			seen |= !strcmp(p->d[k].storage, dk->storage);
		if (seen)
			continue;
		snprintf(pool, sizeof(pool), "%.*s", (int)strcspn(dk->pool, "/"), dk->pool);
		snprintf(check, sizeof(check), "zpool %s", dk->storage);
		const char *list[] = { "zpool", "list", "-H", "-o", "health", pool, NULL };
		const char *sync[] = { "zfs", "get", "-H", "-o", "value", "sync", dk->pool, NULL };
		struct child_result res;
		char health[32] = "", val[32] = "";
		if (prun(p, list, NULL, true, &res) == 0)
			pc_last_line(res.out, health, sizeof(health));
		child_result_release(&res);
		snprintf(fix, sizeof(fix), "on the node: `zpool status -v %s`; bring back or replace "
			 "the failed device before measuring", pool);
		if (!strcmp(health, "ONLINE"))
			nd_add(d, check, NODE_DR_OK, NULL, "pool '%s' of storage '%s' is ONLINE", pool,
			       dk->storage);
		else
			nd_add(d, check, NODE_DR_FAIL, fix, "pool '%s' of storage '%s' is %s", pool,
			       dk->storage, health[0] ? health : "not imported");
		snprintf(check, sizeof(check), "zfs-sync %s", dk->storage);
		if (prun(p, sync, NULL, true, &res) == 0)
			pc_last_line(res.out, val, sizeof(val));
		child_result_release(&res);
		snprintf(fix, sizeof(fix), "on the node: `zfs set sync=standard %s`, unless this "
			 "node's guests may lose what they flushed", dk->pool);
		if (!val[0])
			nd_add(d, check, NODE_DR_WARN, "check `zfs get sync` on the node", "the sync "
			       "property of '%s' cannot be read", dk->pool);
		else if (!strcmp(val, "disabled"))
			nd_add(d, check, NODE_DR_WARN, fix, "SYNC=DISABLED on '%s': every zvol under it "
			       "acknowledges flushes it has not written and promises nothing after a "
			       "power loss (the test zvol gets the bench's sync = %s)", dk->pool,
			       zfs_sync_names[dk->cfg->zfs_sync]);
		else
			nd_add(d, check, NODE_DR_OK, NULL, "'%s' has sync=%s (the test zvol gets the "
			       "bench's sync = %s)", dk->pool, val, zfs_sync_names[dk->cfg->zfs_sync]);
	}
}

/* The VMID must be free in the whole cluster: qm create would refuse it, and the
 * driver never touches a VM it did not create. */
static void doctor_vmid(struct ppriv *p, const struct node_doctor *d)
{
	const char *argv[] = { "pvesh", "get", "/cluster/resources", "--type", "vm",
			       "--output-format", "json", NULL };
	json_t *j, *e;
	size_t i;

	if (prun_json_q(p, argv, true, &j) < 0) {
		nd_add(d, "vmid", NODE_DR_FAIL, "check `pvesh get /cluster/resources` on the node",
		   "the cluster's VMs cannot be listed");
		return;
	}
	json_array_foreach(j, i, e) {
		if (json_integer_value(json_object_get(e, "vmid")) != p->vmid)
			continue;
		nd_add(d, "vmid", NODE_DR_FAIL, "choose a free [node] vmid (`pvesh get /cluster/nextid` "
		   "proposes one)", "VMID %ld is in use: %s '%s' on node '%s'", p->vmid,
		   json_string_value(json_object_get(e, "type")) ?: "guest",
		   json_string_value(json_object_get(e, "name")) ?: "",
		   json_string_value(json_object_get(e, "node")) ?: "");
		json_decref(j);
		return;
	}
	json_decref(j);
	nd_add(d, "vmid", NODE_DR_OK, NULL, "VMID %ld is free", p->vmid);
}

/* One real cut: the node must come back by itself (its BIOS powers it on when AC
 * returns) within the boot deadline, with a new boot_id and pmxcfs mounted. */
static void doctor_cut(struct node *n, struct ppriv *p, const struct node_doctor *d)
{
	int64_t timeout = n->cfg->campaign->boot_timeout_ms, t0, up;
	char fix[160];

	if (nd_cut(d, p->r, timeout, &t0, &up) < 0)
		return;
	int rc = p->node[0] ? wait_pmxcfs(p, t0 + timeout) : 0;
	int64_t all = clock_mono_ms() - t0;
	snprintf(fix, sizeof(fix), "raise [campaign] boot_timeout above %" PRId64 " s",
		 all * 2 / 1000 + 1);
	nd_add(d, "boot", rc < 0 ? NODE_DR_FAIL : all * 10 > timeout * 8 ? NODE_DR_WARN :
	       NODE_DR_OK, rc < 0 ? "see `journalctl -u pve-cluster` on the node" : fix,
	       "the node came back by itself: ssh after %.1f s, /etc/pve after %.1f s "
	       "(boot_timeout %" PRId64 " s)", up / 1000.0, all / 1000.0, timeout / 1000);
}

static int proxmox_doctor(struct node *n, const struct node_doctor *d)
{
	struct ppriv *p = n->priv;
	const struct cfg_node *cn = n->cfg->node;
	char guest[PATH_MAX];

	if (cn->guest)
		snprintf(guest, sizeof(guest), "%s", cn->guest);
	else
		snprintf(guest, sizeof(guest), "%s/../guest", n->env.bin_dir);
	nd_guest(d, guest);
	if (nd_ssh(d, p->r) < 0)
		return 0;	/* nothing more can be learnt */
	doctor_tools(n, p, d);
	if (find_node_name(n, p) < 0) {
		nd_add(d, "pve-node", NODE_DR_FAIL, "set [node] pve_node to the node's name",
		       "no local node in the cluster status of '%s'", remote_name(p->r));
		return 0;
	}
	nd_add(d, "pve-node", NODE_DR_OK, NULL, "node '%s'", p->node);
	doctor_storages(p, d);
	doctor_zpools(p, d);
	doctor_vmid(p, d);
	if (d->cut)
		doctor_cut(n, p, d);
	return 0;
}

/* Keys of [node] only this driver reads (config.h, "Drivers own their keys"). */
static const struct opt_def proxmox_options[] = {
	{ "vmid", OPT_INT, NODE_CFG(vmid), "9000", 100, 999999999, NULL,
	  "proxmox: id of the test VM the driver creates and destroys (must be free).", 0 },
	{ "pve_node", OPT_STRING, NODE_CFG(pve_node), NULL, OPT_NOLIMIT, NULL,
	  "proxmox: the node's name in the cluster; unset: the local node of /cluster/status.", 0 },
	{ "storages", OPT_LIST, NODE_CFG(storages), "local-lvm", OPT_NOLIMIT, NULL,
	  "proxmox: storage of the disks under test: STORAGE for all, or DISK=STORAGE words "
	  "(LVM-thin for lvmthin disks; directory or LVM with snapshots as volume chain for "
	  "qcow2; directory for raw).", 0 },
	{ "smart", OPT_BOOL, NODE_CFG(smart), "yes", OPT_NOLIMIT, NULL,
	  "proxmox: record smartctl of the physical drives under each disk's storage (a "
	  "zfspool's vdevs, an LVM volume group's PVs) before and after every cycle.", 0 },
	NODE_OPTS_REMOTE_VM,
	{ 0 }
};

/* node_ops.watch while the cycle waits for the workload: two ssh commands (the
 * console read so far, the VM's state), so at most every proxmox_watch_ms (tests
 * shorten it, as the console poll). A console that shows the kernel's panic, or a VM
 * that is no longer running (its QEMU ended: the guest powered off, or QEMU died), is
 * a dead node. No silence limit: a remote node's boot times were never measured here
 * (guest.h, static_net). */
int proxmox_watch_ms = 2000;

static int proxmox_watch(struct node *n)
{
	struct ppriv *p = n->priv;
	struct node_death d = { 0 };
	char status[32] = "", who[200];
	bool locked, alive;
	int64_t now = clock_mono_ms();

	if (!p->started || now < p->watch_next)
		return 0;
	p->watch_next = now + proxmox_watch_ms;
	snprintf(who, sizeof(who), "the guest of VM %ld on '%s'", p->vmid, remote_name(p->r));
	con_poll(p, &p->con, &alive);
	if (guest_console_dead(&p->con, 0, who, &d))
		return node_died(n, &d);
	/* An ssh or pvesh that fails says nothing of the VM: alive, as far as we know. */
	if (vm_status_q(p, status, sizeof(status), &locked, true) < 0 || !strcmp(status, "running"))
		return 0;
	d.life = NODE_LIFE_STOPPED;
	snprintf(d.what, sizeof(d.what), "VM %ld on '%s' is %s (pvesh .../status/current) at "
		 "stage '%s'; its console is '%.600s' on the node", p->vmid, remote_name(p->r),
		 status[0] ? status : "in no state", p->con.stage[0] ? p->con.stage : "kernel",
		 p->console);
	return node_died(n, &d);
}

const struct node_ops node_proxmox_ops = {
	.version = NODE_OPS_VERSION,
	.name = "proxmox",
	.help = "a Proxmox VE node over ssh: pvesm volumes, a qm test VM booting the guest",
	.options = proxmox_options,
	.open = proxmox_open,
	.close = proxmox_close,
	.prepare = proxmox_prepare,
	.start_workload = proxmox_start_workload,
	.power_lost = proxmox_power_lost,
	.power_back = proxmox_power_back,
	.wait_up = proxmox_wait_up,
	.check = proxmox_check,
	.collect = proxmox_collect,
	.doctor = proxmox_doctor,
	.snapshot = proxmox_snapshot,
	.reset = proxmox_reset,
	.watch = proxmox_watch,
};
