# host/report: durability reports (`powercut report`, docs/report.md): reading the
# databases, statistics, rendering; its tests and benchmark; the man pages and
# `make install`.

REPORT_LIB  = $(BUILD)/host/libreport.a
REPORT_SRCS := host/report/stats.c host/report/load.c host/report/analyze.c \
	host/report/render_common.c host/report/render_json.c host/report/render_html.c \
	host/report/render_text.c host/report/svg.c host/report/compare.c \
	host/report/status.c host/report/metrics.c host/report/serve.c host/report/explored.c
REPORT_OBJS  = $(REPORT_SRCS:%.c=$(BUILD)/%.o)
REPORT_SAN_OBJS = $(REPORT_SRCS:%.c=$(BUILD)/san/%.o)
REPORT_CFLAGS = -Ihost/report -Ihost/lib -Ihost/store -Ihost/oracle \
	$(shell pkg-config --cflags sqlite3 jansson gsl libmicrohttpd)
# GSL for the distributions (stats.c), libmicrohttpd for `powercut serve` (serve.c).
REPORT_LIBS = $(shell pkg-config --libs gsl libmicrohttpd)
REPORT_TESTS := $(BUILD)/host/report/tests/test_stats $(BUILD)/host/report/tests/test_report_model \
	$(BUILD)/host/report/tests/test_report_e2e $(BUILD)/host/report/tests/test_serve \
	$(BUILD)/host/report/tests/test_report_drives
REPORT_BENCH := $(BUILD)/host/report/bench/bench_report

ALL_TARGETS += $(REPORT_LIB)
CHECK_TESTS += $(REPORT_TESTS)
BENCH_PROGS += $(REPORT_BENCH)

$(REPORT_LIB): $(REPORT_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/host/report/%.o: host/report/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(REPORT_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/san/host/report/%.o: host/report/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(REPORT_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/host/report/tests/test_stats: host/report/tests/test_stats.c $(BUILD)/san/host/report/stats.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -Ihost/report $(shell pkg-config --cflags cmocka) -MMD -MP \
		-o $@ $< $(BUILD)/san/host/report/stats.o $(shell pkg-config --libs cmocka) $(REPORT_LIBS) -lm

# The model test builds databases through the store's API. (host/store/build.mk is
# read after this file: its library, not its object lists, is known here.)
REPORT_TEST_LINK = $(REPORT_SAN_OBJS) $(STORE_LIB) $(ORACLE_LIB) $(PCLIB)
$(BUILD)/host/report/tests/test_report_model: host/report/tests/test_report_model.c \
		$(REPORT_SAN_OBJS) $(STORE_LIB) $(ORACLE_LIB) $(PCLIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(REPORT_CFLAGS) $(PCLIB_CFLAGS) \
		$(shell pkg-config --cflags cmocka) -MMD -MP -o $@ $< $(REPORT_TEST_LINK) \
		$(STORE_LIBS) $(PCLIB_LIBS) $(REPORT_LIBS) $(shell pkg-config --libs cmocka) -lm

# [issue 21] zvol cells, the sync=disabled control, drives (same link as the model test).
$(BUILD)/host/report/tests/test_report_drives: host/report/tests/test_report_drives.c \
		$(REPORT_SAN_OBJS) $(STORE_LIB) $(ORACLE_LIB) $(PCLIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(REPORT_CFLAGS) $(PCLIB_CFLAGS) \
		$(shell pkg-config --cflags cmocka) -MMD -MP -o $@ $< $(REPORT_TEST_LINK) \
		$(STORE_LIBS) $(PCLIB_LIBS) $(REPORT_LIBS) $(shell pkg-config --libs cmocka) -lm

# End to end: fast-tier cycles by the real powercut, the report in every format,
# HTML rendered by headless Chromium.
$(BUILD)/host/report/tests/test_report_e2e: host/report/tests/test_report_e2e.c $(POWERCUT) \
		$(PCLIB) $(MCUSIM) $(FW_ELF) $(AGENT_NBD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(REPORT_CFLAGS) $(PCLIB_CFLAGS) \
		$(shell pkg-config --cflags cmocka) -MMD -MP -o $@ $< $(PCLIB) $(PCLIB_LIBS) \
		$(shell pkg-config --libs cmocka) -lm

# powercut serve against a running campaign, read with curl and Chromium.
$(BUILD)/host/report/tests/test_serve: host/report/tests/test_serve.c $(POWERCUT) \
		$(PCLIB) $(MCUSIM) $(FW_ELF) $(AGENT_NBD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(REPORT_CFLAGS) $(PCLIB_CFLAGS) \
		$(shell pkg-config --cflags cmocka) -MMD -MP -o $@ $< $(PCLIB) $(PCLIB_LIBS) \
		$(shell pkg-config --libs cmocka)

$(REPORT_BENCH): host/report/bench/bench_report.c $(POWERCUT) $(STORE_LIB) $(ORACLE_LIB) $(PCLIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(REPORT_CFLAGS) $(PCLIB_CFLAGS) -MMD -MP -o $@ $< \
		$(STORE_LIB) $(ORACLE_LIB) $(PCLIB) $(STORE_LIBS) $(PCLIB_LIBS) $(REPORT_LIBS)

-include $(REPORT_OBJS:.o=.d) $(REPORT_SAN_OBJS:.o=.d) $(REPORT_TESTS:=.d) $(REPORT_BENCH).d
.SECONDARY: $(REPORT_SAN_OBJS)

# --- man pages (scdoc) and install

MAN_SRCS := $(sort $(wildcard docs/man/*.scd))
MAN_PAGES = $(MAN_SRCS:docs/man/%.scd=$(BUILD)/man/%) $(BUILD)/man/powercut-bench.5
ALL_TARGETS += $(MAN_PAGES)

$(BUILD)/man/%: docs/man/%.scd
	@mkdir -p $(@D)
	scdoc < $< > $@.tmp && mv $@.tmp $@

# powercut-bench(5): the option reference comes from the same tables that parse benches.
$(BUILD)/man/powercut-bench.5: docs/man/powercut-bench.5.scd.in host/report/bench-man.awk $(POWERCUT)
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
