# host/explore: crash-state exploration of recorded disks (docs/explore.md) as
# $(EXPLORE_LIB), linked into the controller (powercut explore, [campaign] explore).
# Its server is rig/sim/disk's pcreplay filter; its test runs a recorded cycle of the
# fast tier with both controls (host/explore/tests/test_explore.sh), and its LVM-thin
# test a full-tier cycle of lvmthin, cross-checked against the guest (test_explore_lvm.sh).

MODULES       += EXPLORE
EXPLORE_SRCS  := host/explore/explore.c host/explore/lvmpv.c host/explore/thin.c
EXPLORE_CFLAGS = -Ihost/explore -Ihost/lib -Ihost/oracle -Irig/sim/disk \
	$(shell pkg-config --cflags sqlite3 jansson libnbd)

# The LVM2 PV metadata reader (cmocka, sanitizers): PV images built in memory; and
# thin_state's faults of the host's own disk on the real PV fixture.
PROGRAM_SETS += EXPLORE_T
EXPLORE_T_PROGS := $(BUILD)/host/explore/tests/test_lvmpv
EXPLORE_T_SAN    = yes
EXPLORE_T_CFLAGS = -Ihost/explore -Ihost/lib $(CMOCKA_CFLAGS) $(shell pkg-config --cflags sqlite3 jansson)
EXPLORE_T_LINK   = $(patsubst %,$(BUILD)/san/host/%.o,explore/lvmpv explore/thin lib/log lib/child)
EXPLORE_T_LIBS   = $(CMOCKA_LIBS) -ljansson
UNIT_TESTS  += $(EXPLORE_T_PROGS)

SCRIPT_SETS += EXPLORE_SH
EXPLORE_SH_PROGS := $(BUILD)/host/explore/tests/test_explore.sh $(BUILD)/host/explore/tests/test_explore_lvm.sh \
	$(BUILD)/host/explore/bench/bench_explore.sh $(BUILD)/host/explore/bench/bench_explore_lvm.sh
EXPLORE_SH_NEEDS  = $(POWERCUT) $(MCUSIM) $(FW_ELF) $(AGENT_NBD) $(PCVCACHE_SO) $(PCREPLAY_SO)

ALL_TARGETS += $(EXPLORE_LIB)
E2E_TESTS   += $(BUILD)/host/explore/tests/test_explore.sh $(BUILD)/host/explore/tests/test_explore_lvm.sh
BENCH_PROGS += $(BUILD)/host/explore/bench/bench_explore.sh $(BUILD)/host/explore/bench/bench_explore_lvm.sh
