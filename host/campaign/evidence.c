/* Evidence of a cycle with a violation: what is needed to look again later, under the
 * campaign's evidence directory, within the campaign's byte budget. The agent's
 * read-back report first (it names every block and what was read), then qcow2
 * metadata dumps (qemu-img check and map, JSON), then sparse copies of the node's
 * disk images, each only while the budget allows (allocated bytes count). */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "campaign.h"
#include "child.h"
#include "log.h"
#include "util.h"

static void evidence_row(struct store *db, int64_t cycle_id, const char *disk, const char *kind,
			 const char *path, uint64_t bytes)
{
	/* A row that cannot be stored is logged; the file stays for people to find. */
	store_evidence_insert(db, cycle_id, disk, kind, path, bytes);
}

static uint64_t allocated(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static int copy(const char *from, const char *to)
{
	const char *argv[] = { "cp", "--sparse=always", "--", from, to, NULL };
	struct child_result r;
	int rc = child_run(argv, NULL, 120000, &r);

	if (rc == 0 && r.status != 0)
		rc = -EIO;
	child_result_release(&r);
	return rc;
}

/* One qemu-img dump (check or map, JSON) of image into file. */
static int dump(const char *what, const char *image, const char *file, uint64_t *bytes)
{
	const char *argv[] = { "qemu-img", what, "-U", "--output=json", image, NULL };
	struct child_result r;
	int rc = child_run(argv, NULL, 60000, &r);

	/* check exits 2 or 3 for a corrupt or leaking image, with its JSON on stdout */
	if (rc == 0 && r.out_len) {
		FILE *f = fopen(file, "we");
		if (f) {
			fwrite(r.out, 1, r.out_len, f);
			fclose(f);
			*bytes = r.out_len;
		} else {
			rc = -errno;
		}
	} else if (rc == 0) {
		rc = -EIO;
	}
	child_result_release(&r);
	return rc;
}

/* The node's disk images under dir (qcow2, img, raw), into *found (caller frees each
 * and the array). fts(3) rather than nftw: the walk's state stays in this call. */
static size_t images_under(const char *dir, char ***found)
{
	char *const roots[] = { (char *)dir, NULL };
	FTS *fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
	FTSENT *e;
	size_t n = 0;

	*found = NULL;
	if (!fts)
		return 0;
	while ((e = fts_read(fts))) {
		size_t l = strlen(e->fts_path);
		const char *p = e->fts_path;
		if (e->fts_info != FTS_F || !S_ISREG(e->fts_statp->st_mode))
			continue;
		if (!((l > 6 && !strcmp(p + l - 6, ".qcow2")) || (l > 4 && !strcmp(p + l - 4, ".img")) ||
		      (l > 4 && !strcmp(p + l - 4, ".raw"))))
			continue;
		char **v = realloc(*found, (n + 1) * sizeof(*v));
		if (!v)
			break;
		*found = v;
		if (((*found)[n] = strdup(p)))
			n++;
	}
	fts_close(fts);
	return n;
}

int camp_evidence_keep(struct store *db, int64_t cycle_id, const char *disk,
		       const char *report_path, const char *node_dir, const char *dir,
		       uint64_t *left)
{
	char to[PATH_MAX];
	uint64_t sz = 0, budget = left ? *left : UINT64_MAX;
	int rc;

	if ((rc = pc_mkdir_p(dir)) < 0) {
		pc_err(LOG_MAIN, "cannot create the evidence directory '%s': %s", dir, strerror(-rc));
		return rc;
	}
	if (report_path && (sz = allocated(report_path)) <= budget) {
		snprintf(to, sizeof(to), "%.4000s/readback.jsonl", dir);
		if (copy(report_path, to) == 0) {
			evidence_row(db, cycle_id, disk, "readback", to, sz);
			budget -= sz;
		}
	}
	char **found = NULL;
	size_t n_found = node_dir ? images_under(node_dir, &found) : 0;
	for (size_t i = 0; i < n_found; i++) {
		/* The path below the node's directory, flattened: each disk's files live in
		 * their own directory there, under the same names. */
		char flat[1024];
		size_t nl = strlen(node_dir);
		snprintf(flat, sizeof(flat), "%s", found[i] + (strncmp(found[i], node_dir, nl) ? 0 :
							       nl + (found[i][nl] == '/')));
		for (char *q = flat; *q; q++)
			if (*q == '/')
				*q = '_';
		const char *base = flat;
		size_t l = strlen(found[i]);
		if (l > 6 && !strcmp(found[i] + l - 6, ".qcow2")) {
			static const char *const what[] = { "check", "map" };
			for (int k = 0; k < 2; k++) {
				snprintf(to, sizeof(to), "%.3000s/%.200s.%s.json", dir, base, what[k]);
				if (dump(what[k], found[i], to, &sz) == 0 && sz <= budget) {
					evidence_row(db, cycle_id, disk, k ? "qemu-img-map" :
						     "qemu-img-check", to, sz);
					budget -= sz;
				} else {
					unlink(to);
				}
			}
		}
		sz = allocated(found[i]);
		if (sz <= budget) {
			snprintf(to, sizeof(to), "%.3000s/%.200s", dir, base);
			if (copy(found[i], to) == 0) {
				evidence_row(db, cycle_id, disk, "image", to, sz);
				budget -= sz;
			}
		} else {
			/* Debug: once the budget is spent every later violation cycle would say
			 * it again, and the default level is one line per cycle. `powercut show`
			 * lists what was kept. */
			pc_debug(LOG_MAIN, "evidence: '%s' (%llu bytes allocated) is over the campaign's "
				 "remaining evidence budget", found[i], (unsigned long long)sz);
		}
		free(found[i]);
	}
	free(found);
	if (left)
		*left = budget;
	return 0;
}
