/* `powercut serve`: the report of a database, live, over HTTP (libmicrohttpd), and
 * Prometheus metrics (docs/report.md, "Live view").
 *
 * One internal polling thread answers every request, so the pages are built on that
 * thread only. A page is rebuilt when the database or its write-ahead log changed
 * (size or modification time): a campaign that writes a cycle changes them, a reader
 * that changes nothing gets the page it already has. */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <microhttpd.h>

#include "log.h"
#include "render.h"

struct page {
	char *body;
	size_t len;
	struct timespec stamp[2];	/* db and -wal modification times */
	off_t size[2];
	bool have;
};

struct server {
	const char *db;
	int refresh_s;
	struct page html, metrics, status;
};

/* Database and WAL: size and mtime; a missing WAL counts as size -1. */
static void db_stamp(const char *db, struct timespec t[2], off_t sz[2])
{
	char wal[4200];
	struct stat st;

	snprintf(wal, sizeof(wal), "%s-wal", db);
	for (int i = 0; i < 2; i++) {
		if (stat(i ? wal : db, &st) == 0) {
			t[i] = st.st_mtim;
			sz[i] = st.st_size;
		} else {
			memset(&t[i], 0, sizeof(t[i]));
			sz[i] = -1;
		}
	}
}

enum page_kind { PAGE_HTML, PAGE_METRICS, PAGE_STATUS };

static int build(struct server *sv, enum page_kind kind, struct page *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = -ENOMEM;

	if (!f)
		return -errno;
	struct report_options o = REPORT_OPTIONS_INIT;
	o.refresh_s = sv->refresh_s;
	char *paths[] = { (char *)sv->db };
	struct report *r = kind == PAGE_STATUS ? NULL : report_load(paths, 1, &o);
	json_t *st = kind == PAGE_HTML ? NULL : report_status(sv->db, 0);
	if (kind != PAGE_STATUS && !r)
		rc = -errno;
	else if (kind == PAGE_HTML)
		rc = report_render(r, REPORT_HTML, f);
	else if (kind == PAGE_METRICS)
		rc = report_metrics(r, st, f);
	else if (st) {
		char *s = json_dumps(st, JSON_INDENT(1) | JSON_SORT_KEYS);
		rc = s && fputs(s, f) >= 0 && fputc('\n', f) != EOF ? 0 : -ENOMEM;
		free(s);
	} else {
		rc = -errno;
	}
	json_decref(st);
	report_free(r);
	if (fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(buf);
		return rc;
	}
	free(p->body);
	p->body = buf;
	p->len = len;
	p->have = true;
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
			     const char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *res = MHD_create_response_from_buffer(len, (void *)body, mode);
	if (!res)
		return MHD_NO;
	MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = MHD_queue_response(conn, code, res);
	MHD_destroy_response(res);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	static const char not_found[] = "not found: try / (the report), /metrics or /status\n";
	static const char bad_method[] = "only GET and HEAD\n";
	struct server *sv = cls;
	enum page_kind kind;
	const char *type;
	struct page *p;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
			     bad_method, sizeof(bad_method) - 1, MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
		kind = PAGE_HTML, p = &sv->html, type = "text/html; charset=utf-8";
	} else if (!strcmp(url, "/metrics")) {
		kind = PAGE_METRICS, p = &sv->metrics, type = "text/plain; version=0.0.4; charset=utf-8";
	} else if (!strcmp(url, "/status")) {
		kind = PAGE_STATUS, p = &sv->status, type = "application/json";
	} else {
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", not_found,
			     sizeof(not_found) - 1, MHD_RESPMEM_PERSISTENT);
	}
	struct timespec t[2];
	off_t sz[2];
	db_stamp(sv->db, t, sz);
	/* The status and metrics carry "seconds since": always fresh. */
	bool same = p->have && kind == PAGE_HTML && !memcmp(t, p->stamp, sizeof(t)) &&
		    !memcmp(sz, p->size, sizeof(sz));
	if (!same) {
		int rc = build(sv, kind, p);
		if (rc < 0) {
			char msg[512];
			int n = snprintf(msg, sizeof(msg), "cannot read database '%s': %s\n", sv->db,
					 strerror(-rc));
			return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
				     msg, (size_t)n, MHD_RESPMEM_MUST_COPY);
		}
		memcpy(p->stamp, t, sizeof(t));
		memcpy(p->size, sz, sizeof(sz));
	}
	return reply(conn, MHD_HTTP_OK, type, p->body, p->len, MHD_RESPMEM_MUST_COPY);
}

/* "ADDR:PORT", "[ADDR6]:PORT" or ":PORT" (loopback). */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *colon = strrchr(s, ':');
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV }, *res = NULL;

	if (!colon || !colon[1])
		return -EINVAL;
	size_t hl = (size_t)(colon - s);
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = 0;
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	if (getaddrinfo(host[0] ? host : "127.0.0.1", colon + 1, &hints, &res) != 0 || !res)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int report_serve(const char *db, const char *listen, int refresh_s, volatile int *stop,
		 void (*ready)(void *ctx, const char *url), void *ctx)
{
	struct server sv = { .db = db, .refresh_s = refresh_s };
	struct sockaddr_storage ss;
	socklen_t slen;
	char url[320], host[NI_MAXHOST];

	if (parse_listen(listen, &ss, &slen) < 0) {
		pc_err(LOG_REPORT, "invalid address '%s' for '--listen' (ADDR:PORT, [ADDR6]:PORT or "
		       ":PORT)", listen);
		return -EINVAL;
	}
	/* Fail early with the database's own message, not on the first request. */
	json_t *st = report_status(db, 0);
	if (!st)
		return -errno;
	json_decref(st);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &sv,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
	if (!d) {
		int e = errno ? errno : EADDRINUSE;
		pc_err(LOG_REPORT, "cannot listen on '%s': %s", listen, strerror(e));
		return -e;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = di ? di->port : 0;
	getnameinfo((struct sockaddr *)&ss, slen, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	snprintf(url, sizeof(url), ss.ss_family == AF_INET6 ? "http://[%s]:%u/" : "http://%s:%u/",
		 host, port);
	if (ready)
		ready(ctx, url);
	while (!*stop) {
		struct timespec ts = { 0, 100 * 1000000 };
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(d);
	free(sv.html.body);
	free(sv.metrics.body);
	free(sv.status.body);
	return 0;
}
