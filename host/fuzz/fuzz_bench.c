/* libFuzzer target: the bench-file parser (inih under our reader, option tables,
 * sections, names, UTF-8, cross-checks), and the dumps of an accepted bench. Every
 * rejection must name the file and a line, as the mutation test checks for 500 files. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* As bench_config_load: a NUL ends the text (the loader refuses the file). */
	char *text = malloc(size + 1), *err = NULL;
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct bench_config *c = bench_config_parse("f.ini", text, NULL, 0, &err);
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
		if (!err || strncmp(err, "f.ini:", 6))
			__builtin_trap();	/* a rejection without the file's name */
	}
	free(err);
	free(text);
	return 0;
}
