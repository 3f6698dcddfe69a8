/* Node drivers: the storage node under test, behind one ops table (one file per
 * driver, listed in the static table in node.c and validated there: version and
 * required hooks). Each driver carries the table of the [node] keys only it reads;
 * the bench's [node] driver names one by name or alias. The drivers:
 *   qemu.c         `qemu`, the local simulated node (fast tier: qemu-storage-daemon
 *                  and the agent over NBD; full tier: the TCG guest); driver = sim
 *                  names it too;
 *   qemu_remote.c  `qemu-remote`, the guest on a Linux/KVM host's own QEMU over ssh
 *                  ([node] driver = qemu with host set);
 *   proxmox.c      `proxmox`, the guest in a VM of a Proxmox VE node over ssh;
 *   null.c         `null`, a recording driver for tests of the cycle's steps.
 * What they share: guest.h (the guest's command line, QEMU's arguments, the console
 * wait), console.h (the console's events), imgcheck.h (the qcow2 check record),
 * remote.h (commands on a node over ssh), nodefio.h, nodedoctor.h, power.h (the
 * simulated node's power domain).
 *
 *   struct node *n = node_open(cfg, &env);        // nothing runs yet
 *   node_prepare(n);                              // disks created, node powered
 *   node_start_workload(n, &job);                 // the agent writes (baseline first)
 *   node_watch(n);                                // while waiting: -EOWNERDEAD if it died
 *   ... the power domain cuts: node_power_lost(n, CUT_POWER) from any thread ...
 *   node_power_back(n, &job);                     // after the boot delay: boots
 *   node_wait_up(n, timeout_ms);
 *   node_check(n, &job, results);                 // metadata checks + agent check
 *   node_close(n);                                // kills everything, removes files
 *
 * One cycle's calls are made by one thread; node_power_lost may come from the power
 * domain's thread (node_power.h) while that thread waits: the node serialises hooks
 * with its own lock. Functions return 0 or a negative errno and log why (LOG_NODE).
 */
#ifndef PC_NODE_H
#define PC_NODE_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "config.h"
#include "log.h"

/* 2: the ops carry their own option table and the names that select them. */
#define NODE_OPS_VERSION 2
#define NODE_MAX_DISKS 8

/* What the host tells the node for a cycle's workload and check. */
struct node_job {
	uint64_t campaign;
	uint32_t cycle;
	const char *token;		/* the campaign's ledger token */
	const char *ledger_host;	/* how the node reaches the ledger (127.0.0.1, 10.0.2.2) */
	uint16_t ledger_port;
	uint64_t seed;
	bool baseline;			/* write and flush the baseline first */
	/* The workload of this job, or NULL: the bench's [workload] (a scenario's write
	 * may set its own keys; the qemu driver honours them). */
	const struct cfg_workload *workload;
	/* Called (may be NULL) right before the node starts an agent session of `cycle`
	 * (a backing chain's baseline is written as cycle - 1, then the cycle itself), so
	 * that the host's ledger accepts that cycle. */
	void (*cycle_begins)(void *arg, uint32_t cycle);
	void *cb_arg;
};

/* One disk's results after a cut. Owned by the caller; node_disk_result_release. */
struct node_disk_result {
	const char *disk;		/* [disk NAME] (points into the config) */
	uint32_t id;			/* the agent's disk id (1-based, config order) */
	/* metadata checks: one JSON object per check, {"kind", "result", ...} */
	json_t *checks;			/* array */
	char *report_path;		/* the agent's check report (JSON lines), or NULL */
	int agent_rc;			/* the agent check's exit status, -1 if not run */
};

struct node;

/* powercut doctor: a driver's bring-up checks, each reported once through add()
 * (check name, status, what was found, and for warn/fail a one-line fix). cut(),
 * NULL unless the doctor was asked for a real cut, cuts the node's power once and
 * returns when the relay has it powered again (0 or a negative errno). */
enum node_dr_status { NODE_DR_OK, NODE_DR_WARN, NODE_DR_FAIL };

struct node_doctor {
	void (*add)(void *arg, const char *check, enum node_dr_status st, const char *found,
		    const char *fix);
	int (*cut)(void *arg);
	void *arg;
};

struct node_ops {
	unsigned version;		/* NODE_OPS_VERSION */
	const char *name;
	const char *help;
	/* The [node] keys only this driver reads (NULL: none), stored in struct cfg_node
	 * (NODE_CFG), and the [node] driver values that select it (NULL-terminated; NULL:
	 * its name): "sim" and "qemu" name the local qemu driver, "qemu" with host
	 * qemu-remote (node_open). */
	const struct opt_def *options;
	const char *const *names;
	/* Required. */
	int (*open)(struct node *n);		/* allocate n->priv; nothing runs */
	void (*close)(struct node *n);		/* kill everything, remove files, free priv */
	int (*prepare)(struct node *n);		/* create the disks and power the node */
	int (*start_workload)(struct node *n, const struct node_job *job);
	/* The power domain: DC lost (CUT_POWER: every node process dies at once;
	 * CUT_KILL: only QEMU). Must be quick and must not block on the node. */
	int (*power_lost)(struct node *n, int cut);
	/* DC back, boot delay over: boot the node (it comes up to check the job). */
	int (*power_back)(struct node *n, const struct node_job *job);
	int (*wait_up)(struct node *n, int timeout_ms);
	/* Metadata checks and the agent's check of every disk, into res[n_disks]. */
	int (*check)(struct node *n, const struct node_job *job, struct node_disk_result *res);
	/* Optional: what the node logged, for the record (a JSON object). */
	json_t *(*collect)(struct node *n);
	/* Optional: the bring-up checks of powercut doctor, read-only unless d->cut is
	 * set; called on an opened node instead of prepare. 0, or a negative errno when
	 * the checks could not run at all (each problem is reported through d). */
	int (*doctor)(struct node *n, const struct node_doctor *d);
	/* Optional, for scenarios (NULL: the step is not supported, -ENOTSUP): write every
	 * disk's baseline (job->cycle - 1, every block once, flushed) while the node is
	 * up; take an external snapshot of every qcow2 disk as Proxmox's volume chain
	 * makes it (the current image becomes the read-only backing file of a new overlay
	 * with the same options); other disks are left as they are. */
	int (*fill)(struct node *n, const struct node_job *job);
	int (*snapshot)(struct node *n);
	/* Optional: the cut kind reset, QEMU's system reset (clean false: the guest's
	 * software stops at once), or a clean guest reboot (clean true: the workload is
	 * told to stop and ends its writes); either way the guest starts again while QEMU
	 * (and what it caches) and the host live on. Returns once it was done. */
	int (*reset)(struct node *n, bool clean);
	/* Optional: the running workload finishes: no new writes, one flush covering
	 * every acknowledged write, its session ends. Returns at once; the ledger sees
	 * the flush. */
	int (*flush)(struct node *n);
	/* Optional: is the node still alive? Asked about every NODE_WATCH_MS while the
	 * cycle waits for the workload to start on every disk (node_watch); a driver's
	 * own waits (the boot's ready, the check's done) ask the same of themselves.
	 * Cheap and never blocking: what the driver can see at once (its QEMU's process,
	 * the console read so far, a VM's state at most every few seconds). 0 while
	 * alive or when it cannot tell (slow is alive); a node that died returns
	 * node_died(n, &death) (-EOWNERDEAD). NULL: nothing is watched. */
	int (*watch)(struct node *n);
};

/* What a watched node died of (node_died); one name table, node_life_name. */
#define NODE_LIVES(X) \
	X(ALIVE, "alive") \
	X(EXITED, "exited")		/* its QEMU (or VM, or workload) ended: code = exit status */ \
	X(KILLED, "killed")		/* ... killed by signal code */ \
	X(PANICKED, "panicked")		/* the guest's kernel panicked (its console says so) */ \
	X(SILENT, "silent")		/* the console said nothing for the silence limit */ \
	X(STOPPED, "stopped")		/* the VM is not running (Proxmox's VM state), or a \
					 * remote QEMU is gone (how it ended is not known) */

enum node_life {
#define X(id, name) NODE_LIFE_##id,
	NODE_LIVES(X)
#undef X
	NODE_LIFE__COUNT
};

struct node_death {
	enum node_life life;
	int code;			/* EXITED: exit status; KILLED: signal; SILENT: seconds */
	char what[1024];		/* what died and how, one line (and the console's last
					 * lines for a panic), as logged */
};

#define NODE_WATCH_MS 200

/* Where things are on the host. */
struct node_env {
	const char *bin_dir;		/* build/bin: agents, and ../guest, ../lib */
	const char *work_dir;		/* a private directory for images, logs, reports */
	/* Where [disk] keep = yes disks live across cycles (one subdirectory each): the
	 * campaign's, outliving every cycle; its last component names the remote driver's
	 * on the node. NULL: no disk is kept (a kept disk is then refused). */
	const char *keep_dir;
	/* Where disks with [disk] record = yes keep their recordings: one directory per
	 * disk, named after it, under this one (docs/explore.md). NULL: none recorded. */
	const char *record_dir;
};

struct node {
	const struct node_ops *ops;
	const struct bench_config *cfg;
	struct node_env env;
	void *priv;
	/* private to node.c */
	void *lock;
	bool powered;
	int64_t lost_ns, back_ns;	/* host monotonic: last DC lost / node booted */
	struct node_death death;	/* node_died's, until node_close */
};

extern const struct node_ops *const node_drivers[];

/* An option row's field in struct cfg_node. */
#define NODE_CFG(field) offsetof(struct cfg_node, field)
/* The test VM on a remote host: keys of qemu-remote and of proxmox, declared alike. */
#define NODE_OPTS_REMOTE_VM \
	{ "remote_dir", OPT_STRING, NODE_CFG(remote_dir), "/var/lib/powercut", OPT_NOLIMIT, \
	  NULL, "Remote node: directory for the guest kernel, initramfs and consoles.", 0 }, \
	{ "memory", OPT_INT, NODE_CFG(memory_mib), "1024", 256, 1 << 20, NULL, \
	  "proxmox and qemu on a remote host: memory of the test VM in MiB.", 0 }, \
	{ "cores", OPT_INT, NODE_CFG(cores), "2", 1, 256, NULL, \
	  "proxmox and qemu on a remote host: CPU cores of the test VM.", 0 }

/* The console's silence limit (node_ops.watch): keys of qemu (full tier) and of
 * qemu-remote, declared alike. */
#define NODE_OPT_CONSOLE_SILENCE \
	{ "console_silence", OPT_DURATION, NODE_CFG(silence_ms), "60s", 0, 3600000, NULL, \
	  "qemu, full tier (on this host or a remote one): a guest whose console says " \
	  "nothing this long while the cycle waits for its next word (the workload's start; " \
	  "on this host also the boot's ready) hangs: the cycle fails at once, naming the " \
	  "stage; 0: only the boot timeout ends the wait. QEMU's end and a kernel panic end " \
	  "it at once either way.", 0 }

/* A node driver table as the bench loader sees it (struct bench_drivers .node). */
#define NODE_OPT_DRIVERS(table) { (const void *const *)(table), \
	offsetof(struct node_ops, name), offsetof(struct node_ops, options), \
	offsetof(struct node_ops, names) }
/* The drivers of table alone, for a program (a test) that opens no relay. */
#define NODE_BENCH_DRIVERS(table) ((const struct bench_drivers){ .node = NODE_OPT_DRIVERS(table) })

/* Check an ops table: version and required hooks. 0 or -EINVAL (logged). */
int node_ops_validate(const struct node_ops *ops);
/* Check a driver table as it is registered: every ops table valid, every name once,
 * their option tables consistent. 0 or -EINVAL (logged). */
int node_drivers_check(const struct node_ops *const *table);
/* The driver called name ("sim": qemu); NULL with errno ENOENT, logged with the names
 * there are, or EINVAL for a broken table. */
const struct node_ops *node_ops_find(const char *name);

/* Open the driver cfg->node->driver names ("sim" is the local qemu driver; "qemu" with
 * [node] host is qemu-remote). NULL with errno (logged). Nothing runs until
 * node_prepare. */
struct node *node_open(const struct bench_config *cfg, const struct node_env *env);
void node_close(struct node *n);

int node_prepare(struct node *n);
int node_start_workload(struct node *n, const struct node_job *job);
int node_power_lost(struct node *n, int cut);
int node_power_back(struct node *n, const struct node_job *job);
int node_wait_up(struct node *n, int timeout_ms);
/* res must hold cfg->n_disks entries; filled even on failure (release them). */
int node_check(struct node *n, const struct node_job *job, struct node_disk_result *res);
json_t *node_collect(struct node *n);
/* The driver's doctor checks; -ENOTSUP when it has none. */
int node_doctor(struct node *n, const struct node_doctor *d);
bool node_powered(struct node *n);
/* The scenario hooks (node_ops); -ENOTSUP (logged) when the driver has none,
 * -EHOSTDOWN when the node is not powered. */
int node_fill(struct node *n, const struct node_job *job);
int node_snapshot(struct node *n);
int node_reset(struct node *n, bool clean);
int node_flush(struct node *n);
/* The driver's watch (node_ops.watch): 0 alive (or no watch), -EOWNERDEAD when the
 * node died (logged once, node_death says what), -EHOSTDOWN when it is not powered.
 * From the cycle's thread while it waits on the node. */
int node_watch(struct node *n);
/* node_died, node_death and node_life_name are inline below (as node_check_add), so
 * that a driver's unit test links the driver alone. */

void node_disk_result_release(struct node_disk_result *r);
/* The campaign token never goes on a command line (any local user reads those in
 * /proc): a local agent finds it in its environment, a guest in a QEMU fw_cfg file
 * (the guest init hands the agent --token-file with its sysfs path). Inline, as
 * node_check_add below. */
#define NODE_TOKEN_ENV "POWERCUT_LEDGER_TOKEN"
#define NODE_TOKEN_FWCFG "opt/powercut/token"

/* "POWERCUT_LEDGER_TOKEN=TOKEN" for a local agent's child.env. 0 or -E2BIG. */
static inline int node_token_env(const struct node_job *job, char *buf, size_t len)
{
	int n = snprintf(buf, len, NODE_TOKEN_ENV "=%s", job->token ? job->token : "");
	return n < 0 || (size_t)n >= len ? -E2BIG : 0;
}

/* The token file's path in dir (DIR/ledger-token) and QEMU's "-fw_cfg" value naming
 * it, for a driver that writes the file itself (on a remote node). 0 or
 * -ENAMETOOLONG (also for a ',' in the path, which QEMU's syntax would need doubled). */
static inline int node_token_fwcfg_arg(const char *dir, char *path, size_t plen, char *arg,
				       size_t alen)
{
	int n = snprintf(path, plen, "%s/ledger-token", dir);
	if (n < 0 || (size_t)n >= plen)
		return -ENAMETOOLONG;
	n = snprintf(arg, alen, "name=" NODE_TOKEN_FWCFG ",file=%s", path);
	if (n < 0 || (size_t)n >= alen || strchr(path, ','))
		return -ENAMETOOLONG;
	return 0;
}

/* Write the token to DIR/ledger-token (mode 0600, replaced) and put QEMU's
 * "-fw_cfg" value for it in arg: "name=opt/powercut/token,file=DIR/ledger-token".
 * 0 or a negative errno. */
static inline int node_token_fwcfg(const struct node_job *job, const char *dir, char *arg,
				   size_t len)
{
	char path[4096];
	size_t tl = job->token ? strlen(job->token) : 0;
	int n = node_token_fwcfg_arg(dir, path, sizeof(path), arg, len);
	if (n < 0)
		return n;
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = write(fd, job->token, tl) == (ssize_t)tl ? 0 : -EIO;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	return rc;
}

/* The forgetful control is a part of the simulated disk model: a real-node driver
 * refuses it with a message naming the disk (true). Inline, as node_check_add, so that
 * a driver's unit test links the driver alone. */
static inline bool node_disk_refuse_forgetful(const struct cfg_disk *d, const char *driver)
{
	if (d->control == CONTROL_FORGETFUL)
		pc_err(LOG_NODE, "disk '%s': the forgetful control is a part of the simulated "
		       "disk model; node driver '%s' cannot run it", d->name, driver);
	return d->control == CONTROL_FORGETFUL;
}

/* A real-node driver that creates its disks again every cycle (proxmox) refuses a
 * kept disk, and the forgetful control (true, logged). */
static inline bool node_disk_refuse_kept(const struct cfg_disk *d, const char *driver)
{
	if (d->keep)
		pc_err(LOG_NODE, "disk '%s': keep = yes is not built for node driver '%s', which "
		       "creates its disks again every cycle; use the qemu driver", d->name, driver);
	return d->keep || node_disk_refuse_forgetful(d, driver);
}
/* A zvol built by the guest and a disk on an emulated NVMe or SATA drive are parts of
 * the local full tier (qemu.c): another driver refuses them (true, logged). A zvol on
 * a Proxmox zfspool storage is proxmox.c's own (docs/proxmox.md). */
static inline bool node_disk_refuse_full_tier(const struct cfg_disk *d, const char *driver)
{
	bool zvol = d->format == DISK_ZVOL, bus = d->bus != BUS_VIRTIO;

	if (zvol || bus)
		pc_err(LOG_NODE, "disk '%s': %s is built only for the local full tier (node driver "
		       "'qemu', tier = full); node driver '%s' cannot run it", d->name,
		       zvol ? "format = zvol" : "bus = nvme|sata", driver);
	return zvol || bus;
}
static inline const char *node_life_name(enum node_life l)
{
	static const char *const names[] = {
#define X(id, name) name,
		NODE_LIVES(X)
#undef X
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == NODE_LIFE__COUNT,
		       "one name per node_life");
	return (unsigned)l < NODE_LIFE__COUNT ? names[l] : "unknown";
}

/* For drivers: the node died as d says. Logs it (an error naming what died and how),
 * keeps it for node_death and returns -EOWNERDEAD, which the waits hand up as is: the
 * cycle fails at once, without the power cycles it gives a node that is not back. The
 * first death is the one that counts (a wait that goes on asking says it once). */
static inline int node_died(struct node *n, const struct node_death *d)
{
	if (n->death.life == NODE_LIFE_ALIVE && d->life != NODE_LIFE_ALIVE) {
		n->death = *d;
		pc_err(LOG_NODE, "the node died (%s): %s", node_life_name(d->life), d->what);
	}
	return -EOWNERDEAD;
}

/* How the node died, or NULL while no death was seen. Owned by the node. */
static inline const struct node_death *node_death(const struct node *n)
{
	return n->death.life == NODE_LIFE_ALIVE ? NULL : &n->death;
}

/* Append {"kind", "result"[, "detail"]} to a disk's checks array; takes detail.
 * Inline so that a driver's unit test links the driver alone. */
static inline void node_check_add(json_t *checks, const char *kind, const char *result,
				  json_t *detail)
{
	json_t *c = json_pack("{s:s,s:s}", "kind", kind, "result", result);

	if (detail)
		json_object_set_new(c, "detail", detail);
	json_array_append_new(checks, c);
}

#endif
