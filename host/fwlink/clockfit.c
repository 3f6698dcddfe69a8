#include "clockfit.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sample {
	int64_t tx_ns, rx_ns;
	uint64_t fw_us;
};

struct clockfit {
	struct sample s[CLOCKFIT_MAX_SAMPLES];
	int n, head;			/* ring: s[head] is the oldest when full */
	int fw_res_us;
	double max_drift_ppm;

	/* The solution, valid when !dirty && used > 0. Times are relative to a
	 * reference sample so that doubles keep nanosecond precision. */
	int dirty;
	int used;
	uint64_t fw_ref;		/* us */
	int64_t mid_ref;		/* ns */
	double a, b;			/* Y = a + b * (X - xbar), Y = mid - mid_ref - 1000 X */
	double xbar, sxx;		/* X in us relative to fw_ref */
	bool drift_fitted;
	/* Per used sample, for the bound: X and half round trip. */
	double ux[CLOCKFIT_MAX_SAMPLES], ue[CLOCKFIT_MAX_SAMPLES];
	double excess_ns;		/* largest residual beyond its sample's bound */
	double res_rms, res_max;
	int64_t min_rtt, max_used_rtt;
	uint64_t span_us;
};

struct clockfit *clockfit_new(int fw_res_us, double max_drift_ppm)
{
	struct clockfit *cf = calloc(1, sizeof(*cf));

	if (!cf)
		return NULL;
	cf->fw_res_us = fw_res_us > 0 ? fw_res_us : 4;
	cf->max_drift_ppm = max_drift_ppm > 0 ? max_drift_ppm : 5000;
	return cf;
}

void clockfit_free(struct clockfit *cf)
{
	free(cf);
}

void clockfit_reset(struct clockfit *cf)
{
	cf->n = 0;
	cf->head = 0;
	cf->used = 0;
	cf->dirty = 0;
}

int clockfit_add(struct clockfit *cf, int64_t tx_ns, uint64_t fw_us, int64_t rx_ns)
{
	if (rx_ns < tx_ns)
		return -EINVAL;

	struct sample sm = { .tx_ns = tx_ns, .rx_ns = rx_ns, .fw_us = fw_us };

	if (cf->n < CLOCKFIT_MAX_SAMPLES) {
		cf->s[(cf->head + cf->n) % CLOCKFIT_MAX_SAMPLES] = sm;
		cf->n++;
	} else {
		cf->s[cf->head] = sm;
		cf->head = (cf->head + 1) % CLOCKFIT_MAX_SAMPLES;
	}
	cf->dirty = 1;
	return 0;
}

/* The fit uses at least this many samples (the smallest round trips). */
#define CLOCKFIT_MIN_USED 8

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int solve(struct clockfit *cf)
{
	if (!cf->dirty)
		return cf->used > 0 ? 0 : -EAGAIN;
	cf->dirty = 0;
	cf->used = 0;
	if (cf->n == 0)
		return -EAGAIN;

	int64_t min_rtt = INT64_MAX;

	for (int i = 0; i < cf->n; i++) {
		int64_t rtt = cf->s[i].rx_ns - cf->s[i].tx_ns;
		if (rtt < min_rtt)
			min_rtt = rtt;
	}
	/* Round trips longer than the best ones carry queueing delay in one direction or
	 * the other, which shifts their midpoint; they would only widen the bound. */
	int64_t limit = min_rtt * 2 > min_rtt + 200000 ? min_rtt * 2 : min_rtt + 200000;

	/* ... but never fewer than the CLOCKFIT_MIN_USED best: one lucky round trip
	 * alone would make the fit hang on a single sample. */
	if (cf->n > CLOCKFIT_MIN_USED) {
		int64_t r[CLOCKFIT_MAX_SAMPLES];

		for (int i = 0; i < cf->n; i++)
			r[i] = cf->s[i].rx_ns - cf->s[i].tx_ns;
		qsort(r, (size_t)cf->n, sizeof(r[0]), cmp_i64);
		if (r[CLOCKFIT_MIN_USED - 1] > limit)
			limit = r[CLOCKFIT_MIN_USED - 1];
	}
	const struct sample *ref = NULL;
	int m = 0;
	double sx = 0, sy = 0;
	static const double NS_PER_US = 1000.0;
	double y[CLOCKFIT_MAX_SAMPLES];
	uint64_t fw_min = UINT64_MAX, fw_max = 0;

	cf->max_used_rtt = 0;
	for (int k = 0; k < cf->n; k++) {
		const struct sample *s = &cf->s[(cf->head + k) % CLOCKFIT_MAX_SAMPLES];
		int64_t rtt = s->rx_ns - s->tx_ns;

		if (rtt > limit)
			continue;
		if (!ref) {
			ref = s;
			cf->fw_ref = s->fw_us;
			cf->mid_ref = s->tx_ns + rtt / 2;
		}
		int64_t mid = s->tx_ns + rtt / 2;
		double x = (double)(int64_t)(s->fw_us - cf->fw_ref);

		cf->ux[m] = x;
		cf->ue[m] = (double)rtt / 2.0 + 0.5;	/* + rounding of the midpoint */
		y[m] = (double)(mid - cf->mid_ref) - NS_PER_US * x;
		sx += x;
		sy += y[m];
		if (rtt > cf->max_used_rtt)
			cf->max_used_rtt = rtt;
		if (s->fw_us < fw_min)
			fw_min = s->fw_us;
		if (s->fw_us > fw_max)
			fw_max = s->fw_us;
		m++;
	}
	cf->used = m;
	cf->min_rtt = min_rtt;
	cf->span_us = fw_max - fw_min;
	cf->xbar = sx / m;

	double sxx = 0, sxy = 0;

	for (int i = 0; i < m; i++) {
		sxx += (cf->ux[i] - cf->xbar) * (cf->ux[i] - cf->xbar);
		sxy += (cf->ux[i] - cf->xbar) * (y[i] - sy / m);
	}
	cf->sxx = sxx;
	cf->a = sy / m;
	/* Under 10 ms of span the slope is mostly noise: an offset with a drift bound
	 * says more honestly what is known. */
	cf->drift_fitted = m >= 3 && cf->span_us >= 10000 && sxx > 0;
	cf->b = cf->drift_fitted ? sxy / sxx : 0;

	double ss = 0;

	cf->excess_ns = 0;
	cf->res_max = 0;
	for (int i = 0; i < m; i++) {
		double r = fabs(y[i] - (cf->a + cf->b * (cf->ux[i] - cf->xbar)));
		ss += r * r;
		if (r > cf->res_max)
			cf->res_max = r;
	}
	/* Every sample, used or not, proves that the host time of its fw_us lay in
	 * [tx, rx]. Where the line leaves such an interval the clocks are not linear
	 * (a simulator that stalls under load, a resonator warming up), and the bound
	 * must grow by the largest such miss. */
	for (int k = 0; k < cf->n; k++) {
		const struct sample *s = &cf->s[(cf->head + k) % CLOCKFIT_MAX_SAMPLES];
		double x = (double)(int64_t)(s->fw_us - cf->fw_ref);
		double pred = NS_PER_US * x + cf->a + cf->b * (x - cf->xbar);
		double lo = (double)(s->tx_ns - cf->mid_ref), hi = (double)(s->rx_ns - cf->mid_ref);
		double miss = pred < lo ? lo - pred : pred > hi ? pred - hi : 0;

		/* the sample's firmware reading may be up to one resolution step low */
		miss -= cf->fw_res_us * NS_PER_US * (1.0 + fabs(cf->b) / NS_PER_US);

		if (!cf->drift_fitted)
			miss -= cf->max_drift_ppm * 1e-3 * fabs(x - cf->xbar);
		if (miss > cf->excess_ns)
			cf->excess_ns = miss;
	}
	cf->res_rms = sqrt(ss / m);
	return 0;
}

/* The error bound at X (us relative to fw_ref). */
static double bound_at(const struct clockfit *cf, double x)
{
	double u = 0;

	if (cf->drift_fitted) {
		for (int i = 0; i < cf->used; i++) {
			double w = 1.0 / cf->used + (cf->ux[i] - cf->xbar) * (x - cf->xbar) / cf->sxx;
			u += fabs(w) * cf->ue[i];
		}
	} else {
		/* Offset only: the mean of the samples, each off by its bound plus what an
		 * unfitted drift makes of the distance to the mapped time. */
		for (int i = 0; i < cf->used; i++)
			u += (cf->ue[i] + cf->max_drift_ppm * 1e-3 * fabs(x - cf->ux[i])) / cf->used;
	}
	return u + cf->excess_ns + cf->fw_res_us * 1000.0;
}

int clockfit_map(struct clockfit *cf, uint64_t fw_us, int64_t *host_ns, int64_t *unc_ns)
{
	int rc = solve(cf);

	if (rc < 0)
		return rc;

	double x = (double)(int64_t)(fw_us - cf->fw_ref);
	double p = (double)cf->mid_ref + 1000.0 * x + cf->a + cf->b * (x - cf->xbar);
	double u = bound_at(cf, x);
	double lo = p - u, hi = p + u;
	/* Both clocks only move forward, so a sample taken at or before fw_us proves
	 * the host time was at least its tx, one taken at or after it at most its rx.
	 * This bracket needs no linearity: it rescues a clock that stalls and races
	 * (a loaded simulator), where the line's own bound would be wide. The firmware
	 * clock's resolution keeps the comparison on the safe side. */
	double blo = -INFINITY, bhi = INFINITY;

	for (int k = 0; k < cf->n; k++) {
		const struct sample *s = &cf->s[k];

		if (s->fw_us + (uint64_t)cf->fw_res_us <= fw_us && (double)s->tx_ns > blo)
			blo = (double)s->tx_ns;
		if (s->fw_us >= fw_us + (uint64_t)cf->fw_res_us && (double)s->rx_ns < bhi)
			bhi = (double)s->rx_ns;
	}
	if (cf->excess_ns > 0 && blo > -INFINITY && bhi < INFINITY) {
		/* The line missed a sample: between samples it proves nothing, so where
		 * samples bracket fw_us the bracket alone is the answer. */
		lo = blo;
		hi = bhi;
	} else {
		/* Bracketed on one side at most (or a line that fits every sample): the
		 * line, narrowed by what the bracket proves. */
		if (blo > lo)
			lo = blo;
		if (bhi < hi)
			hi = bhi;
		if (lo > hi) {
			lo = blo > -INFINITY ? blo : p - u;
			hi = bhi < INFINITY ? bhi : p + u;
			if (lo > hi)
				lo = hi = blo > -INFINITY ? blo : bhi;
		}
	}
	*host_ns = (int64_t)llround((lo + hi) / 2);
	if (unc_ns)
		*unc_ns = (int64_t)ceil((hi - lo) / 2) + 1;
	return 0;
}

int clockfit_unmap(struct clockfit *cf, int64_t host_ns, uint64_t *fw_us)
{
	int rc = solve(cf);

	if (rc < 0)
		return rc;

	double x = ((double)(host_ns - cf->mid_ref) - cf->a + cf->b * cf->xbar) / (1000.0 + cf->b);
	double fw = (double)cf->fw_ref + x;

	if (fw < 0)
		return -ERANGE;
	*fw_us = (uint64_t)llround(fw);
	return 0;
}

int clockfit_info(struct clockfit *cf, struct clockfit_info *info)
{
	int rc = solve(cf);

	memset(info, 0, sizeof(*info));
	info->samples = cf->n;
	if (rc < 0)
		return rc;
	info->used = cf->used;
	info->drift_fitted = cf->drift_fitted;
	info->drift_ppm = cf->b * 1000.0;
	/* host at fw 0: X = -fw_ref */
	double x0 = -(double)cf->fw_ref;
	info->offset_ns = (double)cf->mid_ref + 1000.0 * x0 + cf->a + cf->b * (x0 - cf->xbar);
	info->min_rtt_ns = cf->min_rtt;
	info->max_used_rtt_ns = cf->max_used_rtt;
	info->residual_rms_ns = cf->res_rms;
	info->residual_max_ns = cf->res_max;
	info->span_us = cf->span_us;
	info->unc_mid_ns = (int64_t)ceil(bound_at(cf, cf->xbar));
	return 0;
}
