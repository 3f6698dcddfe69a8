# host/powercut: the controller build/bin/powercut (commands), and the relay drivers
# (host/relay).

MODULES     += RELAY
RELAY_SRCS  := host/relay/relay.c host/relay/null.c host/relay/exec.c \
	host/relay/serial.c host/relay/usbhid.c host/relay/gpio.c
RELAY_CFLAGS = -Ihost/relay -Ihost/lib $(FWLINK_CFLAGS) $(shell pkg-config --cflags jansson inih libusb-1.0 libgpiod)
RELAY_LIBS   = $(shell pkg-config --libs libusb-1.0 libgpiod)

MODULES       += POWERCUT
POWERCUT_SRCS := host/powercut/powercut.c host/powercut/cmd/help.c host/powercut/cmd/version.c \
	host/powercut/cmd/relay.c host/powercut/cmd/db.c host/powercut/cmd/config.c \
	host/powercut/cmd/cycle.c host/powercut/cmd/verify.c host/powercut/cmd/report.c
POWERCUT_SRCS += host/powercut/cmd/run.c host/powercut/cmd/show.c host/powercut/cmd/status.c host/powercut/cmd/serve.c
POWERCUT_SRCS += host/powercut/cmd/explore.c
POWERCUT_SRCS += host/powercut/cmd/doctor.c
POWERCUT_CFLAGS = -Ihost/powercut -Ihost/relay -Ihost/lib -Ihost/store -Ihost/oracle \
	-Ihost/node -Ihost/report -Irig/sim/disk -Ihost/campaign -Ihost/explore $(FWLINK_CFLAGS) \
	$(shell pkg-config --cflags sqlite3 jansson inih libusb-1.0 libgpiod)
# The controller links every host library, each before those it uses.
POWERCUT_PROG   = $(POWERCUT)
POWERCUT_LINK   = $(RELAY_OBJS) $(CAMPAIGN_LIB) $(EXPLORE_LIB) $(REPORT_LIB) $(NODE_LIB) $(SSH_LIB) \
	$(FIO_LIB) $(DISK_LIB) $(STORE_LIB) $(ORACLE_LIB) $(FWLINK_LIB) $(PCLIB)
POWERCUT_LDLIBS = $(RELAY_LIBS) $(REPORT_LIBS) $(NODE_LIBS) $(ORACLE_LIBS) \
	$(DISK_LIBS) $(STORE_LIBS) $(FWLINK_LIBS) $(PCLIB_LIBS) -lm

# Drivers through their transport seams (fake boards), sanitizers on.
PROGRAM_SETS += RELAY_T
RELAY_T_PROGS := $(BUILD)/host/powercut/tests/test_relay_drivers
RELAY_T_SAN    = yes
RELAY_T_CFLAGS = $(RELAY_CFLAGS) $(CMOCKA_CFLAGS)
RELAY_T_LINK   = $(RELAY_SAN_OBJS) $(FWLINK_SAN_OBJS) $(PCLIB_SAN_OBJS)
RELAY_T_LIBS   = $(FWLINK_LIBS) $(PCLIB_LIBS) $(RELAY_LIBS) $(CMOCKA_LIBS)

# The CLI, and the exec relays, against the binary (shell scripts run from the top).
SCRIPT_SETS += POWERCUT_SH
POWERCUT_SH_PROGS := $(BUILD)/host/powercut/tests/test_cli.sh $(BUILD)/host/powercut/tests/test_exec_relays.sh
POWERCUT_SH_NEEDS  = $(POWERCUT)

# Against the real firmware in the simulator (and the fwlink client for sending a
# garbled line); powercut verify against a ledger the test fills with the static
# agent; powercut doctor on the simulated bench and with a private sshd
# (host/ssh/tests) as a Proxmox node that refuses ssh or answers with scripted tools.
PROGRAM_SETS += POWERCUT_T
POWERCUT_T_PROGS := $(BUILD)/host/powercut/tests/test_relay_sim $(BUILD)/host/powercut/tests/test_verify \
	$(BUILD)/host/powercut/tests/test_doctor
POWERCUT_T_SAN    = yes
POWERCUT_T_CFLAGS = $(POWERCUT_CFLAGS) -Ihost/ssh/tests -Itests/e2e $(CMOCKA_CFLAGS)
POWERCUT_T_LINK   = $(STORE_SAN_OBJS) $(ORACLE_SAN_OBJS) $(FWLINK_SAN_OBJS) $(SSHD_HELPER_SAN_OBJS) \
	$(PCLIB_SAN_OBJS)
POWERCUT_T_LIBS   = $(STORE_LIBS) $(ORACLE_LIBS) $(FWLINK_LIBS) $(PCLIB_LIBS) $(CMOCKA_LIBS)
POWERCUT_T_NEEDS  = $(POWERCUT) $(MCUSIM) $(FW_ELF) $(AGENT)

ALL_TARGETS += $(POWERCUT)
UNIT_TESTS  += $(RELAY_T_PROGS)
SIM_TESTS   += $(POWERCUT_SH_PROGS) $(POWERCUT_T_PROGS)
