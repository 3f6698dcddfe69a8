/* NBD exports through libnbd's asynchronous API: one thread, queue_depth commands in
 * flight, a poll loop. Built into powercut-agent-nbd only. */
#include "agent.h"

#include <errno.h>
#include <libnbd.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (1u << 20)
#define READ_AHEAD 8

static struct nbd_handle *h;

int nbd_open_target(const struct agent_opts *o, uint64_t *size)
{
	h = nbd_create();
	if (!h) {
		agent_log("cannot create NBD handle: %s", nbd_get_error());
		return -ENOMEM;
	}
	/* Every read buffer is filled by the server; libnbd zeroing it first cost about a
	 * tenth of the check phase. */
	nbd_set_pread_initialize(h, false);
	if (nbd_connect_uri(h, o->target) < 0) {
		agent_log("cannot connect to NBD export '%s': %s", o->target, nbd_get_error());
		return -ECONNREFUSED;
	}
	int64_t s = nbd_get_size(h);
	if (s < 0) {
		agent_log("cannot get the size of '%s': %s", o->target, nbd_get_error());
		return -EIO;
	}
	*size = (uint64_t)s;
	return 0;
}

void nbd_close_target(void)
{
	if (h) {
		nbd_shutdown(h, 0);
		nbd_close(h);
	}
	h = NULL;
}

/* Wait for every command to finish; returns 0 or -EIO. */
static int drain(void)
{
	while (nbd_aio_in_flight(h) > 0)
		if (nbd_poll(h, -1) < 0)
			return -EIO;
	return 0;
}

static int nbd_flush_now(void)
{
	return nbd_flush(h, 0) < 0 ? -EIO : 0;
}

int nbd_carry_flush(struct core *c)
{
	int rc = core_flush_sync(c, nbd_flush_now);

	if (rc)
		agent_log("cannot flush '%s' before the first write: %s", c->o->target, nbd_get_error());
	return rc;
}

int nbd_baseline(struct core *c)
{
	const struct agent_opts *o = c->o;
	uint64_t per = CHUNK / o->block_size ? CHUNK / o->block_size : 1;
	unsigned char *bufs[READ_AHEAD];
	int64_t cookies[READ_AHEAD] = { 0 };
	int64_t t0 = clock_mono_ns();
	int rc = 0, slot = 0;

	for (int i = 0; i < READ_AHEAD; i++)
		if (!(bufs[i] = malloc(per * o->block_size)))
			return -ENOMEM;
	for (uint64_t b = 0; b < c->base_blocks && !rc; b += per, slot = (slot + 1) % READ_AHEAD) {
		uint64_t n = c->base_blocks - b < per ? c->base_blocks - b : per;
		while (cookies[slot] > 0) {
			int done = nbd_aio_command_completed(h, cookies[slot]);
			if (done < 0) {
				rc = -EIO;
				break;
			}
			if (done) {
				cookies[slot] = 0;
				break;
			}
			if (nbd_poll(h, -1) < 0) {
				rc = -EIO;
				break;
			}
		}
		if (rc)
			break;
		baseline_fill(o, bufs[slot], b, n);
		cookies[slot] = nbd_aio_pwrite(h, bufs[slot], n * o->block_size, b * o->block_size,
					       NBD_NULL_COMPLETION, 0);
		if (cookies[slot] < 0)
			rc = -EIO;
	}
	for (int i = 0; i < READ_AHEAD; i++) {
		while (!rc && cookies[i] > 0) {
			int done = nbd_aio_command_completed(h, cookies[i]);
			if (done < 0)
				rc = -EIO;
			else if (done)
				cookies[i] = 0;
			else if (nbd_poll(h, -1) < 0)
				rc = -EIO;
		}
	}
	if (!rc && nbd_flush(h, 0) < 0)
		rc = -EIO;
	for (int i = 0; i < READ_AHEAD; i++)
		free(bufs[i]);
	if (rc) {
		agent_log("cannot write baseline to '%s': %s", o->target, nbd_get_error());
		return rc;
	}
	c->last_flush_ns = clock_mono_ns();
	lclient_baseline(0, c->base_blocks, t0, c->last_flush_ns);
	return 0;
}

struct slot {
	struct core *c;
	unsigned char *buf;
	struct witem w;
	int64_t t0;
	bool used;
};

static int inflight_writes;
static bool flush_wanted, flush_inflight;
static uint64_t flush_id, flush_covers;
static int64_t flush_t0;

static int write_done(void *user, int *error)
{
	struct slot *s = user;
	struct core *c = s->c;
	int64_t t1 = clock_mono_ns();

	pthread_mutex_lock(&c->mu);
	inflight_writes--;
	s->used = false;
	if (*error) {
		if (!c->error) {
			c->error = -*error;
			agent_log("write of block %llu failed: %s", (unsigned long long)s->w.block,
				  strerror(*error));
		}
		c->busy[s->w.block] = 0;
		c->stop = true;
	} else if (core_complete(c, &s->w, c->o->flush == FL_FUA, s->t0, t1)) {
		flush_wanted = true;
	}
	pthread_mutex_unlock(&c->mu);
	return 1;
}

static int flush_done(void *user, int *error)
{
	struct core *c = user;

	flush_inflight = false;
	if (*error) {
		pthread_mutex_lock(&c->mu);
		if (!c->error)
			c->error = -*error;
		c->stop = true;
		pthread_mutex_unlock(&c->mu);
		agent_log("flush failed: %s", strerror(*error));
		return 1;
	}
	core_flush_done(c, flush_id, flush_covers, flush_t0);
	return 1;
}

static int start_flush(struct core *c)
{
	pthread_mutex_lock(&c->mu);
	flush_covers = core_flush_begin(c, &flush_id);
	pthread_mutex_unlock(&c->mu);
	flush_t0 = clock_mono_ns();
	flush_wanted = false;
	flush_inflight = true;
	if (nbd_aio_flush(h, (nbd_completion_callback){ .callback = flush_done, .user_data = c }, 0) < 0) {
		flush_inflight = false;
		agent_log("cannot submit flush: %s", nbd_get_error());
		return -EIO;
	}
	return 0;
}

int nbd_write_run(struct core *c)
{
	const struct agent_opts *o = c->o;
	uint32_t qd = o->queue_depth;
	struct slot *slots = calloc(qd, sizeof(*slots));
	bool finishing = false, final_flush = false;
	uint32_t fua = 0;
	int64_t next_timed = clock_mono_ns() + (int64_t)o->flush_ms * 1000000;
	int rc = 0;

	if (!slots)
		return -ENOMEM;
	if (o->flush == FL_FUA) {
		if (nbd_can_fua(h) != 1) {
			agent_log("NBD export '%s' does not support FUA", o->target);
			free(slots);
			return -ENOTSUP;
		}
		fua = LIBNBD_CMD_FLAG_FUA;
	} else if (o->flush != FL_NEVER && nbd_can_flush(h) != 1) {
		agent_log("NBD export '%s' does not support flush", o->target);
		free(slots);
		return -ENOTSUP;
	}
	for (uint32_t i = 0; i < qd; i++) {
		slots[i].c = c;
		if (!(slots[i].buf = malloc(o->block_size))) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (;;) {
		if (o->flush == FL_EVERY_MS && clock_mono_ns() >= next_timed) {
			flush_wanted = true;
			next_timed += (int64_t)o->flush_ms * 1000000;
		}
		if (agent_flush_asked && !finishing) {
			agent_flush_asked = 0;
			finishing = true;
		}
		pthread_mutex_lock(&c->mu);
		bool idle = inflight_writes == 0 && !flush_inflight;
		pthread_mutex_unlock(&c->mu);
		if (finishing && idle && final_flush) {
			pthread_mutex_lock(&c->mu);
			c->stop = true;		/* the last flush completed */
			pthread_mutex_unlock(&c->mu);
		}
		else if (finishing && idle && !c->stop) {
			final_flush = true;
			if ((rc = start_flush(c)))
				break;
		}
		if (flush_wanted && !flush_inflight && !c->stop && !finishing && (rc = start_flush(c)))
			break;
		pthread_mutex_lock(&c->mu);
		for (uint32_t i = 0; i < qd && !finishing; i++) {
			struct slot *s = &slots[i];
			if (s->used)
				continue;
			if (!core_next(c, &s->w, false))
				break;
			s->used = true;
			inflight_writes++;
			pthread_mutex_unlock(&c->mu);
			write_fill(o, s->buf, &s->w);
			s->t0 = clock_mono_ns();
			int64_t ck = nbd_aio_pwrite(h, s->buf, o->block_size, s->w.block * o->block_size,
						    (nbd_completion_callback){ .callback = write_done, .user_data = s },
						    fua);
			pthread_mutex_lock(&c->mu);
			if (ck < 0) {
				agent_log("cannot submit write: %s", nbd_get_error());
				s->used = false;
				inflight_writes--;
				c->busy[s->w.block] = 0;
				c->stop = true;
				if (!c->error)
					c->error = -EIO;
				break;
			}
		}
		bool done = (c->stop || (o->max_writes && c->seq >= o->max_writes)) &&
			    inflight_writes == 0 && !flush_inflight;
		pthread_mutex_unlock(&c->mu);
		if (done)
			break;
		if (nbd_poll(h, o->flush == FL_EVERY_MS ? 1 : 10) < 0) {
			agent_log("NBD connection to '%s' failed: %s", o->target, nbd_get_error());
			rc = -EIO;
			break;
		}
	}
out:
	if (rc == 0)
		rc = c->error;
	else
		drain();
	for (uint32_t i = 0; i < qd; i++)
		free(slots[i].buf);
	free(slots);
	return rc;
}

int nbd_check(const struct agent_opts *o, struct checker *k, uint64_t nblocks)
{
	uint64_t per = CHECK_CHUNK / o->block_size ? CHECK_CHUNK / o->block_size : 1;
	int64_t cookies[CHECK_SLOTS];
	size_t len[CHECK_SLOTS];
	unsigned head = 0, tail = 0, inflight = 0;
	uint64_t next = 0;
	int rc = 0;

	/* Up to READ_AHEAD reads in flight; the decoder holds the other slots. */
	while ((next < nblocks || inflight) && !rc) {
		while (inflight < READ_AHEAD && next < nblocks) {
			unsigned char *buf = checker_slot(k, tail, inflight == 0);
			if (!buf)
				break;
			uint64_t n = nblocks - next < per ? nblocks - next : per;
			len[tail] = n * o->block_size;
			cookies[tail] = nbd_aio_pread(h, buf, len[tail], next * o->block_size,
						      NBD_NULL_COMPLETION, 0);
			if (cookies[tail] < 0) {
				rc = -EIO;
				break;
			}
			next += n;
			tail = (tail + 1) % CHECK_SLOTS;
			inflight++;
		}
		if (rc || !inflight)
			continue;
		for (;;) {
			int done = nbd_aio_command_completed(h, cookies[head]);
			if (done < 0) {
				rc = -EIO;
				break;
			}
			if (done)
				break;
			if (nbd_poll(h, -1) < 0) {
				rc = -EIO;
				break;
			}
		}
		if (rc)
			break;
		checker_slot_ready(k, head, len[head]);
		head = (head + 1) % CHECK_SLOTS;
		inflight--;
	}
	if (rc) {
		agent_log("cannot read '%s': %s", o->target, nbd_get_error());
		drain();
	}
	return rc;
}
