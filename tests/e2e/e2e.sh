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
