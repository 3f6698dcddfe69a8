#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cuts.h"

static int want_level(struct h_fw *fw, int ch, int level, uint64_t *t, int tmo)
{
	struct h_event ev;
	uint64_t v;
	int rc;

	for (;;) {
		rc = h_fw_event(fw, "pwrok", ch, &ev, tmo);
		if (rc) {
			fprintf(stderr, "no pwrok level=%d event on ch%d: %s\n", level, ch,
				strerror(-rc));
			return rc;
		}
		if (h_kv_u64(ev.kv, "level", &v) == 0 && (int)v == level) {
			*t = ev.t;
			return 0;
		}
	}
}

static int want_relay(struct h_fw *fw, int ch, const char *power, uint64_t *t, int tmo)
{
	struct h_event ev;
	char p[16], c[16];
	int rc;

	for (;;) {
		rc = h_fw_event(fw, "relay", ch, &ev, tmo);
		if (rc) {
			fprintf(stderr, "no relay power=%s event on ch%d: %s\n", power, ch,
				strerror(-rc));
			return rc;
		}
		if (h_kv(ev.kv, "power", p, sizeof(p)) == 0 && !strcmp(p, power)) {
			if (h_kv(ev.kv, "cause", c, sizeof(c)) || strcmp(c, "arm")) {
				fprintf(stderr, "relay event '%s': want cause=arm\n", ev.kv);
				return -EPROTO;
			}
			*t = ev.t;
			return 0;
		}
	}
}

int cuts_setup(struct h_fw *fw, struct h_sim *sim, unsigned min_off_ms)
{
	char reply[256], body[64];
	struct h_event ev;
	int rc;

	/* let a power-on banner finish, then start from a reset we watch */
	usleep(300000);
	tcflush(fw->fd, TCIFLUSH);
	fw->lb.len = 0;
	if ((rc = h_ctl(sim, "reset", reply, sizeof(reply))) < 0)
		return rc;
	if ((rc = h_fw_event(fw, "boot", -1, &ev, 5000))) {
		fprintf(stderr, "no boot banner after an external reset: %s\n", strerror(-rc));
		return rc;
	}
	h_fw_drain(fw);
	if ((rc = h_fw_request(fw, "set host_timeout_ms 600000", reply, sizeof(reply), 5000)) < 0)
		return rc;
	snprintf(body, sizeof(body), "set min_off_ms %u", min_off_ms);
	if ((rc = h_fw_request(fw, body, reply, sizeof(reply), 5000)) < 0)
		return rc;
	if (strncmp(reply, "ok", 2)) {
		fprintf(stderr, "'%s': %s\n", body, reply);
		return -EPROTO;
	}
	return 0;
}

static uint64_t edge_count(struct h_sim *sim)
{
	char reply[512];
	uint64_t n = 0;

	if (h_ctl(sim, "status", reply, sizeof(reply)) >= 0)
		h_kv_u64(reply, "edges", &n);
	return n;
}

int cut_run(struct h_fw *fw, struct h_sim *sim, const struct cut_cfg *cfg,
	    struct cut_res *r)
{
	char body[96], reply[256];
	struct h_edge *e = NULL;
	size_t n;
	uint64_t from_edge = edge_count(sim);
	int tmo_fire = cfg->latest_ms + 5000, tmo_off = cfg->off_ms + 5000;
	int rc, found = 0;

	memset(r, 0, sizeof(*r));
	snprintf(body, sizeof(body), "arm %d %u %u %u %" PRIu32, cfg->ch, cfg->earliest_ms,
		 cfg->latest_ms, cfg->off_ms, cfg->seed);
	if ((rc = h_fw_request(fw, body, reply, sizeof(reply), 5000)) < 0)
		return rc;
	if (h_kv_u64(reply, "from", &r->from) || h_kv_u64(reply, "to", &r->to)) {
		fprintf(stderr, "'%s': %s\n", body, reply);
		return -EPROTO;
	}
	if ((rc = want_relay(fw, cfg->ch, "off", &r->fw_off, tmo_fire)) ||
	    (rc = want_level(fw, cfg->ch, 0, &r->fw_lost, 5000)) ||
	    (rc = want_relay(fw, cfg->ch, "on", &r->fw_on, tmo_off)) ||
	    (rc = want_level(fw, cfg->ch, 1, &r->fw_back, 5000)))
		return rc;
	if ((rc = h_ctl_edges(sim, &e, &n)))
		return rc;
	for (size_t i = from_edge; i < n; i++) {
		double t = e[i].boot_cycles / 16.0;

		if (e[i].ch != cfg->ch)
			continue;
		if (e[i].kind == H_RELAY && e[i].value == 1 && !(found & 1))
			r->sim_off = t, found |= 1;
		else if (e[i].kind == H_DC && e[i].value == 0 && !(found & 2))
			r->sim_lost = t, found |= 2;
		else if (e[i].kind == H_RELAY && e[i].value == 0 && !(found & 4))
			r->sim_on = t, found |= 4;
		else if (e[i].kind == H_DC && e[i].value == 1 && !(found & 8))
			r->sim_back = t, found |= 8;
	}
	free(e);
	if (found != 15) {
		fprintf(stderr, "the simulator recorded only some edges of the cut (mask %d)\n",
			found);
		return -EPROTO;
	}
	r->edge_err = fabs(r->sim_off - (double)r->fw_off);
	r->pwrok_err = fmax(fabs(r->sim_lost - (double)r->fw_lost),
			    fabs(r->sim_back - (double)r->fw_back));
	r->hold_up = r->sim_lost - r->sim_off;
	r->clock_offset = r->sim_lost - (double)r->fw_lost;
	r->edge_rel_err = fabs(r->sim_off - (double)r->fw_off - r->clock_offset);
	r->fw_hold_up = (double)r->fw_lost - (double)r->fw_off;
	r->rise = r->sim_back - r->sim_on;
	return 0;
}
