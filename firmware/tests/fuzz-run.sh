#!/bin/sh
# Run the line-parser fuzz target for a bounded time on the committed seed corpus.
# Usage: fuzz-run.sh [FUZZER [CORPUS]]   (FUZZ_SECONDS, default set at build)
# New inputs go to a scratch directory, so the committed corpus is only read; on a
# crash the scratch directory (with the crashing input) is kept and named.
set -u
fuzzer=${1:-@FUZZER@}
corpus=${2:-@CORPUS@}
seconds=${FUZZ_SECONDS:-@SECONDS@}
if [ ! -x "$fuzzer" ]; then
	echo "skip: fuzz target '$fuzzer' not built"
	exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_line.XXXXXX") || exit 1
mkdir "$work/new"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -max_len=512 \
	-print_final_stats=1 -artifact_prefix="$work/" "$work/new" "$corpus"
rc=$?
if [ $rc -ne 0 ]; then
	echo "fuzz target failed (exit $rc); inputs kept in '$work'"
	exit 1
fi
echo "no crash in ${seconds}s; $(ls "$work/new" | wc -l) new inputs (not kept)"
rm -rf "$work"
exit 0
