/* ssh transport: the OpenSSH client (ssh) run through child.h, one control master
 * per node.
 *
 *   struct ssh_opts o = { .host = "pve1", .user = "root", .control_dir = run_dir };
 *   struct ssh *s = ssh_open(&o);                    // nothing runs yet
 *   const char *argv[] = { "qm", "status", "9000", NULL };
 *   struct child_result r;
 *   int rc = ssh_run(s, argv, NULL, 30000, &r);      // 0: the command ran, see r.status
 *   child_result_release(&r);
 *   ssh_close(s);                                    // tears the master down
 *
 * Every invocation is `ssh -o BatchMode=yes -o ControlMaster=auto -o ControlPath=...
 * -o ControlPersist=... [-p PORT] [-l USER] [-i ID -o IdentitiesOnly=yes]
 * [-o UserKnownHostsFile=...] -o StrictHostKeyChecking=yes [-F CONFIG] HOST -- CMD`
 * where CMD is the argument vector quoted word by word for the remote POSIX shell
 * (ssh_quote). Host keys are always checked: there is no option that accepts an
 * unknown or changed key. ~/.ssh/config applies unless `config` names another file.
 *
 * Errors. ssh exits 255 for its own failures; the transport then reads ssh's stderr
 * and returns a negative errno, logging (LOG_SSH) a message that says what to do:
 *   -EKEYREJECTED  host key unknown or changed (known_hosts)
 *   -EACCES        authentication failed (key not accepted)
 *   -ECONNREFUSED  nothing listens (node booting, sshd down)
 *   -EHOSTUNREACH  no route, name not resolved
 *   -ETIMEDOUT     connecting timed out, or the command outlived timeout_ms
 *   -ECONNRESET    the connection dropped (node lost power mid-command)
 *   -EPERM         the node's sshd refused a port forward (ssh_forward_remote)
 * A remote command that itself exits 255 without any ssh message is reported as
 * ran (0) with that status.
 */
#ifndef PC_SSH_H
#define PC_SSH_H

#include <stdbool.h>
#include <stddef.h>

#include "child.h"

struct ssh_opts {
	const char *host;		/* required: name or address (or a ~/.ssh/config Host) */
	const char *user;		/* NULL: ssh's default (config, then the local user) */
	int port;			/* 0: ssh's default */
	const char *identity;		/* private key file; NULL: ssh's defaults and agent */
	const char *known_hosts;	/* UserKnownHostsFile; NULL: ssh's default */
	const char *config;		/* -F FILE; NULL: ~/.ssh/config as usual */
	const char *control_dir;	/* where the master's socket lives (the run dir); NULL:
					 * no control master */
	int control_persist_s;		/* master idle lifetime; 0: 600 */
	int connect_timeout_s;		/* ConnectTimeout; 0: 10 */
	int alive_interval_s;		/* ServerAliveInterval; 0: 5 (x3 = a dead link) */
	const char *ssh_bin;		/* NULL: "ssh" from PATH */
};

struct ssh;

/* Copy the options (strings are duplicated). NULL with errno EINVAL (no host, a
 * control_dir too long for a UNIX socket path) or ENOMEM. Starts nothing. */
struct ssh *ssh_open(const struct ssh_opts *o);

/* Stop the control master (ssh -O exit) if one runs, free everything. NULL is fine. */
void ssh_close(struct ssh *s);

/* Run argv on the node, feeding input (NUL-terminated, may be NULL) on its stdin and
 * capturing stdout/stderr into r (the caller releases r, whatever the return). Returns
 * 0 when the remote command ran (r->status is its wait status), or a negative errno
 * listed above (r still holds what ssh printed). */
int ssh_run(struct ssh *s, const char *const argv[], const char *input, int timeout_ms,
	    struct child_result *r);

/* Copy the local file to remote_path on the node (through `cat`, over the master;
 * written to remote_path.part, then renamed). 0 or a negative errno. */
int ssh_copy(struct ssh *s, const char *local, const char *remote_path, int timeout_ms);

/* Wait until the node accepts ssh and runs `true`, retrying every retry_ms while it
 * refuses, times out or drops connections (a node booting). A host key or
 * authentication failure ends the wait at once (no retry helps). 0, -ETIMEDOUT after
 * timeout_ms, or the error that ended it. */
int ssh_wait_up(struct ssh *s, int timeout_ms, int retry_ms);

/* Ask a running master to exit (after a cut its socket may be stale). 0 or -errno;
 * -ENOENT when no master socket exists. */
int ssh_master_stop(struct ssh *s);

/* Reverse port forward through the control master, for the node's way back to this
 * host (the guest's agent reaching the ledger): on the node, 127.0.0.1:*remote_port
 * (and [::1], as the node's sshd binds it) leads over the ssh connection to
 * 127.0.0.1:local_port here. The port is allocated by the node's sshd
 * (`ssh -O forward -R 0:127.0.0.1:LOCAL_PORT`, which prints it), so it is free there and
 * never collides with another bench's forward; it is generally not local_port.
 *
 * Needs a control master (control_dir set; else, or for a port outside 1..65535,
 * -EINVAL) and starts one when none runs.
 * Something must listen on 127.0.0.1:local_port when this is called: otherwise
 * -ECONNREFUSED at once, with a message, instead of a forward whose every connection
 * is accepted on the node and closed at once. Asking again for the same local_port
 * while the same master runs returns the same port (the master keeps one forward per
 * target). Errors: those of ssh_run (-ECONNREFUSED, -ECONNRESET, -ETIMEDOUT, ...),
 * -EPERM when the node's sshd refuses forwarding (AllowTcpForwarding, PermitListen),
 * -EPROTO when ssh printed no port.
 *
 * The forward lives in the master, hence on the node's ssh connection: when the master
 * ends (ssh_master_stop, ssh_close, ControlPersist idle time, a connection dropped by a
 * power cut) the node's listener goes with it and the port is closed. Nothing renews
 * it: after a cut the node reboots and whoever needs the way back asks again (a new
 * master, in general a new port). */
int ssh_forward_remote(struct ssh *s, int local_port, int *remote_port);

/* End the forward of ssh_forward_remote to local_port (ssh -O cancel). 0; -ENOENT
 * when no master runs or it holds no such forward; another negative errno when ssh
 * could not ask. */
int ssh_forward_cancel(struct ssh *s, int local_port);

/* The node's name for messages ("root@pve1:22"). */
const char *ssh_name(const struct ssh *s);

/* Quote one word for a POSIX shell: unchanged when it has only [A-Za-z0-9_@%+=:,./-]
 * (and is not empty), else in single quotes with each ' written as '\''. Into buf;
 * returns the length it needs (excluding the NUL), like snprintf. */
size_t ssh_quote(const char *word, char *buf, size_t len);

/* The remote command line for argv: each word quoted, joined by spaces. Caller frees.
 * NULL with errno ENOMEM or EINVAL (empty argv). */
char *ssh_command_line(const char *const argv[]);

/* Classify ssh's stderr after exit status 255: a negative errno, or 0 when no ssh
 * message is recognised (then the remote command itself exited 255). */
int ssh_classify(const char *err);

/* A short description of an error of ssh_classify ("host key not accepted"). */
const char *ssh_strerror(int err);

/* What to do about an error of ssh_classify (a sentence fragment for messages). */
const char *ssh_advice(int err);

#endif
