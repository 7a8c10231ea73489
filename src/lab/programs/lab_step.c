/* One lab operation, performed the way the scenario names (src/lab/scenarios_*.cpp), so that
 * the lab can check what each level saw and stopped. The same source builds
 * ringside-lab-step (dynamic, where the interposer loads) and ringside-lab-static (-static,
 * LAB_STATIC: no dynamic loader, so LD_PRELOAD never loads).
 *
 *   ringside-lab-step OP ARG...
 *
 * Prints one line "rc=R errno=E pid=P" (the operation's result; errno 0 on success). An exec
 * that succeeds prints nothing: the target runs and exits 0. Network operations expect to run
 * in the lab's network namespace (the lab joins it before starting this program); they open
 * their own listener on 127.0.0.1 / ::1 first.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef LAB_STATIC
#include <liburing.h>
#include <linux/openat2.h>
#include <netdb.h>
#endif

extern char** environ;

static int report(long rc, int err) {
  printf("rc=%ld errno=%d pid=%d\n", rc, err, (int)getpid());
  fflush(stdout);
  return 0;
}

/* A raw `syscall` instruction: no libc function is called, so no interposed symbol runs. */
static long raw_syscall3(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c)
                   : "rcx", "r11", "memory");
  return ret;
}
#ifndef LAB_STATIC
static long raw_syscall4(long nr, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                   : "rcx", "r11", "memory");
  return ret;
}

/* Waits for a child that was to exec, and reports what happened to it. */
static int report_child(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return report(-1, errno);
  if (WIFSIGNALED(status)) {
    printf("rc=-1 errno=0 signal=%d pid=%d child=%d\n", WTERMSIG(status), (int)getpid(), (int)pid);
  } else {
    /* 100 + errno: the child's exec failed with that errno. */
    printf("rc=%d errno=%d pid=%d child=%d\n", WEXITSTATUS(status) == 0 ? 0 : -1,
           WEXITSTATUS(status) >= 100 ? WEXITSTATUS(status) - 100 : 0, (int)getpid(), (int)pid);
  }
  fflush(stdout);
  return 0;
}
#endif

/* ---- process */

static int exec_plain(const char* target, const char* marker) {
  char* argv[] = {(char*)target, (char*)marker, NULL};
  execv(target, argv);
  return report(-1, errno);
}

#ifndef LAB_STATIC
static int exec_raw(const char* target, const char* marker) {
  char* argv[] = {(char*)target, (char*)marker, NULL};
  const long rc = raw_syscall3(SYS_execve, (long)target, (long)argv, (long)environ);
  return report(-1, (int)-rc);
}

static int exec_vfork(const char* target, const char* marker) {
  char* argv[] = {(char*)target, (char*)marker, NULL};
  const pid_t pid = vfork();
  if (pid == 0) {
    execv(target, argv);
    _exit(100 + errno);
  }
  if (pid < 0) return report(-1, errno);
  return report_child(pid);
}

static int exec_spawn(const char* target, const char* marker) {
  char* argv[] = {(char*)target, (char*)marker, NULL};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, target, NULL, NULL, argv, environ);
  if (rc != 0) return report(-1, rc);
  return report_child(pid);
}

struct thread_exec {
  const char* target;
  const char* marker;
};
static void* thread_exec_main(void* p) {
  struct thread_exec* t = p;
  exec_plain(t->target, t->marker);
  return NULL;
}
static int exec_thread(const char* target, const char* marker) {
  struct thread_exec t = {target, marker};
  pthread_t th;
  if (pthread_create(&th, NULL, thread_exec_main, &t) != 0) return report(-1, EAGAIN);
  pthread_join(th, NULL); /* only reached when the exec failed (the thread reported) */
  return 0;
}

static int exec_memfd(const char* source, const char* marker) {
  char name[200];
  snprintf(name, sizeof name, "%s", marker);
  const int mfd = memfd_create(name, MFD_CLOEXEC);
  const int in = open(source, O_RDONLY | O_CLOEXEC);
  if (mfd < 0 || in < 0) return report(-1, errno);
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0) {
    if (write(mfd, buf, (size_t)n) != n) return report(-1, errno);
  }
  close(in);
  char* argv[] = {name, (char*)marker, NULL};
  execveat(mfd, "", argv, environ, AT_EMPTY_PATH);
  return report(-1, errno);
}

static int exec_fexecve(const char* target, const char* marker) {
  const int fd = open(target, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return report(-1, errno);
  char* argv[] = {(char*)target, (char*)marker, NULL};
  fexecve(fd, argv, environ);
  return report(-1, errno);
}

/* sh (started with no environment, so without LD_PRELOAD) execs the target. */
static int exec_clearenv(const char* target, const char* marker) {
  char* argv[] = {"sh", "-c", "exec \"$0\" \"$1\"", (char*)target, (char*)marker, NULL};
  char* envp[] = {NULL};
  execve("/bin/sh", argv, envp);
  return report(-1, errno);
}

static int exec_system(const char* target, const char* marker) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "'%s' '%s'", target, marker);
  const int st = system(cmd);
  if (st == -1) return report(-1, errno);
  /* the target killed: sh itself (when it exec'd the command) or sh's child (128 + signal) */
  const int sig = WIFSIGNALED(st)         ? WTERMSIG(st)
                  : WEXITSTATUS(st) > 128 ? WEXITSTATUS(st) - 128
                                          : 0;
  if (sig != 0) return printf("rc=-1 errno=0 signal=%d pid=%d\n", sig, (int)getpid()), 0;
  /* sh exits 126 when it could not execute the target (permission denied) */
  return report(WEXITSTATUS(st) == 0 ? 0 : -1, WEXITSTATUS(st) == 0     ? 0
                                               : WEXITSTATUS(st) == 126 ? EACCES
                                                                        : EIO);
}
#endif

/* ---- file */

static int open_result(long fd) {
  if (fd < 0) return report(-1, errno);
  close((int)fd);
  return report(0, 0);
}

static int open_libc(const char* path) { return open_result(open(path, O_RDONLY | O_CLOEXEC)); }

#ifndef LAB_STATIC
static int open_raw(const char* path) {
  const long rc = raw_syscall4(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0);
  if (rc < 0) return report(-1, (int)-rc);
  close((int)rc);
  return report(0, 0);
}

static int open_openat2(const char* path) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_RDONLY | O_CLOEXEC;
  return open_result(syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how));
}

static int open_uring(const char* path) {
  struct io_uring ring;
  if (io_uring_queue_init(4, &ring, 0) != 0) return report(-1, ENOSYS);
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  io_uring_submit(&ring);
  struct io_uring_cqe* cqe = NULL;
  int res = -EIO;
  if (io_uring_wait_cqe(&ring, &cqe) == 0) {
    res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
  }
  io_uring_queue_exit(&ring);
  if (res < 0) return report(-1, -res);
  close(res);
  return report(0, 0);
}

static int open_fopen(const char* path) {
  FILE* f = fopen(path, "re");
  if (f == NULL) return report(-1, errno);
  fclose(f);
  return report(0, 0);
}

static int open_dirfd(const char* dir, const char* name) {
  const int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return report(-1, errno);
  return open_result(openat(d, name, O_RDONLY | O_CLOEXEC));
}

static int open_opath(const char* path) {
  const int p = open(path, O_PATH | O_CLOEXEC);
  if (p < 0) return report(-1, errno);
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", p);
  return open_result(open(proc, O_RDONLY | O_CLOEXEC));
}

static int rename_over(const char* from, const char* to) {
  return rename(from, to) == 0 ? report(0, 0) : report(-1, errno);
}

static int truncate_path(const char* path) {
  return truncate(path, 0) == 0 ? report(0, 0) : report(-1, errno);
}
#endif

/* ---- network */

static socklen_t make_addr(const char* ip, int port, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in* in = (struct sockaddr_in*)ss;
  struct sockaddr_in6* in6 = (struct sockaddr_in6*)ss;
  if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    return sizeof *in;
  }
  inet_pton(AF_INET6, ip, &in6->sin6_addr);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons((uint16_t)port);
  return sizeof *in6;
}

/* A listener (TCP) or receiver (UDP) on the listen address, so the operation has a peer. */
static int make_peer(const char* ip, int port, int type) {
  struct sockaddr_storage ss;
  const socklen_t len = make_addr(ip, port, &ss);
  const int s = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (s < 0 || bind(s, (struct sockaddr*)&ss, len) != 0) return -1;
  if (type == SOCK_STREAM && listen(s, 4) != 0) return -1;
  return s;
}

/* how: libc | raw | uring */
static int tcp_connect(const char* how, const char* listen_ip, const char* ip, int port) {
  const int peer = make_peer(listen_ip, port, SOCK_STREAM);
  if (peer < 0) return report(-1, errno);
  struct sockaddr_storage ss;
  const socklen_t len = make_addr(ip, port, &ss);
  const int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return report(-1, errno);
  long rc = 0;
  int err = 0;
  if (strcmp(how, "raw") == 0) {
    rc = raw_syscall3(SYS_connect, s, (long)&ss, len);
    err = rc < 0 ? (int)-rc : 0;
#ifndef LAB_STATIC
  } else if (strcmp(how, "uring") == 0) {
    struct io_uring ring;
    if (io_uring_queue_init(4, &ring, 0) != 0) return report(-1, ENOSYS);
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_connect(sqe, s, (struct sockaddr*)&ss, len);
    io_uring_submit(&ring);
    struct io_uring_cqe* cqe = NULL;
    rc = -EIO;
    if (io_uring_wait_cqe(&ring, &cqe) == 0) {
      rc = cqe->res;
      io_uring_cqe_seen(&ring, cqe);
    }
    io_uring_queue_exit(&ring);
    err = rc < 0 ? (int)-rc : 0;
#endif
  } else {
    rc = connect(s, (struct sockaddr*)&ss, len);
    err = rc < 0 ? errno : 0;
  }
  return report(rc < 0 ? -1 : 0, err);
}

#ifndef LAB_STATIC
/* how: sendto | sendmsg | sendmmsg */
static int udp_send(const char* how, int port) {
  const int peer = make_peer("127.0.0.1", port, SOCK_DGRAM);
  if (peer < 0) return report(-1, errno);
  struct sockaddr_storage ss;
  const socklen_t len = make_addr("127.0.0.1", port, &ss);
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  char payload[] = "ringside-lab";
  struct iovec iov = {payload, sizeof payload};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = &ss;
  mh.msg_namelen = len;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  long rc;
  if (strcmp(how, "sendmmsg") == 0) {
    struct mmsghdr mm;
    memset(&mm, 0, sizeof mm);
    mm.msg_hdr = mh;
    rc = sendmmsg(s, &mm, 1, 0);
  } else if (strcmp(how, "sendmsg") == 0) {
    rc = sendmsg(s, &mh, 0);
  } else {
    rc = sendto(s, payload, sizeof payload, 0, (struct sockaddr*)&ss, len);
  }
  return report(rc < 0 ? -1 : 0, rc < 0 ? errno : 0);
}

/* A DNS responder on 127.0.0.1:53 answering every A question with 127.0.0.1. */
static void* dns_responder(void* p) {
  const int s = *(int*)p;
  for (;;) {
    unsigned char q[512];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    const ssize_t n = recvfrom(s, q, sizeof q, 0, (struct sockaddr*)&from, &fl);
    if (n < 12) continue;
    unsigned char a[600];
    memcpy(a, q, (size_t)n);
    a[2] = 0x81; /* QR, RD */
    a[3] = 0x80; /* RA, no error */
    const int is_a = n >= 16 && q[n - 4] == 0 && q[n - 3] == 1;
    a[6] = 0;
    a[7] = is_a ? 1 : 0; /* ANCOUNT */
    a[8] = a[9] = a[10] = a[11] = 0;
    size_t len = (size_t)n;
    if (is_a) {
      const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
      memcpy(a + len, rr, sizeof rr);
      len += sizeof rr;
    }
    sendto(s, a, len, 0, (struct sockaddr*)&from, fl);
  }
  return NULL;
}

static int start_responder(void) {
  static int s;
  s = make_peer("127.0.0.1", 53, SOCK_DGRAM);
  if (s < 0) return -1;
  pthread_t th;
  if (pthread_create(&th, NULL, dns_responder, &s) != 0) return -1;
  pthread_detach(th);
  return 0;
}

static int dns_getaddrinfo(const char* name) {
  if (start_responder() != 0) return report(-1, errno);
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  const int rc = getaddrinfo(name, "80", &hints, &res);
  if (rc != 0) {
    /* errno is not meaningful here; the lab reads gai=CODE */
    printf("rc=-1 errno=%d gai=%d pid=%d\n", rc == EAI_SYSTEM ? errno : EHOSTUNREACH, rc,
           (int)getpid());
    return 0;
  }
  freeaddrinfo(res);
  return report(0, 0);
}

/* A DNS query for NAME built by hand and sent with sendto to 127.0.0.1:53. */
static int dns_raw(const char* name) {
  if (start_responder() != 0) return report(-1, errno);
  unsigned char q[300] = {0x4c, 0x41, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t len = 12;
  const char* p = name;
  while (*p != '\0' && len < 250) {
    const char* dot = strchr(p, '.');
    const size_t l = dot ? (size_t)(dot - p) : strlen(p);
    q[len++] = (unsigned char)l;
    memcpy(q + len, p, l);
    len += l;
    p += l + (dot ? 1 : 0);
  }
  q[len++] = 0;
  q[len++] = 0;
  q[len++] = 1; /* A */
  q[len++] = 0;
  q[len++] = 1; /* IN */
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_storage ss;
  const socklen_t sl = make_addr("127.0.0.1", 53, &ss);
  if (connect(s, (struct sockaddr*)&ss, sl) != 0) return report(-1, errno);
  if (send(s, q, len, 0) < 0) return report(-1, errno);
  struct pollfd pfd = {s, POLLIN, 0};
  if (poll(&pfd, 1, 1500) <= 0) return report(-1, ETIMEDOUT);
  unsigned char a[600];
  const ssize_t n = recv(s, a, sizeof a, 0);
  if (n < 0) return report(-1, errno);
  return report(0, 0);
}
#endif

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s OP ARG...\n", argv[0]);
    return 2;
  }
  const char* op = argv[1];
#define ARGS(n)                                                     \
  if (argc < (n) + 2) {                                             \
    fprintf(stderr, "%s: %s needs %d arguments\n", argv[0], op, n); \
    return 2;                                                       \
  }
  if (strcmp(op, "exec") == 0) {
    ARGS(2) return exec_plain(argv[2], argv[3]);
  }
  if (strcmp(op, "open") == 0) return open_libc(argv[2]);
  if (strcmp(op, "connect") == 0) {
    ARGS(2) return tcp_connect("libc", argv[2], argv[2], atoi(argv[3]));
  }
#ifndef LAB_STATIC
  if (strcmp(op, "exec-raw") == 0) {
    ARGS(2) return exec_raw(argv[2], argv[3]);
  }
  if (strcmp(op, "exec-vfork") == 0) {
    ARGS(2) return exec_vfork(argv[2], argv[3]);
  }
  if (strcmp(op, "exec-spawn") == 0) {
    ARGS(2) return exec_spawn(argv[2], argv[3]);
  }
  if (strcmp(op, "exec-thread") == 0) {
    ARGS(2) return exec_thread(argv[2], argv[3]);
  }
  if (strcmp(op, "exec-memfd") == 0) {
    ARGS(2) return exec_memfd(argv[2], argv[3]);
  }
  if (strcmp(op, "exec-fexecve") == 0) {
    ARGS(2) return exec_fexecve(argv[2], argv[3]);
  }
  if (strcmp(op, "exec-clearenv") == 0) {
    ARGS(2) return exec_clearenv(argv[2], argv[3]);
  }
  if (strcmp(op, "exec-system") == 0) {
    ARGS(2) return exec_system(argv[2], argv[3]);
  }
  if (strcmp(op, "open-raw") == 0) return open_raw(argv[2]);
  if (strcmp(op, "openat2") == 0) return open_openat2(argv[2]);
  if (strcmp(op, "open-uring") == 0) return open_uring(argv[2]);
  if (strcmp(op, "fopen") == 0) return open_fopen(argv[2]);
  if (strcmp(op, "open-dirfd") == 0) {
    ARGS(2) return open_dirfd(argv[2], argv[3]);
  }
  if (strcmp(op, "open-opath") == 0) return open_opath(argv[2]);
  if (strcmp(op, "rename") == 0) {
    ARGS(2) return rename_over(argv[2], argv[3]);
  }
  if (strcmp(op, "truncate") == 0) return truncate_path(argv[2]);
  if (strcmp(op, "connect-raw") == 0) {
    ARGS(2) return tcp_connect("raw", argv[2], argv[2], atoi(argv[3]));
  }
  if (strcmp(op, "connect-uring") == 0) {
    ARGS(2) return tcp_connect("uring", argv[2], argv[2], atoi(argv[3]));
  }
  if (strcmp(op, "connect-mapped") == 0)
    return tcp_connect("libc", "127.0.0.1", "::ffff:127.0.0.1", atoi(argv[2]));
  if (strcmp(op, "sendto") == 0 || strcmp(op, "sendmsg") == 0 || strcmp(op, "sendmmsg") == 0) {
    return udp_send(op, atoi(argv[2]));
  }
  if (strcmp(op, "dns-getaddrinfo") == 0) return dns_getaddrinfo(argv[2]);
  if (strcmp(op, "dns-raw") == 0) return dns_raw(argv[2]);
#endif
  fprintf(stderr, "%s: unknown operation %s\n", argv[0], op);
  return 2;
}
