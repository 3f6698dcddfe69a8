# host/lib: logging, child processes, options/bench config, bench lock, utilities.
# Builds $(PCLIB); unit tests link its sanitizer objects.

MODULES    += PCLIB
PCLIB_LIB   = $(PCLIB)
PCLIB_SRCS := host/lib/log.c host/lib/child.c host/lib/options.c host/lib/config.c \
	host/lib/util.c host/lib/benchlock.c host/lib/qmp.c
# Libraries a program linking $(PCLIB) also needs (recursively expanded: pkg-config
# runs only when used).
PCLIB_CFLAGS = -Ihost/lib $(shell pkg-config --cflags inih jansson libcrypto)
PCLIB_LIBS   = $(shell pkg-config --libs inih jansson libcrypto)

PROGRAM_SETS += PCLIB_T
PCLIB_T_PROGS := $(BUILD)/host/lib/tests/test_log $(BUILD)/host/lib/tests/test_child \
	$(BUILD)/host/lib/tests/test_config $(BUILD)/host/lib/tests/test_util \
	$(BUILD)/host/lib/tests/test_config_mutate $(BUILD)/host/lib/tests/test_qmp
PCLIB_T_SAN    = yes
PCLIB_T_CFLAGS = $(PCLIB_CFLAGS) $(CMOCKA_CFLAGS)
PCLIB_T_LINK   = $(PCLIB_SAN_OBJS)
PCLIB_T_LIBS   = $(PCLIB_LIBS) $(CMOCKA_LIBS)

ALL_TARGETS += $(PCLIB)
UNIT_TESTS  += $(PCLIB_T_PROGS)
