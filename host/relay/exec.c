/* The exec relay: on/off/status are configured commands (ipmitool, a PDU's SNMP set)
 * run as argument vectors through the child module, each with a time limit. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "child.h"
#include "log.h"
#include "relay.h"

static int run(struct relay *r, char **argv, const char *what, int *exit_code)
{
	struct child_result res;
	char st[96];
	int rc;

	rc = child_run((const char *const *)argv, NULL, (int)r->cfg->relay->exec_timeout_ms, &res);
	if (rc == -ENOENT) {
		pc_err(LOG_RELAY, "cannot run %s command '%s': not found", what, argv[0]);
		return rc;
	}
	if (rc == -ETIMEDOUT) {
		pc_err(LOG_RELAY, "%s command '%s' timed out after %lld ms", what, argv[0],
		       (long long)r->cfg->relay->exec_timeout_ms);
		child_result_release(&res);
		return rc;
	}
	if (rc < 0) {
		pc_err(LOG_RELAY, "cannot run %s command '%s': %s", what, argv[0], strerror(-rc));
		return rc;
	}
	pc_debug(LOG_RELAY, "%s command '%s' %s", what, argv[0],
		 child_status_str(res.status, st, sizeof(st)));
	if (exit_code) {
		*exit_code = WIFEXITED(res.status) ? WEXITSTATUS(res.status) : -1;
		child_result_release(&res);
		return 0;
	}
	if (!WIFEXITED(res.status) || WEXITSTATUS(res.status) != 0) {
		size_t n = res.err_len;
		while (n && (res.err[n - 1] == '\n'))
			n--;
		pc_err(LOG_RELAY, "%s command '%s' %s%s%.*s", what, argv[0],
		       child_status_str(res.status, st, sizeof(st)), n ? ": " : "", (int)n, res.err);
		child_result_release(&res);
		return -EIO;
	}
	child_result_release(&res);
	return 0;
}

/* The commands name no channel: the bench's one channel is the node's power. */
static int exec_open(struct relay *r)
{
	return 0;
}

static void exec_close(struct relay *r)
{
}

static int exec_on(struct relay *r, int ch)
{
	return run(r, r->cfg->relay->exec_on, "power-on", NULL);
}

static int exec_off(struct relay *r, int ch)
{
	return run(r, r->cfg->relay->exec_off, "power-off", NULL);
}

static int exec_status(struct relay *r, struct relay_status *s)
{
	char **argv = r->cfg->relay->exec_status;
	int code, rc;

	snprintf(s->id, sizeof(s->id), "%s", r->cfg->relay->exec_on[0]);
	for (int i = 0; i < s->channels && i < RELAY_MAX_CH; i++)
		s->state[i] = RELAY_UNKNOWN;
	if (!argv || !argv[0])
		return 0;
	rc = run(r, argv, "status", &code);
	if (rc < 0)
		return rc;
	s->state[r->cfg->relay->channel] = code == 0 ? RELAY_ON : code == 1 ? RELAY_OFF :
					   RELAY_UNKNOWN;
	return 0;
}

/* Keys of [relay] only this driver reads (config.h, "Drivers own their keys"). */
static const struct opt_def exec_options[] = {
	{ "exec_on", OPT_LIST, RELAY_CFG(exec_on), NULL, OPT_NOLIMIT, NULL,
	  "exec: command that powers the node on, as words (never run by a shell).",
	  OPT_REQUIRED },
	{ "exec_off", OPT_LIST, RELAY_CFG(exec_off), NULL, OPT_NOLIMIT, NULL,
	  "exec: command that powers the node off.", OPT_REQUIRED },
	{ "exec_status", OPT_LIST, RELAY_CFG(exec_status), NULL, OPT_NOLIMIT, NULL,
	  "exec: command whose exit status tells the state (0 on, 1 off); optional.", 0 },
	{ "exec_timeout_ms", OPT_DURATION, RELAY_CFG(exec_timeout_ms), "10s", 10, 600000, NULL,
	  "exec: time limit of each command (then SIGTERM, then SIGKILL).", 0 },
	{ 0 }
};

const struct relay_ops relay_exec_ops = {
	.version = RELAY_OPS_VERSION,
	.name = "exec",
	.help = "configured commands for on, off and status (IPMI, PDUs)",
	.options = exec_options,
	.open = exec_open,
	.close = exec_close,
	.on = exec_on,
	.off = exec_off,
	.status = exec_status,
};
