/* Line framing of the powercut serial protocol: BODY*CC, CC = CRC-8/SMBUS of BODY.
 *
 * Pure C99, no AVR or host-only dependency: the firmware, the simulator and the host
 * controller compile this same file. No function keeps a pointer to its arguments.
 */
#ifndef FW_FRAME_H
#define FW_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

/* CRC-8/SMBUS (poly 0x07, init 0x00, not reflected, no final XOR) of buf[0..len).
 * fw_crc8("123456789", 9) == 0xF4. */
uint8_t fw_crc8(const void *buf, size_t len);

/* Continue a CRC-8/SMBUS over more bytes: fw_crc8(a+b) == fw_crc8_update(fw_crc8(a), b). */
uint8_t fw_crc8_update(uint8_t crc, const void *buf, size_t len);

/* Check one received line, given without its '\n' (one trailing '\r' is allowed and
 * ignored). `max` is the line limit of that direction (FW_LINE_MAX_HOST or
 * FW_LINE_MAX_FW), counted without the '\r'.
 *
 * Returns the length of BODY (>= 0; BODY is line[0..n)) when the frame is valid, else,
 * checked in this order:
 *   -FW_ERR_TOO_LONG   more than `max` bytes;
 *   -FW_ERR_MALFORMED  a byte outside 0x20..0x7e anywhere in the line, or a '*' inside
 *                      BODY (that is, more than one '*');
 *   -FW_ERR_CHECKSUM   no '*', not exactly two upper-case hex digits after it, or a
 *                      CRC that does not match BODY.
 * An empty line is a missing checksum. */
int fw_frame_check(const char *line, size_t len, size_t max);

/* Append "*CC" (CC = CRC-8 of buf[0..len), upper-case hex) to the body held in
 * buf[0..len) and NUL-terminate. Returns the new length (len + 3), or -1 when cap is
 * smaller than len + 4 (buf is then unchanged). */
int fw_frame_seal(char *buf, size_t len, size_t cap);

#endif
