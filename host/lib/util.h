/* Small helpers shared by host programs: where the running executable is, the last
 * line of a command's output, mkdir -p, and the tool versions a campaign stores.
 * (Their pc_ prefix predates the firmware's core leaving it.) */
#ifndef PC_UTIL_H
#define PC_UTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Directory of the running executable (from /proc/self/exe), e.g. ".../build/bin".
 * 0 or a negative errno. */
int pc_exe_dir(char *buf, size_t len);

/* The last non-empty line of text (trailing blanks and newlines dropped) into buf,
 * cut to len; "" when text is NULL or empty. For the one-line reason of a failed
 * command's stderr. */
void pc_last_line(const char *text, char *buf, size_t len);

/* A connected UNIX stream socket (close-on-exec) to path, or a negative errno. */
int pc_unix_connect(const char *path);

/* mkdir -p with mode 0755. 0 or a negative errno. */
int pc_mkdir_p(const char *path);

/* True when prog is an executable in one of PATH's directories. Inline, so that
 * tests and benchmarks that skip on a missing tool need not link libpc. */
static inline bool pc_in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	while (path && *path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
		if (access(buf, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

#include <jansson.h>

/* Versions of the tools a campaign depends on, for the campaigns table:
 *   {"powercut": powercut, "firmware": firmware, "kernel": "6.1.0-... x86_64",
 *    "qemu_img": "qemu-img version 7.2.x ..." or null when absent, "sqlite": ...}
 * powercut and firmware may be NULL (stored as null); extra (may be NULL) is merged
 * in last. The qemu line is stored verbatim, never parsed. New reference. */
json_t *pc_versions_json(const char *powercut, const char *firmware, json_t *extra);

#endif
