# Sourced by the campaign's end-to-end scripts (run from the repository root, as make
# check does): e2e_begin NAME TOOL... skips (exit 77) unless powercut is built and
# every TOOL is installed, then makes the test's private directory $t (TMPDIR points
# into it, so the node's UNIX sockets have short paths) and removes it, and every
# process still naming it, on exit. Sets build, powercut, root; defines fail.
e2e_begin() {
	name=$1
	shift
	build=${BUILD:-build}
	powercut=$build/bin/powercut
	root=$(pwd)
	[ -x "$powercut" ] || { echo "skip: '$powercut' is not built"; exit 77; }
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || { echo "skip: $p not installed"; exit 77; }
	done
	base=${TMPDIR:-$root/$build/tmp}
	mkdir -p "$base"
	t=$(mktemp -d "$base/$name.XXXXXX") || exit 1
	export TMPDIR=$t
	trap e2e_cleanup EXIT
}

# Every process whose command line names the test's directory (SIGKILL).
e2e_kill_named() {
	for d in /proc/[0-9]*; do
		if { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -qF "$t"; then
			kill -9 "${d#/proc/}" 2>/dev/null
		fi
	done
}

e2e_cleanup() {
	e2e_kill_named
	rm -rf "$t"
}

fail() { echo "FAIL: $*"; exit 1; }

# The [bench], [relay] and [node] sections of a fast-tier bench on the simulated relay
# (realtime firmware, one channel), run directory $t/run; the caller adds its disks,
# workload and campaign.
e2e_fast_bench() {
	cat <<EOT
[bench]
name = $1
run_dir = $t/run

[relay]
driver = serial
simulator = yes
sim_mode = realtime
channels = 1
channel = 0
timeout_ms = 5000

[node]
driver = qemu
tier = fast
boot_delay = 100

EOT
}

# The same on the full tier (the guest under TCG), with the disk model's writeback
# (none, oldest, random) and tearing (yes, no): e2e_full_bench NAME WRITEBACK TEAR.
e2e_full_bench() {
	e2e_fast_bench "$1" | sed "s/^tier = fast\$/tier = full\nwriteback = $2\ntear = $3/"
}

# The CPU seconds of every child this shell reaped before `times >FILE` ran (user and
# system; `times` runs in this shell: a command substitution sees its own children).
e2e_cpu_s() {
	sed -n 2p "$1" | awk '{ split($1, a, /[ms]/); split($2, b, /[ms]/); print a[1] * 60 + a[2] + b[1] * 60 + b[2] }'
}

# One value of a JSON file, by SQLite's JSON functions over its text j:
# e2e_json FILE "json_extract(j, '$.states')".
e2e_json() {
	sqlite3 :memory: "SELECT $2 FROM (SELECT CAST(readfile('$1') AS TEXT) AS j)"
}
