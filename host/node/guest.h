/* The guest of build/guest (docs/guest.md) as the node drivers boot it: its kernel
 * command line, QEMU's arguments for it, and the wait on its console. One module for
 * the three drivers that boot it:
 *   qemu.c         locally (the full tier): QEMU under TCG, each disk on the disk model;
 *   qemu_remote.c  a node's own QEMU over ssh (KVM or TCG), the disks image files there;
 *   proxmox.c      a Proxmox VM: qm builds the machine from the VM's config, and only
 *                  the guest's part goes into the VM's `args`.
 * Where the drivers differ, the difference is a field below that says why.
 *
 *   char append[GUEST_APPEND_MAX];
 *   guest_cmdline(&cmd, append, sizeof(append));        // -append's value
 *   struct guest_argv a;
 *   guest_qemu_argv(&q, &a);                            // qemu, qemu-remote: a.argv
 *   guest_pve_args(&q, args, sizeof(args));             // proxmox: `qm set --args`
 *   guest_console_wait(&con, &src, true, timeout_ms);   // the console says `done`
 *
 * Nothing here runs a process: the drivers start QEMU (or qm) and read the console
 * through the poll hook they give guest_console_wait. Not thread-safe; no state.
 */
#ifndef PC_NODE_GUEST_H
#define PC_NODE_GUEST_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "console.h"
#include "node.h"

/* What a boot of the guest is for. */
enum guest_mode {
	GUEST_WRITE,		/* the cycle's workload, to be cut */
	GUEST_BASELINE,		/* the baselines of backing chains, flushed, to a clean stop */
	GUEST_CHECK,		/* the agents' check, reported on the console */
};

/* One disk as the guest is told about it (powercut.disks=ID:DEV,...). */
struct guest_disk {
	const struct cfg_disk *cfg;
	uint32_t id;		/* the agent's disk id */
	const char *dev;	/* how the guest finds it: vda, nvme.pc2 (serial), ata.1 (port) */
	bool skip;		/* not in this boot: a baseline boot leaves out the disks it
				 * does not write */
};

/* The bench's disks as the remote drivers give them: virtio, vda, vdb, ... in config
 * order, ids 1..n (names holds the names: as long as gd is used). */
void guest_disks_vd(const struct bench_config *cfg, struct guest_disk *gd, char (*names)[8]);

/* The kernel command line of one boot. */
struct guest_cmdline {
	enum guest_mode mode;
	const struct node_job *job;		/* campaign, cycle, seed */
	/* The workload's options: the local driver honours a scenario's own keys
	 * (job->workload); the remote drivers run the bench's [workload] (node.h). */
	const struct cfg_workload *w;
	const struct guest_disk *disks;
	size_t n;
	/* HOST:PORT at which the guest's agents reach the ledger (write and baseline
	 * boots): the local node's own address for this host, a remote node's end of
	 * the reverse ssh forward (10.0.2.2:PORT) for the others. */
	const char *ledger;
	/* powercut.net=static:10.0.2.15/24,10.0.2.2 instead of DHCP on write boots: QEMU's
	 * user network always hands out these addresses, and the static set-up saves the
	 * DHCP round trip. Only the local driver sets it: the boot-time changes of
	 * docs/guest.md ("Boot time") were measured on the local full tier, and the
	 * remote drivers keep the default (DHCP) until they are tried there. */
	bool static_net;
	/* Write boots: the disks hold their baseline already (written from the host, by
	 * a baseline boot, or kept from an earlier cycle): powercut.w.baseline_exists. */
	bool baseline_exists;
	/* Write boots: the guest's control port (powercut.ctl=ttyS1), on which the host
	 * sends scenario steps (flush); NULL: none. Only the local full tier has one. */
	const char *ctl;
	/* The disk on which the guest builds an LVM-thin pool and LV (the local and the
	 * remote qemu drivers; Proxmox's lvmthin is its own storage), -1 none; created:
	 * the pool exists, the guest activates it (not on a baseline boot, which does
	 * not write it). */
	int lvm;
	bool lvm_created;
	/* The disk on which the guest builds a ZFS pool and zvol (local full tier only),
	 * -1 none; created: the guest imports it; slog_dev: its SLOG's device or NULL. */
	int zvol;
	bool zvol_created;
	const char *slog_dev;
};

#define GUEST_APPEND_MAX 4096

/* The command line (the value of -append) into buf: the parameters of docs/guest.md,
 * always in one order. 0, or -E2BIG (logged) when it does not fit. */
int guest_cmdline(const struct guest_cmdline *g, char *buf, size_t len);

/* QEMU's arguments for the guest. The guest's part (kernel, initrd, console, command
 * line, token, network) is common to the three drivers; the machine's part is the
 * qemu drivers' only (a Proxmox VM's comes from its config through qm). */
struct guest_qemu {
	const char *kernel, *initrd;	/* paths where QEMU runs */
	const char *console;		/* the serial console's file there */
	const char *append;		/* guest_cmdline's */
	const char *fwcfg;		/* -fw_cfg value naming the token file, NULL: none */
	/* The user-mode network device's id: net0 for the qemu drivers; on Proxmox
	 * qemu-server names the VM's own network devices netN, so a name of ours. */
	const char *netdev;
	/* The NIC on check boots as well (the qemu drivers always gave the guest one; the
	 * check itself runs with powercut.net=none); Proxmox's check boot has none. */
	bool nic_on_check;
	bool check;			/* a check boot */
	/* The machine (guest_qemu_argv only). */
	bool kvm;			/* -accel kvm -cpu host, else TCG with -cpu max */
	int64_t smp, mem_mib;
	/* -bios qboot.rom: the local full tier boots the PVH kernel without SeaBIOS
	 * (about 0.5 s less per boot under TCG, docs/guest.md); a remote node's QEMU may
	 * not ship qboot.rom, and was not measured with it. */
	bool qboot;
	const char *pidfile;		/* -daemonize -pidfile (a remote node's QEMU), or NULL */
	bool ahci;			/* an AHCI controller for SATA disks (local full tier) */
	const char *const *blockdev;	/* n_disks -blockdev values (JSON) */
	const char *const *device;	/* n_disks -device values (guest_device) */
	/* A unix socket QEMU listens on as the guest's second serial port (ttyS1, the
	 * control port of guest_cmdline's ctl); NULL: none. */
	const char *ctl;
	size_t n_disks;
	/* A unix socket for QEMU's monitor (QMP: the reset cut's system_reset); NULL:
	 * none. */
	const char *qmp;
	/* A guest reboot resets the machine and QEMU lives on (the reboot step); false:
	 * -no-reboot, QEMU ends. */
	bool reboot;
};

#define GUEST_ARGV_MAX (44 + 4 * (NODE_MAX_DISKS + 1))

/* guest_qemu_argv's output: argv and the strings it points to (the caller's struct,
 * as long as the argv is used; the q's strings are borrowed). */
struct guest_argv {
	const char *argv[GUEST_ARGV_MAX];
	char serial[PATH_MAX + 48], ctl[PATH_MAX + 64], qmp[PATH_MAX + 48];
	char smp[24], mem[24], netdev[64], nic[96];
};

/* qemu-system-x86_64's argv for the qemu drivers. 0 or -E2BIG (logged). */
int guest_qemu_argv(const struct guest_qemu *q, struct guest_argv *a);

/* A Proxmox VM's `args` (its guest part): qemu-server splits them into words as a
 * shell would and appends them to the VM's QEMU command line, so the -append value
 * goes last, in single quotes; the paths go unquoted (a blank in one would split it).
 * 0 or -E2BIG (logged). */
int guest_pve_args(const struct guest_qemu *q, char *buf, size_t len);

/* A disk's -device value: virtio-blk, NVMe (serial pcID: the guest finds the
 * controller by it, the SMART testimony names it) or SATA on port `port` of ahci0;
 * the write cache on unless the cache mode is writethrough or directsync. */
void guest_device(char *buf, size_t len, int bus, const char *node, uint32_t id, int port,
		  int cache);

/* Where a driver reads its guest's console. */
struct guest_console_src {
	/* Feed c what the console gained since the last call; *alive false when QEMU no
	 * longer runs (left true when the driver cannot tell). 0 or a negative errno of
	 * the transport. */
	int (*poll)(void *arg, struct guest_console *c, bool *alive);
	void *arg;
	const char *node;		/* the node's name for messages, NULL: this host */
	const char *console;		/* the console's path, for messages */
	int poll_ms;			/* between polls */
	/* NULL, or asked after each poll that did not bring the word waited for: the
	 * driver's watch of its node (node_ops.watch); a negative errno (-EOWNERDEAD:
	 * the node died, node_died logged it) ends the wait with it. */
	int (*watch)(void *arg);
	void *watch_arg;
};

/* Log (a warning) the last `lines` lines of a console file on this host: what the
 * guest and its kernel said last, when a wait on it failed. */
void guest_console_tail(const char *path, int lines);

/* Poll until the console shows `ready` (want_done: `done`), QEMU ended, the watch
 * says the node died, or timeout_ms passed. 0; the watch's errno; -EIO when QEMU ended
 * first; -ETIMEDOUT, or the last poll's errno, at the timeout (logged). */
int guest_console_wait(struct guest_console *c, const struct guest_console_src *s,
		       bool want_done, int timeout_ms);

#endif
