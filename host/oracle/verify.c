/* Ledger + check report -> classes. See verify.h. */
#include "verify.h"
#include "ledger.h"
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* One disk of one cycle being verified: its ledger, its blocks, what was read back. */
struct disk_cycle {
	sqlite3 *db;
	uint64_t campaign;
	uint32_t cycle, disk;
	uint32_t block_size;
	uint64_t nblocks;
	struct cls_block *blocks;
	struct cls_ack *acks;
	size_t nacks;
	struct cls_run **arena;		/* every run array, to free */
	size_t narena, carena;
	int64_t last_flush_ns, last_recv_ns, hello_ns;
	bool have_flush;
	int64_t *ack_recv;		/* receipt time of acks[i] (host clock) */
	bool own;			/* the sessions carry a phase: rows are filtered by it */
	int64_t phase;			/* the cycle's own run (ledger_cycle_phase) */
	uint64_t stored_acks, covered;	/* acks held; ack indices accounted for (held or gaps) */
	uint64_t end_acks;		/* the END's count (0: no END) */
	bool pruned;
	bool carry_flushed;		/* a flush of the cycle's own run completed */
	char **strs;			/* sector-run texts, to free */
	size_t nstrs, cstrs;
};

static int q_prepare(struct disk_cycle *x, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v2(x->db, sql, -1, st, NULL) != SQLITE_OK) {
		pc_err(LOG_CHECK, "cannot query the ledger: %s", sqlite3_errmsg(x->db));
		return -EIO;
	}
	sqlite3_bind_int64(*st, 1, (sqlite3_int64)x->campaign);
	sqlite3_bind_int64(*st, 2, x->cycle);
	sqlite3_bind_int64(*st, 3, x->disk);
	if (sqlite3_bind_parameter_count(*st) >= 4) {
		if (x->own)
			sqlite3_bind_int64(*st, 4, x->phase);
		else
			sqlite3_bind_null(*st, 4);
	}
	return 0;
}

static char *keep_str(struct disk_cycle *x, char *s)
{
	if (!s)
		return NULL;
	if (x->nstrs == x->cstrs) {
		size_t c = x->cstrs ? x->cstrs * 2 : 64;
		char **a = realloc(x->strs, c * sizeof(*a));
		if (!a) {
			free(s);
			return NULL;
		}
		x->strs = a;
		x->cstrs = c;
	}
	return x->strs[x->nstrs++] = s;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* The END's count against what the ledger holds: acknowledgements the agent counted
 * but the host never got (a lost tail: no later ack showed the hole) are a gap. */
static int load_tail(struct disk_cycle *x)
{
	sqlite3_stmt *st;

	if (q_prepare(x, &st, "SELECT MAX(end_acks) FROM oracle_session WHERE campaign = ?1 AND"
		      " cycle = ?2 AND disk = ?3 AND (?4 IS NULL OR phase = ?4)"))
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		x->end_acks = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (q_prepare(x, &st, "SELECT IFNULL(MAX(first_ack_index + count), 0), IFNULL(SUM(count), 0)"
		      " FROM oracle_gap WHERE campaign = ?1 AND cycle = ?2 AND disk = ?3" LEDGER_OWN_ROWS))
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t gap_end = (uint64_t)sqlite3_column_int64(st, 0);
		uint64_t gap_sum = (uint64_t)sqlite3_column_int64(st, 1);
		/* Raw rows: the highest index held or missed; a summary: how many. */
		x->covered = x->pruned ? x->stored_acks + gap_sum : max_u64(x->covered, gap_end);
		/* Every index below the watermark of a record is held when nothing is
		 * missing: then the implausible-generation rule may judge it. */
		uint64_t contig = !x->pruned && gap_sum == 0 && x->stored_acks == x->covered ?
				  x->covered : 0;
		for (uint64_t b = 0; b < x->nblocks; b++)
			x->blocks[b].led.acks_contig = contig;
	}
	sqlite3_finalize(st);
	return 0;
}

static int load_session(struct disk_cycle *x)
{
	sqlite3_stmt *st;
	int rc;

	/* The cycle's own run only: a pass written later under the same cycle number (a
	 * backing chain's baseline) is another session (docs/oracle.md, "Sessions"). */
	rc = ledger_cycle_phase(x->db, x->campaign, x->cycle, x->disk, &x->phase);
	if (rc < 0)
		return rc;
	x->own = rc == 1;
	if (q_prepare(x, &st, "SELECT block_size, span_blocks, host_hello_ns FROM oracle_session"
		      " WHERE campaign = ?1 AND cycle = ?2 AND disk = ?3 AND (?4 IS NULL OR"
		      " phase = ?4) ORDER BY id LIMIT 1"))
		return -EIO;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		pc_err(LOG_CHECK, "no ledger session for cycle %u disk %u", x->cycle, x->disk);
		return -ENOENT;
	}
	x->block_size = (uint32_t)sqlite3_column_int64(st, 0);
	x->nblocks = (uint64_t)sqlite3_column_int64(st, 1);
	x->hello_ns = sqlite3_column_int64(st, 2);
	x->last_recv_ns = x->hello_ns;
	sqlite3_finalize(st);
	x->blocks = calloc(x->nblocks ? x->nblocks : 1, sizeof(*x->blocks));
	if (!x->blocks)
		return -ENOMEM;
	for (uint64_t b = 0; b < x->nblocks; b++)
		x->blocks[b].block = b;
	return 0;
}

/* A flush (or a FUA write, or a baseline) completed at host time t. */
static void note_flush(struct disk_cycle *x, int64_t t)
{
	if (!x->have_flush || t > x->last_flush_ns)
		x->last_flush_ns = t;
	x->have_flush = true;
}

/* Baselines: generation 0, written and flushed. */
static int load_baselines(struct disk_cycle *x)
{
	sqlite3_stmt *st;
	int rc;

	if (q_prepare(x, &st, "SELECT first_block, nblocks, recv_ns FROM oracle_baseline"
		      " WHERE campaign = ?1 AND cycle = ?2 AND disk = ?3" LEDGER_OWN_ROWS))
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t f = (uint64_t)sqlite3_column_int64(st, 0), n = (uint64_t)sqlite3_column_int64(st, 1);
		for (uint64_t b = f; b < f + n && b < x->nblocks; b++) {
			x->blocks[b].led.acked = x->blocks[b].led.flushed = true;
			x->blocks[b].led.baselined = true;
		}
		note_flush(x, sqlite3_column_int64(st, 2));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* The flushes: the acknowledgements the newest one covers, and how many there were. */
static int load_flushes(struct disk_cycle *x, uint64_t *covers, uint64_t *flushes)
{
	sqlite3_stmt *st;

	if (q_prepare(x, &st, "SELECT IFNULL(MAX(covers), 0), MAX(recv_ns), COUNT(*) FROM oracle_flush"
		      " WHERE campaign = ?1 AND cycle = ?2 AND disk = ?3" LEDGER_OWN_ROWS))
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*covers = (uint64_t)sqlite3_column_int64(st, 0);
		*flushes = (uint64_t)sqlite3_column_int64(st, 2);
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			note_flush(x, sqlite3_column_int64(st, 1));
	}
	sqlite3_finalize(st);
	return 0;
}

/* Room for one more acknowledgement in x->acks and x->ack_recv. */
static int acks_grow(struct disk_cycle *x, size_t *cap)
{
	if (x->nacks < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 4096;
	struct cls_ack *na = realloc(x->acks, c * sizeof(*na));
	if (!na)
		return -ENOMEM;
	x->acks = na;
	int64_t *nr = realloc(x->ack_recv, c * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	x->ack_recv = nr;
	*cap = c;
	return 0;
}

/* Every acknowledgement, into its block (covers: acknowledgements below it were
 * flushed). Loaded in one pass, growing the array: a COUNT first and a SELECT after
 * could disagree when rows arrive in between (the rows came after the count). */
static int load_acks(struct disk_cycle *x, uint64_t covers)
{
	sqlite3_stmt *st;
	int rc;

	if (q_prepare(x, &st, "SELECT block, gen, flags, ack_index, recv_ns, seq FROM oracle_ack"
		      " WHERE campaign = ?1 AND cycle = ?2 AND disk = ?3" LEDGER_OWN_ROWS " ORDER BY block"))
		return -EIO;
	size_t cap = 0;
	uint64_t max_idx = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t b = (uint64_t)sqlite3_column_int64(st, 0);
		uint32_t gen = (uint32_t)sqlite3_column_int64(st, 1);
		uint32_t flags = (uint32_t)sqlite3_column_int64(st, 2);
		uint64_t idx = (uint64_t)sqlite3_column_int64(st, 3);
		int64_t t = sqlite3_column_int64(st, 4);
		if (t > x->last_recv_ns)
			x->last_recv_ns = t;
		x->stored_acks++;
		if (idx + 1 > max_idx)
			max_idx = idx + 1;
		if (b >= x->nblocks)
			continue;
		if (acks_grow(x, &cap) < 0) {
			sqlite3_finalize(st);
			return -ENOMEM;
		}
		struct cls_block *k = &x->blocks[b];
		x->ack_recv[x->nacks] = t;
		struct cls_ack *a = &x->acks[x->nacks++];
		a->gen = gen;
		a->ack_index = idx;
		a->seq = (uint64_t)sqlite3_column_int64(st, 5);
		k->led.nacks++;
		if (!k->led.acked || gen > k->led.newest_acked)
			k->led.newest_acked = gen;
		k->led.acked = true;
		if ((flags & 1) || idx < covers) {
			if (!k->led.flushed || gen > k->led.newest_flushed)
				k->led.newest_flushed = gen;
			k->led.flushed = true;
			if (flags & 1)
				note_flush(x, t);	/* a FUA write is its own flush */
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -EIO;
	/* Rows come ordered by block: each block's acks are consecutive. */
	size_t pos = 0;
	for (uint64_t b = 0; b < x->nblocks; b++)
		if (x->blocks[b].led.nacks) {
			x->blocks[b].led.acks = &x->acks[pos];
			pos += x->blocks[b].led.nacks;
		}
	x->covered = max_idx;
	return 0;
}

/* After ledger_prune() only the per-block summaries are left. */
static int load_summaries(struct disk_cycle *x)
{
	sqlite3_stmt *st;

	if (q_prepare(x, &st, "SELECT block, newest_acked, newest_flushed, writes FROM"
		      " oracle_block_summary WHERE campaign = ?1 AND cycle = ?2 AND disk = ?3"))
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t b = (uint64_t)sqlite3_column_int64(st, 0);
		x->pruned = true;
		x->stored_acks += (uint64_t)sqlite3_column_int64(st, 3);
		if (b >= x->nblocks)
			continue;
		struct cls_block *k = &x->blocks[b];
		if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
			k->led.acked = true;
			k->led.newest_acked = (uint32_t)sqlite3_column_int64(st, 1);
		}
		if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
			k->led.flushed = true;
			k->led.newest_flushed = (uint32_t)sqlite3_column_int64(st, 2);
		}
	}
	sqlite3_finalize(st);
	return 0;
}

static int load_ledger(struct disk_cycle *x)
{
	uint64_t covers = 0, flushes = 0;
	int rc;

	if ((rc = load_session(x)) || (rc = load_baselines(x)) < 0 ||
	    (rc = load_flushes(x, &covers, &flushes)) < 0 || (rc = load_acks(x, covers)) < 0)
		return rc;
	x->carry_flushed = flushes > 0;
	if (x->nacks == 0 && (rc = load_summaries(x)) < 0)
		return rc;
	return load_tail(x);
}

static void carry_set(struct disk_cycle *x, uint64_t first, uint64_t n, enum cls_carry_kind kind,
		      uint32_t cycle, uint32_t gen, bool have_seq, uint64_t seq, uint32_t from,
		      const char *sectors)
{
	for (uint64_t b = first; b < first + n && b < x->nblocks; b++) {
		struct cls_carry *c = &x->blocks[b].led.carry;
		if (x->blocks[b].led.baselined)
			continue;	/* generation 0 of this cycle replaced it */
		*c = (struct cls_carry){ .kind = kind, .cycle = cycle, .gen = gen, .have_seq = have_seq,
					 .seq = seq, .from = from, .flushed = x->carry_flushed,
					 .sectors = sectors };
	}
}

/* What was durable when the cycle began (docs/oracle.md, "Durable memory"): a pass
 * before it (written as cycle - 1 and marked so: a backing chain's baseline), else
 * the newest read-back oracle_remember() stored for a kept disk. */
static int load_carry(struct disk_cycle *x)
{
	sqlite3_stmt *st;
	int64_t pass = 0;
	bool have_pass = false;
	int rc;

	if (x->cycle == 0)
		return 0;
	if (sqlite3_prepare_v2(x->db, "SELECT MAX(phase) FROM oracle_session WHERE campaign = ?1"
			       " AND cycle = ?2 AND disk = ?3 AND pass = 1", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)x->campaign);
	sqlite3_bind_int64(st, 2, x->cycle - 1);
	sqlite3_bind_int64(st, 3, x->disk);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		pass = sqlite3_column_int64(st, 0);
		have_pass = true;
	}
	sqlite3_finalize(st);
	if (have_pass) {
		static const char *const sqls[] = {
			"SELECT first_block, nblocks, 0, 0 FROM oracle_baseline WHERE campaign = ?1"
			" AND cycle = ?2 AND disk = ?3" LEDGER_OWN_ROWS,
			/* The newest acknowledged write of each block: the pass ended with a
			 * clean stop, so all of them are on the disk. */
			"SELECT block, 1, gen, seq FROM oracle_ack a WHERE campaign = ?1 AND cycle = ?2"
			" AND disk = ?3" LEDGER_OWN_ROWS " AND gen = (SELECT MAX(gen) FROM oracle_ack b"
			" WHERE b.campaign = a.campaign AND b.cycle = a.cycle AND b.disk = a.disk AND"
			" b.block = a.block AND b.session IS a.session)",
		};
		for (int i = 0; i < 2; i++) {
			if (sqlite3_prepare_v2(x->db, sqls[i], -1, &st, NULL) != SQLITE_OK) {
				pc_err(LOG_CHECK, "cannot read the pass before cycle %u: %s", x->cycle,
				       sqlite3_errmsg(x->db));
				return -EIO;
			}
			sqlite3_bind_int64(st, 1, (sqlite3_int64)x->campaign);
			sqlite3_bind_int64(st, 2, x->cycle - 1);
			sqlite3_bind_int64(st, 3, x->disk);
			sqlite3_bind_int64(st, 4, pass);
			while ((rc = sqlite3_step(st)) == SQLITE_ROW)
				carry_set(x, (uint64_t)sqlite3_column_int64(st, 0),
					  (uint64_t)sqlite3_column_int64(st, 1), CLS_C_GEN, x->cycle - 1,
					  (uint32_t)sqlite3_column_int64(st, 2), true,
					  (uint64_t)sqlite3_column_int64(st, 3), x->cycle - 1, NULL);
			sqlite3_finalize(st);
			if (rc != SQLITE_DONE)
				return -EIO;
		}
		return 0;
	}
	if (sqlite3_prepare_v2(x->db, "SELECT first_block, nblocks, kind, rec_cycle, gen, seq, sectors,"
			       " cycle FROM oracle_durable WHERE campaign = ?1 AND disk = ?3 AND cycle ="
			       " (SELECT MAX(cycle) FROM oracle_durable WHERE campaign = ?1 AND disk = ?3"
			       " AND cycle < ?2)", -1, &st, NULL) != SQLITE_OK) {
		pc_err(LOG_CHECK, "cannot read the durable memory of disk %u: %s", x->disk,
		       sqlite3_errmsg(x->db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)x->campaign);
	sqlite3_bind_int64(st, 2, x->cycle);
	sqlite3_bind_int64(st, 3, x->disk);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 2);
		const char *sec = (const char *)sqlite3_column_text(st, 6);
		enum cls_carry_kind kind = !k ? CLS_C_NONE : !strcmp(k, "gen") ? CLS_C_GEN :
					   !strcmp(k, "zero") ? CLS_C_ZERO : CLS_C_DAMAGED;
		carry_set(x, (uint64_t)sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
			  kind, (uint32_t)sqlite3_column_int64(st, 3), (uint32_t)sqlite3_column_int64(st, 4),
			  sqlite3_column_type(st, 5) != SQLITE_NULL, (uint64_t)sqlite3_column_int64(st, 5),
			  (uint32_t)sqlite3_column_int64(st, 7), sec ? keep_str(x, strdup(sec)) : NULL);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static struct cls_run *arena_new(struct disk_cycle *x, size_t n)
{
	if (x->narena == x->carena) {
		size_t c = x->carena ? x->carena * 2 : 1024;
		struct cls_run **a = realloc(x->arena, c * sizeof(*a));
		if (!a)
			return NULL;
		x->arena = a;
		x->carena = c;
	}
	struct cls_run *r = calloc(n, sizeof(*r));
	if (r)
		x->arena[x->narena++] = r;
	return r;
}

static int get_u64(json_t *o, const char *key, uint64_t *v)
{
	json_t *j = json_object_get(o, key);
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return -EINVAL;
	*v = (uint64_t)json_integer_value(j);
	return 0;
}

static int parse_sector_run(json_t *o, struct cls_run *r)
{
	const char *k = json_string_value(json_object_get(o, "k"));
	uint64_t v;

	if (!k)
		return -EINVAL;
	if (!strcmp(k, "gen")) {
		r->kind = CLS_S_GEN;
		if (get_u64(o, "c", &v)) return -EINVAL;
		r->cycle = (uint32_t)v;
		if (get_u64(o, "g", &v)) return -EINVAL;
		r->gen = (uint32_t)v;
		if (get_u64(o, "m", &r->watermark)) return -EINVAL;
		/* Check report 2 names the write (its seq); 1 does not. */
		r->have_seq = !get_u64(o, "q", &r->seq);
	} else if (!strcmp(k, "zero")) {
		r->kind = CLS_S_ZERO;
	} else if (!strcmp(k, "bad")) {
		r->kind = CLS_S_BAD;
	} else if (!strcmp(k, "foreign")) {
		r->kind = CLS_S_FOREIGN;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int parse_report(struct disk_cycle *x, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint64_t lineno = 0, covered = 0;
	bool header = false, end = false;
	int rc = 0;
	uint16_t spb = (uint16_t)(x->block_size / 512);

	while (!rc && (len = getline(&line, &cap, f)) > 0) {
		json_error_t jerr;
		json_t *o = json_loadb(line, (size_t)len, 0, &jerr);
		const char *why = NULL;
		lineno++;
		if (!json_is_object(o)) {
			why = jerr.text;
			goto bad;
		}
		const char *type = json_string_value(json_object_get(o, "type"));
		if (type && !strcmp(type, "check")) {
			uint64_t c, cy, d, bs, sb;
			if (get_u64(o, "campaign", &c) || get_u64(o, "cycle", &cy) || get_u64(o, "disk", &d) ||
			    get_u64(o, "block_size", &bs) || get_u64(o, "span_blocks", &sb)) {
				why = "incomplete header";
				goto bad;
			}
			if (c != x->campaign || cy != x->cycle || d != x->disk || bs != x->block_size ||
			    sb != x->nblocks) {
				why = "report is of another campaign, cycle, disk or span than the ledger";
				goto bad;
			}
			header = true;
		} else if (type && !strcmp(type, "end")) {
			end = true;
		} else if (!header) {
			why = "block line before the header";
			goto bad;
		} else {
			uint64_t b, n;
			const char *k = json_string_value(json_object_get(o, "k"));
			if (get_u64(o, "b", &b) || get_u64(o, "n", &n) || !k || n == 0 ||
			    b != covered || b + n > x->nblocks) {
				why = "bad block run";
				goto bad;
			}
			json_t *s = json_object_get(o, "s");
			struct cls_run *runs;
			size_t nruns;
			if (json_is_array(s)) {
				nruns = json_array_size(s);
				if (!nruns || !(runs = arena_new(x, nruns))) {
					why = "bad sector list";
					goto bad;
				}
				for (size_t i = 0; i < nruns; i++) {
					json_t *e = json_array_get(s, i);
					uint64_t si, sn;
					if (!json_is_object(e) || get_u64(e, "i", &si) || get_u64(e, "n", &sn) ||
					    si + sn > spb || parse_sector_run(e, &runs[i])) {
						why = "bad sector run";
						goto bad;
					}
					runs[i].first = (uint16_t)si;
					runs[i].n = (uint16_t)sn;
				}
			} else {
				nruns = 1;
				if (!(runs = arena_new(x, 1)) || parse_sector_run(o, runs)) {
					why = "bad block kind";
					goto bad;
				}
				runs->first = 0;
				runs->n = spb;
			}
			/* A damaged block's sectors as text: the durable memory keeps it,
			 * and the next check compares its own with it. */
			char *text = json_is_array(s) ? keep_str(x, json_dumps(s, JSON_COMPACT |
							JSON_SORT_KEYS)) : NULL;
			for (uint64_t i = b; i < b + n; i++) {
				x->blocks[i].runs = runs;
				x->blocks[i].nruns = nruns;
				x->blocks[i].sectors = text;
			}
			covered = b + n;
		}
		json_decref(o);
		continue;
bad:
		pc_err(LOG_CHECK, "invalid check report at line %llu: %s", (unsigned long long)lineno,
		       why ? why : "?");
		json_decref(o);
		rc = -EINVAL;
	}
	free(line);
	if (!rc && (!header || !end || covered != x->nblocks)) {
		pc_err(LOG_CHECK, "incomplete check report: %llu of %llu blocks%s",
		       (unsigned long long)covered, (unsigned long long)x->nblocks,
		       end ? "" : ", no end line");
		rc = -EINVAL;
	}
	return rc;
}

/* The exposure window (docs/oracle.md): the receipt time of the oldest acknowledged
 * write that was lost, over the blocks that lost one (generations newer than the
 * oldest version read). Needs the raw acknowledgements: false after ledger_prune(),
 * and when nothing acknowledged was lost. */
static bool oldest_lost_ack(const struct disk_cycle *x, int64_t *recv_ns, uint64_t *nlost)
{
	bool found = false;

	*nlost = 0;
	for (uint64_t b = 0; b < x->nblocks; b++) {
		const struct cls_block *k = &x->blocks[b];
		if (k->cls != CLS_UNFLUSHED_LOST_OLDER && k->cls != CLS_UNFLUSHED_LOST_ZERO &&
		    k->cls != CLS_FLUSHED_LOST_OLDER && k->cls != CLS_FLUSHED_LOST_ZERO &&
		    k->cls != CLS_TORN)
			continue;
		for (size_t i = 0; i < k->led.nacks; i++) {
			const struct cls_ack *a = &k->led.acks[i];
			if ((int64_t)a->gen <= k->vmin)
				continue;
			int64_t t = x->ack_recv[a - x->acks];
			(*nlost)++;
			if (!found || t < *recv_ns)
				*recv_ns = t;
			found = true;
		}
	}
	return found;
}

static int store_results(struct disk_cycle *x, const struct oracle_verify_result *r)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;

	if (sqlite3_exec(x->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	if (q_prepare(x, &st, "DELETE FROM oracle_check WHERE campaign = ?1 AND cycle = ?2 AND disk = ?3") ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto rollback;
	sqlite3_finalize(st);
	st = NULL;
	if (q_prepare(x, &st, "INSERT INTO oracle_check (campaign, cycle, disk, block, class, violation,"
		      " anomaly, newest_acked, newest_flushed, read_min, read_max, since_flush_ns,"
		      " durable_cycle) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"))
		goto rollback;
	for (uint64_t b = 0; b < x->nblocks; b++) {
		const struct cls_block *k = &x->blocks[b];
		if (k->cls == CLS_OK && !k->anomaly)
			continue;
		sqlite3_bind_int64(st, 4, (sqlite3_int64)b);
		sqlite3_bind_text(st, 5, cls_class_name(k->cls), -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 6, k->violation);
		sqlite3_bind_int(st, 7, k->anomaly);
		if (k->led.acked)
			sqlite3_bind_int64(st, 8, k->led.newest_acked);
		else
			sqlite3_bind_null(st, 8);
		if (k->led.flushed)
			sqlite3_bind_int64(st, 9, k->led.newest_flushed);
		else
			sqlite3_bind_null(st, 9);
		if (k->vmin <= k->vmax) {
			sqlite3_bind_int64(st, 10, k->vmin);
			sqlite3_bind_int64(st, 11, k->vmax);
		} else {
			sqlite3_bind_null(st, 10);
			sqlite3_bind_null(st, 11);
		}
		sqlite3_bind_int64(st, 12, r->cycle.since_flush_ns);
		/* The cycle whose data was lost when the loss is of the carried record. */
		if (k->carried_lost)
			sqlite3_bind_int64(st, 13, k->led.carry.cycle);
		else
			sqlite3_bind_null(st, 13);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto rollback;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	st = NULL;
	/* The class columns come from classes.h, one parameter each (?5 onwards). */
#define X(id, name, title, viol, counts) ",?"
	if (q_prepare(x, &st, "INSERT OR REPLACE INTO oracle_cycle_result (campaign, cycle, disk, blocks, "
		      ORACLE_CLASS_COLUMNS "violations, anomalies, gaps, cut_ns, last_flush_ns,"
		      " since_flush_ns, have_flush) VALUES (?1,?2,?3,?4" ORACLE_BLOCK_CLASSES(X)
		      ",?,?,?,?,?,?,?)"))
		goto rollback;
#undef X
	int p = 5 + CLS__COUNT;		/* the parameter after the classes' */
	sqlite3_bind_int64(st, 4, (sqlite3_int64)r->blocks);
	for (int c = 0; c < CLS__COUNT; c++)
		sqlite3_bind_int64(st, 5 + c, (sqlite3_int64)r->cycle.count[c]);
	sqlite3_bind_int64(st, p++, (sqlite3_int64)r->cycle.violations);
	sqlite3_bind_int64(st, p++, (sqlite3_int64)r->cycle.anomalies);
	sqlite3_bind_int64(st, p++, (sqlite3_int64)r->gaps);
	sqlite3_bind_int64(st, p++, r->cycle.cut_ns);
	sqlite3_bind_int64(st, p++, r->cycle.last_flush_ns);
	sqlite3_bind_int64(st, p++, r->cycle.since_flush_ns);
	sqlite3_bind_int(st, p, r->cycle.have_flush);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto rollback;
	sqlite3_finalize(st);
	st = NULL;
	/* A re-classification from pruned summaries cannot name the write: it keeps the
	 * exposure the first classification stored. */
	int64_t oldest = 0;
	uint64_t nlost;
	if (x->nacks && oldest_lost_ack(x, &oldest, &nlost)) {
		if (q_prepare(x, &st, "INSERT OR REPLACE INTO oracle_exposure (campaign, cycle, disk,"
			      " cut_ns, oldest_lost_recv_ns, exposure_ns, lost_acks)"
			      " VALUES (?1,?2,?3,?4,?5,?6,?7)"))
			goto rollback;
		sqlite3_bind_int64(st, 4, r->cycle.cut_ns);
		sqlite3_bind_int64(st, 5, oldest);
		sqlite3_bind_int64(st, 6, r->cycle.cut_ns - oldest);
		sqlite3_bind_int64(st, 7, (sqlite3_int64)nlost);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto rollback;
		sqlite3_finalize(st);
		st = NULL;
	} else if (x->nacks) {
		if (q_prepare(x, &st, "DELETE FROM oracle_exposure WHERE campaign = ?1 AND cycle = ?2"
			      " AND disk = ?3") || sqlite3_step(st) != SQLITE_DONE)
			goto rollback;
		sqlite3_finalize(st);
		st = NULL;
	}
	if (sqlite3_exec(x->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
rollback:
	pc_err(LOG_CHECK, "cannot store check results of cycle %u: %s", x->cycle, sqlite3_errmsg(x->db));
	sqlite3_finalize(st);
	sqlite3_exec(x->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
out:
	pc_err(LOG_CHECK, "cannot store check results of cycle %u: %s", x->cycle, sqlite3_errmsg(x->db));
	return rc;
}

static int each_finding(struct disk_cycle *x, const struct oracle_verify_result *res,
			oracle_finding_fn fn, void *fctx)
{
	for (uint64_t b = 0; b < x->nblocks; b++) {
		const struct cls_block *k = &x->blocks[b];
		if (k->cls == CLS_OK && !k->anomaly)
			continue;
		json_t *o = json_pack("{s:s, s:b, s:b}", "class", cls_class_name(k->cls),
				      "violation", k->violation, "anomaly", k->anomaly);
		if (!o)
			return -ENOMEM;
		json_object_set_new(o, "newest_acked", k->led.acked ? json_integer(k->led.newest_acked) : json_null());
		json_object_set_new(o, "newest_flushed", k->led.flushed ? json_integer(k->led.newest_flushed) : json_null());
		bool have = k->vmin <= k->vmax;
		json_object_set_new(o, "read_min", have ? json_integer(k->vmin) : json_null());
		json_object_set_new(o, "read_max", have ? json_integer(k->vmax) : json_null());
		if (k->carried_lost || k->led.carry.kind == CLS_C_GEN)
			json_object_set_new(o, "durable", json_pack("{s:i,s:i,s:i,s:b}", "cycle",
					    (int)k->led.carry.cycle, "gen", (int)k->led.carry.gen,
					    "read_in", (int)k->led.carry.from, "lost", k->carried_lost));
		if (k->stale)
			json_object_set_new(o, "stale", json_true());
		if (k->implausible)
			json_object_set_new(o, "implausible", json_true());
		char *s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (!s)
			return -ENOMEM;
		int rc = fn(fctx, k, s, res->cycle.since_flush_ns);
		free(s);
		if (rc)
			return rc;
	}
	return 0;
}

static void ctx_release(struct disk_cycle *x)
{
	for (size_t i = 0; i < x->narena; i++)
		free(x->arena[i]);
	free(x->arena);
	for (size_t i = 0; i < x->nstrs; i++)
		free(x->strs[i]);
	free(x->strs);
	free(x->acks);
	free(x->ack_recv);
	free(x->blocks);
}

int oracle_verify(sqlite3 *db, uint64_t campaign, uint32_t cycle, uint32_t disk, FILE *report,
		  int64_t cut_ns, bool store, struct oracle_verify_result *res)
{
	return oracle_verify_each(db, campaign, cycle, disk, report, cut_ns, store, res, NULL, NULL);
}

int oracle_verify_each(sqlite3 *db, uint64_t campaign, uint32_t cycle, uint32_t disk,
		       FILE *report, int64_t cut_ns, bool store, struct oracle_verify_result *res,
		       oracle_finding_fn fn, void *fctx)
{
	struct disk_cycle x = { .db = db, .campaign = campaign, .cycle = cycle, .disk = disk };
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = load_ledger(&x)) || (rc = load_carry(&x)) || (rc = parse_report(&x, report)))
		goto out;
	res->cycle.cycle = cycle;
	res->cycle.spb = (uint16_t)(x.block_size / 512);
	res->cycle.cut_ns = cut_ns ? cut_ns : x.last_recv_ns;
	res->cycle.have_flush = x.have_flush;
	res->cycle.last_flush_ns = x.have_flush ? x.last_flush_ns : x.hello_ns;
	if ((rc = cls_cycle_classify(&res->cycle, x.blocks, x.nblocks))) {
		pc_err(LOG_CHECK, "check report does not cover every sector of a block");
		goto out;
	}
	res->blocks = x.nblocks;
	sqlite3_stmt *st;
	if (!q_prepare(&x, &st, "SELECT IFNULL(SUM(count), 0) FROM oracle_gap WHERE campaign = ?1"
		       " AND cycle = ?2 AND disk = ?3" LEDGER_OWN_ROWS)) {
		if (sqlite3_step(st) == SQLITE_ROW)
			res->gaps = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	/* A lost tail: the END counted acknowledgements the ledger never saw. */
	res->tail_gap = x.end_acks > x.covered ? x.end_acks - x.covered : 0;
	res->gaps += res->tail_gap;
	if (store)
		rc = store_results(&x, res);
	if (!rc && fn)
		rc = each_finding(&x, res, fn, fctx);
out:
	ctx_release(&x);
	return rc;
}

/* One memory row per run of blocks that read back alike. */
static int memory_kind(const struct cls_block *k, const char **kind)
{
	if (k->nruns == 1 && k->runs[0].kind == CLS_S_GEN)
		*kind = "gen";
	else if (k->nruns == 1 && k->runs[0].kind == CLS_S_ZERO)
		*kind = "zero";
	else
		*kind = "damaged";
	return 0;
}

static bool memory_same(const struct cls_block *a, const struct cls_block *b)
{
	const char *ka, *kb;
	memory_kind(a, &ka);
	memory_kind(b, &kb);
	if (strcmp(ka, kb))
		return false;
	if (!strcmp(ka, "gen")) {
		const struct cls_run *x = &a->runs[0], *y = &b->runs[0];
		return x->cycle == y->cycle && x->gen == y->gen && x->have_seq == y->have_seq &&
		       x->seq == y->seq;
	}
	if (!strcmp(ka, "zero"))
		return true;
	return a->sectors && b->sectors && !strcmp(a->sectors, b->sectors);
}

static int store_memory(struct disk_cycle *x)
{
	sqlite3_stmt *del = NULL, *ins = NULL;

	if (sqlite3_exec(x->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	/* The newest two read-backs stay: the next cycle's memory, and this cycle's own,
	 * so that this cycle can be classified again. */
	if (sqlite3_prepare_v2(x->db, "DELETE FROM oracle_durable WHERE campaign = ?1 AND disk = ?3"
			       " AND (cycle = ?2 OR cycle < ?2 - 1)", -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(x->db, "INSERT INTO oracle_durable (campaign, disk, cycle, first_block,"
			       " nblocks, kind, rec_cycle, gen, seq, sectors) VALUES (?1,?3,?2,?4,?5,?6,"
			       "?7,?8,?9,?10)", -1, &ins, NULL) != SQLITE_OK)
		goto rollback;
	sqlite3_bind_int64(del, 1, (sqlite3_int64)x->campaign);
	sqlite3_bind_int64(del, 2, x->cycle);
	sqlite3_bind_int64(del, 3, x->disk);
	if (sqlite3_step(del) != SQLITE_DONE)
		goto rollback;
	sqlite3_bind_int64(ins, 1, (sqlite3_int64)x->campaign);
	sqlite3_bind_int64(ins, 2, x->cycle);
	sqlite3_bind_int64(ins, 3, x->disk);
	for (uint64_t b = 0; b < x->nblocks;) {
		const struct cls_block *k = &x->blocks[b];
		uint64_t e = b + 1;
		const char *kind;
		while (e < x->nblocks && memory_same(k, &x->blocks[e]))
			e++;
		memory_kind(k, &kind);
		sqlite3_bind_int64(ins, 4, (sqlite3_int64)b);
		sqlite3_bind_int64(ins, 5, (sqlite3_int64)(e - b));
		sqlite3_bind_text(ins, 6, kind, -1, SQLITE_STATIC);
		for (int i = 7; i <= 10; i++)
			sqlite3_bind_null(ins, i);
		if (!strcmp(kind, "gen")) {
			sqlite3_bind_int64(ins, 7, k->runs[0].cycle);
			sqlite3_bind_int64(ins, 8, k->runs[0].gen);
			if (k->runs[0].have_seq)
				sqlite3_bind_int64(ins, 9, (sqlite3_int64)k->runs[0].seq);
		} else if (!strcmp(kind, "damaged")) {
			sqlite3_bind_text(ins, 10, k->sectors, -1, SQLITE_STATIC);
		}
		if (sqlite3_step(ins) != SQLITE_DONE)
			goto rollback;
		sqlite3_reset(ins);
		b = e;
	}
	sqlite3_finalize(del);
	sqlite3_finalize(ins);
	if (sqlite3_exec(x->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	del = ins = NULL;
rollback:
	pc_err(LOG_CHECK, "cannot store the durable memory of cycle %u disk %u: %s", x->cycle,
	       x->disk, sqlite3_errmsg(x->db));
	sqlite3_finalize(del);
	sqlite3_finalize(ins);
	sqlite3_exec(x->db, "ROLLBACK", NULL, NULL, NULL);
	return -EIO;
fail:
	pc_err(LOG_CHECK, "cannot store the durable memory of cycle %u disk %u: %s", x->cycle,
	       x->disk, sqlite3_errmsg(x->db));
	return -EIO;
}

int oracle_remember(sqlite3 *db, uint64_t campaign, uint32_t cycle, uint32_t disk, FILE *report)
{
	struct disk_cycle x = { .db = db, .campaign = campaign, .cycle = cycle, .disk = disk };
	int rc;

	if (!(rc = load_session(&x)) && !(rc = parse_report(&x, report)))
		rc = store_memory(&x);
	ctx_release(&x);
	return rc;
}
