/* Child processes: see child.h. */
#include "child.h"
#include "clock.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* A pidfd lets poll() wake exactly when the child exits; older kernels fall back
 * to short sleeps. */
static int pidfd_get(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

/* 1 when the child has exited (it is left unreaped, so its pid and process group id
 * cannot be reused while we still signal the group), 0 while it runs. */
static int exited_unreaped(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD ? 1 : 0;
	return si.si_pid == pid;
}

/* Wait until the child exits or timeout_ms passes (< 0: forever); 1 exited, 0 not. */
static int wait_exit(pid_t pid, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : clock_mono_ms() + timeout_ms;
	int pfd = pidfd_get(pid);

	for (;;) {
		if (exited_unreaped(pid)) {
			if (pfd >= 0)
				close(pfd);
			return 1;
		}
		int64_t left = deadline == INT64_MAX ? -1 : deadline - clock_mono_ms();
		if (deadline != INT64_MAX && left <= 0)
			break;
		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };
			int t = left < 0 || left > INT32_MAX ? -1 : (int)left;
			poll(&p, 1, t);
		} else {
			struct timespec ts = { 0, 2 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	if (pfd >= 0)
		close(pfd);
	return 0;
}

static char **env_build(const char *const *extra)
{
	size_t n = 0, m = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	while (extra && extra[m])
		m++;
	env = calloc(n + m + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t klen = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
		bool overridden = false;

		/* An extra entry replaces an inherited one of the same name. */
		for (size_t j = 0; j < m && !overridden; j++)
			overridden = !strncmp(environ[i], extra[j], klen);
		if (!overridden)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		env[k++] = (char *)extra[j];
	env[k] = NULL;
	return env;
}

static int setup_stream(enum child_io io, int given, int pipefd[2], bool input)
{
	pipefd[0] = pipefd[1] = -1;
	if (io == CHILD_PIPE)
		return pipe2(pipefd, O_CLOEXEC) < 0 ? -errno : 0;
	if (io == CHILD_NULL) {
		int fd = open("/dev/null", (input ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		pipefd[input ? 0 : 1] = fd;
		return 0;
	}
	if (io == CHILD_FD && given < 0)
		return -EBADF;
	return 0;
}

/* In the child, after fork: only async-signal-safe calls. */
static void child_dup(enum child_io io, int given, int end, int target)
{
	int fd = io == CHILD_FD ? given : end;

	if (io == CHILD_INHERIT)
		return;
	if (fd == target) {
		/* dup2 onto itself would keep CLOEXEC set. */
		int fl = fcntl(fd, F_GETFD);
		fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
		return;
	}
	dup2(fd, target);
}

/* In the forked child: its process group, death with the parent, clean signals, the
 * three streams, the directory, then exec. An errno before or from exec goes to
 * errfd for the parent to report. */
static void __attribute__((noreturn)) exec_child(const struct child *c, pid_t parent,
						 const int fds[3], int errfd, char **env)
{
	sigset_t none;
	int e;

	setpgid(0, 0);
	/* The child dies with its parent: a controller killed by SIGKILL leaves no
	 * storage daemon, disk model or agent running on. The signal follows the
	 * forking thread's death, so children are started from long-lived threads
	 * only. A parent already gone before the prctl is seen through getppid(). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	if (getppid() != parent)
		_exit(127);
	/* The parent may ignore or block signals; the child starts clean. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	child_dup(c->in, c->fd_in, fds[0], 0);
	child_dup(c->out, c->fd_out, fds[1], 1);
	child_dup(c->err, c->fd_err, fds[2], 2);
	if (c->dir && chdir(c->dir) < 0)
		goto fail;
	execvpe(c->argv[0], (char *const *)c->argv, env);
fail:
	e = errno;
	if (write(errfd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/* The errno the child wrote to fd before it could exec, or 0 when exec closed fd. */
static int exec_errno(int fd)
{
	int e = 0;
	ssize_t n;

	do
		n = read(fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(e) ? e : 0;
}

static int child_start_here(struct child *c)
{
	int pin[2], pout[2], perr[2], perrno[2] = { -1, -1 };
	char **env = NULL;
	pid_t pid, parent;
	int rc;

	c->pid = -1;
	c->exec_errno = 0;
	if (!c->argv || !c->argv[0])
		return -EINVAL;
	pin[0] = pin[1] = pout[0] = pout[1] = perr[0] = perr[1] = -1;
	if ((rc = setup_stream(c->in, c->fd_in, pin, true)) < 0)
		goto fail;
	if ((rc = setup_stream(c->out, c->fd_out, pout, false)) < 0)
		goto fail;
	if ((rc = setup_stream(c->err, c->fd_err, perr, false)) < 0)
		goto fail;
	if (pipe2(perrno, O_CLOEXEC) < 0) {
		rc = -errno;
		goto fail;
	}
	env = env_build(c->env);
	if (!env) {
		rc = -ENOMEM;
		goto fail;
	}

	parent = getpid();
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto fail;
	}
	if (pid == 0)
		exec_child(c, parent, (const int[3]){ pin[0], pout[1], perr[1] }, perrno[1], env);
	/* Both sides call setpgid so the group exists before anyone signals it. */
	setpgid(pid, pid);
	free(env);
	env = NULL;
	close_fd(&perrno[1]);
	close_fd(&pin[0]);
	close_fd(&pout[1]);
	close_fd(&perr[1]);
	int e = exec_errno(perrno[0]);
	close_fd(&perrno[0]);
	if (e) {
		int st;

		c->exec_errno = e;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		pc_debug(LOG_CHILD, "cannot run '%s': %s", c->argv[0], strerror(e));
		rc = -e;
		goto fail;
	}
	c->pid = pid;
	if (c->in == CHILD_PIPE)
		c->fd_in = pin[1];
	else {
		close_fd(&pin[1]);
		if (c->in != CHILD_FD)
			c->fd_in = -1;
	}
	if (c->out == CHILD_PIPE)
		c->fd_out = pout[0];
	else if (c->out != CHILD_FD)
		c->fd_out = -1;
	if (c->err == CHILD_PIPE)
		c->fd_err = perr[0];
	else if (c->err != CHILD_FD)
		c->fd_err = -1;
	pc_debug(LOG_CHILD, "started '%s' pid %d", c->argv[0], (int)pid);
	return 0;

fail:
	free(env);
	close_fd(&perrno[0]);
	close_fd(&perrno[1]);
	close_fd(&perr[0]);
	close_fd(&perr[1]);
	close_fd(&pout[0]);
	close_fd(&pout[1]);
	close_fd(&pin[0]);
	close_fd(&pin[1]);
	return rc;
}

/* PR_SET_PDEATHSIG fires when the thread that forked exits, not the process: a child
 * forked by a short-lived thread (the power domain boots the node from its own thread)
 * would be killed when that thread ends. Children of threads other than the main one
 * are therefore forked by one spawner thread that lives as long as the process. */
static struct {
	pthread_once_t once;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct child *req;	/* the request being served, or NULL */
	int rc;
	bool done, up;
} spawner = { .once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER,
	      .cv = PTHREAD_COND_INITIALIZER };

static void *spawner_main(void *arg)
{
	pthread_mutex_lock(&spawner.mu);
	for (;;) {
		while (!spawner.req || spawner.done)
			pthread_cond_wait(&spawner.cv, &spawner.mu);
		spawner.rc = child_start_here(spawner.req);
		spawner.done = true;
		pthread_cond_broadcast(&spawner.cv);
	}
	return NULL;
}

static void spawner_init(void)
{
	pthread_t th;
	sigset_t all, old;

	/* Signals are for the threads that handle them, never the spawner. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	spawner.up = pthread_create(&th, NULL, spawner_main, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (spawner.up) {
		pthread_detach(th);
		pthread_setname_np(th, "pc-spawner");
	}
}

int child_start(struct child *c)
{
	if (gettid() == getpid())
		return child_start_here(c);
	pthread_once(&spawner.once, spawner_init);
	if (!spawner.up)
		return -EAGAIN;
	pthread_mutex_lock(&spawner.mu);
	while (spawner.req)
		pthread_cond_wait(&spawner.cv, &spawner.mu);
	spawner.req = c;
	spawner.done = false;
	pthread_cond_broadcast(&spawner.cv);
	while (!spawner.done)
		pthread_cond_wait(&spawner.cv, &spawner.mu);
	int rc = spawner.rc;
	spawner.req = NULL;
	spawner.done = false;
	pthread_cond_broadcast(&spawner.cv);
	pthread_mutex_unlock(&spawner.mu);
	return rc;
}

int child_kill(struct child *c, int sig)
{
	if (c->pid <= 0)
		return -ESRCH;
	if (kill(-c->pid, sig) < 0) {
		/* The group may be gone while the leader is still a zombie. */
		if (errno == ESRCH && kill(c->pid, sig) == 0)
			return 0;
		return -errno;
	}
	return 0;
}

bool child_running(struct child *c)
{
	return c->pid > 0 && !exited_unreaped(c->pid);
}

bool child_exited(struct child *c, int *status)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (c->pid <= 0 || waitid(P_PID, c->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	    si.si_pid != c->pid)
		return false;
	/* The wait status as waitpid would give it (the layout W* macros read). */
	*status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 :
		  (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
	return true;
}

static void close_parent_ends(struct child *c)
{
	if (c->in == CHILD_PIPE)
		close_fd(&c->fd_in);
	if (c->out == CHILD_PIPE)
		close_fd(&c->fd_out);
	if (c->err == CHILD_PIPE)
		close_fd(&c->fd_err);
}

/* Timeout path: SIGTERM to the group, grace, SIGKILL to the group. The leader is not
 * reaped before the SIGKILL, so its process group id cannot have been reused. */
static void terminate(struct child *c)
{
	int grace = c->grace_ms > 0 ? c->grace_ms : 2000;

	pc_debug(LOG_CHILD, "timeout: terminating '%s' pid %d", c->argv[0], (int)c->pid);
	child_kill(c, SIGTERM);
	wait_exit(c->pid, grace);
	child_kill(c, SIGKILL);
}

static int reap(struct child *c, int *status)
{
	int st = 0;

	while (waitpid(c->pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (status)
		*status = st;
	c->pid = -1;
	return 0;
}

int child_finish(struct child *c, int timeout_ms, int *status)
{
	int rc = 0;

	if (c->pid <= 0)
		return -ECHILD;
	close_parent_ends(c);
	if (!wait_exit(c->pid, timeout_ms)) {
		terminate(c);
		rc = -ETIMEDOUT;
	}
	int r = reap(c, status);
	return rc ? rc : r;
}

int child_stop(struct child *c, int timeout_ms, int *status)
{
	enum { RESEND_MS = 100 };
	int64_t deadline = clock_mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);

	if (c->pid <= 0)
		return -ECHILD;
	close_parent_ends(c);
	for (int sent = 0;; sent++) {
		if (sent == 1)
			pc_debug(LOG_CHILD, "'%s' pid %d still running after SIGTERM; sending again",
				 c->argv[0], (int)c->pid);
		child_kill(c, SIGTERM);
		int64_t left = deadline - clock_mono_ms();
		if (wait_exit(c->pid, left < RESEND_MS ? (int)(left > 0 ? left : 0) : RESEND_MS))
			return reap(c, status);
		if (clock_mono_ms() >= deadline)
			break;
	}
	terminate(c);
	int r = reap(c, status);
	return r ? r : -ETIMEDOUT;
}

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_read(struct buf *b, int fd)
{
	if (b->cap - b->len < 4096 + 1) {
		size_t cap = b->cap ? b->cap * 2 : 8192;
		char *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	ssize_t n = read(fd, b->p + b->len, b->cap - b->len - 1);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	b->len += (size_t)n;
	b->p[b->len] = '\0';
	return n > 0;
}

static char *buf_take(struct buf *b, size_t *len)
{
	*len = b->len;
	if (!b->p)
		return strdup("");
	return b->p;
}

/* Read what *fd has into b; closes *fd at EOF or on a read error. -ENOMEM, or 0. */
static int pump_read(struct buf *b, int *fd)
{
	int e = buf_read(b, *fd);

	if (e == -ENOMEM)
		return e;
	if (e <= 0)
		close_fd(fd);
	return 0;
}

/* child_run()'s I/O: feed input, collect stdout and stderr until EOF of both streams,
 * or until the child has exited and its pipes are drained (a grandchild that keeps a
 * pipe open must not hold us forever), or the deadline. pfd: the child's pidfd, or
 * -1. 0, -ETIME at the deadline, or another negative errno. */
static int pump(struct child *c, struct buf *out, struct buf *err, const char *input,
		size_t in_len, int64_t deadline, int pfd)
{
	size_t in_off = 0;
	bool exited = false;

	while (c->fd_out >= 0 || c->fd_err >= 0) {
		struct pollfd p[4];
		int n = 0, io = -1, ie = -1, ii = -1, ip = -1, rc;

		if (c->fd_out >= 0) {
			io = n;
			p[n++] = (struct pollfd){ .fd = c->fd_out, .events = POLLIN };
		}
		if (c->fd_err >= 0) {
			ie = n;
			p[n++] = (struct pollfd){ .fd = c->fd_err, .events = POLLIN };
		}
		if (c->fd_in >= 0) {
			ii = n;
			p[n++] = (struct pollfd){ .fd = c->fd_in, .events = POLLOUT };
		}
		if (pfd >= 0 && !exited) {
			ip = n;
			p[n++] = (struct pollfd){ .fd = pfd, .events = POLLIN };
		}
		int64_t left = deadline == INT64_MAX ? -1 : deadline - clock_mono_ms();
		if (left == 0 || (deadline != INT64_MAX && left < 0))
			return -ETIME;
		int t = exited ? 0 : (pfd < 0 ? 10 : (left < 0 ? -1 : (int)(left > INT32_MAX ? INT32_MAX : left)));
		if (pfd < 0 && left >= 0 && left < t)
			t = (int)left;
		int k = poll(p, n, t);
		if (k < 0 && errno != EINTR)
			return -errno;
		if (k == 0 && exited)
			break;	/* drained */
		if (io >= 0 && (p[io].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    (rc = pump_read(out, &c->fd_out)) < 0)
			return rc;
		if (ie >= 0 && (p[ie].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    (rc = pump_read(err, &c->fd_err)) < 0)
			return rc;
		if (ii >= 0 && (p[ii].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(c->fd_in, input + in_off, in_len - in_off);
			if (w > 0)
				in_off += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len)
				close_fd(&c->fd_in);
		}
		if (ip >= 0 && (p[ip].revents & POLLIN))
			exited = true;
		if (pfd < 0 && !exited && exited_unreaped(c->pid))
			exited = true;
	}
	return 0;
}

int child_run(const char *const argv[], const char *input, int timeout_ms,
	      struct child_result *r)
{
	struct child c = {
		.argv = argv,
		.in = input ? CHILD_PIPE : CHILD_NULL,
		.out = CHILD_PIPE,
		.err = CHILD_PIPE,
	};
	struct buf out = { 0 }, err = { 0 };
	size_t in_len = input ? strlen(input) : 0;
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : clock_mono_ms() + timeout_ms;
	int pfd, rc;

	sigset_t pipe_set, old_set, pending;
	bool pipe_was_pending;

	memset(r, 0, sizeof(*r));
	/* A child that exits without reading its input must not kill us with SIGPIPE:
	 * block it while we write, and swallow one we caused. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	sigpending(&pending);
	pipe_was_pending = sigismember(&pending, SIGPIPE);
	rc = child_start(&c);
	if (rc < 0) {
		pthread_sigmask(SIG_SETMASK, &old_set, NULL);
		return rc;
	}
	if (c.fd_in >= 0) {
		fcntl(c.fd_in, F_SETFL, fcntl(c.fd_in, F_GETFL) | O_NONBLOCK);
		if (in_len == 0)
			close_fd(&c.fd_in);
	}
	pfd = pidfd_get(c.pid);
	rc = pump(&c, &out, &err, input, in_len, deadline, pfd);
	if (rc == -ETIME) {
		r->timed_out = true;
		rc = 0;
	}
	if (pfd >= 0)
		close(pfd);
	close_parent_ends(&c);
	sigpending(&pending);
	if (!pipe_was_pending && sigismember(&pending, SIGPIPE)) {
		struct timespec zero = { 0, 0 };
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	if (r->timed_out) {
		terminate(&c);
		if (rc == 0)
			rc = -ETIMEDOUT;
	} else if (rc < 0) {
		child_kill(&c, SIGKILL);
	}
	int rr = reap(&c, &r->status);
	if (rc == 0)
		rc = rr;
	r->out = buf_take(&out, &r->out_len);
	r->err = buf_take(&err, &r->err_len);
	if (!r->out || !r->err) {
		child_result_release(r);
		return -ENOMEM;
	}
	return rc;
}

void child_result_release(struct child_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
	r->out_len = r->err_len = 0;
}

const char *child_status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "unknown wait status 0x%x", status);
	return buf;
}
