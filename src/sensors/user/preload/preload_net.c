/* Socket hooks: connect, bind, accept, accept4, sendto, sendmsg (with an explicit address),
 * getaddrinfo, gethostbyname, gethostbyname2, gethostbyname_r. Only AF_INET and AF_INET6
 * addresses are reported (never AF_UNIX: the hook's own connection is one). connect, bind and
 * sends are reported before they happen and refused with EACCES when the agent says deny; a
 * REDIRECT verdict makes connect go to the address it names instead. accept is reported once it
 * returned (a denied connection is closed and accept fails with EACCES). A name lookup is
 * decided before it is made when the agent wants network verdicts (refused: EAI_FAIL, or NULL
 * with h_errno NO_RECOVERY), else reported with its answers once made; either way the
 * addresses it returned are remembered (a small table per process) so that a later connect to
 * one of them carries the name as dns.question.name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hook_syscall.h"
#include "preload_internal.h"

typedef int (*connect_fn)(int, const struct sockaddr*, socklen_t);
typedef int (*accept_fn)(int, struct sockaddr*, socklen_t*);
typedef int (*accept4_fn)(int, struct sockaddr*, socklen_t*, int);
typedef ssize_t (*sendto_fn)(int, const void*, size_t, int, const struct sockaddr*, socklen_t);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr*, int);
typedef int (*getaddrinfo_fn)(const char*, const char*, const struct addrinfo*, struct addrinfo**);
typedef struct hostent* (*gethostbyname_fn)(const char*);
typedef struct hostent* (*gethostbyname2_fn)(const char*, int);
typedef int (*gethostbyname_r_fn)(const char*, struct hostent*, char*, size_t, struct hostent**,
                                  int*);

static struct {
  connect_fn connect, bind;
  accept_fn accept;
  accept4_fn accept4;
  sendto_fn sendto;
  sendmsg_fn sendmsg;
  getaddrinfo_fn getaddrinfo;
  gethostbyname_fn gethostbyname;
  gethostbyname2_fn gethostbyname2;
  gethostbyname_r_fn gethostbyname_r;
} real;

void rs_pl_init_net(void) {
  real.connect = (connect_fn)rs_pl_resolve("connect", (void*)connect);
  real.bind = (connect_fn)rs_pl_resolve("bind", (void*)bind);
  real.accept = (accept_fn)rs_pl_resolve("accept", (void*)accept);
  real.accept4 = (accept4_fn)rs_pl_resolve("accept4", (void*)accept4);
  real.sendto = (sendto_fn)rs_pl_resolve("sendto", (void*)sendto);
  real.sendmsg = (sendmsg_fn)rs_pl_resolve("sendmsg", (void*)sendmsg);
  real.getaddrinfo = (getaddrinfo_fn)rs_pl_resolve("getaddrinfo", (void*)getaddrinfo);
  real.gethostbyname = (gethostbyname_fn)rs_pl_resolve("gethostbyname", (void*)gethostbyname);
  real.gethostbyname2 = (gethostbyname2_fn)rs_pl_resolve("gethostbyname2", (void*)gethostbyname2);
  real.gethostbyname_r =
      (gethostbyname_r_fn)rs_pl_resolve("gethostbyname_r", (void*)gethostbyname_r);
}

/* ---- names a lookup returned, by address */

#define RS_DNS_SLOTS 64
#define RS_DNS_NAME 256
struct dns_entry {
  struct rs_hook_address a; /* port 0; IPv4-mapped addresses stored as IPv4 */
  char name[RS_DNS_NAME];
};
static struct dns_entry g_dns[RS_DNS_SLOTS];
static unsigned g_dns_used;
static unsigned g_dns_next;
static int g_dns_lock; /* spin lock: held for a few copies, never across a call */

/* 0 when the lock stays taken: a fork child may inherit it held by a thread it does not have,
 * and then goes without names rather than waiting forever. */
static int dns_lock(void) {
  for (int spins = 0; __atomic_exchange_n(&g_dns_lock, 1, __ATOMIC_ACQUIRE) != 0; ++spins) {
    if (spins == 1000) return 0;
    RS_SYS(SYS_sched_yield, 0, 0, 0);
  }
  return 1;
}
static void dns_unlock(void) { __atomic_store_n(&g_dns_lock, 0, __ATOMIC_RELEASE); }

static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

/* The address without its port, IPv4-mapped IPv6 as IPv4. */
static void dns_key(const struct rs_hook_address* in, struct rs_hook_address* key) {
  *key = *in;
  key->port = 0;
  int mapped = in->family == 6;
  for (int i = 0; mapped && i < 12; ++i) mapped = in->addr[i] == kMapped[i];
  if (mapped) {
    key->family = 4;
    rs_copy(key->addr, in->addr + 12, 4);
    for (int i = 4; i < 16; ++i) key->addr[i] = 0;
  }
}

static int same_address(const struct rs_hook_address* a, const struct rs_hook_address* b) {
  if (a->family != b->family) return 0;
  for (int i = 0; i < 16; ++i) {
    if (a->addr[i] != b->addr[i]) return 0;
  }
  return 1;
}

static void dns_remember(const char* name, const struct rs_hook_address* a) {
  const size_t len = rs_strlen(name);
  if (len == 0 || len >= RS_DNS_NAME) return;
  struct rs_hook_address key;
  dns_key(a, &key);
  if (!dns_lock()) return;
  unsigned slot = RS_DNS_SLOTS;
  for (unsigned i = 0; i < g_dns_used; ++i) {
    if (same_address(&g_dns[i].a, &key)) slot = i;
  }
  if (slot == RS_DNS_SLOTS) {
    slot = g_dns_next;
    g_dns_next = (g_dns_next + 1) % RS_DNS_SLOTS;
    if (g_dns_used < RS_DNS_SLOTS) ++g_dns_used;
  }
  g_dns[slot].a = key;
  rs_copy(g_dns[slot].name, name, len + 1);
  dns_unlock();
}

/* Copies the name remembered for a's address into out; 0 when there is none. */
static size_t dns_lookup(const struct rs_hook_address* a, char* out) {
  struct rs_hook_address key;
  dns_key(a, &key);
  size_t len = 0;
  if (!dns_lock()) return 0;
  for (unsigned i = 0; i < g_dns_used; ++i) {
    if (same_address(&g_dns[i].a, &key)) {
      len = rs_strlen(g_dns[i].name);
      rs_copy(out, g_dns[i].name, len + 1);
      break;
    }
  }
  dns_unlock();
  return len;
}

/* ---- one report */

struct net_call {
  const char* hook;
  uint16_t event;
  int fd;                              /* the socket; -1 for a lookup */
  const struct rs_hook_address* local; /* NULL: from getsockname when bound */
  const struct rs_hook_address* remote;
  const char* name;                       /* a lookup's question */
  const struct rs_hook_address* resolved; /* a lookup's answers */
  int n_resolved;
};

static int socket_type(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  const long r = rs_sys6(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&type, (long)&len, 0);
  return r == 0 ? type : 0;
}

/* An address of the socket (SYS_getsockname or SYS_getpeername); -1 when not an inet one. */
static int socket_address(long sys, int fd, struct rs_hook_address* out) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (RS_SYS(sys, fd, &ss, &len) != 0) return -1;
  return rs_hook_address_from_sockaddr(&ss, len, out);
}

/* 1: go ahead (*redirected set when the agent named another destination); 0: refuse. */
static int report(const struct net_call* c, const struct rs_pl_mode* m,
                  struct rs_hook_address* target, int* redirected) {
  *redirected = 0;
  uint8_t msg[RS_HOOK_HEADER_SIZE + PATH_MAX + 2 * RS_DNS_NAME + 256 +
              RS_HOOK_MAX_RESOLVED * (RS_HOOK_TLV_HEADER_SIZE + RS_HOOK_ADDRESS_SIZE)];
  const uint32_t seq = rs_pl_seq(m);
  uint16_t flags = m->want ? RS_HOOK_FLAG_WANT_VERDICT : 0;
  if (!m->owner) flags |= RS_HOOK_FLAG_LAST;
  struct rs_hook_writer w;
  rs_hook_writer_init(&w, msg, sizeof msg, RS_HOOK_MSG_EVENT, seq, c->event, flags);
  int bad = rs_hook_put_str(&w, RS_FIELD_RINGSIDE_HOOK, c->hook, rs_strlen(c->hook));
  size_t exe_len = 0;
  const char* exe = rs_pl_executable(m, &exe_len);
  if (exe != NULL) bad |= rs_hook_put_str(&w, RS_FIELD_PROCESS_EXECUTABLE, exe, exe_len);
  bad |= rs_hook_put_int(&w, RS_FIELD_PROCESS_THREAD_ID, rs_sys_gettid());
  if (c->fd >= 0) {
    const int type = socket_type(c->fd);
    if (type != 0) bad |= rs_hook_put_int(&w, RS_HOOK_FIELD_SOCKET_TYPE, type);
    struct rs_hook_address local;
    if (c->local != NULL) {
      bad |= rs_hook_put_address(&w, RS_HOOK_FIELD_LOCAL_ADDRESS, c->local);
    } else if (socket_address(SYS_getsockname, c->fd, &local) == 0 && local.port != 0) {
      bad |= rs_hook_put_address(&w, RS_HOOK_FIELD_LOCAL_ADDRESS, &local);
    }
  }
  if (c->remote != NULL) bad |= rs_hook_put_address(&w, RS_HOOK_FIELD_REMOTE_ADDRESS, c->remote);
  for (int i = 0; i < c->n_resolved; ++i) {
    bad |= rs_hook_put_address(&w, RS_HOOK_FIELD_RESOLVED_ADDRESS, &c->resolved[i]);
  }
  char name[RS_DNS_NAME];
  const char* question = c->name;
  size_t question_len = question != NULL ? rs_strlen(question) : 0;
  if (question == NULL && c->remote != NULL && c->event == RS_EVENT_NETWORK_CONNECT) {
    question_len = dns_lookup(c->remote, name);
    question = name;
  }
  if (question_len > 0) {
    if (question_len > RS_DNS_NAME) question_len = RS_DNS_NAME; /* longer is no host name */
    bad |= rs_hook_put_str(&w, RS_FIELD_DNS_QUESTION_NAME, question, question_len);
  }
  const uint64_t unsent = rs_pl_take_unsent(m->owner);
  if (unsent != 0) bad |= rs_hook_put_int(&w, RS_HOOK_FIELD_UNSENT, (int64_t)unsent);
  const size_t len = rs_hook_writer_finish(&w);
  if (bad != 0 || len == 0) {
    rs_pl_add_unsent(m->owner, unsent + 1);
    return !m->fail_closed;
  }
  return rs_pl_send(m, msg, len, seq, unsent, target, redirected);
}

/* Reports one call when the agent watches the network; errno is left as it was. */
static int check(const struct net_call* c, struct rs_hook_address* target, int* redirected) {
  *redirected = 0;
  if (t_in_hook) return 1;
  t_in_hook = 1;
  rs_pl_ensure_init();
  struct rs_pl_mode m;
  int allow = 1;
  if (rs_pl_wanted(RS_HOOK_OP_NETWORK, &m) && rs_pl_identify(&m)) {
    const int saved = errno;
    allow = report(c, &m, target, redirected);
    errno = saved;
  }
  t_in_hook = 0;
  return allow;
}

/* ---- sockets */

RS_EXPORT int connect(int fd, const struct sockaddr* addr, socklen_t len) {
  struct rs_hook_address remote;
  if (real.connect == NULL) return rs_pl_missing();
  if (rs_hook_address_from_sockaddr(addr, len, &remote) != 0) return real.connect(fd, addr, len);
  const struct net_call c = {
      .hook = "connect", .event = RS_EVENT_NETWORK_CONNECT, .fd = fd, .remote = &remote};
  struct rs_hook_address target;
  int redirected = 0;
  if (!check(&c, &target, &redirected)) return rs_pl_refuse();
  if (!redirected) return real.connect(fd, addr, len);
  struct sockaddr_storage to;
  const size_t to_len = rs_hook_address_to_sockaddr(&target, addr->sa_family, &to, sizeof to);
  if (to_len == 0) return rs_pl_refuse(); /* an IPv6 target for an IPv4 socket */
  return real.connect(fd, (const struct sockaddr*)&to, (socklen_t)to_len);
}

RS_EXPORT int bind(int fd, const struct sockaddr* addr, socklen_t len) {
  struct rs_hook_address local;
  if (real.bind == NULL) return rs_pl_missing();
  if (rs_hook_address_from_sockaddr(addr, len, &local) != 0) return real.bind(fd, addr, len);
  const struct net_call c = {
      .hook = "bind", .event = RS_EVENT_NETWORK_BIND, .fd = fd, .local = &local};
  struct rs_hook_address unused;
  int redirected = 0;
  if (!check(&c, &unused, &redirected)) return rs_pl_refuse();
  return real.bind(fd, addr, len);
}

/* After accept: source is the peer that connected, destination our end. */
static int accepted(const char* hook, int fd) {
  if (fd < 0 || t_in_hook) return fd;
  struct rs_hook_address peer;
  struct rs_hook_address self;
  if (socket_address(SYS_getpeername, fd, &peer) != 0 ||
      socket_address(SYS_getsockname, fd, &self) != 0) {
    return fd;
  }
  /* The event's source is the connecting peer: sent as the local end of the report. */
  const struct net_call c = {
      .hook = hook, .event = RS_EVENT_NETWORK_ACCEPT, .fd = fd, .local = &peer, .remote = &self};
  struct rs_hook_address unused;
  int redirected = 0;
  if (check(&c, &unused, &redirected)) return fd;
  rs_sys_close(fd);
  return rs_pl_refuse();
}

RS_EXPORT int accept(int fd, struct sockaddr* addr, socklen_t* len) {
  if (real.accept == NULL) return rs_pl_missing();
  return accepted("accept", real.accept(fd, addr, len));
}

RS_EXPORT int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  if (real.accept4 == NULL) return rs_pl_missing();
  return accepted("accept4", real.accept4(fd, addr, len, flags));
}

static int check_send(const char* hook, int fd, const void* addr, socklen_t len) {
  struct rs_hook_address remote;
  if (addr == NULL || rs_hook_address_from_sockaddr(addr, len, &remote) != 0) return 1;
  const struct net_call c = {
      .hook = hook, .event = RS_EVENT_NETWORK_SEND, .fd = fd, .remote = &remote};
  struct rs_hook_address unused;
  int redirected = 0;
  return check(&c, &unused, &redirected);
}

RS_EXPORT ssize_t sendto(int fd, const void* buf, size_t n, int flags, const struct sockaddr* addr,
                         socklen_t len) {
  if (real.sendto == NULL) return rs_pl_missing();
  if (!check_send("sendto", fd, addr, len)) return rs_pl_refuse();
  return real.sendto(fd, buf, n, flags, addr, len);
}

RS_EXPORT ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  if (real.sendmsg == NULL) return rs_pl_missing();
  if (msg != NULL && !check_send("sendmsg", fd, msg->msg_name, msg->msg_namelen)) {
    return rs_pl_refuse();
  }
  return real.sendmsg(fd, msg, flags);
}

/* ---- name lookups */

/* Before a lookup: 0 when it is refused. *report_after says whether to report it afterwards
 * (the agent watches the network but did not need to decide first). */
static int lookup_before(const char* hook, const char* name, int* watched, int* report_after) {
  *watched = 0;
  *report_after = 0;
  if (t_in_hook || name == NULL) return 1;
  t_in_hook = 1;
  rs_pl_ensure_init();
  struct rs_pl_mode m;
  int allow = 1;
  if (rs_pl_wanted(RS_HOOK_OP_NETWORK, &m) && rs_pl_identify(&m)) {
    *watched = 1;
    if (m.want) {
      const int saved = errno;
      const struct net_call c = {
          .hook = hook, .event = RS_EVENT_NETWORK_DNS, .fd = -1, .name = name};
      struct rs_hook_address unused;
      int redirected = 0;
      allow = report(&c, &m, &unused, &redirected);
      errno = saved;
    } else {
      *report_after = 1;
    }
  }
  t_in_hook = 0;
  return allow;
}

/* After a lookup that answered: report it when still to be done. */
static void lookup_after(const char* hook, const char* name, const struct rs_hook_address* answers,
                         int n, int report_after) {
  if (!report_after) return;
  const struct net_call c = {.hook = hook,
                             .event = RS_EVENT_NETWORK_DNS,
                             .fd = -1,
                             .name = name,
                             .resolved = answers,
                             .n_resolved = n};
  struct rs_hook_address unused;
  int redirected = 0;
  check(&c, &unused, &redirected);
}

RS_EXPORT int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                          struct addrinfo** res) {
  if (real.getaddrinfo == NULL) return EAI_SYSTEM;
  int watched = 0;
  int report_after = 0;
  if (!lookup_before("getaddrinfo", node, &watched, &report_after)) return EAI_FAIL;
  const int r = real.getaddrinfo(node, service, hints, res);
  if (r != 0 || !watched || res == NULL) return r;
  struct rs_hook_address answers[RS_HOOK_MAX_RESOLVED];
  int n = 0;
  for (const struct addrinfo* ai = *res; ai != NULL; ai = ai->ai_next) {
    struct rs_hook_address a;
    if (rs_hook_address_from_sockaddr(ai->ai_addr, ai->ai_addrlen, &a) != 0) continue;
    a.port = 0;
    dns_remember(node, &a);
    int seen = 0; /* one address per socket type comes back: report each once */
    for (int i = 0; i < n && !seen; ++i) seen = same_address(&answers[i], &a);
    if (!seen && n < RS_HOOK_MAX_RESOLVED) answers[n++] = a;
  }
  lookup_after("getaddrinfo", node, answers, n, report_after);
  return r;
}

/* Remembers a hostent's addresses; the first RS_HOOK_MAX_RESOLVED in answers. */
static int remember_hostent(const char* name, const struct hostent* h,
                            struct rs_hook_address* answers) {
  if (h == NULL || h->h_addr_list == NULL) return 0;
  int n = 0;
  for (char** p = h->h_addr_list; *p != NULL; ++p) {
    struct rs_hook_address a = {.family = 0, .port = 0};
    if (h->h_addrtype == AF_INET && h->h_length == 4) {
      a.family = 4;
      rs_copy(a.addr, *p, 4);
    } else if (h->h_addrtype == AF_INET6 && h->h_length == 16) {
      a.family = 6;
      rs_copy(a.addr, *p, 16);
    } else {
      continue;
    }
    dns_remember(name, &a);
    if (n < RS_HOOK_MAX_RESOLVED) answers[n++] = a;
  }
  return n;
}

static struct hostent* hostent_done(const char* hook, const char* name, struct hostent* h,
                                    int watched, int report_after) {
  struct rs_hook_address answers[RS_HOOK_MAX_RESOLVED];
  if (watched) lookup_after(hook, name, answers, remember_hostent(name, h, answers), report_after);
  return h;
}

RS_EXPORT struct hostent* gethostbyname(const char* name) {
  int watched = 0;
  int report_after = 0;
  if (!lookup_before("gethostbyname", name, &watched, &report_after)) {
    h_errno = NO_RECOVERY;
    return NULL;
  }
  if (real.gethostbyname == NULL) {
    h_errno = NO_RECOVERY;
    return NULL;
  }
  return hostent_done("gethostbyname", name, real.gethostbyname(name), watched, report_after);
}

RS_EXPORT struct hostent* gethostbyname2(const char* name, int af) {
  int watched = 0;
  int report_after = 0;
  if (!lookup_before("gethostbyname2", name, &watched, &report_after)) {
    h_errno = NO_RECOVERY;
    return NULL;
  }
  if (real.gethostbyname2 == NULL) {
    h_errno = NO_RECOVERY;
    return NULL;
  }
  return hostent_done("gethostbyname2", name, real.gethostbyname2(name, af), watched, report_after);
}

RS_EXPORT int gethostbyname_r(const char* name, struct hostent* ret, char* buf, size_t buflen,
                              struct hostent** result, int* h_errnop) {
  int watched = 0;
  int report_after = 0;
  if (!lookup_before("gethostbyname_r", name, &watched, &report_after) ||
      real.gethostbyname_r == NULL) {
    if (result != NULL) *result = NULL;
    if (h_errnop != NULL) *h_errnop = NO_RECOVERY;
    return EACCES;
  }
  const int r = real.gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
  if (r == 0 && result != NULL)
    hostent_done("gethostbyname_r", name, *result, watched, report_after);
  return r;
}
