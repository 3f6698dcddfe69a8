/* Doctor checks shared by the drivers over ssh. See nodedoctor.h. */
#include "nodedoctor.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "util.h"

#define TIMEOUT_MS 60000

void nd_add(const struct node_doctor *d, const char *check, enum node_dr_status st,
	    const char *fix, const char *fmt, ...)
{
	char found[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(found, sizeof(found), fmt, ap);
	va_end(ap);
	d->add(d->arg, check, st, found, st == NODE_DR_OK ? NULL : fix);
}

void nd_guest(const struct node_doctor *d, const char *dir)
{
	char k[PATH_MAX + 16], i[PATH_MAX + 16];

	snprintf(k, sizeof(k), "%s/vmlinuz", dir);
	snprintf(i, sizeof(i), "%s/initrd.cpio", dir);
	bool hk = access(k, R_OK) == 0, hi = access(i, R_OK) == 0;
	nd_add(d, "guest", hk && hi ? NODE_DR_OK : NODE_DR_FAIL, "make guest, or set [node] guest",
	       "%s%s", hk && hi ? "kernel and initramfs in " : !hk ? "no kernel: " :
	       "no initramfs: ", hk && hi ? dir : !hk ? k : i);
}

int nd_ssh(const struct node_doctor *d, struct remote *r)
{
	const char *argv[] = { "true", NULL };
	struct child_result res;
	int rc = remote_run(r, argv, NULL, TIMEOUT_MS, &res);

	child_result_release(&res);
	if (rc < 0)
		nd_add(d, "ssh", NODE_DR_FAIL, remote_advice(rc), "cannot run a command on '%s' "
		       "(batch mode, known host key): %s", remote_name(r), remote_strerror(rc));
	else
		nd_add(d, "ssh", NODE_DR_OK, NULL, "'%s' answers (batch mode, its host key known)",
		       remote_name(r));
	return rc;
}

int nd_tools(const struct node_doctor *d, struct remote *r, const struct nd_tool *t, size_t n)
{
	char fix[160], line[256];
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		struct child_result res;
		int rc = remote_run(r, t[i].argv, NULL, TIMEOUT_MS, &res);
		const char *o = res.out ? res.out : "";
		while (*o == '\n' || *o == ' ' || *o == '\r')
			o++;
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(o, "\r\n"), o);
		if (rc == 0 && WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0 && line[0]) {
			nd_add(d, t[i].check, NODE_DR_OK, NULL, "%s", line);
		} else {
			snprintf(fix, sizeof(fix), "on the node: apt install %s", t[i].package);
			nd_add(d, t[i].check, NODE_DR_FAIL, fix, "'%s' does not run on '%s'",
			       t[i].argv[0], remote_name(r));
			bad++;
		}
		child_result_release(&res);
	}
	return bad ? -ENOENT : 0;
}

int nd_boot_id(struct remote *r, char *out, size_t len)
{
	const char *argv[] = { "cat", "/proc/sys/kernel/random/boot_id", NULL };
	struct child_result res;
	int rc = remote_run(r, argv, NULL, TIMEOUT_MS, &res);

	if (rc == 0 && !(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0))
		rc = -EIO;
	if (rc == 0) {
		pc_last_line(res.out, out, len);
		if (strlen(out) != 36)
			rc = -EPROTO;
	}
	child_result_release(&res);
	return rc;
}

int nd_cut(const struct node_doctor *d, struct remote *r, int64_t timeout_ms, int64_t *t0_ms,
	   int64_t *up_ms)
{
	char before[64], after[64] = "";
	int rc;

	if (nd_boot_id(r, before, sizeof(before)) < 0) {
		nd_add(d, "cut", NODE_DR_FAIL, "check that /proc is readable over ssh",
		       "cannot read the node's boot_id: no cut made");
		return -EIO;
	}
	if ((rc = d->cut(d->arg)) < 0) {
		nd_add(d, "cut", NODE_DR_FAIL, "see the relay checks above",
		       "the relay could not cut: %s", strerror(-rc));
		return rc;
	}
	*t0_ms = clock_mono_ms();
	if ((rc = remote_wait_up(r, (int)timeout_ms)) < 0) {
		nd_add(d, "boot", NODE_DR_FAIL, "set \"Restore on AC power loss\" to Power On in "
		       "the node's BIOS (rig/hardware.md), or raise [campaign] boot_timeout",
		       "the node did not answer within %" PRId64 " s of the power's return: %s",
		       timeout_ms / 1000, remote_strerror(rc));
		return rc;
	}
	*up_ms = clock_mono_ms() - *t0_ms;
	/* Right after sshd answers, the first commands may still fail. */
	while ((rc = nd_boot_id(r, after, sizeof(after))) < 0 && clock_mono_ms() < *t0_ms + timeout_ms)
		usleep(200000);
	bool rebooted = rc == 0 && strcmp(before, after) != 0;
	nd_add(d, "boot-id", rebooted ? NODE_DR_OK : NODE_DR_FAIL, "the relay does not switch "
	       "this node's power: check its wiring and [relay] channel", "boot_id %s -> %s%s",
	       before, after[0] ? after : "?", rebooted ? "" : " (the node did not reboot)");
	return rebooted ? 0 : -EPROTO;
}
