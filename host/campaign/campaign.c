/* A campaign's start and stop (its row, its ledger token, its ledger: the one set-up
 * of `powercut cycle` and `powercut run`), the tool versions it records, and the
 * name tables of the campaign's statuses. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "campaign.h"
#include "clock.h"
#include "ledger.h"
#include "relay.h"
#include "util.h"

#define NAME(id, name) name,
static const char *const cycle_status_names[] = { CAMP_CYCLE_STATUSES(NAME) };
static const char *const status_names[] = { CAMP_STATUSES(NAME) };
static const char *const controls_names[] = { CAMP_CONTROLS(NAME) };
#undef NAME

const char *camp_cycle_status_name(enum camp_cycle_status s)
{
	return s >= 0 && s < CAMP_CYC__COUNT ? cycle_status_names[s] : "?";
}

const char *camp_status_name(enum camp_status s)
{
	return s >= 0 && s < CAMP_ST__COUNT ? status_names[s] : "?";
}

int camp_status_parse(const char *name)
{
	for (int s = 0; name && s < CAMP_ST__COUNT; s++)
		if (!strcmp(name, status_names[s]))
			return s;
	return -EINVAL;
}

const char *camp_controls_name(enum camp_controls c)
{
	return c >= 0 && c < CAMP_CTL__COUNT ? controls_names[c] : "?";
}

static void random_token(char out[33])
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		uint64_t x = (uint64_t)clock_mono_ns() ^ ((uint64_t)getpid() << 32);
		memcpy(b, &x, 8);
		memcpy(b + 8, &x, 8);
	}
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = 0;
}

/* The campaign row (the effective config, its hash, versions_json) and its ledger
 * token, registered. */
static int campaign_insert(struct store *db, const struct bench_config *cfg,
			   const char *versions_json, int64_t *campaign, char token[33])
{
	char hash[65];
	char *text = bench_config_text(cfg);
	json_t *cj = bench_config_json(cfg);
	char *cjs = cj ? json_dumps(cj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc = -ENOMEM;

	json_decref(cj);
	if (!text || !cjs || bench_config_hash(cfg, hash) < 0)
		goto out;
	struct store_campaign sc = { .bench = cfg->bench->name, .config_text = text,
		.config_json = cjs, .config_hash = hash,
		.versions_json = versions_json ? versions_json : "{}" };
	if ((rc = store_campaign_insert(db, &sc, campaign)) < 0)
		goto out;
	store_set_campaign(db, *campaign);
	random_token(token);
	rc = ledger_campaign_register(store_db(db), (uint64_t)*campaign, token, cfg->campaign->seed);
out:
	free(text);
	free(cjs);
	return rc;
}

char *camp_versions(struct relay *relay, const char *powercut)
{
	struct relay_status s;
	const char *fw = NULL;

	memset(&s, 0, sizeof(s));
	if (relay && relay_status(relay, &s) == 0 && s.fw[0])
		fw = s.fw;
	json_t *v = pc_versions_json(powercut, fw, NULL);
	char *t = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(v);
	return t;
}

static struct ledger *ledger_listen(const char *db_path, int64_t campaign, const char *token)
{
	struct ledger_config lc = { .addr = "127.0.0.1", .campaign = (uint64_t)campaign,
				    .token = token, .cycle = 0 };
	struct ledger *l = ledger_open(&lc, db_path);

	if (l && ledger_start(l) < 0) {
		int e = errno;
		ledger_free(l);
		errno = e;
		return NULL;
	}
	return l;
}

int camp_start(struct camp_env *env, const char *versions_json, char token[65])
{
	char tok[33];
	int rc = campaign_insert(env->db, env->cfg, versions_json, &env->campaign, tok);

	if (rc < 0)
		return rc;
	snprintf(token, 65, "%s", tok);
	env->token = token;
	struct camp_event ev = { .kind = CAMP_EV_CAMPAIGN_BEGIN, .campaign = env->campaign };
	camp_notify(env->obs, &ev);
	return camp_ledger_start(env);
}

int camp_ledger_start(struct camp_env *env)
{
	env->led = ledger_listen(env->db_path, env->campaign, env->token);
	/* ledger_open logged why. */
	return env->led ? 0 : errno ? -errno : -EIO;
}

void camp_stop(struct camp_env *env)
{
	if (env->led)
		ledger_free(env->led);
	env->led = NULL;
}

void camp_db_observer(void *arg, const struct camp_event *ev)
{
	struct store *st = arg;

	switch (ev->kind) {
	case CAMP_EV_DB_BUSY:
		store_log_hold(st, true);
		break;
	case CAMP_EV_DB_FREE:
		store_log_hold(st, false);
		break;
	default:
		break;
	}
}
