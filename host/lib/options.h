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

#define OPT_NOLIMIT 0, 0	/* min, max of a row without a range */

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

/* Parse `text` into the field of `o` in `base`. Returns 0, or -EINVAL / -ERANGE /
 * -ENOMEM after logging why (LOG_CONFIG, git's form) as
 *   WHERE: invalid value 'x' for 'cache' in LABEL (expected none, writeback, ...)
 * where and label may be NULL (no "WHERE: ", no " in LABEL"). The old value is
 * released on success. */
int opt_parse(const struct opt_def *o, void *base, const char *text, const char *where,
	      const char *label);

/* The same without a message, for a caller that reports (or counts) by itself. */
int opt_set(const struct opt_def *o, void *base, const char *text);

/* Log what opt_set's rc means for text (as opt_parse does). */
void opt_report(const struct opt_def *o, const char *text, int rc, const char *where,
		const char *label);

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
 * (a broken table: logged, naming the option). */
int opt_defaults(const struct opt_section *s, void *base);

/* Free the strings and lists in base. */
void opt_release(const struct opt_section *s, void *base);

/* "1M..2G", "0..7": the range of a numeric option, in its own units. */
void opt_range_text(const struct opt_def *o, char *buf, size_t len);

/* "bool", "size", "none|writeback|..." for help. */
const char *opt_type_name(const struct opt_def *o, char *buf, size_t len);
/* (An OPT_STRING row with values, such as a driver's name, is named by them too.) */

/* Help for every option of s, one paragraph each. */
void opt_help(FILE *f, const struct opt_section *s);

/* The drivers of a section as a program knows them (nbdkit's filters take their own
 * keys and pass the rest on; fio's engines carry .options): a NULL-terminated array of
 * pointers to ops tables, each of which names itself (a const char * at name_at) and
 * carries its own option table (a const struct opt_def * at opts_at; NULL: no keys).
 * names_at, when not OPT_NO_ALIASES, is where a NULL-terminated list of the section's
 * driver values that select it sits (NULL: its name). Driver options are stored in
 * the section's struct, like the section's own (offsets into it). */
#define OPT_NO_ALIASES ((size_t)-1)
struct opt_drivers {
	const void *const *ops;
	size_t name_at, opts_at, names_at;
};

const char *opt_driver_name(const struct opt_drivers *d, size_t i);
const struct opt_def *opt_driver_opts(const struct opt_drivers *d, size_t i);
/* The section's driver values that select driver i (NULL-terminated), or NULL: its name. */
const char *const *opt_driver_names(const struct opt_drivers *d, size_t i);
/* "serial, usbhid, gpio": the drivers' names, for a message. */
const char *opt_drivers_names(const struct opt_drivers *d, char *buf, size_t len);
/* words (NULL-terminated) joined by sep into buf, cut at len. */
const char *opt_join(const char *const *words, const char *sep, char *buf, size_t len);
/* Whether driver i is selected by value (its own name, or one of its names). */
bool opt_driver_selected(const struct opt_drivers *d, size_t i, const char *value);
/* Check the drivers of a section whose own options are common: every driver named
 * once, its option table well formed (names, types, enum values) and clashing
 * neither with a common key nor with another driver's key of the same name unless
 * both declare it alike (type, offset, default). what names the section in messages
 * ("relay"). 0 or -EINVAL (logged). */
int opt_drivers_check(const struct opt_drivers *d, const struct opt_def *common,
		      const char *what);

/* Split s into a NULL-terminated vector (quotes, escapes). NULL with errno EINVAL on
 * an unterminated quote, ENOMEM; an empty vector for blank input. Free with
 * opt_list_free. */
char **opt_split(const char *s);
void opt_list_free(char **v);

#endif
