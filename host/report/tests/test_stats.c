/* Statistics against known values: published Wilson intervals (Newcombe 1998, table
 * I, method 3), the same formula computed independently in long double, exact
 * zero-failure bounds, Clopper-Pearson bounds checked through their defining
 * equation, and cycles-needed against a linear search on the binomial tail. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "stats.h"

/* Independent long-double Wilson: the textbook form with the square root over
 * the whole score-test quadratic. */
static void wilson_ld(uint64_t k, uint64_t n, long double *lo, long double *hi)
{
	long double z = 1.959963984540054L, z2 = z * z, nn = n, p = k / nn, q = 1 - p;
	long double a = 2 * nn * p + z2, b = z * sqrtl(z2 + 4 * nn * p * q), c = 2 * (nn + z2);
	*lo = (a - b) / c;
	*hi = (a + b) / c;
}

/* P(X <= k), X ~ Bin(n, p), by direct summation with exact-ish coefficients. */
static long double cdf_ld(uint64_t k, uint64_t n, long double p)
{
	long double s = 0;
	for (uint64_t i = 0; i <= k && i <= n; i++)
		s += expl(lgammal(n + 1.0L) - lgammal(i + 1.0L) - lgammal(n - i + 1.0L) +
			  i * logl(p) + (n - i) * log1pl(-p));
	return s;
}

static void test_wilson_published(void **state)
{
	/* Newcombe, Statistics in Medicine 17 (1998) 857-872, table I, method 3. */
	static const struct { uint64_t k, n; double lo, hi; } t[] = {
		{ 81, 263, 0.2553, 0.3662 },
		{ 15, 148, 0.0624, 0.1605 },
		{ 0, 20, 0.0000, 0.1611 },
		{ 1, 29, 0.0061, 0.1718 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct stats_interval ci;
		assert_int_equal(stats_wilson(t[i].k, t[i].n, STATS_Z95, &ci), 0);
		assert_true(fabs(ci.lo - t[i].lo) < 0.00006);
		assert_true(fabs(ci.hi - t[i].hi) < 0.00006);
	}
}

static void test_wilson_independent(void **state)
{
	static const uint64_t kn[][2] = { { 0, 1 }, { 1, 1 }, { 0, 10 }, { 3, 10 }, { 10, 10 },
		{ 1, 100 }, { 50, 100 }, { 0, 300 }, { 7, 1000 }, { 9999, 10000 }, { 1, 1000000 } };
	for (size_t i = 0; i < sizeof(kn) / sizeof(kn[0]); i++) {
		struct stats_interval ci;
		long double lo, hi;
		assert_int_equal(stats_wilson(kn[i][0], kn[i][1], STATS_Z95, &ci), 0);
		wilson_ld(kn[i][0], kn[i][1], &lo, &hi);
		assert_true(fabsl(ci.lo - fmaxl(lo, 0)) < 1e-12);
		assert_true(fabsl(ci.hi - fminl(hi, 1)) < 1e-12);
		assert_true(ci.lo <= (double)kn[i][0] / kn[i][1] && ci.hi >= (double)kn[i][0] / kn[i][1]);
	}
	struct stats_interval ci;
	assert_int_equal(stats_wilson(0, 10, STATS_Z95, &ci), 0);
	assert_true(ci.lo == 0.0);
	assert_int_equal(stats_wilson(10, 10, STATS_Z95, &ci), 0);
	assert_true(ci.hi == 1.0);
	assert_int_equal(stats_wilson(0, 0, STATS_Z95, &ci), -EINVAL);
	assert_true(ci.lo == 0 && ci.hi == 1);
	assert_int_equal(stats_wilson(3, 2, STATS_Z95, &ci), -EINVAL);
}

static void test_zero_fail_upper(void **state)
{
	assert_true(stats_zero_fail_upper(0, 0.05) == 1.0);
	assert_true(fabs(stats_zero_fail_upper(1, 0.05) - 0.95) < 1e-15);
	/* 1 - 0.05^(1/10) = 0.25886555...; the "rule of three" gives 3/n roughly. */
	assert_true(fabs(stats_zero_fail_upper(10, 0.05) - 0.2588655) < 1e-7);
	static const uint64_t ns[] = { 2, 20, 59, 299, 300, 1000, 10000, 1000000000 };
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		long double want = 1 - powl(0.05L, 1.0L / ns[i]);
		assert_true(fabsl(stats_zero_fail_upper(ns[i], 0.05) - want) < 1e-15L + 1e-12L * want);
		/* the exact bound for k = 0 is the same number */
		assert_true(fabs(stats_exact_upper(0, ns[i], 0.05) - (double)want) < 1e-12);
	}
}

static void test_exact_upper(void **state)
{
	/* Clopper-Pearson one-sided 95 %: 1 of 10 gives 0.3942 (tables). */
	assert_true(fabs(stats_exact_upper(1, 10, 0.05) - 0.3942) < 0.00005);
	static const uint64_t kn[][2] = { { 1, 10 }, { 2, 50 }, { 5, 1000 }, { 3, 10000 }, { 9, 10 } };
	for (size_t i = 0; i < sizeof(kn) / sizeof(kn[0]); i++) {
		double u = stats_exact_upper(kn[i][0], kn[i][1], 0.05);
		/* its defining equation, and it is the smallest such p */
		assert_true(fabsl(cdf_ld(kn[i][0], kn[i][1], u) - 0.05L) < 1e-9L);
		assert_true(cdf_ld(kn[i][0], kn[i][1], u * (1 - 1e-6)) > 0.05L);
		assert_true(u > (double)kn[i][0] / kn[i][1]);
	}
	assert_true(stats_exact_upper(10, 10, 0.05) == 1.0);
}

/* Smallest N >= n with P(X <= k | N, target) < alpha, by walking N upwards: the same
 * condition as "exact upper bound below target", stated from the other side. */
static uint64_t needed_scan(uint64_t k, uint64_t n, double target)
{
	uint64_t N = n;
	while (!(cdf_ld(k, N, target) < 0.05L))
		N++;
	return N - n;
}

static void test_cycles_needed(void **state)
{
	uint64_t more;

	/* k = 0, target 1 %: 1 - 0.05^(1/299) = 0.00997 < 0.01 <= 1 - 0.05^(1/298). */
	assert_int_equal(stats_cycles_needed(0, 0, 0.01, 0.05, &more), 0);
	assert_int_equal(more, 299);
	assert_true(stats_zero_fail_upper(299, 0.05) < 0.01 && stats_zero_fail_upper(298, 0.05) >= 0.01);
	assert_int_equal(stats_cycles_needed(0, 100, 0.01, 0.05, &more), 0);
	assert_int_equal(more, 199);
	assert_int_equal(stats_cycles_needed(0, 299, 0.01, 0.05, &more), 0);
	assert_int_equal(more, 0);
	assert_int_equal(stats_cycles_needed(0, 5000, 0.01, 0.05, &more), 0);
	assert_int_equal(more, 0);
	/* the classic 59 trials for 5 %, 2995 for 0.1 % */
	assert_int_equal(stats_cycles_needed(0, 0, 0.05, 0.05, &more), 0);
	assert_int_equal(more, 59);
	assert_int_equal(stats_cycles_needed(0, 0, 0.001, 0.05, &more), 0);
	assert_int_equal(more, 2995);
	/* with failures, against a linear scan on the binomial tail */
	static const struct { uint64_t k, n; double t; } c[] = {
		{ 1, 30, 0.05 }, { 1, 200, 0.01 }, { 2, 150, 0.02 }, { 3, 250, 0.05 }, { 0, 7, 0.1 },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		assert_int_equal(stats_cycles_needed(c[i].k, c[i].n, c[i].t, 0.05, &more), 0);
		assert_int_equal(more, needed_scan(c[i].k, c[i].n, c[i].t));
	}
	/* observed rate at or above the target: no count of further cycles is honest */
	assert_int_equal(stats_cycles_needed(1, 100, 0.01, 0.05, &more), -ERANGE);
	assert_true(more == UINT64_MAX);
	assert_int_equal(stats_cycles_needed(5, 10, 0.01, 0.05, &more), -ERANGE);
	assert_int_equal(stats_cycles_needed(0, 0, 0, 0.05, &more), -EINVAL);
	assert_int_equal(stats_cycles_needed(0, 0, 1, 0.05, &more), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wilson_published),
		cmocka_unit_test(test_wilson_independent),
		cmocka_unit_test(test_zero_fail_upper),
		cmocka_unit_test(test_exact_upper),
		cmocka_unit_test(test_cycles_needed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
