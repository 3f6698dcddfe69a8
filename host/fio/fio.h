/* fio's JSON output (--output-format=json) into per-cycle figures.
 *
 *   json_t *fig = fio_figures(output);   // new reference, or NULL with errno
 *
 * The output may start with other lines (fio's warnings); the first line that opens
 * a JSON object starts the report, and anything after it is ignored. The figures:
 *   {"fio_version": "fio-3.33",
 *    "jobs": [{"name", "error", "read": {...}, "write": {...}}]}
 * where each direction is {"ios", "iops", "bw_kib", "lat_p50_us", "lat_p99_us",
 * "lat_p999_us"} (completion latency percentiles, microseconds; absent when fio gave
 * none), with "rate_over": "job" when iops and bw_kib are over the job's runtime
 * because the direction's own was under a tenth of it (a verify job's read-back). A
 * job's non-zero "error" (fio's errno, e.g. 84 EILSEQ for a verify failure) is what
 * the optional secondary check reports; it is never the oracle.
 *
 * Pure parsing of text already captured: the node drivers run fio (nodefio.c, qemu.c)
 * and store fio_record()'s result with the cycle.
 */
#ifndef PC_FIO_H
#define PC_FIO_H

#include <jansson.h>

/* Parse fio's output. NULL with errno: ENOENT no report, EBADMSG it does not parse,
 * EPROTO it has no jobs, ENOMEM. Pure: nothing is logged (the caller knows which
 * run the output is of). */
json_t *fio_figures(const char *output);

/* The last complete report of a run with --status-interval (fio prints one JSON
 * report per interval, then its final one): a run cut short (killed, the node lost
 * power) ends in a partial report, which is skipped. NULL with errno as
 * fio_figures(), and ENODATA when reports began but none is complete. */
json_t *fio_figures_last(const char *output);

/* The words for fio_figures()'s errno (either sign), as a record stores them: "no JSON
 * report in fio's output", ... Static text. */
const char *fio_strerror(int err);

/* The secondary check of the figures: "pass", or "fail" when a job reported an error. */
const char *fio_verify_result(const json_t *figures);

/* What a node stores per cycle (`fio` in its record) from the whole output of a run
 * with --status-interval: {"figures": ..., "verify": "pass"|"fail"} of its last
 * complete report, or {"error": TEXT} when there is none. A new reference; NULL only
 * when out of memory. */
json_t *fio_record(const char *output);

#endif
