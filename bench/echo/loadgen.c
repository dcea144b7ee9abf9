/*
 * A WebSocket load generator: one thread, epoll, non-blocking sockets, the opening handshake written
 * by hand. It is compiled at bench time (gcc -O2) and pinned to the other core than the server.
 *
 * Modes
 *   echo    N connections each keep D binary messages of S bytes in flight; every echo received is
 *           answered with a new message. Reports messages/s, payload MB/s, latency p50/p99.
 *   fanout  N connections; the first asks the server for its RSS ("!rss", a text message) with one
 *           connection open and again once all N are open and idle (memory per connection), then
 *           sends "!broadcast" triggers one at a time: the server sends a 64-byte binary message to
 *           every connection; the next trigger leaves once all N deliveries are in. Reports
 *           deliveries/s and the p50/p99 of a whole fan-out.
 *   broadcast  N connections; the first sends a message of S bytes and the server is expected to
 *           send it to every connection (the chat convention: whatever one client sends, all get);
 *           the other N-1 count deliveries. D broadcasts are in flight; a fan-out is done when all
 *           N-1 have it. Whatever reaches the sender is ignored, so a server may or may not send
 *           it back. Reports deliveries/s and the p50/p99 of a whole fan-out.
 *   churn   K handshakes at a time: connect, upgrade, read the 101, reset; reports handshakes/s.
 *
 * --text sends text messages (the payload is ASCII) and counts text replies; --path and
 * --host-header name the resource and Host header (--host is the numeric IPv4 address to dial).
 * While measuring it writes "progress SECONDS COUNT" to stderr once a second.
 *
 * Every frame sent is masked (the key is fixed per run, so one masked template serves every
 * message and writev sends it without copying). The Sec-WebSocket-Key is the one of RFC 6455 §1.3,
 * so the expected Sec-WebSocket-Accept is known and checked without SHA-1 here.
 *
 * It also reports its own CPU time over the measured window: well under one core means the
 * generator was waiting for the server, not the other way round.
 *
 * Output: one JSON object on stdout. Errors: a message on stderr, exit status 2.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define HIST_US 500000
#define MAX_IOV 256

enum { MODE_ECHO, MODE_FANOUT, MODE_CHURN, MODE_BROADCAST };
enum { S_CONNECTING, S_HANDSHAKE, S_OPEN, S_DEAD };

typedef struct conn {
  int fd, state, index;
  char hs[2048];
  int hslen;
  /* frame being received */
  uint8_t hdr[14];
  int hdrlen, in_payload, opcode, fin, msg_opcode;
  uint64_t need;
  char text[256];
  int textlen;
  /* output: control bytes first, then pend_frames copies of the template */
  char ctrl[256];
  int ctrl_len, ctrl_off;
  uint64_t pend_frames, pend_off;
  int want_out;
  /* send times of messages in flight (echo) */
  uint64_t *sent;
  int head, count;
  uint64_t started; /* churn: connect time */
  uint64_t got;     /* broadcast: messages received, the index of the next one's round */
} conn;

static int mode = MODE_ECHO, nconns = 1, depth = 1, port = 0, churn_parallel = 32;
static size_t msg_size = 32;
static double warmup_s = 1, duration_s = 3, idle_wait_s = 1;
static const char *host = "127.0.0.1", *path = "/", *host_header = NULL;
static int text_mode = 0;
static uint64_t *round_sent_at, rounds_sent = 0, next_progress = 0, measure_t0 = 0;
static uint32_t *round_count;
static int ep;
static conn *conns;
static uint8_t *tmpl;
static size_t tmpl_len;
static char request[2048];
static int request_len;
static uint64_t now_ns;
static int measuring = 0, finished = 0;
static uint64_t measured_msgs = 0, measured_bytes = 0, total_msgs = 0;
static uint32_t *hist;
static uint64_t hist_n = 0, hist_max = 0;
static int open_count = 0, pending_connects = 0, next_to_open = 0;
static long long rss_reply = -1;
static uint64_t round_received = 0, round_started = 0;
static uint8_t recvbuf[1 << 18];

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
  exit(2);
}

static uint64_t clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void record(uint64_t ns) {
  if (!measuring) return;
  uint64_t us = ns / 1000;
  if (us > hist_max) hist_max = us;
  hist[us < HIST_US ? us : HIST_US]++;
  hist_n++;
}

static double percentile(double p) {
  if (hist_n == 0) return 0;
  uint64_t target = (uint64_t)(p * (double)hist_n);
  if (target >= hist_n) target = hist_n - 1;
  uint64_t seen = 0;
  for (int i = 0; i <= HIST_US; i++) {
    seen += hist[i];
    if (seen > target) return i == HIST_US ? (double)hist_max : i;
  }
  return (double)hist_max;
}

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A masked frame into `out`; returns its length. */
static size_t build_frame(uint8_t *out, int opcode, const uint8_t *payload, size_t len) {
  size_t p = 0;
  out[p++] = 0x80 | opcode;
  if (len < 126) {
    out[p++] = 0x80 | len;
  } else if (len < 65536) {
    out[p++] = 0x80 | 126;
    out[p++] = len >> 8;
    out[p++] = len & 0xff;
  } else {
    out[p++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--) out[p++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  memcpy(out + p, MASK, 4);
  p += 4;
  for (size_t i = 0; i < len; i++) out[p + i] = payload[i] ^ MASK[i & 3];
  return p + len;
}

static void set_events(conn *c, int out) {
  if (c->want_out == out) return;
  c->want_out = out;
  struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void close_conn(conn *c) {
  if (c->fd >= 0) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  c->fd = -1;
  c->state = S_DEAD;
}

static void unexpected_close(conn *c) {
  (void)c;
  if (finished) return;
  errno = 0;
  fprintf(stderr, "loadgen: connection %d closed by the server (state %d)\n", c->index, c->state);
  exit(2);
}

/* Writes what is queued; asks for EPOLLOUT while some is left. */
static void flush_out(conn *c) {
  while (c->ctrl_off < c->ctrl_len) {
    ssize_t w = write(c->fd, c->ctrl + c->ctrl_off, c->ctrl_len - c->ctrl_off);
    if (w < 0) {
      if (errno == EAGAIN) return set_events(c, 1);
      if (errno == EINTR) continue;
      return unexpected_close(c);
    }
    c->ctrl_off += w;
  }
  c->ctrl_len = c->ctrl_off = 0;
  while (c->pend_frames > 0) {
    struct iovec iov[MAX_IOV];
    int n = 0;
    for (uint64_t i = 0; i < c->pend_frames && n < MAX_IOV; i++, n++) {
      size_t off = i == 0 ? c->pend_off : 0;
      iov[n].iov_base = tmpl + off;
      iov[n].iov_len = tmpl_len - off;
    }
    ssize_t w = writev(c->fd, iov, n);
    if (w < 0) {
      if (errno == EAGAIN) return set_events(c, 1);
      if (errno == EINTR) continue;
      return unexpected_close(c);
    }
    uint64_t left = (uint64_t)w + c->pend_off;
    c->pend_frames -= left / tmpl_len;
    c->pend_off = left % tmpl_len;
  }
  set_events(c, 0);
}

static void queue_ctrl_text(conn *c, const char *text) {
  c->ctrl_len += build_frame((uint8_t *)c->ctrl + c->ctrl_len, 0x1, (const uint8_t *)text, strlen(text));
}

static void queue_message(conn *c) {
  c->pend_frames++;
  if (mode == MODE_ECHO) {
    c->sent[(c->head + c->count) % depth] = now_ns;
    c->count++;
  }
}

static void start_connect(conn *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, host, &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) die("connect");
  memset(c, 0, offsetof(conn, sent));
  c->fd = fd;
  c->index = (int)(c - conns);
  c->state = S_CONNECTING;
  c->want_out = 1;
  c->started = now_ns;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  pending_connects++;
}

static void on_message(conn *c, int opcode);

static void on_open(conn *c) {
  pending_connects--;
  open_count++;
  if (mode == MODE_CHURN) {
    record(now_ns - c->started);
    if (measuring) measured_msgs++;
    total_msgs++;
    struct linger lg = {1, 0}; /* reset: no TIME_WAIT left behind */
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close_conn(c);
    open_count--;
    if (!finished) start_connect(c);
    return;
  }
  c->state = S_OPEN;
}

/* Feeds bytes from the server into the frame reader. */
static void on_frames(conn *c, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (!c->in_payload) {
      while (i < n) {
        c->hdr[c->hdrlen++] = p[i++];
        if (c->hdrlen < 2) continue;
        int l7 = c->hdr[1] & 0x7f;
        int size = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((c->hdr[1] & 0x80) ? 4 : 0);
        if (c->hdrlen < size) continue;
        uint64_t len = l7;
        if (l7 == 126) len = ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
        if (l7 == 127) {
          len = 0;
          for (int k = 0; k < 8; k++) len = (len << 8) | c->hdr[2 + k];
        }
        c->fin = (c->hdr[0] & 0x80) != 0;
        c->opcode = c->hdr[0] & 0x0f;
        if (c->opcode == 1 || c->opcode == 2) c->msg_opcode = c->opcode, c->textlen = 0;
        c->hdrlen = 0;
        c->need = len;
        c->in_payload = 1;
        break;
      }
      if (!c->in_payload) return;
    }
    size_t take = n - i < c->need ? n - i : c->need;
    if (c->opcode <= 2 && c->msg_opcode == 1) {
      size_t room = sizeof c->text - 1 - c->textlen;
      size_t k = take < room ? take : room;
      memcpy(c->text + c->textlen, p + i, k);
      c->textlen += k;
    }
    i += take;
    c->need -= take;
    if (c->need == 0) {
      c->in_payload = 0;
      int op = c->opcode;
      if (op == 8) return unexpected_close(c);
      if (op <= 2 && c->fin) on_message(c, c->msg_opcode);
    }
  }
}

static void send_broadcast(void) {
  round_sent_at[rounds_sent % depth] = now_ns;
  round_count[rounds_sent % depth] = 0;
  rounds_sent++;
  conns[0].pend_frames++;
  flush_out(&conns[0]);
}

static void on_message(conn *c, int opcode) {
  if (mode == MODE_BROADCAST) {
    if (c->index == 0) return;
    uint64_t slot = c->got++ % depth;
    total_msgs++;
    if (measuring) measured_msgs++, measured_bytes += msg_size;
    if (++round_count[slot] == (uint32_t)(nconns - 1)) {
      record(now_ns - round_sent_at[slot]);
      if (!finished) send_broadcast();
    }
    return;
  }
  if (opcode == 1 && !text_mode) {
    c->text[c->textlen] = 0;
    if (strncmp(c->text, "rss:", 4) == 0) rss_reply = atoll(c->text + 4);
    return;
  }
  total_msgs++;
  if (mode == MODE_ECHO) {
    if (c->count > 0) {
      record(now_ns - c->sent[c->head]);
      c->head = (c->head + 1) % depth;
      c->count--;
    }
    if (measuring) measured_msgs++, measured_bytes += msg_size;
    if (!finished) queue_message(c);
  } else if (mode == MODE_FANOUT) {
    if (measuring) measured_msgs++, measured_bytes += 64;
    if (++round_received == (uint64_t)nconns) {
      round_received = 0;
      record(now_ns - round_started);
      if (!finished) {
        round_started = now_ns;
        queue_ctrl_text(&conns[0], "!broadcast");
        flush_out(&conns[0]);
      }
    }
  }
}

static void on_handshake_bytes(conn *c, const uint8_t *p, size_t n) {
  size_t room = sizeof c->hs - 1 - c->hslen;
  size_t k = n < room ? n : room;
  memcpy(c->hs + c->hslen, p, k);
  c->hslen += k;
  c->hs[c->hslen] = 0;
  char *end = strstr(c->hs, "\r\n\r\n");
  if (!end) {
    if (c->hslen >= (int)sizeof c->hs - 1) errno = 0, die("handshake response too long");
    return;
  }
  if (strncmp(c->hs, "HTTP/1.1 101", 12) != 0 || !strstr(c->hs, ACCEPT)) {
    errno = 0;
    fprintf(stderr, "loadgen: bad handshake response: %.200s\n", c->hs);
    exit(2);
  }
  size_t header_len = (size_t)(end + 4 - c->hs);
  size_t consumed_before = c->hslen - k; /* bytes of earlier reads */
  size_t rest_from = header_len - consumed_before;
  on_open(c);
  if (c->state == S_OPEN && rest_from < n) on_frames(c, p + rest_from, n - rest_from);
}

static void on_event(conn *c, uint32_t events) {
  if (c->state == S_DEAD) return;
  if (c->state == S_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err || (events & (EPOLLERR | EPOLLHUP))) errno = err, die("connect failed");
    if (!(events & EPOLLOUT)) return;
    if (write(c->fd, request, request_len) != request_len) die("writing the upgrade request");
    c->state = S_HANDSHAKE;
    set_events(c, 0);
    return;
  }
  if (events & EPOLLIN || events & (EPOLLERR | EPOLLHUP)) {
    for (;;) {
      ssize_t r = read(c->fd, recvbuf, sizeof recvbuf);
      if (r < 0) {
        if (errno == EAGAIN) break;
        if (errno == EINTR) continue;
        if (finished) return close_conn(c);
        return unexpected_close(c);
      }
      if (r == 0) {
        if (finished) return close_conn(c);
        return unexpected_close(c);
      }
      if (c->state == S_HANDSHAKE) {
        on_handshake_bytes(c, recvbuf, r);
        if (c->state != S_OPEN) return; /* churn: already closed and reconnecting */
      } else {
        on_frames(c, recvbuf, r);
      }
      if ((size_t)r < sizeof recvbuf) break;
    }
  }
  if (c->state == S_OPEN && (c->pend_frames || c->ctrl_len)) flush_out(c);
}

/* Runs the event loop until `until_ns` or until `done()` says so. */
static void loop(uint64_t until_ns, int (*done)(void)) {
  struct epoll_event evs[512];
  for (;;) {
    now_ns = clock_ns();
    /* Keep opening connections, a bounded number at a time. */
    if (mode != MODE_CHURN) {
      while (next_to_open < nconns && pending_connects < 256) start_connect(&conns[next_to_open++]);
    }
    if (measuring && now_ns >= next_progress) {
      fprintf(stderr, "progress %.2f %llu\n", (now_ns - measure_t0) / 1e9, (unsigned long long)measured_msgs);
      next_progress = now_ns + 1000000000ull;
    }
    if (until_ns && now_ns >= until_ns) return;
    if (done && done()) return;
    int timeout = 50;
    int n = epoll_wait(ep, evs, 512, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    now_ns = clock_ns();
    for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events);
  }
}

static int all_open(void) { return open_count == nconns; }
static int have_rss(void) { return rss_reply >= 0; }

static long long ask_rss(void) {
  rss_reply = -1;
  queue_ctrl_text(&conns[0], "!rss");
  flush_out(&conns[0]);
  loop(clock_ns() + 30000000000ull, have_rss);
  if (rss_reply < 0) errno = 0, die("no reply to !rss within 30 s");
  return rss_reply;
}

int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--mode")) mode = !strcmp(v, "echo") ? MODE_ECHO : !strcmp(v, "fanout") ? MODE_FANOUT : !strcmp(v, "broadcast") ? MODE_BROADCAST : MODE_CHURN;
    else if (!strcmp(k, "--path")) path = v;
    else if (!strcmp(k, "--host-header")) host_header = v;
    else if (!strcmp(k, "--text")) text_mode = atoi(v);
    else if (!strcmp(k, "--port")) port = atoi(v);
    else if (!strcmp(k, "--host")) host = v;
    else if (!strcmp(k, "--conns")) nconns = atoi(v);
    else if (!strcmp(k, "--depth")) depth = atoi(v);
    else if (!strcmp(k, "--size")) msg_size = strtoull(v, NULL, 10);
    else if (!strcmp(k, "--warmup")) warmup_s = atof(v);
    else if (!strcmp(k, "--duration")) duration_s = atof(v);
    else if (!strcmp(k, "--idle-wait")) idle_wait_s = atof(v);
    else if (!strcmp(k, "--parallel")) churn_parallel = atoi(v);
    else errno = 0, die("unknown option");
  }
  if (!port) errno = 0, die("--port is required");
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if ((rlim_t)nconns + 64 > rl.rlim_cur) errno = 0, die("too many connections for the file descriptor limit");

  if (mode == MODE_BROADCAST && nconns < 2) errno = 0, die("broadcast needs at least 2 connections");
  char default_host[300];
  snprintf(default_host, sizeof default_host, "%s:%d", host, port);
  request_len = snprintf(request, sizeof request,
                         "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                         path, host_header ? host_header : default_host);
  if (request_len >= (int)sizeof request) errno = 0, die("--path or --host-header too long");
  uint8_t *payload = malloc(msg_size + 1);
  for (size_t i = 0; i < msg_size; i++) payload[i] = (uint8_t)('a' + i % 26);
  tmpl = malloc(msg_size + 14);
  tmpl_len = build_frame(tmpl, text_mode ? 0x1 : 0x2, payload, msg_size);
  round_sent_at = calloc(depth, sizeof *round_sent_at);
  round_count = calloc(depth, sizeof *round_count);
  hist = calloc(HIST_US + 1, sizeof *hist);
  ep = epoll_create1(0);
  int slots = mode == MODE_CHURN ? churn_parallel : nconns;
  conns = calloc(slots, sizeof *conns);
  for (int i = 0; i < slots; i++) {
    conns[i].fd = -1;
    conns[i].sent = calloc(depth, sizeof(uint64_t));
  }

  now_ns = clock_ns();
  long long rss_one = -1, rss_all = -1;
  if (mode == MODE_CHURN) {
    for (int i = 0; i < slots; i++) start_connect(&conns[i]);
  } else if (mode == MODE_FANOUT) {
    int target = nconns;
    nconns = 1;
    next_to_open = 0;
    loop(clock_ns() + 30000000000ull, all_open);
    if (!all_open()) errno = 0, die("the control connection did not open");
    usleep(200000);
    rss_one = ask_rss();
    nconns = target;
  }
  uint64_t t_open = clock_ns();
  if (mode != MODE_CHURN) {
    loop(clock_ns() + 120000000000ull, all_open);
    if (!all_open()) errno = 0, die("not all connections opened within 120 s");
  }
  double open_s = (clock_ns() - t_open) / 1e9;
  if (mode == MODE_FANOUT) {
    loop(clock_ns() + (uint64_t)(idle_wait_s * 1e9), NULL);
    rss_all = ask_rss();
  }

  /* Start the traffic. */
  if (mode == MODE_ECHO) {
    for (int i = 0; i < nconns; i++) {
      for (int d = 0; d < depth; d++) queue_message(&conns[i]);
      flush_out(&conns[i]);
    }
  } else if (mode == MODE_FANOUT) {
    round_started = now_ns;
    queue_ctrl_text(&conns[0], "!broadcast");
    flush_out(&conns[0]);
  } else if (mode == MODE_BROADCAST) {
    for (int d = 0; d < depth; d++) send_broadcast();
  }
  loop(clock_ns() + (uint64_t)(warmup_s * 1e9), NULL);
  measuring = 1;
  measured_msgs = measured_bytes = 0;
  /* For whoever samples the server's CPU over the same window. */
  fputs("loadgen: measuring\n", stderr);
  fflush(stderr);
  double cpu0 = cpu_seconds();
  uint64_t t0 = clock_ns();
  measure_t0 = t0;
  next_progress = t0 + 1000000000ull;
  loop(t0 + (uint64_t)(duration_s * 1e9), NULL);
  uint64_t t1 = clock_ns();
  double cpu1 = cpu_seconds();
  measuring = 0;
  finished = 1;
  double secs = (t1 - t0) / 1e9;

  printf("{\"mode\":\"%s\",\"conns\":%d,\"depth\":%d,\"size\":%zu,\"seconds\":%.4f,\"count\":%llu,"
         "\"per_s\":%.1f,\"mb_per_s\":%.2f,\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%llu,"
         "\"loadgen_cpu\":%.3f,\"open_s\":%.3f,\"rss_one\":%lld,\"rss_all\":%lld}\n",
         mode == MODE_ECHO ? "echo" : mode == MODE_FANOUT ? "fanout" : mode == MODE_BROADCAST ? "broadcast" : "churn", nconns,
         depth, msg_size, secs, (unsigned long long)measured_msgs, measured_msgs / secs, measured_bytes / secs / 1e6,
         percentile(0.5), percentile(0.9), percentile(0.99), (unsigned long long)hist_max, (cpu1 - cpu0) / secs, open_s, rss_one, rss_all);
  fflush(stdout);
  /* Leave without a close handshake: the servers see resets, which none of them minds. */
  _exit(0);
}
