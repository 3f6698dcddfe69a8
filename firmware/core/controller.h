/* The relay controller's logic: line assembly, request dispatch, channel state
 * machine, safety rules and events (docs/protocol.md).
 *
 * No register access: everything hardware goes through ../hal/hal.h, so this builds
 * and is unit-tested on the host. Single-threaded: call fw_init once, then fw_poll
 * from the main loop; interrupts only touch the HAL's queues.
 *
 * Every name of the firmware core (this file, frame, settings, rng, clock, protocol)
 * starts with fw_ or FW_; the host shares frame.h and protocol.h, and its own
 * utilities and logger are the ones named pc_.
 */
#ifndef FW_CONTROLLER_H
#define FW_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../hal/hal.h"
#include "protocol.h"
#include "settings.h"

#define FW_FW_VERSION "0.2.0"

/* Relay edges requested by `off`, `cut` and `on` are scheduled this far ahead, so
 * that the timer interrupt writes the pin at exactly the `at=` time of the reply. */
#define FW_EDGE_LEAD_US 1000u

/* Longest `arm` window and delay, in ms. */
#define FW_ARM_MAX_MS 3600000u

enum fw_ch_state { FW_CH_ON, FW_CH_OFF, FW_CH_CUT, FW_CH_ARMED };

/* Why a relay edge happened (the `cause=` of relay events). */
enum fw_cause {
	FW_CAUSE_OFF, FW_CAUSE_ON, FW_CAUSE_CUT, FW_CAUSE_ARM,
	FW_CAUSE_MAXOFF, FW_CAUSE_WATCHDOG, FW_CAUSE_SAFETY,
};

struct fw_chan {
	uint64_t edge_at;	/* scheduled time of the pending edge */
	uint64_t off_t;		/* when power went off (the edge's own timestamp) */
	uint64_t restore_at;	/* restore asked by a cut's end or `on`; UINT64_MAX: none */
	uint32_t cut_ms;	/* off time of a cut, or of an armed cut once it fires */
	uint8_t state;		/* enum fw_ch_state */
	uint8_t powered;	/* node powered, per the last reported edge */
	uint8_t edge;		/* an edge is scheduled in the HAL and not yet reported */
	uint8_t edge_cause;	/* enum fw_cause of that edge */
	uint8_t restore_cause;	/* enum fw_cause of restore_at */
	uint8_t pwr_level;	/* PWR_OK level last reported (after pwrok_invert) */
};

struct fw {
	struct fw_settings set;
	struct fw_chan ch[HAL_CHANNELS];
	uint64_t last_rx;	/* time of the last valid line from the host */
	uint32_t seq;		/* sequence number of the next event */
	uint16_t lost_seen;	/* hal_event_lost() when last looked at */
	uint8_t reset_cause;	/* enum hal_reset_cause */
	uint8_t settings_status; /* enum fw_settings_status: of the boot, ok after a store */
	uint8_t reset_pending;	/* `reset` answered; reset after the reply is out */
	uint8_t line_len;
	uint8_t line_over;	/* the line being received is too long: discard to '\n' */
	uint8_t out_len;	/* body bytes of the line being sent */
	uint8_t out_crc;	/* and their CRC so far */
	char line[FW_LINE_MAX_HOST + 1];	/* + a trailing '\r' */
};

/* Load the settings, initialise the HAL (relay pins stay released) and print the
 * boot banner with the settings status and brown-out level. */
void fw_init(struct fw *fw);

/* One pass of the main loop: report captured edges, handle received bytes, apply
 * the safety rules and schedule due relay edges. Never blocks except on a full UART
 * transmit buffer. */
void fw_poll(struct fw *fw);

/* Feed one received byte to the line assembler; a complete line is handled at once. */
void fw_feed(struct fw *fw, uint8_t c);

/* Handle one complete line (without '\n'): exactly one reply is written. */
void fw_handle_line(struct fw *fw, const char *line, size_t len);

/* Names for messages and tests. */
const char *fw_state_name(int state);
const char *fw_cause_name(int cause);

#endif
