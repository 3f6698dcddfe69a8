/* The oracle's tables (docs/oracle.md, "Storage"), as one SQL string that the store
 * applies as a migration (defined in ledger_schema.c). Idempotent (IF NOT EXISTS), so tests may run it directly.
 * Times: *_ns columns ending in agent-clock fields are the agent's CLOCK_MONOTONIC;
 * recv_ns and host_* are the host's CLOCK_MONOTONIC.
 */
#ifndef PC_LEDGER_SCHEMA_H
#define PC_LEDGER_SCHEMA_H

/* The current tables, for a new database (tests). */
extern const char ledger_schema_sql[];
/* The store's migrations: the tables of oracle 1, then what oracle 2 adds to them. */
extern const char ledger_schema_v1_sql[];
extern const char ledger_schema_v2_sql[];
/* oracle_exposure alone (also in ledger_schema_sql): the store's migration 7. */
extern const char ledger_exposure_sql[];

#endif
