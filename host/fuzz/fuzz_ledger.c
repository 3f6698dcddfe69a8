/* libFuzzer target: the ledger's frame decoder and the connection handling around it
 * (hello, token, frame sizes, acks, flushes, gaps, ends), on a real ledger with its
 * database in a temporary directory. The input is what one agent connection sends,
 * in reads cut at positions taken from its first byte; it starts with a valid hello
 * when the first byte is odd, so that the frames after it are reached. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ledger.h"
#include "ledger_proto.h"
#include "ledger_schema.h"
#include "log.h"

#define TOKEN "fuzz-token"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ledger *led;

static struct ledger *setup(void)
{
	char dir[] = "/tmp/fuzz_ledger.XXXXXX", path[64];
	sqlite3 *db;

	log_set_level(LOG_ERROR - 1);
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/l.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF", NULL, NULL, NULL) ||
	    sqlite3_exec(db, ledger_schema_sql, NULL, NULL, NULL) != SQLITE_OK)
		abort();
	sqlite3_close(db);
	struct ledger_config cfg = { .campaign = 7, .token = TOKEN, .cycle = 3 };
	struct ledger *l = ledger_open(&cfg, path);
	if (!l)
		abort();
	/* The files go when the process does; the ledger holds them open. */
	unlink(path);
	return l;
}

static size_t hello(unsigned char *p)
{
	size_t tl = strlen(TOKEN);
	lp_put32(p, (uint32_t)(1 + LEDGER_HELLO_FIXED + tl));
	p[4] = LEDGER_HELLO;
	unsigned char *b = p + 5;
	lp_put16(b, LEDGER_PROTO_VERSION);
	lp_put16(b + 2, (uint16_t)tl);
	memcpy(b + 4, TOKEN, tl);
	b += 4 + tl;
	memset(b, 0, LEDGER_HELLO_FIXED - 4);
	lp_put64(b, 7);
	lp_put32(b + 8, 3);
	lp_put32(b + 12, 1);
	lp_put32(b + 16, 4096);
	lp_put64(b + 20, 256);
	return 5 + LEDGER_HELLO_FIXED + tl;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char h[512];

	if (!led)
		led = setup();
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(ledger_port(led)) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	size_t cut = size ? data[0] % 200 + 1 : 1;
	if (size && (data[0] & 1))
		if (send(fd, h, hello(h), MSG_NOSIGNAL) < 0)
			abort();
	for (size_t pos = size ? 1 : 0; pos < size; pos += cut) {
		size_t n = size - pos < cut ? size - pos : cut;
		if (send(fd, data + pos, n, MSG_NOSIGNAL) < 0)
			break;
		ledger_poll(led, 0);
	}
	shutdown(fd, SHUT_WR);
	/* Served until the ledger closed the connection or went quiet. */
	for (int i = 0; i < 50; i++) {
		char b[256];
		if (ledger_poll(led, 1) < 0)
			abort();
		ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (r == 0)
			break;
	}
	close(fd);
	ledger_poll(led, 0);
	return 0;
}
