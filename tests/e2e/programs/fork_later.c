/* A parent that forks twice, the second time only once GOFILE exists: the first fork maps the
 * interposer's state file in this process (its children inherit the mapping); the test changes
 * the policy and hides the state file's name in between. The second child must still see the
 * agent's current state, through the mapping it inherited. With `spawn`, the parent runs both
 * with posix_spawn instead, reporting them itself (its own mapping, made at the first report).
 *
 *   fork_later FIRST SECOND GOFILE [spawn]
 *     prints "first=STATUS" and "second errno=E" (0: it ran)
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;
static int g_spawn;

/* Forks; the child runs TARGET and, when that fails, exits with the errno (0-125). With
 * g_spawn, posix_spawn's error is the result. */
static int fork_exec(char* target, char* arg) {
  if (g_spawn) {
    char* argv[] = {target, arg, NULL};
    pid_t child = 0;
    const int err = posix_spawn(&child, target, NULL, NULL, argv, environ);
    if (err != 0) return err;
    int status = 0;
    return waitpid(child, &status, 0) == child && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    char* argv[] = {target, arg, NULL};
    execv(target, argv);
    _exit(errno > 0 && errno < 126 ? errno : 125);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

int main(int argc, char** argv) {
  if (argc != 4 && !(argc == 5 && strcmp(argv[4], "spawn") == 0)) {
    fprintf(stderr, "usage: fork_later FIRST SECOND GOFILE [spawn]\n");
    return 2;
  }
  g_spawn = argc == 5;
  printf("first=%d\n", fork_exec(argv[1], "first"));
  fflush(stdout);
  struct stat st;
  const struct timespec tick = {0, 10 * 1000 * 1000};
  for (int i = 0; i < 6000 && stat(argv[3], &st) != 0; ++i) nanosleep(&tick, NULL);
  printf("second errno=%d\n", fork_exec(argv[2], "second"));
  return 0;
}
