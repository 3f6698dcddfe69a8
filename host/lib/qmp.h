/* A client of QEMU's machine protocol (QMP) over a UNIX socket, for QEMU itself (the
 * full tier's system_reset) and qemu-storage-daemon (the explorer's read-back). QMP
 * sends one JSON object per line: a greeting, then for each command its "return" or
 * "error", with asynchronous events (RESET, BLOCK_EXPORT_DELETED, ...) anywhere in
 * between, which this client skips. One thread per connection. */
#ifndef PC_QMP_H
#define PC_QMP_H

#include <stddef.h>

#include <jansson.h>

struct qmp;

/* Connects to path, reads the greeting and negotiates capabilities; every later read
 * waits at most timeout_ms (0: no limit). NULL with errno (ENOENT, ECONNREFUSED: no
 * monitor there; EPROTO: it did not speak QMP; ETIMEDOUT). */
struct qmp *qmp_open(const char *path, int timeout_ms);

/* Sends cmd (a reference is taken over, NULL is -ENOMEM) and waits for its answer. 0
 * when QEMU returned; -EIO when it refused, with its "desc" in why; -EPIPE when the
 * monitor closed, -ETIMEDOUT when it did not answer in time, with a sentence in why.
 * why (may be NULL) is data for the caller to log or store, not logged here. */
int qmp_execute(struct qmp *m, json_t *cmd, char *why, size_t len);

/* Closes the connection; NULL is fine. */
void qmp_close(struct qmp *m);

#endif
