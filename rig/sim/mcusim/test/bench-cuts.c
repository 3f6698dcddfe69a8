/* Benchmark: 120 armed cuts of the real firmware in the simulator (fast mode), with
 * the relay and PWR_OK edges measured to the cycle against the times the firmware
 * reports. Prints `figure` lines for scripts/run-bench. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cuts.h"
#include "harness.h"

#define NCUTS 120
#define HOLD_US 18000.0

int main(void)
{
	static struct h_sim sim;
	struct h_fw fw;
	const char *args[] = { "--mode", "fast", "--quiet", NULL };
	char elf[4096];
	double sum = 0, max = 0, hold_max = 0, rel_max = 0, off_min = 1e12, off_max = 0;
	int done = 0, rc = 1;
	int64_t t0;

	snprintf(elf, sizeof(elf), "%s", h_build_path("firmware/powercut-fw.elf"));
	if (access(elf, R_OK)) {
		fprintf(stderr, "no firmware ELF '%s' (build the firmware first)\n", elf);
		return 1;
	}
	if (h_sim_start(&sim, elf, NULL, args))
		goto out;
	if (h_fw_open(&fw, sim.tty))
		goto out;
	if (cuts_setup(&fw, &sim, 10))
		goto out_fw;
	t0 = clock_mono_ns();
	srandom(42);
	for (int i = 0; i < NCUTS; i++) {
		unsigned e = random() % 50, w = 1 + random() % 100;
		struct cut_cfg c = { .ch = i & 1, .earliest_ms = e, .latest_ms = e + w,
			.off_ms = 30 + random() % 100, .seed = (uint32_t)random() };
		struct cut_res r;

		if (cut_run(&fw, &sim, &c, &r)) {
			fprintf(stderr, "cut %d failed\n", i);
			goto out_fw;
		}
		if (r.fw_off < r.from || r.fw_off > r.to)
			fprintf(stderr, "cut %d fired at %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]\n",
				i, r.fw_off, r.from, r.to);
		sum += r.edge_err;
		max = fmax(max, r.edge_err);
		rel_max = fmax(rel_max, r.edge_rel_err);
		hold_max = fmax(hold_max, fmax(fabs(r.hold_up - HOLD_US), fabs(r.fw_hold_up - HOLD_US)));
		off_min = fmin(off_min, r.clock_offset);
		off_max = fmax(off_max, r.clock_offset);
		done++;
	}
	printf("%d armed cuts in %.1f s of wall time (fast mode)\n", done,
	       (clock_mono_ns() - t0) / 1e9);
	printf("firmware clock offset to the MCU reset (PWR_OK capture): %.3f .. %.3f us\n",
	       off_min, off_max);
	printf("figure cut_edge_error_us_mean %.3f us 10 <=\n", sum / done);
	printf("figure cut_edge_error_us_max %.3f us 10 <=\n", max);
	printf("figure cut_edge_error_rel_us_max %.3f us 10 <=\n", rel_max);
	printf("figure hold_up_error_us_max %.3f us 10 <=\n", hold_max);
	printf("figure cut_count %d cuts 100 >=\n", done);
	rc = 0;
out_fw:
	h_fw_close(&fw);
out:
	h_sim_cleanup(&sim);
	return rc;
}
