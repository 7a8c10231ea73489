/* libringside-preload.so: the user-level sensors. This file holds what every hook shares:
 * initialisation, the state file, the connection to the agent and the exec-type report; the
 * hooks themselves are in preload_exec.c (exec family, posix_spawn[p], system, popen, _exit),
 * preload_file.c (file calls) and preload_net.c (socket calls and name lookups). Each call is
 * reported to the agent before it happens and, when the agent's state file says its class needs
 * a verdict, waits (with a deadline) for allow or deny. A denied call fails with EACCES and
 * never reaches libc.
 *
 * Rules this file keeps (they keep the hook safe inside arbitrary programs):
 *   - every real function is resolved once, in a constructor (or on the first hook call when
 *     another library's constructor runs first), with dlsym(RTLD_NEXT); resolving to our own
 *     hook aborts;
 *   - a thread-local flag makes a hook called from inside a hook (signal handler, future file
 *     hooks used by this code) go straight to libc;
 *   - nothing is allocated from the heap: stack buffers, and an anonymous mapping for the rare
 *     report larger than them;
 *   - the connection belongs to the process that loaded the library (g_pid). Any other pid is
 *     a child made by fork, vfork or clone, which may share our memory (vfork) or not (fork)
 *     and cannot tell which: it writes no global, reads the state through the mapping it
 *     inherited (the parent maps it before it forks) or else from the file, and reports on a
 *     private connection it closes right away, so SO_PEERCRED always names the process that is
 *     reporting;
 *   - a descriptor the program closed or reused is recognised (device and inode) and never
 *     written to or closed;
 *   - without an agent the call proceeds (fail-open) unless the fail mode says closed.
 *
 * Cost: a fork child that execs pays for every page it touches before execve (fork copies no
 * page table of a file mapping, and every written page is copied), so the report path makes
 * raw system calls (hook_syscall.h), builds the report in one small stack scratch area, copies
 * strings with its own loops and writes no global in a child. The executable's path is still
 * resolved here rather than by the agent: the walk costs the caller about 5 us, while the
 * agent, which must go through /proc/PID/root and prove the pid was not reused, spent about
 * 25 us on it (measured), and cannot do it at all once a fire-and-forget caller has exited.
 * Semantics, wire format and fail modes: sensors/user/hook_protocol.h.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hook_logic.h"
#include "hook_syscall.h"
#include "preload_internal.h"

#define RS_DEFAULT_DEADLINE_MS 200
/* Without a state file, how often a file or socket hook looks for one again. */
#define RS_STATE_RETRY_NS 1000000000LL

extern char** environ;

enum { INIT_NONE, INIT_RUNNING, INIT_DONE };
static int g_init;
static int g_pid; /* the process that loaded the library */
static char g_socket[sizeof(((struct sockaddr_un*)NULL)->sun_path)];
static int g_env_fail = -1; /* RINGSIDE_HOOK_FAIL: -1 unset, 0 open, 1 closed */
static const struct rs_hook_state* g_state;
static uint32_t g_seq;

/* The connection of process g_pid, guarded by g_conn_lock (a futex word: 0 free, 1 held,
 * 2 held with waiters). */
static int g_conn_lock;
static int g_conn_fd = -1;
static dev_t g_conn_dev;
static ino_t g_conn_ino;

__thread int t_in_hook __attribute__((tls_model("initial-exec")));
static int64_t g_state_retry_ns; /* when the last attempt to map the state file failed */

static void die(const char* msg) {
  static const char prefix[] = "ringside-preload: ";
  ssize_t ignored = write(STDERR_FILENO, prefix, sizeof prefix - 1);
  ignored = write(STDERR_FILENO, msg, rs_strlen(msg));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  abort();
}

void* rs_pl_resolve(const char* name, void* hook) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == hook) die("dlsym(RTLD_NEXT) returned the interposer's own hook");
  return f;
}

/* getenv without libc's text: the value of NAME in environ, or NULL. */
const char* rs_pl_env(const char* name) {
  const size_t n = rs_strlen(name);
  for (char** e = environ; e != NULL && *e != NULL; ++e) {
    const char* s = *e;
    size_t i = 0;
    while (i < n && s[i] == name[i]) ++i;
    if (i == n && s[n] == '=') return s + n + 1;
  }
  return NULL;
}

static int same_string(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

static const struct rs_hook_state* state_mapping(void);
static void before_fork(void) { (void)state_mapping(); }

static void init(void) {
  const char* sock = rs_pl_env("RINGSIDE_SOCKET");
  if (sock == NULL || sock[0] == '\0') sock = RS_HOOK_DEFAULT_SOCKET;
  const size_t len = rs_strlen(sock);
  if (len < sizeof g_socket) rs_copy(g_socket, sock, len + 1);
  const char* fail = rs_pl_env("RINGSIDE_HOOK_FAIL");
  if (fail != NULL && same_string(fail, "closed")) g_env_fail = 1;
  if (fail != NULL && same_string(fail, "open")) g_env_fail = 0;
  g_pid = rs_sys_getpid();
  /* A process that forks maps the state file first: its children inherit the mapping and read
   * it with no system call (an exec report's state otherwise costs an open, two reads and a
   * close in every child). */
  pthread_atfork(before_fork, NULL, NULL);
  rs_pl_init_exec();
  rs_pl_init_file();
  rs_pl_init_net();
}

void rs_pl_ensure_init(void) {
  if (__atomic_load_n(&g_init, __ATOMIC_ACQUIRE) == INIT_DONE) return;
  int expected = INIT_NONE;
  if (__atomic_compare_exchange_n(&g_init, &expected, INIT_RUNNING, 0, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE)) {
    init();
    __atomic_store_n(&g_init, INIT_DONE, __ATOMIC_RELEASE);
    return;
  }
  /* Another thread is initialising (a hook called from another library's constructor). */
  while (__atomic_load_n(&g_init, __ATOMIC_ACQUIRE) != INIT_DONE) RS_SYS(SYS_sched_yield, 0, 0, 0);
}

__attribute__((constructor)) static void rs_preload_constructor(void) {
  t_in_hook = 1; /* a hook run by a signal during init goes straight to libc */
  rs_pl_ensure_init();
  t_in_hook = 0;
}

/* ---- the state file and the connection */

/* socket path + ".state"; empty when there is no socket path. */
struct state_path {
  char s[sizeof g_socket + sizeof RS_HOOK_STATE_SUFFIX];
};
static void state_path(struct state_path* p) {
  const size_t len = rs_strlen(g_socket);
  p->s[0] = '\0';
  if (len == 0) return;
  rs_copy(p->s, g_socket, len);
  rs_copy(p->s + len, RS_HOOK_STATE_SUFFIX, sizeof RS_HOOK_STATE_SUFFIX);
}

static const struct rs_hook_state* install_mapping(const char* path);

/* The process that loaded the library maps the state file once. A child reads the mapping it
 * inherited (the agent writes the file in place, so it stays current), or else the file: it
 * writes no global (a vfork child shares our memory). A mapping that says no agent runs is
 * checked against the file: the file may have been removed and made anew since (its directory
 * deleted under the agent), and the new agent writes the new one. (File and socket hooks read
 * the mapping alone: they run far more often, and with no agent must cost no system call.) */
static void read_state(int owner, struct rs_hook_state_view* view) {
  struct state_path path;
  state_path(&path);
  const struct rs_hook_state* s = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE);
  if (owner && s == NULL && path.s[0] != '\0') s = install_mapping(path.s);
  rs_hook_state_read(s, view); /* no mapping: not valid */
  if (view->valid && view->agent_pid != 0) return;
  if (owner && s == NULL) return; /* a file that cannot be mapped cannot be read either */
  rs_hook_state_read_file(path.s[0] != '\0' ? path.s : NULL, view);
}

static void conn_lock(void) {
  int c = 0;
  if (__atomic_compare_exchange_n(&g_conn_lock, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
    return;
  }
  if (c != 2) c = __atomic_exchange_n(&g_conn_lock, 2, __ATOMIC_ACQUIRE);
  while (c != 0) {
    rs_sys_futex(&g_conn_lock, FUTEX_WAIT_PRIVATE, 2);
    c = __atomic_exchange_n(&g_conn_lock, 2, __ATOMIC_ACQUIRE);
  }
}

static void conn_unlock(void) {
  if (__atomic_exchange_n(&g_conn_lock, 0, __ATOMIC_RELEASE) == 2) {
    rs_sys_futex(&g_conn_lock, FUTEX_WAKE_PRIVATE, 1);
  }
}

/* The connection is ours only if the descriptor still names the socket we opened. */
static int conn_is_ours(void) {
  struct stat st;
  return g_conn_fd >= 0 && rs_sys_fstat(g_conn_fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
         st.st_dev == g_conn_dev && st.st_ino == g_conn_ino;
}

static void drop_connection(void) {
  if (conn_is_ours()) rs_sys_close(g_conn_fd);
  g_conn_fd = -1;
}

/* Sends on the shared connection, reconnecting once when it went stale. Under g_conn_lock. */
static int exchange_shared(const uint8_t* msg, size_t len, int want, uint32_t seq, int deadline_ms,
                           int* verdict, struct rs_hook_address* target) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fresh = 0;
    if (!conn_is_ours()) {
      const int fd = rs_hook_connect_raw(g_socket);
      struct stat st;
      if (fd < 0) return RS_HOOK_UNREACHABLE;
      if (rs_sys_fstat(fd, &st) != 0) {
        rs_sys_close(fd);
        return RS_HOOK_UNREACHABLE;
      }
      g_conn_fd = fd;
      g_conn_dev = st.st_dev;
      g_conn_ino = st.st_ino;
      fresh = 1;
    }
    const int r =
        rs_hook_exchange_target(g_conn_fd, msg, len, want, seq, deadline_ms, verdict, target);
    if (r != RS_HOOK_UNREACHABLE) return r;
    drop_connection();
    if (fresh) break;
  }
  return RS_HOOK_UNREACHABLE;
}

static int exchange(int owner, const uint8_t* msg, size_t len, int want, uint32_t seq,
                    int deadline_ms, int* verdict, struct rs_hook_address* target) {
  if (g_socket[0] == '\0') return RS_HOOK_UNREACHABLE;
  if (!owner) {
    const int fd = rs_hook_connect_raw(g_socket);
    if (fd < 0) return RS_HOOK_UNREACHABLE;
    const int r = rs_hook_exchange_target(fd, msg, len, want, seq, deadline_ms, verdict, target);
    rs_sys_close(fd);
    return r;
  }
  conn_lock();
  const int r = exchange_shared(msg, len, want, seq, deadline_ms, verdict, target);
  conn_unlock();
  return r;
}

/* ---- reports that did not go through */

/* How many reports the process that loaded the library could not send since one went through.
 * Only that process counts (a child writes no global); the next report it sends carries the
 * count, and at exit its last words do. */
static uint64_t g_unsent;
/* How long last words wait for room in a full socket. */
#define RS_LAST_WORDS_MS 100

uint64_t rs_pl_take_unsent(int owner) {
  return owner ? __atomic_exchange_n(&g_unsent, 0, __ATOMIC_RELAXED) : 0;
}
void rs_pl_add_unsent(int owner, uint64_t n) {
  if (owner) __atomic_add_fetch(&g_unsent, n, __ATOMIC_RELAXED);
}

void rs_pl_last_words(void) {
  if (__atomic_load_n(&g_unsent, __ATOMIC_RELAXED) == 0 || g_socket[0] == '\0') return;
  const int pid = rs_sys_getpid();
  if (pid != g_pid) return;
  const int nested = t_in_hook;
  t_in_hook = 1;
  struct rs_hook_state_view st;
  read_state(1, &st);
  const uint64_t n = st.valid && st.agent_pid != 0 && st.agent_pid != pid
                         ? __atomic_exchange_n(&g_unsent, 0, __ATOMIC_RELAXED)
                         : 0;
  uint8_t msg[RS_HOOK_HEADER_SIZE + RS_HOOK_TLV_HEADER_SIZE + 8];
  const size_t len = n == 0 ? 0 : rs_hook_encode_unsent(n, 1, msg, sizeof msg);
  if (len > 0) {
    conn_lock();
    const int shared = conn_is_ours();
    const int fd = shared ? g_conn_fd : rs_hook_connect_raw(g_socket);
    const int sent = fd >= 0 && rs_hook_send_within(fd, msg, len, RS_LAST_WORDS_MS) == RS_HOOK_SENT;
    if (fd >= 0 && !shared) rs_sys_close(fd);
    conn_unlock();
    if (!sent) __atomic_add_fetch(&g_unsent, n, __ATOMIC_RELAXED); /* a later attempt may go */
  }
  t_in_hook = nested;
}

__attribute__((destructor)) static void rs_preload_destructor(void) { rs_pl_last_words(); }

/* ---- one report */

/* How the state file says to report. */
struct mode {
  int owner;
  int want;
  int fail_closed;
  int deadline_ms;
};

/* Where a report is built: on the stack for the usual sizes (few pages touched), else in an
 * anonymous mapping: paths longer than these, messages longer than this. */
#define RS_SMALL_EXE 256
#define RS_SMALL_CWD 512
#define RS_SMALL_MESSAGE 1280
struct small_scratch {
  char exe[RS_SMALL_EXE];
  char cwd[RS_SMALL_CWD];
  uint8_t msg[RS_SMALL_MESSAGE];
};
struct long_paths {
  char exe[PATH_MAX];
  char cwd[PATH_MAX];
};

enum { REPORT_REFUSE = 0, REPORT_ALLOW = 1, REPORT_NEEDS_ROOM = RS_EXE_NEEDS_ROOM };

/* Encodes the report into msg, or into a mapping when it is longer, and sends it. */
static int send_report(const struct rs_exec_report* r, const struct mode* m, uint8_t* msg,
                       size_t msg_cap) {
  void* big = NULL;
  if (rs_hook_exec_size(r) > msg_cap) {
    big = rs_sys_mmap(NULL, RS_HOOK_MAX_MESSAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rs_sys_mmap_failed(big)) {
      rs_pl_add_unsent(m->owner, r->unsent + 1);
      return !m->fail_closed;
    }
    msg = big;
    msg_cap = RS_HOOK_MAX_MESSAGE;
  }
  /* A child's private connection carries one message: any sequence number is unique there. */
  const uint32_t seq = m->owner ? __atomic_add_fetch(&g_seq, 1, __ATOMIC_RELAXED) : 1;
  const size_t len = rs_hook_encode_exec(r, seq, m->want, msg, msg_cap);
  int verdict = RS_HOOK_VERDICT_ALLOW;
  const int result =
      len == 0 ? RS_HOOK_UNREACHABLE
               : exchange(m->owner, msg, len, m->want, seq, m->deadline_ms, &verdict, NULL);
  if (big != NULL) rs_sys_munmap(big, RS_HOOK_MAX_MESSAGE);
  switch (result) {
    case RS_HOOK_ANSWERED:
      return verdict != RS_HOOK_VERDICT_DENY;
    case RS_HOOK_SENT:
      return REPORT_ALLOW;
    default:
      /* Unreachable, busy, too late: counted, and the fail mode decides. An exec replaces the
       * image and its count with it, so the count is told now. */
      rs_pl_add_unsent(m->owner, r->unsent + 1);
      if (!r->new_process) rs_pl_last_words();
      return !m->fail_closed;
  }
}

/* Finds the working directory and the executable in the given buffers, then reports. */
static int report_in(const struct rs_pl_exec_call* c, const struct mode* m, char* exe,
                     size_t exe_cap, char* cwd, size_t cwd_cap, uint8_t* msg, size_t msg_cap) {
  const long n = rs_sys_getcwd(cwd, cwd_cap);
  if (n == -ERANGE && cwd_cap < PATH_MAX) return REPORT_NEEDS_ROOM;
  const int have_cwd = n > 1 && cwd[0] == '/'; /* not "(unreachable)/..." */
  struct rs_exe_spec spec = c->exe;
  if (spec.kind == RS_EXE_SEARCH) spec.path_list = rs_pl_env("PATH");
  struct rs_file_id id;
  const int found = rs_find_executable(&spec, have_cwd ? cwd : NULL, exe, exe_cap, &id);
  /* Nothing to report when there is nothing to run: the real call fails on its own. */
  if (found != 0) return found == REPORT_NEEDS_ROOM ? REPORT_NEEDS_ROOM : REPORT_ALLOW;
  const struct rs_exec_report r = {
      .hook = c->hook,
      .executable = exe,
      .argv = c->argv,
      .working_directory = have_cwd ? cwd : NULL,
      .command_line = c->command_line,
      .thread_id = rs_sys_gettid(),
      .parent_pid = c->new_process ? 0 : rs_sys_getppid(),
      .new_process = c->new_process,
      .last = !m->owner, /* a child's private connection carries this report only */
      .identity = &id,
      .unsent = rs_pl_take_unsent(m->owner),
  };
  return send_report(&r, m, msg, msg_cap);
}

/* The rare report whose paths do not fit the stack scratch. */
static __attribute__((noinline)) int report_long_paths(const struct rs_pl_exec_call* c,
                                                       const struct mode* m, uint8_t* msg,
                                                       size_t msg_cap) {
  void* p = rs_sys_mmap(NULL, sizeof(struct long_paths), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (rs_sys_mmap_failed(p)) return !m->fail_closed;
  struct long_paths* s = p;
  const int r = report_in(c, m, s->exe, sizeof s->exe, s->cwd, sizeof s->cwd, msg, msg_cap);
  rs_sys_munmap(p, sizeof(struct long_paths));
  return r == REPORT_NEEDS_ROOM ? REPORT_ALLOW : r; /* longer than PATH_MAX: nothing runs */
}

/* Reports the operation; 1: go ahead, 0: refuse (denied, or unreported under fail-closed). */
static int report(const struct rs_pl_exec_call* c) {
  const int pid = rs_sys_getpid();
  struct mode m = {.owner = pid == g_pid};
  struct rs_hook_state_view st;
  read_state(m.owner, &st);
  if (st.valid && st.agent_pid == pid) return 1; /* the agent never waits on itself */
  /* No agent (none ever started, or it stopped cleanly): nobody to report to and nothing lost,
   * as for file and socket calls; only RINGSIDE_HOOK_FAIL=closed refuses. An agent that died
   * leaves its pid in the state file: those reports are attempted and counted as unsent. */
  if (!st.valid || st.agent_pid == 0) return g_env_fail != 1;
  m.want = st.valid && (st.sync_ops & RS_HOOK_OP_EXEC) != 0;
  m.fail_closed = g_env_fail >= 0 ? g_env_fail : (m.want && st.fail_closed != 0);
  m.deadline_ms = m.want ? (int)st.deadline_ms : 0;
  if (m.deadline_ms <= 0 && (m.want || m.fail_closed)) m.deadline_ms = RS_DEFAULT_DEADLINE_MS;

  struct small_scratch s;
  const int r = report_in(c, &m, s.exe, sizeof s.exe, s.cwd, sizeof s.cwd, s.msg, sizeof s.msg);
  return r == REPORT_NEEDS_ROOM ? report_long_paths(c, &m, s.msg, sizeof s.msg) : r;
}

/* 1: call the real function; 0: refused, the caller fails with EACCES. */
int rs_pl_check_exec(const struct rs_pl_exec_call* c) {
  if (t_in_hook) return 1;
  t_in_hook = 1;
  rs_pl_ensure_init();
  const int allow = report(c);
  t_in_hook = 0;
  return allow;
}

int rs_pl_refuse(void) {
  errno = EACCES;
  return -1;
}

/* libc without the function (never with a glibc that has the symbol the program called). */
int rs_pl_missing(void) {
  errno = ENOSYS;
  return -1;
}

/* ---- file and network reports */

/* The mapped state file, mapping it when a hook first needs it (at most once a second while it
 * is absent). A fork or vfork child may map it too: the mapping is the child's own, or shared
 * with a parent that may keep it. */
static const struct rs_hook_state* state_mapping(void) {
  const struct rs_hook_state* s = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE);
  if (s != NULL) return s;
  struct timespec now = {0, 0};
  clock_gettime(CLOCK_MONOTONIC, &now); /* vDSO: no system call */
  const int64_t now_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
  const int64_t last = __atomic_load_n(&g_state_retry_ns, __ATOMIC_RELAXED);
  if (last != 0 && now_ns - last < RS_STATE_RETRY_NS) return NULL;
  __atomic_store_n(&g_state_retry_ns, now_ns, __ATOMIC_RELAXED);
  struct state_path path;
  state_path(&path);
  return path.s[0] != '\0' ? install_mapping(path.s) : NULL;
}

/* Maps the state file at `path` as this process's g_state; the mapping another thread installed
 * first wins. NULL when the file cannot be mapped. */
static const struct rs_hook_state* install_mapping(const char* path) {
  const struct rs_hook_state* s = rs_hook_state_map(path);
  const struct rs_hook_state* expected = NULL;
  if (s != NULL &&
      !__atomic_compare_exchange_n(&g_state, &expected, s, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    rs_hook_state_unmap(s);
    s = expected;
  }
  return s;
}

int rs_pl_wanted(uint32_t op, struct rs_pl_mode* m) {
  const struct rs_hook_state* s = state_mapping();
  if (s == NULL) return 0;
  struct rs_hook_state_view st;
  rs_hook_state_read(s, &st);
  if (!st.valid || st.agent_pid == 0 || (st.report_ops & op) == 0) return 0;
  m->owner = 0;
  m->want = (st.sync_ops & op) != 0;
  m->fail_closed = g_env_fail >= 0 ? g_env_fail : (m->want && st.fail_closed != 0);
  m->deadline_ms = m->want ? (int)st.deadline_ms : 0;
  if (m->deadline_ms <= 0 && (m->want || m->fail_closed)) m->deadline_ms = RS_DEFAULT_DEADLINE_MS;
  m->file_opens = st.file_opens;
  m->agent_pid = st.agent_pid;
  return 1;
}

int rs_pl_identify(struct rs_pl_mode* m) {
  const int pid = rs_sys_getpid();
  if (pid == m->agent_pid) return 0;
  m->owner = pid == g_pid;
  return 1;
}

uint32_t rs_pl_seq(const struct rs_pl_mode* m) {
  /* A child's private connection carries one message: any sequence number is unique there. */
  return m->owner ? __atomic_add_fetch(&g_seq, 1, __ATOMIC_RELAXED) : 1;
}

int rs_pl_send(const struct rs_pl_mode* m, const uint8_t* msg, size_t len, uint32_t seq,
               uint64_t carried, struct rs_hook_address* redirect, int* redirected) {
  int verdict = RS_HOOK_VERDICT_ALLOW;
  *redirected = 0;
  const int result = exchange(m->owner, msg, len, m->want, seq, m->deadline_ms, &verdict, redirect);
  switch (result) {
    case RS_HOOK_ANSWERED:
      if (verdict == RS_HOOK_VERDICT_REDIRECT) *redirected = 1;
      return verdict != RS_HOOK_VERDICT_DENY;
    case RS_HOOK_SENT:
      return 1;
    default:
      rs_pl_add_unsent(m->owner, carried + 1);
      return !m->fail_closed;
  }
}

/* The owner's executable, read on its first file or socket report. A child reads its own copy
 * into the caller's buffer instead: it may share our memory (vfork). */
static char g_exe[PATH_MAX];
static int g_exe_len = -1;

const char* rs_pl_executable(const struct rs_pl_mode* m, size_t* len) {
  if (m->owner && __atomic_load_n(&g_exe_len, __ATOMIC_ACQUIRE) > 0) {
    *len = (size_t)g_exe_len;
    return g_exe;
  }
  if (!m->owner) return NULL;
  const long n = rs_sys_readlinkat(AT_FDCWD, "/proc/self/exe", g_exe, sizeof g_exe);
  if (n <= 0 || (size_t)n >= sizeof g_exe || g_exe[0] != '/') return NULL;
  __atomic_store_n(&g_exe_len, (int)n, __ATOMIC_RELEASE);
  *len = (size_t)n;
  return g_exe;
}

int rs_pl_is_agent_file(const char* path) {
  const size_t n = rs_strlen(g_socket);
  if (n == 0) return 0;
  for (size_t i = 0; i < n; ++i) {
    if (path[i] != g_socket[i]) return 0;
  }
  return path[n] == '\0' || same_string(path + n, RS_HOOK_STATE_SUFFIX);
}
