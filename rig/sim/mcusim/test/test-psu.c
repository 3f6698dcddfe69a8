/* Unit tests of the power-supply model (rig/sim/mcusim/psu.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "psu.h"

#define HOLD 288000	/* 18 ms at 16 MHz */
#define RISE 800000	/* 50 ms */

static void test_cut_and_restore(void **state)
{
	struct psu_ch ch;

	psu_ch_init(&ch);
	assert_true(ch.dc_good);
	assert_int_equal(psu_relay(&ch, true, 1000, HOLD, RISE), PSU_SCHEDULE);
	assert_int_equal(ch.pending_at, 1000 + HOLD);
	assert_true(ch.dc_good);		/* held up */
	assert_false(psu_fire(&ch));		/* DC lost at 1000 + HOLD */
	assert_false(ch.pending);
	assert_int_equal(psu_relay(&ch, false, 5000000, HOLD, RISE), PSU_SCHEDULE);
	assert_int_equal(ch.pending_at, 5000000 + RISE);
	assert_false(ch.dc_good);
	assert_true(psu_fire(&ch));
}

static void test_bounce_shorter_than_hold_up(void **state)
{
	struct psu_ch ch;

	psu_ch_init(&ch);
	assert_int_equal(psu_relay(&ch, true, 0, HOLD, RISE), PSU_SCHEDULE);
	/* released again before the hold-up ran out: DC must never drop */
	assert_int_equal(psu_relay(&ch, false, HOLD - 1, HOLD, RISE), PSU_CANCEL);
	assert_true(ch.dc_good);
	assert_false(ch.pending);
	/* a second cut starts a full hold-up again */
	assert_int_equal(psu_relay(&ch, true, HOLD + 10, HOLD, RISE), PSU_SCHEDULE);
	assert_int_equal(ch.pending_at, 2 * HOLD + 10);
}

static void test_cut_while_rising(void **state)
{
	struct psu_ch ch;

	psu_ch_init(&ch);
	psu_relay(&ch, true, 0, HOLD, RISE);
	psu_fire(&ch);
	assert_int_equal(psu_relay(&ch, false, HOLD + 100, HOLD, RISE), PSU_SCHEDULE);
	/* AC removed again before DC came back: DC stays lost, the rise is cancelled */
	assert_int_equal(psu_relay(&ch, true, HOLD + 200, HOLD, RISE), PSU_CANCEL);
	assert_false(ch.dc_good);
	assert_false(ch.pending);
	/* and released once more: a full rise time from now */
	assert_int_equal(psu_relay(&ch, false, HOLD + 300, HOLD, RISE), PSU_SCHEDULE);
	assert_int_equal(ch.pending_at, HOLD + 300 + RISE);
}

static void test_repeated_edge_keeps_timer(void **state)
{
	struct psu_ch ch;

	psu_ch_init(&ch);
	assert_int_equal(psu_relay(&ch, false, 10, HOLD, RISE), PSU_KEEP);
	assert_int_equal(psu_relay(&ch, true, 10, HOLD, RISE), PSU_SCHEDULE);
	assert_int_equal(psu_relay(&ch, true, 20, HOLD, RISE), PSU_KEEP);
	assert_int_equal(ch.pending_at, 10 + HOLD);	/* not pushed back */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_and_restore),
		cmocka_unit_test(test_bounce_shorter_than_hold_up),
		cmocka_unit_test(test_cut_while_rising),
		cmocka_unit_test(test_repeated_edge_keeps_timer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
