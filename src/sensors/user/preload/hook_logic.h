/* The interposer's hook-free logic: message encoding and parsing, PATH search, path
 * resolution, the state file and the agent connection. Built twice: into
 * libringside-preload.so (no sanitizers, hidden) and into the static ringside_hook_logic that
 * the agent and the tests link. Nothing here allocates from the heap (hooks may run before
 * malloc is usable) and nothing here calls a hooked function. What a hook runs between fork
 * and execve (encoding, PATH search, the state file, the connection) makes its system calls
 * through hook_syscall.h and copies strings with the helpers below, not libc's.
 */
#ifndef RINGSIDE_HOOK_LOGIC_H
#define RINGSIDE_HOOK_LOGIC_H

#include <stddef.h>
#include <stdint.h>

#include "sensors/user/hook_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- string helpers (loops the preload is compiled not to turn into libc calls) */

static inline size_t rs_strlen(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}
static inline void rs_copy(void* dst, const void* src, size_t n) {
  unsigned char* d = (unsigned char*)dst;
  const unsigned char* p = (const unsigned char*)src;
  for (size_t i = 0; i < n; ++i) d[i] = p[i];
}
/* rs_copy for overlapping ranges. */
static inline void rs_move(void* dst, const void* src, size_t n) {
  unsigned char* d = (unsigned char*)dst;
  const unsigned char* p = (const unsigned char*)src;
  if (d <= p) {
    for (size_t i = 0; i < n; ++i) d[i] = p[i];
  } else {
    for (size_t i = n; i > 0; --i) d[i - 1] = p[i - 1];
  }
}

/* ---- encoding */

/* Longest process.command_line sent (system/popen); longer ones are cut and flagged. */
#define RS_HOOK_MAX_COMMAND_LINE 16384
/* Smallest buffer rs_hook_encode_exec accepts: room for every bounded field. */
#define RS_HOOK_MIN_EXEC_BUFFER 4096

struct rs_hook_writer {
  uint8_t* buf;
  size_t cap;
  size_t len;
};

void rs_hook_writer_init(struct rs_hook_writer* w, uint8_t* buf, size_t cap, uint16_t type,
                         uint32_t seq, uint16_t event_type, uint16_t flags);
/* Append one TLV; -1 (nothing written) when it does not fit or is too long for a TLV. */
int rs_hook_put_int(struct rs_hook_writer* w, uint16_t field, int64_t value);
int rs_hook_put_str(struct rs_hook_writer* w, uint16_t field, const char* s, size_t len);
/* Writes the payload length into the header; returns the message size. */
size_t rs_hook_writer_finish(struct rs_hook_writer* w);

/* Which file a path named when it was resolved (RS_HOOK_FIELD_EXECUTABLE_IDENTITY). */
struct rs_file_id {
  int valid; /* a regular file was found */
  uint64_t dev;
  uint64_t ino;
  int64_t mtime_ns;
};

/* One exec-type operation as a hook saw it, before it happened. */
struct rs_exec_report {
  const char* hook;              /* interposed function, e.g. "execvp" */
  const char* executable;        /* absolute path */
  char* const* argv;             /* NULL-terminated; may be NULL */
  const char* working_directory; /* may be NULL */
  const char* command_line;      /* system/popen only, else NULL */
  int64_t thread_id;
  int new_process; /* spawn-type (posix_spawn*, system, popen): the caller is the parent */
  int last;        /* nothing follows on this connection (RS_HOOK_FLAG_LAST) */
  const struct rs_file_id* identity; /* of the executable; NULL or !valid: not sent */
  uint64_t unsent; /* reports not sent before this one (RS_HOOK_FIELD_UNSENT; 0: none) */
  /* The caller's parent (getppid), sent with an exec in place (not with a spawn-type report,
   * whose sender is the parent): the agent may read the message after the process has gone and
   * can no longer ask /proc. 0: not sent. */
  int64_t parent_pid;
};

/* Size of the message without truncation, capped at RS_HOOK_MAX_MESSAGE + 1. */
size_t rs_hook_exec_size(const struct rs_exec_report* r);
/* Encodes an EVENT(process.exec) into buf (at most RS_HOOK_MAX_MESSAGE is used). A message
 * that fits is written whole into any cap; otherwise, with cap >= RS_HOOK_MIN_EXEC_BUFFER,
 * process.args and process.command_line are cut to fit. Returns the message size, or 0 when
 * it does not fit (cap too small to cut into) or a bounded field is too long. */
size_t rs_hook_encode_exec(const struct rs_exec_report* r, uint32_t seq, int want_verdict,
                           uint8_t* buf, size_t cap);

/* ---- parsing */

enum rs_hook_status {
  RS_HOOK_OK = 0,
  RS_HOOK_ERR_SHORT,    /* shorter than a header */
  RS_HOOK_ERR_MAGIC,    /* not a ringside hook message */
  RS_HOOK_ERR_VERSION,  /* another protocol version */
  RS_HOOK_ERR_TYPE,     /* unknown message type */
  RS_HOOK_ERR_FLAGS,    /* unknown flag bits */
  RS_HOOK_ERR_LENGTH,   /* header length does not match the datagram */
  RS_HOOK_ERR_OVERSIZE, /* larger than RS_HOOK_MAX_MESSAGE */
  RS_HOOK_ERR_TLV,      /* a TLV header or value runs past the end */
  RS_HOOK_ERR_VERDICT,  /* malformed verdict payload */
};
const char* rs_hook_status_string(int status);

/* Checks the framing of one datagram; on success fills h. */
int rs_hook_parse_header(const uint8_t* buf, size_t len, struct rs_hook_header* h);

struct rs_hook_tlv {
  uint16_t field;
  uint16_t length;
  const uint8_t* value;
};
struct rs_hook_tlv_iter {
  const uint8_t* p;
  size_t left;
};
void rs_hook_tlv_begin(struct rs_hook_tlv_iter* it, const uint8_t* payload, size_t len);
/* 1: *tlv filled; 0: end of payload; -1: malformed (RS_HOOK_ERR_TLV). */
int rs_hook_tlv_next(struct rs_hook_tlv_iter* it, struct rs_hook_tlv* tlv);

/* A socket address in the wire form (RS_HOOK_FIELD_*_ADDRESS, redirect verdicts). */
struct rs_hook_address {
  uint8_t family; /* 4 or 6 */
  uint16_t port;  /* host order */
  uint8_t addr[16];
};
/* From a sockaddr_in/sockaddr_in6 of len bytes; -1 for any other family or a short length. */
int rs_hook_address_from_sockaddr(const void* sa, size_t len, struct rs_hook_address* out);
/* Into a sockaddr of the socket's family (AF_INET or AF_INET6: an IPv4 address becomes
 * IPv4-mapped for an IPv6 socket); the length written, or 0 when it cannot be expressed (an
 * IPv6 address for an IPv4 socket) or cap is too small. */
size_t rs_hook_address_to_sockaddr(const struct rs_hook_address* a, int socket_family, void* out,
                                   size_t cap);
void rs_hook_address_put(uint8_t* p, const struct rs_hook_address* a);
/* -1 for a family other than 4 or 6 or a nonzero reserved byte. */
int rs_hook_address_get(const uint8_t* p, struct rs_hook_address* a);
int rs_hook_put_address(struct rs_hook_writer* w, uint16_t field, const struct rs_hook_address* a);

/* An UNSENT message carrying count (> 0); 0 when it does not fit. */
size_t rs_hook_encode_unsent(uint64_t count, int last, uint8_t* buf, size_t cap);

/* VERDICT messages. rule may be NULL; it is cut to RS_HOOK_MAX_RULE bytes. */
size_t rs_hook_encode_verdict(uint32_t seq, int verdict, const char* rule, size_t rule_len,
                              uint8_t* buf, size_t cap);
/* A REDIRECT verdict with its target. */
size_t rs_hook_encode_redirect(uint32_t seq, const char* rule, size_t rule_len,
                               const struct rs_hook_address* target, uint8_t* buf, size_t cap);
/* On success fills seq, verdict and (when rule != NULL) the NUL-terminated rule name. */
int rs_hook_parse_verdict(const uint8_t* buf, size_t len, uint32_t* seq, int* verdict, char* rule,
                          size_t rule_cap);
/* The same, and the redirect target of a REDIRECT verdict (target may be NULL). */
int rs_hook_parse_verdict_target(const uint8_t* buf, size_t len, uint32_t* seq, int* verdict,
                                 char* rule, size_t rule_cap, struct rs_hook_address* target);

/* ---- paths */

/* Resolves path (relative ones against base_dir, which must be absolute) to an absolute path
 * with every symbolic link, "." and ".." resolved, as the kernel names an executable image, in
 * the caller's own root. 0: resolved; 1: some component does not exist, the rest was joined
 * lexically; -1: too long or invalid arguments (out is then empty). */
int rs_resolve_path(const char* base_dir, const char* path, char* out, size_t cap);
/* The same, and when the path names a regular file, its identity in *id (id may be NULL). */
int rs_resolve_path_id(const char* base_dir, const char* path, char* out, size_t cap,
                       struct rs_file_id* id);
/* execvp-style search of file (no '/') through path_list (NULL: "/bin:/usr/bin"; an empty
 * element means the current directory): the first regular file the caller may execute, as
 * execvp will pass it to the kernel ("dir/file", relative when the element is), unresolved.
 * 0: found; -1: not found; -2: a candidate before the answer is longer than cap (< PATH_MAX). */
int rs_search_path(const char* file, const char* path_list, char* out, size_t cap);
/* Path of an open descriptor from /proc/self/fd; -1 when unavailable. */
int rs_fd_path(int fd, char* out, size_t cap);
/* A path a file operation names, absolute and resolved like rs_resolve_path, relative ones
 * against dirfd (AT_FDCWD: cwd, which may be NULL when unknown). follow == 0 leaves the last
 * component as it is (unlink, rename, lstat-like operations): only its directory is resolved.
 * 0 or 1 as rs_resolve_path; -1 when it cannot be resolved into cap bytes. */
int rs_resolve_file_path(int dirfd, const char* cwd, const char* path, int follow, char* out,
                         size_t cap);

/* How a hooked call names the executable it is about to run. */
enum rs_exe_kind {
  RS_EXE_PATH,   /* path: absolute or relative to the working directory (execve) */
  RS_EXE_SEARCH, /* path: a name searched through path_list unless it has a '/' (execvp) */
  RS_EXE_FD,     /* fd: an open file (fexecve) */
  RS_EXE_AT,     /* path relative to the directory fd, or fd itself with AT_EMPTY_PATH */
};
struct rs_exe_spec {
  enum rs_exe_kind kind;
  const char* path;
  int fd;
  int at_flags;
  const char* path_list; /* RS_EXE_SEARCH: the caller's PATH (NULL: unset) */
};
#define RS_EXE_NEEDS_ROOM 2
/* The executable the call will run, absolute and resolved (rs_resolve_path), into buf, and its
 * identity into *id. cwd: the caller's working directory, NULL when unknown. 0: found; -1:
 * nothing to report (the call fails on its own, or names a relative path with no known
 * directory); RS_EXE_NEEDS_ROOM: buf is shorter than PATH_MAX and too short for this one. */
int rs_find_executable(const struct rs_exe_spec* spec, const char* cwd, char* buf, size_t cap,
                       struct rs_file_id* id);

/* ---- state file */

/* Maps the state file read-only; NULL when it is absent, too small or not a regular file. */
const struct rs_hook_state* rs_hook_state_map(const char* path);
void rs_hook_state_unmap(const struct rs_hook_state* state);
/* A consistent snapshot (sequence lock); view->valid is 0 when state is NULL, the magic or
 * version is wrong, or the writer never finished. */
void rs_hook_state_read(const struct rs_hook_state* state, struct rs_hook_state_view* view);
/* The same snapshot read from the file itself, without mapping it: what a process that reports
 * once and then becomes another image (a fork child before exec) uses, since a fresh mapping
 * costs more than two reads. */
void rs_hook_state_read_file(const char* path, struct rs_hook_state_view* view);
/* The agent's side: one update of a writable mapping (fills magic, version and size). The
 * short form reports no file or network operation. */
void rs_hook_state_write(struct rs_hook_state* state, uint32_t sync_ops, uint32_t deadline_ms,
                         uint32_t fail_closed, int32_t agent_pid);
void rs_hook_state_write_reporting(struct rs_hook_state* state, uint32_t sync_ops,
                                   uint32_t deadline_ms, uint32_t fail_closed, int32_t agent_pid,
                                   uint32_t report_ops, uint32_t file_opens);

/* ---- connection to the agent */

enum rs_hook_exchange_result {
  RS_HOOK_SENT = 0,         /* fire-and-forget message handed to the socket */
  RS_HOOK_ANSWERED = 1,     /* verdict received */
  RS_HOOK_UNREACHABLE = -1, /* connection or send failed (agent absent or gone) */
  RS_HOOK_BUSY = -2,        /* socket full (agent overloaded) */
  RS_HOOK_TIMEOUT = -3,     /* no verdict before the deadline */
};

/* Non-blocking, close-on-exec SOCK_SEQPACKET connection; -1 on failure (errno set). */
int rs_hook_connect(const char* socket_path);
/* The same, returning -errno on failure and leaving errno alone. */
int rs_hook_connect_raw(const char* socket_path);
/* Sends msg; when want_verdict waits up to deadline_ms for the VERDICT with this seq (older
 * replies are skipped) and stores it in *verdict. */
int rs_hook_exchange(int fd, const uint8_t* msg, size_t len, int want_verdict, uint32_t seq,
                     int deadline_ms, int* verdict);
/* The same, and a REDIRECT verdict's target in *target (may be NULL). */
int rs_hook_exchange_target(int fd, const uint8_t* msg, size_t len, int want_verdict, uint32_t seq,
                            int deadline_ms, int* verdict, struct rs_hook_address* target);
/* Sends msg (no answer expected), waiting up to deadline_ms for room in a full socket:
 * RS_HOOK_SENT, RS_HOOK_TIMEOUT or RS_HOOK_UNREACHABLE. */
int rs_hook_send_within(int fd, const uint8_t* msg, size_t len, int deadline_ms);

#ifdef __cplusplus
}
#endif

#endif /* RINGSIDE_HOOK_LOGIC_H */
