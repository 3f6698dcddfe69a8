/* The null node driver, like fio's null engine: a node that does nothing and records
 * every call made to it, so that the campaign's step runner can be tested without
 * QEMU (host/campaign/tests/test_steps.sh). Each call appends one line to
 * WORK_DIR/node-calls (the node's private directory; `powercut cycle --keep` keeps it):
 *
 *   open | prepare | start_workload CYCLE [baseline] | power_lost power|kill |
 *   power_back CYCLE | wait_up | check CYCLE | collect | fill CYCLE | snapshot |
 *   reset hard|clean | flush | close
 *
 * Every hook succeeds; the check reports each disk unchecked (no metadata checks, no
 * agent report), so a cycle on this node verifies nothing.
 *
 * It can also play a node that dies or is slow, for the tests of the cycle's watch
 * (node_ops.watch), with [node] keys of its own:
 *   die = write     its watch says it died while the cycle waits for the workload
 *                   (recorded `watch dead`; each look while alive is `watch`);
 *   die = boot      its wait_up says it died booting after the cut;
 *   die_as = exited|killed|panicked|silent|stopped   how (node_died's life, with a
 *                   made-up code and console line, as the qemu driver would say it);
 *   slow = TIME     wait_up takes this long, alive. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "node.h"

struct null_node {
	int fd;
};

/* [node] die: where the null node dies (none: it does not). */
enum null_die { NULL_DIE_NONE, NULL_DIE_WRITE, NULL_DIE_BOOT };
static const char *const die_names[] = { "none", "write", "boot", NULL };
/* [node] die_as: enum node_life's names but alive. */
static const char *const die_as_names[] = { "exited", "killed", "panicked", "silent",
					    "stopped", NULL };
_Static_assert(NODE_LIFE_EXITED == 1 && NODE_LIFE_STOPPED == 5,
	       "die_as_names are node_life's from exited on");

static void record(struct node *n, const char *fmt, ...)
{
	struct null_node *p = n->priv;
	char line[128];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (len < 0 || !p || p->fd < 0)
		return;
	if ((size_t)len > sizeof(line) - 2)
		len = (int)sizeof(line) - 2;
	line[len++] = '\n';
	/* One write per line with O_APPEND: the power domain's thread records too. */
	if (write(p->fd, line, (size_t)len) != len)
		pc_warn(LOG_NODE, "cannot write the null node's record: %s", strerror(errno));
}

static int null_open(struct node *n)
{
	struct null_node *p = calloc(1, sizeof(*p));
	char path[4096];

	if (!p)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/node-calls", n->env.work_dir ? n->env.work_dir : ".");
	p->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (p->fd < 0) {
		int e = errno;
		pc_err(LOG_NODE, "cannot open the null node's record '%s': %s", path, strerror(e));
		free(p);
		return -e;
	}
	n->priv = p;
	record(n, "open");
	return 0;
}

static void null_close(struct node *n)
{
	struct null_node *p = n->priv;

	if (!p)
		return;
	record(n, "close");
	close(p->fd);
	free(p);
	n->priv = NULL;
}

static int null_prepare(struct node *n)
{
	record(n, "prepare");
	return 0;
}

static int null_start_workload(struct node *n, const struct node_job *job)
{
	record(n, "start_workload %u%s", job->cycle, job->baseline ? " baseline" : "");
	return 0;
}

static int null_power_lost(struct node *n, int cut)
{
	record(n, "power_lost %s", cut == CUT_KILL ? "kill" : "power");
	return 0;
}

static int null_power_back(struct node *n, const struct node_job *job)
{
	record(n, "power_back %u", job->cycle);
	return 0;
}

/* The death the bench asked for, in the words the qemu driver would use. */
static int play_dead(struct node *n)
{
	static const struct {
		int code;
		const char *what;
	} plays[NODE_LIFE__COUNT] = {
		[NODE_LIFE_EXITED] = { 1, "the null node's QEMU exited with status 1" },
		[NODE_LIFE_KILLED] = { 9, "the null node's QEMU was killed by signal 9 (Killed)" },
		[NODE_LIFE_PANICKED] = { 0, "the null node's guest panicked; its console ends "
					 "with: Kernel panic - not syncing: played by the null node" },
		[NODE_LIFE_SILENT] = { 45, "the null node's console has been silent for 45 s at "
				       "stage 'boot'" },
		[NODE_LIFE_STOPPED] = { 0, "the null node's VM is stopped" },
	};
	struct node_death d = { .life = (enum node_life)(n->cfg->node->die_as + 1) };

	d.code = plays[d.life].code;
	snprintf(d.what, sizeof(d.what), "%s", plays[d.life].what);
	return node_died(n, &d);
}

static int null_wait_up(struct node *n, int timeout_ms)
{
	const struct cfg_node *cn = n->cfg->node;

	record(n, "wait_up");
	if (cn->die == NULL_DIE_BOOT)
		return play_dead(n);
	if (cn->slow_ms > 0)
		usleep((useconds_t)(cn->slow_ms < timeout_ms ? cn->slow_ms : timeout_ms) * 1000);
	return cn->slow_ms > timeout_ms ? -ETIMEDOUT : 0;
}

static int null_watch(struct node *n)
{
	bool dead = n->cfg->node->die == NULL_DIE_WRITE;

	record(n, dead ? "watch dead" : "watch");
	return dead ? play_dead(n) : 0;
}

static int null_check(struct node *n, const struct node_job *job, struct node_disk_result *res)
{
	record(n, "check %u", job->cycle);
	return 0;
}

static json_t *null_collect(struct node *n)
{
	record(n, "collect");
	return NULL;
}

static int null_fill(struct node *n, const struct node_job *job)
{
	record(n, "fill %u", job->cycle);
	return 0;
}

static int null_snapshot(struct node *n)
{
	record(n, "snapshot");
	return 0;
}

static int null_reset(struct node *n, bool clean)
{
	record(n, "reset %s", clean ? "clean" : "hard");
	return 0;
}

static int null_flush(struct node *n)
{
	record(n, "flush");
	return 0;
}

/* Keys of [node] only this driver reads: how it plays a node that dies or is slow. */
static const struct opt_def null_options[] = {
	{ "die", OPT_ENUM, NODE_CFG(die), "none", OPT_NOLIMIT, die_names,
	  "null node (tests): where it dies: none, write (while the cycle waits for the "
	  "workload) or boot (booting after the cut).", 0 },
	{ "die_as", OPT_ENUM, NODE_CFG(die_as), "exited", OPT_NOLIMIT, die_as_names,
	  "null node (tests): how it dies: exited, killed, panicked, silent or stopped.", 0 },
	{ "slow", OPT_DURATION, NODE_CFG(slow_ms), "0", 0, 3600000, NULL,
	  "null node (tests): its boot after the cut takes this long (alive).", 0 },
	{ 0 }
};

const struct node_ops node_null_ops = {
	.version = NODE_OPS_VERSION,
	.name = "null",
	.help = "does nothing and records every call (WORK_DIR/node-calls), for tests",
	.options = null_options,
	.open = null_open,
	.close = null_close,
	.prepare = null_prepare,
	.start_workload = null_start_workload,
	.power_lost = null_power_lost,
	.power_back = null_power_back,
	.wait_up = null_wait_up,
	.check = null_check,
	.collect = null_collect,
	.fill = null_fill,
	.snapshot = null_snapshot,
	.reset = null_reset,
	.flush = null_flush,
	.watch = null_watch,
};
