# The test guest of the full tier (docs/guest.md). Not part of ALL_TARGETS: building it
# downloads Debian packages. `make guest` builds it (a no-op when up to date),
# `make guest-smoke` builds it if needed and boots it under QEMU TCG.
GUEST_DIR = $(BUILD)/guest

.PHONY: guest guest-smoke
guest:
	BUILD=$(BUILD) scripts/build-guest --out $(GUEST_DIR)

guest-smoke:
	BUILD=$(BUILD) GUEST_DIR=$(GUEST_DIR) rig/sim/guest/smoke
