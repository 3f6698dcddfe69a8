#!/bin/sh
# Kept disks and the forgetful control, end to end on the simulated fast-tier bench
# (run from the repository root, as make check does):
#  1. a campaign whose disks are kept across cycles ([disk] keep = yes): a raw disk
#     that is the forgetful control (at every power cut a range of blocks durable
#     before the cycle reads back as zeroes) and an honest qcow2 backing chain with
#     cache=directsync. The control's loss is a violation in every cycle, also after
#     the first (only the durable memory can see it then: nothing of the kept disk
#     is baselined again); the honest disk shows none but the second seed's loss of
#     base data (counted apart, as on every chain); the report's cell of the
#     control has violation_cycles equal to its verified cycles and the controls pass;
#  2. the kept images are the same files in every cycle, and a kept disk writes no
#     baseline after its first cycle.
# Database checks go through sqlite3 queries.
set -u
. tests/e2e/e2e.sh
e2e_begin test_keep qemu-storage-daemon nbdkit sqlite3 qemu-img qemu-io
q() { sqlite3 "$db" "$1"; }

cycles=5
sed -e "s|^name = sim-fast|name = keep\nrun_dir = $t/run|" -e "s|^cycles = 1|cycles = $cycles|" \
    rig/benches/sim-fast.ini >"$t/keep.ini"
db=$t/keep.db
"$powercut" run -q --json --db "$db" --set disk.raw.keep=yes --set disk.raw.control=forgetful \
	--set disk.qcow2.keep=yes --set disk.qcow2.cache=directsync "$t/keep.ini" \
	>"$t/keep.json" 2>"$t/keep.err"
rc=$?
[ $rc -eq 0 ] || { tail -20 "$t/keep.err"; fail "campaign exited $rc"; }
[ "$(q "SELECT status || ' ' || controls FROM campaigns")" = "done passed" ] ||
	fail "campaign: $(q 'SELECT status, controls, message FROM campaigns')"
verified=$(q "SELECT COUNT(*) FROM cycles WHERE status IN ('ok', 'violation')")
[ "$verified" = $cycles ] || fail "verified cycles: $verified of $cycles"
caught=$(q "SELECT COUNT(DISTINCT cycle_id) FROM findings WHERE disk = 'raw' AND class = 'violation'")
[ "$caught" = $cycles ] || fail "the forgetful control was caught in $caught of $cycles cycles"
# After the first cycle the forgotten blocks are the kept disk's carried data.
[ "$(q "SELECT COUNT(*) FROM oracle_cycle_result WHERE disk = 2 AND cycle > 1 AND flushed_lost_zero > 0")" = $((cycles - 1)) ] ||
	fail "carried durable data lost without flushed_lost_zero: $(q 'SELECT cycle, flushed_lost_zero FROM oracle_cycle_result WHERE disk = 2')"
# The honest chain (disk 1) may lose its base's data to the overlay, as on every chain
# over the volatile cache (the second seed, oracle_check.durable_cycle set; seen once
# in about 20 runs of this test with cache=directsync: a write in flight at the cut),
# never anything else.
[ "$(q "SELECT COUNT(*) FROM oracle_check WHERE disk = 1 AND violation = 1 AND durable_cycle IS NULL")" = 0 ] ||
	fail "violations on the honest kept qcow2 disk: $(q "SELECT cycle, block, class FROM oracle_check WHERE disk = 1 AND violation = 1")"
# Kept: baselined in the first cycle only (the chain's pass, cycle 0; the raw disk, 1).
[ "$(q "SELECT COUNT(*) FROM oracle_baseline WHERE cycle > 1")" = 0 ] ||
	fail "a kept disk was baselined again: $(q 'SELECT cycle, disk FROM oracle_baseline')"
[ "$(q "SELECT COUNT(DISTINCT cycle) FROM oracle_durable")" -ge 1 ] || fail "no durable memory stored"
# Every cycle after the first flushed before its first write (covers 0).
[ "$(q "SELECT COUNT(DISTINCT cycle) FROM oracle_flush WHERE covers = 0 AND cycle > 1")" = $((cycles - 1)) ] ||
	fail "cycles without the flush before the first write"
ls -d "$t"/*/powercut-kept.*/disk1/disk.qcow2 "$t"/*/powercut-kept.*/disk1/base.qcow2 \
	"$t"/*/powercut-kept.*/disk2/disk.raw >/dev/null 2>&1 ||
	fail "kept images not found: $(ls -R "$t" | head -20)"

"$powercut" report --format json "$db" >"$t/report.json" 2>"$t/report.err" ||
	{ cat "$t/report.err"; fail "powercut report exited $?"; }
js() { sqlite3 :memory: "SELECT $1 FROM (SELECT CAST(readfile('$t/report.json') AS TEXT) AS j)"; }
cell="(SELECT value FROM json_each(j, '\$.cells') WHERE json_extract(value, '\$.disk') = 'raw')"
[ "$(js "json_extract($cell, '\$.violation_cycles') || ' ' || json_extract($cell, '\$.verified_cycles')")" = "$cycles $cycles" ] ||
	fail "report: the forgetful cell: $(js "$cell")"
[ "$(js "json_extract(j, '\$.controls.ok')")" = 1 ] || fail "report: controls not ok"
echo "ok: $cycles kept cycles, the forgetful control caught in every one, the honest kept chain clean"
