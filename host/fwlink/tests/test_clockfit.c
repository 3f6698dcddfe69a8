/* Unit tests: the clock fit against synthetic round trips with a known offset, drift
 * and jitter. The true host time of every mapped firmware time must lie inside the
 * stated uncertainty, and that uncertainty must be small enough to be useful. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "clockfit.h"

/* The simulated truth: host_ns = OFF + fw_us * 1000 * (1 + DRIFT). */
struct truth {
	double off_ns, drift;
};

static double true_host(const struct truth *tr, double fw_us)
{
	return tr->off_ns + fw_us * 1000.0 * (1.0 + tr->drift);
}

static uint64_t rng = 88172645463325252ull;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / (double)(1ull << 53);
}

/* One ping at firmware time fw_us (true): the request took d1, the reply d2; the
 * firmware reads its clock with res_us resolution (truncating, as a timer does). */
static void add_ping(struct clockfit *cf, const struct truth *tr, double fw_us,
		     double d1_ns, double d2_ns, int res_us)
{
	double host = true_host(tr, fw_us);
	uint64_t fw_read = (uint64_t)fw_us / (uint64_t)res_us * (uint64_t)res_us;

	assert_int_equal(clockfit_add(cf, (int64_t)llround(host - d1_ns), fw_read,
				      (int64_t)llround(host + d2_ns)), 0);
}

/* Check the bound at many times, inside and a little outside the sampled span. */
static double check_bound(struct clockfit *cf, const struct truth *tr, double from_us,
			  double to_us, int64_t max_unc_ns)
{
	double worst = 0;

	for (int i = 0; i <= 200; i++) {
		double fw = from_us + (to_us - from_us) * i / 200.0;
		int64_t ns, unc;

		assert_int_equal(clockfit_map(cf, (uint64_t)fw, &ns, &unc), 0);
		double err = fabs((double)ns - true_host(tr, (double)(uint64_t)fw));
		if (err > unc)
			fail_msg("fw %.0f us: error %.0f ns outside the stated %lld ns", fw, err,
				 (long long)unc);
		assert_true(unc <= max_unc_ns);
		if (err > worst)
			worst = err;
	}
	return worst;
}

static void test_empty(void **state)
{
	struct clockfit *cf = clockfit_new(0, 0);
	struct clockfit_info info;
	int64_t ns;
	uint64_t fw;

	assert_non_null(cf);
	assert_int_equal(clockfit_map(cf, 5, &ns, NULL), -EAGAIN);
	assert_int_equal(clockfit_unmap(cf, 5, &fw), -EAGAIN);
	assert_int_equal(clockfit_info(cf, &info), -EAGAIN);
	assert_int_equal(clockfit_add(cf, 100, 5, 99), -EINVAL);
	clockfit_free(cf);
}

/* Drift and offset recovered from a long, jittery series with slow outliers. */
static void test_drift_and_jitter(void **state)
{
	struct truth tr = { .off_ns = 7.5e12, .drift = 150e-6 };	/* 150 ppm fast host */
	struct clockfit *cf = clockfit_new(4, 0);
	struct clockfit_info info;

	for (int i = 0; i < 300; i++) {
		double fw = 1e6 + i * 33333.0 + uniform() * 1000;	/* 10 s of pings */
		/* 150..400 us each way, asymmetric; every 10th is stuck behind traffic */
		double d1 = 150e3 + uniform() * 250e3, d2 = 150e3 + uniform() * 250e3;
		if (i % 10 == 3)
			d2 += 5e6;
		add_ping(cf, &tr, fw, d1, d2, 4);
	}
	assert_int_equal(clockfit_info(cf, &info), 0);
	assert_true(info.drift_fitted);
	assert_true(info.used < info.samples);		/* the slow ones were left out */
	assert_true(info.max_used_rtt_ns < 5000000);
	print_message("drift %.2f ppm (true 150), offset err %.0f ns, used %d/%d, unc mid %lld ns\n",
		      info.drift_ppm, info.offset_ns - tr.off_ns, info.used, info.samples,
		      (long long)info.unc_mid_ns);
	assert_true(fabs(info.drift_ppm - 150.0) < 20.0);
	assert_true(fabs(info.offset_ns - tr.off_ns) < 400e3);
	/* inside the span the bound stays under a millisecond */
	check_bound(cf, &tr, 1e6, 11e6, 1000000);
	/* a little outside it the bound grows, and still holds */
	check_bound(cf, &tr, 0, 13e6, 2000000);

	/* unmap inverts map */
	int64_t ns;
	uint64_t back;
	assert_int_equal(clockfit_map(cf, 5000000, &ns, NULL), 0);
	assert_int_equal(clockfit_unmap(cf, ns, &back), 0);
	assert_true(back >= 4999999 && back <= 5000001);
	clockfit_free(cf);
}

/* A burst of pings over a few ms: no drift can be fitted; the bound must include
 * what the resonator's tolerance does to times away from the burst. */
static void test_offset_only(void **state)
{
	struct truth tr = { .off_ns = 1e9, .drift = -4000e-6 };	/* a 0.4% slow resonator */
	struct clockfit *cf = clockfit_new(4, 5000);
	struct clockfit_info info;

	for (int i = 0; i < 8; i++)
		add_ping(cf, &tr, 2e6 + i * 500.0, 40e3 + uniform() * 20e3, 40e3 + uniform() * 20e3, 4);
	assert_int_equal(clockfit_info(cf, &info), 0);
	assert_false(info.drift_fitted);
	check_bound(cf, &tr, 2e6, 2.004e6, 200000);
	/* one second away: 4000 ppm is 4 ms, inside a 5000 ppm bound */
	double worst = check_bound(cf, &tr, 3e6, 3.001e6, 6000000);
	assert_true(worst > 3e6);	/* the drift really is there */
	clockfit_free(cf);
}

/* The midpoint is wrong by half the asymmetry; the bound must still hold when the
 * delays are as lopsided as they can be (all in one direction). */
static void test_asymmetric(void **state)
{
	struct truth tr = { .off_ns = 3e9, .drift = 20e-6 };
	struct clockfit *cf = clockfit_new(1, 0);

	for (int i = 0; i < 100; i++)
		add_ping(cf, &tr, 5e5 + i * 20000.0, 10e3, 900e3 + uniform() * 50e3, 1);
	double worst = check_bound(cf, &tr, 5e5, 2.5e6, 800000);
	assert_true(worst > 400e3);	/* the bias is real; the bound covers it */
	clockfit_free(cf);
}

/* Reset forgets everything; a new series fits from scratch. */
static void test_reset(void **state)
{
	struct truth tr = { .off_ns = 1e9, .drift = 0 };
	struct truth tr2 = { .off_ns = 9e9, .drift = 0 };
	struct clockfit *cf = clockfit_new(4, 0);
	int64_t ns;

	for (int i = 0; i < 20; i++)
		add_ping(cf, &tr, i * 1e5, 50e3, 50e3, 4);
	assert_int_equal(clockfit_map(cf, 0, &ns, NULL), 0);
	clockfit_reset(cf);
	assert_int_equal(clockfit_map(cf, 0, &ns, NULL), -EAGAIN);
	for (int i = 0; i < 20; i++)
		add_ping(cf, &tr2, i * 1e5, 50e3, 50e3, 4);
	check_bound(cf, &tr2, 0, 2e6, 200000);
	clockfit_free(cf);
}

/* More samples than the ring holds: the oldest go, the fit follows a drift change. */
static void test_ring(void **state)
{
	struct truth tr = { .off_ns = 1e9, .drift = 100e-6 };
	struct clockfit *cf = clockfit_new(4, 0);
	struct clockfit_info info;

	for (int i = 0; i < CLOCKFIT_MAX_SAMPLES * 2; i++)
		add_ping(cf, &tr, i * 10000.0, 30e3 + uniform() * 30e3, 30e3 + uniform() * 30e3, 4);
	assert_int_equal(clockfit_info(cf, &info), 0);
	assert_int_equal(info.samples, CLOCKFIT_MAX_SAMPLES);
	assert_true(info.span_us <= (uint64_t)CLOCKFIT_MAX_SAMPLES * 10000);
	check_bound(cf, &tr, CLOCKFIT_MAX_SAMPLES * 10000.0, CLOCKFIT_MAX_SAMPLES * 20000.0, 200000);
	clockfit_free(cf);
}

/* A clock that stalls and races (a simulator under load): the firmware runs at 20%,
 * then 100%, then 40% of host speed. No line fits; the bound must still hold, and
 * between two pings the bracket keeps it near the ping spacing. */
static double stall_host(double fw_us)
{
	/* host ns at firmware time fw_us, piecewise */
	if (fw_us < 1e5)
		return 1e9 + fw_us * 5000.0;
	if (fw_us < 3e5)
		return 1e9 + 1e5 * 5000.0 + (fw_us - 1e5) * 1000.0;
	return 1e9 + 1e5 * 5000.0 + 2e5 * 1000.0 + (fw_us - 3e5) * 2500.0;
}

static void test_nonlinear(void **state)
{
	struct clockfit *cf = clockfit_new(4, 0);
	double host_start = stall_host(0), host_end = stall_host(5e5);

	/* a ping every 30 ms of host time, 5..8 ms round trips */
	for (double h = host_start; h < host_end; h += 30e6) {
		/* invert stall_host by bisection */
		double lo = 0, hi = 5e5;
		for (int i = 0; i < 60; i++) {
			double mid = (lo + hi) / 2;
			if (stall_host(mid) < h)
				lo = mid;
			else
				hi = mid;
		}
		double d1 = 2.5e6 + uniform() * 1.5e6, d2 = 2.5e6 + uniform() * 1.5e6;
		assert_int_equal(clockfit_add(cf, (int64_t)(h - d1), (uint64_t)lo / 4 * 4,
					      (int64_t)(h + d2)), 0);
	}
	for (int i = 0; i <= 500; i++) {
		double fw = 2e4 + i * 900.0;
		int64_t ns, unc;

		assert_int_equal(clockfit_map(cf, (uint64_t)fw, &ns, &unc), 0);
		double err = fabs((double)ns - stall_host((double)(uint64_t)fw));
		if (err > unc)
			fail_msg("fw %.0f us: error %.0f ns outside the stated %lld ns", fw, err,
				 (long long)unc);
		assert_true(unc < 40e6);	/* half of (ping spacing + round trips) */
	}
	clockfit_free(cf);
}

/* One lucky round trip far shorter than the rest must not carry the fit alone. */
static void test_lucky_sample(void **state)
{
	struct truth tr = { .off_ns = 2e9, .drift = 300e-6 };
	struct clockfit *cf = clockfit_new(4, 0);
	struct clockfit_info info;

	add_ping(cf, &tr, 1e5, 50e3, 50e3, 4);			/* 100 us */
	for (int i = 1; i < 30; i++)				/* 5..6 ms */
		add_ping(cf, &tr, 1e5 + i * 50000.0, 2.5e6 + uniform() * 0.5e6,
			 2.5e6 + uniform() * 0.5e6, 4);
	assert_int_equal(clockfit_info(cf, &info), 0);
	assert_true(info.used >= 8);
	assert_true(info.drift_fitted);
	check_bound(cf, &tr, 1e5, 1.6e6, 5000000);
	clockfit_free(cf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_drift_and_jitter),
		cmocka_unit_test(test_offset_only),
		cmocka_unit_test(test_asymmetric),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_ring),
		cmocka_unit_test(test_nonlinear),
		cmocka_unit_test(test_lucky_sample),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
