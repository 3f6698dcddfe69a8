#!/bin/sh
# SIGKILL of `powercut run` at random moments WITHOUT --resume afterwards: 2 s after each
# kill no process it started is left (issue 16, item 9: the simulator ran on for 32 s,
# and qemu-storage-daemon, nbdkit or an agent were left at 8 of 15 kills). Every child
# gets its death signal from the kernel (PR_SET_PDEATHSIG), nothing waits for a later
# run to clean up. The run's processes are found by a marker in their environment,
# which every child inherits, wherever it moved its process group or session.
#   KILLS (default 5; the issue's figure is 20)
# Run from the repository root, as make check does.
set -u
. tests/e2e/e2e.sh
e2e_begin test_orphans qemu-storage-daemon nbdkit sqlite3 qemu-img
kills=${KILLS:-5}
mark="POWERCUT_ORPHAN_MARK=$t"
# Processes carrying the marker (this shell and its helpers do not: only `env` adds it).
# One grep over every environment (NUL-separated entries): cheap enough to poll.
marked() {
	grep -lzxF -- "$mark" /proc/[0-9]*/environ 2>/dev/null | while read -r e; do
		d=${e%/environ}
		echo "${d#/proc/} $( { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | cut -c1-120)"
	done
}
cleanup() {
	marked | while read -r p _; do kill -9 "$p" 2>/dev/null; done
	e2e_cleanup
}
trap cleanup EXIT

sed -e "s|^name = sim-fast|name = orphans\nrun_dir = $t/run|" -e "s|^cycles = 1|cycles = 1000|" \
	rig/benches/sim-fast.ini >"$t/orphans.ini"
start=$(date +%s)
left_total=0
for i in $(seq 1 "$kills"); do
	env "$mark" "$powercut" run -q --db "$t/orphans-$i.db" "$t/orphans.ini" >/dev/null 2>>"$t/run.err" &
	pid=$!
	# Odd kills: at 0.1 .. 3 s (the simulator starting, disks being made, between
	# cycles). Even ones: as soon as the node's processes run (storage daemons, the
	# agents), which a random moment hits less often.
	if [ $((i % 2)) = 1 ]; then
		sleep "$(awk -v s="$i$$" 'BEGIN { srand(s); printf "%.2f", 0.1 + rand() * 2.9 }')"
	else
		for _ in $(seq 1 100); do
			[ "$(marked | wc -l)" -gt 2 ] && break
			sleep 0.05
		done
	fi
	n=$(marked | wc -l)
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	sleep 2
	left=$(marked)
	if [ -n "$left" ]; then
		echo "$left" | sed 's/^/  left: /'
		left_total=$((left_total + $(echo "$left" | wc -l)))
	fi
	echo "kill $i: $n process(es) of the run before the kill, $(echo "$left" | grep -c .) left 2 s after"
done
[ "$left_total" = 0 ] || fail "$left_total process(es) outlived a killed powercut run"
echo "orphans: ok, $kills kills, none left after 2 s ($(($(date +%s) - start)) s)"
