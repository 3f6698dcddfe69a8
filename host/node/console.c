/* The guest's console lines. See console.h. */
#include "console.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

void guest_console_init(struct guest_console *c, size_t n_disks)
{
	memset(c, 0, sizeof(*c));
	c->n = n_disks;
	for (size_t i = 0; i < NODE_MAX_DISKS; i++)
		c->check_rc[i] = -1;
}

void guest_console_boot(struct guest_console *c, json_t *boot_log, int boot, bool check)
{
	c->events = json_array();
	/* The boot log owns the events; this boot's array is filled as they come. */
	if (boot_log)
		json_array_append_new(boot_log, json_pack("{s:i,s:s,s:o}", "boot", boot,
					"mode", check ? "check" : "write", "events", c->events));
	c->ready = c->done = false;
	c->len = 0;
	for (size_t i = 0; i < NODE_MAX_DISKS; i++)
		c->check_rc[i] = -1;
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
	if (!strcmp(name, "check-line")) {
		unsigned disk;
		int l2 = 0;
		if (sscanf(rest, "disk=%u %n", &disk, &l2) >= 1 && l2 && disk >= 1 && disk <= c->n &&
		    c->reports[disk - 1])
			fprintf(c->reports[disk - 1], "%s\n", rest + l2);
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

void guest_console_feed(struct guest_console *c, const char *data, size_t len)
{
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
			char *p = strstr(s, "POWERCUT ");
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
	c->lvm_ev = c->lvs = NULL;
	c->events = NULL;
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
