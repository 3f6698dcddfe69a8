/* The host's clocks in one place: monotonic time for deadlines and durations,
 * wall time only for what a person reads. Header-only, so that the static agent,
 * the simulator's programs and the tests use the same helpers without linking
 * libpc. */
#ifndef PC_CLOCK_H
#define PC_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on the given clock. */
static inline int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_MONOTONIC: deadlines, durations, the ledger's and the recorder's stamps. */
static inline int64_t clock_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static inline int64_t clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000;
}

static inline double clock_mono_s(void)
{
	return (double)clock_mono_ns() / 1e9;
}

/* CLOCK_REALTIME: timestamps stored for people (campaign start, status page). */
static inline int64_t clock_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

#endif
