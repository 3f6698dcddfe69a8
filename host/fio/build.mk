# host/fio: fio's JSON report into per-cycle figures (jansson). Builds $(FIO_LIB).

FIO_LIB    = $(BUILD)/host/libfio.a
FIO_SRCS  := host/fio/fio.c
FIO_OBJS   = $(FIO_SRCS:%.c=$(BUILD)/%.o)
FIO_CFLAGS = -Ihost/fio -Ihost/lib $(shell pkg-config --cflags jansson)
FIO_TESTS := $(BUILD)/host/fio/tests/test_fio

ALL_TARGETS += $(FIO_LIB)
CHECK_TESTS += $(FIO_TESTS)

$(FIO_LIB): $(FIO_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/host/fio/%.o: host/fio/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(FIO_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/host/fio/tests/test_fio: host/fio/tests/test_fio.c $(FIO_SRCS) $(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(FIO_CFLAGS) $(shell pkg-config --cflags cmocka) \
		-MMD -MP -o $@ $< $(FIO_SRCS) $(PCLIB_SAN_OBJS) $(PCLIB_LIBS) \
		$(shell pkg-config --libs jansson cmocka)

-include $(FIO_OBJS:.o=.d) $(FIO_TESTS:=.d)
