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

void imgcheck_qcow2(imgcheck_run_fn run, void *ctx, const char *img, bool lazy_refcounts,
		    json_t *checks)
{
	char why[256];
	json_t *j = imgcheck_run(run, ctx, img, false, why, sizeof(why));

	if (!j) {
		node_check_add(checks, "qemu-img-check", "error", json_pack("{s:s}", "error", why));
		return;
	}
	const char *result = imgcheck_result(j);
	json_t *det = json_pack("{s:I,s:I,s:I,s:o}",
		"corruptions", json_integer_value(json_object_get(j, "corruptions")),
		"leaks", json_integer_value(json_object_get(j, "leaks")),
		"check_errors", json_integer_value(json_object_get(j, "check-errors")),
		"qemu_img", j);
	if (!strcmp(result, "corrupt") && lazy_refcounts) {
		/* lazy_refcounts leaves refcount errors after a crash that the next
		 * read-write open repairs: repaired here, a failure only if some remain. */
		json_t *f = imgcheck_run(run, ctx, img, true, why, sizeof(why));
		result = f && strcmp(imgcheck_result(f), "corrupt") ? "repaired" : "corrupt";
		json_object_set_new(det, "fixed_corruptions",
			json_integer(json_integer_value(json_object_get(f, "corruptions-fixed"))));
		json_decref(f);
	}
	node_check_add(checks, "qemu-img-check", result, det);
}
