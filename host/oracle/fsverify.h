/* The file oracle (docs/oracle.md, "File systems: the files workload"): what a file
 * system lost of what the files workload synced, from the acknowledgements in the
 * ledger (FILESYNC frames) and what the guest's check found after the cut (the file
 * system's own check, then every file read back chunk by chunk).
 *
 * fsv_classify() is pure: tests feed it hand-made acknowledgements and findings.
 * fsv_parse_report() reads the agent's fscheck report; fsv_load_acks() reads a cycle's
 * acknowledgements from the ledger. Caller owns everything it passes in; results are
 * freed with fsv_result_free().
 */
#ifndef PC_FSVERIFY_H
#define PC_FSVERIFY_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "classes.h"
#include "filerec.h"

/* One acknowledged sync (a ledger FILESYNC frame). */
struct fsv_ack {
	uint64_t seq;			/* operation number, 1, 2, ... in the agent's order */
	unsigned op;			/* enum fs_op */
	unsigned sync;			/* enum fs_sync */
	bool dirsync;			/* the directory was synced too: the name is durable */
	uint32_t file;
	uint64_t offset, nbytes;	/* what the operation wrote */
	uint64_t length;		/* the file's length after it */
	uint32_t digest;		/* CRC32C of the file's whole content after it */
	char name[FREC_NAME_MAX + 1];	/* the file's name after it */
};

/* A run of chunks of a file found after the cut. */
struct fsv_run {
	uint64_t first, n;
	enum frec_kind kind;
	uint32_t file;			/* FREC_RECORD: the chunks' file and chunk = position */
	uint64_t seq;			/* FREC_RECORD: the operation that wrote them */
};

/* A file found after the cut. */
struct fsv_file {
	char name[FREC_NAME_MAX + 1];
	uint64_t length;
	uint32_t digest;
	struct fsv_run *runs;
	size_t nruns;
};

/* What the sqlite check found (a "sqlcheck" report). */
struct fsv_sql {
	bool present;			/* the report was a sqlcheck */
	bool opened;			/* the database could be opened */
	char integrity[160];		/* PRAGMA integrity_check's first line ("ok") */
	uint64_t (*ids)[2];		/* transaction ids present, as [first, last] runs */
	size_t nids;
	uint64_t bad_rows;		/* rows whose payload does not match its id */
};

/* What the guest's check found. */
struct fsv_seen {
	char fs[16];			/* ext4, xfs */
	char tool[16];			/* e2fsck, xfs_repair */
	int fsck_rc;			/* the check's exit status after the journal/log replay */
	int fsck_raw_rc;		/* its exit status before the replay (-1: not run) */
	bool mounted;
	struct fsv_file *files;
	size_t nfiles;
	struct fsv_sql sql;
};

/* enum fsv_class and fsv_class_name() are in classes.h. */

struct fsv_finding {
	enum fsv_class cls;
	char name[FREC_NAME_MAX + 1];	/* the file name, "" for the file system */
	uint64_t ack_seq;		/* the acknowledgement that made it durable (0: none) */
	char detail[160];
};

struct fsv_result {
	size_t names;			/* durable names the acknowledgements promise */
	size_t commits;			/* commits acknowledged (sqlite) */
	size_t counts[FSV_NCLASSES];
	size_t violations;		/* every finding is one */
	struct fsv_finding *findings;
	size_t nfindings;
};

/* Compare acks (any order) with what was seen. 0, or -ENOMEM / -EINVAL (an ack of an
 * unknown operation, named in the log). */
int fsv_classify(const struct fsv_ack *acks, size_t nacks, const struct fsv_seen *seen,
		 struct fsv_result *res);
void fsv_result_free(struct fsv_result *res);

/* Read an fscheck report (JSON lines, docs/oracle.md). what names the input in
 * messages. 0, or -EINVAL with the line named. */
int fsv_parse_report(FILE *f, const char *what, struct fsv_seen *seen);
void fsv_seen_free(struct fsv_seen *seen);

/* The acknowledgements of a cycle's disk from the ledger (its own run). */
int fsv_load_acks(sqlite3 *db, uint64_t campaign, uint32_t cycle, uint32_t disk,
		  struct fsv_ack **acks, size_t *nacks);

#endif
