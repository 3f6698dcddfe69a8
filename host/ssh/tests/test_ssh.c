/* The ssh transport against a real OpenSSH server started by this test on 127.0.0.1
 * (Debian's openssh-server: sshd -D -e -f CONFIG, a generated host key and user key,
 * everything in a private temporary directory). Skips with the reason when sshd
 * cannot run here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "child.h"
#include "log.h"
#include "ssh.h"

#include "clock.h"
#include "sshd_helper.h"

/* The private sshd of sshd_helper.h; the names below keep the tests short. */
static struct tsshd T;
static const char *dir = T.dir;
static const char *user = T.user;
static int port;

#define free_port tsshd_free_port
#define read_file tsshd_read_file

static void pathf(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text)
{
	assert_int_equal(tsshd_write_file(path, text), 0);
}

static int sshd_start(int p, struct child *c)
{
	return tsshd_start(&T, p, c);
}

static void sshd_stop(struct child *c)
{
	tsshd_stop(c);
}

static struct ssh *open_ssh(const char *identity, const char *known_hosts, int p, bool master)
{
	char id[4200], kh[4200];
	pathf(id, sizeof(id), identity);
	pathf(kh, sizeof(kh), known_hosts);
	struct ssh_opts o = { .host = "127.0.0.1", .user = user, .port = p, .identity = id,
			      .known_hosts = kh, .config = "/dev/null",
			      .control_dir = master ? dir : NULL, .connect_timeout_s = 3,
			      .alive_interval_s = 1 };
	struct ssh *s = ssh_open(&o);
	assert_non_null(s);
	return s;
}

static void test_quote(void **state)
{
	char buf[64];

	assert_int_equal(ssh_quote("abc-1.2/x=y", buf, sizeof(buf)), 11);
	assert_string_equal(buf, "abc-1.2/x=y");
	ssh_quote("", buf, sizeof(buf));
	assert_string_equal(buf, "''");
	ssh_quote("a b", buf, sizeof(buf));
	assert_string_equal(buf, "'a b'");
	ssh_quote("it's", buf, sizeof(buf));
	assert_string_equal(buf, "'it'\\''s'");
	/* Truncation reports the full length, like snprintf. */
	assert_int_equal(ssh_quote("$(reboot)", buf, 4), 11);
	assert_string_equal(buf, "'$(");
	const char *argv[] = { "printf", "%s\\n", "x y", NULL };
	char *line = ssh_command_line(argv);
	assert_string_equal(line, "printf '%s\\n' 'x y'");
	free(line);
}

/* Every hostile word comes back byte for byte through the real remote shell. */
static void test_quote_roundtrip(void **state)
{
	static const char *const words[] = {
		"plain", "", "two words", "it's", "'", "''", "\"dq\"", "$HOME", "$(id)", "`id`",
		"a;b", "a&&b", "a|b", "*", "?", "[a]", "~", "back\\slash", "new\nline", "tab\there",
		"{a,b}", "!bang", "#hash", "-n", "--", "end\\", "%s", "<in", ">out", NULL };
	const char *argv[64] = { "printf", "%s\\001" };
	size_t k = 2, off = 0;
	struct child_result r;
	struct ssh *s = open_ssh("userkey", "known_hosts", port, true);

	for (size_t i = 0; words[i]; i++)
		argv[k++] = words[i];
	argv[k] = NULL;
	assert_int_equal(ssh_run(s, argv, NULL, 20000, &r), 0);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	for (size_t i = 0; words[i]; i++) {
		size_t n = strlen(words[i]);
		assert_true(off + n < r.out_len + 1);
		assert_memory_equal(r.out + off, words[i], n);
		assert_int_equal(r.out[off + n], '\001');
		off += n + 1;
	}
	assert_int_equal(off, r.out_len);
	child_result_release(&r);
	ssh_close(s);
}

static void test_run_status_io(void **state)
{
	const char *fail[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	const char *cat[] = { "cat", NULL };
	const char *own255[] = { "sh", "-c", "exit 255", NULL };
	struct child_result r;
	struct ssh *s = open_ssh("userkey", "known_hosts", port, true);

	assert_int_equal(ssh_run(s, fail, NULL, 20000, &r), 0);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 3);
	assert_string_equal(r.out, "out\n");
	assert_non_null(strstr(r.err, "err\n"));
	child_result_release(&r);

	assert_int_equal(ssh_run(s, cat, "line one\nline two\n", 20000, &r), 0);
	assert_string_equal(r.out, "line one\nline two\n");
	child_result_release(&r);

	/* The remote command's own 255, with no ssh message, is its status. */
	assert_int_equal(ssh_run(s, own255, NULL, 20000, &r), 0);
	assert_int_equal(WEXITSTATUS(r.status), 255);
	child_result_release(&r);

	/* The master's socket is in the control directory, and goes away on close. */
	int sockets = 0;
	DIR *d = opendir(dir);
	for (struct dirent *e; (e = readdir(d));)
		sockets += !strncmp(e->d_name, "cm-", 3);
	closedir(d);
	assert_int_equal(sockets, 1);
	ssh_close(s);
	sockets = 0;
	d = opendir(dir);
	for (struct dirent *e; (e = readdir(d));)
		sockets += !strncmp(e->d_name, "cm-", 3);
	closedir(d);
	assert_int_equal(sockets, 0);
}

static void test_copy(void **state)
{
	char local[4200], remote[4200];
	size_t n, m;
	struct ssh *s = open_ssh("userkey", "known_hosts", port, true);
	FILE *f;

	pathf(local, sizeof(local), "blob");
	pathf(remote, sizeof(remote), "copied file's name");
	f = fopen(local, "wb");
	srand(7);
	for (int i = 0; i < (1 << 20) + 13; i++)
		fputc(rand() & 0xff, f);
	fclose(f);
	assert_int_equal(ssh_copy(s, local, remote, 20000), 0);
	char *a = read_file(local, &n), *b = read_file(remote, &m);
	assert_non_null(b);
	assert_int_equal(n, m);
	assert_memory_equal(a, b, n);
	free(a);
	free(b);
	/* A directory that does not exist is the remote command's failure. */
	pathf(remote, sizeof(remote), "no/such/dir/x");
	assert_int_equal(ssh_copy(s, local, remote, 20000), -EIO);
	ssh_close(s);
}

static void expect_error(const char *identity, const char *kh, int p, int want)
{
	const char *argv[] = { "true", NULL };
	struct child_result r;
	struct ssh *s = open_ssh(identity, kh, p, false);

	assert_int_equal(ssh_run(s, argv, NULL, 20000, &r), want);
	child_result_release(&r);
	ssh_close(s);
}

static void test_host_key_checked(void **state)
{
	expect_error("userkey", "known_hosts_wrong", port, -EKEYREJECTED);
	expect_error("userkey", "known_hosts_empty", port, -EKEYREJECTED);
	/* Nothing was added to the empty file: keys are never accepted blindly. */
	char path[4200];
	struct stat st;
	pathf(path, sizeof(path), "known_hosts_empty");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
}

static void test_auth_refused_timeout(void **state)
{
	expect_error("otherkey", "known_hosts", port, -EACCES);
	expect_error("userkey", "known_hosts", free_port(), -ECONNREFUSED);

	const char *argv[] = { "sleep", "30", NULL };
	struct child_result r;
	struct ssh *s = open_ssh("userkey", "known_hosts", port, true);
	int64_t t0 = clock_mono_ms();
	assert_int_equal(ssh_run(s, argv, NULL, 1000, &r), -ETIMEDOUT);
	assert_true(clock_mono_ms() - t0 < 6000);
	child_result_release(&r);
	ssh_close(s);
}

/* Kill every sshd process below the listener (the sessions), not the command. */
static int kill_sessions(pid_t listener)
{
	DIR *d = opendir("/proc");
	int killed = 0;

	for (struct dirent *e; (e = readdir(d));) {
		pid_t pid = (pid_t)atoi(e->d_name), p = pid;
		char path[64], buf[512], comm[64] = "";
		bool below = false;

		if (pid <= 0 || pid == listener)
			continue;
		for (int depth = 0; p > 1 && depth < 16 && !below; depth++) {
			snprintf(path, sizeof(path), "/proc/%d/stat", p);
			FILE *f = fopen(path, "r");
			if (!f || !fgets(buf, sizeof(buf), f)) {
				if (f)
					fclose(f);
				break;
			}
			fclose(f);
			char *rp = strrchr(buf, ')');
			int ppid = 0;
			if (depth == 0) {
				char *lp = strchr(buf, '(');
				snprintf(comm, sizeof(comm), "%.*s", (int)(rp - lp - 1), lp + 1);
			}
			sscanf(rp + 2, "%*c %d", &ppid);
			below = ppid == listener;
			p = ppid;
		}
		if (below && !strncmp(comm, "sshd", 4) && kill(pid, SIGKILL) == 0)
			killed++;
	}
	closedir(d);
	return killed;
}

struct killer { pid_t listener; int delay_ms; int killed; };

static void *killer_main(void *arg)
{
	struct killer *k = arg;

	usleep((useconds_t)k->delay_ms * 1000);
	k->killed = kill_sessions(k->listener);
	return NULL;
}

static void test_dropped_mid_command(void **state)
{
	const char *argv[] = { "sleep", "30", NULL };
	struct child_result r;
	struct child own;
	int p = free_port();

	/* A private sshd, so that killing its sessions touches no other test. */
	assert_int_equal(sshd_start(p, &own), 0);
	char kh[4200], line[8400], path[4200];
	size_t len;
	pathf(path, sizeof(path), "hostkey.pub");
	char *pub = read_file(path, &len);
	snprintf(line, sizeof(line), "[127.0.0.1]:%d %s", p, pub);
	free(pub);
	pathf(kh, sizeof(kh), "known_hosts_drop");
	write_file(kh, line);

	for (int master = 0; master < 2; master++) {
		struct ssh *s = open_ssh("userkey", "known_hosts_drop", p, master);
		struct killer k = { .listener = own.pid, .delay_ms = 1500 };
		pthread_t th;
		int64_t t0 = clock_mono_ms();

		pthread_create(&th, NULL, killer_main, &k);
		int rc = ssh_run(s, argv, NULL, 20000, &r);
		pthread_join(th, NULL);
		print_message("master=%d rc=%d killed=%d after %lld ms: %s\n", master, rc, k.killed,
			      (long long)(clock_mono_ms() - t0), r.err);
		assert_true(k.killed > 0);
		assert_int_equal(rc, -ECONNRESET);
		assert_true(clock_mono_ms() - t0 < 10000);
		child_result_release(&r);
		ssh_close(s);
	}
	sshd_stop(&own);
}

struct late { int port; int delay_ms; struct child c; int rc; };

static void *late_main(void *arg)
{
	struct late *l = arg;

	usleep((useconds_t)l->delay_ms * 1000);
	l->rc = sshd_start(l->port, &l->c);
	return NULL;
}

static void test_booting_node(void **state)
{
	struct late l = { .port = free_port(), .delay_ms = 1500 };
	char kh[4200], line[8400], path[4200];
	size_t len;
	pthread_t th;

	pathf(path, sizeof(path), "hostkey.pub");
	char *pub = read_file(path, &len);
	snprintf(line, sizeof(line), "[127.0.0.1]:%d %s", l.port, pub);
	free(pub);
	pathf(kh, sizeof(kh), "known_hosts_boot");
	write_file(kh, line);

	/* Refuses while "booting", then comes up. */
	struct ssh *s = open_ssh("userkey", "known_hosts_boot", l.port, true);
	int64_t t0 = clock_mono_ms();
	pthread_create(&th, NULL, late_main, &l);
	assert_int_equal(ssh_wait_up(s, 15000, 200), 0);
	pthread_join(th, NULL);
	assert_int_equal(l.rc, 0);
	assert_true(clock_mono_ms() - t0 >= 1500);
	ssh_close(s);
	sshd_stop(&l.c);

	/* Never comes up: a timeout, on time. */
	s = open_ssh("userkey", "known_hosts_boot", free_port(), true);
	t0 = clock_mono_ms();
	assert_int_equal(ssh_wait_up(s, 1500, 200), -ETIMEDOUT);
	assert_true(clock_mono_ms() - t0 < 5000);
	ssh_close(s);

	/* A wrong key is no reason to wait. */
	s = open_ssh("otherkey", "known_hosts", port, true);
	t0 = clock_mono_ms();
	assert_int_equal(ssh_wait_up(s, 15000, 200), -EACCES);
	assert_true(clock_mono_ms() - t0 < 5000);
	ssh_close(s);
}

/* ---- reverse port forward (the guest's way back to the ledger) ---- */

/* A listener on 127.0.0.1 of this host (the controller side): accepts one connection,
 * keeps what arrives up to a newline and answers with its own line, then closes. */
struct peer {
	int lfd, port;
	char got[256];
	const char *reply;
	int accepted;
};

static void peer_listen(struct peer *pe, const char *reply)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	memset(pe, 0, sizeof(*pe));
	pe->reply = reply;
	pe->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(pe->lfd >= 0);
	assert_int_equal(bind(pe->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(pe->lfd, 4), 0);
	assert_int_equal(getsockname(pe->lfd, (struct sockaddr *)&a, &len), 0);
	pe->port = ntohs(a.sin_port);
}

static void *peer_main(void *arg)
{
	struct peer *pe = arg;
	size_t n = 0;
	int fd = accept(pe->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	pe->accepted++;
	while (n + 1 < sizeof(pe->got)) {
		ssize_t k = read(fd, pe->got + n, 1);
		if (k <= 0 || pe->got[n++] == '\n')
			break;
	}
	pe->got[n] = '\0';
	if (write(fd, pe->reply, strlen(pe->reply)) < 0)
		pe->got[0] = '\0';
	close(fd);
	return NULL;
}

/* The node side: connect to 127.0.0.1:p (the node is this host), send msg, read all
 * until EOF or timeout_ms. Returns the bytes read, -1 when the connect failed, -2 on a
 * timeout. */
static ssize_t node_talk(int p, const char *msg, char *buf, size_t len, int timeout_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)p) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t n = 0;

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (msg && write(fd, msg, strlen(msg)) < 0) {
		close(fd);
		return 0;
	}
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (poll(&pf, 1, timeout_ms) <= 0) {
			close(fd);
			return -2;
		}
		ssize_t k = read(fd, buf + n, len - 1 - n);
		if (k <= 0 || (n += (size_t)k) + 1 >= len)
			break;
	}
	buf[n] = '\0';
	close(fd);
	return (ssize_t)n;
}

/* The node's listener is gone within timeout_ms. */
static bool closes_within(int p, int timeout_ms)
{
	for (int64_t end = clock_mono_ms() + timeout_ms; clock_mono_ms() < end; usleep(50000))
		if (!tsshd_port_open(p))
			return true;
	return false;
}

static void test_forward(void **state)
{
	struct peer pe;
	pthread_t th;
	char buf[256];
	int rport = 0, again = 0;
	struct ssh *s = open_ssh("userkey", "known_hosts", port, true);

	/* No master yet: the forward starts one. */
	peer_listen(&pe, "ledger says hello\n");
	pthread_create(&th, NULL, peer_main, &pe);
	assert_int_equal(ssh_forward_remote(s, pe.port, &rport), 0);
	print_message("node port %d leads to local port %d\n", rport, pe.port);
	assert_true(rport > 0 && rport != pe.port);
	/* Bytes both ways, through the node's sshd and the master. */
	assert_int_equal(node_talk(rport, "ack 1 from the guest\n", buf, sizeof(buf), 5000), 18);
	pthread_join(th, NULL);
	assert_string_equal(buf, "ledger says hello\n");
	assert_string_equal(pe.got, "ack 1 from the guest\n");
	assert_int_equal(pe.accepted, 1);

	/* The same target again: the master's forward, the same port. */
	assert_int_equal(ssh_forward_remote(s, pe.port, &again), 0);
	assert_int_equal(again, rport);
	/* Cancelled: the node's port closes; a second cancel finds nothing. */
	assert_int_equal(ssh_forward_cancel(s, pe.port), 0);
	assert_true(closes_within(rport, 3000));
	assert_int_equal(ssh_forward_cancel(s, pe.port), -ENOENT);

	/* The forward ends with the master. */
	assert_int_equal(ssh_forward_remote(s, pe.port, &rport), 0);
	assert_true(tsshd_port_open(rport));
	ssh_close(s);
	assert_true(closes_within(rport, 3000));
	close(pe.lfd);
}

static void test_forward_nothing_listens(void **state)
{
	struct peer pe;
	char buf[64];
	int rport = -1, free_p = free_port();
	struct ssh *s = open_ssh("userkey", "known_hosts", port, true);
	struct ssh *plain = open_ssh("userkey", "known_hosts", port, false);
	int64_t t0 = clock_mono_ms();

	/* Nothing listens here: refused when asked, not a forward that hangs up later. */
	assert_int_equal(ssh_forward_remote(s, free_p, &rport), -ECONNREFUSED);
	assert_int_equal(rport, -1);
	assert_true(clock_mono_ms() - t0 < 1000);
	/* No control master, no forward. */
	assert_int_equal(ssh_forward_remote(plain, 22, &rport), -EINVAL);
	assert_int_equal(ssh_forward_cancel(plain, 22), -ENOENT);
	ssh_close(plain);

	/* The listener goes away after the forward: a connection on the node is closed at
	 * once (EOF), it does not hang. */
	peer_listen(&pe, "");
	assert_int_equal(ssh_forward_remote(s, pe.port, &rport), 0);
	close(pe.lfd);
	t0 = clock_mono_ms();
	assert_int_equal(node_talk(rport, "ack\n", buf, sizeof(buf), 5000), 0);
	print_message("closed after %lld ms\n", (long long)(clock_mono_ms() - t0));
	assert_true(clock_mono_ms() - t0 < 3000);
	ssh_close(s);
}

/* Known hosts for a private sshd of the same host key on port p. */
static void known_hosts_for(int p, const char *name)
{
	char kh[4200], line[8400], path[4200];
	size_t len;

	pathf(path, sizeof(path), "hostkey.pub");
	char *pub = read_file(path, &len);
	assert_non_null(pub);
	snprintf(line, sizeof(line), "[127.0.0.1]:%d %s", p, pub);
	free(pub);
	pathf(kh, sizeof(kh), name);
	write_file(kh, line);
}

static void test_forward_refused_dropped(void **state)
{
	struct peer pe;
	struct child own;
	int rport = -1, p = free_port();

	peer_listen(&pe, "");
	/* A node whose sshd allows no forwarding: said so, with what to change. */
	assert_int_equal(tsshd_start_extra(&T, p, "AllowTcpForwarding no\n", &own), 0);
	known_hosts_for(p, "known_hosts_nofwd");
	struct ssh *s = open_ssh("userkey", "known_hosts_nofwd", p, true);
	assert_int_equal(ssh_forward_remote(s, pe.port, &rport), -EPERM);
	assert_int_equal(rport, -1);
	ssh_close(s);
	sshd_stop(&own);

	/* The node's connection drops (its power was cut): the forward is gone with the
	 * master, and asking again gives a working forward on a new master. */
	p = free_port();
	assert_int_equal(sshd_start(p, &own), 0);
	known_hosts_for(p, "known_hosts_fwdrop");
	s = open_ssh("userkey", "known_hosts_fwdrop", p, true);
	assert_int_equal(ssh_forward_remote(s, pe.port, &rport), 0);
	assert_true(kill_sessions(own.pid) > 0);
	assert_true(closes_within(rport, 3000));
	int again = -1;
	assert_int_equal(ssh_forward_remote(s, pe.port, &again), 0);
	assert_true(tsshd_port_open(again));
	ssh_close(s);
	sshd_stop(&own);
	close(pe.lfd);
}

int main(void)
{
	const char *why;

	if (tsshd_setup(&T, &why) < 0) {
		tsshd_teardown(&T);
		printf("skip: %s\n", why);
		return 77;
	}
	port = T.port;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_quote_roundtrip),
		cmocka_unit_test(test_run_status_io),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_host_key_checked),
		cmocka_unit_test(test_auth_refused_timeout),
		cmocka_unit_test(test_dropped_mid_command),
		cmocka_unit_test(test_booting_node),
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_forward_nothing_listens),
		cmocka_unit_test(test_forward_refused_dropped),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	tsshd_teardown(&T);
	return rc;
}
