/* Small helpers: see util.h. */
#include "util.h"
#include "child.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

int pc_exe_dir(char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;

	if (n < 0)
		return -errno;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s", path) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int pc_mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *pc_versions_json(const char *powercut, const char *firmware, json_t *extra)
{
	const char *argv[] = { "qemu-img", "--version", NULL };
	json_t *j = json_object();
	struct child_result r;
	struct utsname u;
	char buf[512];

	if (!j)
		return NULL;
	json_object_set_new(j, "powercut", str_or_null(powercut));
	json_object_set_new(j, "firmware", str_or_null(firmware));
	if (uname(&u) == 0) {
		snprintf(buf, sizeof(buf), "%s %s %s", u.sysname, u.release, u.machine);
		json_object_set_new(j, "kernel", json_string(buf));
	}
	if (child_run(argv, NULL, 5000, &r) == 0 && WIFEXITED(r.status) &&
	    WEXITSTATUS(r.status) == 0) {
		snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(r.out, "\n"), r.out);
		json_object_set_new(j, "qemu_img", json_string(buf));
	} else {
		json_object_set_new(j, "qemu_img", json_null());
	}
	if (r.out || r.err)
		child_result_release(&r);
	if (extra)
		json_object_update(j, extra);
	return j;
}

void pc_last_line(const char *text, char *buf, size_t len)
{
	const char *end = text ? text + strlen(text) : NULL, *start;

	buf[0] = '\0';
	if (!text)
		return;
	while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	start = end;
	while (start > text && start[-1] != '\n')
		start--;
	snprintf(buf, len, "%.*s", (int)(end - start), start);
}

int pc_unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}
