/* clockfit: map a firmware clock (microseconds) onto the host CLOCK_MONOTONIC (ns).
 *
 * Samples are ping round trips: the host time just before the request was written
 * (tx_ns), the firmware time at which the firmware parsed it (fw_us), and the host
 * time the reply was read (rx_ns). The true host time of fw_us lies in
 * [tx_ns, rx_ns]; its midpoint is used as the estimate, with rtt/2 as that sample's
 * error bound. The fit keeps the samples with the smallest round trips (those with
 * an RTT at most max(2 * min RTT, min RTT + 200 us), and at least the 8 best), then
 * fits host = offset + (1 + drift) * fw by least squares.
 *
 * Every mapped time comes with an uncertainty that is a bound, not a standard
 * deviation: the least-squares prediction is a weighted sum of the samples,
 * host(t) = sum w_i(t) * mid_i, so its error is at most sum |w_i(t)| * rtt_i / 2
 * (which grows when t lies far outside the sampled span), plus any residual that
 * exceeds its sample's bound (the clocks are not quite linear), plus the firmware
 * clock's resolution, plus the largest amount by which the line misses any sample's
 * [tx, rx] interval (used or not: the clocks are not quite linear). With fewer than
 * 2 distinct firmware times, or a span under 10 ms, only the offset is fitted and the
 * drift is bounded by max_drift_ppm.
 *
 * Because both clocks only move forward, the host time of fw_us is also at least the
 * tx of any sample taken at or before it and at most the rx of any sample taken at
 * or after it. The mapped time is the middle of the intersection of that bracket and
 * the line's interval; when the line misses a sample (the clocks are not linear, e.g.
 * a simulator stalling under load) the bracket alone is used where it exists, so the
 * uncertainty is still a true one, about half the spacing of the pings around it.
 *
 *   struct clockfit *cf = clockfit_new(4, 0);
 *   clockfit_add(cf, tx, fw_us, rx);   // many times
 *   int64_t ns, unc;
 *   if (clockfit_map(cf, t_us, &ns, &unc) == 0) ...
 *   clockfit_free(cf);
 *
 * Not thread-safe. The fit is solved lazily when a sample was added since.
 */
#ifndef PC_CLOCKFIT_H
#define PC_CLOCKFIT_H

#include <stdbool.h>
#include <stdint.h>

/* Samples kept (the oldest are dropped beyond this). */
#define CLOCKFIT_MAX_SAMPLES 512

struct clockfit_info {
	int samples;		/* samples held */
	int used;		/* samples the fit used (smallest round trips) */
	bool drift_fitted;	/* false: offset only, drift bounded by max_drift_ppm */
	double offset_ns;	/* host ns at fw time 0 */
	double drift_ppm;	/* host rate minus firmware rate, in ppm of firmware time */
	int64_t min_rtt_ns;	/* smallest round trip held */
	int64_t max_used_rtt_ns;	/* largest round trip among the used samples */
	double residual_rms_ns;	/* of the used samples around the fit */
	double residual_max_ns;
	uint64_t span_us;	/* firmware time between the first and last used sample */
	int64_t unc_mid_ns;	/* uncertainty at the middle of the span */
};

/* A new, empty fit. fw_res_us: firmware clock resolution in us (<= 0: 4);
 * max_drift_ppm: drift bound used while the drift cannot be fitted (<= 0: 5000,
 * a ceramic resonator's 0.5%). NULL and errno (ENOMEM) on failure. */
struct clockfit *clockfit_new(int fw_res_us, double max_drift_ppm);
void clockfit_free(struct clockfit *cf);
/* Forget every sample (firmware reset: its clock restarted). */
void clockfit_reset(struct clockfit *cf);
/* Add one round trip. 0, or -EINVAL when rx_ns < tx_ns. */
int clockfit_add(struct clockfit *cf, int64_t tx_ns, uint64_t fw_us, int64_t rx_ns);
/* Map fw_us onto host ns with its uncertainty bound (unc_ns may be NULL).
 * 0, or -EAGAIN when no sample was added yet. */
int clockfit_map(struct clockfit *cf, uint64_t fw_us, int64_t *host_ns, int64_t *unc_ns);
/* The inverse, for scheduling: the firmware time at host_ns (no uncertainty).
 * 0 or -EAGAIN. Times before firmware time 0 give -ERANGE. */
int clockfit_unmap(struct clockfit *cf, int64_t host_ns, uint64_t *fw_us);
/* Current fit parameters. 0 or -EAGAIN. */
int clockfit_info(struct clockfit *cf, struct clockfit_info *info);

#endif
