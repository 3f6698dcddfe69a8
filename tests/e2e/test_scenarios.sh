#!/bin/sh
# Scenarios end to end on the simulated fast tier (run from the repository root, as
# make check does):
#  1. both seed presets (rig/scenarios/), two cycles each: scripts/seeds says each is
#     reproduced; every step of the blockbridge scenario is recorded in order, with
#     two kill cuts per cycle; the report's JSON cells carry the scenario and the cut;
#  2. the controls of that verdict: blockbridge with its cache=none disk switched to
#     writethrough, and rhbz1029344 with a baseline, are NOT reproduced (exit 1);
#  2b. cut kind reset: new data after a snapshot survives a reset and is lost by a kill
#     after it, as after a clean reboot without a flush;
#  3. a bench without a scenario runs today's cycle (write cut restart check); write,
#     flush once, idle, power cut: a lying disk is caught, an honest one loses nothing;
#  4. a scenario that cannot run stops the campaign before its first cycle (exit 2).
set -u
. tests/e2e/e2e.sh
e2e_begin test_scen qemu-storage-daemon nbdkit sqlite3 qemu-img
start=$(date +%s)

run() {	# db preset cycles [--set ...]
	db=$1 preset=$2 n=$3
	shift 3
	# (the simulated MCU beside QEMU on a busy machine: replies may take seconds)
	"$powercut" run -q --db "$db" --cycles "$n" --set "bench.run_dir=$t/run" \
		--set relay.timeout_ms=3000 "$@" "$preset" \
		>"$t/out" 2>"$t/err" || { cat "$t/out" "$t/err"; fail "powercut run $preset $*"; }
}
q() { sqlite3 "$db" "$1"; }

# 1. The seeds.
db=$t/seeds.db
run "$db" rig/scenarios/blockbridge.ini 2
run "$db" rig/scenarios/rhbz1029344.ini 2
scripts/seeds "$db" >"$t/seeds" || { cat "$t/seeds"; fail "scripts/seeds: the seeds were not reproduced"; }
cat "$t/seeds"
[ "$(grep -c ': reproduced: ' "$t/seeds")" = 2 ] || fail "not one line per seed"
bb=$(q "SELECT id FROM campaigns WHERE bench = 'blockbridge'")
# (a cycle the simulated relay did not answer in time on a loaded machine is recorded
# as failed and does not count for the seeds: the checks below read verified cycles)
ok1=$(q "SELECT MIN(id) FROM cycles WHERE campaign_id = $bb AND status IN ('ok', 'violation')")
[ -n "$ok1" ] || fail "blockbridge: no verified cycle"
[ "$(q "SELECT group_concat(step, ' ') FROM (SELECT step FROM cycle_steps WHERE cycle_id = $ok1
	ORDER BY seq)")" = \
  "fill cut restart snapshot write cut restart check" ] || fail "blockbridge's steps: $(q "SELECT group_concat(step || ':' || result, ' ') FROM cycle_steps")"
[ "$(q "SELECT COUNT(*) FROM cycle_steps s JOIN cycles c ON c.id = s.cycle_id WHERE
	c.campaign_id = $bb AND c.status = 'ok' AND (s.result != 'ok' OR
	s.ended_mono_ns < s.started_mono_ns)")" = 0 ] ||
	fail "a step failed or was not timed"
[ "$(q "SELECT COUNT(*) FROM cut_events WHERE cycle_id = $ok1 AND kind = 'kill'")" = 2 ] ||
	fail "blockbridge: not two kill cuts per cycle"
"$powercut" show "$db" "$ok1" >"$t/show" ||
	fail "powercut show"
grep -q "^   5 write " "$t/show" && grep -q "snapshot .*: ok" "$t/show" ||
	{ cat "$t/show"; fail "powercut show does not tell the steps"; }
"$powercut" report -q --format json "$db" >"$t/report.json" 2>/dev/null || fail "powercut report"
sqlite3 :memory: "SELECT json_extract(value, '\$.scenario') || '|' || json_extract(value, '\$.cut')
	FROM json_each(json_extract(readfile('$t/report.json'), '\$.cells'))
	WHERE json_extract(value, '\$.disk') IN ('qcow2-none', 'qcow2-2m-none')" >"$t/cells"
[ "$(sort "$t/cells" | tr '\n' ';')" = "fill cut:kill restart snapshot write cut:kill restart check|kill;write cut restart check|kill;" ] ||
	fail "report cells: $(cat "$t/cells")"
sqlite3 :memory: "SELECT json_extract(value, '\$.note') FROM json_each(json_extract(readfile('$t/report.json'),
	'\$.cells')) WHERE json_extract(value, '\$.disk') = 'qcow2-2m-none'" | grep -q \
	"^new allocations lost: the image reads as zeroes (in \([1-9][0-9]*\) of \1 verified cycles)$" ||
	fail "report: the rhbz cell does not say the image reads as zeroes"

# 2. The verdict's controls.
db=$t/control.db
run "$db" rig/scenarios/blockbridge.ini 1 --set disk.qcow2-none.cache=writethrough
run "$db" rig/scenarios/rhbz1029344.ini 1 --set workload.baseline=fill
scripts/seeds "$db" >"$t/seeds"
rc=$?
cat "$t/seeds"
[ $rc = 1 ] && [ "$(grep -c ': NOT reproduced: ' "$t/seeds")" = 2 ] ||
	fail "the controls were reproduced (exit $rc)"

# 2b. Cut kind reset (QEMU's system reset, QEMU and the host live on): after a
# snapshot, new data survives a reset (QEMU keeps its qcow2 metadata in memory) and
# is lost by a kill after it (Blockbridge: "volatile ... even across guest reboot").
db=$t/reset.db
run "$db" rig/scenarios/blockbridge.ini 1 --set "campaign.scenario=fill snapshot write cut:reset restart check"
run "$db" rig/scenarios/blockbridge.ini 1 --set "campaign.scenario=fill snapshot write cut:reset restart cut:kill restart check"
f() { q "SELECT COALESCE(SUM(json_extract(f.detail_json, '\$.blocks')), 0) FROM findings f JOIN cycles c ON
	c.id = f.cycle_id WHERE c.campaign_id = $1 AND f.disk = 'qcow2-none' AND f.class = '$2'"; }
w() { q "SELECT json_extract(s.detail_json, '\$.disks.\"qcow2-none\".written') FROM cycle_steps s JOIN cycles c
	ON c.id = s.cycle_id WHERE c.campaign_id = $1 AND s.step = 'check'"; }
# ... and across a clean guest reboot that sends no flush (the guest's direct I/O).
run "$db" rig/scenarios/blockbridge.ini 1 --set "campaign.scenario=fill snapshot write reboot cut:kill restart check"
[ "$(q "SELECT COUNT(*) FROM cycles WHERE status = 'ok'")" = 3 ] || fail "reset: a cycle did not run"
[ "$(q "SELECT group_concat(kind || ':' || timed_by, ' ') FROM (SELECT kind, timed_by FROM cut_events ORDER BY id)")" = \
  "reset:host reset:host kill:host kill:host" ] || fail "reset: cuts $(q "SELECT group_concat(kind) FROM cut_events")"
[ "$(w 3)" -gt 0 ] && [ "$(f 3 unflushed_lost_older)" = "$(w 3)" ] ||
	fail "reboot then kill: $(f 3 unflushed_lost_older) of $(w 3) written blocks rolled back"
[ "$(f 1 unflushed_lost_older)" = 0 ] && [ "$(f 1 unflushed_lost_zero)" = 0 ] ||
	fail "reset alone lost $(f 1 unflushed_lost_older) block(s)"
[ "$(w 2)" -gt 0 ] && [ "$(f 2 unflushed_lost_older)" = "$(w 2)" ] ||
	fail "reset then kill: $(f 2 unflushed_lost_older) of $(w 2) written blocks rolled back"
"$powercut" report -q --format json "$db" >"$t/report.json" 2>/dev/null || fail "powercut report (reset)"
[ "$(sqlite3 :memory: "SELECT COUNT(*) FROM json_each(json_extract(readfile('$t/report.json'), '\$.cells'))
	WHERE json_extract(value, '\$.cut') = 'reset'")" = 4 ] || fail "report: not 4 cells of cut kind reset"

# 3. No scenario: today's cycle.
db=$t/default.db
sed -e "s|^name = sim-fast|name = dflt|" rig/benches/sim-fast.ini >"$t/dflt.ini"
run "$db" "$t/dflt.ini" 1
[ "$(q "SELECT group_concat(step, ' ') FROM (SELECT s.step FROM cycle_steps s JOIN cycles c ON
	c.id = s.cycle_id WHERE c.status = 'ok' ORDER BY s.seq)")" = \
  "write cut restart check" ] || fail "the default scenario: $(q "SELECT group_concat(step, ' ') FROM cycle_steps")"
[ "$(q "SELECT COUNT(*) FROM cut_events e JOIN cycles c ON c.id = e.cycle_id WHERE c.status = 'ok'")" = 1 ] ||
	fail "the default scenario did not cut once"

# 3b. write (its own keys: no flush of its own), flush once, go idle, cut: nothing
# flushed may be lost; a lying disk (it drops what it was told to flush) is caught,
# the honest qcow2 loses nothing.
db=$t/flush.db
run "$db" "$t/dflt.ini" 1 --set "campaign.scenario=write:flush=never flush idle:200ms cut:power restart check" \
	--set disk.raw.control=lying
[ "$(q "SELECT COUNT(*) FROM cycles WHERE status = 'violation'")" = 1 ] ||
	fail "flush: the cycle is $(q "SELECT status FROM cycles")"
[ "$(q "SELECT COALESCE(SUM(json_extract(detail_json, '\$.blocks')), 0) FROM findings WHERE disk = 'raw' AND
	class = 'violation'")" -gt 0 ] || fail "flush: the lying disk was not caught"
[ "$(q "SELECT COUNT(*) FROM findings WHERE disk = 'qcow2' AND class IN ('violation',
	'unflushed_lost_older', 'unflushed_lost_zero')")" = 0 ] || fail "flush: the honest qcow2 lost data"
[ "$(q "SELECT group_concat(step, ' ') FROM (SELECT step FROM cycle_steps ORDER BY seq)")" = \
  "write flush idle cut restart check" ] || fail "flush: steps $(q "SELECT group_concat(step) FROM cycle_steps")"

# 4. A scenario that cannot run.
db=$t/bad.db
"$powercut" run -q --db "$db" --cycles 1 --set "bench.run_dir=$t/run" \
	--set "campaign.scenario=write cut check" rig/scenarios/rhbz1029344.ini >"$t/out" 2>"$t/err"
rc=$?
[ $rc = 2 ] || fail "a bad scenario: exit $rc, expected 2"
grep -q "scenario: step 3 'check': the node is down after the cut: restart first" "$t/err" ||
	fail "a bad scenario's message: $(cat "$t/err")"
[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM cycles" 2>/dev/null || echo 0)" = 0 ] ||
	fail "a bad scenario ran a cycle"
echo "scenarios: ok ($(($(date +%s) - start)) s)"
