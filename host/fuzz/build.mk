# host/fuzz: libFuzzer targets for the host's input parsers (issue 16): the serial
# line parser, fwlink's receive state machine, the ledger's frame decoder, the bench
# file parser, the agent's check-report parser and the LVM2 PV metadata reader
# (host/explore/lvmpv.c). Each is built with clang,
# ASan and UBSan from the same sources as the programs; `make check` runs each for
# a few seconds on its committed corpus (host/fuzz/corpus/NAME), `make fuzz` for
# FUZZ_SECONDS (600) each.

HOST_FUZZ_NAMES := fwline fwlink ledger bench report lvmpv
HOST_FUZZ_OUT   := $(BUILD)/host/fuzz
HOST_FUZZ_CHECK_SECONDS ?= 5
HOST_FUZZ_CFLAGS = $(filter-out -O2,$(CFLAGS_COMMON)) -O1 -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -MMD -MP \
	-Ihost/lib -Ihost/fwlink -Ifirmware/core -Ihost/oracle -Ihost/explore \
	$(shell pkg-config --cflags libserialport sqlite3 jansson inih)

# Sources of each target besides its harness.
HOST_FUZZ_FWLINK_SRC := host/fwlink/fwline.c host/fwlink/fwlink.c host/fwlink/clockfit.c \
	firmware/core/frame.c host/lib/log.c
HOST_FUZZ_SRC_fwline := $(HOST_FUZZ_FWLINK_SRC)
HOST_FUZZ_SRC_fwlink := $(HOST_FUZZ_FWLINK_SRC)
HOST_FUZZ_SRC_ledger := host/oracle/ledger.c host/oracle/ledger_schema.c host/lib/log.c
HOST_FUZZ_SRC_bench  := host/lib/config.c host/lib/options.c host/lib/util.c host/lib/child.c \
	host/lib/log.c
HOST_FUZZ_SRC_report := host/oracle/verify.c host/oracle/classify.c host/oracle/record.c host/oracle/ledger.c \
	host/oracle/ledger_schema.c host/lib/log.c
HOST_FUZZ_SRC_lvmpv  := host/explore/lvmpv.c
HOST_FUZZ_LIBS_fwline := $(shell pkg-config --libs libserialport) -lm
HOST_FUZZ_LIBS_fwlink := $(HOST_FUZZ_LIBS_fwline)
HOST_FUZZ_LIBS_ledger := $(shell pkg-config --libs sqlite3) -lpthread
HOST_FUZZ_LIBS_bench  := $(shell pkg-config --libs inih jansson libcrypto) -lpthread
HOST_FUZZ_LIBS_report := $(shell pkg-config --libs sqlite3 jansson) -lpthread -lm

HOST_FUZZERS     := $(HOST_FUZZ_NAMES:%=$(HOST_FUZZ_OUT)/fuzz_%)
HOST_FUZZ_CHECKS := $(HOST_FUZZ_NAMES:%=$(HOST_FUZZ_OUT)/fuzz_%_smoke)

$(HOST_FUZZ_OUT)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(HOST_FUZZ_CFLAGS) -c $< -o $@

define HOST_FUZZ_RULES
$(HOST_FUZZ_OUT)/fuzz_$(1): $(HOST_FUZZ_OUT)/obj/host/fuzz/fuzz_$(1).o \
		$(patsubst %.c,$(HOST_FUZZ_OUT)/obj/%.o,$(HOST_FUZZ_SRC_$(1)))
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined $$^ $(HOST_FUZZ_LIBS_$(1)) -o $$@

$(HOST_FUZZ_OUT)/fuzz_$(1)_smoke: scripts/fuzz-run.sh $(HOST_FUZZ_OUT)/fuzz_$(1)
	@mkdir -p $$(@D)
	$$(call fuzz_wrapper,$(HOST_FUZZ_OUT)/fuzz_$(1),host/fuzz/corpus/$(1),4096,$(HOST_FUZZ_CHECK_SECONDS))
endef
$(foreach n,$(HOST_FUZZ_NAMES),$(eval $(call HOST_FUZZ_RULES,$(n))))

UNIT_TESTS += $(HOST_FUZZ_CHECKS)

.PHONY: fuzz-host
fuzz: fuzz-host
fuzz-host: $(HOST_FUZZERS)
	@for n in $(HOST_FUZZ_NAMES); do \
		FUZZ_SECONDS=$(FUZZ_SECONDS) sh scripts/fuzz-run.sh $(HOST_FUZZ_OUT)/fuzz_$$n \
			host/fuzz/corpus/$$n 4096 || exit 1; \
	done

-include $(patsubst %.c,$(HOST_FUZZ_OUT)/obj/%.d,$(sort $(foreach n,$(HOST_FUZZ_NAMES),host/fuzz/fuzz_$(n).c $(HOST_FUZZ_SRC_$(n)))))
