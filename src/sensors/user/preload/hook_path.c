/* Path resolution for the interposer: the absolute, symlink-free path the kernel will run,
 * computed before the call with stack buffers only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hook_logic.h"

#define RS_MAX_SYMLINKS 40

static const char kDefaultPathList[] = "/bin:/usr/bin";

/* Appends "/name" (name_len bytes) to out (length *len); -1 when it does not fit. */
static int append_component(char* out, size_t* len, size_t cap, const char* name, size_t name_len) {
  if (*len + 1 + name_len + 1 > cap) return -1;
  out[(*len)++] = '/';
  memcpy(out + *len, name, name_len);
  *len += name_len;
  out[*len] = '\0';
  return 0;
}

static void drop_component(char* out, size_t* len) {
  while (*len > 0 && out[*len - 1] != '/') --*len;
  if (*len > 0) --*len; /* the slash itself */
  out[*len] = '\0';
}

int rs_resolve_path(const char* base_dir, const char* path, char* out, size_t cap) {
  if (out == NULL || cap < 2) return -1;
  out[0] = '\0';
  if (path == NULL || path[0] == '\0') return -1;
  char pending[PATH_MAX];
  char target[PATH_MAX];
  size_t len = 0; /* out holds "" for the root, else "/a/b" */
  if (path[0] != '/') {
    if (base_dir == NULL || base_dir[0] != '/') return -1;
    const size_t base_len = strlen(base_dir);
    if (base_len >= cap) return -1;
    memcpy(out, base_dir, base_len + 1);
    len = base_len;
    while (len > 0 && out[len - 1] == '/') out[--len] = '\0';
  }
  const size_t path_len = strlen(path);
  if (path_len >= sizeof pending) return -1;
  memcpy(pending, path, path_len + 1);

  int lexical = 0;
  int links = 0;
  size_t pos = 0;
  while (pending[pos] != '\0') {
    while (pending[pos] == '/') ++pos;
    if (pending[pos] == '\0') break;
    const size_t start = pos;
    while (pending[pos] != '\0' && pending[pos] != '/') ++pos;
    const size_t name_len = pos - start;
    const char* name = pending + start;
    if (name_len == 1 && name[0] == '.') continue;
    if (name_len == 2 && name[0] == '.' && name[1] == '.') {
      drop_component(out, &len);
      continue;
    }
    if (append_component(out, &len, cap, name, name_len) != 0) {
      out[0] = '\0';
      return -1;
    }
    if (lexical) continue;
    struct stat st;
    if (lstat(out, &st) != 0) {
      lexical = 1;
      continue;
    }
    if (!S_ISLNK(st.st_mode)) continue;
    if (++links > RS_MAX_SYMLINKS) {
      lexical = 1;
      continue;
    }
    const ssize_t n = readlink(out, target, sizeof target);
    if (n <= 0 || (size_t)n >= sizeof target) {
      lexical = 1;
      continue;
    }
    /* pending := target + "/" + what was still pending after this component */
    const size_t rest_len = strlen(pending + pos);
    if ((size_t)n + 1 + rest_len + 1 > sizeof pending) {
      out[0] = '\0';
      return -1;
    }
    memmove(pending + n + 1, pending + pos, rest_len + 1);
    memcpy(pending, target, (size_t)n);
    pending[n] = '/';
    pos = 0;
    if (target[0] == '/') {
      len = 0;
      out[0] = '\0';
    } else {
      drop_component(out, &len);
    }
  }
  if (len == 0) {
    out[0] = '/';
    out[1] = '\0';
  }
  return lexical ? 1 : 0;
}

static int is_executable_file(const char* path) {
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
}

int rs_search_path(const char* file, const char* path_list, const char* cwd, char* out,
                   size_t cap) {
  if (file == NULL || file[0] == '\0' || strchr(file, '/') != NULL) return -1;
  if (path_list == NULL) path_list = kDefaultPathList;
  const size_t file_len = strlen(file);
  char candidate[PATH_MAX];
  const char* p = path_list;
  while (1) {
    const char* end = strchr(p, ':');
    const size_t dir_len = end == NULL ? strlen(p) : (size_t)(end - p);
    size_t n = 0;
    if (dir_len == 0) {
      candidate[n++] = '.';
    } else if (dir_len < sizeof candidate) {
      memcpy(candidate, p, dir_len);
      n = dir_len;
    }
    if (n > 0 && n + 1 + file_len < sizeof candidate) {
      candidate[n++] = '/';
      memcpy(candidate + n, file, file_len + 1);
      const int relative = candidate[0] != '/';
      if ((!relative || cwd != NULL) && rs_resolve_path(cwd, candidate, out, cap) == 0 &&
          is_executable_file(out)) {
        return 0;
      }
    }
    if (end == NULL) break;
    p = end + 1;
  }
  if (cap > 0) out[0] = '\0';
  return -1;
}

int rs_fd_path(int fd, char* out, size_t cap) {
  if (fd < 0 || out == NULL || cap < 2) return -1;
  char link[32] = "/proc/self/fd/";
  char digits[12];
  size_t nd = 0;
  unsigned v = (unsigned)fd;
  do {
    digits[nd++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  size_t len = strlen(link);
  while (nd > 0) link[len++] = digits[--nd];
  link[len] = '\0';
  const ssize_t n = readlink(link, out, cap);
  if (n <= 0 || (size_t)n >= cap) {
    out[0] = '\0';
    return -1;
  }
  out[n] = '\0';
  return 0;
}
