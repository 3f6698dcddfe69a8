/* powercut relay list|status|on|off|cut|arm|selftest BENCH.ini */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cmd.h"
#include "log.h"

const struct cmd_opt relay_opts[] = {
	{ "channel", 1, "N", "channel to drive (default: [relay] channel)" },
	{ "off-ms", 1, "MS", "cut, arm, selftest: power-off time (default: [campaign] off_ms)" },
	{ "for", 1, "DURATION", "off: restore power after this long (default: hold until "
	  "interrupted)" },
	{ "window", 1, "MIN..MAX", "arm: cut window in ms from now (default: [campaign] "
	  "window_min_ms..window_max_ms)" },
	{ "seed", 1, "N", "arm: seed of the firmware's draw (default: [campaign] seed)" },
	{ 0 }
};

static int channel_of(struct pc_ctx *ctx)
{
	const char *c = cmd_opt(ctx, "channel");

	return c ? atoi(c) : (int)ctx->cfg->relay->channel;
}

static int int_opt(struct pc_ctx *ctx, const char *name, int64_t def, int64_t *v)
{
	const char *s = cmd_opt(ctx, name);
	char *end;

	*v = def;
	if (!s)
		return 0;
	*v = strtoll(s, &end, 10);
	if (end == s || *end) {
		pc_err(LOG_MAIN, "invalid value '%s' for '--%s'", s, name);
		return -EINVAL;
	}
	return 0;
}

static json_t *cut_json(const struct relay_cut *c)
{
	json_t *j = json_object();

	json_object_set_new(j, "channel", json_integer(c->channel));
	json_object_set_new(j, "timed_by", json_string(c->timed_by ? c->timed_by : "host"));
	json_object_set_new(j, "off_ms", json_integer(c->off_ms));
	json_object_set_new(j, "planned_ns", json_integer(c->planned_ns));
	json_object_set_new(j, "actual_ns", json_integer(c->actual_ns));
	json_object_set_new(j, "uncertainty_ns", json_integer(c->uncertainty_ns));
	if (c->window_from_ns) {
		json_object_set_new(j, "window_from_ns", json_integer(c->window_from_ns));
		json_object_set_new(j, "window_to_ns", json_integer(c->window_to_ns));
	}
	if (c->fw_at_us)
		json_object_set_new(j, "fw_at_us", json_integer((json_int_t)c->fw_at_us));
	if (c->fw_from_us) {
		json_object_set_new(j, "fw_from_us", json_integer((json_int_t)c->fw_from_us));
		json_object_set_new(j, "fw_to_us", json_integer((json_int_t)c->fw_to_us));
	}
	return j;
}

static json_t *event_json(const struct relay_event *e)
{
	json_t *j = json_object();

	json_object_set_new(j, "kind", json_string(e->kind == RELAY_EV_RELAY ? "relay" :
						   e->kind == RELAY_EV_PWROK ? "pwrok" : "reset"));
	json_object_set_new(j, "channel", json_integer(e->channel));
	json_object_set_new(j, "level", json_integer(e->level));
	if (e->cause[0])
		json_object_set_new(j, "cause", json_string(e->cause));
	json_object_set_new(j, "mono_ns", json_integer(e->mono_ns));
	json_object_set_new(j, "uncertainty_ns", json_integer(e->uncertainty_ns));
	json_object_set_new(j, "fw_us", json_integer((json_int_t)e->fw_us));
	return j;
}

static int do_status(struct pc_ctx *ctx)
{
	struct relay_status s;
	int rc = relay_status(ctx->relay, &s);

	if (rc < 0)
		return EXIT_FAIL;
	if (ctx->json) {
		json_t *j = json_object(), *chs = json_array();
		json_object_set_new(j, "bench", json_string(ctx->cfg->bench->name));
		json_object_set_new(j, "driver", json_string(ctx->relay->ops->name));
		json_object_set_new(j, "firmware", json_string(s.fw));
		json_object_set_new(j, "device", json_string(s.id));
		if (s.settings[0])
			json_object_set_new(j, "settings", json_string(s.settings));
		if (s.bod_mv >= 0)
			json_object_set_new(j, "bod_mv", json_integer(s.bod_mv));
		for (int i = 0; i < s.channels; i++) {
			json_t *c = json_object();
			json_object_set_new(c, "channel", json_integer(i));
			json_object_set_new(c, "state", json_string(relay_state_name(s.state[i])));
			json_object_set_new(c, "pwrok", s.pwrok[i] < 0 ? json_null() :
					    json_integer(s.pwrok[i]));
			json_array_append_new(chs, c);
		}
		json_object_set_new(j, "channels", chs);
		cmd_print_json(j);
		return EXIT_OK;
	}
	printf("bench:    %s\ndriver:   %s\nfirmware: %s\ndevice:   %s\n", ctx->cfg->bench->name,
	       ctx->relay->ops->name, s.fw[0] ? s.fw : "-", s.id[0] ? s.id : "-");
	if (s.settings[0])
		printf("settings: %s%s\n", s.settings, !strcmp(s.settings, "ok") ? "" :
		       !strcmp(s.settings, "recovered") ?
		       "  WARNING: one EEPROM copy was damaged; the other was loaded" :
		       "  WARNING: the firmware runs on its defaults");
	if (s.bod_mv > 0)
		printf("brown-out: %d.%d V\n", s.bod_mv / 1000, s.bod_mv % 1000 / 100);
	else if (s.bod_mv == 0)
		printf("brown-out: off  WARNING: set it with 'make fuses' (rig/hardware.md)\n");
	for (int i = 0; i < s.channels; i++) {
		printf("channel %d: %s", i, relay_state_name(s.state[i]));
		if (s.pwrok[i] >= 0)
			printf(", PWR_OK %s", s.pwrok[i] ? "good" : "lost");
		printf("\n");
	}
	return EXIT_OK;
}

/* Collect edges until channel ch is powered again (relay on edge), or timeout. */
static int wait_restore(struct pc_ctx *ctx, int ch, int timeout_ms, json_t *events,
			struct relay_event *off, struct relay_event *pfall,
			struct relay_event *on, struct relay_event *prise)
{
	int64_t end = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
	bool restored = false;

	while (!relay_interrupted && clock_mono_ns() < end) {
		struct relay_event ev;
		int rc = relay_next_event(ctx->relay, 200, &ev);
		if (rc == -ETIMEDOUT)
			continue;
		if (rc < 0)
			return rc;
		if (ev.channel != ch && ev.kind != RELAY_EV_RESET)
			continue;
		if (events)
			json_array_append_new(events, event_json(&ev));
		if (!ctx->json)
			printf("  %s ch%d %s%s%s  t=%.6f s (+-%.1f us)\n",
			       ev.kind == RELAY_EV_RELAY ? "relay" : ev.kind == RELAY_EV_PWROK ?
			       "pwrok" : "reset", ev.channel,
			       ev.kind == RELAY_EV_PWROK ? (ev.level ? "good" : "lost") :
			       (ev.level ? "on" : "off"), ev.cause[0] ? " cause=" : "", ev.cause,
			       ev.mono_ns / 1e9, ev.uncertainty_ns / 1e3);
		if (ev.kind == RELAY_EV_RELAY && ev.level == 0 && off)
			*off = ev;
		if (ev.kind == RELAY_EV_PWROK && ev.level == 0 && pfall)
			*pfall = ev;
		if (ev.kind == RELAY_EV_RELAY && ev.level == 1) {
			if (on)
				*on = ev;
			restored = true;
		}
		if (ev.kind == RELAY_EV_PWROK && ev.level == 1) {
			if (prise)
				*prise = ev;
			if (restored)
				return 0;
		}
		if (restored && !prise)
			return 0;
	}
	return relay_interrupted ? -EINTR : -ETIMEDOUT;
}

static int do_cut(struct pc_ctx *ctx, bool arm)
{
	int ch = channel_of(ctx);
	int64_t off_ms, seed;
	struct relay_cut rec;
	json_t *events = ctx->json ? json_array() : NULL;
	int rc;

	if (int_opt(ctx, "off-ms", ctx->cfg->campaign->off_ms, &off_ms) < 0 ||
	    int_opt(ctx, "seed", (int64_t)ctx->cfg->campaign->seed, &seed) < 0)
		return EXIT_USAGE;
	if (arm) {
		int64_t lo = ctx->cfg->campaign->window_min_ms, hi = ctx->cfg->campaign->window_max_ms;
		const char *w = cmd_opt(ctx, "window");
		if (w && sscanf(w, "%" SCNd64 "..%" SCNd64, &lo, &hi) != 2) {
			pc_err(LOG_MAIN, "invalid value '%s' for '--window' (expected MIN..MAX)", w);
			return EXIT_USAGE;
		}
		rc = relay_arm(ctx->relay, ch, (int)lo, (int)hi, (int)off_ms, (uint32_t)seed, &rec);
	} else {
		rc = relay_cut(ctx->relay, ch, (int)off_ms, &rec);
	}
	if (rc < 0) {
		json_decref(events);
		return rc == -ENOTSUP ? EXIT_USAGE : EXIT_FAIL;
	}
	if (!ctx->json)
		printf("%s channel %d for %lld ms, timed by %s\n", arm ? "armed" : "cut", ch,
		       (long long)off_ms, rec.timed_by);
	if (ctx->relay->ops->next_event) {
		int64_t wait = off_ms + 5000 + (arm ? ctx->cfg->campaign->window_max_ms : 0);
		struct relay_event off = { 0 };
		rc = wait_restore(ctx, ch, (int)wait, events, &off, NULL, NULL, NULL);
		if (arm && off.mono_ns) {
			rec.actual_ns = off.mono_ns;
			rec.uncertainty_ns = off.uncertainty_ns;
			rec.fw_at_us = off.fw_us;
		}
		if (rc < 0) {
			pc_err(LOG_RELAY, "channel %d: power did not come back (%s)", ch, strerror(-rc));
			json_decref(events);
			return relay_interrupted ? EXIT_FAIL : EXIT_FAIL;
		}
	}
	if (ctx->db) {
		struct store_cut sc = {
			.channel = ch, .kind = "power", .timed_by = rec.timed_by,
			.off_ms = off_ms, .planned_mono_ns = rec.planned_ns,
			.actual_mono_ns = rec.actual_ns, .uncertainty_ns = rec.uncertainty_ns,
			.relay_off_mono_ns = rec.actual_ns,
		};
		if (arm) {
			sc.seed = (uint64_t)seed;
			sc.window_min_ms = ctx->cfg->campaign->window_min_ms;
			sc.window_max_ms = ctx->cfg->campaign->window_max_ms;
			const char *w = cmd_opt(ctx, "window");
			if (w)
				sscanf(w, "%" SCNd64 "..%" SCNd64, &sc.window_min_ms, &sc.window_max_ms);
		}
		if (store_cut_insert(ctx->db, &sc, NULL) < 0)
			return EXIT_FAIL;
	}
	if (ctx->json) {
		json_t *j = cut_json(&rec);
		json_object_set_new(j, "events", events ? events : json_array());
		cmd_print_json(j);
	} else {
		printf("cut at %.6f s (+-%.1f us), power restored\n", rec.actual_ns / 1e9,
		       rec.uncertainty_ns / 1e3);
	}
	return EXIT_OK;
}

/* Cut each channel briefly; PWR_OK must fall after the relay opens (within the PSU
 * hold-up plus margin) and come back after it closes. */
static int do_selftest(struct pc_ctx *ctx)
{
	json_t *res = json_array();
	int failures = 0, n = (int)ctx->cfg->relay->channels;
	int64_t off_ms;

	if (int_opt(ctx, "off-ms", 300, &off_ms) < 0)
		return EXIT_USAGE;
	if (!ctx->relay->ops->next_event) {
		pc_err(LOG_RELAY, "relay driver '%s' reports no edges: selftest needs the "
		       "serial driver", ctx->relay->ops->name);
		json_decref(res);
		return EXIT_USAGE;
	}
	for (int ch = 0; ch < n && !relay_interrupted; ch++) {
		struct relay_cut rec;
		struct relay_event off = { 0 }, fall = { 0 }, on = { 0 }, rise = { 0 };
		const char *why = NULL;
		char whybuf[160];

		if (relay_cut(ctx->relay, ch, (int)off_ms, &rec) < 0) {
			why = "cut refused";
		} else if (wait_restore(ctx, ch, (int)off_ms + 5000, NULL, &off, &fall, &on, &rise) < 0) {
			why = "no complete off/on sequence within the time limit";
		} else if (!fall.mono_ns) {
			why = "PWR_OK did not fall (wiring?)";
		} else if (!rise.mono_ns) {
			why = "PWR_OK did not return";
		} else {
			/* Both edges on the firmware's own clock: exact, no mapping error. */
			double hold = (double)(fall.fw_us - off.fw_us) / 1e3;
			double rise_ms = (double)(rise.fw_us - on.fw_us) / 1e3;
			if (hold < 0 || hold > 1000) {
				snprintf(whybuf, sizeof(whybuf), "implausible hold-up %.3f ms", hold);
				why = whybuf;
			} else if (rise_ms < 0 || rise_ms > 5000) {
				snprintf(whybuf, sizeof(whybuf), "implausible rise time %.3f ms", rise_ms);
				why = whybuf;
			}
		}
		json_t *j = json_object();
		json_object_set_new(j, "channel", json_integer(ch));
		json_object_set_new(j, "ok", json_boolean(!why));
		if (why)
			json_object_set_new(j, "error", json_string(why));
		if (fall.fw_us && off.fw_us)
			json_object_set_new(j, "hold_up_ms", json_real((double)(fall.fw_us - off.fw_us) / 1e3));
		if (rise.fw_us && on.fw_us)
			json_object_set_new(j, "rise_ms", json_real((double)(rise.fw_us - on.fw_us) / 1e3));
		json_array_append_new(res, j);
		if (!ctx->json)
			printf("channel %d: %s%s%s\n", ch, why ? "FAIL" : "ok", why ? ": " : "",
			       why ? why : "");
		failures += why != NULL;
	}
	if (ctx->json) {
		json_t *j = json_object();
		json_object_set_new(j, "ok", json_boolean(!failures));
		json_object_set_new(j, "channels", res);
		cmd_print_json(j);
	} else {
		json_decref(res);
	}
	return failures ? EXIT_FAIL : EXIT_OK;
}

int cmd_relay(struct pc_ctx *ctx)
{
	const char *action = ctx->argc > 0 ? ctx->argv[0] : "";

	if (ctx->argc != 1) {
		pc_err(LOG_MAIN, "usage: powercut %s", ctx->cmd->usage);
		return EXIT_USAGE;
	}
	if (!strcmp(action, "list")) {
		if (ctx->json) {
			json_t *a = json_array();
			for (size_t i = 0; relay_drivers[i]; i++) {
				json_t *d = json_object();
				json_object_set_new(d, "name", json_string(relay_drivers[i]->name));
				json_object_set_new(d, "help", json_string(relay_drivers[i]->help));
				json_object_set_new(d, "device_timed_cuts", json_boolean(relay_drivers[i]->arm != NULL));
				json_array_append_new(a, d);
			}
			cmd_print_json(a);
		} else {
			for (size_t i = 0; relay_drivers[i]; i++)
				printf("%-8s %s%s\n", relay_drivers[i]->name, relay_drivers[i]->help,
				       !strcmp(relay_drivers[i]->name, ctx->cfg->relay->driver) ?
				       " (this bench)" : "");
		}
		return EXIT_OK;
	}
	if (!strcmp(action, "status"))
		return do_status(ctx);
	if (!strcmp(action, "on"))
		return relay_on(ctx->relay, channel_of(ctx)) < 0 ? EXIT_FAIL : EXIT_OK;
	if (!strcmp(action, "off")) {
		int ch = channel_of(ctx);
		const char *f = cmd_opt(ctx, "for");
		int64_t ms = -1;
		if (f) {
			struct opt_def d = { "for", OPT_DURATION, 0, NULL, 0, 0, NULL, "", 0 };
			if (opt_parse(&d, &ms, f, NULL, NULL) < 0)
				return EXIT_USAGE;
		}
		if (relay_off(ctx->relay, ch) < 0)
			return EXIT_FAIL;
		/* Power stays off only while powercut runs: every exit restores it. */
		if (!ctx->json)
			printf("channel %d off %s\n", ch, f ? "" : "until interrupted (Ctrl-C)");
		fflush(stdout);
		if (!ctx->relay->ops->next_event) {
			int rc = cmd_wait(ctx, ms < 0 ? INT32_MAX : (int)ms);
			return rc == 0 || rc == -EINTR ? EXIT_OK : EXIT_FAIL;
		}
		/* Watch the edges while holding: the firmware restores power by itself after
		 * its max_off_ms or a safety rule, and then the hold is over. */
		int64_t end = ms < 0 ? INT64_MAX : clock_mono_ns() + ms * 1000000;
		while (!relay_interrupted && clock_mono_ns() < end) {
			struct relay_event ev;
			int rc = relay_next_event(ctx->relay, 200, &ev);
			if (rc == -ETIMEDOUT || rc == -EINTR)
				continue;
			if (rc < 0) {
				pc_err(LOG_RELAY, "lost the relay while holding channel %d off: %s", ch,
				       strerror(-rc));
				return EXIT_FAIL;
			}
			if (ev.kind == RELAY_EV_RELAY && ev.channel == ch && ev.level == 1) {
				pc_err(LOG_RELAY, "channel %d: the firmware restored power by itself "
				       "(cause %s)", ch, ev.cause);
				return EXIT_FAIL;
			}
		}
		return EXIT_OK;
	}
	if (!strcmp(action, "cut"))
		return do_cut(ctx, false);
	if (!strcmp(action, "arm"))
		return do_cut(ctx, true);
	if (!strcmp(action, "selftest"))
		return do_selftest(ctx);
	pc_err(LOG_MAIN, "unknown relay action '%s' (list, status, on, off, cut, arm, selftest)",
	       action);
	return EXIT_USAGE;
}
