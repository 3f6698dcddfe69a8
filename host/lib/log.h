/* Logging with levels and categories.
 *
 * Messages are filtered by level and category before they are formatted, so a
 * disabled debug call costs one comparison. Every message goes to stderr (when its
 * level passes), to an optional sink (tests) and to the watchers (the front end's
 * --json error list, the campaign database: store_log_attach), with wall-clock and
 * monotonic times. Any thread may log; sink and watchers run on the thread that
 * logged, and a message they log themselves goes to stderr only.
 *
 * Message style (git's): lower case, no full stop, the subject quoted:
 *   pc_err(LOG_SERIAL, "cannot open serial port '%s': %s", path, strerror(errno));
 */
#ifndef PC_LOG_H
#define PC_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Categories, one bit each; --debug=serial,relay enables LOG_DEBUG for those. */
enum log_cat {
	LOG_MAIN   = 1u << 0,
	LOG_CONFIG = 1u << 1,
	LOG_SERIAL = 1u << 2,
	LOG_RELAY  = 1u << 3,
	LOG_CLOCK  = 1u << 4,
	LOG_DB     = 1u << 5,
	LOG_CHILD  = 1u << 6,
	LOG_NODE   = 1u << 7,
	LOG_LEDGER = 1u << 8,
	LOG_AGENT  = 1u << 9,
	LOG_CHECK  = 1u << 10,
	LOG_SIM    = 1u << 11,
	LOG_SSH    = 1u << 12,
	LOG_REPORT = 1u << 13,
};

/* A sink receives every message that passed the filter, already formatted. */
typedef void (*log_sink_fn)(void *ctx, enum log_level level, enum log_cat cat,
			    int64_t wall_ns, int64_t mono_ns, const char *msg);

/* Level shown for every category (default LOG_INFO; -q gives LOG_WARN). */
void log_set_level(enum log_level level);
/* Enable LOG_DEBUG for a comma-separated list of category names ("all" for all).
 * Returns 0, or -EINVAL naming the bad category in *bad (points into spec). */
int log_enable_debug(const char *spec, const char **bad);
/* Category name for messages and the database ("serial", "relay", ...). */
const char *log_cat_name(enum log_cat cat);
/* Install (or with fn == NULL remove) the sink. */
void log_set_sink(log_sink_fn fn, void *ctx);
/* Add (remove) a watcher: called with every message that passed the filter, after
 * the sink, from the thread that logged, in the order added. At most 4; -ENOSPC
 * beyond. Any thread may add or remove one at any time: log_watch_remove returns once
 * no thread is still calling it (so never remove from inside a watcher). */
int log_watch_add(log_sink_fn fn, void *ctx);
void log_watch_remove(log_sink_fn fn, void *ctx);
/* Program name printed before each stderr message ("powercut"). */
void log_set_prog(const char *prog);
/* The status line: one line kept at the bottom of a terminal (a campaign's progress).
 * Every message clears it first and draws it again after itself, so the two never run
 * into each other. Drawn only when stderr is a terminal; NULL or "" removes it (the
 * terminal line is cleared). The logger keeps a copy. */
void log_status(const char *line);

bool log_enabled(enum log_level level, enum log_cat cat);
void log_msg(enum log_level level, enum log_cat cat, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, enum log_cat cat, const char *fmt, va_list ap);

#define pc_log(level, cat, ...) \
	do { if (log_enabled((level), (cat))) log_msg((level), (cat), __VA_ARGS__); } while (0)
#define pc_err(cat, ...)   pc_log(LOG_ERROR, (cat), __VA_ARGS__)
#define pc_warn(cat, ...)  pc_log(LOG_WARN, (cat), __VA_ARGS__)
#define pc_info(cat, ...)  pc_log(LOG_INFO, (cat), __VA_ARGS__)
#define pc_debug(cat, ...) pc_log(LOG_DEBUG, (cat), __VA_ARGS__)

#endif
