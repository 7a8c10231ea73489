// Hook messages (sensors/user/hook_protocol.h) -> Events. A pure function of the datagram and
// the sender's kernel-reported credentials: a message never names its own pid or uid, and
// anything malformed, unknown or agent-owned is rejected with a reason instead of guessed at.
#pragma once

#include <cstdint>
#include <span>

#include <optional>

#include "core/event.hpp"
#include "core/file_identity.hpp"
#include "core/result.hpp"
#include "sensors/user/preload/hook_logic.h"

namespace ringside {

// Who sent a message: SO_PEERCRED at connect time, plus the real uid from /proc when known.
struct HookPeer {
  int32_t pid = 0;    // 0: the sender is outside the agent's pid namespace
  uint32_t uid = 0;   // real user id
  uint32_t euid = 0;  // effective user id (what SO_PEERCRED reports)
  uint32_t gid = 0;
};

struct HookMessage {
  uint32_t seq = 0;
  bool want_verdict = false;  // the caller waits for a verdict before it acts
  bool new_process = false;   // spawn-type: the sender is the parent of the new process
  bool last = false;          // nothing follows on this connection
  // Device, inode and mtime of process.executable as the hook saw them (a claim, like the
  // path): enough to find its hash in a cache without a system call.
  std::optional<FileIdentity> executable_identity;
  // Reports the sender could not send before this one (RS_HOOK_FIELD_UNSENT): lost at the
  // hook, counted by the agent as dropped.
  uint64_t unsent = 0;
  // An UNSENT message: the count above is all it says, `event` is empty.
  bool counts_only = false;
  Event event;
};

// Text of a wire address ("127.0.0.1"; IPv4-mapped IPv6 as the IPv4 address) and its
// network.type ("ipv4" | "ipv6").
std::string hook_address_text(const rs_hook_address& a);
std::string_view hook_address_type(const rs_hook_address& a);

// Decodes one datagram: an EVENT or an UNSENT message (counts_only). The event carries level user,
// sensor "preload", outcome "unknown" (it is reported before the call; accept: after), the sender
// as process.pid (exec-type) or process.parent.pid (spawn-type), user.id / user.effective.id /
// group.id from `peer`, and the fields the hook observed. File reports: file.path and
// file.target_path must be absolute; open flags become ringside.file.flags and the mode file.mode
// (octal), as the kernel level writes them; a symbolic link's file.path is its content placed next
// to the link. Network reports: addresses become source.* (the local end; accept: the connecting
// peer) and destination.*, with network.type and network.transport.
Result<HookMessage> decode_hook_message(std::span<const uint8_t> bytes, const HookPeer& peer,
                                        int64_t timestamp_ns);

}  // namespace ringside
