#!/bin/sh
# Run one fuzz target (the firmware's line parser, or one of the host's input parsers)
# for a bounded time on its committed seed corpus.
# Usage: fuzz-run.sh [FUZZER [CORPUS [MAX_LEN]]]   (FUZZ_SECONDS, default set at build)
# The build makes each target's `make check` wrapper from this file by filling in the
# defaults (@FUZZER@, @CORPUS@, @MAX_LEN@, @SECONDS@); `make fuzz` runs it directly.
# New inputs go to a scratch directory, so the committed corpus is only read; on a
# crash the scratch directory (with the crashing input) is kept and named.
set -u
fuzzer=${1:-@FUZZER@}
corpus=${2:-@CORPUS@}
max_len=${3:-@MAX_LEN@}
seconds=${FUZZ_SECONDS:-@SECONDS@}
if [ ! -x "$fuzzer" ]; then
	echo "skip: fuzz target '$fuzzer' not built"
	exit 77
fi
name=$(basename "$fuzzer")
work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX") || exit 1
mkdir "$work/new"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -max_len="$max_len" \
	-print_final_stats=1 -artifact_prefix="$work/" "$work/new" "$corpus"
rc=$?
if [ $rc -ne 0 ]; then
	echo "fuzz target $name failed (exit $rc); inputs kept in '$work'"
	exit 1
fi
echo "$name: no crash in ${seconds}s; $(ls "$work/new" | wc -l) new inputs (not kept)"
rm -rf "$work"
exit 0
