/* Calls one hooked file function, as a program would, so the tests can check what the
 * interposer reports and enforces.
 *
 *   file_caller FUNCTION ARG...
 *
 *   open PATH r|w|c        open(PATH, O_RDONLY | O_WRONLY|O_TRUNC | O_CREAT|O_WRONLY, 0640)
 *   open64 PATH | open_2 PATH | creat PATH | fopen PATH MODE | freopen PATH
 *   openat DIR NAME        openat on an O_DIRECTORY descriptor of DIR, O_RDONLY
 *   read PATH              open(O_RDONLY) and read: prints how many bytes came back
 *   unlink PATH | unlinkat DIR NAME | rmdir PATH | mkdir PATH | truncate PATH | chmod PATH
 *   rename FROM TO | renameat DIR FROM TO | renameat2 DIR FROM TO | link FROM TO
 *   symlink CONTENT LINK | fchmodat DIR NAME
 *
 * Prints "caller pid=N", then "FUNCTION result=R errno=E". With FILE_CALLER_CHDIR set it first
 * changes to that directory, so that the paths may be relative.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int __open_2(const char*, int);

static int done(const char* fn, long result) {
  printf("%s result=%ld errno=%d\n", fn, result, result < 0 ? errno : 0);
  return result < 0 ? 3 : 0;
}

static int dir_fd(const char* dir) { return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC); }

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: file_caller FUNCTION ARG...\n");
    return 2;
  }
  const char* dir = getenv("FILE_CALLER_CHDIR");
  if (dir != NULL && chdir(dir) != 0) {
    perror("chdir");
    return 2;
  }
  printf("caller pid=%d\n", (int)getpid());
  fflush(stdout);
  const char* fn = argv[1];
  const char* a = argv[2];
  const char* b = argc > 3 ? argv[3] : "";
  const char* c = argc > 4 ? argv[4] : "";
  errno = 0;
  if (strcmp(fn, "open") == 0) {
    const int flags = b[0] == 'w'   ? O_WRONLY | O_TRUNC
                      : b[0] == 'c' ? O_CREAT | O_WRONLY
                                    : O_RDONLY;
    return done(fn, open(a, flags, 0640));
  }
  if (strcmp(fn, "open64") == 0) return done(fn, open64(a, O_RDONLY));
  if (strcmp(fn, "open_2") == 0) return done(fn, __open_2(a, O_RDONLY));
  if (strcmp(fn, "creat") == 0) return done(fn, creat(a, 0600));
  if (strcmp(fn, "openat") == 0) return done(fn, openat(dir_fd(a), b, O_RDONLY));
  if (strcmp(fn, "read") == 0) {
    const int fd = open(a, O_RDONLY);
    if (fd < 0) return done(fn, -1);
    char buf[256];
    const ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return done(fn, n);
  }
  if (strcmp(fn, "fopen") == 0 || strcmp(fn, "freopen") == 0) {
    FILE* f = strcmp(fn, "fopen") == 0 ? fopen(a, b[0] != '\0' ? b : "r")
                                       : freopen(a, "r", fopen("/dev/null", "r"));
    const int e = errno;
    if (f != NULL) fclose(f);
    errno = e;
    return done(fn, f != NULL ? 0 : -1);
  }
  if (strcmp(fn, "unlink") == 0) return done(fn, unlink(a));
  if (strcmp(fn, "unlinkat") == 0) return done(fn, unlinkat(dir_fd(a), b, 0));
  if (strcmp(fn, "rmdir") == 0) return done(fn, rmdir(a));
  if (strcmp(fn, "mkdir") == 0) return done(fn, mkdir(a, 0750));
  if (strcmp(fn, "truncate") == 0) return done(fn, truncate(a, 1));
  if (strcmp(fn, "chmod") == 0) return done(fn, chmod(a, 0600));
  if (strcmp(fn, "fchmodat") == 0) return done(fn, fchmodat(dir_fd(a), b, 0604, 0));
  if (strcmp(fn, "rename") == 0) return done(fn, rename(a, b));
  if (strcmp(fn, "renameat") == 0) {
    const int d = dir_fd(a);
    return done(fn, renameat(d, b, d, c));
  }
  if (strcmp(fn, "renameat2") == 0) {
    const int d = dir_fd(a);
    return done(fn, renameat2(d, b, d, c, RENAME_NOREPLACE));
  }
  if (strcmp(fn, "link") == 0) return done(fn, link(a, b));
  if (strcmp(fn, "symlink") == 0) return done(fn, symlink(a, b));
  fprintf(stderr, "file_caller: unknown function %s\n", fn);
  return 2;
}
