/* The remote interface: how a node driver runs commands on a node over ssh.
 *
 * A small seam chosen at link time: remote_ssh.c implements it with the ssh transport
 * (host/ssh) for the product; a test links its own fake instead, which checks the
 * exact argument vectors issued and answers from a transcript. Drivers never build
 * shell strings: every command is an argument vector.
 */
#ifndef PC_NODE_REMOTE_H
#define PC_NODE_REMOTE_H

#include "child.h"
#include "config.h"

struct remote;

/* Connect nothing yet: set up the transport for cfg->node (host, user, port, identity,
 * known_hosts, ssh_config) with its control socket in run_dir. NULL with errno. */
struct remote *remote_open(const struct bench_config *cfg, const char *run_dir);
void remote_close(struct remote *r);

/* Run argv on the node; 0 when it ran (res->status is its wait status) or a negative
 * errno of the transport (-ECONNRESET, -ETIMEDOUT, ...). res is always filled: release
 * it. */
int remote_run(struct remote *r, const char *const argv[], const char *input, int timeout_ms,
	       struct child_result *res);
/* Copy a local file to path on the node. 0 or a negative errno. */
int remote_copy(struct remote *r, const char *local, const char *path, int timeout_ms);
/* Wait until the node answers (after a power cut). 0, -ETIMEDOUT or another errno. */
int remote_wait_up(struct remote *r, int timeout_ms);
/* The node's name for messages. */
const char *remote_name(const struct remote *r);

#endif
