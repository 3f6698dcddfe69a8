/* The simulated disk of the fast tier: a disk image, the volatile write cache below
 * QEMU (nbdkit with the pcvcache filter, serving the image on a UNIX socket), and
 * qemu-storage-daemon on top (nbd client -> raw/qcow2 with the cache mode under test
 * -> an NBD export on another UNIX socket). See docs/disk-model.md.
 *
 *   struct disk_opts o;
 *   disk_opts_init(&o);
 *   o.format = DISK_FMT_QCOW2; o.cache = DISK_CACHE_NONE; o.size = 64 << 20;
 *   struct diskmodel *dm = diskmodel_new(&o);     // run dir + image, nothing running
 *   diskmodel_start(dm);                          // nbdkit, then qemu-storage-daemon
 *   ... write through diskmodel_uri(dm) ...
 *   diskmodel_cut(dm, DISK_CUT_POWER);
 *   struct disk_check chk;
 *   diskmodel_restart(dm, &chk);                  // check the image, start again
 *   ... read back ...
 *   disk_check_release(&chk);
 *   diskmodel_free(dm);                           // kills what runs, removes the run dir
 *
 * Every process is started through child.h in its own process group; diskmodel_free
 * SIGKILLs whatever still runs, so nothing outlives the object. Not thread-safe.
 * Functions return 0 or a negative errno and log the reason (category LOG_SIM).
 */
#ifndef PC_DISKMODEL_H
#define PC_DISKMODEL_H

#include <stdbool.h>
#include <stdint.h>

enum disk_format { DISK_FMT_RAW, DISK_FMT_QCOW2 };

/* QEMU's cache modes, mapped as -drive cache= maps them (see docs/disk-model.md). */
enum disk_cache_mode {
	DISK_CACHE_NONE,		/* direct=on  no-flush=off  write-back */
	DISK_CACHE_WRITEBACK,		/* direct=off no-flush=off  write-back */
	DISK_CACHE_WRITETHROUGH,	/* direct=off no-flush=off  writethrough */
	DISK_CACHE_DIRECTSYNC,		/* direct=on  no-flush=off  writethrough */
	DISK_CACHE_UNSAFE,		/* direct=off no-flush=on   write-back */
};

enum disk_writeback { DISK_WB_NONE, DISK_WB_RANDOM, DISK_WB_OLDEST };

/* DISK_CUT_KILL: SIGKILL of qemu-storage-daemon only; nbdkit (the node's page cache
 * and disk cache) survives. DISK_CUT_POWER: SIGKILL of every process of the stack;
 * the volatile cache's unflushed data is gone. */
enum disk_cut { DISK_CUT_KILL, DISK_CUT_POWER };

struct disk_opts {
	enum disk_format format;
	enum disk_cache_mode cache;
	uint64_t size;			/* bytes, multiple of 512 */

	/* qcow2 only */
	uint32_t cluster_size;		/* 0: QEMU's default */
	bool extended_l2;
	bool lazy_refcounts;
	const char *preallocation;	/* NULL: off; "metadata", "falloc", "full" */

	/* the volatile cache (pcvcache filter) */
	bool no_vcache;			/* serve the image through plain nbdkit-file */
	enum disk_writeback writeback;
	unsigned wb_rate;		/* write-back picks per second (0: filter default) */
	bool tear;
	bool lying;
	/* The forgetful control: at each power cut (DISK_CUT_POWER) a range of
	 * forget_span/32 bytes (at least 64 KiB) in the lower half of the first
	 * forget_span bytes reads back as zeroes afterwards, as a qcow2 image that lost
	 * its mapping would; the range moves with every cut (a counter in the run dir). */
	bool forget;
	uint64_t forget_span;		/* bytes; 0: the whole disk */
	uint64_t seed;
	uint64_t max_dirty;		/* bytes; 0: filter default */

	/* Record the disk below QEMU (recording.h): the first start of nbdkit copies the
	 * image into this directory and logs every acknowledged write and flush until
	 * nbdkit stops or is cut; later starts do not record. NULL: no recording. */
	const char *record_dir;

	const char *tmpdir;		/* parent of the run dir; NULL: $TMPDIR, else /tmp */
	const char *filter;		/* the filter .so; NULL: $PCVCACHE_FILTER, else found
					 * as lib/nbdkit-pcvcache-filter.so above the program */
	int timeout_ms;			/* process start/stop bound; 0: 15000 */
	bool keep_dir;			/* leave the run dir (logs, images) after free */
	/* A kept disk: this run dir (created if absent, kept after free) instead of a new
	 * one; an image already in it (and its backing base.qcow2) is used as it is. */
	const char *run_dir;
};

/* Result of `qemu-img check --output=json` on the image as the restarted node sees
 * it (through nbdkit, before qemu-storage-daemon opens it read-write). */
struct disk_check {
	bool checked;			/* false for raw: nothing to check */
	bool dirty;			/* qcow2 dirty bit (lazy_refcounts crash) */
	int64_t corruptions, leaks, check_errors;	/* found by the read-only check */
	int64_t fixed_corruptions, fixed_leaks;		/* by the repair of a dirty image */
	bool repairable;		/* errors found, all fixed as a read-write open does */
	bool corrupt;			/* corruptions a read-write open would not repair */
	char *json;			/* the read-only check's JSON (owned) */
};

/* Defaults: raw, cache none, 64 MiB, no write-back, no tearing, honest. */
void disk_opts_init(struct disk_opts *o);
const char *disk_cache_name(enum disk_cache_mode m);
/* Parse "none", "writeback", ... Returns 0 or -EINVAL. */
int disk_cache_parse(const char *s, enum disk_cache_mode *m);

/* Make the run dir and the image. Nothing runs yet. NULL and errno on failure. */
struct diskmodel *diskmodel_new(const struct disk_opts *o);
/* Start nbdkit (unless it runs) and qemu-storage-daemon; returns when both serve. */
int diskmodel_start(struct diskmodel *dm);
/* The export for the workload: nbd+unix:///disk?socket=RUN/qsd.sock (owned by dm). */
const char *diskmodel_uri(const struct diskmodel *dm);
/* The disk below QEMU, as nbdkit serves it: nbd+unix:///?socket=RUN/nbdkit.sock. */
const char *diskmodel_disk_uri(const struct diskmodel *dm);
/* True when diskmodel_new found the image of an earlier run in opts.run_dir. */
bool diskmodel_reused(const struct diskmodel *dm);
/* True when the image has a backing file (diskmodel_snapshot, or a reused chain). */
bool diskmodel_has_base(const struct diskmodel *dm);
/* The byte range the forgetful control zeroed at its last cut; false if none. */
bool diskmodel_forgot(const struct diskmodel *dm, uint64_t *offset, uint64_t *len);
/* The run dir (images, sockets, logs nbdkit.log and qsd.log). */
const char *diskmodel_dir(const struct diskmodel *dm);
/* qcow2 only, the Proxmox "volume chain snapshot": stop cleanly, make the current
 * image the read-only backing file of a new overlay (same options), start again.
 * One level only (-EBUSY for a second). */
int diskmodel_snapshot(struct diskmodel *dm);
/* Cut (see enum disk_cut). The processes are SIGKILLed and reaped. */
int diskmodel_cut(struct diskmodel *dm, enum disk_cut cut);
/* Check the image through nbdkit (starting nbdkit if needed; qemu-storage-daemon
 * must be down). A dirty qcow2 with errors is repaired as a read-write open would.
 * *chk is filled (release it) even when the check reports errors; the return value
 * is negative only when the check could not run or its output not be parsed. */
int diskmodel_check(struct diskmodel *dm, struct disk_check *chk);
/* After a cut: diskmodel_check (chk may be NULL to skip it), then diskmodel_start. */
int diskmodel_restart(struct diskmodel *dm, struct disk_check *chk);
/* Orderly stop: SIGTERM to qemu-storage-daemon, then to nbdkit (which writes its
 * cache down, as a disk powered down properly does). */
int diskmodel_stop(struct diskmodel *dm);
/* Kill what still runs, remove the run dir (unless keep_dir), free. NULL is fine. */
void diskmodel_free(struct diskmodel *dm);

void disk_check_release(struct disk_check *chk);

#endif
