/* Oracle benchmarks (make bench): the agent against fio on the same NBD export (short
 * alternating rounds, so load from elsewhere on the machine hits both alike), the
 * ledger's acknowledgement rate into SQLite, the agent's peak RSS. Starts its own
 * qemu-storage-daemon (raw image, cache.direct, NBD on a UNIX socket in a temp dir).
 * Prints `figure NAME VALUE UNIT TARGET OP` lines. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "ledger.h"
#include "ledger_proto.h"
#include "ledger_schema.h"
#include "log.h"

#define SPAN_MIB 256
#define ROUNDS 5
#define SECONDS "2"
#define TOKEN "bench-token"

static char dir[256], agent[PATH_MAX], uri[600];

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static int skip(const char *why)
{
	printf("skip: %s\n", why);
	return 77;
}

static double tv_s(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

/* CPU seconds (user + system) of this process: with the main thread waiting for a
 * child, that is the ledger thread's. */
static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

static double agent_cpu;	/* CPU seconds of the last agent run */

/* Run the agent with stdout into out_path; returns its exit status or -1, peak RSS in KiB. */
static int run_agent(const char *const argv[], const char *out_path, long *maxrss_kib)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) != pid)
		return -1;
	agent_cpu = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
	if (maxrss_kib && ru.ru_maxrss > *maxrss_kib)
		*maxrss_kib = ru.ru_maxrss;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The last JSON object line of a file whose "type" is type. */
static json_t *last_json(const char *path, const char *type)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	json_t *found = NULL;

	if (!f)
		return NULL;
	while (getline(&line, &cap, f) > 0) {
		json_t *o = json_loads(line, 0, NULL);
		const char *t = json_string_value(json_object_get(o, "type"));
		if (t && !strcmp(t, type)) {
			json_decref(found);
			found = o;
		} else {
			json_decref(o);
		}
	}
	free(line);
	fclose(f);
	return found;
}

/* fio's JSON object; other lines may precede it. */
static json_t *run_fio(const char *rw, const char *bs, const char *depth)
{
	char a_uri[700], a_rw[64], a_bs[32], a_qd[32], a_size[32];
	snprintf(a_uri, sizeof(a_uri), "--uri=%s", uri);
	snprintf(a_rw, sizeof(a_rw), "--rw=%s", rw);
	snprintf(a_bs, sizeof(a_bs), "--bs=%s", bs);
	snprintf(a_qd, sizeof(a_qd), "--iodepth=%s", depth);
	snprintf(a_size, sizeof(a_size), "--size=%dM", SPAN_MIB);
	const char *argv[] = { "fio", "--name=bench", "--ioengine=nbd", a_uri, a_rw, a_bs, a_qd,
			       "--runtime=" SECONDS, "--time_based", a_size, "--output-format=json", NULL };
	struct child_result r;
	json_t *j = NULL;

	if (child_run(argv, NULL, 60000, &r) == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) {
		const char *p = r.out;
		while (p && *p && *p != '{') {
			p = strchr(p, '\n');
			if (p)
				p++;
		}
		if (p && *p)
			j = json_loads(p, JSON_DISABLE_EOF_CHECK, NULL);
	}
	if (!j)
		fprintf(stderr, "bench: fio %s failed: %s\n", rw, r.err ? r.err : "");
	child_result_release(&r);
	return j;
}

static double fio_value(json_t *j, const char *dir_, const char *key)
{
	json_t *job = json_array_get(json_object_get(j, "jobs"), 0);
	return json_number_value(json_object_get(json_object_get(job, dir_), key));
}

/* Send `total` acknowledgements as fast as possible and time their storage. */
static double ledger_rate(void)
{
	char db_path[300];
	sqlite3 *db;
	snprintf(db_path, sizeof(db_path), "%s/ledger.db", dir);
	if (sqlite3_open(db_path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	sqlite3_close(db);
	struct ledger_config cfg = { .campaign = 1, .token = TOKEN, .cycle = 0 };
	struct ledger *l = ledger_open(&cfg, db_path);
	if (!l || ledger_start(l))
		return -1;

	const uint32_t per = 4096, frames = 100;
	size_t flen = 13 + (size_t)per * LEDGER_ACK_ENTRY;
	unsigned char *buf = malloc(flen * frames + 256);
	size_t n = 0;
	/* hello */
	const size_t tl = strlen(TOKEN);
	lp_put32(buf, (uint32_t)(1 + LEDGER_HELLO_FIXED + tl));
	buf[4] = LEDGER_HELLO;
	unsigned char *b = buf + 5;
	lp_put16(b, LEDGER_PROTO_VERSION);
	lp_put16(b + 2, (uint16_t)tl);
	memcpy(b + 4, TOKEN, tl);
	b += 4 + tl;
	memset(b, 0, 44);
	lp_put64(b, 1);
	lp_put32(b + 16, 4096);
	lp_put64(b + 20, 65536);
	n = 5 + LEDGER_HELLO_FIXED + tl;
	uint64_t idx = 0;
	for (uint32_t f = 0; f < frames; f++) {
		unsigned char *p = buf + n;
		lp_put32(p, (uint32_t)(flen - 4));
		p[4] = LEDGER_ACKS;
		lp_put32(p + 5, 0);
		lp_put32(p + 9, per);
		unsigned char *e = p + 13;
		for (uint32_t i = 0; i < per; i++, e += LEDGER_ACK_ENTRY, idx++) {
			lp_put64(e, idx % 65536);
			lp_put32(e + 8, (uint32_t)(idx / 65536 + 1));
			lp_put32(e + 12, 0);
			lp_put64(e + 16, idx + 1);
			lp_put64(e + 24, idx);
			lp_put64(e + 32, idx * 1000);
			lp_put64(e + 40, idx * 1000 + 500);
		}
		n += flen;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(ledger_port(l)) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	double t0 = clock_mono_s(), rate = -1;
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		size_t off = 0;
		while (off < n) {
			ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		struct ledger_stats st;
		do {
			sleep_ms(2);
			ledger_get_stats(l, &st);
		} while (st.acks < idx && clock_mono_s() - t0 < 60);
		/* acks are counted as they are stored; the batch commits right after */
		ledger_quiesce(l, 20, 10000);
		ledger_get_stats(l, &st);
		if (st.acks == idx)
			rate = idx / (clock_mono_s() - t0 - 0.020);
	}
	if (fd >= 0) {
		/* Read the host's ACCEPT: closing on an unread reply would reset the
		 * connection. */
		char junk[64];
		shutdown(fd, SHUT_WR);
		struct timeval tv = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while (recv(fd, junk, sizeof(junk), 0) > 0)
			;
		close(fd);
	}
	ledger_free(l);
	free(buf);
	return rate;
}


/* ledger_prune() of one cycle of one disk of 2,000 blocks: 20,000 acknowledgements (10
 * writes a block) and a flush every 100, the size of a fast cycle's ledger, next to
 * 10 earlier cycles already pruned. Milliseconds per call, the median of 5 cycles. */
static double prune_ms(void)
{
	char db_path[300];
	sqlite3 *db;
	sqlite3_stmt *ack = NULL, *fl = NULL;
	double ms[5] = { 0 };
	const int blocks = 2000, acks = 20000, every = 100, earlier = 10;

	snprintf(db_path, sizeof(db_path), "%s/prune.db", dir);
	if (sqlite3_open(db_path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO oracle_ack VALUES (1, ?1, 0, ?2, ?3, 0, ?4, ?4, 0, 0, 0, NULL)",
			       -1, &ack, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO oracle_flush VALUES (1, ?1, 0, ?2, ?3, 0, 0, 0, NULL)",
			       -1, &fl, NULL) != SQLITE_OK)
		goto fail;
	for (int cyc = 0; cyc < earlier + 5; cyc++) {
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		for (int i = 0; i < acks; i++) {
			sqlite3_bind_int(ack, 1, cyc);
			sqlite3_bind_int(ack, 2, i % blocks);
			sqlite3_bind_int(ack, 3, i / blocks + 1);
			sqlite3_bind_int(ack, 4, i);
			if (sqlite3_step(ack) != SQLITE_DONE)
				goto fail;
			sqlite3_reset(ack);
			if ((i + 1) % every == 0) {
				sqlite3_bind_int(fl, 1, cyc);
				sqlite3_bind_int(fl, 2, i / every);
				sqlite3_bind_int(fl, 3, i + 1);
				if (sqlite3_step(fl) != SQLITE_DONE)
					goto fail;
				sqlite3_reset(fl);
			}
		}
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		double t0 = clock_mono_s();
		if (ledger_prune(db, 1, (uint32_t)cyc, 0) != acks)
			goto fail;
		if (cyc >= earlier)
			ms[cyc - earlier] = (clock_mono_s() - t0) * 1e3;
	}
	sqlite3_finalize(ack);
	sqlite3_finalize(fl);
	sqlite3_close(db);
	for (int i = 0; i < 5; i++)
		for (int j = i + 1; j < 5; j++)
			if (ms[j] < ms[i]) {
				double t = ms[i];
				ms[i] = ms[j];
				ms[j] = t;
			}
	return ms[2];
fail:
	fprintf(stderr, "bench: prune measurement failed: %s\n", sqlite3_errmsg(db));
	sqlite3_finalize(ack);
	sqlite3_finalize(fl);
	sqlite3_close(db);
	return -1;
}

/* Sums over the rounds. */
struct sums {
	double agent_iops, fio_iops, check_bw, fio_bw, bare_iops;
	double ledger_cpu, agent_cpu_l, agent_cpu_b, writes_l, writes_b;
	long rss;			/* the agent's peak, KiB */
};

/* One round: fio's random writes, the agent's with and without the ledger, and
 * (unless write_only) fio's sequential read against the agent's check. 0 or -1. */
static int bench_round(struct ledger *l, int round, const char *span, const char *arg_port,
		       const char *out, bool write_only, struct sums *s)
{
	json_t *j = run_fio("randwrite", "4k", "16");
	if (!j)
		return -1;
	s->fio_iops += fio_value(j, "write", "iops");
	json_decref(j);

	char cyc[16];
	snprintf(cyc, sizeof(cyc), "%d", round + 1);
	ledger_set_cycle(l, (uint32_t)round + 1);
	const char *w_argv[] = { agent, "write", uri, "--campaign", "1", "--cycle", cyc, "--span-mib", span,
				 "--block-size", "4096", "--queue-depth", "16", "--pattern", "random",
				 "--duration", SECONDS, "--baseline-exists", "--ledger", arg_port,
				 "--token", TOKEN, "--quiet", NULL };
	double c0 = self_cpu_s();
	if (run_agent(w_argv, out, &s->rss) != 0 || !(j = last_json(out, "write"))) {
		fprintf(stderr, "bench: agent write run failed\n");
		return -1;
	}
	ledger_quiesce(l, 20, 5000);
	s->ledger_cpu += self_cpu_s() - c0;
	s->agent_cpu_l += agent_cpu;
	s->writes_l += json_number_value(json_object_get(j, "writes"));
	s->agent_iops += json_number_value(json_object_get(j, "writes")) /
			 json_number_value(json_object_get(j, "seconds"));
	json_decref(j);

	/* The same run without the ledger: how much the host-side SQLite work, on the
	 * same two cores here, costs the agent. Reported, not a figure. */
	const char *b_argv[] = { agent, "write", uri, "--campaign", "1", "--cycle", cyc, "--span-mib", span,
				 "--block-size", "4096", "--queue-depth", "16", "--pattern", "random",
				 "--duration", SECONDS, "--baseline-exists", "--quiet", NULL };
	if (run_agent(b_argv, out, &s->rss) != 0 || !(j = last_json(out, "write"))) {
		fprintf(stderr, "bench: agent write run failed\n");
		return -1;
	}
	s->agent_cpu_b += agent_cpu;
	s->writes_b += json_number_value(json_object_get(j, "writes"));
	s->bare_iops += json_number_value(json_object_get(j, "writes")) /
			json_number_value(json_object_get(j, "seconds"));
	json_decref(j);
	if (write_only)
		return 0;

	j = run_fio("read", "1M", "4");
	if (!j)
		return -1;
	s->fio_bw += fio_value(j, "read", "bw") * 1024.0;	/* KiB/s */
	json_decref(j);

	const char *c_argv[] = { agent, "check", uri, "--campaign", "1", "--cycle", cyc, "--span-mib", span,
				 "--output", out, "--quiet", NULL };
	char dummy[400];
	snprintf(dummy, sizeof(dummy), "%s/check.stdout", dir);
	if (run_agent(c_argv, dummy, NULL) != 0 || !(j = last_json(out, "end"))) {
		fprintf(stderr, "bench: agent check run failed\n");
		return -1;
	}
	s->check_bw += json_number_value(json_object_get(j, "bytes")) /
		       json_number_value(json_object_get(j, "seconds"));
	json_decref(j);
	return 0;
}

static void print_figures(const struct sums *s, bool write_only, double acks_per_s)
{
	printf("agent random write %.0f IOPS streaming to the ledger (%.0f without), fio randwrite %.0f IOPS"
	       " (4k, QD16, %d rounds of %s s)\n", s->agent_iops / ROUNDS, s->bare_iops / ROUNDS,
	       s->fio_iops / ROUNDS, ROUNDS, SECONDS);
	printf("CPU per write: ledger thread %.2f us, agent %.2f us streaming to the ledger, %.2f us without\n",
	       s->ledger_cpu / s->writes_l * 1e6, s->agent_cpu_l / s->writes_l * 1e6,
	       s->agent_cpu_b / s->writes_b * 1e6);
	printf("figure agent_vs_fio_write_ratio %.3f ratio 0.9 >=\n", s->agent_iops / s->fio_iops);
	if (write_only)
		return;
	printf("agent check %.1f MiB/s, fio sequential read %.1f MiB/s (1 MiB reads, 4 in flight)\n",
	       s->check_bw / ROUNDS / 1048576, s->fio_bw / ROUNDS / 1048576);
	printf("figure check_vs_fio_read_ratio %.3f ratio 0.8 >=\n", s->check_bw / s->fio_bw);
	printf("figure ledger_acks_per_s %.0f acks/s 50000 >=\n", acks_per_s);
	printf("figure agent_rss_mib %.1f MiB 32 <=\n", s->rss / 1024.0);
}

/* The raw image served over NBD by qemu-storage-daemon, and fio: 0, or 77 (skip)
 * when a tool is missing, or 1. */
static int start_disk(const char *img, const char *sock, struct child *qsd)
{
	static char blockdev[600], nbdsrv[600];
	static const char *qsd_argv[] = { "qemu-storage-daemon", "--blockdev", blockdev,
		"--blockdev", "driver=raw,node-name=disk0,file=file0", "--nbd-server", nbdsrv,
		"--export", "type=nbd,id=exp0,node-name=disk0,name=disk,writable=on", NULL };
	char size[32];
	snprintf(size, sizeof(size), "%dM", SPAN_MIB);
	const char *mk[] = { "qemu-img", "create", "-q", "-f", "raw", img, size, NULL };
	struct child_result r;
	int crc = child_run(mk, NULL, 30000, &r);
	child_result_release(&r);
	if (crc == -ENOENT)
		return skip("qemu-img not found");
	snprintf(blockdev, sizeof(blockdev), "driver=file,node-name=file0,filename=%s,cache.direct=on,aio=io_uring", img);
	snprintf(nbdsrv, sizeof(nbdsrv), "addr.type=unix,addr.path=%s", sock);
	*qsd = (struct child){ .argv = qsd_argv, .in = CHILD_NULL, .out = CHILD_NULL, .err = CHILD_INHERIT };
	if (child_start(qsd))
		return skip("qemu-storage-daemon not found");
	for (int i = 0; i < 500 && access(sock, F_OK); i++)
		sleep_ms(10);
	const char *fio_v[] = { "fio", "--version", NULL };
	if (child_run(fio_v, NULL, 10000, &r) == -ENOENT) {
		child_result_release(&r);
		int st;
		child_stop(qsd, 5000, &st);
		return skip("fio not found");
	}
	child_result_release(&r);
	return 0;
}

int main(int argc, char **argv)
{
	char self[PATH_MAX], img[400], sock[400], out[400], db_path[400], arg_port[64];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int rc = 1;

	log_set_level(LOG_WARN);
	if (sl <= 0)
		return 1;
	self[sl] = 0;
	snprintf(agent, sizeof(agent), "%s/../../../bin/powercut-agent-nbd", dirname(self));
	if (access(agent, X_OK))
		return skip("no powercut-agent-nbd next to the benchmark");
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/pc-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	snprintf(img, sizeof(img), "%s/disk.raw", dir);
	snprintf(sock, sizeof(sock), "%s/nbd.sock", dir);
	snprintf(out, sizeof(out), "%s/agent.out", dir);
	snprintf(db_path, sizeof(db_path), "%s/campaign.db", dir);
	snprintf(uri, sizeof(uri), "nbd+unix:///disk?socket=%s", sock);

	/* Ledger rate and prune first: they need nothing external. */
	double acks_per_s = ledger_rate();
	double prune = prune_ms();
	/* Printed at once: the figure does not depend on qemu or fio being there. */
	if (prune >= 0)
		printf("figure ledger_prune_ms_per_2k_blocks %.1f ms 100 <=\n", prune);
	fflush(stdout);
	if (argc > 1 && !strcmp(argv[1], "--prune")) {
		rc = prune >= 0 ? 0 : 1;
		goto out_dir;
	}

	struct child qsd;
	if ((rc = start_disk(img, sock, &qsd)) != 0)
		goto out_dir;
	rc = 1;

	/* A ledger for the agent runs, so the agent streams as it would in a campaign. */
	sqlite3 *db;
	if (sqlite3_open(db_path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL) != SQLITE_OK)
		goto out_qsd;
	sqlite3_close(db);
	struct ledger_config cfg = { .campaign = 1, .token = TOKEN, .cycle = 0 };
	struct ledger *l = ledger_open(&cfg, db_path);
	if (!l || ledger_start(l))
		goto out_qsd;
	snprintf(arg_port, sizeof(arg_port), "127.0.0.1:%u", ledger_port(l));

	struct sums sums = { 0 };
	char span[16];
	snprintf(span, sizeof(span), "%d", SPAN_MIB);
	/* Baseline (allocates the whole image) and a warm-up second. */
	const char *base_argv[] = { agent, "write", uri, "--campaign", "1", "--cycle", "0", "--span-mib", span,
				    "--duration", "1", "--ledger", arg_port, "--token", TOKEN, "--quiet", NULL };
	if (run_agent(base_argv, out, &sums.rss) != 0) {
		fprintf(stderr, "bench: agent baseline run failed\n");
		goto out_ledger;
	}
	/* --write: only the write comparison, for A/B runs of the ledger's cost. */
	bool write_only = argc > 1 && !strcmp(argv[1], "--write");
	for (int round = 0; round < ROUNDS; round++)
		if (bench_round(l, round, span, arg_port, out, write_only, &sums) < 0)
			goto out_ledger;
	print_figures(&sums, write_only, acks_per_s);
	rc = 0;
out_ledger:
	ledger_free(l);
out_qsd:
	{
		int st;
		child_stop(&qsd, 5000, &st);
	}
out_dir:
	{
		const char *files[] = { "disk.raw", "nbd.sock", "agent.out", "check.stdout", "campaign.db",
					"campaign.db-wal", "campaign.db-shm", "ledger.db", "ledger.db-wal",
					"ledger.db-shm", "prune.db", "prune.db-wal", "prune.db-shm" };
		char p[500];
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
			unlink(p);
		}
		rmdir(dir);
	}
	return rc;
}
