#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "harness.h"

int h_failures;

bool h_check(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (cond)
		return true;
	h_failures++;
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

/* ---- paths ---- */

static const char *build_root(void)
{
	static char root[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n;

	if (root[0])
		return root;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return strcpy(root, "build");
	exe[n] = 0;
	/* this program lives in BUILD/rig/mcusim/ */
	snprintf(root, sizeof(root), "%s/../..", dirname(exe));
	return root;
}

const char *h_build_path(const char *rel)
{
	static char buf[PATH_MAX];
	const char *env = NULL;

	if (!strcmp(rel, "bin/powercut-mcusim"))
		env = getenv("POWERCUT_MCUSIM");
	else if (!strcmp(rel, "firmware/powercut-fw.elf"))
		env = getenv("POWERCUT_FW_ELF");
	if (env && *env)
		return env;
	snprintf(buf, sizeof(buf), "%s/%s", build_root(), rel);
	return buf;
}

int h_tmpdir(char *buf, size_t cap)
{
	const char *t = getenv("TMPDIR");
	char base[PATH_MAX];

	if (t && *t)
		snprintf(base, sizeof(base), "%s", t);
	else {
		snprintf(base, sizeof(base), "%s/tmp", build_root());
		mkdir(base, 0777);
	}
	if (snprintf(buf, cap, "%s/mcusim.XXXXXX", base) >= (int)cap)
		return -ENAMETOOLONG;
	if (!mkdtemp(buf)) {
		fprintf(stderr, "cannot create temp dir in '%s': %s\n", base, strerror(errno));
		return -errno;
	}
	return 0;
}

void h_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[PATH_MAX * 2];
	struct stat st;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			h_rmtree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* ---- line reader ---- */

int h_read_line(struct h_lbuf *lb, char *line, size_t cap, int timeout_ms)
{
	int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		char *nl = memchr(lb->buf, '\n', lb->len);

		if (nl) {
			size_t n = nl - lb->buf;
			size_t c = n < cap - 1 ? n : cap - 1;

			memcpy(line, lb->buf, c);
			line[c] = 0;
			memmove(lb->buf, nl + 1, lb->len - n - 1);
			lb->len -= n + 1;
			return c;
		}
		if (lb->len == sizeof(lb->buf)) {
			/* a line longer than the buffer: hand it over in pieces */
			size_t c = cap - 1 < lb->len ? cap - 1 : lb->len;

			memcpy(line, lb->buf, c);
			line[c] = 0;
			memmove(lb->buf, lb->buf + c, lb->len - c);
			lb->len -= c;
			return c;
		}
		int64_t left = deadline - clock_mono_ns();
		struct pollfd pf = { .fd = lb->fd, .events = POLLIN };
		int rc;
		ssize_t r;

		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&pf, 1, (int)((left + 999999) / 1000000));
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		r = read(lb->fd, lb->buf + lb->len, sizeof(lb->buf) - lb->len);
		if (r == 0)
			return -EPIPE;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		lb->len += r;
	}
}

/* ---- the simulator process ---- */

static int ctl_connect(struct h_sim *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(s->ctl) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, s->ctl);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		return -e;
	}
	s->ctl_fd = fd;
	s->ctl_lb.fd = fd;
	s->ctl_lb.len = 0;
	return 0;
}

int h_sim_start(struct h_sim *s, const char *elf, const char *run_dir,
		const char *const *extra)
{
	const char *argv[40];
	int n = 0, pfd[2], rc;
	char line[PATH_MAX * 3], exe[PATH_MAX];
	struct h_lbuf *lb;

	memset(s, 0, sizeof(*s));
	s->ctl_fd = -1;
	s->out_fd = -1;
	if (run_dir) {
		snprintf(s->run_dir, sizeof(s->run_dir), "%s", run_dir);
	} else {
		if ((rc = h_tmpdir(s->tmp, sizeof(s->tmp))))
			return rc;
		snprintf(s->run_dir, sizeof(s->run_dir), "%s/run", s->tmp);
	}
	snprintf(exe, sizeof(exe), "%s", h_build_path("bin/powercut-mcusim"));
	argv[n++] = exe;
	argv[n++] = "--firmware";
	argv[n++] = elf;
	argv[n++] = "--run-dir";
	argv[n++] = s->run_dir;
	for (int i = 0; extra && extra[i] && n < 38; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	s->pid = fork();
	if (s->pid < 0)
		return -errno;
	if (s->pid == 0) {
		dup2(pfd[1], 1);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	s->out_fd = pfd[0];
	lb = malloc(sizeof(*lb));
	if (!lb)
		return -ENOMEM;
	lb->fd = s->out_fd;
	lb->len = 0;
	rc = h_read_line(lb, line, sizeof(line), 15000);
	free(lb);
	if (rc < 0) {
		fprintf(stderr, "powercut-mcusim printed no ready line: %s\n", strerror(-rc));
		return rc;
	}
	if (sscanf(line, "ready tty=%4095s control=%4095s", s->tty, s->ctl) != 2) {
		fprintf(stderr, "unexpected first line from powercut-mcusim: '%s'\n", line);
		return -EPROTO;
	}
	if ((rc = ctl_connect(s))) {
		fprintf(stderr, "cannot connect to '%s': %s\n", s->ctl, strerror(-rc));
		return rc;
	}
	return 0;
}

int h_sim_finish(struct h_sim *s, const char *what)
{
	int status = 0;

	h_sim_stop(s, &status);
	H_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		"powercut-mcusim did not exit 0 on SIGTERM (status 0x%x)", status);
	h_sim_cleanup(s);
	if (h_failures) {
		printf("%d %s checks failed\n", h_failures, what);
		return 1;
	}
	printf("all %s checks passed\n", what);
	return 0;
}

int h_sim_attach(struct h_sim *s, const char *tty, const char *ctl)
{
	memset(s, 0, sizeof(*s));
	s->ctl_fd = -1;
	s->out_fd = -1;
	snprintf(s->tty, sizeof(s->tty), "%s", tty);
	snprintf(s->ctl, sizeof(s->ctl), "%s", ctl);
	return ctl_connect(s);
}

int h_sim_stop(struct h_sim *s, int *status)
{
	int st = 0;

	if (s->ctl_fd >= 0) {
		close(s->ctl_fd);
		s->ctl_fd = -1;
	}
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		for (int i = 0; i < 500; i++) {
			pid_t r = waitpid(s->pid, &st, WNOHANG);

			if (r == s->pid)
				goto done;
			usleep(10000);
		}
		fprintf(stderr, "powercut-mcusim pid %d ignored SIGTERM for 5 s\n", (int)s->pid);
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &st, 0);
		st = -1;
done:
		s->pid = 0;
	}
	if (s->out_fd >= 0) {
		close(s->out_fd);
		s->out_fd = -1;
	}
	if (status)
		*status = st;
	return 0;
}

void h_sim_cleanup(struct h_sim *s)
{
	h_sim_stop(s, NULL);
	if (s->tmp[0])
		h_rmtree(s->tmp);
	s->tmp[0] = 0;
}

int h_ctl(struct h_sim *s, const char *cmd, char *reply, size_t cap)
{
	char buf[512];
	size_t len = snprintf(buf, sizeof(buf), "%s\n", cmd);

	if (send(s->ctl_fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -errno;
	return h_read_line(&s->ctl_lb, reply, cap, 10000);
}

int h_edge_parse(const char *line, struct h_edge *e)
{
	static const char *const kinds[] = { "relay", "dc", "pwrok", "reset" };
	static const char *const causes[] = { "power", "external", "watchdog", "other" };
	char val[32];
	uint64_t v;

	memset(e, 0, sizeof(*e));
	e->kind = -1;
	for (int k = 0; k < 4; k++)
		if (!strncmp(line, kinds[k], strlen(kinds[k])) && line[strlen(kinds[k])] == ' ')
			e->kind = k;
	if (e->kind < 0)
		return -EINVAL;
	if (h_kv_u64(line, "cycle", &e->cycle) || h_kv_u64(line, "sim_us", &e->sim_us) ||
	    h_kv_u64(line, "boot_us", &e->boot_us) ||
	    h_kv_u64(line, "boot_cycles", &e->boot_cycles) || h_kv_u64(line, "wall_ns", &v))
		return -EINVAL;
	e->wall_ns = (int64_t)v;
	if (e->kind != H_RESET && h_kv_u64(line, "ch", &v) == 0)
		e->ch = (int)v;
	switch (e->kind) {
	case H_RELAY:
		return h_kv_u64(line, "energized", &v) ? -EINVAL : (e->value = (int)v, 0);
	case H_PWROK:
		return h_kv_u64(line, "level", &v) ? -EINVAL : (e->value = (int)v, 0);
	case H_DC:
		if (h_kv(line, "state", val, sizeof(val)))
			return -EINVAL;
		e->value = !strcmp(val, "back");
		return 0;
	default:
		if (h_kv(line, "cause", val, sizeof(val)))
			return -EINVAL;
		for (int k = 0; k < 4; k++)
			if (!strcmp(val, causes[k]))
				e->value = k;
		return 0;
	}
}

int h_ctl_edges(struct h_sim *s, struct h_edge **out, size_t *n)
{
	struct h_edge *v = NULL;
	size_t cnt = 0, cap = 0;
	char line[512];
	int rc;

	if (send(s->ctl_fd, "edges\n", 6, MSG_NOSIGNAL) != 6)
		return -errno;
	for (;;) {
		rc = h_read_line(&s->ctl_lb, line, sizeof(line), 10000);
		if (rc < 0)
			goto fail;
		if (!strncmp(line, "end", 3))
			break;
		if (cnt == cap) {
			struct h_edge *p = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v));

			if (!p) {
				rc = -ENOMEM;
				goto fail;
			}
			v = p;
		}
		if (h_edge_parse(line, &v[cnt])) {
			fprintf(stderr, "cannot parse edge line '%s'\n", line);
			rc = -EPROTO;
			goto fail;
		}
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
fail:
	free(v);
	return rc;
}

/* ---- the firmware link ---- */

int h_fw_open(struct h_fw *f, const char *path)
{
	struct termios tio;

	memset(f, 0, sizeof(*f));
	f->trace = getenv("MCUSIM_TRACE") != NULL;
	f->fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (f->fd < 0) {
		int e = errno;

		fprintf(stderr, "cannot open serial port '%s': %s\n", path, strerror(e));
		return -e;
	}
	if (tcgetattr(f->fd, &tio) == 0) {
		cfmakeraw(&tio);
		cfsetispeed(&tio, B115200);
		cfsetospeed(&tio, B115200);
		tio.c_cflag |= CLOCAL | CREAD;
		tio.c_cflag &= ~(CSTOPB | CRTSCTS);
		tcsetattr(f->fd, TCSANOW, &tio);
	}
	f->lb.fd = f->fd;
	/* the banner of a boot nobody watched may be waiting */
	h_fw_cut(f);
	return 0;
}

void h_fw_cut(struct h_fw *f)
{
	tcflush(f->fd, TCIOFLUSH);
	f->lb.len = 0;
	f->cut = true;
}

void h_fw_close(struct h_fw *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

int h_fw_send_raw(struct h_fw *f, const void *buf, size_t len)
{
	const char *p = buf;

	if (f->trace)
		fprintf(stderr, "> %.*s", (int)len, p);
	while (len) {
		ssize_t n = write(f->fd, p, len);

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int h_fw_send(struct h_fw *f, const char *body)
{
	char buf[256];
	size_t len = strlen(body);
	int n;

	if (len + 5 > sizeof(buf))
		return -E2BIG;
	memcpy(buf, body, len);
	n = fw_frame_seal(buf, len, sizeof(buf));
	if (n < 0)
		return -E2BIG;
	buf[n++] = '\n';
	return h_fw_send_raw(f, buf, n);
}

/* Is the framed body BODY (LEN bytes) a boot banner, '!SEQ T boot ...'? */
static bool is_boot(const char *body, int len)
{
	struct h_event ev;
	char buf[256];

	if (len <= 0 || (size_t)len >= sizeof(buf))
		return false;
	memcpy(buf, body, (size_t)len);
	buf[len] = 0;
	return h_event_parse(buf, &ev) == 0 && !strcmp(ev.name, "boot");
}

int h_fw_line(struct h_fw *f, char *body, size_t cap, int timeout_ms)
{
	char line[512];
	bool cut;
	int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		int64_t left = (deadline - clock_mono_ns()) / 1000000;
		int n, b;

		if (left <= 0)
			return -ETIMEDOUT;
		n = h_read_line(&f->lb, line, sizeof(line), (int)left);
		if (n < 0)
			return n;
		if (f->trace)
			fprintf(stderr, "< %s\n", line);
		b = fw_frame_check(line, n, FW_LINE_MAX_FW);
		cut = f->cut;
		f->cut = false;
		if (b < 0) {
			/* As the host's fwlink does: a reset cuts the line being printed short
			 * and the banner follows on the same line. The tail after the last '!'
			 * is tried as a line of its own; its checksum decides. */
			const char *bang = n > 1 ? memrchr(line + 1, '!', (size_t)n - 1) : NULL;
			int tail = bang ? fw_frame_check(bang, n - (int)(bang - line),
							 FW_LINE_MAX_FW) : -1;

			/* The first line after the harness's own flush or reset is the
			 * harness's doing, not the firmware's: the flush ate its head (it is
			 * dropped) or the reset cut it and a boot banner follows on it. A
			 * good frame other than a banner joined to it is still garbling. */
			if (!(cut && (tail < 0 || is_boot(bang, tail)))) {
				f->garbled++;
				fprintf(stderr,
					"garbled line from the firmware (error %d): '%s'\n", -b,
					line);
			} else if (f->trace)
				fprintf(stderr, "(head cut by the harness dropped)\n");
			if (tail < 0)
				continue;
			n -= (int)(bang - line);
			memmove(line, bang, (size_t)n + 1);
			b = tail;
		}
		if ((size_t)b >= cap)
			b = cap - 1;
		memcpy(body, line, b);
		body[b] = 0;
		return b;
	}
}

int h_event_parse(const char *body, struct h_event *ev)
{
	int off = 0;

	memset(ev, 0, sizeof(*ev));
	if (body[0] != '!')
		return -EINVAL;
	if (sscanf(body + 1, "%" SCNu64 " %" SCNu64 " %15s%n", &ev->seq, &ev->t, ev->name,
		   &off) != 3)
		return -EINVAL;
	off++;
	while (body[off] == ' ')
		off++;
	snprintf(ev->kv, sizeof(ev->kv), "%s", body + off);
	return 0;
}

int h_fw_reply(struct h_fw *f, char *reply, size_t cap, int timeout_ms)
{
	int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
	char body[256];

	for (;;) {
		int64_t left = (deadline - clock_mono_ns()) / 1000000;
		int n = h_fw_line(f, body, sizeof(body), left > 0 ? (int)left : 0);

		if (n < 0)
			return n;
		if (body[0] == '!') {
			if (f->nq < (int)(sizeof(f->q) / sizeof(f->q[0])) &&
			    h_event_parse(body, &f->q[f->nq]) == 0)
				f->nq++;
			continue;
		}
		snprintf(reply, cap, "%s", body);
		return n;
	}
}

int h_fw_request(struct h_fw *f, const char *body, char *reply, size_t cap, int timeout_ms)
{
	int rc = h_fw_send(f, body);

	if (rc)
		return rc;
	return h_fw_reply(f, reply, cap, timeout_ms);
}

static bool event_match(const struct h_event *e, const char *name, int ch)
{
	uint64_t c;

	if (name && strcmp(e->name, name))
		return false;
	if (ch >= 0 && (h_kv_u64(e->kv, "ch", &c) || (int)c != ch))
		return false;
	return true;
}

int h_fw_event(struct h_fw *f, const char *name, int ch, struct h_event *ev, int timeout_ms)
{
	int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
	char body[256];

	for (int i = 0; i < f->nq; i++) {
		if (event_match(&f->q[i], name, ch)) {
			*ev = f->q[i];
			memmove(&f->q[i], &f->q[i + 1], (f->nq - i - 1) * sizeof(f->q[0]));
			f->nq--;
			return 0;
		}
	}
	for (;;) {
		int64_t left = (deadline - clock_mono_ns()) / 1000000;
		int n = h_fw_line(f, body, sizeof(body), left > 0 ? (int)left : 0);
		struct h_event e;

		if (n < 0)
			return n;
		if (body[0] != '!') {
			fprintf(stderr, "unexpected reply while waiting for an event: '%s'\n", body);
			return -EPROTO;
		}
		if (h_event_parse(body, &e)) {
			fprintf(stderr, "cannot parse event '%s'\n", body);
			return -EPROTO;
		}
		if (event_match(&e, name, ch)) {
			*ev = e;
			return 0;
		}
		if (f->nq < (int)(sizeof(f->q) / sizeof(f->q[0])))
			f->q[f->nq++] = e;
	}
}

void h_fw_drain(struct h_fw *f)
{
	f->nq = 0;
}

int h_kv(const char *s, const char *key, char *val, size_t cap)
{
	size_t kl = strlen(key);
	const char *p = s;

	while ((p = strstr(p, key))) {
		if ((p == s || p[-1] == ' ') && p[kl] == '=') {
			const char *v = p + kl + 1;
			size_t n = strcspn(v, " ");

			if (n >= cap)
				n = cap - 1;
			memcpy(val, v, n);
			val[n] = 0;
			return 0;
		}
		p += kl;
	}
	return -ENOENT;
}

int h_kv_u64(const char *s, const char *key, uint64_t *v)
{
	char buf[32], *end;

	if (h_kv(s, key, buf, sizeof(buf)))
		return -ENOENT;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	return 0;
}
