/* The simulator's mechanics, checked with a probe firmware of a few lines
 * (test/probe-fw.c) so that they do not depend on the real firmware: the pty bridge,
 * relay edges, the PSU's hold-up and rise times to the cycle, PWR_OK levels as the
 * MCU reads them, a relay bounce shorter than the hold-up, external and watchdog
 * resets. Fast mode. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "harness.h"

#define CYC_PER_MS 16000ull

static struct h_sim sim;
static struct h_fw fw;

/* Send one probe command byte and read the probe's answer line. */
static int probe(const char *cmd, char *line, size_t cap)
{
	int rc = h_fw_send_raw(&fw, cmd, strlen(cmd));

	if (rc)
		return rc;
	return h_read_line(&fw.lb, line, cap, 5000);
}

/* Edges recorded since index `from`, of one kind and channel. */
static size_t edges_of(struct h_edge *e, size_t n, size_t from, int kind, int ch,
		       struct h_edge *out, size_t max)
{
	size_t k = 0;

	for (size_t i = from; i < n; i++)
		if (e[i].kind == kind && (kind == H_RESET || e[i].ch == ch) && k < max)
			out[k++] = e[i];
	return k;
}

static size_t nedges(void)
{
	struct h_edge *e;
	size_t n = 0;

	if (h_ctl_edges(&sim, &e, &n) == 0)
		free(e);
	return n;
}

/* Wait (wall time) until the control socket shows the wanted dc state on ch. */
static int wait_dc(int ch, int good, int timeout_ms)
{
	char reply[512], key[16], val[8];

	snprintf(key, sizeof(key), "dc%d", ch);
	for (int i = 0; i < timeout_ms / 10; i++) {
		if (h_ctl(&sim, "status", reply, sizeof(reply)) < 0)
			return -EIO;
		if (h_kv(reply, key, val, sizeof(val)) == 0 && atoi(val) == good)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static void test_cut_hold_up_rise(int ch)
{
	char line[128];
	struct h_edge *e, r[4], d[4], p[4];
	size_t n, from = nedges(), nr, nd, np;
	const char *on = ch ? "E" : "e", *off = ch ? "R" : "r";
	char want[8];

	H_CHECK(probe("p", line, sizeof(line)) >= 0 && !strcmp(line, "p00"),
		"PWR_OK pins with DC good and pwrok_invert=3: want 'p00', got '%s'", line);
	h_fw_send_raw(&fw, on, 1);
	H_CHECK(wait_dc(ch, 0, 5000) == 0, "ch%d: DC never lost after the relay energized", ch);
	snprintf(want, sizeof(want), "p%c%c", ch ? '0' : '1', ch ? '1' : '0');
	H_CHECK(probe("p", line, sizeof(line)) >= 0 && !strcmp(line, want),
		"ch%d: PWR_OK pins with DC lost: want '%s', got '%s'", ch, want, line);
	h_fw_send_raw(&fw, off, 1);
	H_CHECK(wait_dc(ch, 1, 5000) == 0, "ch%d: DC never came back after release", ch);
	H_CHECK(probe("p", line, sizeof(line)) >= 0 && !strcmp(line, "p00"),
		"ch%d: PWR_OK pins with DC back: want 'p00', got '%s'", ch, line);

	if (!H_CHECK(h_ctl_edges(&sim, &e, &n) == 0, "cannot read edges"))
		return;
	nr = edges_of(e, n, from, H_RELAY, ch, r, 4);
	nd = edges_of(e, n, from, H_DC, ch, d, 4);
	np = edges_of(e, n, from, H_PWROK, ch, p, 4);
	if (H_CHECK(nr == 2 && nd == 2 && np == 2,
		    "ch%d: want 2 relay, 2 dc, 2 pwrok edges, got %zu %zu %zu", ch, nr, nd, np)) {
		H_CHECK(r[0].value == 1 && r[1].value == 0, "ch%d: relay edge order", ch);
		H_CHECK(d[0].value == 0 && d[1].value == 1, "ch%d: dc edge order", ch);
		H_CHECK(d[0].cycle - r[0].cycle == 18 * CYC_PER_MS,
			"ch%d: DC lost %" PRIu64 " cycles after the relay, want exactly %llu",
			ch, d[0].cycle - r[0].cycle, 18 * CYC_PER_MS);
		H_CHECK(d[1].cycle - r[1].cycle == 50 * CYC_PER_MS,
			"ch%d: DC back %" PRIu64 " cycles after release, want exactly %llu",
			ch, d[1].cycle - r[1].cycle, 50 * CYC_PER_MS);
		H_CHECK(p[0].cycle == d[0].cycle && p[0].value == 1 &&
			p[1].cycle == d[1].cycle && p[1].value == 0,
			"ch%d: PWR_OK pin edges must coincide with DC edges, inverted", ch);
	}
	free(e);
}

static void test_bounce(void)
{
	char reply[256];
	struct h_edge *e, r[4], d[4];
	size_t n, from = nedges(), nr, nd;

	/* two bytes back to back: the relay is energized for one byte time (87 us) */
	h_fw_send_raw(&fw, "er", 2);
	usleep(300000);		/* fast mode: many hold-up times of simulated time */
	h_ctl(&sim, "status", reply, sizeof(reply));
	if (!H_CHECK(h_ctl_edges(&sim, &e, &n) == 0, "cannot read edges"))
		return;
	nr = edges_of(e, n, from, H_RELAY, 0, r, 4);
	nd = edges_of(e, n, from, H_DC, 0, d, 4);
	H_CHECK(nr == 2, "bounce: want 2 relay edges, got %zu", nr);
	if (nr == 2)
		H_CHECK(r[1].cycle - r[0].cycle < 18 * CYC_PER_MS,
			"bounce lasted %" PRIu64 " cycles", r[1].cycle - r[0].cycle);
	H_CHECK(nd == 0, "a relay bounce shorter than the hold-up dropped DC (%zu dc edges)", nd);
	free(e);
}

static void test_resets(void)
{
	char line[128], reply[256];
	struct h_edge *e, r[4], d[4], x[4];
	size_t n, from, nr, nd, nx;

	/* external reset in the middle of a cut: relay released at the reset */
	from = nedges();
	h_fw_send_raw(&fw, "e", 1);
	H_CHECK(wait_dc(0, 0, 5000) == 0, "DC never lost before the reset");
	H_CHECK(h_ctl(&sim, "reset", reply, sizeof(reply)) >= 0 && !strcmp(reply, "ok"),
		"control 'reset': %s", reply);
	H_CHECK(h_read_line(&fw.lb, line, sizeof(line), 5000) >= 0 && !strcmp(line, "boot 02"),
		"after an external reset the probe reads MCUSR: want 'boot 02', got '%s'", line);
	H_CHECK(wait_dc(0, 1, 5000) == 0, "DC never came back after the reset");
	if (H_CHECK(h_ctl_edges(&sim, &e, &n) == 0, "cannot read edges")) {
		nr = edges_of(e, n, from, H_RELAY, 0, r, 4);
		nd = edges_of(e, n, from, H_DC, 0, d, 4);
		nx = edges_of(e, n, from, H_RESET, 0, x, 4);
		if (H_CHECK(nr == 2 && nd == 2 && nx == 1, "reset: edges %zu %zu %zu", nr, nd, nx)) {
			H_CHECK(x[0].value == 1, "reset cause: want external");
			H_CHECK(r[1].value == 0 && r[1].cycle == x[0].cycle,
				"relay must release at the reset (relay %" PRIu64 ", reset %" PRIu64 ")",
				r[1].cycle, x[0].cycle);
			H_CHECK(d[1].cycle - x[0].cycle == 50 * CYC_PER_MS,
				"DC back %" PRIu64 " cycles after the reset, want %llu",
				d[1].cycle - x[0].cycle, 50 * CYC_PER_MS);
			H_CHECK(r[1].boot_us == 0, "boot_us restarts at the reset");
		}
		free(e);
	}

	/* watchdog reset while energized; the hold-up outlasts it: DC never drops */
	H_CHECK(h_ctl(&sim, "set hold-up-ms 100", reply, sizeof(reply)) >= 0 &&
		!strncmp(reply, "ok", 2), "set hold-up-ms: %s", reply);
	from = nedges();
	h_fw_send_raw(&fw, "ew", 2);
	H_CHECK(h_read_line(&fw.lb, line, sizeof(line), 5000) >= 0 && !strcmp(line, "boot 08"),
		"after a watchdog reset: want 'boot 08', got '%s'", line);
	usleep(300000);
	if (H_CHECK(h_ctl_edges(&sim, &e, &n) == 0, "cannot read edges")) {
		nr = edges_of(e, n, from, H_RELAY, 0, r, 4);
		nd = edges_of(e, n, from, H_DC, 0, d, 4);
		nx = edges_of(e, n, from, H_RESET, 0, x, 4);
		H_CHECK(nx == 1 && x[0].value == 2, "want one watchdog reset edge, got %zu", nx);
		H_CHECK(nr == 2 && r[1].value == 0, "relay must release at the watchdog reset");
		H_CHECK(nd == 0, "DC dropped although the reset came within the hold-up");
		free(e);
	}
	H_CHECK(h_ctl(&sim, "set hold-up-ms 18", reply, sizeof(reply)) >= 0, "set hold-up-ms");
}

int main(void)
{
	char elf[4096];
	const char *args[] = { "--mode", "fast", "--quiet", NULL };
	char line[128];
	int status;

	snprintf(elf, sizeof(elf), "%s", h_build_path("rig/mcusim/probe-fw.elf"));
	if (access(elf, R_OK)) {
		printf("skip: no probe firmware '%s'\n", elf);
		return 77;
	}
	if (h_sim_start(&sim, elf, NULL, args)) {
		h_sim_cleanup(&sim);
		return 1;
	}
	if (h_fw_open(&fw, sim.tty))
		goto out;
	/* the bridge both ways */
	/* Bytes sent before the probe enabled its receiver are lost, as on a real
	 * board: start from a reset whose banner tells the probe is listening. */
	h_ctl(&sim, "reset", line, sizeof(line));
	for (int i = 0; i < 3; i++)	/* the power-on banner may still come first */
		if (h_read_line(&fw.lb, line, sizeof(line), 5000) < 0 || !strcmp(line, "boot 02"))
			break;
	H_CHECK(!strcmp(line, "boot 02"),
		"banner after an external reset: want 'boot 02', got '%s'", line);
	H_CHECK(probe("abcd\n", line, sizeof(line)) >= 0 && !strcmp(line, "abcd"),
		"echo: got '%s'", line);
	test_cut_hold_up_rise(0);
	test_cut_hold_up_rise(1);
	test_bounce();
	test_resets();
	h_fw_close(&fw);
out:
	h_sim_stop(&sim, &status);
	H_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		"powercut-mcusim did not exit 0 on SIGTERM (status 0x%x)", status);
	h_sim_cleanup(&sim);
	if (h_failures) {
		printf("%d checks failed\n", h_failures);
		return 1;
	}
	printf("all probe checks passed\n");
	return 0;
}
