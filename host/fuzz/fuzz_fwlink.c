/* libFuzzer target: fwlink's receive state machine (line framing, parsing, event
 * sequence, reset and gap tracking, reply matching), through a replay link. The first
 * byte chooses read sizes and when a request is waiting for its reply. */
#include <stddef.h>
#include <stdint.h>

#include "fwlink.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	struct fw_reply r;
	struct fw_event ev;

	if (!quiet) {
		log_set_level(LOG_ERROR - 1);	/* nothing on stderr: the fuzzer's output */
		quiet = 1;
	}
	struct fwlink *l = fwlink_open_replay("fuzz");
	if (!l)
		return 0;
	size_t cut = size ? data[0] % 48 + 1 : 1;
	int awaiting = size ? data[0] & 0x80 : 0;
	for (size_t pos = size ? 1 : 0; pos < size; pos += cut) {
		size_t n = size - pos < cut ? size - pos : cut;
		fwlink_feed(l, data + pos, n, awaiting ? &r : NULL);
		while (fwlink_next_event(l, 0, &ev) == 0)
			;
	}
	fwlink_close(l);
	return 0;
}
