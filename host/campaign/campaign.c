/* The campaign row and its ledger token. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "campaign.h"
#include "ledger.h"
#include "relay.h"
#include "util.h"

static void random_token(char out[33])
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_sec;
		memcpy(b, &x, 8);
		memcpy(b + 8, &x, 8);
	}
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = 0;
}

int camp_campaign_begin(struct store *db, const struct bench_config *cfg,
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

struct ledger *camp_ledger_start(const char *db_path, int64_t campaign, const char *token)
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
