# Sourced by the campaign's end-to-end scripts (run from the repository root):
#   e2e_name=NAME; . host/campaign/tests/e2e-lib.sh
# sets build, powercut, root and t (a fresh temporary directory, also TMPDIR), and
# exits 77 naming what is missing when the binaries or the node's tools are absent.
# The caller sets its own trap to remove $t.
build=${BUILD:-build}
powercut=$build/bin/powercut
root=$(pwd)
[ -x "$powercut" ] || { echo "skip: '$powercut' is not built"; exit 77; }
for p in qemu-storage-daemon nbdkit sqlite3 qemu-img; do
	command -v "$p" >/dev/null 2>&1 || { echo "skip: $p not installed"; exit 77; }
done
base=${TMPDIR:-$root/$build/tmp}
mkdir -p "$base"
t=$(mktemp -d "$base/$e2e_name.XXXXXX") || exit 1
export TMPDIR=$t
