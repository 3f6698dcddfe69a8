/* Benchmark: ping round trips through fwlink to the firmware in powercut-mcusim
 * (realtime mode) and the clock fit's stated uncertainty after 2 s of pings.
 *
 * Prints `figure` lines (scripts/run-bench). Finds the simulator and firmware as
 * test_fwlink_sim does; without them it prints why and exits 0 with no figures.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "clockfit.h"
#include "fwlink.h"
#include "log.h"
/* the host's clock.h by path: firmware/core, also on the include path, has one */
#include "../../lib/clock.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int path_join(char *buf, size_t cap, const char *a, const char *b)
{
	int n = snprintf(buf, cap, "%s%s", a, b);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int main(void)
{
	char self[PATH_MAX], build[PATH_MAX], mcusim[PATH_MAX], fw[PATH_MAX];
	char dir[PATH_MAX], tty[PATH_MAX], line[PATH_MAX * 2];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int rc = 1;

	if (n < 0)
		return 1;
	self[n] = '\0';
	snprintf(build, sizeof(build), "%s", self);
	for (int i = 0; i < 4; i++) {
		char *slash = strrchr(build, '/');
		if (slash)
			*slash = '\0';
	}
	if (path_join(mcusim, sizeof(mcusim), build, "/bin/powercut-mcusim") < 0 ||
	    path_join(fw, sizeof(fw), build, "/firmware/powercut-fw.elf") < 0 ||
	    path_join(dir, sizeof(dir), build, "/tmp") < 0)
		return 1;
	if (access(mcusim, X_OK) != 0 || access(fw, R_OK) != 0) {
		printf("no figures: needs '%s' and '%s'\n", mcusim, fw);
		return 0;
	}
	mkdir(dir, 0755);
	if (path_join(dir, sizeof(dir), build, "/tmp/fwlink-bench-XXXXXX") < 0 || !mkdtemp(dir))
		return 1;
	log_set_prog("bench_fwlink");

	const char *argv[] = { mcusim, "--firmware", fw, "--run-dir", dir, "--mode", "realtime",
			       "--quiet", NULL };
	struct child c = { .argv = argv, .in = CHILD_NULL, .out = CHILD_PIPE, .err = CHILD_INHERIT };

	if (child_start(&c) < 0)
		goto out_dir;

	size_t len = 0;
	struct pollfd p = { .fd = c.fd_out, .events = POLLIN };

	while (len + 1 < sizeof(line) && poll(&p, 1, 10000) > 0 && read(c.fd_out, line + len, 1) == 1 &&
	       line[len] != '\n')
		len++;
	line[len] = '\0';
	if (strncmp(line, "ready ", 6) != 0) {
		fprintf(stderr, "bench_fwlink: simulator did not get ready: '%s'\n", line);
		goto out_child;
	}
	if (path_join(tty, sizeof(tty), dir, "/mcu.tty") < 0)
		goto out_child;

	struct fwlink_opts o = { .path = tty, .open_timeout_ms = 5000 };
	struct fwlink *l = fwlink_open(&o);

	if (!l)
		goto out_child;

	/* 40 pings spread over 2 s: round trips and the fit */
	int64_t rtt[40];
	int k = 0;

	for (int i = 0; i < 40; i++) {
		struct fw_reply r;
		uint64_t t;

		if (fwlink_request(l, 1000, &r, "ping %d", i) == 0 &&
		    fw_reply_get_u64(&r, "t", &t) == 0) {
			rtt[k++] = r.rx_ns - r.tx_ns;
			clockfit_add(fwlink_clockfit(l), r.tx_ns, t, r.rx_ns);
		}
		usleep(50000);
	}
	struct clockfit_info info;

	if (k < 10 || clockfit_info(fwlink_clockfit(l), &info) < 0) {
		fprintf(stderr, "bench_fwlink: only %d pings answered\n", k);
		goto out_link;
	}
	qsort(rtt, (size_t)k, sizeof(rtt[0]), cmp_i64);

	int64_t ns, unc;
	uint64_t mid_fw;

	/* the uncertainty of a time in the middle of the sampled span */
	if (clockfit_unmap(fwlink_clockfit(l), clock_mono_ns() - 1000000000LL, &mid_fw) < 0 ||
	    clockfit_map(fwlink_clockfit(l), mid_fw, &ns, &unc) < 0)
		goto out_link;
	printf("fit: %d/%d samples, drift %.1f ppm (%s), residual rms %.1f us\n", info.used,
	       info.samples, info.drift_ppm, info.drift_fitted ? "fitted" : "bounded",
	       info.residual_rms_ns / 1e3);
	/* Targets from the wire: at 115200 baud a ping (up to 19 bytes) and its reply
	 * (up to 37 bytes) take 4.9 ms on the line alone, so a round trip cannot beat
	 * that; the bound on a mapped time is about half the best round trips. */
	printf("figure fwlink_ping_rtt_min_us %.1f us 6000 <=\n", rtt[0] / 1e3);
	printf("figure fwlink_ping_rtt_median_us %.1f us 8000 <=\n", rtt[k / 2] / 1e3);
	printf("figure clock_fit_uncertainty_us %.1f us 4000 <=\n", unc / 1e3);
	rc = 0;
out_link:
	fwlink_close(l);
out_child:;
	int status;
	child_kill(&c, SIGTERM);
	child_finish(&c, 5000, &status);
out_dir:;
	const char *rm[] = { "rm", "-rf", dir, NULL };
	struct child_result res;
	child_run(rm, NULL, 5000, &res);
	child_result_release(&res);
	return rc;
}
