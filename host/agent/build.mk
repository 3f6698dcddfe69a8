# host/agent: powercut-agent, the verifying writer and checker (docs/oracle.md).
# $(AGENT) is statically linked, libc only (files and block devices, for guests);
# $(AGENT_NBD) is the same source plus io_nbd.c, dynamically linked with libnbd.
# host/oracle/record.c is compiled into both; both link SQLite (the sqlite workload),
# the static one from libsqlite3-dev's archive.

AGENT_SRCS := host/agent/main.c host/agent/core.c host/agent/lclient.c host/agent/io_file.c \
	      host/agent/check.c host/agent/files.c host/agent/sqlwl.c host/oracle/record.c host/oracle/filerec.c
AGENT_OBJS     = $(AGENT_SRCS:%.c=$(BUILD)/agent/static/%.o)
AGENT_NBD_OBJS = $(AGENT_SRCS:%.c=$(BUILD)/agent/nbd/%.o) $(BUILD)/agent/nbd/host/agent/io_nbd.o
AGENT_CFLAGS   = $(CFLAGS_COMMON) -Ihost/agent -Ihost/oracle -Ihost/lib -pthread

ALL_TARGETS += $(AGENT) $(AGENT_NBD)

$(AGENT): $(AGENT_OBJS)
	@mkdir -p $(@D)
	$(CC) -static -pthread -o $@ $^ -lsqlite3 -lm

$(AGENT_NBD): $(AGENT_NBD_OBJS)
	@mkdir -p $(@D)
	$(CC) -pthread -o $@ $^ $(shell pkg-config --libs libnbd sqlite3)

$(BUILD)/agent/static/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(AGENT_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/agent/nbd/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(AGENT_CFLAGS) -DPC_AGENT_NBD $(shell pkg-config --cflags libnbd) -MMD -MP -c -o $@ $<

-include $(AGENT_OBJS:.o=.d) $(AGENT_NBD_OBJS:.o=.d)
