/* Calls the hooked socket functions, as a program would, inside a network namespace of its own
 * (and a mount namespace whose /etc/hosts is HOSTS), so the tests can check what the interposer
 * reports and enforces without touching the host's network.
 *
 *   net_caller HOSTS SCENARIO ARG...
 *
 *   tcp4 PORT | tcp6 PORT   listen on 127.0.0.1 / ::1 PORT, connect to it, accept
 *   udp4 PORT | udp6 PORT   bind a receiver on PORT, sendto it from another socket, receive
 *   resolve NAME PORT       getaddrinfo(NAME), listen on PORT at the first answer, connect
 *   gethostbyname NAME      gethostbyname(NAME)
 *   connect IP PORT         connect to IP:PORT (nothing listens there)
 *   redirect IP PORT RPORT  listen on 127.0.0.1:RPORT, connect to IP:PORT, then see whether
 *                           the listener got the connection
 *
 * Prints "caller pid=N", then KEY=VALUE lines: results, errno values, ports.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

static int isolate(const char* hosts) {
  if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) return perror("unshare"), -1;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return perror("mount private"), -1;
  if (mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) != 0) return perror("bind hosts"), -1;
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return perror("lo flags"), -1;
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) return perror("lo up"), -1;
  close(s);
  return 0;
}

static socklen_t make_addr(const char* ip, int port, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in* in = (struct sockaddr_in*)ss;
  struct sockaddr_in6* in6 = (struct sockaddr_in6*)ss;
  if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    return sizeof *in;
  }
  if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    return sizeof *in6;
  }
  fprintf(stderr, "bad address %s\n", ip);
  exit(2);
}

static int local_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr*)&ss, &len) != 0) return -1;
  return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in*)&ss)->sin_port
                                       : ((struct sockaddr_in6*)&ss)->sin6_port);
}

static int listener(const struct sockaddr_storage* ss, socklen_t len) {
  const int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const int r = bind(fd, (const struct sockaddr*)ss, len);
  printf("bind=%d bind_errno=%d\n", r, r != 0 ? errno : 0);
  if (r != 0 || listen(fd, 8) != 0) return -1;
  return fd;
}

/* Connects a TCP client to ss and accepts it on lfd. */
static int tcp_pair(int lfd, const struct sockaddr_storage* ss, socklen_t len) {
  const int c = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int r = connect(c, (const struct sockaddr*)ss, len);
  printf("connect=%d connect_errno=%d client_port=%d\n", r, r != 0 ? errno : 0, local_port(c));
  if (r != 0) return 3;
  const int a = accept(lfd, NULL, NULL);
  printf("accept=%d\n", a >= 0 ? 0 : -1);
  return a >= 0 ? 0 : 3;
}

static int tcp(const char* ip, int port) {
  struct sockaddr_storage ss;
  const socklen_t len = make_addr(ip, port, &ss);
  const int lfd = listener(&ss, len);
  return lfd < 0 ? 3 : tcp_pair(lfd, &ss, len);
}

static int udp(const char* ip, int port) {
  struct sockaddr_storage ss;
  const socklen_t len = make_addr(ip, port, &ss);
  const int rx = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int r = bind(rx, (const struct sockaddr*)&ss, len);
  printf("bind=%d\n", r);
  const int tx = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const ssize_t n = sendto(tx, "x", 1, 0, (const struct sockaddr*)&ss, len);
  printf("sendto=%zd sendto_errno=%d sender_port=%d\n", n, n < 0 ? errno : 0, local_port(tx));
  char buf[4];
  const ssize_t got = recv(rx, buf, sizeof buf, MSG_DONTWAIT);
  printf("received=%zd\n", got);
  return n == 1 && got == 1 ? 0 : 3;
}

static int resolve(const char* name, int port) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = NULL;
  const int r = getaddrinfo(name, NULL, &hints, &res);
  printf("getaddrinfo=%d\n", r);
  if (r != 0) return 3;
  struct sockaddr_storage ss;
  memcpy(&ss, res->ai_addr, res->ai_addrlen);
  const socklen_t len = res->ai_addrlen;
  if (ss.ss_family == AF_INET) ((struct sockaddr_in*)&ss)->sin_port = htons((uint16_t)port);
  if (ss.ss_family == AF_INET6) ((struct sockaddr_in6*)&ss)->sin6_port = htons((uint16_t)port);
  char text[INET6_ADDRSTRLEN];
  getnameinfo(res->ai_addr, res->ai_addrlen, text, sizeof text, NULL, 0, NI_NUMERICHOST);
  printf("address=%s\n", text);
  freeaddrinfo(res);
  const int lfd = listener(&ss, len);
  return lfd < 0 ? 3 : tcp_pair(lfd, &ss, len);
}

static int by_name(const char* name) {
  struct hostent* h = gethostbyname(name);
  printf("gethostbyname=%d h_errno=%d\n", h != NULL ? 0 : -1, h != NULL ? 0 : h_errno);
  return h != NULL ? 0 : 3;
}

static int plain_connect(const char* ip, int port) {
  struct sockaddr_storage ss;
  const socklen_t len = make_addr(ip, port, &ss);
  const int c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int r = connect(c, (const struct sockaddr*)&ss, len);
  printf("connect=%d connect_errno=%d\n", r, r != 0 ? errno : 0);
  return r == 0 ? 0 : 3;
}

static int redirect(const char* ip, int port, int rport) {
  struct sockaddr_storage ls;
  const socklen_t llen = make_addr("127.0.0.1", rport, &ls);
  const int lfd = listener(&ls, llen);
  if (lfd < 0) return 3;
  const int r = plain_connect(ip, port);
  struct pollfd p = {.fd = lfd, .events = POLLIN, .revents = 0};
  const int ready = poll(&p, 1, 2000);
  printf("redirected=%d\n", ready == 1 ? 1 : 0);
  return r;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: net_caller HOSTS SCENARIO ARG...\n");
    return 2;
  }
  if (isolate(argv[1]) != 0) return 2;
  printf("caller pid=%d\n", (int)getpid());
  const char* s = argv[2];
  const char* a = argv[3];
  const int b = argc > 4 ? atoi(argv[4]) : 0;
  const int c = argc > 5 ? atoi(argv[5]) : 0;
  int r = 2;
  if (strcmp(s, "tcp4") == 0) r = tcp("127.0.0.1", atoi(a));
  if (strcmp(s, "tcp6") == 0) r = tcp("::1", atoi(a));
  if (strcmp(s, "udp4") == 0) r = udp("127.0.0.1", atoi(a));
  if (strcmp(s, "udp6") == 0) r = udp("::1", atoi(a));
  if (strcmp(s, "resolve") == 0) r = resolve(a, b);
  if (strcmp(s, "gethostbyname") == 0) r = by_name(a);
  if (strcmp(s, "connect") == 0) r = plain_connect(a, b);
  if (strcmp(s, "redirect") == 0) r = redirect(a, b, c);
  fflush(stdout);
  return r;
}
