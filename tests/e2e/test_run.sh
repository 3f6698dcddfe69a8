#!/bin/sh
# powercut run end to end on the simulated fast-tier bench (run from the repository
# root, as make check does):
#  1. a short campaign with both cut kinds of timing and a lying control disk: every
#     planned cycle recorded, the control caught (controls passed), powercut show;
#  2. SIGKILL of `powercut run` at random moments, 20 times, each followed by
#     `powercut run --resume DB`: every plan index recorded exactly once, the
#     interrupted ones marked with their step, no process left that uses the test's
#     files;
#  3. a node that never comes back (boot delay longer than the boot timeout): the
#     campaign ends with status node-lost, a message naming the logs, power on;
#  4. the database's file system filling up during the campaign (a small tmpfs, which
#     needs root; skipped with a line saying so otherwise): the campaign stops between
#     cycles with status disk-full, power on, nothing lost, and resumes once there is
#     space again.
# Database checks go through sqlite3 queries.
set -u
. tests/e2e/e2e.sh
e2e_begin test_run qemu-storage-daemon nbdkit sqlite3 qemu-img
pids=
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	# anything still using the test's files (a failed run)
	e2e_kill_named
	[ -d "$t/small" ] && umount "$t/small" 2>/dev/null
	e2e_cleanup
}
trap cleanup EXIT
q() { sqlite3 "$db" "$1"; }
# Processes (other than this shell's ancestors) whose command line or cwd names $t.
orphans() {
	n=0
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[ "$pid" = "$$" ] && continue
		c=$( { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null) || continue
		w=$(readlink "$d/cwd" 2>/dev/null)
		case "$c $w" in
		*"$t"*) case $c in *test_run.sh*|*sqlite3*|*grep*|*tr\ *) ;; *) n=$((n + 1)); echo "  orphan $pid: $c" >&2 ;; esac ;;
		esac
	done
	echo $n
}

bench() {	# name cycles extra-lines...
	name=$1 cycles=$2
	shift 2
	sed -e "s|^name = sim-fast|name = $name\nrun_dir = $t/run-$name|" \
	    -e "s|^cycles = 1|cycles = $cycles|" rig/benches/sim-fast.ini >"$t/$name.ini"
	for l in "$@"; do
		case $l in
		disk.raw.*) sed -i "/^\[disk raw\]/a ${l#disk.raw.}" "$t/$name.ini" ;;
		node.*) l=${l#node.}
			if grep -q "^${l%% =*} =" "$t/$name.ini"; then
				sed -i "s|^${l%% =*} = .*|$l|" "$t/$name.ini"
			else
				sed -i "/^\[node\]/a $l" "$t/$name.ini"
			fi ;;
		*) if grep -q "^${l%% =*} =" "$t/$name.ini"; then
				sed -i "s|^${l%% =*} = .*|$l|" "$t/$name.ini"
			else
				echo "$l" >>"$t/$name.ini"
			fi ;;
		esac
	done
}

start=$(date +%s)
# 1. A short campaign: half the cuts host-timed, the raw disk a lying control.
bench short 4 "host_cuts = 50" "disk.raw.control = lying"
db=$t/short.db
printf '#!/bin/sh\necho "$1 $POWERCUT_STATUS $POWERCUT_CAMPAIGN" >"%s/notified"\n' "$t" >"$t/notify.sh"
chmod +x "$t/notify.sh"
"$powercut" run -q --json --db "$db" --notify "$t/notify.sh hello" "$t/short.ini" >"$t/short.json" 2>"$t/short.err"
rc=$?
[ $rc -eq 0 ] || { cat "$t/short.err"; fail "short campaign exited $rc"; }
[ "$(q "SELECT status || ' ' || controls FROM campaigns")" = "done passed" ] ||
	fail "short campaign: $(q 'SELECT status, controls, message FROM campaigns')"
[ "$(q "SELECT COUNT(*) || ' ' || COUNT(DISTINCT idx) || ' ' || MIN(idx) || ' ' || MAX(idx) FROM cycles")" = "4 4 1 4" ] ||
	fail "short campaign cycles: $(q 'SELECT idx, status FROM cycles')"
[ "$(q "SELECT COUNT(*) FROM cycles WHERE plan_json IS NULL OR status NOT IN ('ok', 'violation')")" = 0 ] ||
	fail "short campaign: cycles without plan or not verified"
[ "$(q "SELECT COUNT(*) FROM findings WHERE disk = 'raw' AND class = 'violation'")" -ge 1 ] ||
	fail "lying control not caught"
# The honest qcow2 is a backing chain over the volatile cache: it may lose its base's
# data to the overlay (the second seed, oracle_check.durable_cycle set), never more.
[ "$(q "SELECT COUNT(*) FROM oracle_check WHERE disk = 1 AND violation = 1 AND durable_cycle IS NULL")" = 0 ] ||
	fail "violations on the honest qcow2 disk: $(q "SELECT cycle, block, class FROM oracle_check WHERE disk = 1 AND violation = 1")"
[ "$(q "SELECT COUNT(*) FROM evidence")" -ge 1 ] || fail "no evidence kept for a violation"
[ "$(q "SELECT COUNT(DISTINCT timed_by) FROM cut_events")" -ge 1 ] || fail "no cuts recorded"
vc=$(q "SELECT c.id FROM cycles c JOIN findings f ON f.cycle_id = c.id WHERE f.class = 'violation' LIMIT 1")
"$powercut" show --json "$db" "$vc" >"$t/show.json" || fail "powercut show exited $?"
js() { sqlite3 :memory: "SELECT $1 FROM (SELECT CAST(readfile('$t/show.json') AS TEXT) AS j)"; }
[ "$(js "json_extract(j, '$.cycle.status')")" = violation ] || fail "show: cycle status"
case $(js "json_extract(j, '$.cut.timed_by')") in firmware|host) ;; *) fail "show: no cut" ;; esac
[ "$(js "(SELECT COUNT(*) FROM json_each(j, '$.findings') WHERE json_extract(value, '$.class') = 'violation')")" -ge 1 ] ||
	fail "show: no violation finding"
[ "$(js "json_array_length(j, '$.evidence')")" -ge 1 ] || fail "show: no evidence paths"
[ "$(js "json_type(j, '$.cycle.plan_json')")" = object ] || fail "show: no plan"
# The same seed gives the same plans.
"$powercut" run -q --json --db "$t/again.db" --cycles 2 "$t/short.ini" >/dev/null 2>&1
[ "$(sqlite3 "$t/again.db" "SELECT group_concat(plan_json, '|') FROM (SELECT plan_json FROM cycles ORDER BY idx)")" = \
  "$(q "SELECT group_concat(plan_json, '|') FROM (SELECT plan_json FROM cycles WHERE idx <= 2 ORDER BY idx)")" ] ||
	fail "the same seed gave other plans"
[ "$(cat "$t/notified" 2>/dev/null)" = "hello done 1" ] || fail "--notify: '$(cat "$t/notified" 2>/dev/null)'"
[ "$(orphans)" = 0 ] || fail "processes left after the short campaign"
# SIGTERM: the current step ends, power on, exit 143, the campaign resumable.
bench term 4
db=$t/term.db
"$powercut" run -q --db "$db" "$t/term.ini" >/dev/null 2>"$t/term.err" &
pid=$!
pids=$pid
sleep 1.5
kill -TERM "$pid"
wait "$pid"
rc=$?
pids=
[ $rc -eq 143 ] || { cat "$t/term.err"; fail "SIGTERM: exit $rc, expected 143"; }
[ "$(q "SELECT status FROM campaigns")" = interrupted ] || fail "SIGTERM: campaign $(q 'SELECT status FROM campaigns')"
[ "$(orphans)" = 0 ] || fail "processes left after SIGTERM"
"$powercut" run -q --resume "$db" >/dev/null 2>>"$t/term.err" || { cat "$t/term.err"; fail "resume after SIGTERM"; }
[ "$(q "SELECT status || ' ' || (SELECT COUNT(DISTINCT idx) FROM cycles) FROM campaigns")" = "done 4" ] ||
	fail "after SIGTERM and resume: $(q 'SELECT status FROM campaigns'), $(q 'SELECT group_concat(idx || status) FROM cycles')"
echo "short campaign: ok ($(($(date +%s) - start)) s)"

# 2. SIGKILL at random moments, then --resume, 20 times.
planned=26
bench kill $planned "host_cuts = 30"
db=$t/kill.db
kills=0
first=1
# The first run is killed once its campaign is in the database (before that there is
# nothing to resume: a new run starts it again).
"$powercut" run -q --db "$db" "$t/kill.ini" >/dev/null 2>>"$t/kill.err" &
pid=$!
pids=$pid
for _ in $(seq 1 100); do
	[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM campaigns" 2>/dev/null)" = 1 ] && break
	sleep 0.05
done
while :; do
	# 0.05 .. 1.6 s: the simulator starting, mid-workload, mid-cut, mid-record
	sleep "$(awk -v s="$kills$$" 'BEGIN { srand(s); printf "%.2f", 0.05 + rand() * 1.55 }')"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	[ $rc -eq 137 ] && kills=$((kills + 1))
	[ $rc -eq 137 ] || [ $rc -eq 0 ] || { tail -20 "$t/kill.err"; ps -o pid,ppid,stat,lstart,cmd -p "$(cat "$t/run-kill/mcusim.pid")" | cut -c1-200; fail "a run exited $rc"; }
	[ $rc -eq 0 ] || [ $kills -lt 20 ] || break
	[ $rc -eq 0 ] && break
	"$powercut" run -q --resume "$db" >/dev/null 2>>"$t/kill.err" &
	pid=$!
	pids=$pid
done
pids=
"$powercut" run -q --resume "$db" >/dev/null 2>>"$t/kill.err"
rc=$?
[ $rc -eq 0 ] || { tail -20 "$t/kill.err"; fail "the last --resume exited $rc"; }
[ $kills -ge 20 ] || fail "only $kills kills before the campaign finished"
[ "$(q "SELECT status FROM campaigns")" = done ] || fail "campaign status $(q 'SELECT status, message FROM campaigns')"
[ "$(q "SELECT COUNT(*) || ' ' || COUNT(DISTINCT idx) || ' ' || MIN(idx) || ' ' || MAX(idx) FROM cycles")" = "$planned $planned 1 $planned" ] ||
	fail "not every planned cycle exactly once: $(q "SELECT group_concat(idx || ':' || status, ' ') FROM cycles")"
# (a cycle the node could not run is recorded as failed: tolerated, rarely)
[ "$(q "SELECT COUNT(*) FROM cycles WHERE status NOT IN ('ok', 'violation', 'interrupted', 'failed')")" = 0 ] &&
[ "$(q "SELECT COUNT(*) FROM cycles WHERE status = 'failed'")" -le 2 ] ||
	fail "cycles neither verified nor interrupted: $(q "SELECT idx, status, step FROM cycles WHERE status NOT IN ('ok', 'violation', 'interrupted')")"
intr=$(q "SELECT COUNT(*) FROM cycles WHERE status = 'interrupted'")
[ "$intr" -ge 1 ] && [ "$intr" -le $kills ] || fail "$intr interrupted cycles after $kills kills"
[ "$(q "SELECT COUNT(*) FROM cycles WHERE status = 'interrupted' AND step IS NULL")" = 0 ] ||
	fail "an interrupted cycle without its step"
[ "$(q "SELECT COUNT(*) FROM cut_events ce JOIN cycles c ON c.id = ce.cycle_id WHERE c.status = 'interrupted'")" = 0 ] ||
	fail "an interrupted cycle kept a partial record"
# each plan index ran its own plan
[ "$(q "SELECT COUNT(*) FROM cycles WHERE json_extract(plan_json, '$.index') != idx")" = 0 ] ||
	fail "a cycle ran another index's plan"
[ "$(orphans)" = 0 ] || fail "processes left after the kills and resumes"
echo "kill and resume: ok, $kills kills, $intr interrupted cycles, $(q "SELECT group_concat(step, ',') FROM cycles WHERE status = 'interrupted'") ($(($(date +%s) - start)) s)"

# 3. A node that never comes back.
bench lost 3 "node.boot_delay = 8000" "retries = 1" "boot_timeout = 1s"
db=$t/lost.db
"$powercut" run --db "$db" "$t/lost.ini" >"$t/lost.out" 2>"$t/lost.err"
rc=$?
[ $rc -eq 1 ] || { cat "$t/lost.err"; fail "a lost node: exit $rc, expected 1"; }
[ "$(q "SELECT status FROM campaigns")" = node-lost ] || { cat "$t/lost.err"; fail "status $(q 'SELECT status FROM campaigns')"; }
[ "$(q "SELECT COUNT(*) || ' ' || MAX(status) FROM cycles")" = "1 node-lost" ] ||
	fail "cycles of the lost campaign: $(q 'SELECT idx, status FROM cycles')"
grep -q "power is on" "$t/lost.err" && grep -q "node's logs" "$t/lost.err" ||
	{ cat "$t/lost.err"; fail "no clear message for the lost node"; }
grep -q "power-cycling the node again" "$t/lost.err" ||
	fail "the node was not power-cycled again before giving up"
[ "$(orphans)" = 0 ] || fail "processes left after the lost node"
echo "lost node: ok ($(($(date +%s) - start)) s)"

# 4. The database's file system fills up while the campaign runs (another process's
# files, here one big file): the campaign must stop between two cycles, not lose one.
mkdir "$t/small"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=80M tmpfs "$t/small" 2>/dev/null; then
	echo "disk full: skipped (mounting a small tmpfs needs root)"
	exit 0
fi
bench full 8 "evidence_cap = 0"
db=$t/small/full.db
"$powercut" run --db "$db" "$t/full.ini" >"$t/full.out" 2>"$t/full.err" &
run_pid=$!
pids="$pids $run_pid"
n=0
while [ "$(q "SELECT COUNT(*) FROM cycles WHERE status != 'running'" 2>/dev/null)" != 2 ]; do
	n=$((n + 1))
	[ $n -lt 600 ] || fail "the disk-full campaign did not record 2 cycles in 60 s"
	sleep 0.1
done
# Leave 6 MiB: enough for the cycle under way, less than one needs before it starts.
avail=$(df -k --output=avail "$t/small" | tail -n 1)
dd if=/dev/zero of="$t/small/filler" bs=1k count=$((avail - 6144)) 2>/dev/null
wait $run_pid
rc=$?
[ $rc -eq 1 ] || { cat "$t/full.err"; fail "a full disk: exit $rc, expected 1"; }
[ "$(q "SELECT status FROM campaigns")" = disk-full ] ||
	{ cat "$t/full.err"; fail "status $(q 'SELECT status FROM campaigns')"; }
grep -q "MiB free" "$t/full.err" && grep -q "power is on" "$t/full.err" &&
	grep -q "run --resume $db" "$t/full.err" ||
	{ cat "$t/full.err"; fail "no clear message for the full disk"; }
# Verified, every one (sim-fast's honest chain may show the second seed's violation).
[ "$(q "SELECT COUNT(*) FROM cycles WHERE status NOT IN ('ok', 'violation')")" = 0 ] ||
	fail "a cycle was lost to the full disk: $(q 'SELECT idx, status FROM cycles')"
[ "$(q "SELECT COUNT(*) FROM oracle_check WHERE violation = 1 AND (disk != 1 OR durable_cycle IS NULL)")" = 0 ] ||
	fail "violations on an honest disk: $(q "SELECT cycle, disk, block, class FROM oracle_check WHERE violation = 1")"
[ "$(q "PRAGMA integrity_check")" = ok ] || fail "the database is damaged"
[ "$(orphans)" = 0 ] || fail "processes left after the full disk"
stopped=$(q "SELECT COUNT(*) FROM cycles")
rm "$t/small/filler"
"$powercut" run -q --resume "$db" >/dev/null 2>>"$t/full.err" || { cat "$t/full.err"; fail "resume after freeing space"; }
[ "$(q "SELECT status || ' ' || (SELECT COUNT(*) FROM cycles) FROM campaigns")" = "done 8" ] ||
	fail "after the resume: $(q 'SELECT status FROM campaigns'), cycles $(q 'SELECT idx, status FROM cycles')"
umount "$t/small"
echo "disk full: ok, stopped after $stopped cycle(s) ($(($(date +%s) - start)) s)"
