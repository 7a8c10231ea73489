/* The interposer's wire format and shared state file, used by libringside-preload.so (plain C)
 * and by the agent's HookServerSensor (C++). One definition for both sides.
 *
 * Transport: a SOCK_SEQPACKET UNIX socket (RINGSIDE_SOCKET, default /run/ringside/hook.sock).
 * One datagram is one message; the agent identifies the sender by SO_PEERCRED and never by
 * anything a message says, so messages carry no pid, uid or gid of the sender (the real uid,
 * which SO_PEERCRED does not give, comes from the kernel too: SCM_CREDENTIALS, SO_PASSCRED).
 * An exec in place carries the sender's parent pid (getppid), because the agent may read the
 * report after the process has exited and been reaped; the agent's process table, when it
 * knows the process, replaces it. A spawn-type report never does: its sender is the parent.
 *
 * Message = header + payload, every integer little-endian, no padding:
 *
 *   offset size field       meaning
 *        0    4 magic       RS_HOOK_MAGIC ("RSHK")
 *        4    2 version     RS_HOOK_VERSION
 *        6    2 type        RS_HOOK_MSG_EVENT, RS_HOOK_MSG_UNSENT (hook to agent) |
 *                           RS_HOOK_MSG_VERDICT (back)
 *        8    4 seq         chosen by the hook, echoed in the verdict
 *       12    2 event_type  RS_EVENT_* id from records.h (0 in a verdict or UNSENT)
 *       14    2 flags       RS_HOOK_FLAG_*
 *       16    4 length      payload bytes; header + payload <= RS_HOOK_MAX_MESSAGE
 *
 * EVENT payload: TLVs {u16 field_id (RS_FIELD_* id), u16 length, length bytes}, back to back.
 *   int fields: length 8, a little-endian int64. string fields: the bytes, no NUL, no
 *   terminator. string-list fields: the same field repeated once per element, in order.
 *   A hook sends only the fields it observed (the decoder rejects agent-owned fields such as
 *   process.pid or user.id).
 *   process.executable is absolute and resolved (every symbolic link, "." and ".." gone) by
 *   the caller, in its own root (see preload.c for why not the agent). A list longer than
 *   RS_HOOK_MAX_LIST_ELEMENTS or a message that would exceed RS_HOOK_MAX_MESSAGE is cut: the
 *   list ends with RS_HOOK_TRUNCATED_MARKER and ringside.truncated names the field;
 *   process.args_count keeps the real count.
 *
 * UNSENT payload: exactly one RS_HOOK_FIELD_UNSENT TLV (event_type 0, seq unused, flags 0 or
 *   RS_HOOK_FLAG_LAST): a process's last words, sent at exit when it still holds a count of
 *   reports that no later report carried. Never answered.
 *
 * VERDICT payload (only for an EVENT that had RS_HOOK_FLAG_WANT_VERDICT):
 *   u8 verdict (RS_HOOK_VERDICT_*), u8 reserved (0), u16 rule_length (<= RS_HOOK_MAX_RULE),
 *   rule name bytes; RS_HOOK_VERDICT_REDIRECT (network.connect only) is followed by the
 *   address to connect to instead, in the RS_HOOK_ADDRESS_SIZE form below.
 *
 * File and network reports carry, besides event fields, the raw values the agent formats
 * (RS_HOOK_FIELD_OPEN_FLAGS, _MODE, _LOCAL_ADDRESS, _REMOTE_ADDRESS, _SOCKET_TYPE,
 * _RESOLVED_ADDRESS): the hook
 * stays a copy loop, the agent owns names, octal text and address normalisation.
 *
 * State file (socket path + ".state"): struct rs_hook_state below, written by the agent in
 * place (never unlinked and recreated, so a process that mapped it keeps seeing updates) and
 * mapped read-only (MAP_SHARED) by every hooked process, at its first report or before it
 * forks: a forked child reads the mapping it inherited, with no system call (a child of a
 * process that never mapped it, or whose mapping says no agent runs, reads the file). A child
 * that moved to another root or mount namespace before it execs still sees the agent there and
 * follows the fail mode when it cannot reach the socket. `generation` is a sequence lock: odd
 * while the agent writes, readers retry until they see the same even value before and after.
 * An operation whose RS_HOOK_OP_* bit is in `sync_ops` is sent with WANT_VERDICT and waits up
 * to `deadline_ms` for the answer; every other report is fire-and-forget (non-blocking send, no
 * round trip). The agent clears `sync_ops` and `agent_pid` when it stops cleanly.
 * Exec-type operations are always reported while an agent is there; file and network
 * operations only when their bit is in `report_ops` (the agent watches that domain), and opens
 * only as `file_opens` says (RS_HOOK_OPENS_*: the policy's settings.file.opens, raised to all
 * while a user-level file.open rule could match any open). A hook whose class is not reported
 * reads the mapping and calls libc: no system call of its own.
 *
 * Fail mode (what a hook does when the agent cannot answer): an operation that needed a
 * verdict follows the state file's `fail_closed` (the policy's settings.fail_mode); the
 * environment variable RINGSIDE_HOOK_FAIL=closed makes the process refuse every operation it
 * cannot report at all (no agent, no answer in time), RINGSIDE_HOOK_FAIL=open never refuses.
 */
#ifndef RINGSIDE_HOOK_PROTOCOL_H
#define RINGSIDE_HOOK_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "ringside/records.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RS_HOOK_MAGIC 0x4B485352u /* "RSHK" read as a little-endian u32 */
#define RS_HOOK_VERSION 1
#define RS_HOOK_HEADER_SIZE 20
#define RS_HOOK_TLV_HEADER_SIZE 4
#define RS_HOOK_MAX_MESSAGE 65536
#define RS_HOOK_MAX_LIST_ELEMENTS 1024
#define RS_HOOK_MAX_RULE 128
#define RS_HOOK_MAX_HOOK_NAME 32
#define RS_HOOK_TRUNCATED_MARKER "[truncated]"
#define RS_HOOK_DEFAULT_SOCKET "/run/ringside/hook.sock"
#define RS_HOOK_STATE_SUFFIX ".state"

/* TLV ids from here up are the protocol's own, never event fields. */
#define RS_HOOK_FIELD_PRIVATE 0xFF00u
/* The executable's identity as the hook's last stat saw it: u64 device (as stat(2) returns
 * it), u64 inode, i64 modification time in ns. The agent looks its hash up by it, with no
 * system call. Like every field it is what the process says: a process that lies here could
 * as well lie about process.executable. */
#define RS_HOOK_FIELD_EXECUTABLE_IDENTITY 0xFF00u
#define RS_HOOK_IDENTITY_SIZE 24
/* open(2) flags as the program passed them (int). */
#define RS_HOOK_FIELD_OPEN_FLAGS 0xFF01u
/* Mode argument of a creating open, mkdir or chmod (int). */
#define RS_HOOK_FIELD_MODE 0xFF02u
/* Socket addresses (RS_HOOK_ADDRESS_SIZE bytes): u8 family (4 | 6), u8 reserved (0), u16 port,
 * 16 address bytes in network order (IPv4: the first 4, the rest 0). */
#define RS_HOOK_FIELD_LOCAL_ADDRESS 0xFF03u
#define RS_HOOK_FIELD_REMOTE_ADDRESS 0xFF04u
/* SO_TYPE of the socket (int): SOCK_STREAM is tcp, SOCK_DGRAM udp. */
#define RS_HOOK_FIELD_SOCKET_TYPE 0xFF05u
#define RS_HOOK_ADDRESS_SIZE 20
/* An address a name lookup answered (port 0), repeated once per answer, at most
 * RS_HOOK_MAX_RESOLVED times. */
#define RS_HOOK_FIELD_RESOLVED_ADDRESS 0xFF06u
#define RS_HOOK_MAX_RESOLVED 16
/* Reports this process could not send since its last one that went through (socket full, agent
 * gone): the agent counts them as dropped (int). Carried by the next report of any kind, or at
 * exit by an UNSENT message. */
#define RS_HOOK_FIELD_UNSENT 0xFF07u

/* Message types. */
#define RS_HOOK_MSG_EVENT 1
#define RS_HOOK_MSG_VERDICT 2
#define RS_HOOK_MSG_UNSENT 3

/* Header flags. */
#define RS_HOOK_FLAG_WANT_VERDICT 0x0001u /* the caller waits for a VERDICT before acting */
#define RS_HOOK_FLAG_NEW_PROCESS 0x0002u  /* spawn-type: the sender is the new process's parent */
/* Nothing follows on this connection: the agent closes it once the message is handled
 * (answered, with WANT_VERDICT) instead of waiting for the sender to close it. */
#define RS_HOOK_FLAG_LAST 0x0004u
#define RS_HOOK_KNOWN_FLAGS \
  (RS_HOOK_FLAG_WANT_VERDICT | RS_HOOK_FLAG_NEW_PROCESS | RS_HOOK_FLAG_LAST)

/* Verdicts (the same order as ringside::Verdict). */
#define RS_HOOK_VERDICT_ALLOW 0
#define RS_HOOK_VERDICT_DENY 1
#define RS_HOOK_VERDICT_ALERT 2
#define RS_HOOK_VERDICT_REDIRECT 3 /* connect to the address that follows instead */

/* Operations a state file can ask to wait for a verdict on. */
#define RS_HOOK_OP_EXEC 0x0001u
#define RS_HOOK_OP_FILE 0x0002u
#define RS_HOOK_OP_NETWORK 0x0004u

/* Which opens are reported (rs_hook_state.file_opens). */
#define RS_HOOK_OPENS_ALL 0
#define RS_HOOK_OPENS_WRITES 1
#define RS_HOOK_OPENS_NONE 2

struct rs_hook_header {
  uint32_t magic;
  uint16_t version;
  uint16_t type;
  uint32_t seq;
  uint16_t event_type;
  uint16_t flags;
  uint32_t length;
};

/* ---- shared state file */

#define RS_HOOK_STATE_MAGIC 0x54534852u /* "RHST" */
#define RS_HOOK_STATE_VERSION 1

struct rs_hook_state {
  uint32_t magic;
  uint16_t version;
  uint16_t size; /* sizeof(struct rs_hook_state) */
  uint32_t generation;
  uint32_t sync_ops; /* RS_HOOK_OP_* bits that need a synchronous verdict */
  uint32_t deadline_ms;
  uint32_t fail_closed;
  int32_t agent_pid;   /* 0 once the agent stopped */
  uint32_t report_ops; /* RS_HOOK_OP_FILE / _NETWORK: domains the agent wants reported */
  uint32_t file_opens; /* RS_HOOK_OPENS_* */
  uint32_t reserved[7];
};
RS_STATIC_ASSERT(sizeof(struct rs_hook_state) == 64, "rs_hook_state layout");

/* A consistent copy of the state file; valid is 0 when there is no usable state. */
struct rs_hook_state_view {
  int valid;
  uint32_t generation;
  uint32_t sync_ops;
  uint32_t deadline_ms;
  uint32_t fail_closed;
  int32_t agent_pid;
  uint32_t report_ops;
  uint32_t file_opens;
};

/* ---- little-endian access */

static inline void rs_put_u16(uint8_t* p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void rs_put_u32(uint8_t* p, uint32_t v) {
  rs_put_u16(p, (uint16_t)v);
  rs_put_u16(p + 2, (uint16_t)(v >> 16));
}
static inline void rs_put_u64(uint8_t* p, uint64_t v) {
  rs_put_u32(p, (uint32_t)v);
  rs_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t rs_get_u16(const uint8_t* p) {
  return (uint16_t)(p[0] | ((uint16_t)p[1] << 8));
}
static inline uint32_t rs_get_u32(const uint8_t* p) {
  return (uint32_t)rs_get_u16(p) | ((uint32_t)rs_get_u16(p + 2) << 16);
}
static inline uint64_t rs_get_u64(const uint8_t* p) {
  return (uint64_t)rs_get_u32(p) | ((uint64_t)rs_get_u32(p + 4) << 32);
}

#ifdef __cplusplus
}
#endif

#endif /* RINGSIDE_HOOK_PROTOCOL_H */
