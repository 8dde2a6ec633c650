// barrier_storm: C ranks meet at one server-side BARRIER (query 18, PyTorch 2.12's TCPStore.barrier).
//
//   barrier_storm --port P [--host 127.0.0.1] --conns C [--key K] [--timeout-s 120]
//
// One thread, non-blocking sockets on epoll. All C connects are issued at once (a refused or failed connect is retried
// after a jittered 2-128 ms backoff and counted); each connection sends VALIDATE + BARRIER(/K, C) in one write and
// waits for the one STOP_WAITING byte. It is the BARRIER counterpart of storeload's `storm` (ADD to a counter, WAIT for
// a key the last rank sets), so compare.sh can put the two ways of meeting side by side. Prints, like storeload:
//   RESULT mode=barrier conns=C connect_s=.. total_s=.. retries=.. errors=..
// connect_s: first connect to the last request written; total_s: first connect to the last STOP_WAITING. Exit 0 when
// every rank was released, 1 otherwise (errors counts ranks that got a wrong byte or lost their connection).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { IDLE, CONNECTING, SENDING, WAITING, DONE, FAILED };

struct rank {
  int fd;
  enum state state;
  size_t sent;
  double retry_at;  // when IDLE after a failure: when to connect again
  int backoff_ms;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void) {
  fprintf(stderr, "usage: barrier_storm --port P [--host 127.0.0.1] --conns C [--key K] [--timeout-s 120]\n");
  exit(2);
}

static unsigned char *request;  // VALIDATE + BARRIER, the same bytes for every rank
static size_t request_len;

static void build_request(const char *key, int64_t world_size) {
  size_t key_len = strlen(key) + 1;  // the client's "/" prefix
  request_len = 5 + 1 + 8 + key_len + 8;
  request = malloc(request_len);
  unsigned char *p = request;
  const unsigned char validate[5] = {0x00, 0xce, 0xf7, 0x85, 0x3c};
  memcpy(p, validate, 5), p += 5;
  *p++ = 18;  // BARRIER
  uint64_t len = key_len;
  memcpy(p, &len, 8), p += 8;  // little-endian hosts only, as PyTorch
  *p++ = '/';
  memcpy(p, key, key_len - 1), p += key_len - 1;
  memcpy(p, &world_size, 8);
}

static int start_connect(struct rank *r, int epoll_fd, const struct sockaddr_in *addr) {
  r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (r->fd < 0) return -1;
  int one = 1;
  setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  r->sent = 0;
  if (connect(r->fd, (const struct sockaddr *)addr, sizeof *addr) < 0 && errno != EINPROGRESS) {
    close(r->fd);
    r->fd = -1;
    return -1;
  }
  r->state = CONNECTING;
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = r};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, r->fd, &ev);
  return 0;
}

static void schedule_retry(struct rank *r, double now) {
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
  r->state = IDLE;
  r->backoff_ms = r->backoff_ms ? (r->backoff_ms * 2 > 128 ? 128 : r->backoff_ms * 2) : 2;
  r->retry_at = now + (r->backoff_ms / 2 + rand() % (r->backoff_ms / 2 + 1)) / 1000.0;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *key = NULL;
  int port = 0, conns = 0;
  double timeout_s = 120;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
    else if (!strcmp(argv[i], "--conns") && i + 1 < argc) conns = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--key") && i + 1 < argc) key = argv[++i];
    else if (!strcmp(argv[i], "--timeout-s") && i + 1 < argc) timeout_s = atof(argv[++i]);
    else usage();
  }
  if (port <= 0 || conns <= 0) usage();

  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  char default_key[64];
  if (!key) {  // a fresh key per run: a released barrier's key releases every later arrival at once
    snprintf(default_key, sizeof default_key, "barrier_storm/%d-%ld", getpid(), (long)time(NULL));
    key = default_key;
  }
  build_request(key, conns);

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "barrier_storm: --host must be an IPv4 address\n");
    return 2;
  }

  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  struct rank *ranks = calloc(conns, sizeof *ranks);
  double start = now_s(), last_written = start, last_released = start;
  long retries = 0, errors = 0;
  int released = 0, written = 0, finished = 0;
  for (int i = 0; i < conns; i++) {
    ranks[i].fd = -1;
    if (start_connect(&ranks[i], epoll_fd, &addr) < 0) {
      retries++;
      schedule_retry(&ranks[i], start);
    }
  }

  struct epoll_event events[1024];
  while (finished < conns) {
    double now = now_s();
    if (now - start > timeout_s) break;
    int n = epoll_wait(epoll_fd, events, 1024, 5);
    now = now_s();
    for (int e = 0; e < n; e++) {
      struct rank *r = events[e].data.ptr;
      if (r->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {  // refused or reset while connecting: try again later
          retries++;
          schedule_retry(r, now);
          continue;
        }
        r->state = SENDING;
      }
      if (r->state == SENDING && (events[e].events & EPOLLOUT)) {
        ssize_t w = send(r->fd, request + r->sent, request_len - r->sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) {
          retries++;
          schedule_retry(r, now);
          continue;
        }
        if (w > 0) r->sent += (size_t)w;
        if (r->sent == request_len) {
          r->state = WAITING;
          written++;
          last_written = now;
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = r};
          epoll_ctl(epoll_fd, EPOLL_CTL_MOD, r->fd, &ev);
        }
      }
      if (r->state == WAITING && (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        unsigned char byte;
        ssize_t got = recv(r->fd, &byte, 1, 0);
        if (got < 0 && errno == EAGAIN) continue;
        if (got == 1 && byte == 0x00) {
          r->state = DONE;
          released++;
          last_released = now;
        } else {
          r->state = FAILED;  // a wrong byte, or the connection lost after the arrival was counted
          errors++;
        }
        finished++;
        close(r->fd);
        r->fd = -1;
      }
    }
    for (int i = 0; i < conns; i++) {  // connects whose backoff has run out
      if (ranks[i].state == IDLE && ranks[i].retry_at <= now && start_connect(&ranks[i], epoll_fd, &addr) < 0) {
        retries++;
        schedule_retry(&ranks[i], now);
      }
    }
  }

  errors += conns - finished;  // still waiting at the timeout
  printf("RESULT mode=barrier conns=%d connect_s=%.3f total_s=%.3f retries=%ld errors=%ld\n", conns,
         (written ? last_written : now_s()) - start, (released ? last_released : now_s()) - start, retries, errors);
  return released == conns ? 0 : 1;
}
