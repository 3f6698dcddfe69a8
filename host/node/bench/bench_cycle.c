/* Benchmark of one `powercut cycle` per tier: the wall time of the whole command
 * (simulator start, database, disks, baseline, workload start, cut, restart, checks,
 * classification, record, clean-up) minus the configured parts it reports in its
 * --json timing — the workload until the firmware's cut, the off time and the boot
 * delay.
 *   sim_fast_cycle_s  median of BENCH_FAST_CYCLES (default 3) fast-tier cycles
 *   sim_full_cycle_s  one full-tier cycle with three disks (needs build/guest)
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

int main(void)
{
	struct e2e e;
	double fast[16];
	const char *s = getenv("BENCH_FAST_CYCLES");
	int n = s && atoi(s) > 0 && atoi(s) <= 16 ? atoi(s) : 3, ok = 0;
	char kernel[PATH_MAX + 80];

	if (e2e_init(&e) < 0) {
		fprintf(stderr, "bench_cycle: cannot find the repository\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		double v = overhead(&e, "sim-fast.ini");
		if (v >= 0)
			fast[ok++] = v;
	}
	if (ok) {
		qsort(fast, (size_t)ok, sizeof(double), cmp);
		printf("figure sim_fast_cycle_s %.3f s 1.5 <=\n", fast[ok / 2]);
	}
	snprintf(kernel, sizeof(kernel), "%s/../guest/vmlinux", e.bin);
	if (access(kernel, R_OK) == 0) {
		double v = overhead(&e, "sim-full.ini");
		if (v >= 0)
			printf("figure sim_full_cycle_s %.3f s 20 <=\n", v);
	} else {
		fprintf(stderr, "bench_cycle: no guest in '%s/../guest' (scripts/build-guest): "
			"sim_full_cycle_s not measured\n", e.bin);
	}
	e2e_cleanup(&e);
	return ok ? 0 : 1;
}
