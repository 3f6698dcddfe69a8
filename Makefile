# powercut — top-level build.
#
# Non-recursive, as git's Makefile: each part has a fragment (firmware/build.mk,
# rig/sim/*/build.mk, host/*/build.mk, tests/*/build.mk) that only adds to lists:
#   ALL_TARGETS    files `make` builds
#   UNIT_TESTS, SIM_TESTS, E2E_TESTS
#                  test programs of make check's tiers (exit 0 pass, 77 skip, else fail)
#   BENCH_PROGS    benchmark programs `make bench` runs (they print `figure` lines)
#   MODULES, PROGRAM_SETS, SCRIPT_SETS
#                  libraries, programs and tests, whose rules this file generates
# and keeps its special cases (the AVR build, the nbdkit filters, the fuzzers) as
# explicit rules that name other fragments' variables only where they are expanded
# late (recipes, deferred `=`, or $$(VAR) prerequisites). Fragments are read in any
# order.
# The public targets first run scripts/install-deps, then re-enter make, so that
# fragments may call pkg-config for packages that were only just installed.

BUILD    ?= build
CC       ?= cc
CFLAGS_COMMON = -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
                -Wmissing-prototypes -Wno-unused-parameter -D_GNU_SOURCE
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# The fuzz targets (firmware/build.mk, host/fuzz/build.mk): clang's libFuzzer; make fuzz
# runs each this long.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600

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
BENCH_PROGS :=
# The test tiers; make check runs all three, in this order:
#   UNIT_TESTS  a module alone (cmocka, sanitizers; fakes for what it talks to)
#   SIM_TESTS   a module against the simulated bench's parts: the firmware in simavr,
#               nbdkit and qemu-storage-daemon, a private sshd, the full tier's guest
#   E2E_TESTS   powercut cycle / powercut run end to end (tests/e2e)
UNIT_TESTS :=
SIM_TESTS  :=
E2E_TESTS  :=
# What fragments declare, by name prefix (generated into rules below, after every
# fragment was read, so that the fragments' order does not matter):
#   MODULES       P: P_SRCS compiled with P_CFLAGS into $(BUILD)/%.o (P_OBJS) and, with
#                 $(SAN_FLAGS), into $(BUILD)/san/%.o (P_SAN_OBJS); archived into P_LIB
#                 when set; linked into the program P_PROG when set, with P_LINK
#                 (archives) and P_LDLIBS.
#   PROGRAM_SETS  P: programs P_PROGS (paths in $(BUILD)), each from its own source:
#                 the same path without $(BUILD)/ plus .c (or P_SRCDIR/NAME.c),
#                 compiled with P_CFLAGS (P_SAN = yes: with $(SAN_FLAGS), in the san
#                 tree), linked with P_LINK (objects, archives: also prerequisites;
#                 P_LINK_NAME instead for the program NAME) and P_LIBS; P_NEEDS are
#                 what the programs run (built first).
#   SCRIPT_SETS   P: shell scripts P_PROGS (paths in $(BUILD)), copied from the same
#                 path without $(BUILD)/, once P_NEEDS are built.
MODULES      :=
PROGRAM_SETS :=
SCRIPT_SETS  :=

# No include runs upward between the tree's layers (the layers are in the script),
# and the script refuses each kind of upward include (its test feeds it some).
UNIT_TESTS  += scripts/check-layers $(BUILD)/scripts/tests/test_check_layers.sh
SCRIPT_SETS += LAYERS_T
LAYERS_T_PROGS := $(BUILD)/scripts/tests/test_check_layers.sh

CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka)
CMOCKA_LIBS   = $(shell pkg-config --libs cmocka)

# The `make check` wrapper of a fuzz target, made from scripts/fuzz-run.sh in a recipe:
# $(call fuzz_wrapper,FUZZER,CORPUS,MAX_LEN,SECONDS)
fuzz_wrapper = sed -e 's|@FUZZER@|$(abspath $(1))|' -e 's|@CORPUS@|$(abspath $(2))|' \
	-e 's|@MAX_LEN@|$(3)|' -e 's|@SECONDS@|$(4)|' scripts/fuzz-run.sh >$@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@

.DEFAULT_GOAL := all-with-deps
.PHONY: all-with-deps all build check check-build check-unit check-sim check-e2e check-layers \
	check-asan bench demo deps flash fuses fuzz soak clean install check-hw
# Explicit rules in fragments may name other fragments' variables in prerequisites as
# $$(VAR): expanded once every fragment was read.
.SECONDEXPANSION:

include $(sort $(wildcard firmware/build.mk rig/sim/*/build.mk host/*/build.mk tests/*/build.mk))

CHECK_TESTS = $(UNIT_TESTS) $(SIM_TESTS) $(E2E_TESTS)

# ---- rules generated from the fragments' lists

# Every object of the host's sources: the plain build and the sanitizer build. The
# flags of the module (or program set) the source belongs to are MOD_CFLAGS, set on
# each object below.
$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(MOD_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/san/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(MOD_CFLAGS) -MMD -MP -c -o $@ $<

DEP_OBJS :=

define module_rules
$(1)_OBJS     = $$($(1)_SRCS:%.c=$$(BUILD)/%.o)
$(1)_SAN_OBJS = $$($(1)_SRCS:%.c=$$(BUILD)/san/%.o)
$$($(1)_OBJS) $$($(1)_SAN_OBJS): private MOD_CFLAGS = $$($(1)_CFLAGS)
DEP_OBJS += $$($(1)_OBJS) $$($(1)_SAN_OBJS)
ifneq ($$($(1)_LIB),)
$$($(1)_LIB): $$($(1)_OBJS)
	@mkdir -p $$(@D)
	rm -f $$@
	ar rcs $$@ $$^
endif
ifneq ($$($(1)_PROG),)
$$($(1)_PROG): $$($(1)_OBJS) $$($(1)_LINK)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS_COMMON) -o $$@ $$($(1)_OBJS) $$($(1)_LINK) $$($(1)_LDLIBS)
endif
endef

prog_tree = $(if $(filter yes,$($(1)_SAN)),$(BUILD)/san,$(BUILD))
prog_src  = $(if $($(1)_SRCDIR),$($(1)_SRCDIR)/$(notdir $(2)).c,$(patsubst $(BUILD)/%,%,$(2)).c)
prog_obj  = $(call prog_tree,$(1))/$(patsubst %.c,%.o,$(call prog_src,$(1),$(2)))

prog_link = $(if $(value $(1)_LINK_$(notdir $(2))),$$($(1)_LINK_$(notdir $(2))),$$($(1)_LINK))

define program_rules
$(2): $(3) $(call prog_link,$(1),$(2)) | $$($(1)_NEEDS)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS_COMMON) $(if $(filter yes,$($(1)_SAN)),$$(SAN_FLAGS)) -o $$@ $(3) \
		$(call prog_link,$(1),$(2)) $$($(1)_LIBS)
$(3): private MOD_CFLAGS = $$($(1)_CFLAGS)
DEP_OBJS += $(3)
endef

define script_rules
$(2): $(patsubst $(BUILD)/%,%,$(2)) | $$($(1)_NEEDS)
	@mkdir -p $$(@D)
	cp $$< $$@
	chmod +x $$@
endef

$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))
$(foreach s,$(PROGRAM_SETS),$(foreach p,$($(s)_PROGS),\
	$(eval $(call program_rules,$(s),$(p),$(call prog_obj,$(s),$(p))))))
$(foreach s,$(SCRIPT_SETS),$(foreach p,$($(s)_PROGS),$(eval $(call script_rules,$(s),$(p)))))

-include $(sort $(DEP_OBJS:.o=.d))

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

# One tier alone (make check runs them all, in one summary). The unit tier needs
# neither the simulated bench nor the guest.
check-unit: deps
	@$(MAKE) --no-print-directory build-unit
	@scripts/run-tests $(UNIT_TESTS)

check-sim: deps
	@$(MAKE) --no-print-directory build-sim
	@$(MAKE) --no-print-directory guest-for-check
	@scripts/run-tests $(SIM_TESTS)

check-e2e: deps
	@$(MAKE) --no-print-directory build-e2e
	@$(MAKE) --no-print-directory guest-for-check
	@scripts/run-tests $(E2E_TESTS)

.PHONY: build-unit build-sim build-e2e
build-unit: $(UNIT_TESTS)
build-sim: $(ALL_TARGETS) $(SIM_TESTS)
build-e2e: $(ALL_TARGETS) $(E2E_TESTS)

# The include layering alone (also the first unit test).
check-layers:
	@scripts/check-layers

# The end-to-end tests against powercut built with ASan and UBSan (BUILD/asan).
check-asan: deps
	@$(MAKE) --no-print-directory build $(BUILD)/tests/e2e/ledger_flood
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
