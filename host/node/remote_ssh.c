/* The remote interface over the ssh transport. See remote.h. */
#include "remote.h"

#include <errno.h>
#include <stdlib.h>

#include "ssh.h"

struct remote *remote_open(const struct bench_config *cfg, const char *run_dir)
{
	const struct cfg_node *n = cfg->node;
	struct ssh_opts o = {
		.host = n->host, .user = n->user, .port = (int)n->port, .identity = n->identity,
		.known_hosts = n->known_hosts, .config = n->ssh_config, .control_dir = run_dir,
	};

	return (struct remote *)ssh_open(&o);
}

void remote_close(struct remote *r)
{
	ssh_close((struct ssh *)r);
}

int remote_run(struct remote *r, const char *const argv[], const char *input, int timeout_ms,
	       struct child_result *res)
{
	return ssh_run((struct ssh *)r, argv, input, timeout_ms, res);
}

int remote_copy(struct remote *r, const char *local, const char *path, int timeout_ms)
{
	return ssh_copy((struct ssh *)r, local, path, timeout_ms);
}

int remote_wait_up(struct remote *r, int timeout_ms)
{
	return ssh_wait_up((struct ssh *)r, timeout_ms, 2000);
}

int remote_forward(struct remote *r, int local_port, int *remote_port)
{
	return ssh_forward_remote((struct ssh *)r, local_port, remote_port);
}

int remote_forward_cancel(struct remote *r, int local_port)
{
	return ssh_forward_cancel((struct ssh *)r, local_port);
}

const char *remote_name(const struct remote *r)
{
	return ssh_name((const struct ssh *)r);
}

const char *remote_strerror(int err)
{
	return ssh_strerror(err);
}

const char *remote_advice(int err)
{
	return ssh_advice(err);
}
