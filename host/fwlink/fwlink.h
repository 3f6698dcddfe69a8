/* fwlink: the host's client for the firmware's serial line protocol (docs/protocol.md).
 *
 * One struct fwlink is one connection to one board, real (libserialport) or
 * simulated (a pseudo-terminal, e.g. the simulator's stable DIR/mcu.tty link).
 * It frames and checksums every request, matches each request with its one final
 * reply, queues the asynchronous events that arrive meanwhile (never loses them
 * silently), stamps every received line with the host CLOCK_MONOTONIC time it was
 * read (clock_mono_ns() of host/lib/clock.h), notices firmware resets, reconnects
 * when the port disappears and comes back under the same path, and maps firmware
 * timestamps onto the host clock.
 *
 *   struct fwlink_opts o = { .path = "run/mcu.tty" };
 *   struct fwlink *l = fwlink_open(&o);            // NULL + errno, message logged
 *   struct fw_reply r;
 *   int rc = fwlink_request(l, 1000, &r, "cut %d %d", 0, 500);
 *   uint64_t at;
 *   if (rc == 0 && fw_reply_get_u64(&r, "at", &at) == 0) ...
 *   struct fw_event ev;
 *   while (fwlink_next_event(l, 2000, &ev) == 0) ... ev.name, ev.t_us, ev.rx_ns ...
 *   fwlink_close(l);
 *
 * Not thread-safe: use one struct fwlink from one thread at a time. No call blocks
 * longer than the timeout it is given (plus, when the port vanished, at most the
 * reconnect budget of the options, which is itself bounded by that timeout).
 *
 * Errors: functions return 0 or a negative errno; fwlink_open returns NULL and sets
 * errno. Every failure is also logged (category LOG_SERIAL) in git's style.
 */
#ifndef PC_FWLINK_H
#define PC_FWLINK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The only protocol version this client speaks (docs/protocol.md). */
#define FWLINK_PROTO 2

/* Line limits (docs/protocol.md, checksum included, newline excluded). */
#define FW_HOST_LINE_MAX 64	/* host to firmware */
#define FW_LINE_MAX 128		/* firmware to host */
#define FW_KV_MAX 16		/* key=value pairs kept per line; more is a parse error */

/* The key=value pairs of one received line. The strings live inside the struct
 * (offsets, not pointers), so a struct fw_fields may be copied by assignment. */
struct fw_fields {
	char buf[FW_LINE_MAX + 1];	/* the line body, NUL-separated after parsing */
	uint8_t n;			/* number of pairs */
	uint8_t key[FW_KV_MAX];		/* offsets into buf */
	uint8_t val[FW_KV_MAX];
};

/* Value of KEY, or NULL when the line has no such key. Points into f. */
const char *fw_fields_get(const struct fw_fields *f, const char *key);
/* Decimal value of KEY: 0, -ENOENT (no such key), -EINVAL (not a number / overflow). */
int fw_fields_get_u64(const struct fw_fields *f, const char *key, uint64_t *v);
int fw_fields_get_int(const struct fw_fields *f, const char *key, int *v);
/* The i-th pair (0 <= i < f->n). */
const char *fw_fields_key(const struct fw_fields *f, int i);
const char *fw_fields_val(const struct fw_fields *f, int i);

/* One final reply: `ok[ key=value...]` or `error:N text`. */
struct fw_reply {
	int code;		/* 0 for ok, N for error:N (codes in firmware/core/protocol.h) */
	char text[FW_LINE_MAX + 1];	/* error text ("bad checksum"); "" for ok */
	struct fw_fields f;	/* key=value pairs of an ok reply */
	int64_t tx_ns;		/* host CLOCK_MONOTONIC just before the request was written */
	int64_t rx_ns;		/* host CLOCK_MONOTONIC when the reply line was read */
};

static inline const char *fw_reply_get(const struct fw_reply *r, const char *key)
{ return fw_fields_get(&r->f, key); }
static inline int fw_reply_get_u64(const struct fw_reply *r, const char *key, uint64_t *v)
{ return fw_fields_get_u64(&r->f, key, v); }
static inline int fw_reply_get_int(const struct fw_reply *r, const char *key, int *v)
{ return fw_fields_get_int(&r->f, key, v); }

/* Flags of an event. */
enum {
	/* The first event of a new firmware session: the `boot` banner, or an event
	 * after which fwlink concluded that the firmware was reset (SEQ went back, the
	 * firmware clock went back, or a reconnect found a younger firmware or a
	 * banner among the stale input it dropped). */
	FW_EV_RESET = 1u << 0,
	/* `lost` events are missing before this one (SEQ gap or queue overflow). */
	FW_EV_LOST = 1u << 1,
	/* Made by fwlink, not printed by the firmware: name "reset", a reset inferred
	 * without its banner (the banner was garbled, or sat in the port before a
	 * reconnect flushed it). seq and t_us are those fwlink last learnt of the new
	 * session (t_us may be 0 when unknown). */
	FW_EV_SYNTHETIC = 1u << 2,
};

/* One asynchronous event `!SEQ T NAME[ key=value...]`, including the `boot` banner. */
struct fw_event {
	uint64_t seq;		/* SEQ; 0 for the banner */
	uint64_t t_us;		/* firmware clock, microseconds since reset (the edge time) */
	char name[24];		/* "boot", "relay", "pwrok", "disarm", "reset" (synthetic) */
	unsigned flags;		/* FW_EV_* */
	uint64_t lost;		/* events missing just before this one (with FW_EV_LOST) */
	uint64_t session;	/* firmware session number: fwlink_session() when read */
	struct fw_fields f;	/* key=value pairs: "ch", "power", "cause", "level", ... */
	int64_t rx_ns;		/* host CLOCK_MONOTONIC when the line was read */
};

static inline const char *fw_event_get(const struct fw_event *e, const char *key)
{ return fw_fields_get(&e->f, key); }
static inline int fw_event_get_u64(const struct fw_event *e, const char *key, uint64_t *v)
{ return fw_fields_get_u64(&e->f, key, v); }
static inline int fw_event_get_int(const struct fw_event *e, const char *key, int *v)
{ return fw_fields_get_int(&e->f, key, v); }

/* Called when fwlink notices a firmware reset (banner, SEQ or clock going back, or a
 * younger firmware or a dropped banner after a reconnect), before the event is
 * queued. It runs inside whichever fwlink call read the evidence: it must not call
 * fwlink functions other than the read-only getters (fwlink_info, fwlink_session,
 * fwlink_stats); set a flag and re-establish state after that call returns. */
typedef void (*fwlink_reset_fn)(void *ctx, const struct fw_event *ev);

struct fwlink_opts {
	/* A tty (/dev/ttyUSB0), a /dev/serial/by-id/ link, or a simulator's pty link.
	 * Links are resolved again at every reconnect. NULL: find the board with
	 * libserialport among USB ports by usb_vid/usb_pid/usb_serial. */
	const char *path;
	int usb_vid, usb_pid;		/* vid 0: a known board's (fwlink_usb_vid_matches);
					 * pid 0: any */
	const char *usb_serial;		/* NULL: any */
	int baud;			/* 0: 115200 (8N1, no flow control) */
	int open_timeout_ms;		/* open + handshake (version, status); 0: 3000 */
	/* After the port vanished (EOF, EIO, HUP, a read error), keep re-opening the
	 * same path with backoff (20 ms doubling to 500 ms) for this long. 0: 10000;
	 * < 0: never reconnect (the link stays down, calls return -ENOTCONN). */
	int reconnect_ms;
	fwlink_reset_fn on_reset;	/* may be NULL */
	void *ctx;			/* passed to on_reset */
	/* Resolution of the firmware clock in microseconds, added to every mapped
	 * time's uncertainty; 0: 4 (16 MHz timer, prescaler 64). */
	int fw_clock_res_us;
};

/* What `version` answered at the last (re)connect. */
struct fw_info {
	char fw[24];		/* "0.1.0" */
	char mcu[24];		/* "atmega328p" */
	int proto;		/* FWLINK_PROTO */
	int channels;
	uint64_t f_cpu;
	/* What the board's EEPROM held (`settings=` of `status` and of the banner):
	 * "ok", "recovered" (one copy damaged, the other loaded), "blank" or
	 * "corrupt" (the firmware runs on its defaults). Logged as a warning when it
	 * is not "ok". */
	char settings[16];
	/* Brown-out detection level from the board's fuses (`bod_mv=` of `version`
	 * and of the banner); 0: off, logged as a warning (rig/hardware.md); -1 not
	 * known. */
	int bod_mv;
};

struct fwlink_stats {
	uint64_t lines;		/* well-formed lines received */
	uint64_t garbled;	/* lines with a bad checksum or malformed, ignored */
	uint64_t cut_by_reset;	/* lines a reset cut short, the banner glued on (not in garbled) */
	uint64_t overlong;	/* lines over FW_LINE_MAX, discarded (also in garbled) */
	uint64_t unexpected;	/* replies that matched no request, dropped */
	uint64_t events;	/* events received (synthetic ones not counted) */
	uint64_t events_lost;	/* sum of all SEQ gaps and queue overflows */
	uint64_t resets;	/* firmware resets noticed */
	uint64_t reconnects;	/* successful re-opens after the port vanished */
	uint64_t timeouts;	/* requests that got no reply in time */
	uint64_t retries;	/* idempotent requests sent again */
	uint64_t resync_pings;	/* pings sent to resynchronise (at most 8 a resync) */
};

/* Keep-alive: the firmware restores a powered-down channel after host_timeout_ms
 * (default 5 s) without a valid line from the host. fwlink sends nothing on its own;
 * a driver holding a channel off must send something (fwlink_clock_sync(l, 1, ...)
 * serves twice) more often than that. */

/* Open the port, flush stale input (a banner may sit in a pty), and handshake:
 * `version` (the protocol version must be FWLINK_PROTO, else EPROTONOSUPPORT with
 * a message naming the version) and `status` (the firmware clock and SEQ, for reset
 * detection). NULL and errno on failure: ENOENT (no such port / no matching USB
 * board), EACCES, ETIMEDOUT (no answer), EPROTONOSUPPORT, EPROTO (garbage). */
/* Does a port of USB vendor vid match usb_vid = want? want 0 takes the vendors of the
 * boards the firmware runs on: Arduino (2341, 2a03), CH340 clones (1a86), FTDI (0403). */
bool fwlink_usb_vid_matches(int want, int vid);

struct fwlink *fwlink_open(const struct fwlink_opts *o);

/* Replay: a link without a port, fed by fwlink_feed() through the same receive path
 * (line framing, parsing, event sequence and reset tracking): for captured traces and
 * the fuzz target. Requests fail with -ENOTCONN; fwlink_next_event(l, 0, ...) returns
 * what the fed bytes produced. NULL + errno. Free with fwlink_close(). */
struct fwlink *fwlink_open_replay(const char *name);
/* Feed received bytes. With await, they are read as after a request: returns 0 (or
 * -EREMOTEIO, -EBADMSG) when a reply arrived and was stored in *await, -ECONNRESET
 * when a banner came instead, -EAGAIN when neither did. */
int fwlink_feed(struct fwlink *l, const void *data, size_t n, struct fw_reply *await);
/* Close the port and free everything; NULL is allowed. Does not change the relays
 * (a closed port leaves the firmware's host watchdog to restore power). */
void fwlink_close(struct fwlink *l);

/* Send one request (printf-style body without checksum; fwlink appends `*CC\n`)
 * and wait at most timeout_ms for its one final reply, which is stored in *r (r
 * may be NULL). Events arriving meanwhile are queued for fwlink_next_event.
 * Returns
 *   0              `ok ...`
 *   -EREMOTEIO     `error:N text` (r->code = N, r->text = text)
 *   -ETIMEDOUT     no reply in time; the link resynchronises (a `ping TOKEN` whose
 *                  echo proves that no older reply is still on its way) before the
 *                  next request is sent, so a late reply is never mistaken for
 *                  the answer to a later request. Also returned while the port is
 *                  down and still being re-opened when the timeout ends (nothing
 *                  was sent then)
 *   -EBADMSG       the reply was garbled (bad checksum / malformed) and the request
 *                  is not idempotent, so it is not sent again: it may or may not have
 *                  been acted on; ask `status`. Idempotent requests (version, status,
 *                  ping, get, settings, set, defaults, on: docs/protocol.md) are sent
 *                  once more instead, after a resync.
 *   -ECONNRESET    the firmware was reset before it answered (its banner came instead
 *                  of the reply, alone or glued to the reply it cut short; the reset
 *                  is queued as a FW_EV_RESET event and fwlink_session() has moved
 *                  on), or the port vanished while waiting (it is re-opened). The
 *                  request may or may not have been acted on, and a reset undid
 *                  whatever it did but `set`/`defaults`: re-establish the wanted
 *                  state from `status`. Idempotent requests are sent once more
 *                  instead (after a resync, or on the new connection).
 *   -ENOTCONN      the port is gone and did not come back within the budget
 *   -EMSGSIZE      the framed request would exceed FW_HOST_LINE_MAX bytes
 *   -EINVAL        the body contains `*`, or a byte outside 0x20..0x7e
 *   -EPROTONOSUPPORT  the firmware announced an unknown protocol version
 *   -EBUSY         called from inside the on_reset callback
 * The reply's tx_ns/rx_ns bracket the moment the firmware parsed the request. */
int fwlink_request(struct fwlink *l, int timeout_ms, struct fw_reply *r,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int fwlink_vrequest(struct fwlink *l, int timeout_ms, struct fw_reply *r,
		    const char *fmt, va_list ap);

/* For tests: write `raw` exactly as given (no checksum added, len bytes, which
 * should end in '\n') and wait for the one reply as fwlink_request does (never
 * retried). Lets a test send a garbled or overlong line. */
int fwlink_request_raw(struct fwlink *l, int timeout_ms, struct fw_reply *r,
		       const void *raw, size_t len);

/* Next queued event, else wait at most timeout_ms (0: do not wait) for one.
 * 0 and *ev filled, -ETIMEDOUT when none came (also for timeout 0),
 * -ENOTCONN when the port is gone for good. Reads and reconnects as needed. */
int fwlink_next_event(struct fwlink *l, int timeout_ms, struct fw_event *ev);
/* Number of events already queued (check before poll(): they are not on the fd). */
int fwlink_pending(const struct fwlink *l);

/* The current descriptor, for poll(POLLIN); -1 while the port is down. It changes
 * after a reconnect: fetch it again after every fwlink call. When it is readable,
 * call fwlink_next_event(l, 0, ...): fwlink reads and queues what is there. */
int fwlink_fd(const struct fwlink *l);

/* Firmware session number: 1 after fwlink_open, +1 at every firmware reset
 * noticed. A driver keeps the value it last configured the board under and
 * re-establishes its state when it changes. */
uint64_t fwlink_session(const struct fwlink *l);
const struct fw_info *fwlink_info(const struct fwlink *l);
void fwlink_stats(const struct fwlink *l, struct fwlink_stats *s);
/* The path opened last (after resolving links), for messages. */
const char *fwlink_port_name(const struct fwlink *l);

/* Clock mapping. The link owns one clock fit (clockfit.h), invalidated at every
 * firmware reset. fwlink_clock_sync sends n `ping TOKEN` requests (each waits at
 * most timeout_ms) and adds each round trip (host send time, firmware t, host
 * receive time) to the fit. Returns the number of samples added (>= 0) or a negative
 * errno when none could be taken. Call it at start and then now and then (e.g. a few
 * pings per cycle) so the fit spans time and tracks drift. */
int fwlink_clock_sync(struct fwlink *l, int n, int timeout_ms);
/* Map a firmware time (microseconds since reset, this session) onto host
 * CLOCK_MONOTONIC nanoseconds, with the fit's uncertainty (a bound, +-unc_ns).
 * 0, or -EAGAIN when the fit has too few samples (sync first). */
int fwlink_clock_map(struct fwlink *l, uint64_t fw_us, int64_t *host_ns, int64_t *unc_ns);
struct clockfit;
/* The link's fit, for clockfit_info() and friends; owned by the link. */
struct clockfit *fwlink_clockfit(struct fwlink *l);

#endif
