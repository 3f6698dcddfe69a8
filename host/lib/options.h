/* Option tables: one table declares each option of a section (name, type, offset
 * into the section's struct, default, range, enum values, help). The same table
 * parses INI values and --set overrides, validates, formats the effective value
 * (canonical text and JSON) and prints help. See config.h for the bench sections.
 *
 * Storage per type (the field at `offset` in the section struct):
 *   OPT_BOOL     bool            yes/no, true/false, on/off, 1/0
 *   OPT_INT      int64_t         decimal or 0x hex; min/max checked when min < max
 *   OPT_UINT64   uint64_t        decimal or 0x hex
 *   OPT_SIZE     uint64_t bytes  512, 4K, 4KiB, 128k, 1G (binary units)
 *   OPT_DURATION int64_t ms      250 (ms), 250ms, 2s, 1.5s, 5m, 1h
 *   OPT_ENUM     int             index into values[]
 *   OPT_STRING   char *          owned by the struct (opt_release frees it)
 *   OPT_LIST     char **         NULL-terminated argument vector, split on blanks with
 *                                'single' and "double" quotes and \ escapes; owned
 */
#ifndef PC_OPTIONS_H
#define PC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

enum opt_type { OPT_BOOL, OPT_INT, OPT_UINT64, OPT_SIZE, OPT_DURATION, OPT_ENUM,
		OPT_STRING, OPT_LIST };

enum {
	OPT_REQUIRED = 1u << 0,	/* must be set in the file or by --set */
	OPT_HEX      = 1u << 1,	/* OPT_INT printed as 0x%04x */
};

struct opt_def {
	const char *name;
	enum opt_type type;
	size_t offset;
	const char *def;		/* default, parsed by the same code; NULL: unset */
	int64_t min, max;		/* numeric range, checked when min < max */
	const char *const *values;	/* OPT_ENUM: NULL-terminated names */
	const char *help;
	unsigned flags;
};

struct opt_section {
	const char *name;		/* "relay"; named sections are written [disk NAME] */
	bool named;			/* any number of instances, each with a name */
	size_t size;			/* sizeof the section struct */
	const struct opt_def *opts;	/* terminated by an entry with name == NULL */
	const char *help;
};

/* Parse `text` into the field of `o` in `base`. Returns 0, or -EINVAL / -ERANGE
 * with a message in msg ("invalid value 'x' for 'cache' (expected none, ...)";
 * the caller adds file, line and section). The old value is released on success. */
int opt_parse(const struct opt_def *o, void *base, const char *text, char *msg, size_t len);

/* The same, naming the section in the message: "... for 'cache' in [disk a] (expected ...)". */
int opt_parse_in(const struct opt_def *o, void *base, const char *text, const char *label,
		 char *msg, size_t len);

/* Canonical text of the value (what --set would accept); "" for an unset string. */
void opt_format(const struct opt_def *o, const void *base, char *buf, size_t len);

/* The value as JSON (new reference; null for an unset string or list). */
json_t *opt_json(const struct opt_def *o, const void *base);

/* Option `name` in s, or NULL. */
const struct opt_def *opt_find(const struct opt_section *s, const char *name);

/* Number of options in s. */
size_t opt_count(const struct opt_section *s);

/* The candidate closest to word by edit distance when close enough to be a likely
 * typo, else NULL. cands is NULL-terminated, or use stride to walk structs whose first
 * member is a const char * (stride 0 means an array of const char *). */
const char *opt_suggest(const char *word, const void *cands, size_t n, size_t stride);

/* Apply every default of s to base (which must be zeroed). Returns 0 or -EINVAL
 * (a broken table: the message says which option). */
int opt_defaults(const struct opt_section *s, void *base, char *msg, size_t len);

/* Free the strings and lists in base. */
void opt_release(const struct opt_section *s, void *base);

/* "1M..2G", "0..7": the range of a numeric option, in its own units. */
void opt_range_text(const struct opt_def *o, char *buf, size_t len);

/* "bool", "size", "none|writeback|..." for help. */
const char *opt_type_name(const struct opt_def *o, char *buf, size_t len);

/* Help for every option of s, one paragraph each. */
void opt_help(FILE *f, const struct opt_section *s);

/* Split s into a NULL-terminated vector (quotes, escapes). NULL with errno EINVAL on
 * an unterminated quote, ENOMEM; an empty vector for blank input. Free with
 * opt_list_free. */
char **opt_split(const char *s);
void opt_list_free(char **v);

#endif
