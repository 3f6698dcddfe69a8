/* Statistics against known values: published Wilson intervals (Newcombe 1998, table
 * I, method 3), the same formula computed independently in long double, exact
 * zero-failure bounds, Clopper-Pearson bounds checked through their defining
 * equation, and cycles-needed against a linear search on the binomial tail.
 * Fisher's exact test against p-values of small tables worked by hand from the
 * hypergeometric distribution (integer binomial coefficients, below) and Fisher's
 * tea-tasting table (p = 34/70, Fisher 1935); the cycles to separate two rates
 * against Fleiss' table (p 0.05 against 0.10, alpha 0.05, power 0.8: 474 per group,
 * Fleiss, Levin & Paik, Statistical Methods for Rates and Proportions, 3rd ed.). */
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

/* C(n, k) exactly, for the small tables below. */
static uint64_t choose(unsigned n, unsigned k)
{
	uint64_t c = 1;
	if (k > n)
		return 0;
	for (unsigned i = 1; i <= k; i++)
		c = c * (n - k + i) / i;
	return c;
}

/* The two-sided Fisher p-value as a fraction, by enumerating every table with the
 * observed margins: P(x) = C(K, x) C(N-K, n1-x) / C(N, n1); the numerators of the
 * tables no more probable than the observed one are summed in integers. */
static double fisher_by_hand(unsigned k1, unsigned n1, unsigned k2, unsigned n2)
{
	unsigned K = k1 + k2, N = n1 + n2;
	uint64_t obs = choose(K, k1) * choose(N - K, n1 - k1), num = 0;
	for (unsigned x = 0; x <= K && x <= n1; x++) {
		uint64_t w = choose(K, x) * choose(N - K, n1 - x);
		if (w && w <= obs)
			num += w;
	}
	return (double)num / (double)choose(N, n1);
}

static void test_fisher_exact(void **state)
{
	double p;

	/* Fisher's lady tasting tea: 3 of 4 against 1 of 4, p = 34/70 */
	assert_int_equal(stats_fisher_exact(3, 4, 1, 4, &p), 0);
	assert_true(fabs(p - 34.0 / 70.0) < 1e-12);
	/* 1 of 5 against 4 of 5: P(x) = C(5,x)^2/252 = 1,25,100,100,25,1; p = 52/252 */
	assert_int_equal(stats_fisher_exact(1, 5, 4, 5, &p), 0);
	assert_true(fabs(p - 52.0 / 252.0) < 1e-12);
	/* every cycle against none in ten: only the two extreme tables, 2/C(20,10) */
	assert_int_equal(stats_fisher_exact(0, 10, 10, 10, &p), 0);
	assert_true(fabs(p - 2.0 / 184756.0) < 1e-18);
	/* equal rates: every table counts, p = 1 */
	assert_int_equal(stats_fisher_exact(2, 10, 2, 10, &p), 0);
	assert_true(fabs(p - 1) < 1e-12);
	/* every small table against the enumeration in integers */
	for (unsigned n1 = 1; n1 <= 12; n1++)
		for (unsigned n2 = 1; n2 <= 12; n2 += 3)
			for (unsigned k1 = 0; k1 <= n1; k1++)
				for (unsigned k2 = 0; k2 <= n2; k2++) {
					assert_int_equal(stats_fisher_exact(k1, n1, k2, n2, &p), 0);
					double want = fisher_by_hand(k1, n1, k2, n2);
					if (fabs(p - want) > 1e-12 * (1 + want))
						fail_msg("%u/%u vs %u/%u: %.15g, by hand %.15g", k1, n1,
							 k2, n2, p, want);
				}
	/* large tables stay in range (log-space probabilities) */
	assert_int_equal(stats_fisher_exact(0, 10000, 30, 10000, &p), 0);
	assert_true(p > 0 && p < 1e-8);
	assert_int_equal(stats_fisher_exact(3, 2, 0, 5, &p), -EINVAL);
	assert_int_equal(stats_fisher_exact(0, 0, 0, 5, &p), -EINVAL);
}

static void test_cycles_to_separate(void **state)
{
	uint64_t n;

	assert_int_equal(stats_cycles_to_separate(0.05, 0.10, 0.05, 0.8, &n), 0);
	assert_int_equal(n, 474);
	/* symmetric in the two rates */
	assert_int_equal(stats_cycles_to_separate(0.10, 0.05, 0.05, 0.8, &n), 0);
	assert_int_equal(n, 474);
	/* the same formula in long double, quantiles as constants */
	long double za = 1.959963984540054L, zb = 0.841621233572914L;
	long double p1 = 0.0, p2 = 0.3, pm = 0.15, d = 0.3;
	long double a = za * sqrtl(2 * pm * (1 - pm)) + zb * sqrtl(p1 * (1 - p1) + p2 * (1 - p2));
	long double n0 = a * a / (d * d), c = 1 + sqrtl(1 + 4 / (n0 * d));
	assert_int_equal(stats_cycles_to_separate(0.0, 0.3, 0.05, 0.8, &n), 0);
	assert_int_equal(n, (uint64_t)ceill(n0 / 4 * c * c));
	/* a bigger difference needs fewer cycles */
	uint64_t m;
	assert_int_equal(stats_cycles_to_separate(0.0, 0.6, 0.05, 0.8, &m), 0);
	assert_true(m < n);
	assert_int_equal(stats_cycles_to_separate(0.2, 0.2, 0.05, 0.8, &n), -ERANGE);
	assert_int_equal(stats_cycles_to_separate(1.2, 0.2, 0.05, 0.8, &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wilson_published),
		cmocka_unit_test(test_wilson_independent),
		cmocka_unit_test(test_zero_fail_upper),
		cmocka_unit_test(test_exact_upper),
		cmocka_unit_test(test_cycles_needed),
		cmocka_unit_test(test_fisher_exact),
		cmocka_unit_test(test_cycles_to_separate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
