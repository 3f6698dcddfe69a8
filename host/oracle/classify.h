/* The classifier: per-block classes and per-cycle counts, exactly as docs/oracle.md
 * ("Classification") defines them. Pure logic on in-memory inputs; verify.h loads the
 * inputs from the campaign database and the agent's check report. The classes
 * themselves (enum cls_class, their names) are in classes.h.
 */
#ifndef PC_CLASSIFY_H
#define PC_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classes.h"	/* enum cls_class, cls_class_name() */

/* What a run of sectors read back as (from the check report). */
enum cls_skind {
	CLS_S_GEN,	/* a record of this campaign, disk, block and sector */
	CLS_S_ZERO,	/* all zero */
	CLS_S_BAD,	/* garbage: bad magic, CRC or payload */
	CLS_S_FOREIGN,	/* a valid record of another block, disk, campaign or a later cycle */
};

struct cls_run {
	uint16_t first, n;	/* sectors first .. first+n-1 of the block */
	enum cls_skind kind;
	uint32_t cycle, gen;	/* CLS_S_GEN */
	uint64_t watermark;	/* CLS_S_GEN */
	bool have_seq;		/* CLS_S_GEN: the report gave the write's seq (check report 2) */
	uint64_t seq;
};

/* One acknowledged generation of a block (baseline excluded). */
struct cls_ack {
	uint32_t gen;
	uint64_t ack_index;
	uint64_t seq;		/* the write's identity: a record of gen with another seq is
				 * not this write (0: unknown, the summary of a pruned cycle) */
};

/* What was durable in a block when the cycle began (docs/oracle.md, "Durable memory"):
 * what the last check of a kept disk read back, or what a pass before the cycle (a
 * backing chain's baseline) wrote. */
enum cls_carry_kind {
	CLS_C_NONE,		/* nothing carried (a fresh disk, or the block was baselined) */
	CLS_C_ZERO,		/* it read back as zeroes: nothing to lose */
	CLS_C_GEN,		/* a record: cycle, gen, seq */
	CLS_C_DAMAGED,		/* torn, corrupt or misdirected then: sectors says how */
};

struct cls_carry {
	enum cls_carry_kind kind;
	uint32_t cycle, gen;	/* CLS_C_GEN: the record's */
	bool have_seq;
	uint64_t seq;
	uint32_t from;		/* the cycle whose check read it (or the pass's cycle) */
	bool flushed;		/* a flush of this cycle completed: the record is durable */
	const char *sectors;	/* CLS_C_DAMAGED: the sector runs read then (JSON); not owned */
};

/* The ledger's view of one block in the cycle being classified. */
struct cls_ledger {
	bool acked;		/* A(b) exists (baselined or written this cycle) */
	uint32_t newest_acked;	/* A(b) */
	bool flushed;		/* F(b) exists */
	uint32_t newest_flushed;/* F(b) */
	const struct cls_ack *acks;	/* acknowledged generations, any order; not owned */
	size_t nacks;
	bool baselined;		/* generation 0 of this cycle was written here */
	/* Acknowledgements 0 .. acks_contig-1 are all in the ledger (0: not known): a
	 * record whose watermark is within them had every ack it waited for recorded. */
	uint64_t acks_contig;
	struct cls_carry carry;
};

struct cls_block {
	/* input */
	uint64_t block;
	struct cls_ledger led;
	const struct cls_run *runs;	/* covering every sector once; not owned */
	size_t nruns;
	const char *sectors;		/* the report's sector runs of a damaged block (JSON), or
					 * NULL; compared with carry.sectors; not owned */
	/* output */
	enum cls_class cls;
	bool violation;
	bool anomaly;			/* ordering anomaly (not a violation) */
	bool stale;			/* a record of this block and generation from another
					 * write (its seq differs): class misdirected */
	bool implausible;		/* a record the agent cannot have written (a violation) */
	bool carried_lost;		/* the lost durable record is the carried one */
	bool carried_kept;		/* the damage read is the carried one, reported before */
	int64_t vmin, vmax;		/* oldest/newest version read (-2 zero, -1 earlier cycle) */
	uint64_t lost_min_ack;		/* smallest ack index of a lost write, UINT64_MAX if none */
};

struct cls_cycle {
	/* input */
	uint32_t cycle;
	uint16_t spb;			/* sectors per block */
	int64_t cut_ns;			/* host monotonic time of the cut */
	int64_t last_flush_ns;		/* host receive time of the last completed flush */
	bool have_flush;		/* false: last_flush_ns is the hello time */
	/* output */
	uint64_t count[CLS__COUNT];
	uint64_t violations;
	uint64_t anomalies;
	uint64_t implausible;		/* blocks with an implausible record */
	uint64_t carried_lost;		/* flushed-lost blocks whose loss is of carried data */
	int64_t since_flush_ns;		/* cut_ns - last_flush_ns, kept with every finding */
};

#define CLS_V_ZERO	(-2)
#define CLS_V_OLDCYCLE	(-1)

/* A version across cycles, ordered: zero < (cycle, gen) by cycle, then generation. */
#define CLS_W_ZERO	(-1)
static inline int64_t cls_wide(uint32_t cycle, uint32_t gen)
{
	return (int64_t)((uint64_t)cycle << 32 | gen);
}

/* Classify one block (no ordering anomaly: that needs the whole cycle). Returns 0, or
 * -EINVAL when the runs do not cover the spb sectors exactly once. */
int cls_block_classify(struct cls_block *b, uint32_t cycle, uint16_t spb);

/* Classify every block, then mark ordering anomalies, and fill the counts of c.
 * Returns 0 or the first block's negative errno. */
int cls_cycle_classify(struct cls_cycle *c, struct cls_block *blocks, size_t n);

#endif
