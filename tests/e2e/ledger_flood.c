/* ledger_flood: the attacker of issue 16, item 1, as a test helper. It holds IDLE
 * connections that never send, and SLOW connections that send a hello's bytes one per
 * second ("slowloris"), to the TCP port(s) a process listens on, and reopens whichever
 * the ledger closes, until it gets SIGTERM. It prints how many connections it opened
 * and how many the ledger closed.
 *
 *   ledger_flood PID IDLE SLOW      (the port is found from PID's listening sockets)
 *   ledger_flood -p PORT IDLE SLOW
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

/* The first 127.0.0.1 port in LISTEN state whose socket is one of pid's descriptors
 * (/proc/PID/fd links "socket:[INODE]", /proc/net/tcp lists inodes). 0 if none. */
static int port_of(int pid)
{
	char path[64], line[512];
	unsigned long inodes[256];
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) && n < 256;) {
		char lp[320], target[64];
		snprintf(lp, sizeof(lp), "%s/%s", path, e->d_name);
		ssize_t k = readlink(lp, target, sizeof(target) - 1);
		if (k > 0) {
			target[k] = 0;
			if (sscanf(target, "socket:[%lu]", &inodes[n]) == 1)
				n++;
		}
	}
	closedir(d);
	FILE *f = fopen("/proc/net/tcp", "r");
	if (!f)
		return 0;
	int port = 0;
	while (!port && fgets(line, sizeof(line), f)) {
		unsigned addr, p, st;
		unsigned long ino;
		if (sscanf(line, " %*d: %x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu",
			   &addr, &p, &st, &ino) != 4 || st != 0x0A)
			continue;
		for (size_t i = 0; i < n; i++)
			if (inodes[i] == ino)
				port = (int)p;
	}
	fclose(f);
	return port;
}

struct slot {
	int fd;
	int sent;		/* slow: bytes of the hello sent */
};

static int dial(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 when the peer closed fd. */
static int closed(int fd)
{
	char b[256];
	ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN);
}

int main(int argc, char **argv)
{
	int port = 0, pid = 0;

	if (argc == 5 && !strcmp(argv[1], "-p")) {
		port = atoi(argv[2]);
		argv += 2;
	} else if (argc == 4) {
		pid = atoi(argv[1]);
		argv += 1;
	} else {
		fprintf(stderr, "usage: ledger_flood PID|-p PORT IDLE SLOW\n");
		return 2;
	}
	int nidle = atoi(argv[1]), nslow = atoi(argv[2]), total = nidle + nslow;
	struct rlimit rl = { (rlim_t)total + 64, (rlim_t)total + 64 };
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	/* Wait for the ledger to listen (the campaign opens it after its set-up). */
	for (int i = 0; pid && !port && i < 600 && !stop; i++) {
		port = port_of(pid);
		if (!port)
			usleep(50000);
	}
	if (!port) {
		fprintf(stderr, "ledger_flood: no listening port\n");
		return 1;
	}
	struct slot *s = calloc((size_t)total, sizeof(*s));
	unsigned long long opened = 0, lost = 0;
	/* What a slow client trickles: the head of a plausible hello frame. */
	static const unsigned char hello[] = { 0, 0, 0, 80, 1, 0, 2, 0, 32, 'x', 'x', 'x', 'x' };
	for (int i = 0; i < total; i++)
		s[i].fd = -1;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long tick = -1;
	while (!stop) {
		/* Once a second: what the ledger closed is reopened (about IDLE + SLOW
		 * connects a second against a ledger that evicts), and every slow client
		 * sends one more byte. */
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long sec = (long)(t.tv_sec - t0.tv_sec);
		if (sec != tick) {
			tick = sec;
			for (int i = 0; i < total && !stop; i++) {
				if (s[i].fd >= 0 && closed(s[i].fd)) {
					close(s[i].fd);
					s[i].fd = -1;
					lost++;
				}
				if (s[i].fd < 0) {
					s[i].fd = dial(port);
					s[i].sent = 0;
					if (s[i].fd >= 0)
						opened++;
				} else if (i >= nidle && s[i].sent < (int)sizeof(hello) &&
					   send(s[i].fd, hello + s[i].sent, 1,
						MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
					s[i].sent++;
				}
			}
		}
		usleep(100000);
	}
	printf("ledger_flood: port %d, %d idle and %d slow held, %llu connections opened, "
	       "%llu closed by the ledger\n", port, nidle, nslow, opened, lost);
	return 0;
}
