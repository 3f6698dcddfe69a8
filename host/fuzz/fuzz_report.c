/* libFuzzer target: the agent's check-report parser (JSON lines, docs/oracle.md
 * "Check report") and the classification it feeds, against a small ledger: one
 * session of 64 blocks with acknowledgements, a flush and a gap, made once. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ledger_schema.h"
#include "log.h"
#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *db;

static void setup(void)
{
	log_set_level(LOG_ERROR - 1);
	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL) != SQLITE_OK)
		abort();
	char sql[4096];
	int n = snprintf(sql, sizeof(sql),
		"INSERT INTO oracle_session (campaign, cycle, disk, peer, block_size, span_blocks,"
		" seed, agent_hello_ns, host_hello_ns) VALUES (1, 2, 1, 'fuzz', 4096, 64, 1, 1, 1);"
		"INSERT INTO oracle_flush (campaign, cycle, disk, flush_id, covers, submit_ns,"
		" complete_ns, recv_ns) VALUES (1, 2, 1, 1, 20, 100, 200, 300);"
		"INSERT INTO oracle_gap (campaign, cycle, disk, first_ack_index, count, source, recv_ns)"
		" VALUES (1, 2, 1, 40, 2, 'host', 400);");
	for (int i = 0; i < 48 && n < (int)sizeof(sql) - 300; i++)
		if (i < 40 || i >= 42)
			n += snprintf(sql + n, sizeof(sql) - (size_t)n,
				"INSERT INTO oracle_ack (campaign, cycle, disk, block, gen, flags, seq,"
				" ack_index, submit_ns, complete_ns, recv_ns) VALUES"
				" (1, 2, 1, %d, %d, 0, %d, %d, %d, %d, %d);",
				i % 32, i / 32 + 1, i, i, 10 * i, 10 * i + 5, 10 * i + 6);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oracle_verify_result res;

	if (!db)
		setup();
	FILE *f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	oracle_verify(db, 1, 2, 1, f, 0, false, &res);
	fclose(f);
	return 0;
}
