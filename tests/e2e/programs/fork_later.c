/* A parent that forks twice, the second time only once GOFILE exists: the first fork maps the
 * interposer's state file in this process (its children inherit the mapping); the test changes
 * the policy and hides the state file's name in between. The second child must still see the
 * agent's current state, through the mapping it inherited.
 *
 *   fork_later FIRST SECOND GOFILE    prints "first=STATUS" and "second errno=E" (0: it ran)
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Forks; the child runs TARGET and, when that fails, exits with the errno (0-125). */
static int fork_exec(char* target, char* arg) {
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
  if (argc != 4) {
    fprintf(stderr, "usage: fork_later FIRST SECOND GOFILE\n");
    return 2;
  }
  printf("first=%d\n", fork_exec(argv[1], "first"));
  fflush(stdout);
  struct stat st;
  const struct timespec tick = {0, 10 * 1000 * 1000};
  for (int i = 0; i < 6000 && stat(argv[3], &st) != 0; ++i) nanosleep(&tick, NULL);
  printf("second errno=%d\n", fork_exec(argv[2], "second"));
  return 0;
}
