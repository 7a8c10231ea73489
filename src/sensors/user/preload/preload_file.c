/* File hooks: the open family (open, open64, openat, openat64, their fortify variants, creat,
 * fopen, fopen64, freopen, freopen64), unlink, unlinkat, rmdir, rename, renameat, renameat2,
 * truncate, mkdir, mkdirat, chmod, fchmodat, link, linkat, symlink, symlinkat. Each call is
 * reported before it happens as file.open / create / delete / rename / modify / chmod / link
 * with the path as the program named it and resolved (absolute, "..", "." and symbolic links
 * gone where they exist, in the caller's own root), and refused with EACCES (fopen, freopen:
 * NULL) when the agent says deny.
 *
 * Cost: a hook whose class the agent does not watch, or an open that settings.file.opens does
 * not report (a read under "writes"), reads the mapped state file and calls libc — no system
 * call of its own. Only a reported call resolves its path (one fstatat per component).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "hook_syscall.h"
#include "preload_internal.h"

typedef int (*open_fn)(const char*, int, ...);
typedef int (*openat_fn)(int, const char*, int, ...);
typedef int (*open2_fn)(const char*, int);
typedef int (*openat2_fn)(int, const char*, int);
typedef int (*creat_fn)(const char*, mode_t);
typedef FILE* (*fopen_fn)(const char*, const char*);
typedef FILE* (*freopen_fn)(const char*, const char*, FILE*);
typedef int (*path_fn)(const char*);
typedef int (*pathat_fn)(int, const char*, int);
typedef int (*path2_fn)(const char*, const char*);
typedef int (*renameat_fn)(int, const char*, int, const char*);
typedef int (*renameat2_fn)(int, const char*, int, const char*, unsigned);
typedef int (*truncate_fn)(const char*, off_t);
typedef int (*pathmode_fn)(const char*, mode_t);
typedef int (*mkdirat_fn)(int, const char*, mode_t);
typedef int (*fchmodat_fn)(int, const char*, mode_t, int);
typedef int (*linkat_fn)(int, const char*, int, const char*, int);
typedef int (*symlinkat_fn)(const char*, int, const char*);

static struct {
  open_fn open, open64;
  openat_fn openat, openat64;
  open2_fn open_2, open64_2;
  openat2_fn openat_2, openat64_2;
  creat_fn creat, creat64;
  fopen_fn fopen, fopen64;
  freopen_fn freopen, freopen64;
  path_fn unlink, rmdir;
  pathat_fn unlinkat;
  path2_fn rename, link, symlink;
  renameat_fn renameat;
  renameat2_fn renameat2;
  truncate_fn truncate, truncate64;
  pathmode_fn mkdir, chmod;
  mkdirat_fn mkdirat;
  fchmodat_fn fchmodat;
  linkat_fn linkat;
  symlinkat_fn symlinkat;
} real;

#define RESOLVE(field, name, type) real.field = (type)rs_pl_resolve(#name, (void*)name)

int __open_2(const char*, int);
int __open64_2(const char*, int);
int __openat_2(int, const char*, int);
int __openat64_2(int, const char*, int);

void rs_pl_init_file(void) {
  RESOLVE(open, open, open_fn);
  RESOLVE(open64, open64, open_fn);
  RESOLVE(openat, openat, openat_fn);
  RESOLVE(openat64, openat64, openat_fn);
  RESOLVE(open_2, __open_2, open2_fn);
  RESOLVE(open64_2, __open64_2, open2_fn);
  RESOLVE(openat_2, __openat_2, openat2_fn);
  RESOLVE(openat64_2, __openat64_2, openat2_fn);
  RESOLVE(creat, creat, creat_fn);
  RESOLVE(creat64, creat64, creat_fn);
  RESOLVE(fopen, fopen, fopen_fn);
  RESOLVE(fopen64, fopen64, fopen_fn);
  RESOLVE(freopen, freopen, freopen_fn);
  RESOLVE(freopen64, freopen64, freopen_fn);
  RESOLVE(unlink, unlink, path_fn);
  RESOLVE(rmdir, rmdir, path_fn);
  RESOLVE(unlinkat, unlinkat, pathat_fn);
  RESOLVE(rename, rename, path2_fn);
  RESOLVE(link, link, path2_fn);
  RESOLVE(symlink, symlink, path2_fn);
  RESOLVE(renameat, renameat, renameat_fn);
  RESOLVE(renameat2, renameat2, renameat2_fn);
  RESOLVE(truncate, truncate, truncate_fn);
  RESOLVE(truncate64, truncate64, truncate_fn);
  RESOLVE(mkdir, mkdir, pathmode_fn);
  RESOLVE(chmod, chmod, pathmode_fn);
  RESOLVE(mkdirat, mkdirat, mkdirat_fn);
  RESOLVE(fchmodat, fchmodat, fchmodat_fn);
  RESOLVE(linkat, linkat, linkat_fn);
  RESOLVE(symlinkat, symlinkat, symlinkat_fn);
}

/* ---- one report */

struct file_call {
  const char* hook;
  uint16_t event; /* RS_EVENT_FILE_* */
  int dirfd;
  const char* path; /* as the program named it */
  int follow;       /* the last component is followed (open, truncate, chmod) */
  int dirfd2;
  const char* path2; /* rename, link, symlink: the new name; NULL otherwise */
  int symlink;       /* path is a symbolic link's content: sent as typed only */
  int is_open;
  int flags; /* open flags (is_open) */
  int has_mode;
  unsigned mode;
};

/* Opens that can change the file: what settings.file.opens "writes" reports. */
static int open_writes(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) != 0 ||
         (flags & O_TMPFILE) == O_TMPFILE;
}

static int open_reported(uint32_t opens, int flags) {
  if (opens == RS_HOOK_OPENS_ALL) return 1;
  return opens == RS_HOOK_OPENS_WRITES && open_writes(flags);
}

/* Buffers of one report: on the stack for usual paths, in a mapping for long ones. */
#define RS_SMALL_PATH 1024
struct file_scratch_small {
  char cwd[RS_SMALL_PATH];
  char path[RS_SMALL_PATH];
  char target[RS_SMALL_PATH];
  uint8_t msg[3 * RS_SMALL_PATH + PATH_MAX + 512];
};
struct file_scratch_big {
  char cwd[PATH_MAX];
  char path[PATH_MAX];
  char target[PATH_MAX];
  uint8_t msg[4 * PATH_MAX + 512];
};
enum { FILE_REFUSE = 0, FILE_ALLOW = 1, FILE_NEEDS_ROOM = 2 };

static int needs_cwd(int dirfd, const char* path) {
  return path != NULL && path[0] != '/' && dirfd == AT_FDCWD;
}

static int report_in(const struct file_call* c, const struct rs_pl_mode* m, char* cwd, char* path,
                     char* target, size_t cap, uint8_t* msg, size_t msg_cap) {
  const int big = cap >= PATH_MAX;
  if (rs_strlen(c->path) >= cap || (c->path2 != NULL && rs_strlen(c->path2) >= cap)) {
    return big ? FILE_ALLOW : FILE_NEEDS_ROOM; /* longer than PATH_MAX: the call fails */
  }
  const char* base = NULL;
  if ((!c->symlink && needs_cwd(c->dirfd, c->path)) ||
      (c->path2 != NULL && needs_cwd(c->dirfd2, c->path2))) {
    const long n = rs_sys_getcwd(cwd, cap);
    if (n == -ERANGE && !big) return FILE_NEEDS_ROOM;
    if (n > 1 && cwd[0] == '/') base = cwd; /* not "(unreachable)/..." */
  }
  path[0] = '\0';
  target[0] = '\0';
  if (!c->symlink && rs_resolve_file_path(c->dirfd, base, c->path, c->follow, path, cap) < 0 &&
      !big) {
    return FILE_NEEDS_ROOM;
  }
  if (c->path2 != NULL && rs_resolve_file_path(c->dirfd2, base, c->path2, 0, target, cap) < 0 &&
      !big) {
    return FILE_NEEDS_ROOM;
  }
  if ((path[0] != '\0' && rs_pl_is_agent_file(path)) ||
      (target[0] != '\0' && rs_pl_is_agent_file(target))) {
    return FILE_ALLOW; /* the agent's own socket and state file are never reported */
  }
  const uint32_t seq = rs_pl_seq(m);
  uint16_t flags = m->want ? RS_HOOK_FLAG_WANT_VERDICT : 0;
  if (!m->owner) flags |= RS_HOOK_FLAG_LAST;
  struct rs_hook_writer w;
  rs_hook_writer_init(&w, msg, msg_cap, RS_HOOK_MSG_EVENT, seq, c->event, flags);
  int bad = rs_hook_put_str(&w, RS_FIELD_RINGSIDE_HOOK, c->hook, rs_strlen(c->hook));
  size_t exe_len = 0;
  const char* exe = rs_pl_executable(m, &exe_len);
  if (exe != NULL) bad |= rs_hook_put_str(&w, RS_FIELD_PROCESS_EXECUTABLE, exe, exe_len);
  bad |= rs_hook_put_int(&w, RS_FIELD_PROCESS_THREAD_ID, rs_sys_gettid());
  bad |= rs_hook_put_str(&w, RS_FIELD_RINGSIDE_FILE_REQUESTED_PATH, c->path, rs_strlen(c->path));
  if (path[0] != '\0') bad |= rs_hook_put_str(&w, RS_FIELD_FILE_PATH, path, rs_strlen(path));
  if (target[0] != '\0') {
    bad |= rs_hook_put_str(&w, RS_FIELD_FILE_TARGET_PATH, target, rs_strlen(target));
  }
  if (c->is_open) bad |= rs_hook_put_int(&w, RS_HOOK_FIELD_OPEN_FLAGS, (int64_t)c->flags);
  if (c->has_mode) bad |= rs_hook_put_int(&w, RS_HOOK_FIELD_MODE, (int64_t)c->mode);
  const uint64_t unsent = rs_pl_take_unsent(m->owner);
  if (unsent != 0) bad |= rs_hook_put_int(&w, RS_HOOK_FIELD_UNSENT, (int64_t)unsent);
  const size_t len = rs_hook_writer_finish(&w);
  if (bad != 0 || len == 0) {
    rs_pl_add_unsent(m->owner, unsent + 1);
    return !m->fail_closed;
  }
  struct rs_hook_address unused;
  int redirected = 0;
  return rs_pl_send(m, msg, len, seq, unsent, &unused, &redirected);
}

static __attribute__((noinline)) int report_big(const struct file_call* c,
                                                const struct rs_pl_mode* m) {
  void* p = rs_sys_mmap(NULL, sizeof(struct file_scratch_big), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (rs_sys_mmap_failed(p)) return !m->fail_closed;
  struct file_scratch_big* s = p;
  const int r = report_in(c, m, s->cwd, s->path, s->target, PATH_MAX, s->msg, sizeof s->msg);
  rs_sys_munmap(p, sizeof(struct file_scratch_big));
  return r;
}

/* 1: call the real function; 0: refused. errno is left as it was. */
static int check(const struct file_call* c) {
  if (t_in_hook || c->path == NULL) return 1;
  t_in_hook = 1;
  rs_pl_ensure_init();
  struct rs_pl_mode m;
  int allow = 1;
  if (rs_pl_wanted(RS_HOOK_OP_FILE, &m) && (!c->is_open || open_reported(m.file_opens, c->flags)) &&
      rs_pl_identify(&m)) {
    const int saved = errno;
    struct file_scratch_small s;
    allow = report_in(c, &m, s.cwd, s.path, s.target, RS_SMALL_PATH, s.msg, sizeof s.msg);
    if (allow == FILE_NEEDS_ROOM) allow = report_big(c, &m);
    errno = saved;
  }
  t_in_hook = 0;
  return allow;
}

/* ---- the open family */

static int has_mode_arg(int flags) {
  return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
}

static int check_open(const char* hook, int dirfd, const char* path, int flags, unsigned mode) {
  const struct file_call c = {.hook = hook,
                              .event = RS_EVENT_FILE_OPEN,
                              .dirfd = dirfd,
                              .path = path,
                              .follow = (flags & O_NOFOLLOW) == 0,
                              .is_open = 1,
                              .flags = flags,
                              .has_mode = has_mode_arg(flags),
                              .mode = mode};
  return check(&c);
}

/* A real open before the constructor resolved it (a hook called from dlsym's own work). */
static int raw_openat(int dirfd, const char* path, int flags, unsigned mode) {
  const long r = rs_sys6(SYS_openat, dirfd, (long)path, flags, mode, 0, 0);
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  return (int)r;
}

#define OPEN_MODE_ARG(flags, mode) \
  do {                             \
    if (has_mode_arg(flags)) {     \
      va_list ap;                  \
      va_start(ap, flags);         \
      mode = va_arg(ap, unsigned); \
      va_end(ap);                  \
    }                              \
  } while (0)

RS_EXPORT int open(const char* path, int flags, ...) {
  unsigned mode = 0;
  OPEN_MODE_ARG(flags, mode);
  if (!check_open("open", AT_FDCWD, path, flags, mode)) return rs_pl_refuse();
  if (real.open == NULL) return raw_openat(AT_FDCWD, path, flags, mode);
  return real.open(path, flags, mode);
}

RS_EXPORT int open64(const char* path, int flags, ...) {
  unsigned mode = 0;
  OPEN_MODE_ARG(flags, mode);
  if (!check_open("open64", AT_FDCWD, path, flags, mode)) return rs_pl_refuse();
  if (real.open64 == NULL) return raw_openat(AT_FDCWD, path, flags | O_LARGEFILE, mode);
  return real.open64(path, flags, mode);
}

RS_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  unsigned mode = 0;
  OPEN_MODE_ARG(flags, mode);
  if (!check_open("openat", dirfd, path, flags, mode)) return rs_pl_refuse();
  if (real.openat == NULL) return raw_openat(dirfd, path, flags, mode);
  return real.openat(dirfd, path, flags, mode);
}

RS_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  unsigned mode = 0;
  OPEN_MODE_ARG(flags, mode);
  if (!check_open("openat64", dirfd, path, flags, mode)) return rs_pl_refuse();
  if (real.openat64 == NULL) return raw_openat(dirfd, path, flags | O_LARGEFILE, mode);
  return real.openat64(dirfd, path, flags, mode);
}

/* _FORTIFY_SOURCE's checked forms: no mode argument (libc aborts when one is needed). */
RS_EXPORT int __open_2(const char* path, int flags) {
  if (!check_open("open", AT_FDCWD, path, flags, 0)) return rs_pl_refuse();
  return real.open_2 == NULL ? raw_openat(AT_FDCWD, path, flags, 0) : real.open_2(path, flags);
}

RS_EXPORT int __open64_2(const char* path, int flags) {
  if (!check_open("open64", AT_FDCWD, path, flags, 0)) return rs_pl_refuse();
  return real.open64_2 == NULL ? raw_openat(AT_FDCWD, path, flags | O_LARGEFILE, 0)
                               : real.open64_2(path, flags);
}

RS_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
  if (!check_open("openat", dirfd, path, flags, 0)) return rs_pl_refuse();
  return real.openat_2 == NULL ? raw_openat(dirfd, path, flags, 0)
                               : real.openat_2(dirfd, path, flags);
}

RS_EXPORT int __openat64_2(int dirfd, const char* path, int flags) {
  if (!check_open("openat64", dirfd, path, flags, 0)) return rs_pl_refuse();
  return real.openat64_2 == NULL ? raw_openat(dirfd, path, flags | O_LARGEFILE, 0)
                                 : real.openat64_2(dirfd, path, flags);
}

RS_EXPORT int creat(const char* path, mode_t mode) {
  if (!check_open("creat", AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode)) {
    return rs_pl_refuse();
  }
  return real.creat == NULL ? rs_pl_missing() : real.creat(path, mode);
}

RS_EXPORT int creat64(const char* path, mode_t mode) {
  if (!check_open("creat64", AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode)) {
    return rs_pl_refuse();
  }
  return real.creat64 == NULL ? rs_pl_missing() : real.creat64(path, mode);
}

/* The open(2) flags fopen uses for a mode string ("r", "w+", "ae", ...); -1 when invalid (the
 * real fopen then fails on its own). */
static int fopen_flags(const char* mode) {
  if (mode == NULL) return -1;
  int flags;
  switch (mode[0]) {
    case 'r':
      flags = O_RDONLY;
      break;
    case 'w':
      flags = O_WRONLY | O_CREAT | O_TRUNC;
      break;
    case 'a':
      flags = O_WRONLY | O_CREAT | O_APPEND;
      break;
    default:
      return -1;
  }
  for (const char* p = mode + 1; *p != '\0' && *p != ','; ++p) {
    if (*p == '+') flags = (flags & ~O_ACCMODE) | O_RDWR;
    if (*p == 'x') flags |= O_EXCL;
    if (*p == 'e') flags |= O_CLOEXEC;
  }
  return flags;
}

static int check_fopen(const char* hook, const char* path, const char* mode) {
  const int flags = fopen_flags(mode);
  if (flags < 0) return 1;
  return check_open(hook, AT_FDCWD, path, flags, has_mode_arg(flags) ? 0666 : 0);
}

static FILE* refuse_stream(void) {
  errno = EACCES;
  return NULL;
}

static FILE* missing_stream(void) {
  errno = ENOSYS;
  return NULL;
}

RS_EXPORT FILE* fopen(const char* path, const char* mode) {
  if (!check_fopen("fopen", path, mode)) return refuse_stream();
  return real.fopen == NULL ? missing_stream() : real.fopen(path, mode);
}

RS_EXPORT FILE* fopen64(const char* path, const char* mode) {
  if (!check_fopen("fopen64", path, mode)) return refuse_stream();
  return real.fopen64 == NULL ? missing_stream() : real.fopen64(path, mode);
}

/* freopen with a NULL path changes the mode of the stream's own file: nothing is opened by
 * name. A refused freopen closes the stream, as a failed one does. */
RS_EXPORT FILE* freopen(const char* path, const char* mode, FILE* stream) {
  if (path != NULL && !check_fopen("freopen", path, mode)) {
    if (stream != NULL) fclose(stream);
    return refuse_stream();
  }
  return real.freopen == NULL ? missing_stream() : real.freopen(path, mode, stream);
}

RS_EXPORT FILE* freopen64(const char* path, const char* mode, FILE* stream) {
  if (path != NULL && !check_fopen("freopen64", path, mode)) {
    if (stream != NULL) fclose(stream);
    return refuse_stream();
  }
  return real.freopen64 == NULL ? missing_stream() : real.freopen64(path, mode, stream);
}

/* ---- the other path operations */

static int check_path(const char* hook, uint16_t event, int dirfd, const char* path, int follow,
                      int has_mode, unsigned mode) {
  const struct file_call c = {.hook = hook,
                              .event = event,
                              .dirfd = dirfd,
                              .path = path,
                              .follow = follow,
                              .has_mode = has_mode,
                              .mode = mode};
  return check(&c);
}

static int check_two(const char* hook, uint16_t event, int dirfd, const char* path, int follow,
                     int dirfd2, const char* path2, int symlink) {
  const struct file_call c = {.hook = hook,
                              .event = event,
                              .dirfd = dirfd,
                              .path = path,
                              .follow = follow,
                              .dirfd2 = dirfd2,
                              .path2 = path2 != NULL ? path2 : "",
                              .symlink = symlink};
  return check(&c);
}

RS_EXPORT int unlink(const char* path) {
  if (!check_path("unlink", RS_EVENT_FILE_DELETE, AT_FDCWD, path, 0, 0, 0)) return rs_pl_refuse();
  return real.unlink == NULL ? rs_pl_missing() : real.unlink(path);
}

RS_EXPORT int unlinkat(int dirfd, const char* path, int flags) {
  if (!check_path("unlinkat", RS_EVENT_FILE_DELETE, dirfd, path, 0, 0, 0)) return rs_pl_refuse();
  return real.unlinkat == NULL ? rs_pl_missing() : real.unlinkat(dirfd, path, flags);
}

RS_EXPORT int rmdir(const char* path) {
  if (!check_path("rmdir", RS_EVENT_FILE_DELETE, AT_FDCWD, path, 0, 0, 0)) return rs_pl_refuse();
  return real.rmdir == NULL ? rs_pl_missing() : real.rmdir(path);
}

RS_EXPORT int rename(const char* from, const char* to) {
  if (!check_two("rename", RS_EVENT_FILE_RENAME, AT_FDCWD, from, 0, AT_FDCWD, to, 0)) {
    return rs_pl_refuse();
  }
  return real.rename == NULL ? rs_pl_missing() : real.rename(from, to);
}

RS_EXPORT int renameat(int fromfd, const char* from, int tofd, const char* to) {
  if (!check_two("renameat", RS_EVENT_FILE_RENAME, fromfd, from, 0, tofd, to, 0)) {
    return rs_pl_refuse();
  }
  return real.renameat == NULL ? rs_pl_missing() : real.renameat(fromfd, from, tofd, to);
}

RS_EXPORT int renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
  if (!check_two("renameat2", RS_EVENT_FILE_RENAME, fromfd, from, 0, tofd, to, 0)) {
    return rs_pl_refuse();
  }
  return real.renameat2 == NULL ? rs_pl_missing() : real.renameat2(fromfd, from, tofd, to, flags);
}

RS_EXPORT int truncate(const char* path, off_t length) {
  if (!check_path("truncate", RS_EVENT_FILE_MODIFY, AT_FDCWD, path, 1, 0, 0)) {
    return rs_pl_refuse();
  }
  return real.truncate == NULL ? rs_pl_missing() : real.truncate(path, length);
}

RS_EXPORT int truncate64(const char* path, off_t length) {
  if (!check_path("truncate64", RS_EVENT_FILE_MODIFY, AT_FDCWD, path, 1, 0, 0)) {
    return rs_pl_refuse();
  }
  return real.truncate64 == NULL ? rs_pl_missing() : real.truncate64(path, length);
}

RS_EXPORT int mkdir(const char* path, mode_t mode) {
  if (!check_path("mkdir", RS_EVENT_FILE_CREATE, AT_FDCWD, path, 0, 1, mode)) {
    return rs_pl_refuse();
  }
  return real.mkdir == NULL ? rs_pl_missing() : real.mkdir(path, mode);
}

RS_EXPORT int mkdirat(int dirfd, const char* path, mode_t mode) {
  if (!check_path("mkdirat", RS_EVENT_FILE_CREATE, dirfd, path, 0, 1, mode)) {
    return rs_pl_refuse();
  }
  return real.mkdirat == NULL ? rs_pl_missing() : real.mkdirat(dirfd, path, mode);
}

RS_EXPORT int chmod(const char* path, mode_t mode) {
  if (!check_path("chmod", RS_EVENT_FILE_CHMOD, AT_FDCWD, path, 1, 1, mode)) {
    return rs_pl_refuse();
  }
  return real.chmod == NULL ? rs_pl_missing() : real.chmod(path, mode);
}

RS_EXPORT int fchmodat(int dirfd, const char* path, mode_t mode, int flags) {
  const int follow = (flags & AT_SYMLINK_NOFOLLOW) == 0;
  if (!check_path("fchmodat", RS_EVENT_FILE_CHMOD, dirfd, path, follow, 1, mode)) {
    return rs_pl_refuse();
  }
  return real.fchmodat == NULL ? rs_pl_missing() : real.fchmodat(dirfd, path, mode, flags);
}

/* link: file.path is the existing file, file.target_path the new name. */
RS_EXPORT int link(const char* existing, const char* name) {
  if (!check_two("link", RS_EVENT_FILE_LINK, AT_FDCWD, existing, 0, AT_FDCWD, name, 0)) {
    return rs_pl_refuse();
  }
  return real.link == NULL ? rs_pl_missing() : real.link(existing, name);
}

RS_EXPORT int linkat(int fromfd, const char* existing, int tofd, const char* name, int flags) {
  const int follow = (flags & AT_SYMLINK_FOLLOW) != 0;
  if (!check_two("linkat", RS_EVENT_FILE_LINK, fromfd, existing, follow, tofd, name, 0)) {
    return rs_pl_refuse();
  }
  return real.linkat == NULL ? rs_pl_missing() : real.linkat(fromfd, existing, tofd, name, flags);
}

/* symlink: the link's content is sent as typed (the agent places it next to the link, as the
 * kernel would read it); file.target_path is the new link. */
RS_EXPORT int symlink(const char* content, const char* name) {
  if (!check_two("symlink", RS_EVENT_FILE_LINK, AT_FDCWD, content, 0, AT_FDCWD, name, 1)) {
    return rs_pl_refuse();
  }
  return real.symlink == NULL ? rs_pl_missing() : real.symlink(content, name);
}

RS_EXPORT int symlinkat(const char* content, int dirfd, const char* name) {
  if (!check_two("symlinkat", RS_EVENT_FILE_LINK, AT_FDCWD, content, 0, dirfd, name, 1)) {
    return rs_pl_refuse();
  }
  return real.symlinkat == NULL ? rs_pl_missing() : real.symlinkat(content, dirfd, name);
}
