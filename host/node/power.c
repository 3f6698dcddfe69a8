/* The power domain: a thread reading DC events, from the simulator's control socket
 * or from a pipe the controller feeds, in the same line format. See power.h. */
#include "power.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

struct node_power {
	struct node *node;
	int fd, channel, cut;
	int feed_fd;			/* fed domains: the pipe's write end, else -1 */
	int stop_pipe[2];
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum node_pwr_state state;
	struct node_power_times t;
	struct node_job job;
	bool have_job;
};

/* Sleep ms unless close() asks us to stop; false when stopping. */
static bool nap(struct node_power *p, int64_t ms)
{
	struct pollfd pf = { .fd = p->stop_pipe[0], .events = POLLIN };

	while (ms > 0) {
		int step = ms > 1000 ? 1000 : (int)ms;
		if (poll(&pf, 1, step) > 0)
			return false;
		ms -= step;
	}
	return true;
}

static void on_line(struct node_power *p, const char *line)
{
	unsigned ch;
	char st[16];
	const char *w = strstr(line, " wall_ns="), *u = strstr(line, " sim_us=");
	int64_t wall = w ? strtoll(w + 9, NULL, 10) : 0;
	uint64_t simus = u ? strtoull(u + 8, NULL, 10) : 0;

	if (sscanf(line, "dc ch=%u state=%15s", &ch, st) != 2 || (int)ch != p->channel)
		return;
	if (!wall)
		wall = clock_mono_ns();
	/* A fed domain may hear a relay or PWR_OK edge that changes nothing (the relay
	 * turned on while on): only a change of DC acts. */
	pthread_mutex_lock(&p->mu);
	enum node_pwr_state now = p->state;
	int cut = p->cut;
	pthread_mutex_unlock(&p->mu);
	if (!strcmp(st, "lost") ? now == NODE_PWR_LOST : now != NODE_PWR_LOST)
		return;
	if (!strcmp(st, "lost")) {
		pc_debug(LOG_NODE, "DC lost on channel %u: %s", ch,
			cut == CUT_KILL ? "killing QEMU (process-kill cut)" :
			"every node process dies");
		int rc = node_power_lost(p->node, cut);
		pthread_mutex_lock(&p->mu);
		p->t.lost_ns = wall;
		p->t.lost_sim_us = simus;
		p->t.killed_ns = clock_mono_ns();
		p->t.kill_rc = rc;
		p->state = NODE_PWR_LOST;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	} else if (!strcmp(st, "back")) {
		struct node_job job;
		bool have;

		pthread_mutex_lock(&p->mu);
		p->t.back_ns = wall;
		p->t.back_sim_us = simus;
		p->state = NODE_PWR_BACK;
		job = p->job;
		have = p->have_job;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		if (!nap(p, p->node->cfg->node->boot_delay_ms))
			return;
		int rc = have ? node_power_back(p->node, &job) : -EINVAL;
		if (!have)
			pc_err(LOG_NODE, "DC back but no job to boot into");
		pthread_mutex_lock(&p->mu);
		p->t.booted_ns = clock_mono_ns();
		p->t.boot_rc = rc;
		p->state = NODE_PWR_BOOTED;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

static void *power_thread(void *arg)
{
	struct node_power *p = arg;
	char buf[4096];
	size_t len = 0;

	for (;;) {
		struct pollfd pf[2] = { { .fd = p->fd, .events = POLLIN },
					{ .fd = p->stop_pipe[0], .events = POLLIN } };
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents)
			break;
		ssize_t k = read(p->fd, buf + len, sizeof(buf) - 1 - len);
		if (k <= 0) {
			if (p->feed_fd < 0)
				pc_warn(LOG_NODE, "the simulator closed its control socket");
			break;
		}
		len += (size_t)k;
		buf[len] = '\0';
		char *nl, *s = buf;
		while ((nl = strchr(s, '\n'))) {
			*nl = '\0';
			pc_debug(LOG_NODE, "psu: %s", s);
			on_line(p, s);
			s = nl + 1;
		}
		len -= (size_t)(s - buf);
		memmove(buf, s, len);
		if (len >= sizeof(buf) - 1)
			len = 0;	/* a line this long is not an event: drop it */
	}
	return NULL;
}

static struct node_power *power_alloc(struct node *n, int channel, int cut)
{
	struct node_power *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->node = n;
	p->channel = channel;
	p->cut = cut;
	p->fd = p->feed_fd = -1;
	p->stop_pipe[0] = p->stop_pipe[1] = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	return p;
}

static void power_free(struct node_power *p)
{
	if (p->stop_pipe[0] >= 0) {
		close(p->stop_pipe[0]);
		close(p->stop_pipe[1]);
	}
	if (p->fd >= 0)
		close(p->fd);
	if (p->feed_fd >= 0)
		close(p->feed_fd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* The stop pipe and the thread; on failure p is freed. */
static struct node_power *power_start(struct node_power *p)
{
	int rc = 0;

	if (pipe2(p->stop_pipe, O_CLOEXEC) < 0)
		rc = -errno;
	else
		rc = -pthread_create(&p->thread, NULL, power_thread, p);
	if (rc < 0) {
		pc_err(LOG_NODE, "cannot start the power domain: %s", strerror(-rc));
		power_free(p);
		errno = -rc;
		return NULL;
	}
	return p;
}

struct node_power *node_power_open_fed(struct node *n, int channel, int cut)
{
	struct node_power *p = power_alloc(n, channel, cut);
	int fds[2];

	if (!p)
		return NULL;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		int e = errno;
		pc_err(LOG_NODE, "cannot create the power domain's pipe: %s", strerror(e));
		power_free(p);
		errno = e;
		return NULL;
	}
	p->fd = fds[0];
	p->feed_fd = fds[1];
	return power_start(p);
}

int node_power_feed(struct node_power *p, bool good, int64_t mono_ns, uint64_t fw_us)
{
	char line[128];

	if (!p || p->feed_fd < 0)
		return -EINVAL;
	/* One short line: a pipe write under PIPE_BUF is atomic and never partial. */
	int len = snprintf(line, sizeof(line), "dc ch=%d state=%s wall_ns=%" PRId64
			   " sim_us=%" PRIu64 "\n", p->channel, good ? "back" : "lost",
			   mono_ns ? mono_ns : clock_mono_ns(), fw_us);
	if (write(p->feed_fd, line, (size_t)len) != len) {
		int rc = -errno;
		pc_err(LOG_NODE, "cannot hand a DC edge to the power domain: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

struct node_power *node_power_open(struct node *n, const char *control_sock, int channel,
				   int cut)
{
	struct node_power *p = power_alloc(n, channel, cut);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char reply[64];
	int rc;

	if (!p)
		return NULL;
	if (strlen(control_sock) >= sizeof(sa.sun_path)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	strcpy(sa.sun_path, control_sock);
	p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		pc_err(LOG_NODE, "cannot connect to the simulator's control socket '%s': %s",
		       control_sock, strerror(-rc));
		goto fail;
	}
	/* Subscribe first and read the ok, so that no edge after this point is missed. */
	if (write(p->fd, "subscribe\n", 10) != 10) {
		rc = -errno;
		goto fail;
	}
	size_t got = 0;
	while (got < sizeof(reply) - 1 && !memchr(reply, '\n', got)) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		if (poll(&pf, 1, 5000) <= 0) {
			rc = -ETIMEDOUT;
			goto fail_proto;
		}
		ssize_t k = read(p->fd, reply + got, 1);	/* byte by byte: no event swallowed */
		if (k <= 0) {
			rc = -EIO;
			goto fail_proto;
		}
		got += (size_t)k;
	}
	reply[got] = '\0';
	if (strncmp(reply, "ok", 2)) {
		rc = -EPROTO;
		goto fail_proto;
	}
	return power_start(p);

fail_proto:
	pc_err(LOG_NODE, "simulator did not accept 'subscribe' on '%s': %s", control_sock,
	       strerror(-rc));
fail:
	power_free(p);
	errno = -rc;
	return NULL;
}

void node_power_set_job(struct node_power *p, const struct node_job *job)
{
	pthread_mutex_lock(&p->mu);
	p->job = *job;
	p->have_job = true;
	p->state = NODE_PWR_ON;
	memset(&p->t, 0, sizeof(p->t));
	pthread_mutex_unlock(&p->mu);
}

void node_power_set_cut(struct node_power *p, int cut)
{
	pthread_mutex_lock(&p->mu);
	p->cut = cut;
	pthread_mutex_unlock(&p->mu);
}

int node_power_wait(struct node_power *p, enum node_pwr_state state, int timeout_ms,
		    struct node_power_times *t)
{
	int64_t end = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	while (p->state < state) {
		int64_t left = end - clock_mono_ns();
		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += left % 1000000000;
		ts.tv_sec += left / 1000000000 + ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
	}
	if (t)
		*t = p->t;
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void node_power_close(struct node_power *p)
{
	if (!p)
		return;
	if (write(p->stop_pipe[1], "x", 1) < 0)
		pc_warn(LOG_NODE, "cannot stop the power domain thread: %s", strerror(errno));
	pthread_join(p->thread, NULL);
	power_free(p);
}
