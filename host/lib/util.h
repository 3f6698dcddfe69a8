/* Small helpers shared by host programs. */
#ifndef PC_UTIL_H
#define PC_UTIL_H

#include <stddef.h>

/* Directory of the running executable (from /proc/self/exe), e.g. ".../build/bin".
 * 0 or a negative errno. */
int pc_exe_dir(char *buf, size_t len);

/* mkdir -p with mode 0755. 0 or a negative errno. */
int pc_mkdir_p(const char *path);

#endif
