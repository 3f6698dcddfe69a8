/* Bench configuration: an INI file (like a fio job file) with the sections below,
 * one option table each (config.c), plus `--set section.key=value` overrides.
 *
 *   struct bench_config *cfg = bench_config_load("rig/benches/sim.ini", sets, nsets,
 *                                                &drivers);
 *   if (!cfg) ...            // every mistake was logged (LOG_CONFIG), errno EINVAL
 *   ... !strcmp(cfg->relay->driver, "serial") ...
 *   bench_config_free(cfg);
 *
 * Error messages name file, line and key in git's style:
 *   x.ini:12: unknown key 'cach' in [disk qcow2] (did you mean 'cache'?)
 * Named sections are written [disk NAME]; --set addresses them as disk.NAME.key.
 * Adding an option: add a field to the struct here and one row to its table in
 * config.c; docs/config.md is generated from the tables (`powercut config doc`).
 *
 * Drivers own their keys (as nbdkit's filters do): [relay] and [node] hold a few keys
 * of their own (config.c), and each relay or node driver carries the table of the keys
 * only it understands (host/relay/NAME.c, host/node/NAME.c). A program that opens
 * drivers hands their tables to the loader (struct bench_drivers); the loader checks
 * the driver's name, parses its keys, and reports a key of another driver at its line.
 * Their values are stored in the section's struct all the same, and every key of
 * every known driver is listed (with its default) in the canonical text, in the order
 * of the struct's fields. A program that opens no driver (NULL) keeps the keys it
 * does not know as written, unchecked.
 */
#ifndef PC_CONFIG_H
#define PC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "options.h"

enum sim_mode { SIM_REALTIME, SIM_FAST };
/* Where the controller learns the node's DC edges (cycle.c, node power domain). */
enum dc_source { DC_AUTO, DC_SIMULATOR, DC_PWROK, DC_RELAY };
enum active_level { ACTIVE_HIGH, ACTIVE_LOW };
/* Enum value names the drivers' own option tables share with config.c. */
extern const char *const config_active_levels[];	/* enum active_level */
extern const char *const config_writebacks[];		/* enum node_writeback */
extern const char *const config_accels[];		/* enum node_accel */
/* What the relay interrupts: the supply's mains, or its PS_ON (IPMI). */
enum power_switch { SWITCH_AC, SWITCH_DC };
enum disk_format { DISK_QCOW2, DISK_RAW, DISK_LVMTHIN, DISK_ZVOL };
/* A zvol's sync property (OpenZFS): standard honours flushes, always makes every
 * write synchronous, disabled ignores flushes (it promises nothing: a control). */
enum zfs_sync { ZFS_SYNC_STANDARD, ZFS_SYNC_ALWAYS, ZFS_SYNC_DISABLED };
/* A separate ZFS log device (SLOG) on its own disk model: volatile or lying. */
enum zfs_slog { ZFS_SLOG_NONE, ZFS_SLOG_VOLATILE, ZFS_SLOG_LYING };
/* How the full tier attaches a disk: nvme and sata drives answer SMART queries. */
enum disk_bus { BUS_VIRTIO, BUS_NVME, BUS_SATA };
enum disk_cache { CACHE_NONE, CACHE_WRITEBACK, CACHE_WRITETHROUGH, CACHE_DIRECTSYNC,
		  CACHE_UNSAFE };
enum disk_prealloc { PREALLOC_OFF, PREALLOC_METADATA, PREALLOC_FALLOC, PREALLOC_FULL };
enum disk_control { CONTROL_NONE, CONTROL_LYING, CONTROL_SAFE, CONTROL_FORGETFUL };
/* issue 18: a file system made by the guest on the disk, and what runs on it. */
enum disk_fs { DISK_FS_NONE, DISK_FS_EXT4, DISK_FS_XFS };
enum disk_workload { DISK_WL_BLOCKS, DISK_WL_FILES, DISK_WL_SQLITE };
enum disk_sql_journal { SQL_JOURNAL_WAL, SQL_JOURNAL_DELETE };
enum disk_sql_sync { SQL_SYNC_FULL, SQL_SYNC_NORMAL, SQL_SYNC_EXTRA };
enum wl_pattern { PATTERN_RANDOM, PATTERN_SEQUENTIAL, PATTERN_HOTSET, PATTERN_ALLOC };
enum wl_flush { FLUSH_NEVER, FLUSH_EVERY_N, FLUSH_EVERY_MS, FLUSH_ALWAYS, FLUSH_FUA };
/* power: the node loses DC; kill: kill -9 of QEMU, the host survives; reset: QEMU's
 * system reset, QEMU and the host survive (the guest restarts). */
enum cut_kind { CUT_POWER, CUT_KILL, CUT_RESET };
enum wl_baseline { BASELINE_FILL, BASELINE_NONE };
/* QEMU's aio= of a disk's file; DEFAULT: as Proxmox's qemu-server chooses (disk_aio). */
enum disk_aio { AIO_DEFAULT, AIO_IO_URING, AIO_NATIVE, AIO_THREADS };

struct cfg_bench {
	char *name;
	char *description;
	char *run_dir;		/* NULL: build/run/<name> next to the binaries */
};

/* The fields' order is the keys' order in the canonical text. */
struct cfg_relay {
	char *driver;		/* a relay driver's name (relay_ops_find) */
	int64_t channel;	/* 0-based */
	int64_t channels;	/* channels of the board or simulator */
	int64_t timeout_ms;	/* reply / command timeout */
	/* serial's keys (host/relay/serial.c) */
	char *port;
	int64_t usb_vid, usb_pid;
	char *usb_serial;
	/* the simulated board (serial only) */
	bool simulator;
	int sim_mode;		/* enum sim_mode */
	char *sim_binary, *sim_firmware;
	int64_t hold_up_ms, rise_ms;
	/* serial's keys */
	int64_t relay_active, pwrok_invert;
	int dc_source;		/* enum dc_source; config_load resolves DC_AUTO */
	int switches;		/* enum power_switch */
	/* gpio's keys (host/relay/gpio.c); active_level is usbhid's too */
	char *gpio_chip;
	int64_t gpio_line;
	int active_level;	/* enum active_level */
	/* usbhid's (host/relay/usbhid.c) */
	char *usbhid_serial;
	/* exec's (host/relay/exec.c) */
	char **exec_on, **exec_off, **exec_status;
	int64_t exec_timeout_ms;
	/* null's (host/relay/null.c) */
	char *null_record;
	char **null_fail;
};

enum node_tier { NODE_TIER_FAST, NODE_TIER_FULL };
enum node_writeback { NODE_WB_NONE, NODE_WB_RANDOM, NODE_WB_OLDEST };
enum node_accel { NODE_ACCEL_AUTO, NODE_ACCEL_KVM, NODE_ACCEL_TCG };

/* The fields' order is the keys' order in the canonical text. */
struct cfg_node {
	char *driver;		/* a node driver's name or alias (node_ops_find) */
	char *host;
	/* the simulated node; tier and boot_delay are read for every driver */
	int tier;		/* enum node_tier */
	int64_t boot_delay_ms;	/* DC back to the node booting */
	/* the qemu driver's keys (host/node/qemu.c) */
	int writeback;		/* enum node_writeback: the volatile disk cache's write-back */
	bool tear;		/* the volatile disk cache may tear multi-sector writes */
	char *guest;		/* full tier: directory with vmlinux and initrd.cpio */
	int64_t silence_ms;	/* full tier: a console this silent in a wait: a hung guest */
	/* the null driver's (host/node/null.c): a node that dies or is slow, for tests */
	int die, die_as;	/* where it dies (null.c's die_at), how (enum node_life) */
	int64_t slow_ms;	/* wait_up takes this long, alive */
	/* a remote node over ssh (host set): host/ssh */
	char *user;
	int64_t port;		/* 0: ssh's default */
	char *identity, *known_hosts, *ssh_config;
	/* proxmox's keys (host/node/proxmox.c) */
	int64_t vmid;
	char *pve_node;		/* NULL: the node's own name from /cluster/status */
	char **storages;	/* "STORAGE" or "DISK=STORAGE" words */
	bool smart;		/* proxmox: smartctl of the drives under each storage */
	/* proxmox's and qemu-remote's (host/node/remote.c) */
	char *remote_dir;	/* where the guest kernel, initramfs and consoles go */
	int accel;		/* enum node_accel: qemu on a remote host (qemu-remote's) */
	int64_t memory_mib, cores;
	char **fio;		/* fio job files (rig/workloads/) run beside the agent */
	uint64_t fio_size;	/* fio's data file (--filesize); 0: the job files' size */
};

struct cfg_disk {
	char *name;		/* from [disk NAME] */
	int format, cache, preallocation, control;
	int aio;		/* enum disk_aio */
	uint64_t size, cluster_size;
	bool extended_l2, lazy_refcounts, backing;
	bool keep;		/* kept across cycles (docs/oracle.md, "Durable memory") */
	bool record;		/* docs/explore.md */
	int fs;			/* enum disk_fs */
	char *mount_options;	/* the guest's mount -o ("" none) */
	int workload;		/* enum disk_workload */
	int sqlite_journal;	/* enum disk_sql_journal */
	int sqlite_synchronous;	/* enum disk_sql_sync */
	/* zvol: the pool is made on this disk, the workload writes a zvol in it */
	int zfs_sync, slog;	/* enum zfs_sync, enum zfs_slog */
	uint64_t volblocksize;
	bool compression;
	int bus;		/* enum disk_bus */
};
const char *config_fs_name(int fs);
const char *config_workload_name(int workload);
const char *config_sql_journal_name(int j);
const char *config_sql_sync_name(int s);

/* Whether a disk is expected to lose flushed writes (a negative control): a lying or
 * forgetful disk, or a zvol with sync=disabled, which ignores flushes. */
static inline bool cfg_disk_negative(const struct cfg_disk *d)
{
	return d->control == CONTROL_LYING || d->control == CONTROL_FORGETFUL ||
	       (d->format == DISK_ZVOL && d->zfs_sync == ZFS_SYNC_DISABLED);
}

struct cfg_workload {
	uint64_t block_size;
	int64_t queue_depth;
	int pattern;
	int64_t hot_set_pct, span_mib;
	int flush;
	int64_t flush_n, flush_ms;
	bool direct;
	int64_t duration_ms;
	int baseline;		/* enum wl_baseline */
};

struct cfg_campaign {
	int64_t cycles;
	uint64_t seed;
	int cut;
	int64_t window_min_ms, window_max_ms, off_ms, boot_timeout_ms, retries;
	/* issue 7: powercut run */
	int64_t host_cuts_pct;		/* share of cycles cut by the host at a workload phase */
	int64_t idle_ms;		/* host cut "idle": this long after the last flush */
	uint64_t evidence_cap;		/* bytes of evidence kept per campaign */
	char **scenario;		/* the cycle's steps (host/campaign); NULL: default */
	int64_t explore_states;		/* crash states explored per recorded disk and cycle */
};

struct cfg_inst;
struct cfg_schema;

struct bench_config {
	char *path;			/* the file as given */
	struct cfg_bench *bench;
	struct cfg_relay *relay;
	struct cfg_node *node;
	struct cfg_workload *workload;
	struct cfg_campaign *campaign;
	struct cfg_disk **disks;	/* sorted by name */
	size_t n_disks;
	/* private */
	struct cfg_inst *inst;
	size_t n_inst;
	struct cfg_schema *schema;
};

/* The section tables, NULL-terminated, in canonical order. */
extern const struct opt_section *const bench_sections[];

/* The drivers a program knows, per section with drivers (.ops NULL: none known;
 * their keys are kept as written). relay.h and node.h give the initializers. */
struct bench_drivers {
	struct opt_drivers relay, node;
};

/* Load path, apply the overrides ("section.key=value" or "disk.NAME.key=value"),
 * validate. NULL on any mistake, each logged (LOG_CONFIG) with file and line, errno
 * EINVAL (or ENOENT etc. when the file cannot be read). drivers may be NULL. */
struct bench_config *bench_config_load(const char *path, char *const *sets, size_t n_sets,
				       const struct bench_drivers *drivers);
/* The same from a string (tests); name is used in messages. */
struct bench_config *bench_config_parse(const char *name, const char *text,
					char *const *sets, size_t n_sets,
					const struct bench_drivers *drivers);
void bench_config_free(struct bench_config *cfg);

/* Canonical text of the effective config (every key, defaults included, disks
 * sorted by name): the same settings always give the same text. Caller frees. */
char *bench_config_text(const struct bench_config *cfg);
/* The effective config as a JSON object (new reference). */
json_t *bench_config_json(const struct bench_config *cfg);
/* The aio mode a disk's QEMU uses: its own, or AIO_DEFAULT resolved as Proxmox's
 * qemu-server does for a file on directory storage (io_uring), and its name. */
int disk_aio(const struct cfg_disk *d);
const char *disk_aio_name(int aio);
/* The name of an enum cut_kind value ("power", "kill", "reset"), and back (-1). */
const char *config_cut_name(int cut);
int config_cut_parse(const char *name);
/* The [relay] dc_source keyword of an enum dc_source value. */
const char *config_dc_source_name(int dc_source);
const char *config_control_name(int control);	/* "none", "lying", "safe", "forgetful" */
/* SHA-256 of the canonical text, 64 lower-case hex digits and NUL. 0 or -errno. */
int bench_config_hash(const struct bench_config *cfg, char out[65]);
/* SHA-256 of any bytes as hex (libcrypto). */
int sha256_hex(const void *data, size_t len, char out[65]);

/* Option help for every section (powercut help config), and Markdown (docs/config.md),
 * driver keys included. */
void bench_config_help(FILE *f, const struct bench_drivers *drivers);
void bench_config_markdown(FILE *f, const struct bench_drivers *drivers);

#endif
