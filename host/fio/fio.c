/* fio JSON report into figures. See fio.h. */
#include "fio.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* One direction of a job. fio divides by the direction's own runtime, which for the
 * reads of a verify job (written first, then read back in one burst) is a sliver:
 * 1 ms for 25,670 reads of rig/workloads' verify job gives 25.67 million IOPS (the
 * test fixture). When that runtime is under a tenth of the job's, the rate is taken
 * over the job's runtime instead and marked "rate_over": "job". */
static json_t *direction(json_t *d, int64_t job_ms)
{
	json_t *pct = json_object_get(json_object_get(d, "clat_ns"), "percentile");
	json_int_t ios = json_integer_value(json_object_get(d, "total_ios"));
	int64_t ms = json_integer_value(json_object_get(d, "runtime"));
	bool over_job = ios > 0 && job_ms > 0 && ms * 10 < job_ms;
	json_t *o = json_pack("{s:I,s:f,s:I}", "ios", ios,
		"iops", over_job ? ios * 1000.0 / job_ms : json_number_value(json_object_get(d, "iops")),
		"bw_kib", over_job ? (json_int_t)(json_integer_value(json_object_get(d, "io_kbytes")) *
						1000 / job_ms) :
		(json_int_t)json_integer_value(json_object_get(d, "bw")));

	if (over_job)
		json_object_set_new(o, "rate_over", json_string("job"));
	static const struct { const char *key, *name; } p[] = {
		{ "50.000000", "lat_p50_us" }, { "99.000000", "lat_p99_us" },
		{ "99.900000", "lat_p999_us" } };

	for (size_t i = 0; pct && i < sizeof(p) / sizeof(p[0]); i++) {
		json_t *v = json_object_get(pct, p[i].key);
		if (json_is_number(v))
			json_object_set_new(o, p[i].name, json_real(json_number_value(v) / 1000.0));
	}
	return o;
}

/* A parsed report into figures; takes rep. */
static json_t *figures_of(json_t *rep)
{
	json_t *jobs = json_object_get(rep, "jobs"), *j, *out, *arr;
	size_t i;

	if (!json_is_array(jobs)) {
		json_decref(rep);
		errno = EPROTO;
		return NULL;
	}
	arr = json_array();
	json_array_foreach(jobs, i, j) {
		int64_t job_ms = json_integer_value(json_object_get(j, "job_runtime"));
		json_array_append_new(arr, json_pack("{s:s,s:I,s:o,s:o}",
			"name", json_string_value(json_object_get(j, "jobname")) ?: "",
			"error", (json_int_t)json_integer_value(json_object_get(j, "error")),
			"read", direction(json_object_get(j, "read"), job_ms),
			"write", direction(json_object_get(j, "write"), job_ms)));
	}
	out = json_pack("{s:s,s:o}", "fio_version",
			json_string_value(json_object_get(rep, "fio version")) ?: "", "jobs", arr);
	json_decref(rep);
	return out;
}

json_t *fio_figures(const char *output)
{
	const char *start = NULL;
	json_t *rep;

	/* The report starts on a line of its own with '{'. */
	for (const char *l = output; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (*l == '{') {
			start = l;
			break;
		}
	if (!start) {
		errno = ENOENT;
		return NULL;
	}
	if (!(rep = json_loads(start, JSON_DISABLE_EOF_CHECK, NULL))) {
		errno = EBADMSG;
		return NULL;
	}
	return figures_of(rep);
}

json_t *fio_figures_last(const char *output)
{
	size_t len = output ? strlen(output) : 0;
	bool any = false;

	/* Each report opens with a line that is exactly "{" (its members are indented):
	 * from the last such line backwards, the first that parses is complete. */
	for (size_t i = len; i-- > 0;) {
		if (output[i] != '{' || (i && output[i - 1] != '\n'))
			continue;
		if (output[i + 1] != '\n' && output[i + 1] != '\r')
			continue;
		any = true;
		json_t *rep = json_loadb(output + i, len - i, JSON_DISABLE_EOF_CHECK, NULL);
		if (rep)
			return figures_of(rep);
	}
	errno = any ? ENODATA : ENOENT;
	return NULL;
}

const char *fio_verify_result(const json_t *figures)
{
	json_t *j;
	size_t i;

	json_array_foreach(json_object_get(figures, "jobs"), i, j)
		if (json_integer_value(json_object_get(j, "error")))
			return "fail";
	return "pass";
}

const char *fio_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case ENOENT: return "no JSON report in fio's output";
	case ENODATA: return "no complete JSON report in fio's output";
	case EBADMSG: return "fio's JSON report does not parse";
	case EPROTO: return "fio's JSON report has no jobs";
	default: return strerror(err < 0 ? -err : err);
	}
}

json_t *fio_record(const char *output)
{
	json_t *fig = fio_figures_last(output);

	if (!fig)
		return json_pack("{s:s}", "error", fio_strerror(errno));
	return json_pack("{s:o,s:s}", "figures", fig, "verify", fio_verify_result(fig));
}
