/* QMP client: see qmp.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "qmp.h"
#include "util.h"

struct qmp {
	FILE *f;	/* the socket: read through stdio, written with send() */
};

static void say(char *why, size_t len, const char *text)
{
	if (why && len)
		snprintf(why, len, "%s", text);
}

/* The next line that is not an event, parsed; NULL with the reason in rc. */
static json_t *answer(struct qmp *m, int *rc)
{
	char buf[65536];

	while (fgets(buf, sizeof(buf), m->f)) {
		json_t *r = json_loads(buf, 0, NULL);
		if (r && !json_object_get(r, "event"))
			return r;
		json_decref(r);	/* an event, or a line cut short: skipped */
	}
	*rc = ferror(m->f) && (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -EPIPE;
	return NULL;
}

struct qmp *qmp_open(const char *path, int timeout_ms)
{
	struct qmp *m = calloc(1, sizeof(*m));
	int fd = pc_unix_connect(path), rc;

	if (!m || fd < 0) {
		rc = !m ? -ENOMEM : fd;
		goto fail;
	}
	if (timeout_ms > 0) {
		const struct timeval tv = { .tv_sec = timeout_ms / 1000,
					    .tv_usec = (timeout_ms % 1000) * 1000 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (!(m->f = fdopen(fd, "r+"))) {
		rc = -errno;
		goto fail;
	}
	fd = -1;
	json_t *g = answer(m, &rc);
	bool qmp = g && json_object_get(g, "QMP");
	json_decref(g);
	if (!qmp) {
		rc = g ? -EPROTO : rc;
		goto fail;
	}
	if ((rc = qmp_execute(m, json_pack("{s:s}", "execute", "qmp_capabilities"), NULL, 0)) < 0)
		goto fail;
	return m;
fail:
	if (fd >= 0)
		close(fd);
	qmp_close(m);
	errno = -rc;
	return NULL;
}

int qmp_execute(struct qmp *m, json_t *cmd, char *why, size_t len)
{
	char *line = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
	int rc = 0;

	json_decref(cmd);
	if (!line)
		return -ENOMEM;
	/* send(), not stdio: a monitor that hung up is -EPIPE here, never a SIGPIPE. */
	size_t n = strlen(line), off = 0;
	line[n++] = '\n';	/* over json_dumps' terminating NUL */
	while (off < n) {
		ssize_t w = send(fileno(m->f), line + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			bool gone = w < 0 && (errno == EPIPE || errno == ECONNRESET);
			free(line);
			say(why, len, gone ? "the monitor closed" : "cannot write to the monitor");
			return -EPIPE;
		}
		off += (size_t)w;
	}
	free(line);
	json_t *r = answer(m, &rc);
	if (!r) {
		say(why, len, rc == -ETIMEDOUT ? "the monitor did not answer in time" :
			      "the monitor closed");
		return rc;
	}
	json_t *e = json_object_get(r, "error");
	if (e) {
		const char *desc = json_string_value(json_object_get(e, "desc"));
		say(why, len, desc ? desc : "QMP error");
		rc = -EIO;
	} else if (!json_object_get(r, "return")) {
		say(why, len, "the monitor's answer has neither return nor error");
		rc = -EPROTO;
	}
	json_decref(r);
	return rc;
}

void qmp_close(struct qmp *m)
{
	if (!m)
		return;
	if (m->f)
		fclose(m->f);
	free(m);
}
