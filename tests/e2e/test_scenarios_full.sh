#!/bin/sh
# Scenario steps on the full tier (the TCG guest of build/guest runs the agents), one
# cycle: write (no flush of its own), flush once (the host asks the guest on its
# control port; the guest's agents finish with one flush covering every write they
# had acknowledged), idle, power cut, restart, check. The guest stays up after the
# flush (it does not power off, which would let QEMU close its images cleanly), so
# the cut finds QEMU running: a lying disk (it drops what it was told to flush) is
# caught, the honest qcow2 loses nothing, and every step is recorded in order.
set -u
. tests/e2e/e2e.sh
e2e_begin test_scenfull qemu-system-x86_64 nbdkit sqlite3 qemu-img
[ -f "$build/guest/vmlinux" ] && [ -f "$build/guest/initrd.cpio" ] ||
	{ echo "skip: no guest in '$build/guest' (make guest)"; exit 77; }
start=$(date +%s)

cat >"$t/full.ini" <<INI
[bench]
name = scenfull
[relay]
driver = serial
simulator = yes
sim_mode = realtime
channels = 1
channel = 0
hold_up_ms = 18
rise_ms = 50
timeout_ms = 3000
[node]
driver = qemu
tier = full
boot_delay = 100
writeback = none
tear = no
[disk qcow2]
format = qcow2
cache = none
size = 64M
[disk raw]
format = raw
cache = none
size = 64M
control = lying
[workload]
block_size = 4K
queue_depth = 8
pattern = random
span_mib = 4
flush = every-n
flush_n = 32
[campaign]
cycles = 1
seed = 1
cut = power
off_ms = 300
boot_timeout = 90s
scenario = write:flush=never,duration=30s flush idle:1s cut:power restart check
INI
db=$t/full.db
"$powercut" run -q --db "$db" --cycles 1 --set "bench.run_dir=$t/run" --keep "$t/full.ini" \
	>"$t/out" 2>"$t/err" || { cat "$t/out" "$t/err"; fail "powercut run"; }
q() { sqlite3 "$db" "$1"; }
[ "$(q "SELECT group_concat(step || ':' || result, ' ') FROM (SELECT step, result FROM cycle_steps ORDER BY seq)")" = \
  "write:ok flush:ok idle:ok cut:ok restart:ok check:ok" ] ||
	{ cat "$t/err"; fail "steps: $(q "SELECT group_concat(step || ':' || result, ' ') FROM cycle_steps")"; }
[ "$(q "SELECT status FROM cycles")" = violation ] || fail "the cycle is $(q "SELECT status FROM cycles")"
[ "$(q "SELECT COALESCE(SUM(json_extract(detail_json, '\$.blocks')), 0) FROM findings WHERE disk = 'raw' AND
	class = 'violation'")" -gt 0 ] || fail "the lying disk was not caught"
[ "$(q "SELECT COUNT(*) FROM findings WHERE disk = 'qcow2' AND class IN ('violation',
	'unflushed_lost_older', 'unflushed_lost_zero')")" = 0 ] || fail "the honest qcow2 lost data"
[ "$(q "SELECT COUNT(*) FROM cut_events WHERE kind = 'power'")" = 1 ] || fail "not one power cut"
# The guest's own account (the kept node directory): the flush came on the control
# port, the agents ended, the guest went idle instead of powering off.
con=$(find "$t" -name console-1.log | head -n 1)
[ -n "$con" ] && grep -q "^POWERCUT ctl cmd=flush" "$con" && grep -q "^POWERCUT idle status=ok" "$con" &&
	! grep -q "^POWERCUT done mode=write" "$con" || fail "the guest's console: $(grep -a POWERCUT "$con")"
cyc=$(q "SELECT id FROM cycles")
"$powercut" show "$db" "$cyc" >"$t/show" || fail "powercut show"
grep -q "flush .*: ok" "$t/show" && grep -q "idle .*: ok" "$t/show" ||
	{ cat "$t/show"; fail "powercut show does not tell the steps"; }
echo "scenarios on the full tier: ok ($(($(date +%s) - start)) s)"
