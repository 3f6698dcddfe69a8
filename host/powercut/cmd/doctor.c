/* powercut doctor [--cut] BENCH.ini: the bring-up check a bench owner runs before the
 * first night. Read-only unless --cut: the relay (answers, firmware and protocol,
 * settings, PWR_OK with the relay on, the clock fit), the node (its driver's checks:
 * node.h's doctor hook), and room for the database. Each check prints ok, warn or
 * fail, with a one-line fix for the last two; exit 1 when any check failed. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cmd.h"
#include "fwlink.h"
#include "log.h"
#include "node.h"
#include "util.h"

const struct cmd_opt doctor_opts[] = {
	{ "cut", 0, NULL, "also cut the node's power once and measure its boot (not read-only)" },
	{ 0 }
};

static const char *const status_names[] = { "ok", "warn", "fail" };

struct doctor {
	struct pc_ctx *ctx;
	json_t *checks;
	int worst;			/* enum node_dr_status */
};

static void add(void *arg, const char *check, enum node_dr_status st, const char *found,
		const char *fix)
{
	struct doctor *d = arg;

	if ((int)st > d->worst)
		d->worst = (int)st;
	json_array_append_new(d->checks, json_pack("{s:s,s:s,s:s,s:s?}", "check", check,
						   "status", status_names[st], "found", found,
						   "fix", fix));
	if (d->ctx->json)
		return;
	printf("%-5s %-20s %s\n", status_names[st], check, found);
	if (fix)
		printf("      %-20s fix: %s\n", "", fix);
	fflush(stdout);
}

__attribute__((format(printf, 5, 6)))
static void say(struct doctor *d, const char *check, enum node_dr_status st, const char *fix,
		const char *fmt, ...)
{
	char found[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(found, sizeof(found), fmt, ap);
	va_end(ap);
	add(d, check, st, found, st == NODE_DR_OK ? NULL : fix);
}

/* Where a driver's trouble usually is, for a relay that cannot be opened. */
static const char *relay_fix(const struct bench_config *cfg)
{
	const char *drv = cfg->relay->driver;

	if (!strcmp(drv, "serial"))
		return cfg->relay->simulator ? "build the simulator and firmware: make build" :
		       "check [relay] port (`powercut relay list BENCH.ini`), the USB cable, and "
		       "that you may open it (group dialout); docs/proxmox.md, 2";
	if (!strcmp(drv, "usbhid"))
		return "check the board is plugged in and the udev rule of rig/hardware.md gives "
		       "you access; [relay] usbhid_serial names one of several";
	if (!strcmp(drv, "gpio"))
		return "check [relay] gpio_chip and gpio_line and that you may open the chip";
	if (!strcmp(drv, "exec"))
		return "run [relay] exec_status by hand; it must exit 0 (on) or 1 (off)";
	return "see the error above";
}

/* The relay: it answers, its firmware, settings, PWR_OK with the power on, clock. */
static void doctor_relay(struct doctor *d)
{
	struct pc_ctx *ctx = d->ctx;
	const struct cfg_relay *rc = ctx->cfg->relay;
	struct relay_status s;
	int ch = (int)rc->channel;

	if (!(ctx->relay = relay_open(ctx->cfg, ctx->run_dir))) {
		say(d, "relay", NODE_DR_FAIL, relay_fix(ctx->cfg), "the relay (driver '%s') cannot "
		    "be opened: %s", rc->driver, strerror(errno));
		return;
	}
	if (relay_status(ctx->relay, &s) < 0) {
		say(d, "relay", NODE_DR_FAIL, relay_fix(ctx->cfg), "the relay (driver '%s') does "
		    "not answer a status request", ctx->relay->ops->name);
		return;
	}
	say(d, "relay", NODE_DR_OK, NULL, "driver '%s' answers%s%s", ctx->relay->ops->name,
	    s.id[0] ? ": " : "", s.id);
	if (!strcmp(rc->driver, "serial")) {
		bool same = s.proto == FWLINK_PROTO;
		say(d, "firmware", same ? NODE_DR_OK : NODE_DR_FAIL, "flash this powercut's "
		    "firmware: make flash PORT=...", "firmware %s, protocol %d (this powercut "
		    "speaks %d)", s.fw[0] ? s.fw : "?", s.proto, FWLINK_PROTO);
		/* The driver stores the bench's settings at open, so the status after it is
		 * "ok" unless the EEPROM does not keep them. */
		if (!s.settings[0])
			say(d, "settings", NODE_DR_OK, NULL, "the bench's settings were applied at "
			    "open (this firmware reports no settings status)");
		else
			say(d, "settings", !strcmp(s.settings, "ok") ? NODE_DR_OK : NODE_DR_WARN,
			    "the EEPROM did not keep the settings: `powercut relay status`, then "
			    "replace the board if it stays so", "EEPROM settings %s", s.settings);
	}
	if (ch >= s.channels) {
		say(d, "pwrok", NODE_DR_FAIL, "set [relay] channel to one the board has",
		    "channel %d: the board has %d", ch, s.channels);
	} else if (s.state[ch] == RELAY_UNKNOWN) {
		say(d, "pwrok", NODE_DR_WARN, !strcmp(rc->driver, "exec") ? "set [relay] "
		    "exec_status (exit 0 on, 1 off: scripts/relay/ipmi-power-status, "
		    "scripts/relay/apc-pdu-outlet)" : "check the relay with `powercut relay status`",
		    "channel %d: the relay's state cannot be read: PWR_OK not judged", ch);
	} else if (s.state[ch] != RELAY_ON) {
		say(d, "pwrok", NODE_DR_WARN, "`powercut relay on BENCH.ini`, then run doctor again",
		    "channel %d is %s, not on: PWR_OK not judged", ch, relay_state_name(s.state[ch]));
	} else if (s.pwrok[ch] < 0) {
		say(d, "pwrok", rc->dc_source == DC_RELAY ? NODE_DR_OK : NODE_DR_WARN,
		    "wire PWR_OK (rig/hardware.md), or set [relay] dc_source = relay",
		    "channel %d: PWR_OK is not sensed%s", ch, rc->dc_source == DC_RELAY ?
		    " (dc_source = relay: DC is taken to fail with the relay edge)" : "");
	} else {
		say(d, "pwrok", s.pwrok[ch] ? NODE_DR_OK : NODE_DR_FAIL, "PWR_OK not wired, or "
		    "[relay] pwrok_invert does not match the optocoupler (rig/hardware.md)",
		    "channel %d on, PWR_OK reads DC %s", ch, s.pwrok[ch] ? "good" : "lost");
	}
	if (!strcmp(rc->driver, "serial")) {
		/* Cut times are only as good as this: a few ms is what a USB serial line
		 * gives; more points at a loaded host or a bad cable. */
		if (s.clock_unc_ns <= 0)
			say(d, "clock", NODE_DR_WARN, "check the serial line (cable, hub) and the "
			    "host's load", "no fit of the firmware's clock to this host's");
		else
			say(d, "clock", s.clock_unc_ns <= 10000000 ? NODE_DR_OK : NODE_DR_WARN,
			    "check the serial line (cable, hub) and the host's load",
			    "firmware clock mapped to this host's within +-%.2f ms",
			    s.clock_unc_ns / 1e6);
	}
}

/* Room for the campaign database, which goes to the run directory by default. */
static void doctor_space(struct doctor *d)
{
	char dir[sizeof(d->ctx->run_dir)];
	struct statvfs v;

	snprintf(dir, sizeof(dir), "%s", d->ctx->run_dir);
	/* The run directory may not exist yet: the nearest existing parent. */
	while (statvfs(dir, &v) < 0 && strrchr(dir, '/') && strrchr(dir, '/') != dir)
		*strrchr(dir, '/') = '\0';
	if (statvfs(dir, &v) < 0) {
		say(d, "space", NODE_DR_FAIL, "check [bench] run_dir", "cannot stat '%s': %s",
		    d->ctx->run_dir, strerror(errno));
		return;
	}
	uint64_t mib = (uint64_t)v.f_bavail * v.f_frsize >> 20;
	say(d, "space", mib >= 1024 ? NODE_DR_OK : mib >= 100 ? NODE_DR_WARN : NODE_DR_FAIL,
	    "free space there, or set [bench] run_dir (a night's database and evidence take "
	    "hundreds of MiB)", "%" PRIu64 " MiB free for the database in '%s'", mib, dir);
}

/* --cut: one cut of the bench's off time; returns when the relay powers the node
 * again (a device-timed cut returns at its start: wait for the on edge). */
static int doctor_cut(void *arg)
{
	struct doctor *d = arg;
	struct pc_ctx *ctx = d->ctx;
	int ch = (int)ctx->cfg->relay->channel, off = (int)ctx->cfg->campaign->off_ms;
	struct relay_cut rec;
	int rc;

	if (!ctx->relay)
		return -ENODEV;
	if ((rc = relay_cut(ctx->relay, ch, off, &rec)) < 0)
		return rc;
	if (!rec.timed_by || strcmp(rec.timed_by, "firmware"))
		return 0;
	return cmd_wait(ctx, off + 500);
}

static void doctor_node(struct doctor *d)
{
	struct pc_ctx *ctx = d->ctx;
	char exe[PATH_MAX], work[sizeof(ctx->run_dir) + 16];
	struct node_doctor nd = { .add = add, .arg = d,
				  .cut = cmd_flag(ctx, "cut") ? doctor_cut : NULL };
	struct node *n;
	int rc;

	if (pc_exe_dir(exe, sizeof(exe)) < 0)
		snprintf(exe, sizeof(exe), ".");
	snprintf(work, sizeof(work), "%s/doctor", ctx->run_dir);
	if ((rc = pc_mkdir_p(work)) < 0) {
		say(d, "node", NODE_DR_FAIL, "check [bench] run_dir", "cannot create '%s': %s", work,
		    strerror(-rc));
		return;
	}
	struct node_env env = { .bin_dir = exe, .work_dir = work };
	if (!(n = node_open(ctx->cfg, &env))) {
		say(d, "node", NODE_DR_FAIL, "see the error above", "the node driver cannot be "
		    "opened: %s", strerror(errno));
		return;
	}
	if ((rc = node_doctor(n, &nd)) == -ENOTSUP)
		say(d, "node", NODE_DR_WARN, "run `powercut cycle` once as the check",
		    "node driver '%s' has no bring-up checks", n->ops->name);
	node_close(n);
	rmdir(work);
}

int cmd_doctor(struct pc_ctx *ctx)
{
	struct doctor d = { .ctx = ctx, .checks = json_array() };

	if (!ctx->json)
		printf("bench '%s' (%s)\n", ctx->cfg->bench->name, ctx->cfg->path);
	doctor_relay(&d);
	doctor_node(&d);
	doctor_space(&d);
	if (ctx->json)
		cmd_print_json(json_pack("{s:s,s:s,s:o}", "bench", ctx->cfg->bench->name, "result",
					 status_names[d.worst], "checks", d.checks));
	else {
		printf("%s\n", d.worst == NODE_DR_FAIL ? "some checks failed: fix them before the "
		       "first night" : d.worst == NODE_DR_WARN ? "no failures; read the warnings" :
		       "every check passed");
		json_decref(d.checks);
	}
	return d.worst == NODE_DR_FAIL ? EXIT_FAIL : EXIT_OK;
}
