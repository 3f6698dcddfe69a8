/* The firmware clock across the wrap of its 32-bit count of timer periods, which a
 * board reaches after 4.46 years of uptime (issue 16: the clock used to jump back
 * there and both safety timers stopped).
 *
 * Runs build/firmware/powercut-fw-clockwrap.elf, the real firmware built with its
 * period count started 96 periods (3.1 s) short of the wrap (firmware/build.mk), in
 * realtime mode. Before the wrap it arms a cut whose window lies after it and
 * powers a second channel down, then falls silent: the armed cut must fire at the
 * moment the `arm` reply announced and end after its off time, the host-silence rule
 * must restore the second channel, every event time must grow, and the firmware's
 * times must match the simulator's own record of the edges to the microsecond. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define START_WRAPS	((uint64_t)0x100000000 - 96)
#define PERIOD_US	((uint64_t)32768)	/* 65536 ticks of 0.5 us */
#define WRAP_US		((uint64_t)0x100000000 * PERIOD_US)	/* 2^47 us: 4.46 years */
#define START_US	(START_WRAPS * PERIOD_US)

static struct h_sim sim;
static struct h_fw fw;

static int ping_t(uint64_t *t)
{
	char reply[256];

	if (h_fw_request(&fw, "ping", reply, sizeof(reply), 5000) < 0)
		return -EIO;
	return h_kv_u64(reply, "t", t);
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* The simulator's time (since the MCU's reset) of the first relay edge of ch that
 * energized (value 1) or released (value 0) after boot_us_from. */
static int sim_edge(int ch, int value, uint64_t boot_us_from, uint64_t *boot_us)
{
	struct h_edge *e;
	size_t n;
	int rc = -ENOENT;

	if (h_ctl_edges(&sim, &e, &n) < 0)
		return -EIO;
	for (size_t i = 0; i < n; i++)
		if (e[i].kind == H_RELAY && e[i].ch == ch && e[i].value == value &&
		    e[i].boot_us >= boot_us_from) {
			*boot_us = e[i].boot_us;
			rc = 0;
			break;
		}
	free(e);
	return rc;
}

static void test_wrap(void)
{
	char reply[256], line[256];
	struct h_event ev[4];
	uint64_t t, from = 0, to = 0, at1 = 0, prev_t = 0, prev_seq = 0, sim_us, delay_ms;
	int got = 0;

	sleep_us(200000);
	while (h_fw_line(&fw, line, sizeof(line), 100) >= 0)
		;	/* the banner, perhaps cut by the open */
	h_fw_drain(&fw);
	if (!H_CHECK(ping_t(&t) == 0, "no answer to ping"))
		return;
	if (!H_CHECK(t >= START_US && t < WRAP_US - 1000000,
		     "the clock reads %" PRIu64 " us, want between %" PRIu64 " and the wrap at %"
		     PRIu64 " less 1 s (is this the clock-wrap build?)", t, START_US, WRAP_US))
		return;
	/* At once, 3 s before the wrap (no waiting for a moment: a loaded machine lets
	 * the simulation fall behind and catch up): a cut armed to fire 300 ms after
	 * the wrap, 300 ms long, and channel 1 down until the host-silence rule
	 * (host_timeout_ms 5000) restores it, 2 s after the wrap. */
	delay_ms = (WRAP_US - t) / 1000 + 300;
	snprintf(line, sizeof(line), "arm 0 %" PRIu64 " %" PRIu64 " 300 1", delay_ms, delay_ms);
	h_fw_request(&fw, line, reply, sizeof(reply), 5000);
	H_CHECK(h_kv_u64(reply, "from", &from) == 0 && h_kv_u64(reply, "to", &to) == 0 &&
		from == to && from > WRAP_US && from - delay_ms * 1000 < WRAP_US,
		"arm across the wrap: '%s'", reply);
	h_fw_request(&fw, "off 1", reply, sizeof(reply), 5000);
	H_CHECK(h_kv_u64(reply, "at", &at1) == 0 && at1 < WRAP_US, "off 1: '%s'", reply);

	/* silence: four relay edges, in this order */
	while (got < 4 && h_fw_event(&fw, "relay", -1, &ev[got], 8000) == 0) {
		H_CHECK(ev[got].t > prev_t && (got == 0 || ev[got].seq > prev_seq),
			"event '%s' at T=%" PRIu64 " seq %" PRIu64 " after T=%" PRIu64 " seq %" PRIu64,
			ev[got].kv, ev[got].t, ev[got].seq, prev_t, prev_seq);
		prev_t = ev[got].t;
		prev_seq = ev[got].seq;
		got++;
	}
	if (!H_CHECK(got == 4, "%d of 4 relay events across the wrap", got))
		return;
	H_CHECK(strstr(ev[0].kv, "ch=1 power=off cause=off") && ev[0].t >= at1 &&
		ev[0].t - at1 < 20, "first: '%s' at %" PRIu64 ", want ch 1 off at %" PRIu64,
		ev[0].kv, ev[0].t, at1);
	H_CHECK(strstr(ev[1].kv, "ch=0 power=off cause=arm") && ev[1].t >= from &&
		ev[1].t - from < 20, "second: '%s' at %" PRIu64 ", want the armed cut at %" PRIu64,
		ev[1].kv, ev[1].t, from);
	H_CHECK(strstr(ev[2].kv, "ch=0 power=on cause=arm") && ev[2].t - ev[1].t >= 300000 &&
		ev[2].t - ev[1].t < 300100, "third: '%s', %" PRIu64 " us after the cut",
		ev[2].kv, ev[2].t - ev[1].t);
	/* the last valid line was `off 1`, parsed 1 ms before its edge (the host-silence
	 * clock starts when its line is complete, some 20 us before the parse) */
	H_CHECK(strstr(ev[3].kv, "ch=1 power=on cause=watchdog") &&
		ev[3].t + 100 - (at1 - 1000) >= 5000000 && ev[3].t - (at1 - 1000) < 5100000,
		"fourth: '%s', %" PRIu64 " us after the last host line, host_timeout_ms=5000",
		ev[3].kv, ev[3].t - (at1 - 1000));
	H_CHECK(ev[1].t > WRAP_US && ev[3].t > WRAP_US, "the edges are not past the wrap");

	/* the simulator's record: the firmware's times are its own, offset by the start */
	if (H_CHECK(sim_edge(0, 1, 0, &sim_us) == 0, "the simulator saw no cut"))
		H_CHECK(llabs((long long)(ev[1].t - START_US) - (long long)sim_us) <= 10,
			"armed cut at firmware T-start %" PRIu64 " us, simulator %" PRIu64 " us",
			ev[1].t - START_US, sim_us);
	if (H_CHECK(sim_edge(1, 0, at1 - START_US, &sim_us) == 0, "the simulator saw no restore"))
		H_CHECK(llabs((long long)(ev[3].t - START_US) - (long long)sim_us) <= 10,
			"restore at firmware T-start %" PRIu64 " us, simulator %" PRIu64 " us",
			ev[3].t - START_US, sim_us);
	/* and the clock goes on */
	H_CHECK(ping_t(&t) == 0 && t > ev[3].t, "ping after the wrap: %" PRIu64, t);
	h_fw_request(&fw, "status", reply, sizeof(reply), 5000);
	H_CHECK(strstr(reply, "ch0=on") && strstr(reply, "ch1=on"), "status: '%s'", reply);
}

int main(void)
{
	const char *args[] = { "--quiet", NULL };
	char elf[4096];

	snprintf(elf, sizeof(elf), "%s", h_build_path("firmware/powercut-fw-clockwrap.elf"));
	if (access(elf, R_OK)) {
		printf("skip: no clock-wrap firmware ELF '%s' (make build/firmware/powercut-fw-clockwrap.elf)\n",
		       elf);
		return 77;
	}
	if (h_sim_start(&sim, elf, NULL, args)) {
		h_sim_cleanup(&sim);
		return 1;
	}
	if (h_fw_open(&fw, sim.tty) == 0) {
		test_wrap();
		h_fw_close(&fw);
	}
	return h_sim_finish(&sim, "clock-wrap");
}
