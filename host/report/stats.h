/* Statistics for durability reports: binomial proportions with honest intervals.
 *
 * Every rate in a report is k failures in n cycles. The definitions (and how to read
 * them) are in docs/methodology.md, "Statistics"; this header is their one
 * implementation. Pure functions, no allocation.
 *
 *   struct stats_interval ci;
 *   stats_wilson(3, 200, STATS_Z95, &ci);            // 95 % two-sided Wilson score
 *   double ub = stats_zero_fail_upper(300, 0.05);      // 1 - 0.05^(1/300) = 0.00994
 *   uint64_t more;
 *   stats_cycles_needed(0, 100, 0.01, 0.05, &more);    // 199 more failure-free cycles
 */
#ifndef PC_STATS_H
#define PC_STATS_H

#include <stdint.h>

/* The two-sided 95 % normal quantile, z such that P(|Z| < z) = 0.95. */
#define STATS_Z95 1.959963984540054

struct stats_interval {
	double lo, hi;
};

/* Wilson score interval for k successes in n trials at quantile z:
 * (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), p = k/n, clamped to [0, 1]
 * (lo is exactly 0 when k = 0 and hi exactly 1 when k = n).
 * 0, or -EINVAL when n = 0, k > n or z <= 0 (then *out is [0, 1]). */
int stats_wilson(uint64_t k, uint64_t n, double z, struct stats_interval *out);

/* Exact one-sided upper confidence bound for a rate with zero failures in n trials:
 * the p at which seeing no failure in n trials has probability alpha,
 * 1 - alpha^(1/n). alpha = 0.05 gives the 95 % bound. n = 0 gives 1. */
double stats_zero_fail_upper(uint64_t n, double alpha);

/* Exact (Clopper-Pearson) one-sided upper bound for k failures in n trials: the p at
 * which P(X <= k | n, p) = alpha. Equals stats_zero_fail_upper() for k = 0; 1 when
 * k >= n. Accurate to about 1e-12. */
double stats_exact_upper(uint64_t k, uint64_t n, double alpha);

/* P(X <= k) for X ~ Binomial(n, p). */
double stats_binom_cdf(uint64_t k, uint64_t n, double p);

/* Further cycles needed to bound the rate below target: the smallest N >= n such
 * that stats_exact_upper(k, N, alpha) < target, minus n, assuming the further cycles
 * see no failure. For k = 0 that is the smallest N with 1 - alpha^(1/N) < target.
 * *more = 0 when the bound is already below target.
 * 0; -EINVAL when target or alpha is not in (0, 1); -ERANGE when k > 0 and the
 * observed rate k/n is not below target (no number of further cycles is expected to
 * bound it; *more is then UINT64_MAX); -EOVERFLOW past 2^50 cycles. */
int stats_cycles_needed(uint64_t k, uint64_t n, double target, double alpha, uint64_t *more);

/* Two-sided Fisher exact test of k1/n1 against k2/n2 (the 2x2 table of failures and
 * successes in two cells): the sum of the hypergeometric probabilities of every table
 * with the same margins that is no more probable than the observed one (relative
 * tolerance 1e-7, as R's fisher.test). Probabilities from GSL
 * (gsl_ran_hypergeometric_pdf). 0, or -EINVAL when k > n or a cell has no trial. */
int stats_fisher_exact(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2, double *p_value);

/* Trials per cell needed to tell rates p1 and p2 apart: a two-sided test at level
 * alpha with the given power, by Fleiss' formula with continuity correction (the usual
 * approximation of the size Fisher's exact test needs):
 *   n' = (z(1-alpha/2) sqrt(2 pm (1-pm)) + z(power) sqrt(p1 q1 + p2 q2))^2 / d^2,
 *   n  = n'/4 (1 + sqrt(1 + 4/(n' d)))^2,  pm = (p1+p2)/2, d = |p1-p2|,
 * rounded up. Normal quantiles from GSL. 0; -ERANGE when p1 == p2 (no number is
 * enough); -EINVAL when a rate is outside [0, 1] or alpha, power outside (0, 1). */
int stats_cycles_to_separate(double p1, double p2, double alpha, double power, uint64_t *n);

#endif
