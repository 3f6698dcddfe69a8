/* The simulated node's power domain: it follows the MCU simulator's PSU, as a real
 * node follows its power supply. It subscribes to powercut-mcusim's control socket
 * (`subscribe`, docs/sim.md) and, from its own thread, acts on the PSU events of its
 * channel:
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
 * The events carry the simulator's host CLOCK_MONOTONIC time of the edge (wall_ns),
 * so DC loss is timed on the host's reference clock by the simulator, not by us.
 */
#ifndef PC_NODE_POWER_H
#define PC_NODE_POWER_H

#include <stdint.h>

#include "node.h"

enum node_pwr_state { NODE_PWR_ON, NODE_PWR_LOST, NODE_PWR_BACK, NODE_PWR_BOOTED };

struct node_power_times {
	int64_t lost_ns;	/* DC lost, host monotonic (the simulator's stamp) */
	uint64_t lost_sim_us;	/* the same on the simulated MCU clock */
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
/* The job the node boots into at DC back (copied; strings must outlive the domain). */
void node_power_set_job(struct node_power *p, const struct node_job *job);
/* Wait until the domain reached state (or a later one) since the last set_job, at
 * most timeout_ms (0: just look). 0 or -ETIMEDOUT; t (may be NULL) is filled. */
int node_power_wait(struct node_power *p, enum node_pwr_state state, int timeout_ms,
		    struct node_power_times *t);
void node_power_close(struct node_power *p);

#endif
