/* The qcow2 metadata check of a node's disk image: `qemu-img check --output=json -f
 * qcow2 IMG` through a command runner (on the node over ssh, or on this host), the
 * report classified and added to a disk's checks as kind "qemu-img-check". The one
 * producer of that record: the local driver, whose disk model checks its own images
 * (rig/sim/disk), records what the model found through imgcheck_add too.
 */
#ifndef POWERCUT_IMGCHECK_H
#define POWERCUT_IMGCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "child.h"

/* What one qcow2 check found. */
struct imgcheck_found {
	const char *result;		/* clean, leaks, corrupt, repaired; NULL: error */
	const char *error;		/* result NULL: why the check could not run */
	int dirty;			/* the image's dirty bit: 0, 1, or -1 when not read */
	int64_t corruptions, leaks, check_errors;	/* the read-only check's */
	int64_t fixed_corruptions, fixed_leaks;		/* the repair's, 0 without one */
	json_t *report;			/* qemu-img's JSON report (taken), or NULL */
};

/* Append the record {"kind": "qemu-img-check", "result", "detail"} to checks: result
 * "error" with detail {error}, else f->result with detail {["dirty"], corruptions,
 * leaks, check_errors, fixed_corruptions, fixed_leaks, ["qemu_img": the report]}. */
void imgcheck_add(json_t *checks, const struct imgcheck_found *f);

/* Runs argv where the image lives: 0 when it ran (res->status is its wait status) or a
 * negative errno; res is always filled and the caller releases it (remote_run's
 * contract, host/node/remote.h). */
typedef int (*imgcheck_run_fn)(void *ctx, const char *const argv[], struct child_result *res);

/* imgcheck_run_fn over remote_run: ctx is the driver's struct remote. */
int imgcheck_remote_run(void *remote, const char *const argv[], struct child_result *res);

/* One `qemu-img check` of img (repair: with `-r all`). Returns its JSON report (the
 * caller's reference), or NULL with why (len bytes) saying what went wrong. */
json_t *imgcheck_run(imgcheck_run_fn run, void *ctx, const char *img, bool repair, char *why,
		     size_t len);

/* "corrupt" (corruptions or check errors), "leaks" or "clean" for a report. */
const char *imgcheck_result(const json_t *report);

/* Check img and add the result to checks (imgcheck_add; the dirty bit is not read):
 * clean/leaks/corrupt, or "error". With lazy_refcounts a corrupt image is repaired
 * (`-r all`) as the next read-write open would: "repaired" when no corruption is left
 * (with the repair's fixed counts), else "corrupt". */
void imgcheck_qcow2(imgcheck_run_fn run, void *ctx, const char *img, bool lazy_refcounts,
		    json_t *checks);

#endif
