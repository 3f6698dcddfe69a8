/* powercut serve against a campaign that is still running: a `powercut run` of the
 * fast tier goes on in the background while the test reads the live report.
 *
 * - /metrics parses as Prometheus text (format 0.0.4) by the strict parser below,
 *   shows the campaign running and counts that grow as cycles land;
 * - / is the HTML report, reloading itself, rebuilt when a cycle lands; headless
 *   Chromium renders it at 1366 and 390 px without a console error (PNGs kept in
 *   BUILD/report/serve-*.png);
 * - /status is the status JSON; other paths are 404, other methods 405;
 * - after the run is interrupted, the metrics say it no longer runs;
 * - a bad --listen is a usage error, a port in use and a missing database clear ones.
 * The parser itself is checked against texts it must refuse, so that it can fail.
 * Needs curl; Chromium's part skips (77 at the end) when it is missing. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "child.h"
#include "util.h"

#include "report_test.h"

static char bin[PATH_MAX], build[PATH_MAX], tmp[PATH_MAX], db[PATH_MAX + 16], url[256];
static bool skip_render;

/* --- a strict reader of the Prometheus text format (exposition format 0.0.4) --- */

#define PROM_MAX 512

struct prom {
	char names[PROM_MAX][96], types[PROM_MAX][16];	/* TYPE lines */
	size_t ntypes;
	char *series[PROM_MAX * 8];			/* name{labels}, to find duplicates */
	size_t nseries;
	char last_family[96];
	char done[PROM_MAX][96];			/* families that ended */
	size_t ndone;
	char err[256];
};

static bool name_ok(const char *s, size_t n, bool label)
{
	if (!n || (!isalpha((unsigned char)s[0]) && s[0] != '_' && (label || s[0] != ':')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && (label || s[i] != ':'))
			return false;
	return !(label && n >= 2 && s[0] == '_' && s[1] == '_');
}

static int type_of(struct prom *p, const char *name)
{
	for (size_t i = 0; i < p->ntypes; i++)
		if (!strcmp(p->names[i], name))
			return (int)i;
	return -1;
}

static bool value_ok(const char *s, double *v)
{
	char *end;
	if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf") || !strcmp(s, "NaN"))
		return true;
	if (!*s || isspace((unsigned char)*s))
		return false;
	*v = strtod(s, &end);
	return !*end;
}

/* One sample line. */
static int prom_sample(struct prom *p, const char *line)
{
	const char *s = line;
	size_t n = strcspn(s, "{ ");
	char name[96], key[2048];

	if (n >= sizeof(name) || !name_ok(s, n, false))
		return snprintf(p->err, sizeof(p->err), "bad metric name in '%s'", line), -1;
	memcpy(name, s, n);
	name[n] = 0;
	int t = type_of(p, name);
	if (t < 0)
		return snprintf(p->err, sizeof(p->err), "sample '%s' before its TYPE", name), -1;
	for (size_t i = 0; i < p->ndone; i++)
		if (!strcmp(p->done[i], name))
			return snprintf(p->err, sizeof(p->err), "family '%s' not contiguous", name), -1;
	if (strcmp(p->last_family, name)) {
		if (p->last_family[0])
			snprintf(p->done[p->ndone++], sizeof(p->done[0]), "%s", p->last_family);
		snprintf(p->last_family, sizeof(p->last_family), "%s", name);
	}
	s += n;
	size_t k = (size_t)snprintf(key, sizeof(key), "%s{", name);
	if (*s == '{') {
		s++;
		while (*s != '}') {
			size_t ln = strcspn(s, "=");
			if (!name_ok(s, ln, true) || s[ln] != '=' || s[ln + 1] != '"')
				return snprintf(p->err, sizeof(p->err), "bad label in '%s'", line), -1;
			k += (size_t)snprintf(key + k, sizeof(key) - k, "%.*s=", (int)ln, s);
			s += ln + 2;
			while (*s != '"') {
				if (!*s)
					return snprintf(p->err, sizeof(p->err), "unterminated label value in '%s'",
							line), -1;
				if (*s == '\\') {
					if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
						return snprintf(p->err, sizeof(p->err), "bad escape in '%s'",
								line), -1;
					s++;
				}
				if (k + 2 < sizeof(key))
					key[k++] = *s;
				s++;
			}
			s++;
			if (k + 2 < sizeof(key))
				key[k++] = ',';
			if (*s == ',')
				s++;
			else if (*s != '}')
				return snprintf(p->err, sizeof(p->err), "expected ',' or '}' in '%s'", line), -1;
		}
		s++;
	}
	key[k < sizeof(key) ? k : sizeof(key) - 1] = 0;
	if (*s != ' ')
		return snprintf(p->err, sizeof(p->err), "no value in '%s'", line), -1;
	s++;
	char val[64];
	size_t vn = strcspn(s, " ");
	if (vn >= sizeof(val))
		return snprintf(p->err, sizeof(p->err), "bad value in '%s'", line), -1;
	memcpy(val, s, vn);
	val[vn] = 0;
	double v = 0;
	if (!value_ok(val, &v))
		return snprintf(p->err, sizeof(p->err), "bad value '%s' in '%s'", val, line), -1;
	if (!strcmp(p->types[t], "counter") && v < 0)
		return snprintf(p->err, sizeof(p->err), "negative counter in '%s'", line), -1;
	s += vn;
	if (*s == ' ') {	/* a timestamp: an integer of milliseconds */
		char *end;
		strtoll(s + 1, &end, 10);
		if (end == s + 1 || *end)
			return snprintf(p->err, sizeof(p->err), "bad timestamp in '%s'", line), -1;
	}
	for (size_t i = 0; i < p->nseries; i++)
		if (!strcmp(p->series[i], key))
			return snprintf(p->err, sizeof(p->err), "duplicate series '%.200s'", key), -1;
	if (p->nseries < PROM_MAX * 8)
		p->series[p->nseries++] = strdup(key);
	return 0;
}

/* Parse a whole text: the number of samples, or -1 with p->err. */
static int prom_parse(struct prom *p, const char *text)
{
	int samples = 0;
	memset(p, 0, sizeof(*p));
	size_t len = strlen(text);
	if (!len || text[len - 1] != '\n')
		return snprintf(p->err, sizeof(p->err), "text does not end with a newline"), -1;
	char *copy = strdup(text), *save = NULL;
	int rc = 0;
	for (char *line = strtok_r(copy, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
			const char *s = line + 7;
			size_t n = strcspn(s, " ");
			if (!name_ok(s, n, false) || s[n] != ' ') {
				rc = -1;
				snprintf(p->err, sizeof(p->err), "bad HELP/TYPE line '%s'", line);
				break;
			}
			if (line[2] == 'T') {
				const char *ty = s + n + 1;
				char name[96];
				snprintf(name, sizeof(name), "%.*s", (int)n, s);
				if (strcmp(ty, "counter") && strcmp(ty, "gauge") && strcmp(ty, "histogram") &&
				    strcmp(ty, "summary") && strcmp(ty, "untyped")) {
					rc = -1;
					snprintf(p->err, sizeof(p->err), "bad type '%s'", ty);
				} else if (type_of(p, name) >= 0) {
					rc = -1;
					snprintf(p->err, sizeof(p->err), "second TYPE for '%s'", name);
				} else if (p->ntypes < PROM_MAX) {
					snprintf(p->names[p->ntypes], sizeof(p->names[0]), "%s", name);
					snprintf(p->types[p->ntypes++], sizeof(p->types[0]), "%s", ty);
				}
			} else {
				for (const char *h = s + n + 1; *h && rc == 0; h++)
					if (*h == '\\' && h[1] != '\\' && h[1] != 'n') {
						rc = -1;
						snprintf(p->err, sizeof(p->err), "bad escape in HELP '%s'", line);
					} else if (*h == '\\') {
						h++;
					}
			}
		} else if (line[0] == '#') {
			continue;	/* a comment */
		} else if ((rc = prom_sample(p, line)) == 0) {
			samples++;
		}
	}
	free(copy);
	for (size_t i = 0; i < p->nseries; i++)
		free(p->series[i]);
	p->nseries = 0;
	return rc < 0 ? -1 : samples;
}

/* The value of the one sample whose line starts with `prefix`, or NAN. */
static double prom_value(const char *text, const char *prefix)
{
	const char *s = text;
	while ((s = strstr(s, prefix))) {
		if (s == text || s[-1] == '\n')
			return strtod(strchr(s, ' ') + 1, NULL);
		s++;
	}
	return -1;
}

static void test_parser_refuses(void **state)
{
	static const char *const bad[] = {
		"x 1\n",						/* no TYPE */
		"# TYPE x counter\nx 1",				/* no final newline */
		"# TYPE x counter\nx{a=\"b\\q\"} 1\n",			/* bad escape */
		"# TYPE x counter\nx{a=\"b\"} 1\nx{a=\"b\"} 2\n",	/* duplicate series */
		"# TYPE x counter\nx one\n",				/* not a number */
		"# TYPE x counter\n# TYPE y gauge\nx 1\ny 1\nx{a=\"c\"} 1\n", /* interleaved */
		"# TYPE x counter\nx -1\n",				/* negative counter */
		"# TYPE x countr\nx 1\n",				/* bad type */
		"# TYPE 1x gauge\n1x 1\n",				/* bad name */
		"# TYPE x gauge\nx{__a=\"b\"} 1\n",			/* reserved label name */
		"# TYPE x gauge\nx{a=\"b\" 1\n",			/* unterminated */
	};
	struct prom *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (prom_parse(p, bad[i]) >= 0)
			fail_msg("parser accepted bad text %zu: %s", i, bad[i]);
	assert_int_equal(prom_parse(p, "# HELP x a \\\\ help\n# TYPE x gauge\nx{a=\"q\\\"\\n\",b=\"\"} "
				     "+Inf 1700000000000\nx 2.5e3\n"), 2);
	free(p);
}

/* --- the running campaign and the server --- */

static char *fetch(const char *path, const char *method, int *code)
{
	char u[400];
	struct child_result r;
	snprintf(u, sizeof(u), "%s%s", url, path + 1);
	const char *argv[] = { "curl", "-sS", "--max-time", "30", "-X", method, "-o", "-",
			       "-w", "\n%{http_code}", u, NULL };
	assert_int_equal(run(argv, &r, 40000), 0);
	char *nl = strrchr(r.out, '\n');
	assert_non_null(nl);
	*code = atoi(nl + 1);
	nl[1] = 0;
	char *body = strdup(r.out);
	child_result_release(&r);
	return body;
}

static json_t *status_json(void)
{
	char pc[PATH_MAX + 16];
	struct child_result r;
	snprintf(pc, sizeof(pc), "%s/powercut", bin);
	const char *argv[] = { pc, "status", "--json", db, NULL };
	if (run(argv, &r, 30000) != 0) {
		child_result_release(&r);
		return NULL;
	}
	json_t *j = json_loads(r.out, 0, NULL);
	child_result_release(&r);
	return j;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static double metric(const char *prefix)
{
	int code;
	char *m = fetch("/metrics", "GET", &code);
	assert_int_equal(code, 200);
	double v = prom_value(m, prefix);
	free(m);
	return v;
}

static void test_serve_running(void **state)
{
	char pc[PATH_MAX + 16], rd[PATH_MAX + 32], env_tmp[PATH_MAX + 16], logp[PATH_MAX + 16];
	snprintf(pc, sizeof(pc), "%s/powercut", bin);
	snprintf(rd, sizeof(rd), "bench.run_dir=%s/run", tmp);
	snprintf(env_tmp, sizeof(env_tmp), "TMPDIR=%s", tmp);
	snprintf(logp, sizeof(logp), "%s/run.log", tmp);

	/* The campaign: more cycles than the test waits for; it is interrupted below. */
	const char *rargv[] = { pc, "run", "-q", "--db", db, "--cycles", "200", "--set", rd,
				"rig/benches/sim-fast.ini", NULL };
	const char *renv[] = { env_tmp, NULL };
	FILE *lf = fopen(logp, "w");
	assert_non_null(lf);
	struct child runc = { .argv = rargv, .env = renv, .in = CHILD_NULL, .out = CHILD_FD,
			      .err = CHILD_FD, .fd_out = fileno(lf), .fd_err = fileno(lf) };
	assert_int_equal(child_start(&runc), 0);
	fclose(lf);

	/* Until its first cycle is classified (status polls the database read-only). */
	json_t *st = NULL;
	for (int i = 0; i < 600 && child_running(&runc); i++) {
		st = status_json();
		if (st && json_is_object(json_object_get(st, "last_cycle")))
			break;
		json_decref(st);
		st = NULL;
		sleep_ms(200);
	}
	assert_non_null(st);
	assert_string_equal(json_string_value(json_object_get(st, "status")), "running");
	json_decref(st);

	/* The server, on any free loopback port: it says where on its first line. */
	const char *sargv[] = { pc, "serve", "--listen", "127.0.0.1:0", "--refresh", "5", db, NULL };
	struct child srv = { .argv = sargv, .in = CHILD_NULL, .out = CHILD_PIPE, .err = CHILD_INHERIT };
	assert_int_equal(child_start(&srv), 0);
	char line[512] = "";
	size_t n = 0;
	struct pollfd pfd = { .fd = srv.fd_out, .events = POLLIN };
	while (n < sizeof(line) - 1 && !strchr(line, '\n') && poll(&pfd, 1, 30000) == 1) {
		ssize_t k = read(srv.fd_out, line + n, sizeof(line) - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		line[n] = 0;
	}
	char *at = strstr(line, " at http://127.0.0.1:");
	assert_non_null(at);
	snprintf(url, sizeof(url), "%.*s", (int)strcspn(at + 4, " "), at + 4);
	printf("serving at %s\n", url);

	/* /metrics: strict Prometheus text, the campaign running */
	int code;
	char *m = fetch("/metrics", "GET", &code);
	assert_int_equal(code, 200);
	struct prom *p = calloc(1, sizeof(*p));
	int samples = prom_parse(p, m);
	if (samples < 0)
		fail_msg("/metrics is not Prometheus text: %s", p->err);
	assert_true(samples >= 6 * 2 + 4);
	free(p);
	assert_true(prom_value(m, "powercut_campaign_running{campaign=\"1\"}") == 1);
	double c0 = prom_value(m, "powercut_campaign_cycles{campaign=\"1\"}");
	assert_true(c0 >= 1);
	assert_non_null(strstr(m, "powercut_cycles_total{bench=\"sim-fast\",cut=\"power\",disk=\"qcow2\""));
	assert_non_null(strstr(m, "powercut_seconds_since_last_cycle "));
	assert_non_null(strstr(m, "powercut_nodes_lost_total 0\n"));
	free(m);

	/* / is the report, reloading itself; /status the JSON */
	char *h0 = fetch("/", "GET", &code);
	assert_int_equal(code, 200);
	assert_non_null(strstr(h0, "powercut durability report"));
	assert_non_null(strstr(h0, "<meta http-equiv='refresh' content='5'>"));
	char *sj = fetch("/status", "GET", &code);
	assert_int_equal(code, 200);
	json_t *sjs = json_loads(sj, 0, NULL);
	assert_non_null(sjs);
	assert_string_equal(json_string_value(json_object_get(sjs, "status")), "running");
	json_decref(sjs);
	free(sj);
	char *x = fetch("/nope", "GET", &code);
	assert_int_equal(code, 404);
	free(x);
	x = fetch("/metrics", "POST", &code);
	assert_int_equal(code, 405);
	free(x);

	/* Chromium on the live page, the campaign still running */
	assert_true(child_running(&runc));
	if (access(chromium, X_OK) == 0) {
		char dir[PATH_MAX + 16], png[PATH_MAX + 48];
		snprintf(dir, sizeof(dir), "%s/report", build);
		assert_int_equal(pc_mkdir_p(dir), 0);
		snprintf(png, sizeof(png), "%s/serve-1366.png", dir);
		chromium_shot(url, png, 1366, tmp);
		snprintf(png, sizeof(png), "%s/serve-390.png", dir);
		chromium_shot(url, png, 390, tmp);
	} else {
		skip_render = true;
	}

	/* The counts grow as cycles land, and the page is rebuilt */
	double c1 = c0;
	for (int i = 0; i < 600 && c1 <= c0 + 1 && child_running(&runc); i++) {
		sleep_ms(200);
		c1 = metric("powercut_campaign_cycles{campaign=\"1\"}");
	}
	assert_true(c1 > c0 + 1);
	char *h1 = fetch("/", "GET", &code);
	assert_int_equal(code, 200);
	assert_string_not_equal(h0, h1);
	free(h0);
	free(h1);

	/* Interrupted: the metrics say it stopped */
	int status;
	assert_int_equal(child_kill(&runc, SIGINT), 0);
	assert_int_equal(child_finish(&runc, 120000, &status), 0);
	assert_true(WIFEXITED(status));
	assert_true(metric("powercut_campaign_running{campaign=\"1\"}") == 0);

	/* A port in use */
	char busy[300];
	snprintf(busy, sizeof(busy), "%.*s", (int)(strlen(url) - 8), url + 7);
	struct child_result r;
	const char *bargv[] = { pc, "serve", "--listen", busy, db, NULL };
	assert_int_equal(run(bargv, &r, 30000), 1);
	assert_non_null(strstr(r.err, "cannot listen on"));
	child_result_release(&r);
	const char *badl[] = { pc, "serve", "--listen", "nowhere", db, NULL };
	assert_int_equal(run(badl, &r, 30000), 2);
	assert_non_null(strstr(r.err, "invalid address 'nowhere' for '--listen'"));
	child_result_release(&r);
	char missing[PATH_MAX + 16];
	snprintf(missing, sizeof(missing), "%s/none.db", tmp);
	const char *nodb[] = { pc, "serve", "--listen", "127.0.0.1:0", missing, NULL };
	assert_int_equal(run(nodb, &r, 30000), 1);
	assert_non_null(strstr(r.err, "cannot open database"));
	child_result_release(&r);

	assert_int_equal(child_stop(&srv, 10000, &status), 0);
}

static int setup(void **state)
{
	const char *argv[] = { "curl", "--version", NULL };
	struct child_result r;

	if (child_run(argv, NULL, 10000, &r) < 0) {
		printf("skip: no curl\n");
		exit(77);
	}
	child_result_release(&r);
	test_dirs(bin, sizeof(bin), build, sizeof(build), tmp, sizeof(tmp), "serve");
	snprintf(db, sizeof(db), "%s/c.db", tmp);
	return 0;
}

static int teardown(void **state)
{
	rm_tmp(tmp);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser_refuses),
		cmocka_unit_test(test_serve_running),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	if (rc == 0 && skip_render) {
		printf("skip: no chromium at '%s' (the HTTP and metrics checks passed)\n", chromium);
		return 77;
	}
	return rc;
}
