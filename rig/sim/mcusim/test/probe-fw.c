/* A tiny AVR program that exercises the simulator's mechanics, independent of the
 * real firmware: single-byte commands over UART0 (115200 8N1).
 *   'e'/'E'  energize relay 0/1 (pin made an output at its active level, LOW)
 *   'r'/'R'  release relay 0/1 (pin back to an input)
 *   'p'      print "p" then PWR_OK levels of PD2 and PD3 as '0'/'1', then '\n'
 *   'w'      reset through the watchdog
 * Every other byte is echoed. At boot it prints "boot MCUSR\n" (hex). */
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/wdt.h>

static volatile uint8_t rx_byte, rx_full;

ISR(USART_RX_vect)
{
	rx_byte = UDR0;
	rx_full = 1;
}

static void put(char c)
{
	while (!(UCSR0A & _BV(UDRE0)))
		;
	UDR0 = c;
}

static void hex(uint8_t v)
{
	static const char d[] = "0123456789abcdef";

	put(d[v >> 4]);
	put(d[v & 15]);
}

int main(void)
{
	uint8_t mcusr = MCUSR;

	MCUSR = 0;
	wdt_disable();
	UCSR0A = _BV(U2X0);
	UBRR0 = 16;	/* 115200 at 16 MHz with U2X */
	UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);
	UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
	PORTB &= ~(_BV(0) | _BV(1));	/* idle level first, as the real firmware */
	put('b'); put('o'); put('o'); put('t'); put(' ');
	hex(mcusr);
	put('\n');
	set_sleep_mode(SLEEP_MODE_IDLE);
	sei();
	for (;;) {
		uint8_t c;

		cli();
		if (!rx_full) {
			sleep_enable();
			sei();
			sleep_cpu();
			sleep_disable();
			continue;
		}
		c = rx_byte;
		rx_full = 0;
		sei();
		switch (c) {
		case 'e': DDRB |= _BV(0); break;
		case 'E': DDRB |= _BV(1); break;
		case 'r': DDRB &= ~_BV(0); break;
		case 'R': DDRB &= ~_BV(1); break;
		case 'p':
			put('p');
			put(PIND & _BV(2) ? '1' : '0');
			put(PIND & _BV(3) ? '1' : '0');
			put('\n');
			break;
		case 'w':
			wdt_enable(WDTO_15MS);
			for (;;)
				;
		default:
			put(c);
		}
	}
}
