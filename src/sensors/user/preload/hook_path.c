/* Paths for the interposer, with stack buffers only: full resolution (what the kernel will run,
 * for the few paths only the caller itself can resolve), the PATH search of the execvp family
 * and descriptor paths. The last two run between fork and execve: raw system calls. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hook_logic.h"
#include "hook_syscall.h"

#define RS_MAX_SYMLINKS 40

static const char kDefaultPathList[] = "/bin:/usr/bin";

/* Appends "/name" (name_len bytes) to out (length *len); -1 when it does not fit. */
static int append_component(char* out, size_t* len, size_t cap, const char* name, size_t name_len) {
  if (*len + 1 + name_len + 1 > cap) return -1;
  out[(*len)++] = '/';
  rs_copy(out + *len, name, name_len);
  *len += name_len;
  out[*len] = '\0';
  return 0;
}

static void drop_component(char* out, size_t* len) {
  while (*len > 0 && out[*len - 1] != '/') --*len;
  if (*len > 0) --*len; /* the slash itself */
  out[*len] = '\0';
}

static void set_id(struct rs_file_id* id, const struct stat* st) {
  if (id == NULL) return;
  id->valid = S_ISREG(st->st_mode);
  id->dev = (uint64_t)st->st_dev;
  id->ino = (uint64_t)st->st_ino;
  id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int rs_resolve_path(const char* base_dir, const char* path, char* out, size_t cap) {
  return rs_resolve_path_id(base_dir, path, out, cap, NULL);
}

int rs_resolve_path_id(const char* base_dir, const char* path, char* out, size_t cap,
                       struct rs_file_id* id) {
  if (id != NULL) id->valid = 0;
  if (out == NULL || cap < 2) return -1;
  out[0] = '\0';
  if (path == NULL || path[0] == '\0') return -1;
  /* Work buffers no longer than the answer may be: a hook resolving into a short buffer
   * touches few stack pages, and retries with PATH_MAX when that was too short. */
  const size_t room = cap < PATH_MAX ? cap : PATH_MAX;
  char pending[room];
  char target[room];
  size_t len = 0; /* out holds "" for the root, else "/a/b" */
  if (path[0] != '/') {
    if (base_dir == NULL || base_dir[0] != '/') return -1;
    const size_t base_len = rs_strlen(base_dir);
    if (base_len >= cap) return -1;
    rs_copy(out, base_dir, base_len + 1);
    len = base_len;
    while (len > 0 && out[len - 1] == '/') out[--len] = '\0';
  }
  const size_t path_len = rs_strlen(path);
  if (path_len >= sizeof pending) return -1;
  rs_copy(pending, path, path_len + 1);

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
    if (id != NULL) id->valid = 0; /* it names the last component only */
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
    if (rs_sys_fstatat(AT_FDCWD, out, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      lexical = 1;
      continue;
    }
    if (!S_ISLNK(st.st_mode)) {
      set_id(id, &st);
      continue;
    }
    if (++links > RS_MAX_SYMLINKS) {
      lexical = 1;
      continue;
    }
    const long n = rs_sys_readlinkat(AT_FDCWD, out, target, sizeof target);
    if (n <= 0 || (size_t)n >= sizeof target) {
      lexical = 1;
      continue;
    }
    /* pending := target + "/" + what was still pending after this component */
    const size_t rest_len = rs_strlen(pending + pos);
    if ((size_t)n + 1 + rest_len + 1 > sizeof pending) {
      out[0] = '\0';
      return -1;
    }
    rs_move(pending + n + 1, pending + pos, rest_len + 1);
    rs_copy(pending, target, (size_t)n);
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

/* A regular file the caller may execute: X_OK with the effective ids, as execve checks. */
static int is_executable_file(const char* path) {
  struct stat st;
  if (rs_sys_fstatat(AT_FDCWD, path, &st, 0) != 0 || !S_ISREG(st.st_mode)) return 0;
  const int r = rs_sys_faccessat2(AT_FDCWD, path, X_OK, AT_EACCESS);
  if (r != -ENOSYS) return r == 0;
  const int saved = errno; /* a kernel without faccessat2: libc emulates AT_EACCESS */
  const int ok = faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
  errno = saved;
  return ok;
}

int rs_search_path(const char* file, const char* path_list, char* out, size_t cap) {
  if (out == NULL || cap == 0) return -1;
  out[0] = '\0';
  if (file == NULL || file[0] == '\0') return -1;
  for (const char* c = file; *c != '\0'; ++c) {
    if (*c == '/') return -1;
  }
  if (path_list == NULL) path_list = kDefaultPathList;
  const size_t file_len = rs_strlen(file);
  const char* p = path_list;
  while (1) {
    const char* end = p;
    while (*end != '\0' && *end != ':') ++end;
    size_t dir_len = (size_t)(end - p);
    const char* dir = p;
    if (dir_len == 0) { /* the current directory, as libc spells it */
      dir = ".";
      dir_len = 1;
    }
    if (dir_len + 1 + file_len < cap) {
      rs_copy(out, dir, dir_len);
      out[dir_len] = '/';
      rs_copy(out + dir_len + 1, file, file_len + 1);
      if (is_executable_file(out)) return 0;
    } else if (cap < PATH_MAX && dir_len + 1 + file_len < PATH_MAX) {
      out[0] = '\0';
      return -2; /* libc would try this one: only a longer buffer can say */
    }
    if (*end == '\0') break;
    p = end + 1;
  }
  out[0] = '\0';
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
  size_t len = sizeof "/proc/self/fd/" - 1;
  while (nd > 0) link[len++] = digits[--nd];
  link[len] = '\0';
  const long n = rs_sys_readlinkat(AT_FDCWD, link, out, cap);
  if (n <= 0 || (size_t)n >= cap) {
    out[0] = '\0';
    return -1;
  }
  out[n] = '\0';
  return 0;
}

/* -1 as the answer for a buffer that was too short, when a longer one could help. */
static int short_buffer(size_t cap) { return cap < PATH_MAX ? RS_EXE_NEEDS_ROOM : -1; }

/* Resolution into out, which path may be. */
static int resolve_into(const char* cwd, const char* path, char* out, size_t cap,
                        struct rs_file_id* id) {
  const size_t len = rs_strlen(path);
  if (len >= PATH_MAX) return -1;
  char copy[len + 1];
  rs_copy(copy, path, len + 1);
  return rs_resolve_path_id(cwd, copy, out, cap, id) >= 0 ? 0 : short_buffer(cap);
}

int rs_find_executable(const struct rs_exe_spec* spec, const char* cwd, char* buf, size_t cap,
                       struct rs_file_id* id) {
  const char* path = spec->path;
  id->valid = 0;
  const int empty_at = spec->kind == RS_EXE_AT && path != NULL && path[0] == '\0' &&
                       (spec->at_flags & AT_EMPTY_PATH) != 0;
  if (spec->kind == RS_EXE_FD || empty_at) {
    if (rs_fd_path(spec->fd, buf, cap) != 0) return short_buffer(cap);
    struct stat st;
    if (rs_sys_fstat(spec->fd, &st) == 0) set_id(id, &st);
    return 0;
  }
  if (path == NULL || path[0] == '\0') return -1;
  if (spec->kind == RS_EXE_SEARCH) {
    const char* p = path;
    while (*p != '\0' && *p != '/') ++p;
    if (*p == '\0') {
      const int r = rs_search_path(path, spec->path_list, buf, cap);
      if (r != 0) return r == -2 ? RS_EXE_NEEDS_ROOM : -1;
      path = buf;
    }
  } else if (spec->kind == RS_EXE_AT && path[0] != '/' && spec->fd != AT_FDCWD) {
    /* relative to the directory: its path, then the same as any other */
    if (rs_fd_path(spec->fd, buf, cap) != 0) return short_buffer(cap);
    const size_t dir_len = rs_strlen(buf);
    const size_t path_len = rs_strlen(path);
    if (dir_len + 1 + path_len >= cap) return short_buffer(cap);
    buf[dir_len] = '/';
    rs_copy(buf + dir_len + 1, path, path_len + 1);
    path = buf;
  }
  if (path[0] != '/' && cwd == NULL) return -1;
  return resolve_into(cwd, path, buf, cap, id);
}

int rs_resolve_file_path(int dirfd, const char* cwd, const char* path, int follow, char* out,
                         size_t cap) {
  if (out == NULL || cap < 2) return -1;
  out[0] = '\0';
  if (path == NULL || path[0] == '\0') return -1;
  const size_t room = cap < PATH_MAX ? cap : PATH_MAX;
  char dir[room];
  const char* base = cwd;
  if (path[0] != '/' && dirfd != AT_FDCWD) {
    if (rs_fd_path(dirfd, dir, sizeof dir) != 0 || dir[0] != '/') return -1;
    base = dir;
  }
  if (path[0] != '/' && (base == NULL || base[0] != '/')) return -1;
  /* Split off the last component unless it must be followed (or is "." or ".."). */
  const size_t len = rs_strlen(path);
  size_t end = len;
  while (end > 1 && path[end - 1] == '/') --end;
  size_t start = end;
  while (start > 0 && path[start - 1] != '/') --start;
  const size_t name_len = end - start;
  const int dots = (name_len == 1 && path[start] == '.') ||
                   (name_len == 2 && path[start] == '.' && path[start + 1] == '.');
  if (follow || dots || name_len == 0) return rs_resolve_path(base, path, out, cap);
  char parent[room];
  if (start >= sizeof parent) return -1;
  int r;
  if (start == 0) {
    const size_t base_len = rs_strlen(base);
    if (base_len >= cap) return -1;
    rs_copy(out, base, base_len + 1);
    r = 0;
  } else {
    rs_copy(parent, path, start);
    parent[start] = '\0';
    r = rs_resolve_path(base, parent, out, cap);
    if (r < 0) return -1;
  }
  size_t out_len = rs_strlen(out);
  while (out_len > 0 && out[out_len - 1] == '/') out[--out_len] = '\0';
  if (out_len + 1 + name_len + 1 > cap) {
    out[0] = '\0';
    return -1;
  }
  out[out_len] = '/';
  rs_copy(out + out_len + 1, path + start, name_len);
  out[out_len + 1 + name_len] = '\0';
  return r;
}
