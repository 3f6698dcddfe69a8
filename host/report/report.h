/* Durability reports: campaign databases in, a report out (docs/report.md).
 *
 *   struct report_options o = REPORT_OPTIONS_INIT;
 *   struct report *r = report_load(paths, n, &o);      // NULL + errno, message logged
 *   report_render(r, REPORT_HTML, stdout);
 *   report_free(r);
 *
 * report_load() reads every database (read-only) into the model below and groups the
 * observations into cells. All SQL lives in load.c: a new column is one field here
 * and one line there. The unit of observation is one disk in one cycle (a "disk-cycle"):
 * a cycle of a bench with three disks gives three, one in each disk's cell.
 *
 * A cell key is everything that may change the outcome (bench, cut kind, node tier
 * and disk physics, the disk's name, format and options, cache mode, workload and flush
 * policy); observations are pooled across databases and campaigns only when their keys
 * are equal. Ownership: the report owns everything reachable from it.
 *
 * The failure taxonomy's rows are the oracle's classes (classes.h) with the report's
 * whole-disk outcomes between them (REPORT_TAXONOMY). Every name host/report shares is
 * report_* (REPORT_* for constants); stats.h is its own module (stats_*).
 */
#ifndef PC_REPORT_H
#define PC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "classes.h"
#include "stats.h"

/* The rows of the failure taxonomy: the block oracle's classes (classes.h; a unit's
 * cls[] is indexed by enum cls_class), whole-disk outcomes, then the file oracle's
 * classes (a unit's files[] is indexed by enum fsv_class). Entries as classes.h's. */
#define REPORT_DISK_OUTCOMES(X) \
	X(META_FAIL, "metadata_failure", "metadata failure (unrepairable)", YES, CYCLES) \
	X(META_REPAIRED, "metadata_repaired", "metadata: refcount leaks repaired", NO, CYCLES) \
	X(ANOMALY, "ordering_anomaly", "ordering anomaly (not a violation)", NO, BLOCKS) \
	X(GAPS, "ledger_gaps", "ledger gaps (acknowledgements missing)", NO, ACKS) \
	X(NOT_VERIFIED, "not_verified", "not verified", NO, CYCLES)
#define REPORT_TAXONOMY(X) ORACLE_BLOCK_CLASSES(X) REPORT_DISK_OUTCOMES(X) ORACLE_FILE_CLASSES(X)
enum report_tax {
#define X(id, name, title, viol, counts) REPORT_TAX_##id,
	REPORT_TAXONOMY(X)
#undef X
	REPORT_NTAX
};
_Static_assert((int)REPORT_TAX_MISDIRECTED == (int)CLS_MISDIRECTED, "block classes first, in their order");
_Static_assert(REPORT_TAX_FSCK_ERRORS + FSV_NCLASSES == REPORT_NTAX, "file classes last");
/* The taxonomy row of file class k. */
#define REPORT_TAX_FILE(k) (REPORT_TAX_FSCK_ERRORS + (k))
/* Name, title and violation of every row (load.c). */
extern const struct oracle_class report_tax[REPORT_NTAX];

/* Forgetful (the disk model forgets durable data at a power cut) and NOSYNC (a zvol
 * with sync=disabled, which ignores flushes: the setting promises nothing) must be
 * caught in every cycle, as lying must: report_ctl_must_fail() says which controls do. */
enum report_control { REPORT_CTL_NONE, REPORT_CTL_LYING, REPORT_CTL_SAFE, REPORT_CTL_FORGETFUL,
		   REPORT_CTL_NOSYNC };
static inline bool report_ctl_must_fail(int c)
{
	return c == REPORT_CTL_LYING || c == REPORT_CTL_FORGETFUL || c == REPORT_CTL_NOSYNC;
}
enum report_ctl_state { REPORT_CTL_NOT_A_CONTROL, REPORT_CTL_PASSED, REPORT_CTL_FAILED,
			REPORT_CTL_NO_DATA, REPORT_CTL_NOT_APPLICABLE };

struct report_db {
	char *path;
	int schema;
	bool has_oracle;		/* oracle_cycle_result exists */
};

struct report_campaign {
	size_t db;
	int64_t id;
	char *bench, *status, *config_text, *config_hash;
	json_t *config;			/* config_json, parsed; never NULL */
	json_t *versions;		/* versions_json, parsed; never NULL */
	int64_t created_wall_ns;
	bool has_seed;
	uint64_t seed;			/* the oracle's payload seed (oracle_campaign_token) */
};

struct report_cycle {
	size_t campaign;
	int64_t id, idx;
	char *status;
	int64_t started_mono_ns, finished_mono_ns, started_wall_ns;
	bool have_cut;			/* a cut_events row (the first one of the cycle) */
	char cut_kind[8], timed_by[12];
	int64_t cut_seed, relay_off_ns, relay_on_ns, pwrok_fall_ns, pwrok_rise_ns;
	int64_t hold_up_ns, uncertainty_ns;	/* 0: unknown */
};

struct report_unit {
	size_t cycle, cell;
	const char *disk;		/* owned by the campaign's config */
	uint32_t disk_id;		/* 1-based position in the sorted disk names */
	bool verified;			/* the oracle classified this disk in this cycle */
	bool checked;			/* metadata checks ran */
	bool meta_failure;		/* an unrepairable metadata check result */
	bool meta_repaired;		/* refcount leaks repaired / reported (lazy_refcounts) */
	uint64_t blocks, cls[CLS__COUNT], violations, anomalies, gaps;
	int64_t since_flush_ns;
	bool have_flush;
	size_t drive;			/* index in report.drives (the smart check), or SIZE_MAX */
	bool all_zeroes;		/* every block the cycle wrote read back as zeroes */
	/* a files workload disk (docs/oracle.md, "File systems") */
	bool fs;
	uint64_t files[FSV_NCLASSES];	/* findings per file class (enum fsv_class) */
	/* The exposure window: the age at the cut of the oldest acknowledged write lost
	 * (oracle_exposure; absent when nothing acknowledged was lost). */
	bool have_exposure;
	int64_t exposure_ns;
};

/* A distribution of exposure windows, in ns (nearest-rank quantiles). */
struct report_exposure {
	size_t n;
	int64_t min, p50, p90, max;
};

/* A physical (or emulated) drive under a disk, from the cycles' smart checks (its
 * own testimony: smartctl's JSON before and after each cycle). */
struct report_drive {
	char *disk, *protocol, *model, *firmware, *serial, *write_cache;
	uint64_t cycles;		/* cycles with a smart check */
	uint64_t verdicts[5];		/* by smart verdict, in smart.h's order */
};
extern const char *const report_drive_verdicts[5];

/* A proportion with its statistics (docs/methodology.md). */
struct report_rate {
	uint64_t k, n;
	struct stats_interval ci95;	/* Wilson; [0, 1] when n = 0 */
	double upper95;			/* exact one-sided 95 % upper bound (any k) */
	int needed_rc;			/* stats_cycles_needed(): 0, -ERANGE, ... */
	uint64_t needed;		/* further failure-free cycles to bound below target */
};

#define REPORT_EXAMPLES 3

struct report_cell {
	char *key;
	char *bench, *cut, *node, *disk, *disk_kind, *format, *cache, *workload, *flush;
	char *drive;			/* "MODEL FIRMWARE" of the drive under the disk, or "" */
	char *scenario;			/* the cycle's steps, or "default" */
	int control;			/* enum report_control */
	uint64_t cycles, verified, violation_cycles, unflushed_loss_cycles, meta_failures,
		 meta_repaired, not_verified, anomaly_cycles, node_lost;
	struct report_rate violation, unflushed, meta;
	uint64_t tax_blocks[REPORT_NTAX], tax_cycles[REPORT_NTAX];
	size_t examples[REPORT_NTAX][REPORT_EXAMPLES];	/* unit indices */
	size_t n_examples[REPORT_NTAX];
	size_t ncampaigns, ndbs;
	uint64_t zeroed_cycles;		/* cycles whose written blocks all read as zeroes */
	int ctl_state;			/* enum report_ctl_state */
	uint64_t ctl_bad;		/* disk-cycles that contradict the control */
	/* Lying controls: power-cut cycles cut before the disk's first completed flush,
	 * where the lie could not show (counted apart, neither for nor against it). */
	uint64_t ctl_unexercised;
	size_t ctl_example;		/* one of them (unit index) */
	int64_t first_wall_ns, last_wall_ns;
	struct report_exposure exposure;
	/* a files workload cell: its file system, and cycles where the file system's check
	 * found errors (or it could not be mounted) and where a synced file or name was
	 * lost or damaged */
	char *fs;			/* "none" for the block workload */
	uint64_t fs_check_cycles, synced_lost_cycles, db_corrupt_cycles, allowed_rollback_cycles;
};

struct report_options {
	double target;			/* cycles-needed target rate, (0, 1) */
	double alpha;			/* 0.05: 95 % */
	int64_t campaign;		/* only this campaign (0: every campaign) */
	int refresh_s;			/* HTML: reload the page every N s (0: never) */
};
#define REPORT_OPTIONS_INIT { .target = 0.01, .alpha = 0.05 }

/* Explored crash states of one cell (explored.c, docs/explore.md). */
struct report_explored_min {
	bool have;
	int64_t writes;
	char kind[16];
	char cmd[3400];			/* the powercut explore --export command */
};
struct report_explored {
	uint64_t runs, states, violation_states, meta_failure_states, leak_states;
	struct report_explored_min smallest_violation, smallest_meta;
};

struct report {
	struct report_options opts;
	struct report_db *dbs;
	size_t n_dbs;
	struct report_campaign *campaigns;
	size_t n_campaigns;
	struct report_cycle *cycles;
	size_t n_cycles;
	struct report_unit *units;
	size_t n_units;
	struct report_cell *cells;
	size_t n_cells;
	struct report_drive *drives;
	size_t n_drives;
	int64_t generated_wall_ns;
	size_t controls_failed, controls_passed;
	struct report_explored *explored;	/* [n_cells] */
};

/* REPORT_SUMMARY: a short table for a terminal (at most 100 columns, ASCII). */
enum report_format { REPORT_HTML, REPORT_MD, REPORT_CSV, REPORT_JSON, REPORT_SUMMARY };

/* Parse "html", "md" (or "markdown"), "csv", "json", "summary". 0 or -EINVAL. */
int report_format_parse(const char *s, enum report_format *f);

/* Read the databases and build the model. NULL with errno (ENOENT, EPROTO, EIO,
 * ENOMEM) and a logged message naming the database. */
struct report *report_load(char *const *paths, size_t n, const struct report_options *o);
void report_free(struct report *r);

/* Write the report. 0 or -errno (EIO when the stream fails). */
int report_render(const struct report *r, enum report_format f, FILE *out);
/* The JSON form as a value (new reference); also used by the tests. */
json_t *report_json(const struct report *r);

/* A cell by its number (1-based, as in the report) or its key. 0, or -ENOENT with a
 * logged message. */
int report_cell_find(const struct report *r, const char *spec, size_t *cell);
/* Cells a and b compared (compare.c): Fisher's exact test of each rate, with the
 * cycles per cell needed to tell them apart. New reference / 0 or -EIO. */
json_t *report_compare_json(const struct report *r, size_t a, size_t b);
int report_compare_text(const struct report *r, size_t a, size_t b, FILE *out);

/* The state of a campaign, live or finished (status.c; `powercut status`, and the
 * status part of `powercut serve`): campaign, cycle n of N, ETA, the last cycle's
 * outcome, the controls so far, the node's state. campaign 0: the newest. New
 * reference, or NULL with errno and a logged message. */
json_t *report_status(const char *db_path, int64_t campaign);
/* Its text form (a few lines). 0 or -EIO. */
int report_status_text(json_t *st, FILE *out);

/* Prometheus text (format 0.0.4) of the report and, when not NULL, the newest
 * campaign's status (metrics.c). 0 or -EIO. */
int report_metrics(const struct report *r, json_t *status, FILE *out);
/* Serve the report of db live at listen ("ADDR:PORT", "[ADDR6]:PORT", ":PORT" for
 * loopback) until *stop is set (serve.c): / the HTML report reloading every refresh_s
 * seconds, /metrics, /status (JSON). ready(ctx, url) is called once listening (the
 * actual port when PORT is 0). 0, or -errno with a logged message. */
int report_serve(const char *db, const char *listen, int refresh_s, volatile int *stop,
		 void (*ready)(void *ctx, const char *url), void *ctx);

/* Internal to host/report: analyze.c groups units into cells and computes statistics. */
int report_analyze(struct report *r);
/* Internal: explored.c reads the explored states of every cell (after analyze). */
int report_explored_load(struct report *r);
json_t *report_explored_json(const struct report *r, size_t cell);

#endif
