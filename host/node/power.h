/* The node's power domain: it follows the node's DC as the controller learns of it,
 * and makes the node die and boot with it. Two sources of DC edges:
 *
 *   - the MCU simulator's PSU ([relay] dc_source = simulator): the domain subscribes
 *     to powercut-mcusim's control socket (`subscribe`, docs/sim.md);
 *   - fed by the controller (node_power_open_fed, dc_source = pwrok or relay): the
 *     cycle hands over each PWR_OK edge the firmware reports, or each relay edge
 *     where DC is not sensed (node_power_feed).
 *
 * Either way the domain's own thread acts on the edges of its channel:
 *
 *   dc ch=N state=lost  ->  node_power_lost(node, cut): every node process dies at once
 *                           (or only QEMU for the process-kill cut)
 *   dc ch=N state=back  ->  wait the bench's boot delay, then node_power_back(node, job)
 *
 *   struct node_power *p = node_power_open(node, "RUN/control.sock", ch, CUT_POWER);
 *   node_power_set_job(p, &job);          // what the node boots into after the cut
 *   ... arm the relay; the firmware cuts; the PSU drops DC after its hold-up ...
 *   node_power_wait(p, NODE_PWR_BACK, timeout_ms, &ev);
 *   node_power_close(p);                  // stops the thread
 *
 * The events carry the host CLOCK_MONOTONIC time of the edge (the simulator's own
 * stamp, or the firmware's stamp mapped to the host clock), so DC loss is timed on
 * the host's reference clock by whoever saw it, not by this thread.
 */
#ifndef PC_NODE_POWER_H
#define PC_NODE_POWER_H

#include <stdbool.h>
#include <stdint.h>

#include "node.h"

enum node_pwr_state { NODE_PWR_ON, NODE_PWR_LOST, NODE_PWR_BACK, NODE_PWR_BOOTED };

struct node_power_times {
	int64_t lost_ns;	/* DC lost, host monotonic (the simulator's stamp) */
	uint64_t lost_sim_us;	/* the same on the (simulated) MCU clock, 0 if none */
	int64_t killed_ns;	/* when the node's processes had been killed */
	int64_t back_ns;	/* DC back (the simulator's stamp) */
	uint64_t back_sim_us;
	int64_t booted_ns;	/* the node booted (after the boot delay) */
	int boot_rc;		/* node_power_back's result */
	int kill_rc;
};

struct node_power;

/* Connect and subscribe; the thread runs until close. NULL with errno (logged). */
struct node_power *node_power_open(struct node *n, const char *control_sock, int channel,
				   int cut);
/* A domain the caller feeds with node_power_feed. NULL with errno (logged). */
struct node_power *node_power_open_fed(struct node *n, int channel, int cut);
/* DC of the domain's channel went away (good false) or came back, at mono_ns on the
 * host clock (0: now), fw_us on the firmware's clock (0: none). Returns at once: the
 * domain's thread kills or boots the node. 0, or -EINVAL for a domain not fed. */
int node_power_feed(struct node_power *p, bool good, int64_t mono_ns, uint64_t fw_us);
/* The job the node boots into at DC back (copied; strings must outlive the domain). */
void node_power_set_job(struct node_power *p, const struct node_job *job);
/* What the next DC loss does (enum cut_kind): a scenario's cuts may differ. */
void node_power_set_cut(struct node_power *p, int cut);
/* Wait until the domain reached state (or a later one) since the last set_job, at
 * most timeout_ms (0: just look). 0 or -ETIMEDOUT; t (may be NULL) is filled. */
int node_power_wait(struct node_power *p, enum node_pwr_state state, int timeout_ms,
		    struct node_power_times *t);
void node_power_close(struct node_power *p);

#endif
