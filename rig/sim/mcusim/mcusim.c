/* powercut-mcusim: the firmware ELF in simavr, with a power-supply model.
 *
 * One process, one thread. simavr runs in the main loop; every I/O (the pty, the
 * control socket) is polled from inside the simulation: from the sleep callback in
 * realtime mode (so waiting for wall time is also waiting for input) and from a
 * periodic cycle timer in both modes. docs/sim.md describes the behaviour and the
 * control socket protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sim_avr.h>
#include <sim_elf.h>
#include <sim_io.h>
#include <sim_irq.h>
#include <sim_cycle_timers.h>
#include <avr_eeprom.h>
#include <avr_ioport.h>
#include <avr_uart.h>

#include "psu.h"
/* built without the host library's include path */
#include "../../../host/lib/clock.h"

#define PROG		"powercut-mcusim"
#define MCU_NAME	"atmega328p"
#define F_CPU_HZ	16000000u
#define MAX_CH		2
#define MAX_CLIENTS	32
#define CLIENT_OUT_MAX	(1u << 20)	/* a subscriber this far behind is dropped */
#define UART_OUT_MAX	(64u * 1024)
#define CTL_LINE_MAX	256
/* Period of the I/O tick in simulated microseconds. In realtime mode it bounds how
 * long the core sleeps in one go, hence the latency of host input; in fast mode it
 * is how often the pty and the socket are polled. */
#define TICK_US_REALTIME 250
#define TICK_US_FAST	 1000
/* ATmega328P data-space address of PIND (datasheet, register summary): avr_reset()
 * clears the PIN registers without going through the pin IRQs, so the PWR_OK levels
 * are written back there directly after a reset. */
#define PIND_ADDR	0x29
/* SPMCSR's data-space address and the bits that make the next LPM read a fuse or
 * lock byte instead of flash (datasheet, "Reading the Fuse and Lock Bits from
 * Software"): simavr 1.6's LPM always reads flash, so the simulator shows the fuses
 * at flash bytes 0..3 for the few cycles the chip allows (see fuse_window_open). */
#define SPMCSR_ADDR	0x57
#define SPM_BLBSET	0x08
#define SPM_SELFPRGEN	0x01
#define FUSE_WINDOW_CYCLES 4
/* The other fuse bytes of an Arduino Uno/Nano with Optiboot: low 0xFF (external
 * crystal), high 0xDE (512-byte boot section, BOOTRST), lock 0xCF (boot section
 * protected), as Optiboot's makefile burns them. */
#define LFUSE		0xFF
#define HFUSE		0xDE
#define LOCKBITS	0xCF
#define EEPROM_SIZE	1024
/* The interrupt vector table: 26 vectors of 4 bytes from address 0. */
#define VECTORS_END	0x68
/* After its parent died, the simulator runs in fast mode until the firmware's own
 * host-silence rule released every relay, but never longer than this (wall time):
 * the controller that started it is gone, and it must not outlive it for long. */
#define ORPHAN_GRACE_NS	1500000000LL
/* ... and once they are released, this much simulated time more, so that the
 * firmware's report of the edge leaves the UART (55 ms at the simulated line rate). */
#define ORPHAN_TAIL_US	50000

enum mode { MODE_REALTIME, MODE_FAST };

enum edge_kind { EDGE_RELAY, EDGE_DC, EDGE_PWROK, EDGE_RESET };

struct edge {
	uint64_t cycle;		/* total simulated cycles since the simulator started */
	uint64_t boot_cycle;	/* total cycle of the MCU reset that preceded the edge */
	int64_t wall_ns;	/* CLOCK_MONOTONIC when the simulator handled it */
	uint8_t kind, ch, value;
};

struct client {
	int fd;
	bool subscribed;
	bool closing;		/* flush out, then close */
	char in[CTL_LINE_MAX];
	size_t in_len;
	char *out;
	size_t out_len, out_cap;
};

struct opts {
	const char *firmware;
	const char *run_dir;
	enum mode mode;
	int channels;
	uint64_t hold_up_ns;
	uint64_t rise_ns;
	unsigned relay_active;
	unsigned pwrok_invert;
	unsigned efuse;
	const char *eeprom_file;
	bool quiet;
};

struct sim {
	struct opts o;
	avr_t *avr;

	/* Simulated time: avr->cycle restarts at 0 on a reset in some simavr versions;
	 * cycle_base keeps a total count that never goes back. */
	uint64_t cycle_base;
	uint64_t boot_cycle;		/* total cycle of the last MCU reset */
	unsigned resets;
	bool reset_seen;		/* the reset hook ran; finish in the main loop */
	uint64_t reset_seen_at;
	int reset_cause;		/* EDGE_RESET value of the pending reset */
	bool reset_request;		/* external reset asked over the control socket */
	void (*core_reset)(avr_t *);

	/* The power-supply part, one per channel. */
	struct psu_ch psu[MAX_CH];
	avr_irq_t *relay_irq_port, *relay_irq_ddr;
	avr_irq_t *pwrok_irq[MAX_CH];
	uint8_t portb, ddrb;

	/* Wall clock: realtime mode keeps total cycles <= (now - wall_origin) * f. */
	int64_t wall_origin_ns;

	/* The pty bridge. */
	int pty_master, pty_slave;
	char pty_name[128];
	avr_irq_t *uart_in;
	bool uart_xon;
	uint8_t host_in[4096];		/* bytes read from the pty, not yet in the UART */
	size_t host_in_off, host_in_len;
	uint8_t *uart_out;		/* bytes from the UART, not yet in the pty */
	size_t uart_out_len;
	bool uart_out_dropped;

	/* Files in the run dir. */
	char tty_link[PATH_MAX];
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char pid_path[PATH_MAX];
	bool dir_created;
	int listen_fd;
	struct client clients[MAX_CLIENTS];
	int nclients;

	struct edge *edges;
	size_t nedges, edges_cap;
	uint64_t edges_dropped;

	/* Fuse reads: flash bytes 0..3 while a read window is open. */
	bool fuse_window;
	uint8_t fuse_saved[4];

	/* The parent at start (1: none to watch); after it died, the wall-clock
	 * deadline of the run-out (0: parent alive). */
	pid_t parent;
	int64_t orphan_deadline_ns;
	uint64_t orphan_stop_cycle;	/* 0: some relay still energized */

	/* Stretches with interrupts disabled (SREG.I clear): a PWR_OK edge or relay
	 * compare that falls into one waits for its end, and the firmware's timestamp
	 * of it is late by as much. The longest seen so far, apart for interrupt
	 * handlers and for the firmware's critical sections, each with the address it
	 * began at (the vector, or the instruction after CLI). Counted from the
	 * firmware's first SEI after each reset: start-up runs with interrupts off. */
	bool irq_on;			/* SREG.I after the last step */
	bool irq_seen;			/* SREG.I was set since the last reset */
	uint64_t irq_off_at;		/* total cycle where the current stretch began */
	uint32_t irq_off_pc;		/* byte address where it began */
	struct { uint64_t cycles; uint32_t pc; } irq_off_max[2];	/* [IRQ_OFF_*] */
};

enum { IRQ_OFF_HANDLER, IRQ_OFF_CRITICAL };

static volatile sig_atomic_t g_stop;
/* simavr's reset hook carries no user pointer; there is one AVR per process. */
static struct sim *g_sim;

static void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void vmsg(const char *kind, const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s: %s", PROG, kind);

	/* one write per message: lines from parallel instances never interleave */
	if (n >= 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

static void die_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("error: ", fmt, ap);
	va_end(ap);
}

static void warn_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

static uint64_t total_cycle(const struct sim *s)
{
	return s->cycle_base + s->avr->cycle;
}

static uint64_t ns_to_cycles(uint64_t ns)
{
	return ns * (F_CPU_HZ / 1000000) / 1000;
}

static uint64_t cycles_to_ns(uint64_t c)
{
	/* 16 MHz: 62.5 ns per cycle */
	return c * 1000 / (F_CPU_HZ / 1000000);
}

static void simavr_logger(avr_t *avr, const int level, const char *fmt, va_list ap)
{
	if (level > LOG_WARNING || (g_sim && g_sim->o.quiet && level > LOG_ERROR))
		return;
	/* A fuse read sets SELFPRGEN for an LPM, never for an SPM: simavr's flash part
	 * warns about the missing SPM at every one, but the chip does the same. */
	if (strstr(fmt, "SPM not received"))
		return;
	fprintf(stderr, "%s: simavr: ", PROG);
	vfprintf(stderr, fmt, ap);
}

/* ---- control socket clients ---- */

static void client_drop(struct sim *s, int i)
{
	close(s->clients[i].fd);
	free(s->clients[i].out);
	s->clients[i] = s->clients[--s->nclients];
}

static int client_flush(struct client *c)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -errno;
		}
		memmove(c->out, c->out + n, c->out_len - n);
		c->out_len -= n;
	}
	return 0;
}

static void client_printf(struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void client_printf(struct client *c, const char *fmt, ...)
{
	va_list ap;
	char line[512];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || c->closing)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (c->out_len + n > CLIENT_OUT_MAX) {
		/* A client that does not read must not grow memory without bound. */
		c->closing = true;
		c->out_len = 0;
		return;
	}
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + n)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p) {
			c->closing = true;
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, line, n);
	c->out_len += n;
}

static const char *reset_cause_name(int v)
{
	static const char *const names[] = { "power", "external", "watchdog", "other" };

	return names[v < 4 ? v : 3];
}

static void client_put_edge(struct client *c, const struct edge *e)
{
	uint64_t us = cycles_to_ns(e->cycle) / 1000;
	uint64_t boot_us = cycles_to_ns(e->cycle - e->boot_cycle) / 1000;

	switch (e->kind) {
	case EDGE_RELAY:
		client_printf(c, "relay ch=%u energized=%u", e->ch, e->value);
		break;
	case EDGE_DC:
		client_printf(c, "dc ch=%u state=%s", e->ch, e->value ? "back" : "lost");
		break;
	case EDGE_PWROK:
		client_printf(c, "pwrok ch=%u level=%u", e->ch, e->value);
		break;
	case EDGE_RESET:
		client_printf(c, "reset cause=%s", reset_cause_name(e->value));
		break;
	}
	client_printf(c, " sim_us=%" PRIu64 " cycle=%" PRIu64 " boot_us=%" PRIu64
		      " boot_cycles=%" PRIu64 " wall_ns=%" PRId64 "\n", us, e->cycle, boot_us,
		      e->cycle - e->boot_cycle, e->wall_ns);
}

static void edge_record(struct sim *s, int kind, int ch, int value, uint64_t cycle)
{
	struct edge e = {
		.cycle = cycle, .boot_cycle = s->boot_cycle, .wall_ns = clock_mono_ns(),
		.kind = kind, .ch = ch, .value = value,
	};

	if (s->nedges == s->edges_cap) {
		size_t cap = s->edges_cap ? s->edges_cap * 2 : 1024;
		struct edge *p = cap <= (1u << 22) ? realloc(s->edges, cap * sizeof(*p)) : NULL;

		if (!p) {
			s->edges_dropped++;
			goto stream;
		}
		s->edges = p;
		s->edges_cap = cap;
	}
	s->edges[s->nedges++] = e;
stream:
	for (int i = 0; i < s->nclients; i++)
		if (s->clients[i].subscribed)
			client_put_edge(&s->clients[i], &e);
}

/* ---- the power-supply part ---- */

static void pwrok_drive(struct sim *s, int ch, bool initial)
{
	bool inv = s->o.pwrok_invert >> ch & 1;
	uint8_t level = s->psu[ch].dc_good ^ inv;
	avr_ioport_external_t ext = { .name = 'D', .mask = 0, .value = 0 };

	/* Keep the port's "external" level in step, so that the firmware enabling the
	 * pull-up on the input does not override what the supply drives. */
	for (int c = 0; c < s->o.channels; c++) {
		ext.mask |= 1u << (2 + c);
		if (s->psu[c].dc_good ^ (s->o.pwrok_invert >> c & 1))
			ext.value |= 1u << (2 + c);
	}
	avr_ioctl(s->avr, AVR_IOCTL_IOPORT_SET_EXTERNAL('D'), &ext);
	if (!initial) {
		avr_raise_irq(s->pwrok_irq[ch], level);
	} else {
		/* At power-on and after a reset the level is a state, not an edge: write
		 * the PIN bit and the IRQ's value directly. Raising the IRQ would flag an
		 * external interrupt that simavr keeps pending, and a pending interrupt
		 * keeps the core from sleeping. */
		s->pwrok_irq[ch]->value = level;
		/* An IRQ never raised passes its first value even when filtered. The
		 * firmware enabling the pull-up would then "raise" a LOW pin while INT0 is
		 * still in low-level mode, and simavr's level poll (a timer every cycle)
		 * would never stop: the core would never sleep again. */
		s->pwrok_irq[ch]->flags &= ~IRQ_FLAG_INIT;
		if (level)
			s->avr->data[PIND_ADDR] |= 1u << (2 + ch);
		else
			s->avr->data[PIND_ADDR] &= ~(1u << (2 + ch));
	}
}

static avr_cycle_count_t psu_timer(avr_t *avr, avr_cycle_count_t when, void *param);

static void psu_arm(struct sim *s, int ch)
{
	uint64_t now = total_cycle(s);
	uint64_t at = s->psu[ch].pending_at;

	avr_cycle_timer_register(s->avr, at > now ? at - now : 0, psu_timer, &s->psu[ch]);
}

static avr_cycle_count_t psu_timer(avr_t *avr, avr_cycle_count_t when, void *param)
{
	struct sim *s = g_sim;
	struct psu_ch *p = param;
	int ch = p - s->psu;
	uint64_t at = p->pending_at;
	bool good = psu_fire(p);

	edge_record(s, EDGE_DC, ch, good, at);
	pwrok_drive(s, ch, false);
	edge_record(s, EDGE_PWROK, ch, good ^ (s->o.pwrok_invert >> ch & 1), at);
	return 0;
}

/* Cycle-exact relay watch: recompute both channels from PORTB and DDRB whenever the
 * firmware writes either; the notify runs inside the writing instruction. */
static void relay_update(struct sim *s, uint64_t now)
{
	for (int ch = 0; ch < s->o.channels; ch++) {
		bool out = s->ddrb >> ch & 1;
		bool level = s->portb >> ch & 1;
		bool active = s->o.relay_active >> ch & 1;
		bool energized = out && level == active;
		enum psu_action a;

		if (energized == s->psu[ch].energized)
			continue;
		a = psu_relay(&s->psu[ch], energized, now, ns_to_cycles(s->o.hold_up_ns),
			      ns_to_cycles(s->o.rise_ns));
		edge_record(s, EDGE_RELAY, ch, energized, now);
		if (a == PSU_SCHEDULE)
			psu_arm(s, ch);
		else if (a == PSU_CANCEL)
			avr_cycle_timer_cancel(s->avr, psu_timer, &s->psu[ch]);
	}
}

static void portb_notify(avr_irq_t *irq, uint32_t value, void *param)
{
	struct sim *s = param;

	s->portb = value;
	relay_update(s, total_cycle(s));
}

static void ddrb_notify(avr_irq_t *irq, uint32_t value, void *param)
{
	struct sim *s = param;

	s->ddrb = value;
	relay_update(s, total_cycle(s));
}

/* ---- the pty bridge ---- */

static void uart_feed(struct sim *s)
{
	while (s->uart_xon && s->host_in_off < s->host_in_len)
		avr_raise_irq(s->uart_in, s->host_in[s->host_in_off++]);
}

static void uart_xon_notify(avr_irq_t *irq, uint32_t value, void *param)
{
	struct sim *s = param;

	s->uart_xon = true;
	uart_feed(s);
}

static void uart_xoff_notify(avr_irq_t *irq, uint32_t value, void *param)
{
	struct sim *s = param;

	s->uart_xon = false;
}

static void pty_flush(struct sim *s)
{
	while (s->uart_out_len) {
		ssize_t n = write(s->pty_master, s->uart_out, s->uart_out_len);

		if (n < 0)
			return;	/* EAGAIN: nobody reads the slave; keep it for later */
		memmove(s->uart_out, s->uart_out + n, s->uart_out_len - n);
		s->uart_out_len -= n;
	}
}

static void uart_out_notify(avr_irq_t *irq, uint32_t value, void *param)
{
	struct sim *s = param;

	if (s->uart_out_len == UART_OUT_MAX) {
		if (!s->uart_out_dropped)
			warn_msg("nobody reads '%s': dropping firmware output", s->tty_link);
		s->uart_out_dropped = true;
		return;
	}
	s->uart_out[s->uart_out_len++] = value;
	if (value == '\n' || s->uart_out_len >= 256)
		pty_flush(s);
}

static void pty_read(struct sim *s)
{
	ssize_t n;

	if (s->host_in_off < s->host_in_len)
		return;	/* XOFF: the UART's input fifo is full; leave it in the pty */
	n = read(s->pty_master, s->host_in, sizeof(s->host_in));
	if (n <= 0)
		return;
	s->host_in_off = 0;
	s->host_in_len = n;
	uart_feed(s);
}

/* ---- the control socket ---- */

static void ctl_status(struct sim *s, struct client *c)
{
	uint64_t now = total_cycle(s);

	client_printf(c, "ok mode=%s channels=%d sim_us=%" PRIu64 " cycle=%" PRIu64
		      " boot_us=%" PRIu64 " resets=%u hold_up_us=%" PRIu64 " rise_us=%" PRIu64
		      " relay_active=%u pwrok_invert=%u edges=%zu",
		      s->o.mode == MODE_FAST ? "fast" : "realtime", s->o.channels,
		      cycles_to_ns(now) / 1000, now, cycles_to_ns(now - s->boot_cycle) / 1000,
		      s->resets, s->o.hold_up_ns / 1000, s->o.rise_ns / 1000,
		      s->o.relay_active, s->o.pwrok_invert, s->nedges);
	for (int ch = 0; ch < s->o.channels; ch++)
		client_printf(c, " relay%d=%d dc%d=%d", ch, s->psu[ch].energized, ch,
			      s->psu[ch].dc_good);
	client_printf(c, " handler_max_cycles=%" PRIu64 " handler_max_pc=0x%04" PRIx32
		      " critical_max_cycles=%" PRIu64 " critical_max_pc=0x%04" PRIx32,
		      s->irq_off_max[IRQ_OFF_HANDLER].cycles, s->irq_off_max[IRQ_OFF_HANDLER].pc,
		      s->irq_off_max[IRQ_OFF_CRITICAL].cycles, s->irq_off_max[IRQ_OFF_CRITICAL].pc);
	client_printf(c, "\n");
}

static int parse_ms(const char *arg, uint64_t max_ms, uint64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || v < 0 || v > (double)max_ms)
		return -EINVAL;
	*ns = (uint64_t)(v * 1e6 + 0.5);
	return 0;
}

static int parse_mask(const char *arg, unsigned *mask)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 0);
	if (errno || end == arg || *end || v > 3)
		return -EINVAL;
	*mask = v;
	return 0;
}

static void ctl_set(struct sim *s, struct client *c, const char *key, const char *val)
{
	int rc = -ENOENT;

	if (!key || !val) {
		client_printf(c, "error usage: set KEY VALUE\n");
		return;
	}
	if (!strcmp(key, "hold-up-ms"))
		rc = parse_ms(val, 10000, &s->o.hold_up_ns);
	else if (!strcmp(key, "rise-ms"))
		rc = parse_ms(val, 10000, &s->o.rise_ns);
	else if (!strcmp(key, "relay-active"))
		rc = parse_mask(val, &s->o.relay_active);
	else if (!strcmp(key, "pwrok-invert")) {
		rc = parse_mask(val, &s->o.pwrok_invert);
		for (int ch = 0; !rc && ch < s->o.channels; ch++) {
			pwrok_drive(s, ch, false);
			edge_record(s, EDGE_PWROK, ch,
				    s->psu[ch].dc_good ^ (s->o.pwrok_invert >> ch & 1),
				    total_cycle(s));
		}
	}
	if (rc == -ENOENT)
		client_printf(c, "error unknown setting '%s'\n", key);
	else if (rc)
		client_printf(c, "error bad value '%s' for '%s'\n", val, key);
	else {
		if (!strcmp(key, "relay-active"))
			relay_update(s, total_cycle(s));
		client_printf(c, "ok %s=%s\n", key, val);
	}
}

static void ctl_line(struct sim *s, struct client *c, char *line)
{
	char *save = NULL;
	char *cmd = strtok_r(line, " \t\r", &save);
	char *a1 = strtok_r(NULL, " \t\r", &save);
	char *a2 = strtok_r(NULL, " \t\r", &save);

	if (!cmd)
		return;
	if (!strcmp(cmd, "subscribe")) {
		c->subscribed = true;
		client_printf(c, "ok\n");
	} else if (!strcmp(cmd, "unsubscribe")) {
		c->subscribed = false;
		client_printf(c, "ok\n");
	} else if (!strcmp(cmd, "edges")) {
		for (size_t i = 0; i < s->nedges; i++)
			client_put_edge(c, &s->edges[i]);
		client_printf(c, "end dropped=%" PRIu64 "\n", s->edges_dropped);
	} else if (!strcmp(cmd, "clear")) {
		s->nedges = 0;
		s->edges_dropped = 0;
		client_printf(c, "ok\n");
	} else if (!strcmp(cmd, "status")) {
		ctl_status(s, c);
	} else if (!strcmp(cmd, "reset")) {
		s->reset_request = true;
		client_printf(c, "ok\n");
	} else if (!strcmp(cmd, "set")) {
		ctl_set(s, c, a1, a2);
	} else if (!strcmp(cmd, "quit")) {
		client_printf(c, "ok\n");
		g_stop = 1;
	} else if (!strcmp(cmd, "help")) {
		client_printf(c, "ok commands: subscribe unsubscribe edges clear status reset "
			      "set quit help; set keys: hold-up-ms rise-ms relay-active "
			      "pwrok-invert\n");
	} else {
		client_printf(c, "error unknown command '%s'\n", cmd);
	}
}

static void client_read(struct sim *s, int i)
{
	struct client *c = &s->clients[i];
	char buf[1024];
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		c->closing = true;
		c->out_len = 0;
		return;
	}
	for (ssize_t k = 0; k < n && !c->closing; k++) {
		if (buf[k] == '\n') {
			c->in[c->in_len] = 0;
			ctl_line(s, c, c->in);
			c->in_len = 0;
		} else if (c->in_len < sizeof(c->in) - 1) {
			c->in[c->in_len++] = buf[k];
		} else {
			client_printf(c, "error line too long\n");
			c->closing = true;
		}
	}
}

static void ctl_accept(struct sim *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (s->nclients == MAX_CLIENTS) {
		const char msg[] = "error too many clients\n";

		(void)!send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	memset(&s->clients[s->nclients], 0, sizeof(s->clients[0]));
	s->clients[s->nclients++].fd = fd;
}

/* Poll every descriptor once, waiting at most timeout_ns (0: just look). */
static void io_poll(struct sim *s, int64_t timeout_ns)
{
	struct pollfd pf[2 + MAX_CLIENTS];
	struct timespec ts = {
		.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000,
	};
	int n = 0, rc;

	pty_flush(s);
	pf[n++] = (struct pollfd){ .fd = s->pty_master,
		.events = (s->host_in_off < s->host_in_len ? 0 : POLLIN) |
			  (s->uart_out_len ? POLLOUT : 0) };
	pf[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
	for (int i = 0; i < s->nclients; i++)
		pf[n++] = (struct pollfd){ .fd = s->clients[i].fd,
			.events = (s->clients[i].closing ? 0 : POLLIN) |
				  (s->clients[i].out_len ? POLLOUT : 0) };
	rc = ppoll(pf, n, &ts, NULL);
	if (rc <= 0)
		return;
	if (pf[0].revents & POLLIN)
		pty_read(s);
	if (pf[0].revents & POLLOUT)
		pty_flush(s);
	/* clients first, by their poll slot, before accept changes the table */
	for (int i = s->nclients - 1; i >= 0; i--) {
		if (pf[2 + i].revents & (POLLIN | POLLHUP | POLLERR))
			client_read(s, i);
		if (client_flush(&s->clients[i]) < 0 ||
		    (s->clients[i].closing && !s->clients[i].out_len))
			client_drop(s, i);
	}
	if (pf[1].revents & POLLIN)
		ctl_accept(s);
}

/* ---- fuses ---- */

static avr_cycle_count_t fuse_window_close(avr_t *avr, avr_cycle_count_t when, void *param)
{
	struct sim *s = param;

	if (s->fuse_window)
		memcpy(s->avr->flash, s->fuse_saved, sizeof(s->fuse_saved));
	s->fuse_window = false;
	return 0;
}

/* The firmware set BLBSET and SELFPRGEN: an LPM within the next three cycles reads
 * the lock bits (Z = 1) or a fuse byte (Z = 0 low, 2 extended, 3 high). Those are
 * put where LPM will look, flash bytes 0..3 (the reset vector, which only a reset
 * runs), and put back four cycles later, when the chip clears the bits. */
static void spmcsr_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param)
{
	struct sim *s = param;
	const uint8_t fuses[4] = { LFUSE, LOCKBITS, (uint8_t)s->o.efuse, HFUSE };

	if ((v & (SPM_BLBSET | SPM_SELFPRGEN)) != (SPM_BLBSET | SPM_SELFPRGEN))
		return;
	if (!s->fuse_window)
		memcpy(s->fuse_saved, avr->flash, sizeof(s->fuse_saved));
	s->fuse_window = true;
	memcpy(avr->flash, fuses, sizeof(fuses));
	avr_cycle_timer_cancel(avr, fuse_window_close, s);
	avr_cycle_timer_register(avr, FUSE_WINDOW_CYCLES, fuse_window_close, s);
}

/* ---- EEPROM file ---- */

static int eeprom_load(struct sim *s)
{
	uint8_t buf[EEPROM_SIZE];
	avr_eeprom_desc_t d = { .ee = buf, .offset = 0, .size = sizeof(buf) };
	FILE *f = fopen(s->o.eeprom_file, "rb");
	size_t n;

	memset(buf, 0xff, sizeof(buf));
	if (!f) {
		if (errno == ENOENT)
			return 0;	/* a new board: blank, written at shutdown */
		die_msg("cannot read EEPROM file '%s': %s", s->o.eeprom_file, strerror(errno));
		return -errno;
	}
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f)) {
		int e = errno;

		fclose(f);
		die_msg("cannot read EEPROM file '%s': %s", s->o.eeprom_file, strerror(e));
		return -e;
	}
	if (n == sizeof(buf) && fgetc(f) != EOF) {
		fclose(f);
		die_msg("cannot read EEPROM file '%s': larger than the 1024-byte EEPROM",
			s->o.eeprom_file);
		return -EFBIG;
	}
	fclose(f);
	avr_ioctl(s->avr, AVR_IOCTL_EEPROM_SET, &d);
	return 0;
}

/* Written through a temporary file and renamed: a crash never leaves half an image. */
static void eeprom_save(struct sim *s)
{
	uint8_t buf[EEPROM_SIZE];
	avr_eeprom_desc_t d = { .ee = NULL, .offset = 0, .size = sizeof(buf) };
	char tmp[PATH_MAX + 32];
	FILE *f;

	if (!s->o.eeprom_file || !s->avr)
		return;
	/* simavr 1.6 answers -1 even when it worked: the pointer it sets says so */
	avr_ioctl(s->avr, AVR_IOCTL_EEPROM_GET, &d);
	if (!d.ee)
		return;
	memcpy(buf, d.ee, sizeof(buf));
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", s->o.eeprom_file, (long)getpid());
	f = fopen(tmp, "wb");
	if (!f || fwrite(buf, 1, sizeof(buf), f) != sizeof(buf) || fclose(f) ||
	    rename(tmp, s->o.eeprom_file)) {
		warn_msg("cannot write EEPROM file '%s': %s", s->o.eeprom_file, strerror(errno));
		unlink(tmp);
	}
}

/* ---- the parent ---- */

static void sleep_fast(avr_t *avr, avr_cycle_count_t how_long);

static bool relays_released(const struct sim *s)
{
	for (int ch = 0; ch < s->o.channels; ch++)
		if (s->psu[ch].energized)
			return false;
	return true;
}

/* A simulator whose controller died (SIGKILL, a crash) must not run on. The board it
 * stands for would restore power by itself once the host went silent: so does the
 * simulator, in fast mode (the firmware's host_timeout_ms passes in milliseconds),
 * and then stops as after SIGTERM. */
static void parent_check(struct sim *s)
{
	if (s->orphan_deadline_ns) {
		if (!s->orphan_stop_cycle && relays_released(s))
			s->orphan_stop_cycle = total_cycle(s) + ns_to_cycles(ORPHAN_TAIL_US * 1000ull);
		if (s->orphan_stop_cycle && total_cycle(s) >= s->orphan_stop_cycle) {
			g_stop = 1;
		} else if (clock_mono_ns() > s->orphan_deadline_ns) {
			warn_msg("a relay is still energized %lld ms after the parent died; stopping",
				 ORPHAN_GRACE_NS / 1000000);
			g_stop = 1;
		}
		return;
	}
	if (s->parent <= 1 || getppid() == s->parent)
		return;
	warn_msg("parent process %ld died: running until the firmware releases every relay, "
		 "then stopping", (long)s->parent);
	s->orphan_deadline_ns = clock_mono_ns() + ORPHAN_GRACE_NS;
	s->o.mode = MODE_FAST;
	s->avr->sleep = sleep_fast;
}

/* ---- time: realtime throttle, fast mode, the I/O tick ---- */

/* Wait, serving I/O, until wall time reaches simulated total cycle `target`. */
static void wall_wait_until(struct sim *s, uint64_t target)
{
	int64_t deadline = s->wall_origin_ns + (int64_t)cycles_to_ns(target);

	for (;;) {
		int64_t left = deadline - clock_mono_ns();

		if (left <= 0 || g_stop) {
			io_poll(s, 0);
			return;
		}
		io_poll(s, left);
	}
}

static void sleep_realtime(avr_t *avr, avr_cycle_count_t how_long)
{
	struct sim *s = g_sim;

	/* The core adds how_long + 1 cycles after this returns: wait until wall time
	 * reaches that point, so the simulation never runs ahead of the wall clock. */
	wall_wait_until(s, total_cycle(s) + how_long + 1);
}

static void sleep_fast(avr_t *avr, avr_cycle_count_t how_long)
{
}

static avr_cycle_count_t io_tick(avr_t *avr, avr_cycle_count_t when, void *param)
{
	struct sim *s = param;

	if (s->o.mode == MODE_REALTIME)
		wall_wait_until(s, total_cycle(s));	/* throttle a busy firmware too */
	else
		io_poll(s, 0);
	uart_feed(s);
	parent_check(s);
	if (s->reset_request || s->reset_seen || g_stop)
		return 0;	/* the main loop takes over; it re-arms the tick */
	return when + ns_to_cycles(1000ull *
		(s->o.mode == MODE_REALTIME ? TICK_US_REALTIME : TICK_US_FAST));
}

/* Called after every step of the core (an instruction, a sleep, an interrupt entry):
 * measures the stretches with interrupts disabled, to the instruction. */
static void irq_watch(struct sim *s)
{
	bool on = s->avr->sreg[S_I];
	uint64_t len;
	int kind;

	if (on == s->irq_on)
		return;
	s->irq_on = on;
	if (!on) {
		s->irq_off_at = total_cycle(s);
		s->irq_off_pc = s->avr->pc;
		return;
	}
	if (s->irq_seen) {
		len = total_cycle(s) - s->irq_off_at;
		kind = s->irq_off_pc < VECTORS_END ? IRQ_OFF_HANDLER : IRQ_OFF_CRITICAL;
		if (len > s->irq_off_max[kind].cycles) {
			s->irq_off_max[kind].cycles = len;
			s->irq_off_max[kind].pc = s->irq_off_pc;
		}
	}
	s->irq_seen = true;
}

/* ---- resets ---- */

static void reset_hook(avr_t *avr)
{
	struct sim *s = g_sim;

	if (s->core_reset)
		s->core_reset(avr);
	if (!s->avr)
		return;	/* avr_init()'s own reset */
	s->reset_seen = true;
	s->reset_seen_at = total_cycle(s);
}

/* After any reset (external, watchdog): simavr dropped every cycle timer and cleared
 * the I/O registers. Rebuild the time base, the relay state (pins are inputs: every
 * relay released), the PWR_OK pins and the timers. */
static void reset_finish(struct sim *s)
{
	uint64_t at = s->reset_seen_at;

	if (s->avr->cycle < at - s->cycle_base)
		s->cycle_base = at;	/* the core restarted its cycle count at 0 */
	s->reset_seen = false;
	s->resets++;
	s->boot_cycle = at;
	s->irq_on = s->irq_seen = false;	/* start-up runs with interrupts off */
	/* The register IRQs are filtered: bring their last value back to the reset
	 * value, or the firmware writing the same DDRB again would not be seen. */
	s->relay_irq_port->value = 0;
	s->relay_irq_ddr->value = 0;
	s->portb = s->ddrb = 0;
	/* A reset inside a fuse read window dropped its timer: close it here. */
	fuse_window_close(s->avr, 0, s);
	edge_record(s, EDGE_RESET, 0, s->reset_cause, at);
	s->reset_cause = 2;	/* any reset not asked for is the watchdog's */
	for (int ch = 0; ch < s->o.channels; ch++) {
		pwrok_drive(s, ch, true);
		if (s->psu[ch].pending)
			psu_arm(s, ch);
	}
	relay_update(s, at);
	s->uart_xon = true;
	avr_cycle_timer_register(s->avr, 1, io_tick, s);
}

static void reset_external(struct sim *s)
{
	s->reset_request = false;
	s->reset_cause = 1;
	avr_reset(s->avr);
	avr_regbit_set(s->avr, s->avr->reset_flags.extrf);
}

/* ---- setup and teardown ---- */

static int pty_open(struct sim *s)
{
	struct termios tio;
	const char *name;

	s->pty_master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (s->pty_master < 0)
		return -errno;
	if (grantpt(s->pty_master) || unlockpt(s->pty_master))
		return -errno;
	name = ptsname(s->pty_master);
	if (!name || strlen(name) >= sizeof(s->pty_name))
		return -ENAMETOOLONG;
	strcpy(s->pty_name, name);
	/* Keep a slave open: without one, the master reads EIO whenever no client has
	 * the port open, and a client's settings would not survive its close. */
	s->pty_slave = open(s->pty_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s->pty_slave < 0)
		return -errno;
	if (tcgetattr(s->pty_slave, &tio))
		return -errno;
	cfmakeraw(&tio);	/* no echo of host bytes back into the UART */
	cfsetispeed(&tio, B115200);
	cfsetospeed(&tio, B115200);
	if (tcsetattr(s->pty_slave, TCSANOW, &tio))
		return -errno;
	return 0;
}

static int link_tty(struct sim *s)
{
	char tmp[PATH_MAX + 32];

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", s->tty_link, (long)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	if (symlink(s->pty_name, tmp))
		return -errno;
	/* rename() replaces an old link atomically: a client never sees no link */
	if (rename(tmp, s->tty_link)) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}

static int ctl_listen(struct sim *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(sa.sun_path, s->sock_path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return -errno;
	unlink(s->sock_path);	/* a stale socket of a dead instance (pid file checked) */
	if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(s->listen_fd, 16))
		return -errno;
	return 0;
}

static int pid_file_claim(struct sim *s)
{
	FILE *f = fopen(s->pid_path, "r");
	long pid = 0;
	char tmp[PATH_MAX + 32];

	if (f) {
		if (fscanf(f, "%ld", &pid) == 1 && pid > 0 && pid != getpid() &&
		    (kill(pid, 0) == 0 || errno == EPERM)) {
			fclose(f);
			die_msg("run dir '%s' is in use by pid %ld", s->o.run_dir, pid);
			return -EBUSY;
		}
		fclose(f);
	}
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", s->pid_path, (long)getpid());
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) ||
	    rename(tmp, s->pid_path)) {
		int e = errno;

		die_msg("cannot write pid file '%s': %s", s->pid_path, strerror(e));
		unlink(tmp);
		return -e;
	}
	return 0;
}

static void run_dir_cleanup(struct sim *s)
{
	char target[sizeof(s->pty_name)];
	ssize_t n;

	n = readlink(s->tty_link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = 0;
		if (!strcmp(target, s->pty_name))	/* not a newer instance's link */
			unlink(s->tty_link);
	}
	if (s->listen_fd >= 0)
		unlink(s->sock_path);
	unlink(s->pid_path);
	if (s->dir_created)
		rmdir(s->o.run_dir);	/* only if empty */
}

static int setup_paths(struct sim *s)
{
	const char *d = s->o.run_dir;

	if (mkdir(d, 0777) == 0)
		s->dir_created = true;
	else if (errno != EEXIST) {
		die_msg("cannot create run dir '%s': %s", d, strerror(errno));
		return -errno;
	}
	if (snprintf(s->sock_path, sizeof(s->sock_path), "%s/control.sock", d) >=
	    (int)sizeof(s->sock_path)) {
		die_msg("run dir '%s' is too long for a socket path (max %zu bytes)", d,
			sizeof(s->sock_path) - sizeof("/control.sock"));
		return -ENAMETOOLONG;
	}
	if (snprintf(s->tty_link, sizeof(s->tty_link), "%s/mcu.tty", d) >=
	    (int)sizeof(s->tty_link) ||
	    snprintf(s->pid_path, sizeof(s->pid_path), "%s/mcusim.pid", d) >=
	    (int)sizeof(s->pid_path)) {
		die_msg("run dir '%s' is too long", d);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int avr_setup(struct sim *s)
{
	elf_firmware_t fw;
	unsigned char hdr[20];
	ssize_t n;
	int fd;

	/* elf_read_firmware() reports little; check the file first for a real errno */
	fd = open(s->o.firmware, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		die_msg("cannot load firmware '%s': %s", s->o.firmware, strerror(errno));
		return -errno;
	}
	/* simavr trusts the file: a non-AVR ELF crashes it, so look at the header */
	n = read(fd, hdr, sizeof(hdr));
	close(fd);
	if (n < (ssize_t)sizeof(hdr) || memcmp(hdr, "\177ELF", 4) || hdr[4] != 1 ||
	    (hdr[18] | hdr[19] << 8) != 83 /* EM_AVR */) {
		die_msg("cannot load firmware '%s': not an AVR ELF file", s->o.firmware);
		return -ENOEXEC;
	}
	memset(&fw, 0, sizeof(fw));
	if (elf_read_firmware(s->o.firmware, &fw)) {
		die_msg("cannot load firmware '%s': not an AVR ELF file", s->o.firmware);
		return -ENOEXEC;
	}
	if (fw.flashsize == 0) {
		die_msg("cannot load firmware '%s': no code in it", s->o.firmware);
		return -ENOEXEC;
	}
	if (fw.mmcu[0] && strcmp(fw.mmcu, MCU_NAME))
		warn_msg("firmware '%s' declares mcu '%s'; simulating %s", s->o.firmware,
			 fw.mmcu, MCU_NAME);
	s->avr = avr_make_mcu_by_name(MCU_NAME);
	if (!s->avr) {
		die_msg("cannot create mcu '%s': not known to simavr", MCU_NAME);
		return -ENODEV;
	}
	s->core_reset = NULL;
	{
		avr_t *avr = s->avr;

		s->avr = NULL;	/* reset_hook ignores avr_init()'s own reset */
		avr_init(avr);
		s->core_reset = avr->reset;
		avr->reset = reset_hook;
		s->avr = avr;
	}
	avr_load_firmware(s->avr, &fw);
	/* Unless told, simavr runs at 1 MHz (or whatever the ELF's .mmcu says). */
	s->avr->frequency = F_CPU_HZ;
	s->avr->sleep = s->o.mode == MODE_FAST ? sleep_fast : sleep_realtime;
	s->avr->log = s->o.quiet ? LOG_ERROR : LOG_WARNING;

	/* UART0: no console echo on stdout, no usleep() when the firmware polls */
	{
		uint32_t f = 0;

		avr_ioctl(s->avr, AVR_IOCTL_UART_GET_FLAGS('0'), &f);
		f &= ~(AVR_UART_FLAG_STDIO | AVR_UART_FLAG_POLL_SLEEP);
		avr_ioctl(s->avr, AVR_IOCTL_UART_SET_FLAGS('0'), &f);
	}
	s->uart_in = avr_io_getirq(s->avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
	avr_irq_register_notify(avr_io_getirq(s->avr, AVR_IOCTL_UART_GETIRQ('0'),
					      UART_IRQ_OUTPUT), uart_out_notify, s);
	avr_irq_register_notify(avr_io_getirq(s->avr, AVR_IOCTL_UART_GETIRQ('0'),
					      UART_IRQ_OUT_XON), uart_xon_notify, s);
	avr_irq_register_notify(avr_io_getirq(s->avr, AVR_IOCTL_UART_GETIRQ('0'),
					      UART_IRQ_OUT_XOFF), uart_xoff_notify, s);
	s->uart_xon = true;

	/* relays: PB0, PB1 (port and direction registers) */
	s->relay_irq_port = avr_io_getirq(s->avr, AVR_IOCTL_IOPORT_GETIRQ('B'),
					  IOPORT_IRQ_REG_PORT);
	s->relay_irq_ddr = avr_io_getirq(s->avr, AVR_IOCTL_IOPORT_GETIRQ('B'),
					 IOPORT_IRQ_DIRECTION_ALL);
	avr_irq_register_notify(s->relay_irq_port, portb_notify, s);
	avr_irq_register_notify(s->relay_irq_ddr, ddrb_notify, s);
	/* fuse reads (simavr's flash part watches the register too; both are called) */
	avr_register_io_write(s->avr, SPMCSR_ADDR, spmcsr_write, s);
	/* PWR_OK: PD2, PD3 */
	for (int ch = 0; ch < s->o.channels; ch++) {
		psu_ch_init(&s->psu[ch]);
		s->pwrok_irq[ch] = avr_io_getirq(s->avr, AVR_IOCTL_IOPORT_GETIRQ('D'),
						 IOPORT_IRQ_PIN0 + 2 + ch);
		pwrok_drive(s, ch, true);
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " --firmware ELF --run-dir DIR [options]\n"
"\n"
"Runs the firmware ELF on a simulated ATmega328P at 16 MHz (simavr), bridges UART0\n"
"to a pseudo-terminal and models the power supply behind each relay.\n"
"\n"
"  --firmware ELF        firmware to run (required)\n"
"  --run-dir DIR         where mcu.tty, control.sock and mcusim.pid go (required;\n"
"                        created if needed)\n"
"  --mode MODE           realtime (simulated time follows the wall clock, default)\n"
"                        or fast (as fast as the CPU allows)\n"
"  --channels N          relay channels, 1 or 2 (default 2)\n"
"  --hold-up-ms MS       DC stays up this long after the relay opens (default 18)\n"
"  --rise-ms MS          DC returns this long after the relay closes (default 50)\n"
"  --relay-active MASK   bit n set: relay n is energized by a HIGH pin (default 0)\n"
"  --pwrok-invert MASK   bit n set: PWR_OK n reads LOW when DC is good (default 3)\n"
"  --efuse HEX           the extended fuse byte the firmware reads (default 0xFD:\n"
"                        brown-out detection at 2.7 V; 0xFF: off)\n"
"  --eeprom FILE         the EEPROM's content: read at start (missing: blank),\n"
"                        written back at shutdown, as a board keeps it\n"
"  --quiet               only errors on stderr\n"
"  --help                this text\n"
"\n"
"When ready, prints one line on stdout:\n"
"  ready tty=DIR/mcu.tty control=DIR/control.sock pid=N\n"
"SIGTERM or SIGINT: clean shutdown, removing the files it made in DIR. When the\n"
"parent process dies, the simulation runs on in fast mode until the firmware has\n"
"released every relay (its host-silence rule), at most 1.5 s, then shuts down.\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_FW = 256, O_DIR, O_MODE, O_CH, O_HOLD, O_RISE, O_RA, O_PI, O_EFUSE, O_EEPROM,
	       O_QUIET, O_HELP };
	static const struct option lo[] = {
		{ "firmware", required_argument, NULL, O_FW },
		{ "run-dir", required_argument, NULL, O_DIR },
		{ "mode", required_argument, NULL, O_MODE },
		{ "channels", required_argument, NULL, O_CH },
		{ "hold-up-ms", required_argument, NULL, O_HOLD },
		{ "rise-ms", required_argument, NULL, O_RISE },
		{ "relay-active", required_argument, NULL, O_RA },
		{ "pwrok-invert", required_argument, NULL, O_PI },
		{ "efuse", required_argument, NULL, O_EFUSE },
		{ "eeprom", required_argument, NULL, O_EEPROM },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 }
	};
	int c, li = -1;

	*o = (struct opts){ .mode = MODE_REALTIME, .channels = 2,
		.hold_up_ns = 18000000, .rise_ns = 50000000,
		.relay_active = 0, .pwrok_invert = 3, .efuse = 0xFD };
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, &li)) != -1) {
		switch (c) {
		case O_FW: o->firmware = optarg; break;
		case O_DIR: o->run_dir = optarg; break;
		case O_MODE:
			if (!strcmp(optarg, "realtime"))
				o->mode = MODE_REALTIME;
			else if (!strcmp(optarg, "fast"))
				o->mode = MODE_FAST;
			else
				goto bad;
			break;
		case O_CH:
			if (strcmp(optarg, "1") && strcmp(optarg, "2"))
				goto bad;
			o->channels = atoi(optarg);
			break;
		case O_HOLD:
			if (parse_ms(optarg, 10000, &o->hold_up_ns))
				goto bad;
			break;
		case O_RISE:
			if (parse_ms(optarg, 10000, &o->rise_ns))
				goto bad;
			break;
		case O_RA:
			if (parse_mask(optarg, &o->relay_active))
				goto bad;
			break;
		case O_PI:
			if (parse_mask(optarg, &o->pwrok_invert))
				goto bad;
			break;
		case O_EFUSE: {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 16);
			if (errno || end == optarg || *end || v > 0xff)
				goto bad;
			o->efuse = v;
			break;
		}
		case O_EEPROM: o->eeprom_file = optarg; break;
		case O_QUIET: o->quiet = true; break;
		case 'h':
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			die_msg("unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		die_msg("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!o->firmware || !o->run_dir) {
		die_msg("--firmware and --run-dir are required");
		usage(stderr);
		return -EINVAL;
	}
	return 0;
bad:
	/* by the table's name: argv[optind - 1] is the value when it came separately */
	die_msg("bad value '%s' for option '--%s'", optarg, li >= 0 ? lo[li].name : "?");
	return -EINVAL;
}

static void on_signal(int sig)
{
	g_stop = 1;
}

int main(int argc, char **argv)
{
	static struct sim sim;
	struct sim *s = &sim;
	struct sigaction sa = { .sa_handler = on_signal };
	int rc, status = 1;

	s->listen_fd = -1;
	s->pty_master = s->pty_slave = -1;
	if (parse_opts(argc, argv, &s->o))
		return 2;
	g_sim = s;
	avr_global_logger_set(simavr_logger);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	s->uart_out = malloc(UART_OUT_MAX);
	if (!s->uart_out) {
		die_msg("out of memory");
		return 1;
	}
	s->parent = getppid();
	if (avr_setup(s))
		goto out;
	if (s->o.eeprom_file && eeprom_load(s))
		goto out;
	if (setup_paths(s))
		goto out;
	if (pid_file_claim(s))
		goto out_dir;
	if ((rc = pty_open(s))) {
		die_msg("cannot create pseudo-terminal: %s", strerror(-rc));
		goto out_files;
	}
	if ((rc = link_tty(s))) {
		die_msg("cannot link '%s' to '%s': %s", s->tty_link, s->pty_name,
			strerror(-rc));
		goto out_files;
	}
	if ((rc = ctl_listen(s))) {
		die_msg("cannot listen on '%s': %s", s->sock_path, strerror(-rc));
		goto out_files;
	}
	printf("ready tty=%s control=%s pid=%ld\n", s->tty_link, s->sock_path,
	       (long)getpid());
	fflush(stdout);

	/* The first boot is a power-on reset, done like every later reset so that the
	 * MCU starts from the same state as after one. */
	s->reset_cause = 0;
	avr_reset(s->avr);
	avr_regbit_set(s->avr, s->avr->reset_flags.porf);
	s->cycle_base = 0;
	s->reset_seen_at = 0;
	reset_finish(s);
	s->resets = 0;
	s->wall_origin_ns = clock_mono_ns();
	while (!g_stop) {
		int st = avr_run(s->avr);

		irq_watch(s);
		if (st == cpu_Done || st == cpu_Crashed) {
			die_msg("firmware '%s' stopped (%s) at pc 0x%04x, cycle %" PRIu64,
				s->o.firmware, st == cpu_Done ? "sleep with interrupts off" :
				"crashed", s->avr->pc, total_cycle(s));
			goto out_files;
		}
		if (s->reset_request)
			reset_external(s);
		if (s->reset_seen)
			reset_finish(s);
	}
	/* last words to the clients, briefly */
	for (int i = 0; i < 20 && s->nclients; i++) {
		for (int k = 0; k < s->nclients; k++)
			s->clients[k].closing = true;
		io_poll(s, 10000000);
	}
	eeprom_save(s);
	status = 0;
out_files:
	while (s->nclients)
		client_drop(s, s->nclients - 1);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	run_dir_cleanup(s);
	goto out;
out_dir:
	if (s->dir_created)
		rmdir(s->o.run_dir);
out:
	if (s->pty_slave >= 0)
		close(s->pty_slave);
	if (s->pty_master >= 0)
		close(s->pty_master);
	if (s->avr)
		avr_terminate(s->avr);
	free(s->edges);
	free(s->uart_out);
	return status;
}
