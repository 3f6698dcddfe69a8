/* The relay controller's logic: line assembly, request dispatch, channel state
 * machine, safety rules and events (docs/protocol.md).
 *
 * No register access: everything hardware goes through ../hal/hal.h, so this builds
 * and is unit-tested on the host. Single-threaded: call pc_init once, then pc_poll
 * from the main loop; interrupts only touch the HAL's queues.
 */
#ifndef PC_CORE_H
#define PC_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../hal/hal.h"
#include "protocol.h"
#include "settings.h"

#define PC_FW_VERSION "0.2.0"

/* Relay edges requested by `off`, `cut` and `on` are scheduled this far ahead, so
 * that the timer interrupt writes the pin at exactly the `at=` time of the reply. */
#define PC_EDGE_LEAD_US 1000u

/* Longest `arm` window and delay, in ms. */
#define PC_ARM_MAX_MS 3600000u

enum pc_ch_state { PC_CH_ON, PC_CH_OFF, PC_CH_CUT, PC_CH_ARMED };

/* Why a relay edge happened (the `cause=` of relay events). */
enum pc_cause {
	PC_CAUSE_OFF, PC_CAUSE_ON, PC_CAUSE_CUT, PC_CAUSE_ARM,
	PC_CAUSE_MAXOFF, PC_CAUSE_WATCHDOG, PC_CAUSE_SAFETY,
};

struct pc_chan {
	uint64_t edge_at;	/* scheduled time of the pending edge */
	uint64_t off_t;		/* when power went off (the edge's own timestamp) */
	uint64_t restore_at;	/* restore asked by a cut's end or `on`; UINT64_MAX: none */
	uint32_t cut_ms;	/* off time of a cut, or of an armed cut once it fires */
	uint8_t state;		/* enum pc_ch_state */
	uint8_t powered;	/* node powered, per the last reported edge */
	uint8_t edge;		/* an edge is scheduled in the HAL and not yet reported */
	uint8_t edge_cause;	/* enum pc_cause of that edge */
	uint8_t restore_cause;	/* enum pc_cause of restore_at */
	uint8_t pwr_level;	/* PWR_OK level last reported (after pwrok_invert) */
};

struct pc {
	struct pc_settings set;
	struct pc_chan ch[HAL_CHANNELS];
	uint64_t last_rx;	/* time of the last valid line from the host */
	uint32_t seq;		/* sequence number of the next event */
	uint16_t lost_seen;	/* hal_event_lost() when last looked at */
	uint8_t reset_cause;	/* enum hal_reset_cause */
	uint8_t settings_status; /* enum pc_settings_status: of the boot, ok after a store */
	uint8_t reset_pending;	/* `reset` answered; reset after the reply is out */
	uint8_t line_len;
	uint8_t line_over;	/* the line being received is too long: discard to '\n' */
	uint8_t out_len;	/* body bytes of the line being sent */
	uint8_t out_crc;	/* and their CRC so far */
	char line[PC_LINE_MAX_HOST + 1];	/* + a trailing '\r' */
};

/* Load the settings, initialise the HAL (relay pins stay released) and print the
 * boot banner with the settings status and brown-out level. */
void pc_init(struct pc *pc);

/* One pass of the main loop: report captured edges, handle received bytes, apply
 * the safety rules and schedule due relay edges. Never blocks except on a full UART
 * transmit buffer. */
void pc_poll(struct pc *pc);

/* Feed one received byte to the line assembler; a complete line is handled at once. */
void pc_feed(struct pc *pc, uint8_t c);

/* Handle one complete line (without '\n'): exactly one reply is written. */
void pc_handle_line(struct pc *pc, const char *line, size_t len);

/* Names for messages and tests. */
const char *pc_state_name(int state);
const char *pc_cause_name(int cause);

#endif
