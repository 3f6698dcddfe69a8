/* Binomial statistics; see stats.h and docs/methodology.md. */
#include "stats.h"

#include <errno.h>
#include <math.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>

int stats_wilson(uint64_t k, uint64_t n, double z, struct stats_interval *out)
{
	out->lo = 0;
	out->hi = 1;
	if (n == 0 || k > n || !(z > 0))
		return -EINVAL;
	double nn = (double)n, p = (double)k / nn, z2 = z * z;
	double den = 1 + z2 / nn;
	double centre = (p + z2 / (2 * nn)) / den;
	double half = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / den;

	/* At k = 0 (k = n) the bound is exactly 0 (1) on paper; rounding would leave
	 * a tiny residue that reads as "nearly zero" in a table. */
	out->lo = k == 0 ? 0 : fmax(0, centre - half);
	out->hi = k == n ? 1 : fmin(1, centre + half);
	return 0;
}

double stats_zero_fail_upper(uint64_t n, double alpha)
{
	if (n == 0)
		return 1;
	/* -expm1(log(alpha)/n) keeps precision for large n, where alpha^(1/n) is near 1. */
	return -expm1(log(alpha) / (double)n);
}

double stats_binom_cdf(uint64_t k, uint64_t n, double p)
{
	if (k >= n || p <= 0)
		return 1;
	if (p >= 1)
		return 0;
	/* Terms by recurrence in log space: t(i+1) = t(i) (n-i)/(i+1) p/(1-p). Summed
	 * from the largest term down would be more precise for huge k; reports have
	 * small k, where the terms of i <= k all matter and none underflow together. */
	double lq = log1p(-p), lr = log(p) - lq;
	double lt = (double)n * lq, sum = 0, mx = lt;

	/* Scale by the largest log term so that sum does not underflow. */
	double l = lt;
	for (uint64_t i = 0; i < k; i++) {
		l += log((double)(n - i) / (double)(i + 1)) + lr;
		if (l > mx)
			mx = l;
	}
	l = lt;
	for (uint64_t i = 0; i <= k; i++) {
		sum += exp(l - mx);
		if (i < k)
			l += log((double)(n - i) / (double)(i + 1)) + lr;
	}
	double cdf = exp(mx + log(sum));
	return cdf > 1 ? 1 : cdf;
}

double stats_exact_upper(uint64_t k, uint64_t n, double alpha)
{
	if (k >= n)
		return 1;
	if (k == 0)
		return stats_zero_fail_upper(n, alpha);
	/* The cdf falls monotonically in p: bisect to full double precision. */
	double lo = (double)k / (double)n, hi = 1;
	for (int i = 0; i < 200 && hi - lo > 1e-15; i++) {
		double mid = 0.5 * (lo + hi);
		if (stats_binom_cdf(k, n, mid) > alpha)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

int stats_cycles_needed(uint64_t k, uint64_t n, double target, double alpha, uint64_t *more)
{
	const uint64_t cap = (uint64_t)1 << 50;

	*more = UINT64_MAX;
	if (!(target > 0 && target < 1 && alpha > 0 && alpha < 1) || k > n)
		return -EINVAL;
	if (k > 0 && (double)k >= target * (double)n)
		return -ERANGE;
	if (stats_exact_upper(k, n, alpha) < target) {
		*more = 0;
		return 0;
	}
	/* The bound falls as N grows with k fixed: find a bracket, then bisect on N. */
	uint64_t lo = n, hi = n > 0 ? n : 1;
	while (!(stats_exact_upper(k, hi, alpha) < target)) {
		lo = hi;
		if (hi >= cap)
			return -EOVERFLOW;
		hi *= 2;
	}
	/* invariant: bound(lo) >= target > bound(hi) */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (stats_exact_upper(k, mid, alpha) < target)
			hi = mid;
		else
			lo = mid;
	}
	*more = hi - n;
	return 0;
}

int stats_fisher_exact(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2, double *p_value)
{
	*p_value = 1;
	if (!n1 || !n2 || k1 > n1 || k2 > n2 || n1 + n2 > UINT32_MAX)
		return -EINVAL;
	/* GSL's default handler aborts; every argument below is in range anyway. */
	gsl_set_error_handler_off();
	/* Cell 1's failures X among the K = k1 + k2 failures, drawing n1 of N = n1 + n2
	 * trials: X ~ Hypergeometric(K, N - K, n1), support [max(0, n1 - (N - K)), min(K, n1)]. */
	unsigned K = (unsigned)(k1 + k2), N = (unsigned)(n1 + n2), t = (unsigned)n1;
	unsigned lo = t > N - K ? t - (N - K) : 0, hi = K < t ? K : t;
	double p0 = gsl_ran_hypergeometric_pdf((unsigned)k1, K, N - K, t), sum = 0;
	for (unsigned x = lo; x <= hi; x++) {
		double px = gsl_ran_hypergeometric_pdf(x, K, N - K, t);
		if (px <= p0 * (1 + 1e-7))
			sum += px;
	}
	*p_value = sum > 1 ? 1 : sum;
	return 0;
}

int stats_cycles_to_separate(double p1, double p2, double alpha, double power, uint64_t *n)
{
	*n = UINT64_MAX;
	if (!(p1 >= 0 && p1 <= 1 && p2 >= 0 && p2 <= 1 && alpha > 0 && alpha < 1 &&
	      power > 0 && power < 1))
		return -EINVAL;
	double d = fabs(p1 - p2);
	if (d == 0)
		return -ERANGE;
	double pm = (p1 + p2) / 2;
	double za = gsl_cdf_ugaussian_Pinv(1 - alpha / 2), zb = gsl_cdf_ugaussian_Pinv(power);
	double a = za * sqrt(2 * pm * (1 - pm)) + zb * sqrt(p1 * (1 - p1) + p2 * (1 - p2));
	double n0 = a * a / (d * d);
	double c = 1 + sqrt(1 + 4 / (n0 * d));
	double v = ceil(n0 / 4 * c * c - 1e-9);
	*n = v < 1 ? 1 : (uint64_t)v;
	return 0;
}
