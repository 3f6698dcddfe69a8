/* LVM-thin crash states (docs/explore.md, "LVM-thin"): from one state's PV bytes, the
 * thin pool's metadata verdict and the thin volume as dm-thin would read it.
 *
 * The state's own VG metadata (lvmpv.h) says where the pool's metadata LV (tmeta) and
 * data LV (tdata) lie on the PV and which device_id the thin LV has. thin_state()
 * copies tmeta into a file, runs thin_check on it (the check lvm2 runs before it
 * activates the pool), thin_dumps the committed mappings of the thin device and
 * assembles the first span bytes of the thin volume into a sparse file: mapped chunks
 * read from tdata, unmapped ones left as holes (dm-thin reads unprovisioned blocks as
 * zeroes). The agent's check then reads that file.
 *
 *   struct thin_state r;
 *   thin_state(read_pv, ctx, &names, workdir, span, "span.img", &r);
 *   ... r.meta, r.json, r.readable ...
 *   thin_state_release(&r);
 *
 * Not thread-safe (thin_check and thin_dump write files in workdir).
 */
#ifndef PC_EXPLORE_THIN_H
#define PC_EXPLORE_THIN_H

#include <stdbool.h>
#include <stdint.h>

#include "explore.h"
#include "lvmpv.h"

/* The names the guest gives its volumes (recording.json; rig/sim/guest/init). */
struct thin_names {
	char vg[64], pool[64], lv[64];
};

struct thin_state {
	enum explore_meta meta;	/* clean, leaks, corrupt or unreadable */
	char *json;		/* what the verdict rests on (compact JSON), owned */
	bool readable;		/* the span image was written: read it back */
};

/* 0 once the state is judged (whatever the verdict), or a negative errno when the
 * tools could not run at all or the host's own disk failed (a work file could not be
 * created or written: full, read-only); logged, thin_check missing naming the package. */
int thin_state(lvmpv_read_fn rd, void *ctx, const struct thin_names *nm, const char *work,
	       uint64_t span, const char *img, struct thin_state *r);
void thin_state_release(struct thin_state *r);

/* Is thin-provisioning-tools installed? 0, or -ENOENT logged with the package's name. */
int thin_tools_check(void);

#endif
