/* Controls of the host fake HAL (hal_host.c), for unit tests and the fuzz target.
 *
 * The fake keeps a settable clock: nothing happens between calls. Advancing it fires
 * every scheduled relay edge that falls due, at its exact scheduled time, as the timer
 * interrupt would. UART output is captured; EEPROM is an array that starts blank.
 */
#ifndef FW_HAL_FAKE_H
#define FW_HAL_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../hal.h"

#define HAL_FAKE_QUEUE 8	/* event queue slots, as on the MCU */

struct hal_fake_write {
	uint64_t t_us;
	uint8_t ch, level;
	bool scheduled;		/* by the timer (an edge), not hal_relay_write */
};

/* Back to power-on: clock 0, blank EEPROM (0xff), relay pins released, no pending
 * edges, empty buffers, PWR_OK inputs at `pwrok_levels` (bit n for channel n), reset
 * cause POWER, brown-out detection at 2700 mV. */
void hal_fake_reset(uint8_t pwrok_levels);

void hal_fake_set_reset_cause(enum hal_reset_cause cause);

/* Move the clock forward to t_us (never back), firing due relay edges in order. */
void hal_fake_set_time(uint64_t t_us);
void hal_fake_advance(uint64_t us);

/* Relay pins: current state (0, 1 or HAL_PIN_FLOAT), whether it is driven (an
 * output), and every write. */
uint8_t hal_fake_relay_level(uint8_t ch);
bool hal_fake_relay_is_output(uint8_t ch);
/* Whether hal_init ran since the last hal_fake_reset. */
bool hal_fake_inited(void);
/* What hal_bod_mv() answers. */
void hal_fake_set_bod_mv(uint16_t mv);
size_t hal_fake_writes(const struct hal_fake_write **w);
/* Pending edge of ch: returns false if none. */
bool hal_fake_pending(uint8_t ch, uint64_t *at_us, uint8_t *level);

/* Change a PWR_OK input now; an edge queues an event as the INT0/INT1 ISR does. */
void hal_fake_pwrok_set(uint8_t ch, uint8_t level);

/* Bytes the firmware will receive. */
void hal_fake_rx(const void *buf, size_t len);

/* Everything the firmware sent since the last call (NUL-terminated, static storage
 * valid until the next call); *len gets its length when len is not NULL. */
const char *hal_fake_tx_take(size_t *len);

/* The EEPROM array (HAL_EEPROM_SIZE bytes) and a switch making writes fail. */
uint8_t *hal_fake_eeprom(void);
void hal_fake_eeprom_fail(bool fail);
/* The next n writes succeed; the one after is cut short (the first half of its
 * bytes written, as by a power loss) and fails, and so do all later ones, until
 * hal_fake_reset. */
void hal_fake_eeprom_fail_after(unsigned n);

/* What an MCU reset does to the pins (released) and the timer (no pending edge, no
 * queued event); the clock, EEPROM and inputs stay. */
void hal_fake_mcu_reset(void);
unsigned hal_fake_eeprom_writes(void);

/* The status LED. */
uint8_t hal_fake_led(void);

/* How many times hal_reset() was called. */
unsigned hal_fake_resets(void);

#endif
