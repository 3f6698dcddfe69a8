/* The write log (wlog.h) and the crash-state server (pcreplay.c): a log written and
 * read back, a log cut inside its last entry, damaged logs refused with the entry and
 * byte named; then nbdkit with the pcreplay filter serving states of a small log over a
 * base file, read with libnbd and compared with what the states must hold, and state
 * files it must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "util.h"
#include "wlog.h"

#define S WLOG_SECTOR

static char dir[PATH_MAX];

static void path_of(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%.4000s/%s", dir, name);
}

static uint8_t *filled(size_t len, uint8_t byte)
{
	uint8_t *b = malloc(len);
	assert_non_null(b);
	memset(b, byte, len);
	return b;
}

/* The log of the tests: 0 WRITE sectors 0..7 = 0xA0, 1 FLUSH, 2 WRITE sectors 2..5 =
 * 0xB0, 3 ZERO sectors 20..21, 4 FUA WRITE sector 30 = 0xC0 (not durable: a lying
 * disk's), 5 FLUSH (durable). */
static void write_log(const char *path)
{
	struct wlog_writer w;
	uint8_t *a = filled(8 * S, 0xA0), *b = filled(4 * S, 0xB0), *c = filled(S, 0xC0);
	assert_int_equal(wlog_create(&w, path), 0);
	assert_int_equal(wlog_append(&w, WLOG_WRITE, 0, 0, 8 * S, a), 0);
	assert_int_equal(wlog_append(&w, WLOG_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(wlog_append(&w, WLOG_WRITE, 0, 2 * S, 4 * S, b), 0);
	assert_int_equal(wlog_append(&w, WLOG_ZERO, 0, 20 * S, 2 * S, NULL), 0);
	assert_int_equal(wlog_append(&w, WLOG_WRITE, WLOG_F_FUA | WLOG_F_NOTDURABLE, 30 * S, S, c), 0);
	assert_int_equal(wlog_append(&w, WLOG_FLUSH, 0, 0, 0, NULL), 0);
	wlog_close(&w);
	free(a);
	free(b);
	free(c);
}

static void test_roundtrip(void **state)
{
	char p[PATH_MAX], why[256];
	path_of(p, "rt.wlog");
	write_log(p);
	struct wlog *l = wlog_map(p, why, sizeof(why));
	assert_non_null(l);
	assert_int_equal(l->n, 6);
	assert_false(l->truncated);
	static const uint32_t types[] = { WLOG_WRITE, WLOG_FLUSH, WLOG_WRITE, WLOG_ZERO,
					  WLOG_WRITE, WLOG_FLUSH };
	for (size_t i = 0; i < l->n; i++) {
		assert_int_equal(l->e[i].h.type, types[i]);
		assert_int_equal(l->e[i].h.seq, i);
		if (i)
			assert_true(l->e[i].h.t_ns >= l->e[i - 1].h.t_ns);
	}
	assert_int_equal(l->e[2].h.off, 2 * S);
	assert_int_equal(l->e[2].h.count, 4 * S);
	assert_int_equal(l->e[2].data[0], 0xB0);
	assert_int_equal(l->e[2].data[4 * S - 1], 0xB0);
	assert_null(l->e[3].data);
	/* Barriers: a durable flush; a FUA write only when durable. */
	assert_false(wlog_barrier(&l->e[0]));
	assert_true(wlog_barrier(&l->e[1]));
	assert_false(wlog_barrier(&l->e[4]));
	assert_true(wlog_barrier(&l->e[5]));
	wlog_free(l);
}

static void test_truncated(void **state)
{
	char p[PATH_MAX], why[256];
	path_of(p, "tr.wlog");
	write_log(p);
	struct stat sb;
	assert_int_equal(stat(p, &sb), 0);
	/* Inside the last entry's head: that entry was never acknowledged. */
	assert_int_equal(truncate(p, sb.st_size - 10), 0);
	struct wlog *l = wlog_map(p, why, sizeof(why));
	assert_non_null(l);
	assert_true(l->truncated);
	assert_int_equal(l->n, 5);
	wlog_free(l);
	/* Inside the data of entry 4 (a one-sector write, then the 40-byte flush). */
	assert_int_equal(truncate(p, sb.st_size - 40 - 100), 0);
	l = wlog_map(p, why, sizeof(why));
	assert_non_null(l);
	assert_true(l->truncated);
	assert_int_equal(l->n, 4);
	wlog_free(l);
}

static void patch(const char *p, off_t at, const void *bytes, size_t n)
{
	int fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, n, at), (ssize_t)n);
	close(fd);
}

static void test_damaged(void **state)
{
	char p[PATH_MAX], why[256];
	path_of(p, "bad.wlog");

	write_log(p);
	patch(p, 0, "NOTALOG!", 8);
	assert_null(wlog_map(p, why, sizeof(why)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(why, "is not a version 1 write log (byte 0)"));

	/* Entry 1 (the flush) begins after the header and entry 0's head and data. */
	size_t at1 = 16 + sizeof(struct wlog_head) + 8 * S;
	char want[64];
	snprintf(want, sizeof(want), "bad entry 1 at byte %zu", at1);
	write_log(p);
	patch(p, (off_t)at1, "XXXX", 4);
	assert_null(wlog_map(p, why, sizeof(why)));
	assert_non_null(strstr(why, want));

	/* A count that is not whole sectors. */
	write_log(p);
	uint32_t odd = 100;
	patch(p, (off_t)(at1 + 12), &odd, 4);
	assert_null(wlog_map(p, why, sizeof(why)));
	assert_non_null(strstr(why, want));

	path_of(p, "absent.wlog");
	assert_null(wlog_map(p, why, sizeof(why)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(why, "cannot open write log"));
}

/* ---- pcreplay through nbdkit ---- */

struct server {
	struct child c;
	char sock[PATH_MAX], states[PATH_MAX], log[PATH_MAX];
};

static bool start_server(struct server *s, const char *filter, const char *base, const char *wl)
{
	static char fopt[PATH_MAX + 16], lopt[PATH_MAX + 8], sopt[PATH_MAX + 8];
	static const char *argv[16];
	path_of(s->sock, "n.sock");
	path_of(s->states, "states");
	path_of(s->log, "nbdkit.log");
	mkdir(s->states, 0755);
	snprintf(fopt, sizeof(fopt), "--filter=%.4000s", filter);
	snprintf(lopt, sizeof(lopt), "log=%.4000s", wl);
	snprintf(sopt, sizeof(sopt), "states=%.4000s", s->states);
	int k = 0;
	argv[k++] = "nbdkit"; argv[k++] = "--foreground"; argv[k++] = "--exit-with-parent";
	argv[k++] = "--readonly"; argv[k++] = "--unix"; argv[k++] = s->sock; argv[k++] = fopt;
	argv[k++] = "file"; argv[k++] = base; argv[k++] = lopt; argv[k++] = sopt; argv[k] = NULL;
	int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	s->c = (struct child){ .argv = argv, .in = CHILD_NULL, .out = CHILD_NULL, .err = CHILD_FD,
			       .fd_err = fd };
	int rc = child_start(&s->c);
	close(fd);
	if (rc < 0)
		return false;
	for (int i = 0; i < 2000 && access(s->sock, F_OK) < 0; i++) {
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	/* The socket exists from bind; wait until nbdkit accepts (any export name will
	 * do: a refused state still completes the connection first). */
	for (int i = 0; i < 2000; i++) {
		int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		snprintf(a.sun_path, sizeof(a.sun_path), "%.100s", s->sock);
		int ok = sfd >= 0 && connect(sfd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (sfd >= 0)
			close(sfd);
		if (ok)
			return true;
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

static void put_state(struct server *s, const char *name, const char *text)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/%s", s->states, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Read the state's first 32 sectors; NULL when the server refuses the state. */
static uint8_t *read_state(struct server *s, const char *name)
{
	char uri[PATH_MAX + 64];
	snprintf(uri, sizeof(uri), "nbd+unix:///%s?socket=%s", name, s->sock);
	struct nbd_handle *h = nbd_create();
	assert_non_null(h);
	if (nbd_connect_uri(h, uri) == -1) {
		nbd_close(h);
		return NULL;
	}
	uint8_t *buf = malloc(32 * S);
	assert_non_null(buf);
	if (nbd_pread(h, buf, 32 * S, 0, 0) == -1)
		fail_msg("pread of state '%s': %s", name, nbd_get_error());
	/* An unaligned read across a sector the state holds. */
	uint8_t mid[100];
	if (nbd_pread(h, mid, sizeof(mid), 2 * S - 50, 0) == -1)
		fail_msg("unaligned pread: %s", nbd_get_error());
	assert_memory_equal(mid, buf + 2 * S - 50, sizeof(mid));
	nbd_shutdown(h, 0);
	nbd_close(h);
	return buf;
}

/* Each sector's expected first byte, from a string of 32 characters: '.' the base
 * (0x11), 'A' 0xA0, 'B' 0xB0, 'C' 0xC0, '0' zero. */
static void expect(const uint8_t *buf, const char *map)
{
	for (int i = 0; i < 32; i++) {
		uint8_t want = map[i] == '.' ? 0x11 : map[i] == 'A' ? 0xA0 : map[i] == 'B' ? 0xB0 :
			       map[i] == 'C' ? 0xC0 : 0;
		for (unsigned j = 0; j < S; j++)
			if (buf[i * S + j] != want)
				fail_msg("sector %d byte %u: 0x%02x, not 0x%02x (%s)", i, j,
					 buf[i * S + j], want, map);
	}
}

static void test_pcreplay(void **state)
{
	char exe[PATH_MAX], filter[PATH_MAX + 64], base[PATH_MAX], wl[PATH_MAX];
	struct server s;
	int st;

	if (pc_exe_dir(exe, sizeof(exe)) < 0)
		skip();
	snprintf(filter, sizeof(filter), "%s/../../../../lib/nbdkit-pcreplay-filter.so", exe);
	if (access(filter, R_OK) < 0) {
		fprintf(stderr, "no '%s': pcreplay not tested\n", filter);
		skip();
	}
	path_of(base, "base.img");
	uint8_t *b = filled(64 * S, 0x11);
	int fd = open(base, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, b, 64 * S), 64 * S);
	close(fd);
	free(b);
	path_of(wl, "replay.wlog");
	write_log(wl);
	if (!start_server(&s, filter, base, wl)) {
		fprintf(stderr, "nbdkit did not start: pcreplay not tested\n");
		skip();
	}
	uint8_t *r;
	put_state(&s, "s1", "upto 0\n");
	expect(r = read_state(&s, "s1"), "................................");
	free(r);
	put_state(&s, "s2", "upto 2\n");
	expect(r = read_state(&s, "s2"), "AAAAAAAA........................");
	free(r);
	put_state(&s, "s3", "upto 6\n");
	expect(r = read_state(&s, "s3"), "AABBBBAA............00........C.");
	free(r);
	/* The log's order, whatever the order of the lines: B over A. */
	put_state(&s, "s4", "# a subset\nentry 2\nentry 0\n");
	expect(r = read_state(&s, "s4"), "AABBBBAA........................");
	free(r);
	/* A torn write: sectors 1 and 2 of entry 2 (sectors 3, 4 of the disk). */
	put_state(&s, "s5", "upto 2\nentry 2 1 2\n");
	expect(r = read_state(&s, "s5"), "AAABBAAA........................");
	free(r);
	/* The cached map serves a second connection to the same state. */
	expect(r = read_state(&s, "s5"), "AAABBAAA........................");
	free(r);
	/* Refused: a line it cannot parse, an entry past the log, a part past the write,
	 * a name with a slash, a state that does not exist. */
	put_state(&s, "b1", "frob 3\n");
	assert_null(read_state(&s, "b1"));
	put_state(&s, "b2", "entry 99\n");
	assert_null(read_state(&s, "b2"));
	put_state(&s, "b3", "entry 2 3 5\n");
	assert_null(read_state(&s, "b3"));
	put_state(&s, "b4", "upto 7\n");
	assert_null(read_state(&s, "b4"));
	assert_null(read_state(&s, "..%2Fs1"));
	assert_null(read_state(&s, "none"));
	child_kill(&s.c, SIGTERM);
	child_finish(&s.c, 5000, &st);
	/* nbdkit said why, naming the file and line. */
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(s.log, "r");
	assert_non_null(f);
	FILE *m = open_memstream(&text, &len);
	int ch;
	while ((ch = fgetc(f)) != EOF)
		fputc(ch, m);
	fclose(f);
	fclose(m);
	assert_non_null(strstr(text, "b1', line 1: cannot parse 'frob 3'"));
	assert_non_null(strstr(text, "entry 2 has 4 sectors, not 5 from 3"));
	assert_non_null(strstr(text, "cannot open state"));
	free(text);
}

/* The recorder in pcvcache: what nbdkit acknowledged, sectors whole, flushes marked
 * durable or (lying) not. */
static void record_with(const char *filter, bool lying)
{
	char img[PATH_MAX], wl[PATH_MAX], sock[PATH_MAX], uri[PATH_MAX + 64], why[256];
	static char fopt[PATH_MAX + 16], ropt[PATH_MAX + 16];
	const char *argv[16];
	int k = 0, st;

	path_of(img, "rec.img");
	path_of(wl, "rec.wlog");
	path_of(sock, "r.sock");
	unlink(sock);
	uint8_t *b = filled(16 * S, 0x11);
	int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, b, 16 * S), 16 * S);
	close(fd);
	free(b);
	snprintf(fopt, sizeof(fopt), "--filter=%.4000s", filter);
	snprintf(ropt, sizeof(ropt), "record=%.4000s", wl);
	argv[k++] = "nbdkit"; argv[k++] = "--foreground"; argv[k++] = "--exit-with-parent";
	argv[k++] = "--unix"; argv[k++] = sock; argv[k++] = fopt; argv[k++] = "file";
	argv[k++] = img; argv[k++] = ropt; argv[k++] = lying ? "lying=true" : "lying=false";
	argv[k] = NULL;
	struct child c = { .argv = argv, .in = CHILD_NULL, .out = CHILD_NULL, .err = CHILD_NULL };
	assert_int_equal(child_start(&c), 0);
	for (int i = 0; i < 2000 && access(sock, F_OK) < 0; i++) {
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s", sock);
	/* The socket exists from bind; nbdkit may not listen yet. */
	struct nbd_handle *h = NULL;
	for (int i = 0; i < 2000 && !h; i++) {
		h = nbd_create();
		assert_non_null(h);
		if (nbd_connect_uri(h, uri) == -1) {
			nbd_close(h);
			h = NULL;
			struct timespec ts = { 0, 2000000 };
			nanosleep(&ts, NULL);
		}
	}
	if (!h)
		fail_msg("cannot connect to the recorder: %s", nbd_get_error());
	uint8_t ten[10], one[S];
	memset(ten, 0x22, sizeof(ten));
	memset(one, 0x33, sizeof(one));
	assert_int_equal(nbd_pwrite(h, ten, sizeof(ten), 100, 0), 0);	/* inside sector 0 */
	assert_int_equal(nbd_pwrite(h, one, sizeof(one), 1000, 0), 0);	/* sectors 1 and 2 */
	assert_int_equal(nbd_flush(h, 0), 0);
	assert_int_equal(nbd_pwrite(h, one, sizeof(one), 4 * S, LIBNBD_CMD_FLAG_FUA), 0);
	nbd_close(h);
	/* The cut: the log is what was acknowledged. */
	child_kill(&c, SIGKILL);
	child_finish(&c, 5000, &st);
	struct wlog *l = wlog_map(wl, why, sizeof(why));
	assert_non_null(l);
	assert_int_equal(l->n, 4);
	assert_int_equal(l->e[0].h.type, WLOG_WRITE);
	assert_int_equal(l->e[0].h.off, 0);
	assert_int_equal(l->e[0].h.count, S);
	assert_int_equal(l->e[0].data[99], 0x11);
	assert_int_equal(l->e[0].data[100], 0x22);
	assert_int_equal(l->e[0].data[109], 0x22);
	assert_int_equal(l->e[0].data[110], 0x11);
	assert_int_equal(l->e[1].h.off, S);
	assert_int_equal(l->e[1].h.count, 2 * S);
	assert_int_equal(l->e[1].data[1000 - S - 1], 0x11);
	assert_int_equal(l->e[1].data[1000 - S], 0x33);
	assert_int_equal(l->e[2].h.type, WLOG_FLUSH);
	assert_int_equal(l->e[3].h.off, 4 * S);
	assert_true(l->e[3].h.flags & WLOG_F_FUA);
	assert_int_equal(wlog_barrier(&l->e[2]), !lying);
	assert_int_equal(wlog_barrier(&l->e[3]), !lying);
	wlog_free(l);
}

static void test_recorder(void **state)
{
	char exe[PATH_MAX], filter[PATH_MAX + 64];
	if (pc_exe_dir(exe, sizeof(exe)) < 0)
		skip();
	snprintf(filter, sizeof(filter), "%s/../../../../lib/nbdkit-pcvcache-filter.so", exe);
	if (access(filter, R_OK) < 0) {
		fprintf(stderr, "no '%s': the recorder not tested\n", filter);
		skip();
	}
	record_with(filter, false);
	record_with(filter, true);
}

static int rm_all(void)
{
	const char *argv[] = { "rm", "-rf", dir, NULL };
	struct child_result r;
	if (child_run(argv, NULL, 10000, &r) == 0)
		child_result_release(&r);
	return 0;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/test_wlog.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_pcreplay),
		cmocka_unit_test(test_recorder),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rm_all();
	return rc;
}
