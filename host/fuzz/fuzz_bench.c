/* libFuzzer target: the bench-file parser (inih under our reader, option tables,
 * sections, names, UTF-8, cross-checks), and the dumps of an accepted bench. Every
 * rejection must name the file and a line, as the mutation test checks for 500 files. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The loader logs its messages: count them, and those that do not name the file. */
static int n_errors, unnamed;

static void watch(void *ctx, enum log_level level, enum log_cat cat, int64_t wall_ns,
		  int64_t mono_ns, const char *msg)
{
	if (level != LOG_ERROR)
		return;
	n_errors++;
	unnamed += strncmp(msg, "f.ini:", 6) != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* As bench_config_load: a NUL ends the text (the loader refuses the file). */
	char *text = malloc(size + 1);
	static int watching;
	if (!text)
		return 0;
	if (!watching++) {
		log_watch_add(watch, NULL);
		/* The watcher sees every message: keep them off stderr (megabytes a second).
		 * libFuzzer and the sanitizers keep theirs: they write to fd 2 themselves. */
		FILE *null = fopen("/dev/null", "we");
		if (null)
			stderr = null;
	}
	n_errors = unnamed = 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct bench_config *c = bench_config_parse("f.ini", text, NULL, 0, NULL);
	if (c) {
		char hash[65];
		char *t = bench_config_text(c);
		json_t *j = bench_config_json(c);
		if (!t || !j || bench_config_hash(c, hash) < 0)
			__builtin_trap();
		free(t);
		json_decref(j);
		bench_config_free(c);
	} else {
		if (!n_errors || unnamed)
			__builtin_trap();	/* a rejection without the file's name */
	}
	free(text);
	return 0;
}
