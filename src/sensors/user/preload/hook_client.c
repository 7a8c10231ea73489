/* The hook's side of the agent connection: connect, send, and wait for a verdict with a
 * deadline. Never blocks longer than the deadline, never raises SIGPIPE, never touches errno
 * (raw system calls: this runs between fork and execve). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "hook_logic.h"
#include "hook_syscall.h"

int rs_hook_connect_raw(const char* socket_path) {
  struct sockaddr_un addr;
  addr.sun_family = AF_UNIX;
  const size_t len = socket_path == NULL ? 0 : rs_strlen(socket_path);
  if (len == 0 || len >= sizeof addr.sun_path) return -ENAMETOOLONG;
  rs_copy(addr.sun_path, socket_path, len + 1);
  const int fd = rs_sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fd;
  const size_t addr_len = offsetof(struct sockaddr_un, sun_path) + len + 1;
  const int r = rs_sys_connect(fd, &addr, addr_len);
  if (r != 0) {
    rs_sys_close(fd);
    return r;
  }
  return fd;
}

int rs_hook_connect(const char* socket_path) {
  const int fd = rs_hook_connect_raw(socket_path);
  if (fd >= 0) return fd;
  errno = -fd;
  return -1;
}

static int64_t monotonic_ms(void) {
  struct timespec ts = {0, 0};
  RS_SYS(SYS_clock_gettime, CLOCK_MONOTONIC, &ts, 0);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on fd until the absolute deadline; 1 ready, 0 timeout, -1 error/hangup. */
static int wait_for(int fd, short events, int64_t deadline) {
  while (1) {
    const int64_t left = deadline - monotonic_ms();
    if (left <= 0) return 0;
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000};
    const long n = rs_sys6(SYS_ppoll, (long)&p, 1, (long)&ts, 0, 8, 0);
    if (n == -EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return 0;
    if ((p.revents & events) != 0) return 1;
    if ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) return -1;
  }
}

int rs_hook_exchange(int fd, const uint8_t* msg, size_t len, int want_verdict, uint32_t seq,
                     int deadline_ms, int* verdict) {
  return rs_hook_exchange_target(fd, msg, len, want_verdict, seq, deadline_ms, verdict, NULL);
}

/* Sends msg; when the socket is full, waits for room until the absolute deadline if `wait`. */
static int send_by(int fd, const uint8_t* msg, size_t len, int wait, int64_t deadline) {
  while (1) {
    const long n = rs_sys_send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == (long)len) return RS_HOOK_SENT;
    if (n >= 0) return RS_HOOK_UNREACHABLE; /* a datagram socket never sends part of one */
    if (n == -EINTR) continue;
    if (n != -EAGAIN && n != -ENOBUFS) return RS_HOOK_UNREACHABLE;
    if (!wait) return RS_HOOK_BUSY;
    const int ready = wait_for(fd, POLLOUT, deadline);
    if (ready == 0) return RS_HOOK_TIMEOUT;
    if (ready < 0) return RS_HOOK_UNREACHABLE;
  }
}

int rs_hook_send_within(int fd, const uint8_t* msg, size_t len, int deadline_ms) {
  return send_by(fd, msg, len, 1, monotonic_ms() + (deadline_ms > 0 ? deadline_ms : 0));
}

int rs_hook_exchange_target(int fd, const uint8_t* msg, size_t len, int want_verdict, uint32_t seq,
                            int deadline_ms, int* verdict, struct rs_hook_address* target) {
  const int64_t deadline = want_verdict ? monotonic_ms() + (deadline_ms > 0 ? deadline_ms : 0) : 0;
  const int sent = send_by(fd, msg, len, want_verdict, deadline);
  if (sent != RS_HOOK_SENT || !want_verdict) return sent;
  uint8_t reply[RS_HOOK_HEADER_SIZE + 4 + RS_HOOK_MAX_RULE + RS_HOOK_ADDRESS_SIZE + 16];
  while (1) {
    const int ready = wait_for(fd, POLLIN, deadline);
    if (ready == 0) return RS_HOOK_TIMEOUT;
    if (ready < 0) return RS_HOOK_UNREACHABLE;
    const long n = rs_sys_recv(fd, reply, sizeof reply, MSG_DONTWAIT);
    if (n == 0) return RS_HOOK_UNREACHABLE;
    if (n < 0) {
      if (n == -EINTR || n == -EAGAIN) continue;
      return RS_HOOK_UNREACHABLE;
    }
    uint32_t got_seq = 0;
    int v = 0;
    struct rs_hook_address a;
    if (rs_hook_parse_verdict_target(reply, (size_t)n, &got_seq, &v, NULL, 0, &a) != RS_HOOK_OK) {
      continue;
    }
    if (got_seq != seq) continue; /* a late answer to an earlier, timed-out question */
    *verdict = v;
    if (target != NULL && v == RS_HOOK_VERDICT_REDIRECT) *target = a;
    return RS_HOOK_ANSWERED;
  }
}
