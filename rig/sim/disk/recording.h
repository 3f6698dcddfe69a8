/* A recording of one disk (docs/explore.md): a directory holding the image as it was
 * when nbdkit started (base.img, a sparse copy), the write log of everything the disk
 * model acknowledged after that (writes.wlog, wlog.h), and recording.json, which says
 * what the disk was (written by whoever asked for the recording).
 */
#ifndef PC_RECORDING_H
#define PC_RECORDING_H

#include <stddef.h>

#define RECORDING_BASE "base.img"
#define RECORDING_LOG "writes.wlog"
#define RECORDING_META "recording.json"

/* Create dir (and its parents), copy image to dir/base.img keeping holes, and write
 * the nbdkit filter argument "record=dir/writes.wlog" into arg. 0 or a negative errno
 * (logged, category LOG_SIM). */
int recording_begin(const char *image, const char *dir, char *arg, size_t len);

/* Copy src to dst (created or truncated) with its holes. 0 or a negative errno. */
int recording_copy_sparse(const char *src, const char *dst);

#endif
