# host/store: the SQLite campaign database with migrations. Builds $(STORE_LIB).
# A program linking it adds $(STORE_CFLAGS) when compiling and
# $(STORE_LIB) $(ORACLE_LIB) $(PCLIB) $(STORE_LIBS) when linking: the oracle's ledger
# tables (host/oracle/ledger_schema.c) are one of the store's migrations.

STORE_SRCS := host/store/store.c
STORE_OBJS  = $(STORE_SRCS:%.c=$(BUILD)/%.o)
STORE_SAN_OBJS = $(STORE_SRCS:%.c=$(BUILD)/san/%.o)
STORE_CFLAGS = -Ihost/store -Ihost/lib -Ihost/oracle $(shell pkg-config --cflags sqlite3 jansson)
STORE_LIBS   = $(shell pkg-config --libs sqlite3 jansson)
STORE_TESTS := $(BUILD)/host/store/tests/test_store

ALL_TARGETS += $(STORE_LIB)
CHECK_TESTS += $(STORE_TESTS)

$(STORE_LIB): $(STORE_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/host/store/%.o: host/store/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(STORE_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/san/host/store/%.o: host/store/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(STORE_CFLAGS) -MMD -MP -c -o $@ $<

STORE_SCHEMA_SAN_OBJS = $(BUILD)/san/host/oracle/ledger_schema.o

$(BUILD)/host/store/tests/%: host/store/tests/%.c $(STORE_SAN_OBJS) $(STORE_SCHEMA_SAN_OBJS) $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(STORE_CFLAGS) $(shell pkg-config --cflags cmocka) -MMD -MP \
		-o $@ $< $(STORE_SAN_OBJS) $(STORE_SCHEMA_SAN_OBJS) $(PCLIB_SAN_OBJS) $(PCLIB_LIBS) $(STORE_LIBS) $(shell pkg-config --libs cmocka)

-include $(STORE_OBJS:.o=.d) $(STORE_SAN_OBJS:.o=.d) $(STORE_TESTS:=.d)
.SECONDARY: $(STORE_SAN_OBJS)
