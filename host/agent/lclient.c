/* The agent's side of the ledger protocol: a bounded queue drained by a sender thread
 * that batches every millisecond, reconnects with backoff, and never blocks writers.
 * Protocol 2: the host's replies (ACCEPT, REJECT, RECORDED) decide whether the run's
 * ledger is complete; a rejection stops the sender for good (lclient_failed). */
#include "agent.h"
#include "ledger_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH_NS 1000000

struct entry {
	uint8_t type;		/* LEDGER_ACKS (one ack), LEDGER_FLUSH, LEDGER_BASELINE, LEDGER_GAP */
	uint32_t u32;		/* gen / flags */
	uint32_t flags;
	uint64_t a, b, c, d, e;
	/* LEDGER_FILESYNC: u32 = file, flags = op | sync << 8 | dirsync << 16, a = seq,
	 * b = offset, c = nbytes, d = submit, e = complete, f = length, g = digest. */
	uint64_t f, g;
	char name[16];
};

static struct {
	bool on;
	const struct agent_opts *o;
	uint64_t nblocks;
	struct sockaddr_in addr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	struct entry *q;
	size_t head, len;	/* ring */
	uint64_t dropped, gap_first, gap_count;
	bool finishing;
	uint32_t end_reason;
	uint64_t end_acks, end_flushes;
	int64_t finish_deadline;
	int fd;
	unsigned char *out;	/* frame buffer */
	size_t cap;		/* queue entries */
	unsigned char in[512];	/* the host's replies, not yet parsed */
	size_t inlen;
	volatile bool rejected;	/* the host refused the session: reason says why */
	bool recorded;		/* the host confirmed END */
	char reason[LEDGER_REJECT_MAX_TEXT + 1];
} L = { .fd = -1 };

#define QUEUE_CAP L.cap

/* With L.mu held: queue the GAP entry for the acknowledgements dropped so far, if
 * there is room; the gap stays contiguous because nothing is queued before it. */
static void queue_gap(void)
{
	if (!L.gap_count || L.len == QUEUE_CAP)
		return;
	struct entry *g = &L.q[(L.head + L.len++) % QUEUE_CAP];
	memset(g, 0, sizeof(*g));
	g->type = LEDGER_GAP;
	g->a = L.gap_first;
	g->b = L.gap_count;
	L.gap_count = 0;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	/* Numeric only: the static agent cannot use the resolver. */
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static int send_all(const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = send(L.fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = L.fd, .events = POLLOUT };
			if (poll(&pfd, 1, 1000) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read the host's replies. Returns 0 once a frame of type want arrived (want 0:
 * when nothing more is there), -EPROTO on a REJECT (L.reason set), -ECONNRESET when the
 * host closed, -ETIMEDOUT when want did not come within timeout_ms. */
static int recv_replies(uint8_t want, int timeout_ms)
{
	int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		while (L.inlen >= 5) {
			uint32_t flen = lp_get32(L.in);
			if (flen == 0 || flen > sizeof(L.in) - 4) {
				snprintf(L.reason, sizeof(L.reason), "malformed reply from the ledger");
				return -EPROTO;
			}
			if (L.inlen < 4 + (size_t)flen)
				break;
			uint8_t type = L.in[4];
			const unsigned char *b = L.in + 5;
			if (type == LEDGER_REJECT) {
				uint16_t tl = flen >= 1 + LEDGER_REJECT_FIXED ? lp_get16(b + 12) : 0;
				if (tl > flen - 1 - LEDGER_REJECT_FIXED)
					tl = 0;
				if (tl > LEDGER_REJECT_MAX_TEXT)
					tl = LEDGER_REJECT_MAX_TEXT;
				memcpy(L.reason, b + 14, tl);
				L.reason[tl] = 0;
				if (!tl)
					snprintf(L.reason, sizeof(L.reason), "rejected without a reason");
				return -EPROTO;
			}
			memmove(L.in, L.in + 4 + flen, L.inlen - 4 - flen);
			L.inlen -= 4 + flen;
			if (type == LEDGER_RECORDED)
				L.recorded = true;
			if (want && type == want)
				return 0;
		}
		int64_t left = (deadline - clock_mono_ns()) / 1000000;
		struct pollfd pfd = { .fd = L.fd, .events = POLLIN };
		int pr = poll(&pfd, 1, want ? (left > 0 ? (int)left : 0) : 0);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return want ? -ETIMEDOUT : 0;
		ssize_t r = recv(L.fd, L.in + L.inlen, sizeof(L.in) - L.inlen, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (r <= 0)
			return -ECONNRESET;
		L.inlen += (size_t)r;
	}
}

static void conn_drop(void)
{
	close(L.fd);
	L.fd = -1;
	L.inlen = 0;
}

static int try_connect(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, err = 0;
	socklen_t el = sizeof(err);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&L.addr, sizeof(L.addr)) < 0 && errno != EINPROGRESS) {
		err = errno;
		close(fd);
		return -err;
	}
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, 1000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		close(fd);
		return -(err ? err : ETIMEDOUT);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	L.fd = fd;

	const struct agent_opts *o = L.o;
	size_t tl = strlen(o->token);
	unsigned char *p = L.out;
	p = lp_frame(p, LEDGER_HELLO, (uint32_t)(LEDGER_HELLO_FIXED + tl));
	lp_put16(p, LEDGER_PROTO_VERSION);
	lp_put16(p + 2, (uint16_t)tl);
	memcpy(p + 4, o->token, tl);
	p += 4 + tl;
	lp_put64(p, o->campaign);
	lp_put32(p + 8, o->cycle);
	lp_put32(p + 12, o->disk);
	lp_put32(p + 16, o->block_size);
	lp_put64(p + 20, L.nblocks);
	lp_put64(p + 28, o->seed);
	lp_put64(p + 36, (uint64_t)clock_mono_ns());
	int rc = send_all(L.out, 5 + LEDGER_HELLO_FIXED + tl);
	/* Nothing else goes out before the host accepted the hello, so a refusal of the
	 * hello always reaches us intact. */
	if (!rc)
		rc = recv_replies(LEDGER_ACCEPT, 2000);
	if (rc && rc != -EPROTO)
		conn_drop();
	return rc;
}

static unsigned char *frame_head(unsigned char *p, uint8_t type, uint32_t body)
{
	unsigned char *b = lp_frame(p, type, body);
	lp_put32(b, L.o->cycle);
	return b + 4;
}

/* Encode up to n entries from batch into L.out; returns bytes. */
static size_t encode(const struct entry *e, size_t n)
{
	unsigned char *p = L.out;
	size_t i = 0;

	while (i < n) {
		if (e[i].type == LEDGER_ACKS) {
			size_t k = 0;
			while (i + k < n && e[i + k].type == LEDGER_ACKS && k < LEDGER_MAX_ACKS)
				k++;
			unsigned char *b = frame_head(p, LEDGER_ACKS, LEDGER_ACKS_HEAD + k * LEDGER_ACK_ENTRY);
			lp_put32(b, (uint32_t)k);
			b += 4;
			for (size_t j = 0; j < k; j++, b += LEDGER_ACK_ENTRY) {
				const struct entry *x = &e[i + j];
				lp_put64(b, x->a);
				lp_put32(b + 8, x->u32);
				lp_put32(b + 12, x->flags);
				lp_put64(b + 16, x->b);
				lp_put64(b + 24, x->c);
				lp_put64(b + 32, x->d);
				lp_put64(b + 40, x->e);
			}
			p = b;
			i += k;
			continue;
		}
		const struct entry *x = &e[i++];
		unsigned char *b;
		switch (x->type) {
		case LEDGER_BASELINE:
		case LEDGER_FLUSH:
			b = frame_head(p, x->type, LEDGER_FLUSH_SIZE);
			lp_put64(b, x->a);
			lp_put64(b + 8, x->b);
			lp_put64(b + 16, x->c);
			lp_put64(b + 24, x->d);
			p = b + 32;
			break;
		case LEDGER_FILESYNC: {
			size_t nl = strnlen(x->name, sizeof(x->name));
			b = frame_head(p, LEDGER_FILESYNC, (uint32_t)(LEDGER_FILESYNC_FIXED + nl));
			lp_put64(b, x->a);
			b[8] = (unsigned char)x->flags;
			b[9] = (unsigned char)(x->flags >> 8);
			b[10] = (unsigned char)(x->flags >> 16);
			b[11] = 0;
			lp_put32(b + 12, x->u32);
			lp_put64(b + 16, x->b);
			lp_put64(b + 24, x->c);
			lp_put64(b + 32, x->f);
			lp_put32(b + 40, (uint32_t)x->g);
			lp_put64(b + 44, x->d);
			lp_put64(b + 52, x->e);
			lp_put16(b + 60, (uint16_t)nl);
			memcpy(b + 62, x->name, nl);
			p = b + 62 + nl;
			break;
		}
		case LEDGER_GAP:
			b = frame_head(p, LEDGER_GAP, LEDGER_GAP_SIZE);
			lp_put64(b, x->a);
			lp_put64(b + 8, x->b);
			p = b + 16;
			break;
		}
	}
	return (size_t)(p - L.out);
}

#define BATCH_MAX 8192

static void *sender(void *arg)
{
	static struct entry batch[BATCH_MAX];
	int64_t backoff = 10000000, next_try = 0;

	for (;;) {
		pthread_mutex_lock(&L.mu);
		if (!L.len && !L.finishing) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += BATCH_NS;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&L.cv, &L.mu, &ts);
		}
		bool finishing = L.finishing;
		pthread_mutex_unlock(&L.mu);

		int64_t now = clock_mono_ns();
		if (L.fd < 0) {
			if (finishing && now > L.finish_deadline)
				break;
			if (now < next_try) {
				struct timespec ts = { 0, 2000000 };
				nanosleep(&ts, NULL);
				continue;
			}
			int crc = try_connect();
			if (crc == -EPROTO)
				break;
			if (crc < 0) {
				next_try = now + backoff;
				backoff = backoff * 2 > 1000000000 ? 1000000000 : backoff * 2;
				continue;
			}
			backoff = 10000000;
		}

		pthread_mutex_lock(&L.mu);
		queue_gap();	/* tell the host which acknowledgements it will never get */
		size_t n = L.len < BATCH_MAX ? L.len : BATCH_MAX;
		for (size_t i = 0; i < n; i++)
			batch[i] = L.q[(L.head + i) % QUEUE_CAP];
		pthread_mutex_unlock(&L.mu);

		int rc = 0;
		if (n) {
			size_t bytes = encode(batch, n);
			rc = send_all(L.out, bytes);
		}
		/* A refusal of a later frame: the host closes after its REJECT. */
		int rrc = recv_replies(0, 0);
		if (rrc == -EPROTO)
			break;
		if (rc == 0 && rrc < 0)
			rc = rrc;
		if (rc == 0) {
			pthread_mutex_lock(&L.mu);
			L.head = (L.head + n) % QUEUE_CAP;
			L.len -= n;
			queue_gap();
			bool done = L.finishing && L.len == 0;
			pthread_mutex_unlock(&L.mu);
			if (done) {
				unsigned char *b = frame_head(L.out, LEDGER_END, LEDGER_END_SIZE);
				lp_put64(b, L.end_acks);
				lp_put64(b + 8, L.end_flushes);
				lp_put64(b + 16, L.dropped);
				lp_put32(b + 24, L.end_reason);
				rc = send_all(L.out, 5 + LEDGER_END_SIZE);
				if (!rc) {
					int64_t left = (L.finish_deadline - clock_mono_ns()) / 1000000;
					rc = recv_replies(LEDGER_RECORDED, left > 200 ? (int)left : 200);
				}
				if (rc == 0 || rc == -EPROTO)
					break;
				/* Not confirmed: a new connection sends HELLO and END again. */
			}
		}
		if (rc) {
			if (!L.o->quiet)
				agent_log("lost ledger connection '%s': %s; reconnecting", L.o->ledger, strerror(-rc));
			conn_drop();
			next_try = clock_mono_ns() + backoff;
		}
	}
	if (L.reason[0]) {	/* set by a REJECT only */
		L.rejected = true;
		agent_log("ledger '%s' rejected the session: %s", L.o->ledger, L.reason);
	}
	if (L.fd >= 0) {
		shutdown(L.fd, SHUT_WR);
		close(L.fd);
		L.fd = -1;
	}
	return arg;
}

int lclient_start(const struct agent_opts *o, uint64_t nblocks)
{
	if (!o->ledger)
		return 0;
	if (parse_addr(o->ledger, &L.addr) < 0) {
		agent_log("invalid ledger address '%s': want IPV4:PORT", o->ledger);
		return -EINVAL;
	}
	L.o = o;
	L.nblocks = nblocks;
	L.cap = o->ledger_queue;
	L.q = malloc(sizeof(*L.q) * QUEUE_CAP);
	/* A batch of FILESYNC frames is the largest (one frame per entry). */
	L.out = malloc(16 + BATCH_MAX * (9 + LEDGER_FILESYNC_FIXED + sizeof(L.q->name)) +
		       LEDGER_HELLO_FIXED + 300);
	if (!L.q || !L.out)
		return -ENOMEM;
	pthread_mutex_init(&L.mu, NULL);
	pthread_cond_init(&L.cv, NULL);
	L.on = true;
	int rc = pthread_create(&L.thread, NULL, sender, NULL);
	if (rc) {
		L.on = false;
		return -rc;
	}
	return 0;
}

static void push(const struct entry *e)
{
	pthread_mutex_lock(&L.mu);
	if (L.gap_count && L.len + 2 <= QUEUE_CAP)
		queue_gap();
	if (L.gap_count || L.len == QUEUE_CAP) {
		/* Never block the writes: drop, count, and report the hole. */
		if (e->type == LEDGER_ACKS) {
			if (!L.gap_count)
				L.gap_first = e->c;
			L.gap_count++;
		}
		L.dropped++;
	} else {
		L.q[(L.head + L.len++) % QUEUE_CAP] = *e;
		if (L.len >= LEDGER_MAX_ACKS)
			pthread_cond_signal(&L.cv);
	}
	pthread_mutex_unlock(&L.mu);
}

void lclient_baseline(uint64_t first, uint64_t n, int64_t submit_ns, int64_t complete_ns)
{
	if (!L.on)
		return;
	struct entry e = { .type = LEDGER_BASELINE, .a = first, .b = n, .c = (uint64_t)submit_ns,
			   .d = (uint64_t)complete_ns };
	push(&e);
}

void lclient_ack(const struct witem *w, uint32_t flags, uint64_t ack_index,
		 int64_t submit_ns, int64_t complete_ns)
{
	if (!L.on)
		return;
	struct entry e = { .type = LEDGER_ACKS, .u32 = w->gen, .flags = flags, .a = w->block,
			   .b = w->seq, .c = ack_index, .d = (uint64_t)submit_ns,
			   .e = (uint64_t)complete_ns };
	push(&e);
}

void lclient_flush(uint64_t id, uint64_t covers, int64_t submit_ns, int64_t complete_ns)
{
	if (!L.on)
		return;
	struct entry e = { .type = LEDGER_FLUSH, .a = id, .b = covers, .c = (uint64_t)submit_ns,
			   .d = (uint64_t)complete_ns };
	push(&e);
}

void lclient_filesync(const struct file_ack *a, int64_t submit_ns, int64_t complete_ns)
{
	if (!L.on)
		return;
	struct entry e = { .type = LEDGER_FILESYNC, .u32 = a->file,
			   .flags = a->op | a->sync << 8 | (uint32_t)a->dirsync << 16, .a = a->seq,
			   .b = a->offset, .c = a->nbytes, .d = (uint64_t)submit_ns,
			   .e = (uint64_t)complete_ns, .f = a->length, .g = a->digest };
	snprintf(e.name, sizeof(e.name), "%s", a->name);
	push(&e);
}

int lclient_finish(uint32_t reason, uint64_t acks, uint64_t flushes, int wait_ms)
{
	int rc = 0;

	if (!L.on)
		return 0;
	pthread_mutex_lock(&L.mu);
	L.finishing = true;
	L.end_reason = reason;
	L.end_acks = acks;
	L.end_flushes = flushes;
	L.finish_deadline = clock_mono_ns() + (int64_t)wait_ms * 1000000;
	pthread_cond_signal(&L.cv);
	pthread_mutex_unlock(&L.mu);
	pthread_join(L.thread, NULL);
	L.on = false;
	if (L.rejected) {
		rc = -EPROTO;
	} else if (!L.recorded) {
		/* The host outlives every cycle; a ledger that cannot confirm the end holds
		 * an incomplete record, and the run must not pass for a good one. */
		agent_log("ledger '%s' did not confirm the session within %d ms: %zu entries not delivered",
			  L.o->ledger, wait_ms, L.len);
		rc = -ETIMEDOUT;
	}
	free(L.q);
	free(L.out);
	return rc;
}

bool lclient_failed(void)
{
	return L.rejected;
}

const char *lclient_reason(void)
{
	return L.reason;
}

uint64_t lclient_dropped(void)
{
	return L.dropped;
}
