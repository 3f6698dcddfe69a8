/* The null relay: switches nothing, remembers channel states and appends every call
 * to [relay] null_record (when set), so tests can see exactly what powercut did. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"

struct null_priv {
	int fd;
	enum relay_state state[RELAY_MAX_CH];
};

static void record(struct relay *r, const char *fmt, int ch)
{
	struct null_priv *p = r->priv;
	char line[64];
	int n;

	if (p->fd < 0)
		return;
	n = snprintf(line, sizeof(line), fmt, ch);
	/* One write per line with O_APPEND: a killed process leaves whole lines. */
	if (write(p->fd, line, (size_t)n) != n)
		pc_warn(LOG_RELAY, "cannot write null relay record: %s", strerror(errno));
}

static bool fails(struct relay *r, const char *call)
{
	char **v = r->cfg->relay->null_fail;

	for (size_t i = 0; v && v[i]; i++)
		if (!strcmp(v[i], call))
			return true;
	return false;
}

static int null_open(struct relay *r)
{
	struct null_priv *p = calloc(1, sizeof(*p));
	const char *path = r->cfg->relay->null_record;

	if (!p)
		return -ENOMEM;
	p->fd = -1;
	for (int i = 0; i < RELAY_MAX_CH; i++)
		p->state[i] = RELAY_ON;
	if (path && *path) {
		p->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (p->fd < 0) {
			int e = errno;
			pc_err(LOG_RELAY, "cannot open null relay record '%s': %s", path, strerror(e));
			free(p);
			return -e;
		}
	}
	r->priv = p;
	record(r, "open\n", 0);
	return 0;
}

static void null_close(struct relay *r)
{
	struct null_priv *p = r->priv;

	record(r, "close\n", 0);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

static int null_on(struct relay *r, int ch)
{
	if (fails(r, "on")) {
		record(r, "on %d failed\n", ch);
		return -EIO;
	}
	((struct null_priv *)r->priv)->state[ch] = RELAY_ON;
	record(r, "on %d\n", ch);
	return 0;
}

static int null_off(struct relay *r, int ch)
{
	/* A failed off may still have switched the relay (as a real one may). */
	((struct null_priv *)r->priv)->state[ch] = RELAY_OFF;
	if (fails(r, "off")) {
		record(r, "off %d failed\n", ch);
		pc_err(LOG_RELAY, "cannot power off channel %d: %s", ch, strerror(EIO));
		return -EIO;
	}
	record(r, "off %d\n", ch);
	return 0;
}

static int null_status(struct relay *r, struct relay_status *s)
{
	struct null_priv *p = r->priv;

	if (fails(r, "status")) {
		record(r, "status failed\n", 0);
		return -EIO;
	}
	snprintf(s->fw, sizeof(s->fw), "null");
	snprintf(s->id, sizeof(s->id), "null");
	for (int i = 0; i < s->channels && i < RELAY_MAX_CH; i++)
		s->state[i] = p->state[i];
	record(r, "status\n", 0);
	return 0;
}

/* Keys of [relay] only this driver reads (config.h, "Drivers own their keys"). */
static const struct opt_def null_options[] = {
	{ "null_record", OPT_STRING, RELAY_CFG(null_record), NULL, OPT_NOLIMIT, NULL,
	  "null: file to which every call is appended as one line (for tests).", 0 },
	{ "null_fail", OPT_LIST, RELAY_CFG(null_fail), NULL, OPT_NOLIMIT, NULL,
	  "null: calls that fail with an I/O error (on, off, status), to test error paths.", 0 },
	{ 0 }
};

const struct relay_ops relay_null_ops = {
	.version = RELAY_OPS_VERSION,
	.name = "null",
	.help = "switches nothing; records every call (tests)",
	.options = null_options,
	.open = null_open,
	.close = null_close,
	.on = null_on,
	.off = null_off,
	.status = null_status,
};
