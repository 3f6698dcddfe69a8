/* powercut serial protocol, shared by the firmware, the simulator and the host.
 *
 * docs/protocol.md is the contract; this header carries its numbers. It is plain C99
 * with no AVR or host-only dependency, so every part compiles it unchanged.
 */
#ifndef PC_PROTOCOL_H
#define PC_PROTOCOL_H

/* Protocol version reported in the boot banner and in `version`. */
#define PC_PROTO_VERSION 2

/* Longest line in bytes before '\n' (checksum "*CC" included, a trailing '\r' not
 * counted), per direction. */
#define PC_LINE_MAX_HOST 64	/* host -> firmware */
#define PC_LINE_MAX_FW   128	/* firmware -> host */

/* Error codes of `error:N text` replies. The texts are those of pc_err_text(). */
enum pc_err {
	PC_ERR_UNKNOWN_COMMAND = 1,	/* "unknown command" */
	PC_ERR_CHECKSUM        = 2,	/* "bad checksum" */
	PC_ERR_TOO_LONG        = 3,	/* "line too long" */
	PC_ERR_BAD_ARGUMENT    = 4,	/* "bad argument" */
	PC_ERR_RANGE           = 5,	/* "out of range" */
	PC_ERR_BUSY            = 6,	/* "channel busy" */
	PC_ERR_NOT_ARMED       = 7,	/* "not armed" */
	PC_ERR_UNKNOWN_SETTING = 8,	/* "unknown setting" */
	PC_ERR_EEPROM          = 9,	/* "eeprom" */
	PC_ERR_MALFORMED       = 10,	/* "malformed line" */
};

#define PC_ERR_MIN 1
#define PC_ERR_MAX 10

/* The fixed text of error code `code` (as in docs/protocol.md); "unknown error" for a
 * code outside PC_ERR_MIN..PC_ERR_MAX. The string is static: never freed. */
const char *pc_err_text(int code);

#endif
