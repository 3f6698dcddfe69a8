/* Check phase: decode every sector of the span and print the JSON-lines report of
 * docs/oracle.md ("Check report"), merging runs of identical uniform blocks. */
#include "agent.h"
#include "record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_FREE, SLOT_READING, SLOT_READY };

enum skind { S_GEN, S_ZERO, S_BAD, S_FOREIGN };

struct sstate {
	enum skind kind;
	struct rec_id id;	/* S_GEN, S_FOREIGN */
};

struct checker {
	const struct agent_opts *o;
	FILE *out;
	uint64_t nblocks, next_block;
	uint32_t spb;
	struct sstate *s;
	enum rec_kind *kinds;
	struct rec_id *ids;
	/* pending merged run of uniform blocks */
	bool have_run;
	uint64_t run_first, run_n;
	enum skind run_kind;
	uint32_t run_cycle, run_gen;
	uint64_t run_wm, run_seq;
	uint64_t bytes;
	/* decoding pipeline: slots filled by the reader, decoded in order by a thread */
	pthread_t thread;
	bool threaded, quit;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *buf[CHECK_SLOTS];
	size_t len[CHECK_SLOTS];
	int state[CHECK_SLOTS];
	unsigned next_decode;
};

static void *decoder(void *arg);

struct checker *checker_new(const struct agent_opts *o, uint64_t nblocks, void *out_file)
{
	struct checker *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->o = o;
	k->out = out_file;
	k->nblocks = nblocks;
	k->spb = o->block_size / REC_SECTOR;
	k->s = calloc(k->spb, sizeof(*k->s));
	k->kinds = calloc(k->spb, sizeof(*k->kinds));
	k->ids = calloc(k->spb, sizeof(*k->ids));
	if (!k->s || !k->kinds || !k->ids) {
		free(k->s);
		free(k->kinds);
		free(k->ids);
		free(k);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	for (int i = 0; i < CHECK_SLOTS; i++)
		if (posix_memalign((void **)&k->buf[i], 4096, CHECK_CHUNK))
			k->buf[i] = NULL;
	fprintf(k->out, "{\"type\":\"check\",\"version\":2,\"campaign\":%llu,\"cycle\":%u,\"disk\":%u,"
		"\"block_size\":%u,\"span_blocks\":%llu}\n", (unsigned long long)o->campaign, o->cycle,
		o->disk, o->block_size, (unsigned long long)nblocks);
	k->threaded = !pthread_create(&k->thread, NULL, decoder, k);
	return k;
}

static void flush_run(struct checker *k)
{
	if (!k->have_run)
		return;
	if (k->run_kind == S_ZERO)
		fprintf(k->out, "{\"b\":%llu,\"n\":%llu,\"k\":\"zero\"}\n",
			(unsigned long long)k->run_first, (unsigned long long)k->run_n);
	else
		fprintf(k->out, "{\"b\":%llu,\"n\":%llu,\"k\":\"gen\",\"c\":%u,\"g\":%u,\"m\":%llu,"
			"\"q\":%llu}\n", (unsigned long long)k->run_first, (unsigned long long)k->run_n,
			k->run_cycle, k->run_gen, (unsigned long long)k->run_wm,
			(unsigned long long)k->run_seq);
	k->have_run = false;
}

static bool same_state(const struct sstate *a, const struct sstate *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == S_GEN)
		return a->id.cycle == b->id.cycle && a->id.gen == b->id.gen &&
		       a->id.watermark == b->id.watermark && a->id.seq == b->id.seq;
	if (a->kind == S_FOREIGN)
		return a->id.campaign == b->id.campaign && a->id.cycle == b->id.cycle &&
		       a->id.disk == b->id.disk && a->id.block == b->id.block &&
		       a->id.sector == b->id.sector;
	return true;
}

static void print_sectors(struct checker *k, uint64_t block, const char *kind)
{
	static const char *const names[] = { "gen", "zero", "bad", "foreign" };

	fprintf(k->out, "{\"b\":%llu,\"n\":1,\"k\":\"%s\",\"s\":[", (unsigned long long)block, kind);
	for (uint32_t i = 0; i < k->spb;) {
		uint32_t j = i + 1;
		/* Foreign sectors are listed one by one: each names its own origin. */
		while (j < k->spb && k->s[i].kind != S_FOREIGN && same_state(&k->s[i], &k->s[j]))
			j++;
		const struct sstate *s = &k->s[i];
		fprintf(k->out, "%s{\"i\":%u,\"n\":%u,\"k\":\"%s\"", i ? "," : "", i, j - i, names[s->kind]);
		if (s->kind == S_GEN)
			fprintf(k->out, ",\"c\":%u,\"g\":%u,\"m\":%llu,\"q\":%llu", s->id.cycle,
				s->id.gen, (unsigned long long)s->id.watermark,
				(unsigned long long)s->id.seq);
		else if (s->kind == S_FOREIGN)
			fprintf(k->out, ",\"campaign\":%llu,\"cycle\":%u,\"disk\":%u,\"block\":%llu,\"sector\":%u",
				(unsigned long long)s->id.campaign, s->id.cycle, s->id.disk,
				(unsigned long long)s->id.block, s->id.sector);
		fputc('}', k->out);
		i = j;
	}
	fputs("]}\n", k->out);
}

static void check_block(struct checker *k, const unsigned char *p, uint64_t block)
{
	const struct agent_opts *o = k->o;
	bool foreign = false, bad = false, uniform = true;

	rec_decode_many(p, k->spb, o->seed, o->campaign, k->kinds, k->ids);
	for (uint32_t i = 0; i < k->spb; i++) {
		struct sstate *s = &k->s[i];
		s->id = k->ids[i];
		switch (k->kinds[i]) {
		case REC_ZERO:
			s->kind = S_ZERO;
			break;
		case REC_GARBAGE:
			s->kind = S_BAD;
			bad = true;
			break;
		case REC_RECORD:
			if (s->id.campaign != o->campaign || s->id.disk != o->disk || s->id.block != block ||
			    s->id.sector != i || s->id.spb != k->spb || s->id.cycle > o->cycle) {
				s->kind = S_FOREIGN;
				foreign = true;
			} else {
				s->kind = S_GEN;
			}
			break;
		}
		if (i && !same_state(&k->s[0], s))
			uniform = false;
	}
	if (foreign || bad || !uniform) {
		flush_run(k);
		print_sectors(k, block, foreign ? "misdirected" : bad ? "corrupt" : "torn");
		return;
	}
	const struct sstate *s = &k->s[0];
	if (k->have_run && k->run_first + k->run_n == block && k->run_kind == s->kind &&
	    (s->kind == S_ZERO || (k->run_cycle == s->id.cycle && k->run_gen == s->id.gen &&
				   k->run_wm == s->id.watermark && k->run_seq == s->id.seq))) {
		k->run_n++;
		return;
	}
	flush_run(k);
	k->have_run = true;
	k->run_first = block;
	k->run_n = 1;
	k->run_kind = s->kind;
	k->run_cycle = s->id.cycle;
	k->run_gen = s->id.gen;
	k->run_wm = s->id.watermark;
	k->run_seq = s->id.seq;
}

void checker_feed(struct checker *k, const unsigned char *buf, size_t len)
{
	for (size_t off = 0; off + k->o->block_size <= len; off += k->o->block_size)
		check_block(k, buf + off, k->next_block++);
	k->bytes += len;
}

unsigned char *checker_slot(struct checker *k, unsigned slot, bool wait)
{
	unsigned char *b = NULL;

	pthread_mutex_lock(&k->mu);
	while (wait && k->state[slot] != SLOT_FREE)
		pthread_cond_wait(&k->cv, &k->mu);
	if (k->state[slot] == SLOT_FREE && k->buf[slot]) {
		k->state[slot] = SLOT_READING;
		b = k->buf[slot];
	}
	pthread_mutex_unlock(&k->mu);
	return b;
}

void checker_slot_ready(struct checker *k, unsigned slot, size_t len)
{
	if (!k->threaded) {
		checker_feed(k, k->buf[slot], len);
		k->state[slot] = SLOT_FREE;
		return;
	}
	pthread_mutex_lock(&k->mu);
	k->len[slot] = len;
	k->state[slot] = SLOT_READY;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

/* Decodes slots in ring order; stops at quit once nothing is ready. */
static void *decoder(void *arg)
{
	struct checker *k = arg;

	pthread_mutex_lock(&k->mu);
	for (;;) {
		unsigned s = k->next_decode;
		while (k->state[s] != SLOT_READY && !k->quit)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->state[s] != SLOT_READY)
			break;
		pthread_mutex_unlock(&k->mu);
		checker_feed(k, k->buf[s], k->len[s]);
		pthread_mutex_lock(&k->mu);
		k->state[s] = SLOT_FREE;
		k->next_decode = (s + 1) % CHECK_SLOTS;
		pthread_cond_broadcast(&k->cv);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

int checker_finish(struct checker *k, double seconds)
{
	int rc = 0;

	if (k->threaded) {
		pthread_mutex_lock(&k->mu);
		k->quit = true;
		pthread_cond_broadcast(&k->cv);
		pthread_mutex_unlock(&k->mu);
		pthread_join(k->thread, NULL);
	}
	for (int i = 0; i < CHECK_SLOTS; i++)
		free(k->buf[i]);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);

	flush_run(k);
	fprintf(k->out, "{\"type\":\"end\",\"blocks\":%llu,\"bytes\":%llu,\"seconds\":%.6f}\n",
		(unsigned long long)k->next_block, (unsigned long long)k->bytes, seconds);
	if (fflush(k->out) != 0 || ferror(k->out))
		rc = -(errno ? errno : EIO);
	free(k->s);
	free(k->kinds);
	free(k->ids);
	free(k);
	return rc;
}
