/* The ledger: the host's TCP server that receives powercut-agent's acknowledgements and
 * flush completions (protocol in docs/oracle.md) and stores them in the campaign
 * database, one transaction per batch of frames read from a connection.
 *
 *   struct ledger_config cfg = { .addr = "127.0.0.1", .campaign = 1, .token = tok, .cycle = 0 };
 *   struct ledger *l = ledger_open(&cfg, "campaign.db");   // port 0: ephemeral
 *   ledger_start(l);                 // serve from a thread
 *   ... tell the agent 127.0.0.1:ledger_port(l) ...
 *   ledger_set_cycle(l, 1);          // before the next cycle's agent connects
 *   ledger_quiesce(l, 50, 2000);     // after a cut: wait until it went quiet
 *   ledger_stop(l); ledger_free(l);
 *
 * Frames received within 10 ms (or until the input goes quiet) are committed in one
 * transaction: a committed batch survives a crash of the host process; frames of a
 * batch not yet committed do not. ledger_quiesce() returns only after a commit.
 *
 * The tables must exist (ledger_schema.h, applied by the store's migrations). The
 * ledger opens its own SQLite connection to db_path (busy timeout 5 s), so it may run
 * in its own thread next to the store's connection. Malformed or unauthenticated input
 * is logged (LOG_LEDGER) with the peer and the byte offset, and only that connection is
 * closed.
 */
#ifndef PC_LEDGER_H
#define PC_LEDGER_H

#include <stdint.h>
#include <sqlite3.h>

struct ledger_config {
	const char *addr;	/* address to bind; NULL means 127.0.0.1 */
	uint16_t port;		/* 0: an ephemeral port (see ledger_port) */
	uint64_t campaign;	/* the only campaign accepted */
	const char *token;	/* the campaign's token (1..255 bytes); copied */
	uint32_t cycle;		/* the cycle accepted now (ledger_set_cycle changes it) */
	/* Connection policy against lock-out (0: the default in brackets). A connection
	 * must complete its hello within hello_ms [2000] and an authenticated one must
	 * send something every idle_ms [60000], or it is closed. At most
	 * LEDGER_PEER_PENDING connections of one peer address wait for their hello; a
	 * new one evicts that peer's oldest. When all LEDGER_MAX_CONNS slots are taken,
	 * a new connection evicts the oldest one still without a hello; only when every
	 * slot is authenticated is it refused. */
	int hello_ms, idle_ms;
};

#define LEDGER_MAX_CONNS 256
#define LEDGER_PEER_PENDING 16

#define LEDGER_STAT_DISKS 16

struct ledger_stats {
	uint64_t connections;	/* accepted */
	uint64_t rejected;	/* connections closed for bad input */
	uint64_t hello_timeouts;	/* closed: no complete hello in time */
	uint64_t idle_timeouts;		/* closed: authenticated but silent too long */
	uint64_t evicted;	/* closed without a hello to make room for a new one */
	uint64_t refused;	/* new connections closed: every slot authenticated */
	uint64_t frames;
	uint64_t acks;
	uint64_t flushes;
	uint64_t batches;	/* committed transactions */
	uint64_t gaps;		/* ack indices missing (reported or detected) */
	/* acked_cycle: the cycle of the newest acknowledgement or flush. In it, per disk
	 * id d: bit d of acked_disks (d < 64) once d has an acknowledgement stored, and
	 * (d < LEDGER_STAT_DISKS) its acknowledgements and completed flushes. */
	uint32_t acked_cycle;
	uint64_t acked_disks;
	uint64_t disk_acks[LEDGER_STAT_DISKS];
	uint64_t disk_flushes[LEDGER_STAT_DISKS];
};

/* Bind, listen and open the database. NULL with errno set on failure (logged). */
struct ledger *ledger_open(const struct ledger_config *cfg, const char *db_path);
uint16_t ledger_port(const struct ledger *l);
/* Accept only hellos and frames of this cycle from now on (thread-safe). Connections
 * of an earlier cycle are closed at their next frame. */
void ledger_set_cycle(struct ledger *l, uint32_t cycle);
/* As ledger_set_cycle, for a pass before cycle + 1 (a backing chain's baseline, written
 * as `cycle`): its sessions are marked so, and are never taken for that cycle's own. */
void ledger_set_pass(struct ledger *l, uint32_t cycle);
/* Serve for at most timeout_ms (single-threaded use). Returns the number of frames
 * stored, or a negative errno on a fatal error (database, poll). */
int ledger_poll(struct ledger *l, int timeout_ms);
/* Serve from a background thread until ledger_stop(). */
int ledger_start(struct ledger *l);
int ledger_stop(struct ledger *l);
/* Wait (with the thread running, or polling itself otherwise) until no frame arrived
 * for quiet_ms, at most max_ms. Returns 0, or -ETIMEDOUT. */
int ledger_quiesce(struct ledger *l, int quiet_ms, int max_ms);
void ledger_get_stats(struct ledger *l, struct ledger_stats *st);
/* Stop the thread if running, close connections, the socket and the database. */
void ledger_free(struct ledger *l);

/* Record a campaign's token and seed (insert or replace). Returns 0 or -EIO. */
int ledger_campaign_register(sqlite3 *db, uint64_t campaign, const char *token, uint64_t seed);

/* The phase of cycle's own run on disk (its first sessions that are not a pass):
 * 1 and *phase, 0 when the sessions carry no phase (a database of oracle 1) or there
 * are none, -EIO. */
int ledger_cycle_phase(sqlite3 *db, uint64_t campaign, uint32_t cycle, uint32_t disk,
		       int64_t *phase);
/* SQL that keeps a row of (?1 campaign, ?2 cycle, ?3 disk) only when it belongs to
 * the run of phase ?4; ?4 NULL keeps every row (oracle 1 rows name no session). */
#define LEDGER_OWN_ROWS " AND (?4 IS NULL OR session IN (SELECT id FROM oracle_session" \
	" WHERE campaign = ?1 AND cycle = ?2 AND disk = ?3 AND phase = ?4))"

/* After a cycle was classified: replace its raw acknowledgements of one disk by one
 * oracle_block_summary row per block (newest acknowledged and flushed generation,
 * number of writes), in one transaction. Returns the number of rows pruned, or -EIO. */
int64_t ledger_prune(sqlite3 *db, uint64_t campaign, uint32_t cycle, uint32_t disk);

#endif
