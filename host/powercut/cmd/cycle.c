/* powercut cycle BENCH.ini: exactly one cut cycle, end to end, into the database.
 *
 * prepare the node's disks -> ledger and campaign -> workload (baseline first) ->
 * arm the relay (the firmware draws the moment) -> the node's power domain follows the
 * PSU: DC lost kills the node, DC back boots it after the boot delay -> wait for the
 * node -> metadata checks and the agent's check of every disk -> classification
 * against the ledger -> one cycle record (campaign, cycle, cut, checks, findings).
 * See docs/node.md. Every exit path leaves power ON (main's relay_close) and nothing
 * running (node_close kills what the node started).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cmd.h"
#include "log.h"
#include "util.h"
#include "node.h"
#include "power.h"
#include "ledger.h"
#include "ledger_schema.h"
#include "verify.h"
#include "child.h"

#ifndef PC_VERSION
#define PC_VERSION "0.1.0"
#endif

/* The database is the global --db (default: RUN_DIR/cycles.db, RUN_DIR being the
 * bench's run directory). */
const struct cmd_opt cycle_opts[] = {
	{ "index", 1, "N", "the cycle's index within its campaign (default 1)" },
	{ "keep", 0, NULL, "keep the node's work directory (images, logs, reports)" },
	{ 0 }
};

struct cyc {
	struct pc_ctx *ctx;
	struct ledger *led;
	struct node *node;
	struct node_power *pw;
	char work[PATH_MAX];
	bool have_work;
	int64_t campaign, cycle_id;
	uint32_t index;
	char token[33];
	uint64_t acks0;			/* ledger acks before the cycle's own session */
	/* edges seen on our channel */
	int64_t relay_off, relay_on, pwrok_fall, pwrok_rise;
	int64_t relay_off_unc;
	uint64_t relay_off_fw, pwrok_fall_fw;	/* the same edges on the firmware clock */
	json_t *edges;
};

/* The node is about to start an agent session of `cycle`: the ledger accepts it. */
static void cycle_begins(void *arg, uint32_t cycle)
{
	struct cyc *c = arg;

	/* The previous session's last frames are stored before its cycle closes. */
	struct ledger_stats st;

	ledger_quiesce(c->led, 50, 3000);
	ledger_set_cycle(c->led, cycle);
	ledger_get_stats(c->led, &st);
	if (cycle == c->index)
		c->acks0 = st.acks;
}

static void edge(struct cyc *c, const struct relay_event *ev)
{
	json_t *j = json_pack("{s:s,s:i,s:i,s:s,s:I,s:I,s:I}", "kind",
			      ev->kind == RELAY_EV_RELAY ? "relay" : ev->kind == RELAY_EV_PWROK ?
			      "pwrok" : "reset", "channel", ev->channel, "level", ev->level,
			      "cause", ev->cause, "mono_ns", (json_int_t)ev->mono_ns,
			      "uncertainty_ns", (json_int_t)ev->uncertainty_ns,
			      "fw_us", (json_int_t)ev->fw_us);
	json_array_append_new(c->edges, j);
	if (ev->kind == RELAY_EV_RELAY && ev->level == 0 && !c->relay_off) {
		c->relay_off = ev->mono_ns;
		c->relay_off_unc = ev->uncertainty_ns;
		c->relay_off_fw = ev->fw_us;
	} else if (ev->kind == RELAY_EV_RELAY && ev->level == 1 && c->relay_off) {
		c->relay_on = ev->mono_ns;
	} else if (ev->kind == RELAY_EV_PWROK && ev->level == 0 && !c->pwrok_fall) {
		c->pwrok_fall = ev->mono_ns;
		c->pwrok_fall_fw = ev->fw_us;
	} else if (ev->kind == RELAY_EV_PWROK && ev->level == 1 && c->pwrok_fall) {
		c->pwrok_rise = ev->mono_ns;
	}
}

static void random_token(char out[33])
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		uint64_t x = (uint64_t)relay_now_ns() ^ ((uint64_t)getpid() << 32);
		memcpy(b, &x, 8);
		memcpy(b + 8, &x, 8);
	}
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = 0;
}

/* Log messages go to the database only from this thread, and not while the ledger
 * is taking the workload's frames: the power domain and the ledger log from their own
 * threads, and the store's connection is not shared between threads. */
static pthread_t main_thread;
static volatile int sink_quiet;

static void cycle_sink(void *arg, enum log_level level, enum log_cat cat, int64_t wall_ns,
		       int64_t mono_ns, const char *msg)
{
	if (sink_quiet || !pthread_equal(pthread_self(), main_thread))
		return;
	store_log_sink(arg, level, cat, wall_ns, mono_ns, msg);
}

static int open_db(struct cyc *c, char *path, size_t len)
{
	struct pc_ctx *ctx = c->ctx;
	char *err = NULL;

	if (ctx->db) {
		/* the global --db */
		const char *f = sqlite3_db_filename(store_db(ctx->db), "main");
		snprintf(path, len, "%s", f ? f : "");
	} else {
		ctx->db = store_open(path, STORE_CREATE | STORE_MIGRATE);
		if (!ctx->db)
			return -errno;
	}
	main_thread = pthread_self();
	log_set_sink(cycle_sink, ctx->db);
	/* The oracle's tables (idempotent). */
	if (sqlite3_exec(store_db(ctx->db), ledger_schema_sql, NULL, NULL, &err) != SQLITE_OK) {
		pc_err(LOG_DB, "cannot create the oracle tables in '%s': %s", path, err);
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

static int campaign_begin(struct cyc *c)
{
	struct pc_ctx *ctx = c->ctx;
	char hash[65];
	char *text = bench_config_text(ctx->cfg);
	json_t *cj = bench_config_json(ctx->cfg);
	char *cjs = cj ? json_dumps(cj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc = -ENOMEM;

	json_decref(cj);
	if (!text || !cjs || bench_config_hash(ctx->cfg, hash) < 0)
		goto out;
	struct store_campaign sc = { .bench = ctx->cfg->bench->name, .config_text = text,
		.config_json = cjs, .config_hash = hash,
		.versions_json = "{\"powercut\":\"" PC_VERSION "\"}" };
	if ((rc = store_campaign_insert(ctx->db, &sc, &c->campaign)) < 0)
		goto out;
	store_set_campaign(ctx->db, c->campaign);
	random_token(c->token);
	rc = ledger_campaign_register(store_db(ctx->db), (uint64_t)c->campaign, c->token,
				      ctx->cfg->campaign->seed);
out:
	free(text);
	free(cjs);
	return rc;
}

/* Per disk: metadata checks into checks, classification into findings. */
struct disk_outcome {
	struct oracle_verify_result v;
	bool verified;
	bool metadata_failure;
};

static int record_disk(struct cyc *c, const struct node_disk_result *r, int64_t cut_ns,
		       struct disk_outcome *o)
{
	struct store *st = c->ctx->db;
	size_t i;
	json_t *chk;
	int rc = 0;

	memset(o, 0, sizeof(*o));
	json_array_foreach(r->checks, i, chk) {
		const char *kind = json_string_value(json_object_get(chk, "kind"));
		const char *res = json_string_value(json_object_get(chk, "result"));
		json_t *det = json_object_get(chk, "detail");
		char *ds = det ? json_dumps(det, JSON_COMPACT) : NULL;
		store_check_insert(st, c->cycle_id, r->disk, kind, res, ds);
		free(ds);
		if (!strcmp(res, "corrupt") || !strcmp(res, "fail")) {
			o->metadata_failure = true;
			char fd[160];
			snprintf(fd, sizeof(fd), "{\"check\":\"%s\",\"result\":\"%s\"}", kind, res);
			store_finding_insert(st, c->cycle_id, r->disk, -1, "metadata_failure", fd, 0);
		}
	}
	if (!r->report_path) {
		store_finding_insert(st, c->cycle_id, r->disk, -1, "check_failed",
				     "{\"why\":\"the agent's check did not complete\"}", 0);
		return -EIO;
	}
	FILE *f = fopen(r->report_path, "re");
	if (!f)
		return -errno;
	rc = oracle_verify(store_db(st), (uint64_t)c->campaign, c->index, r->id, f, cut_ns, true,
			   &o->v);
	fclose(f);
	if (rc < 0) {
		pc_err(LOG_CHECK, "cannot classify disk '%s': %s", r->disk, strerror(-rc));
		store_finding_insert(st, c->cycle_id, r->disk, -1, "check_failed",
				     "{\"why\":\"classification failed\"}", 0);
		return rc;
	}
	o->verified = true;
	/* One summary row per class (block -1: the whole disk); oracle_check holds the
	 * blocks themselves. */
	for (int k = 1; k < CLS__COUNT; k++) {
		if (!o->v.cycle.count[k])
			continue;
		char d[96];
		snprintf(d, sizeof(d), "{\"blocks\":%" PRIu64 "}", o->v.cycle.count[k]);
		store_finding_insert(st, c->cycle_id, r->disk, -1, cls_class_name(k), d,
				     o->v.cycle.since_flush_ns);
	}
	if (o->v.cycle.violations) {
		char d[96];
		snprintf(d, sizeof(d), "{\"blocks\":%" PRIu64 "}", o->v.cycle.violations);
		store_finding_insert(st, c->cycle_id, r->disk, -1, "violation", d,
				     o->v.cycle.since_flush_ns);
	}
	return 0;
}

static json_t *disk_json(const struct node_disk_result *r, const struct disk_outcome *o)
{
	json_t *j = json_pack("{s:s,s:i,s:O,s:b,s:b}", "disk", r->disk, "id", (int)r->id,
			      "checks", r->checks, "verified", o->verified, "metadata_failure",
			      o->metadata_failure);
	if (o->verified) {
		json_t *cls = json_object();
		for (int k = 0; k < CLS__COUNT; k++)
			json_object_set_new(cls, cls_class_name(k), json_integer((json_int_t)o->v.cycle.count[k]));
		json_object_set_new(j, "classes", cls);
		json_object_set_new(j, "blocks", json_integer((json_int_t)o->v.blocks));
		json_object_set_new(j, "violations", json_integer((json_int_t)o->v.cycle.violations));
		json_object_set_new(j, "anomalies", json_integer((json_int_t)o->v.cycle.anomalies));
		json_object_set_new(j, "gaps", json_integer((json_int_t)o->v.gaps));
		json_object_set_new(j, "since_flush_ms", json_real(o->v.cycle.since_flush_ns / 1e6));
	}
	return j;
}

static void print_disk(const struct node_disk_result *r, const struct disk_outcome *o)
{
	size_t i;
	json_t *chk;

	printf("  disk %s:", r->disk);
	json_array_foreach(r->checks, i, chk)
		printf(" %s=%s", json_string_value(json_object_get(chk, "kind")),
		       json_string_value(json_object_get(chk, "result")));
	if (!o->verified) {
		printf(" (not verified)\n");
		return;
	}
	printf(" blocks=%" PRIu64, o->v.blocks);
	for (int k = 0; k < CLS__COUNT; k++)
		if (o->v.cycle.count[k])
			printf(" %s=%" PRIu64, cls_class_name(k), o->v.cycle.count[k]);
	printf(" violations=%" PRIu64 "\n", o->v.cycle.violations);
}

static int wait_running(struct cyc *c, uint64_t acks0, int timeout_ms)
{
	int64_t end = relay_now_ns() + (int64_t)timeout_ms * 1000000;
	struct ledger_stats st;

	while (!relay_interrupted) {
		ledger_get_stats(c->led, &st);
		if (st.acks > acks0)
			return 0;
		if (relay_now_ns() > end) {
			pc_err(LOG_NODE, "the workload did not start within %d ms", timeout_ms);
			return -ETIMEDOUT;
		}
		struct relay_event ev;
		/* Also keeps the firmware's host watchdog fed during a long boot. */
		if (relay_next_event(c->ctx->relay, 5, &ev) == 0)
			edge(c, &ev);
	}
	return -EINTR;
}

int cmd_cycle(struct pc_ctx *ctx)
{
	const struct bench_config *cfg = ctx->cfg;
	const struct cfg_campaign *cc = cfg->campaign;
	struct cyc c = { .ctx = ctx, .edges = json_array() };
	struct node_disk_result res[NODE_MAX_DISKS];
	struct disk_outcome out[NODE_MAX_DISKS];
	struct node_power_times pt = { 0 };
	struct relay_cut rec = { 0 };
	char db_path[PATH_MAX], sock[PATH_MAX + 32], bin[PATH_MAX];
	const char *status = "failed";
	int rc = EXIT_FAIL, r;
	bool armed = false, checked = false;
	int64_t t0 = relay_now_ns(), t_running = 0, t_armed = 0, t_up = 0, t_checked = 0;
	int64_t t_ledger = 0;
	int ch = (int)cfg->relay->channel;
	uint64_t violations = 0, metadata_failures = 0, unverified = 0;

	memset(res, 0, sizeof(res));
	c.index = 1;
	if (cmd_opt(ctx, "index")) {
		long v = strtol(cmd_opt(ctx, "index"), NULL, 10);
		if (v < 1 || v > 1000000000) {
			pc_err(LOG_MAIN, "invalid value '%s' for '--index'", cmd_opt(ctx, "index"));
			return EXIT_USAGE;
		}
		c.index = (uint32_t)v;
	}
	if (!cfg->relay->simulator || !ctx->relay->ops->next_event) {
		pc_err(LOG_MAIN, "the simulated node follows the simulator's PSU: the bench "
		       "needs [relay] driver = serial with simulator = yes");
		return EXIT_USAGE;
	}
	if (ch < 0 || ch >= (int)cfg->relay->channels) {
		pc_err(LOG_MAIN, "channel %d is not one of the relay's %d", ch,
		       (int)cfg->relay->channels);
		return EXIT_USAGE;
	}
	snprintf(db_path, sizeof(db_path), "%.4000s/cycles.db", ctx->run_dir);
	if (open_db(&c, db_path, sizeof(db_path)) < 0 || campaign_begin(&c) < 0)
		goto out;
	if (store_cycle_insert(ctx->db, c.campaign, c.index, "running", t0, &c.cycle_id) < 0)
		goto out;

	struct ledger_config lc = { .addr = "127.0.0.1", .campaign = (uint64_t)c.campaign,
				    .token = c.token, .cycle = c.index };
	c.led = ledger_open(&lc, db_path);
	if (!c.led || ledger_start(c.led) < 0)
		goto out;

	t_ledger = relay_now_ns();
	/* The node's files: short paths (UNIX sockets live there), private. */
	const char *tmp = getenv("TMPDIR");
	snprintf(c.work, sizeof(c.work), "%.3000s/powercut-node.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(c.work)) {
		pc_err(LOG_NODE, "cannot create a directory like '%s': %s", c.work, strerror(errno));
		goto out;
	}
	c.have_work = true;
	if (pc_exe_dir(bin, sizeof(bin)) < 0)
		goto out;
	struct node_env env = { .bin_dir = bin, .work_dir = c.work };
	c.node = node_open(cfg, &env);
	if (!c.node) {
		rc = errno == ENOTSUP || errno == EINVAL ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	snprintf(sock, sizeof(sock), "%.4000s/control.sock", ctx->run_dir);
	c.pw = node_power_open(c.node, sock, ch, cc->cut);
	if (!c.pw) {
		rc = EXIT_DEVICE;
		goto out;
	}
	pc_info(LOG_NODE, "campaign %" PRId64 " cycle %u: preparing %zu disk(s) on the %s tier",
		c.campaign, c.index, cfg->n_disks,
		cfg->node->tier == NODE_TIER_FULL ? "full" : "fast");
	if ((r = node_prepare(c.node)) < 0)
		goto out;
	int64_t t_prepared = relay_now_ns();

	struct node_job job = {
		.campaign = (uint64_t)c.campaign, .cycle = c.index, .token = c.token,
		.ledger_host = cfg->node->tier == NODE_TIER_FULL ? "10.0.2.2" : "127.0.0.1",
		.ledger_port = ledger_port(c.led), .seed = cc->seed, .baseline = true,
		.cycle_begins = cycle_begins, .cb_arg = &c,
	};
	node_power_set_job(c.pw, &job);
	sink_quiet = 1;
	if ((r = node_start_workload(c.node, &job)) < 0)
		goto out;
	if (wait_running(&c, c.acks0, (int)cc->boot_timeout_ms) < 0)
		goto out;
	t_running = relay_now_ns();

	/* The firmware draws the moment itself, from now. */
	r = relay_arm(ctx->relay, ch, (int)cc->window_min_ms, (int)cc->window_max_ms,
		      (int)cc->off_ms, (uint32_t)(cc->seed ^ c.index), &rec);
	if (r < 0)
		goto out;
	armed = true;
	t_armed = relay_now_ns();
	pc_info(LOG_NODE, "armed channel %d: cut in %" PRId64 "..%" PRId64 " ms, off %" PRId64
		" ms", ch, cc->window_min_ms, cc->window_max_ms, cc->off_ms);

	/* Follow the edges until the node booted again and power is fully back. */
	int64_t limit = t_armed + (cc->window_max_ms + cc->off_ms + cfg->node->boot_delay_ms +
				   cc->boot_timeout_ms + 10000) * 1000000;
	bool booted = false;
	while (!relay_interrupted) {
		struct relay_event ev;
		r = relay_next_event(ctx->relay, 20, &ev);
		if (r == 0 && (ev.channel == ch || ev.kind == RELAY_EV_RESET))
			edge(&c, &ev);
		else if (r < 0 && r != -ETIMEDOUT)
			goto out;
		if (!booted && node_power_wait(c.pw, NODE_PWR_BOOTED, 0, &pt) == 0)
			booted = true;
		if (booted && c.relay_on && (c.pwrok_rise || relay_now_ns() - c.relay_on > 2000000000))
			break;
		if (relay_now_ns() > limit) {
			pc_err(LOG_NODE, "the cut did not complete: relay off %s, DC lost %s, node "
			       "booted %s", c.relay_off ? "seen" : "not seen",
			       pt.lost_ns ? "seen" : "not seen", booted ? "yes" : "no");
			goto out;
		}
	}
	if (relay_interrupted)
		goto out;
	armed = false;
	node_power_wait(c.pw, NODE_PWR_BOOTED, 0, &pt);
	if (pt.boot_rc < 0 || pt.kill_rc < 0) {
		pc_err(LOG_NODE, "the node did not come back after the cut");
		goto out;
	}
	/* Nothing arrives after the cut; the last frames before it are stored. */
	ledger_quiesce(c.led, 50, 3000);
	sink_quiet = 0;
	if ((r = node_wait_up(c.node, (int)cc->boot_timeout_ms)) < 0)
		goto out;
	t_up = relay_now_ns();
	r = node_check(c.node, &job, res);
	checked = true;
	t_checked = relay_now_ns();
	if (r < 0)
		pc_warn(LOG_CHECK, "the node's checks did not all complete");

	/* The record. */
	json_t *node_info = node_collect(c.node);
	struct store_cut sc = {
		.cycle = c.cycle_id, .channel = ch, .kind = cc->cut == CUT_KILL ? "kill" : "power",
		.timed_by = rec.timed_by ? rec.timed_by : "firmware",
		.window_min_ms = cc->window_min_ms, .window_max_ms = cc->window_max_ms,
		.off_ms = cc->off_ms, .seed = cc->seed ^ c.index, .planned_mono_ns = rec.planned_ns,
		.actual_mono_ns = c.relay_off, .uncertainty_ns = c.relay_off_unc,
		.relay_off_mono_ns = c.relay_off, .relay_on_mono_ns = c.relay_on,
		.pwrok_fall_mono_ns = c.pwrok_fall, .pwrok_rise_mono_ns = c.pwrok_rise,
		/* Both edges on the firmware's own clock when it stamped them (exact); the
		 * simulator's host stamp of DC loss is when it processed it, which lags
		 * under load. */
		.hold_up_ns = c.pwrok_fall_fw && c.relay_off_fw ?
			      (int64_t)(c.pwrok_fall_fw - c.relay_off_fw) * 1000 :
			      c.pwrok_fall && c.relay_off ? c.pwrok_fall - c.relay_off :
			      pt.lost_ns && c.relay_off ? pt.lost_ns - c.relay_off : 0,
	};
	json_t *det = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:O}",
		"dc_lost_mono_ns", (json_int_t)pt.lost_ns, "dc_lost_sim_us", (json_int_t)pt.lost_sim_us,
		"node_killed_mono_ns", (json_int_t)pt.killed_ns,
		"dc_back_mono_ns", (json_int_t)pt.back_ns, "dc_back_sim_us", (json_int_t)pt.back_sim_us,
		"node_booted_mono_ns", (json_int_t)pt.booted_ns,
		"window_from_mono_ns", (json_int_t)rec.window_from_ns,
		"window_to_mono_ns", (json_int_t)rec.window_to_ns, "edges", c.edges);
	if (det && node_info)
		json_object_set(det, "node", node_info);
	char *dets = det ? json_dumps(det, JSON_COMPACT) : NULL;
	sc.detail_json = dets;
	store_cut_insert(ctx->db, &sc, NULL);
	free(dets);
	json_decref(det);

	/* The node died when its processes were killed: writes acknowledged up to then
	 * were real writes of a live node. */
	int64_t cut_ns = pt.killed_ns ? pt.killed_ns : pt.lost_ns ? pt.lost_ns : c.relay_off;
	for (size_t i = 0; i < cfg->n_disks; i++) {
		/* The raw acknowledgements stay (ledger_prune would fold them into per-block
		 * summaries, at about 0.5 s per disk of 2k blocks today: the campaign loop
		 * can prune when it needs the space). */
		if (record_disk(&c, &res[i], cut_ns, &out[i]) < 0)
			unverified++;
		violations += out[i].v.cycle.violations;
		metadata_failures += out[i].metadata_failure;
	}
	status = unverified ? "failed" : violations || metadata_failures ? "violation" : "ok";
	rc = unverified ? EXIT_FAIL : EXIT_OK;

	/* Time spent by the rig itself: everything but the configured workload window
	 * (start of the workload to DC loss), the off time and the boot delay. */
	int64_t t_end = relay_now_ns();
	int64_t excluded = (pt.lost_ns - t_running) + (pt.back_ns - pt.lost_ns) +
			   cfg->node->boot_delay_ms * 1000000;
	double overhead_s = (t_end - t0 - excluded) / 1e9;

	if (ctx->json) {
		json_t *j = json_pack("{s:s,s:I,s:i,s:s,s:s,s:s,s:s}", "db", db_path,
			"campaign", (json_int_t)c.campaign, "cycle", (int)c.index, "status", status,
			"cut", sc.kind, "timed_by", sc.timed_by,
			"tier", cfg->node->tier == NODE_TIER_FULL ? "full" : "fast");
		json_t *disks = json_array();
		for (size_t i = 0; i < cfg->n_disks; i++)
			json_array_append_new(disks, disk_json(&res[i], &out[i]));
		json_object_set_new(j, "disks", disks);
		json_object_set_new(j, "violations", json_integer((json_int_t)violations));
		json_object_set_new(j, "metadata_failures", json_integer((json_int_t)metadata_failures));
		json_object_set_new(j, "hold_up_ms", json_real(sc.hold_up_ns / 1e6));
		json_object_set_new(j, "timing", json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}",
			"boot_delay_s", cfg->node->boot_delay_ms / 1e3,
			"total_s", (t_end - t0) / 1e9, "overhead_s", overhead_s,
			"db_s", (t_ledger - t0) / 1e9,
			"prepare_s", (t_prepared - t_ledger) / 1e9,
			"record_s", (t_end - t_checked) / 1e9,
			"workload_start_s", (t_running - t_prepared) / 1e9,
			"workload_to_cut_s", (pt.lost_ns - t_running) / 1e9,
			"off_s", (pt.back_ns - pt.lost_ns) / 1e9,
			"boot_to_up_s", (t_up - pt.back_ns) / 1e9,
			"check_s", (t_checked - t_up) / 1e9));
		if (node_info)
			json_object_set_new(j, "node", json_incref(node_info));
		cmd_print_json(j);
	} else {
		printf("cycle %u of campaign %" PRId64 " (%s tier, %s cut timed by %s) in '%s': %s\n",
		       c.index, c.campaign, cfg->node->tier == NODE_TIER_FULL ? "full" : "fast",
		       sc.kind, sc.timed_by, db_path, status);
		printf("  cut %.1f ms after the workload started, hold-up %.1f ms, off %.0f ms; "
		       "rig time %.2f s of %.2f s\n", (pt.lost_ns - t_running) / 1e6,
		       sc.hold_up_ns / 1e6, (pt.back_ns - pt.lost_ns) / 1e6, overhead_s,
		       (t_end - t0) / 1e9);
		for (size_t i = 0; i < cfg->n_disks; i++)
			print_disk(&res[i], &out[i]);
	}
	json_decref(node_info);

out:
	sink_quiet = 0;
	if (armed && !relay_interrupted) {
		/* An armed cut must not fire after we are gone. */
		relay_on(ctx->relay, ch);
	}
	if (ctx->db && c.cycle_id) {
		store_cycle_finish(ctx->db, c.cycle_id, status, relay_now_ns());
		store_campaign_finish(ctx->db, c.campaign, strcmp(status, "failed") ? "done" : "failed");
	}
	if (checked)
		for (size_t i = 0; i < cfg->n_disks; i++)
			node_disk_result_release(&res[i]);
	/* The power domain first: it may be booting the node. */
	node_power_close(c.pw);
	node_close(c.node);
	if (c.led)
		ledger_free(c.led);
	if (c.have_work) {
		if (cmd_flag(ctx, "keep")) {
			pc_info(LOG_NODE, "node files kept in '%s'", c.work);
		} else {
			const char *argv[] = { "rm", "-rf", "--", c.work, NULL };
			struct child_result cr;
			if (child_run(argv, NULL, 30000, &cr) == 0)
				child_result_release(&cr);
		}
	}
	json_decref(c.edges);
	return rc;
}
