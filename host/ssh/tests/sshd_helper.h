/* A private OpenSSH server on 127.0.0.1 for tests (Debian's openssh-server): generated
 * host and user keys, authorized_keys and known_hosts files, everything in one private
 * temporary directory under $TMPDIR.
 *
 *   struct tsshd t;
 *   const char *why;
 *   if (tsshd_setup(&t, &why) < 0) { tsshd_teardown(&t); printf("skip: %s\n", why); ... }
 *   ... ssh -p t.port -i t.dir/userkey -o UserKnownHostsFile=t.dir/known_hosts
 *           -l t.user 127.0.0.1 ...
 *   tsshd_teardown(&t);                    // stops sshd, removes the directory
 *
 * Files in t.dir: hostkey(.pub), userkey(.pub) (accepted), otherkey(.pub) (not
 * accepted), authorized_keys, known_hosts (the right host key for t.port),
 * known_hosts_wrong (another key), known_hosts_empty. sshd logs to sshd.PORT.log there.
 */
#ifndef PC_TEST_SSHD_HELPER_H
#define PC_TEST_SSHD_HELPER_H

#include <stdbool.h>
#include <stddef.h>

#include "child.h"

#define TSSHD_BIN "/usr/sbin/sshd"

struct tsshd {
	char dir[4096];
	char user[256];
	int port;
	struct child sshd;
	bool live;
};

/* Everything above, sshd started and listening. 0, or -1 with *why (static text) the
 * reason to skip: no sshd, no /run/sshd, sshd did not start. Call tsshd_teardown in
 * every case. */
int tsshd_setup(struct tsshd *t, const char **why);
void tsshd_teardown(struct tsshd *t);

/* Another sshd of the same keys on port p (its own config); waits until it listens.
 * 0 or a negative errno. */
int tsshd_start(const struct tsshd *t, int p, struct child *c);
/* The same with lines appended to its sshd_config ("AllowTcpForwarding no\n"). */
int tsshd_start_extra(const struct tsshd *t, int p, const char *extra, struct child *c);
void tsshd_stop(struct child *c);

/* A free TCP port on 127.0.0.1 (free when asked), or -1. */
int tsshd_free_port(void);
bool tsshd_port_open(int p);
/* Whole files. write: 0 or -errno; read: malloc'ed and NUL-terminated, or NULL. */
int tsshd_write_file(const char *path, const char *text);
char *tsshd_read_file(const char *path, size_t *len);
/* Run argv to its end; 0 when it exited 0 (else its stderr is printed), -errno. */
int tsshd_run_quiet(const char *const argv[]);

#endif
