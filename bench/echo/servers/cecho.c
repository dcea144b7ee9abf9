/*
 * The ceiling: a minimal WebSocket echo server in C (one thread, epoll), used only to show that the
 * load generator can push far more than any server it measures. It is not a WebSocket
 * implementation: it answers every upgrade with the accept value of the fixed key the load
 * generator sends, does no validation, and echoes each frame's payload unmasked. For each readable
 * socket it parses all complete frames and answers them in one write.
 *
 * It also knows the two text commands of the benchmark servers: "!broadcast" writes one 64-byte
 * binary frame to every client (the kernel's cost of fan-out, with nothing else), and "!rss"
 * replies "rss:N" from /proc/self/statm.
 *
 * Usage: cecho PORT   (prints "listening PORT" once ready)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

static const char RESPONSE[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

typedef struct {
  int fd, open;
  uint8_t *in;
  size_t in_len, in_cap;
  uint8_t *out;
  size_t out_len, out_off, out_cap;
} client;

static client **clients;
static size_t nclients, clients_cap;
static int ep_fd;
static int flush(int ep, client *c);

static void reserve(uint8_t **buf, size_t *cap, size_t need) {
  if (need <= *cap) return;
  size_t c = *cap ? *cap : 65536;
  while (c < need) c *= 2;
  *buf = realloc(*buf, c);
  *cap = c;
}

static void drop(int ep, client *c) {
  for (size_t k = 0; k < nclients; k++) {
    if (clients[k] == c) {
      clients[k] = clients[--nclients];
      break;
    }
  }
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->in);
  free(c->out);
  free(c);
}

/* Returns -1 when the client is gone. */
static int flush(int ep, client *c) {
  while (c->out_off < c->out_len) {
    ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (w < 0) {
      if (errno == EAGAIN) {
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        return 0;
      }
      return -1;
    }
    c->out_off += w;
  }
  c->out_len = c->out_off = 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  return 0;
}

static void process(client *c) {
  size_t p = 0;
  if (!c->open) {
    uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) return;
    p = end + 4 - c->in;
    reserve(&c->out, &c->out_cap, c->out_len + sizeof RESPONSE);
    memcpy(c->out + c->out_len, RESPONSE, sizeof RESPONSE - 1);
    c->out_len += sizeof RESPONSE - 1;
    c->open = 1;
  }
  for (;;) {
    size_t avail = c->in_len - p;
    if (avail < 2) break;
    uint8_t *h = c->in + p;
    size_t l7 = h[1] & 0x7f, hl = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((h[1] & 0x80) ? 4 : 0);
    if (avail < hl) break;
    uint64_t len = l7;
    if (l7 == 126) len = ((uint64_t)h[2] << 8) | h[3];
    if (l7 == 127) {
      len = 0;
      for (int k = 0; k < 8; k++) len = (len << 8) | h[2 + k];
    }
    if (avail < hl + len) break;
    const uint8_t *mask = h + hl - 4;
    const uint8_t *src = h + hl;
    reserve(&c->out, &c->out_cap, c->out_len + len + 10);
    uint8_t *o = c->out + c->out_len;
    size_t q = 0;
    o[q++] = h[0];
    if (len < 126) o[q++] = len;
    else if (len < 65536) o[q++] = 126, o[q++] = len >> 8, o[q++] = len & 0xff;
    else {
      o[q++] = 127;
      for (int k = 7; k >= 0; k--) o[q++] = (uint8_t)(len >> (8 * k));
    }
    uint64_t m64;
    uint8_t m8[8] = {mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]};
    memcpy(&m64, m8, 8);
    uint64_t i = 0;
    for (; i + 8 <= len; i += 8) {
      uint64_t w;
      memcpy(&w, src + i, 8);
      w ^= m64;
      memcpy(o + q + i, &w, 8);
    }
    for (; i < len; i++) o[q + i] = src[i] ^ mask[i & 3];
    p += hl + len;
    if ((h[0] & 0x0f) == 1 && len == 10 && memcmp(o + q, "!broadcast", 10) == 0) {
      static uint8_t frame[66] = {0x82, 64};
      memset(frame + 2, 'b', 64);
      for (size_t k = 0; k < nclients; k++) {
        client *t = clients[k];
        if (!t->open) continue;
        if (t == c) {
          reserve(&c->out, &c->out_cap, c->out_len + sizeof frame);
          memcpy(c->out + c->out_len, frame, sizeof frame);
          c->out_len += sizeof frame;
          continue;
        }
        reserve(&t->out, &t->out_cap, t->out_len + sizeof frame);
        memcpy(t->out + t->out_len, frame, sizeof frame);
        t->out_len += sizeof frame;
        if (flush(ep_fd, t) < 0) t->open = 0;
      }
      continue;
    }
    if ((h[0] & 0x0f) == 1 && len == 4 && memcmp(o + q, "!rss", 4) == 0) {
      long pages = 0, resident = 0;
      FILE *f = fopen("/proc/self/statm", "r");
      if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
      }
      char text[64];
      int n = snprintf(text, sizeof text, "rss:%ld", resident * sysconf(_SC_PAGESIZE));
      reserve(&c->out, &c->out_cap, c->out_len + 2 + n);
      o = c->out + c->out_len;
      o[0] = 0x81;
      o[1] = n;
      memcpy(o + 2, text, n);
      c->out_len += 2 + n;
      continue;
    }
    c->out_len += q + len;
  }
  memmove(c->in, c->in + p, c->in_len - p);
  c->in_len -= p;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  int port = argc > 1 ? atoi(argv[1]) : 9000;
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 4096) < 0) {
    perror("cecho: bind/listen");
    return 1;
  }
  int ep = epoll_create1(0);
  ep_fd = ep;
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
  printf("listening %d\n", port);
  fflush(stdout);
  struct epoll_event evs[512];
  for (;;) {
    int n = epoll_wait(ep, evs, 512, -1);
    for (int i = 0; i < n; i++) {
      client *c = evs[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          client *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          if (nclients == clients_cap) {
            clients_cap = clients_cap ? clients_cap * 2 : 1024;
            clients = realloc(clients, clients_cap * sizeof *clients);
          }
          clients[nclients++] = nc;
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      if (evs[i].events & EPOLLOUT) {
        if (flush(ep, c) < 0) drop(ep, c);
        continue;
      }
      int gone = 0;
      for (;;) {
        reserve(&c->in, &c->in_cap, c->in_len + 65536);
        ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (r <= 0) {
          if (r < 0 && errno == EAGAIN) break;
          gone = 1;
          break;
        }
        c->in_len += r;
        if (c->in_len < c->in_cap) break;
      }
      if (gone) {
        drop(ep, c);
        continue;
      }
      process(c);
      if (flush(ep, c) < 0) drop(ep, c);
    }
  }
}
