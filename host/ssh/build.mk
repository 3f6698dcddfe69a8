# host/ssh: the ssh transport (OpenSSH client through host/lib's child module) and
# its test against a real sshd on 127.0.0.1. Builds $(SSH_LIB); link it before $(PCLIB).

MODULES    += SSH
SSH_LIB     = $(BUILD)/host/libssh.a
SSH_SRCS   := host/ssh/ssh.c
SSH_CFLAGS  = -Ihost/ssh -Ihost/lib

# A private sshd on 127.0.0.1 for tests (host/ssh/tests/sshd_helper.c), shared with the
# node's remote tests, powercut doctor's and tests/e2e: link $(SSHD_HELPER_SAN_OBJS),
# compile with -Ihost/ssh/tests.
MODULES            += SSHD_HELPER
SSHD_HELPER_SRCS   := host/ssh/tests/sshd_helper.c
SSHD_HELPER_CFLAGS  = -Ihost/ssh/tests -Ihost/lib

PROGRAM_SETS += SSH_T
SSH_T_PROGS := $(BUILD)/host/ssh/tests/test_ssh
SSH_T_SAN    = yes
SSH_T_CFLAGS = $(SSH_CFLAGS) -Ihost/ssh/tests $(CMOCKA_CFLAGS)
SSH_T_LINK   = $(SSH_SAN_OBJS) $(SSHD_HELPER_SAN_OBJS) $(PCLIB_SAN_OBJS)
SSH_T_LIBS   = $(PCLIB_LIBS) -lpthread $(CMOCKA_LIBS)

ALL_TARGETS += $(SSH_LIB)
SIM_TESTS   += $(SSH_T_PROGS)
