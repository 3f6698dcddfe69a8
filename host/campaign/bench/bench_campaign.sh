#!/bin/sh
# host_overhead_s_per_cycle: the controller's own time per cycle of `powercut run` on
# the simulated fast tier (everything but waiting for the node: its preparation, the
# workload until the cut, power off and boot, the node's checks), averaged over a
# short campaign; `powercut run --json` reports it. Run from the repository root.
set -u
build=${BUILD:-build}
powercut=$build/bin/powercut
[ -x "$powercut" ] || { echo "skip: '$powercut' is not built"; exit 77; }
base=${TMPDIR:-$(pwd)/$build/tmp}
mkdir -p "$base"
t=$(mktemp -d "$base/bench_campaign.XXXXXX") || exit 1
trap 'rm -rf "$t"' EXIT
sed -e "s|^name = sim-fast|name = bench-campaign\nrun_dir = $t/run|" \
    -e "s|^cycles = 1|cycles = ${BENCH_CYCLES:-10}|" rig/benches/sim-fast.ini >"$t/b.ini"
TMPDIR=$t "$powercut" run -q --json --db "$t/c.db" "$t/b.ini" >"$t/out.json" || exit 1
v=$(sqlite3 :memory: "SELECT json_extract(CAST(readfile('$t/out.json') AS TEXT), '$.overhead_s_per_cycle')" 2>/dev/null)
# the last line is the campaign's summary
v=$(tail -n 1 "$t/out.json" >"$t/last.json"; sqlite3 :memory: "SELECT printf('%.4f', json_extract(CAST(readfile('$t/last.json') AS TEXT), '$.overhead_s_per_cycle'))")
c=$(sqlite3 "$t/c.db" "SELECT printf('%.3f', AVG(finished_mono_ns - started_mono_ns) / 1e9) FROM cycles")
echo "figure host_overhead_s_per_cycle $v s 0.2 <="
echo "figure sim_fast_campaign_cycle_s $c s 5 <="
