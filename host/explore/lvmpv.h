/* lvmpv: a reader of LVM2's on-disk metadata on one physical volume, from bytes only.
 *
 * Crash-state exploration of LVM-thin (docs/explore.md) must find, in each state's own
 * bytes, where the thin pool's metadata and data LVs lie on the PV, the pool's chunk
 * size and the thin LV's device_id. lvm2 itself cannot open regular files and has no
 * library, so this module reads what lvm2 writes: the label in the first four sectors,
 * the pv_header, the first metadata area's header and its newest committed metadata
 * text, and parses that text (lvm2's config syntax) into the VG's LVs and their
 * segments. Each rule names the lvm2 source it stands for in lvmpv.c.
 *
 * A damaged PV (a crash state's half-written metadata) is an ordinary result here:
 * -EINVAL with a message naming the byte offset or the text's line, never a crash.
 * Every length and count read from the disk is bounded before use.
 *
 * Only one PV per VG is supported (the rig's guest has one); a VG with more, a stripe
 * on another PV or a striped segment with stripe_count > 1 is refused with a message.
 *
 * Not thread-safe per vg; distinct vg structs may be used from distinct threads.
 */
#ifndef POWERCUT_LVMPV_H
#define POWERCUT_LVMPV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reading callback: fill buf with len bytes at byte offset off of the PV; 0 or -errno.
 * A read past the end of the PV should fail (-EIO or any -errno); lvmpv_read then
 * fails with -EIO. */
typedef int (*lvmpv_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/* One contiguous piece of an LV on the PV. */
struct lvmpv_area {
	uint64_t lv_start; /* bytes into the LV */
	uint64_t pv_off;   /* bytes into the PV */
	uint64_t len;      /* bytes */
};

/* A message lvm2 queued in a thin pool's segment for the kernel (thin.c
 * _thin_pool_add_message): lvm2 writes the VG with the pool's transaction_id already
 * raised by one and the messages beside it, then activates the pool and sends them, and
 * commits the VG again without them. libdm-deptree.c _thin_pool_node_send_messages: a
 * pool whose kernel metadata has the VG's transaction_id takes no message; one behind
 * by one gets the messages, then set_transaction_id; any other difference fails
 * activation. */
enum lvmpv_msg_type { LVMPV_MSG_CREATE, LVMPV_MSG_DELETE };

struct lvmpv_msg {
	enum lvmpv_msg_type type;
	uint64_t device_id; /* create: the created thin LV's device_id; delete: the id */
	char lv[128];       /* create: the created thin LV */
};

struct lvmpv_lv {
	char name[128];
	char type[32]; /* of its (first) segment: "striped", "thin-pool", "thin", ... */
	uint64_t size; /* bytes: the sum of its segments' extent counts */
	/* striped (one stripe) segments on this PV, sorted by lv_start; NULL for an LV
	 * whose segments are not striped (thin-pool, thin) */
	struct lvmpv_area *areas;
	size_t nareas;
	/* thin-pool */
	char metadata_lv[128], data_lv[128];
	uint64_t chunk_bytes;
	uint64_t transaction_id;
	bool zero;
	struct lvmpv_msg *messages; /* in the text's order */
	size_t nmessages;
	/* thin */
	char pool_lv[128];
	uint64_t device_id;
	/* status flags of the LV as lvm2 wrote them */
	bool visible;
	unsigned nsegs; /* how many segments the text gave it */
};

struct lvmpv_vg {
	char name[128];
	uint64_t seqno;
	uint64_t extent_bytes;
	uint64_t pe_start_bytes; /* the text's pe_start of the PV: what lvm2 maps with */
	uint64_t label_pe_start_bytes; /* the pv_header's first data area (normally equal) */
	struct lvmpv_lv *lvs;
	size_t nlvs;
	/* where the text came from, for reports */
	char pv_uuid[33];        /* 32 characters of the pv_header's id, NUL-terminated */
	uint64_t dev_size_bytes; /* the pv_header's device size */
	uint64_t mda_offset;     /* the metadata area's header, bytes into the PV */
	uint64_t text_offset;    /* the committed text, bytes into the metadata area */
	uint64_t text_size;      /* bytes of the slot, with lvm2's trailing NUL */
	bool precommit_pending;  /* slot 1 holds other (precommitted, uncommitted) metadata */
};

/* Read the label, the PV header, the first metadata area's header (the first not
 * marked ignored, RAW_LOCN_IGNORED) and its committed metadata text (slot 0: lvm2's
 * newest committed; a precommitted slot 1 only sets precommit_pending), and parse it.
 * A damaged first area fails the read even where a second exists (lvm2 would use the
 * other; the rig's PVs have one area). why gets a message naming the byte offset or
 * the metadata text's line on failure. 0, or -EINVAL (not a PV / damaged), -EIO (read),
 * -ENOMEM. On success vg is filled and owned by the caller (lvmpv_free); on failure
 * vg holds nothing to free (lvmpv_free on it is still safe). */
int lvmpv_read(lvmpv_read_fn rd, void *ctx, struct lvmpv_vg *vg, char *why, size_t wlen);

/* The LV named lv in vg, or NULL. The pointer lives as long as vg. */
const struct lvmpv_lv *lvmpv_find(const struct lvmpv_vg *vg, const char *lv);

/* Map a byte range of an LV onto the PV: the PV offset of lv_off and how many bytes from
 * there are contiguous (at most len). -ERANGE beyond the LV's areas, -EINVAL for len 0. */
int lvmpv_map(const struct lvmpv_lv *lv, uint64_t lv_off, uint64_t len, uint64_t *pv_off,
	      uint64_t *run);

/* lvm2's calc_crc (lib/misc/crc.c): CRC-32 (0xedb88320) from crc, no final inversion;
 * lvm2 starts from INITIAL_CRC 0xf597a6cf and chains calls over pieces. For writers
 * of test images. */
#define LVMPV_INITIAL_CRC 0xf597a6cfu
uint32_t lvmpv_calc_crc(uint32_t crc, const void *buf, size_t size);

/* Free what lvmpv_read allocated in vg and zero it. NULL is fine. */
void lvmpv_free(struct lvmpv_vg *vg);

#endif
