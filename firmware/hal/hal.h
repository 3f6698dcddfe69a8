/* Hardware abstraction of the powercut relay controller.
 *
 * firmware/core/ calls only these functions; hal/avr/ implements them with the
 * ATmega328P's registers and interrupts, hal/host/ with a fake for unit tests. The
 * implementation is chosen at link time (no function pointers on the MCU).
 *
 * Time is the firmware clock in microseconds since reset, 64 bits: it never wraps in
 * the life of the part (the hardware counter's wraps are counted in 48 bits).
 * PWR_OK levels are raw pin levels (0 = LOW, 1 = HIGH). A relay pin is driven LOW,
 * HIGH, or released (HAL_PIN_FLOAT: an input without pull-up, as during reset); the
 * core drives a pin only while its relay is energized, so the node's power never
 * depends on knowing the relay's active level. Channels are numbered from 0 to
 * HAL_CHANNELS - 1.
 */
#ifndef FW_HAL_H
#define FW_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HAL_CHANNELS 2

/* Relay pin states (besides 0 = LOW and 1 = HIGH). */
#define HAL_PIN_FLOAT 2

/* Constant tables the core keeps in program memory on the MCU, whose 2 KiB of RAM
 * would otherwise hold them: avr-gcc reads a __flash object with LPM by itself.
 * Elsewhere (the host fake, the fuzzer) it is ordinary memory. */
#if defined(__FLASH)
#define HAL_ROM __flash
#else
#define HAL_ROM
#endif

/* Size of the EEPROM in bytes. */
#define HAL_EEPROM_SIZE 1024

/* Why the controller last reset. */
enum hal_reset_cause {
	HAL_RESET_POWER,
	HAL_RESET_EXTERNAL,
	HAL_RESET_BROWNOUT,
	HAL_RESET_WATCHDOG,
	HAL_RESET_COMMAND,	/* hal_reset() was called before this boot */
};

/* Something an interrupt captured, with the time it happened. */
enum hal_event_type {
	HAL_EV_RELAY,		/* a scheduled relay edge was written to its pin */
	HAL_EV_PWROK,		/* the PWR_OK input changed */
};

struct hal_event {
	uint64_t t_us;		/* when the pin was written or the edge captured */
	uint8_t type;		/* enum hal_event_type */
	uint8_t ch;
	uint8_t level;		/* relay: pin state after the edge (0, 1, HAL_PIN_FLOAT);
				 * PWR_OK: pin level after the edge */
};

/* Set up clock, pins (relay pins stay released, as reset left them), UART, PWR_OK
 * interrupts and the hardware watchdog. Enables interrupts. */
void hal_init(void);

/* Reset cause of this boot (valid after hal_init). */
enum hal_reset_cause hal_reset_cause(void);

/* Firmware clock in microseconds. Safe with interrupts on or off. */
uint64_t hal_now_us(void);

/* Put channel ch's relay pin in state level (0, 1 or HAL_PIN_FLOAT) at once (no
 * event). */
void hal_relay_write(uint8_t ch, uint8_t level);

/* Put channel ch's relay pin in state level at time at_us (at once if at_us has passed),
 * from the timer interrupt, which takes the timestamp where it writes the pin and
 * queues a HAL_EV_RELAY event. Replaces a pending edge of ch. at_us must be less
 * than 2^31 counter periods (2.2 years) ahead: the timer compares periods modulo
 * 2^32, which is what lets the clock run past the counter's own wrap. */
void hal_relay_schedule(uint8_t ch, uint8_t level, uint64_t at_us);

/* Cancel ch's pending edge. Returns true if one was pending and will not happen,
 * false if none was pending (it may already have happened: its event is queued). */
bool hal_relay_cancel(uint8_t ch);

/* Status LED (D13): lit while any channel is powered down or about to be. */
void hal_led_write(uint8_t on);

/* Current raw level of channel ch's PWR_OK input. */
uint8_t hal_pwrok_read(uint8_t ch);

/* Take the oldest queued event. Returns false if none. The queue keeps a slot for
 * every channel's relay edge, so relay events are never lost; PWR_OK edges that find
 * the rest of it full are dropped and counted by hal_event_lost(). */
bool hal_event_take(struct hal_event *ev);

/* Number of PWR_OK edges dropped since boot (wraps at 65536). */
uint16_t hal_event_lost(void);

/* Take one received UART byte. Returns -1 if none. */
int hal_uart_getc(void);

/* Queue bytes for transmission; blocks (sleeping) while the buffer is full. */
void hal_uart_write(const char *buf, size_t len);

/* Wait until every queued byte has been sent. */
void hal_uart_flush(void);

/* EEPROM access. hal_eeprom_write returns 0 or a negative errno (-EIO when the
 * bytes did not read back as written). */
void hal_eeprom_read(uint16_t addr, void *buf, size_t len);
int hal_eeprom_write(uint16_t addr, const void *buf, size_t len);

/* Kick the hardware watchdog. */
void hal_watchdog_kick(void);

/* Reset the controller through the hardware watchdog; the next boot reports
 * HAL_RESET_COMMAND. Does not return on the MCU; returns in the host fake. */
void hal_reset(void);

/* Sleep until an interrupt if nothing is pending (no received byte, no queued event);
 * interrupts stay enabled while sleeping. */
void hal_idle(void);

/* Brown-out detection level the fuses set, in millivolts; 0 when it is off (or the
 * fuse holds a reserved value). */
uint16_t hal_bod_mv(void);

/* Identification for `version`. */
const char *hal_mcu_name(void);
uint32_t hal_f_cpu(void);

#endif
