/* The hook's side of the agent connection: connect, send, and wait for a verdict with a
 * deadline. Never blocks longer than the deadline, never raises SIGPIPE. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hook_logic.h"

int rs_hook_connect(const char* socket_path) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  const size_t len = socket_path == NULL ? 0 : strlen(socket_path);
  if (len == 0 || len >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(addr.sun_path, socket_path, len + 1);
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (connect(fd, (const struct sockaddr*)&addr, sizeof addr) != 0) {
    const int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on fd until the absolute deadline; 1 ready, 0 timeout, -1 error/hangup. */
static int wait_for(int fd, short events, int64_t deadline) {
  while (1) {
    const int64_t left = deadline - monotonic_ms();
    if (left <= 0) return 0;
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    const int n = poll(&p, 1, (int)left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) return 0;
    if ((p.revents & events) != 0) return 1;
    if ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) return -1;
  }
}

int rs_hook_exchange(int fd, const uint8_t* msg, size_t len, int want_verdict, uint32_t seq,
                     int deadline_ms, int* verdict) {
  const int64_t deadline = monotonic_ms() + (deadline_ms > 0 ? deadline_ms : 0);
  while (1) {
    const ssize_t n = send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == (ssize_t)len) break;
    if (n >= 0) return RS_HOOK_UNREACHABLE; /* a datagram socket never sends part of one */
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != ENOBUFS) return RS_HOOK_UNREACHABLE;
    if (!want_verdict) return RS_HOOK_BUSY;
    const int ready = wait_for(fd, POLLOUT, deadline);
    if (ready == 0) return RS_HOOK_TIMEOUT;
    if (ready < 0) return RS_HOOK_UNREACHABLE;
  }
  if (!want_verdict) return RS_HOOK_SENT;
  uint8_t reply[RS_HOOK_HEADER_SIZE + 4 + RS_HOOK_MAX_RULE + 16];
  while (1) {
    const int ready = wait_for(fd, POLLIN, deadline);
    if (ready == 0) return RS_HOOK_TIMEOUT;
    if (ready < 0) return RS_HOOK_UNREACHABLE;
    const ssize_t n = recv(fd, reply, sizeof reply, MSG_DONTWAIT);
    if (n == 0) return RS_HOOK_UNREACHABLE;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return RS_HOOK_UNREACHABLE;
    }
    uint32_t got_seq = 0;
    int v = 0;
    if (rs_hook_parse_verdict(reply, (size_t)n, &got_seq, &v, NULL, 0) != RS_HOOK_OK) continue;
    if (got_seq != seq) continue; /* a late answer to an earlier, timed-out question */
    *verdict = v;
    return RS_HOOK_ANSWERED;
  }
}
