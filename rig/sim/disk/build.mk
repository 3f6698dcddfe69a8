# rig/sim/disk: the volatile disk model.
#   $(PCVCACHE_SO)  nbdkit filter: the volatile write cache (no sanitizers: nbdkit loads it)
#   $(DISK_LIB)     launcher: image creation, nbdkit + qemu-storage-daemon, cuts, checks
# Tests: test_vcache (unit, the cache logic against a memory platter), test_diskmodel
# (the model through nbdkit and QEMU), test_proof (issue 5's end-to-end proof with
# the agent and the classifier).

DISK_DIR    := rig/sim/disk
PCVCACHE_SO := $(BUILD)/lib/nbdkit-pcvcache-filter.so
PCREPLAY_SO := $(BUILD)/lib/nbdkit-pcreplay-filter.so
DISK_OBJS   := $(BUILD)/$(DISK_DIR)/diskmodel.o $(BUILD)/$(DISK_DIR)/recording.o \
               $(BUILD)/$(DISK_DIR)/wlog.o
DISK_SAN_OBJS = $(patsubst $(BUILD)/%,$(BUILD)/san/%,$(DISK_OBJS))
DISK_TESTS  := $(BUILD)/$(DISK_DIR)/tests/test_vcache $(BUILD)/$(DISK_DIR)/tests/test_diskmodel \
               $(BUILD)/$(DISK_DIR)/tests/test_proof $(BUILD)/$(DISK_DIR)/tests/test_wlog

# Libraries a program linking $(DISK_LIB) also needs (with $(PCLIB)).
DISK_CFLAGS = $(shell pkg-config --cflags jansson libnbd)
DISK_LIBS   = $(shell pkg-config --libs jansson libnbd)
DISK_CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka)
DISK_CMOCKA_LIBS   = $(shell pkg-config --libs cmocka)

ALL_TARGETS += $(PCVCACHE_SO) $(PCREPLAY_SO) $(DISK_LIB)
CHECK_TESTS += $(DISK_TESTS)

$(PCVCACHE_SO): $(BUILD)/$(DISK_DIR)/pic/pcvcache.o $(BUILD)/$(DISK_DIR)/pic/vcache.o \
		$(BUILD)/$(DISK_DIR)/pic/wlog.o
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $^ -lpthread

# The crash-state server of powercut explore (docs/explore.md).
$(PCREPLAY_SO): $(BUILD)/$(DISK_DIR)/pic/pcreplay.o $(BUILD)/$(DISK_DIR)/pic/wlog.o
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $^ -lpthread

$(BUILD)/$(DISK_DIR)/pic/%.o: $(DISK_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -fPIC -fvisibility=hidden $(shell pkg-config --cflags nbdkit) \
		-MMD -MP -c -o $@ $<

$(DISK_LIB): $(DISK_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/$(DISK_DIR)/%.o: $(DISK_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(DISK_CFLAGS) -Ihost/lib -MMD -MP -c -o $@ $<

$(BUILD)/san/$(DISK_DIR)/%.o: $(DISK_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(DISK_CFLAGS) -Ihost/lib -MMD -MP -c -o $@ $<

$(BUILD)/$(DISK_DIR)/tests/test_vcache: $(DISK_DIR)/tests/test_vcache.c $(BUILD)/san/$(DISK_DIR)/vcache.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(DISK_CMOCKA_CFLAGS) -I$(DISK_DIR) -MMD -MP \
		-o $@ $< $(BUILD)/san/$(DISK_DIR)/vcache.o $(DISK_CMOCKA_LIBS)

# The write log, the recorder in pcvcache and the pcreplay filter through nbdkit (the
# filters found beside the test).
$(BUILD)/$(DISK_DIR)/tests/test_wlog: $(DISK_DIR)/tests/test_wlog.c $(BUILD)/san/$(DISK_DIR)/wlog.o \
		$(PCLIB_SAN_OBJS) $(PCREPLAY_SO) $(PCVCACHE_SO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(DISK_CFLAGS) $(DISK_CMOCKA_CFLAGS) -I$(DISK_DIR) \
		-Ihost/lib -MMD -MP -o $@ $< $(BUILD)/san/$(DISK_DIR)/wlog.o $(PCLIB_SAN_OBJS) \
		$(PCLIB_LIBS) $(DISK_LIBS) $(DISK_CMOCKA_LIBS)

# The stack tests run the filter and qemu-storage-daemon, so they depend on both
# being built, not only on the library.
$(BUILD)/$(DISK_DIR)/tests/test_diskmodel: $(DISK_DIR)/tests/test_diskmodel.c \
		$(DISK_SAN_OBJS) $(PCLIB_SAN_OBJS) $(PCVCACHE_SO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(DISK_CFLAGS) $(DISK_CMOCKA_CFLAGS) -I$(DISK_DIR) \
		-Ihost/lib -MMD -MP -o $@ $< $(DISK_SAN_OBJS) \
		$(PCLIB_SAN_OBJS) $(PCLIB_LIBS) $(DISK_LIBS) $(DISK_CMOCKA_LIBS)

-include $(BUILD)/$(DISK_DIR)/pic/pcvcache.d $(BUILD)/$(DISK_DIR)/pic/vcache.d \
	$(BUILD)/$(DISK_DIR)/pic/wlog.d $(BUILD)/$(DISK_DIR)/pic/pcreplay.d \
	$(DISK_OBJS:.o=.d) $(DISK_SAN_OBJS:.o=.d) $(BUILD)/san/$(DISK_DIR)/vcache.d \
	$(DISK_TESTS:=.d)
.SECONDARY: $(DISK_SAN_OBJS) $(BUILD)/san/$(DISK_DIR)/vcache.o

# The proof links the classifier and the ledger (sanitizer builds) and runs
# $(AGENT_NBD) found beside it at run time (it skips, saying so, until that exists).
DISK_PROOF_DEPS = $(DISK_SAN_OBJS) $(ORACLE_SAN_OBJS) $(PCLIB_SAN_OBJS)
$(BUILD)/$(DISK_DIR)/tests/test_proof: $(DISK_DIR)/tests/test_proof.c $(DISK_PROOF_DEPS) $(PCVCACHE_SO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(DISK_CFLAGS) $(ORACLE_CFLAGS) $(DISK_CMOCKA_CFLAGS) \
		-I$(DISK_DIR) -Ihost/oracle -Ihost/lib -MMD -MP -o $@ $< $(DISK_PROOF_DEPS) \
		$(ORACLE_LIBS) $(PCLIB_LIBS) $(DISK_LIBS) $(DISK_CMOCKA_LIBS)
