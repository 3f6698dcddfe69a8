/* The guest's console (docs/guest.md): `POWERCUT EVENT key=value ...` lines parsed
 * into events, shared by the drivers that boot build/guest (qemu.c locally,
 * qemu_remote.c and proxmox.c over ssh; guest.h waits on it). The driver feeds the console's bytes as they come, from a local file or
 * read back over ssh; complete lines are parsed, a partial one waits for its end.
 *
 *   struct guest_console c;
 *   guest_console_init(&c, n_disks);
 *   guest_console_boot(&c, boot_log, boots, check);   // a new boot: fresh state
 *   guest_console_feed(&c, buf, len);                 // any number of times
 *   if (c.done) ...                                   // c.check_rc[i], c.lvm_ev ...
 *   guest_console_release(&c);
 *
 * Disks are the guest's ids 1..n (index i is disk i + 1).
 */
#ifndef PC_NODE_CONSOLE_H
#define PC_NODE_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

#include "node.h"

struct guest_console {
	size_t n;			/* disks */
	json_t *events;			/* this boot's events (the boot log's, else owned) */
	bool own_events;		/* no boot log: events is the console's to free */
	/* NULL, or an array the driver owns that gets every POWERCUT line's text after
	 * its prefix as it comes (the proxmox driver's record of the console) */
	json_t *lines;
	json_t *lvm_ev, *lvs;		/* the last `lvm` event and `lvs` report (owned) */
	/* ZFS (docs/guest.md): this boot's `zfs` events by op, `zpool` reports by phase */
	json_t *zfs_ev, *zpool;		/* objects (owned) */
	/* The drives' testimony: smartctl's JSON per disk, before (the write boot) and
	 * after (the check boot); a write boot clears both (owned, NULL: none). */
	json_t *smart[NODE_MAX_DISKS][2];
	bool ready, done;
	/* check mode: each disk's check-line payloads go to reports[i] when the driver
	 * opened one; check-end's rc lands in check_rc[i] (-1 until then). */
	FILE *reports[NODE_MAX_DISKS];
	int check_rc[NODE_MAX_DISKS];
	size_t check_lines[NODE_MAX_DISKS];	/* check-lines of each disk this boot */
	char buf[65536];
	size_t len;
	/* This boot's signs of life (guest_console_dead): when the console last gained
	 * bytes (host monotonic ms; the boot's start until it does), the name of the
	 * last POWERCUT event (the stage: "" before the first, while the kernel boots),
	 * and its last lines, which hold the kernel's panic once one came (the guest
	 * prints only panics on ttyS0, rig/sim/guest/init). */
	int64_t heard_ms;
	char stage[32];
	bool panic;
	char panic_line[160];
	char tail[6][160];
	unsigned tail_n;		/* lines seen; the newest is tail[(tail_n-1) % 6] */
};

void guest_console_init(struct guest_console *c, size_t n_disks);
/* A new boot: appends {"boot", "mode", "events"} to boot_log (an array, may be NULL)
 * and resets ready, done, check_rc, check_lines and the line buffer. */
void guest_console_boot(struct guest_console *c, json_t *boot_log, int boot, bool check);
/* The console's own signs of a dead guest (node_ops.watch): its kernel panicked, or
 * (silence_ms > 0) it has said nothing for silence_ms. false while neither; else true
 * with d filled, its what naming who ("the guest on 'NODE'") and, for a panic, the
 * console's last lines. */
bool guest_console_dead(const struct guest_console *c, int64_t silence_ms, const char *who,
			struct node_death *d);
/* Bytes of the console; parses the complete lines among them. */
void guest_console_feed(struct guest_console *c, const char *data, size_t len);
/* Did every agent of a write boot end with 0, want of them? From this boot's
 * write-exit events (a baseline boot's agents end by themselves). */
bool guest_console_writes_ok(const struct guest_console *c, int want);
/* Closes the report files (the driver owns their names). */
void guest_console_reports_close(struct guest_console *c);
void guest_console_release(struct guest_console *c);

/* The LVM-thin disk's checks from the last boot's events, appended to checks:
 * thin_check (pass, fail, not-run) and lvs (ok, fail), with the events as detail. */
void guest_console_lvm_checks(const struct guest_console *c, json_t *checks);

/* The zvol disk's checks from the last boot's events, appended to checks:
 * zpool-import-ro (pass, fail, not-run: the read-only import right after the cut,
 * with `zpool import`'s scan and `zpool status` as detail), zpool-import (pass, fail)
 * and zpool-scrub (clean, repaired, corrupt when the scrub found errors, fail,
 * not-run). A pool that does not import is a metadata failure ("fail"). */
void guest_console_zfs_checks(const struct guest_console *c, json_t *checks);

/* Disk i's drive testimony as a "smart" check, when the guest reported one: result
 * is smart_verdict's name, detail {"before", "after" (summaries), "why",
 * "smartctl_before", "smartctl_after"}. power_cut: the cycle cut DC. */
void guest_console_smart_check(const struct guest_console *c, size_t i, bool power_cut,
			       json_t *checks);

/* QEMU's block cache options for a bench cache mode: {"direct", "no-flush"}. */
json_t *guest_cache_obj(int cache);

/* Kernel options every driver gives the guest: they only make it boot faster (most
 * under TCG, harmless with KVM); none changes what the guest does with its disks.
 * Each was measured (docs/guest.md, "Boot time"): cryptomgr.notests skips the crypto
 * self-tests (about 1.5 s under TCG), rodata=off skips write-protecting the kernel
 * and its W+X page-table walk (0.3-1.2 s), ipv6.disable=1 skips IPv6's set-up
 * (the ledger is reached over IPv4), the initcall blacklist skips two initcalls
 * that cryptomgr.notests does not: the SP800-108 KDF's own self-test and the kprobe
 * tracer's set-up (0.2-0.3 s together; unknown names are ignored), and acpi=noirq
 * routes PCI interrupts without evaluating ACPI's interrupt-link methods, which took
 * virtio_pci's probe of four devices from 1.1-1.7 s to 40 ms (the virtio devices
 * use MSI-X either way; ACPI still powers the guest off). */
#define GUEST_KERNEL_OPTS                                                                  \
	"cryptomgr.notests rodata=off ipv6.disable=1 acpi=noirq "                          \
	"initcall_blacklist=crypto_kdf108_init,init_kprobe_trace"

#endif
