/* Concurrent reports on one connection: THREADS threads each posix_spawn TARGET COUNT times
 * (argv: TARGET "tT-N"), waiting for each child. Prints "spawned=N failed=M".
 *
 *   thread_spawn THREADS COUNT TARGET
 */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char** environ;

static int g_count;
static char* g_target;
static int g_spawned;
static int g_failed;

static void* spawner(void* arg) {
  const int t = (int)(long)arg;
  for (int i = 0; i < g_count; ++i) {
    char tag[32];
    snprintf(tag, sizeof tag, "t%d-%d", t, i);
    char* argv[] = {g_target, tag, NULL};
    pid_t pid = 0;
    int status = 0;
    if (posix_spawn(&pid, g_target, NULL, NULL, argv, environ) == 0 &&
        waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      __atomic_add_fetch(&g_spawned, 1, __ATOMIC_RELAXED);
    } else {
      __atomic_add_fetch(&g_failed, 1, __ATOMIC_RELAXED);
    }
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: thread_spawn THREADS COUNT TARGET\n");
    return 2;
  }
  const int threads = atoi(argv[1]);
  g_count = atoi(argv[2]);
  g_target = argv[3];
  pthread_t tids[64];
  if (threads < 1 || threads > 64) return 2;
  for (int t = 0; t < threads; ++t) pthread_create(&tids[t], NULL, spawner, (void*)(long)t);
  for (int t = 0; t < threads; ++t) pthread_join(tids[t], NULL);
  printf("spawned=%d failed=%d\n", g_spawned, g_failed);
  return g_failed == 0 ? 0 : 3;
}
