# host/oracle: sector records, the ledger (TCP server into SQLite), the classifier.
# Builds $(ORACLE_LIB). record.c is also compiled into the agent (host/agent/build.mk).
# Unit tests link the sanitizer objects of this library and of host/lib.

MODULES     += ORACLE
ORACLE_SRCS := host/oracle/record.c host/oracle/classify.c host/oracle/ledger.c host/oracle/ledger_schema.c \
	       host/oracle/verify.c host/oracle/filerec.c host/oracle/fsverify.c
# What a program linking $(ORACLE_LIB) also needs (it also links $(PCLIB)).
ORACLE_CFLAGS = -Ihost/oracle -Ihost/lib $(shell pkg-config --cflags sqlite3 jansson)
ORACLE_LIBS   = $(shell pkg-config --libs sqlite3 jansson) -lpthread

PROGRAM_SETS += ORACLE_T
ORACLE_T_UNIT := $(BUILD)/host/oracle/tests/test_record $(BUILD)/host/oracle/tests/test_classify \
		 $(BUILD)/host/oracle/tests/test_ledger $(BUILD)/host/oracle/tests/test_verify_db \
		 $(BUILD)/host/oracle/tests/test_fsverify
# These run the agent binaries.
ORACLE_T_AGENT := $(BUILD)/host/oracle/tests/test_agent_file $(BUILD)/host/oracle/tests/test_agent_nbd \
		  $(BUILD)/host/oracle/tests/test_agent_files
ORACLE_T_PROGS := $(ORACLE_T_UNIT) $(ORACLE_T_AGENT)
ORACLE_T_SAN    = yes
ORACLE_T_CFLAGS = $(ORACLE_CFLAGS) $(CMOCKA_CFLAGS)
ORACLE_T_LINK   = $(ORACLE_SAN_OBJS) $(PCLIB_SAN_OBJS)
ORACLE_T_LIBS   = $(ORACLE_LIBS) $(PCLIB_LIBS) $(CMOCKA_LIBS)
ORACLE_T_NEEDS  = $(AGENT) $(AGENT_NBD)

PROGRAM_SETS += ORACLE_B
ORACLE_B_PROGS := $(BUILD)/host/oracle/bench/bench_oracle
ORACLE_B_CFLAGS = $(ORACLE_CFLAGS)
ORACLE_B_LINK   = $(ORACLE_LIB) $(PCLIB)
ORACLE_B_LIBS   = $(ORACLE_LIBS) $(PCLIB_LIBS)
ORACLE_B_NEEDS  = $(AGENT_NBD)

ALL_TARGETS += $(ORACLE_LIB)
UNIT_TESTS  += $(ORACLE_T_UNIT)
SIM_TESTS   += $(ORACLE_T_AGENT)
BENCH_PROGS += $(ORACLE_B_PROGS)
