/* The qcow2 metadata check of a node's disk image: `qemu-img check --output=json -f
 * qcow2 IMG` through a command runner (on the node over ssh, or on this host), the
 * report classified and added to a disk's checks as kind "qemu-img-check".
 */
#ifndef POWERCUT_IMGCHECK_H
#define POWERCUT_IMGCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "child.h"

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

/* Check img and add the result to checks: "error" with detail {error}, else
 * clean/leaks/corrupt with detail {corruptions, leaks, check_errors, qemu_img: the
 * report}. With lazy_refcounts a corrupt image is repaired (`-r all`) as the next
 * read-write open would: "repaired" when no corruption is left (detail gains
 * fixed_corruptions), else "corrupt". */
void imgcheck_qcow2(imgcheck_run_fn run, void *ctx, const char *img, bool lazy_refcounts,
		    json_t *checks);

#endif
