/* Test harness for powercut-mcusim: start and stop the simulator, talk to the
 * firmware over the pty (or a real port) as a host would, and to the control socket.
 *
 * Used by the tests, the cut benchmark and the demo's cut client. Every function
 * returns 0 (or a length) on success and a negative errno on failure; messages go to
 * stderr in the project's style. Nothing here keeps pointers to caller memory.
 */
#ifndef MCUSIM_HARNESS_H
#define MCUSIM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <sys/types.h>

#include "../../../../host/lib/clock.h"	/* clock_mono_ns() for deadlines */

/* ---- paths ---- */

/* A file of the build tree, found relative to this program (build/rig/mcusim/...):
 * "bin/powercut-mcusim", "firmware/powercut-fw.elf", "rig/mcusim/probe-fw.elf".
 * The environment variables POWERCUT_MCUSIM and POWERCUT_FW_ELF override the first
 * two. Returns a static buffer (valid until the next call). */
const char *h_build_path(const char *rel);

/* A fresh private directory (mkdtemp under $TMPDIR, else build/tmp) in buf. */
int h_tmpdir(char *buf, size_t cap);
/* Remove a directory made by h_tmpdir with its (flat or one level deep) content. */
void h_rmtree(const char *dir);

/* ---- line reader ---- */

struct h_lbuf {
	int fd;
	char buf[4096];
	size_t len;
};

/* Next '\n'-terminated line (without '\n'), NUL-terminated in line. Returns its
 * length, -ETIMEDOUT after timeout_ms of wall time, -EPIPE at end of file. */
int h_read_line(struct h_lbuf *lb, char *line, size_t cap, int timeout_ms);

/* ---- the simulator process ---- */

struct h_sim {
	pid_t pid;
	int out_fd;			/* its stdout (the ready line) */
	char tmp[PATH_MAX - 16];	/* private temp dir (owned) */
	char run_dir[PATH_MAX];		/* tmp/run */
	char tty[PATH_MAX];		/* from the ready line */
	char ctl[PATH_MAX];
	int ctl_fd;			/* connected control socket, or -1 */
	struct h_lbuf ctl_lb;
};

/* Start powercut-mcusim on `elf` in a fresh run dir, with extra arguments (NULL-
 * terminated, may be NULL), wait for its ready line and connect to its control
 * socket. When run_dir is not NULL it is used instead of a private one. */
int h_sim_start(struct h_sim *s, const char *elf, const char *run_dir,
		const char *const *extra);
/* Use a simulator started by someone else: its pty and control socket paths. */
int h_sim_attach(struct h_sim *s, const char *tty, const char *ctl);
/* SIGTERM, wait (at most 5 s, then SIGKILL); *status gets the wait status. The temp
 * dir stays (h_sim_cleanup removes it). */
int h_sim_stop(struct h_sim *s, int *status);
void h_sim_cleanup(struct h_sim *s);
/* The end of a test program: stop the simulator (it must exit 0 on SIGTERM, a check),
 * clean up, and print "all WHAT checks passed" or "N WHAT checks failed". Returns
 * the program's exit status, 0 or 1. */
int h_sim_finish(struct h_sim *s, const char *what);

/* One control-socket command with a one-line reply (into reply). */
int h_ctl(struct h_sim *s, const char *cmd, char *reply, size_t cap);

enum h_edge_kind { H_RELAY, H_DC, H_PWROK, H_RESET };
struct h_edge {
	int kind, ch, value;		/* value: energized / back / level / cause index */
	uint64_t cycle, sim_us, boot_us;
	uint64_t boot_cycles;		/* cycles since the MCU's last reset (exact) */
	int64_t wall_ns;
};
/* Every edge recorded so far (control `edges`); *out is malloc'ed (caller frees). */
int h_ctl_edges(struct h_sim *s, struct h_edge **out, size_t *n);
/* Parse one event line of the control socket into e. */
int h_edge_parse(const char *line, struct h_edge *e);

/* ---- the firmware link ---- */

struct h_event {
	uint64_t seq, t;
	char name[16];
	char kv[128];			/* the "key=value ..." rest */
};

struct h_fw {
	int fd;
	struct h_lbuf lb;
	struct h_event q[256];		/* events read while waiting for replies */
	int nq;
	int garbled;			/* lines with a bad frame seen */
	bool cut;			/* the harness cut the line being read (see h_fw_cut) */
	bool trace;			/* print every line to stderr */
};

/* Open a port by path (a pty or a real serial port), raw 115200 8N1, flush stale
 * input. */
int h_fw_open(struct h_fw *f, const char *path);
void h_fw_close(struct h_fw *f);
/* Drop the input read so far: the harness is about to cut the line the firmware may
 * be printing (a flush starts reading mid-line, an external reset stops the line
 * short and a boot banner follows on it). The next line alone may then be broken
 * without counting as garbled: when no good frame ends it (dropped), or when a boot
 * banner does (the banner is read). */
void h_fw_cut(struct h_fw *f);
/* Send BODY framed as BODY*CC\n. */
int h_fw_send(struct h_fw *f, const char *body);
/* Send raw bytes as they are. */
int h_fw_send_raw(struct h_fw *f, const void *buf, size_t len);
/* Next valid line from the firmware (body only, checksum removed). Events are
 * returned too. A line with a bad frame counts in f->garbled and is skipped. */
int h_fw_line(struct h_fw *f, char *body, size_t cap, int timeout_ms);
/* Next reply (not an event) within timeout_ms; events seen meanwhile are queued. */
int h_fw_reply(struct h_fw *f, char *reply, size_t cap, int timeout_ms);
/* Send a request, return its reply. */
int h_fw_request(struct h_fw *f, const char *body, char *reply, size_t cap, int timeout_ms);
/* Next event named `name` (any name: NULL) on channel ch (any: -1), from the queue
 * first, then from the line; replies seen meanwhile are an error (-EPROTO). */
int h_fw_event(struct h_fw *f, const char *name, int ch, struct h_event *ev, int timeout_ms);
/* Drop queued events. */
void h_fw_drain(struct h_fw *f);
int h_event_parse(const char *body, struct h_event *ev);

/* Value of `key` in a "k=v k=v" string into val. */
int h_kv(const char *s, const char *key, char *val, size_t cap);
/* The same as an unsigned number; -ENOENT / -EINVAL. */
int h_kv_u64(const char *s, const char *key, uint64_t *v);

/* ---- checks ---- */

extern int h_failures;
/* Record and print a failed check; returns cond. */
#define H_CHECK(cond, ...) h_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
bool h_check(bool cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));


#endif
