#include "fwtest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

struct fw fw_core;
struct fw_lines fw_replies, fw_events;

static void lines_free(struct fw_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->line[i]);
	l->n = 0;
}

void fw_clear(void)
{
	lines_free(&fw_replies);
	lines_free(&fw_events);
}

void fw_collect(void)
{
	size_t len;
	const char *tx = hal_fake_tx_take(&len);
	const char *p = tx, *end = tx + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int body;
		struct fw_lines *l;

		assert_non_null(nl);
		body = fw_frame_check(p, (size_t)(nl - p), FW_LINE_MAX_FW);
		if (body < 0)
			fail_msg("firmware line '%.*s' is not a valid frame (%d)", (int)(nl - p), p, body);
		l = p[0] == '!' ? &fw_events : &fw_replies;
		assert_true(l->n < FW_MAX_LINES);
		l->line[l->n] = strndup(p, (size_t)body);
		assert_non_null(l->line[l->n]);
		l->n++;
		p = nl + 1;
	}
}

void fw_boot(uint8_t pwrok_levels)
{
	fw_clear();
	hal_fake_reset(pwrok_levels);
	fw_init(&fw_core);
	fw_collect();
}

void fw_boot_keep_eeprom(void)
{
	fw_clear();
	hal_fake_mcu_reset();
	fw_init(&fw_core);
	fw_collect();
}

static const char *one_reply(size_t before)
{
	fw_collect();
	if (fw_replies.n != before + 1)
		fail_msg("expected one reply, got %zu", fw_replies.n - before);
	return fw_replies.line[before];
}

const char *fw_raw(const void *buf, size_t len)
{
	size_t before;

	fw_collect();
	before = fw_replies.n;
	hal_fake_rx(buf, len);
	fw_poll(&fw_core);
	return one_reply(before);
}

const char *fw_req(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 8, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(buf) - 8);
	n = fw_frame_seal(buf, (size_t)n, sizeof(buf));
	assert_true(n > 0);
	buf[n++] = '\n';
	return fw_raw(buf, (size_t)n);
}

void fw_run(uint64_t us, uint64_t step_us)
{
	uint64_t end = hal_now_us() + us;

	while (hal_now_us() < end) {
		uint64_t left = end - hal_now_us();

		hal_fake_advance(left < step_us ? left : step_us);
		fw_poll(&fw_core);
	}
	fw_collect();
}

static const char *key_pos(const char *line, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = strchr(line, ' '); p; p = strchr(p + 1, ' '))
		if (strncmp(p + 1, key, kl) == 0 && p[1 + kl] == '=')
			return p + 2 + kl;
	return NULL;
}

bool fw_has_key(const char *line, const char *key)
{
	return key_pos(line, key) != NULL;
}

uint64_t fw_key(const char *line, const char *key)
{
	const char *v = key_pos(line, key);

	if (!v)
		fail_msg("no key '%s' in '%s'", key, line);
	return strtoull(v, NULL, 10);
}

int fw_find_event(const char *needle, size_t from)
{
	for (size_t i = from; i < fw_events.n; i++) {
		const char *s = strchr(fw_events.line[i], ' ');

		s = s ? strchr(s + 1, ' ') : NULL;
		if (s && strstr(s + 1, needle))
			return (int)i;
	}
	return -1;
}

uint64_t fw_event_seq(size_t idx)
{
	return strtoull(fw_events.line[idx] + 1, NULL, 10);
}

uint64_t fw_event_t(size_t idx)
{
	const char *s = strchr(fw_events.line[idx], ' ');

	return strtoull(s + 1, NULL, 10);
}
