/* Doctor checks shared by the node drivers that reach their node over ssh (proxmox,
 * qemu-remote): each reports through node.h's struct node_doctor. */
#ifndef PC_NODE_NODEDOCTOR_H
#define PC_NODE_NODEDOCTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "node.h"
#include "remote.h"

/* Report one check: found from fmt; fix only for warn and fail. */
__attribute__((format(printf, 5, 6)))
void nd_add(const struct node_doctor *d, const char *check, enum node_dr_status st,
	    const char *fix, const char *fmt, ...);

/* "guest": the guest's kernel and initramfs in dir, on this host. */
void nd_guest(const struct node_doctor *d, const char *dir);

/* "ssh": a command runs on the node (batch mode, host key known). 0 when it did,
 * else the transport's negative errno (reported as a fail with its advice). */
int nd_ssh(const struct node_doctor *d, struct remote *r);

/* A tool on the node: the first line of `argv` is its version; a failure says
 * `apt install package` there. */
struct nd_tool {
	const char *check;
	const char *argv[3];
	const char *package;
};
/* One check per tool; 0 when every one ran. */
int nd_tools(const struct node_doctor *d, struct remote *r, const struct nd_tool *t, size_t n);

/* The node kernel's boot_id (36 characters) into out; 0 or a negative errno. */
int nd_boot_id(struct remote *r, char *out, size_t len);

/* --cut, the part every driver shares: boot_id read, d->cut(), the node back over
 * ssh within timeout_ms, boot_id changed ("boot-id"). 0 with *t0_ms (the power's
 * return) and *up_ms (ssh answering, from t0) set when the node came back rebooted;
 * otherwise the failure is reported and a negative errno returned. */
int nd_cut(const struct node_doctor *d, struct remote *r, int64_t timeout_ms, int64_t *t0_ms,
	   int64_t *up_ms);

#endif
