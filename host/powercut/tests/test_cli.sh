#!/bin/sh
# End-to-end tests of the powercut command line with the null and exec relay drivers:
# help from the tables, exit codes, config errors with file:line, the bench lock
# (busy, stale lock taken over), and every exit path (normal, error, SIGINT, SIGTERM)
# leaving the relay powered ON, as the null driver's record shows.
# Runs from the build tree: finds bin/powercut relative to itself.
set -u
here=$(cd "$(dirname "$0")" && pwd)
pc="$here/../../../bin/powercut"
[ -x "$pc" ] || { echo "skip: no powercut binary at $pc"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pc-cli-XXXXXX") || exit 1
pids=""
cleanup() { for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# expect CODE CMD...: run and compare the exit status
expect() {
	want=$1; shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" = "$want" ]; then ok "exit $want: $*"; else bad "exit $got (want $want): $*"; cat "$tmp/err"; fi
}
# has FILE TEXT: FILE contains the fixed string TEXT
has() { if grep -qF -- "$2" "$1"; then ok "$1 has '$2'"; else bad "$1 lacks '$2'"; sed 's/^/    | /' "$1"; fi; }

bench="$tmp/null.ini"
cat >"$bench" <<EOF2
[bench]
name = nulltest
run_dir = $tmp/run
[relay]
driver = null
channels = 2
null_record = $tmp/record
EOF2

# --- help and usage, from the same tables that parse options
expect 0 "$pc" help
has "$tmp/out" "relay      drive the bench's relay"
expect 0 "$pc" relay --help
has "$tmp/out" "--off-ms=MS"
expect 0 "$pc" help relay
has "$tmp/out" "--window=MIN..MAX"
expect 0 "$pc" help config
has "$tmp/out" "hold_up_ms"
expect 2 "$pc" frobnicate
has "$tmp/err" "unknown command 'frobnicate'"
expect 2 "$pc" relay status "$bench" --bogus
has "$tmp/err" "unknown option '--bogus' for 'powercut relay'"
expect 2 "$pc" --debug=serial,nope version
has "$tmp/err" "unknown debug category 'nope'"
expect 0 "$pc" version --json
has "$tmp/out" '"powercut":'

# --- config errors name file and line; --set errors name the override
printf '[bench]\nname = x\n[relay]\ndriver = null\n[disk qcow2]\ncach = none\n' >"$tmp/bad.ini"
expect 2 "$pc" relay status "$tmp/bad.ini"
has "$tmp/err" "$tmp/bad.ini:6: unknown key 'cach' in [disk qcow2] (did you mean 'cache'?)"
expect 2 "$pc" relay status "$bench" --set relay.chanel=1
has "$tmp/err" "--set 'relay.chanel=1': unknown key 'chanel' in [relay] (did you mean 'channel'?)"
expect 0 "$pc" config show "$bench" --json --set workload.queue_depth=7
has "$tmp/out" '"queue_depth":7'
expect 0 "$pc" config check "$bench"
has "$tmp/out" "ok (sha256 "

# --- --json: a failing command prints one JSON error object on stdout, same status
expect 2 "$pc" relay status "$tmp/bad.ini" --json
has "$tmp/out" '{"error":{"command":"relay","messages":["'"$tmp"'/bad.ini:6: unknown key '"'cach'"' in [disk qcow2] (did you mean '"'cache'"'?)"],"status":2}}'
expect 2 "$pc" --json frobnicate
has "$tmp/out" '{"error":{"command":"frobnicate","messages":["unknown command '"'frobnicate'"' (see '"'powercut help'"')"],"status":2}}'
expect 2 "$pc" config show "$tmp/none.ini" --json
has "$tmp/out" '"status":2'
has "$tmp/out" "cannot open bench '$tmp/none.ini'"
[ "$(wc -l <"$tmp/out")" = 1 ] && ok "one line on stdout" || bad "not one line on stdout"
expect 0 "$pc" config check "$bench" --json
if grep -q '"error"' "$tmp/out"; then bad "success printed an error object"; else ok "no error object on success"; fi
# names are plain: a bench name that would put the lock file elsewhere
printf '[bench]\nname = ../../x\n[relay]\ndriver = null\n' >"$tmp/esc.ini"
expect 2 "$pc" relay status "$tmp/esc.ini"
has "$tmp/err" "$tmp/esc.ini:2: invalid bench name '../../x' in [bench]"

# --- status and switching with the null driver
: >"$tmp/record"
expect 0 "$pc" relay status "$bench" --json
has "$tmp/out" '"state":"on"'
: >"$tmp/record"
expect 0 "$pc" relay off "$bench" --for 50ms --channel 1
printf 'open\noff 1\non 1\nclose\n' >"$tmp/want"
if cmp -s "$tmp/record" "$tmp/want"; then ok "off --for: off, then on at exit"; else bad "off --for record"; cat "$tmp/record"; fi

# --- error path: a failed off still ends powered on
: >"$tmp/record"
expect 1 "$pc" relay off "$bench" --set relay.null_fail=off
printf 'open\noff 0 failed\non 0\nclose\n' >"$tmp/want"
if cmp -s "$tmp/record" "$tmp/want"; then ok "error path restores power"; else bad "error path record"; cat "$tmp/record"; fi

# --- SIGINT and SIGTERM while holding power off; meanwhile the bench is locked
for sig in INT TERM; do
	: >"$tmp/record"
	"$pc" relay off "$bench" >"$tmp/hold.out" 2>"$tmp/hold.err" &
	hp=$!; pids="$pids $hp"
	i=0; while ! grep -q "^off 0" "$tmp/record" && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
	expect 3 "$pc" relay status "$bench"
	has "$tmp/err" "bench 'nulltest' is in use by powercut pid $hp"
	kill -$sig $hp
	wait $hp; rc=$?
	[ $sig = INT ] && want=130 || want=143
	[ $rc = $want ] && ok "SIG$sig exit $rc" || bad "SIG$sig exit $rc (want $want)"
	printf 'open\noff 0\non 0\nclose\n' >"$tmp/want"
	if cmp -s "$tmp/record" "$tmp/want"; then ok "SIG$sig restores power"; else bad "SIG$sig record"; cat "$tmp/record"; fi
done

# --- a killed holder leaves a stale lock that the next run takes over
"$pc" relay off "$bench" >/dev/null 2>&1 &
hp=$!; pids="$pids $hp"
i=0; while ! grep -q "^$hp\$" "$tmp/run/lock" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
kill -9 $hp; wait $hp 2>/dev/null
expect 0 "$pc" relay status "$bench"
has "$tmp/err" "taking over the stale lock of pid $hp"

# --- exec driver: argument vectors, failures and timeouts reported
cat >"$tmp/exec.ini" <<EOF2
[bench]
name = exectest
run_dir = $tmp/run-exec
[relay]
driver = exec
channels = 1
exec_on = sh -c "echo on >> '$tmp/exec.log'"
exec_off = sh -c "echo off >> '$tmp/exec.log'"
exec_status = sh -c 'exit 1'
exec_timeout_ms = 2s
EOF2
expect 0 "$pc" relay cut "$tmp/exec.ini" --off-ms 20 --json
has "$tmp/out" '"timed_by":"host"'
printf 'off\non\n' >"$tmp/want"
if cmp -s "$tmp/exec.log" "$tmp/want"; then ok "exec cut ran off then on"; else bad "exec log"; cat "$tmp/exec.log"; fi
expect 0 "$pc" relay status "$tmp/exec.ini" --json
has "$tmp/out" '"state":"off"'
expect 1 "$pc" relay off "$tmp/exec.ini" --for 10ms --set 'relay.exec_off=sh -c "echo boom >&2; exit 3"'
has "$tmp/err" "power-off command 'sh' exited with status 3: boom"
expect 1 "$pc" relay on "$tmp/exec.ini" --set 'relay.exec_on=sleep 5' --set relay.exec_timeout_ms=100
has "$tmp/err" "power-on command 'sleep' timed out after 100 ms"

# --- --db: log messages to events, cuts to cut_events with who timed them
expect 0 "$pc" relay cut "$bench" --off-ms 10 --db "$tmp/log.db"
expect 1 "$pc" relay off "$bench" --set relay.null_fail=off --db "$tmp/log.db"
expect 0 "$pc" db info "$tmp/log.db" --json
has "$tmp/out" '"cut_events":1'
has "$tmp/out" '"events":1'

# --- docs/config.md is generated from the tables (checked when run from the source tree)
if [ -f docs/config.md ] && [ -f host/lib/config.c ]; then
	"$pc" config doc >"$tmp/config.md"
	if cmp -s "$tmp/config.md" docs/config.md; then ok "docs/config.md is current"
	else bad "docs/config.md differs from 'powercut config doc'"; fi
fi

# --- every shipped bench loads with every driver's option table, and its canonical text
# (every key of every driver, defaults included) loads again to the same config hash
for b in rig/benches/*.ini rig/scenarios/*.ini; do
	[ -f "$b" ] || continue
	"$pc" config show "$b" >"$tmp/canon.ini" 2>"$tmp/err" || { bad "config show $b"; cat "$tmp/err"; continue; }
	h1=$(sed -n '1s/.*sha256 //p' "$tmp/canon.ini")
	h2=$("$pc" config show "$tmp/canon.ini" 2>"$tmp/err" | sed -n '1s/.*sha256 //p')
	if [ -n "$h1" ] && [ "$h1" = "$h2" ]; then ok "$b: its canonical text is the same config"
	else bad "$b: canonical text hashes '$h2', the bench '$h1'"; cat "$tmp/err"; fi
done

# --- db commands
expect 0 "$pc" db migrate "$tmp/c.db"
expect 0 "$pc" db info "$tmp/c.db" --json
# migrate brings the database to the latest schema, whatever its number
latest=$(sed -n 's/.*"schema_latest":\([0-9]*\).*/\1/p' "$tmp/out")
[ -n "$latest" ] && [ "$latest" -ge 1 ] && ok "schema_latest is $latest" || bad "no schema_latest in $tmp/out"
has "$tmp/out" "\"schema_version\":$latest"
expect 1 "$pc" db info "$tmp/none.db"

[ $fail = 0 ] && echo "all passed"
exit $fail
