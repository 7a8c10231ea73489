/* Calls one hooked function, as a program would, so the tests can check what the interposer
 * reports and enforces.
 *
 *   hook_caller FUNCTION TARGET [ARGV0 [ARG...]]
 *
 * exec family (execve execv execvp execvpe execl execlp execle fexecve execveat
 * execveat_empty) and posix_spawn/posix_spawnp run TARGET with argv ARGV0 ARG... (the execl
 * forms take at most three ARGs); system and popen run TARGET as a shell command. Prints
 * "caller pid=N" first, then how the call went. With HOOK_CALLER_CHDIR set it first changes
 * to that directory, so that TARGET may be a relative path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static int failed(const char* what) {
  printf("%s result=-1 errno=%d\n", what, errno);
  return 3;
}

static int spawned(const char* what, int rc, pid_t pid) {
  if (rc != 0) {
    printf("%s rc=%d\n", what, rc);
    return 3;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("%s child=%d status=%d\n", what, (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: hook_caller FUNCTION TARGET [ARGV0 [ARG...]]\n");
    return 2;
  }
  const char* fn = argv[1];
  const char* target = argv[2];
  char** args = argc > 3 ? argv + 3 : argv + 2; /* default argv: TARGET alone */
  const int nargs = argc > 3 ? argc - 3 : 1;
  const char* a[4] = {NULL, NULL, NULL, NULL};
  for (int i = 0; i < nargs && i < 4; ++i) a[i] = args[i];
  const char* dir = getenv("HOOK_CALLER_CHDIR");
  if (dir != NULL && chdir(dir) != 0) return failed("chdir");
  printf("caller pid=%d\n", (int)getpid());
  fflush(stdout);

  if (strcmp(fn, "execve") == 0) {
    execve(target, args, environ);
  } else if (strcmp(fn, "execv") == 0) {
    execv(target, args);
  } else if (strcmp(fn, "execvp") == 0) {
    execvp(target, args);
  } else if (strcmp(fn, "execvpe") == 0) {
    execvpe(target, args, environ);
  } else if (strcmp(fn, "execl") == 0) {
    execl(target, a[0], a[1], a[2], a[3], (char*)NULL);
  } else if (strcmp(fn, "execlp") == 0) {
    execlp(target, a[0], a[1], a[2], a[3], (char*)NULL);
  } else if (strcmp(fn, "execle") == 0) {
    execle(target, a[0], a[1], a[2], a[3], (char*)NULL, environ);
  } else if (strcmp(fn, "fexecve") == 0) {
    const int fd = open(target, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return failed("open");
    fexecve(fd, args, environ);
  } else if (strcmp(fn, "execveat") == 0) {
    char dir_buf[4096], base_buf[4096];
    snprintf(dir_buf, sizeof dir_buf, "%s", target);
    snprintf(base_buf, sizeof base_buf, "%s", target);
    const int dirfd = open(dirname(dir_buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) return failed("open");
    execveat(dirfd, basename(base_buf), args, environ, 0);
  } else if (strcmp(fn, "execveat_empty") == 0) {
    const int fd = open(target, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return failed("open");
    execveat(fd, "", args, environ, AT_EMPTY_PATH);
  } else if (strcmp(fn, "posix_spawn") == 0) {
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, target, NULL, NULL, args, environ);
    return spawned("posix_spawn", rc, pid);
  } else if (strcmp(fn, "posix_spawnp") == 0) {
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, target, NULL, NULL, args, environ);
    return spawned("posix_spawnp", rc, pid);
  } else if (strcmp(fn, "system") == 0) {
    const int rc = system(target);
    if (rc == -1) return failed("system");
    printf("system status=%d\n", WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
    return 0;
  } else if (strcmp(fn, "popen") == 0) {
    FILE* f = popen(target, "r");
    if (f == NULL) return failed("popen");
    char line[4096];
    while (fgets(line, sizeof line, f) != NULL) fputs(line, stdout);
    const int rc = pclose(f);
    printf("popen status=%d\n", WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
    return 0;
  } else {
    fprintf(stderr, "hook_caller: unknown function %s\n", fn);
    return 2;
  }
  return failed(fn); /* an exec that returned */
}
