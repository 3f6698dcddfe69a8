/* fio beside the agent, as load on the node ([node] fio; docs/node.md, "fio beside
 * the agent"). Shared by the node drivers:
 *
 *   nodefio_argv()   fio's own arguments, the same for every driver: the job files
 *                    with --thread (one process: a kill takes every job) and
 *                    --output-format=json --status-interval=1, the data file in
 *                    the node's directory and the [node] fio_size override;
 *   nodefio_*()      fio on a remote node over remote.h (the qemu driver over ssh and
 *                    the proxmox driver): the job files copied into the driver's run
 *                    directory on the node, fio started there detached from the ssh
 *                    session (setsid) with its output in DIR/fio.json, stopped and read
 *                    back at the check, killed at close.
 *
 * The record of a cycle is fio_record()'s (host/fio): {"figures", "verify"} of the last
 * complete report, or {"error"}.
 *
 *   struct nodefio f;
 *   nodefio_init(&f);
 *   nodefio_start(&f, r, rdir, cfg->node);   // before the workload; nothing without jobs
 *   ... the cut ...
 *   nodefio_stop(&f);                        // at the check: f.record is set
 *   nodefio_release(&f);                     // at close: kills fio if it still runs
 */
#ifndef PC_NODE_NODEFIO_H
#define PC_NODE_NODEFIO_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "remote.h"

#define NODEFIO_MAX_JOBS 4

/* fio's argument vector: "fio", the fixed options, then the job files. */
struct nodefio_argv {
	const char *argv[8 + NODEFIO_MAX_JOBS];	/* 5 options at most */
	char filename[PATH_MAX + 32];
	char filesize[48];
};

/* How many job files [node] fio names: 0..NODEFIO_MAX_JOBS, or -E2BIG (logged). */
int nodefio_count(char *const *jobs);

/* Fill a for a run whose data file is DIR/fio.data. filesize 0: the job files' own
 * size. jobs: NULL-terminated, at most NODEFIO_MAX_JOBS (-E2BIG when more). a must
 * outlive the use of a->argv. */
int nodefio_argv(struct nodefio_argv *a, const char *dir, uint64_t filesize,
		 const char *const *jobs);

/* fio on a remote node. */
struct nodefio {
	struct remote *r;		/* borrowed from the driver */
	char dir[PATH_MAX];		/* on the node: the driver's run directory */
	char rjob[NODEFIO_MAX_JOBS][PATH_MAX + 32];
	bool started;			/* fio may run: stop or kill it */
	json_t *record;			/* after nodefio_stop: owned, NULL before */
};

void nodefio_init(struct nodefio *f);

/* Copy cn->fio's job files into dir on the node and start fio there, detached. 0 (also
 * when cn->fio is empty: nothing runs) or a negative errno (logged). dir must exist. */
int nodefio_start(struct nodefio *f, struct remote *r, const char *dir,
		  const struct cfg_node *cn);

/* SIGINT (fio prints a last report), SIGKILL after 5 s; then fio.json is read back and
 * f->record set. Nothing when fio was not started. */
void nodefio_stop(struct nodefio *f);

/* SIGKILL fio if it still runs (close, whatever failed before) and free the record. */
void nodefio_release(struct nodefio *f);

#endif
