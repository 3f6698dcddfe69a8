/* The remote interface: how a node driver (qemu_remote.c, proxmox.c) runs commands on
 * a node over ssh. Not a driver itself: the remote_* files are this seam, the qemu*
 * files and proxmox.c the drivers.
 *
 * A small seam chosen at link time: remote_ssh.c implements it with the ssh transport
 * (host/ssh) for the product; a test links its own fake instead, which checks the
 * exact argument vectors issued and answers from a transcript. remote_ledger.c builds
 * the ledger's way from a guest on the node on top of it. Drivers never build shell
 * strings: every command is an argument vector.
 */
#ifndef PC_NODE_REMOTE_H
#define PC_NODE_REMOTE_H

#include <jansson.h>

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
/* The node's way back to this host (the guest's agent reaching the ledger, which
 * listens on this host's loopback): on the node, 127.0.0.1:*remote_port leads to
 * 127.0.0.1:local_port here, for as long as the transport's connection lives (a power
 * cut ends it; ask again after the node is back). The node picks the port. 0, or a
 * negative errno: -ECONNREFUSED (nothing listens on local_port here), -EPERM (the
 * node refuses forwards), or the transport's. Asking again for the same local_port
 * on the same connection returns the same port. */
int remote_forward(struct remote *r, int local_port, int *remote_port);
/* End that forward. 0, or -ENOENT when there is none (the connection is gone). */
int remote_forward_cancel(struct remote *r, int local_port);

/* The ledger's way from a guest on the node (remote_ledger.c, on top of
 * remote_forward): on the node, 127.0.0.1:node_port leads to 127.0.0.1:host_port here,
 * the ledger; the guest behind QEMU's user network sees the node's loopback as
 * 10.0.2.2. 0 in node_port: none. */
struct remote_ledger {
	int node_port, host_port;
};
/* (Re)open it for the ledger's port: asked at every write boot, since a power cut
 * ended the old forward with the ssh connection. 0 or a negative errno (logged). */
int remote_ledger_open(struct remote *r, struct remote_ledger *l, int ledger_port);
void remote_ledger_close(struct remote *r, struct remote_ledger *l);
/* {"node_port", "host_port"} for the node's record, or NULL when none is open. */
json_t *remote_ledger_json(const struct remote_ledger *l);
/* The campaign token for a guest on the node, never on a command line of either host:
 * written to DIR/ledger-token on the node (`install -m 0600 /dev/stdin PATH`, the token
 * on ssh's standard input; replaced), and QEMU's "-fw_cfg" value naming it put in arg
 * (node_token_fwcfg_arg). 0 or a negative errno (logged); the boot must not go on. */
int remote_ledger_token(struct remote *r, const char *dir, const char *token, int timeout_ms,
			char *arg, size_t alen);

/* Both, for a write boot of the guest: the forward (re)opened, the guest's ledger
 * address "10.0.2.2:PORT" in ledger, the token written to DIR/ledger-token and its
 * "-fw_cfg" value in arg. 0 or a negative errno (logged); the boot must not go on. */
int remote_ledger_boot(struct remote *r, struct remote_ledger *l, int ledger_port,
		       const char *dir, const char *token, int timeout_ms, char *ledger,
		       size_t llen, char *arg, size_t alen);

/* The node's name for messages. */
const char *remote_name(const struct remote *r);
/* A transport error in words, and what to do about it (one line). */
const char *remote_strerror(int err);
const char *remote_advice(int err);

#endif
