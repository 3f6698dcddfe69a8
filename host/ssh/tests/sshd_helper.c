/* A private sshd on 127.0.0.1 for tests. See sshd_helper.h. */
#include "sshd_helper.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int tsshd_run_quiet(const char *const argv[])
{
	struct child_result r;
	int rc = child_run(argv, NULL, 20000, &r);

	if (rc == 0 && !(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)) {
		fprintf(stderr, "%s failed: %s\n", argv[0], r.err ? r.err : "");
		rc = -EIO;
	}
	child_result_release(&r);
	return rc;
}

int tsshd_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		p = -1;
	else
		p = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return p;
}

bool tsshd_port_open(int p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)p) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

int tsshd_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -errno;
}

char *tsshd_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (!buf) {
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

int tsshd_start(const struct tsshd *t, int p, struct child *c)
{
	return tsshd_start_extra(t, p, NULL, c);
}

int tsshd_start_extra(const struct tsshd *t, int p, const char *extra, struct child *c)
{
	/* child.h keeps argv: it must outlive the child (one sshd per port at a time). */
	static const char *argv[] = { TSSHD_BIN, "-D", "-e", "-f", NULL, NULL };
	static char cfg[4200];
	char text[16384], log_path[4200];
	int log_fd, rc;

	snprintf(cfg, sizeof(cfg), "%s/sshd_config.%d", t->dir, p);
	snprintf(text, sizeof(text),
		 "ListenAddress 127.0.0.1\nPort %d\nHostKey %s/hostkey\n"
		 "AuthorizedKeysFile %s/authorized_keys\nPidFile %s/sshd.%d.pid\n"
		 "UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n"
		 "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
		 "MaxStartups 50\n%s",
		 p, t->dir, t->dir, t->dir, p, extra ? extra : "");
	if ((rc = tsshd_write_file(cfg, text)) < 0)
		return rc;
	argv[4] = cfg;
	snprintf(log_path, sizeof(log_path), "%s/sshd.%d.log", t->dir, p);
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	*c = (struct child){ .argv = argv, .in = CHILD_NULL, .out = CHILD_FD, .err = CHILD_FD,
			     .fd_out = log_fd, .fd_err = log_fd };
	rc = child_start(c);
	close(log_fd);
	if (rc < 0)
		return rc;
	for (int i = 0; i < 100; i++) {
		if (tsshd_port_open(p))
			return 0;
		if (!child_running(c))
			return -EIO;
		usleep(50000);
	}
	return -ETIMEDOUT;
}

void tsshd_stop(struct child *c)
{
	int st;

	child_kill(c, SIGTERM);
	child_finish(c, 5000, &st);
}

static int known_hosts(const struct tsshd *t, const char *name, const char *pubname)
{
	char path[4200], line[8400];
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", t->dir, pubname);
	char *pub = tsshd_read_file(path, &len);
	if (!pub)
		return -ENOENT;
	snprintf(line, sizeof(line), "[127.0.0.1]:%d %s", t->port, pub);
	free(pub);
	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	return tsshd_write_file(path, line);
}

int tsshd_setup(struct tsshd *t, const char **why)
{
	const char *tmp = getenv("TMPDIR");
	char path[4200];
	size_t len;
	struct stat st;

	memset(t, 0, sizeof(*t));
	if (access(TSSHD_BIN, X_OK) != 0) {
		*why = "no " TSSHD_BIN " (openssh-server)";
		return -1;
	}
	/* sshd refuses to start without its privilege separation directory, which the
	 * package's service unit normally creates at boot. */
	if (stat("/run/sshd", &st) != 0 && (geteuid() != 0 || mkdir("/run/sshd", 0755) != 0)) {
		*why = "sshd needs /run/sshd and it cannot be created here";
		return -1;
	}
	struct passwd *pw = getpwuid(geteuid());
	snprintf(t->user, sizeof(t->user), "%s", pw ? pw->pw_name : "root");
	*why = "cannot set up a private sshd on 127.0.0.1 (see the messages above)";
	snprintf(t->dir, sizeof(t->dir), "%s/pcssh.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(t->dir)) {
		t->dir[0] = '\0';
		return -1;
	}
	for (int i = 0; i < 3; i++) {
		static const char *names[] = { "hostkey", "userkey", "otherkey" };
		snprintf(path, sizeof(path), "%s/%s", t->dir, names[i]);
		const char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test",
				       "-f", path, NULL };
		if (tsshd_run_quiet(argv) < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/userkey.pub", t->dir);
	char *pub = tsshd_read_file(path, &len);
	snprintf(path, sizeof(path), "%s/authorized_keys", t->dir);
	if (!pub || tsshd_write_file(path, pub) < 0) {
		free(pub);
		return -1;
	}
	free(pub);
	if ((t->port = tsshd_free_port()) < 0)
		return -1;
	if (known_hosts(t, "known_hosts", "hostkey.pub") < 0 ||
	    known_hosts(t, "known_hosts_wrong", "otherkey.pub") < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/known_hosts_empty", t->dir);
	if (tsshd_write_file(path, "") < 0)
		return -1;
	*why = "cannot start sshd on 127.0.0.1 (see its log above)";
	if (tsshd_start(t, t->port, &t->sshd) < 0) {
		char log[4200];
		snprintf(log, sizeof(log), "%s/sshd.%d.log", t->dir, t->port);
		char *text = tsshd_read_file(log, &len);
		if (text)
			fprintf(stderr, "%s", text);
		free(text);
		return -1;
	}
	t->live = true;
	return 0;
}

void tsshd_teardown(struct tsshd *t)
{
	if (t->live)
		tsshd_stop(&t->sshd);
	t->live = false;
	if (t->dir[0]) {
		const char *argv[] = { "rm", "-rf", "--", t->dir, NULL };
		tsshd_run_quiet(argv);
	}
	t->dir[0] = '\0';
}
