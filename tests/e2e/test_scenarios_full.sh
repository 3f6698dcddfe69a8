#!/bin/sh
# Scenario steps on the full tier (the TCG guest of build/guest runs the agents; the
# host speaks to it on its control port, and to QEMU on its monitor), one cycle each:
#  1. flush: write (no flush of its own), flush once (the guest's agents finish with
#     one flush covering every write they had acknowledged), idle, power cut. The
#     guest stays up after the flush (powering off would let QEMU close its images
#     cleanly), so the cut finds QEMU running: a lying disk (it drops what it was
#     told to flush) is caught, the honest qcow2 loses nothing;
#  2. cut:reset, then check: QEMU's system_reset (QMP) resets the machine's devices
#     but not the block layer: what the guest wrote and QEMU acknowledged, even the
#     qcow2 overlay's new clusters whose L2 entries are only in QEMU's metadata cache,
#     is read back by the guest booted again in the same QEMU: nothing lost;
#  3. reboot, cut:reset, cut:kill: a clean guest reboot (the agents stop, sync, the
#     guest reboots: virtio-blk has no cache flush at shutdown, and sync flushes no
#     raw block device) and a reset, then QEMU is killed: the qcow2 overlay's new
#     data rolls back to its backing file, every block written (Blockbridge: qcow2
#     metadata stays volatile "even across guest reboot"), raw keeps every write
#     (the disk model, the host's cache, lives on through a process kill).
#  4. snapshot on lvmthin: after a flush, a thin snapshot as Proxmox's LvmThinPlugin
#     takes one (lvcreate -n snap_VOL_SNAP -pr -s VG/VOL), in the guest where the pool
#     lives; the power cut and the check boot after it find it read-only and skipped
#     by activation (lv_attr Vri---tz-k), thin_check passes, nothing is lost.
#  5. after a kill the full tier's node runs its check boot: a reboot then is refused
#     at run time with the reason, and the cycle is recorded as failed at that step.
# Every step is recorded in order; powercut show tells them.
set -u
. tests/e2e/e2e.sh
e2e_begin test_scenfull qemu-system-x86_64 nbdkit sqlite3 qemu-img
[ -f "$build/guest/vmlinux" ] && [ -f "$build/guest/initrd.cpio" ] ||
	{ echo "skip: no guest in '$build/guest' (make guest)"; exit 77; }
start=$(date +%s)

# the shared simulated bench, with the node on the full tier and an honest cache
{ e2e_full_bench scenfull none no
  cat <<INI
[disk qcow2]
format = qcow2
backing = yes
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
} >"$t/full.ini"
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
con=$(find "$t/pc-"* -name console-1.log | head -n 1)
[ -n "$con" ] && grep -q "^POWERCUT ctl cmd=flush" "$con" && grep -q "^POWERCUT idle status=ok" "$con" &&
	! grep -q "^POWERCUT done mode=write" "$con" || fail "the guest's console: $(grep -a POWERCUT "$con")"
cyc=$(q "SELECT id FROM cycles")
"$powercut" show "$db" "$cyc" >"$t/show" || fail "powercut show"
grep -q "flush .*: ok" "$t/show" && grep -q "idle .*: ok" "$t/show" ||
	{ cat "$t/show"; fail "powercut show does not tell the steps"; }
# 2 and 3: the same bench with an honest raw disk; raw and qcow2 lost counts.
lost() {	# db disk class
	sqlite3 "$1" "SELECT COALESCE(SUM(json_extract(detail_json, '\$.blocks')), 0) FROM findings WHERE
		disk = '$2' AND class = '$3'"
}
written() {	# db disk: the blocks the check step says were written
	sqlite3 "$1" "SELECT json_extract(detail_json, '\$.disks.\"$2\".written') FROM cycle_steps
		WHERE step = 'check'"
}
runs() {	# db scenario [bench]
	rm -rf "$t/run" "$t/pc-"*
	"$powercut" run -q --db "$1" --cycles 1 --set "bench.run_dir=$t/run" --keep \
		--set "campaign.scenario=$2" "${3:-$t/honest.ini}" \
		>"$t/out" 2>"$t/err" || { cat "$t/out" "$t/err"; fail "powercut run: $2"; }
	[ "$(sqlite3 "$1" "SELECT group_concat(result, ' ') FROM cycle_steps")" = \
	  "$(echo "$2" | sed 's/[^ ][^ ]*/ok/g')" ] ||
		{ cat "$t/err"; fail "$2: $(sqlite3 "$1" "SELECT group_concat(step || ':' || result, ' ') FROM cycle_steps")"; }
}
sed 's/^control = lying$/control = none/' "$t/full.ini" >"$t/honest.ini"
db=$t/reset.db
runs "$db" "write:flush=never,duration=30s cut:reset restart check"
[ "$(sqlite3 "$db" "SELECT group_concat(kind || ':' || timed_by) FROM cut_events")" = reset:host ] ||
	fail "reset: cuts $(sqlite3 "$db" "SELECT group_concat(kind) FROM cut_events")"
[ "$(written "$db" qcow2)" -gt 0 ] || fail "reset: nothing written"
for d in qcow2 raw; do
	[ "$(lost "$db" $d unflushed_lost_older)" = 0 ] && [ "$(lost "$db" $d unflushed_lost_zero)" = 0 ] &&
		[ "$(lost "$db" $d violation)" = 0 ] || fail "reset: $d lost data"
done
con=$(find "$t/pc-"* -name console-1.log | head -n 1)
[ "$(grep -c "^POWERCUT ctl boot=idle" "$con")" = 1 ] && grep -q "^POWERCUT ctl cmd=check" "$con" ||
	fail "reset: the guest's console: $(grep -a POWERCUT "$con" | grep -v check-line)"

db=$t/reboot.db
runs "$db" "write:flush=never,duration=30s reboot cut:reset restart cut:kill restart check"
[ "$(sqlite3 "$db" "SELECT group_concat(kind) FROM (SELECT kind FROM cut_events ORDER BY id)")" = reset,kill ] ||
	fail "reboot: cuts $(sqlite3 "$db" "SELECT group_concat(kind) FROM cut_events")"
w=$(written "$db" qcow2)
[ "$w" -gt 0 ] && [ "$(lost "$db" qcow2 unflushed_lost_older)" = "$w" ] ||
	fail "reboot, reset, kill: $(lost "$db" qcow2 unflushed_lost_older) of $w written qcow2 blocks rolled back"
[ "$(lost "$db" raw unflushed_lost_older)" = 0 ] && [ "$(lost "$db" raw unflushed_lost_zero)" = 0 ] ||
	fail "reboot, reset, kill: raw lost data"
con=$(find "$t/pc-"* -name console-1.log | head -n 1)
grep -q "^POWERCUT ctl cmd=reboot" "$con" && grep -q "^POWERCUT reboot status=ok" "$con" &&
	[ "$(grep -c "^POWERCUT ctl boot=idle" "$con")" = 2 ] ||
	fail "reboot: the guest's console: $(grep -a POWERCUT "$con" | grep -v check-line)"
"$powercut" show "$db" 1 >"$t/show" || fail "powercut show (reboot)"
grep -q "reboot .*: ok" "$t/show" && grep -q "cut .*reset" "$t/show" ||
	{ cat "$t/show"; fail "powercut show does not tell the reboot and the reset"; }
# 4. The thin snapshot.
{ sed -e '/^\[disk /,$d' -e 's/^name = scenfull/name = thinsnap/' "$t/full.ini"
  printf '[disk thin]\nformat = lvmthin\ncache = none\nsize = 256M\n'
  sed -n '/^\[workload\]/,$p' "$t/full.ini"; } >"$t/thin.ini"
db=$t/thin.db
runs "$db" "write:flush=never,duration=30s flush snapshot cut:power restart check" "$t/thin.ini"
[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM findings WHERE class IN ('violation', 'unflushed_lost_older',
	'unflushed_lost_zero')")" = 0 ] || fail "thin snapshot: data lost"
con=$(find "$t/pc-"* -name console-1.log | head -n 1)
grep -q "^POWERCUT snapshot status=ok lv=pcvg/snap_thin_cycle1 " "$con" ||
	fail "thin snapshot: the guest's console: $(grep -a POWERCUT "$con")"
con=$(find "$t/pc-"* -name console-2.log | head -n 1)
grep -a "^POWERCUT lvs " "$con" | grep -q '{"lv_name":"snap_thin_cycle1", "vg_name":"pcvg", "lv_attr":"Vri---tz-k"' &&
	grep -q "^POWERCUT lvm op=activate status=ok thin_check=0 " "$con" ||
	fail "thin snapshot: the check boot's lvs: $(grep -a "POWERCUT lv" "$con")"
# 5. A step the node cannot take.
db=$t/bad.db
rm -rf "$t/run" "$t/pc-"*
"$powercut" run -q --db "$db" --cycles 1 --set "bench.run_dir=$t/run" \
	--set "campaign.scenario=write:duration=30s cut:kill restart reboot cut restart check" \
	"$t/honest.ini" >"$t/out" 2>"$t/err"
grep -q "error: 'reboot' needs the write boot's guest up: after a power cut or a kill the full tier's node runs its check boot" "$t/err" ||
	{ cat "$t/out" "$t/err"; fail "a reboot after a kill: no reason given"; }
[ "$(sqlite3 "$db" "SELECT group_concat(step || ':' || result, ' ') FROM (SELECT step, result FROM cycle_steps ORDER BY seq)")" = \
  "write:ok cut:ok restart:ok reboot:No such process" ] && [ "$(sqlite3 "$db" "SELECT status FROM cycles")" = failed ] ||
	fail "a reboot after a kill: $(sqlite3 "$db" "SELECT group_concat(step || ':' || result, ' ') FROM cycle_steps")"
echo "scenarios on the full tier: ok ($(($(date +%s) - start)) s)"
