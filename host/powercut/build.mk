# host/powercut: the controller build/bin/powercut (commands, relay drivers).

POWERCUT_SRCS := host/powercut/powercut.c host/powercut/cmd/help.c host/powercut/cmd/version.c \
	host/powercut/cmd/relay.c host/powercut/cmd/db.c host/powercut/cmd/config.c \
	host/powercut/relay/relay.c host/powercut/relay/null.c host/powercut/relay/exec.c \
	host/powercut/relay/serial.c host/powercut/relay/usbhid.c host/powercut/relay/gpio.c
POWERCUT_OBJS  = $(POWERCUT_SRCS:%.c=$(BUILD)/%.o)
POWERCUT_CFLAGS = -Ihost/powercut -Ihost/powercut/relay -Ihost/lib -Ihost/store $(FWLINK_CFLAGS) \
	$(shell pkg-config --cflags sqlite3 jansson inih)
POWERCUT_TESTS := $(BUILD)/host/powercut/tests/test_cli.sh $(BUILD)/host/powercut/tests/test_relay_sim

ALL_TARGETS += $(POWERCUT)
CHECK_TESTS += $(POWERCUT_TESTS)

$(POWERCUT): $(POWERCUT_OBJS) $(STORE_LIB) $(FWLINK_LIB) $(PCLIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -o $@ $(POWERCUT_OBJS) $(STORE_LIB) $(FWLINK_LIB) $(PCLIB) \
		$(STORE_LIBS) $(FWLINK_LIBS) $(PCLIB_LIBS)

$(BUILD)/host/powercut/%.o: host/powercut/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(POWERCUT_CFLAGS) -MMD -MP -c -o $@ $<

# The CLI test is a shell script run from the repository root; it needs the binary.
$(BUILD)/host/powercut/tests/test_cli.sh: host/powercut/tests/test_cli.sh $(POWERCUT)
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

-include $(POWERCUT_OBJS:.o=.d) $(BUILD)/host/powercut/tests/test_relay_sim.d
