#!/bin/sh
# scripts/check-layers against small trees made here, one rule per case: each upward
# include must fail naming its file and line, each allowed one must pass. Run from
# the repository's top, as make check does.
set -u
check=$(pwd)/scripts/check-layers
[ -x "$check" ] || { echo "skip: '$check' not found (run from the repository's top)"; exit 77; }
t=$(mktemp -d "${TMPDIR:-/tmp}/check-layers.XXXXXX") || exit 1
trap 'rm -rf "$t"' EXIT
fails=0

# A tree with one header in each of the directories the cases use.
base() {
	rm -rf "$t/tree"
	for h in firmware/hal/hal.h firmware/core/frame.h firmware/core/clock.h host/lib/log.h \
		 host/lib/clock.h host/oracle/ledger.h host/store/store.h host/node/node.h \
		 host/relay/relay.h host/campaign/campaign.h host/powercut/powercut.h \
		 host/ssh/tests/sshd_helper.h tests/e2e/e2e.h; do
		mkdir -p "$t/tree/$(dirname "$h")"
		: >"$t/tree/$h"
	done
}

# expect pass|fail FILE INCLUDE [TEXT]: FILE (in the tree) includes INCLUDE; on a fail,
# the output must name FILE:1 (or FILE, for a directory without a layer) and TEXT.
expect() {
	want=$1 file=$2 inc=$3 text=${4:-}
	base
	mkdir -p "$t/tree/$(dirname "$file")"
	printf '#include "%s"\nint x;\n' "$inc" >"$t/tree/$file"
	out=$("$check" "$t/tree" 2>&1)
	rc=$?
	case $want in
	pass) [ $rc -eq 0 ] || { echo "FAIL: $file including $inc should pass: $out"; fails=$((fails + 1)); } ;;
	fail) if [ $rc -ne 1 ]; then
		echo "FAIL: $file including $inc should fail (exit $rc): $out"; fails=$((fails + 1))
	      elif ! printf '%s\n' "$out" | grep -qF -e "$file:1: includes \"$inc\"" -e "$file: no layer"; then
		echo "FAIL: the failure does not name $file:1: $out"; fails=$((fails + 1))
	      elif [ -n "$text" ] && ! printf '%s\n' "$out" | grep -qF "$text"; then
		echo "FAIL: the failure does not say '$text': $out"; fails=$((fails + 1))
	      else
		echo "ok: $file including $inc fails"
	      fi ;;
	esac
}

# Upward, or sideways between modules of one layer: refused.
expect fail host/campaign/cycle.c powercut.h "layer 6 (host/powercut), not below host/campaign's layer 5"
expect fail host/node/node.c powercut.h "layer 6 (host/powercut)"
expect fail host/node/qemu.c campaign.h "layer 5 (host/campaign)"
expect fail host/lib/log.c node.h "layer 4 (host/node)"
expect fail host/oracle/ledger.c store.h "layer 3 (host/store)"
expect fail host/node/power.c relay.h "layer 4 (host/relay), not below host/node's layer 4"
# The firmware's own rules.
expect fail firmware/core/controller.c log.h "outside the firmware"
expect fail host/oracle/record.c hal.h "the firmware beyond its framing"
# Test helpers are for tests only.
expect fail host/node/remote.c sshd_helper.h "a test helper, for tests only"
expect fail host/campaign/run.c e2e.h "a test helper, for tests only"
# A directory nobody placed.
expect fail host/newmod/x.c log.h "no layer for directory 'host/newmod'"

# Allowed: downward, within a module, tests with helpers and neighbours, and a header
# name two directories share when one of them is allowed.
expect pass host/campaign/cycle.c node.h
expect pass host/powercut/cmd/run.c powercut.h
expect pass host/node/tests/test_x.c sshd_helper.h
expect pass host/node/tests/test_x.c relay.h
expect pass tests/e2e/test_x.c powercut.h
expect pass host/fwlink/fwline.c frame.h
expect pass firmware/hal/avr/hal_avr.c clock.h
expect pass firmware/core/controller.c hal.h

# And the tree itself.
out=$(scripts/check-layers) || { echo "FAIL: the source tree: $out"; fails=$((fails + 1)); }
echo "$out"
[ $fails -eq 0 ] || { echo "$fails case(s) failed"; exit 1; }
echo "all cases as expected"
