# host/fio: fio's JSON report into per-cycle figures (jansson). Builds $(FIO_LIB).

MODULES   += FIO
FIO_LIB    = $(BUILD)/host/libfio.a
FIO_SRCS  := host/fio/fio.c
FIO_CFLAGS = -Ihost/fio -Ihost/lib $(shell pkg-config --cflags jansson)

PROGRAM_SETS += FIO_T
FIO_T_PROGS := $(BUILD)/host/fio/tests/test_fio
FIO_T_SAN    = yes
FIO_T_CFLAGS = $(FIO_CFLAGS) $(CMOCKA_CFLAGS)
FIO_T_LINK   = $(FIO_SAN_OBJS) $(PCLIB_SAN_OBJS)
FIO_T_LIBS   = $(PCLIB_LIBS) $(shell pkg-config --libs jansson) $(CMOCKA_LIBS)

ALL_TARGETS += $(FIO_LIB)
UNIT_TESTS  += $(FIO_T_PROGS)
