# host/powercut: the controller build/bin/powercut (commands, relay drivers).

POWERCUT_SRCS := host/powercut/powercut.c host/powercut/cmd/help.c host/powercut/cmd/version.c \
	host/powercut/cmd/relay.c host/powercut/cmd/db.c host/powercut/cmd/config.c \
	host/powercut/cmd/cycle.c host/powercut/cmd/verify.c host/powercut/cmd/report.c \
	host/relay/relay.c host/relay/null.c host/relay/exec.c \
	host/relay/serial.c host/relay/usbhid.c host/relay/gpio.c
POWERCUT_SRCS += host/powercut/cmd/run.c host/powercut/cmd/show.c host/powercut/cmd/status.c host/powercut/cmd/serve.c
POWERCUT_SRCS += host/powercut/cmd/explore.c
POWERCUT_SRCS += host/powercut/cmd/doctor.c
POWERCUT_OBJS  = $(POWERCUT_SRCS:%.c=$(BUILD)/%.o)
POWERCUT_CFLAGS = -Ihost/powercut -Ihost/relay -Ihost/lib -Ihost/store -Ihost/oracle \
	-Ihost/node -Ihost/report -Irig/sim/disk -Ihost/campaign -Ihost/explore $(FWLINK_CFLAGS) \
	$(shell pkg-config --cflags sqlite3 jansson inih libusb-1.0 libgpiod)
# The controller links every host library, each before those it uses (the oracle
# twice: the store's migrations name its ledger tables).
POWERCUT_LINK = $(CAMPAIGN_LIB) $(EXPLORE_LIB) $(REPORT_LIB) $(NODE_LIB) $(ORACLE_LIB) $(DISK_LIB) $(STORE_LIB) $(ORACLE_LIB) \
	$(FWLINK_LIB) $(PCLIB)
POWERCUT_LIBS = $(shell pkg-config --libs libusb-1.0 libgpiod) $(REPORT_LIBS) $(NODE_LIBS) $(ORACLE_LIBS) \
	$(DISK_LIBS) $(STORE_LIBS) $(FWLINK_LIBS) $(PCLIB_LIBS) -lm
POWERCUT_TESTS := $(BUILD)/host/powercut/tests/test_cli.sh $(BUILD)/host/powercut/tests/test_relay_sim \
	$(BUILD)/host/powercut/tests/test_relay_drivers $(BUILD)/host/powercut/tests/test_verify \
	$(BUILD)/host/powercut/tests/test_doctor $(BUILD)/host/powercut/tests/test_exec_relays.sh
RELAY_SRCS := $(filter host/relay/%,$(POWERCUT_SRCS))
RELAY_SAN_OBJS = $(RELAY_SRCS:%.c=$(BUILD)/san/%.o)

ALL_TARGETS += $(POWERCUT)
CHECK_TESTS += $(POWERCUT_TESTS)

$(POWERCUT): $(POWERCUT_OBJS) $(POWERCUT_LINK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -o $@ $(POWERCUT_OBJS) $(POWERCUT_LINK) $(POWERCUT_LIBS)

$(BUILD)/host/powercut/%.o: host/powercut/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(POWERCUT_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/san/host/powercut/%.o: host/powercut/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(POWERCUT_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/host/relay/%.o: host/relay/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(POWERCUT_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/san/host/relay/%.o: host/relay/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(POWERCUT_CFLAGS) -MMD -MP -c -o $@ $<

# Drivers through their transport seams (fake boards), sanitizers on.
$(BUILD)/host/powercut/tests/test_relay_drivers: host/powercut/tests/test_relay_drivers.c \
		$(RELAY_SAN_OBJS) $(FWLINK_SAN_OBJS) $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(POWERCUT_CFLAGS) $(shell pkg-config --cflags cmocka) -MMD -MP \
		-o $@ $< $(RELAY_SAN_OBJS) $(FWLINK_SAN_OBJS) $(PCLIB_SAN_OBJS) $(FWLINK_LIBS) \
		$(PCLIB_LIBS) $(POWERCUT_LIBS) $(shell pkg-config --libs cmocka)
.SECONDARY: $(RELAY_SAN_OBJS)

# The CLI test is a shell script run from the repository root; it needs the binary.
$(BUILD)/host/powercut/tests/test_cli.sh: host/powercut/tests/test_cli.sh $(POWERCUT)
	@mkdir -p $(@D)
	cp $< $@
	chmod +x $@

$(BUILD)/host/powercut/tests/test_exec_relays.sh: host/powercut/tests/test_exec_relays.sh $(POWERCUT)
	@mkdir -p $(@D)
	cp $< $@
	chmod +x $@

# End-to-end test against the real firmware in the simulator: needs both built, and
# the fwlink client for sending a garbled line.
$(BUILD)/host/powercut/tests/test_relay_sim: host/powercut/tests/test_relay_sim.c $(POWERCUT) \
		$(MCUSIM) $(FW_ELF) $(FWLINK_SAN_OBJS) $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(POWERCUT_CFLAGS) $(shell pkg-config --cflags cmocka) -MMD -MP \
		-o $@ $< $(FWLINK_SAN_OBJS) $(PCLIB_SAN_OBJS) $(FWLINK_LIBS) $(PCLIB_LIBS) \
		$(shell pkg-config --libs cmocka)

# powercut verify against a ledger the test fills with the static agent.
$(BUILD)/host/powercut/tests/test_verify: host/powercut/tests/test_verify.c $(POWERCUT) $(AGENT) \
		$(STORE_SAN_OBJS) $(ORACLE_SAN_OBJS) $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(POWERCUT_CFLAGS) \
		$(shell pkg-config --cflags cmocka) -MMD -MP -o $@ $< $(STORE_SAN_OBJS) \
		$(ORACLE_SAN_OBJS) $(PCLIB_SAN_OBJS) $(STORE_LIBS) $(ORACLE_LIBS) $(PCLIB_LIBS) \
		$(shell pkg-config --libs cmocka)

-include $(BUILD)/host/powercut/tests/test_verify.d

# powercut doctor end to end: the simulated bench, and a private sshd (host/ssh/tests)
# as a Proxmox node that refuses ssh or answers with scripted Proxmox tools.
$(BUILD)/host/powercut/tests/test_doctor: host/powercut/tests/test_doctor.c $(POWERCUT) \
		$(MCUSIM) $(FW_ELF) host/ssh/tests/sshd_helper.c $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -Ihost/lib -Ihost/ssh/tests -Ihost/node/tests \
		$(shell pkg-config --cflags jansson) -MMD -MP -o $@ $< host/ssh/tests/sshd_helper.c \
		$(PCLIB_SAN_OBJS) $(PCLIB_LIBS) $(shell pkg-config --libs jansson)
-include $(BUILD)/host/powercut/tests/test_doctor.d
-include $(POWERCUT_OBJS:.o=.d) $(RELAY_SAN_OBJS:.o=.d) $(BUILD)/host/powercut/tests/test_relay_sim.d \
	$(BUILD)/host/powercut/tests/test_relay_drivers.d
