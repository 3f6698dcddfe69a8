/* Logging: see log.h. */
#include "log.h"
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static enum log_level g_level = LOG_INFO;
static unsigned g_debug_cats;
static log_sink_fn g_sink;
static void *g_sink_ctx;
static const char *g_prog = "powercut";
/* The status line (log_status); empty when none is shown. The main thread sets it;
 * any thread's message redraws it: the lock keeps a message and the line whole. */
static char g_status[512];
static pthread_mutex_t g_status_lock = PTHREAD_MUTEX_INITIALIZER;
/* The sink may itself log (a database error); do not recurse into it. */
static __thread int g_in_sink;

static const struct {
	enum log_cat cat;
	const char *name;
} cat_names[] = {
	{ LOG_MAIN, "main" },     { LOG_CONFIG, "config" }, { LOG_SERIAL, "serial" },
	{ LOG_RELAY, "relay" },   { LOG_CLOCK, "clock" },   { LOG_DB, "db" },
	{ LOG_CHILD, "child" },   { LOG_NODE, "node" },     { LOG_LEDGER, "ledger" },
	{ LOG_AGENT, "agent" },   { LOG_CHECK, "check" },   { LOG_SIM, "sim" },
	{ LOG_SSH, "ssh" },       { LOG_REPORT, "report" },
};

void log_set_level(enum log_level level)
{
	g_level = level;
}

int log_enable_debug(const char *spec, const char **bad)
{
	unsigned cats = 0;
	const char *p = spec;

	if (bad)
		*bad = NULL;
	while (p && *p) {
		size_t n = strcspn(p, ",");
		bool found = false;

		if (n == 3 && !strncmp(p, "all", 3)) {
			cats = ~0u;
			found = true;
		}
		for (size_t i = 0; !found && i < sizeof(cat_names) / sizeof(cat_names[0]); i++) {
			if (strlen(cat_names[i].name) == n && !strncmp(p, cat_names[i].name, n)) {
				cats |= cat_names[i].cat;
				found = true;
			}
		}
		if (!found && n > 0) {
			if (bad)
				*bad = p;
			return -EINVAL;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	g_debug_cats |= cats;
	return 0;
}

const char *log_cat_name(enum log_cat cat)
{
	for (size_t i = 0; i < sizeof(cat_names) / sizeof(cat_names[0]); i++)
		if (cat_names[i].cat == cat)
			return cat_names[i].name;
	return "?";
}

/* Watchers see every message too (the front end collects errors for --json, the
 * campaign database stores them). Any thread logs through them under the read lock;
 * adding or removing one takes the write lock, so a removed watcher is never called
 * after log_watch_remove returned. */
#define LOG_MAX_WATCHERS 4
static struct {
	log_sink_fn fn;
	void *ctx;
} g_watch[LOG_MAX_WATCHERS];
static pthread_rwlock_t g_watch_lock = PTHREAD_RWLOCK_INITIALIZER;

int log_watch_add(log_sink_fn fn, void *ctx)
{
	int rc = -ENOSPC;

	pthread_rwlock_wrlock(&g_watch_lock);
	for (int i = 0; i < LOG_MAX_WATCHERS; i++)
		if (!g_watch[i].fn) {
			g_watch[i].ctx = ctx;
			g_watch[i].fn = fn;
			rc = 0;
			break;
		}
	pthread_rwlock_unlock(&g_watch_lock);
	return rc;
}

void log_watch_remove(log_sink_fn fn, void *ctx)
{
	pthread_rwlock_wrlock(&g_watch_lock);
	for (int i = 0; i < LOG_MAX_WATCHERS; i++)
		if (g_watch[i].fn == fn && g_watch[i].ctx == ctx)
			g_watch[i].fn = NULL;
	pthread_rwlock_unlock(&g_watch_lock);
}

void log_set_sink(log_sink_fn fn, void *ctx)
{
	g_sink = fn;
	g_sink_ctx = ctx;
}

void log_set_prog(const char *prog)
{
	g_prog = prog ? prog : "powercut";
}

void log_status(const char *line)
{
	if (!isatty(STDERR_FILENO))
		return;
	pthread_mutex_lock(&g_status_lock);
	bool had = g_status[0];
	snprintf(g_status, sizeof(g_status), "%s", line ? line : "");
	/* A status line wider than the terminal would wrap, and \r would then clear only
	 * its last row: cut it at the terminal's width when that is known. */
	struct winsize ws;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
	    ws.ws_col <= strlen(g_status))
		g_status[ws.ws_col - 1] = 0;
	if (g_status[0] || had) {
		fprintf(stderr, "\r\033[K%s", g_status);
		fflush(stderr);
	}
	pthread_mutex_unlock(&g_status_lock);
}

bool log_enabled(enum log_level level, enum log_cat cat)
{
	if (level <= g_level)
		return true;
	return level == LOG_DEBUG && (g_debug_cats & cat);
}

void log_vmsg(enum log_level level, enum log_cat cat, const char *fmt, va_list ap)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };
	char buf[2048];
	int saved = errno;

	if (!log_enabled(level, cat))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* One fprintf per message so lines from parallel processes do not interleave;
	 * a status line is cleared before it and drawn again after it. */
	pthread_mutex_lock(&g_status_lock);
	const char *clr = g_status[0] ? "\r\033[K" : "";
	if (level == LOG_DEBUG)
		fprintf(stderr, "%s%s: debug(%s): %s\n%s", clr, g_prog, log_cat_name(cat), buf, g_status);
	else
		fprintf(stderr, "%s%s: %s%s\n%s", clr, g_prog, prefix[level], buf, g_status);
	if (g_status[0])
		fflush(stderr);
	pthread_mutex_unlock(&g_status_lock);
	if (g_in_sink) {
		errno = saved;
		return;
	}
	g_in_sink = 1;
	int64_t wall = clock_wall_ns(), mono = clock_mono_ns();
	if (g_sink)
		g_sink(g_sink_ctx, level, cat, wall, mono, buf);
	pthread_rwlock_rdlock(&g_watch_lock);
	for (int i = 0; i < LOG_MAX_WATCHERS; i++)
		if (g_watch[i].fn)
			g_watch[i].fn(g_watch[i].ctx, level, cat, wall, mono, buf);
	pthread_rwlock_unlock(&g_watch_lock);
	g_in_sink = 0;
	errno = saved;
}

void log_msg(enum log_level level, enum log_cat cat, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, cat, fmt, ap);
	va_end(ap);
}
