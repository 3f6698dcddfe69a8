/* 500 mutated bench files: the parser never crashes or hangs (ASan and UBSan on, an
 * alarm as the hang detector), and every rejection names the file and a line.
 *
 * The mutants are derived from the benches shipped in rig/benches by a fixed-seed
 * generator (set MUTATE_SEED and MUTATE_COUNT to explore further): byte flips, random
 * and non-UTF-8 bytes, NULs, lines deleted, duplicated or swapped, brackets and '='
 * inserted, names replaced by path-like ones. Accepted mutants are dumped as text,
 * JSON and hash, the paths a later `config show` takes. */
#include <errno.h>
#include <glob.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log_capture.h"

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *t = NULL;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	if (n >= 0 && (t = malloc((size_t)n + 1)) && fread(t, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(t);
		t = NULL;
	}
	fclose(f);
	return t;
}

/* Start offsets of the lines of t[0..len): at most max, returns how many. */
static size_t lines_of(const char *t, size_t len, size_t *starts, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n < max; i++)
		if (i == 0 || t[i - 1] == '\n')
			starts[n++] = i;
	return n;
}

/* One mutation of buf (capacity cap, length *len). */
static void mutate(char *buf, size_t *len, size_t cap)
{
	static const char *const inserts[] = {
		"[", "]", "=", "\n", "\xc3", "\xff\xfe", "\xed\xa0\x80", "\xc0\xaf", "\0",
		"\n[disk ../../x]\nformat = raw\n", "\nname = ../../x\n", "\n[bogus]\n",
		"\n[workload]\n", "\n  continued\n", "\n[disk a/b]\n", "; comment\n", "\t",
		"99999999999999999999999", "-1", "0x", "\n[disk]\n", "\n=\n", "\n[]\n",
	};
	size_t starts[512], nl = lines_of(buf, *len, starts, 512);
	size_t pos = *len ? next() % *len : 0;

	switch (next() % 7) {
	case 0:		/* flip a bit */
		if (*len)
			buf[pos] ^= (char)(1u << (next() % 8));
		break;
	case 1:		/* a random byte */
		if (*len)
			buf[pos] = (char)next();
		break;
	case 2: {	/* insert a fragment */
		const char *s = inserts[next() % (sizeof(inserts) / sizeof(inserts[0]))];
		size_t k = *s ? strlen(s) : 1;
		if (*len + k < cap) {
			memmove(buf + pos + k, buf + pos, *len - pos);
			memcpy(buf + pos, s, k);
			*len += k;
		}
		break;
	}
	case 3:		/* delete a line */
		if (nl > 1) {
			size_t i = next() % (nl - 1), a = starts[i], b = starts[i + 1];
			memmove(buf + a, buf + b, *len - b);
			*len -= b - a;
		}
		break;
	case 4:		/* duplicate a line */
		if (nl > 1) {
			size_t i = next() % (nl - 1), a = starts[i], k = starts[i + 1] - a;
			if (*len + k < cap) {
				memmove(buf + a + k, buf + a, *len - a);
				*len += k;
			}
		}
		break;
	case 5:		/* cut the file short */
		*len = pos;
		break;
	case 6:		/* delete a few bytes */
		if (*len) {
			size_t k = 1 + next() % 8;
			if (pos + k > *len)
				k = *len - pos;
			memmove(buf + pos, buf + pos + k, *len - pos - k);
			*len -= k;
		}
		break;
	}
}

/* Every line of err names path and a line: "PATH:N: ..." (the one exception is the
 * count of errors not shown, after at least one that was). */
static int check_errors(const char *path, const char *err, const char *text_name)
{
	size_t pl = strlen(path);
	int lines = 0;

	for (const char *l = err; *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		bool ok = n > pl + 1 && !strncmp(l, path, pl) && l[pl] == ':';
		if (ok) {
			const char *d = l + pl + 1, *s = d;
			while (*d >= '0' && *d <= '9')
				d++;
			ok = (d > s && *d == ':' && atoi(s) > 0) ||
			     (lines > 0 && strstr(l, "more error(s) not shown"));
		}
		if (!ok) {
			fprintf(stderr, "%s: error line without file and line: '%.*s'\n", text_name,
				(int)n, l);
			return -1;
		}
		lines++;
		l += n + (e ? 1 : 0);
	}
	if (!lines) {
		fprintf(stderr, "%s: rejected without an error\n", text_name);
		return -1;
	}
	return 0;
}

int main(void)
{
	glob_t g;
	const char *seed_env = getenv("MUTATE_SEED"), *count_env = getenv("MUTATE_COUNT");
	int count = count_env ? atoi(count_env) : 500, rejected = 0, accepted = 0, failed = 0;
	char path[] = "/tmp/pc-mutant.XXXXXX";

	rng = seed_env ? strtoull(seed_env, NULL, 0) : 0x9e3779b97f4a7c15ull;
	if (!rng)
		rng = 1;
	if (glob("rig/benches/*.ini", 0, NULL, &g) != 0) {
		printf("skip: no rig/benches/*.ini here (run from the source tree)\n");
		return 77;
	}
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	/* A hang is a failure: the whole run takes well under a second per 100 mutants. */
	alarm(120);
	log_watch_add(log_capture, NULL);
	for (int i = 0; i < count; i++) {
		size_t len = 0;
		char *orig = slurp(g.gl_pathv[next() % g.gl_pathc], &len);
		if (!orig) {
			perror("read bench");
			return 1;
		}
		size_t cap = len + 4096;
		char *buf = malloc(cap);
		memcpy(buf, orig, len);
		free(orig);
		int muts = 1 + (int)(next() % 6);
		for (int m = 0; m < muts; m++)
			mutate(buf, &len, cap);
		FILE *f = fopen(path, "we");
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
			perror("write mutant");
			return 1;
		}
		free(buf);
		char *err, name[64];
		snprintf(name, sizeof(name), "mutant %d", i);
		/* No driver known: their keys are kept as written. */
		struct bench_config *c = bench_config_load(path, NULL, 0, NULL);
		err = logged();
		if (c) {
			accepted++;
			char *text = bench_config_text(c);
			json_t *j = bench_config_json(c);
			char hash[65];
			if (!text || !j || bench_config_hash(c, hash)) {
				fprintf(stderr, "%s: accepted but cannot be shown\n", name);
				failed++;
			}
			free(text);
			json_decref(j);
			bench_config_free(c);
		} else {
			rejected++;
			if (check_errors(path, err ? err : "", name)) {
				failed++;
				char keep[64];
				snprintf(keep, sizeof(keep), "/tmp/pc-mutant-failed-%d.ini", i);
				if (rename(path, keep) == 0)
					fprintf(stderr, "%s: kept as '%s'\n", name, keep);
			}
		}
		free(err);
	}
	unlink(path);
	globfree(&g);
	printf("%d mutants: %d rejected (each error naming file and line), %d accepted, %d failures\n",
	       count, rejected, accepted, failed);
	return failed ? 1 : 0;
}
