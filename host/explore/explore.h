/* Crash-state exploration of a recorded disk (docs/explore.md).
 *
 * A recording (rig/sim/disk/recording.h) holds the disk's image when nbdkit started
 * and the write log of everything the disk model acknowledged until the cut. From it
 * explore_run() builds crash states: every flush boundary; between flushes, every
 * prefix of the completed writes; seeded random subsets of the writes after the last
 * durable flush (a volatile cache persists them in any order); torn multi-sector
 * writes. Each state is served by nbdkit's pcreplay filter (base + chosen writes, no
 * copy), checked with `qemu-img check --output=json` (qcow2) or thin_check on its
 * thin pool's metadata (lvmthin, thin.h), opened by qemu-storage-daemon (qcow2; raw;
 * lvmthin: the thin volume's span assembled from the pool) and read by the agent's
 * check, and
 * classified by oracle_verify() against the ledger as it stood at that crash point.
 * Each state is a row of explore_state, under one explore_run row.
 *
 *   struct explore_opts o;
 *   explore_opts_init(&o);
 *   o.db_path = "campaign.db"; o.campaign = 1; o.cycle = 3; o.disk = "q";
 *   struct explore_summary s;
 *   explore_run(store_db(st), &o, &s);
 *
 * Not thread-safe. Functions return 0 or a negative errno and log why (LOG_CHECK).
 */
#ifndef PC_EXPLORE_H
#define PC_EXPLORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#define EXPLORE_KINDS(X) \
	X(BOUNDARY, "boundary") \
	X(PREFIX, "prefix") \
	X(SUBSET, "subset") \
	X(TORN, "torn")

enum explore_kind {
#define X(e, s) EXPLORE_##e,
	EXPLORE_KINDS(X)
#undef X
	EXPLORE__KINDS
};
const char *explore_kind_name(enum explore_kind k);

/* What the metadata check and the open said about a state. */
#define EXPLORE_META(X) \
	X(NONE, "none")			/* raw: nothing to check */ \
	X(CLEAN, "clean") \
	X(LEAKS, "leaks")			/* leaked clusters only */ \
	X(REPAIRABLE, "repairable")	/* a dirty lazy_refcounts image: refcounts wrong */ \
	X(CORRUPT, "corrupt") \
	X(UNREADABLE, "unreadable")		/* the check, the open or the read-back failed */

enum explore_meta {
#define X(e, s) EXPLORE_META_##e,
	EXPLORE_META(X)
#undef X
	EXPLORE__META
};
const char *explore_meta_name(enum explore_meta m);
static inline bool explore_meta_failure(enum explore_meta m)
{
	return m == EXPLORE_META_CORRUPT || m == EXPLORE_META_UNREADABLE;
}

struct explore_opts {
	const char *db_path;	/* the campaign database (its recordings sit beside it) */
	uint64_t campaign;
	uint32_t cycle;
	const char *disk;	/* the [disk NAME] */
	int64_t max_states;	/* budget of states; 0: 200 */
	double max_seconds;	/* budget of time; 0: none */
	uint64_t seed;		/* random subsets and tears */
	const char *tmpdir;	/* parent of the work directory; NULL: $TMPDIR or /tmp */
	volatile int *stop;	/* stop between states once *stop is set (a signal); or NULL */
};

struct explore_summary {
	int64_t run_id;
	uint64_t log_entries, log_writes, log_flushes;
	uint64_t baseline_entries;	/* logged before the ledger had the baseline: no crash
					 * point falls there (docs/explore.md) */
	uint64_t candidates[EXPLORE__KINDS];	/* states of each kind there are */
	uint64_t explored[EXPLORE__KINDS];
	uint64_t states;
	uint64_t violation_states, metadata_failure_states, leak_states;
	/* The smallest failing state (fewest writes) of each kind of failure, -1: none. */
	int64_t smallest_violation, smallest_metadata_failure;
	double seconds;
};

void explore_opts_init(struct explore_opts *o);

/* The directory of the recordings of one cycle: DB.rec/campaign-C/cycle-N (one
 * directory per disk under it). */
void explore_recording_dir(const char *db_path, uint64_t campaign, uint32_t cycle, char *out,
			   size_t len);

/* Explore one recorded disk of one cycle; rows go into db (the campaign database,
 * whose ledger is read but never changed). */
int explore_run(sqlite3 *db, const struct explore_opts *o, struct explore_summary *s);

/* Write state `state` of the newest exploration of that disk and cycle to out: the
 * image file's bytes (qcow2 or raw) as the crash left them, for qemu-img and qemu-io. */
int explore_export(sqlite3 *db, const struct explore_opts *o, int64_t state, const char *out);

/* Classify a check report (the agent's, from another read-back of state `state`, such
 * as the guest's) against the ledger as of that state's crash point, exactly as the
 * exploration classified its own read-back. *out: {"state", "violations", "counts"}
 * (counts as in explore_state.counts_json), owned by the caller. */
int explore_classify(sqlite3 *db, const struct explore_opts *o, int64_t state,
		     const char *report, json_t **out);

#endif
