/* What the parts of libringside-preload.so share: initialisation, the re-entry guard, the
 * state file and the agent connection (preload.c), used by the exec hooks (preload_exec.c), the
 * file hooks (preload_file.c) and the socket hooks (preload_net.c). Nothing here is exported.
 */
#ifndef RINGSIDE_PRELOAD_INTERNAL_H
#define RINGSIDE_PRELOAD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hook_logic.h"

#define RS_EXPORT __attribute__((visibility("default")))
#define RS_HIDDEN __attribute__((visibility("hidden")))

/* Set while a hook runs: a hook called from inside one (a signal handler, libc calling a hooked
 * function, the interposer's own work) goes straight to libc. */
extern __thread int t_in_hook __attribute__((tls_model("initial-exec"))) RS_HIDDEN;

/* Resolves every real function once (also on the first hook call, when another library's
 * constructor runs before ours). */
RS_HIDDEN void rs_pl_ensure_init(void);
/* dlsym(RTLD_NEXT), aborting when it names our own hook. */
RS_HIDDEN void* rs_pl_resolve(const char* name, void* hook);
/* getenv without libc's text. */
RS_HIDDEN const char* rs_pl_env(const char* name);
/* Called by the constructor, once: resolve each part's real functions. */
RS_HIDDEN void rs_pl_init_exec(void);
RS_HIDDEN void rs_pl_init_file(void);
RS_HIDDEN void rs_pl_init_net(void);

/* ---- exec-type reports (preload.c) */

struct rs_pl_exec_call {
  const char* hook;
  struct rs_exe_spec exe;
  char* const* argv;
  const char* command_line;
  int new_process;
};
/* 1: call the real function; 0: refused, the caller fails with EACCES. */
RS_HIDDEN int rs_pl_check_exec(const struct rs_pl_exec_call* c);

/* ---- file and network reports */

/* How the state file says to report one operation. */
struct rs_pl_mode {
  int owner; /* the process that loaded the library (its shared connection) */
  int want;  /* wait for a verdict */
  int fail_closed;
  int deadline_ms;
  uint32_t file_opens; /* RS_HOOK_OPENS_* */
  int32_t agent_pid;
};
/* 1 when the agent wants operations of class op (RS_HOOK_OP_FILE / _NETWORK) reported, with
 * the mode in *m. Reads the mapped state file: no system call unless the state is not mapped
 * yet (then at most one attempt a second). */
RS_HIDDEN int rs_pl_wanted(uint32_t op, struct rs_pl_mode* m);
/* Who is reporting (one system call); 0 when it is the agent itself, which never reports. */
RS_HIDDEN int rs_pl_identify(struct rs_pl_mode* m);
/* A sequence number for a report (header field seq). */
RS_HIDDEN uint32_t rs_pl_seq(const struct rs_pl_mode* m);
/* Sends one message (seq as in its header). 1: go ahead; 0: refuse (denied, or unreported
 * under fail-closed). A REDIRECT verdict is allowed and fills *redirect and *redirected. A
 * message that does not go through is counted as unsent, with the `carried` count it held. */
RS_HIDDEN int rs_pl_send(const struct rs_pl_mode* m, const uint8_t* msg, size_t len, uint32_t seq,
                         uint64_t carried, struct rs_hook_address* redirect, int* redirected);
/* Takes the count of reports not sent so far (RS_HOOK_FIELD_UNSENT of the next report); only
 * the process that loaded the library (owner) keeps a count: 0 for any other. */
RS_HIDDEN uint64_t rs_pl_take_unsent(int owner);
RS_HIDDEN void rs_pl_add_unsent(int owner, uint64_t n);
/* At exit (or before an exec whose report did not go through): sends the count no report
 * carried as an UNSENT message, waiting a little for room in a full socket. */
RS_HIDDEN void rs_pl_last_words(void);
/* This process's executable (/proc/self/exe, read once per image); NULL when unreadable. */
RS_HIDDEN const char* rs_pl_executable(const struct rs_pl_mode* m, size_t* len);
/* 1 when path is the agent's socket or state file (never reported). */
RS_HIDDEN int rs_pl_is_agent_file(const char* path);

/* errno, -1 */
RS_HIDDEN int rs_pl_refuse(void);
RS_HIDDEN int rs_pl_missing(void);

#endif /* RINGSIDE_PRELOAD_INTERNAL_H */
