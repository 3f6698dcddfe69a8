/* A disk with a file system and the files workload (docs/oracle.md, "File systems"):
 * its check report is the agent's fscheck report, classified by the file oracle
 * (host/oracle/fsverify.c) against the cycle's FILESYNC acknowledgements. Kept apart
 * from cycle.c so the cycle's step model can call it as one step. */
#include "campaign.h"
#include "fsdisk.h"
#include "fsverify.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int camp_fs_record(struct store *st, int64_t cycle_id, uint64_t campaign, uint32_t cycle,
		   const char *disk, uint32_t id, const char *report_path, struct camp_fs_outcome *o)
{
	struct fsv_ack *acks = NULL;
	size_t nacks = 0;
	struct fsv_seen seen;
	struct fsv_result res;
	FILE *f;
	int rc;

	memset(o, 0, sizeof(*o));
	if (!(f = fopen(report_path, "re")))
		return -errno;
	rc = fsv_parse_report(f, report_path, &seen);
	fclose(f);
	if (rc < 0)
		return rc;
	rc = fsv_load_acks(store_db(st), campaign, cycle, id, &acks, &nacks);
	if (!rc)
		rc = fsv_classify(acks, nacks, &seen, &res);
	free(acks);
	o->syncs = nacks;
	if (rc < 0) {
		fsv_seen_free(&seen);
		return rc;
	}
	snprintf(o->fs, sizeof(o->fs), "%s", seen.fs);
	snprintf(o->tool, sizeof(o->tool), "%s", seen.tool);
	o->fsck_rc = seen.fsck_rc;
	o->fsck_raw_rc = seen.fsck_raw_rc;
	o->mounted = seen.mounted;
	o->files_seen = seen.nfiles;
	o->names = res.names;
	o->commits = res.commits;
	o->violations = res.violations;
	memcpy(o->counts, res.counts, sizeof(o->counts));
	/* The file system's verdict and the file oracle's summary as the disk's checks
	 * (the report reads them: docs/report.md). */
	json_t *cd = json_pack("{s:s,s:s,s:i,s:i,s:b}", "fs", seen.fs, "tool", seen.tool, "rc",
			       seen.fsck_rc, "raw_rc", seen.fsck_raw_rc, "mounted", seen.mounted);
	char *cds = cd ? json_dumps(cd, JSON_COMPACT) : NULL;
	store_check_insert(st, cycle_id, disk, "fs_check", !seen.mounted ? "unmountable" :
			   seen.fsck_rc ? "errors" : "ok", cds);
	free(cds);
	json_decref(cd);
	size_t lost = res.counts[FSV_FILE_LOST] + res.counts[FSV_FILE_DAMAGED] + res.counts[FSV_NAME_LOST] +
		      res.counts[FSV_COMMIT_LOST] + res.counts[FSV_DB_CORRUPT];
	cd = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "synced_names", (json_int_t)res.names,
		       "commits", (json_int_t)res.commits, "commit_lost", (json_int_t)res.counts[FSV_COMMIT_LOST],
		       "database_corrupt", (json_int_t)res.counts[FSV_DB_CORRUPT], "syncs",
		       (json_int_t)nacks, "files_seen", (json_int_t)seen.nfiles, "synced_file_lost",
		       (json_int_t)res.counts[FSV_FILE_LOST], "synced_file_damaged",
		       (json_int_t)res.counts[FSV_FILE_DAMAGED], "name_lost",
		       (json_int_t)res.counts[FSV_NAME_LOST]);
	cds = cd ? json_dumps(cd, JSON_COMPACT) : NULL;
	store_check_insert(st, cycle_id, disk, "file_oracle", lost ? "lost" : "ok", cds);
	free(cds);
	json_decref(cd);
	/* One finding row per file (block -1: not a block), named by its class. */
	for (size_t i = 0; i < res.nfindings; i++) {
		const struct fsv_finding *x = &res.findings[i];
		json_t *d = json_pack("{s:s,s:I,s:s}", "file", x->name, "ack_seq",
				      (json_int_t)x->ack_seq, "detail", x->detail);
		char *ds = d ? json_dumps(d, JSON_COMPACT) : NULL;
		store_finding_insert(st, cycle_id, disk, -1, fsv_class_name(x->cls), ds ? ds : "{}", 0);
		free(ds);
		json_decref(d);
	}
	pc_info(LOG_CHECK, "disk '%s': %s check by %s %s (exit status %d), %zu synced names, %zu commits, "
		"%zu lost, damaged or corrupt", disk, seen.fs, seen.tool, seen.fsck_rc ? "found errors" : "clean",
		seen.fsck_rc, res.names, res.commits, lost);
	fsv_result_free(&res);
	fsv_seen_free(&seen);
	return 0;
}

json_t *camp_fs_json(const struct camp_fs_outcome *o)
{
	json_t *cls = json_object();
	for (int k = 0; k < FSV_NCLASSES; k++)
		json_object_set_new(cls, fsv_class_name(k), json_integer((json_int_t)o->counts[k]));
	return json_pack("{s:s,s:{s:s,s:i,s:i,s:b},s:I,s:I,s:I,s:I,s:I,s:o,s:b}", "fs", o->fs,
			 "fs_check", "tool", o->tool, "rc", o->fsck_rc, "raw_rc", o->fsck_raw_rc,
			 "mounted", o->mounted, "synced_names", (json_int_t)o->names,
			 "commits", (json_int_t)o->commits,
			 "syncs", (json_int_t)o->syncs, "files_seen", (json_int_t)o->files_seen,
			 "violations", (json_int_t)o->violations, "file_classes", cls,
			 "synced_lost", o->counts[FSV_FILE_LOST] + o->counts[FSV_FILE_DAMAGED] +
			 o->counts[FSV_NAME_LOST] + o->counts[FSV_COMMIT_LOST] > 0);
}
