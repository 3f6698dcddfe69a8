/* libFuzzer target: the host's line parser. The input is a byte stream from the
 * firmware, cut into reads at positions taken from its first bytes; every complete
 * line goes through fwline_parse and, when it parses, its fields are read back. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fwline.h"
#include "fwlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_line(void *ctx, const char *line, size_t len, int overlong)
{
	struct fwline pl;
	const char *why = NULL;
	uint64_t u;
	int v;

	if (overlong || fwline_parse(line, len, &pl, &why) < 0)
		return;
	/* Walk what the parser produced: every field is a NUL-terminated key and value. */
	fw_fields_get_u64(&pl.f, "t", &u);
	fw_fields_get_int(&pl.f, "seq", &v);
	for (int i = 0; i < pl.f.n; i++)
		if (strlen(pl.f.buf + pl.f.key[i]) + strlen(pl.f.buf + pl.f.val[i]) > FW_LINE_MAX)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fwline_rx rx;
	size_t cut = size ? data[0] % 64 + 1 : 1;

	fwline_rx_init(&rx);
	for (size_t pos = size ? 1 : 0; pos < size; pos += cut)
		fwline_rx_feed(&rx, (const char *)data + pos, size - pos < cut ? size - pos : cut,
			       on_line, NULL);
	return 0;
}
