/* A disk with a file system and the files workload: classified by the file oracle
 * (fsdisk.c). */
#ifndef PC_FSDISK_H
#define PC_FSDISK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsverify.h"

struct store;

struct camp_fs_outcome {
	char fs[16], tool[16];
	int fsck_rc, fsck_raw_rc;
	bool mounted;
	size_t files_seen, names, commits, syncs, violations;
	size_t counts[FSV_NCLASSES];
};

/* Classify the fscheck report at report_path against the cycle's acknowledgements;
 * store one finding per lost or damaged file (and the fs check's verdict). 0 or a
 * negative errno (the report is bad: logged naming it). */
int camp_fs_record(struct store *st, int64_t cycle_id, uint64_t campaign, uint32_t cycle,
		   const char *disk, uint32_t id, const char *report_path, struct camp_fs_outcome *o);
/* The disk's fields for the cycle's JSON. New reference. */
json_t *camp_fs_json(const struct camp_fs_outcome *o);

#endif
