/* A node that dies while the cycle waits on it, on the full tier: QEMU is killed
 * (SIGKILL, from outside, as the OOM killer or a crash would end it) while the cycle
 * waits for the guest's workload to start, and in another cycle while the check boot
 * after the cut comes up. The cycle must fail at once, naming what died and how (QEMU
 * of that boot killed by signal 9), instead of waiting out the boot timeout (sim-full's
 * 90 s) or power-cycling the node; keep the node's files; leave nothing running.
 *
 * The death's other kinds (an exit status, a kernel panic, a silent console, a VM that
 * stopped) and a node that is slow but alive are fed by the null node driver in
 * host/campaign/tests/test_steps.c. Skips when the guest cannot be built or QEMU is
 * missing, as test_cycle_full does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"

static struct e2e E;
static pid_t qemu_pid;
static int killed_at_ms = -1;		/* since powercut started */
/* Which QEMU to kill (its console's name: console-1.log the write boot, console-2.log
 * the check boot after the cut) once its console says what. */
static const char *kill_console, *kill_when;

/* The node's QEMU of that boot: qemu-system-x86_64 with our private directory and the
 * boot's console on its command line. */
static pid_t find_qemu(const struct e2e *e)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	while (d && !found && (de = readdir(d))) {
		char buf[8192];
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9' &&
		    e2e_cmdline(de->d_name, buf, sizeof(buf)) &&
		    !strncmp(buf, "qemu-system-x86_64 ", 19) && strstr(buf, e->tmp) &&
		    strstr(buf, kill_console))
			found = (pid_t)atoi(de->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/* Does the guest's console (QEMU's -serial file:PATH) hold text? */
static bool console_says(pid_t pid, const char *text)
{
	char buf[8192], pids[16], line[512];
	bool found = false;

	snprintf(pids, sizeof(pids), "%d", (int)pid);
	if (!e2e_cmdline(pids, buf, sizeof(buf)))
		return false;
	char *path = strstr(buf, "file:"), *end;
	if (!path || !(end = strchr(path, ' ')))
		return false;
	*end = 0;
	FILE *f = fopen(path + 5, "r");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return found;
}

/* SIGKILL the boot's QEMU once its console says kill_when. */
static void kill_qemu(struct e2e *e, pid_t powercut, int waited_ms)
{
	if (killed_at_ms >= 0)
		return;
	if (!qemu_pid)
		qemu_pid = find_qemu(e);
	if (qemu_pid && console_says(qemu_pid, kill_when) && kill(qemu_pid, SIGKILL) == 0)
		killed_at_ms = waited_ms;
}

/* One cycle of sim-full with the boot's QEMU killed; its stderr (caller frees), the
 * exit status in *code and the time from the kill to powercut's end in *after. */
static char *cycle_killing(const char *console, const char *when, int *code, double *after)
{
	char err[PATH_MAX + 32], *log = NULL;
	size_t len = 0;

	qemu_pid = 0;
	killed_at_ms = -1;
	kill_console = console;
	kill_when = when;
	snprintf(err, sizeof(err), "%s/stderr-%d.log", E.tmp, E.runs + 1);
	E.during = kill_qemu;
	E.err_path = err;
	json_decref(e2e_cycle(&E, "sim-full.ini", code, NULL));
	FILE *f = fopen(err, "r");
	if (f) {
		if (getdelim(&log, &len, 0, f) < 0 && log)
			log[0] = 0;
		fclose(f);
	}
	fprintf(stderr, "%s", log ? log : "");
	assert_true(killed_at_ms >= 0);		/* QEMU was there to kill */
	*after = E.last_wall_s - killed_at_ms / 1e3;
	print_message("QEMU (pid %d, %s) killed %.1f s into the cycle; powercut ended %.1f s "
		      "later, exit %d\n", (int)qemu_pid, console, killed_at_ms / 1e3, *after, *code);
	assert_non_null(log);
	return log;
}

/* What every such cycle must show: it failed (exit 1), the node's death names QEMU of
 * that boot and the signal, the node's files are kept (its consoles), it ended at once
 * (the watch looks every 200 ms; the rest is the node's and the simulator's shutdown;
 * without the watch this was sim-full's 90 s boot timeout), nothing left running. */
static void assert_died(const char *log, int code, double after, const char *boot)
{
	assert_int_equal(code, 1);
	assert_non_null(strstr(log, "the node died (killed): QEMU (pid"));
	assert_non_null(strstr(log, boot));
	assert_non_null(strstr(log, "killed by signal 9"));
	assert_non_null(strstr(log, "node files kept in"));
	assert_true(after < 5.0);
	assert_int_equal(e2e_leftovers(&E), 0);
}

/* The write boot: killed once its guest took the boot word the cycle sent it (`ctl
 * boot=write`): the cycle's start of the workload returned then, and it waits for the
 * workload's first acknowledgements (wait_running); the guest still sets up its network
 * and volumes before it writes. */
static void qemu_killed_while_waiting(void **state)
{
	double after;
	int code;
	char *log = cycle_killing("console-1.log", "POWERCUT ctl boot=write", &code, &after);

	assert_died(log, code, after, "the write boot");
	/* ... seen by the cycle's wait for the workload, not the boot's own wait. */
	assert_null(strstr(log, "the workload did not start"));
	assert_null(strstr(log, "at stage 'kernel'"));
	free(log);
}

/* The check boot after the cut: killed as soon as its guest says anything. The node
 * died booting: no power cycle covers it over ([campaign] retries = 3 would), the cycle
 * fails at once, the relay's armed cut is undone (power on) and the files kept. */
static void qemu_killed_booting_check(void **state)
{
	double after;
	int code;
	char *log = cycle_killing("console-2.log", "POWERCUT ", &code, &after);

	assert_died(log, code, after, "the check boot");
	assert_null(strstr(log, "power-cycling the node again"));
	assert_null(strstr(log, "did not come back"));
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(qemu_killed_while_waiting),
		cmocka_unit_test(qemu_killed_booting_check),
	};
	static const char *const progs[] = { "qemu-system-x86_64", "qemu-storage-daemon", "nbdkit",
					     NULL };

	return E2E_RUN_GROUP(&E, progs, tests, 0);
}
