/* The oracle tables; see ledger_schema.h. */
#include "ledger_schema.h"

/* The exposure window per disk-cycle (verify.c): the age at the cut of the oldest
 * acknowledged write that was lost. Written only when one was lost and the raw
 * acknowledgements were there to name it. */
#define EXPOSURE_SQL \
	"CREATE TABLE IF NOT EXISTS oracle_exposure (\n" \
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n" \
	"  cut_ns INTEGER NOT NULL, oldest_lost_recv_ns INTEGER NOT NULL,\n" \
	"  exposure_ns INTEGER NOT NULL, lost_acks INTEGER NOT NULL,\n" \
	"  PRIMARY KEY (campaign, cycle, disk)\n" \
	") WITHOUT ROWID;\n"

/* The tables as oracle 1 made them: the store's migration 2, frozen. */
#define SCHEMA_V1 \
	"CREATE TABLE IF NOT EXISTS oracle_campaign_token (\n" \
	"  campaign INTEGER PRIMARY KEY,\n" \
	"  token TEXT NOT NULL,\n" \
	"  seed INTEGER NOT NULL\n" \
	");\n" \
	"CREATE TABLE IF NOT EXISTS oracle_session (\n" \
	"  id INTEGER PRIMARY KEY,\n" \
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n" \
	"  peer TEXT NOT NULL, block_size INTEGER NOT NULL, span_blocks INTEGER NOT NULL,\n" \
	"  seed INTEGER NOT NULL, agent_hello_ns INTEGER NOT NULL, host_hello_ns INTEGER NOT NULL,\n" \
	"  host_end_ns INTEGER, end_reason INTEGER, end_acks INTEGER, end_flushes INTEGER,\n" \
	"  end_dropped INTEGER\n" \
	");\n" \
	"CREATE INDEX IF NOT EXISTS oracle_session_cycle ON oracle_session(campaign, cycle, disk);\n" \
	"CREATE TABLE IF NOT EXISTS oracle_baseline (\n" \
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n" \
	"  first_block INTEGER NOT NULL, nblocks INTEGER NOT NULL,\n" \
	"  submit_ns INTEGER NOT NULL, complete_ns INTEGER NOT NULL, recv_ns INTEGER NOT NULL\n" \
	");\n" \
	"CREATE TABLE IF NOT EXISTS oracle_ack (\n" \
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n" \
	"  block INTEGER NOT NULL, gen INTEGER NOT NULL, flags INTEGER NOT NULL,\n" \
	"  seq INTEGER NOT NULL, ack_index INTEGER NOT NULL,\n" \
	"  submit_ns INTEGER NOT NULL, complete_ns INTEGER NOT NULL, recv_ns INTEGER NOT NULL\n" \
	");\n" \
	"CREATE INDEX IF NOT EXISTS oracle_ack_cycle ON oracle_ack(campaign, cycle, disk);\n" \
	"CREATE TABLE IF NOT EXISTS oracle_flush (\n" \
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n" \
	"  flush_id INTEGER NOT NULL, covers INTEGER NOT NULL,\n" \
	"  submit_ns INTEGER NOT NULL, complete_ns INTEGER NOT NULL, recv_ns INTEGER NOT NULL\n" \
	");\n" \
	"CREATE INDEX IF NOT EXISTS oracle_flush_cycle ON oracle_flush(campaign, cycle, disk);\n" \
	"CREATE TABLE IF NOT EXISTS oracle_gap (\n" \
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n" \
	"  first_ack_index INTEGER NOT NULL, count INTEGER NOT NULL,\n" \
	"  source TEXT NOT NULL, recv_ns INTEGER NOT NULL\n" \
	");\n" \
	"CREATE TABLE IF NOT EXISTS oracle_block_summary (\n" \
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n" \
	"  block INTEGER NOT NULL, newest_acked INTEGER, newest_flushed INTEGER,\n" \
	"  writes INTEGER NOT NULL,\n" \
	"  PRIMARY KEY (campaign, cycle, disk, block)\n" \
	") WITHOUT ROWID;\n" \
	"CREATE TABLE IF NOT EXISTS oracle_check (\n" \
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n" \
	"  block INTEGER NOT NULL, class TEXT NOT NULL, violation INTEGER NOT NULL,\n" \
	"  anomaly INTEGER NOT NULL, newest_acked INTEGER, newest_flushed INTEGER,\n" \
	"  read_min INTEGER, read_max INTEGER, since_flush_ns INTEGER NOT NULL,\n" \
	"  PRIMARY KEY (campaign, cycle, disk, block)\n" \
	") WITHOUT ROWID;\n" \
	"CREATE TABLE IF NOT EXISTS oracle_cycle_result (\n" \
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n" \
	"  blocks INTEGER NOT NULL, ok INTEGER NOT NULL, inflight_persisted INTEGER NOT NULL,\n" \
	"  unflushed_lost_older INTEGER NOT NULL, unflushed_lost_zero INTEGER NOT NULL,\n" \
	"  flushed_lost_older INTEGER NOT NULL, flushed_lost_zero INTEGER NOT NULL,\n" \
	"  torn INTEGER NOT NULL, corrupt INTEGER NOT NULL, misdirected INTEGER NOT NULL,\n" \
	"  violations INTEGER NOT NULL, anomalies INTEGER NOT NULL, gaps INTEGER NOT NULL,\n" \
	"  cut_ns INTEGER NOT NULL, last_flush_ns INTEGER NOT NULL, since_flush_ns INTEGER NOT NULL,\n" \
	"  have_flush INTEGER NOT NULL,\n" \
	"  PRIMARY KEY (campaign, cycle, disk)\n" \
	") WITHOUT ROWID;\n"

/* Oracle 2: sessions grouped by phase (one agent run, with its reconnects), each row
 * naming its session; what was durable when a cycle began (docs/oracle.md). */
#define SCHEMA_V2_ALTER \
	"ALTER TABLE oracle_session ADD COLUMN phase INTEGER;\n" \
	"ALTER TABLE oracle_session ADD COLUMN pass INTEGER NOT NULL DEFAULT 0;\n" \
	"ALTER TABLE oracle_baseline ADD COLUMN session INTEGER;\n" \
	"ALTER TABLE oracle_ack ADD COLUMN session INTEGER;\n" \
	"ALTER TABLE oracle_flush ADD COLUMN session INTEGER;\n" \
	"ALTER TABLE oracle_gap ADD COLUMN session INTEGER;\n" \
	"ALTER TABLE oracle_check ADD COLUMN durable_cycle INTEGER;\n"

#define SCHEMA_DURABLE \
	"CREATE TABLE IF NOT EXISTS oracle_durable (\n" \
	"  campaign INTEGER NOT NULL, disk INTEGER NOT NULL, cycle INTEGER NOT NULL,\n" \
	"  first_block INTEGER NOT NULL, nblocks INTEGER NOT NULL, kind TEXT NOT NULL,\n" \
	"  rec_cycle INTEGER, gen INTEGER, seq INTEGER, sectors TEXT,\n" \
	"  PRIMARY KEY (campaign, disk, cycle, first_block)\n" \
	") WITHOUT ROWID;\n"

const char ledger_schema_v1_sql[] = SCHEMA_V1;
const char ledger_schema_v2_sql[] = SCHEMA_V2_ALTER SCHEMA_DURABLE;
const char ledger_schema_sql[] =
	"CREATE TABLE IF NOT EXISTS oracle_campaign_token (\n"
	"  campaign INTEGER PRIMARY KEY,\n"
	"  token TEXT NOT NULL,\n"
	"  seed INTEGER NOT NULL\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS oracle_session (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n"
	"  peer TEXT NOT NULL, block_size INTEGER NOT NULL, span_blocks INTEGER NOT NULL,\n"
	"  seed INTEGER NOT NULL, agent_hello_ns INTEGER NOT NULL, host_hello_ns INTEGER NOT NULL,\n"
	"  host_end_ns INTEGER, end_reason INTEGER, end_acks INTEGER, end_flushes INTEGER,\n"
	"  end_dropped INTEGER,\n"
	"  phase INTEGER, pass INTEGER NOT NULL DEFAULT 0\n"
	");\n"
	"CREATE INDEX IF NOT EXISTS oracle_session_cycle ON oracle_session(campaign, cycle, disk);\n"
	"CREATE TABLE IF NOT EXISTS oracle_baseline (\n"
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n"
	"  first_block INTEGER NOT NULL, nblocks INTEGER NOT NULL,\n"
	"  submit_ns INTEGER NOT NULL, complete_ns INTEGER NOT NULL, recv_ns INTEGER NOT NULL,\n"
	"  session INTEGER\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS oracle_ack (\n"
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n"
	"  block INTEGER NOT NULL, gen INTEGER NOT NULL, flags INTEGER NOT NULL,\n"
	"  seq INTEGER NOT NULL, ack_index INTEGER NOT NULL,\n"
	"  submit_ns INTEGER NOT NULL, complete_ns INTEGER NOT NULL, recv_ns INTEGER NOT NULL,\n"
	"  session INTEGER\n"
	");\n"
	"CREATE INDEX IF NOT EXISTS oracle_ack_cycle ON oracle_ack(campaign, cycle, disk);\n"
	"CREATE TABLE IF NOT EXISTS oracle_flush (\n"
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n"
	"  flush_id INTEGER NOT NULL, covers INTEGER NOT NULL,\n"
	"  submit_ns INTEGER NOT NULL, complete_ns INTEGER NOT NULL, recv_ns INTEGER NOT NULL,\n"
	"  session INTEGER\n"
	");\n"
	"CREATE INDEX IF NOT EXISTS oracle_flush_cycle ON oracle_flush(campaign, cycle, disk);\n"
	"CREATE TABLE IF NOT EXISTS oracle_gap (\n"
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n"
	"  first_ack_index INTEGER NOT NULL, count INTEGER NOT NULL,\n"
	"  source TEXT NOT NULL, recv_ns INTEGER NOT NULL,\n"
	"  session INTEGER\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS oracle_block_summary (\n"
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n"
	"  block INTEGER NOT NULL, newest_acked INTEGER, newest_flushed INTEGER,\n"
	"  writes INTEGER NOT NULL,\n"
	"  PRIMARY KEY (campaign, cycle, disk, block)\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE IF NOT EXISTS oracle_check (\n"
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n"
	"  block INTEGER NOT NULL, class TEXT NOT NULL, violation INTEGER NOT NULL,\n"
	"  anomaly INTEGER NOT NULL, newest_acked INTEGER, newest_flushed INTEGER,\n"
	"  read_min INTEGER, read_max INTEGER, since_flush_ns INTEGER NOT NULL,\n"
	"  durable_cycle INTEGER,\n"
	"  PRIMARY KEY (campaign, cycle, disk, block)\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE IF NOT EXISTS oracle_cycle_result (\n"
	"  campaign INTEGER NOT NULL, cycle INTEGER NOT NULL, disk INTEGER NOT NULL,\n"
	"  blocks INTEGER NOT NULL, ok INTEGER NOT NULL, inflight_persisted INTEGER NOT NULL,\n"
	"  unflushed_lost_older INTEGER NOT NULL, unflushed_lost_zero INTEGER NOT NULL,\n"
	"  flushed_lost_older INTEGER NOT NULL, flushed_lost_zero INTEGER NOT NULL,\n"
	"  torn INTEGER NOT NULL, corrupt INTEGER NOT NULL, misdirected INTEGER NOT NULL,\n"
	"  violations INTEGER NOT NULL, anomalies INTEGER NOT NULL, gaps INTEGER NOT NULL,\n"
	"  cut_ns INTEGER NOT NULL, last_flush_ns INTEGER NOT NULL, since_flush_ns INTEGER NOT NULL,\n"
	"  have_flush INTEGER NOT NULL,\n"
	"  PRIMARY KEY (campaign, cycle, disk)\n"
	") WITHOUT ROWID;\n"
	SCHEMA_DURABLE
	EXPOSURE_SQL;

/* Migration 7 of the store, for databases made before the table. */
const char ledger_exposure_sql[] = EXPOSURE_SQL;
