#!/bin/sh
# Crash-state exploration end to end on the simulated fast tier (run from the
# repository root, as make check does; docs/explore.md):
#  1. one recorded cycle of four disks with [campaign] explore: a lying control, a safe
#     control (raw directsync), qcow2 cache=none with lazy_refcounts under a flushing
#     workload, qcow2 writethrough. The lying control's recording must show violations
#     in some explored state; the other three none, and no metadata failure (a
#     violation on qcow2 cache=none would be a finding: see docs/explore.md);
#  2. powercut explore --json on one disk, its counts equal to its rows;
#  3. the smallest violating state of the lying disk exported as an image file: the
#     agent reads it back and powercut verify finds the violation in it (the recipe
#     reproduces);
#  4. bad input: a write log with a damaged entry is refused naming the entry and its
#     byte; a log cut inside its last entry still explores, saying the entry was
#     dropped; usage errors;
#  5. a process-kill cut: what the recorder logged after it is left out.
set -u
. tests/e2e/e2e.sh
e2e_begin test_explore qemu-storage-daemon nbdkit sqlite3 qemu-img
db=$t/c.db
q() { sqlite3 "$db" "$1"; }

{ e2e_fast_bench explore-test; cat <<EOT
[disk lying]
format = raw
cache = none
size = 64M
control = lying
record = yes

[disk safe]
format = raw
cache = directsync
size = 64M
control = safe
record = yes

[disk qnone]
format = qcow2
cache = none
size = 64M
lazy_refcounts = yes
record = yes

[disk qwt]
format = qcow2
cache = writethrough
size = 64M
record = yes

[workload]
block_size = 4K
queue_depth = 8
pattern = random
span_mib = 4
flush = every-n
flush_n = 32

[campaign]
cycles = 1
seed = 17
cut = power
window_min_ms = 300
window_max_ms = 500
off_ms = 200
boot_timeout = 60s
explore = 40
EOT
} >"$t/b.ini"

start=$(date +%s)
# 1. The campaign records and explores its cycle.
"$powercut" run -q --db "$db" "$t/b.ini" >"$t/run.out" 2>"$t/run.err" && [ -z "$(q "SELECT 1 FROM cycles WHERE status = 'failed'")" ] ||
	{ cat "$t/run.err"; fail "campaign exited $?"; }
[ "$(q "SELECT COUNT(*) FROM explore_run")" = 4 ] ||
	fail "explored runs: $(q 'SELECT disk, states FROM explore_run')"
for d in lying safe qnone qwt; do
	[ -s "$db.rec/campaign-1/cycle-1/$d/writes.wlog" ] || fail "no recording of '$d'"
	n=$(q "SELECT COUNT(*) FROM explore_state s JOIN explore_run r ON r.id = s.run_id WHERE r.disk = '$d'")
	[ "$n" -ge 30 ] || fail "disk '$d': only $n states explored"
	[ "$n" = "$(q "SELECT states FROM explore_run WHERE disk = '$d'")" ] ||
		fail "disk '$d': explore_run.states is not its row count"
	# Every kind that exists in the recording was explored (with directsync or
	# writethrough nothing is left after the last flush to choose subsets from).
	for k in boundary prefix subset torn; do
		c=$(q "SELECT json_extract(candidates_json, '$.$k.candidates') FROM explore_run WHERE disk = '$d'")
		e=$(q "SELECT COUNT(*) FROM explore_state s JOIN explore_run r ON r.id = s.run_id WHERE r.disk = '$d' AND s.kind = '$k'")
		[ "$c" = 0 ] || [ "$e" -ge 1 ] || fail "disk '$d': no $k state explored of $c"
	done
done
# A lying disk made nothing durable: every write of its recording is a subset candidate.
[ "$(q "SELECT COUNT(DISTINCT kind) FROM explore_state s JOIN explore_run r ON r.id = s.run_id WHERE r.disk = 'lying'")" = 4 ] ||
	fail "disk 'lying': not every kind of state explored"
viol() { q "SELECT COUNT(*) FROM explore_state s JOIN explore_run r ON r.id = s.run_id WHERE r.disk = '$1' AND s.violations > 0"; }
metaf() { q "SELECT COUNT(*) FROM explore_state s JOIN explore_run r ON r.id = s.run_id WHERE r.disk = '$1' AND s.metadata IN ('corrupt', 'unreadable')"; }
[ "$(viol lying)" -ge 1 ] || fail "the lying control's recording shows no violation"
for d in safe qnone qwt; do
	[ "$(viol $d)" = 0 ] || fail "disk '$d': $(viol $d) explored states with violations"
	[ "$(metaf $d)" = 0 ] || fail "disk '$d': $(metaf $d) explored states with metadata failures"
done
[ "$(q "SELECT COUNT(*) FROM explore_state s JOIN explore_run r ON r.id = s.run_id WHERE r.disk = 'qnone' AND s.metadata = 'none'")" = 0 ] ||
	fail "qcow2 states without a metadata verdict"
# A state's ledger is cut at its crash point: the first flush boundary's state knows
# fewer acknowledged writes than the last one (unacknowledged data reads as in flight).
[ "$(q "SELECT COUNT(*) FROM explore_state s JOIN explore_run r ON r.id = s.run_id WHERE r.disk = 'safe' AND s.counts_json LIKE '%inflight_persisted%'")" -ge 1 ] ||
	fail "no state shows writes the ledger had not seen at its crash point"

# 2. The command, with --json.
"$powercut" explore --json --disk safe --states 25 --seed 3 "$db" 1 >"$t/ex.json" 2>"$t/ex.err" ||
	{ cat "$t/ex.err"; fail "powercut explore exited $?"; }
js() { sqlite3 :memory: "SELECT $1 FROM (SELECT CAST(readfile('$t/ex.json') AS TEXT) AS j)"; }
[ "$(js "json_extract(j, '$.states')")" = 25 ] || fail "explore --json: $(cat "$t/ex.json")"
[ "$(js "json_extract(j, '$.violation_states')")" = 0 ] || fail "explore --json: violations on safe"
[ "$(js "json_extract(j, '$.metadata_failure_states')")" = 0 ] || fail "explore --json: metadata failures"
run=$(js "json_extract(j, '$.disks[0].run')")
[ "$(q "SELECT COUNT(*) FROM explore_state WHERE run_id = $run")" = 25 ] || fail "explore --json: rows"

# 3. The recipe: the smallest violating state of the lying control, as an image file.
"$powercut" explore --json --disk lying --states 30 "$db" 1 >"$t/ly.json" 2>"$t/ly.err" ||
	{ cat "$t/ly.err"; fail "powercut explore (lying) exited $?"; }
sv=$(sqlite3 :memory: "SELECT json_extract(CAST(readfile('$t/ly.json') AS TEXT), '$.disks[0].smallest_violation')")
[ "$sv" -ge 1 ] 2>/dev/null || fail "no smallest violation: $(cat "$t/ly.json")"
"$powercut" explore --disk lying --state "$sv" --export "$t/state.img" "$db" 1 >/dev/null 2>"$t/exp.err" ||
	{ cat "$t/exp.err"; fail "export exited $?"; }
[ "$(stat -c %s "$t/state.img")" = 67108864 ] || fail "exported image has the wrong size"
id=$(q "SELECT disk_id FROM explore_run WHERE disk = 'lying' LIMIT 1")
crash=$(q "SELECT crash_entry = (SELECT log_entries FROM explore_run WHERE id = s.run_id) FROM explore_state s WHERE run_id = (SELECT MAX(id) FROM explore_run WHERE disk = 'lying') AND state = $sv")
# A lying disk keeps every write of a prefix, so its violations are subsets of the writes
# after the last flush, crashed at the end of the recording: the whole ledger applies,
# as powercut verify reads it.
[ "$crash" = 1 ] || fail "the lying disk's smallest violation is not at the recording's end"
"$powercut" verify "$db" "$t/state.img" --campaign 1 --cycle 1 --disk "$id" >"$t/verify.out" 2>&1
[ $? = 1 ] || { cat "$t/verify.out"; fail "verify found no violation in the exported state"; }

# The report's explored part: per cell, the lying control's violating states and its
# recipe; none for the safe control.
"$powercut" report --format json "$db" >"$t/report.json" 2>"$t/report.err" ||
	{ cat "$t/report.err"; fail "powercut report exited $?"; }
rj() { sqlite3 :memory: "SELECT $1 FROM (SELECT CAST(readfile('$t/report.json') AS TEXT) AS j), json_each(j, '$.cells') WHERE json_extract(value, '$.disk') = '$2'"; }
[ "$(rj "json_extract(value, '$.explored.violation_states')" lying)" -ge 1 ] ||
	fail "report: no explored violation for the lying control"
rj "json_extract(value, '$.explored.smallest_violation.recipe')" lying | grep -q -- "--export FILE" ||
	fail "report: no recipe for the lying control"
[ "$(rj "json_extract(value, '$.explored.violation_states')" safe)" = 0 ] ||
	fail "report: explored violations on the safe control"
"$powercut" report --format html "$db" | grep "id='explored'" >/dev/null || fail "report: no explored section in HTML"

# 5 (here, while the bench file is at hand). A process-kill cut leaves the recorder
# running through the restart: what it logged after the cut is left out.
sed -e 's/^cut = power/cut = kill/' -e 's/^explore = 40/explore = 0/' \
    -e "s|^run_dir = .*|run_dir = $t/run-kill|" "$t/b.ini" >"$t/k.ini"
sed -i '/^\[disk lying\]/,/^record = yes/d; /^\[disk safe\]/,/^record = yes/d; /^\[disk qwt\]/,/^record = yes/d' "$t/k.ini"
"$powercut" run -q --db "$t/k.db" "$t/k.ini" >/dev/null 2>"$t/k.err" || { cat "$t/k.err"; fail "kill campaign exited $?"; }
"$powercut" explore --states 8 "$t/k.db" 1 >"$t/k.out" 2>"$t/k.err" || { cat "$t/k.err"; fail "explore after a kill cut"; }
grep -q "entries logged after the cut left out" "$t/k.err" || fail "kill cut: nothing left out ('$(cat "$t/k.err")')"
[ "$(sqlite3 "$t/k.db" "SELECT COUNT(*) FROM explore_state WHERE violations > 0 OR metadata IN ('corrupt', 'unreadable')")" = 0 ] ||
	fail "kill cut: failing states"

# 4. Bad input.
rec=$db.rec/campaign-1/cycle-1/safe
cp "$rec/writes.wlog" "$t/good.wlog"
# The first entry's magic (after the 16-byte file header).
off=16
printf 'XXXX' | dd of="$rec/writes.wlog" bs=1 seek="$off" conv=notrunc 2>/dev/null
"$powercut" explore --disk safe --states 5 "$db" 1 >/dev/null 2>"$t/bad.err" && fail "a damaged log was explored"
grep -q "bad entry 0 at byte $off" "$t/bad.err" || fail "damaged log: '$(cat "$t/bad.err")'"
cp "$t/good.wlog" "$rec/writes.wlog"
truncate -s -100 "$rec/writes.wlog"
"$powercut" explore --disk safe --states 5 "$db" 1 >"$t/tr.out" 2>"$t/tr.err" ||
	{ cat "$t/tr.err"; fail "a log cut in its last entry was not explored"; }
grep -q "partial entry" "$t/tr.err" || fail "the dropped partial entry was not mentioned"
"$powercut" explore --states 0 "$db" 1 >/dev/null 2>"$t/u.err"
[ $? = 2 ] && grep -q "invalid --states '0'" "$t/u.err" || fail "--states 0: '$(cat "$t/u.err")'"
"$powercut" explore --state 3 "$db" 1 >/dev/null 2>"$t/u.err"
[ $? = 2 ] && grep -q "usage: powercut explore" "$t/u.err" || fail "--state without --export accepted"
"$powercut" explore "$db" 9 >/dev/null 2>"$t/u.err"
[ $? = 1 ] && grep -q "has no cycle 9" "$t/u.err" || fail "unknown cycle: '$(cat "$t/u.err")'"
"$powercut" explore --disk nosuch "$db" 1 >/dev/null 2>"$t/no.err" && fail "an unknown disk was explored"
grep -q "recording.json" "$t/no.err" || fail "unknown disk: '$(cat "$t/no.err")'"

echo "explore: lying $(viol lying) violating states; safe, qcow2 none, qcow2 writethrough none; $(($(date +%s) - start)) s"
exit 0
