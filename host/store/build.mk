# host/store: the SQLite campaign database with migrations. Builds $(STORE_LIB).
# A program linking it adds $(STORE_CFLAGS) when compiling and
# $(STORE_LIB) $(ORACLE_LIB) $(PCLIB) $(STORE_LIBS) when linking: the oracle's ledger
# tables (host/oracle/ledger_schema.c) are one of the store's migrations.

MODULES    += STORE
STORE_SRCS := host/store/store.c
STORE_CFLAGS = -Ihost/store -Ihost/lib -Ihost/oracle $(shell pkg-config --cflags sqlite3 jansson)
STORE_LIBS   = $(shell pkg-config --libs sqlite3 jansson)

PROGRAM_SETS += STORE_T
STORE_T_PROGS := $(BUILD)/host/store/tests/test_store
STORE_T_SAN    = yes
STORE_T_CFLAGS = $(STORE_CFLAGS) $(CMOCKA_CFLAGS)
STORE_T_LINK   = $(STORE_SAN_OBJS) $(BUILD)/san/host/oracle/ledger_schema.o $(PCLIB_SAN_OBJS)
STORE_T_LIBS   = $(PCLIB_LIBS) $(STORE_LIBS) $(CMOCKA_LIBS)

ALL_TARGETS += $(STORE_LIB)
UNIT_TESTS  += $(STORE_T_PROGS)
