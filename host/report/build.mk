# host/report: durability reports (`powercut report`, docs/report.md): reading the
# databases, statistics, rendering; its tests and benchmark; the man pages and
# `make install`.

MODULES     += REPORT
REPORT_LIB   = $(BUILD)/host/libreport.a
REPORT_SRCS := host/report/stats.c host/report/load.c host/report/analyze.c \
	host/report/render_common.c host/report/render_json.c host/report/render_html.c \
	host/report/render_text.c host/report/svg.c host/report/compare.c \
	host/report/status.c host/report/metrics.c host/report/serve.c host/report/explored.c
REPORT_CFLAGS = -Ihost/report -Ihost/lib -Ihost/store -Ihost/oracle \
	$(shell pkg-config --cflags sqlite3 jansson gsl libmicrohttpd)
# GSL for the distributions (stats.c), libmicrohttpd for `powercut serve` (serve.c).
REPORT_LIBS = $(shell pkg-config --libs gsl libmicrohttpd)

# The statistics alone; the model (zvol cells, the sync=disabled control, drives too)
# through databases built by the store's API.
PROGRAM_SETS += REPORT_T
REPORT_T_PROGS := $(BUILD)/host/report/tests/test_stats $(BUILD)/host/report/tests/test_report_model \
	$(BUILD)/host/report/tests/test_report_drives
REPORT_T_SAN    = yes
REPORT_T_CFLAGS = $(REPORT_CFLAGS) $(PCLIB_CFLAGS) $(CMOCKA_CFLAGS)
REPORT_T_LINK   = $(REPORT_SAN_OBJS) $(STORE_LIB) $(ORACLE_LIB) $(PCLIB)
REPORT_T_LINK_test_stats = $(BUILD)/san/host/report/stats.o
REPORT_T_LIBS   = $(STORE_LIBS) $(PCLIB_LIBS) $(REPORT_LIBS) $(CMOCKA_LIBS) -lm

# End to end: fast-tier cycles by the real powercut, the report in every format,
# HTML rendered by headless Chromium; powercut serve against a running campaign, read
# with curl and Chromium.
PROGRAM_SETS += REPORT_E2E
REPORT_E2E_PROGS := $(BUILD)/host/report/tests/test_report_e2e $(BUILD)/host/report/tests/test_serve
REPORT_E2E_SAN    = yes
REPORT_E2E_CFLAGS = $(REPORT_CFLAGS) $(PCLIB_CFLAGS) $(CMOCKA_CFLAGS)
REPORT_E2E_LINK   = $(PCLIB)
REPORT_E2E_LIBS   = $(PCLIB_LIBS) $(CMOCKA_LIBS) -lm
REPORT_E2E_NEEDS  = $(POWERCUT) $(MCUSIM) $(FW_ELF) $(AGENT_NBD)

PROGRAM_SETS += REPORT_B
REPORT_B_PROGS := $(BUILD)/host/report/bench/bench_report
REPORT_B_CFLAGS = $(REPORT_CFLAGS) $(PCLIB_CFLAGS)
REPORT_B_LINK   = $(STORE_LIB) $(ORACLE_LIB) $(PCLIB)
REPORT_B_LIBS   = $(STORE_LIBS) $(PCLIB_LIBS) $(REPORT_LIBS)
REPORT_B_NEEDS  = $(POWERCUT)

ALL_TARGETS += $(REPORT_LIB)
UNIT_TESTS  += $(REPORT_T_PROGS)
E2E_TESTS   += $(REPORT_E2E_PROGS)
BENCH_PROGS += $(REPORT_B_PROGS)

# --- man pages (scdoc) and install

MAN_SRCS := $(sort $(wildcard docs/man/*.scd))
MAN_PAGES = $(MAN_SRCS:docs/man/%.scd=$(BUILD)/man/%) $(BUILD)/man/powercut-bench.5
ALL_TARGETS += $(MAN_PAGES)

$(BUILD)/man/%: docs/man/%.scd
	@mkdir -p $(@D)
	scdoc < $< > $@.tmp && mv $@.tmp $@

# powercut-bench(5): the option reference comes from the same tables that parse benches.
$(BUILD)/man/powercut-bench.5: docs/man/powercut-bench.5.scd.in host/report/bench-man.awk $$(POWERCUT)
	@mkdir -p $(@D)
	{ cat docs/man/powercut-bench.5.scd.in; $(POWERCUT) help config | awk -f host/report/bench-man.awk; \
	  printf '# SEE ALSO\n\n*powercut*(1), *powercut-config*(1)\n'; } > $@.scd
	scdoc < $@.scd > $@.tmp && mv $@.tmp $@

PREFIX ?= /usr/local
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(BUILD)/bin/* $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(PREFIX)/share/man/man5/
