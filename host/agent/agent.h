/* powercut-agent internals shared by its source files. The agent is the guest's half
 * of the oracle: a static program (libc and SQLite; plus libnbd in the NBD build)
 * with three workloads: the block workload writes the sector records of
 * docs/oracle.md to a file, block device or NBD export (core.c, io_file.c, io_nbd.c);
 * the files workload writes, syncs and renames chunked files (files.c); the sqlite
 * workload commits numbered transactions (sqlwl.c). It streams every acknowledgement
 * and flush to the host's ledger (lclient.c) and, after the cut, checks what was read
 * back into a check or fscheck report (check.c, files.c). Its output (reports, the
 * ledger protocol, its messages on stderr) is its protocol: it has no host logger.
 */
#ifndef PC_AGENT_H
#define PC_AGENT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"

enum pattern { PAT_RANDOM, PAT_SEQUENTIAL, PAT_HOTSET, PAT_ALLOC };
enum flush_policy { FL_NEVER, FL_EVERY_N, FL_EVERY_MS, FL_ALWAYS, FL_FUA };

struct agent_opts {
	const char *target;
	uint64_t campaign, seed;
	uint32_t cycle, disk;
	uint32_t block_size;
	uint32_t queue_depth;
	enum pattern pattern;
	uint32_t hot_set_pct;
	uint64_t span_mib;		/* 0: the target's size */
	enum flush_policy flush;
	uint32_t flush_n, flush_ms;
	bool direct;
	double duration;		/* seconds, 0: until stopped */
	uint64_t max_writes;		/* 0: no limit */
	bool baseline_exists;
	const char *ledger;		/* HOST:PORT or NULL */
	const char *token;
	const char *output;		/* check report, NULL: stdout */
	bool quiet;
	bool seed_set;
	uint32_t ledger_queue;		/* entries buffered for the ledger */
	/* files workload (files.c) */
	int sync;			/* enum fs_sync, 0: each operation picks one */
	uint32_t files;			/* file names the workload uses */
	uint32_t max_chunks;		/* largest file, in 512-byte chunks */
	/* sqlite workload (sqlwl.c): enum fs_journal, enum fs_sync (sqlite ones) */
	int sql_journal, sql_sync;
	bool sqlite;			/* fscheck: the disk ran the sqlite workload */
	/* fscheck: what the guest's file system check said (docs/oracle.md) */
	const char *fs, *fsck_tool;
	int fsck_rc, fsck_raw_rc;
	bool mounted;
};

/* One files workload acknowledgement (ledger FILESYNC). */
struct file_ack {
	uint64_t seq;
	unsigned op, sync;
	bool dirsync;
	uint32_t file;
	uint64_t offset, nbytes, length;
	uint32_t digest;
	const char *name;	/* at most 15 bytes */
};

/* One write of the schedule. */
struct witem {
	uint64_t block;
	uint32_t gen;
	uint64_t seq;
	uint64_t watermark;
};

/* The shared write state: the schedule, generations, in-flight blocks, counters. */
struct core {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const struct agent_opts *o;
	uint64_t nblocks;		/* span in blocks */
	uint64_t base_blocks;		/* blocks [0, base_blocks) are baselined */
	uint32_t spb;
	uint32_t *gens;			/* newest submitted generation per block */
	uint8_t *busy;			/* a write of the block is in flight */
	uint64_t rng;
	uint64_t issued;		/* schedule position */
	uint64_t seq;
	uint64_t acks;			/* acknowledgements seen (next ack_index) */
	uint64_t flushes;
	uint64_t since_flush;		/* acks since the last flush was submitted */
	uint64_t alloc_next;		/* alloc pattern: position in the never-written area */
	uint64_t alloc_mul;
	bool have_pending;
	struct witem pending;		/* next item, waiting for its block to be free */
	volatile bool stop;
	int error;			/* first I/O error (negative errno) */
	int64_t last_flush_ns;
};

extern volatile sig_atomic_t agent_signalled;
/* SIGUSR1 (a scenario's flush step) asks the NBD write pass to finish: no new writes,
 * the ones in flight complete, one flush covers them all, whatever the flush policy,
 * and the pass ends. */
extern volatile sig_atomic_t agent_flush_asked;

void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ledger client (lclient.c). All functions are safe to call with no ledger (no-ops). */
int lclient_start(const struct agent_opts *o, uint64_t nblocks);
void lclient_baseline(uint64_t first, uint64_t n, int64_t submit_ns, int64_t complete_ns);
void lclient_ack(const struct witem *w, uint32_t flags, uint64_t ack_index,
		 int64_t submit_ns, int64_t complete_ns);
void lclient_filesync(const struct file_ack *a, int64_t submit_ns, int64_t complete_ns);
void lclient_flush(uint64_t id, uint64_t covers, int64_t submit_ns, int64_t complete_ns);
/* Send what is queued and END, wait at most wait_ms for the host to confirm it
 * (RECORDED), stop the sender. Returns 0 when confirmed (or with no ledger), -EPROTO
 * when the host rejected the session (lclient_reason says why), -ETIMEDOUT when it
 * could not be confirmed (both logged). */
int lclient_finish(uint32_t reason, uint64_t acks, uint64_t flushes, int wait_ms);
/* The host rejected the session: writing on is pointless (thread-safe). */
bool lclient_failed(void);
/* The host's reason for the rejection; "" otherwise. */
const char *lclient_reason(void);
uint64_t lclient_dropped(void);

/* Schedule (core.c). */
int core_init(struct core *c, const struct agent_opts *o, uint64_t nblocks);
void core_release(struct core *c);
/* With c->mu held: the next write, or false when stopping. wait: block on a busy
 * block; without it, return false if the next block is busy (NBD event loop). */
bool core_next(struct core *c, struct witem *w, bool wait);
/* With c->mu held: a write completed; records the ack. Returns true when the flush
 * policy wants a flush now (covers = c->acks). */
bool core_complete(struct core *c, const struct witem *w, bool fua, int64_t submit_ns,
		   int64_t complete_ns);
/* With c->mu held: a flush is being submitted; returns its covers value and id. */
uint64_t core_flush_begin(struct core *c, uint64_t *id);
/* Record a completed flush (takes c->mu). */
void core_flush_done(struct core *c, uint64_t id, uint64_t covers, int64_t submit_ns);
/* A flush from begin to done around dev_flush (0 or a negative errno), without c->mu
 * held; recorded only when it succeeded. Returns dev_flush's result. */
int core_flush_sync(struct core *c, int (*dev_flush)(void));

/* Check phase (check.c). The reader takes slots in ring order (0, 1, ..
 * CHECK_SLOTS-1, 0, ...), fills each with the next consecutive blocks and hands it
 * over; a decoding thread consumes them in the same order, so reading and decoding
 * overlap. */
#define CHECK_SLOTS 16
#define CHECK_CHUNK (1u << 20)
struct checker;
struct checker *checker_new(const struct agent_opts *o, uint64_t nblocks, void *out_file);
/* len is a multiple of the block size; blocks are consecutive from the previous call. */
void checker_feed(struct checker *k, const unsigned char *buf, size_t len);
/* Buffer of CHECK_CHUNK bytes for slot, once the decoder has freed it; without wait,
 * NULL if it is not free yet. */
unsigned char *checker_slot(struct checker *k, unsigned slot, bool wait);
/* The slot holds len bytes of the next blocks: decode it. */
void checker_slot_ready(struct checker *k, unsigned slot, size_t len);
/* Wait for the decoder, print the end line, free k. Returns 0 or a negative errno. */
int checker_finish(struct checker *k, double seconds);

/* Target I/O (io_file.c, io_nbd.c): each returns 0 or a negative errno. */
int file_open_target(const struct agent_opts *o, bool writing, uint64_t *size);
int file_baseline(struct core *c);
/* With the baseline existing: one flush before the first write, sent to the ledger
 * (covers 0), which makes what the disk held durable (docs/oracle.md, "Durable
 * memory"). */
int file_carry_flush(struct core *c);
int file_write_run(struct core *c);
int file_check(const struct agent_opts *o, struct checker *k, uint64_t nblocks);
void file_close_target(void);
#ifdef PC_AGENT_NBD
int nbd_open_target(const struct agent_opts *o, uint64_t *size);
int nbd_baseline(struct core *c);
int nbd_carry_flush(struct core *c);
int nbd_write_run(struct core *c);
int nbd_check(const struct agent_opts *o, struct checker *k, uint64_t nblocks);
void nbd_close_target(void);
#endif

/* The files workload (files.c): write on the file system mounted at o->target until
 * stopped (signal, --duration, --writes operations), acknowledging every completed
 * sync; fscheck reads every file there back into an fscheck report (docs/oracle.md). */
int files_write(const struct agent_opts *o);
int files_check(const struct agent_opts *o);
/* The sqlite workload (sqlwl.c) on the file system at o->target, and its check line. */
int sql_write(const struct agent_opts *o);
int sql_check(const struct agent_opts *o);

/* Fill a buffer with consecutive baseline blocks [first, first+n) (generation 0). */
void baseline_fill(const struct agent_opts *o, unsigned char *buf, uint64_t first, uint64_t n);
/* Encode one write's block. */
void write_fill(const struct agent_opts *o, unsigned char *buf, const struct witem *w);

#endif
