/* Tests: the error messages a call logged, one per line, captured by a log watcher
 * (log_watch_add(log_capture, NULL) once in main), as a string to compare. */
#ifndef PC_LOG_CAPTURE_H
#define PC_LOG_CAPTURE_H

#include <stdlib.h>
#include <string.h>

#include "log.h"

static char *captured;
static size_t captured_len;

static void log_capture(void *ctx, enum log_level level, enum log_cat cat, int64_t wall_ns,
			int64_t mono_ns, const char *msg)
{
	size_t n = strlen(msg);
	char *e;

	(void)ctx, (void)cat, (void)wall_ns, (void)mono_ns;
	if (level != LOG_ERROR || !(e = realloc(captured, captured_len + n + 2)))
		return;
	memcpy(e + captured_len, msg, n);
	captured_len += n;
	e[captured_len++] = '\n';
	e[captured_len] = '\0';
	captured = e;
}

/* The errors logged since the last call ("" none); the caller frees. */
static inline char *logged(void)
{
	char *e = captured ? captured : strdup("");

	captured = NULL;
	captured_len = 0;
	return e;
}

#endif
