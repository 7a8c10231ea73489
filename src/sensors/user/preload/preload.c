/* libringside-preload.so: the user-level process sensor. Interposes the exec family,
 * posix_spawn[p], system and popen; reports each call to the agent before it happens and, when
 * the agent's state file says exec needs a verdict, waits (with a deadline) for allow or deny.
 * A denied call fails with EACCES and never reaches libc.
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
 *     and cannot tell which: it writes no global, reads the state file instead of mapping it,
 *     and reports on a private connection it closes right away, so SO_PEERCRED always names
 *     the process that is reporting;
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
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hook_logic.h"
#include "hook_syscall.h"

#define RS_EXPORT __attribute__((visibility("default")))
#define RS_DEFAULT_DEADLINE_MS 200

extern char** environ;

typedef int (*execve_fn)(const char*, char* const[], char* const[]);
typedef int (*execv_fn)(const char*, char* const[]);
typedef int (*fexecve_fn)(int, char* const[], char* const[]);
typedef int (*execveat_fn)(int, const char*, char* const[], char* const[], int);
typedef int (*spawn_fn)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                        const posix_spawnattr_t*, char* const[], char* const[]);
typedef int (*system_fn)(const char*);
typedef FILE* (*popen_fn)(const char*, const char*);

static struct {
  execve_fn execve;
  execv_fn execv;
  execv_fn execvp;
  execve_fn execvpe;
  fexecve_fn fexecve;
  execveat_fn execveat;
  spawn_fn posix_spawn;
  spawn_fn posix_spawnp;
  system_fn system;
  popen_fn popen;
} real;

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

static __thread int t_in_hook __attribute__((tls_model("initial-exec")));

static void die(const char* msg) {
  static const char prefix[] = "ringside-preload: ";
  ssize_t ignored = write(STDERR_FILENO, prefix, sizeof prefix - 1);
  ignored = write(STDERR_FILENO, msg, rs_strlen(msg));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  abort();
}

static void* resolve(const char* name, void* hook) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == hook) die("dlsym(RTLD_NEXT) returned the interposer's own hook");
  return f;
}

/* getenv without libc's text: the value of NAME in environ, or NULL. */
static const char* env_value(const char* name) {
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

static void init(void) {
  real.execve = (execve_fn)resolve("execve", (void*)execve);
  real.execv = (execv_fn)resolve("execv", (void*)execv);
  real.execvp = (execv_fn)resolve("execvp", (void*)execvp);
  real.execvpe = (execve_fn)resolve("execvpe", (void*)execvpe);
  real.fexecve = (fexecve_fn)resolve("fexecve", (void*)fexecve);
  real.execveat = (execveat_fn)resolve("execveat", (void*)execveat);
  real.posix_spawn = (spawn_fn)resolve("posix_spawn", (void*)posix_spawn);
  real.posix_spawnp = (spawn_fn)resolve("posix_spawnp", (void*)posix_spawnp);
  real.system = (system_fn)resolve("system", (void*)system);
  real.popen = (popen_fn)resolve("popen", (void*)popen);

  const char* sock = env_value("RINGSIDE_SOCKET");
  if (sock == NULL || sock[0] == '\0') sock = RS_HOOK_DEFAULT_SOCKET;
  const size_t len = rs_strlen(sock);
  if (len < sizeof g_socket) rs_copy(g_socket, sock, len + 1);
  const char* fail = env_value("RINGSIDE_HOOK_FAIL");
  if (fail != NULL && same_string(fail, "closed")) g_env_fail = 1;
  if (fail != NULL && same_string(fail, "open")) g_env_fail = 0;
  g_pid = rs_sys_getpid();
}

static void ensure_init(void) {
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
  ensure_init();
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

/* The process that loaded the library maps the state file once; a child reads it. */
static void read_state(int owner, struct rs_hook_state_view* view) {
  struct state_path path;
  state_path(&path);
  if (!owner) {
    rs_hook_state_read_file(path.s[0] != '\0' ? path.s : NULL, view);
    return;
  }
  const struct rs_hook_state* s = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE);
  if (s == NULL && path.s[0] != '\0') {
    s = rs_hook_state_map(path.s);
    const struct rs_hook_state* expected = NULL;
    if (s != NULL && !__atomic_compare_exchange_n(&g_state, &expected, s, 0, __ATOMIC_ACQ_REL,
                                                  __ATOMIC_ACQUIRE)) {
      rs_hook_state_unmap(s);
      s = expected;
    }
  }
  rs_hook_state_read(s, view);
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
                           int* verdict) {
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
    const int r = rs_hook_exchange(g_conn_fd, msg, len, want, seq, deadline_ms, verdict);
    if (r != RS_HOOK_UNREACHABLE) return r;
    drop_connection();
    if (fresh) break;
  }
  return RS_HOOK_UNREACHABLE;
}

static int exchange(int owner, const uint8_t* msg, size_t len, int want, uint32_t seq,
                    int deadline_ms, int* verdict) {
  if (g_socket[0] == '\0') return RS_HOOK_UNREACHABLE;
  if (!owner) {
    const int fd = rs_hook_connect_raw(g_socket);
    if (fd < 0) return RS_HOOK_UNREACHABLE;
    const int r = rs_hook_exchange(fd, msg, len, want, seq, deadline_ms, verdict);
    rs_sys_close(fd);
    return r;
  }
  conn_lock();
  const int r = exchange_shared(msg, len, want, seq, deadline_ms, verdict);
  conn_unlock();
  return r;
}

/* ---- one report */

/* What every hook does before the real call. */
struct exec_call {
  const char* hook;
  struct rs_exe_spec exe;
  char* const* argv;
  const char* command_line;
  int new_process;
};

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
    if (rs_sys_mmap_failed(big)) return !m->fail_closed;
    msg = big;
    msg_cap = RS_HOOK_MAX_MESSAGE;
  }
  /* A child's private connection carries one message: any sequence number is unique there. */
  const uint32_t seq = m->owner ? __atomic_add_fetch(&g_seq, 1, __ATOMIC_RELAXED) : 1;
  const size_t len = rs_hook_encode_exec(r, seq, m->want, msg, msg_cap);
  int verdict = RS_HOOK_VERDICT_ALLOW;
  const int result = len == 0
                         ? RS_HOOK_UNREACHABLE
                         : exchange(m->owner, msg, len, m->want, seq, m->deadline_ms, &verdict);
  if (big != NULL) rs_sys_munmap(big, RS_HOOK_MAX_MESSAGE);
  switch (result) {
    case RS_HOOK_ANSWERED:
      return verdict != RS_HOOK_VERDICT_DENY;
    case RS_HOOK_SENT:
      return REPORT_ALLOW;
    default:
      return !m->fail_closed; /* unreachable, busy, too late: the fail mode decides */
  }
}

/* Finds the working directory and the executable in the given buffers, then reports. */
static int report_in(const struct exec_call* c, const struct mode* m, char* exe, size_t exe_cap,
                     char* cwd, size_t cwd_cap, uint8_t* msg, size_t msg_cap) {
  const long n = rs_sys_getcwd(cwd, cwd_cap);
  if (n == -ERANGE && cwd_cap < PATH_MAX) return REPORT_NEEDS_ROOM;
  const int have_cwd = n > 1 && cwd[0] == '/'; /* not "(unreachable)/..." */
  struct rs_exe_spec spec = c->exe;
  if (spec.kind == RS_EXE_SEARCH) spec.path_list = env_value("PATH");
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
      .new_process = c->new_process,
      .last = !m->owner, /* a child's private connection carries this report only */
      .identity = &id,
  };
  return send_report(&r, m, msg, msg_cap);
}

/* The rare report whose paths do not fit the stack scratch. */
static __attribute__((noinline)) int report_long_paths(const struct exec_call* c,
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
static int report(const struct exec_call* c) {
  const int pid = rs_sys_getpid();
  struct mode m = {.owner = pid == g_pid};
  struct rs_hook_state_view st;
  read_state(m.owner, &st);
  if (st.valid && st.agent_pid == pid) return 1; /* the agent never waits on itself */
  m.want = st.valid && (st.sync_ops & RS_HOOK_OP_EXEC) != 0;
  m.fail_closed = g_env_fail >= 0 ? g_env_fail : (m.want && st.fail_closed != 0);
  m.deadline_ms = m.want ? (int)st.deadline_ms : 0;
  if (m.deadline_ms <= 0 && (m.want || m.fail_closed)) m.deadline_ms = RS_DEFAULT_DEADLINE_MS;

  struct small_scratch s;
  const int r = report_in(c, &m, s.exe, sizeof s.exe, s.cwd, sizeof s.cwd, s.msg, sizeof s.msg);
  return r == REPORT_NEEDS_ROOM ? report_long_paths(c, &m, s.msg, sizeof s.msg) : r;
}

/* 1: call the real function; 0: refused, the caller fails with EACCES. */
static int check(const struct exec_call* c) {
  if (t_in_hook) return 1;
  t_in_hook = 1;
  ensure_init();
  const int allow = report(c);
  t_in_hook = 0;
  return allow;
}

static int refuse(void) {
  errno = EACCES;
  return -1;
}

/* libc without the function (never with a glibc that has the symbol the program called). */
static int missing(void) {
  errno = ENOSYS;
  return -1;
}

/* ---- the exec family: the caller becomes the new image */

RS_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  const struct exec_call c = {.hook = "execve", .exe = {RS_EXE_PATH, path}, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execve == NULL ? missing() : real.execve(path, argv, envp);
}

RS_EXPORT int execv(const char* path, char* const argv[]) {
  const struct exec_call c = {.hook = "execv", .exe = {RS_EXE_PATH, path}, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execv == NULL ? missing() : real.execv(path, argv);
}

RS_EXPORT int execvp(const char* file, char* const argv[]) {
  const struct exec_call c = {.hook = "execvp", .exe = {RS_EXE_SEARCH, file}, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execvp == NULL ? missing() : real.execvp(file, argv);
}

RS_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  const struct exec_call c = {.hook = "execvpe", .exe = {RS_EXE_SEARCH, file}, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execvpe == NULL ? missing() : real.execvpe(file, argv, envp);
}

RS_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  const struct exec_call c = {
      .hook = "fexecve", .exe = {.kind = RS_EXE_FD, .fd = fd}, .argv = argv};
  if (!check(&c)) return refuse();
  return real.fexecve == NULL ? missing() : real.fexecve(fd, argv, envp);
}

RS_EXPORT int execveat(int dirfd, const char* path, char* const argv[], char* const envp[],
                       int flags) {
  const struct exec_call c = {
      .hook = "execveat", .exe = {RS_EXE_AT, path, dirfd, flags}, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execveat == NULL ? missing() : real.execveat(dirfd, path, argv, envp, flags);
}

/* execl, execlp, execle: collect the variadic arguments on the stack, as libc does, and
 * continue as execve/execvp, which is what libc's own versions do. */
static size_t count_varargs(const char* first, va_list ap) {
  if (first == NULL) return 0;
  size_t n = 1;
  while (va_arg(ap, const char*) != NULL && n < INT_MAX) ++n;
  return n;
}

/* Fills argv[0..argc] (argv[argc] = NULL); with want_envp, returns the pointer after the NULL. */
static char* const* fill_varargs(char** argv, size_t argc, const char* first, va_list ap,
                                 int want_envp) {
  argv[0] = (char*)first;
  for (size_t i = 1; i <= argc; ++i) argv[i] = va_arg(ap, char*);
  return want_envp ? va_arg(ap, char* const*) : NULL;
}

static int too_many_arguments(void) {
  errno = E2BIG;
  return -1;
}

RS_EXPORT int execl(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  const size_t argc = count_varargs(arg, ap);
  va_end(ap);
  if (argc >= INT_MAX) return too_many_arguments();
  char* argv[argc + 1];
  va_start(ap, arg);
  fill_varargs(argv, argc, arg, ap, 0);
  va_end(ap);
  const struct exec_call c = {.hook = "execl", .exe = {RS_EXE_PATH, path}, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execve == NULL ? missing() : real.execve(path, argv, environ);
}

RS_EXPORT int execlp(const char* file, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  const size_t argc = count_varargs(arg, ap);
  va_end(ap);
  if (argc >= INT_MAX) return too_many_arguments();
  char* argv[argc + 1];
  va_start(ap, arg);
  fill_varargs(argv, argc, arg, ap, 0);
  va_end(ap);
  const struct exec_call c = {.hook = "execlp", .exe = {RS_EXE_SEARCH, file}, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execvp == NULL ? missing() : real.execvp(file, argv);
}

RS_EXPORT int execle(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  const size_t argc = count_varargs(arg, ap);
  va_end(ap);
  if (argc >= INT_MAX) return too_many_arguments();
  char* argv[argc + 1];
  va_start(ap, arg);
  char* const* envp = fill_varargs(argv, argc, arg, ap, 1);
  va_end(ap);
  const struct exec_call c = {.hook = "execle", .exe = {RS_EXE_PATH, path}, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execve == NULL ? missing() : real.execve(path, argv, envp);
}

/* ---- spawn-type: the caller creates a child that runs the new image */

RS_EXPORT int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa,
                          const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  const struct exec_call c = {
      .hook = "posix_spawn", .exe = {RS_EXE_PATH, path}, .argv = argv, .new_process = 1};
  if (!check(&c)) return EACCES;
  if (real.posix_spawn == NULL) return ENOSYS;
  return real.posix_spawn(pid, path, fa, attr, argv, envp);
}

RS_EXPORT int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa,
                           const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  const struct exec_call c = {
      .hook = "posix_spawnp", .exe = {RS_EXE_SEARCH, file}, .argv = argv, .new_process = 1};
  if (!check(&c)) return EACCES;
  if (real.posix_spawnp == NULL) return ENOSYS;
  return real.posix_spawnp(pid, file, fa, attr, argv, envp);
}

/* system and popen run "/bin/sh -c COMMAND" with argv[0] "sh", as glibc does. */
static int check_shell(const char* hook, const char* command) {
  char* const argv[] = {"sh", "-c", (char*)command, NULL};
  const struct exec_call c = {.hook = hook,
                              .exe = {RS_EXE_PATH, "/bin/sh"},
                              .argv = argv,
                              .command_line = command,
                              .new_process = 1};
  return check(&c);
}

RS_EXPORT int system(const char* command) {
  ensure_init();
  /* system(NULL) only asks whether a shell exists. */
  if (command != NULL && !check_shell("system", command)) return refuse();
  return real.system == NULL ? missing() : real.system(command);
}

RS_EXPORT FILE* popen(const char* command, const char* mode) {
  ensure_init();
  if (command != NULL && !check_shell("popen", command)) {
    errno = EACCES;
    return NULL;
  }
  if (real.popen == NULL) {
    errno = ENOSYS;
    return NULL;
  }
  return real.popen(command, mode);
}
