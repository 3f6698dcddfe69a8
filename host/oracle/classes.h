/* The oracle's classes, each list in one place (docs/oracle.md, "Classification" and
 * "File systems"). The enums, the names stored in the database, the report's plain
 * words, whether a class is a violation, and the SQL column lists of
 * oracle_cycle_result are all generated from these lists, so a class is added by one
 * line here (and, for a block class, a store migration adding its column).
 *
 * Each entry is X(ID, name, title, violation, counts): ID makes CLS_ID / FSV_ID; name
 * is the stable name of the database, the JSON and the report; title is the report's
 * plain words; violation is NO, YES or IF_OLDER (enum oracle_violation); counts says
 * what the report counts of it, BLOCKS, FILES, ACKS or only CYCLES (enum
 * oracle_counts). The order is the order of docs/oracle.md, of the report's rows and
 * of the database's columns.
 *
 * Header-only: the classifier, the file oracle, the campaign and the report include it
 * without linking each other.
 */
#ifndef PC_CLASSES_H
#define PC_CLASSES_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* The block oracle's classes (classify.h), one per block and cycle. */
#define ORACLE_BLOCK_CLASSES(X) \
	X(OK, "ok", "ok", NO, BLOCKS) \
	X(INFLIGHT_PERSISTED, "inflight_persisted", "in-flight write persisted", NO, BLOCKS) \
	X(UNFLUSHED_LOST_OLDER, "unflushed_lost_older", "unflushed lost, rolled back", NO, BLOCKS) \
	X(UNFLUSHED_LOST_ZERO, "unflushed_lost_zero", "unflushed lost, zeroes", NO, BLOCKS) \
	X(FLUSHED_LOST_OLDER, "flushed_lost_older", "flushed lost, rolled back", YES, BLOCKS) \
	X(FLUSHED_LOST_ZERO, "flushed_lost_zero", "flushed lost, zeroes", YES, BLOCKS) \
	X(TORN, "torn", "torn", IF_OLDER, BLOCKS) \
	X(CORRUPT, "corrupt", "corrupt", YES, BLOCKS) \
	X(MISDIRECTED, "misdirected", "misdirected", YES, BLOCKS)

/* The file oracle's classes (fsverify.h), one per finding:
 *   FSCK_ERRORS          the file system's check found errors
 *   UNMOUNTABLE          it could not be mounted
 *   FILE_LOST            a synced, durably named file is gone
 *   FILE_DAMAGED         present, but synced content is not
 *   NAME_LOST            a name made durable by a directory sync is gone, the content
 *                        is elsewhere
 *   COMMIT_LOST          sqlite: an acknowledged commit is missing
 *   DB_CORRUPT           sqlite: integrity_check failed, or it cannot be opened
 *   COMMIT_LOST_ALLOWED  WAL + synchronous=NORMAL: the last commits rolled back, as
 *                        SQLite documents (not a violation) */
#define ORACLE_FILE_CLASSES(X) \
	X(FSCK_ERRORS, "fs_check_errors", "file system check found errors", YES, CYCLES) \
	X(UNMOUNTABLE, "fs_unmountable", "file system unmountable", YES, CYCLES) \
	X(FILE_LOST, "synced_file_lost", "synced file lost", YES, FILES) \
	X(FILE_DAMAGED, "synced_file_damaged", "synced file damaged", YES, FILES) \
	X(NAME_LOST, "name_lost", "name lost after a directory sync", YES, FILES) \
	X(COMMIT_LOST, "commit_lost", "acknowledged commit lost", YES, FILES) \
	X(DB_CORRUPT, "database_corrupt", "database corrupt", YES, FILES) \
	X(COMMIT_LOST_ALLOWED, "commit_lost_allowed", \
	  "last commits rolled back (WAL, synchronous=NORMAL: allowed)", NO, FILES)

enum cls_class {
#define X(id, name, title, viol, counts) CLS_##id,
	ORACLE_BLOCK_CLASSES(X)
#undef X
	CLS__COUNT
};

enum fsv_class {
#define X(id, name, title, viol, counts) FSV_##id,
	ORACLE_FILE_CLASSES(X)
#undef X
	FSV_NCLASSES
};

/* Whether a class is a durability violation. The classifier decides each block by
 * its rules (docs/oracle.md); this is what the class means, as the report prints it. */
enum oracle_violation {
	ORACLE_NO,
	ORACLE_YES,
	ORACLE_IF_OLDER,	/* torn: when a part is older than the newest flushed write */
};

/* What the report counts of a class besides the cycles it occurred in. */
enum oracle_counts {
	ORACLE_BLOCKS,
	ORACLE_FILES,		/* findings: files, names or commits */
	ORACLE_ACKS,		/* acknowledgements */
	ORACLE_CYCLES,		/* a whole-disk outcome: only the cycles */
};

struct oracle_class {
	const char *name, *title;
	enum oracle_violation violation;
	enum oracle_counts counts;
};

/* One row of a class table, for the lists above (and the report's, report.h). */
#define ORACLE_CLASS_ROW(id, name, title, viol, counts) \
	{ name, title, ORACLE_##viol, ORACLE_##counts },

/* The class's row; an out-of-range value gives a row named "unknown". */
static inline const struct oracle_class *cls_class_info(enum cls_class c)
{
	static const struct oracle_class rows[CLS__COUNT] = { ORACLE_BLOCK_CLASSES(ORACLE_CLASS_ROW) };
	static const struct oracle_class unknown = { "unknown", "unknown", ORACLE_NO, ORACLE_BLOCKS };

	return (unsigned)c < CLS__COUNT ? &rows[c] : &unknown;
}

/* An out-of-range value gives a row named "?". */
static inline const struct oracle_class *fsv_class_info(enum fsv_class c)
{
	static const struct oracle_class rows[FSV_NCLASSES] = { ORACLE_FILE_CLASSES(ORACLE_CLASS_ROW) };
	static const struct oracle_class unknown = { "?", "?", ORACLE_NO, ORACLE_FILES };

	return (unsigned)c < FSV_NCLASSES ? &rows[c] : &unknown;
}

/* Stable names used in the database and reports ("ok", "inflight_persisted", ...). */
static inline const char *cls_class_name(enum cls_class c)
{
	return cls_class_info(c)->name;
}

static inline const char *fsv_class_name(enum fsv_class c)
{
	return fsv_class_info(c)->name;
}

/* The class of a stored name: the enum value, or -EINVAL when no class has it. */
static inline int cls_class_parse(const char *name)
{
	for (int c = 0; c < CLS__COUNT; c++)
		if (!strcmp(name, cls_class_info(c)->name))
			return c;
	return -EINVAL;
}

static inline int fsv_class_parse(const char *name)
{
	for (int c = 0; c < FSV_NCLASSES; c++)
		if (!strcmp(name, fsv_class_info(c)->name))
			return c;
	return -EINVAL;
}

/* oracle_cycle_result's class columns in class order, for SQL built at compile time,
 * each followed by a comma: "ok, inflight_persisted, ..., misdirected, " and
 * "o.ok, o.inflight_persisted, ..., o.misdirected, ". */
#define ORACLE_COLUMN_(id, name, title, viol, counts) name ", "
#define ORACLE_QCOLUMN_(id, name, title, viol, counts) "o." name ", "
#define ORACLE_CLASS_COLUMNS ORACLE_BLOCK_CLASSES(ORACLE_COLUMN_)
#define ORACLE_CLASS_QCOLUMNS ORACLE_BLOCK_CLASSES(ORACLE_QCOLUMN_)

#endif
