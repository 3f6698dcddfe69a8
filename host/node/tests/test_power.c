/* Unit tests of the power domain fed by the controller (power.c alone, its calls into
 * the node replaced by counters here): DC lost makes the node die once, DC back boots
 * it once after the bench's boot delay, an edge that changes nothing is ignored, and
 * the times the feeder gave are the ones recorded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "config.h"
#include "node.h"
#include "power.h"

static int lost_calls, back_calls, last_cut;
static uint32_t back_cycle;

/* The node's side, as node.c would do it. */
int node_power_lost(struct node *n, int cut)
{
	lost_calls++;
	last_cut = cut;
	return 0;
}

int node_power_back(struct node *n, const struct node_job *job)
{
	back_calls++;
	back_cycle = job->cycle;
	return 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct bench_config *cfg;
static struct node node;

static int setup(void **state)
{
	cfg = bench_config_parse("t.ini", "[bench]\nname = t\n[relay]\ndriver = null\n"
				 "[node]\nboot_delay = 150\n[disk a]\nformat = raw\n", NULL, 0, NULL);
	if (!cfg)
		fail_msg("config: see the errors above");
	node = (struct node){ .cfg = cfg };
	lost_calls = back_calls = 0;
	return 0;
}

static int teardown(void **state)
{
	bench_config_free(cfg);
	return 0;
}

static void lost_then_back(void **state)
{
	struct node_power *p = node_power_open_fed(&node, 1, CUT_POWER);
	struct node_job job = { .campaign = 1, .cycle = 7 };
	struct node_power_times t;

	assert_non_null(p);
	node_power_set_job(p, &job);
	int64_t at = mono_ns() - 5000000;	/* the edge, 5 ms ago on the host clock */
	assert_int_equal(node_power_feed(p, false, at, 1234), 0);
	assert_int_equal(node_power_wait(p, NODE_PWR_LOST, 2000, &t), 0);
	assert_int_equal(lost_calls, 1);
	assert_int_equal(last_cut, CUT_POWER);
	assert_int_equal(t.lost_ns, at);
	assert_int_equal(t.lost_sim_us, 1234);
	assert_true(t.killed_ns >= at);

	/* a second "lost" (the relay edge after PWR_OK, say) changes nothing */
	assert_int_equal(node_power_feed(p, false, 0, 0), 0);
	int64_t back = mono_ns();
	assert_int_equal(node_power_feed(p, true, back, 0), 0);
	assert_int_equal(node_power_wait(p, NODE_PWR_BOOTED, 3000, &t), 0);
	assert_int_equal(lost_calls, 1);
	assert_int_equal(back_calls, 1);
	assert_int_equal(back_cycle, 7);
	assert_int_equal(t.back_ns, back);
	/* booted after the bench's boot delay */
	assert_true(t.booted_ns - t.back_ns >= 150000000);

	/* "back" again while powered: ignored */
	assert_int_equal(node_power_feed(p, true, 0, 0), 0);
	struct timespec ts = { 0, 300000000 };
	nanosleep(&ts, NULL);
	assert_int_equal(back_calls, 1);
	node_power_close(p);
}

/* DC "back" on a node that never lost it: nothing boots. */
static void back_without_loss_ignored(void **state)
{
	struct node_power *p = node_power_open_fed(&node, 0, CUT_KILL);
	struct node_job job = { .campaign = 1, .cycle = 1 };

	assert_non_null(p);
	node_power_set_job(p, &job);
	assert_int_equal(node_power_feed(p, true, 0, 0), 0);
	assert_int_equal(node_power_wait(p, NODE_PWR_BACK, 400, NULL), -ETIMEDOUT);
	assert_int_equal(back_calls, 0);
	assert_int_equal(lost_calls, 0);
	node_power_close(p);
}

/* Closing in the middle of the boot delay returns at once, without booting. */
static void close_during_boot_delay(void **state)
{
	struct node_power *p = node_power_open_fed(&node, 0, CUT_POWER);
	struct node_job job = { .campaign = 1, .cycle = 1 };

	cfg->node->boot_delay_ms = 5000;
	assert_non_null(p);
	node_power_set_job(p, &job);
	assert_int_equal(node_power_feed(p, false, 0, 0), 0);
	assert_int_equal(node_power_feed(p, true, 0, 0), 0);
	assert_int_equal(node_power_wait(p, NODE_PWR_BACK, 2000, NULL), 0);
	int64_t t0 = mono_ns();
	node_power_close(p);
	assert_true(mono_ns() - t0 < 1500000000);
	assert_int_equal(back_calls, 0);
}

static void feed_needs_a_fed_domain(void **state)
{
	assert_int_equal(node_power_feed(NULL, false, 0, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(lost_then_back, setup, teardown),
		cmocka_unit_test_setup_teardown(back_without_loss_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(close_during_boot_delay, setup, teardown),
		cmocka_unit_test(feed_needs_a_fed_domain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
