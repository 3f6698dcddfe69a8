/* powercut-mcusim as a process: --help, errors in the project's form, the ready line,
 * its files in the run dir, the control socket with several clients (one of which
 * vanishes), the tty symlink recreated on restart and reachable by path, a second
 * instance refused on the same run dir, realtime mode tracking the wall clock without
 * running ahead, and SIGTERM leaving nothing behind. Uses the probe firmware, so
 * it does not depend on the real one. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "harness.h"

static char elf[4096], exe[4096];

static ssize_t read_all(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += n;
	buf[len] = 0;
	return len;
}

/* Run the simulator to completion with args, capturing stderr into err. */
static int run_capture(const char *const *args, char *err, size_t cap, char *out, size_t ocap)
{
	int pe[2], po[2], st;
	pid_t pid;
	ssize_t n;

	if (pipe(pe) || pipe(po))
		return -1;
	pid = fork();
	if (pid == 0) {
		const char *argv[16] = { exe };
		int k = 1;

		for (int i = 0; args[i] && k < 15; i++)
			argv[k++] = args[i];
		argv[k] = NULL;
		dup2(pe[1], 2);
		dup2(po[1], 1);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(pe[1]);
	close(po[1]);
	waitpid(pid, &st, 0);
	/* both pipes hold far less than their capacity: read them after the exit */
	n = read_all(pe[0], err, cap);
	n = read_all(po[0], out, ocap);
	close(pe[0]);
	close(po[0]);
	(void)n;
	return st;
}

static void test_cli(const char *tmp)
{
	char err[2048], out[4096], missing[4200];
	int st;

	st = run_capture((const char *[]){ "--help", NULL }, err, sizeof(err), out, sizeof(out));
	H_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "--firmware") &&
		strstr(out, "--hold-up-ms"), "--help: status 0x%x, '%s'", st, out);

	snprintf(missing, sizeof(missing), "%s/nonexistent.elf", tmp);
	st = run_capture((const char *[]){ "--firmware", missing, "--run-dir", tmp, NULL },
			 err, sizeof(err), out, sizeof(out));
	H_CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0, "missing ELF: status 0x%x", st);
	H_CHECK(strstr(err, "cannot load firmware '") && strstr(err, "No such file or directory"),
		"missing ELF message: '%s'", err);
	H_CHECK(!strchr(out, 'r'), "nothing on stdout on error: '%s'", out);

	st = run_capture((const char *[]){ "--firmware", exe, "--run-dir", tmp, NULL },
			 err, sizeof(err), out, sizeof(out));
	H_CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0 && strstr(err, "not an AVR ELF"),
		"a host binary as firmware: status 0x%x, '%s'", st, err);

	st = run_capture((const char *[]){ "--firmware", elf, "--run-dir", tmp, "--mode",
					   "slow", NULL }, err, sizeof(err), out, sizeof(out));
	H_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2 && strstr(err, "'slow'"),
		"bad --mode: status 0x%x, '%s'", st, err);

	st = run_capture((const char *[]){ "--firmware", elf, "--run-dir", tmp, "--efuse",
					   "1FF", NULL }, err, sizeof(err), out, sizeof(out));
	H_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2 && strstr(err, "'1FF'") &&
		strstr(err, "'--efuse'"), "bad --efuse: status 0x%x, '%s'", st, err);

	/* an EEPROM file that is a directory, and one larger than the EEPROM */
	st = run_capture((const char *[]){ "--firmware", elf, "--run-dir", tmp, "--eeprom", tmp,
					   NULL }, err, sizeof(err), out, sizeof(out));
	H_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1 && strstr(err, "cannot read EEPROM file '") &&
		strstr(err, "Is a directory"), "EEPROM file a directory: status 0x%x, '%s'", st, err);
	snprintf(missing, sizeof(missing), "%s/big.eeprom", tmp);
	FILE *f = fopen(missing, "w");
	for (int i = 0; f && i < 1025; i++)
		fputc(0xff, f);
	if (f)
		fclose(f);
	st = run_capture((const char *[]){ "--firmware", elf, "--run-dir", tmp, "--eeprom",
					   missing, NULL }, err, sizeof(err), out, sizeof(out));
	H_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1 && strstr(err, "big.eeprom") &&
		strstr(err, "larger than the 1024-byte EEPROM"), "EEPROM file too large: status "
		"0x%x, '%s'", st, err);
	unlink(missing);
}

static bool exists(const char *dir, const char *name)
{
	char p[PATH_MAX + 64];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

static int connect_ctl(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_run(const char *tmp)
{
	struct h_sim a, b;
	char run[PATH_MAX], want[PATH_MAX + 32], line[512], link1[256], link2[256];
	const char *rt[] = { "--quiet", NULL };
	struct h_lbuf sub;
	struct h_edge e;
	struct h_fw fw;
	FILE *f;
	long pid = 0;
	int st, fd;
	ssize_t n;

	snprintf(run, sizeof(run), "%s/bench-a", tmp);
	if (!H_CHECK(h_sim_start(&a, elf, run, rt) == 0, "cannot start powercut-mcusim"))
		return;
	snprintf(want, sizeof(want), "%s/mcu.tty", run);
	H_CHECK(!strcmp(a.tty, want), "ready line tty '%s', want '%s'", a.tty, want);
	snprintf(want, sizeof(want), "%s/control.sock", run);
	H_CHECK(!strcmp(a.ctl, want), "ready line control '%s', want '%s'", a.ctl, want);
	snprintf(want, sizeof(want), "%s/mcusim.pid", run);
	f = fopen(want, "r");
	H_CHECK(f && fscanf(f, "%ld", &pid) == 1 && pid == a.pid, "pid file: %ld, want %d",
		pid, (int)a.pid);
	if (f)
		fclose(f);
	n = readlink(a.tty, link1, sizeof(link1) - 1);
	link1[n > 0 ? n : 0] = 0;
	H_CHECK(n > 0 && !strncmp(link1, "/dev/pts/", 9), "mcu.tty -> '%s'", link1);

	/* a second instance on the same run dir is refused, and leaves the first alone */
	H_CHECK(h_sim_start(&b, elf, run, rt) != 0, "a second instance took the same run dir");
	h_sim_stop(&b, &st);
	H_CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0, "second instance: status 0x%x", st);
	H_CHECK(exists(run, "mcu.tty") && exists(run, "control.sock") && exists(run, "mcusim.pid"),
		"the refused instance removed the first one's files");

	/* a subscriber, a client that vanishes, and commands on the main client */
	fd = connect_ctl(a.ctl);
	sub.fd = fd;
	sub.len = 0;
	H_CHECK(fd >= 0 && write(fd, "subscribe\n", 10) == 10 &&
		h_read_line(&sub, line, sizeof(line), 5000) >= 0 && !strcmp(line, "ok"),
		"subscribe: '%s'", line);
	{
		int gone = connect_ctl(a.ctl);

		H_CHECK(gone >= 0 && write(gone, "subscribe\nstatus\n", 17) == 17, "second client");
		close(gone);
	}
	H_CHECK(h_ctl(&a, "bogus", line, sizeof(line)) >= 0 &&
		!strcmp(line, "error unknown command 'bogus'"), "unknown command: '%s'", line);
	H_CHECK(h_ctl(&a, "set hold-up-ms x", line, sizeof(line)) >= 0 &&
		!strncmp(line, "error bad value", 15), "bad set: '%s'", line);
	H_CHECK(h_ctl(&a, "reset", line, sizeof(line)) >= 0 && !strcmp(line, "ok"), "reset");
	H_CHECK(h_read_line(&sub, line, sizeof(line), 5000) >= 0 && h_edge_parse(line, &e) == 0 &&
		e.kind == H_RESET && e.value == 1, "subscriber did not see the reset: '%s'", line);
	close(fd);

	/* realtime: over a second of wall time the simulated clock follows, never ahead */
	{
		uint64_t s0, s1;
		int64_t w0, w1;
		double ratio;

		h_ctl(&a, "status", line, sizeof(line));
		w0 = clock_mono_ns();
		h_kv_u64(line, "sim_us", &s0);
		usleep(1000000);
		h_ctl(&a, "status", line, sizeof(line));
		w1 = clock_mono_ns();
		h_kv_u64(line, "sim_us", &s1);
		ratio = (double)(s1 - s0) * 1000.0 / (double)(w1 - w0);
		H_CHECK(ratio > 0.95 && ratio < 1.03, "realtime: %.4f simulated s per wall s", ratio);
		/* the simulator's whole life: never ahead of the wall clock since its start */
		H_CHECK(s1 * 1000 <= (uint64_t)(w1 - w0) + 2000000000ull, "simulated time ahead");
	}

	/* restart on the same run dir: the link is recreated, the port reachable by path */
	h_sim_stop(&a, &st);
	H_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGTERM: status 0x%x", st);
	H_CHECK(!exists(run, "mcu.tty") && !exists(run, "control.sock") &&
		!exists(run, "mcusim.pid"), "files left in the run dir after SIGTERM");
	if (!H_CHECK(h_sim_start(&a, elf, run, rt) == 0, "restart failed"))
		return;
	n = readlink(a.tty, link2, sizeof(link2) - 1);
	link2[n > 0 ? n : 0] = 0;
	H_CHECK(n > 0 && !strncmp(link2, "/dev/pts/", 9), "after restart mcu.tty -> '%s'", link2);
	if (H_CHECK(h_fw_open(&fw, a.tty) == 0, "cannot open '%s'", a.tty)) {
		/* a reset in the middle of the power-on banner would garble it */
		usleep(300000);
		tcflush(fw.fd, TCIFLUSH);
		fw.lb.len = 0;
		h_ctl(&a, "reset", line, sizeof(line));
		for (int i = 0; i < 3; i++)
			if (h_read_line(&fw.lb, line, sizeof(line), 5000) < 0 ||
			    !strcmp(line, "boot 02"))
				break;
		H_CHECK(!strcmp(line, "boot 02"), "the probe after a restart: '%s'", line);
		h_fw_send_raw(&fw, "zz\n", 3);
		H_CHECK(h_read_line(&fw.lb, line, sizeof(line), 5000) >= 0 && !strcmp(line, "zz"),
			"echo through the recreated link: '%s'", line);
		h_fw_close(&fw);
	}
	/* control `quit` is a clean shutdown too */
	H_CHECK(h_ctl(&a, "quit", line, sizeof(line)) >= 0 && !strcmp(line, "ok"), "quit");
	for (int i = 0; i < 300 && waitpid(a.pid, &st, WNOHANG) == 0; i++)
		usleep(10000);
	a.pid = 0;
	H_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "quit: status 0x%x", st);
	H_CHECK(!exists(run, "mcu.tty") && !exists(run, "control.sock") &&
		!exists(run, "mcusim.pid"), "files left in the run dir after quit");
	h_sim_stop(&a, NULL);
}

int main(void)
{
	char tmp[PATH_MAX];

	snprintf(elf, sizeof(elf), "%s", h_build_path("rig/mcusim/probe-fw.elf"));
	snprintf(exe, sizeof(exe), "%s", h_build_path("bin/powercut-mcusim"));
	if (access(elf, R_OK)) {
		printf("skip: no probe firmware '%s'\n", elf);
		return 77;
	}
	if (h_tmpdir(tmp, sizeof(tmp)))
		return 1;
	test_cli(tmp);
	test_run(tmp);
	h_rmtree(tmp);
	if (h_failures) {
		printf("%d lifecycle checks failed\n", h_failures);
		return 1;
	}
	printf("all lifecycle checks passed\n");
	return 0;
}
