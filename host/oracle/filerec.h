/* The files workload's chunk record and its sync acknowledgement (docs/oracle.md,
 * "File systems: the files workload").
 *
 * Every file the files workload writes is made of 512-byte chunks, each
 * self-describing like a sector record: which file and chunk it is and which operation
 * (seq) wrote it. So the checker can say, for any file it finds, which operation every
 * chunk comes from, and the host can tell a rolled-back chunk from a newer one.
 * Shared by powercut-agent and the host's file oracle; pure, libc only.
 */
#ifndef PC_FILEREC_H
#define PC_FILEREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FREC_CHUNK	512
#define FREC_MAGIC	0x314c494654554350ull	/* "PCUTFIL1" little-endian */
#define FREC_NAME_MAX	63			/* bytes of a file name */

struct frec_id {
	uint64_t campaign;
	uint32_t cycle, disk;
	uint32_t file;		/* file id, unique in the cycle */
	uint32_t chunk;		/* chunk index in the file */
	uint64_t seq;		/* operation that wrote the chunk (1, 2, ...) */
};

enum frec_kind { FREC_RECORD, FREC_ZERO, FREC_GARBAGE, FREC_FOREIGN };

/* The operations of the files workload, as acknowledged (ledger FILESYNC "op"). */
#define FS_OPS(X) \
	X(FS_OP_CREATE, 1, "create")		/* new name, written, file and directory synced */ \
	X(FS_OP_APPEND, 2, "append")		/* chunks added at the end, file synced */ \
	X(FS_OP_OVERWRITE, 3, "overwrite")	/* chunks rewritten in place, file synced */ \
	X(FS_OP_PREPARE, 4, "prepare")		/* a temporary file written and synced, name not */ \
	X(FS_OP_RENAME, 5, "rename")		/* the temporary file renamed, directory synced */ \
	X(FS_OP_COMMIT, 6, "commit")		/* sqlite workload: COMMIT returned */
enum fs_op {
#define X(e, v, s) e = v,
	FS_OPS(X)
#undef X
};
const char *fs_op_name(unsigned op);

/* How the file's data was synced (ledger FILESYNC "sync"). */
#define FS_SYNCS(X) \
	X(FS_SYNC_FSYNC, 1, "fsync") \
	X(FS_SYNC_FDATASYNC, 2, "fdatasync") \
	X(FS_SYNC_OSYNC, 3, "osync") \
	X(FS_SYNC_SQLITE_FULL, 4, "sqlite-full")	/* PRAGMA synchronous=FULL */ \
	X(FS_SYNC_SQLITE_NORMAL, 5, "sqlite-normal")	/* PRAGMA synchronous=NORMAL */ \
	X(FS_SYNC_SQLITE_EXTRA, 6, "sqlite-extra")	/* PRAGMA synchronous=EXTRA */
enum fs_sync {
#define X(e, v, s) e = v,
	FS_SYNCS(X)
#undef X
};
const char *fs_sync_name(unsigned s);

/* sqlite workload: the journal mode of a commit (FILESYNC "offset"). */
enum fs_journal { FS_JOURNAL_WAL = 1, FS_JOURNAL_DELETE = 2 };

/* The payload of transaction txid's row: n bytes derived from the seed. */
void frec_sql_payload(unsigned char *buf, size_t n, uint64_t seed, uint64_t txid);

void frec_encode(void *buf, const struct frec_id *id, uint64_t seed);
/* Decode one chunk; campaign, cycle and disk other than expected ones are FOREIGN. */
enum frec_kind frec_decode(const void *buf, uint64_t seed, uint64_t campaign, uint32_t cycle,
			   uint32_t disk, struct frec_id *id);

#endif
