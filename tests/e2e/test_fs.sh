#!/bin/sh
# File systems on the full tier (issue 18; docs/oracle.md, "File systems"): a campaign of
# rig/benches/sim-fs.ini, whose guest makes ext4 or XFS on eight disks and runs the files
# or sqlite workload on them, then checks each file system (e2fsck -fn, xfs_repair -n)
# and verifies every synced file or commit:
#   - ext4 on qcow2 with cache=none (the configuration called safe): no synced file
#     lost, the file system check clean, in every cycle;
#   - ext4 with barrier=0 (no flushes reach the volatile cache): the negative control,
#     synced files lost in some cycle of the campaign;
#   - ext4 on the lying disk (drops flushed writes): caught in every cycle that synced;
#   - XFS on qcow2 and ext4 on an LVM-thin volume (cache=none): checked by xfs_repair -n
#     and e2fsck -fn, clean, nothing synced lost;
#   - SQLite on ext4 on qcow2 cache=none: the database passes integrity_check and no
#     acknowledged commit is lost; WAL with synchronous=NORMAL and DELETE with FULL may
#     roll their last commits back (SQLite documents it: allowed, counted apart; seen
#     for DELETE with FULL in both cycles of a first run), DELETE with EXTRA may not;
#   - the cycle records carry the fs check and the file oracle's summary per disk.
# About 35 s per cycle under TCG.
set -u
. tests/e2e/e2e.sh
e2e_begin test_fs qemu-system-x86_64 qemu-storage-daemon nbdkit sqlite3 qemu-img
[ -r "$build/guest/vmlinux" ] || { echo "skip: no full-tier guest in '$build/guest' (make guest)"; exit 77; }
grep -q '"e2fsprogs"' "$build/guest/manifest.json" 2>/dev/null ||
	{ echo "skip: the guest in '$build/guest' has no e2fsprogs (make guest)"; exit 77; }
db=$t/fs.db
q() { sqlite3 "$db" "$1"; }

start=$(date +%s)
"$powercut" run -q --db "$db" --cycles 2 --set node.guest="$build/guest" rig/benches/sim-fs.ini \
	>"$t/out" 2>"$t/err" || { cat "$t/out" "$t/err"; fail "the campaign failed"; }
[ "$(q "SELECT COUNT(*) FROM cycles")" = 2 ] || fail "cycles: $(q 'SELECT idx, status FROM cycles')"

# qcow2, cache=none: clean and nothing synced lost
[ "$(q "SELECT COUNT(*) FROM checks WHERE disk = 'a-ext4' AND kind = 'fs_check' AND result = 'ok'")" = 2 ] ||
	fail "a-ext4 fs checks: $(q "SELECT result, detail_json FROM checks WHERE disk = 'a-ext4'")"
[ "$(q "SELECT COUNT(*) FROM checks WHERE disk = 'a-ext4' AND kind = 'file_oracle' AND result = 'ok'")" = 2 ] ||
	fail "a-ext4 lost synced files: $(q "SELECT class, detail_json FROM findings WHERE disk = 'a-ext4'")"
[ "$(q "SELECT COUNT(*) FROM findings WHERE disk = 'a-ext4'")" = 0 ] ||
	fail "a-ext4 findings: $(q "SELECT class, detail_json FROM findings WHERE disk = 'a-ext4'")"
names=$(q "SELECT MIN(json_extract(detail_json, '$.synced_names')) FROM checks WHERE disk = 'a-ext4' AND kind = 'file_oracle'")
[ "$names" -ge 1 ] || fail "a-ext4 synced nothing ($names names): the test tests nothing"

# XFS on qcow2 and ext4 on LVM-thin, cache=none: clean, nothing synced lost
for d in g-xfs h-thin-ext4; do
	[ "$(q "SELECT COUNT(*) FROM checks WHERE disk = '$d' AND result = 'ok' AND kind IN ('fs_check', 'file_oracle')")" = 4 ] ||
		fail "$d: $(q "SELECT kind, result, detail_json FROM checks WHERE disk = '$d'") $(q "SELECT class, detail_json FROM findings WHERE disk = '$d'")"
done
[ "$(q "SELECT json_extract(detail_json, '$.tool') FROM checks WHERE disk = 'g-xfs' AND kind = 'fs_check' LIMIT 1")" = xfs_repair ] ||
	fail "g-xfs was not checked by xfs_repair"

# barrier=0: the negative control fires over the campaign
lost=$(q "SELECT COUNT(*) FROM findings WHERE disk = 'b-ext4-nobarrier' AND class IN
	('synced_file_lost', 'synced_file_damaged', 'name_lost', 'fs_check_errors', 'fs_unmountable')")
[ "$lost" -ge 1 ] || fail "ext4 with barrier=0 lost no synced file in 2 cycles"

# the lying disk: caught in every cycle where it synced anything
for c in $(q "SELECT c.id FROM cycles c JOIN checks k ON k.cycle_id = c.id WHERE k.disk = 'c-ext4-lying'
	AND k.kind = 'file_oracle' AND json_extract(k.detail_json, '$.syncs') > 0"); do
	[ "$(q "SELECT COUNT(*) FROM findings WHERE cycle_id = $c AND disk = 'c-ext4-lying' AND class = 'violation'")" -ge 1 ] ||
		fail "the lying disk under ext4 was not caught in cycle $c"
done
# SQLite: integrity and every acknowledged commit, in both modes
for d in d-sqlite-wal-normal e-sqlite-delete-full f-sqlite-delete-extra; do
	[ "$(q "SELECT COUNT(*) FROM checks WHERE disk = '$d' AND kind = 'fs_check' AND result = 'ok'")" = 2 ] ||
		fail "$d fs checks: $(q "SELECT result, detail_json FROM checks WHERE disk = '$d'")"
	[ "$(q "SELECT COUNT(*) FROM findings WHERE disk = '$d' AND class IN ('commit_lost', 'database_corrupt', 'violation')")" = 0 ] ||
		fail "$d lost commits: $(q "SELECT class, detail_json FROM findings WHERE disk = '$d'")"
	n=$(q "SELECT MIN(json_extract(detail_json, '$.commits')) FROM checks WHERE disk = '$d' AND kind = 'file_oracle'")
	[ "${n:-0}" -ge 1 ] || fail "$d committed nothing ($n): the test tests nothing"
done
[ "$(q "SELECT COUNT(*) FROM findings WHERE disk = 'f-sqlite-delete-extra'")" = 0 ] ||
	fail "DELETE with EXTRA rolled commits back: $(q "SELECT class, detail_json FROM findings WHERE disk = 'f-sqlite-delete-extra'")"
rolled=$(q "SELECT COUNT(*) FROM findings WHERE class = 'commit_lost_allowed'")

# the report: cells carry fs and workload_kind, the taxonomy the file classes, and the
# text says per cell whether synced files were lost and what the fs check said
"$powercut" report -q --format=json --output="$t/report.json" "$db" || fail "report failed"
"$powercut" report -q --format=md --output="$t/report.md" "$db" || fail "report failed"
# one JSON query on the report (sqlite3's JSON functions)
cell() {	# disk expression
	sqlite3 :memory: "SELECT $2 FROM json_each(readfile('$t/report.json'), '\$.cells') c
		WHERE json_extract(c.value, '\$.disk') = '$1'"
}
[ "$(cell a-ext4 "json_extract(c.value, '\$.fs') || '/' || json_extract(c.value, '\$.workload_kind')
	|| '/' || json_extract(c.value, '\$.synced_lost_cycles') || '/' ||
	json_extract(c.value, '\$.fs_check_error_cycles') || '/' || json_extract(c.value, '\$.verified_cycles')")" = ext4/files/0/0/2 ] ||
	fail "report cell of a-ext4: $(cell a-ext4 c.value)"
[ "$(cell b-ext4-nobarrier "json_extract(c.value, '\$.synced_lost_cycles') >= 1 AND
	json_extract(c.value, '\$.taxonomy.synced_file_lost.cycles') + json_extract(c.value,
	'\$.taxonomy.synced_file_damaged.cycles') + json_extract(c.value, '\$.taxonomy.name_lost.cycles') >= 1")" = 1 ] ||
	fail "report cell of the barrier=0 control: $(cell b-ext4-nobarrier c.value)"
grep -q "File system ext4, workload files: synced files, names or commits lost in 0 of 2 verified cycles" "$t/report.md" ||
	fail "the report does not state what a-ext4 lost"
[ "$(cell d-sqlite-wal-normal "json_extract(c.value, '\$.workload_kind') || '/' ||
	json_extract(c.value, '\$.synced_lost_cycles') || '/' || json_extract(c.value, '\$.database_corrupt_cycles')")" = sqlite/0/0 ] ||
	fail "report cell of the sqlite disk: $(cell d-sqlite-wal-normal c.value)"
echo "fs: ok, 2 cycles in $(($(date +%s) - start)) s; barrier=0 lost $lost synced file(s);" \
	"WAL+NORMAL or DELETE+FULL rolled back their last commits in $rolled disk-cycle(s) (allowed)"
