/* The ledger server. See ledger.h and docs/oracle.md. */
#include "ledger.h"
#include "clock.h"
#include "ledger_proto.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS LEDGER_MAX_CONNS
#define READ_CHUNK (256 * 1024)
/* Before its hello a connection may send one hello frame, no more: its buffer stays
 * small, so a thousand half-open connections cost little memory. */
#define PENDING_MAX (5 + LEDGER_HELLO_FIXED + LEDGER_MAX_TOKEN)
#define HELLO_MS_DEFAULT 2000
#define IDLE_MS_DEFAULT 60000
/* Closing hostile connections is logged as a count at most this often. */
#define DROP_LOG_NS (5 * 1000000000LL)
/* Multi-row INSERTs of acknowledgements, of 32, 16, ..., 1 rows: one statement step
 * per 32 rows costs about half as much per row as one step each, and a live agent's
 * frames (about 40 entries a millisecond) would otherwise store their tail row by row. */
#define ACK_SIZES 6
#define ACK_MULTI (1 << (ACK_SIZES - 1))
/* Per row: block, gen, flags, seq, ack_index, submit_ns, complete_ns; campaign, cycle,
 * disk, the receive time and the session are one parameter each, shared by the rows. */
#define ACK_VAR_COLS 7
#define ACK_SHARED 5
/* Frames received within this time share one transaction: one WAL sync per commit
 * instead of one per millisecond batch of every agent. */
#define COMMIT_NS (10 * 1000000LL)

struct conn {
	int fd;
	char peer[64];
	struct in_addr addr;	/* the peer's address, for the per-peer cap */
	int64_t accepted_ns;	/* for the hello deadline and the eviction order */
	int64_t rx_ns;		/* last byte received, for the idle timeout */
	unsigned char *buf;	/* received, not yet parsed bytes */
	size_t len, cap;
	uint64_t offset;	/* stream offset of buf[0] */
	bool hello;
	uint32_t cycle, disk;
	int64_t session;	/* oracle_session.id */
	uint64_t next_ack;	/* next expected ack_index, for gap detection */
	uint16_t version;	/* the hello's protocol version; 0 before it */
	bool end_pending;	/* END stored, RECORDED to send after the commit */
	uint64_t acks;		/* acknowledgements stored from this connection */
};

struct ledger {
	int lfd;
	uint16_t port;
	uint64_t campaign;
	char token[LEDGER_MAX_TOKEN + 1];
	uint32_t cycle;		/* atomic */
	/* The phase: one number per ledger_set_cycle / ledger_set_pass that changed what
	 * is accepted, stored with every session (under mu), so that the sessions of one
	 * agent run (its reconnects) are told from another run of the same cycle. */
	int64_t phase;
	bool pass;
	sqlite3 *db;
	sqlite3_stmt *st_flush, *st_base, *st_gap, *st_sess, *st_end, *st_file;
	sqlite3_stmt *st_acks[ACK_SIZES];	/* st_acks[k]: ACK_MULTI >> k rows */
	struct conn conns[MAX_CONNS];
	int nconns;
	int64_t hello_ns, idle_ns;	/* the policy, as durations */
	uint64_t drops;			/* closed since the last log line about them */
	int64_t drop_log_ns;
	struct ledger_stats stats;	/* updated under mu */
	int64_t last_frame_ns;		/* atomic */
	bool in_txn;			/* atomic: a transaction holds uncommitted frames */
	int64_t txn_start_ns;
	uint64_t txn_frames;
	pthread_mutex_t mu;
	pthread_t thread;
	bool running;
	int stop_pipe[2];
};

static int prepare(struct ledger *l, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v2(l->db, sql, -1, st, NULL) != SQLITE_OK) {
		pc_err(LOG_LEDGER, "cannot prepare ledger statement: %s", sqlite3_errmsg(l->db));
		return -EIO;
	}
	return 0;
}

static void finalize_all(struct ledger *l)
{
	sqlite3_stmt **sts[] = { &l->st_flush, &l->st_base, &l->st_gap, &l->st_sess, &l->st_end,
				  &l->st_file };
	for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++) {
		sqlite3_finalize(*sts[i]);
		*sts[i] = NULL;
	}
	for (int k = 0; k < ACK_SIZES; k++) {
		sqlite3_finalize(l->st_acks[k]);
		l->st_acks[k] = NULL;
	}
}

/* The INSERT of rows acknowledgements: ?1 campaign, ?2 cycle, ?3 disk, ?4 receive time,
 * ?5 session, then ACK_VAR_COLS parameters a row. */
static const char *ack_multi_sql(char *sql, size_t cap, int rows)
{
	size_t n = (size_t)snprintf(sql, cap, "INSERT INTO oracle_ack (campaign, cycle, disk, block,"
				    " gen, flags, seq, ack_index, submit_ns, complete_ns, recv_ns, session) VALUES ");
	for (int i = 0; i < rows; i++) {
		int p = ACK_SHARED + 1 + i * ACK_VAR_COLS;
		n += (size_t)snprintf(sql + n, cap - n, "%s(?1,?2,?3,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?4,?5)",
				      i ? "," : "", p, p + 1, p + 2, p + 3, p + 4, p + 5, p + 6);
	}
	return sql;
}

/* The database and the ledger's statements. 0, or -EIO with a logged message. */
static int open_db(struct ledger *l, const char *db_path)
{
	if (sqlite3_open_v2(db_path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		pc_err(LOG_LEDGER, "cannot open ledger database '%s': %s", db_path,
		       l->db ? sqlite3_errmsg(l->db) : "out of memory");
		return -EIO;
	}
	sqlite3_busy_timeout(l->db, 5000);
	for (int k = 0; k < ACK_SIZES; k++) {
		char sql[ACK_MULTI * 64 + 200];
		if (prepare(l, &l->st_acks[k], ack_multi_sql(sql, sizeof(sql), ACK_MULTI >> k)))
			return -EIO;
	}
	if (prepare(l, &l->st_flush, "INSERT INTO oracle_flush (campaign, cycle, disk, flush_id, covers,"
		    " submit_ns, complete_ns, recv_ns, session) VALUES (?,?,?,?,?,?,?,?,?)") ||
	    prepare(l, &l->st_base, "INSERT INTO oracle_baseline (campaign, cycle, disk, first_block,"
		    " nblocks, submit_ns, complete_ns, recv_ns, session) VALUES (?,?,?,?,?,?,?,?,?)") ||
	    prepare(l, &l->st_gap, "INSERT INTO oracle_gap (campaign, cycle, disk, first_ack_index, count,"
		    " source, recv_ns, session) VALUES (?,?,?,?,?,?,?,?)") ||
	    prepare(l, &l->st_sess, "INSERT INTO oracle_session (campaign, cycle, disk, peer, block_size,"
		    " span_blocks, seed, agent_hello_ns, host_hello_ns, phase, pass)"
		    " VALUES (?,?,?,?,?,?,?,?,?,?,?)") ||
	    prepare(l, &l->st_end, "UPDATE oracle_session SET host_end_ns = ?, end_reason = ?, end_acks = ?,"
		    " end_flushes = ?, end_dropped = ? WHERE id = ?") ||
	    prepare(l, &l->st_file, "INSERT INTO oracle_fileack (campaign, cycle, disk, seq, op, sync,"
		    " dirsync, file, offset, nbytes, length, digest, name, submit_ns, complete_ns,"
		    " recv_ns, session) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"))
		return -EIO;
	return 0;
}

/* Phases go on from the database's newest. A ledger started again while the newest
 * phase's cycle runs (the host restarted, its agents reconnect) goes on in that
 * phase; any other cycle begins a new one. */
static void resume_phase(struct ledger *l, const struct ledger_config *cfg)
{
	sqlite3_stmt *q;
	bool same = false;

	if (sqlite3_prepare_v2(l->db, "SELECT phase, cycle = ?1 AND pass = 0 FROM oracle_session"
			       " WHERE campaign = ?2 AND phase IS NOT NULL ORDER BY phase DESC LIMIT 1",
			       -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, cfg->cycle);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)cfg->campaign);
		if (sqlite3_step(q) == SQLITE_ROW) {
			l->phase = sqlite3_column_int64(q, 0);
			same = sqlite3_column_int(q, 1);
		}
		sqlite3_finalize(q);
	}
	if (!same)
		l->phase++;
}

struct ledger *ledger_open(const struct ledger_config *cfg, const char *db_path)
{
	struct ledger *l;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	const char *addr = cfg->addr ? cfg->addr : "127.0.0.1";
	int one = 1, err;

	if (!cfg->token || !*cfg->token || strlen(cfg->token) > LEDGER_MAX_TOKEN) {
		pc_err(LOG_LEDGER, "invalid ledger token: must be 1 to %d bytes", LEDGER_MAX_TOKEN);
		errno = EINVAL;
		return NULL;
	}
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		pc_err(LOG_LEDGER, "invalid ledger address '%s'", addr);
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->lfd = -1;
	l->stop_pipe[0] = l->stop_pipe[1] = -1;
	l->campaign = cfg->campaign;
	strcpy(l->token, cfg->token);
	l->cycle = cfg->cycle;
	l->last_frame_ns = clock_mono_ns();
	l->hello_ns = (int64_t)(cfg->hello_ms > 0 ? cfg->hello_ms : HELLO_MS_DEFAULT) * 1000000;
	l->idle_ns = (int64_t)(cfg->idle_ms > 0 ? cfg->idle_ms : IDLE_MS_DEFAULT) * 1000000;
	pthread_mutex_init(&l->mu, NULL);

	sa.sin_port = htons(cfg->port);
	l->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->lfd < 0)
		goto fail_errno;
	setsockopt(l->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		pc_err(LOG_LEDGER, "cannot bind ledger to '%s:%u': %s", addr, cfg->port, strerror(err));
		errno = err;
		goto fail;
	}
	/* A deep queue: a burst of hostile connects must not leave an agent's SYN
	 * dropped and retried a second later. */
	if (listen(l->lfd, SOMAXCONN) < 0 || getsockname(l->lfd, (struct sockaddr *)&sa, &salen) < 0)
		goto fail_errno;
	l->port = ntohs(sa.sin_port);
	if (pipe2(l->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail_errno;

	if (open_db(l, db_path) < 0) {
		errno = EIO;
		goto fail;
	}
	resume_phase(l, cfg);
	return l;

fail_errno:
	err = errno;
	pc_err(LOG_LEDGER, "cannot set up ledger socket: %s", strerror(err));
	errno = err;
fail:
	err = errno;
	finalize_all(l);
	if (l->db)
		sqlite3_close(l->db);
	if (l->stop_pipe[0] >= 0) {
		close(l->stop_pipe[0]);
		close(l->stop_pipe[1]);
	}
	if (l->lfd >= 0)
		close(l->lfd);
	pthread_mutex_destroy(&l->mu);
	free(l);
	errno = err;
	return NULL;
}

uint16_t ledger_port(const struct ledger *l)
{
	return l->port;
}

static void set_cycle(struct ledger *l, uint32_t cycle, bool pass)
{
	pthread_mutex_lock(&l->mu);
	if (cycle != __atomic_load_n(&l->cycle, __ATOMIC_SEQ_CST) || pass != l->pass)
		l->phase++;
	l->pass = pass;
	__atomic_store_n(&l->cycle, cycle, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&l->mu);
}

void ledger_set_cycle(struct ledger *l, uint32_t cycle)
{
	set_cycle(l, cycle, false);
}

void ledger_set_pass(struct ledger *l, uint32_t cycle)
{
	set_cycle(l, cycle, true);
}

void ledger_get_stats(struct ledger *l, struct ledger_stats *st)
{
	pthread_mutex_lock(&l->mu);
	*st = l->stats;
	pthread_mutex_unlock(&l->mu);
}

static void conn_close(struct ledger *l, int i)
{
	struct conn *c = &l->conns[i];

	close(c->fd);
	free(c->buf);
	l->conns[i] = l->conns[--l->nconns];
}

static int step(struct ledger *l, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		pc_err(LOG_LEDGER, "cannot store ledger entry: %s", sqlite3_errmsg(l->db));
		return -EIO;
	}
	return 0;
}

static int exec(struct ledger *l, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		pc_err(LOG_LEDGER, "cannot run '%s' on the ledger database: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static void bind_key(struct ledger *l, sqlite3_stmt *st, const struct conn *c)
{
	sqlite3_bind_int64(st, 1, (sqlite3_int64)l->campaign);
	sqlite3_bind_int64(st, 2, c->cycle);
	sqlite3_bind_int64(st, 3, c->disk);
}

static int store_gap(struct ledger *l, struct conn *c, uint64_t first, uint64_t count,
		     const char *source, int64_t now)
{
	bind_key(l, l->st_gap, c);
	sqlite3_bind_int64(l->st_gap, 4, (sqlite3_int64)first);
	sqlite3_bind_int64(l->st_gap, 5, (sqlite3_int64)count);
	sqlite3_bind_text(l->st_gap, 6, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(l->st_gap, 7, now);
	sqlite3_bind_int64(l->st_gap, 8, c->session);
	l->stats.gaps += count;
	return step(l, l->st_gap);
}

/* Why a frame is rejected: the text for the log line and the REJECT reply. */
struct reject {
	const char *why;
	uint32_t code;	/* enum ledger_reject_code */
};

/* A reply to a version 2 agent. Replies are a few bytes on a socket that was only
 * read from, so they fit its send buffer; a failure means the agent is gone. */
static void reply(struct conn *c, const unsigned char *p, size_t n)
{
	if (send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n)
		pc_warn(LOG_LEDGER, "cannot reply to agent '%s': %s", c->peer, strerror(errno));
}

/* Version 1 agents never read: they get no replies. Before a hello (version 0) the
 * agent's version is unknown, and a reply cannot confuse a reader. */
static void send_reject(struct conn *c, const struct reject *rj, uint64_t offset)
{
	unsigned char r[5 + LEDGER_REJECT_FIXED + LEDGER_REJECT_MAX_TEXT];
	size_t tl = strlen(rj->why);

	if (c->version == 1)
		return;
	if (tl > LEDGER_REJECT_MAX_TEXT)
		tl = LEDGER_REJECT_MAX_TEXT;
	unsigned char *b = lp_frame(r, LEDGER_REJECT, (uint32_t)(LEDGER_REJECT_FIXED + tl));
	lp_put32(b, rj->code);
	lp_put64(b + 4, offset);
	lp_put16(b + 12, (uint16_t)tl);
	memcpy(b + 14, rj->why, tl);
	reply(c, r, 5 + LEDGER_REJECT_FIXED + tl);
}

/* After a commit: tell the agents whose END it held that their session is stored. */
static void send_recorded(struct ledger *l)
{
	for (int i = 0; i < l->nconns; i++) {
		struct conn *c = &l->conns[i];
		if (!c->end_pending)
			continue;
		unsigned char r[5 + LEDGER_RECORDED_SIZE];
		unsigned char *b = lp_frame(r, LEDGER_RECORDED, LEDGER_RECORDED_SIZE);
		lp_put32(b, c->cycle);
		lp_put64(b + 4, c->acks);
		reply(c, r, sizeof(r));
		c->end_pending = false;
	}
}

#define REJECT_AS(c, msg) do { rj->why = (msg); rj->code = (c); return -EPROTO; } while (0)
#define REJECT(msg) REJECT_AS(LEDGER_REJ_PROTOCOL, msg)

static int handle_hello(struct ledger *l, struct conn *c, const unsigned char *b, uint32_t n,
			int64_t now, struct reject *rj)
{
	if (n < LEDGER_HELLO_FIXED)
		REJECT("hello too short");
	uint16_t ver = lp_get16(b), tlen = lp_get16(b + 2);
	c->version = ver;
	if (ver < LEDGER_PROTO_MIN || ver > LEDGER_PROTO_VERSION)
		REJECT("unsupported protocol version");
	if (tlen == 0 || tlen > LEDGER_MAX_TOKEN || n != (uint32_t)(LEDGER_HELLO_FIXED + tlen))
		REJECT("bad hello size");
	const unsigned char *t = b + 4, *p = b + 4 + tlen;
	if (tlen != strlen(l->token) || memcmp(t, l->token, tlen) != 0)
		REJECT_AS(LEDGER_REJ_TOKEN, "bad campaign token");
	uint64_t campaign = lp_get64(p);
	uint32_t cycle = lp_get32(p + 8), disk = lp_get32(p + 12), bs = lp_get32(p + 16);
	uint64_t span = lp_get64(p + 20), seed = lp_get64(p + 28), agent_ns = lp_get64(p + 36);
	if (campaign != l->campaign)
		REJECT_AS(LEDGER_REJ_CAMPAIGN, "wrong campaign");
	if (cycle != __atomic_load_n(&l->cycle, __ATOMIC_SEQ_CST))
		REJECT_AS(LEDGER_REJ_CYCLE, "wrong cycle");
	if (bs == 0 || bs % 512)
		REJECT("bad block size");
	c->hello = true;
	c->cycle = cycle;
	c->disk = disk;
	c->next_ack = 0;
	/* A reconnecting agent goes on where its previous connection stopped. */
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(l->db, "SELECT MAX(ack_index) FROM oracle_ack WHERE campaign = ?1"
			       " AND cycle = ?2 AND disk = ?3 AND session IN (SELECT id FROM oracle_session"
			       " WHERE campaign = ?1 AND cycle = ?2 AND disk = ?3 AND phase = ?4)",
			       -1, &q, NULL) == SQLITE_OK) {
		bind_key(l, q, c);
		sqlite3_bind_int64(q, 4, l->phase);
		if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
			c->next_ack = (uint64_t)sqlite3_column_int64(q, 0) + 1;
		sqlite3_finalize(q);
	}
	bind_key(l, l->st_sess, c);
	sqlite3_bind_text(l->st_sess, 4, c->peer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(l->st_sess, 5, bs);
	sqlite3_bind_int64(l->st_sess, 6, (sqlite3_int64)span);
	sqlite3_bind_int64(l->st_sess, 7, (sqlite3_int64)seed);
	sqlite3_bind_int64(l->st_sess, 8, (sqlite3_int64)agent_ns);
	sqlite3_bind_int64(l->st_sess, 9, now);
	sqlite3_bind_int64(l->st_sess, 10, l->phase);
	sqlite3_bind_int(l->st_sess, 11, l->pass);
	if (step(l, l->st_sess))
		return -EIO;
	c->session = sqlite3_last_insert_rowid(l->db);
	if (c->version >= 2) {
		unsigned char r[5 + LEDGER_ACCEPT_SIZE];
		lp_put32(lp_frame(r, LEDGER_ACCEPT, LEDGER_ACCEPT_SIZE), cycle);
		reply(c, r, sizeof(r));
	}
	pc_debug(LOG_LEDGER, "agent '%s' connected: campaign %llu cycle %u disk %u", c->peer,
		(unsigned long long)campaign, cycle, disk);
	return 0;
}

/* The per-disk counters are of the newest cycle: a frame of another one starts them
 * again (the ledger accepts one cycle at a time). */
static void stats_cycle(struct ledger *l, uint32_t cycle)
{
	if (cycle == l->stats.acked_cycle)
		return;
	l->stats.acked_cycle = cycle;
	l->stats.acked_disks = 0;
	memset(l->stats.disk_acks, 0, sizeof(l->stats.disk_acks));
	memset(l->stats.disk_flushes, 0, sizeof(l->stats.disk_flushes));
}

/* A files workload acknowledgement (version 3): stored as it came; the file oracle
 * (fsverify.c) replays them. It counts as an acknowledgement and, being a completed
 * sync, as a flush in the statistics, so the host's phase-timed cuts ("after every
 * disk's k-th flush") see a files workload progress too. */
static int handle_filesync(struct ledger *l, struct conn *c, const unsigned char *b, uint32_t n,
			   int64_t now, struct reject *rj)
{
	if (n < LEDGER_FILESYNC_FIXED)
		REJECT("bad filesync size");
	uint16_t nlen = lp_get16(b + LEDGER_FILESYNC_FIXED - 2);
	if (nlen == 0 || nlen > LEDGER_FILESYNC_NAME_MAX || n != LEDGER_FILESYNC_FIXED + (uint32_t)nlen)
		REJECT("bad filesync size");
	const unsigned char *name = b + LEDGER_FILESYNC_FIXED;
	for (uint16_t i = 0; i < nlen; i++)
		if (name[i] == '/' || name[i] < 0x20 || name[i] > 0x7e)
			REJECT("bad filesync name");
	sqlite3_stmt *st = l->st_file;
	bind_key(l, st, c);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)lp_get64(b + 4));	/* seq */
	sqlite3_bind_int64(st, 5, b[12]);				/* op */
	sqlite3_bind_int64(st, 6, b[13]);				/* sync */
	sqlite3_bind_int64(st, 7, b[14]);				/* dirsync */
	sqlite3_bind_int64(st, 8, lp_get32(b + 16));			/* file */
	sqlite3_bind_int64(st, 9, (sqlite3_int64)lp_get64(b + 20));	/* offset */
	sqlite3_bind_int64(st, 10, (sqlite3_int64)lp_get64(b + 28));	/* nbytes */
	sqlite3_bind_int64(st, 11, (sqlite3_int64)lp_get64(b + 36));	/* length */
	sqlite3_bind_int64(st, 12, lp_get32(b + 44));			/* digest */
	sqlite3_bind_text(st, 13, (const char *)name, nlen, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 14, (sqlite3_int64)lp_get64(b + 48));
	sqlite3_bind_int64(st, 15, (sqlite3_int64)lp_get64(b + 56));
	sqlite3_bind_int64(st, 16, now);
	sqlite3_bind_int64(st, 17, c->session);
	l->stats.acks++;
	stats_cycle(l, c->cycle);
	l->stats.acked_disks |= 1ull << (c->disk & 63);
	l->stats.flushes++;
	if (c->disk < LEDGER_STAT_DISKS) {
		l->stats.disk_acks[c->disk]++;
		l->stats.disk_flushes[c->disk]++;
	}
	c->acks++;
	return step(l, st);
}

static int handle_frame(struct ledger *l, struct conn *c, unsigned type, const unsigned char *b,
			uint32_t n, int64_t now, struct reject *rj)
{
	if (type == LEDGER_HELLO) {
		if (c->hello)
			REJECT("second hello");
		return handle_hello(l, c, b, n, now, rj);
	}
	if (!c->hello)
		REJECT("frame before hello");
	if (type < LEDGER_BASELINE || type > LEDGER_FILESYNC ||
	    (type == LEDGER_FILESYNC && c->version < 3))
		REJECT("unknown frame type");
	if (n < 4 || lp_get32(b) != c->cycle)
		REJECT_AS(LEDGER_REJ_CYCLE, "frame of another cycle");
	if (c->cycle != __atomic_load_n(&l->cycle, __ATOMIC_SEQ_CST))
		REJECT_AS(LEDGER_REJ_CYCLE, "cycle is over");

	switch (type) {
	case LEDGER_BASELINE:
		if (n != LEDGER_BASELINE_SIZE)
			REJECT("bad baseline size");
		bind_key(l, l->st_base, c);
		for (int i = 0; i < 4; i++)
			sqlite3_bind_int64(l->st_base, 4 + i, (sqlite3_int64)lp_get64(b + 4 + 8 * i));
		sqlite3_bind_int64(l->st_base, 8, now);
		sqlite3_bind_int64(l->st_base, 9, c->session);
		return step(l, l->st_base);
	case LEDGER_ACKS: {
		uint32_t count = n >= 8 ? lp_get32(b + 4) : 0;
		if (count == 0 || count > LEDGER_MAX_ACKS ||
		    n != LEDGER_ACKS_HEAD + (uint64_t)count * LEDGER_ACK_ENTRY)
			REJECT("bad acks size");
		for (uint32_t i = 0; i < count;) {
			int k = 0;
			while ((uint32_t)(ACK_MULTI >> k) > count - i)
				k++;
			sqlite3_stmt *st = l->st_acks[k];
			uint32_t rows = ACK_MULTI >> k;
			bind_key(l, st, c);
			sqlite3_bind_int64(st, 4, now);
			sqlite3_bind_int64(st, 5, c->session);
			for (uint32_t r = 0; r < rows; r++, i++) {
				const unsigned char *e = b + LEDGER_ACKS_HEAD + (size_t)i * LEDGER_ACK_ENTRY;
				uint64_t idx = lp_get64(e + 24);
				int o = ACK_SHARED + (int)(r * ACK_VAR_COLS);
				if (idx > c->next_ack &&
				    store_gap(l, c, c->next_ack, idx - c->next_ack, "host", now))
					return -EIO;
				if (idx >= c->next_ack)
					c->next_ack = idx + 1;
				sqlite3_bind_int64(st, o + 1, (sqlite3_int64)lp_get64(e));
				sqlite3_bind_int64(st, o + 2, lp_get32(e + 8));
				sqlite3_bind_int64(st, o + 3, lp_get32(e + 12));
				sqlite3_bind_int64(st, o + 4, (sqlite3_int64)lp_get64(e + 16));
				sqlite3_bind_int64(st, o + 5, (sqlite3_int64)idx);
				sqlite3_bind_int64(st, o + 6, (sqlite3_int64)lp_get64(e + 32));
				sqlite3_bind_int64(st, o + 7, (sqlite3_int64)lp_get64(e + 40));
			}
			if (step(l, st))
				return -EIO;
		}
		l->stats.acks += count;
		stats_cycle(l, c->cycle);
		l->stats.acked_disks |= 1ull << (c->disk & 63);
		if (c->disk < LEDGER_STAT_DISKS)
			l->stats.disk_acks[c->disk] += count;
		c->acks += count;
		return 0;
	}
	case LEDGER_FLUSH:
		if (n != LEDGER_FLUSH_SIZE)
			REJECT("bad flush size");
		bind_key(l, l->st_flush, c);
		for (int i = 0; i < 4; i++)
			sqlite3_bind_int64(l->st_flush, 4 + i, (sqlite3_int64)lp_get64(b + 4 + 8 * i));
		sqlite3_bind_int64(l->st_flush, 8, now);
		sqlite3_bind_int64(l->st_flush, 9, c->session);
		l->stats.flushes++;
		stats_cycle(l, c->cycle);
		if (c->disk < LEDGER_STAT_DISKS)
			l->stats.disk_flushes[c->disk]++;
		return step(l, l->st_flush);
	case LEDGER_GAP: {
		if (n != LEDGER_GAP_SIZE)
			REJECT("bad gap size");
		uint64_t first = lp_get64(b + 4), count = lp_get64(b + 12);
		/* The host already saw the hole if later acks arrived; store the agent's word. */
		if (first + count > c->next_ack)
			c->next_ack = first + count;
		return store_gap(l, c, first, count, "agent", now);
	}
	case LEDGER_FILESYNC:
		return handle_filesync(l, c, b, n, now, rj);
	case LEDGER_END:
		if (n != LEDGER_END_SIZE)
			REJECT("bad end size");
		sqlite3_bind_int64(l->st_end, 1, now);
		sqlite3_bind_int64(l->st_end, 2, lp_get32(b + 28));
		sqlite3_bind_int64(l->st_end, 3, (sqlite3_int64)lp_get64(b + 4));
		sqlite3_bind_int64(l->st_end, 4, (sqlite3_int64)lp_get64(b + 12));
		sqlite3_bind_int64(l->st_end, 5, (sqlite3_int64)lp_get64(b + 20));
		sqlite3_bind_int64(l->st_end, 6, c->session);
		/* Confirmed once committed (ledger_poll): the agent's exit status says so. */
		c->end_pending = c->version >= 2;
		return step(l, l->st_end);
	}
	REJECT("unknown frame type");
}

static int txn_begin(struct ledger *l)
{
	if (l->in_txn)
		return 0;
	int rc = exec(l, "BEGIN");
	if (!rc) {
		__atomic_store_n(&l->in_txn, true, __ATOMIC_SEQ_CST);
		l->txn_start_ns = clock_mono_ns();
		l->txn_frames = 0;
	}
	return rc;
}

/* Commit the open transaction (ok) or roll it back. Returns 0 or -EIO. */
static int txn_end(struct ledger *l, bool ok)
{
	if (!l->in_txn)
		return 0;
	int rc = exec(l, ok ? "COMMIT" : "ROLLBACK");
	if (rc && ok)
		exec(l, "ROLLBACK");
	pthread_mutex_lock(&l->mu);
	if (!rc && ok) {
		l->stats.batches++;
		l->stats.frames += l->txn_frames;
	}
	pthread_mutex_unlock(&l->mu);
	__atomic_store_n(&l->in_txn, false, __ATOMIC_SEQ_CST);
	if (!rc && ok)
		send_recorded(l);
	else
		for (int i = 0; i < l->nconns; i++)
			l->conns[i].end_pending = false;
	return rc;
}

/* Parse and store every complete frame in c->buf, inside the open transaction.
 * Returns the number of frames, -EPROTO after logging a rejection (the frames before
 * it are kept), or -EIO. */
static int conn_process(struct ledger *l, struct conn *c)
{
	size_t pos = 0;
	int frames = 0, rc = 0;
	int64_t now = clock_mono_ns();
	struct reject rj = { NULL, LEDGER_REJ_PROTOCOL };

	while (c->len - pos >= 5) {
		uint32_t flen = lp_get32(c->buf + pos);
		if (flen == 0 || flen > LEDGER_MAX_FRAME) {
			rj.why = flen ? "oversize frame" : "empty frame";
			rc = -EPROTO;
			break;
		}
		/* Known from the frame head: nothing but a hello comes first. */
		if (!c->hello && (c->buf[pos + 4] != LEDGER_HELLO || 4 + (size_t)flen > PENDING_MAX)) {
			rj.why = c->buf[pos + 4] != LEDGER_HELLO ? "frame before hello" : "bad hello size";
			rc = -EPROTO;
			break;
		}
		if (c->len - pos < 4 + (size_t)flen)
			break;
		if ((rc = txn_begin(l)))
			return rc;
		rc = handle_frame(l, c, c->buf[pos + 4], c->buf + pos + 5, flen - 1, now, &rj);
		if (rc)
			break;
		pos += 4 + (size_t)flen;
		frames++;
	}
	l->txn_frames += (uint64_t)frames;
	if (rc == -EPROTO) {
		pc_err(LOG_LEDGER, "rejected ledger input from '%s' at byte %llu: %s", c->peer,
		       (unsigned long long)(c->offset + pos), rj.why);
		send_reject(c, &rj, c->offset + pos);
	}
	if (rc)
		return rc;
	memmove(c->buf, c->buf + pos, c->len - pos);
	c->len -= pos;
	c->offset += pos;
	if (frames)
		__atomic_store_n(&l->last_frame_ns, now, __ATOMIC_SEQ_CST);
	return frames;
}

/* Read what is available; returns frames stored, 0, or a negative errno (close). */
/* A connection without a hello has a whole (hello-sized) frame in its buffer. */
static bool hello_in(const struct conn *c)
{
	return c->len >= 5 && c->len >= 4 + (size_t)lp_get32(c->buf);
}

static int conn_read(struct ledger *l, struct conn *c)
{
	c->rx_ns = clock_mono_ns();
	for (;;) {
		/* Small until a whole hello is in; then, as for any agent, everything
		 * available is read before the hello is answered (an agent that closes
		 * with our reply unread resets the connection, and would lose the rest). */
		bool big = c->hello || hello_in(c);
		size_t chunk = big ? READ_CHUNK : PENDING_MAX;
		if (c->cap - c->len < chunk) {
			size_t cap = c->cap ? c->cap : chunk * 2;
			while (cap - c->len < chunk)
				cap *= 2;
			if (cap > 2 * (LEDGER_MAX_FRAME + 5) + READ_CHUNK)
				cap = 2 * (LEDGER_MAX_FRAME + 5) + READ_CHUNK;
			if (!big && cap > 2 * PENDING_MAX)
				cap = 2 * PENDING_MAX;
			if (cap > c->cap) {
				unsigned char *nb = realloc(c->buf, cap);
				if (!nb)
					return -ENOMEM;
				c->buf = nb;
				c->cap = cap;
			}
		}
		size_t want = c->cap - c->len;
		ssize_t r = read(c->fd, c->buf + c->len, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) {
			if (r < 0)
				pc_warn(LOG_LEDGER, "cannot read from agent '%s': %s", c->peer, strerror(errno));
			int frames = conn_process(l, c);
			if (frames >= 0 && c->len)
				pc_warn(LOG_LEDGER, "agent '%s' closed inside a frame at byte %llu", c->peer,
					(unsigned long long)c->offset);
			return frames < 0 ? frames : -ECONNRESET;
		}
		c->len += (size_t)r;
		/* A short read drained the socket: a second read would only say EAGAIN, one
		 * system call per millisecond batch of every agent. An end of stream after it
		 * wakes poll again. */
		if ((size_t)r < want || (c->len == c->cap && (big || !hello_in(c))))
			break;
	}
	return conn_process(l, c);
}

/* Read and store what connection i sent; close it on end of stream or bad input.
 * Returns frames stored, a negative errno when it was closed, or -EIO (fatal, the
 * open transaction rolled back). */
static int serve(struct ledger *l, int i)
{
	pthread_mutex_lock(&l->mu);
	int rc = conn_read(l, &l->conns[i]);
	if (rc == -EPROTO)
		l->stats.rejected++;
	pthread_mutex_unlock(&l->mu);
	if (rc == -EIO) {
		txn_end(l, false);
		return rc;
	}
	if (rc == -EPROTO) {
		/* The REJECT goes out before the FIN; what the agent sent meanwhile is
		 * read and dropped, so the close does not reset the connection and
		 * discard the reply on the agent's side. Bounded: a peer that keeps
		 * sending cannot hold the ledger here. */
		char junk[4096];
		shutdown(l->conns[i].fd, SHUT_WR);
		for (int k = 0; k < 64 && read(l->conns[i].fd, junk, sizeof(junk)) > 0; k++)
			;
	}
	if (rc < 0)
		conn_close(l, i);
	return rc;
}

/* A hostile client can open connections faster than anyone reads logs: closing them
 * is counted, and the count logged at most every DROP_LOG_NS. */
static void note_drop(struct ledger *l, const char *why, const char *peer, int64_t now)
{
	pc_debug(LOG_LEDGER, "closed ledger connection from '%s': %s", peer, why);
	l->drops++;
	if (now - l->drop_log_ns >= DROP_LOG_NS) {
		pc_warn(LOG_LEDGER, "closed %llu ledger connection(s) without a hello (last from "
			"'%s': %s)", (unsigned long long)l->drops, peer, why);
		l->drops = 0;
		l->drop_log_ns = now;
	}
}

/* The oldest connection still without a hello, of addr when addr is not NULL; -1. */
static int oldest_pending(const struct ledger *l, const struct in_addr *addr, int *count)
{
	int best = -1, n = 0;

	for (int i = 0; i < l->nconns; i++) {
		const struct conn *c = &l->conns[i];
		if (c->hello || (addr && c->addr.s_addr != addr->s_addr))
			continue;
		n++;
		if (best < 0 || c->accepted_ns < l->conns[best].accepted_ns)
			best = i;
	}
	if (count)
		*count = n;
	return best;
}

/* Accept every queued connection. Returns frames stored, or -EIO. */
static int accept_all(struct ledger *l)
{
	int total = 0;

	for (;;) {
		struct sockaddr_in sa;
		socklen_t salen = sizeof(sa);
		int fd = accept4(l->lfd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return total;
		int64_t now = clock_mono_ns();
		char ip[INET_ADDRSTRLEN] = "?";
		inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
		/* Room first: a peer at its cap, then anyone, loses its oldest connection
		 * that has not said hello; one that has is never pushed out. The victim's
		 * socket is read first: an agent's hello may be there, not yet served. */
		int victim;
		uint64_t *counter = NULL;
		for (;;) {
			int n;
			victim = oldest_pending(l, &sa.sin_addr, &n);
			if (n < LEDGER_PEER_PENDING)
				victim = l->nconns == MAX_CONNS ? oldest_pending(l, NULL, NULL) : -1;
			if (victim < 0)
				break;
			int rc = serve(l, victim);
			if (rc == -EIO) {
				close(fd);
				return rc;
			}
			if (rc > 0)
				total += rc;
			if (rc >= 0 && !l->conns[victim].hello)
				break;
		}
		if (victim >= 0) {
			note_drop(l, "evicted for a newer connection", l->conns[victim].peer, now);
			counter = &l->stats.evicted;
			conn_close(l, victim);
		} else if (l->nconns == MAX_CONNS) {
			pc_err(LOG_LEDGER, "every ledger connection is authenticated, refusing one "
			       "from '%s'", ip);
			pthread_mutex_lock(&l->mu);
			l->stats.refused++;
			pthread_mutex_unlock(&l->mu);
			close(fd);
			continue;
		}
		struct conn *c = &l->conns[l->nconns++];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->addr = sa.sin_addr;
		c->accepted_ns = c->rx_ns = now;
		snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, ntohs(sa.sin_port));
		pthread_mutex_lock(&l->mu);
		l->stats.connections++;
		if (counter)
			(*counter)++;
		pthread_mutex_unlock(&l->mu);
	}
}

/* Close connections past their deadline; returns ms until the next deadline (or -1). */
static int expire(struct ledger *l, int64_t now)
{
	int64_t next = -1;

	for (int i = l->nconns - 1; i >= 0; i--) {
		struct conn *c = &l->conns[i];
		int64_t due = c->hello ? c->rx_ns + l->idle_ns : c->accepted_ns + l->hello_ns;
		if (due <= now) {
			pthread_mutex_lock(&l->mu);
			if (c->hello)
				l->stats.idle_timeouts++;
			else
				l->stats.hello_timeouts++;
			pthread_mutex_unlock(&l->mu);
			if (c->hello)
				pc_warn(LOG_LEDGER, "agent '%s' silent for %lld ms, closing its connection",
					c->peer, (long long)(l->idle_ns / 1000000));
			else
				note_drop(l, "no hello in time", c->peer, now);
			conn_close(l, i);
			continue;
		}
		if (next < 0 || due - now < next)
			next = due - now;
	}
	return next < 0 ? -1 : (int)((next + 999999) / 1000000);
}

int ledger_poll(struct ledger *l, int timeout_ms)
{
	struct pollfd pfd[MAX_CONNS + 2];
	int n = 0, total = 0;

	int due = expire(l, clock_mono_ns());
	if (due >= 0 && (timeout_ms < 0 || due < timeout_ms))
		timeout_ms = due;
	pfd[n++] = (struct pollfd){ .fd = l->lfd, .events = POLLIN };
	pfd[n++] = (struct pollfd){ .fd = l->stop_pipe[0], .events = POLLIN };
	for (int i = 0; i < l->nconns; i++)
		pfd[n++] = (struct pollfd){ .fd = l->conns[i].fd, .events = POLLIN };
	int nconns = l->nconns;
	if (l->in_txn) {
		int64_t left = (l->txn_start_ns + COMMIT_NS - clock_mono_ns()) / 1000000;
		if (left < 0)
			left = 0;
		if (timeout_ms < 0 || left < timeout_ms)
			timeout_ms = (int)left;
	}
	int r = poll(pfd, n, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	/* Walk backwards: conn_close moves the last connection into the freed slot. */
	for (int i = nconns - 1; i >= 0; i--) {
		if (!pfd[2 + i].revents)
			continue;
		int rc = serve(l, i);
		if (rc == -EIO)
			return rc;
		if (rc > 0)
			total += rc;
	}
	if (pfd[0].revents) {
		int rc = accept_all(l);
		if (rc == -EIO)
			return rc;
		total += rc;
	}
	/* Commit when the group is old enough, or at once when the input went quiet. */
	if (l->in_txn && (total == 0 || clock_mono_ns() - l->txn_start_ns >= COMMIT_NS) && txn_end(l, true))
		return -EIO;
	return total;
}

static void *ledger_thread(void *arg)
{
	struct ledger *l = arg;
	char b;

	for (;;) {
		if (read(l->stop_pipe[0], &b, 1) == 1)
			break;
		int rc = ledger_poll(l, 100);
		if (rc < 0) {
			pc_err(LOG_LEDGER, "ledger stopped: %s", strerror(-rc));
			break;
		}
	}
	txn_end(l, true);
	return NULL;
}

int ledger_start(struct ledger *l)
{
	if (l->running)
		return -EBUSY;
	int rc = pthread_create(&l->thread, NULL, ledger_thread, l);
	if (rc)
		return -rc;
	/* Named, so profilers and top show the ledger's share apart from the caller's. */
	pthread_setname_np(l->thread, "pc-ledger");
	l->running = true;
	return 0;
}

int ledger_stop(struct ledger *l)
{
	if (!l->running)
		return 0;
	if (write(l->stop_pipe[1], "x", 1) != 1)
		return -errno;
	pthread_join(l->thread, NULL);
	l->running = false;
	return 0;
}

int ledger_quiesce(struct ledger *l, int quiet_ms, int max_ms)
{
	int64_t start = clock_mono_ns();

	for (;;) {
		int64_t now = clock_mono_ns();
		if (now - __atomic_load_n(&l->last_frame_ns, __ATOMIC_SEQ_CST) >= (int64_t)quiet_ms * 1000000 &&
		    !__atomic_load_n(&l->in_txn, __ATOMIC_SEQ_CST))
			return 0;
		if (now - start >= (int64_t)max_ms * 1000000)
			return -ETIMEDOUT;
		if (l->running) {
			struct timespec ts = { 0, 5000000 };
			nanosleep(&ts, NULL);
		} else if (ledger_poll(l, 5) < 0) {
			return -EIO;
		}
	}
}

void ledger_free(struct ledger *l)
{
	if (!l)
		return;
	ledger_stop(l);
	txn_end(l, true);
	while (l->nconns)
		conn_close(l, l->nconns - 1);
	finalize_all(l);
	sqlite3_close(l->db);
	close(l->stop_pipe[0]);
	close(l->stop_pipe[1]);
	close(l->lfd);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

int ledger_campaign_register(sqlite3 *db, uint64_t campaign, const char *token, uint64_t seed)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO oracle_campaign_token (campaign, token, seed)"
			       " VALUES (?,?,?)", -1, &st, NULL) != SQLITE_OK) {
		pc_err(LOG_LEDGER, "cannot register campaign token: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)campaign);
	sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)seed);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		pc_err(LOG_LEDGER, "cannot register campaign token: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

int ledger_cycle_phase(sqlite3 *db, uint64_t campaign, uint32_t cycle, uint32_t disk,
		       int64_t *phase)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (sqlite3_prepare_v2(db, "SELECT phase FROM oracle_session WHERE campaign = ?1 AND"
			       " cycle = ?2 AND disk = ?3 AND pass = 0 ORDER BY id LIMIT 1", -1, &st,
			       NULL) != SQLITE_OK) {
		pc_err(LOG_LEDGER, "cannot read the ledger's sessions: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)campaign);
	sqlite3_bind_int64(st, 2, cycle);
	sqlite3_bind_int64(st, 3, disk);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*phase = sqlite3_column_int64(st, 0);
		rc = 1;
	}
	sqlite3_finalize(st);
	return rc;
}

int64_t ledger_prune(sqlite3 *db, uint64_t campaign, uint32_t cycle, uint32_t disk)
{
	/* The flush coverage of the cycle is one number, computed once: a correlated
	 * subquery per acknowledgement made this quadratic in the flushes. */
	static const char summarize[] =
		"INSERT OR REPLACE INTO oracle_block_summary (campaign, cycle, disk, block, newest_acked,"
		" newest_flushed, writes)"
		" SELECT ?1, ?2, ?3, a.block, MAX(a.gen),"
		"  MAX(CASE WHEN a.flags & 1 OR a.ack_index < f.covers THEN a.gen END), COUNT(*)"
		" FROM oracle_ack a,"
		"  (SELECT IFNULL(MAX(covers), 0) AS covers FROM oracle_flush"
		"   WHERE campaign = ?1 AND cycle = ?2 AND disk = ?3" LEDGER_OWN_ROWS ") f"
		" WHERE a.campaign = ?1 AND a.cycle = ?2 AND a.disk = ?3" LEDGER_OWN_ROWS
		" GROUP BY a.block";
	static const char del[] = "DELETE FROM oracle_ack WHERE campaign = ?1 AND cycle = ?2 AND"
				  " disk = ?3" LEDGER_OWN_ROWS;
	const char *sqls[] = { summarize, del };
	int64_t pruned = 0, phase = 0;
	/* Only the cycle's own run is summarised: a pass written later as the same cycle
	 * (a backing chain's baseline) keeps its rows. */
	int own = ledger_cycle_phase(db, campaign, cycle, disk, &phase);
	if (own < 0)
		return own;

	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, sqls[i], -1, &st, NULL) != SQLITE_OK)
			goto rollback;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)campaign);
		sqlite3_bind_int64(st, 2, cycle);
		sqlite3_bind_int64(st, 3, disk);
		if (own)
			sqlite3_bind_int64(st, 4, phase);
		int rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			goto rollback;
		if (i == 1)
			pruned = sqlite3_changes(db);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto rollback;
	return pruned;
rollback:
	pc_err(LOG_LEDGER, "cannot prune acknowledgements of cycle %u: %s", cycle, sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -EIO;
fail:
	pc_err(LOG_LEDGER, "cannot prune acknowledgements of cycle %u: %s", cycle, sqlite3_errmsg(db));
	return -EIO;
}
