# host/lib: logging, child processes, options/bench config, bench lock, utilities.
# Builds $(PCLIB); unit tests are built with $(SAN_FLAGS) from the same sources.

PCLIB_SRCS := host/lib/log.c host/lib/child.c host/lib/options.c host/lib/config.c \
	host/lib/util.c host/lib/benchlock.c
PCLIB_OBJS  = $(PCLIB_SRCS:%.c=$(BUILD)/%.o)
PCLIB_SAN_OBJS = $(PCLIB_SRCS:%.c=$(BUILD)/san/%.o)
# Libraries a program linking $(PCLIB) also needs (recursively expanded: pkg-config
# runs only when used).
PCLIB_CFLAGS = $(shell pkg-config --cflags inih jansson libcrypto)
PCLIB_LIBS   = $(shell pkg-config --libs inih jansson libcrypto)

PCLIB_TESTS := $(BUILD)/host/lib/tests/test_log $(BUILD)/host/lib/tests/test_child \
	$(BUILD)/host/lib/tests/test_config $(BUILD)/host/lib/tests/test_util \
	$(BUILD)/host/lib/tests/test_config_mutate

ALL_TARGETS += $(PCLIB)
CHECK_TESTS += $(PCLIB_TESTS)

$(PCLIB): $(PCLIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/host/lib/%.o: host/lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(PCLIB_CFLAGS) -Ihost/lib -MMD -MP -c -o $@ $<

$(BUILD)/san/host/lib/%.o: host/lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(PCLIB_CFLAGS) -Ihost/lib -MMD -MP -c -o $@ $<

$(BUILD)/host/lib/tests/%: host/lib/tests/%.c $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(PCLIB_CFLAGS) $(shell pkg-config --cflags cmocka) -Ihost/lib -MMD -MP \
		-o $@ $< $(PCLIB_SAN_OBJS) $(PCLIB_LIBS) $(shell pkg-config --libs cmocka)

-include $(PCLIB_OBJS:.o=.d) $(PCLIB_SAN_OBJS:.o=.d) $(PCLIB_TESTS:=.d)
# Keep the sanitizer objects: they are shared by several test programs.
.SECONDARY: $(PCLIB_SAN_OBJS)
