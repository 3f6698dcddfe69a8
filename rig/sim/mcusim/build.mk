# rig/sim/mcusim: powercut-mcusim (the firmware ELF in simavr with a PSU model), its
# tests, the cut benchmark and the demo's cut client.

MCUSIM_SRC := rig/sim/mcusim
MCUSIM_B   := $(BUILD)/rig/mcusim

# the simulator
MODULES       += MCUSIM
MCUSIM_SRCS   := $(MCUSIM_SRC)/mcusim.c $(MCUSIM_SRC)/psu.c
MCUSIM_CFLAGS  = $(shell pkg-config --cflags simavr)
MCUSIM_PROG    = $(MCUSIM)
MCUSIM_LDLIBS  = $(shell pkg-config --libs simavr)

# host test programs and clients: sanitizers on, the harness that runs the simulator,
# the firmware's framing code (host/fwlink's sanitizer object of firmware/core/frame.c).
MODULES        += MCUSIM_H
MCUSIM_H_SRCS  := $(MCUSIM_SRC)/test/harness.c $(MCUSIM_SRC)/test/cuts.c
MCUSIM_H_CFLAGS = -I$(MCUSIM_SRC) -Ifirmware/core

PROGRAM_SETS     += MCUSIM_T
MCUSIM_T_TESTS   := $(MCUSIM_B)/test-probe $(MCUSIM_B)/test-lifecycle $(MCUSIM_B)/test-conformance \
		    $(MCUSIM_B)/test-timing $(MCUSIM_B)/test-safety $(MCUSIM_B)/test-clockwrap
MCUSIM_T_PROGS   := $(MCUSIM_T_TESTS) $(MCUSIM_B)/bench-cuts $(MCUSIM_B)/mcusim-cuts
MCUSIM_T_SRCDIR   = $(MCUSIM_SRC)/test
MCUSIM_T_SAN      = yes
MCUSIM_T_CFLAGS   = $(MCUSIM_H_CFLAGS)
MCUSIM_T_LINK     = $(MCUSIM_H_SAN_OBJS) $(BUILD)/san/firmware/core/frame.o
MCUSIM_T_LIBS     = -lm
MCUSIM_T_NEEDS    = $(MCUSIM) $(FW_ELF) $(FW_WRAP_ELF) $(MCUSIM_B)/probe-fw.elf

# the PSU model alone
PROGRAM_SETS     += MCUSIM_PSU
MCUSIM_PSU_PROGS := $(MCUSIM_B)/test-psu
MCUSIM_PSU_SRCDIR = $(MCUSIM_SRC)/test
MCUSIM_PSU_SAN    = yes
MCUSIM_PSU_CFLAGS = -I$(MCUSIM_SRC) $(CMOCKA_CFLAGS)
MCUSIM_PSU_LINK   = $(BUILD)/san/$(MCUSIM_SRC)/psu.o
MCUSIM_PSU_LIBS   = $(CMOCKA_LIBS)

# the probe firmware: a few lines of AVR code that drive the pins the simulator watches
$(MCUSIM_B)/probe-fw.elf: $(MCUSIM_SRC)/test/probe-fw.c
	@mkdir -p $(@D)
	avr-gcc -mmcu=atmega328p -DF_CPU=16000000UL -Os -Wall -Wextra -Werror -o $@ $<

ALL_TARGETS += $(MCUSIM) $(MCUSIM_B)/mcusim-cuts
UNIT_TESTS  += $(MCUSIM_PSU_PROGS)
SIM_TESTS   += $(MCUSIM_T_TESTS)
BENCH_PROGS += $(MCUSIM_B)/bench-cuts

# the same conformance suite against a real board: make check-hw PORT=/dev/ttyUSB0
check-hw: deps
	@$(MAKE) --no-print-directory $(MCUSIM_B)/test-conformance
	@test -n "$(PORT)" || { echo "make check-hw: set PORT, e.g. make check-hw PORT=/dev/ttyUSB0" >&2; exit 2; }
	$(MCUSIM_B)/test-conformance --port $(PORT)
