/* powercut verify DB TARGET --campaign C --cycle N --disk D: the check phase and the
 * classification of one disk on demand, for bench bring-up.
 *
 * The agent's identity options (seed, block size, span) come from the ledger's session
 * of that cycle and disk, so a check can only be classified against the writes it was
 * made for. The agent is powercut-agent-nbd for NBD URIs and the static powercut-agent
 * for files and block devices, both beside this executable. --report classifies a
 * check report made earlier instead of running the agent; an fscheck report (a files or
 * sqlite disk, which only the guest can read back) is classified by the file oracle.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "cmd.h"
#include "fsverify.h"
#include "ledger.h"
#include "log.h"
#include "util.h"
#include "verify.h"

const struct cmd_opt verify_opts[] = {
	{ "campaign", 1, "ID", "campaign id the disk was written for (required)" },
	{ "cycle", 1, "N", "cycle number (required)" },
	{ "disk", 1, "ID", "disk id within the campaign (required)" },
	{ "report", 1, "FILE", "classify this check report instead of running the agent" },
	{ "timeout", 1, "S", "seconds the agent's check may take (default 600)" },
	{ 0 }
};

/* The first session of the cycle's own run on the disk (the one the classifier reads,
 * never a later pass under the same cycle number): what the agent wrote with. */
static int session_load(struct store *st, uint64_t campaign, uint32_t cycle, uint32_t disk,
			struct store_session *s)
{
	int64_t phase = 0;
	int rc = ledger_cycle_phase(store_db(st), campaign, cycle, disk, &phase);

	if (rc < 0)
		return rc;
	return store_session_find(st, (int64_t)campaign, cycle, disk, rc == 1, phase, s);
}

static int parse_u64(const char *name, const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	errno = 0;
	unsigned long long x = s ? strtoull(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || x > max || *s == '-') {
		pc_err(LOG_MAIN, "invalid --%s '%s' (expected a number up to %" PRIu64 ")", name,
		       s ? s : "", max);
		return -EINVAL;
	}
	*v = x;
	return 0;
}

/* Run the agent's check phase on target into report_path. */
static int run_check(const char *target, uint64_t campaign, uint32_t cycle, uint32_t disk,
		     const struct store_session *s, const char *report_path, int timeout_s)
{
	char dir[PATH_MAX], agent[PATH_MAX + 32], a_camp[24], a_cycle[16], a_disk[16], a_seed[24],
	     a_bs[24], a_span[24];
	bool nbd = !strncmp(target, "nbd", 3);
	struct child_result r;
	char why[96];
	int rc;

	if (pc_exe_dir(dir, sizeof(dir)) < 0)
		return -ENOENT;
	snprintf(agent, sizeof(agent), "%s/%s", dir, nbd ? "powercut-agent-nbd" : "powercut-agent");
	uint64_t span = s->span_blocks * s->block_size;
	if (span % (1u << 20)) {
		pc_err(LOG_MAIN, "the ledger's span of %" PRIu64 " bytes is not whole MiB: "
		       "the agent cannot check it", span);
		return -EINVAL;
	}
	snprintf(a_camp, sizeof(a_camp), "%" PRIu64, campaign);
	snprintf(a_cycle, sizeof(a_cycle), "%" PRIu32, cycle);
	snprintf(a_disk, sizeof(a_disk), "%" PRIu32, disk);
	snprintf(a_seed, sizeof(a_seed), "%" PRIu64, s->seed);
	snprintf(a_bs, sizeof(a_bs), "%" PRIu64, s->block_size);
	snprintf(a_span, sizeof(a_span), "%" PRIu64, span >> 20);
	const char *argv[] = { agent, "check", target, "--campaign", a_camp, "--cycle", a_cycle,
			       "--disk", a_disk, "--seed", a_seed, "--block-size", a_bs,
			       "--span-mib", a_span, "--output", report_path, "--quiet", NULL };

	pc_info(LOG_CHECK, "checking '%s' with '%s'", target, agent);
	rc = child_run(argv, NULL, timeout_s * 1000, &r);
	if (rc == -ENOENT) {
		pc_err(LOG_CHECK, "cannot run the agent '%s': not found (run make)", agent);
		return rc;
	}
	if (rc == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) {
		child_result_release(&r);
		return 0;
	}
	pc_err(LOG_CHECK, "agent check of '%s' failed (%s): %s", target,
	       rc == -ETIMEDOUT ? "timed out" : child_status_str(r.status, why, sizeof(why)),
	       r.err && *r.err ? r.err : "no message");
	child_result_release(&r);
	return rc < 0 ? rc : -EIO;
}

struct findings {
	json_t *list;		/* with --json */
	uint64_t shown;
};

#define FINDINGS_SHOWN_MAX 20

static int on_finding(void *arg, const struct cls_block *b, const char *detail_json,
		      int64_t since_flush_ns)
{
	struct findings *f = arg;

	if (f->list) {
		json_t *d = json_loads(detail_json, 0, NULL);
		json_object_set_new(d, "block", json_integer((json_int_t)b->block));
		json_array_append_new(f->list, d);
	} else if (f->shown++ < FINDINGS_SHOWN_MAX) {
		printf("  block %-10" PRIu64 " %-22s%s%s\n", b->block, cls_class_name(b->cls),
		       b->violation ? "  VIOLATION" : "", b->anomaly ? "  ordering anomaly" : "");
	}
	return 0;
}

/* An fscheck report (a files or sqlite disk; docs/oracle.md, "File systems"): the file
 * oracle against the cycle's FILESYNC acknowledgements. Returns the exit status. */
static int verify_fs(struct pc_ctx *ctx, sqlite3 *db, uint64_t campaign, uint32_t cycle,
		     uint32_t disk, FILE *report, const char *report_path)
{
	struct fsv_seen seen;
	struct fsv_ack *acks = NULL;
	struct fsv_result res;
	size_t nacks = 0;

	if (fsv_parse_report(report, report_path, &seen) < 0)
		return EXIT_FAIL;
	if (fsv_load_acks(db, campaign, cycle, disk, &acks, &nacks) < 0 ||
	    fsv_classify(acks, nacks, &seen, &res) < 0) {
		pc_err(LOG_CHECK, "cannot classify '%s' against the ledger", report_path);
		free(acks);
		fsv_seen_free(&seen);
		return EXIT_FAIL;
	}
	if (ctx->json) {
		json_t *list = json_array(), *counts = json_object();
		for (size_t i = 0; i < res.nfindings; i++)
			json_array_append_new(list, json_pack("{s:s,s:s,s:I,s:s}", "class",
				fsv_class_name(res.findings[i].cls), "file", res.findings[i].name,
				"ack_seq", (json_int_t)res.findings[i].ack_seq, "detail",
				res.findings[i].detail));
		for (int k = 0; k < FSV_NCLASSES; k++)
			json_object_set_new(counts, fsv_class_name(k), json_integer((json_int_t)res.counts[k]));
		cmd_print_json(json_pack("{s:I,s:I,s:I,s:s,s:s,s:i,s:I,s:I,s:I,s:o,s:I,s:o}", "campaign",
					 (json_int_t)campaign, "cycle", (json_int_t)cycle, "disk",
					 (json_int_t)disk, "fs", seen.fs, "fs_check_tool", seen.tool,
					 "fs_check_rc", seen.fsck_rc, "synced_names", (json_int_t)res.names,
					 "commits", (json_int_t)res.commits, "syncs", (json_int_t)nacks,
					 "counts", counts, "violations", (json_int_t)res.violations,
					 "findings", list));
	} else {
		printf("campaign %" PRIu64 " cycle %u disk %u: %s, %s exit status %d\n", campaign,
		       cycle, disk, seen.fs, seen.tool, seen.fsck_rc);
		for (size_t i = 0; i < res.nfindings; i++)
			printf("  %s '%s': %s\n", fsv_class_name(res.findings[i].cls),
			       res.findings[i].name, res.findings[i].detail);
		printf("%zu synced names, %zu commits, %zu acknowledgements; violations %zu\n",
		       res.names, res.commits, nacks, res.violations);
	}
	int rc = res.violations ? EXIT_FAIL : EXIT_OK;
	fsv_result_free(&res);
	fsv_seen_free(&seen);
	free(acks);
	return rc;
}

int cmd_verify(struct pc_ctx *ctx)
{
	uint64_t campaign, cycle, disk, timeout_s = 600;
	struct findings f = { 0 };
	struct oracle_verify_result res;
	const char *tmpdir = getenv("TMPDIR");
	char report_tmp[PATH_MAX];
	const char *report_path = cmd_opt(ctx, "report");
	struct store_session s;
	struct store *st = NULL;
	FILE *report = NULL;
	int rc = EXIT_FAIL, tmp_fd = -1;

	if (ctx->argc != 2 || (!report_path && !strcmp(ctx->argv[1], "-"))) {
		pc_err(LOG_MAIN, "usage: powercut %s", ctx->cmd->usage);
		return EXIT_USAGE;
	}
	if (parse_u64("campaign", cmd_opt(ctx, "campaign"), INT64_MAX, &campaign) < 0 ||
	    parse_u64("cycle", cmd_opt(ctx, "cycle"), UINT32_MAX, &cycle) < 0 ||
	    parse_u64("disk", cmd_opt(ctx, "disk"), UINT32_MAX, &disk) < 0 ||
	    (cmd_opt(ctx, "timeout") &&
	     parse_u64("timeout", cmd_opt(ctx, "timeout"), 86400, &timeout_s) < 0))
		return EXIT_USAGE;

	st = store_open(ctx->argv[0], STORE_MIGRATE);
	if (!st)
		return EXIT_FAIL;
	sqlite3 *db = store_db(st);	/* lent to the oracle */
	int e = session_load(st, campaign, (uint32_t)cycle, (uint32_t)disk, &s);
	if (e == -ENOENT)
		pc_err(LOG_CHECK, "'%s' has no ledger session for campaign %" PRIu64 ", cycle %"
		       PRIu64 ", disk %" PRIu64, ctx->argv[0], campaign, cycle, disk);
	if (e < 0)
		goto out;

	if (!report_path) {
		snprintf(report_tmp, sizeof(report_tmp), "%s/powercut-verify-XXXXXX",
			 tmpdir && *tmpdir ? tmpdir : "/tmp");
		tmp_fd = mkstemp(report_tmp);
		if (tmp_fd < 0) {
			pc_err(LOG_CHECK, "cannot create a temporary report: %s", strerror(errno));
			goto out;
		}
		if (run_check(ctx->argv[1], campaign, (uint32_t)cycle, (uint32_t)disk, &s,
			      report_tmp, (int)timeout_s) < 0)
			goto out;
		report_path = report_tmp;
	}
	report = fopen(report_path, "r");
	if (!report) {
		pc_err(LOG_CHECK, "cannot open check report '%s': %s", report_path, strerror(errno));
		goto out;
	}
	/* A files or sqlite disk's report begins with its fscheck header. */
	char head[256] = "";
	if (!fgets(head, sizeof(head), report))
		head[0] = 0;
	rewind(report);
	if (strstr(head, "\"type\":\"fscheck\"")) {
		rc = verify_fs(ctx, db, campaign, (uint32_t)cycle, (uint32_t)disk, report, report_path);
		goto out;
	}
	if (ctx->json)
		f.list = json_array();
	else
		printf("campaign %" PRIu64 " cycle %" PRIu64 " disk %" PRIu64 ":\n", campaign, cycle,
		       disk);
	e = oracle_verify_each(db, campaign, (uint32_t)cycle, (uint32_t)disk, report, 0, true,
			       &res, on_finding, &f);
	if (e < 0) {
		pc_err(LOG_CHECK, "cannot classify '%s' against the ledger: %s", report_path,
		       strerror(-e));
		goto out;
	}
	if (ctx->json) {
		json_t *counts = json_object();
		for (int c = 0; c < CLS__COUNT; c++)
			json_object_set_new(counts, cls_class_name(c),
					    json_integer((json_int_t)res.cycle.count[c]));
		cmd_print_json(json_pack("{s:I,s:I,s:I,s:I,s:o,s:I,s:I,s:I,s:o}", "campaign",
					 (json_int_t)campaign, "cycle", (json_int_t)cycle, "disk",
					 (json_int_t)disk, "blocks", (json_int_t)res.blocks,
					 "counts", counts, "violations",
					 (json_int_t)res.cycle.violations, "anomalies",
					 (json_int_t)res.cycle.anomalies, "ledger_gaps",
					 (json_int_t)res.gaps, "findings", f.list));
		f.list = NULL;
	} else {
		if (f.shown > FINDINGS_SHOWN_MAX)
			printf("  ... %" PRIu64 " more findings (--json lists them all)\n",
			       f.shown - FINDINGS_SHOWN_MAX);
		printf("%" PRIu64 " blocks:", res.blocks);
		for (int c = 0; c < CLS__COUNT; c++)
			if (res.cycle.count[c])
				printf(" %s %" PRIu64, cls_class_name(c), res.cycle.count[c]);
		printf("\nviolations %" PRIu64 ", ordering anomalies %" PRIu64 ", ledger gaps %"
		       PRIu64 "\n", res.cycle.violations, res.cycle.anomalies, res.gaps);
	}
	/* A violation is the finding this command exists to show: say so in the status. */
	rc = res.cycle.violations ? EXIT_FAIL : EXIT_OK;
out:
	json_decref(f.list);
	if (report)
		fclose(report);
	if (tmp_fd >= 0) {
		close(tmp_fd);
		unlink(report_tmp);
	}
	store_close(st);
	return rc;
}
