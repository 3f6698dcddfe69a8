/* Small helpers shared by host programs: where the running executable is, the last
 * line of a command's output, mkdir -p, and the tool versions a campaign stores.
 * (Their pc_ prefix predates the firmware's core leaving it.) */
#ifndef PC_UTIL_H
#define PC_UTIL_H

#include <stddef.h>

/* Directory of the running executable (from /proc/self/exe), e.g. ".../build/bin".
 * 0 or a negative errno. */
int pc_exe_dir(char *buf, size_t len);

/* The last non-empty line of text (trailing blanks and newlines dropped) into buf,
 * cut to len; "" when text is NULL or empty. For the one-line reason of a failed
 * command's stderr. */
void pc_last_line(const char *text, char *buf, size_t len);

/* mkdir -p with mode 0755. 0 or a negative errno. */
int pc_mkdir_p(const char *path);

#include <jansson.h>

/* Versions of the tools a campaign depends on, for the campaigns table:
 *   {"powercut": powercut, "firmware": firmware, "kernel": "6.1.0-... x86_64",
 *    "qemu_img": "qemu-img version 7.2.x ..." or null when absent, "sqlite": ...}
 * powercut and firmware may be NULL (stored as null); extra (may be NULL) is merged
 * in last. The qemu line is stored verbatim, never parsed. New reference. */
json_t *pc_versions_json(const char *powercut, const char *firmware, json_t *extra);

#endif
