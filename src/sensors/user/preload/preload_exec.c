/* The exec family, posix_spawn[p], system and popen: each call is reported to the agent before
 * it happens and refused with EACCES when the agent says deny (preload.c holds the reporting).
 * _exit and _Exit: the process tells the agent how many reports it could not send. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook_syscall.h"
#include "preload_internal.h"

extern char** environ;

typedef int (*execve_fn)(const char*, char* const[], char* const[]);
typedef int (*execv_fn)(const char*, char* const[]);
typedef int (*fexecve_fn)(int, char* const[], char* const[]);
typedef int (*execveat_fn)(int, const char*, char* const[], char* const[], int);
typedef int (*spawn_fn)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                        const posix_spawnattr_t*, char* const[], char* const[]);
typedef int (*system_fn)(const char*);
typedef FILE* (*popen_fn)(const char*, const char*);
typedef void (*exit_fn)(int);

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
  exit_fn exit_now;  /* _exit */
  exit_fn exit_now2; /* _Exit */
} real;

void rs_pl_init_exec(void) {
  real.execve = (execve_fn)rs_pl_resolve("execve", (void*)execve);
  real.execv = (execv_fn)rs_pl_resolve("execv", (void*)execv);
  real.execvp = (execv_fn)rs_pl_resolve("execvp", (void*)execvp);
  real.execvpe = (execve_fn)rs_pl_resolve("execvpe", (void*)execvpe);
  real.fexecve = (fexecve_fn)rs_pl_resolve("fexecve", (void*)fexecve);
  real.execveat = (execveat_fn)rs_pl_resolve("execveat", (void*)execveat);
  real.posix_spawn = (spawn_fn)rs_pl_resolve("posix_spawn", (void*)posix_spawn);
  real.posix_spawnp = (spawn_fn)rs_pl_resolve("posix_spawnp", (void*)posix_spawnp);
  real.system = (system_fn)rs_pl_resolve("system", (void*)system);
  real.popen = (popen_fn)rs_pl_resolve("popen", (void*)popen);
  real.exit_now = (exit_fn)rs_pl_resolve("_exit", (void*)_exit);
  real.exit_now2 = (exit_fn)rs_pl_resolve("_Exit", (void*)_Exit);
}

/* ---- leaving without exit(): the destructor that tells the count of unsent reports does not
 * run, so these tell it first */

RS_EXPORT void _exit(int status) {
  rs_pl_last_words();
  if (real.exit_now != NULL) real.exit_now(status);
  for (;;) RS_SYS(SYS_exit_group, status, 0, 0);
}

RS_EXPORT void _Exit(int status) {
  rs_pl_last_words();
  if (real.exit_now2 != NULL) real.exit_now2(status);
  for (;;) RS_SYS(SYS_exit_group, status, 0, 0);
}

/* ---- the exec family: the caller becomes the new image */

RS_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  const struct rs_pl_exec_call c = {.hook = "execve", .exe = {RS_EXE_PATH, path}, .argv = argv};
  if (!rs_pl_check_exec(&c)) return rs_pl_refuse();
  return real.execve == NULL ? rs_pl_missing() : real.execve(path, argv, envp);
}

RS_EXPORT int execv(const char* path, char* const argv[]) {
  const struct rs_pl_exec_call c = {.hook = "execv", .exe = {RS_EXE_PATH, path}, .argv = argv};
  if (!rs_pl_check_exec(&c)) return rs_pl_refuse();
  return real.execv == NULL ? rs_pl_missing() : real.execv(path, argv);
}

RS_EXPORT int execvp(const char* file, char* const argv[]) {
  const struct rs_pl_exec_call c = {.hook = "execvp", .exe = {RS_EXE_SEARCH, file}, .argv = argv};
  if (!rs_pl_check_exec(&c)) return rs_pl_refuse();
  return real.execvp == NULL ? rs_pl_missing() : real.execvp(file, argv);
}

RS_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  const struct rs_pl_exec_call c = {.hook = "execvpe", .exe = {RS_EXE_SEARCH, file}, .argv = argv};
  if (!rs_pl_check_exec(&c)) return rs_pl_refuse();
  return real.execvpe == NULL ? rs_pl_missing() : real.execvpe(file, argv, envp);
}

RS_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  const struct rs_pl_exec_call c = {
      .hook = "fexecve", .exe = {.kind = RS_EXE_FD, .fd = fd}, .argv = argv};
  if (!rs_pl_check_exec(&c)) return rs_pl_refuse();
  return real.fexecve == NULL ? rs_pl_missing() : real.fexecve(fd, argv, envp);
}

RS_EXPORT int execveat(int dirfd, const char* path, char* const argv[], char* const envp[],
                       int flags) {
  const struct rs_pl_exec_call c = {
      .hook = "execveat", .exe = {RS_EXE_AT, path, dirfd, flags}, .argv = argv};
  if (!rs_pl_check_exec(&c)) return rs_pl_refuse();
  return real.execveat == NULL ? rs_pl_missing() : real.execveat(dirfd, path, argv, envp, flags);
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
  const struct rs_pl_exec_call c = {.hook = "execl", .exe = {RS_EXE_PATH, path}, .argv = argv};
  if (!rs_pl_check_exec(&c)) return rs_pl_refuse();
  return real.execve == NULL ? rs_pl_missing() : real.execve(path, argv, environ);
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
  const struct rs_pl_exec_call c = {.hook = "execlp", .exe = {RS_EXE_SEARCH, file}, .argv = argv};
  if (!rs_pl_check_exec(&c)) return rs_pl_refuse();
  return real.execvp == NULL ? rs_pl_missing() : real.execvp(file, argv);
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
  const struct rs_pl_exec_call c = {.hook = "execle", .exe = {RS_EXE_PATH, path}, .argv = argv};
  if (!rs_pl_check_exec(&c)) return rs_pl_refuse();
  return real.execve == NULL ? rs_pl_missing() : real.execve(path, argv, envp);
}

/* ---- spawn-type: the caller creates a child that runs the new image */

RS_EXPORT int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa,
                          const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  const struct rs_pl_exec_call c = {
      .hook = "posix_spawn", .exe = {RS_EXE_PATH, path}, .argv = argv, .new_process = 1};
  if (!rs_pl_check_exec(&c)) return EACCES;
  if (real.posix_spawn == NULL) return ENOSYS;
  return real.posix_spawn(pid, path, fa, attr, argv, envp);
}

RS_EXPORT int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa,
                           const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  const struct rs_pl_exec_call c = {
      .hook = "posix_spawnp", .exe = {RS_EXE_SEARCH, file}, .argv = argv, .new_process = 1};
  if (!rs_pl_check_exec(&c)) return EACCES;
  if (real.posix_spawnp == NULL) return ENOSYS;
  return real.posix_spawnp(pid, file, fa, attr, argv, envp);
}

/* system and popen run "/bin/sh -c COMMAND" with argv[0] "sh", as glibc does. */
static int check_shell(const char* hook, const char* command) {
  char* const argv[] = {"sh", "-c", (char*)command, NULL};
  const struct rs_pl_exec_call c = {.hook = hook,
                                    .exe = {RS_EXE_PATH, "/bin/sh"},
                                    .argv = argv,
                                    .command_line = command,
                                    .new_process = 1};
  return rs_pl_check_exec(&c);
}

RS_EXPORT int system(const char* command) {
  rs_pl_ensure_init();
  /* system(NULL) only asks whether a shell exists. */
  if (command != NULL && !check_shell("system", command)) return rs_pl_refuse();
  return real.system == NULL ? rs_pl_missing() : real.system(command);
}

RS_EXPORT FILE* popen(const char* command, const char* mode) {
  rs_pl_ensure_init();
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
