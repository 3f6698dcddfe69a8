/* A cycle's scenario from [campaign] scenario: the words, checked once, before any
 * cycle runs (campaign.h). The checks write why into a buffer as they go; the public
 * parse logs it, once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "log.h"
#include "options.h"

#define CAMP_STEP_NAME(id, name) name,
static const char *const step_names[] = { CAMP_STEP_KINDS(CAMP_STEP_NAME) NULL };
#undef CAMP_STEP_NAME

/* Today's cycle, as it ran before scenarios existed. */
static const char *const default_words[] = { "write", "cut", "restart", "check", NULL };

const char *camp_step_name(int kind)
{
	return kind >= 0 && kind < CAMP_STEP__COUNT ? step_names[kind] : "?";
}

/* write:KEY=VALUE,...: [workload] keys over base, parsed by the bench's own table. */
static int parse_workload(const char *w, const char *arg, const struct cfg_workload *base,
			  struct camp_step *st, char *err, size_t len)
{
	const struct opt_section *sec = NULL;
	char buf[256], msg[256];

	for (size_t i = 0; bench_sections[i]; i++)
		if (!strcmp(bench_sections[i]->name, "workload"))
			sec = bench_sections[i];
	if (!sec || strlen(arg) >= sizeof(buf)) {
		snprintf(err, len, "step '%s': too long", w);
		return -EINVAL;
	}
	if (base)
		st->workload = *base;
	else
		memset(&st->workload, 0, sizeof(st->workload));
	st->has_workload = true;
	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq) {
			snprintf(err, len, "step '%s': '%s' is not KEY=VALUE", w, kv);
			return -EINVAL;
		}
		*eq = 0;
		const struct opt_def *o = opt_find(sec, kv);
		if (!o || !strcmp(kv, "block_size")) {
			snprintf(err, len, "step '%s': %s '%s' (a write may set the [workload] keys but "
				 "block_size)", w, o ? "cannot set" : "unknown key", kv);
			return -EINVAL;
		}
		if (opt_set(o, &st->workload, eq + 1) < 0) {
			snprintf(err, len, "step '%s': invalid value '%s' for '%s' (expected %s)", w,
				 eq + 1, kv, opt_type_name(o, msg, sizeof(msg)));
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_word(const char *w, const struct cfg_workload *base, struct camp_step *st,
		      char *err, size_t len)
{
	const char *colon = strchr(w, ':');
	size_t kl = colon ? (size_t)(colon - w) : strlen(w);
	const char *arg = colon ? colon + 1 : NULL;

	st->kind = -1;
	st->cut = -1;
	st->ms = 0;
	st->has_workload = false;
	snprintf(st->arg, sizeof(st->arg), "%s", arg ? arg : "");
	for (int k = 0; k < CAMP_STEP__COUNT; k++)
		if (strlen(step_names[k]) == kl && !strncmp(step_names[k], w, kl))
			st->kind = k;
	if (st->kind < 0) {
		snprintf(err, len, "unknown step '%.*s' (steps: fill, write, flush, idle:DURATION, snapshot, "
			 "cut[:power|kill|reset], restart, reboot, check)", (int)kl, w);
		return -EINVAL;
	}
	if (st->kind == CAMP_STEP_IDLE) {
		static const struct opt_def d = { "idle", OPT_DURATION, 0, NULL, 0, 86400000, NULL,
						  NULL, 0 };
		if (!arg || opt_set(&d, &st->ms, arg) < 0) {
			snprintf(err, len, "step '%s': idle takes a duration (idle:2s)", w);
			return -EINVAL;
		}
		return 0;
	}
	if (st->kind == CAMP_STEP_CUT && arg) {
		st->cut = config_cut_parse(arg);
		if (st->cut < 0) {
			snprintf(err, len, "step '%s': a cut is power, kill or reset", w);
			return -EINVAL;
		}
		return 0;
	}
	if (st->kind == CAMP_STEP_WRITE && arg)
		return parse_workload(w, arg, base, st, err, len);
	if (arg) {
		snprintf(err, len, "step '%s': %s takes no argument", w, step_names[st->kind]);
		return -EINVAL;
	}
	return 0;
}

/* The scenario's words in order, why not into err. */
static int scenario_check(char *const *words, const struct cfg_workload *base,
			  struct camp_scenario *sc, char *err, size_t len)
{
	const char *const *w = words && words[0] ? (const char *const *)words : default_words;
	bool up = true, written = false, filled = false, cut_pending = false, cut = false;
	bool writing = false;
	size_t total = 0;

	memset(sc, 0, sizeof(*sc));
	err[0] = 0;
	for (size_t i = 0; w[i]; i++) {
		struct camp_step *st = &sc->steps[sc->n];
		if (sc->n == CAMP_MAX_STEPS) {
			snprintf(err, len, "more than %d steps", CAMP_MAX_STEPS);
			return -EINVAL;
		}
		if (parse_word(w[i], base, st, err, len) < 0)
			return -EINVAL;
		total += strlen(w[i]) + 1;
		sc->n++;
		/* The node must be up for everything but the restart after a cut. */
		if (st->kind == CAMP_STEP_RESTART) {
			if (!cut_pending) {
				snprintf(err, len, "step %zu: restart without a cut before it", i + 1);
				return -EINVAL;
			}
			cut_pending = false;
			up = true;
			continue;
		}
		if (!up) {
			snprintf(err, len, "step %zu '%s': the node is down after the cut: restart "
				 "first", i + 1, w[i]);
			return -EINVAL;
		}
		switch (st->kind) {
		case CAMP_STEP_CUT:
			up = false;
			cut_pending = cut = true;
			writing = false;
			break;
		case CAMP_STEP_REBOOT:
			writing = false;
			break;
		case CAMP_STEP_FLUSH:
			if (!writing) {
				snprintf(err, len, "step %zu: flush needs the workload running (a "
					 "write before it, no cut or reboot between)", i + 1);
				return -EINVAL;
			}
			writing = false;
			break;
		case CAMP_STEP_CHECK:
			/* What is lost is measured against a cut. */
			if (!cut) {
				snprintf(err, len, "step %zu: check before any cut", i + 1);
				return -EINVAL;
			}
			break;
		case CAMP_STEP_WRITE:
			/* The ledger classifies one session of the agent per cycle. */
			if (written) {
				snprintf(err, len, "step %zu: a second write in one cycle (one "
					 "workload session per cycle)", i + 1);
				return -EINVAL;
			}
			written = writing = true;
			break;
		case CAMP_STEP_FILL:
			if (written || filled) {
				snprintf(err, len, "step %zu: fill comes once, before the write", i + 1);
				return -EINVAL;
			}
			filled = true;
			break;
		case CAMP_STEP_SNAPSHOT:
			/* The snapshot reopens the image under the workload's feet. */
			if (writing) {
				snprintf(err, len, "step %zu: snapshot while the workload runs (cut "
					 "and restart first, or snapshot before the write)", i + 1);
				return -EINVAL;
			}
			break;
		default:
			break;
		}
		if (st->kind == CAMP_STEP_CHECK && w[i + 1]) {
			snprintf(err, len, "step %zu: check comes last, once", i + 1);
			return -EINVAL;
		}
	}
	if (!sc->n || sc->steps[sc->n - 1].kind != CAMP_STEP_CHECK) {
		snprintf(err, len, "the last step must be check");
		return -EINVAL;
	}
	if (!written) {
		snprintf(err, len, "no write step: nothing to check");
		return -EINVAL;
	}
	if (w == default_words) {
		sc->name = strdup("default");
	} else {
		char *name = malloc(total + 1);
		if (name) {
			name[0] = 0;
			for (size_t i = 0; w[i]; i++) {
				if (i)
					strcat(name, " ");
				strcat(name, w[i]);
			}
		}
		sc->name = name;
	}
	return sc->name ? 0 : -ENOMEM;
}

int camp_scenario_parse(char *const *words, const struct cfg_workload *base,
			struct camp_scenario *sc)
{
	char err[512];
	int rc = scenario_check(words, base, sc, err, sizeof(err));

	if (rc == -EINVAL)
		pc_err(LOG_MAIN, "[campaign] scenario: %s", err);
	return rc;
}

void camp_scenario_release(struct camp_scenario *sc)
{
	free((char *)sc->name);
	sc->name = NULL;
}
