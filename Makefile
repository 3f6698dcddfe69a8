# powercut — top-level build.
#
# Non-recursive: each part has a fragment (firmware/build.mk, rig/sim/*/build.mk,
# host/*/build.mk) that adds to these lists:
#   ALL_TARGETS    files `make` builds
#   CHECK_TESTS    test programs `make check` runs (exit 0 pass, 77 skip, else fail)
#   BENCH_PROGS    benchmark programs `make bench` runs (they print `figure` lines)
# The public targets first run scripts/install-deps, then re-enter make, so that
# fragments may call pkg-config for packages that were only just installed.

BUILD    ?= build
CC       ?= cc
CFLAGS_COMMON = -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
                -Wmissing-prototypes -Wno-unused-parameter -D_GNU_SOURCE
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Libraries and programs shared between parts (built by the fragment named in brackets).
# [host/lib] logging, child processes, config, utilities
PCLIB      = $(BUILD)/host/libpc.a
# [host/fwlink] firmware line-protocol client, clock fit
FWLINK_LIB = $(BUILD)/host/libfwlink.a
# [host/store] SQLite store and migrations
STORE_LIB  = $(BUILD)/host/libstore.a
# [host/oracle] records, ledger, classifier
ORACLE_LIB = $(BUILD)/host/liboracle.a
# [rig/sim/disk] the volatile disk model and its launcher
DISK_LIB   = $(BUILD)/rig/libdiskmodel.a
# [host/explore] crash-state exploration of recorded disks
EXPLORE_LIB = $(BUILD)/host/libexplore.a
# [firmware] the flashed ELF, also the one simulated
FW_ELF     = $(BUILD)/firmware/powercut-fw.elf
# [rig/sim/mcusim] the firmware in simavr with a PSU model
MCUSIM     = $(BUILD)/bin/powercut-mcusim
# [host/agent] static agent for guests (files, block devices); dynamic one adds NBD (libnbd)
AGENT      = $(BUILD)/bin/powercut-agent
AGENT_NBD  = $(BUILD)/bin/powercut-agent-nbd
# [host/powercut] the controller
POWERCUT   = $(BUILD)/bin/powercut

ALL_TARGETS :=
CHECK_TESTS :=
BENCH_PROGS :=

.DEFAULT_GOAL := all-with-deps
.PHONY: all-with-deps all build check check-build check-asan bench demo deps flash fuses fuzz soak clean install check-hw

# Fragments are read in dependency order: a fragment may name another's variables in
# its rules' prerequisites (expanded as they are read) only if that fragment came first.
FRAGMENTS_ORDERED := firmware/build.mk host/lib/build.mk host/fwlink/build.mk \
	host/oracle/build.mk host/store/build.mk rig/sim/disk/build.mk rig/sim/mcusim/build.mk \
	rig/sim/guest/build.mk host/agent/build.mk host/ssh/build.mk host/fio/build.mk \
	host/node/build.mk host/report/build.mk host/explore/build.mk host/campaign/build.mk host/powercut/build.mk
FRAGMENTS := $(wildcard $(FRAGMENTS_ORDERED)) \
	$(filter-out $(FRAGMENTS_ORDERED),$(sort $(wildcard rig/sim/*/build.mk host/*/build.mk)))
include $(FRAGMENTS)

all-with-deps: deps
	@$(MAKE) --no-print-directory build

all: all-with-deps

build: $(ALL_TARGETS)

deps:
	@scripts/install-deps

# The full tier's guest is built (or found up to date) before the tests, not inside
# one: its first build compiles OpenZFS (scripts/build-zfs, cached outside the build
# tree), longer than a test program's timeout. A failure leaves the full-tier tests to
# say why they skip.
check: deps
	@$(MAKE) --no-print-directory check-build
	@$(MAKE) --no-print-directory guest-for-check
	@scripts/run-tests $(CHECK_TESTS)

check-build: $(ALL_TARGETS) $(CHECK_TESTS)

# The end-to-end tests against powercut built with ASan and UBSan (BUILD/asan).
check-asan: deps
	@$(MAKE) --no-print-directory build $(BUILD)/host/campaign/tests/ledger_flood
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan CFLAGS_COMMON="$(CFLAGS_COMMON) $(SAN_FLAGS)" \
		$(BUILD)/asan/bin/powercut
	@scripts/check-asan $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory build $(BENCH_PROGS)
	@scripts/run-bench $(BUILD)/bench.json $(BENCH_PROGS)

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo

soak: deps
	@$(MAKE) --no-print-directory build
	@scripts/soak

# Through the bootloader; then the firmware says whether brown-out detection is on.
flash: deps
	@$(MAKE) --no-print-directory build
	@test -n "$(PORT)" || { echo "make flash: set PORT, e.g. make flash PORT=/dev/ttyUSB0" >&2; exit 2; }
	scripts/flash $(BUILD)/firmware/powercut-fw.hex $(PORT) $(or $(BAUD),115200)

# Brown-out detection at 2.7 V, through an ISP programmer (rig/hardware.md).
fuses: deps
	@test -n "$(ISP)" || { echo "make fuses: set ISP to the avrdude id of an ISP programmer, e.g. make fuses ISP=usbasp (the bootloader cannot write fuses)" >&2; exit 2; }
	ISP='$(ISP)' ISP_PORT='$(ISP_PORT)' ISP_BAUD='$(ISP_BAUD)' scripts/fuses

clean:
	rm -rf $(BUILD)
