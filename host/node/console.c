/* The guest's console lines. See console.h. */
#include "console.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "smart.h"

void guest_console_init(struct guest_console *c, size_t n_disks)
{
	memset(c, 0, sizeof(*c));
	c->n = n_disks;
	for (size_t i = 0; i < NODE_MAX_DISKS; i++)
		c->check_rc[i] = -1;
}

void guest_console_boot(struct guest_console *c, json_t *boot_log, int boot, bool check)
{
	if (c->own_events)
		json_decref(c->events);
	c->events = json_array();
	/* The boot log owns the events; this boot's array is filled as they come. */
	c->own_events = !boot_log;
	if (boot_log)
		json_array_append_new(boot_log, json_pack("{s:i,s:s,s:o}", "boot", boot,
					"mode", check ? "check" : "write", "events", c->events));
	c->ready = c->done = false;
	c->len = 0;
	c->heard_ms = clock_mono_ms();
	c->stage[0] = 0;
	c->panic = false;
	c->tail_n = 0;
	json_decref(c->zfs_ev);
	json_decref(c->zpool);
	c->zfs_ev = json_object();
	c->zpool = json_object();
	for (size_t i = 0; i < NODE_MAX_DISKS && !check; i++)
		for (int k = 0; k < 2; k++) {
			json_decref(c->smart[i][k]);
			c->smart[i][k] = NULL;
		}
	for (size_t i = 0; i < NODE_MAX_DISKS; i++) {
		c->check_rc[i] = -1;
		c->check_lines[i] = 0;
	}
}

/* One POWERCUT line. */
static void console_event(struct guest_console *c, char *line)
{
	char name[32];
	int len = 0;

	if (sscanf(line, "POWERCUT %31s %n", name, &len) < 1)
		return;
	char *rest = len ? line + len : line + strlen(line);
	if (!strcmp(name, "lvs")) {
		json_t *j = json_loads(rest, 0, NULL);
		json_decref(c->lvs);
		c->lvs = j ? j : json_string(rest);
		return;
	}
	/* key=value words, then a JSON payload: smartctl's report, zpool's text */
	if (!strcmp(name, "smart") || !strcmp(name, "zpool")) {
		char *js = strchr(rest, '{');
		json_t *j = js ? json_loads(js, 0, NULL) : NULL;
		if (js)
			*js = 0;
		json_t *ev = json_pack("{s:s}", "event", name);
		char *save = NULL;
		for (char *t = strtok_r(rest, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
			char *eq = strchr(t, '=');
			if (eq) {
				*eq = 0;
				json_object_set_new(ev, t, json_string(eq + 1));
			}
		}
		const char *phase = json_string_value(json_object_get(ev, "phase"));
		if (!j) {
			pc_warn(LOG_NODE, "guest: %s event without a JSON payload", name);
			j = json_object();
		}
		if (!strcmp(name, "zpool")) {
			if (phase && c->zpool)
				json_object_set(c->zpool, phase, j);
		} else {
			const char *d = json_string_value(json_object_get(ev, "disk"));
			const char *wc = json_string_value(json_object_get(ev, "wc"));
			int id = d ? atoi(d) : 0;
			int k = phase && !strcmp(phase, "after") ? 1 : 0;
			/* the kernel's view of the write cache, for smart_summary */
			if (wc && (!strcmp(wc, "back") || !strcmp(wc, "through")))
				json_object_set_new(j, "powercut_write_cache",
						    json_string(!strcmp(wc, "back") ? "write back" :
								"write through"));
			if (id >= 1 && (size_t)id <= c->n) {
				json_decref(c->smart[id - 1][k]);
				c->smart[id - 1][k] = json_incref(j);
			}
		}
		json_decref(j);
		if (c->events)
			json_array_append_new(c->events, ev);
		else
			json_decref(ev);
		return;
	}
	if (!strcmp(name, "check-line")) {
		unsigned disk;
		int l2 = 0;
		if (sscanf(rest, "disk=%u %n", &disk, &l2) >= 1 && l2 && disk >= 1 && disk <= c->n &&
		    c->reports[disk - 1]) {
			fprintf(c->reports[disk - 1], "%s\n", rest + l2);
			c->check_lines[disk - 1]++;
		}
		return;
	}
	json_t *ev = json_object();
	json_object_set_new(ev, "event", json_string(name));
	/* key=value words */
	char *save = NULL;
	for (char *t = strtok_r(rest, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(t, '=');
		if (!eq)
			continue;
		*eq = 0;
		json_object_set_new(ev, t, json_string(eq + 1));
	}
	if (!strcmp(name, "ready"))
		c->ready = true;
	else if (!strcmp(name, "done"))
		c->done = true;
	else if (!strcmp(name, "lvm")) {
		json_decref(c->lvm_ev);
		c->lvm_ev = json_incref(ev);
	} else if (!strcmp(name, "zfs")) {
		const char *op = json_string_value(json_object_get(ev, "op"));
		if (op && c->zfs_ev)
			json_object_set(c->zfs_ev, op, ev);
	} else if (!strcmp(name, "check-end")) {
		const char *d = json_string_value(json_object_get(ev, "disk"));
		const char *rc = json_string_value(json_object_get(ev, "rc"));
		int id = d ? atoi(d) : 0;
		if (rc && id >= 1 && (size_t)id <= c->n)
			c->check_rc[id - 1] = atoi(rc);
	} else if (!strcmp(name, "error") || !strcmp(name, "warning")) {
		char *s = json_dumps(ev, JSON_COMPACT);
		pc_warn(LOG_NODE, "guest: %s", s ? s : name);
		free(s);
	}
	pc_debug(LOG_NODE, "guest event '%s'", name);
	if (c->events)
		json_array_append_new(c->events, ev);
	else
		json_decref(ev);
}

/* A line of the console kept among its last ones; the kernel's panic noted. */
static void console_heard(struct guest_console *c, const char *line)
{
	size_t n = sizeof(c->tail) / sizeof(c->tail[0]);
	char *t = c->tail[c->tail_n++ % n];

	snprintf(t, sizeof(c->tail[0]), "%.159s", line);
	for (; *t; t++)
		if ((unsigned char)*t < 0x20)
			*t = ' ';
	/* panic()'s first line, "Kernel panic - not syncing: REASON" (kernel/panic.c) */
	const char *p = strstr(line, "Kernel panic - not syncing");
	if (p && !c->panic) {
		c->panic = true;
		snprintf(c->panic_line, sizeof(c->panic_line), "%.159s", p);
	}
}

bool guest_console_dead(const struct guest_console *c, int64_t silence_ms, const char *who,
			struct node_death *d)
{
	size_t n = sizeof(c->tail) / sizeof(c->tail[0]), off = 0;
	int64_t quiet = clock_mono_ms() - c->heard_ms;

	memset(d, 0, sizeof(*d));
	if (c->panic) {
		d->life = NODE_LIFE_PANICKED;
		off = (size_t)snprintf(d->what, sizeof(d->what), "%s panicked (%s); its console "
				       "ends with:", who, c->panic_line);
		unsigned first = c->tail_n > n ? c->tail_n - (unsigned)n : 0;
		for (unsigned i = first; i < c->tail_n && off < sizeof(d->what); i++)
			off += (size_t)snprintf(d->what + off, sizeof(d->what) - off, "%s%s",
						i == first ? " " : " | ", c->tail[i % n]);
		return true;
	}
	if (silence_ms > 0 && quiet >= silence_ms) {
		d->life = NODE_LIFE_SILENT;
		d->code = (int)(quiet / 1000);
		snprintf(d->what, sizeof(d->what), "the console of %s has been silent for %d s at "
			 "stage '%s'", who, d->code, c->stage[0] ? c->stage : "kernel");
		return true;
	}
	return false;
}

void guest_console_feed(struct guest_console *c, const char *data, size_t len)
{
	if (len)
		c->heard_ms = clock_mono_ms();
	while (len) {
		size_t k = sizeof(c->buf) - 1 - c->len;
		if (k > len)
			k = len;
		memcpy(c->buf + c->len, data, k);
		data += k;
		len -= k;
		c->len += k;
		c->buf[c->len] = 0;
		char *s = c->buf, *nl;
		while ((nl = memchr(s, '\n', c->len - (size_t)(s - c->buf)))) {
			*nl = 0;
			if (nl > s && nl[-1] == '\r')
				nl[-1] = 0;
			console_heard(c, s);
			char *p = strstr(s, "POWERCUT ");
			if (p)
				sscanf(p, "POWERCUT %31s", c->stage);
			if (p && c->lines)
				json_array_append_new(c->lines, json_string(p + 9));
			if (p)
				console_event(c, p);
			s = nl + 1;
		}
		c->len -= (size_t)(s - c->buf);
		memmove(c->buf, s, c->len);
		/* A line longer than the buffer is not one of ours: dropped. */
		if (c->len >= sizeof(c->buf) - 1)
			c->len = 0;
	}
}

bool guest_console_writes_ok(const struct guest_console *c, int want)
{
	size_t i;
	json_t *ev;
	int ok = 0;

	json_array_foreach(c->events, i, ev) {
		const char *name = json_string_value(json_object_get(ev, "event"));
		const char *rc = json_string_value(json_object_get(ev, "rc"));
		if (name && !strcmp(name, "write-exit")) {
			if (!rc || strcmp(rc, "0"))
				return false;
			ok++;
		}
	}
	return ok == want;
}

void guest_console_reports_close(struct guest_console *c)
{
	for (size_t i = 0; i < NODE_MAX_DISKS; i++) {
		if (c->reports[i])
			fclose(c->reports[i]);
		c->reports[i] = NULL;
	}
}

void guest_console_release(struct guest_console *c)
{
	guest_console_reports_close(c);
	json_decref(c->lvm_ev);
	json_decref(c->lvs);
	json_decref(c->zfs_ev);
	json_decref(c->zpool);
	c->lvm_ev = c->lvs = c->zfs_ev = c->zpool = NULL;
	for (size_t i = 0; i < NODE_MAX_DISKS; i++)
		for (int k = 0; k < 2; k++) {
			json_decref(c->smart[i][k]);
			c->smart[i][k] = NULL;
		}
	if (c->own_events)
		json_decref(c->events);
	c->events = NULL;
	c->own_events = false;
}

json_t *guest_cache_obj(int cache)
{
	bool direct = cache == CACHE_NONE || cache == CACHE_DIRECTSYNC;
	bool noflush = cache == CACHE_UNSAFE;

	return json_pack("{s:b,s:b}", "direct", direct, "no-flush", noflush);
}

static void add_check(json_t *arr, const char *kind, const char *result, json_t *detail)
{
	json_t *c = json_pack("{s:s,s:s}", "kind", kind, "result", result);

	if (detail)
		json_object_set_new(c, "detail", detail);
	json_array_append_new(arr, c);
}

void guest_console_lvm_checks(const struct guest_console *c, json_t *checks)
{
	const char *tc = c->lvm_ev ? json_string_value(json_object_get(c->lvm_ev,
			 "thin_check")) : NULL;
	const char *st = c->lvm_ev ? json_string_value(json_object_get(c->lvm_ev, "status")) : NULL;

	add_check(checks, "thin_check", !tc ? "not-run" : !strcmp(tc, "0") ? "pass" : "fail",
		  c->lvm_ev ? json_incref(c->lvm_ev) : NULL);
	add_check(checks, "lvs", st && !strcmp(st, "ok") ? "ok" : "fail",
		  c->lvs ? json_incref(c->lvs) : NULL);
}

static const char *ev_str(const json_t *ev, const char *key)
{
	return json_string_value(json_object_get(ev, key));
}

void guest_console_zfs_checks(const struct guest_console *c, json_t *checks)
{
	const json_t *ro = json_object_get(c->zfs_ev, "import-ro");
	const json_t *im = json_object_get(c->zfs_ev, "import");
	const json_t *sc = json_object_get(c->zfs_ev, "scrub");
	const char *st;

	st = ev_str(ro, "status");
	add_check(checks, "zpool-import-ro", !st ? "not-run" : !strcmp(st, "ok") ? "pass" : "fail",
		  json_pack("{s:O,s:O,s:O}", "event", ro ? (json_t *)ro : json_null(),
			    "scan", json_object_get(c->zpool, "scan") ?: json_null(),
			    "status", json_object_get(c->zpool, "import-ro") ?: json_null()));
	st = ev_str(im, "status");
	add_check(checks, "zpool-import", st && !strcmp(st, "ok") ? "pass" : "fail",
		  im ? json_incref((json_t *)im) : NULL);
	st = ev_str(sc, "status");
	const char *err = ev_str(sc, "errors"), *rep = ev_str(sc, "repaired");
	const char *res = !st ? "not-run" : strcmp(st, "ok") ? "fail" :
			  err && strcmp(err, "0") ? "corrupt" :
			  rep && strcmp(rep, "0") && strcmp(rep, "0B") ? "repaired" : "clean";
	add_check(checks, "zpool-scrub", res,
		  json_pack("{s:O,s:O}", "event", sc ? (json_t *)sc : json_null(),
			    "status", json_object_get(c->zpool, "scrub") ?: json_null()));
}

void guest_console_smart_check(const struct guest_console *c, size_t i, bool power_cut,
			       json_t *checks)
{
	if (i >= NODE_MAX_DISKS || (!c->smart[i][0] && !c->smart[i][1]))
		return;
	smart_check_add(checks, c->smart[i][0], c->smart[i][1], power_cut, NULL);
}
