/* The drive's own testimony: what `smartctl --json` says about a physical drive before
 * and after a cycle (model, firmware, serial, volatile write cache, the counters a
 * power loss should move), reduced to one summary and one verdict per cycle.
 *
 *   json_t *s = smart_summary(smartctl_json);       // new reference; never NULL
 *   const char *v = smart_verdict(before, after, cut, &why);
 *
 * Counters: NVMe's SMART / Health log (unsafe_shutdowns, power_cycles); ATA
 * attributes 174 (Unexpect_Power_Loss_Ct, most SSDs), 192 (Power-Off_Retract_Count,
 * counted by drives that have no 174) and 12 (Power_Cycle_Count). Field names as
 * smartctl 7.x writes them (smartmontools' nvmeprint.cpp and ataprint.cpp).
 */
#ifndef PC_NODE_SMART_H
#define PC_NODE_SMART_H

#include <stdbool.h>
#include <jansson.h>

/* The verdicts; one name table (smart_verdict_name). */
#define SMART_VERDICTS(X)                                                                  \
	X(SMART_COUNTED, "counted")		/* the drive counted the cut as unsafe */  \
	X(SMART_NOT_COUNTED, "not-counted")	/* power cut, no unsafe count: flagged */  \
	X(SMART_NO_COUNTER, "no-counter")	/* the drive reports no such counter */    \
	X(SMART_NO_CUT, "no-power-cut")		/* a process kill: the drive kept power */ \
	X(SMART_NO_DATA, "no-data")		/* smartctl said nothing usable */

#define SMART_ENUM(e, s) e,
enum smart_verdict { SMART_VERDICTS(SMART_ENUM) };
#undef SMART_ENUM

const char *smart_verdict_name(enum smart_verdict v);

/* smartctl's JSON -> {"protocol", "model", "firmware", "serial", "write_cache"
 * ("on"/"off"/"unknown"), "unsafe_shutdowns", "power_cycles", "smartctl_rc"}; a
 * counter the drive does not report is left out. Does not take smartctl's
 * reference. A NULL or non-object input gives {"protocol": "none"}. */
json_t *smart_summary(const json_t *smartctl);

/* The verdict for one cycle from two summaries. power_cut: the cycle cut DC (not a
 * process kill). why (may be NULL) gets a static sentence for the report. */
enum smart_verdict smart_verdict(const json_t *before, const json_t *after, bool power_cut,
				 const char **why);

/* Append the "smart" check of one drive to checks: {"kind": "smart", "result":
 * smart_verdict's name, "detail": {"before", "after" (summaries), "why",
 * "smartctl_before", "smartctl_after"[, "device"]}}. The smartctl reports may be NULL
 * (no report: no-data); device (may be NULL) names the drive on a real node. */
void smart_check_add(json_t *checks, const json_t *sc_before, const json_t *sc_after,
		     bool power_cut, const char *device);

#endif
