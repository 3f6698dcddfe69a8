/* Node drivers: the table, validation, and the lock that lets the power domain's
 * thread cut the node while the cycle's thread waits. See node.h. */
#include "node.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

extern const struct node_ops node_qemu_ops;
extern const struct node_ops node_proxmox_ops;
extern const struct node_ops node_qemu_remote_ops;
extern const struct node_ops node_null_ops;

const struct node_ops *const node_drivers[] = { &node_qemu_ops, &node_proxmox_ops,
						&node_qemu_remote_ops, &node_null_ops, NULL };

struct node_lock {
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

int node_ops_validate(const struct node_ops *ops)
{
	const char *missing = NULL;

	if (!ops || !ops->name) {
		pc_err(LOG_NODE, "node driver without a name");
		return -EINVAL;
	}
	if (ops->version != NODE_OPS_VERSION) {
		pc_err(LOG_NODE, "node driver '%s' has ops version %u, expected %u", ops->name,
		       ops->version, NODE_OPS_VERSION);
		return -EINVAL;
	}
	if (!ops->open) missing = "open";
	else if (!ops->close) missing = "close";
	else if (!ops->prepare) missing = "prepare";
	else if (!ops->start_workload) missing = "start_workload";
	else if (!ops->power_lost) missing = "power_lost";
	else if (!ops->power_back) missing = "power_back";
	else if (!ops->wait_up) missing = "wait_up";
	else if (!ops->check) missing = "check";
	if (missing) {
		pc_err(LOG_NODE, "node driver '%s' lacks the required hook '%s'", ops->name, missing);
		return -EINVAL;
	}
	return 0;
}

int node_drivers_check(const struct node_ops *const *table)
{
	const struct opt_drivers d = NODE_OPT_DRIVERS(table);

	for (size_t i = 0; table[i]; i++)
		if (node_ops_validate(table[i]) < 0)
			return -EINVAL;
	/* Names once each, option tables well formed and consistent. */
	return opt_drivers_check(&d, NULL, "node");
}

const struct node_ops *node_ops_find(const char *name)
{
	const struct opt_drivers d = NODE_OPT_DRIVERS(node_drivers);
	char names[256];

	if (node_drivers_check(node_drivers) < 0) {
		errno = EINVAL;
		return NULL;
	}
	/* By its name, or by a [node] driver value that selects it ("sim" is the qemu
	 * driver run locally; "qemu" names it first, qemu-remote after it). */
	for (size_t i = 0; name && node_drivers[i]; i++)
		if (!strcmp(node_drivers[i]->name, name) || opt_driver_selected(&d, i, name))
			return node_drivers[i];
	pc_err(LOG_NODE, "unknown node driver '%s' (drivers: sim, %s)", name ? name : "",
	       opt_drivers_names(&d, names, sizeof(names)));
	errno = ENOENT;
	return NULL;
}

struct node *node_open(const struct bench_config *cfg, const struct node_env *env)
{
	const char *driver = cfg->node->driver;
	/* The qemu driver with [node] host runs the guest on that host over ssh. */
	const char *name = driver && !strcmp(driver, "qemu") && cfg->node->host ? "qemu-remote" :
			   driver;
	const struct node_ops *ops = node_ops_find(name);
	struct node *n;
	struct node_lock *lk;
	int rc;

	if (!ops)
		return NULL;
	if (cfg->node->host && driver && !strcmp(driver, "sim")) {
		pc_err(LOG_NODE, "node driver 'sim' runs locally only: for host '%s' use driver "
		       "'qemu'", cfg->node->host);
		errno = ENOTSUP;
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	lk = calloc(1, sizeof(*lk));
	if (!n || !lk)
		goto fail_alloc;
	pthread_mutex_init(&lk->mu, NULL);
	pthread_cond_init(&lk->cv, NULL);
	n->lock = lk;
	n->ops = ops;
	n->cfg = cfg;
	n->env = *env;
	if ((rc = ops->open(n)) < 0) {
		errno = -rc;
		goto fail_open;
	}
	return n;

fail_open:
	pthread_cond_destroy(&lk->cv);
	pthread_mutex_destroy(&lk->mu);
fail_alloc:
	free(lk);
	free(n);
	if (!errno)
		errno = ENOMEM;
	return NULL;
}

void node_close(struct node *n)
{
	struct node_lock *lk;

	if (!n)
		return;
	lk = n->lock;
	pthread_mutex_lock(&lk->mu);
	n->ops->close(n);
	pthread_mutex_unlock(&lk->mu);
	pthread_cond_destroy(&lk->cv);
	pthread_mutex_destroy(&lk->mu);
	free(lk);
	free(n);
}

#define LOCKED(n, expr) ({ \
	struct node_lock *lk_ = (n)->lock; \
	pthread_mutex_lock(&lk_->mu); \
	int r_ = (expr); \
	pthread_cond_broadcast(&lk_->cv); \
	pthread_mutex_unlock(&lk_->mu); \
	r_; })

int node_prepare(struct node *n)
{
	int rc = LOCKED(n, n->ops->prepare(n));

	if (rc == 0)
		LOCKED(n, (n->powered = true, n->back_ns = clock_mono_ns(), 0));
	return rc;
}

int node_start_workload(struct node *n, const struct node_job *job)
{
	return LOCKED(n, n->powered ? n->ops->start_workload(n, job) : -EHOSTDOWN);
}

int node_power_lost(struct node *n, int cut)
{
	return LOCKED(n, (n->powered = false, n->lost_ns = clock_mono_ns(),
			  n->ops->power_lost(n, cut)));
}

int node_power_back(struct node *n, const struct node_job *job)
{
	int rc = LOCKED(n, n->ops->power_back(n, job));

	LOCKED(n, (n->powered = rc == 0, n->back_ns = clock_mono_ns(), 0));
	return rc;
}

int node_wait_up(struct node *n, int timeout_ms)
{
	struct node_lock *lk = n->lock;
	int64_t end = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
	int rc = 0;

	/* First the power domain must have booted it; then the driver's own readiness. */
	pthread_mutex_lock(&lk->mu);
	while (!n->powered && rc == 0) {
		struct timespec ts;
		int64_t left = end - clock_mono_ns();
		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		if (left > 200000000)
			left = 200000000;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += left % 1000000000;
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&lk->cv, &lk->mu, &ts);
	}
	pthread_mutex_unlock(&lk->mu);
	if (rc < 0) {
		pc_err(LOG_NODE, "node did not get power back within %d ms", timeout_ms);
		return rc;
	}
	int left_ms = (int)((end - clock_mono_ns()) / 1000000);
	return LOCKED(n, n->ops->wait_up(n, left_ms > 0 ? left_ms : 1));
}

int node_check(struct node *n, const struct node_job *job, struct node_disk_result *res)
{
	for (size_t i = 0; i < n->cfg->n_disks; i++) {
		res[i] = (struct node_disk_result){ .disk = n->cfg->disks[i]->name,
			.id = (uint32_t)i + 1, .checks = json_array(), .agent_rc = -1 };
	}
	return LOCKED(n, n->ops->check(n, job, res));
}

int node_doctor(struct node *n, const struct node_doctor *d)
{
	return n->ops->doctor ? n->ops->doctor(n, d) : -ENOTSUP;
}

/* A scenario hook the driver lacks. */
static int no_hook(const struct node *n, const char *what)
{
	pc_err(LOG_NODE, "node driver '%s' cannot %s", n->ops->name, what);
	return -ENOTSUP;
}

int node_fill(struct node *n, const struct node_job *job)
{
	return !n->ops->fill ? no_hook(n, "fill disks (scenario step 'fill')") :
	       LOCKED(n, n->powered ? n->ops->fill(n, job) : -EHOSTDOWN);
}

int node_snapshot(struct node *n)
{
	return !n->ops->snapshot ? no_hook(n, "take snapshots (scenario step 'snapshot')") :
	       LOCKED(n, n->powered ? n->ops->snapshot(n) : -EHOSTDOWN);
}

int node_reset(struct node *n, bool clean)
{
	return !n->ops->reset ? no_hook(n, clean ? "reboot its guest (scenario step 'reboot')" :
					"reset its guest (cut kind 'reset')") :
	       LOCKED(n, n->powered ? n->ops->reset(n, clean) : -EHOSTDOWN);
}

int node_flush(struct node *n)
{
	return !n->ops->flush ? no_hook(n, "ask its workload for a flush (scenario step 'flush')") :
	       LOCKED(n, n->powered ? n->ops->flush(n) : -EHOSTDOWN);
}

int node_watch(struct node *n)
{
	if (!n->ops->watch)
		return 0;
	return LOCKED(n, n->powered ? n->ops->watch(n) : -EHOSTDOWN);
}

json_t *node_collect(struct node *n)
{
	json_t *j = NULL;

	if (n->ops->collect) {
		struct node_lock *lk = n->lock;
		pthread_mutex_lock(&lk->mu);
		j = n->ops->collect(n);
		pthread_mutex_unlock(&lk->mu);
	}
	return j;
}

bool node_powered(struct node *n)
{
	struct node_lock *lk = n->lock;
	bool p;

	pthread_mutex_lock(&lk->mu);
	p = n->powered;
	pthread_mutex_unlock(&lk->mu);
	return p;
}

void node_disk_result_release(struct node_disk_result *r)
{
	if (!r)
		return;
	json_decref(r->checks);
	r->checks = NULL;
	if (r->report_path)
		free(r->report_path);
	r->report_path = NULL;
}
