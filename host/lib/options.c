/* Option tables: see options.h. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define FIELD(base, o, T) ((T *)((char *)(base) + (o)->offset))
#define CFIELD(base, o, T) ((const T *)((const char *)(base) + (o)->offset))

size_t opt_count(const struct opt_section *s)
{
	size_t n = 0;

	while (s->opts[n].name)
		n++;
	return n;
}

const struct opt_def *opt_find(const struct opt_section *s, const char *name)
{
	for (const struct opt_def *o = s->opts; o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];

	if (lb >= 64 || la >= 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t best = diag + cost;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *opt_suggest(const char *word, const void *cands, size_t n, size_t stride)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	if (!stride)
		stride = sizeof(const char *);
	for (size_t i = 0; i < n; i++) {
		const char *c = *(const char *const *)((const char *)cands + i * stride);
		if (!c)
			break;
		size_t d = edit_distance(word, c);
		if (d < best_d) {
			best_d = d;
			best = c;
		}
	}
	/* Close enough to be a typo: at most 2 edits, and fewer than half the word. */
	size_t wl = strlen(word);
	if (best && best_d > 0 && best_d <= 2 && best_d * 2 < (wl > 2 ? wl : 3))
		return best;
	if (best && best_d > 0 && best_d <= 1)
		return best;
	return NULL;
}

void opt_list_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

char **opt_split(const char *s)
{
	size_t cap = 4, n = 0, len = strlen(s);
	char **v = calloc(cap, sizeof(*v));
	char *word = malloc(len + 1);

	if (!v || !word)
		goto nomem;
	while (*s) {
		size_t w = 0;
		char quote = 0;
		bool have = false;

		while (*s && isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		while (*s && (quote || !isspace((unsigned char)*s))) {
			if (quote) {
				if (*s == quote) {
					quote = 0;
				} else if (quote == '"' && *s == '\\' && s[1]) {
					word[w++] = *++s;
				} else {
					word[w++] = *s;
				}
			} else if (*s == '\'' || *s == '"') {
				quote = *s;
				have = true;
			} else if (*s == '\\' && s[1]) {
				word[w++] = *++s;
			} else {
				word[w++] = *s;
			}
			s++;
		}
		if (quote) {
			opt_list_free(v);
			free(word);
			errno = EINVAL;
			return NULL;
		}
		if (w || have) {
			if (n + 2 > cap) {
				char **nv = realloc(v, (cap *= 2) * sizeof(*v));
				if (!nv)
					goto nomem;
				v = nv;
			}
			v[n] = strndup(word, w);
			if (!v[n])
				goto nomem;
			v[++n] = NULL;
		}
	}
	free(word);
	return v;
nomem:
	opt_list_free(v);
	free(word);
	errno = ENOMEM;
	return NULL;
}

static void list_format(char *const *v, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; v && v[i] && off + 1 < len; i++) {
		const char *a = v[i];
		bool plain = *a != '\0';

		for (const char *p = a; *p; p++)
			if (isspace((unsigned char)*p) || strchr("'\"\\;#", *p))
				plain = false;
		if (i)
			buf[off++] = ' ';
		if (plain) {
			off += (size_t)snprintf(buf + off, len - off, "%s", a);
		} else {
			/* Double quotes with \" and \\ escaped round-trip through opt_split. */
			if (off + 1 < len)
				buf[off++] = '"';
			for (const char *p = a; *p && off + 3 < len; p++) {
				if (*p == '"' || *p == '\\')
					buf[off++] = '\\';
				buf[off++] = *p;
			}
			if (off + 1 < len)
				buf[off++] = '"';
			buf[off] = '\0';
		}
		if (off >= len)
			off = len - 1;
	}
}

static int parse_int(const char *t, int64_t *v)
{
	char *end;

	errno = 0;
	long long x = strtoll(t, &end, 0);
	if (errno || end == t || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

static int parse_u64(const char *t, uint64_t *v)
{
	char *end;

	if (*t == '-')
		return -EINVAL;
	errno = 0;
	unsigned long long x = strtoull(t, &end, 0);
	if (errno || end == t || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

static int parse_size(const char *t, uint64_t *v)
{
	static const struct { const char *sfx; int shift; } units[] = {
		{ "", 0 }, { "b", 0 }, { "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 }, { "g", 30 }, { "gb", 30 },
		{ "gib", 30 }, { "t", 40 }, { "tb", 40 }, { "tib", 40 },
	};
	char *end;

	if (!isdigit((unsigned char)*t))
		return -EINVAL;
	errno = 0;
	unsigned long long x = strtoull(t, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcasecmp(end, units[i].sfx)) {
			if (units[i].shift && x > (UINT64_MAX >> units[i].shift))
				return -EINVAL;
			*v = (uint64_t)x << units[i].shift;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_duration(const char *t, int64_t *v)
{
	static const struct { const char *sfx; double ms; } units[] = {
		{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "min", 60000 },
		{ "h", 3600000 },
	};
	char *end;

	if (!isdigit((unsigned char)*t))
		return -EINVAL;
	errno = 0;
	double x = strtod(t, &end);
	if (errno || !isfinite(x))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].sfx)) {
			double ms = x * units[i].ms;
			if (ms > 1e15 || ms != floor(ms))
				return -EINVAL;	/* sub-millisecond values are not representable */
			*v = (int64_t)ms;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_bool(const char *t, bool *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(t, yes[i])) {
			*v = true;
			return 0;
		}
		if (!strcasecmp(t, no[i])) {
			*v = false;
			return 0;
		}
	}
	return -EINVAL;
}

const char *opt_join(const char *const *words, const char *sep, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; words && words[i] && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? sep : "", words[i]);
	return buf;
}

static void enum_list(const struct opt_def *o, char *buf, size_t len, const char *sep)
{
	opt_join(o->values, sep, buf, len);
}

static const char *expected(const struct opt_def *o, char *buf, size_t len)
{
	switch (o->type) {
	case OPT_BOOL: return "yes or no";
	case OPT_INT: return "an integer";
	case OPT_UINT64: return "a non-negative integer";
	case OPT_SIZE: return "a size such as 4096, 4K, 128KiB, 1G";
	case OPT_DURATION: return "a duration such as 250ms, 2s, 5m";
	case OPT_ENUM: enum_list(o, buf, len, ", "); return buf;
	case OPT_LIST: return "words with matched quotes";
	case OPT_STRING: return "a string";
	}
	return "?";
}

static void format_size(uint64_t v, char *buf, size_t len)
{
	static const char sfx[] = "KMGT";
	int u = -1;

	while (v && u < 3 && (v & 1023) == 0) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, v);
	else
		snprintf(buf, len, "%" PRIu64 "%c", v, sfx[u]);
}

static void format_duration(int64_t ms, char *buf, size_t len)
{
	if (ms && ms % 3600000 == 0)
		snprintf(buf, len, "%" PRId64 "h", ms / 3600000);
	else if (ms && ms % 60000 == 0)
		snprintf(buf, len, "%" PRId64 "m", ms / 60000);
	else if (ms && ms % 1000 == 0)
		snprintf(buf, len, "%" PRId64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRId64 "ms", ms);
}

void opt_range_text(const struct opt_def *o, char *buf, size_t len)
{
	char a[32], b[32];

	if (o->type == OPT_SIZE) {
		format_size((uint64_t)o->min, a, sizeof(a));
		format_size((uint64_t)o->max, b, sizeof(b));
	} else if (o->type == OPT_DURATION) {
		format_duration(o->min, a, sizeof(a));
		format_duration(o->max, b, sizeof(b));
	} else {
		snprintf(a, sizeof(a), "%" PRId64, o->min);
		snprintf(b, sizeof(b), "%" PRId64, o->max);
	}
	snprintf(buf, len, "%s..%s", a, b);
}

int opt_set(const struct opt_def *o, void *base, const char *text)
{
	int64_t iv = 0;
	uint64_t uv = 0;
	bool ranged = o->min < o->max;
	int rc = 0;

	switch (o->type) {
	case OPT_BOOL: {
		bool b;
		if ((rc = parse_bool(text, &b)) == 0)
			*FIELD(base, o, bool) = b;
		break;
	}
	case OPT_INT:
	case OPT_DURATION:
		rc = o->type == OPT_INT ? parse_int(text, &iv) : parse_duration(text, &iv);
		if (rc == 0 && ranged && (iv < o->min || iv > o->max))
			rc = -ERANGE;
		if (rc == 0)
			*FIELD(base, o, int64_t) = iv;
		break;
	case OPT_UINT64:
	case OPT_SIZE:
		rc = o->type == OPT_UINT64 ? parse_u64(text, &uv) : parse_size(text, &uv);
		if (rc == 0 && ranged && (uv < (uint64_t)o->min || uv > (uint64_t)o->max))
			rc = -ERANGE;
		if (rc == 0)
			*FIELD(base, o, uint64_t) = uv;
		break;
	case OPT_ENUM:
		rc = -EINVAL;
		for (int i = 0; o->values && o->values[i]; i++) {
			if (!strcmp(o->values[i], text)) {
				*FIELD(base, o, int) = i;
				rc = 0;
				break;
			}
		}
		break;
	case OPT_STRING: {
		char *s = strdup(text);
		if (!s)
			return -ENOMEM;
		free(*FIELD(base, o, char *));
		*FIELD(base, o, char *) = s;
		break;
	}
	case OPT_LIST: {
		char **v = opt_split(text);
		if (!v) {
			rc = -errno;
			break;
		}
		opt_list_free(*FIELD(base, o, char **));
		*FIELD(base, o, char **) = v;
		break;
	}
	}
	return rc;
}

void opt_report(const struct opt_def *o, const char *text, int rc, const char *where,
		const char *label)
{
	const char *w = where ? where : "", *ws = where ? ": " : "";
	const char *in = label ? " in " : "", *l = label ? label : "";
	char exp[256], rng[80];

	if (rc == -ERANGE) {
		opt_range_text(o, rng, sizeof(rng));
		pc_err(LOG_CONFIG, "%s%svalue '%s' out of range for '%s'%s%s (expected %s)", w, ws,
		       text, o->name, in, l, rng);
	} else if (rc == -EINVAL) {
		pc_err(LOG_CONFIG, "%s%sinvalid value '%s' for '%s'%s%s (expected %s)", w, ws, text,
		       o->name, in, l, expected(o, exp, sizeof(exp)));
	} else if (rc) {
		pc_err(LOG_CONFIG, "%s%scannot set '%s'%s%s: %s", w, ws, o->name, in, l,
		       strerror(-rc));
	}
}

int opt_parse(const struct opt_def *o, void *base, const char *text, const char *where,
	      const char *label)
{
	int rc = opt_set(o, base, text);

	if (rc < 0)
		opt_report(o, text, rc, where, label);
	return rc;
}

void opt_format(const struct opt_def *o, const void *base, char *buf, size_t len)
{
	switch (o->type) {
	case OPT_BOOL:
		snprintf(buf, len, "%s", *CFIELD(base, o, bool) ? "yes" : "no");
		break;
	case OPT_INT:
		if (o->flags & OPT_HEX)
			snprintf(buf, len, "0x%04" PRIx64, (uint64_t)*CFIELD(base, o, int64_t));
		else
			snprintf(buf, len, "%" PRId64, *CFIELD(base, o, int64_t));
		break;
	case OPT_UINT64:
		snprintf(buf, len, "%" PRIu64, *CFIELD(base, o, uint64_t));
		break;
	case OPT_SIZE:
		format_size(*CFIELD(base, o, uint64_t), buf, len);
		break;
	case OPT_DURATION:
		format_duration(*CFIELD(base, o, int64_t), buf, len);
		break;
	case OPT_ENUM: {
		int i = *CFIELD(base, o, int);
		snprintf(buf, len, "%s", o->values && i >= 0 ? o->values[i] : "");
		break;
	}
	case OPT_STRING: {
		const char *s = *(char *const *)((const char *)base + o->offset);
		snprintf(buf, len, "%s", s ? s : "");
		break;
	}
	case OPT_LIST:
		list_format(*(char **const *)((const char *)base + o->offset), buf, len);
		break;
	}
}

json_t *opt_json(const struct opt_def *o, const void *base)
{
	switch (o->type) {
	case OPT_BOOL:
		return json_boolean(*CFIELD(base, o, bool));
	case OPT_INT:
	case OPT_DURATION:
		return json_integer(*CFIELD(base, o, int64_t));
	case OPT_UINT64:
	case OPT_SIZE:
		/* jansson integers are signed 64-bit; larger values go out as text. */
		if (*CFIELD(base, o, uint64_t) > (uint64_t)INT64_MAX) {
			char b[32];
			snprintf(b, sizeof(b), "%" PRIu64, *CFIELD(base, o, uint64_t));
			return json_string(b);
		}
		return json_integer((json_int_t)*CFIELD(base, o, uint64_t));
	case OPT_ENUM: {
		int i = *CFIELD(base, o, int);
		return json_string(o->values && i >= 0 ? o->values[i] : "?");
	}
	case OPT_STRING: {
		const char *s = *(char *const *)((const char *)base + o->offset);
		return s ? json_string(s) : json_null();
	}
	case OPT_LIST: {
		char *const *v = *(char **const *)((const char *)base + o->offset);
		if (!v)
			return json_null();
		json_t *a = json_array();
		for (size_t i = 0; a && v[i]; i++)
			json_array_append_new(a, json_string(v[i]));
		return a;
	}
	}
	return json_null();
}

int opt_defaults(const struct opt_section *s, void *base)
{
	for (const struct opt_def *o = s->opts; o->name; o++) {
		if (o->def && opt_parse(o, base, o->def, "default", s->name) < 0)
			return -EINVAL;
		if (!o->def && o->type == OPT_ENUM)
			*FIELD(base, o, int) = -1;
	}
	return 0;
}

void opt_release(const struct opt_section *s, void *base)
{
	for (const struct opt_def *o = s->opts; o->name; o++) {
		if (o->type == OPT_STRING) {
			free(*FIELD(base, o, char *));
			*FIELD(base, o, char *) = NULL;
		} else if (o->type == OPT_LIST) {
			opt_list_free(*FIELD(base, o, char **));
			*FIELD(base, o, char **) = NULL;
		}
	}
}

const char *opt_type_name(const struct opt_def *o, char *buf, size_t len)
{
	static const char *const names[] = { "bool", "int", "uint64", "size", "duration",
					     "enum", "string", "list" };

	if (o->type == OPT_ENUM || (o->type == OPT_STRING && o->values)) {
		enum_list(o, buf, len, "|");
		return buf;
	}
	return names[o->type];
}

void opt_help(FILE *f, const struct opt_section *s)
{
	char t[256], r[80];

	fprintf(f, "[%s%s]  %s\n", s->name, s->named ? " NAME" : "", s->help ? s->help : "");
	for (const struct opt_def *o = s->opts; o->name; o++) {
		fprintf(f, "  %-16s %s", o->name, opt_type_name(o, t, sizeof(t)));
		if (o->min < o->max && o->type != OPT_ENUM) {
			opt_range_text(o, r, sizeof(r));
			fprintf(f, " (%s)", r);
		}
		if (o->flags & OPT_REQUIRED)
			fprintf(f, ", required");
		else if (o->def && *o->def)
			fprintf(f, ", default %s", o->def);
		fprintf(f, "\n      %s\n", o->help);
	}
}

const char *opt_driver_name(const struct opt_drivers *d, size_t i)
{
	return *(const char *const *)((const char *)d->ops[i] + d->name_at);
}

const struct opt_def *opt_driver_opts(const struct opt_drivers *d, size_t i)
{
	return *(const struct opt_def *const *)((const char *)d->ops[i] + d->opts_at);
}

const char *opt_drivers_names(const struct opt_drivers *d, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; d->ops[i] && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
					opt_driver_name(d, i));
	return buf;
}

const char *const *opt_driver_names(const struct opt_drivers *d, size_t i)
{
	return d->names_at == OPT_NO_ALIASES ? NULL :
	       *(const char *const *const *)((const char *)d->ops[i] + d->names_at);
}

bool opt_driver_selected(const struct opt_drivers *d, size_t i, const char *value)
{
	const char *const *al = opt_driver_names(d, i);

	if (!value)
		return false;
	if (!al)
		return !strcmp(opt_driver_name(d, i), value);
	for (; *al; al++)
		if (!strcmp(*al, value))
			return true;
	return false;
}

static const struct opt_def *def_find(const struct opt_def *t, const char *name)
{
	for (; t && t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

/* Two drivers may share a key (gpio and usbhid both have active_level) when they
 * declare the same field alike: it is one key of the section, set once. */
static bool def_alike(const struct opt_def *a, const struct opt_def *b)
{
	return a->type == b->type && a->offset == b->offset && a->min == b->min &&
	       a->max == b->max && a->values == b->values &&
	       ((!a->def && !b->def) || (a->def && b->def && !strcmp(a->def, b->def)));
}

static int driver_opts_check(const struct opt_drivers *d, size_t i,
			     const struct opt_def *common, const char *what)
{
	const char *name = opt_driver_name(d, i);

	for (const struct opt_def *o = opt_driver_opts(d, i); o && o->name; o++) {
		if ((unsigned)o->type > OPT_LIST || (o->type == OPT_ENUM && !o->values) ||
		    !o->help) {
			pc_err(LOG_CONFIG, "%s driver '%s': option '%s' is malformed (type, enum "
			       "values or help)", what, name, o->name);
			return -EINVAL;
		}
		if (def_find(opt_driver_opts(d, i), o->name) != o || def_find(common, o->name)) {
			pc_err(LOG_CONFIG, "%s driver '%s': option '%s' is declared twice (or is a "
			       "key of [%s] itself)", what, name, o->name, what);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			const struct opt_def *other = def_find(opt_driver_opts(d, j), o->name);
			if (other && !def_alike(o, other)) {
				pc_err(LOG_CONFIG, "%s drivers '%s' and '%s' declare option '%s' "
				       "differently", what, opt_driver_name(d, j), name, o->name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int opt_drivers_check(const struct opt_drivers *d, const struct opt_def *common,
		      const char *what)
{
	for (size_t i = 0; d->ops[i]; i++) {
		const char *name = opt_driver_name(d, i);
		if (!name || !*name) {
			pc_err(LOG_CONFIG, "%s driver without a name", what);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(opt_driver_name(d, j), name)) {
				pc_err(LOG_CONFIG, "%s driver '%s' is registered twice", what, name);
				return -EINVAL;
			}
		}
		if (driver_opts_check(d, i, common, what) < 0)
			return -EINVAL;
	}
	return 0;
}
