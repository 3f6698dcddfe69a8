# host/fwlink: the firmware line-protocol client and the clock fit.
# Builds $(FWLINK_LIB) from host/fwlink/*.c plus firmware/core/frame.c (the firmware's
# own framing and CRC, compiled for the host). A program linking it adds
#   $(FWLINK_CFLAGS) when compiling, and $(FWLINK_LIB) $(PCLIB) $(FWLINK_LIBS) when linking.

FWLINK_SRCS := host/fwlink/fwline.c host/fwlink/clockfit.c host/fwlink/fwlink.c
FWLINK_OBJS := $(FWLINK_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/host/fwlink/frame.o
FWLINK_SAN_OBJS := $(FWLINK_SRCS:%.c=$(BUILD)/san/%.o) $(BUILD)/san/host/fwlink/frame.o
FWLINK_CFLAGS = -Ihost/fwlink -Ifirmware/core -Ihost/lib $(shell pkg-config --cflags libserialport)
FWLINK_LIBS = $(shell pkg-config --libs libserialport) -lm

FWLINK_UNIT_TESTS := $(BUILD)/host/fwlink/tests/test_fwline $(BUILD)/host/fwlink/tests/test_clockfit \
	$(BUILD)/host/fwlink/tests/test_fwlink_fake
FWLINK_SIM_TESTS := $(BUILD)/host/fwlink/tests/test_fwlink_sim
FWLINK_TESTS := $(FWLINK_UNIT_TESTS) $(FWLINK_SIM_TESTS)

ALL_TARGETS += $(FWLINK_LIB)
CHECK_TESTS += $(FWLINK_TESTS)
BENCH_PROGS += $(BUILD)/host/fwlink/tests/bench_fwlink

$(FWLINK_LIB): $(FWLINK_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/host/fwlink/%.o: host/fwlink/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(FWLINK_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/host/fwlink/frame.o: firmware/core/frame.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(FWLINK_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/san/host/fwlink/%.o: host/fwlink/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(FWLINK_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/san/host/fwlink/frame.o: firmware/core/frame.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(FWLINK_CFLAGS) -MMD -MP -c -o $@ $<

# Tests and the benchmark: sanitizers on; logging from host/lib's sanitizer build.
FWLINK_TEST_DEPS := $(FWLINK_SAN_OBJS) $(BUILD)/san/host/lib/log.o $(BUILD)/san/host/lib/child.o

$(BUILD)/host/fwlink/tests/%: host/fwlink/tests/%.c $(FWLINK_TEST_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(FWLINK_CFLAGS) $(shell pkg-config --cflags cmocka) -MMD -MP \
		-o $@ $< $(FWLINK_TEST_DEPS) $(FWLINK_LIBS) $(shell pkg-config --libs cmocka) -lutil -lpthread

-include $(FWLINK_OBJS:.o=.d) $(FWLINK_SAN_OBJS:.o=.d) $(FWLINK_TESTS:=.d)
.SECONDARY: $(FWLINK_SAN_OBJS)
