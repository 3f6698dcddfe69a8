/* The bench lock: two powercut processes never drive the same bench at once.
 *
 * An flock() on DIR/lock, held for the life of the process (the kernel drops it when
 * the process dies, however it dies), and the holder's pid written into the file for
 * messages. A lock file left by a killed process is free to flock; its stale pid is
 * reported and replaced. */
#ifndef PC_BENCHLOCK_H
#define PC_BENCHLOCK_H

#include <sys/types.h>

struct benchlock;

/* Take the lock of the bench whose run directory is dir (created if needed).
 * NULL with errno: EBUSY (held by a live process; *holder gets its pid when known),
 * or the errno of mkdir/open. Messages are logged. */
struct benchlock *benchlock_take(const char *dir, const char *bench, pid_t *holder);
/* Release and free (NULL allowed). */
void benchlock_release(struct benchlock *l);

#endif
