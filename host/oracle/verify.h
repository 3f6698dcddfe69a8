/* Verify one disk of one cycle: load its ledger from the campaign database, read the
 * agent's check report (JSON lines, docs/oracle.md "Check report"), classify every
 * block and store the results. This is what `powercut verify` and the campaign engine
 * call after a cut.
 */
#ifndef PC_VERIFY_H
#define PC_VERIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sqlite3.h>

#include "classify.h"

struct oracle_verify_result {
	struct cls_cycle cycle;	/* counts, violations, anomalies, since_flush_ns */
	uint64_t blocks;	/* blocks classified */
	uint64_t gaps;		/* acknowledgements missing from the ledger (tail_gap included) */
	uint64_t tail_gap;	/* of them: counted by the END, never received, no later ack */
};

/* Classify cycle `cycle` of disk `disk`. report: the agent's check output (read to its
 * end; not closed). cut_ns: host monotonic time of the cut (0: now is not known, the
 * time of the ledger's last received frame is used). With store, the non-ok blocks go
 * into oracle_check and the counts into oracle_cycle_result (replacing an earlier run).
 * Returns 0, -ENOENT when the ledger has no session for that cycle and disk, -EINVAL
 * for a report that does not match the ledger or cannot be parsed (logged), -EIO for
 * database errors, -ENOMEM. */
int oracle_verify(sqlite3 *db, uint64_t campaign, uint32_t cycle, uint32_t disk, FILE *report,
		  int64_t cut_ns, bool store, struct oracle_verify_result *res);

/* Called for every finding: a block that is not ok, or an ordering anomaly. detail_json
 * is an object {"class", "violation", "anomaly", "newest_acked", "newest_flushed",
 * "read_min", "read_max"} (versions as in classify.h; null when absent), with
 * "durable": {"cycle", "gen", "read_in", "lost"} when the block carried a durable
 * record, "stale" and "implausible" when so (docs/oracle.md), valid during
 * the call. The controller stores it with store_finding_insert(); a non-zero return
 * stops the walk and is returned. */
typedef int (*oracle_finding_fn)(void *ctx, const struct cls_block *b, const char *detail_json,
				 int64_t since_flush_ns);

/* A kept disk's durable memory (docs/oracle.md, "Durable memory"): store what the
 * check report of `cycle` read back, per run of blocks, as what is durable when the
 * next cycle begins (after that cycle's first flush). Earlier memories of the disk
 * but the one before go. report is read to its end. 0, or as oracle_verify. */
int oracle_remember(sqlite3 *db, uint64_t campaign, uint32_t cycle, uint32_t disk, FILE *report);

/* oracle_verify(), then fn for every finding. */
int oracle_verify_each(sqlite3 *db, uint64_t campaign, uint32_t cycle, uint32_t disk,
		       FILE *report, int64_t cut_ns, bool store, struct oracle_verify_result *res,
		       oracle_finding_fn fn, void *ctx);

#endif
