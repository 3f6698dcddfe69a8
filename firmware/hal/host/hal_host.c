/* Fake HAL for host unit tests and fuzzing (see hal_fake.h). */
#include "hal_fake.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define WRITE_LOG_MAX 4096

static struct {
	uint64_t now;
	enum hal_reset_cause cause;
	uint8_t relay[HAL_CHANNELS];
	bool pending[HAL_CHANNELS];
	uint64_t pending_at[HAL_CHANNELS];
	uint8_t pending_level[HAL_CHANNELS];
	uint8_t pwrok[HAL_CHANNELS];
	struct hal_event queue[HAL_FAKE_QUEUE];
	unsigned q_head, q_count;
	uint16_t lost;
	struct hal_fake_write writes[WRITE_LOG_MAX];
	size_t n_writes;
	uint8_t *rx;
	size_t rx_len, rx_pos;
	char *tx;
	size_t tx_len, tx_cap;
	uint8_t eeprom[HAL_EEPROM_SIZE];
	bool eeprom_fail;
	unsigned eeprom_ok_left;	/* writes that still succeed; UINT_MAX: all */
	unsigned eeprom_writes;
	unsigned resets;
	uint8_t led;
	uint16_t bod_mv;
	bool inited;
} f;

static void queue_push(const struct hal_event *ev)
{
	f.queue[(f.q_head + f.q_count) % HAL_FAKE_QUEUE] = *ev;
	f.q_count++;
}

static void log_write(uint8_t ch, uint8_t level, bool scheduled)
{
	if (f.n_writes < WRITE_LOG_MAX)
		f.writes[f.n_writes++] = (struct hal_fake_write){ f.now, ch, level, scheduled };
}

static void fire(uint8_t ch)
{
	struct hal_event ev = { f.now, HAL_EV_RELAY, ch, f.pending_level[ch] };

	f.pending[ch] = false;
	f.relay[ch] = f.pending_level[ch];
	log_write(ch, f.relay[ch], true);
	queue_push(&ev);
}

void hal_fake_reset(uint8_t pwrok_levels)
{
	free(f.rx);
	free(f.tx);
	memset(&f, 0, sizeof(f));
	memset(f.eeprom, 0xff, sizeof(f.eeprom));
	for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++)
		f.relay[ch] = HAL_PIN_FLOAT;	/* inputs after reset */
	f.bod_mv = 2700;
	f.eeprom_ok_left = UINT_MAX;
	for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++)
		f.pwrok[ch] = (pwrok_levels >> ch) & 1u;
	f.cause = HAL_RESET_POWER;
}

void hal_fake_set_reset_cause(enum hal_reset_cause cause)
{
	f.cause = cause;
}

void hal_fake_set_time(uint64_t t_us)
{
	for (;;) {
		int next = -1;

		for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++)
			if (f.pending[ch] && f.pending_at[ch] <= t_us &&
			    (next < 0 || f.pending_at[ch] < f.pending_at[next]))
				next = ch;
		if (next < 0)
			break;
		if (f.pending_at[next] > f.now)
			f.now = f.pending_at[next];
		fire((uint8_t)next);
	}
	if (t_us > f.now)
		f.now = t_us;
}

void hal_fake_advance(uint64_t us)
{
	hal_fake_set_time(f.now + us);
}

uint8_t hal_fake_relay_level(uint8_t ch)
{
	return f.relay[ch];
}

bool hal_fake_relay_is_output(uint8_t ch)
{
	return f.relay[ch] != HAL_PIN_FLOAT;
}

bool hal_fake_inited(void)
{
	return f.inited;
}

void hal_fake_set_bod_mv(uint16_t mv)
{
	f.bod_mv = mv;
}

size_t hal_fake_writes(const struct hal_fake_write **w)
{
	*w = f.writes;
	return f.n_writes;
}

bool hal_fake_pending(uint8_t ch, uint64_t *at_us, uint8_t *level)
{
	if (!f.pending[ch])
		return false;
	*at_us = f.pending_at[ch];
	*level = f.pending_level[ch];
	return true;
}

void hal_fake_pwrok_set(uint8_t ch, uint8_t level)
{
	struct hal_event ev = { f.now, HAL_EV_PWROK, ch, level };

	if (f.pwrok[ch] == level)
		return;
	f.pwrok[ch] = level;
	/* As on the MCU: slots are kept for the relay edges, which are never lost. */
	if (f.q_count < HAL_FAKE_QUEUE - HAL_CHANNELS)
		queue_push(&ev);
	else
		f.lost++;
}

void hal_fake_rx(const void *buf, size_t len)
{
	uint8_t *p = realloc(f.rx, f.rx_len - f.rx_pos + len);

	if (!p)
		abort();
	memmove(p, p + f.rx_pos, f.rx_len - f.rx_pos);
	memcpy(p + (f.rx_len - f.rx_pos), buf, len);
	f.rx = p;
	f.rx_len = f.rx_len - f.rx_pos + len;
	f.rx_pos = 0;
}

const char *hal_fake_tx_take(size_t *len)
{
	static char *taken;

	free(taken);
	taken = f.tx ? f.tx : calloc(1, 1);
	if (!taken)
		abort();
	if (len)
		*len = f.tx_len;
	f.tx = NULL;
	f.tx_len = f.tx_cap = 0;
	return taken;
}

uint8_t *hal_fake_eeprom(void)
{
	return f.eeprom;
}

void hal_fake_eeprom_fail(bool fail)
{
	f.eeprom_fail = fail;
}

void hal_fake_eeprom_fail_after(unsigned n)
{
	f.eeprom_ok_left = n;
}

void hal_fake_mcu_reset(void)
{
	for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++) {
		f.relay[ch] = HAL_PIN_FLOAT;
		f.pending[ch] = false;
	}
	f.q_head = f.q_count = 0;
	f.inited = false;
}

unsigned hal_fake_eeprom_writes(void)
{
	return f.eeprom_writes;
}

uint8_t hal_fake_led(void)
{
	return f.led;
}

unsigned hal_fake_resets(void)
{
	return f.resets;
}

/* ---- hal.h ---- */

void hal_init(void)
{
	f.inited = true;
}

enum hal_reset_cause hal_reset_cause(void)
{
	return f.cause;
}

uint64_t hal_now_us(void)
{
	return f.now;
}

void hal_relay_write(uint8_t ch, uint8_t level)
{
	f.relay[ch] = level;
	log_write(ch, level, false);
}

void hal_relay_schedule(uint8_t ch, uint8_t level, uint64_t at_us)
{
	f.pending[ch] = true;
	f.pending_at[ch] = at_us;
	f.pending_level[ch] = level;
	if (at_us <= f.now)
		fire(ch);
}

bool hal_relay_cancel(uint8_t ch)
{
	bool was = f.pending[ch];

	f.pending[ch] = false;
	return was;
}

void hal_led_write(uint8_t on)
{
	f.led = on;
}

uint8_t hal_pwrok_read(uint8_t ch)
{
	return f.pwrok[ch];
}

bool hal_event_take(struct hal_event *ev)
{
	if (f.q_count == 0)
		return false;
	*ev = f.queue[f.q_head];
	f.q_head = (f.q_head + 1) % HAL_FAKE_QUEUE;
	f.q_count--;
	return true;
}

uint16_t hal_event_lost(void)
{
	return f.lost;
}

int hal_uart_getc(void)
{
	if (f.rx_pos >= f.rx_len)
		return -1;
	return f.rx[f.rx_pos++];
}

void hal_uart_write(const char *buf, size_t len)
{
	if (f.tx_len + len + 1 > f.tx_cap) {
		size_t cap = (f.tx_len + len + 1) * 2;
		char *p = realloc(f.tx, cap);

		if (!p)
			abort();
		f.tx = p;
		f.tx_cap = cap;
	}
	memcpy(f.tx + f.tx_len, buf, len);
	f.tx_len += len;
	f.tx[f.tx_len] = '\0';
}

void hal_uart_flush(void)
{
}

void hal_eeprom_read(uint16_t addr, void *buf, size_t len)
{
	memcpy(buf, f.eeprom + addr, len);
}

int hal_eeprom_write(uint16_t addr, const void *buf, size_t len)
{
	f.eeprom_writes++;
	if (f.eeprom_fail)
		return -EIO;
	if (f.eeprom_ok_left == 0) {
		/* a write cut short: the first half of it happened */
		memcpy(f.eeprom + addr, buf, len / 2);
		return -EIO;
	}
	if (f.eeprom_ok_left != UINT_MAX)
		f.eeprom_ok_left--;
	memcpy(f.eeprom + addr, buf, len);
	return 0;
}

void hal_watchdog_kick(void)
{
}

void hal_reset(void)
{
	f.resets++;
	f.cause = HAL_RESET_COMMAND;
}

void hal_idle(void)
{
}

uint16_t hal_bod_mv(void)
{
	return f.bod_mv;
}

const char *hal_mcu_name(void)
{
	return "host";
}

uint32_t hal_f_cpu(void)
{
	return 16000000u;
}
