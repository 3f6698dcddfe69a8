/* ATmega328P implementation of hal.h.
 *
 * Timer1 runs free at F_CPU/8 (0.5 us per tick at 16 MHz): its overflow interrupt
 * counts wraps for the 64-bit clock (in 48 bits: a 32-bit count of every 32.768 ms,
 * which alone would run out after 4.46 years, and 16 bits above it), and its two
 * compare units time the relay edges
 * of channel 0 (OCR1A) and channel 1 (OCR1B). PWR_OK inputs are INT0/INT1 on any
 * edge. USART0 is interrupt-driven both ways.
 *
 * Every stretch with interrupts disabled (a handler, a critical section) delays the
 * timestamp of a PWR_OK edge or relay compare that falls into it by what is left of
 * it, so they are kept short: with interrupts off the clock is only sampled (counter,
 * overflow flag, wrap count: a few loads), and the 64-bit arithmetic that makes a
 * time of the sample runs later with interrupts on (events are queued with their
 * sample and converted in hal_event_take). The simulator measures the longest
 * stretches (handler_max_cycles, critical_max_cycles in its status), and
 * rig/sim/mcusim/test/test-timing.c holds them to 200 cycles for a handler and 100
 * for a critical section (measured: 106 for a PWR_OK handler, 181 for a relay
 * edge's, 86 for hal_relay_schedule's).
 */
#include <avr/boot.h>
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/wdt.h>
#include <errno.h>
#include <string.h>
#include <util/atomic.h>

#include "../hal.h"
#include "../../core/clock.h"

#define BAUD 115200UL
/* Double speed (U2X0), as Optiboot sets it. At 16 MHz the datasheet's baud table
 * gives, for 115.2k: U2X0 = 1, UBRR 16: 16e6 / (8 * 17) = 117647 baud, +2.1 %;
 * U2X0 = 0, UBRR 8: 16e6 / (16 * 9) = 111111 baud, -3.5 %. For 8N1 (D = 8 bits) the
 * receiver's tables ("Asynchronous Operational Range") allow a total error of
 * +3.90/-4.00 % at double speed and +4.58/-4.54 % at normal speed: +2.1 % leaves
 * 1.8 points to the other end's clock, -3.5 % only 1.0. */
#define UBRR_VALUE ((F_CPU + 4 * BAUD) / (8 * BAUD) - 1)

#define TICKS_PER_US_SHIFT 1	/* F_CPU / 8 = 2 ticks per us */
#if F_CPU != 16000000UL
#error "the clock assumes 2 timer ticks per microsecond (F_CPU 16 MHz, prescaler 8)"
#endif

/* A relay edge due sooner than this is written at once: the compare unit could miss
 * a match this close (20 us). */
#define SCHEDULE_MARGIN_TICKS 40

#define RESET_MARKER 0x50435253UL	/* "PCRS" */

#define EV_QUEUE 8			/* power of two */
#define RX_BUF 64			/* power of two */
#define TX_BUF 64			/* power of two */

/* Saved by reset_cause_save() before .bss is cleared; survive a watchdog reset. */
static uint8_t saved_mcusr __attribute__((section(".noinit")));
static uint8_t saved_r2 __attribute__((section(".noinit")));
static uint32_t reset_marker __attribute__((section(".noinit")));

static enum hal_reset_cause cause;

/* Counter wraps: `wraps` the low 32 bits (what the compare interrupt needs, read
 * quickly), `wraps_hi` the bits above. HAL_CLOCK_START_WRAPS (a test build, see
 * firmware/build.mk) starts the count just short of the low word's own wrap, so that
 * the simulator can run the firmware across it; the real firmware starts at 0. */
#ifndef HAL_CLOCK_START_WRAPS
#define HAL_CLOCK_START_WRAPS 0ULL
#endif
static volatile union {
	uint32_t all;
	uint16_t low;			/* what an event keeps (little-endian) */
} wraps = { (uint32_t)(HAL_CLOCK_START_WRAPS) };
static volatile uint16_t wraps_hi = (uint16_t)((uint64_t)(HAL_CLOCK_START_WRAPS) >> 32);

static volatile uint8_t edge_pending[HAL_CHANNELS];
static volatile uint8_t edge_level[HAL_CHANNELS];
static volatile uint32_t edge_wrap[HAL_CHANNELS];	/* counter period of the edge: ticks >> 16 */
static volatile uint16_t edge_count[HAL_CHANNELS];	/* counter value of the edge: ticks & 0xffff */

/* The clock as sampled with interrupts off: cheap to take (a few loads), turned into
 * ticks by sample_ticks() afterwards. */
struct clock_sample {
	uint16_t count;			/* TCNT1 */
	uint8_t pending;		/* TOV1 was set (a wrap not counted yet) */
	uint16_t wraps_hi;
	uint32_t wraps;
};

/* An event as its interrupt queued it, in 8 bytes (the slot index is a shift). The
 * time is still a sample, with only the low 16 bits of the wrap count: fewer
 * registers for the handler to save. hal_event_take() takes the bits above from the
 * count when it converts the event, which is right while fewer than 65536 counter
 * periods (35 minutes) lie between; the main loop drains the queue far sooner, or
 * its watchdog (500 ms) resets the chip. */
struct raw_event {
	uint16_t count;			/* TCNT1 */
	uint16_t wraps;			/* low 16 bits of the wrap count */
	uint8_t pending;		/* TOV1 was set */
	uint8_t type, ch, level;
};

static struct raw_event evq[EV_QUEUE];
static volatile uint8_t evq_head, evq_count;
static volatile uint16_t ev_lost;

static volatile uint8_t rx_buf[RX_BUF];
static volatile uint8_t rx_head, rx_tail;
static volatile uint8_t tx_buf[TX_BUF];
static volatile uint8_t tx_head, tx_tail;

void reset_cause_save(void) __attribute__((naked, used, section(".init3")));

/* Runs before .data/.bss set-up. Optiboot clears MCUSR and passes its old value in
 * r2; a watchdog reset leaves the watchdog running at its shortest period, so it is
 * stopped here before anything slow happens. The clock starts here too, a few cycles
 * after reset, so that event times are microseconds since reset as the protocol says
 * (start-up takes well under one counter period, so no wrap is missed before the
 * overflow interrupt is enabled). */
void reset_cause_save(void)
{
	uint8_t r2;

	__asm__ __volatile__("mov %0, r2" : "=r"(r2));
	TCCR1A = 0;
	TCNT1 = 0;
	TCCR1B = _BV(CS11);
	saved_r2 = r2;
	saved_mcusr = MCUSR;
	MCUSR = 0;
	wdt_disable();
}

/* Sample the clock; call with interrupts disabled. Inlined, so that an interrupt
 * handler reads the counter first thing and saves no registers for a call. */
static inline __attribute__((always_inline)) void clock_sample_locked(struct clock_sample *cs)
{
	cs->count = TCNT1;
	cs->pending = TIFR1 & _BV(TOV1);
	cs->wraps = wraps.all;
	cs->wraps_hi = wraps_hi;
}

/* Ticks at a sample (interrupts may be on: the sample is a copy). */
static uint64_t sample_ticks(const struct clock_sample *cs)
{
	return fw_clock_ticks((uint64_t)cs->wraps_hi << 32 | cs->wraps, cs->count, cs->pending);
}

/* Clock ticks now: only the sample is taken with interrupts off. */
static uint64_t ticks_now(void)
{
	struct clock_sample cs;

	ATOMIC_BLOCK(ATOMIC_RESTORESTATE)
		clock_sample_locked(&cs);
	return sample_ticks(&cs);
}

ISR(TIMER1_OVF_vect)
{
	if (++wraps.all == 0)
		wraps_hi++;
}

/* Queue an event whose clock sample (count, pending) was just taken; call with
 * interrupts disabled. Field by field: a struct copy would go through the stack. */
static inline __attribute__((always_inline)) void
evq_push(uint16_t count, uint8_t pending, uint8_t type, uint8_t ch, uint8_t level)
{
	struct raw_event *ev = &evq[(uint8_t)(evq_head + evq_count) & (EV_QUEUE - 1)];

	ev->count = count;
	ev->wraps = wraps.low;
	ev->pending = pending;
	ev->type = type;
	ev->ch = ch;
	ev->level = level;
	evq_count++;
}

/* Released: direction first, then the PORT bit, so that the pin is never driven to
 * the other level, not even for a cycle (with relay_active wrong for the board, that
 * level would energize the relay); for that one cycle a HIGH pin holds its weak
 * pull-up. Driven: level first, then direction. Each is one SBI/CBI, atomic against
 * the interrupts. */
static inline __attribute__((always_inline)) void relay_pin(uint8_t ch, uint8_t level)
{
	uint8_t mask = _BV(PB0 + ch);

	if (level == HAL_PIN_FLOAT) {
		DDRB &= (uint8_t)~mask;
		PORTB &= (uint8_t)~mask;
		return;
	}
	if (level)
		PORTB |= mask;
	else
		PORTB &= (uint8_t)~mask;
	DDRB |= mask;
}

static inline __attribute__((always_inline)) void compare_enable(uint8_t ch, uint8_t on)
{
	uint8_t mask = ch ? _BV(OCIE1B) : _BV(OCIE1A);

	if (on)
		TIMSK1 |= mask;
	else
		TIMSK1 &= (uint8_t)~mask;
}

/* The clock is sampled right after the pin is written, both with interrupts off, so
 * the reported time is the edge's own to within a microsecond (the edge itself comes
 * interrupt entry, a few microseconds, after the scheduled moment). */
static inline __attribute__((always_inline)) void edge_fire(uint8_t ch)
{
	uint8_t level = edge_level[ch];

	relay_pin(ch, level);
	uint16_t count = TCNT1;
	uint8_t pending = TIFR1 & _BV(TOV1);

	edge_pending[ch] = 0;
	compare_enable(ch, 0);
	evq_push(count, pending, HAL_EV_RELAY, ch, level);
}

/* Counter periods from now to ch's edge, and the counter (*count), from a few
 * register reads and 32-bit arithmetic, not the 64-bit clock, so that the pin is
 * written within a few cycles of the match; call with interrupts disabled. Periods
 * are compared modulo 2^32, which holds across the wrap of the low word of the count
 * (edges lie less than 2^31 periods ahead, hal.h). */
static inline __attribute__((always_inline)) int32_t edge_periods_locked(uint8_t ch, uint16_t *count)
{
	uint32_t period = wraps.all;

	*count = TCNT1;
	if ((TIFR1 & _BV(TOV1)) && *count < 0x8000u)
		period++;
	return (int32_t)(edge_wrap[ch] - period);
}

/* The compare unit matches once per counter period; only the match that reaches the
 * edge's time fires it. An earlier match (an earlier period, or a compare flag left
 * from before the edge was set) only runs this handler: the compare flag is never
 * cleared by writing TIFR1, because simavr 1.6 (the simulator the tests run) clears
 * every Timer1 flag on any write to it, a pending overflow included, and the clock
 * then loses a counter period for good. */
static inline __attribute__((always_inline)) void compare_isr(uint8_t ch)
{
	uint16_t count;
	int32_t periods;

	if (!edge_pending[ch])
		return;
	periods = edge_periods_locked(ch, &count);
	if (periods < 0 || (periods == 0 && count >= edge_count[ch]))
		edge_fire(ch);
}

ISR(TIMER1_COMPA_vect)
{
	compare_isr(0);
}

ISR(TIMER1_COMPB_vect)
{
	compare_isr(1);
}

static inline __attribute__((always_inline)) void pwrok_isr(uint8_t ch)
{
	uint16_t count = TCNT1;
	uint8_t pending = TIFR1 & _BV(TOV1);
	uint8_t level = (PIND >> (PD2 + ch)) & 1u;

	/* Keep one slot per channel for relay edges, which must never be lost. */
	if (evq_count < EV_QUEUE - HAL_CHANNELS)
		evq_push(count, pending, HAL_EV_PWROK, ch, level);
	else
		ev_lost++;
}

ISR(INT0_vect)
{
	pwrok_isr(0);
}

ISR(INT1_vect)
{
	pwrok_isr(1);
}

ISR(USART_RX_vect)
{
	uint8_t status = UCSR0A;
	uint8_t c = UDR0;
	uint8_t next = (rx_head + 1) & (RX_BUF - 1);

	/* A framing error, overrun or full buffer loses a byte: the line's checksum
	 * then rejects it. */
	if ((status & (_BV(FE0) | _BV(DOR0))) || next == rx_tail)
		return;
	rx_buf[rx_head] = c;
	rx_head = next;
}

ISR(USART_UDRE_vect)
{
	if (tx_head == tx_tail) {
		UCSR0B &= (uint8_t)~_BV(UDRIE0);
		return;
	}
	UDR0 = tx_buf[tx_tail];
	tx_tail = (tx_tail + 1) & (TX_BUF - 1);
}

/* Sleep in idle mode until an interrupt if cond() holds. Interrupts are enabled by
 * the SEI right before SLEEP, whose effect is delayed by one instruction, so an
 * interrupt between the test and the sleep still wakes it. */
static void sleep_while(bool (*cond)(void))
{
	cli();
	if (cond()) {
		sleep_enable();
		sei();
		sleep_cpu();
		sleep_disable();
	}
	sei();
}

static bool tx_full(void)
{
	return ((tx_head + 1) & (TX_BUF - 1)) == tx_tail;
}

static bool tx_busy(void)
{
	return tx_head != tx_tail || !(UCSR0A & _BV(TXC0));
}

static bool always(void)
{
	return true;
}

static bool nothing_to_do(void)
{
	return rx_head == rx_tail && evq_count == 0;
}

void hal_init(void)
{
	/* Reset cause first: the marker must not survive into the next reset. */
	uint8_t mcusr = saved_mcusr ? saved_mcusr : saved_r2;

	if (mcusr & _BV(PORF))
		cause = HAL_RESET_POWER;
	else if (mcusr & _BV(BORF))
		cause = HAL_RESET_BROWNOUT;
	else if (reset_marker == RESET_MARKER)
		cause = HAL_RESET_COMMAND;
	else if (mcusr & _BV(WDRF))
		cause = HAL_RESET_WATCHDOG;
	else if (mcusr & _BV(EXTRF))
		cause = HAL_RESET_EXTERNAL;
	else
		cause = HAL_RESET_POWER;
	reset_marker = 0;

	/* Relay pins stay inputs without pull-up, as the reset left them: every relay
	 * released whatever the settings say. Only the LED is an output. */
	DDRB |= _BV(PB5);

	/* PWR_OK inputs with pull-ups (an optocoupler pulls them down); any edge. */
	DDRD &= (uint8_t)~(_BV(PD2) | _BV(PD3));
	PORTD |= _BV(PD2) | _BV(PD3);
	EICRA = _BV(ISC00) | _BV(ISC10);
	EIFR = _BV(INTF0) | _BV(INTF1);
	EIMSK = _BV(INT0) | _BV(INT1);

	/* Timer1 already runs since reset_cause_save(); a pending overflow stays pending
	 * for the interrupt enabled here. Compare flags need no clearing (compare_isr),
	 * and TIFR1 is not written (see there). */
	TIMSK1 = _BV(TOIE1);

	/* U2X0 before UBRR0, as Optiboot does (UCSR0A first, UBRR0L last): the chip
	 * takes them in either order (writing UBRR0L reloads the baud prescaler, U2X0
	 * only selects its divider), but simavr derives the line's speed once, when
	 * UBRR0 is written, from U2X0 as it is then: written the other way round, the
	 * simulated line runs at half speed (docs/sim.md). */
	UCSR0A = _BV(U2X0);
	UBRR0 = UBRR_VALUE;
	UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
	UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);

	set_sleep_mode(SLEEP_MODE_IDLE);
	wdt_enable(WDTO_500MS);
	sei();
}

enum hal_reset_cause hal_reset_cause(void)
{
	return cause;
}

uint64_t hal_now_us(void)
{
	return ticks_now() >> TICKS_PER_US_SHIFT;
}

void hal_relay_write(uint8_t ch, uint8_t level)
{
	/* A constant channel makes each access the one SBI/CBI relay_pin() says: a
	 * read-modify-write of PORTB could undo a compare handler's edge on the other
	 * pin. */
	if (ch == 0)
		relay_pin(0, level);
	else
		relay_pin(1, level);
}

/* Whether ch's edge, found ahead of the clock with interrupts on, is now within the
 * margin; call with interrupts disabled. */
static inline __attribute__((always_inline)) bool edge_near_locked(uint8_t ch)
{
	uint16_t count;
	int32_t periods = edge_periods_locked(ch, &count);

	if (periods < 0)
		return true;
	if (periods > 1)
		return false;
	/* 0 or 1 periods ahead: the distance in ticks fits 32 bits */
	return (int32_t)((uint32_t)periods << 16) + (int32_t)edge_count[ch] - (int32_t)count <=
	       SCHEDULE_MARGIN_TICKS;
}

void hal_relay_schedule(uint8_t ch, uint8_t level, uint64_t at_us)
{
	uint64_t at = at_us << TICKS_PER_US_SHIFT;
	/* The 64-bit test with interrupts on: an edge already due stays due. One not
	 * due yet lies ahead, and is tested again, in 32 bits, where the compare unit
	 * is set. */
	bool due = at <= ticks_now() + SCHEDULE_MARGIN_TICKS;

	/* The edge is set with interrupts on, the handler kept off it by edge_pending
	 * (a pending edge is replaced: hal.h). */
	edge_pending[ch] = 0;
	edge_level[ch] = level;
	edge_wrap[ch] = (uint32_t)(at >> 16);
	edge_count[ch] = (uint16_t)at;
	/* The compiler would move the test into the critical section (it touches no
	 * memory): have it done here. */
	__asm__ __volatile__("" : "+r"(due));
	ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
		edge_pending[ch] = 1;
		if (due || edge_near_locked(ch)) {
			/* a constant channel: shorter with interrupts off */
			if (ch == 0)
				edge_fire(0);
			else
				edge_fire(1);
		} else {
			if (ch == 0)
				OCR1A = (uint16_t)at;
			else
				OCR1B = (uint16_t)at;
			compare_enable(ch, 1);
		}
	}
}

bool hal_relay_cancel(uint8_t ch)
{
	bool was;

	ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
		was = edge_pending[ch];
		edge_pending[ch] = 0;
		compare_enable(ch, 0);
	}
	return was;
}

void hal_led_write(uint8_t on)
{
	if (on)
		PORTB |= _BV(PB5);
	else
		PORTB &= (uint8_t)~_BV(PB5);
}

uint8_t hal_pwrok_read(uint8_t ch)
{
	return (PIND >> (PD2 + ch)) & 1u;
}

bool hal_event_take(struct hal_event *ev)
{
	struct raw_event raw;
	uint32_t now_lo;
	uint16_t now_hi;
	bool got = false;

	ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
		if (evq_count) {
			raw = evq[evq_head];
			evq_head = (evq_head + 1) & (EV_QUEUE - 1);
			evq_count--;
			now_lo = wraps.all;
			now_hi = wraps_hi;
			got = true;
		}
	}
	if (!got)
		return false;
	ev->t_us = fw_clock_ticks(fw_clock_wraps_then((uint64_t)now_hi << 32 | now_lo, raw.wraps),
				  raw.count, raw.pending) >> TICKS_PER_US_SHIFT;
	ev->type = raw.type;
	ev->ch = raw.ch;
	ev->level = raw.level;
	return true;
}

uint16_t hal_event_lost(void)
{
	uint16_t n;

	ATOMIC_BLOCK(ATOMIC_RESTORESTATE)
		n = ev_lost;
	return n;
}

int hal_uart_getc(void)
{
	uint8_t c;

	if (rx_head == rx_tail)
		return -1;
	c = rx_buf[rx_tail];
	rx_tail = (rx_tail + 1) & (RX_BUF - 1);
	return c;
}

void hal_uart_write(const char *buf, size_t len)
{
	while (len--) {
		while (tx_full())
			sleep_while(tx_full);
		tx_buf[tx_head] = (uint8_t)*buf++;
		ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
			tx_head = (tx_head + 1) & (TX_BUF - 1);
			/* Clear TXC0 (a 1 clears it: the last byte is not out) by writing the
			 * register whole: a read-modify-write would write back the other
			 * flags it read, and FE0, DOR0 and UPE0 must be written 0. U2X0
			 * keeps its value. */
			UCSR0A = _BV(TXC0) | _BV(U2X0);
			UCSR0B |= _BV(UDRIE0);
		}
	}
}

void hal_uart_flush(void)
{
	/* No interrupt marks the end of the last byte's stop bit; poll it. */
	while (tx_busy())
		;
}

void hal_eeprom_read(uint16_t addr, void *buf, size_t len)
{
	eeprom_read_block(buf, (const void *)(uintptr_t)addr, len);
}

int hal_eeprom_write(uint16_t addr, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	/* update: only changed bytes are written, which spares the cells */
	eeprom_update_block(buf, (void *)(uintptr_t)addr, len);
	for (size_t i = 0; i < len; i++)
		if (eeprom_read_byte((const uint8_t *)(uintptr_t)(addr + i)) != p[i])
			return -EIO;
	return 0;
}

void hal_watchdog_kick(void)
{
	wdt_reset();
}

void hal_reset(void)
{
	reset_marker = RESET_MARKER;
	wdt_enable(WDTO_15MS);
	for (;;)
		sleep_while(always);
}

void hal_idle(void)
{
	sleep_while(nothing_to_do);
}

uint16_t hal_bod_mv(void)
{
	/* The extended fuse's BODLEVEL bits (2..0), read by the chip itself with LPM
	 * (datasheet "Reading the Fuse and Lock Bits from Software"): a bootloader
	 * cannot pass them on, Optiboot answers avrdude's fuse reads with 0. */
	uint8_t efuse;

	/* BLBSET|SELFPRGEN hold for three cycles: no interrupt in between. */
	ATOMIC_BLOCK(ATOMIC_RESTORESTATE)
		efuse = boot_lock_fuse_bits_get(GET_EXTENDED_FUSE_BITS);
	switch (efuse & 7u) {
	case 6: return 1800;
	case 5: return 2700;
	case 4: return 4300;
	default: return 0;	/* 7: off; 0..3 reserved */
	}
}

const char *hal_mcu_name(void)
{
	return "atmega328p";
}

uint32_t hal_f_cpu(void)
{
	return F_CPU;
}
