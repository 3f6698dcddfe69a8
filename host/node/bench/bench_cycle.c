/* Benchmark of one `powercut cycle` per tier: the wall time of the whole command
 * (simulator start, database, disks, baseline, workload start, cut, restart, checks,
 * classification, record, clean-up) minus the configured parts it reports in its
 * --json timing — the workload until the firmware's cut, the off time and the boot
 * delay.
 *   sim_fast_cycle_s  median of BENCH_FAST_CYCLES (default 3) fast-tier cycles
 *   sim_full_cycle_s  median of BENCH_FULL_CYCLES (default 3) full-tier cycles with three
 *                     disks (needs build/guest): one TCG cycle moves by seconds with
 *                     the machine's load, the median less
 */
#include <stdio.h>

#include "e2e.h"

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double overhead(struct e2e *e, const char *bench)
{
	int code;
	json_t *j = e2e_cycle(e, bench, &code, NULL);
	double v = -1;

	if (j && code == 0) {
		json_t *t = json_object_get(j, "timing");
		v = e->last_wall_s - json_real_value(json_object_get(t, "workload_to_cut_s")) -
		    json_real_value(json_object_get(t, "off_s")) -
		    json_real_value(json_object_get(t, "boot_delay_s"));
		fprintf(stderr, "bench_cycle: %s: %.3f s wall, %.3f s without the configured "
			"times\n", bench, e->last_wall_s, v);
	}
	else
		fprintf(stderr, "bench_cycle: '%s' exited %d\n", bench, code);
	json_decref(j);
	return v;
}

/* Median of n cycles of bench, or -1 when none succeeded. */
static double median_overhead(struct e2e *e, const char *bench, int n)
{
	double v[16];
	int ok = 0;

	for (int i = 0; i < n; i++) {
		double x = overhead(e, bench);
		if (x >= 0)
			v[ok++] = x;
	}
	if (!ok)
		return -1;
	qsort(v, (size_t)ok, sizeof(double), cmp);
	return v[ok / 2];
}

static int cycles_from_env(const char *name)
{
	const char *s = getenv(name);

	return s && atoi(s) > 0 && atoi(s) <= 16 ? atoi(s) : 3;
}

int main(void)
{
	struct e2e e;
	char kernel[PATH_MAX + 80];

	if (e2e_init(&e) < 0) {
		fprintf(stderr, "bench_cycle: cannot find the repository\n");
		return 1;
	}
	double fast = median_overhead(&e, "sim-fast.ini", cycles_from_env("BENCH_FAST_CYCLES"));
	if (fast >= 0)
		printf("figure sim_fast_cycle_s %.3f s 1.5 <=\n", fast);
	snprintf(kernel, sizeof(kernel), "%s/../guest/vmlinux", e.bin);
	if (access(kernel, R_OK) == 0) {
		double full = median_overhead(&e, "sim-full.ini",
					      cycles_from_env("BENCH_FULL_CYCLES"));
		if (full >= 0)
			printf("figure sim_full_cycle_s %.3f s 20 <=\n", full);
	} else {
		fprintf(stderr, "bench_cycle: no guest in '%s/../guest' (scripts/build-guest): "
			"sim_full_cycle_s not measured\n", e.bin);
	}
	e2e_cleanup(&e);
	return fast >= 0 ? 0 : 1;
}
