/* The write log of a recorded disk (docs/explore.md, "Recording"): what the disk model
 * below QEMU received and acknowledged, in completion order, in the manner of Linux's
 * dm-log-writes. The pcvcache filter writes it (record=FILE); powercut explore reads it.
 *
 * File: a 16-byte header ("PCWLOG01", version, header size), then entries, each a
 * 40-byte head followed, for WLOG_WRITE, by `count` bytes of data. Little-endian (the
 * host's order: the log never leaves the machine that made it). Every entry is
 * appended with one write(2) once its operation completed and before the reply, so a
 * process killed mid-append leaves at most one truncated entry at the end, which was
 * never acknowledged; the reader drops it and says so.
 *
 * Writer: not thread-safe (the filter holds its lock). Reader: the map is read-only.
 * Functions return 0 or a negative errno; wlog_map returns NULL and sets errno, and
 * writes a message naming the file and byte into why.
 */
#ifndef PC_WLOG_H
#define PC_WLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WLOG_MAGIC	"PCWLOG01"
#define WLOG_VERSION	1u
#define WLOG_SECTOR	512u

enum wlog_type {
	WLOG_WRITE = 1,		/* count bytes of data at off */
	WLOG_ZERO = 2,		/* count zero bytes at off (no data in the log) */
	WLOG_FLUSH = 3,		/* every entry before it is durable (unless WLOG_F_NOTDURABLE) */
};

enum {
	WLOG_F_FUA = 1u << 0,		/* the write was durable on completion, and (as the
					 * cache model writes everything down on FUA) so was
					 * everything before it */
	WLOG_F_NOTDURABLE = 1u << 1,	/* the disk acknowledged the flush or FUA but made
					 * nothing durable (lying control, noflush) */
};

struct wlog_head {
	uint32_t magic;		/* WLOG_ENTRY_MAGIC */
	uint32_t type;		/* enum wlog_type */
	uint32_t flags;
	uint32_t count;		/* bytes (WRITE, ZERO) */
	uint64_t off;		/* bytes */
	int64_t t_ns;		/* CLOCK_MONOTONIC at completion */
	uint64_t seq;		/* 0, 1, 2, ... in the file */
};
#define WLOG_ENTRY_MAGIC 0x31454c57u	/* "WLE1" */

/* ---- writer ---- */
struct wlog_writer {
	int fd;
	uint64_t seq;
	uint64_t bytes;
};
/* Create (truncate) path and write the header. */
int wlog_create(struct wlog_writer *w, const char *path);
/* Append one entry stamped now; data is count bytes for WLOG_WRITE, else NULL. */
int wlog_append(struct wlog_writer *w, enum wlog_type type, uint32_t flags, uint64_t off,
		uint32_t count, const void *data);
void wlog_close(struct wlog_writer *w);

/* ---- reader ---- */
struct wlog_entry {
	struct wlog_head h;
	const uint8_t *data;	/* into the map (WLOG_WRITE), else NULL */
	uint64_t at;		/* byte offset of the entry in the file */
};

struct wlog {
	struct wlog_entry *e;
	size_t n;
	bool truncated;		/* a partial last entry was dropped */
	void *map;
	size_t map_len;
};

/* Map and index the log at path. NULL with errno, and the message in why (not the
 * logger: this file is also built into the nbdkit filters, which report it through
 * nbdkit_error; the host logs it). */
struct wlog *wlog_map(const char *path, char *why, size_t why_len);
void wlog_free(struct wlog *l);
/* Does entry i make everything up to and including it durable? (a durable flush, or
 * a durable FUA write) */
static inline bool wlog_barrier(const struct wlog_entry *e)
{
	if (e->h.flags & WLOG_F_NOTDURABLE)
		return false;
	return e->h.type == WLOG_FLUSH || (e->h.flags & WLOG_F_FUA);
}

#endif
