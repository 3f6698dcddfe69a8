/* What a killed controller left running. A run records its descendants (pid and the
 * kernel's start time, which a recycled pid cannot share) whenever a step begins;
 * --resume kills the recorded ones that still match, and anything whose command line
 * or working directory names the campaign's directories (a process started after the
 * last record). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "campaign.h"
#include "log.h"

struct pinfo {
	pid_t pid, ppid, pgid;
	unsigned long long start;
};

/* /proc/PID/stat: the command may hold spaces and parentheses, so parse after the last ')'. */
static int proc_stat(pid_t pid, struct pinfo *pi)
{
	char path[64], buf[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	char state;
	int ppid, pgrp;
	unsigned long long start = 0;
	/* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime stime cutime cstime priority nice threads itrealvalue starttime */
	if (sscanf(p + 2, "%c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
		   "%*d %llu", &state, &ppid, &pgrp, &start) != 4)
		return -EINVAL;
	pi->pid = pid;
	pi->ppid = ppid;
	pi->pgid = pgrp;
	pi->start = start;
	return state == 'Z' ? -ESRCH : 0;
}

static int all_procs(struct pinfo **out, size_t *n)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t cap = 256;
	struct pinfo *v = malloc(cap * sizeof(*v));

	*n = 0;
	if (!d || !v) {
		int rc = -errno;
		if (d)
			closedir(d);
		free(v);
		return rc;
	}
	while ((e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		if (*n == cap) {
			struct pinfo *nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
			cap *= 2;
		}
		if (proc_stat((pid_t)atoi(e->d_name), &v[*n]) == 0)
			(*n)++;
	}
	closedir(d);
	*out = v;
	return 0;
}

int camp_procs_record(const char *file)
{
	struct pinfo *v;
	size_t n;
	int rc = all_procs(&v, &n);

	if (rc < 0)
		return rc;
	/* Descendants: mark from our pid outwards until nothing changes. */
	char *mark = calloc(n ? n : 1, 1);
	bool changed = true;
	pid_t self = getpid();
	while (mark && changed) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			if (mark[i] || v[i].pid == self)
				continue;
			bool parent = v[i].ppid == self;
			for (size_t j = 0; !parent && j < n; j++)
				parent = mark[j] && v[j].pid == v[i].ppid;
			if (parent)
				mark[i] = 1, changed = true;
		}
	}
	/* Already recorded ones are not written twice. */
	char *have = NULL;
	size_t have_len = 0;
	FILE *f = fopen(file, "re");
	if (f) {
		FILE *m = open_memstream(&have, &have_len);
		char line[256];
		while (m && fgets(line, sizeof(line), f))
			fputs(line, m);
		if (m)
			fclose(m);
		fclose(f);
	}
	f = fopen(file, "ae");
	if (!f) {
		rc = -errno;
		goto out;
	}
	for (size_t i = 0; mark && i < n; i++) {
		if (!mark[i])
			continue;
		char key[64];
		int kl = snprintf(key, sizeof(key), "%d %llu\n", (int)v[i].pid, v[i].start);
		bool dup = false;
		for (char *s = have; s && !dup && (s = strstr(s, key)); s++)
			dup = s == have || s[-1] == '\n';
		(void)kl;
		if (!dup)
			fputs(key, f);
	}
	if (fclose(f) != 0)
		rc = -errno;
out:
	free(have);
	free(mark);
	free(v);
	return rc;
}

/* Does the process's command line or working directory name one of dirs? */
static bool names_dir(pid_t pid, const char *const *dirs)
{
	char path[64], buf[8192], cwd[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = 0;
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	n = readlink(path, cwd, sizeof(cwd) - 1);
	cwd[n > 0 ? n : 0] = 0;
	for (size_t i = 0; dirs && dirs[i]; i++) {
		size_t l = strlen(dirs[i]);
		if (!l)
			continue;
		if (strstr(buf, dirs[i]) || (!strncmp(cwd, dirs[i], l) && (!cwd[l] || cwd[l] == '/')))
			return true;
	}
	return false;
}

static bool is_ancestor(const struct pinfo *v, size_t n, pid_t pid)
{
	pid_t p = getpid();

	for (int depth = 0; p > 1 && depth < 64; depth++) {
		if (p == pid)
			return true;
		pid_t next = 0;
		for (size_t i = 0; i < n; i++)
			if (v[i].pid == p)
				next = v[i].ppid;
		p = next;
	}
	return false;
}

/* The processes one reap killed, to wait for. */
struct killed {
	pid_t pids[512];
	int n;
};

static void kill_one(struct killed *k, const struct pinfo *pi)
{
	if (k->n < 512)
		k->pids[k->n++] = pi->pid;
	/* A child of child.h leads its own group: the group reaches its helpers too. */
	if (pi->pgid == pi->pid)
		kill(-pi->pid, SIGKILL);
	kill(pi->pid, SIGKILL);
}

int camp_procs_reap(const char *file, const char *const *dirs)
{
	struct pinfo *v;
	size_t n;
	int killed = 0, rc = all_procs(&v, &n);
	struct killed k = { .n = 0 };

	if (rc < 0)
		return rc;
	FILE *f = file ? fopen(file, "re") : NULL;
	if (f) {
		int pid;
		unsigned long long start;
		while (fscanf(f, "%d %llu", &pid, &start) == 2) {
			for (size_t i = 0; i < n; i++) {
				if (v[i].pid != pid || v[i].start != start || is_ancestor(v, n, pid))
					continue;
				pc_info(LOG_MAIN, "killing process %d left by the interrupted run", pid);
				kill_one(&k, &v[i]);
				v[i].pid = -1;
				killed++;
			}
		}
		fclose(f);
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].pid <= 1 || is_ancestor(v, n, v[i].pid) || !names_dir(v[i].pid, dirs))
			continue;
		pc_info(LOG_MAIN, "killing process %d left by the interrupted run (it uses its "
			"files)", (int)v[i].pid);
		kill_one(&k, &v[i]);
		killed++;
	}
	free(v);
	if (file) {
		int fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
	}
	/* Wait until they are gone, reaped by their new parent too: a simulator checks
	 * its run directory's pid file with kill(pid, 0), which a zombie still passes. */
	for (int t = 0; t < 250; t++) {
		bool any = false;
		for (int i = 0; i < k.n; i++)
			any |= kill(k.pids[i], 0) == 0;
		if (!any && camp_procs_count(dirs) == 0)
			break;
		usleep(20000);
	}
	return killed;
}

int camp_procs_count(const char *const *dirs)
{
	struct pinfo *v;
	size_t n;
	int c = 0, rc = all_procs(&v, &n);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (!is_ancestor(v, n, v[i].pid) && names_dir(v[i].pid, dirs))
			c++;
	free(v);
	return c;
}

int camp_free_bytes(const char *path, uint64_t *bytes)
{
	struct statvfs s;

	if (statvfs(path, &s) < 0)
		return -errno;
	*bytes = (uint64_t)s.f_bavail * s.f_frsize;
	return 0;
}
