/* The observer list of campaign and cycle events: see observe.h. A fixed array under
 * one mutex: few observers, and a notification must never allocate. */
#include <errno.h>
#include <string.h>

#include "observe.h"

#define CAMP_EV_NAME(id, name) [CAMP_EV_##id] = name,
static const char *const event_names[] = { CAMP_EVENTS(CAMP_EV_NAME) };
#undef CAMP_EV_NAME

const char *camp_event_name(enum camp_event_kind kind)
{
	return kind >= 0 && kind < CAMP_EV__COUNT ? event_names[kind] : "?";
}

void camp_observers_init(struct camp_observers *obs)
{
	memset(obs, 0, sizeof(*obs));
	pthread_mutex_init(&obs->lock, NULL);
}

void camp_observers_release(struct camp_observers *obs)
{
	pthread_mutex_lock(&obs->lock);
	obs->n = 0;
	pthread_mutex_unlock(&obs->lock);
	pthread_mutex_destroy(&obs->lock);
}

int camp_observe_add(struct camp_observers *obs, camp_observe_fn fn, void *arg)
{
	int rc = 0;

	if (!obs || !fn)
		return -EINVAL;
	pthread_mutex_lock(&obs->lock);
	for (size_t i = 0; i < obs->n; i++)
		if (obs->o[i].fn == fn && obs->o[i].arg == arg)
			rc = -EEXIST;
	if (rc == 0 && obs->n >= CAMP_MAX_OBSERVERS)
		rc = -ENOSPC;
	if (rc == 0) {
		obs->o[obs->n].fn = fn;
		obs->o[obs->n].arg = arg;
		obs->n++;
	}
	pthread_mutex_unlock(&obs->lock);
	return rc;
}

int camp_observe_remove(struct camp_observers *obs, camp_observe_fn fn, void *arg)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&obs->lock);
	for (size_t i = 0; i < obs->n; i++) {
		if (obs->o[i].fn != fn || obs->o[i].arg != arg)
			continue;
		memmove(&obs->o[i], &obs->o[i + 1], (obs->n - i - 1) * sizeof(obs->o[0]));
		obs->n--;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&obs->lock);
	return rc;
}

void camp_notify(struct camp_observers *obs, const struct camp_event *ev)
{
	if (!obs)
		return;
	/* Held during the calls: a remove from another thread waits for them. */
	pthread_mutex_lock(&obs->lock);
	for (size_t i = 0; i < obs->n; i++)
		obs->o[i].fn(obs->o[i].arg, ev);
	pthread_mutex_unlock(&obs->lock);
}
