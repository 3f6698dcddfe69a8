/* The demo's cut client: performs randomized armed cuts on a running
 * powercut-mcusim and prints one line per cut. A stand-in for the host controller
 * until `powercut` drives the demo.
 *
 *   mcusim-cuts --tty DIR/mcu.tty --control DIR/control.sock [--cuts N] [--seed S]
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuts.h"
#include "harness.h"

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "tty", required_argument, NULL, 't' },
		{ "control", required_argument, NULL, 'c' },
		{ "cuts", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ 0 }
	};
	static struct h_sim sim;
	const char *tty = NULL, *ctl = NULL;
	int ncuts = 5, opt, rc = 1;
	unsigned long seed = 1;
	struct h_fw fw;
	char reply[512];
	uint64_t hold_us = 0;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 't': tty = optarg; break;
		case 'c': ctl = optarg; break;
		case 'n': ncuts = atoi(optarg); break;
		case 's': seed = strtoul(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (!tty || !ctl || ncuts < 1 || optind != argc)
		goto usage;
	if (h_sim_attach(&sim, tty, ctl)) {
		fprintf(stderr, "mcusim-cuts: cannot connect to '%s'\n", ctl);
		return 1;
	}
	if (h_fw_open(&fw, tty))
		return 1;
	if (cuts_setup(&fw, &sim, 100)) {
		fprintf(stderr, "mcusim-cuts: the firmware did not come up on '%s'\n", tty);
		goto out;
	}
	if (h_ctl(&sim, "status", reply, sizeof(reply)) >= 0)
		h_kv_u64(reply, "hold_up_us", &hold_us);
	srandom(seed);
	printf("%d armed cuts, seed %lu, PSU hold-up %.1f ms; times in ms: (fw) as the firmware\n"
	       "reported them (its clock T), the others simulated, since the MCU's reset\n",
	       ncuts, seed, hold_us / 1000.0);
	printf("%-3s %-2s %-19s %11s %11s %11s %9s %11s %11s\n", "cut", "ch", "window (fw)",
	       "relay (fw)", "relay (sim)", "DC lost", "hold-up", "restore(fw)", "DC back");
	for (int i = 0; i < ncuts; i++) {
		unsigned e = 50 + random() % 200, w = 20 + random() % 300;
		struct cut_cfg c = { .ch = random() % 2, .earliest_ms = e, .latest_ms = e + w,
			.off_ms = 150 + random() % 400, .seed = (uint32_t)random() };
		struct cut_res r;
		char win[40];

		if (cut_run(&fw, &sim, &c, &r)) {
			fprintf(stderr, "mcusim-cuts: cut %d did not complete\n", i + 1);
			goto out;
		}
		snprintf(win, sizeof(win), "%.3f-%.3f", r.from / 1e3, r.to / 1e3);
		printf("%-3d %-2d %-19s %11.3f %11.3f %11.3f %6.3f ms %11.3f %11.3f\n", i + 1, c.ch,
		       win, r.fw_off / 1e3, r.sim_off / 1e3, r.sim_lost / 1e3, r.hold_up / 1e3,
		       r.fw_on / 1e3, r.sim_back / 1e3);
		if (r.fw_off < r.from || r.fw_off > r.to) {
			fprintf(stderr, "mcusim-cuts: cut %d fired outside its window\n", i + 1);
			goto out;
		}
	}
	rc = 0;
out:
	h_fw_request(&fw, "defaults", reply, sizeof(reply), 5000);
	h_fw_close(&fw);
	return rc;
usage:
	fprintf(stderr, "usage: mcusim-cuts --tty PATH --control PATH [--cuts N] [--seed S]\n");
	return 2;
}
