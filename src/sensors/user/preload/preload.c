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
 *     message larger than the stack buffer;
 *   - the connection belongs to one pid: a fork child drops the inherited one (pthread_atfork)
 *     and a child the fork handler never saw (vfork, clone) uses a private connection for the
 *     call, so SO_PEERCRED always names the process that is reporting;
 *   - a descriptor the program closed or reused is recognised (device and inode) and never
 *     written to or closed;
 *   - without an agent the call proceeds (fail-open) unless the fail mode says closed.
 * Semantics, wire format and fail modes: sensors/user/hook_protocol.h.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hook_logic.h"

#define RS_EXPORT __attribute__((visibility("default")))
#define RS_DEFAULT_DEADLINE_MS 200
#define RS_STACK_MESSAGE 4096

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

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_ready;
static char g_socket[sizeof(((struct sockaddr_un*)NULL)->sun_path)];
static char g_state_path[PATH_MAX];
static int g_env_fail = -1; /* RINGSIDE_HOOK_FAIL: -1 unset, 0 open, 1 closed */
static const struct rs_hook_state* g_state;
static uint32_t g_seq;

/* The connection of process g_owner_pid, guarded by g_conn_mu. */
static pthread_mutex_t g_conn_mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t g_owner_pid;
static int g_conn_fd = -1;
static dev_t g_conn_dev;
static ino_t g_conn_ino;

static __thread int t_in_hook __attribute__((tls_model("initial-exec")));

static void die(const char* msg) {
  static const char prefix[] = "ringside-preload: ";
  ssize_t ignored = write(STDERR_FILENO, prefix, sizeof prefix - 1);
  ignored = write(STDERR_FILENO, msg, strlen(msg));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  abort();
}

static void* resolve(const char* name, void* hook) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == hook) die("dlsym(RTLD_NEXT) returned the interposer's own hook");
  return f;
}

/* The connection is ours only if the descriptor still names the socket we opened. */
static int conn_is_ours(void) {
  struct stat st;
  return g_conn_fd >= 0 && fstat(g_conn_fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
         st.st_dev == g_conn_dev && st.st_ino == g_conn_ino;
}

static void drop_connection(void) {
  if (conn_is_ours()) close(g_conn_fd);
  g_conn_fd = -1;
}

static void after_fork_child(void) {
  /* Single-threaded here: the inherited connection names the parent, so let it go. */
  drop_connection();
  g_owner_pid = getpid();
  pthread_mutex_init(&g_conn_mu, NULL);
}

static void init_once(void) {
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

  const char* sock = getenv("RINGSIDE_SOCKET");
  if (sock == NULL || sock[0] == '\0') sock = RS_HOOK_DEFAULT_SOCKET;
  const size_t len = strlen(sock);
  if (len < sizeof g_socket && len + sizeof RS_HOOK_STATE_SUFFIX <= sizeof g_state_path) {
    memcpy(g_socket, sock, len + 1);
    memcpy(g_state_path, sock, len + 1);
    memcpy(g_state_path + len, RS_HOOK_STATE_SUFFIX, sizeof RS_HOOK_STATE_SUFFIX);
  }
  const char* fail = getenv("RINGSIDE_HOOK_FAIL");
  if (fail != NULL && strcmp(fail, "closed") == 0) g_env_fail = 1;
  if (fail != NULL && strcmp(fail, "open") == 0) g_env_fail = 0;

  g_owner_pid = getpid();
  pthread_atfork(NULL, NULL, after_fork_child);
  __atomic_store_n(&g_ready, 1, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void rs_preload_constructor(void) {
  pthread_once(&g_once, init_once);
}

/* A hook can run before our constructor (from another library's constructor). */
static void ensure_init(void) {
  if (!__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE)) pthread_once(&g_once, init_once);
}

static const struct rs_hook_state* current_state(void) {
  const struct rs_hook_state* s = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE);
  if (s != NULL || g_state_path[0] == '\0') return s;
  s = rs_hook_state_map(g_state_path);
  if (s == NULL) return NULL;
  const struct rs_hook_state* expected = NULL;
  if (!__atomic_compare_exchange_n(&g_state, &expected, s, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    rs_hook_state_unmap(s);
    return expected;
  }
  return s;
}

/* Sends on this process's shared connection, reconnecting once when it went stale. */
static int exchange_shared(const uint8_t* msg, size_t len, int want, uint32_t seq, int deadline_ms,
                           int* verdict) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fresh = 0;
    if (!conn_is_ours()) {
      g_conn_fd = rs_hook_connect(g_socket);
      if (g_conn_fd < 0) return RS_HOOK_UNREACHABLE;
      struct stat st;
      if (fstat(g_conn_fd, &st) != 0) {
        close(g_conn_fd);
        g_conn_fd = -1;
        return RS_HOOK_UNREACHABLE;
      }
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

static int exchange(const uint8_t* msg, size_t len, int want, uint32_t seq, int deadline_ms,
                    int* verdict) {
  if (g_socket[0] == '\0') return RS_HOOK_UNREACHABLE;
  if (getpid() != g_owner_pid) {
    /* A child the fork handler did not see: its own connection, for this call only. */
    const int fd = rs_hook_connect(g_socket);
    if (fd < 0) return RS_HOOK_UNREACHABLE;
    const int r = rs_hook_exchange(fd, msg, len, want, seq, deadline_ms, verdict);
    close(fd);
    return r;
  }
  pthread_mutex_lock(&g_conn_mu);
  const int r = exchange_shared(msg, len, want, seq, deadline_ms, verdict);
  pthread_mutex_unlock(&g_conn_mu);
  return r;
}

/* Reports the operation; 1: go ahead, 0: refuse (denied, or unreported under fail-closed). */
static int report(const struct rs_exec_report* r) {
  struct rs_hook_state_view st;
  rs_hook_state_read(current_state(), &st);
  if (st.valid && st.agent_pid == getpid()) return 1; /* the agent never waits on itself */
  const int want = st.valid && (st.sync_ops & RS_HOOK_OP_EXEC) != 0;
  const int fail_closed = g_env_fail >= 0 ? g_env_fail : (want && st.fail_closed != 0);
  int deadline_ms = want ? (int)st.deadline_ms : 0;
  if (deadline_ms <= 0 && (want || fail_closed)) deadline_ms = RS_DEFAULT_DEADLINE_MS;

  uint8_t stack_buf[RS_STACK_MESSAGE];
  uint8_t* buf = stack_buf;
  size_t cap = sizeof stack_buf;
  if (rs_hook_exec_size(r) > cap) {
    void* m =
        mmap(NULL, RS_HOOK_MAX_MESSAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return !fail_closed;
    buf = m;
    cap = RS_HOOK_MAX_MESSAGE;
  }
  const uint32_t seq = __atomic_add_fetch(&g_seq, 1, __ATOMIC_RELAXED);
  const size_t len = rs_hook_encode_exec(r, seq, want, buf, cap);
  int verdict = RS_HOOK_VERDICT_ALLOW;
  const int result =
      len == 0 ? RS_HOOK_UNREACHABLE : exchange(buf, len, want, seq, deadline_ms, &verdict);
  if (buf != stack_buf) munmap(buf, RS_HOOK_MAX_MESSAGE);

  switch (result) {
    case RS_HOOK_ANSWERED:
      return verdict != RS_HOOK_VERDICT_DENY;
    case RS_HOOK_SENT:
      return 1;
    default:
      return !fail_closed; /* unreachable, busy, too late: the fail mode decides */
  }
}

/* What every hook does before the real call. exe_kind says how to find the executable. */
enum exe_kind { EXE_PATH, EXE_SEARCH, EXE_FD, EXE_AT };

struct exec_call {
  const char* hook;
  enum exe_kind kind;
  const char* path; /* EXE_PATH, EXE_SEARCH, EXE_AT */
  int fd;           /* EXE_FD, EXE_AT (dirfd) */
  int at_flags;     /* EXE_AT */
  char* const* argv;
  const char* command_line;
  int new_process;
};

static int find_executable(const struct exec_call* c, const char* cwd, char* exe, size_t cap) {
  const char* base = cwd;
  char dir[PATH_MAX];
  switch (c->kind) {
    case EXE_FD:
      if (rs_fd_path(c->fd, exe, cap) == 0) return 0;
      return -1;
    case EXE_SEARCH:
      if (c->path != NULL && c->path[0] != '\0' && strchr(c->path, '/') == NULL) {
        return rs_search_path(c->path, getenv("PATH"), cwd, exe, cap);
      }
      break;
    case EXE_AT:
      if (c->path == NULL) return -1;
      if (c->path[0] == '\0' && (c->at_flags & AT_EMPTY_PATH) != 0) {
        return rs_fd_path(c->fd, exe, cap);
      }
      if (c->path[0] != '/' && c->fd != AT_FDCWD) {
        if (rs_fd_path(c->fd, dir, sizeof dir) != 0) return -1;
        base = dir;
      }
      break;
    case EXE_PATH:
      break;
  }
  if (c->path == NULL || c->path[0] == '\0') return -1;
  return rs_resolve_path(base, c->path, exe, cap) < 0 ? -1 : 0;
}

/* 1: call the real function; 0: refused, the caller fails with EACCES. */
static int check(const struct exec_call* c) {
  ensure_init();
  if (t_in_hook) return 1;
  t_in_hook = 1;
  const int saved_errno = errno;
  int allow = 1;
  char cwd[PATH_MAX];
  char exe[PATH_MAX];
  const int have_cwd = getcwd(cwd, sizeof cwd) != NULL;
  /* Nothing to report when there is nothing to run: the real call fails on its own. */
  if (find_executable(c, have_cwd ? cwd : NULL, exe, sizeof exe) == 0) {
    const struct rs_exec_report r = {
        .hook = c->hook,
        .executable = exe,
        .argv = c->argv,
        .working_directory = have_cwd ? cwd : NULL,
        .command_line = c->command_line,
        .thread_id = gettid(),
        .new_process = c->new_process,
    };
    allow = report(&r);
  }
  errno = saved_errno;
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
  const struct exec_call c = {.hook = "execve", .kind = EXE_PATH, .path = path, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execve == NULL ? missing() : real.execve(path, argv, envp);
}

RS_EXPORT int execv(const char* path, char* const argv[]) {
  const struct exec_call c = {.hook = "execv", .kind = EXE_PATH, .path = path, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execv == NULL ? missing() : real.execv(path, argv);
}

RS_EXPORT int execvp(const char* file, char* const argv[]) {
  const struct exec_call c = {.hook = "execvp", .kind = EXE_SEARCH, .path = file, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execvp == NULL ? missing() : real.execvp(file, argv);
}

RS_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  const struct exec_call c = {.hook = "execvpe", .kind = EXE_SEARCH, .path = file, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execvpe == NULL ? missing() : real.execvpe(file, argv, envp);
}

RS_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  const struct exec_call c = {.hook = "fexecve", .kind = EXE_FD, .fd = fd, .argv = argv};
  if (!check(&c)) return refuse();
  return real.fexecve == NULL ? missing() : real.fexecve(fd, argv, envp);
}

RS_EXPORT int execveat(int dirfd, const char* path, char* const argv[], char* const envp[],
                       int flags) {
  const struct exec_call c = {.hook = "execveat",
                              .kind = EXE_AT,
                              .path = path,
                              .fd = dirfd,
                              .at_flags = flags,
                              .argv = argv};
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
  const struct exec_call c = {.hook = "execl", .kind = EXE_PATH, .path = path, .argv = argv};
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
  const struct exec_call c = {.hook = "execlp", .kind = EXE_SEARCH, .path = file, .argv = argv};
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
  const struct exec_call c = {.hook = "execle", .kind = EXE_PATH, .path = path, .argv = argv};
  if (!check(&c)) return refuse();
  return real.execve == NULL ? missing() : real.execve(path, argv, envp);
}

/* ---- spawn-type: the caller creates a child that runs the new image */

RS_EXPORT int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa,
                          const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  const struct exec_call c = {
      .hook = "posix_spawn", .kind = EXE_PATH, .path = path, .argv = argv, .new_process = 1};
  if (!check(&c)) return EACCES;
  if (real.posix_spawn == NULL) return ENOSYS;
  return real.posix_spawn(pid, path, fa, attr, argv, envp);
}

RS_EXPORT int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa,
                           const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  const struct exec_call c = {
      .hook = "posix_spawnp", .kind = EXE_SEARCH, .path = file, .argv = argv, .new_process = 1};
  if (!check(&c)) return EACCES;
  if (real.posix_spawnp == NULL) return ENOSYS;
  return real.posix_spawnp(pid, file, fa, attr, argv, envp);
}

/* system and popen run "/bin/sh -c COMMAND" with argv[0] "sh", as glibc does. */
static int check_shell(const char* hook, const char* command) {
  char* const argv[] = {"sh", "-c", (char*)command, NULL};
  const struct exec_call c = {.hook = hook,
                              .kind = EXE_PATH,
                              .path = "/bin/sh",
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
