/* libFuzzer target: the line assembler, parser and dispatcher with the fake HAL.
 *
 * Input: byte 0 chooses the mode; the rest is split at '\n' into lines. In sealed
 * mode each line gets its correct "*CC" appended first (so the fuzzer reaches the
 * commands, not only the checksum test); in raw mode bytes go in as they are. A line
 * starting with '#' toggles the PWR_OK input named by its second byte instead. After
 * each line the clock advances by an amount drawn from the line.
 *
 * Checked: every firmware line is a valid frame of at most 128 bytes; every request
 * line gets exactly one reply; after the host falls silent every channel is powered
 * again within the longest max_off/host_timeout and the relay pins are idle.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/frame.h"
#include "../core/controller.h"
#include "../hal/host/hal_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fw fw;

static size_t check_output(void)
{
	size_t len, replies = 0;
	const char *tx = hal_fake_tx_take(&len), *p = tx, *end = tx + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl || fw_frame_check(p, (size_t)(nl - p), FW_LINE_MAX_FW) < 0)
			abort();
		if (p[0] != '!')
			replies++;
		p = nl + 1;
	}
	return replies;
}

static void poll_for(uint64_t us)
{
	uint64_t end = hal_now_us() + us;

	while (hal_now_us() < end) {
		uint64_t left = end - hal_now_us();

		hal_fake_advance(left < 50000 ? left : 50000);
		fw_poll(&fw);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode;
	size_t i = 1, lines = 0, replies = 0;

	if (size < 1)
		return 0;
	mode = data[0];
	hal_fake_reset(mode & 2 ? 3 : 0);
	if (mode & 4) {
		/* a stored image with short limits, so the safety tail below is quick */
		struct fw_settings s;
		uint8_t img[FW_SETTINGS_IMAGE_SIZE];

		fw_settings_default(&s);
		s.v[FW_SET_RELAY_ACTIVE] = (mode >> 3) & 3;
		s.v[FW_SET_MIN_OFF_MS] = 10;
		s.v[FW_SET_MAX_OFF_MS] = 1000;
		s.v[FW_SET_HOST_TIMEOUT_MS] = 500;
		fw_settings_encode(&s, 1, img);
		memcpy(hal_fake_eeprom() + FW_SETTINGS_ADDR_A, img, sizeof(img));
	}
	fw_init(&fw);
	check_output();
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t len = nl ? (size_t)(nl - (data + i)) : size - i;
		char buf[600];

		if (len >= 2 && data[i] == '#') {
			uint8_t ch = data[i + 1] & 1;

			hal_fake_pwrok_set(ch, !hal_pwrok_read(ch));
		} else if (nl) {
			size_t n = len < 500 ? len : 500;

			memcpy(buf, data + i, n);
			if (mode & 1) {
				int r = fw_frame_seal(buf, n, sizeof(buf));

				n = r < 0 ? n : (size_t)r;
			}
			buf[n++] = '\n';
			hal_fake_rx(buf, n);
			lines++;
		} else {
			hal_fake_rx(data + i, len);	/* an unfinished line */
		}
		fw_poll(&fw);
		replies += check_output();
		if (replies != lines)
			abort();
		hal_fake_advance((uint64_t)fw_crc8(data + i, len) * 4099);
		fw_poll(&fw);
		replies += check_output();
		i += len + 1;
	}
	if (replies != lines)
		abort();
	/* The host falls silent: everything must come back on by itself. */
	poll_for(1000 * (uint64_t)(fw.set.v[FW_SET_HOST_TIMEOUT_MS] +
				   fw.set.v[FW_SET_MAX_OFF_MS] + 1000));
	check_output();
	/* powered means the pin released, whatever relay_active says */
	for (uint8_t ch = 0; ch < HAL_CHANNELS; ch++)
		if (fw.ch[ch].state != FW_CH_ON || !fw.ch[ch].powered ||
		    hal_fake_relay_level(ch) != HAL_PIN_FLOAT)
			abort();
	return 0;
}
