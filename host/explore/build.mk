# host/explore: crash-state exploration of recorded disks (docs/explore.md) as
# $(EXPLORE_LIB), linked into the controller (powercut explore, [campaign] explore).
# Its server is rig/sim/disk's pcreplay filter; its test runs a recorded cycle of the
# fast tier with both controls (host/explore/tests/test_explore.sh).

EXPLORE_SRCS  := host/explore/explore.c
EXPLORE_OBJS   = $(EXPLORE_SRCS:%.c=$(BUILD)/%.o)
EXPLORE_CFLAGS = -Ihost/explore -Ihost/lib -Ihost/oracle -Irig/sim/disk \
	$(shell pkg-config --cflags sqlite3 jansson)
EXPLORE_TESTS := $(BUILD)/host/explore/tests/test_explore.sh
EXPLORE_BENCH := $(BUILD)/host/explore/bench/bench_explore.sh

ALL_TARGETS += $(EXPLORE_LIB)
CHECK_TESTS += $(EXPLORE_TESTS)
BENCH_PROGS += $(EXPLORE_BENCH)

$(EXPLORE_LIB): $(EXPLORE_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/host/explore/%.o: host/explore/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(EXPLORE_CFLAGS) -MMD -MP -c -o $@ $<

EXPLORE_SCRIPT_DEPS = $(POWERCUT) $(MCUSIM) $(FW_ELF) $(AGENT_NBD) \
	$(BUILD)/lib/nbdkit-pcvcache-filter.so $(BUILD)/lib/nbdkit-pcreplay-filter.so
$(BUILD)/host/explore/tests/%.sh: host/explore/tests/%.sh $(EXPLORE_SCRIPT_DEPS)
	@mkdir -p $(@D)
	cp $< $@
	chmod +x $@
$(BUILD)/host/explore/bench/%.sh: host/explore/bench/%.sh $(EXPLORE_SCRIPT_DEPS)
	@mkdir -p $(@D)
	cp $< $@
	chmod +x $@

-include $(EXPLORE_OBJS:.o=.d)
