/* Campaign and cycle events, and the observers that watch them.
 *
 * As simavr's IRQ notify hooks let any part watch a wire without its producer
 * knowing, the campaign engine (cycle.c, run.c) announces what happens (a campaign
 * begins, a cycle begins, a step begins, the ledger takes or gives back the database,
 * a cycle ends, the campaign ends) to a list of observers and knows none of them.
 * The front end registers them: the campaign database (camp_db_observer: it holds the
 * database's log watcher while the ledger writes), the progress and status line of
 * `powercut run`, and any later watcher (a live status page).
 *
 *   struct camp_observers obs;
 *   camp_observers_init(&obs);
 *   camp_observe_add(&obs, camp_db_observer, store);
 *   camp_observe_add(&obs, my_progress, &view);
 *   env.obs = &obs;                     // camp_cycle_run / camp_run notify it
 *   ...
 *   camp_observers_release(&obs);
 *
 * Threads: events are produced on the campaign's thread, and each observer is called
 * on it, in the order added, with the list's lock held. Any thread may add or remove
 * an observer at any time (a status page's thread registers itself while a campaign
 * runs): camp_observe_remove returns once the observer is no longer being called, so
 * its argument may be freed right after. An observer must be quick (the cycle's timing
 * waits for it), must not add, remove or notify from inside its callback (the lock is
 * not recursive), and must copy what it keeps: an event and everything it points to
 * live for the call only. An observer on another thread that needs the campaign's
 * data copies it under its own lock in the callback.
 *
 * Errors: negative errno, as everywhere in the campaign.
 */
#ifndef PC_OBSERVE_H
#define PC_OBSERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct camp_result;
struct camp_run;

#define CAMP_EVENTS(X) \
	X(CAMPAIGN_BEGIN, "campaign-begin")	/* campaign: its row exists */ \
	X(CYCLE_BEGIN, "cycle-begin")	/* cycle, cycle_id: its row exists */ \
	X(STEP, "step")			/* step: the cycle's step begins (already stored,
					 * or in the run directory's step file) */ \
	X(DB_BUSY, "db-busy")		/* the ledger's connection writes all the time:
					 * the campaign's own inserts would wait for it */ \
	X(DB_FREE, "db-free")		/* the ledger is quiet again */ \
	X(CYCLE_END, "cycle-end")	/* rc, result, run: camp_run, its tally counting
					 * the cycle already */ \
	X(CAMPAIGN_END, "campaign-end")	/* run */
#define CAMP_EV_ENUM(id, name) CAMP_EV_##id,
enum camp_event_kind { CAMP_EVENTS(CAMP_EV_ENUM) CAMP_EV__COUNT };
#undef CAMP_EV_ENUM
const char *camp_event_name(enum camp_event_kind kind);

struct camp_event {
	enum camp_event_kind kind;
	int64_t campaign;
	uint32_t cycle;				/* plan index, 0 outside a cycle */
	int64_t cycle_id;			/* cycles.id, 0 before its row */
	const char *step;			/* STEP */
	int rc;					/* CYCLE_END: camp_cycle_run's return */
	const struct camp_result *result;	/* CYCLE_END */
	const struct camp_run *run;		/* camp_run's, or NULL (`powercut cycle`) */
};

typedef void (*camp_observe_fn)(void *arg, const struct camp_event *ev);

#define CAMP_MAX_OBSERVERS 8
struct camp_observers {
	pthread_mutex_t lock;
	size_t n;
	struct {
		camp_observe_fn fn;
		void *arg;
	} o[CAMP_MAX_OBSERVERS];
};

void camp_observers_init(struct camp_observers *obs);
/* Forget every observer (the caller's arguments are its own). */
void camp_observers_release(struct camp_observers *obs);
/* 0, -ENOSPC (CAMP_MAX_OBSERVERS already), -EEXIST (the same fn and arg), -EINVAL. */
int camp_observe_add(struct camp_observers *obs, camp_observe_fn fn, void *arg);
/* 0 or -ENOENT; the others keep their order. */
int camp_observe_remove(struct camp_observers *obs, camp_observe_fn fn, void *arg);
/* Call every observer with ev, in order. obs NULL: nobody watches. */
void camp_notify(struct camp_observers *obs, const struct camp_event *ev);

/* The campaign database as an observer (arg: its struct store, whose log watcher is
 * attached: store_log_attach): while the ledger writes (DB_BUSY..DB_FREE) the log
 * messages are not stored, as the campaign's own rows wait then too. */
void camp_db_observer(void *arg, const struct camp_event *ev);

#endif
