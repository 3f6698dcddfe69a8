#!/bin/sh
# Crash-state exploration and recording (docs/explore.md). Run from the repository root.
#  explore_states_per_s: `powercut explore` of one recorded fast-tier cycle of a 64 MiB
#    qcow2 disk (cache=none, lazy_refcounts) with a 4 MiB span, 200 states: each served
#    by pcreplay, checked by qemu-img, read back by the agent through
#    qemu-storage-daemon and classified. Target: at least 20 per second. On a shared
#    machine the rate follows the load: explore_cpu_ms_per_state is the CPU time (user
#    and system, every process) one state costs, which it moves less.
#  record_overhead_pct: how much slower the agent writes (4 KiB random, QD16, a flush
#    every 32 writes, 4 MiB span, 2 s) through qemu-storage-daemon (raw) and the
#    pcvcache filter with record= than without; the median of 5 runs each, alternated.
#    agent_writes_per_s and agent_writes_per_s_recorded are the two rates. On a shared
#    machine the rates move with the load: record_cpu_overhead_pct compares the CPU
#    time (agent, qemu-storage-daemon, nbdkit) per write instead.
set -u
build=${BUILD:-build}
root=$(pwd)
powercut=$build/bin/powercut
agent=$root/$build/bin/powercut-agent-nbd
filter=$root/$build/lib/nbdkit-pcvcache-filter.so
[ -x "$powercut" ] && [ -x "$agent" ] && [ -f "$filter" ] || { echo "skip: not built"; exit 77; }
base=${TMPDIR:-$root/$build/tmp}
mkdir -p "$base"
t=$(mktemp -d "$base/bench_explore.XXXXXX") || exit 1
cleanup() {
	for f in "$t"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
	rm -rf "$t"
}
trap cleanup EXIT
export TMPDIR=$t
. tests/e2e/e2e.sh	# e2e_fast_bench, e2e_cpu_s, e2e_json

# --- recording overhead
rate() {	# record? -> "writes/s CPU-microseconds-per-write" into $t/rate
	rm -f "$t/d.raw" "$t/w.wlog" "$t"/*.sock
	truncate -s 64M "$t/d.raw"
	rec=
	[ "$1" = yes ] && rec="record=$t/w.wlog"
	times >"$t/times0"
	nbdkit --foreground --exit-with-parent -U "$t/n.sock" --filter="$filter" file "$t/d.raw" \
		sync=false $rec &
	np=$!
	echo "$np" >"$t/n.pid"
	i=0
	while [ ! -S "$t/n.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	qemu-storage-daemon --blockdev "driver=nbd,node-name=f,server.type=unix,server.path=$t/n.sock" \
		--blockdev driver=raw,node-name=d,file=f \
		--nbd-server "addr.type=unix,addr.path=$t/q.sock" \
		--export type=nbd,id=e,node-name=d,name=disk,writable=on &
	qp=$!
	echo "$qp" >"$t/q.pid"
	i=0
	while [ ! -S "$t/q.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	"$agent" write "nbd+unix:///disk?socket=$t/q.sock" --campaign 1 --span-mib 4 --duration 2 \
		--queue-depth 16 --flush every-n --flush-n 32 --quiet >"$t/agent.json" || return 1
	kill "$qp" 2>/dev/null
	wait "$qp" 2>/dev/null
	kill "$np" 2>/dev/null
	wait "$np" 2>/dev/null
	rm -f "$t/n.pid" "$t/q.pid"
	times >"$t/times1"
	w=$(sqlite3 :memory: "SELECT json_extract(j, '$.writes') || ' ' || json_extract(j, '$.seconds') FROM (SELECT CAST(readfile('$t/agent.json') AS TEXT) AS j)")
	echo "$w $(e2e_cpu_s "$t/times0") $(e2e_cpu_s "$t/times1")" |
		awk '{ printf "%.1f %.2f\n", $1 / $2, 1e6 * ($4 - $3) / $1 }' >>"$t/rate.$1"
}
: >"$t/rate.no"; : >"$t/rate.yes"
for i in 1 2 3 4 5; do
	rate no || exit 1
	rate yes || exit 1
done
med() { sort -n -k"$2" "$1" | sed -n 3p | awk -v k="$2" '{ print $k }'; }
no=$(med "$t/rate.no" 1)
yes=$(med "$t/rate.yes" 1)
pct=$(awk -v a="$no" -v b="$yes" 'BEGIN { printf "%.1f", 100 * (a - b) / a }')
cno=$(med "$t/rate.no" 2)
cyes=$(med "$t/rate.yes" 2)
cpct=$(awk -v a="$cno" -v b="$cyes" 'BEGIN { printf "%.1f", 100 * (b - a) / a }')

# --- exploration rate
{ e2e_fast_bench bench-explore; cat <<EOT
[disk qcow2]
format = qcow2
cache = none
size = 64M
lazy_refcounts = yes
record = yes
[workload]
block_size = 4K
queue_depth = 16
pattern = random
span_mib = 4
flush = every-n
flush_n = 32
[campaign]
cycles = 1
seed = 5
cut = power
window_min_ms = 400
window_max_ms = 600
off_ms = 200
boot_timeout = 60s
EOT
} >"$t/b.ini"
"$powercut" run -q --db "$t/c.db" "$t/b.ini" >/dev/null 2>"$t/run.err" || { cat "$t/run.err"; exit 1; }
# The CPU time of the exploration and everything it ran, from the shell's children's
# times before and after (a figure a loaded machine does not move as much).
times >"$t/times0"
"$powercut" explore --json --states 200 "$t/c.db" 1 >"$t/ex.json" 2>"$t/ex.err" || { cat "$t/ex.err"; exit 1; }
times >"$t/times1"
c0=$(e2e_cpu_s "$t/times0")
c1=$(e2e_cpu_s "$t/times1")
j() { e2e_json "$t/ex.json" "$1"; }
sps=$(j "printf('%.1f', json_extract(j, '$.disks[0].states_per_s'))")
echo "explored $(j "json_extract(j, '$.states')") states of a recording of $(j "json_extract(j, '$.disks[0].log_writes')") writes and $(j "json_extract(j, '$.disks[0].log_flushes')") flushes"
n=$(j "json_extract(j, '$.states')")
echo "figure explore_states_per_s $sps states/s 20 >="
echo "figure explore_cpu_ms_per_state $(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { printf "%.1f", 1000 * (b - a) / n }') ms 100 <="
echo "figure agent_writes_per_s $(printf '%.0f' "$no") writes/s 1000 >="
echo "figure agent_writes_per_s_recorded $(printf '%.0f' "$yes") writes/s 1000 >="
echo "figure record_overhead_pct $pct % 25 <="
echo "figure record_cpu_overhead_pct $cpct % 50 <="
