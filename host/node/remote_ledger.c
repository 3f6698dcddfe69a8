/* The ledger's forward for a node's guest. See remote.h. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "node.h"
#include "remote.h"

int remote_ledger_open(struct remote *r, struct remote_ledger *l, int ledger_port)
{
	int rc, port = 0;

	if (l->node_port && l->host_port != ledger_port)
		remote_forward_cancel(r, l->host_port);
	l->node_port = 0;
	if ((rc = remote_forward(r, ledger_port, &port)) < 0) {
		pc_err(LOG_NODE, "the guest on '%s' cannot reach the ledger (port %d here): %s",
		       remote_name(r), ledger_port, strerror(-rc));
		return rc;
	}
	l->host_port = ledger_port;
	l->node_port = port;
	pc_debug(LOG_NODE, "the ledger is at 10.0.2.2:%d for the guest on '%s' (forwarded to "
		 "port %d here)", port, remote_name(r), ledger_port);
	return 0;
}

void remote_ledger_close(struct remote *r, struct remote_ledger *l)
{
	if (l->node_port)
		remote_forward_cancel(r, l->host_port);
	l->node_port = 0;
}

json_t *remote_ledger_json(const struct remote_ledger *l)
{
	return l->node_port ? json_pack("{s:i,s:i}", "node_port", l->node_port, "host_port",
					l->host_port) : NULL;
}

int remote_ledger_token(struct remote *r, const char *dir, const char *token, int timeout_ms,
			char *arg, size_t alen)
{
	char path[PATH_MAX + 32];
	struct child_result res;
	int rc;

	if ((rc = node_token_fwcfg_arg(dir, path, sizeof(path), arg, alen)) < 0) {
		pc_err(LOG_NODE, "ledger token path in '%s' too long", dir);
		return rc;
	}
	/* install, not a shell redirection: an argument vector, and the file is created
	 * with its mode (no moment when another user could open it) */
	const char *wr[] = { "install", "-m", "0600", "/dev/stdin", path, NULL };
	rc = remote_run(r, wr, token ? token : "", timeout_ms, &res);
	if (rc == 0 && !(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0))
		rc = -EIO;
	child_result_release(&res);
	if (rc < 0)
		pc_err(LOG_NODE, "cannot write the ledger token file '%s' on '%s': %s", path,
		       remote_name(r), strerror(-rc));
	return rc;
}

int remote_ledger_boot(struct remote *r, struct remote_ledger *l, int ledger_port,
		       const char *dir, const char *token, int timeout_ms, char *ledger,
		       size_t llen, char *arg, size_t alen)
{
	int rc = remote_ledger_open(r, l, ledger_port);

	if (rc < 0)
		return rc;
	snprintf(ledger, llen, "10.0.2.2:%d", l->node_port);
	return remote_ledger_token(r, dir, token, timeout_ms, arg, alen);
}
