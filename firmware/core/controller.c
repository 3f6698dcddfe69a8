/* Relay controller logic (see controller.h and docs/protocol.md). */
#include "controller.h"

#include <string.h>

#include "frame.h"
#include "rng.h"

#define NO_TIME UINT64_MAX
#define MS(x) ((uint64_t)(x) * 1000u)

static const char *const state_names[] = { "on", "off", "cut", "armed" };
static const char *const cause_names[] = {
	"off", "on", "cut", "arm", "maxoff", "watchdog", "safety",
};
static const char *const reset_names[] = {
	"power", "external", "brownout", "watchdog", "command",
};

const char *fw_state_name(int state)
{
	return state_names[state];
}

const char *fw_cause_name(int cause)
{
	return cause_names[cause];
}

/* ---- output: one line at a time in fw->out, sealed and sent whole ---- */

static void out_begin(struct fw *fw)
{
	fw->out_len = 0;
	fw->out_crc = 0;
}

/* Lines go straight to the UART with their CRC computed on the way: a line buffer
 * would cost the AVR 130 bytes of its 2 KiB. Room is kept for "*CC"; every line the
 * firmware builds fits, so the limit only guards against a mistake, by truncating. */
static void out_char(struct fw *fw, char c)
{
	if (fw->out_len < FW_LINE_MAX_FW - 3) {
		fw->out_len++;
		fw->out_crc = fw_crc8_update(fw->out_crc, &c, 1);
		hal_uart_write(&c, 1);
	}
}

static void out_str(struct fw *fw, const char *s)
{
	while (*s)
		out_char(fw, *s++);
}

/* Decimal digits by subtracting powers of ten. The AVR has no divider: `v % 10` and
 * `v / 10` were two calls a digit to libgcc's 64-bit division, a shift-and-subtract
 * loop of up to 64 steps (fewer for small numbers). This is at most 9 subtractions a
 * digit, with the powers made by additions (x * 10 = 8x + 2x), and no division
 * routine in the image (210 bytes less flash). */
static void out_u64(struct fw *fw, uint64_t v)
{
	uint64_t pow[20];
	int n = 0;

	pow[0] = 1;
	while (n < 19) {
		uint64_t x2 = pow[n] + pow[n], x8 = x2 + x2;
		x8 += x8;
		if (x8 + x2 > v)	/* 10^19 < 2^64: no overflow below n = 19 */
			break;
		pow[++n] = x8 + x2;
	}
	for (; n >= 0; n--) {
		char d = '0';
		while (v >= pow[n]) {
			v -= pow[n];
			d++;
		}
		out_char(fw, d);
	}
}

/* " key=" */
static void out_key(struct fw *fw, const char *key)
{
	out_char(fw, ' ');
	out_str(fw, key);
	out_char(fw, '=');
}

static void out_key_u64(struct fw *fw, const char *key, uint64_t v)
{
	out_key(fw, key);
	out_u64(fw, v);
}

/* " settings=STATUS": what the EEPROM held at boot, "ok" again after a store. */
static void out_settings_status(struct fw *fw)
{
	out_key(fw, "settings");
	out_str(fw, fw_settings_status_name(fw->settings_status));
}

static void out_end(struct fw *fw)
{
	static const char hex[] = "0123456789ABCDEF";
	char tail[4] = { '*', hex[fw->out_crc >> 4], hex[fw->out_crc & 0x0f], '\n' };

	hal_uart_write(tail, sizeof(tail));
}

static void event_begin(struct fw *fw, uint64_t t, const char *name)
{
	out_begin(fw);
	out_char(fw, '!');
	out_u64(fw, fw->seq++);
	out_char(fw, ' ');
	out_u64(fw, t);
	out_char(fw, ' ');
	out_str(fw, name);
}

static void reply_error(struct fw *fw, int code)
{
	out_begin(fw);
	out_str(fw, "error:");
	out_u64(fw, (uint64_t)code);
	out_char(fw, ' ');
	out_str(fw, fw_err_text(code));
	out_end(fw);
}

/* ---- channels ---- */

static uint8_t bit(uint32_t mask, uint8_t ch)
{
	return (uint8_t)((mask >> ch) & 1u);
}

/* Pin level that energizes the relay, i.e. powers the node down. */
static uint8_t active_level(const struct fw *fw, uint8_t ch)
{
	return bit(fw->set.v[FW_SET_RELAY_ACTIVE], ch);
}

static uint8_t pwr_level(const struct fw *fw, uint8_t ch)
{
	return hal_pwrok_read(ch) ^ bit(fw->set.v[FW_SET_PWROK_INVERT], ch);
}

/* Powering the node releases the pin (the relay's driver then keeps it de-energized,
 * as during a reset); only powering it down drives the pin, to the active level. */
static uint8_t pin_state(const struct fw *fw, uint8_t ch, uint8_t power)
{
	return power ? HAL_PIN_FLOAT : active_level(fw, ch);
}

static void schedule(struct fw *fw, uint8_t ch, uint8_t power, uint64_t at, uint8_t cause)
{
	struct fw_chan *c = &fw->ch[ch];

	c->edge = 1;
	c->edge_at = at;
	c->edge_cause = cause;
	hal_relay_schedule(ch, pin_state(fw, ch, power), at);
}

static void event_disarm(struct fw *fw, uint8_t ch, uint8_t cause)
{
	event_begin(fw, hal_now_us(), "disarm");
	out_key_u64(fw, "ch", ch);
	out_key(fw, "cause");
	out_str(fw, cause_names[cause]);
	out_end(fw);
}

static void event_relay(struct fw *fw, uint8_t ch, uint64_t t, uint8_t power, uint8_t cause)
{
	event_begin(fw, t, "relay");
	out_key_u64(fw, "ch", ch);
	out_key(fw, "power");
	out_str(fw, power ? "on" : "off");
	out_key(fw, "cause");
	out_str(fw, cause_names[cause]);
	out_end(fw);
}

static void event_pwrok(struct fw *fw, uint8_t ch, uint64_t t, uint8_t level)
{
	fw->ch[ch].pwr_level = level;
	event_begin(fw, t, "pwrok");
	out_key_u64(fw, "ch", ch);
	out_key_u64(fw, "level", level);
	out_end(fw);
}

static void relay_done(struct fw *fw, const struct hal_event *ev)
{
	struct fw_chan *c = &fw->ch[ev->ch];
	uint8_t power = ev->level == HAL_PIN_FLOAT;

	c->edge = 0;
	c->powered = power;
	event_relay(fw, ev->ch, ev->t_us, power, c->edge_cause);
	if (!power) {
		c->off_t = ev->t_us;
		if (c->state == FW_CH_ARMED) {
			c->state = FW_CH_CUT;
			c->restore_cause = FW_CAUSE_ARM;
		} else if (c->state == FW_CH_CUT) {
			c->restore_cause = FW_CAUSE_CUT;
		}
		/* The off time counts from the edge itself, not from when it was asked. */
		if (c->state == FW_CH_CUT)
			c->restore_at = ev->t_us + MS(c->cut_ms);
	} else {
		c->state = FW_CH_ON;
		c->restore_at = NO_TIME;
	}
}

/* Report every edge the interrupts captured. */
static void drain(struct fw *fw)
{
	struct hal_event ev;
	uint16_t lost;

	while (hal_event_take(&ev)) {
		if (ev.ch >= HAL_CHANNELS)
			continue;
		if (ev.type == HAL_EV_RELAY) {
			relay_done(fw, &ev);
		} else {
			uint8_t level = ev.level ^ bit(fw->set.v[FW_SET_PWROK_INVERT], ev.ch);

			/* Equal levels follow a synthesized event (below): already said. */
			if (level != fw->ch[ev.ch].pwr_level)
				event_pwrok(fw, ev.ch, ev.t_us, level);
		}
	}
	/* The HAL drops PWR_OK edges (never relay edges) when its queue is full; the
	 * host must still learn the current level, if not the exact moment. */
	lost = hal_event_lost();
	if (lost != fw->lost_seen) {
		fw->lost_seen = lost;
		for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++) {
			uint8_t level = pwr_level(fw, ch);

			if (level != fw->ch[ch].pwr_level)
				event_pwrok(fw, ch, hal_now_us(), level);
		}
	}
}

/* Cancel ch's pending edge. False when it has already happened: it is reported by
 * the drain() this does, and the caller sees the channel's new state. */
static bool cancel_edge(struct fw *fw, uint8_t ch)
{
	if (!fw->ch[ch].edge)
		return true;
	if (hal_relay_cancel(ch)) {
		fw->ch[ch].edge = 0;
		return true;
	}
	drain(fw);
	return false;
}

/* The safety rules for one channel: disarm on host silence, and schedule the
 * restore of a powered-down channel at the earliest of its cut's end, `on`,
 * max_off_ms and the host-silence watchdog, but never before min_off_ms. */
static void service(struct fw *fw, uint8_t ch, uint64_t now)
{
	struct fw_chan *c = &fw->ch[ch];
	uint64_t silent_at = fw->last_rx + MS(fw->set.v[FW_SET_HOST_TIMEOUT_MS]);
	uint64_t r, t;
	uint8_t cause;

	if (c->state == FW_CH_ARMED && now >= silent_at) {
		if (cancel_edge(fw, ch)) {
			c->state = FW_CH_ON;
			event_disarm(fw, ch, FW_CAUSE_WATCHDOG);
			return;
		}
	}
	if ((c->state != FW_CH_OFF && c->state != FW_CH_CUT) || c->powered)
		return;
	r = c->restore_at;
	cause = c->restore_cause;
	t = c->off_t + MS(fw->set.v[FW_SET_MAX_OFF_MS]);
	if (t < r) {
		r = t;
		cause = FW_CAUSE_MAXOFF;
	}
	if (silent_at < r) {
		r = silent_at;
		cause = FW_CAUSE_WATCHDOG;
	}
	t = c->off_t + MS(fw->set.v[FW_SET_MIN_OFF_MS]);
	if (r < t)
		r = t;
	if (c->edge) {
		if (c->edge_at == r)
			return;
		if (!cancel_edge(fw, ch))
			return;
	}
	schedule(fw, ch, 1, r, cause);
}

static void service_all(struct fw *fw)
{
	uint64_t now = hal_now_us();
	uint8_t led = 0;

	for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++) {
		service(fw, ch, now);
		led |= fw->ch[ch].state == FW_CH_OFF || fw->ch[ch].state == FW_CH_CUT;
	}
	hal_led_write(led);
}

/* ---- requests ---- */

#define MAX_WORDS 7

struct req {
	const char *w[MAX_WORDS];
	uint8_t len[MAX_WORDS];
	uint8_t n;		/* words, the command included */
	uint64_t now;		/* clock when the request was parsed */
};

/* Decimal, digits only: -FW_ERR_BAD_ARGUMENT for anything else, -FW_ERR_RANGE above
 * 32 bits. */
static int parse_u32(const char *s, uint8_t len, uint32_t *v)
{
	uint64_t x = 0;

	if (len == 0)
		return -FW_ERR_BAD_ARGUMENT;
	for (uint8_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -FW_ERR_BAD_ARGUMENT;
		if (x <= UINT32_MAX)
			x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > UINT32_MAX)
		return -FW_ERR_RANGE;
	*v = (uint32_t)x;
	return 0;
}

static int arg_u32(const struct req *rq, int i, uint32_t *v)
{
	return parse_u32(rq->w[i], rq->len[i], v);
}

/* Parse every numeric argument before judging ranges, so that a syntax error is
 * reported as such wherever it is. */
static int args_u32(const struct req *rq, int first, uint32_t *v)
{
	int range = 0;

	for (int i = first; i < rq->n; i++) {
		int r = arg_u32(rq, i, &v[i - first]);

		if (r == -FW_ERR_BAD_ARGUMENT)
			return r;
		if (r < 0)
			range = r;
	}
	return range;
}

static int check_channel(uint32_t ch)
{
	return ch < HAL_CHANNELS ? 0 : -FW_ERR_RANGE;
}

static void reply_ok_begin(struct fw *fw)
{
	out_begin(fw);
	out_str(fw, "ok");
}

static int cmd_version(struct fw *fw, const struct req *rq)
{
	reply_ok_begin(fw);
	out_key(fw, "fw");
	out_str(fw, FW_FW_VERSION);
	out_key_u64(fw, "proto", FW_PROTO_VERSION);
	out_key(fw, "mcu");
	out_str(fw, hal_mcu_name());
	out_key_u64(fw, "f_cpu", hal_f_cpu());
	out_key_u64(fw, "channels", HAL_CHANNELS);
	out_key_u64(fw, "bod_mv", hal_bod_mv());
	return 0;
}

static int cmd_status(struct fw *fw, const struct req *rq)
{
	static const char chk[] = "ch0", pwk[] = "pwr0";
	char k1[sizeof(chk)], k2[sizeof(pwk)];

	reply_ok_begin(fw);
	out_key_u64(fw, "t", rq->now);
	out_key_u64(fw, "seq", fw->seq);
	out_key(fw, "reset");
	out_str(fw, reset_names[fw->reset_cause]);
	out_settings_status(fw);
	memcpy(k1, chk, sizeof(k1));
	memcpy(k2, pwk, sizeof(k2));
	for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++) {
		k1[2] = k2[3] = (char)('0' + ch);
		out_key(fw, k1);
		out_str(fw, state_names[fw->ch[ch].state]);
		out_key_u64(fw, k2, pwr_level(fw, ch));
	}
	return 0;
}

static int cmd_ping(struct fw *fw, const struct req *rq)
{
	uint32_t token = 0;
	int r = rq->n > 1 ? arg_u32(rq, 1, &token) : 0;

	if (r < 0)
		return r;
	reply_ok_begin(fw);
	out_key_u64(fw, "t", rq->now);
	out_key_u64(fw, "token", token);
	return 0;
}

static int cmd_off(struct fw *fw, const struct req *rq)
{
	uint32_t ch;
	int r = args_u32(rq, 1, &ch);

	if (r < 0 || (r = check_channel(ch)) < 0)
		return r;
	if (fw->ch[ch].state != FW_CH_ON)
		return -FW_ERR_BUSY;
	fw->ch[ch].state = FW_CH_OFF;
	fw->ch[ch].restore_at = NO_TIME;
	schedule(fw, (uint8_t)ch, 0, rq->now + FW_EDGE_LEAD_US, FW_CAUSE_OFF);
	reply_ok_begin(fw);
	out_key_u64(fw, "at", fw->ch[ch].edge_at);
	return 0;
}

static int check_off_ms(const struct fw *fw, uint32_t ms)
{
	if (ms < fw->set.v[FW_SET_MIN_OFF_MS] || ms > fw->set.v[FW_SET_MAX_OFF_MS])
		return -FW_ERR_RANGE;
	return 0;
}

static int cmd_cut(struct fw *fw, const struct req *rq)
{
	uint32_t a[2];
	int r = args_u32(rq, 1, a);

	if (r < 0 || (r = check_channel(a[0])) < 0 || (r = check_off_ms(fw, a[1])) < 0)
		return r;
	if (fw->ch[a[0]].state != FW_CH_ON)
		return -FW_ERR_BUSY;
	fw->ch[a[0]].state = FW_CH_CUT;
	fw->ch[a[0]].cut_ms = a[1];
	fw->ch[a[0]].restore_at = NO_TIME;
	schedule(fw, (uint8_t)a[0], 0, rq->now + FW_EDGE_LEAD_US, FW_CAUSE_CUT);
	reply_ok_begin(fw);
	out_key_u64(fw, "at", fw->ch[a[0]].edge_at);
	return 0;
}

static int cmd_arm(struct fw *fw, const struct req *rq)
{
	uint32_t a[5];		/* CH EARLIEST_MS LATEST_MS OFF_MS SEED */
	uint64_t from, to;
	int r = args_u32(rq, 1, a);

	if (r < 0 || (r = check_channel(a[0])) < 0)
		return r;
	if (a[1] > a[2] || a[2] > FW_ARM_MAX_MS || check_off_ms(fw, a[3]) < 0)
		return -FW_ERR_RANGE;
	if (fw->ch[a[0]].state != FW_CH_ON)
		return -FW_ERR_BUSY;
	from = rq->now + MS(a[1]);
	to = rq->now + MS(a[2]);
	fw->ch[a[0]].state = FW_CH_ARMED;
	fw->ch[a[0]].cut_ms = a[3];
	fw->ch[a[0]].restore_at = NO_TIME;
	schedule(fw, (uint8_t)a[0], 0, from + fw_arm_offset(a[4], (uint32_t)(to - from)),
		 FW_CAUSE_ARM);
	reply_ok_begin(fw);
	out_key_u64(fw, "from", from);
	out_key_u64(fw, "to", to);
	return 0;
}

static int cmd_disarm(struct fw *fw, const struct req *rq)
{
	uint32_t ch;
	int r = args_u32(rq, 1, &ch);

	if (r < 0 || (r = check_channel(ch)) < 0)
		return r;
	/* A cut that fired while this request was on its way is not armed any more. */
	if (fw->ch[ch].state != FW_CH_ARMED || !cancel_edge(fw, (uint8_t)ch))
		return -FW_ERR_NOT_ARMED;
	fw->ch[ch].state = FW_CH_ON;
	reply_ok_begin(fw);
	return 0;
}

static int cmd_on(struct fw *fw, const struct req *rq)
{
	uint32_t ch;
	struct fw_chan *c;
	int r = args_u32(rq, 1, &ch);

	if (r < 0 || (r = check_channel(ch)) < 0)
		return r;
	c = &fw->ch[ch];
	/* Still powered with the off edge (or armed cut) pending: cancelling it is
	 * the whole job. If it fired meanwhile, cancel_edge reported it and the
	 * channel is now powered down, to be restored below. */
	if (c->state != FW_CH_ON && c->powered && cancel_edge(fw, (uint8_t)ch)) {
		if (c->state == FW_CH_ARMED)
			event_disarm(fw, (uint8_t)ch, FW_CAUSE_ON);
		c->state = FW_CH_ON;
	}
	if (c->state == FW_CH_ON) {
		reply_ok_begin(fw);
		return 0;
	}
	if (!c->powered && (c->restore_at == NO_TIME || c->restore_at > rq->now + FW_EDGE_LEAD_US)) {
		c->restore_at = rq->now + FW_EDGE_LEAD_US;
		c->restore_cause = FW_CAUSE_ON;
	}
	service(fw, (uint8_t)ch, rq->now);
	reply_ok_begin(fw);
	out_key_u64(fw, "at", c->edge_at);
	return 0;
}

static bool relays_idle(const struct fw *fw)
{
	for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++)
		if (fw->ch[ch].state != FW_CH_ON || fw->ch[ch].edge || !fw->ch[ch].powered)
			return false;
	return true;
}

/* Make new settings current and store them; on failure keep the old ones. Idle relay
 * pins are released whatever relay_active says, so nothing is written to them. */
static int apply_settings(struct fw *fw, struct fw_settings *s)
{
	int r;

	/* Changing the active level of a powered-down relay would flip its pin. */
	if (s->v[FW_SET_RELAY_ACTIVE] != fw->set.v[FW_SET_RELAY_ACTIVE] && !relays_idle(fw))
		return -FW_ERR_BUSY;
	r = fw_settings_store(s);
	if (r < 0)
		return r;
	fw->set = *s;
	fw->settings_status = FW_SETTINGS_OK;
	for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++)
		fw->ch[ch].pwr_level = pwr_level(fw, ch);
	return 0;
}

static int find_setting(const struct req *rq)
{
	int idx = fw_settings_find(rq->w[1], rq->len[1]);

	return idx < 0 ? -FW_ERR_UNKNOWN_SETTING : idx;
}

static void out_setting(struct fw *fw, int idx)
{
	out_key_u64(fw, fw_settings_name(idx), fw->set.v[idx]);
}

static int cmd_get(struct fw *fw, const struct req *rq)
{
	int idx = find_setting(rq);

	if (idx < 0)
		return idx;
	reply_ok_begin(fw);
	out_setting(fw, idx);
	return 0;
}

static int cmd_set(struct fw *fw, const struct req *rq)
{
	struct fw_settings s = fw->set;
	uint32_t v;
	int idx = find_setting(rq), r;

	if (idx < 0)
		return idx;
	if ((r = arg_u32(rq, 2, &v)) < 0 || (r = fw_settings_check(&s, idx, v)) < 0)
		return r;
	s.v[idx] = v;
	if ((r = apply_settings(fw, &s)) < 0)
		return r;
	reply_ok_begin(fw);
	out_setting(fw, idx);
	return 0;
}

static int cmd_settings(struct fw *fw, const struct req *rq)
{
	reply_ok_begin(fw);
	for (int i = 0; i < FW_SET_COUNT; i++)
		out_setting(fw, i);
	return 0;
}

static int cmd_defaults(struct fw *fw, const struct req *rq)
{
	struct fw_settings s;
	int r;

	fw_settings_default(&s);
	s.seq = fw->set.seq;
	s.slot = fw->set.slot;
	if ((r = apply_settings(fw, &s)) < 0)
		return r;
	reply_ok_begin(fw);
	return 0;
}

static int cmd_reset(struct fw *fw, const struct req *rq)
{
	fw->reset_pending = 1;
	reply_ok_begin(fw);
	return 0;
}

struct command {
	const char *name;
	uint8_t min_args, max_args;
	int (*run)(struct fw *fw, const struct req *rq);
};

static const HAL_ROM struct command commands[] = {
	{ "version",  0, 0, cmd_version },
	{ "status",   0, 0, cmd_status },
	{ "on",       1, 1, cmd_on },
	{ "off",      1, 1, cmd_off },
	{ "cut",      2, 2, cmd_cut },
	{ "arm",      5, 5, cmd_arm },
	{ "disarm",   1, 1, cmd_disarm },
	{ "ping",     0, 1, cmd_ping },
	{ "get",      1, 1, cmd_get },
	{ "set",      2, 2, cmd_set },
	{ "settings", 0, 0, cmd_settings },
	{ "defaults", 0, 0, cmd_defaults },
	{ "reset",    0, 0, cmd_reset },
};

static int dispatch(struct fw *fw, const char *body, size_t len)
{
	struct req rq = { .n = 0, .now = hal_now_us() };
	size_t i = 0;
	int too_many = 0;

	while (i < len) {
		size_t start;

		while (i < len && body[i] == ' ')
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && body[i] != ' ')
			i++;
		if (rq.n == MAX_WORDS) {
			too_many = 1;
			break;
		}
		rq.w[rq.n] = body + start;
		rq.len[rq.n++] = (uint8_t)(i - start);
	}
	if (rq.n == 0)
		return -FW_ERR_UNKNOWN_COMMAND;
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		const HAL_ROM struct command *cmd = &commands[k];

		if (strlen(cmd->name) != rq.len[0] || memcmp(cmd->name, rq.w[0], rq.len[0]) != 0)
			continue;
		if (too_many || rq.n - 1 < cmd->min_args || rq.n - 1 > cmd->max_args)
			return -FW_ERR_BAD_ARGUMENT;
		return cmd->run(fw, &rq);
	}
	return -FW_ERR_UNKNOWN_COMMAND;
}

/* `reset`: power every channel (the relay pins float during the reset anyway, and
 * the host should see why), then let the hardware watchdog reset the chip. */
static void reset_now(struct fw *fw)
{
	fw->reset_pending = 0;
	drain(fw);
	for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++)
		cancel_edge(fw, ch);
	for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++) {
		struct fw_chan *c = &fw->ch[ch];

		if (c->state == FW_CH_ARMED)
			event_disarm(fw, ch, FW_CAUSE_SAFETY);
		if (!c->powered) {
			hal_relay_write(ch, HAL_PIN_FLOAT);
			event_relay(fw, ch, hal_now_us(), 1, FW_CAUSE_SAFETY);
		}
		c->state = FW_CH_ON;
		c->powered = 1;
		c->restore_at = NO_TIME;
	}
	hal_uart_flush();
	hal_reset();
}

void fw_handle_line(struct fw *fw, const char *line, size_t len)
{
	int r;

	/* Edges that happened before this request are reported, and its commands see
	 * the channels as they are now. */
	drain(fw);
	r = fw_frame_check(line, len, FW_LINE_MAX_HOST);
	if (r >= 0) {
		fw->last_rx = hal_now_us();
		r = dispatch(fw, line, (size_t)r);
	}
	if (r < 0)
		reply_error(fw, -r);
	else
		out_end(fw);
	if (fw->reset_pending)
		reset_now(fw);
}

void fw_feed(struct fw *fw, uint8_t c)
{
	if (c == '\n') {
		if (fw->line_over) {
			drain(fw);
			reply_error(fw, FW_ERR_TOO_LONG);
		} else {
			fw_handle_line(fw, fw->line, fw->line_len);
		}
		fw->line_len = 0;
		fw->line_over = 0;
	} else if (fw->line_over) {
		/* discarded up to and including '\n' */
	} else if (fw->line_len < sizeof(fw->line)) {
		fw->line[fw->line_len++] = (char)c;
	} else {
		fw->line_over = 1;
	}
}

void fw_poll(struct fw *fw)
{
	int c;

	drain(fw);
	while ((c = hal_uart_getc()) >= 0)
		fw_feed(fw, (uint8_t)c);
	drain(fw);
	service_all(fw);
}

void fw_init(struct fw *fw)
{
	memset(fw, 0, sizeof(*fw));
	fw->settings_status = (uint8_t)fw_settings_load(&fw->set);
	hal_init();
	fw->reset_cause = (uint8_t)hal_reset_cause();
	for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++) {
		fw->ch[ch].state = FW_CH_ON;
		fw->ch[ch].powered = 1;
		fw->ch[ch].restore_at = NO_TIME;
		fw->ch[ch].pwr_level = pwr_level(fw, ch);
	}
	fw->lost_seen = hal_event_lost();
	event_begin(fw, hal_now_us(), "boot");
	out_key(fw, "fw");
	out_str(fw, FW_FW_VERSION);
	out_key_u64(fw, "proto", FW_PROTO_VERSION);
	out_key(fw, "reset");
	out_str(fw, reset_names[fw->reset_cause]);
	out_key_u64(fw, "channels", HAL_CHANNELS);
	out_settings_status(fw);
	out_key_u64(fw, "bod_mv", hal_bod_mv());
	out_end(fw);
}
