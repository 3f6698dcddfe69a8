/* The per-cycle plan: a pure function of (campaign seed, plan index, bench). Each
 * cycle's choices come from its own SplitMix64 stream seeded by the campaign seed and
 * the index, so cycle i's plan never depends on how many cycles ran before it (a
 * resumed campaign draws exactly what an uninterrupted one would have). */
#include <errno.h>
#include <string.h>

#include "campaign.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char *const timing_names[] = { "window", "after-flush", "in-flush", "idle" };

const char *camp_timing_name(int timing)
{
	return timing >= 0 && timing < 4 ? timing_names[timing] : "?";
}

void camp_plan_make(const struct bench_config *cfg, uint64_t seed, uint32_t index,
		    struct camp_plan *p)
{
	const struct cfg_campaign *cc = cfg->campaign;
	/* Mixing the index through one round first keeps neighbouring seeds' streams apart. */
	uint64_t x = seed ^ (0xd1b54a32d192ed03ull * ((uint64_t)index + 1));
	uint64_t host;

	memset(p, 0, sizeof(*p));
	splitmix64(&x);
	p->index = index;
	p->workload_seed = splitmix64(&x);
	p->fw_seed = (uint32_t)splitmix64(&x);
	p->cut = cc->cut;
	host = splitmix64(&x) % 100;
	p->timing = (int64_t)host < cc->host_cuts_pct ? CAMP_T_AFTER_FLUSH + (int)(splitmix64(&x) % 3) :
		    CAMP_T_WINDOW;
	p->flushes = 1 + (uint32_t)(splitmix64(&x) % 4);
	p->window_min_ms = cc->window_min_ms;
	p->window_max_ms = cc->window_max_ms;
	p->off_ms = cc->off_ms;
	p->idle_ms = cc->idle_ms;
}

json_t *camp_plan_json(const struct camp_plan *p)
{
	return json_pack("{s:i,s:s,s:s,s:I,s:I,s:i,s:I,s:I,s:I,s:I}", "index", (int)p->index,
			 "cut", p->cut == CUT_KILL ? "kill" : "power",
			 "timing", camp_timing_name(p->timing),
			 "workload_seed", (json_int_t)p->workload_seed,
			 "fw_seed", (json_int_t)p->fw_seed, "flushes", (int)p->flushes,
			 "window_min_ms", (json_int_t)p->window_min_ms,
			 "window_max_ms", (json_int_t)p->window_max_ms,
			 "off_ms", (json_int_t)p->off_ms, "idle_ms", (json_int_t)p->idle_ms);
}

int camp_plan_from_json(json_t *j, struct camp_plan *p)
{
	const char *cut = NULL, *timing = NULL;
	json_int_t idx, ws, fs, fl, wmin, wmax, off, idle;

	if (json_unpack(j, "{s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "index", &idx, "cut", &cut,
			"timing", &timing, "workload_seed", &ws, "fw_seed", &fs, "flushes", &fl,
			"window_min_ms", &wmin, "window_max_ms", &wmax, "off_ms", &off,
			"idle_ms", &idle) < 0)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->index = (uint32_t)idx;
	p->cut = !strcmp(cut, "kill") ? CUT_KILL : CUT_POWER;
	p->timing = -1;
	for (int i = 0; i < 4; i++)
		if (!strcmp(timing, timing_names[i]))
			p->timing = i;
	if (p->timing < 0)
		return -EINVAL;
	p->workload_seed = (uint64_t)ws;
	p->fw_seed = (uint32_t)fs;
	p->flushes = (uint32_t)fl;
	p->window_min_ms = wmin;
	p->window_max_ms = wmax;
	p->off_ms = off;
	p->idle_ms = idle;
	return 0;
}
