/* The file oracle (docs/oracle.md, "File systems"): every class fed exactly its case,
 * and the allowed outcomes (an unacknowledged newer operation) fed theirs; the
 * fscheck report parser on good and bad input; the chunk record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fsverify.h"
#include "record.h"

/* An acknowledgement of op writing chunks [c0, c0+n) of file, leaving len chunks. */
static struct fsv_ack ack(uint64_t seq, unsigned op, uint32_t file, const char *name,
			  uint64_t c0, uint64_t n, uint64_t len, uint32_t digest)
{
	struct fsv_ack a = { .seq = seq, .op = op, .sync = FS_SYNC_FSYNC, .file = file,
			     .offset = c0 * FREC_CHUNK, .nbytes = n * FREC_CHUNK,
			     .length = len * FREC_CHUNK, .digest = digest,
			     .dirsync = op == FS_OP_CREATE || op == FS_OP_RENAME };
	snprintf(a.name, sizeof(a.name), "%s", name);
	return a;
}

static struct fsv_run rec(uint64_t first, uint64_t n, uint32_t file, uint64_t seq)
{
	return (struct fsv_run){ .first = first, .n = n, .kind = FREC_RECORD, .file = file, .seq = seq };
}

static struct fsv_file file(const char *name, uint64_t len, uint32_t digest, struct fsv_run *r,
			    size_t n)
{
	struct fsv_file f = { .length = len * FREC_CHUNK, .digest = digest, .runs = r, .nruns = n };
	snprintf(f.name, sizeof(f.name), "%s", name);
	return f;
}

static struct fsv_seen seen(struct fsv_file *f, size_t n)
{
	return (struct fsv_seen){ .fs = "ext4", .tool = "e2fsck", .mounted = true, .files = f,
				  .nfiles = n, .fsck_raw_rc = -1 };
}

/* Classify; exactly one finding of class want (or none for want < 0). */
static void expect(const struct fsv_ack *a, size_t na, const struct fsv_seen *s, int want)
{
	struct fsv_result r;
	assert_int_equal(fsv_classify(a, na, s, &r), 0);
	if (want < 0) {
		if (r.nfindings)
			fail_msg("unexpected %s: %s", fsv_class_name(r.findings[0].cls), r.findings[0].detail);
		assert_int_equal(r.violations, 0);
	} else {
		assert_int_equal(r.nfindings, 1);
		assert_int_equal(r.findings[0].cls, want);
		assert_int_equal(r.counts[want], 1);
		assert_int_equal(r.violations, 1);
	}
	fsv_result_free(&r);
}

/* f1 created (2 chunks, op 1), appended (op 2: chunk 2), chunk 0 overwritten (op 3). */
static const struct fsv_ack base_acks[] = {
	{ 1, FS_OP_CREATE, FS_SYNC_FSYNC, true, 1, 0, 1024, 1024, 0x11, "f1" },
	{ 2, FS_OP_APPEND, FS_SYNC_FDATASYNC, false, 1, 1024, 512, 1536, 0x22, "f1" },
	{ 3, FS_OP_OVERWRITE, FS_SYNC_OSYNC, false, 1, 0, 512, 1536, 0x33, "f1" },
};

static void test_ok(void **state)
{
	struct fsv_run r[] = { rec(0, 1, 1, 3), rec(1, 1, 1, 1), rec(2, 1, 1, 2) };
	struct fsv_file f = file("f1", 3, 0x33, r, 3);
	struct fsv_seen s = seen(&f, 1);
	expect(base_acks, 3, &s, -1);
	/* Newer unacknowledged operations on top (an append, an overwrite): allowed. */
	struct fsv_run r2[] = { rec(0, 1, 1, 5), rec(1, 1, 1, 1), rec(2, 1, 1, 2), rec(3, 2, 1, 4) };
	f = file("f1", 5, 0x99, r2, 4);
	expect(base_acks, 3, &s, -1);
	/* No acknowledgement at all: nothing is promised. */
	expect(NULL, 0, &s, -1);
}

static void test_fsck_errors(void **state)
{
	struct fsv_run r[] = { rec(0, 1, 1, 3), rec(1, 1, 1, 1), rec(2, 1, 1, 2) };
	struct fsv_file f = file("f1", 3, 0x33, r, 3);
	struct fsv_seen s = seen(&f, 1);
	s.fsck_rc = 4;
	expect(base_acks, 3, &s, FSV_FSCK_ERRORS);
	/* Errors before the journal replay only are not a finding (docs/oracle.md). */
	s.fsck_rc = 0;
	s.fsck_raw_rc = 4;
	expect(base_acks, 3, &s, -1);
}

static void test_unmountable(void **state)
{
	struct fsv_seen s = seen(NULL, 0);
	s.mounted = false;
	expect(base_acks, 3, &s, FSV_UNMOUNTABLE);
}

static void test_file_lost(void **state)
{
	struct fsv_run r[] = { rec(0, 1, 2, 9) };
	struct fsv_file other = file("f2", 1, 0, r, 1);
	struct fsv_seen s = seen(&other, 1);
	expect(base_acks, 3, &s, FSV_FILE_LOST);
	/* Created without its directory sync acknowledged: the name was never promised. */
	struct fsv_ack a = ack(1, FS_OP_CREATE, 1, "f1", 0, 2, 2, 0x11);
	a.dirsync = false;
	expect(&a, 1, &s, -1);
}

static void test_damaged_truncated(void **state)
{
	struct fsv_run r[] = { rec(0, 1, 1, 3), rec(1, 1, 1, 1) };
	struct fsv_file f = file("f1", 2, 0x11, r, 2);
	struct fsv_seen s = seen(&f, 1);
	expect(base_acks, 3, &s, FSV_FILE_DAMAGED);
}

static void test_damaged_rolled_back(void **state)
{
	/* chunk 0 reads op 1's data: the synced overwrite (op 3) is lost */
	struct fsv_run r[] = { rec(0, 2, 1, 1), rec(2, 1, 1, 2) };
	struct fsv_file f = file("f1", 3, 0x22, r, 2);
	struct fsv_seen s = seen(&f, 1);
	expect(base_acks, 3, &s, FSV_FILE_DAMAGED);
}

static void test_damaged_zero_and_garbage(void **state)
{
	struct fsv_run r[] = { rec(0, 1, 1, 3), rec(1, 1, 1, 1),
			       { .first = 2, .n = 1, .kind = FREC_ZERO } };
	struct fsv_file f = file("f1", 3, 0x33, r, 3);
	struct fsv_seen s = seen(&f, 1);
	expect(base_acks, 3, &s, FSV_FILE_DAMAGED);
	r[2].kind = FREC_GARBAGE;
	expect(base_acks, 3, &s, FSV_FILE_DAMAGED);
	r[2].kind = FREC_FOREIGN;
	expect(base_acks, 3, &s, FSV_FILE_DAMAGED);
}

static void test_damaged_digest(void **state)
{
	struct fsv_run r[] = { rec(0, 1, 1, 3), rec(1, 1, 1, 1), rec(2, 1, 1, 2) };
	struct fsv_file f = file("f1", 3, 0x34, r, 3);
	struct fsv_seen s = seen(&f, 1);
	expect(base_acks, 3, &s, FSV_FILE_DAMAGED);
}

static void test_damaged_other_file(void **state)
{
	/* f1 holds file 7's chunks of an operation older than f1's sync */
	struct fsv_run r[] = { rec(0, 3, 7, 2) };
	struct fsv_file f = file("f1", 3, 0x33, r, 1);
	struct fsv_seen s = seen(&f, 1);
	expect(base_acks, 3, &s, FSV_FILE_DAMAGED);
}

/* f2 prepared as t5 (file 5, op 4), renamed over f1 (op 5). */
static const struct fsv_ack rename_acks[] = {
	{ 1, FS_OP_CREATE, FS_SYNC_FSYNC, true, 1, 0, 512, 512, 0x11, "f1" },
	{ 4, FS_OP_PREPARE, FS_SYNC_FSYNC, false, 5, 0, 1024, 1024, 0x55, "t5" },
	{ 5, FS_OP_RENAME, FS_SYNC_FSYNC, true, 5, 0, 0, 1024, 0x55, "f1" },
};

static void test_rename_ok(void **state)
{
	struct fsv_run r[] = { rec(0, 2, 5, 4) };
	struct fsv_file f = file("f1", 2, 0x55, r, 1);
	struct fsv_seen s = seen(&f, 1);
	expect(rename_acks, 3, &s, -1);
	/* before the rename's acknowledgement, t5 and the old f1 are both fine */
	struct fsv_run r1[] = { rec(0, 1, 1, 1) };
	struct fsv_file two[] = { file("f1", 1, 0x11, r1, 1), file("t5", 2, 0x55, r, 1) };
	s = seen(two, 2);
	expect(rename_acks, 2, &s, -1);
}

static void test_name_lost_rename_undone(void **state)
{
	/* the old f1 is back and t5 is still there */
	struct fsv_run r1[] = { rec(0, 1, 1, 1) }, r5[] = { rec(0, 2, 5, 4) };
	struct fsv_file two[] = { file("f1", 1, 0x11, r1, 1), file("t5", 2, 0x55, r5, 1) };
	struct fsv_seen s = seen(two, 2);
	expect(rename_acks, 3, &s, FSV_NAME_LOST);
	/* only the old f1 is back */
	s = seen(two, 1);
	expect(rename_acks, 3, &s, FSV_NAME_LOST);
}

static void test_name_lost_tmp_left(void **state)
{
	struct fsv_run r5[] = { rec(0, 2, 5, 4) };
	struct fsv_file t = file("t5", 2, 0x55, r5, 1);
	struct fsv_seen s = seen(&t, 1);
	expect(rename_acks, 3, &s, FSV_NAME_LOST);
	/* the content under another name (lost+found) */
	t = file("#1234", 2, 0x55, r5, 1);
	expect(rename_acks, 3, &s, FSV_NAME_LOST);
}

static void test_unknown_op(void **state)
{
	struct fsv_ack a = ack(1, 99, 1, "f1", 0, 1, 1, 0);
	struct fsv_seen s = seen(NULL, 0);
	struct fsv_result r;
	assert_int_equal(fsv_classify(&a, 1, &s, &r), -EINVAL);
}

static int parse(const char *text, struct fsv_seen *s)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc = fsv_parse_report(f, "report", s);
	fclose(f);
	return rc;
}

static void test_parse(void **state)
{
	struct fsv_seen s;
	assert_int_equal(parse("{\"type\":\"fscheck\",\"version\":1,\"fs\":\"ext4\",\"tool\":\"e2fsck\","
			       "\"fsck_rc\":0,\"fsck_raw_rc\":1,\"mounted\":true}\n"
			       "{\"type\":\"file\",\"name\":\"f1\",\"length\":1536,\"digest\":51,"
			       "\"runs\":[[0,1,\"record\",1,3],[1,1,\"record\",1,1],[2,1,\"record\",1,2]]}\n"
			       "{\"type\":\"end\",\"files\":1}\n", &s), 0);
	assert_string_equal(s.fs, "ext4");
	assert_int_equal(s.fsck_raw_rc, 1);
	assert_int_equal(s.nfiles, 1);
	assert_int_equal(s.files[0].nruns, 3);
	assert_int_equal(s.files[0].runs[0].seq, 3);
	expect(base_acks, 3, &s, -1);
	fsv_seen_free(&s);
	/* cut short, a bad run kind, a file before the header, not JSON */
	assert_int_equal(parse("{\"type\":\"fscheck\",\"version\":1,\"fs\":\"ext4\",\"tool\":\"e2fsck\","
			       "\"fsck_rc\":0,\"mounted\":true}\n", &s), -EINVAL);
	assert_int_equal(parse("{\"type\":\"fscheck\",\"version\":1,\"fs\":\"ext4\",\"tool\":\"e2fsck\","
			       "\"fsck_rc\":0,\"mounted\":true}\n{\"type\":\"file\",\"name\":\"f1\","
			       "\"length\":512,\"digest\":1,\"runs\":[[0,1,\"odd\"]]}\n", &s), -EINVAL);
	assert_int_equal(parse("{\"type\":\"file\",\"name\":\"f1\",\"length\":0,\"digest\":0,\"runs\":[]}\n",
			       &s), -EINVAL);
	assert_int_equal(parse("nonsense\n", &s), -EINVAL);
}

static void test_chunk_record(void **state)
{
	unsigned char b[FREC_CHUNK];
	struct frec_id id = { .campaign = 5, .cycle = 2, .disk = 1, .file = 9, .chunk = 3, .seq = 77 }, got;
	frec_encode(b, &id, 1234);
	assert_int_equal(frec_decode(b, 1234, 5, 2, 1, &got), FREC_RECORD);
	assert_int_equal(got.file, 9);
	assert_int_equal(got.chunk, 3);
	assert_int_equal(got.seq, 77);
	assert_int_equal(frec_decode(b, 1234, 5, 3, 1, &got), FREC_FOREIGN);
	b[100] ^= 1;
	assert_int_equal(frec_decode(b, 1234, 5, 2, 1, &got), FREC_GARBAGE);
	memset(b, 0, sizeof(b));
	assert_int_equal(frec_decode(b, 1234, 5, 2, 1, &got), FREC_ZERO);
	assert_string_equal(fs_op_name(FS_OP_RENAME), "rename");
	assert_string_equal(fs_sync_name(FS_SYNC_OSYNC), "osync");
	assert_string_equal(fsv_class_name(FSV_NAME_LOST), "name_lost");
}


/* sqlite: commits 1..5 acknowledged in the given mode; the database holds ids. */
static void sql_case(unsigned journal, unsigned sync, uint64_t (*ids)[2], size_t nids,
		     const char *integrity, int want, size_t violations)
{
	struct fsv_ack a[5];
	for (int i = 0; i < 5; i++)
		a[i] = (struct fsv_ack){ .seq = (uint64_t)i + 1, .op = FS_OP_COMMIT, .sync = sync,
					 .offset = journal, .name = "db" };
	struct fsv_seen s = seen(NULL, 0);
	s.sql = (struct fsv_sql){ .present = true, .opened = strcmp(integrity, "unopenable") != 0,
				  .ids = ids, .nids = nids };
	snprintf(s.sql.integrity, sizeof(s.sql.integrity), "%s", integrity);
	struct fsv_result r;
	assert_int_equal(fsv_classify(a, 5, &s, &r), 0);
	assert_int_equal(r.commits, 5);
	if (want < 0) {
		assert_int_equal(r.nfindings, 0);
	} else {
		assert_int_equal(r.nfindings, 1);
		assert_int_equal(r.findings[0].cls, want);
	}
	assert_int_equal(r.violations, violations);
	fsv_result_free(&r);
}

static void test_sql(void **state)
{
	uint64_t all[][2] = { { 1, 7 } }, prefix[][2] = { { 1, 3 } }, hole[][2] = { { 1, 2 }, { 4, 5 } };
	/* every commit there (and two in flight): ok in every mode */
	sql_case(FS_JOURNAL_WAL, FS_SYNC_SQLITE_FULL, all, 1, "ok", -1, 0);
	sql_case(FS_JOURNAL_DELETE, FS_SYNC_SQLITE_NORMAL, all, 1, "ok", -1, 0);
	/* the last two rolled back: allowed for WAL with NORMAL and for DELETE without EXTRA */
	sql_case(FS_JOURNAL_WAL, FS_SYNC_SQLITE_NORMAL, prefix, 1, "ok", FSV_COMMIT_LOST_ALLOWED, 0);
	sql_case(FS_JOURNAL_DELETE, FS_SYNC_SQLITE_NORMAL, prefix, 1, "ok", FSV_COMMIT_LOST_ALLOWED, 0);
	sql_case(FS_JOURNAL_DELETE, FS_SYNC_SQLITE_FULL, prefix, 1, "ok", FSV_COMMIT_LOST_ALLOWED, 0);
	sql_case(FS_JOURNAL_WAL, FS_SYNC_SQLITE_FULL, prefix, 1, "ok", FSV_COMMIT_LOST, 1);
	sql_case(FS_JOURNAL_WAL, FS_SYNC_SQLITE_EXTRA, prefix, 1, "ok", FSV_COMMIT_LOST, 1);
	sql_case(FS_JOURNAL_DELETE, FS_SYNC_SQLITE_EXTRA, prefix, 1, "ok", FSV_COMMIT_LOST, 1);
	/* a hole is never the documented rollback */
	sql_case(FS_JOURNAL_WAL, FS_SYNC_SQLITE_NORMAL, hole, 2, "ok", FSV_COMMIT_LOST, 1);
	/* corrupt, or not even openable */
	sql_case(FS_JOURNAL_WAL, FS_SYNC_SQLITE_FULL, all, 1, "*** in database main *** Page 3 is never used",
		 FSV_DB_CORRUPT, 1);
	sql_case(FS_JOURNAL_WAL, FS_SYNC_SQLITE_FULL, NULL, 0, "unopenable", FSV_DB_CORRUPT, 1);

	struct fsv_seen s;
	assert_int_equal(parse("{\"type\":\"fscheck\",\"version\":1,\"fs\":\"ext4\",\"tool\":\"e2fsck\","
			       "\"fsck_rc\":0,\"mounted\":true}\n{\"type\":\"sqlcheck\",\"opened\":true,"
			       "\"integrity\":\"ok\",\"ids\":[[1,3],[5,9]],\"bad_rows\":0}\n"
			       "{\"type\":\"end\",\"files\":0}\n", &s), 0);
	assert_true(s.sql.present);
	assert_int_equal(s.sql.nids, 2);
	assert_int_equal(s.sql.ids[1][0], 5);
	fsv_seen_free(&s);
	assert_int_equal(parse("{\"type\":\"fscheck\",\"version\":1,\"fs\":\"ext4\",\"tool\":\"e2fsck\","
			       "\"fsck_rc\":0,\"mounted\":true}\n{\"type\":\"sqlcheck\",\"opened\":true,"
			       "\"integrity\":\"ok\",\"ids\":[[1]]}\n{\"type\":\"end\",\"files\":0}\n", &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_fsck_errors),
		cmocka_unit_test(test_unmountable),
		cmocka_unit_test(test_file_lost),
		cmocka_unit_test(test_damaged_truncated),
		cmocka_unit_test(test_damaged_rolled_back),
		cmocka_unit_test(test_damaged_zero_and_garbage),
		cmocka_unit_test(test_damaged_digest),
		cmocka_unit_test(test_damaged_other_file),
		cmocka_unit_test(test_rename_ok),
		cmocka_unit_test(test_name_lost_rename_undone),
		cmocka_unit_test(test_name_lost_tmp_left),
		cmocka_unit_test(test_unknown_op),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_chunk_record),
		cmocka_unit_test(test_sql),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
