# host/campaign: the campaign engine (one cut cycle end to end, the per-cycle plan,
# leftover processes, evidence) as $(CAMPAIGN_LIB), linked into the controller by
# host/powercut/build.mk (read after this file). Tests: the plan (unit, sanitizers),
# powercut run end to end (a short campaign, SIGKILL and --resume, a lost node).

CAMPAIGN_LIB    = $(BUILD)/host/libcampaign.a
CAMPAIGN_SRCS  := host/campaign/campaign.c host/campaign/plan.c host/campaign/cycle.c \
		  host/campaign/procs.c host/campaign/evidence.c host/campaign/run.c \
		  host/campaign/scenario.c host/campaign/fsdisk.c host/campaign/observe.c
CAMPAIGN_OBJS   = $(CAMPAIGN_SRCS:%.c=$(BUILD)/%.o)
CAMPAIGN_CFLAGS = -Ihost/campaign -Ihost/lib -Ihost/store -Ihost/oracle -Ihost/node -Ihost/explore \
	-Ihost/relay $(shell pkg-config --cflags sqlite3 jansson)

CAMPAIGN_TESTS := $(BUILD)/host/campaign/tests/test_plan $(BUILD)/host/campaign/tests/test_run.sh \
	$(BUILD)/host/campaign/tests/test_keep.sh $(BUILD)/host/campaign/tests/test_scenarios.sh \
	$(BUILD)/host/campaign/tests/test_hostile.sh $(BUILD)/host/campaign/tests/test_orphans.sh \
	$(BUILD)/host/campaign/tests/test_fs.sh
CAMPAIGN_BENCH := $(BUILD)/host/campaign/bench/bench_campaign.sh

ALL_TARGETS += $(CAMPAIGN_LIB)
CHECK_TESTS += $(CAMPAIGN_TESTS)
BENCH_PROGS += $(CAMPAIGN_BENCH)

$(CAMPAIGN_LIB): $(CAMPAIGN_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/host/campaign/%.o: host/campaign/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(CAMPAIGN_CFLAGS) -MMD -MP -c -o $@ $<

# The plan and the process bookkeeping, with sanitizers, from their sources.
$(BUILD)/host/campaign/tests/test_plan: host/campaign/tests/test_plan.c host/campaign/plan.c \
		host/campaign/procs.c host/campaign/scenario.c host/campaign/observe.c $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(CAMPAIGN_CFLAGS) $(shell pkg-config --cflags cmocka) \
		-MMD -MP -o $@ $< host/campaign/plan.c host/campaign/procs.c host/campaign/scenario.c host/campaign/observe.c \
		$(PCLIB_SAN_OBJS) \
		$(PCLIB_LIBS) $(shell pkg-config --libs cmocka)

# The ledger attacker the hostile-network test runs beside a campaign.
$(BUILD)/host/campaign/tests/ledger_flood: host/campaign/tests/ledger_flood.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -o $@ $<

# End to end: shell scripts run from the repository root against the built programs.
$(BUILD)/host/campaign/tests/%.sh: host/campaign/tests/%.sh host/campaign/tests/e2e.sh $(POWERCUT) $(MCUSIM) $(FW_ELF) \
		$(AGENT_NBD) $(BUILD)/lib/nbdkit-pcvcache-filter.so $(BUILD)/host/campaign/tests/ledger_flood
	@mkdir -p $(@D)
	cp $< $@
	chmod +x $@
# The scripts that source the shared set-up (run from the repository root).
$(BUILD)/host/campaign/tests/test_scenarios.sh: host/campaign/tests/e2e.sh
$(BUILD)/host/campaign/tests/test_fs.sh: host/campaign/tests/e2e.sh
$(BUILD)/host/campaign/bench/%.sh: host/campaign/bench/%.sh $(POWERCUT) $(MCUSIM) $(FW_ELF) \
		$(AGENT_NBD) $(BUILD)/lib/nbdkit-pcvcache-filter.so
	@mkdir -p $(@D)
	cp $< $@
	chmod +x $@

-include $(CAMPAIGN_OBJS:.o=.d) $(BUILD)/host/campaign/tests/test_plan.d
