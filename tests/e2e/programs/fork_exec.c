/* Fork safety: report once (so this process holds a connection), then fork (or vfork) and
 * exec TARGET in the child. The child's report must name the child, not the parent.
 *
 *   fork_exec fork|vfork TARGET
 */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: fork_exec fork|vfork TARGET\n");
    return 2;
  }
  char* target = argv[2];
  char* first_argv[] = {target, "first", NULL};
  pid_t first = 0;
  if (posix_spawn(&first, target, NULL, NULL, first_argv, environ) != 0) return 3;
  waitpid(first, NULL, 0);
  printf("parent=%d\n", (int)getpid());
  fflush(stdout);

  char* child_argv[] = {target, "child", NULL};
  const int use_vfork = strcmp(argv[1], "vfork") == 0;
  const pid_t pid = use_vfork ? vfork() : fork();
  if (pid < 0) return 3;
  if (pid == 0) {
    execv(target, child_argv);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("child=%d status=%d\n", (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}
