#!/bin/sh
# Crash-state exploration of LVM-thin end to end on the full tier (run from the
# repository root, as make check does; docs/explore.md, "LVM-thin"):
#  1. an honest lvmthin disk (cache=none, writeback random, tears, a workload that
#     flushes every 32 writes), one recorded cycle explored: no state with a violation,
#     none with a metadata failure; every state has thin_check's verdict (clean or
#     leaks) and was read back;
#  2. a lying control on lvmthin (its flushes make nothing durable), one recorded cycle
#     explored: violations are found (its real cycle fails: the cut takes the VG);
#  3. the cross-check against the real kernel: states exported as PV images (one flush
#     boundary, one subset or torn write of the honest disk, the lying control's
#     smallest violating state) are each booted by the guest in check mode
#     (snapshot=on: nothing writes the image), whose lvm2 runs thin_check and activates
#     the pool in the kernel's dm-thin, and whose agent reads the thin LV. The guest's
#     thin_check result and activation must agree with the host's verdict, and its
#     agent's report, classified against the state's crash point (explore --report),
#     must give exactly the state's classes: the host-side model of dm-thin's read
#     path and the kernel agree; and the same for the rig's own setup crashed while
#     lvm2's create message for the pool was queued in the VG (a thin device absent
#     from the pool's metadata, one present);
#  4. error paths and rules: a state whose VG the metadata does not hold is `unreadable`
#     (every state, no crash); each verdict rule fed its case (leaks, corrupt, a
#     thin_dump output that is not one: a bad line, an element other than a mapping,
#     a signed number, a data chunk past 2^64 bytes); thin_check missing is an error
#     naming its package, and a thin_check or thin_dump that cannot be executed stops
#     the exploration.
set -u
. tests/e2e/e2e.sh
e2e_begin test_explore_lvm qemu-system-x86_64 qemu-storage-daemon nbdkit sqlite3 qemu-img
command -v thin_check >/dev/null && command -v thin_dump >/dev/null ||
	{ echo "skip: thin_check or thin_dump not installed (thin-provisioning-tools)"; exit 77; }
[ -f "$build/guest/vmlinux" ] && [ -f "$build/guest/initrd.cpio" ] ||
	{ echo "skip: no guest in '$build/guest' (make guest)"; exit 77; }
start=$(date +%s)

bench() {	# $1: name, $2: control
	e2e_full_bench "$1" random yes
	cat <<EOT
[disk thin]
format = lvmthin
cache = none
size = 64M
control = $2
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
seed = 23
cut = power
window_min_ms = 400
window_max_ms = 700
off_ms = 200
boot_timeout = 90s
explore = 40
EOT
}

# 1, 2. The two campaigns record and explore their cycle.
for c in honest lying; do
	ctl=none
	[ $c = lying ] && ctl=lying
	bench "lvm-$c" $ctl | sed "s|^run_dir = .*|run_dir = $t/run-$c|" >"$t/$c.ini"
	"$powercut" run -q --db "$t/$c.db" "$t/$c.ini" >"$t/$c.out" 2>"$t/$c.err"
	rc=$?
	# The lying control's real cut loses the whole VG (nothing it was told to flush
	# reached its platter, vgcreate's writes included): the check boot finds no thin
	# LV and its cycle fails. Its recording is what is explored here.
	[ $c = lying ] || { [ $rc = 0 ] && [ -z "$(sqlite3 "$t/$c.db" "SELECT 1 FROM cycles WHERE status = 'failed'")" ]; } ||
		{ cat "$t/$c.err"; fail "campaign '$c' exited $rc"; }
	[ "$(sqlite3 "$t/$c.db" "SELECT COUNT(*) FROM explore_run")" = 1 ] ||
		{ cat "$t/$c.err"; fail "campaign '$c' explored nothing"; }
done
q() { sqlite3 "$t/$1.db" "$2"; }
for c in honest lying; do
	[ "$(q $c "SELECT format FROM explore_run")" = lvmthin ] ||
		fail "$c: explored as '$(q $c "SELECT format FROM explore_run")'"
	n=$(q $c "SELECT COUNT(*) FROM explore_state")
	[ "$n" -ge 30 ] || fail "$c: only $n states explored"
	for k in boundary prefix subset torn; do
		cand=$(q $c "SELECT json_extract(candidates_json, '$.$k.candidates') FROM explore_run")
		e=$(q $c "SELECT COUNT(*) FROM explore_state WHERE kind = '$k'")
		[ "$cand" = 0 ] || [ "$e" -ge 1 ] || fail "$c: no $k state explored of $cand"
	done
done
viol() { q "$1" "SELECT COUNT(*) FROM explore_state WHERE violations > 0"; }
metaf() { q "$1" "SELECT COUNT(*) FROM explore_state WHERE metadata IN ('corrupt', 'unreadable')"; }
leaks() { q "$1" "SELECT COUNT(*) FROM explore_state WHERE metadata = 'leaks' AND run_id = 1"; }
# The honest disk: nothing lost, no metadata failure (were there one, it would be a
# finding with its recipe, not something to silence); every state was read back.
[ "$(viol honest)" = 0 ] || fail "honest lvmthin: $(viol honest) states with violations: $(q honest "SELECT state, kind, counts_json FROM explore_state WHERE violations > 0 LIMIT 3")"
[ "$(metaf honest)" = 0 ] || fail "honest lvmthin: $(metaf honest) states with metadata failures: $(q honest "SELECT state, kind, metadata, substr(metadata_json, 1, 300) FROM explore_state WHERE metadata IN ('corrupt', 'unreadable') LIMIT 3")"
[ "$(q honest "SELECT COUNT(*) FROM explore_state WHERE violations IS NULL OR metadata NOT IN ('clean', 'leaks') OR json_extract(metadata_json, '$.thin_check.rc') IS NULL")" = 0 ] ||
	fail "honest lvmthin: states without a thin_check verdict or a read-back"
[ "$(q honest "SELECT COUNT(*) FROM explore_state WHERE counts_json LIKE '%inflight_persisted%'")" -ge 1 ] ||
	fail "honest lvmthin: no state holds writes its ledger had not heard of (the ledger is not cut at crash points)"
# The lying control: its flushes made nothing durable, so states lose flushed writes.
[ "$(viol lying)" -ge 1 ] || fail "the lying control's recording shows no violation"

# 3. The cross-check: the guest's kernel and lvm2 on exported states.
guest_check() {	# $1: campaign, $2: state, $3: label; sets g_tc, g_status, writes $t/g-$3.jsonl
	"$powercut" explore --disk thin --state "$2" --export "$t/s-$3.img" "$t/$1.db" 1 >/dev/null 2>"$t/x.err" ||
		{ cat "$t/x.err"; fail "export of $1 state $2"; }
	[ "$(stat -c %s "$t/s-$3.img")" = 67108864 ] || fail "$1 state $2: the exported PV has the wrong size"
	# the session's seed is stored as SQLite's signed 64-bit integer
	set -- "$@" $(q "$1" "SELECT seed || ' ' || block_size || ' ' || (span_blocks * block_size / 1048576) FROM oracle_session ORDER BY id DESC LIMIT 1")
	timeout 120 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 1 -m 1024 -nodefaults \
		-bios qboot.rom -display none -no-reboot -serial "file:$t/con-$3.log" \
		-kernel "$build/guest/vmlinux" -initrd "$build/guest/initrd.cpio" \
		-append "console=ttyS0 quiet cryptomgr.notests rodata=off ipv6.disable=1 acpi=noirq initcall_blacklist=crypto_kdf108_init,init_kprobe_trace powercut.mode=check powercut.disks=1:lvm powercut.campaign=1 powercut.cycle=1 powercut.w.seed=$(printf %u "$4") powercut.w.block_size=$5 powercut.w.span_mib=$6 powercut.lvm=activate powercut.lvm_dev=vda powercut.net=none" \
		-drive "file=$t/s-$3.img,format=raw,if=none,id=d0,snapshot=on" \
		-device virtio-blk-pci,drive=d0 >"$t/qemu-$3.out" 2>&1 ||
		{ cat "$t/qemu-$3.out"; fail "the guest's check boot of $1 state $2"; }
	l=$(grep -a "^POWERCUT lvm op=activate" "$t/con-$3.log" | tr -d '\r')
	[ -n "$l" ] || fail "$1 state $2: the guest did not activate: $(grep -a '^POWERCUT' "$t/con-$3.log" | head -5)"
	g_tc=$(echo "$l" | sed -n 's/.* thin_check=\([^ ]*\).*/\1/p')
	g_status=$(echo "$l" | sed -n 's/.* status=\([^ ]*\).*/\1/p')
	grep -a "^POWERCUT check-line disk=1 " "$t/con-$3.log" | tr -d '\r' |
		sed 's/^POWERCUT check-line disk=1 //' >"$t/g-$3.jsonl"
}
cross() {	# $1: campaign, $2: state, $3: label
	guest_check "$@"
	meta=$(q "$1" "SELECT metadata FROM explore_state WHERE state = $2")
	# lvm2 runs thin_check with -q --clear-needs-check-flag (its defaults: no
	# --ignore-non-fatal-errors): it passes on a clean pool only, and lvm2 activates
	# only then; the host's clean is its exit 0, leaks and corrupt are not.
	case $meta in
	clean) [ "$g_tc" = 0 ] && [ "$g_status" = ok ] ||
		fail "$1 state $2 ($3): the host says clean, the guest's thin_check=$g_tc, activation $g_status" ;;
	leaks|corrupt) [ "$g_tc" != 0 ] && [ "$g_tc" != not-run ] && [ "$g_status" = fail ] ||
		fail "$1 state $2 ($3): the host says $meta, the guest's thin_check=$g_tc, activation $g_status" ;;
	*) [ "$g_status" = fail ] || fail "$1 state $2 ($3): the host says $meta, the guest activated the pool" ;;
	esac
	if [ "$g_status" != ok ]; then
		# lvm2 refused the pool, as the host's verdict says: nothing to read back
		echo "cross-check: $1 state $2 ($3, $meta): guest thin_check=$g_tc, pool not activated"
		return 0
	fi
	[ -s "$t/g-$3.jsonl" ] || fail "$1 state $2 ($3): the guest's agent reported nothing: $(grep -av "check-line" "$t/con-$3.log" | tail -8)"
	"$powercut" explore --json --disk thin --state "$2" --report "$t/g-$3.jsonl" "$t/$1.db" 1 >"$t/r-$3.json" 2>"$t/r.err" ||
		{ cat "$t/r.err"; fail "$1 state $2: explore --report"; }
	gv=$(sqlite3 :memory: "SELECT json_extract(CAST(readfile('$t/r-$3.json') AS TEXT), '$.violations')")
	# the classes as class=count, sorted
	gc=$(sqlite3 :memory: "SELECT group_concat(key || '=' || value, ',') FROM (SELECT key, value FROM json_each(json_extract(CAST(readfile('$t/r-$3.json') AS TEXT), '$.counts')) ORDER BY key)")
	hv=$(q "$1" "SELECT violations FROM explore_state WHERE state = $2")
	hc=$(q "$1" "SELECT group_concat(key || '=' || value, ',') FROM (SELECT key, value FROM explore_state, json_each(counts_json) WHERE state = $2 ORDER BY key)")
	[ "$gv" = "$hv" ] && [ "$gc" = "$hc" ] ||
		fail "$1 state $2 ($3): the guest read back $gc ($gv violations), the host's model $hc ($hv)"
	echo "cross-check: $1 state $2 ($3, $meta): guest thin_check=$g_tc, classes $gc"
}
b=$(q honest "SELECT state FROM explore_state WHERE kind = 'boundary' ORDER BY crash_entry DESC LIMIT 1")
s=$(q honest "SELECT state FROM explore_state WHERE kind IN ('subset', 'torn') ORDER BY kind, state LIMIT 1")
v=$(q lying "SELECT state FROM explore_state WHERE violations > 0 ORDER BY writes, state LIMIT 1")
cross honest "$b" boundary
cross honest "$s" "$(q honest "SELECT kind FROM explore_state WHERE state = $s")"
cross lying "$v" smallest-violation
# lvm2 refuses a pool with leaks: the smallest violating state the guest can read too
vc=$(q lying "SELECT state FROM explore_state WHERE violations > 0 AND metadata = 'clean' ORDER BY writes, state LIMIT 1")
[ -z "$vc" ] || [ "$vc" = "$v" ] || cross lying "$vc" smallest-clean-violation

# The rig's setup, crashed: a copy of the honest database whose session hello is moved
# to 0 (so crash points fall inside the guest's vgcreate and lvcreate too) and whose log
# is cut after the setup (the reader drops the partial entry). lvm2 writes the VG with
# the pool's create message queued before the kernel takes it: a state whose pool
# metadata lacks the thin device must be unreadable, and the guest's lvm2 must fail to
# activate it; one whose metadata has it, its transaction id one behind, must read as
# the metadata has it, in the guest too.
cp "$t/honest.db" "$t/setup.db"
cp -r "$t/honest.db.rec" "$t/setup.db.rec"
sqlite3 "$t/setup.db" "UPDATE oracle_session SET host_hello_ns = 1; DELETE FROM explore_state; DELETE FROM explore_run"
truncate -s 3M "$t/setup.db.rec/campaign-1/cycle-1/thin/writes.wlog"
"$powercut" explore --disk thin --states 100 "$t/setup.db" 1 >/dev/null 2>"$t/setup.err" ||
	{ cat "$t/setup.err"; fail "explore of the setup"; }
sq=$(q setup "SELECT state FROM explore_state WHERE json_extract(metadata_json, '$.queued_messages') > 0 AND metadata = 'unreadable' ORDER BY crash_entry LIMIT 1")
sc=$(q setup "SELECT state FROM explore_state WHERE json_extract(metadata_json, '$.queued_messages') > 0 AND metadata = 'clean' ORDER BY crash_entry LIMIT 1")
[ -n "$sq$sc" ] || fail "no explored state of the setup has the pool's message queued: $(q setup "SELECT crash_entry, metadata, substr(metadata_json, 1, 120) FROM explore_state ORDER BY crash_entry")"
[ -z "$sq" ] || cross setup "$sq" queued-create-absent
[ -z "$sc" ] || cross setup "$sc" queued-create-present

# 4. Error paths. A VG the state's metadata does not hold: every state unreadable.
rec=$t/honest.db.rec/campaign-1/cycle-1/thin
cp "$rec/recording.json" "$t/rec.json"
sed -i 's/"vg":"pcvg"/"vg":"novg"/' "$rec/recording.json"
"$powercut" explore --json --disk thin --states 6 "$t/honest.db" 1 >"$t/u.json" 2>"$t/u.err" ||
	{ cat "$t/u.err"; fail "explore of an absent VG exited $?"; }
run=$(sqlite3 :memory: "SELECT json_extract(CAST(readfile('$t/u.json') AS TEXT), '$.disks[0].run')")
[ "$(q honest "SELECT COUNT(*) FROM explore_state WHERE run_id = $run AND metadata = 'unreadable' AND violations IS NULL AND metadata_json LIKE '%not ''novg''%'")" = 6 ] ||
	fail "absent VG: $(q honest "SELECT metadata, metadata_json FROM explore_state WHERE run_id = $run LIMIT 2")"
cp "$t/rec.json" "$rec/recording.json"
# The verdict's rules, each fed its case by a stand-in for thin_check in front of the
# real one (thin-provisioning-tools' own behaviour is what the honest and lying runs
# above exercise): non-fatal errors only (fails, passes with
# --ignore-non-fatal-errors) is leaks, and the state is still read back; a fatal one
# (fails both ways) is corrupt, read back where thin_dump can still print the mappings;
# thin_dump output that is not thin_dump's is unreadable.
mkdir -p "$t/fake"
fake() {	# $1: tool, $2: shell body
	printf '#!/bin/sh
[ "$1" = -V ] && exit 0
%s
' "$2" >"$t/fake/$1"
	chmod +x "$t/fake/$1"
}
verdicts() {	# $1: label; sets r (the run) and vd ("metadata:read-back" of its states, unique)
	PATH=$t/fake:$PATH "$powercut" explore --json --disk thin --states 4 "$t/honest.db" 1 >"$t/$1.json" 2>"$t/$1.err" ||
		{ cat "$t/$1.err"; fail "$1: explore exited $?"; }
	r=$(sqlite3 :memory: "SELECT json_extract(CAST(readfile('$t/$1.json') AS TEXT), '$.disks[0].run')")
	vd=$(q honest "SELECT DISTINCT metadata || ':' || (violations IS NOT NULL) FROM explore_state WHERE run_id = $r ORDER BY 1")
}
fake thin_check 'case " $* " in *" --ignore-non-fatal-errors "*) exit 0 ;; esac
echo "data reference counts differ for block 7, expected 0, but got 1"; exit 1'
verdicts leaks
[ "$vd" = "leaks:1" ] || fail "non-fatal errors only: $vd"
q honest "SELECT metadata_json FROM explore_state WHERE run_id = $r LIMIT 1" | grep -q "data reference counts differ" ||
	fail "thin_check's output is not kept"
fake thin_check 'echo "bad checksum in btree node"; exit 1'
verdicts corrupt
[ "$vd" = "corrupt:1" ] || fail "a fatal error: $vd"
rm "$t/fake/thin_check"
fake thin_dump 'while [ $# -gt 1 ]; do [ "$1" = -o ] && out=$2; shift; done
printf "<superblock uuid=\"\" time=\"1\" transaction=\"1\" data_block_size=\"128\">\n<device dev_id=\"1\">\n<single_mapping origin_block=\"x\"/>\n" >"$out"'
verdicts baddump
[ "$vd" = "unreadable:0" ] || fail "thin_dump's output not thin_dump's: $vd"
q honest "SELECT metadata_json FROM explore_state WHERE run_id = $r LIMIT 1" | grep -q "line 3: not a mapping" ||
	fail "the bad line is not named: $(q honest "SELECT metadata_json FROM explore_state WHERE run_id = $r LIMIT 1")"
[ "$(q honest "SELECT COUNT(*) FROM explore_state WHERE run_id = $r AND instr(json_extract(metadata_json, '$.dump_error'), char(10))")" = 0 ] ||
	fail "the bad line is quoted with its newline"
# A stand-in thin_dump that runs the real one and edits its output with a sed script.
fake_dump() {	# $1: the sed script
	printf '%s\n' "$1" >"$t/fake/dump.sed"
	fake thin_dump 'prev=; for a do [ "$prev" = -o ] && out=$a; prev=$a; done
PATH=${PATH#*:} thin_dump "$@" || exit
sed -i -f "${0%/*}/dump.sed" "$out"'
}
every() {	# $1: the case; every state of run r that $3 selects shows $2 (and one does)
	w=$(q honest "SELECT COUNT(*), SUM($2) FROM explore_state WHERE run_id = $r AND $3")
	[ "${w%|*}" -gt 0 ] && [ "${w%|*}" = "${w#*|}" ] ||
		fail "$1 ($w): $(q honest "SELECT metadata, metadata_json FROM explore_state WHERE run_id = $r LIMIT 1")"
}
# What parse_dump does not understand in the thin device is refused, naming its line,
# not passed over (its mappings would read as holes): an element other than a mapping
# (a shared subtree's <ref>), a number with a sign. Every state whose pool was dumped.
dumped="json_extract(metadata_json, '$.thin_check') IS NOT NULL"
fake_dump '/<device /a <ref name="shared"/>'
verdicts refdump
every "an element other than a mapping" "metadata = 'unreadable' AND json_extract(metadata_json, '$.dump_error') LIKE '% line _: not a mapping thin_dump writes: <ref name=\"shared\"/>'" "$dumped"
fake_dump 's/origin_block="/origin_block="-/; s/origin_begin="/origin_begin="-/'
verdicts signdump
every "a mapping with a sign" "metadata = 'unreadable' AND json_extract(metadata_json, '$.dump_error') LIKE '%not a mapping thin_dump writes:%<% origin_%=\"-%'" "$dumped AND IFNULL(json_extract(metadata_json, '$.mappings'), 1) > 0"
# A mapping whose data chunk lies beyond the pool's data LV is unreadable, also where
# data chunk * chunk size passes 2^64 (2^48 chunks of the guest's 64 KiB: byte 2^64,
# which must not be read as byte 0 of the data LV). Every state with mappings.
fake_dump 's/data_block="[0-9]*"/data_block="281474976710656"/; s/data_begin="[0-9]*"/data_begin="281474976710656"/'
verdicts wrapdata
every "a data chunk beyond 2^64 bytes" "metadata = 'unreadable' AND violations IS NULL AND metadata_json LIKE '%maps chunk % to data chunk 281474976710656, beyond%'" "json_extract(metadata_json, '$.mappings') > 0"
rm -r "$t/fake"
# --report: a report that is not there is an error naming it; with --export, usage.
"$powercut" explore --disk thin --state 1 --report "$t/none.jsonl" "$t/honest.db" 1 >/dev/null 2>"$t/r.err"
[ $? = 1 ] && grep -q "none.jsonl" "$t/r.err" || fail "--report of no file: '$(cat "$t/r.err")'"
"$powercut" explore --disk thin --state 1 --report "$t/x" --export "$t/y" "$t/honest.db" 1 >/dev/null 2>"$t/r.err"
[ $? = 2 ] && grep -q "usage: powercut explore" "$t/r.err" || fail "--report with --export: '$(cat "$t/r.err")'"
# thin_check missing: the error names the package (Debian installs the tools in
# /usr/sbin; a PATH without it is a machine without them).
nosbin=/usr/local/bin:/usr/bin:/bin
if ! PATH=$nosbin command -v thin_check >/dev/null; then
	PATH=$nosbin "$powercut" explore --disk thin --states 2 "$t/honest.db" 1 >/dev/null 2>"$t/m.err" &&
		fail "explored without thin_check"
	grep -q "thin-provisioning-tools" "$t/m.err" || fail "thin_check missing: '$(cat "$t/m.err")'"
	# thin_check there for ex_open's look (-V), then not executable: no state may be
	# judged corrupt for a tool that did not run; the exploration stops naming why.
	mkdir -p "$t/fake"
	printf '#!/bin/sh\nchmod -x "$0"\nexit 0\n' >"$t/fake/thin_check"
	chmod +x "$t/fake/thin_check"
	n0=$(q honest "SELECT COUNT(*) FROM explore_state")
	PATH=$t/fake:$nosbin "$powercut" explore --disk thin --states 2 "$t/honest.db" 1 >/dev/null 2>"$t/x.err" &&
		fail "explored with a thin_check that cannot run"
	grep -q "cannot run 'thin_check': Permission denied" "$t/x.err" ||
		fail "thin_check not runnable: '$(cat "$t/x.err")'"
	[ "$(q honest "SELECT COUNT(*) FROM explore_state")" = "$n0" ] ||
		fail "a state was judged without thin_check: $(q honest "SELECT metadata FROM explore_state ORDER BY rowid DESC LIMIT 1")"
	# The same for thin_dump (before: every state 'unreadable', a metadata failure).
	rm "$t/fake/thin_check"
	ln -s "$(command -v thin_check)" "$t/fake/thin_check"
	printf '#!/bin/sh\nexit 0\n' >"$t/fake/thin_dump"
	PATH=$t/fake:$nosbin "$powercut" explore --disk thin --states 2 "$t/honest.db" 1 >/dev/null 2>"$t/x.err" &&
		fail "explored with a thin_dump that cannot run"
	grep -q "cannot run 'thin_dump': Permission denied" "$t/x.err" ||
		fail "thin_dump not runnable: '$(cat "$t/x.err")'"
	[ "$(q honest "SELECT COUNT(*) FROM explore_state")" = "$n0" ] ||
		fail "a state was judged without thin_dump: $(q honest "SELECT metadata FROM explore_state ORDER BY rowid DESC LIMIT 1")"
	rm -r "$t/fake"
fi

echo "explore lvmthin: honest $(q honest "SELECT COUNT(*) FROM explore_state WHERE run_id = 1") states, 0 violations, 0 metadata failures, $(leaks honest) with leaks; lying $(viol lying) violating states, $(metaf lying) metadata failures; $(($(date +%s) - start)) s"
exit 0
