/* Child processes: the one way powercut runs an external command.
 *
 * Always an argument vector, never a shell string. Each child runs in its own
 * process group, so a timeout or a kill reaches everything it started. A timeout
 * sends SIGTERM to the group, waits the grace period, then sends SIGKILL.
 * Every child gets SIGKILL when its parent dies (PR_SET_PDEATHSIG), so a controller
 * killed with SIGKILL leaves nothing running; the signal follows the death of the
 * thread that called child_start(), so start children only from threads that outlive
 * them.
 *
 *   const char *argv[] = { "qemu-img", "check", "--output=json", path, NULL };
 *   struct child_result r;
 *   int rc = child_run(argv, NULL, 30000, &r);   // stdout/stderr captured
 *   ... r.out, r.err, r.status ...
 *   child_result_release(&r);
 */
#ifndef PC_CHILD_H
#define PC_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* How a child's standard stream is connected. */
enum child_io {
	CHILD_NULL,	/* /dev/null */
	CHILD_PIPE,	/* a pipe; the parent's end is in fd_in/fd_out/fd_err after start */
	CHILD_INHERIT,	/* the parent's own stream */
	CHILD_FD,	/* the descriptor given in fd_in/fd_out/fd_err before start */
};

struct child {
	/* Set by the caller before child_start(). */
	const char *const *argv;	/* argv[0] is looked up in PATH */
	const char *const *env;		/* extra "KEY=VALUE" entries, NULL-terminated, or NULL */
	const char *dir;		/* working directory, or NULL */
	enum child_io in, out, err;
	int grace_ms;			/* SIGTERM to SIGKILL; 0 means 2000 */

	/* Filled in by child_start(); fd_* are -1 when not a pipe. */
	pid_t pid;			/* also the process group id */
	int fd_in, fd_out, fd_err;
	int exec_errno;			/* errno of a failed exec (child exits 127) */
};

/* Start the child. Returns 0, or a negative errno (-ENOENT when argv[0] is not found:
 * the exec failure is reported to the parent, not only as exit status 127). */
int child_start(struct child *c);

/* Wait for the child to exit, at most timeout_ms (< 0: forever). On timeout the
 * process group gets SIGTERM, then SIGKILL after grace_ms, and -ETIMEDOUT is
 * returned after reaping. *status is the wait status. Closes the parent's pipe ends. */
int child_finish(struct child *c, int timeout_ms, int *status);

/* Ask the child to exit: SIGTERM to its group now and again every 100 ms until it
 * has exited, at most timeout_ms; then as child_finish's timeout (SIGKILL after
 * grace_ms, -ETIMEDOUT). A daemon whose signal handler only sets a flag that its
 * main loop reads between polls can sleep through a single SIGTERM that lands just
 * before it polls: qemu-storage-daemon 7.2 does. Reaps; *status is the wait status. */
int child_stop(struct child *c, int timeout_ms, int *status);

/* Signal the child's whole process group. Returns 0 or a negative errno. */
int child_kill(struct child *c, int sig);

/* True while the child has not been reaped and is still running (non-blocking). */
bool child_running(struct child *c);

/* Has the child exited? Non-blocking, and it stays unreaped (child_finish reaps it):
 * true with *status its wait status (WIFEXITED, WTERMSIG ... read it), false while it
 * runs or when it was reaped already. */
bool child_exited(struct child *c, int *status);

struct child_result {
	char *out, *err;	/* captured streams, NUL-terminated (may contain NULs) */
	size_t out_len, err_len;
	int status;		/* wait status */
	bool timed_out;
};

/* Run argv to completion, feeding `input` (may be NULL) on stdin and capturing stdout
 * and stderr. Returns 0 when the child ran (check r->status), or a negative errno
 * (-ENOENT: not found, -ETIMEDOUT: killed after timeout_ms; r is still filled). */
int child_run(const char *const argv[], const char *input, int timeout_ms,
	      struct child_result *r);
void child_result_release(struct child_result *r);

/* "exited with status 3" / "killed by signal 9 (Killed)" into buf; returns buf. */
const char *child_status_str(int status, char *buf, size_t len);

#endif
