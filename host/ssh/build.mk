# host/ssh: the ssh transport (OpenSSH client through host/lib's child module) and
# its test against a real sshd on 127.0.0.1. Builds $(SSH_LIB); link it before $(PCLIB).

SSH_LIB     = $(BUILD)/host/libssh.a
SSH_SRCS   := host/ssh/ssh.c
SSH_OBJS    = $(SSH_SRCS:%.c=$(BUILD)/%.o)
SSH_CFLAGS  = -Ihost/ssh -Ihost/lib

SSH_TESTS  := $(BUILD)/host/ssh/tests/test_ssh

ALL_TARGETS += $(SSH_LIB)
CHECK_TESTS += $(SSH_TESTS)

$(SSH_LIB): $(SSH_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/host/ssh/%.o: host/ssh/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SSH_CFLAGS) -MMD -MP -c -o $@ $<

# Tests (sanitizers) link the sources directly with host/lib's sanitizer objects.
# host/ssh/tests/sshd_helper.c (a private sshd on 127.0.0.1) is shared with the node's
# remote tests.
SSHD_HELPER = host/ssh/tests/sshd_helper.c
$(BUILD)/host/ssh/tests/test_ssh: host/ssh/tests/test_ssh.c $(SSHD_HELPER) $(SSH_SRCS) \
		$(PCLIB_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) $(SSH_CFLAGS) -Ihost/ssh/tests $(shell pkg-config --cflags cmocka) \
		-MMD -MP -o $@ $< $(SSHD_HELPER) $(SSH_SRCS) $(PCLIB_SAN_OBJS) $(PCLIB_LIBS) -lpthread \
		$(shell pkg-config --libs cmocka)

-include $(SSH_OBJS:.o=.d) $(SSH_TESTS:=.d)
