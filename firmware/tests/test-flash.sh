#!/bin/bash
# scripts/flash and scripts/fuses (make flash, make fuses) against a stand-in avrdude
# and the real firmware in powercut-mcusim, whose pty plays the board's port and whose
# --efuse sets the fuse the firmware reads:
#   - flash writes through the bootloader (-c arduino), then asks the firmware: with
#     BOD off it warns loudly, with BOD at 2.7 V it says so;
#   - fuses shows the fuses and what it will write, writes only the extended fuse
#     (BODLEVEL 2.7 V, other bits kept), only when told (YES=1 or a terminal), and
#     does nothing when BOD is already at 2.7 V.
# The stand-in avrdude models a programmer's fuse memory in a file and logs its
# arguments. Generated into the build tree (firmware/build.mk): @SRC@ and @BUILD@.
set -u
src=@SRC@
build=@BUILD@
mcusim=$build/bin/powercut-mcusim
elf=$build/firmware/powercut-fw.elf
hex=$build/firmware/powercut-fw.hex
if [ ! -x "$mcusim" ] || [ ! -r "$elf" ] || [ ! -r "$hex" ]; then
	echo "skip: needs '$mcusim', '$elf' and '$hex' (make build)"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-flash.XXXXXX")
simpid=
cleanup() {
	[ -n "$simpid" ] && kill "$simpid" 2>/dev/null && wait "$simpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
check() {	# check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

# The stand-in avrdude: -U flash:w:F:i succeeds, -U Xfuse:r:FILE:h writes the fuse
# as 0xNN, -U Xfuse:w:VAL:m sets it. Fuses live in $tmp/fuse.X.
cat >"$tmp/avrdude" <<'EOF'
#!/bin/bash
echo "$*" >>"$FAKE_DIR/avrdude.log"
while [ $# -gt 0 ]; do
	if [ "$1" = -U ]; then
		IFS=: read -r mem op arg fmt <<<"$2"
		case "$mem:$op" in
		flash:w) [ -r "$arg" ] || { echo "avrdude: can't open '$arg'" >&2; exit 1; } ;;
		*fuse:r) printf '0x%02x\n' "$(cat "$FAKE_DIR/fuse.$mem")" >"$arg" ;;
		*fuse:w) printf '%d\n' "$arg" >"$FAKE_DIR/fuse.$mem" ;;
		*) echo "avrdude: unexpected -U '$2'" >&2; exit 1 ;;
		esac
		shift
	fi
	shift
done
EOF
chmod +x "$tmp/avrdude"
export AVRDUDE=$tmp/avrdude FAKE_DIR=$tmp

start_sim() {	# start_sim EFUSE: the simulator in realtime mode, as a board
	[ -n "$simpid" ] && kill "$simpid" && wait "$simpid" 2>/dev/null
	rm -f "$tmp/ready"
	"$mcusim" --firmware "$elf" --run-dir "$tmp/run" --efuse "$1" --quiet >"$tmp/ready" &
	simpid=$!
	for _ in $(seq 100); do
		grep -q '^ready ' "$tmp/ready" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "FAIL: the simulator did not start"
	exit 1
}

# ---- make flash ----
start_sim FF
FLASH_ASK_S=6 "$src/scripts/flash" "$hex" "$tmp/run/mcu.tty" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
check "flash exits 0 with BOD off" [ $rc -eq 0 ]
check "flash writes through the bootloader" \
	grep -q -- "-p atmega328p -c arduino -P $tmp/run/mcu.tty -b 115200 -U flash:w:$hex:i" "$tmp/avrdude.log"
check "flash warns that BOD is off" grep -q "WARNING: brown-out detection is OFF" "$tmp/out"
check "flash names make fuses" grep -q "make fuses ISP=" "$tmp/out"

start_sim FD
FLASH_ASK_S=6 "$src/scripts/flash" "$hex" "$tmp/run/mcu.tty" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
check "flash exits 0 with BOD on" [ $rc -eq 0 ]
check "flash reports BOD at 2.7 V" grep -q "brown-out detection at 2.7 V" "$tmp/out"
check "no warning with BOD on" bash -c "! grep -qi warning '$tmp/out'"
kill "$simpid"
wait "$simpid" 2>/dev/null
simpid=

# ---- make fuses ----
printf '%d\n' 0xFF >"$tmp/fuse.lfuse"
printf '%d\n' 0xDA >"$tmp/fuse.hfuse"
printf '%d\n' 0xFF >"$tmp/fuse.efuse"
: >"$tmp/avrdude.log"
ISP=usbasp "$src/scripts/fuses" </dev/null >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
ok=0
[ $rc -ne 0 ] && [ "$(cat "$tmp/fuse.efuse")" = 255 ] && ok=1
check "fuses without YES and without a terminal writes nothing" [ $ok = 1 ]
check "fuses shows the fuses it found" grep -q "lfuse 0xff  hfuse 0xda  efuse 0xff (brown-out detection off)" "$tmp/out"
check "fuses shows what it will write" grep -q "write  efuse 0xFD (brown-out detection 2.7 V)" "$tmp/out"

ISP=usbasp ISP_PORT=usb YES=1 "$src/scripts/fuses" </dev/null >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
check "fuses with YES=1 exits 0" [ $rc -eq 0 ]
check "fuses sets BODLEVEL to 2.7 V" [ "$(cat "$tmp/fuse.efuse")" = 253 ]
check "fuses writes through the ISP programmer, the extended fuse only" \
	grep -q -- "-p atmega328p -c usbasp -P usb -U efuse:w:0xFD:m" "$tmp/avrdude.log"
check "fuses leaves the low and high fuses alone" \
	bash -c "! grep -q 'lfuse:w\|hfuse:w' '$tmp/avrdude.log'"

: >"$tmp/avrdude.log"
ISP=usbasp YES=1 "$src/scripts/fuses" </dev/null >"$tmp/out" 2>&1
rc=$?
ok=0
[ $rc -eq 0 ] && ! grep -q ':w:' "$tmp/avrdude.log" && grep -q "already at 2.7 V" "$tmp/out" && ok=1
check "fuses with BOD at 2.7 V already writes nothing" [ $ok = 1 ]

"$src/scripts/fuses" </dev/null >"$tmp/out" 2>&1
check "fuses without ISP refuses" [ $? -eq 2 ]

echo "$fails failed"
[ $fails -eq 0 ]
