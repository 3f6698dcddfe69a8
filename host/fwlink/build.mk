# host/fwlink: the firmware line-protocol client and the clock fit.
# Builds $(FWLINK_LIB) from host/fwlink/*.c plus firmware/core/frame.c (the firmware's
# own framing and CRC, compiled for the host). A program linking it adds
#   $(FWLINK_CFLAGS) when compiling, and $(FWLINK_LIB) $(PCLIB) $(FWLINK_LIBS) when linking.

MODULES     += FWLINK
FWLINK_SRCS := host/fwlink/fwline.c host/fwlink/clockfit.c host/fwlink/fwlink.c firmware/core/frame.c
FWLINK_CFLAGS = -Ihost/fwlink -Ifirmware/core -Ihost/lib $(shell pkg-config --cflags libserialport)
FWLINK_LIBS = $(shell pkg-config --libs libserialport) -lm

# Tests and the benchmark: sanitizers on; logging from host/lib's sanitizer build.
PROGRAM_SETS += FWLINK_T
FWLINK_T_PROGS := $(BUILD)/host/fwlink/tests/test_fwline $(BUILD)/host/fwlink/tests/test_clockfit \
	$(BUILD)/host/fwlink/tests/test_fwlink_fake $(BUILD)/host/fwlink/tests/test_fwlink_sim \
	$(BUILD)/host/fwlink/tests/bench_fwlink
FWLINK_T_SAN    = yes
FWLINK_T_CFLAGS = $(FWLINK_CFLAGS) $(CMOCKA_CFLAGS)
FWLINK_T_LINK   = $(FWLINK_SAN_OBJS) $(BUILD)/san/host/lib/log.o $(BUILD)/san/host/lib/child.o
FWLINK_T_LIBS   = $(FWLINK_LIBS) $(CMOCKA_LIBS) -lutil -lpthread

ALL_TARGETS += $(FWLINK_LIB)
UNIT_TESTS  += $(BUILD)/host/fwlink/tests/test_fwline $(BUILD)/host/fwlink/tests/test_clockfit \
	$(BUILD)/host/fwlink/tests/test_fwlink_fake
SIM_TESTS   += $(BUILD)/host/fwlink/tests/test_fwlink_sim
BENCH_PROGS += $(BUILD)/host/fwlink/tests/bench_fwlink
