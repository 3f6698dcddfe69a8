/* The per-cycle plan: a pure function of (campaign seed, plan index, bench). Each
 * cycle's choices come from its own SplitMix64 stream seeded by the campaign seed and
 * the index, so cycle i's plan never depends on how many cycles ran before it (a
 * resumed campaign draws exactly what an uninterrupted one would have). */
#include <errno.h>
#include <string.h>

#include "campaign.h"
#include "ledger.h"
#include "rng.h"

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
	rng_splitmix64(&x);
	p->index = index;
	p->workload_seed = rng_splitmix64(&x);
	p->fw_seed = (uint32_t)rng_splitmix64(&x);
	p->cut = cc->cut;
	host = rng_splitmix64(&x) % 100;
	p->timing = (int64_t)host < cc->host_cuts_pct ? CAMP_T_AFTER_FLUSH + (int)(rng_splitmix64(&x) % 3) :
		    CAMP_T_WINDOW;
	p->flushes = 1 + (uint32_t)(rng_splitmix64(&x) % 4);
	p->window_min_ms = cc->window_min_ms;
	p->window_max_ms = cc->window_max_ms;
	p->off_ms = cc->off_ms;
	p->idle_ms = cc->idle_ms;
}

json_t *camp_plan_json(const struct camp_plan *p)
{
	return json_pack("{s:i,s:s,s:s,s:I,s:I,s:i,s:I,s:I,s:I,s:I}", "index", (int)p->index,
			 "cut", config_cut_name(p->cut),
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
	p->cut = config_cut_parse(cut) < 0 ? CUT_POWER : config_cut_parse(cut);
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

/* ---- host-timed targets ---- */

void camp_watch_begin(struct camp_watch *w, size_t n_disks, const struct ledger_stats *st,
		      int64_t now_ns)
{
	_Static_assert(CAMP_WATCH_DISKS == LEDGER_STAT_DISKS, "one disk id range");
	memset(w, 0, sizeof(*w));
	/* Disk ids are 1..n_disks (the node's limit is far below this). */
	w->n_disks = n_disks < CAMP_WATCH_DISKS - 1 ? n_disks : CAMP_WATCH_DISKS - 1;
	for (size_t i = 1; i <= w->n_disks; i++)
		w->d[i].flushes0 = w->d[i].seen = st->disk_flushes[i];
	w->t_running = w->last_flush_ns = now_ns;
}

uint64_t camp_watch_min_flushes(const struct camp_watch *w, const struct ledger_stats *st)
{
	uint64_t min = UINT64_MAX;
	for (size_t i = 1; i <= w->n_disks; i++) {
		/* (counters started again for another cycle count as none) */
		uint64_t k = st->disk_flushes[i] >= w->d[i].flushes0 ?
			     st->disk_flushes[i] - w->d[i].flushes0 : 0;
		if (k < min)
			min = k;
	}
	return min == UINT64_MAX ? 0 : min;
}

/* in-flush: some disk has its next flush in flight. every-n: n writes acknowledged
 * since its last flush completed (the agent has issued the next one, whose completion
 * has not arrived); every-ms: its next flush is due. */
static bool flush_in_flight(const struct camp_watch *w, const struct cfg_workload *wl,
			    const struct ledger_stats *st, int64_t now_ns)
{
	for (size_t i = 1; i <= w->n_disks; i++) {
		if (w->d[i].seen == w->d[i].flushes0)
			continue;	/* no flush of its own seen yet: nothing to count from */
		if (wl->flush == FLUSH_EVERY_N ?
		    st->disk_acks[i] >= w->d[i].acks_at_flush + (uint64_t)wl->flush_n :
		    now_ns - w->d[i].flushed_ns >= wl->flush_ms * 1000000)
			return true;
	}
	return false;
}

bool camp_watch_hit(struct camp_watch *w, const struct camp_plan *p,
		    const struct cfg_workload *wl, const struct ledger_stats *st, int64_t now_ns)
{
	for (size_t i = 1; i <= w->n_disks; i++) {
		if (st->disk_flushes[i] == w->d[i].seen)
			continue;
		w->d[i].seen = st->disk_flushes[i];
		w->d[i].flushed_ns = w->last_flush_ns = now_ns;
		w->d[i].acks_at_flush = st->disk_acks[i];
	}
	bool all_flushed = camp_watch_min_flushes(w, st) >= p->flushes;
	switch (p->timing) {
	case CAMP_T_AFTER_FLUSH:
		return all_flushed;
	case CAMP_T_IN_FLUSH:
		return all_flushed && flush_in_flight(w, wl, st, now_ns);
	case CAMP_T_IDLE:
		return now_ns - w->last_flush_ns >= p->idle_ms * 1000000 &&
		       now_ns - w->t_running >= p->window_min_ms * 1000000;
	}
	return false;
}
