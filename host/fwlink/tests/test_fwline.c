/* Unit tests: parsing of firmware lines and splitting the byte stream into lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"
#include "fwline.h"

/* body -> "body*CC" in a static buffer */
static const char *sealed(const char *body)
{
	static char buf[512];
	size_t n = strlen(body);

	memcpy(buf, body, n);
	assert_true(fw_frame_seal(buf, n, sizeof(buf)) == (int)n + 3);
	return buf;
}

static int parse(const char *line, struct fwline *pl)
{
	return fwline_parse(line, strlen(line), pl, NULL);
}

static void test_ok_reply(void **state)
{
	struct fwline pl;
	uint64_t v;
	int i;

	assert_int_equal(parse(sealed("ok t=123456789012 token=42 ch0=on"), &pl), 0);
	assert_int_equal(pl.kind, FWLINE_OK);
	assert_int_equal(pl.f.n, 3);
	assert_int_equal(fw_fields_get_u64(&pl.f, "t", &v), 0);
	assert_true(v == 123456789012ull);
	assert_int_equal(fw_fields_get_int(&pl.f, "token", &i), 0);
	assert_int_equal(i, 42);
	assert_string_equal(fw_fields_get(&pl.f, "ch0"), "on");
	assert_int_equal(fw_fields_get_u64(&pl.f, "ch0", &v), -EINVAL);
	assert_int_equal(fw_fields_get_u64(&pl.f, "nope", &v), -ENOENT);
	assert_null(fw_fields_get(&pl.f, "nope"));
	assert_string_equal(fw_fields_key(&pl.f, 2), "ch0");
	assert_null(fw_fields_key(&pl.f, 3));

	/* a copy by assignment keeps its strings */
	struct fw_fields copy = pl.f;
	memset(&pl, 0, sizeof(pl));
	assert_string_equal(fw_fields_get(&copy, "ch0"), "on");

	assert_int_equal(parse(sealed("ok"), &pl), 0);
	assert_int_equal(pl.kind, FWLINE_OK);
	assert_int_equal(pl.f.n, 0);
	/* "okay" is not "ok" */
	assert_int_equal(parse(sealed("okay"), &pl), -EPROTO);
}

static void test_numbers(void **state)
{
	struct fwline pl;
	uint64_t v;
	int i;

	assert_int_equal(parse(sealed("ok a=18446744073709551615 b=18446744073709551616 c=-1 d= e=+1"), &pl), 0);
	assert_int_equal(fw_fields_get_u64(&pl.f, "a", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(fw_fields_get_u64(&pl.f, "b", &v), -EINVAL);
	assert_int_equal(fw_fields_get_u64(&pl.f, "c", &v), -EINVAL);
	assert_int_equal(fw_fields_get_int(&pl.f, "c", &i), 0);
	assert_int_equal(i, -1);
	assert_int_equal(fw_fields_get_u64(&pl.f, "d", &v), -EINVAL);
	assert_int_equal(fw_fields_get_u64(&pl.f, "e", &v), -EINVAL);
	assert_int_equal(fw_fields_get_int(&pl.f, "a", &i), -EINVAL);
}

static void test_error_reply(void **state)
{
	struct fwline pl;

	assert_int_equal(parse(sealed("error:2 bad checksum"), &pl), 0);
	assert_int_equal(pl.kind, FWLINE_ERROR);
	assert_int_equal(pl.code, 2);
	assert_string_equal(pl.text, "bad checksum");
	assert_int_equal(parse(sealed("error:10"), &pl), 0);
	assert_int_equal(pl.code, 10);
	assert_string_equal(pl.text, "");
	assert_int_equal(parse(sealed("error:x bad"), &pl), -EPROTO);
	assert_int_equal(parse(sealed("error:0 none"), &pl), -EPROTO);
	assert_int_equal(parse(sealed("error:"), &pl), -EPROTO);
}

static void test_events(void **state)
{
	struct fwline pl;
	int ch;

	assert_int_equal(parse(sealed("!5 1234567 relay ch=0 power=off cause=cut"), &pl), 0);
	assert_int_equal(pl.kind, FWLINE_EVENT);
	assert_true(pl.seq == 5);
	assert_true(pl.t_us == 1234567);
	assert_string_equal(pl.name, "relay");
	assert_int_equal(fw_fields_get_int(&pl.f, "ch", &ch), 0);
	assert_int_equal(ch, 0);
	assert_string_equal(fw_fields_get(&pl.f, "cause"), "cut");

	assert_int_equal(parse(sealed("!0 812 boot fw=0.2.0 proto=2 reset=power channels=2 settings=ok bod_mv=2700"), &pl), 0);
	assert_true(pl.seq == 0);
	assert_string_equal(pl.name, "boot");
	assert_string_equal(fw_fields_get(&pl.f, "proto"), "2");
	assert_string_equal(fw_fields_get(&pl.f, "settings"), "ok");

	/* an event without pairs */
	assert_int_equal(parse(sealed("!7 99 tick"), &pl), 0);
	assert_int_equal(pl.f.n, 0);

	/* malformed events */
	assert_int_equal(parse(sealed("!x 1 relay"), &pl), -EPROTO);
	assert_int_equal(parse(sealed("! 1 2 relay"), &pl), -EPROTO);
	assert_int_equal(parse(sealed("!1 2"), &pl), -EPROTO);
	assert_int_equal(parse(sealed("!1 -2 relay"), &pl), -EPROTO);
	assert_int_equal(parse(sealed("!1 2 ch=0"), &pl), -EPROTO);
	assert_int_equal(parse(sealed("!1 2 relay ch"), &pl), -EPROTO);
	assert_int_equal(parse(sealed("!1 2 relay =0"), &pl), -EPROTO);
	assert_int_equal(parse(sealed("!1 2 averyveryveryverylongeventname"), &pl), -EPROTO);
}

static void test_bad_frames(void **state)
{
	struct fwline pl;
	char line[160];
	const char *why;

	assert_int_equal(parse("ok t=1", &pl), -EBADMSG);		/* no checksum */
	assert_int_equal(parse("", &pl), -EBADMSG);
	snprintf(line, sizeof(line), "%s", sealed("ok t=1"));
	line[4] = '2';						/* body changed */
	assert_int_equal(fwline_parse(line, strlen(line), &pl, &why), -EBADMSG);
	assert_string_equal(why, "bad checksum");
	snprintf(line, sizeof(line), "%s", sealed("ping"));
	for (char *p = line; *p; p++)				/* lower-case hex */
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	if (strpbrk(line + 5, "abcdef"))
		assert_int_equal(parse(line, &pl), -EBADMSG);
	snprintf(line, sizeof(line), "%s", sealed("ok t=1"));
	line[2] = '\t';						/* control byte */
	assert_int_equal(fwline_parse(line, strlen(line), &pl, &why), -EBADMSG);
	assert_string_equal(why, "malformed line");
	assert_int_equal(parse("ok *a=1*00", &pl), -EBADMSG);	/* '*' in body */
	assert_int_equal(parse(sealed("hello there"), &pl), -EPROTO);
	assert_int_equal(parse(sealed("ok a=1 junk"), &pl), -EPROTO);

	/* a trailing '\r' is allowed */
	snprintf(line, sizeof(line), "%s\r", sealed("ok t=5"));
	assert_int_equal(parse(line, &pl), 0);
}

static void test_line_limits(void **state)
{
	char body[200];
	struct fwline pl;
	const char *why;

	/* exactly FW_LINE_MAX bytes with the checksum: accepted */
	memset(body, 0, sizeof(body));
	strcpy(body, "ok k=");
	memset(body + 5, 'x', FW_LINE_MAX - 3 - 5);
	assert_int_equal(strlen(sealed(body)), FW_LINE_MAX);
	assert_int_equal(parse(sealed(body), &pl), 0);
	/* one more: too long */
	body[FW_LINE_MAX - 3] = 'x';
	const char *l = sealed(body);
	assert_int_equal(fwline_parse(l, strlen(l), &pl, &why), -EMSGSIZE);
	assert_string_equal(why, "line too long");

	/* more than FW_KV_MAX pairs */
	body[0] = '\0';
	strcat(body, "ok");
	for (int i = 0; i <= FW_KV_MAX; i++)
		strcat(body, " a=1");
	assert_int_equal(parse(sealed(body), &pl), -EPROTO);
}

struct got {
	char lines[8][200];
	int overlong[8];
	int n;
};

static void collect(void *ctx, const char *line, size_t len, int overlong)
{
	struct got *g = ctx;

	assert_true(g->n < 8);
	memcpy(g->lines[g->n], line, len);
	g->lines[g->n][len] = '\0';
	g->overlong[g->n] = overlong;
	g->n++;
}

static void test_rx_split(void **state)
{
	struct fwline_rx rx;
	struct got g = { .n = 0 };
	char big[400];

	fwline_rx_init(&rx);
	/* fragments and CRLF */
	fwline_rx_feed(&rx, "ok t", 4, collect, &g);
	assert_int_equal(g.n, 0);
	fwline_rx_feed(&rx, "=1*AB\r\n!1 2 x*00\nok", 19, collect, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.lines[0], "ok t=1*AB\r");
	assert_string_equal(g.lines[1], "!1 2 x*00");
	/* an overlong line is reported once, up to its '\n', then lines resume */
	memset(big, 'y', 300);
	big[300] = '\n';
	fwline_rx_feed(&rx, big, 301, collect, &g);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.overlong[2], 1);
	assert_int_equal(strncmp(g.lines[2], "okyyy", 5), 0);
	fwline_rx_feed(&rx, "ok*00\n", 6, collect, &g);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.overlong[3], 0);
	assert_string_equal(g.lines[3], "ok*00");
	/* 130 bytes fit the buffer (128 + '\r' + one): the parser rejects them, not rx */
	memset(big, 'z', 130);
	big[130] = '\n';
	fwline_rx_feed(&rx, big, 131, collect, &g);
	assert_int_equal(g.overlong[4], 0);
	struct fwline pl;
	assert_int_equal(fwline_parse(g.lines[4], strlen(g.lines[4]), &pl, NULL), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_reply),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_error_reply),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_rx_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
