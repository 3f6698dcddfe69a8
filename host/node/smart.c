/* The drive's testimony from smartctl's JSON. See smart.h. */
#include "smart.h"

#include <string.h>

#define SMART_NAME(e, s) [e] = s,
static const char *const verdict_names[] = { SMART_VERDICTS(SMART_NAME) };
#undef SMART_NAME

const char *smart_verdict_name(enum smart_verdict v)
{
	return (unsigned)v < sizeof(verdict_names) / sizeof(verdict_names[0]) ? verdict_names[v] : "?";
}

static void copy_str(json_t *out, const char *key, const json_t *in, const char *from)
{
	const char *s = json_string_value(json_object_get(in, from));

	if (s)
		json_object_set_new(out, key, json_string(s));
}

/* An ATA attribute's raw value by id, or -1. */
static json_int_t ata_attr(const json_t *sc, int id)
{
	const json_t *table = json_object_get(json_object_get(sc, "ata_smart_attributes"), "table");
	size_t i;
	const json_t *a;

	json_array_foreach(table, i, a) {
		if (json_integer_value(json_object_get(a, "id")) != id)
			continue;
		const json_t *raw = json_object_get(json_object_get(a, "raw"), "value");
		return json_is_integer(raw) ? json_integer_value(raw) : -1;
	}
	return -1;
}

json_t *smart_summary(const json_t *sc)
{
	json_t *s = json_object();

	if (!json_is_object(sc) || !json_object_size(sc)) {
		json_object_set_new(s, "protocol", json_string("none"));
		return s;
	}
	const char *proto = json_string_value(json_object_get(json_object_get(sc, "device"),
							     "protocol"));
	json_object_set_new(s, "protocol", json_string(proto ? proto : "unknown"));
	copy_str(s, "model", sc, "model_name");
	copy_str(s, "firmware", sc, "firmware_version");
	copy_str(s, "serial", sc, "serial_number");
	const json_t *rc = json_object_get(json_object_get(sc, "smartctl"), "exit_status");
	if (json_is_integer(rc))
		json_object_set(s, "smartctl_rc", (json_t *)rc);

	/* Volatile write cache: ATA's write-cache state (smartctl -x/-g wcache);
	 * NVMe's Identify VWC bit is not in smartctl's JSON: the guest adds the
	 * kernel's view of it (queue/write_cache) as "powercut_write_cache". */
	const json_t *wc = json_object_get(json_object_get(sc, "write_cache"), "enabled");
	const char *kwc = json_string_value(json_object_get(sc, "powercut_write_cache"));
	json_object_set_new(s, "write_cache", json_string(json_is_boolean(wc) ?
			    (json_is_true(wc) ? "on" : "off") :
			    kwc ? (!strcmp(kwc, "write back") ? "on" :
				   !strcmp(kwc, "write through") ? "off" : "unknown") : "unknown"));

	const json_t *nv = json_object_get(sc, "nvme_smart_health_information_log");
	if (json_is_object(nv)) {
		const json_t *u = json_object_get(nv, "unsafe_shutdowns");
		const json_t *p = json_object_get(nv, "power_cycles");
		if (json_is_integer(u))
			json_object_set(s, "unsafe_shutdowns", (json_t *)u);
		if (json_is_integer(p))
			json_object_set(s, "power_cycles", (json_t *)p);
		return s;
	}
	/* ATA: 174 Unexpect_Power_Loss_Ct; drives without it count unsafe power-offs
	 * in 192 Power-Off_Retract_Count (heads retracted by an emergency unload). */
	json_int_t u = ata_attr(sc, 174);
	if (u >= 0) {
		json_object_set_new(s, "unsafe_shutdowns", json_integer(u));
		json_object_set_new(s, "unsafe_attribute", json_integer(174));
	} else if ((u = ata_attr(sc, 192)) >= 0) {
		json_object_set_new(s, "unsafe_shutdowns", json_integer(u));
		json_object_set_new(s, "unsafe_attribute", json_integer(192));
	}
	json_int_t pc = ata_attr(sc, 12);
	const json_t *pcc = json_object_get(sc, "power_cycle_count");
	if (pc >= 0)
		json_object_set_new(s, "power_cycles", json_integer(pc));
	else if (json_is_integer(pcc))
		json_object_set(s, "power_cycles", (json_t *)pcc);
	return s;
}

enum smart_verdict smart_verdict(const json_t *before, const json_t *after, bool power_cut,
				 const char **why)
{
	const char *w;
	enum smart_verdict v;
	const char *pb = json_string_value(json_object_get(before, "protocol"));
	const char *pa = json_string_value(json_object_get(after, "protocol"));
	const json_t *ub = json_object_get(before, "unsafe_shutdowns");
	const json_t *ua = json_object_get(after, "unsafe_shutdowns");

	if (!pb || !pa || !strcmp(pb, "none") || !strcmp(pa, "none")) {
		v = SMART_NO_DATA;
		w = "smartctl gave no report before or after the cycle";
	} else if (!power_cut) {
		v = SMART_NO_CUT;
		w = "a process kill: the drive kept its power";
	} else if (!json_is_integer(ub) || !json_is_integer(ua)) {
		v = SMART_NO_COUNTER;
		w = "the drive reports no unsafe-shutdown counter";
	} else if (json_integer_value(ua) > json_integer_value(ub)) {
		v = SMART_COUNTED;
		w = "the drive counted the cut as an unsafe shutdown";
	} else {
		v = SMART_NOT_COUNTED;
		w = "the drive did not count the cut as unsafe: the cut may not have reached it";
	}
	if (why)
		*why = w;
	return v;
}

void smart_check_add(json_t *checks, const json_t *sc_before, const json_t *sc_after,
		     bool power_cut, const char *device)
{
	json_t *b = smart_summary(sc_before), *a = smart_summary(sc_after);
	const char *why;
	enum smart_verdict v = smart_verdict(b, a, power_cut, &why);
	json_t *det = json_pack("{s:o,s:o,s:s,s:O,s:O}", "before", b, "after", a, "why", why,
				"smartctl_before", sc_before ? (json_t *)sc_before : json_null(),
				"smartctl_after", sc_after ? (json_t *)sc_after : json_null());

	if (device)
		json_object_set_new(det, "device", json_string(device));
	json_array_append_new(checks, json_pack("{s:s,s:s,s:o}", "kind", "smart", "result",
						smart_verdict_name(v), "detail", det));
}
