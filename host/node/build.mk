# host/node: node drivers (the ops table, the local qemu driver with its fast and
# full tiers, proxmox, qemu over ssh, null) and the simulated node's power domain.
# Builds $(NODE_LIB); a program linking it also links $(SSH_LIB) $(FIO_LIB) (the
# remote drivers' transport, fio's report parser), then $(DISK_LIB) $(PCLIB).

MODULES    += NODE
NODE_LIB    = $(BUILD)/host/libnode.a
NODE_SRCS  := host/node/node.c host/node/power.c host/node/qemu.c host/node/console.c \
	      host/node/proxmox.c host/node/qemu_remote.c host/node/guest.c host/node/remote_ssh.c host/node/nodefio.c \
	      host/node/remote_ledger.c host/node/imgcheck.c host/node/nodedoctor.c host/node/smart.c \
	      host/node/null.c
NODE_CFLAGS = -Ihost/node -Ihost/lib -Irig/sim/disk -Ihost/ssh -Ihost/fio $(shell pkg-config --cflags jansson)
# What a program linking $(NODE_LIB) also needs (after it: $(DISK_LIB) $(PCLIB)).
NODE_LIBS   = $(shell pkg-config --libs jansson libnbd) -lpthread
# The node library's sanitizer build with what it links, for tests.
NODE_SAN_LINK = $(NODE_SAN_OBJS) $(SSH_SAN_OBJS) $(FIO_SAN_OBJS) $(DISK_SAN_OBJS) $(PCLIB_SAN_OBJS)

# Unit tests (sanitizers): the ops table and the null driver; the power domain with
# the node's calls counted by the test; the drive's testimony against smartctl's JSON
# (fixtures in host/node/tests/smart/, read from the source tree's top where the tests
# run); the guest console's ZFS and SMART events; the proxmox driver against synthetic
# transcripts (a fake remote seam instead of remote_ssh.c).
PROGRAM_SETS += NODE_T
NODE_T_PROGS := $(BUILD)/host/node/tests/test_node_ops $(BUILD)/host/node/tests/test_power \
		$(BUILD)/host/node/tests/test_smart $(BUILD)/host/node/tests/test_console $(BUILD)/host/node/tests/test_guest
NODE_T_SAN    = yes
NODE_T_CFLAGS = $(NODE_CFLAGS) $(CMOCKA_CFLAGS)
NODE_T_LINK   = $(NODE_SAN_LINK)
NODE_T_LIBS   = $(NODE_LIBS) $(PCLIB_LIBS) $(CMOCKA_LIBS)
# These define node calls of their own (the counted fakes): only their modules.
NODE_T_LINK_test_power   = $(BUILD)/san/host/node/power.o $(PCLIB_SAN_OBJS)
NODE_T_LINK_test_smart   = $(BUILD)/san/host/node/smart.o
NODE_T_LINK_test_console = $(BUILD)/san/host/node/console.o $(BUILD)/san/host/node/smart.o $(PCLIB_SAN_OBJS)

PROGRAM_SETS += NODE_PVE
NODE_PVE_PROGS := $(BUILD)/host/node/tests/test_proxmox
NODE_PVE_SAN    = yes
NODE_PVE_CFLAGS = $(NODE_CFLAGS) $(CMOCKA_CFLAGS)
NODE_PVE_LINK   = $(patsubst %,$(BUILD)/san/host/node/%.o,proxmox nodefio remote_ledger imgcheck \
		  nodedoctor guest console smart) $(FIO_SAN_OBJS) $(PCLIB_SAN_OBJS)
NODE_PVE_LIBS   = $(PCLIB_LIBS) $(shell pkg-config --libs jansson) $(CMOCKA_LIBS)

# For real: the qemu driver on a remote host (a private sshd on 127.0.0.1 as the remote
# host, the guest of scripts/build-guest, fio); fio beside the agent on the local
# simulated node (fast tier, real fio and rig/workloads). Both with the host's ledger.
PROGRAM_SETS += NODE_SIM
NODE_SIM_PROGS := $(BUILD)/host/node/tests/test_remote $(BUILD)/host/node/tests/test_node_fio
NODE_SIM_SAN    = yes
NODE_SIM_CFLAGS = $(NODE_CFLAGS) -Ihost/ssh/tests -Ihost/oracle -Itests/e2e \
		  $(shell pkg-config --cflags cmocka sqlite3)
NODE_SIM_LINK   = $(SSHD_HELPER_SAN_OBJS) $(NODE_SAN_OBJS) $(SSH_SAN_OBJS) $(FIO_SAN_OBJS) \
		  $(DISK_SAN_OBJS) $(ORACLE_SAN_OBJS) $(PCLIB_SAN_OBJS)
NODE_SIM_LIBS   = $(NODE_LIBS) $(ORACLE_LIBS) $(PCLIB_LIBS) $(shell pkg-config --libs cmocka sqlite3)
NODE_SIM_NEEDS  = $(AGENT_NBD) $(PCVCACHE_SO)

# The benchmark runs `powercut cycle` (tests/e2e's helpers).
PROGRAM_SETS += NODE_B
NODE_B_PROGS := $(BUILD)/host/node/bench/bench_cycle
NODE_B_CFLAGS = -Itests/e2e -Ihost/lib $(shell pkg-config --cflags jansson)
NODE_B_LIBS   = $(shell pkg-config --libs jansson)
NODE_B_NEEDS  = $(E2E_NEEDS)

ALL_TARGETS += $(NODE_LIB)
UNIT_TESTS  += $(NODE_T_PROGS) $(NODE_PVE_PROGS)
SIM_TESTS   += $(NODE_SIM_PROGS)
BENCH_PROGS += $(NODE_B_PROGS)
