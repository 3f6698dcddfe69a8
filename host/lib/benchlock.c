/* The bench lock: see benchlock.h. */
#include "benchlock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct benchlock {
	int fd;
	char *path;
};

static pid_t read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (pid_t)atol(buf);
}

struct benchlock *benchlock_take(const char *dir, const char *bench, pid_t *holder)
{
	struct benchlock *l = calloc(1, sizeof(*l));
	char buf[32];
	pid_t old;
	int rc, e;

	if (holder)
		*holder = 0;
	if (!l)
		return NULL;
	l->fd = -1;
	if ((rc = pc_mkdir_p(dir)) < 0) {
		e = -rc;
		pc_err(LOG_MAIN, "cannot create run directory '%s': %s", dir, strerror(e));
		goto fail;
	}
	if (asprintf(&l->path, "%s/lock", dir) < 0) {
		l->path = NULL;
		e = ENOMEM;
		goto fail;
	}
	/* CLOEXEC: a simulator we start must not keep the bench locked after we die. */
	l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (l->fd < 0) {
		e = errno;
		pc_err(LOG_MAIN, "cannot open bench lock '%s': %s", l->path, strerror(e));
		goto fail;
	}
	if (flock(l->fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno == EWOULDBLOCK ? EBUSY : errno;
		old = read_pid(l->fd);
		if (holder)
			*holder = old;
		if (e == EBUSY)
			pc_err(LOG_MAIN, "bench '%s' is in use by powercut pid %d (lock '%s')",
			       bench, (int)old, l->path);
		else
			pc_err(LOG_MAIN, "cannot lock '%s': %s", l->path, strerror(e));
		goto fail;
	}
	old = read_pid(l->fd);
	if (old > 0 && old != getpid())
		pc_warn(LOG_MAIN, "bench '%s': taking over the stale lock of pid %d (%s)", bench,
			(int)old, kill(old, 0) == 0 || errno == EPERM ?
			"a process with that pid runs but does not hold the lock" : "not running");
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(l->fd, 0) < 0 || pwrite(l->fd, buf, (size_t)n, 0) != n) {
		e = errno;
		pc_err(LOG_MAIN, "cannot write bench lock '%s': %s", l->path, strerror(e));
		goto fail;
	}
	return l;
fail:
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	free(l);
	errno = e;
	return NULL;
}

void benchlock_release(struct benchlock *l)
{
	if (!l)
		return;
	/* Empty the pid first so nobody reports a stale lock of ours. */
	if (ftruncate(l->fd, 0) < 0)
		pc_debug(LOG_MAIN, "cannot truncate '%s': %s", l->path, strerror(errno));
	close(l->fd);
	free(l->path);
	free(l);
}
