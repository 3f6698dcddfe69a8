# rig/sim/mcusim: powercut-mcusim (the firmware ELF in simavr with a PSU model), its
# tests, the cut benchmark and the demo's cut client. Included by the top Makefile.

MCUSIM_SRC := rig/sim/mcusim
MCUSIM_B   := $(BUILD)/rig/mcusim
MCUSIM_FWCORE := firmware/core

MCUSIM_SIMAVR_CFLAGS = $(shell pkg-config --cflags simavr)
MCUSIM_SIMAVR_LIBS   = $(shell pkg-config --libs simavr)
MCUSIM_CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka)
MCUSIM_CMOCKA_LIBS   = $(shell pkg-config --libs cmocka)

MCUSIM_CFLAGS  = $(CFLAGS_COMMON) -MMD -MP
# host test programs and clients: sanitizers on, the firmware's framing code linked in
MCUSIM_TCFLAGS = $(CFLAGS_COMMON) $(SAN_FLAGS) -MMD -MP -I$(MCUSIM_SRC) -I$(MCUSIM_FWCORE)

ALL_TARGETS += $(MCUSIM) $(MCUSIM_B)/mcusim-cuts
CHECK_TESTS += $(MCUSIM_B)/test-psu $(MCUSIM_B)/test-probe $(MCUSIM_B)/test-lifecycle \
               $(MCUSIM_B)/test-conformance $(MCUSIM_B)/test-timing $(MCUSIM_B)/test-safety \
               $(MCUSIM_B)/test-clockwrap
BENCH_PROGS += $(MCUSIM_B)/bench-cuts

# the simulator
$(MCUSIM_B)/mcusim.o: $(MCUSIM_SRC)/mcusim.c
	@mkdir -p $(@D)
	$(CC) $(MCUSIM_CFLAGS) $(MCUSIM_SIMAVR_CFLAGS) -c -o $@ $<
$(MCUSIM_B)/psu.o: $(MCUSIM_SRC)/psu.c
	@mkdir -p $(@D)
	$(CC) $(MCUSIM_CFLAGS) -c -o $@ $<
$(MCUSIM): $(MCUSIM_B)/mcusim.o $(MCUSIM_B)/psu.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -o $@ $^ $(MCUSIM_SIMAVR_LIBS)

# host-side objects for tests and clients (sanitized)
$(MCUSIM_B)/t/%.o: $(MCUSIM_SRC)/test/%.c
	@mkdir -p $(@D)
	$(CC) $(MCUSIM_TCFLAGS) -c -o $@ $<
$(MCUSIM_B)/t/psu.o: $(MCUSIM_SRC)/psu.c
	@mkdir -p $(@D)
	$(CC) $(MCUSIM_TCFLAGS) -c -o $@ $<
$(MCUSIM_B)/t/frame.o: $(MCUSIM_FWCORE)/frame.c
	@mkdir -p $(@D)
	$(CC) $(MCUSIM_TCFLAGS) -c -o $@ $<
$(MCUSIM_B)/t/test-psu.o: $(MCUSIM_SRC)/test/test-psu.c
	@mkdir -p $(@D)
	$(CC) $(MCUSIM_TCFLAGS) $(MCUSIM_CMOCKA_CFLAGS) -c -o $@ $<

MCUSIM_HARNESS := $(MCUSIM_B)/t/harness.o $(MCUSIM_B)/t/frame.o

$(MCUSIM_B)/test-psu: $(MCUSIM_B)/t/test-psu.o $(MCUSIM_B)/t/psu.o
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $^ $(MCUSIM_CMOCKA_LIBS)
$(MCUSIM_B)/test-probe: $(MCUSIM_B)/t/test-probe.o $(MCUSIM_HARNESS) $(MCUSIM) $(MCUSIM_B)/probe-fw.elf
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $(filter %.o,$^)
$(MCUSIM_B)/test-lifecycle: $(MCUSIM_B)/t/test-lifecycle.o $(MCUSIM_HARNESS) $(MCUSIM)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $(filter %.o,$^)
$(MCUSIM_B)/test-conformance: $(MCUSIM_B)/t/test-conformance.o $(MCUSIM_HARNESS) $(MCUSIM)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $(filter %.o,$^)
$(MCUSIM_B)/test-timing: $(MCUSIM_B)/t/test-timing.o $(MCUSIM_B)/t/cuts.o $(MCUSIM_HARNESS) $(MCUSIM)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $(filter %.o,$^) -lm
$(MCUSIM_B)/test-safety: $(MCUSIM_B)/t/test-safety.o $(MCUSIM_HARNESS) $(MCUSIM)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $(filter %.o,$^)
$(MCUSIM_B)/test-clockwrap: $(MCUSIM_B)/t/test-clockwrap.o $(MCUSIM_HARNESS) $(MCUSIM) $(FW_WRAP_ELF)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $(filter %.o,$^)
$(MCUSIM_B)/bench-cuts: $(MCUSIM_B)/t/bench-cuts.o $(MCUSIM_B)/t/cuts.o $(MCUSIM_HARNESS) $(MCUSIM)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $(filter %.o,$^) -lm
$(MCUSIM_B)/mcusim-cuts: $(MCUSIM_B)/t/mcusim-cuts.o $(MCUSIM_B)/t/cuts.o $(MCUSIM_HARNESS)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $(filter %.o,$^) -lm

# the probe firmware: a few lines of AVR code that drive the pins the simulator watches
$(MCUSIM_B)/probe-fw.elf: $(MCUSIM_SRC)/test/probe-fw.c
	@mkdir -p $(@D)
	avr-gcc -mmcu=atmega328p -DF_CPU=16000000UL -Os -Wall -Wextra -Werror -o $@ $<

# the same conformance suite against a real board: make check-hw PORT=/dev/ttyUSB0
check-hw: deps
	@$(MAKE) --no-print-directory $(MCUSIM_B)/test-conformance
	@test -n "$(PORT)" || { echo "make check-hw: set PORT, e.g. make check-hw PORT=/dev/ttyUSB0" >&2; exit 2; }
	$(MCUSIM_B)/test-conformance --port $(PORT)

-include $(wildcard $(MCUSIM_B)/*.d $(MCUSIM_B)/t/*.d)
