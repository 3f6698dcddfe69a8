/* powercut serial protocol, shared by the firmware, the simulator and the host.
 *
 * docs/protocol.md is the contract; this header carries its numbers. It is plain C99
 * with no AVR or host-only dependency, so every part compiles it unchanged.
 */
#ifndef FW_PROTOCOL_H
#define FW_PROTOCOL_H

/* Protocol version reported in the boot banner and in `version`. */
#define FW_PROTO_VERSION 2

/* Longest line in bytes before '\n' (checksum "*CC" included, a trailing '\r' not
 * counted), per direction. */
#define FW_LINE_MAX_HOST 64	/* host -> firmware */
#define FW_LINE_MAX_FW   128	/* firmware -> host */

/* Error codes of `error:N text` replies. The texts are those of fw_err_text(). */
enum fw_err {
	FW_ERR_UNKNOWN_COMMAND = 1,	/* "unknown command" */
	FW_ERR_CHECKSUM        = 2,	/* "bad checksum" */
	FW_ERR_TOO_LONG        = 3,	/* "line too long" */
	FW_ERR_BAD_ARGUMENT    = 4,	/* "bad argument" */
	FW_ERR_RANGE           = 5,	/* "out of range" */
	FW_ERR_BUSY            = 6,	/* "channel busy" */
	FW_ERR_NOT_ARMED       = 7,	/* "not armed" */
	FW_ERR_UNKNOWN_SETTING = 8,	/* "unknown setting" */
	FW_ERR_EEPROM          = 9,	/* "eeprom" */
	FW_ERR_MALFORMED       = 10,	/* "malformed line" */
};

#define FW_ERR_MIN 1
#define FW_ERR_MAX 10

/* The fixed text of error code `code` (as in docs/protocol.md); "unknown error" for a
 * code outside FW_ERR_MIN..FW_ERR_MAX. The string is static: never freed. */
const char *fw_err_text(int code);

#endif
