# tests/e2e: powercut cycle and powercut run end to end, on the simulated bench (the
# firmware in the simulator, the disk model, the agents; the full tier's guest, a
# private sshd as a remote node). The C tests read `powercut cycle --json` through
# e2e.h; the shell tests run campaigns through e2e.sh. Both run from the repository's
# top, as make check does.

# What every end-to-end test runs.
E2E_NEEDS = $(POWERCUT) $(MCUSIM) $(FW_ELF) $(AGENT) $(AGENT_NBD) $(PCVCACHE_SO)

PROGRAM_SETS += E2E_C
E2E_C_PROGS := $(BUILD)/tests/e2e/test_cycle_fast $(BUILD)/tests/e2e/test_cycle_dc \
	       $(BUILD)/tests/e2e/test_node_death \
	       $(BUILD)/tests/e2e/test_cycle_full $(BUILD)/tests/e2e/test_cycle_zvol \
	       $(BUILD)/tests/e2e/test_remote_cycle
E2E_C_SAN    = yes
E2E_C_CFLAGS = -Itests/e2e -Ihost/ssh/tests -Ihost/lib $(shell pkg-config --cflags jansson cmocka sqlite3)
E2E_C_LINK   = $(SSHD_HELPER_SAN_OBJS) $(PCLIB_SAN_OBJS)
E2E_C_LIBS   = $(PCLIB_LIBS) $(shell pkg-config --libs jansson cmocka sqlite3)
E2E_C_NEEDS  = $(E2E_NEEDS)

# The ledger attacker the hostile-network test runs beside a campaign.
PROGRAM_SETS += E2E_FLOOD
E2E_FLOOD_PROGS := $(BUILD)/tests/e2e/ledger_flood

SCRIPT_SETS += E2E_SH
E2E_SH_PROGS := $(BUILD)/tests/e2e/test_run.sh $(BUILD)/tests/e2e/test_keep.sh \
		$(BUILD)/tests/e2e/test_scenarios.sh $(BUILD)/tests/e2e/test_scenarios_full.sh $(BUILD)/tests/e2e/test_hostile.sh \
		$(BUILD)/tests/e2e/test_orphans.sh $(BUILD)/tests/e2e/test_fs.sh
E2E_SH_NEEDS  = $(E2E_NEEDS) $(BUILD)/tests/e2e/ledger_flood

E2E_TESTS += $(E2E_C_PROGS) $(E2E_SH_PROGS)
