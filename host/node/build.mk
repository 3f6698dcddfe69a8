# host/node: node drivers (the ops table, the local qemu driver with its fast and
# full tiers) and the simulated node's power domain. Builds $(NODE_LIB); also links
# `powercut cycle` (host/powercut/cmd/cycle.c) into $(POWERCUT), tests and benchmarks.

NODE_LIB    = $(BUILD)/host/libnode.a
# The library carries the proxmox and remote-qemu drivers with their ssh transport and
# fio's report parser (host/ssh, host/fio), so that programs linking it need nothing
# more; the proxmox test links a fake remote instead of remote_ssh.c.
NODE_SRCS  := host/node/node.c host/node/power.c host/node/qemu.c host/node/console.c \
	      host/node/proxmox.c host/node/qemu_remote.c host/node/guest.c host/node/remote_ssh.c host/node/nodefio.c \
	      host/node/remote_ledger.c host/node/imgcheck.c host/node/nodedoctor.c host/node/smart.c \
	      host/ssh/ssh.c host/fio/fio.c
NODE_OBJS   = $(NODE_SRCS:%.c=$(BUILD)/%.o)
NODE_CFLAGS = -Ihost/node -Ihost/lib -Irig/sim/disk -Ihost/ssh -Ihost/fio $(shell pkg-config --cflags jansson)
# What a program linking $(NODE_LIB) also needs (after it: $(DISK_LIB) $(PCLIB)).
NODE_LIBS   = $(shell pkg-config --libs jansson libnbd) -lpthread

NODE_TESTS := $(BUILD)/host/node/tests/test_node_ops $(BUILD)/host/node/tests/test_cycle_fast \
	      $(BUILD)/host/node/tests/test_cycle_dc $(BUILD)/host/node/tests/test_cycle_full \
	      $(BUILD)/host/node/tests/test_cycle_zvol
NODE_BENCH := $(BUILD)/host/node/bench/bench_cycle

ALL_TARGETS += $(NODE_LIB)
CHECK_TESTS += $(NODE_TESTS)
BENCH_PROGS += $(NODE_BENCH)

$(NODE_LIB): $(NODE_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/host/node/%.o: host/node/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(NODE_CFLAGS) -MMD -MP -c -o $@ $<

# Unit test of the ops table (sanitizers): links the library's sources directly.
$(BUILD)/host/node/tests/test_node_ops: host/node/tests/test_node_ops.c $(NODE_SRCS) \
		$(DISK_LIB) $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(NODE_CFLAGS) $(shell pkg-config --cflags cmocka) \
		-MMD -MP -o $@ $< $(NODE_SRCS) $(DISK_LIB) $(PCLIB_SAN_OBJS) $(NODE_LIBS) \
		$(PCLIB_LIBS) $(shell pkg-config --libs cmocka)

# The power domain alone (sanitizers): power.c with the node's calls counted by the test.
NODE_TESTS  += $(BUILD)/host/node/tests/test_power
CHECK_TESTS += $(BUILD)/host/node/tests/test_power
$(BUILD)/host/node/tests/test_power: host/node/tests/test_power.c host/node/power.c \
		$(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(NODE_CFLAGS) $(shell pkg-config --cflags cmocka) \
		-MMD -MP -o $@ $< host/node/power.c $(PCLIB_SAN_OBJS) $(PCLIB_LIBS) \
		$(shell pkg-config --libs jansson cmocka) -lpthread

# End-to-end tests and the benchmark run `powercut cycle` (and the simulator, the
# agents, the disk model's filter, the guest for the full tier) and read its --json.
NODE_E2E_DEPS = $(POWERCUT) $(MCUSIM) $(FW_ELF) $(AGENT) $(AGENT_NBD) $(BUILD)/lib/nbdkit-pcvcache-filter.so
$(BUILD)/host/node/tests/test_cycle_%: host/node/tests/test_cycle_%.c host/node/tests/e2e.h \
		$(NODE_E2E_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(shell pkg-config --cflags jansson cmocka sqlite3) \
		-Ihost/node -MMD -MP -o $@ $< $(shell pkg-config --libs jansson cmocka sqlite3)

$(BUILD)/host/node/bench/bench_cycle: host/node/bench/bench_cycle.c host/node/tests/e2e.h \
		$(NODE_E2E_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(shell pkg-config --cflags jansson) -Ihost/node/tests \
		-MMD -MP -o $@ $< $(shell pkg-config --libs jansson)

# [issue 8] The proxmox driver against synthetic transcripts (a fake remote seam).
NODE_TESTS  += $(BUILD)/host/node/tests/test_proxmox
CHECK_TESTS += $(BUILD)/host/node/tests/test_proxmox
# fio's part of the driver is nodefio.c with host/fio's parser, over the same fake.
NODE_PVE_SRCS = host/node/proxmox.c host/node/nodefio.c host/node/remote_ledger.c host/node/guest.c host/node/console.c host/node/smart.c \
		host/node/imgcheck.c host/node/nodedoctor.c host/fio/fio.c
$(BUILD)/host/node/tests/test_proxmox: host/node/tests/test_proxmox.c $(NODE_PVE_SRCS) \
		$(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(NODE_CFLAGS) $(shell pkg-config --cflags cmocka) \
		-MMD -MP -o $@ $< $(NODE_PVE_SRCS) $(PCLIB_SAN_OBJS) $(PCLIB_LIBS) \
		$(shell pkg-config --libs jansson cmocka)
-include $(BUILD)/host/node/tests/test_proxmox.d

# [issue 8] The qemu driver on a remote host, for real: a private sshd on 127.0.0.1
# (host/ssh/tests/sshd_helper.c) as the remote host, the host's ledger (host/oracle),
# the guest of scripts/build-guest and fio.
NODE_REMOTE_TEST = $(BUILD)/host/node/tests/test_remote
NODE_TESTS  += $(NODE_REMOTE_TEST)
CHECK_TESTS += $(NODE_REMOTE_TEST)
$(NODE_REMOTE_TEST): host/node/tests/test_remote.c host/ssh/tests/sshd_helper.c $(NODE_SRCS) \
		$(DISK_LIB) $(ORACLE_SAN_OBJS) $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(NODE_CFLAGS) -Ihost/ssh/tests -Ihost/oracle -Ihost/node/tests \
		$(shell pkg-config --cflags cmocka sqlite3) -MMD -MP -o $@ $< \
		host/ssh/tests/sshd_helper.c $(NODE_SRCS) $(DISK_LIB) $(ORACLE_SAN_OBJS) \
		$(PCLIB_SAN_OBJS) $(NODE_LIBS) $(PCLIB_LIBS) \
		$(shell pkg-config --libs cmocka sqlite3)
-include $(NODE_REMOTE_TEST).d

# [issue 8] `powercut cycle` with a node over ssh (the private sshd), the relay the
# firmware in the simulator: rig/benches/sim-remote.ini.
NODE_REMOTE_CYCLE = $(BUILD)/host/node/tests/test_remote_cycle
NODE_TESTS  += $(NODE_REMOTE_CYCLE)
CHECK_TESTS += $(NODE_REMOTE_CYCLE)
$(NODE_REMOTE_CYCLE): host/node/tests/test_remote_cycle.c host/node/tests/e2e.h \
		host/ssh/tests/sshd_helper.c $(NODE_E2E_DEPS) $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -Ihost/node/tests -Ihost/ssh/tests -Ihost/lib \
		$(shell pkg-config --cflags jansson cmocka) -MMD -MP -o $@ $< \
		host/ssh/tests/sshd_helper.c $(PCLIB_SAN_OBJS) $(PCLIB_LIBS) \
		$(shell pkg-config --libs jansson cmocka)

-include $(NODE_OBJS:.o=.d) $(NODE_TESTS:=.d) $(NODE_BENCH:=.d)

# fio beside the agent on the local simulated node (fast tier), for real: the node_*
# calls with the host's ledger (host/oracle), real fio and rig/workloads.
NODE_FIO_TEST = $(BUILD)/host/node/tests/test_node_fio
NODE_TESTS  += $(NODE_FIO_TEST)
CHECK_TESTS += $(NODE_FIO_TEST)
$(NODE_FIO_TEST): host/node/tests/test_node_fio.c $(NODE_SRCS) $(DISK_LIB) $(ORACLE_SAN_OBJS) \
		$(PCLIB_SAN_OBJS) | $(AGENT_NBD) $(BUILD)/lib/nbdkit-pcvcache-filter.so
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(NODE_CFLAGS) -Ihost/oracle -Ihost/node/tests \
		$(shell pkg-config --cflags cmocka sqlite3) -MMD -MP -o $@ $< $(NODE_SRCS) \
		$(DISK_LIB) $(ORACLE_SAN_OBJS) $(PCLIB_SAN_OBJS) $(NODE_LIBS) $(PCLIB_LIBS) \
		$(shell pkg-config --libs cmocka sqlite3)
-include $(NODE_FIO_TEST).d

# [issue 21] The drive's testimony against smartctl's JSON (fixtures in
# host/node/tests/smart/, read from the source tree's top where the tests run).
NODE_TESTS  += $(BUILD)/host/node/tests/test_smart
CHECK_TESTS += $(BUILD)/host/node/tests/test_smart
$(BUILD)/host/node/tests/test_smart: host/node/tests/test_smart.c host/node/smart.c host/node/smart.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -Ihost/node $(shell pkg-config --cflags jansson cmocka) \
		-MMD -MP -o $@ $< host/node/smart.c $(shell pkg-config --libs jansson cmocka)

# [issue 21] The guest console's ZFS and SMART events (console.c with smart.c).
NODE_TESTS  += $(BUILD)/host/node/tests/test_console
CHECK_TESTS += $(BUILD)/host/node/tests/test_console
$(BUILD)/host/node/tests/test_console: host/node/tests/test_console.c host/node/console.c \
		host/node/smart.c $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(NODE_CFLAGS) $(shell pkg-config --cflags cmocka) \
		-MMD -MP -o $@ $< host/node/console.c host/node/smart.c $(PCLIB_SAN_OBJS) \
		$(PCLIB_LIBS) $(shell pkg-config --libs jansson cmocka)

# [issue 20] The guest module pinned: the command lines each driver gives the guest.
NODE_TESTS  += $(BUILD)/host/node/tests/test_guest
CHECK_TESTS += $(BUILD)/host/node/tests/test_guest
$(BUILD)/host/node/tests/test_guest: host/node/tests/test_guest.c host/node/guest.c \
		host/node/console.c host/node/smart.c $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(NODE_CFLAGS) $(shell pkg-config --cflags cmocka) \
		-MMD -MP -o $@ $< host/node/guest.c host/node/console.c host/node/smart.c \
		$(PCLIB_SAN_OBJS) $(PCLIB_LIBS) $(shell pkg-config --libs jansson cmocka)
