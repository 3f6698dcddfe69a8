/* Start of a recording: see recording.h. */
#include "recording.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

int recording_copy_sparse(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
	struct stat sb;

	if (in < 0 || fstat(in, &sb) < 0) {
		rc = -errno;
		goto out;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0 || ftruncate(out, sb.st_size) < 0) {
		rc = -errno;
		goto out;
	}
	/* Only the data extents: a fresh 64 MiB raw image costs nothing to copy. */
	off_t pos = 0;
	while (pos < sb.st_size) {
		off_t d = lseek(in, pos, SEEK_DATA);
		if (d < 0) {
			if (errno == ENXIO)
				break;
			rc = -errno;
			goto out;
		}
		off_t h = lseek(in, d, SEEK_HOLE);
		if (h < 0) {
			rc = -errno;
			goto out;
		}
		loff_t a = d, b = d;
		while (a < h) {
			ssize_t n = copy_file_range(in, &a, out, &b, (size_t)(h - a), 0);
			if (n <= 0) {
				rc = n < 0 ? -errno : -EIO;
				goto out;
			}
		}
		pos = h;
	}
out:
	if (out >= 0 && close(out) < 0 && !rc)
		rc = -errno;
	if (in >= 0)
		close(in);
	return rc;
}

int recording_begin(const char *image, const char *dir, char *arg, size_t len)
{
	char base[PATH_MAX];
	int rc = pc_mkdir_p(dir);

	if (rc < 0) {
		pc_err(LOG_SIM, "cannot create recording directory '%s': %s", dir, strerror(-rc));
		return rc;
	}
	snprintf(base, sizeof(base), "%.4000s/%s", dir, RECORDING_BASE);
	if ((rc = recording_copy_sparse(image, base)) < 0) {
		pc_err(LOG_SIM, "cannot copy '%s' to '%s': %s", image, base, strerror(-rc));
		return rc;
	}
	snprintf(arg, len, "record=%.4000s/%s", dir, RECORDING_LOG);
	return 0;
}
