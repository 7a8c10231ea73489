/* Raw system calls for the interposer's pre-exec path. Each returns what the kernel returned
 * (-errno on failure) and leaves errno alone.
 *
 * Why not libc: between fork and execve a child runs on a copy of its parent, but fork does not
 * copy the page tables of file mappings, so the first touch of every libc text page in the child
 * is a page fault (several microseconds on a nested virtual machine), and errno lives in a
 * thread-local page the child would otherwise write. A `syscall` instruction in our own text
 * touches neither. Other architectures go through libc's syscall(); the results are the same.
 */
#ifndef RINGSIDE_HOOK_SYSCALL_H
#define RINGSIDE_HOOK_SYSCALL_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#if defined(__x86_64__)
static inline long rs_sys6(long n, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#else
#include <unistd.h>
static inline long rs_sys6(long n, long a, long b, long c, long d, long e, long f) {
  const int saved = errno;
  long ret = syscall(n, a, b, c, d, e, f);
  if (ret == -1) ret = -errno;
  errno = saved;
  return ret;
}
#endif

#define RS_SYS(n, a, b, c) rs_sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static inline int rs_sys_getpid(void) { return (int)RS_SYS(SYS_getpid, 0, 0, 0); }
static inline int rs_sys_gettid(void) { return (int)RS_SYS(SYS_gettid, 0, 0, 0); }
static inline int rs_sys_getppid(void) { return (int)RS_SYS(SYS_getppid, 0, 0, 0); }
/* The length of the path including its NUL, or -errno. */
static inline long rs_sys_getcwd(char* buf, size_t size) {
  return RS_SYS(SYS_getcwd, buf, size, 0);
}
static inline int rs_sys_close(int fd) { return (int)RS_SYS(SYS_close, fd, 0, 0); }
static inline int rs_sys_openat(int dirfd, const char* path, int flags) {
  return (int)rs_sys6(SYS_openat, dirfd, (long)path, flags, 0, 0, 0);
}
static inline long rs_sys_pread(int fd, void* buf, size_t len, long offset) {
  return rs_sys6(SYS_pread64, fd, (long)buf, (long)len, offset, 0, 0);
}
static inline long rs_sys_readlinkat(int dirfd, const char* path, char* buf, size_t size) {
  return rs_sys6(SYS_readlinkat, dirfd, (long)path, (long)buf, (long)size, 0, 0);
}
static inline int rs_sys_faccessat2(int dirfd, const char* path, int mode, int flags) {
#ifdef SYS_faccessat2
  return (int)rs_sys6(SYS_faccessat2, dirfd, (long)path, mode, flags, 0, 0);
#else
  (void)dirfd, (void)path, (void)mode, (void)flags;
  return -ENOSYS;
#endif
}
static inline int rs_sys_socket(int domain, int type, int protocol) {
  return (int)RS_SYS(SYS_socket, domain, type, protocol);
}
static inline int rs_sys_connect(int fd, const void* addr, size_t len) {
  return (int)RS_SYS(SYS_connect, fd, addr, len);
}
static inline long rs_sys_send(int fd, const void* buf, size_t len, int flags) {
  return rs_sys6(SYS_sendto, fd, (long)buf, (long)len, flags, 0, 0);
}
static inline long rs_sys_recv(int fd, void* buf, size_t len, int flags) {
  return rs_sys6(SYS_recvfrom, fd, (long)buf, (long)len, flags, 0, 0);
}
static inline void* rs_sys_mmap(void* addr, size_t len, int prot, int flags, int fd, long off) {
  return (void*)rs_sys6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, off);
}
static inline int rs_sys_munmap(void* addr, size_t len) {
  return (int)RS_SYS(SYS_munmap, addr, len, 0);
}
/* A raw mmap result is an address or -errno: the last page of the address space is never one. */
static inline int rs_sys_mmap_failed(const void* p) { return (unsigned long)p > -4096UL; }
static inline int rs_sys_futex(int* addr, int op, int val) {
  return (int)rs_sys6(SYS_futex, (long)addr, op, val, 0, 0, 0);
}

/* fstat/fstatat fill the C library's struct stat: the kernel's on x86_64, libc elsewhere. */
#if defined(__x86_64__)
static inline int rs_sys_fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  return (int)rs_sys6(SYS_newfstatat, dirfd, (long)path, (long)st, flags, 0, 0);
}
#else
static inline int rs_sys_fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  const int saved = errno;
  const int r = fstatat(dirfd, path, st, flags) == 0 ? 0 : -errno;
  errno = saved;
  return r;
}
#endif
static inline int rs_sys_fstat(int fd, struct stat* st) {
  return rs_sys_fstatat(fd, "", st, AT_EMPTY_PATH);
}

#endif /* RINGSIDE_HOOK_SYSCALL_H */
