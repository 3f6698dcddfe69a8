#!/bin/sh
# The exec relay's shipped wrappers (scripts/relay/) against fake ipmitool, snmpget
# and snmpset that answer as the real tools do (SYNTHETIC, from their documented
# output): `ipmitool chassis power status` prints "Chassis Power is on|off" and exits
# 0 either way; snmpget -Oqve prints an APC outlet's state as 1 (on) or 2 (off),
# snmpset -Oqve the value it set. Then powercut itself reads and switches the PDU
# outlet through rig/benches/pdu-snmp.ini's commands.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
pc="$here/../../../bin/powercut"
[ -x "$pc" ] || { echo "skip: no powercut binary at $pc"; exit 77; }
[ -x "$root/scripts/relay/ipmi-power-status" ] || {
	echo "skip: no scripts/relay at $root"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pc-exec-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
# code WANT CMD...: the exit status of CMD
code() {
	want=$1; shift
	"$@" >"$tmp/out" 2>"$tmp/err"; got=$?
	if [ "$got" = "$want" ]; then ok "exit $want: $*"; else bad "exit $got (want $want): $*"; cat "$tmp/err"; fi
}

mkdir "$tmp/bin"
cat >"$tmp/bin/ipmitool" <<EOF2
#!/bin/sh
# the BMC: chassis state in $tmp/chassis; FAKE_BMC_DOWN=1: no session
[ "\${FAKE_BMC_DOWN:-}" = 1 ] && { echo "Error: Unable to establish IPMI v2 / RMCP+ session" >&2; exit 1; }
while [ \$# -gt 0 ] && [ "\$1" != chassis ]; do shift; done
case "\$3" in
status) echo "Chassis Power is \$(cat $tmp/chassis)" ;;
on) echo on >$tmp/chassis; echo "Chassis Power Control: Up/On" ;;
off) echo off >$tmp/chassis; echo "Chassis Power Control: Down/Off" ;;
esac
exit 0
EOF2
cat >"$tmp/bin/snmpget" <<EOF2
#!/bin/sh
# the PDU: outlet states in $tmp/oid.OID (1 on, 2 off); the OID is the last word
for a; do oid=\$a; done
cat "$tmp/oid.\$oid" 2>/dev/null || { echo "No Such Instance currently exists at this OID"; }
EOF2
cat >"$tmp/bin/snmpset" <<EOF2
#!/bin/sh
# ... OID i VALUE
n=\$#; eval "oid=\\\${\$((n - 2))}"; eval "v=\\\${\$n}"
echo "\$v" >"$tmp/oid.\$oid"; echo "\$v"
EOF2
chmod +x "$tmp/bin/"*
PATH="$tmp/bin:$PATH"; export PATH

# --- ipmi-power-status: exit 0 on, 1 off, 2 when ipmitool fails
ipmi="$root/scripts/relay/ipmi-power-status"
echo on >"$tmp/chassis"
code 0 "$ipmi" -I lanplus -H bmc -U admin -f pass
echo off >"$tmp/chassis"
code 1 "$ipmi" -I lanplus -H bmc -U admin -f pass
FAKE_BMC_DOWN=1 code 2 "$ipmi" -I lanplus -H bmc
grep -q "RMCP+ session" "$tmp/err" && ok "ipmitool's error passed on" || bad "ipmitool's error lost"

# --- apc-pdu-outlet: both MIBs' OIDs, set and read back
pdu="$root/scripts/relay/apc-pdu-outlet"
code 0 "$pdu" off rpdu 3 pdu
[ "$(cat "$tmp/oid..1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3")" = 2 ] && ok "rpdu off: rPDUOutletControlOutletCommand.3 = 2" || bad "rpdu off OID"
code 1 "$pdu" status rpdu 3 pdu
code 0 "$pdu" on rpdu 3 pdu
code 0 "$pdu" status rpdu 3 pdu
code 0 "$pdu" off spdu 5 pdu
[ "$(cat "$tmp/oid..1.3.6.1.4.1.318.1.1.4.4.2.1.3.5")" = 2 ] && ok "spdu off: sPDUOutletCtl.5 = 2" || bad "spdu off OID"
code 1 "$pdu" status spdu 5 pdu
code 2 "$pdu" status rpdu 7 pdu		# no such outlet
code 2 "$pdu" status xpdu 3 pdu
code 2 "$pdu" reboot rpdu 3 pdu
code 2 "$pdu" on rpdu x3 pdu

# --- powercut drives the outlet with the bench's commands
sed -e "s|scripts/relay/|$root/scripts/relay/|" -e "s|^name = pdu-snmp|name = pdu-snmp-test\nrun_dir = $tmp/run|" \
	"$root/rig/benches/pdu-snmp.ini" >"$tmp/pdu.ini"
echo 1 >"$tmp/oid..1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3"
code 0 "$pc" relay status "$tmp/pdu.ini"
grep -q "channel 0: on" "$tmp/out" && ok "powercut reads the outlet on" || { bad "outlet not read on"; cat "$tmp/out"; }
code 0 "$pc" relay off --for 50ms "$tmp/pdu.ini"
[ "$(cat "$tmp/oid..1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3")" = 1 ] && ok "the outlet is on again after off --for" || bad "outlet left off"
# ipmi.ini: switches = dc is part of the bench
sed -e "s|scripts/relay/|$root/scripts/relay/|" "$root/rig/benches/ipmi.ini" >"$tmp/ipmi.ini"
code 0 "$pc" config show --json "$tmp/ipmi.ini"
grep -q '"switches":"dc"' "$tmp/out" && ok "ipmi.ini: switches = dc" || bad "ipmi.ini lacks switches = dc"
# doctor: an exec relay without exec_status cannot tell its state: a warning naming
# the wrappers; with the PDU's status command the state is read (on).
cat >"$tmp/nostatus.ini" <<EOF2
[bench]
name = nostatus
run_dir = $tmp/run2
[relay]
driver = exec
channels = 1
exec_on = true
exec_off = true
[node]
driver = sim
[disk a]
format = raw
size = 64M
EOF2
code 0 "$pc" doctor --json "$tmp/nostatus.ini"
grep -q '"check":"pwrok","fix":"set \[relay\] exec_status' "$tmp/out" && ok "doctor: exec_status missing is a warning with its fix" ||
	{ bad "doctor did not flag the missing exec_status"; cat "$tmp/out"; }
grep -q '"result":"warn"' "$tmp/out" && ok "doctor: result warn" || bad "doctor: result not warn"
exit $fail
