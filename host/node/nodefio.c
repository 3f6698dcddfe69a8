/* fio beside the agent: its arguments, and fio on a remote node. See nodefio.h. */
#include "nodefio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "child.h"
#include "fio.h"
#include "log.h"
#include "util.h"

#define CMD_TIMEOUT_MS 120000

/* A pid file that outlived a power cut may name another process after the reboot:
 * the pid is fio only while a process of that name runs (not a zombie). setsid made
 * fio a process group leader: signals go to the group (fio forks its jobs). */
#define ALIVE "alive() { [ \"$(cat /proc/$1/comm 2>/dev/null)\" = fio ] && " \
	      "! grep -qs '^State:[[:space:]]*Z' /proc/$1/status; }; "

int nodefio_count(char *const *jobs)
{
	int n = 0;

	while (jobs && jobs[n])
		n++;
	if (n > NODEFIO_MAX_JOBS) {
		pc_err(LOG_NODE, "[node] fio names %d job files: at most %d", n, NODEFIO_MAX_JOBS);
		return -E2BIG;
	}
	return n;
}

int nodefio_argv(struct nodefio_argv *a, const char *dir, uint64_t filesize,
		 const char *const *jobs)
{
	int k = 0;

	a->argv[k++] = "fio";
	/* Threads, not processes: fio's job processes call setsid(), so a kill of fio's
	 * process group (a power cut, close) would leave them writing. */
	a->argv[k++] = "--thread";
	a->argv[k++] = "--output-format=json";
	a->argv[k++] = "--status-interval=1";
	snprintf(a->filename, sizeof(a->filename), "--filename=%s/fio.data", dir);
	a->argv[k++] = a->filename;
	if (filesize) {
		/* --size would lose to the job file's own size= (a job file's [global]
		 * overrides the command line); --filesize sets the file's and is not in
		 * our job files. */
		snprintf(a->filesize, sizeof(a->filesize), "--filesize=%" PRIu64, filesize);
		a->argv[k++] = a->filesize;
	}
	for (int j = 0; jobs && jobs[j]; j++) {
		if (j == NODEFIO_MAX_JOBS)
			return -E2BIG;
		a->argv[k++] = jobs[j];
	}
	a->argv[k] = NULL;
	return 0;
}

void nodefio_init(struct nodefio *f)
{
	memset(f, 0, sizeof(*f));
}

/* Run argv on the node: 0 when it exited 0, else a negative errno (logged). res, when
 * given, keeps the output (release it). */
static int frun(struct nodefio *f, const char *const argv[], struct child_result *res)
{
	struct child_result own;
	struct child_result *r = res ? res : &own;
	char why[512], st[64];
	int rc = remote_run(f->r, argv, NULL, CMD_TIMEOUT_MS, r);

	if (rc == 0 && !(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)) {
		pc_last_line(r->err, why, sizeof(why));
		pc_err(LOG_NODE, "'%s' failed on '%s': %s", argv[0], remote_name(f->r),
		       *why ? why : child_status_str(r->status, st, sizeof(st)));
		rc = -EIO;
	}
	if (!res)
		child_result_release(r);
	return rc;
}

int nodefio_start(struct nodefio *f, struct remote *r, const char *dir,
		  const struct cfg_node *cn)
{
	char **jobs = cn->fio;
	const char *rjobs[NODEFIO_MAX_JOBS + 1] = { 0 };
	const char *argv[8 + 8 + NODEFIO_MAX_JOBS];
	struct nodefio_argv fa;
	/* setsid and the redirections detach fio from the ssh session that starts it; the
	 * run directory is its cwd, where fio leaves its verify state. */
	static const char script[] = "cd \"$1\" || exit; shift; echo $$ > fio.pid; "
				     "exec \"$@\" < /dev/null > fio.json 2>&1";
	int k = 0, rc;

	if ((rc = nodefio_count(jobs)) <= 0 || f->started)
		return rc < 0 ? rc : 0;
	f->r = r;
	snprintf(f->dir, sizeof(f->dir), "%s", dir);
	for (int j = 0; jobs[j]; j++) {
		const char *base = strrchr(jobs[j], '/');
		snprintf(f->rjob[j], sizeof(f->rjob[j]), "%s/%d-%s", dir, j, base ? base + 1 : jobs[j]);
		rjobs[j] = f->rjob[j];
	}
	if ((rc = nodefio_argv(&fa, dir, cn->fio_size, rjobs)) < 0)
		return rc;
	for (int j = 0; rjobs[j]; j++)
		if ((rc = remote_copy(r, jobs[j], rjobs[j], CMD_TIMEOUT_MS)) < 0)
			return rc;
	argv[k++] = "setsid";
	argv[k++] = "-f";
	argv[k++] = "sh";
	argv[k++] = "-c";
	argv[k++] = script;
	argv[k++] = "sh";
	argv[k++] = dir;
	for (int j = 0; fa.argv[j]; j++)
		argv[k++] = fa.argv[j];
	argv[k] = NULL;
	if ((rc = frun(f, argv, NULL)) < 0)
		return rc;
	f->started = true;
	pc_debug(LOG_NODE, "fio runs on '%s' beside the agent", remote_name(r));
	return 0;
}

void nodefio_stop(struct nodefio *f)
{
	char pid[PATH_MAX + 16], out[PATH_MAX + 16];
	struct child_result res;

	if (!f->started)
		return;
	f->started = false;
	snprintf(pid, sizeof(pid), "%s/fio.pid", f->dir);
	snprintf(out, sizeof(out), "%s/fio.json", f->dir);
	const char *stop[] = { "sh", "-c", ALIVE "pid=$(cat \"$1\") && alive \"$pid\" || exit 0; "
			       "kill -INT -\"$pid\"; i=0; while alive \"$pid\" && [ $i -lt 50 ]; do "
			       "sleep 0.1; i=$((i+1)); done; alive \"$pid\" && kill -9 -\"$pid\"; "
			       "exit 0", "sh", pid, NULL };
	const char *cat[] = { "cat", "--", out, NULL };
	frun(f, stop, NULL);
	json_decref(f->record);
	if (frun(f, cat, &res) == 0)
		f->record = fio_record(res.out);
	else
		f->record = json_pack("{s:s}", "error", "fio's output could not be read back");
	child_result_release(&res);
	json_t *e = json_object_get(f->record, "error");
	if (e)
		pc_warn(LOG_NODE, "fio on '%s': %s", remote_name(f->r), json_string_value(e));
}

void nodefio_release(struct nodefio *f)
{
	char pid[PATH_MAX + 16];

	if (f->started) {
		snprintf(pid, sizeof(pid), "%s/fio.pid", f->dir);
		const char *kill9[] = { "sh", "-c", ALIVE "pid=$(cat \"$1\") && alive \"$pid\" && "
					"kill -9 -\"$pid\"; exit 0", "sh", pid, NULL };
		frun(f, kill9, NULL);
		f->started = false;
	}
	json_decref(f->record);
	f->record = NULL;
}
