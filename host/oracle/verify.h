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
	uint64_t gaps;		/* acknowledgements missing from the ledger */
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

#endif
