/* The sqlite workload (docs/oracle.md, "File systems: the sqlite workload"): one
 * transaction after another in a real SQLite database on the file system under test,
 * each acknowledged to the ledger (FILESYNC, op commit) once COMMIT returned; and its
 * check after the cut, on a copy of the database (the file system is mounted read-only
 * and a hot journal or WAL needs a writable directory to be recovered). SQLite is
 * linked statically (Debian's libsqlite3-dev ships the archive).
 */
#include "agent.h"
#include "filerec.h"
#include "ledger_proto.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SQL_DB "pc.db"
#define SQL_PAYLOAD 256		/* bytes of each transaction's row */

static int sql_fail(sqlite3 *db, const char *what)
{
	agent_log("sqlite: cannot %s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
	return -EIO;
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : sql_fail(db, sql);
}

int sql_write(const struct agent_opts *o)
{
	char path[4200], pragma[96];
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	unsigned char payload[SQL_PAYLOAD];
	uint64_t txid = 1, commits = 0;
	int64_t t0 = clock_mono_ns(), deadline = o->duration > 0 ? t0 + (int64_t)(o->duration * 1e9) : 0;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", o->target, SQL_DB);
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		rc = sql_fail(db, "open the database");
		goto out;
	}
	snprintf(pragma, sizeof(pragma), "PRAGMA journal_mode=%s",
		 o->sql_journal == FS_JOURNAL_WAL ? "WAL" : "DELETE");
	if ((rc = exec(db, pragma)))
		goto out;
	snprintf(pragma, sizeof(pragma), "PRAGMA synchronous=%s",
		 o->sql_sync == FS_SYNC_SQLITE_FULL ? "FULL" :
		 o->sql_sync == FS_SYNC_SQLITE_EXTRA ? "EXTRA" : "NORMAL");
	if ((rc = exec(db, pragma)) ||
	    (rc = exec(db, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload BLOB NOT NULL,"
		       " crc INTEGER NOT NULL)")))
		goto out;
	if (sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?, ?)", -1, &ins, NULL) != SQLITE_OK) {
		rc = sql_fail(db, "prepare the insert");
		goto out;
	}
	if ((rc = lclient_start(o, 0)))
		goto out;
	while (!agent_signalled && !lclient_failed() && (!o->max_writes || commits < o->max_writes) &&
	       (!deadline || clock_mono_ns() < deadline)) {
		int64_t ts = clock_mono_ns();
		frec_sql_payload(payload, sizeof(payload), o->seed, txid);
		uint32_t crc = rec_crc32c(0, payload, sizeof(payload));
		if ((rc = exec(db, "BEGIN")))
			break;
		sqlite3_bind_int64(ins, 1, (sqlite3_int64)txid);
		sqlite3_bind_blob(ins, 2, payload, sizeof(payload), SQLITE_STATIC);
		sqlite3_bind_int64(ins, 3, crc);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			rc = sql_fail(db, "insert");
			break;
		}
		sqlite3_reset(ins);
		if ((rc = exec(db, "COMMIT")))
			break;
		/* COMMIT returned: the transaction is committed, as durable as the mode says. */
		struct file_ack a = { .seq = txid, .op = FS_OP_COMMIT, .sync = (unsigned)o->sql_sync,
				      .offset = (uint64_t)o->sql_journal, .nbytes = sizeof(payload),
				      .digest = crc, .name = SQL_DB };
		lclient_filesync(&a, ts, clock_mono_ns());
		txid++;
		commits++;
	}
	double secs = (clock_mono_ns() - t0) / 1e9;
	printf("{\"type\":\"sqlite\",\"commits\":%llu,\"seconds\":%.6f,\"dropped\":%llu,\"error\":%d}\n",
	       (unsigned long long)commits, secs, (unsigned long long)lclient_dropped(), rc);
	fflush(stdout);
	int lrc = lclient_finish(rc ? LEDGER_END_ERROR : agent_signalled ? LEDGER_END_SIGNAL : LEDGER_END_DONE,
				 commits, 0, 2000);
	if (!rc && lrc)
		rc = -EPROTO;
out:
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return rc;
}

/* Copy src to dst if src exists; 0, 1 (absent) or a negative errno. */
static int copy_file(const char *src, const char *dst)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), out, rc = 0;
	ssize_t n;

	if (in < 0)
		return errno == ENOENT ? 1 : -errno;
	if ((out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -EIO;
			break;
		}
	if (n < 0)
		rc = -errno;
	close(in);
	close(out);
	return rc;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar((unsigned char)*s < 0x20 ? ' ' : *s);
	}
	putchar('"');
}

/* The sqlcheck line: opened, integrity_check's first line, the ids present as runs,
 * rows that do not match their id. */
int sql_check(const struct agent_opts *o)
{
	static const char *const suffix[] = { "", "-wal", "-journal" };
	const char *tmp = getenv("TMPDIR");
	char dir[256], src[4200], dst[400], integrity[160] = "";
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool opened = false;
	uint64_t bad = 0, run0 = 0, prev = 0;
	bool first = true;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/pc-sql-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	mkdir(tmp && *tmp ? tmp : "/tmp", 01777);
	if (!mkdtemp(dir)) {
		rc = -errno;
		agent_log("cannot create '%s': %s", dir, strerror(-rc));
		return rc;
	}
	for (int i = 0; i < 3 && rc >= 0; i++) {
		snprintf(src, sizeof(src), "%s/%s%s", o->target, SQL_DB, suffix[i]);
		snprintf(dst, sizeof(dst), "%s/%s%s", dir, SQL_DB, suffix[i]);
		rc = copy_file(src, dst);
		if (i == 0 && rc == 1)
			snprintf(integrity, sizeof(integrity), "no database file");
	}
	snprintf(dst, sizeof(dst), "%s/%s", dir, SQL_DB);
	if (rc < 0) {
		snprintf(integrity, sizeof(integrity), "cannot copy: %s", strerror(-rc));
	} else if (!integrity[0] && sqlite3_open_v2(dst, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
		   sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
		opened = true;
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(integrity, sizeof(integrity), "%s", (const char *)sqlite3_column_text(st, 0));
		else
			snprintf(integrity, sizeof(integrity), "%s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		st = NULL;
	} else if (!integrity[0]) {
		snprintf(integrity, sizeof(integrity), "%s", db ? sqlite3_errmsg(db) : "out of memory");
	}
	printf("{\"type\":\"sqlcheck\",\"opened\":%s,\"integrity\":", opened ? "true" : "false");
	json_str(integrity);
	printf(",\"ids\":[");
	if (opened && sqlite3_prepare_v2(db, "SELECT id, payload, crc FROM t ORDER BY id", -1, &st, NULL) == SQLITE_OK) {
		unsigned char want[SQL_PAYLOAD];
		while (sqlite3_step(st) == SQLITE_ROW) {
			uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
			const void *p = sqlite3_column_blob(st, 1);
			frec_sql_payload(want, sizeof(want), o->seed, id);
			if (!p || sqlite3_column_bytes(st, 1) != SQL_PAYLOAD || memcmp(p, want, sizeof(want)) ||
			    (uint32_t)sqlite3_column_int64(st, 2) != rec_crc32c(0, want, sizeof(want))) {
				bad++;
				continue;
			}
			if (!first && id == prev + 1) {
				prev = id;
				continue;
			}
			if (!first)
				printf("[%llu,%llu],", (unsigned long long)run0, (unsigned long long)prev);
			run0 = prev = id;
			first = false;
		}
		if (!first)
			printf("[%llu,%llu]", (unsigned long long)run0, (unsigned long long)prev);
		sqlite3_finalize(st);
	}
	printf("],\"bad_rows\":%llu}\n", (unsigned long long)bad);
	sqlite3_close(db);
	for (int i = 0; i < 3; i++) {
		snprintf(dst, sizeof(dst), "%s/%s%s", dir, SQL_DB, suffix[i]);
		unlink(dst);
	}
	snprintf(dst, sizeof(dst), "%s/%s-shm", dir, SQL_DB);
	unlink(dst);
	rmdir(dir);
	return 0;
}
