/* The qcow2 metadata check shared by the node drivers (imgcheck.h). */
#include <string.h>

#include "imgcheck.h"
#include "node.h"
#include "remote.h"
#include "util.h"

#define CMD_TIMEOUT_MS 120000

int imgcheck_remote_run(void *remote, const char *const argv[], struct child_result *res)
{
	return remote_run(remote, argv, NULL, CMD_TIMEOUT_MS, res);
}

json_t *imgcheck_run(imgcheck_run_fn run, void *ctx, const char *img, bool repair, char *why,
		     size_t len)
{
	const char *argv[] = { "qemu-img", "check", "--output=json", "-f", "qcow2", img, NULL };
	const char *fix[] = { "qemu-img", "check", "-r", "all", "--output=json", "-f", "qcow2",
			      img, NULL };
	struct child_result res;
	json_t *j = NULL;
	/* Exit 2: corruptions, 3: leaks only; the JSON is printed in every case. */
	int rc = run(ctx, repair ? fix : argv, &res);

	if (rc == 0)
		j = json_loads(res.out ? res.out : "", 0, NULL);
	if (!j)
		pc_last_line(rc < 0 ? strerror(-rc) : res.err, why, len);
	child_result_release(&res);
	return j;
}

const char *imgcheck_result(const json_t *report)
{
	json_int_t corrupt = json_integer_value(json_object_get(report, "corruptions"));
	json_int_t leaks = json_integer_value(json_object_get(report, "leaks"));
	json_int_t errs = json_integer_value(json_object_get(report, "check-errors"));

	return corrupt || errs ? "corrupt" : leaks ? "leaks" : "clean";
}

static int64_t jint(const json_t *j, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(j, key));
}

void imgcheck_add(json_t *checks, const struct imgcheck_found *f)
{
	if (!f->result) {
		node_check_add(checks, "qemu-img-check", "error",
			       json_pack("{s:s}", "error", f->error ? f->error : ""));
		json_decref(f->report);
		return;
	}
	json_t *det = json_object();
	if (f->dirty >= 0)
		json_object_set_new(det, "dirty", json_boolean(f->dirty));
	json_object_set_new(det, "corruptions", json_integer(f->corruptions));
	json_object_set_new(det, "leaks", json_integer(f->leaks));
	json_object_set_new(det, "check_errors", json_integer(f->check_errors));
	json_object_set_new(det, "fixed_corruptions", json_integer(f->fixed_corruptions));
	json_object_set_new(det, "fixed_leaks", json_integer(f->fixed_leaks));
	if (f->report)
		json_object_set_new(det, "qemu_img", f->report);
	node_check_add(checks, "qemu-img-check", f->result, det);
}

void imgcheck_qcow2(imgcheck_run_fn run, void *ctx, const char *img, bool lazy_refcounts,
		    json_t *checks)
{
	char why[256];
	json_t *j = imgcheck_run(run, ctx, img, false, why, sizeof(why));
	struct imgcheck_found f = { .error = why, .dirty = -1, .report = j };

	if (j) {
		f.result = imgcheck_result(j);
		f.corruptions = jint(j, "corruptions");
		f.leaks = jint(j, "leaks");
		f.check_errors = jint(j, "check-errors");
	}
	if (j && !strcmp(f.result, "corrupt") && lazy_refcounts) {
		/* lazy_refcounts leaves refcount errors after a crash that the next
		 * read-write open repairs: repaired here, a failure only if some remain. */
		json_t *r = imgcheck_run(run, ctx, img, true, why, sizeof(why));
		f.result = r && strcmp(imgcheck_result(r), "corrupt") ? "repaired" : "corrupt";
		f.fixed_corruptions = jint(r, "corruptions-fixed");
		f.fixed_leaks = jint(r, "leaks-fixed");
		json_decref(r);
	}
	imgcheck_add(checks, &f);
}
