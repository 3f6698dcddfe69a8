# host/oracle: sector records, the ledger (TCP server into SQLite), the classifier.
# Builds $(ORACLE_LIB). record.c is also compiled into the agent (host/agent/build.mk).
# Unit tests are built with $(SAN_FLAGS) from the same sources.

ORACLE_SRCS := host/oracle/record.c host/oracle/classify.c host/oracle/ledger.c host/oracle/ledger_schema.c \
	       host/oracle/verify.c
ORACLE_OBJS      = $(ORACLE_SRCS:%.c=$(BUILD)/%.o)
ORACLE_SAN_OBJS  = $(ORACLE_SRCS:%.c=$(BUILD)/san/%.o)
# What a program linking $(ORACLE_LIB) also needs (it also links $(PCLIB)).
ORACLE_CFLAGS = $(shell pkg-config --cflags sqlite3 jansson)
ORACLE_LIBS   = $(shell pkg-config --libs sqlite3 jansson) -lpthread

ORACLE_TESTS := $(BUILD)/host/oracle/tests/test_record $(BUILD)/host/oracle/tests/test_classify \
		$(BUILD)/host/oracle/tests/test_ledger $(BUILD)/host/oracle/tests/test_agent_file \
		$(BUILD)/host/oracle/tests/test_agent_nbd $(BUILD)/host/oracle/tests/test_verify_db
ORACLE_BENCH := $(BUILD)/host/oracle/bench/bench_oracle

ALL_TARGETS += $(ORACLE_LIB)
CHECK_TESTS += $(ORACLE_TESTS)
BENCH_PROGS += $(ORACLE_BENCH)

$(ORACLE_LIB): $(ORACLE_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/host/oracle/%.o: host/oracle/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(ORACLE_CFLAGS) -Ihost/oracle -Ihost/lib -MMD -MP -c -o $@ $<

$(BUILD)/san/host/oracle/%.o: host/oracle/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(ORACLE_CFLAGS) -Ihost/oracle -Ihost/lib -MMD -MP -c -o $@ $<

# Tests link the sanitizer builds of this library and of host/lib.
ORACLE_TEST_DEPS = $(ORACLE_SAN_OBJS) $(PCLIB_SAN_OBJS)
ORACLE_TEST_LIBS = $(ORACLE_LIBS) $(PCLIB_LIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/host/oracle/tests/%: host/oracle/tests/%.c $(ORACLE_SAN_OBJS) $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(ORACLE_CFLAGS) $(shell pkg-config --cflags cmocka) \
		-Ihost/oracle -Ihost/lib -MMD -MP -o $@ $< $(ORACLE_TEST_DEPS) $(ORACLE_TEST_LIBS)

# The end-to-end tests run the agent binaries.
$(BUILD)/host/oracle/tests/test_agent_file: $(AGENT)
$(BUILD)/host/oracle/tests/test_agent_nbd: $(AGENT_NBD)

$(BUILD)/host/oracle/bench/%: host/oracle/bench/%.c $(ORACLE_LIB) $(PCLIB) | $(AGENT_NBD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(ORACLE_CFLAGS) -Ihost/oracle -Ihost/lib -MMD -MP \
		-o $@ $< $(ORACLE_LIB) $(PCLIB) $(ORACLE_LIBS) $(PCLIB_LIBS)

-include $(ORACLE_OBJS:.o=.d) $(ORACLE_SAN_OBJS:.o=.d) $(ORACLE_TESTS:=.d) $(ORACLE_BENCH:=.d)
.SECONDARY: $(ORACLE_SAN_OBJS)
