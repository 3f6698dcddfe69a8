/* ssh transport: the OpenSSH client through child.h. See ssh.h. */
#include "ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define SSH_MAX_ARGS 48
/* A mux request waits on the master, which waits on the node: as long as a connect
 * plus the alive timeout, with room. */
#define FORWARD_TIMEOUT_MS 30000

struct ssh {
	char *host, *user, *identity, *known_hosts, *config, *control_dir, *ssh_bin;
	int port, control_persist_s, connect_timeout_s, alive_interval_s;
	char name[320];
	/* option words shared by every invocation, built once */
	char opt_buf[8][4096 + 64];
	const char *words[SSH_MAX_ARGS];
	int n_words;
};

static char *dup_opt(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	if (!(d = strdup(s)))
		*fail = true;
	return d;
}

static void ssh_free(struct ssh *s)
{
	free(s->host);
	free(s->user);
	free(s->identity);
	free(s->known_hosts);
	free(s->config);
	free(s->control_dir);
	free(s->ssh_bin);
	free(s);
}

struct ssh *ssh_open(const struct ssh_opts *o)
{
	struct ssh *s;
	bool fail = false;
	int k = 0, b = 0;
	char port[16];

	if (!o->host || !*o->host) {
		pc_err(LOG_SSH, "ssh transport without a host");
		errno = EINVAL;
		return NULL;
	}
	/* ControlPath with %C is the directory plus 41 characters; a UNIX socket path
	 * holds 107. */
	if (o->control_dir && strlen(o->control_dir) + 45 >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		pc_err(LOG_SSH, "control directory '%s' is too long for a socket path (at most %zu "
		       "characters): set a shorter [bench] run_dir", o->control_dir,
		       sizeof(((struct sockaddr_un *)0)->sun_path) - 46);
		errno = EINVAL;
		return NULL;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		errno = ENOMEM;
		return NULL;
	}
	s->host = dup_opt(o->host, &fail);
	s->user = dup_opt(o->user, &fail);
	s->identity = dup_opt(o->identity, &fail);
	s->known_hosts = dup_opt(o->known_hosts, &fail);
	s->config = dup_opt(o->config, &fail);
	s->control_dir = dup_opt(o->control_dir, &fail);
	s->ssh_bin = dup_opt(o->ssh_bin ? o->ssh_bin : "ssh", &fail);
	if (fail) {
		ssh_free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->port = o->port;
	s->control_persist_s = o->control_persist_s > 0 ? o->control_persist_s : 600;
	s->connect_timeout_s = o->connect_timeout_s > 0 ? o->connect_timeout_s : 10;
	s->alive_interval_s = o->alive_interval_s > 0 ? o->alive_interval_s : 5;
	snprintf(port, sizeof(port), ":%d", s->port);
	snprintf(s->name, sizeof(s->name), "%s%s%s%s", s->user ? s->user : "",
		 s->user ? "@" : "", s->host, s->port ? port : "");

	s->words[k++] = s->ssh_bin;
	if (s->config) {
		s->words[k++] = "-F";
		s->words[k++] = s->config;
	}
	s->words[k++] = "-o"; s->words[k++] = "BatchMode=yes";
	/* Never accept an unknown or changed host key, whatever ~/.ssh/config says. */
	s->words[k++] = "-o"; s->words[k++] = "StrictHostKeyChecking=yes";
	s->words[k++] = "-o"; s->words[k++] = "LogLevel=error";
	snprintf(s->opt_buf[b], sizeof(s->opt_buf[b]), "ConnectTimeout=%d", s->connect_timeout_s);
	s->words[k++] = "-o"; s->words[k++] = s->opt_buf[b++];
	snprintf(s->opt_buf[b], sizeof(s->opt_buf[b]), "ServerAliveInterval=%d", s->alive_interval_s);
	s->words[k++] = "-o"; s->words[k++] = s->opt_buf[b++];
	s->words[k++] = "-o"; s->words[k++] = "ServerAliveCountMax=3";
	if (s->known_hosts) {
		snprintf(s->opt_buf[b], sizeof(s->opt_buf[b]), "UserKnownHostsFile=%s", s->known_hosts);
		s->words[k++] = "-o"; s->words[k++] = s->opt_buf[b++];
	}
	if (s->identity) {
		s->words[k++] = "-i"; s->words[k++] = s->identity;
		/* Only this key: an agent's many keys can exhaust the server's MaxAuthTries. */
		s->words[k++] = "-o"; s->words[k++] = "IdentitiesOnly=yes";
	}
	if (s->user) {
		s->words[k++] = "-l"; s->words[k++] = s->user;
	}
	if (s->port) {
		snprintf(s->opt_buf[b], sizeof(s->opt_buf[b]), "%d", s->port);
		s->words[k++] = "-p"; s->words[k++] = s->opt_buf[b++];
	}
	if (s->control_dir) {
		snprintf(s->opt_buf[b], sizeof(s->opt_buf[b]), "ControlPath=%s/cm-%%C", s->control_dir);
		s->words[k++] = "-o"; s->words[k++] = s->opt_buf[b++];
		s->words[k++] = "-o"; s->words[k++] = "ControlMaster=auto";
		snprintf(s->opt_buf[b], sizeof(s->opt_buf[b]), "ControlPersist=%d", s->control_persist_s);
		s->words[k++] = "-o"; s->words[k++] = s->opt_buf[b++];
	}
	s->n_words = k;
	return s;
}

const char *ssh_name(const struct ssh *s)
{
	return s->name;
}

static bool plain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("_@%+=:,./-", c);
}

size_t ssh_quote(const char *word, char *buf, size_t len)
{
	size_t n = 0;
	bool plain = *word != '\0';

	for (const char *p = word; *p && plain; p++)
		plain = plain_char(*p);
#define PUT(ch) do { if (n + 1 < len) buf[n] = (ch); n++; } while (0)
	if (plain) {
		for (const char *p = word; *p; p++)
			PUT(*p);
	} else {
		/* Inside single quotes a POSIX shell takes every byte literally but ', which
		 * ends the quote: close, add an escaped quote, reopen. */
		PUT('\'');
		for (const char *p = word; *p; p++) {
			if (*p == '\'') {
				PUT('\''); PUT('\\'); PUT('\''); PUT('\'');
			} else {
				PUT(*p);
			}
		}
		PUT('\'');
	}
#undef PUT
	if (len)
		buf[n < len ? n : len - 1] = '\0';
	return n;
}

char *ssh_command_line(const char *const argv[])
{
	size_t total = 0, off = 0;
	char *line;

	if (!argv || !argv[0]) {
		errno = EINVAL;
		return NULL;
	}
	for (size_t i = 0; argv[i]; i++)
		total += ssh_quote(argv[i], NULL, 0) + 1;
	if (!(line = malloc(total + 1))) {
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			line[off++] = ' ';
		off += ssh_quote(argv[i], line + off, total + 1 - off);
	}
	line[off] = '\0';
	return line;
}

int ssh_classify(const char *err)
{
	static const struct { const char *text; int err; } known[] = {
		{ "REMOTE HOST IDENTIFICATION HAS CHANGED", -EKEYREJECTED },
		{ "Host key verification failed", -EKEYREJECTED },
		{ "No ED25519 host key is known", -EKEYREJECTED },
		{ "host key is known for", -EKEYREJECTED },
		{ "remote port forwarding failed", -EPERM },
		{ "Permission denied", -EACCES },
		{ "Too many authentication failures", -EACCES },
		{ "Connection refused", -ECONNREFUSED },
		{ "Connection timed out", -ETIMEDOUT },
		{ "Operation timed out", -ETIMEDOUT },
		{ "Timeout, server", -ETIMEDOUT },
		{ "No route to host", -EHOSTUNREACH },
		{ "Network is unreachable", -EHOSTUNREACH },
		{ "Could not resolve hostname", -EHOSTUNREACH },
		{ "Name or service not known", -EHOSTUNREACH },
		{ "closed by remote host", -ECONNRESET },
		{ "Connection closed by", -ECONNRESET },
		{ "Connection reset", -ECONNRESET },
		{ "Broken pipe", -ECONNRESET },
		{ "kex_exchange_identification", -ECONNRESET },
		{ "mux_client_read_packet", -ECONNRESET },
		{ "client_loop: send disconnect", -ECONNRESET },
	};

	if (!err)
		return 0;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strstr(err, known[i].text))
			return known[i].err;
	return 0;
}

const char *ssh_advice(int err)
{
	switch (err) {
	case -EKEYREJECTED:
		return "its host key is unknown or has changed: compare the fingerprint on the "
		       "node's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and add "
		       "it to the known_hosts file ([node] known_hosts); keys are never accepted "
		       "blindly";
	case -EACCES:
		return "the key was not accepted: add the public key of [node] identity to the "
		       "node's ~/.ssh/authorized_keys, and check [node] user";
	case -ECONNREFUSED:
		return "nothing listens on the ssh port: the node is still booting, or sshd is "
		       "not running, or [node] port is wrong";
	case -EHOSTUNREACH:
		return "the node cannot be reached: check [node] host, the network and its cabling";
	case -ETIMEDOUT:
		return "no answer in time: the node is off, hung or still booting";
	case -ECONNRESET:
		return "the connection dropped: the node lost power or sshd restarted";
	case -EPERM:
		return "the node's sshd refused the port forward: allow it there "
		       "(AllowTcpForwarding yes, no PermitListen or DisableForwarding for this "
		       "user in sshd_config)";
	default:
		return "see ssh's message above";
	}
}

const char *ssh_strerror(int err)
{
	switch (err) {
	case -EKEYREJECTED: return "host key not accepted";
	case -EACCES: return "authentication failed";
	case -ECONNREFUSED: return "connection refused";
	case -EHOSTUNREACH: return "host unreachable";
	case -ETIMEDOUT: return "timed out";
	case -ECONNRESET: return "connection dropped";
	case -EPERM: return "port forward refused";
	default: return strerror(err < 0 ? -err : err);
	}
}

/* Trim ssh's last message line for our own message. */
static void last_line(const char *err, char *buf, size_t len)
{
	const char *end, *start;

	buf[0] = '\0';
	if (!err)
		return;
	end = err + strlen(err);
	while (end > err && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	start = end;
	while (start > err && start[-1] != '\n')
		start--;
	snprintf(buf, len, "%.*s", (int)(end - start), start);
}

/* Build the argument vector: option words, extra words, host, then "--" and cmd. */
static int build_argv(const struct ssh *s, const char **argv, const char *const *extra,
		      const char *cmd)
{
	int k = 0;

	for (int i = 0; i < s->n_words; i++)
		argv[k++] = s->words[i];
	for (size_t i = 0; extra && extra[i]; i++)
		argv[k++] = extra[i];
	argv[k++] = s->host;
	if (cmd) {
		argv[k++] = "--";
		argv[k++] = cmd;
	}
	argv[k] = NULL;
	return k;
}

static int failed(const struct ssh *s, const char *what, int err, const char *ssh_err)
{
	char last[512];

	last_line(ssh_err, last, sizeof(last));
	pc_err(LOG_SSH, "cannot %s on '%s': %s%s%s%s; %s", what, s->name, ssh_strerror(err),
	       *last ? " (ssh: " : "", last, *last ? ")" : "", ssh_advice(err));
	return err;
}

static bool master_alive(const struct ssh *s)
{
	static const char *const extra[] = { "-O", "check", NULL };
	const char *av[SSH_MAX_ARGS + 8];
	struct child_result r;
	bool alive;

	build_argv(s, av, extra, NULL);
	alive = child_run(av, NULL, 5000, &r) == 0 && WIFEXITED(r.status) &&
		WEXITSTATUS(r.status) == 0;
	child_result_release(&r);
	return alive;
}

static int run(struct ssh *s, const char *const argv[], const char *input, int timeout_ms,
	       struct child_result *r, bool quiet)
{
	const char *av[SSH_MAX_ARGS + 8];
	char *cmd = ssh_command_line(argv);
	int rc, cls;

	memset(r, 0, sizeof(*r));
	if (!cmd)
		return -errno;
	build_argv(s, av, NULL, cmd);
	pc_debug(LOG_SSH, "%s: %s", s->name, cmd);
	rc = child_run(av, input, timeout_ms, r);
	if (rc == -ETIMEDOUT) {
		if (!quiet)
			pc_err(LOG_SSH, "command '%s' on '%s' did not finish within %d ms", argv[0],
			       s->name, timeout_ms);
		goto out;
	}
	if (rc < 0) {
		pc_err(LOG_SSH, "cannot run '%s': %s", s->ssh_bin, strerror(-rc));
		goto out;
	}
	if (!(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 255))
		goto out;
	cls = ssh_classify(r->err);
	/* A mux client whose master died says nothing at LogLevel=error: if the master
	 * is gone, so is the connection the command ran on. */
	if (cls == 0 && s->control_dir && !master_alive(s))
		cls = -ECONNRESET;
	if (cls < 0) {
		char what[128];
		snprintf(what, sizeof(what), "run '%s'", argv[0]);
		rc = quiet ? cls : failed(s, what, cls, r->err);
	}
out:
	free(cmd);
	return rc;
}

int ssh_run(struct ssh *s, const char *const argv[], const char *input, int timeout_ms,
	    struct child_result *r)
{
	return run(s, argv, input, timeout_ms, r, false);
}

int ssh_copy(struct ssh *s, const char *local, const char *remote_path, int timeout_ms)
{
	static const char script[] = "cat > \"$1.part\" && mv -f \"$1.part\" \"$1\"";
	const char *rargv[] = { "sh", "-c", script, "sh", remote_path, NULL };
	const char *av[SSH_MAX_ARGS + 8];
	char *cmd = NULL, err[4096];
	FILE *errf = NULL;
	int in = -1, rc, status = 0;
	size_t n;

	if ((in = open(local, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		pc_err(LOG_SSH, "cannot open '%s': %s", local, strerror(-rc));
		return rc;
	}
	if (!(errf = tmpfile()) || !(cmd = ssh_command_line(rargv))) {
		rc = -errno;
		goto out;
	}
	build_argv(s, av, NULL, cmd);
	struct child c = { .argv = av, .in = CHILD_FD, .fd_in = in, .out = CHILD_NULL,
			   .err = CHILD_FD, .fd_err = fileno(errf) };
	if ((rc = child_start(&c)) < 0) {
		pc_err(LOG_SSH, "cannot run '%s': %s", s->ssh_bin, strerror(-rc));
		goto out;
	}
	rc = child_finish(&c, timeout_ms, &status);
	rewind(errf);
	n = fread(err, 1, sizeof(err) - 1, errf);
	err[n] = '\0';
	if (rc == -ETIMEDOUT) {
		pc_err(LOG_SSH, "copying '%s' to '%s:%s' did not finish within %d ms", local,
		       s->name, remote_path, timeout_ms);
		goto out;
	}
	if (rc < 0)
		goto out;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		goto out;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 255 && (rc = ssh_classify(err)) < 0) {
		failed(s, "copy a file", rc, err);
		goto out;
	}
	last_line(err, err, sizeof(err));
	pc_err(LOG_SSH, "cannot copy '%s' to '%s:%s': %s", local, s->name, remote_path,
	       *err ? err : "remote command failed");
	rc = -EIO;
out:
	free(cmd);
	if (errf)
		fclose(errf);
	close(in);
	return rc;
}

int ssh_wait_up(struct ssh *s, int timeout_ms, int retry_ms)
{
	static const char *const probe[] = { "true", NULL };
	int64_t end = clock_mono_ms() + timeout_ms;
	int rc, tries = 0;

	if (retry_ms <= 0)
		retry_ms = 1000;
	for (;;) {
		struct child_result r;
		int64_t left = end - clock_mono_ms();

		if (left <= 0)
			break;
		/* A booting node fails many probes: only the last error is worth a message. */
		rc = run(s, probe, NULL, (int)left, &r, true);
		tries++;
		if (rc == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) {
			child_result_release(&r);
			pc_debug(LOG_SSH, "'%s' is up after %d tries", s->name, tries);
			return 0;
		}
		if (rc == -EKEYREJECTED || rc == -EACCES) {
			failed(s, "log in", rc, r.err);
			child_result_release(&r);
			return rc;
		}
		pc_debug(LOG_SSH, "'%s' not up yet: %s", s->name, strerror(rc < 0 ? -rc : EIO));
		child_result_release(&r);
		/* A master that lost its node answers nothing useful: start afresh. */
		ssh_master_stop(s);
		left = end - clock_mono_ms();
		if (left <= 0)
			break;
		usleep((useconds_t)(left < retry_ms ? left : retry_ms) * 1000);
	}
	pc_err(LOG_SSH, "node '%s' did not answer ssh within %d ms (%d tries): %s", s->name,
	       timeout_ms, tries, ssh_advice(-ETIMEDOUT));
	return -ETIMEDOUT;
}

/* Something listens on 127.0.0.1:port of this host. Told by bind() with SO_REUSEADDR,
 * which only a listener (or a socket bound without it) refuses: a connect() would be
 * a stray client of that listener, the ledger's. */
static bool local_listens(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	bool busy;

	if (fd < 0)
		return true;	/* cannot tell: let the forward be tried */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	busy = bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno == EADDRINUSE;
	close(fd);
	return busy;
}

/* ssh -O OP -R 0:127.0.0.1:PORT: the spec names the forward for cancel too, as the
 * master stores it with listen port 0 and the allocated port beside it. */
static int mux_forward(const struct ssh *s, const char *op, int local_port,
		       struct child_result *r)
{
	char spec[48];
	const char *extra[] = { "-O", op, "-R", spec, NULL };
	const char *av[SSH_MAX_ARGS + 8];

	snprintf(spec, sizeof(spec), "0:127.0.0.1:%d", local_port);
	build_argv(s, av, extra, NULL);
	pc_debug(LOG_SSH, "%s: -O %s -R %s", s->name, op, spec);
	return child_run(av, NULL, FORWARD_TIMEOUT_MS, r);
}

int ssh_forward_remote(struct ssh *s, int local_port, int *remote_port)
{
	static const char *const probe[] = { "true", NULL };
	struct child_result r;
	char what[64], *end;
	long port;
	int rc;

	snprintf(what, sizeof(what), "forward a port to '127.0.0.1:%d'", local_port);
	if (!s->control_dir || local_port <= 0 || local_port > 65535) {
		pc_err(LOG_SSH, "cannot %s on '%s': %s", what, s->name, !s->control_dir ?
		       "a port forward needs a control master (a control directory)" :
		       "not a port number");
		return -EINVAL;
	}
	/* The node's sshd would accept every connection and the master close it when
	 * its own connect fails: the guest would see a ledger that hangs up, later. */
	if (!local_listens(local_port)) {
		pc_err(LOG_SSH, "cannot %s on '%s': nothing listens on '127.0.0.1:%d' here",
		       what, s->name, local_port);
		return -ECONNREFUSED;
	}
	/* -O needs a running master; any command starts one (ControlMaster=auto). */
	if (!master_alive(s)) {
		rc = run(s, probe, NULL, FORWARD_TIMEOUT_MS, &r, false);
		if (rc == 0 && !(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0))
			rc = -EIO;
		child_result_release(&r);
		if (rc < 0)
			return rc;
	}
	rc = mux_forward(s, "forward", local_port, &r);
	if (rc == -ETIMEDOUT) {
		pc_err(LOG_SSH, "cannot %s on '%s': no answer within %d ms; %s", what, s->name,
		       FORWARD_TIMEOUT_MS, ssh_advice(rc));
		goto out;
	}
	if (rc < 0) {
		pc_err(LOG_SSH, "cannot run '%s': %s", s->ssh_bin, strerror(-rc));
		goto out;
	}
	if (!(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)) {
		rc = ssh_classify(r.err);
		if (rc == 0)
			rc = master_alive(s) ? -EIO : -ECONNRESET;
		failed(s, what, rc, r.err);
		goto out;
	}
	/* With listen port 0 the mux client prints the allocated port, alone on a line. */
	errno = 0;
	port = strtol(r.out ? r.out : "", &end, 10);
	if (errno || end == r.out || (*end && *end != '\n') || port <= 0 || port > 65535) {
		pc_err(LOG_SSH, "cannot %s on '%s': ssh printed no port ('%.40s')", what, s->name,
		       r.out ? r.out : "");
		rc = -EPROTO;
		goto out;
	}
	*remote_port = (int)port;
	pc_debug(LOG_SSH, "'%s': its 127.0.0.1:%ld leads to 127.0.0.1:%d here", s->name, port,
		 local_port);
out:
	child_result_release(&r);
	return rc;
}

int ssh_forward_cancel(struct ssh *s, int local_port)
{
	struct child_result r;
	int rc;

	if (!s->control_dir)
		return -ENOENT;
	rc = mux_forward(s, "cancel", local_port, &r);
	/* The mux client exits 0 even when the master refused: its message tells. */
	if (rc == 0 && (!(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) ||
			(r.err && strstr(r.err, "request failed"))))
		rc = -ENOENT;
	child_result_release(&r);
	return rc;
}

int ssh_master_stop(struct ssh *s)
{
	static const char *const extra[] = { "-O", "exit", NULL };
	const char *av[SSH_MAX_ARGS + 8];
	struct child_result r;
	int rc;

	if (!s->control_dir)
		return -ENOENT;
	build_argv(s, av, extra, NULL);
	rc = child_run(av, NULL, 5000, &r);
	if (rc == 0 && !(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0))
		rc = -ENOENT;
	child_result_release(&r);
	return rc;
}

void ssh_close(struct ssh *s)
{
	if (!s)
		return;
	ssh_master_stop(s);
	ssh_free(s);
}
