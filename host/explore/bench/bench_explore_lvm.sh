#!/bin/sh
# Crash-state exploration of LVM-thin (docs/explore.md, "LVM-thin"). Run from the
# repository root; needs the full tier's guest (make guest).
#  explore_lvmthin_states_per_s: `powercut explore` of one recorded full-tier cycle of a
#    64 MiB lvmthin disk (cache=none, a flush every 32 writes, 4 MiB span), 100 states:
#    each served by pcreplay, its VG read from its own bytes, thin_check run on its
#    pool's metadata (twice when it fails), thin_dump of the committed mappings, the
#    span assembled and read back by the agent through qemu-storage-daemon, classified.
#    explore_lvmthin_cpu_ms_per_state is the CPU time one state costs (every process),
#    which the machine's load moves less.
set -u
build=${BUILD:-build}
root=$(pwd)
powercut=$build/bin/powercut
[ -x "$powercut" ] || { echo "skip: not built"; exit 77; }
command -v thin_check >/dev/null || { echo "skip: thin_check not installed (thin-provisioning-tools)"; exit 77; }
[ -f "$build/guest/vmlinux" ] || { echo "skip: no guest in '$build/guest' (make guest)"; exit 77; }
. tests/e2e/e2e.sh
e2e_begin bench_explore_lvm qemu-system-x86_64 qemu-storage-daemon nbdkit sqlite3
{ e2e_full_bench bench-explore-lvm random yes
  cat <<EOT
[disk thin]
format = lvmthin
cache = none
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
seed = 5
cut = power
window_min_ms = 400
window_max_ms = 600
off_ms = 200
boot_timeout = 90s
EOT
} >"$t/b.ini"
"$powercut" run -q --db "$t/c.db" "$t/b.ini" >/dev/null 2>"$t/run.err" || { cat "$t/run.err"; exit 1; }
times >"$t/times0"
"$powercut" explore --json --states 100 "$t/c.db" 1 >"$t/ex.json" 2>"$t/ex.err" || { cat "$t/ex.err"; exit 1; }
times >"$t/times1"
j() { e2e_json "$t/ex.json" "$1"; }
n=$(j "json_extract(j, '$.states')")
echo "explored $n lvmthin states of a recording of $(j "json_extract(j, '$.disks[0].log_writes')") writes and $(j "json_extract(j, '$.disks[0].log_flushes')") flushes"
echo "figure explore_lvmthin_states_per_s $(j "printf('%.1f', json_extract(j, '$.disks[0].states_per_s'))") states/s 5 >="
echo "figure explore_lvmthin_cpu_ms_per_state $(awk -v a="$(e2e_cpu_s "$t/times0")" -v b="$(e2e_cpu_s "$t/times1")" -v n="$n" 'BEGIN { printf "%.1f", 1000 * (b - a) / n }') ms 200 <="
