# host/campaign: the campaign engine (one cut cycle end to end, the per-cycle plan,
# leftover processes, evidence) as $(CAMPAIGN_LIB), linked into the controller.
# Unit tests: the plan and the scenario words; the step runner against the null node
# driver (test_steps). powercut run end to end is tested in tests/e2e.

MODULES        += CAMPAIGN
CAMPAIGN_LIB    = $(BUILD)/host/libcampaign.a
CAMPAIGN_SRCS  := host/campaign/campaign.c host/campaign/plan.c host/campaign/cycle.c \
		  host/campaign/procs.c host/campaign/evidence.c host/campaign/run.c \
		  host/campaign/scenario.c host/campaign/fsdisk.c host/campaign/observe.c
CAMPAIGN_CFLAGS = -Ihost/campaign -Ihost/lib -Ihost/store -Ihost/oracle -Ihost/node -Ihost/explore \
	-Ihost/relay $(shell pkg-config --cflags sqlite3 jansson)

# The plan and the process bookkeeping, with sanitizers.
PROGRAM_SETS += CAMPAIGN_T
CAMPAIGN_T_PROGS := $(BUILD)/host/campaign/tests/test_plan
CAMPAIGN_T_SAN    = yes
CAMPAIGN_T_CFLAGS = $(CAMPAIGN_CFLAGS) $(CMOCKA_CFLAGS)
CAMPAIGN_T_LINK   = $(patsubst %,$(BUILD)/san/host/campaign/%.o,plan procs scenario observe) $(PCLIB_SAN_OBJS)
CAMPAIGN_T_LIBS   = $(PCLIB_LIBS) $(CMOCKA_LIBS)

# The step runner: camp_cycle_run on the null relay and the null node, each scenario's
# node calls in order; the ledger's statistics wrapped at link time (test_steps.c).
PROGRAM_SETS += CAMPAIGN_STEPS
CAMPAIGN_STEPS_PROGS := $(BUILD)/host/campaign/tests/test_steps
CAMPAIGN_STEPS_SAN    = yes
CAMPAIGN_STEPS_CFLAGS = $(CAMPAIGN_CFLAGS) $(CMOCKA_CFLAGS)
CAMPAIGN_STEPS_LINK   = $(CAMPAIGN_SAN_OBJS) $(EXPLORE_SAN_OBJS) $(RELAY_SAN_OBJS) $(NODE_SAN_OBJS) \
	$(SSH_SAN_OBJS) $(FIO_SAN_OBJS) $(DISK_SAN_OBJS) $(STORE_SAN_OBJS) $(ORACLE_SAN_OBJS) \
	$(FWLINK_SAN_OBJS) $(PCLIB_SAN_OBJS)
CAMPAIGN_STEPS_LIBS   = -Wl,--wrap=ledger_get_stats $(RELAY_LIBS) $(NODE_LIBS) $(ORACLE_LIBS) \
	$(DISK_LIBS) $(STORE_LIBS) $(FWLINK_LIBS) $(PCLIB_LIBS) $(CMOCKA_LIBS) -lm

SCRIPT_SETS += CAMPAIGN_B
CAMPAIGN_B_PROGS := $(BUILD)/host/campaign/bench/bench_campaign.sh
CAMPAIGN_B_NEEDS  = $(POWERCUT) $(MCUSIM) $(FW_ELF) $(AGENT_NBD) $(PCVCACHE_SO)

ALL_TARGETS += $(CAMPAIGN_LIB)
UNIT_TESTS  += $(CAMPAIGN_T_PROGS) $(CAMPAIGN_STEPS_PROGS)
BENCH_PROGS += $(CAMPAIGN_B_PROGS)
