/* Shared by the report's model tests (include after cmocka.h, config.h and store.h):
 * a campaign row stored as powercut run stores it. */
#ifndef PC_REPORT_STORE_TEST_H
#define PC_REPORT_STORE_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

/* A campaign of the bench file `bench` with `sets` (--set KEY=VALUE) applied: its
 * config text, JSON and hash, and `versions_json`. Returns the campaign's id. */
static inline int64_t rt_campaign(struct store *st, const char *bench, char **sets,
				  size_t n_sets, const char *versions_json)
{
	struct bench_config *cfg = bench_config_load(bench, sets, n_sets, NULL);
	assert_non_null(cfg);
	char hash[65], *text = bench_config_text(cfg);
	json_t *j = bench_config_json(cfg);
	char *js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_int_equal(bench_config_hash(cfg, hash), 0);
	struct store_campaign c = { .bench = cfg->bench->name, .config_text = text,
		.config_json = js, .config_hash = hash, .versions_json = versions_json };
	int64_t id;
	assert_int_equal(store_campaign_insert(st, &c, &id), 0);
	free(text);
	free(js);
	json_decref(j);
	bench_config_free(cfg);
	return id;
}

#endif
