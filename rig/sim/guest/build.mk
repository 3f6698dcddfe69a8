# The test guest of the full tier (docs/guest.md). Not part of ALL_TARGETS: building it
# downloads Debian packages. `make guest` builds it (a no-op when up to date),
# `make guest-smoke` builds it if needed and boots it under QEMU TCG.
GUEST_DIR = $(BUILD)/guest

.PHONY: guest guest-smoke guest-for-check
guest:
	BUILD=$(BUILD) scripts/build-guest --out $(GUEST_DIR)

guest-smoke:
	BUILD=$(BUILD) GUEST_DIR=$(GUEST_DIR) rig/sim/guest/smoke

# make check: the guest before the tests (the agent must be built first: check-build).
guest-for-check:
	@echo "check: building the full tier's guest (scripts/build-guest; log $(BUILD)/guest-build.log)"
	@BUILD=$(BUILD) scripts/build-guest --out $(GUEST_DIR) >$(BUILD)/guest-build.log 2>&1 || \
		{ tail -n 5 $(BUILD)/guest-build.log; echo "check: the guest could not be built"; }
