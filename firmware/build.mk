# firmware/: the relay controller for ATmega328P, its host unit tests and fuzz target.
#
# The AVR objects and the host objects are built from the same core sources into
# separate trees: $(BUILD)/firmware/avr (avr-gcc), .../host (cc with sanitizers),
# .../fuzz (clang with libFuzzer).

FW_DIR       := firmware
FW_OUT       := $(BUILD)/firmware
FW_CORE_SRC  := $(wildcard $(FW_DIR)/core/*.c)

# ---- the firmware ----

AVR_CC       ?= avr-gcc
AVR_OBJCOPY  ?= avr-objcopy
FW_AVR_CFLAGS = $(filter-out -O2 -D_GNU_SOURCE,$(CFLAGS_COMMON)) -Os -mmcu=atmega328p \
                -DF_CPU=16000000UL -ffunction-sections -fdata-sections -MMD -MP
FW_AVR_SRC   := $(FW_CORE_SRC) $(FW_DIR)/hal/avr/hal_avr.c $(FW_DIR)/main.c
FW_AVR_OBJ   := $(patsubst $(FW_DIR)/%.c,$(FW_OUT)/avr/%.o,$(FW_AVR_SRC))
FW_HEX       := $(FW_OUT)/powercut-fw.hex

$(FW_OUT)/avr/%.o: $(FW_DIR)/%.c
	@mkdir -p $(@D)
	$(AVR_CC) $(FW_AVR_CFLAGS) -c $< -o $@

# The size check fails the link step, so an oversized ELF is never left behind.
$(FW_ELF): $(FW_AVR_OBJ) $(FW_DIR)/tools/size-check
	@mkdir -p $(@D)
	$(AVR_CC) -mmcu=atmega328p -Wl,--gc-sections $(FW_AVR_OBJ) -o $@.tmp
	$(FW_DIR)/tools/size-check $@.tmp 70
	mv $@.tmp $@

# The same firmware with its clock started 96 counter periods (3.1 s) short of the
# wrap of the 32-bit period count, i.e. 4.46 years after reset: the simulator runs it
# across that wrap (rig/sim/mcusim/test/test-clockwrap.c). Only the HAL differs.
FW_WRAP_ELF  := $(FW_OUT)/powercut-fw-clockwrap.elf
FW_WRAP_OBJ  := $(filter-out $(FW_OUT)/avr/hal/avr/hal_avr.o,$(FW_AVR_OBJ)) $(FW_OUT)/avr-wrap/hal_avr.o

$(FW_OUT)/avr-wrap/hal_avr.o: $(FW_DIR)/hal/avr/hal_avr.c
	@mkdir -p $(@D)
	$(AVR_CC) $(FW_AVR_CFLAGS) -DHAL_CLOCK_START_WRAPS=0xFFFFFFA0ULL -c $< -o $@

$(FW_WRAP_ELF): $(FW_WRAP_OBJ)
	@mkdir -p $(@D)
	$(AVR_CC) -mmcu=atmega328p -Wl,--gc-sections $(FW_WRAP_OBJ) -o $@

$(FW_HEX): $(FW_ELF)
	$(AVR_OBJCOPY) -O ihex -j .text -j .data $< $@

ALL_TARGETS += $(FW_ELF) $(FW_HEX)

# ---- host unit tests (cmocka, ASan + UBSan) ----

FW_HOST_CFLAGS = $(CFLAGS_COMMON) $(SAN_FLAGS) -MMD -MP
FW_HOST_SRC   := $(FW_CORE_SRC) $(FW_DIR)/hal/host/hal_host.c
FW_HOST_OBJ   := $(patsubst $(FW_DIR)/%.c,$(FW_OUT)/host/%.o,$(FW_HOST_SRC))
FW_TESTS      := $(patsubst $(FW_DIR)/tests/%.c,$(FW_OUT)/tests/%,$(wildcard $(FW_DIR)/tests/test_*.c))

$(FW_OUT)/host/%.o: $(FW_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) $(FW_HOST_CFLAGS) $(CMOCKA_CFLAGS) -c $< -o $@

$(FW_OUT)/tests/%: $(FW_OUT)/host/tests/%.o $(FW_OUT)/host/tests/fwtest.o $(FW_HOST_OBJ)
	@mkdir -p $(@D)
	$(CC) $(FW_HOST_CFLAGS) $^ $(CMOCKA_LIBS) -o $@

UNIT_TESTS += $(FW_TESTS)

# ---- fuzz target (clang libFuzzer) ----

FW_FUZZ_CFLAGS = $(filter-out -O2,$(CFLAGS_COMMON)) -O1 -fsanitize=fuzzer-no-link,address,undefined \
                 -fno-sanitize-recover=all -fno-omit-frame-pointer -MMD -MP
FW_FUZZ_OBJ   := $(patsubst $(FW_DIR)/%.c,$(FW_OUT)/fuzz/%.o,$(FW_HOST_SRC) $(FW_DIR)/fuzz/fuzz_line.c)
FW_FUZZ       := $(FW_OUT)/fuzz/fuzz_line
FW_FUZZ_CHECK := $(FW_OUT)/tests/fuzz_line_smoke

$(FW_OUT)/fuzz/%.o: $(FW_DIR)/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FW_FUZZ_CFLAGS) -c $< -o $@

$(FW_FUZZ): $(FW_FUZZ_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined $^ -o $@

# The check wrapper is generated so that it names this build's fuzzer and corpus.
$(FW_FUZZ_CHECK): scripts/fuzz-run.sh $(FW_FUZZ)
	@mkdir -p $(@D)
	$(call fuzz_wrapper,$(FW_FUZZ),$(FW_DIR)/fuzz/corpus,512,30)

UNIT_TESTS += $(FW_FUZZ_CHECK)

# make flash / make fuses against a stand-in avrdude and the simulated board.
FW_FLASH_CHECK := $(FW_OUT)/tests/test_flash

$(FW_FLASH_CHECK): $(FW_DIR)/tests/test-flash.sh
	@mkdir -p $(@D)
	sed -e 's|@SRC@|$(abspath .)|' -e 's|@BUILD@|$(abspath $(BUILD))|' $< >$@.tmp
	chmod +x $@.tmp
	mv $@.tmp $@

SIM_TESTS += $(FW_FLASH_CHECK)

fuzz: $(FW_FUZZ)
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh scripts/fuzz-run.sh $(FW_FUZZ) $(FW_DIR)/fuzz/corpus 512

-include $(FW_AVR_OBJ:.o=.d) $(FW_OUT)/avr-wrap/hal_avr.d $(FW_HOST_OBJ:.o=.d) $(FW_FUZZ_OBJ:.o=.d) \
         $(patsubst $(FW_OUT)/tests/%,$(FW_OUT)/host/tests/%.d,$(FW_TESTS)) $(FW_OUT)/host/tests/fwtest.d
