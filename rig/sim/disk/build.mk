# rig/sim/disk: the volatile disk model.
#   $(PCVCACHE_SO)  nbdkit filter: the volatile write cache (no sanitizers: nbdkit loads it)
#   $(PCREPLAY_SO)  nbdkit filter: the crash-state server of powercut explore
#   $(DISK_LIB)     launcher: image creation, nbdkit + qemu-storage-daemon, cuts, checks
# Tests: test_vcache (unit, the cache logic against a memory platter), test_wlog (the
# write log and both filters through nbdkit), test_diskmodel (the model through nbdkit
# and QEMU), test_proof (issue 5's end-to-end proof with the agent and the classifier).

DISK_DIR    := rig/sim/disk
PCVCACHE_SO := $(BUILD)/lib/nbdkit-pcvcache-filter.so
PCREPLAY_SO := $(BUILD)/lib/nbdkit-pcreplay-filter.so

MODULES    += DISK
DISK_SRCS  := $(DISK_DIR)/diskmodel.c $(DISK_DIR)/recording.c $(DISK_DIR)/wlog.c
# Libraries a program linking $(DISK_LIB) also needs (with $(PCLIB)).
DISK_CFLAGS = -I$(DISK_DIR) -Ihost/lib $(shell pkg-config --cflags jansson libnbd)
DISK_LIBS   = $(shell pkg-config --libs jansson libnbd)

# The cache logic alone (its unit test).
MODULES    += VCACHE
VCACHE_SRCS := $(DISK_DIR)/vcache.c
VCACHE_CFLAGS = -I$(DISK_DIR)

# The filters: position-independent, no sanitizers (nbdkit loads them).
$(PCVCACHE_SO): $(BUILD)/$(DISK_DIR)/pic/pcvcache.o $(BUILD)/$(DISK_DIR)/pic/vcache.o \
		$(BUILD)/$(DISK_DIR)/pic/wlog.o
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $^ -lpthread

$(PCREPLAY_SO): $(BUILD)/$(DISK_DIR)/pic/pcreplay.o $(BUILD)/$(DISK_DIR)/pic/wlog.o
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $^ -lpthread

$(BUILD)/$(DISK_DIR)/pic/%.o: $(DISK_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -fPIC -fvisibility=hidden $(shell pkg-config --cflags nbdkit) \
		-MMD -MP -c -o $@ $<

DEP_OBJS += $(patsubst %,$(BUILD)/$(DISK_DIR)/pic/%.o,pcvcache vcache wlog pcreplay)

PROGRAM_SETS += VCACHE_T
VCACHE_T_PROGS := $(BUILD)/$(DISK_DIR)/tests/test_vcache
VCACHE_T_SAN    = yes
VCACHE_T_CFLAGS = -I$(DISK_DIR) $(CMOCKA_CFLAGS)
VCACHE_T_LINK   = $(VCACHE_SAN_OBJS)
VCACHE_T_LIBS   = $(CMOCKA_LIBS)

# The write log, the recorder in pcvcache and the pcreplay filter through nbdkit (the
# filters found beside the test); the model through nbdkit and qemu-storage-daemon.
PROGRAM_SETS += DISK_T
DISK_T_PROGS := $(BUILD)/$(DISK_DIR)/tests/test_wlog $(BUILD)/$(DISK_DIR)/tests/test_diskmodel
DISK_T_SAN    = yes
DISK_T_CFLAGS = $(DISK_CFLAGS) $(CMOCKA_CFLAGS)
DISK_T_LINK   = $(DISK_SAN_OBJS) $(PCLIB_SAN_OBJS)
DISK_T_LIBS   = $(PCLIB_LIBS) $(DISK_LIBS) $(CMOCKA_LIBS)
DISK_T_NEEDS  = $(PCVCACHE_SO) $(PCREPLAY_SO)

# The proof links the classifier and the ledger (sanitizer builds) and runs
# $(AGENT_NBD) found beside it at run time (it skips, saying so, until that exists).
PROGRAM_SETS += DISK_PROOF
DISK_PROOF_PROGS := $(BUILD)/$(DISK_DIR)/tests/test_proof
DISK_PROOF_SAN    = yes
DISK_PROOF_CFLAGS = $(DISK_CFLAGS) $(ORACLE_CFLAGS) $(CMOCKA_CFLAGS)
DISK_PROOF_LINK   = $(DISK_SAN_OBJS) $(ORACLE_SAN_OBJS) $(PCLIB_SAN_OBJS)
DISK_PROOF_LIBS   = $(ORACLE_LIBS) $(PCLIB_LIBS) $(DISK_LIBS) $(CMOCKA_LIBS)
DISK_PROOF_NEEDS  = $(PCVCACHE_SO)

ALL_TARGETS += $(PCVCACHE_SO) $(PCREPLAY_SO) $(DISK_LIB)
UNIT_TESTS  += $(VCACHE_T_PROGS)
SIM_TESTS   += $(DISK_T_PROGS) $(DISK_PROOF_PROGS)
