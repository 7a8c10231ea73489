// The agent's decoder of hook datagrams on arbitrary bytes: a hooked process controls them
// completely. A datagram is either rejected with a reason, or is a positive count of unsent
// reports and nothing else, or becomes an event whose JSON is valid; it never names another pid
// than the peer's.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "check_json.hpp"
#include "sensors/user/hook_decoder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ringside::HookPeer peer;
  peer.pid = 4242;
  peer.uid = 1000;
  peer.euid = 1000;
  peer.gid = 1000;
  auto msg = ringside::decode_hook_message(std::span<const uint8_t>(data, size), peer, 1);
  if (!msg) {
    if (msg.error().message.empty()) std::abort();
    return 0;
  }
  if (msg->counts_only) {
    if (msg->unsent == 0 || msg->unsent > uint64_t{INT64_MAX} || msg->new_process ||
        msg->want_verdict) {
      std::abort();
    }
    return 0;
  }
  const ringside::Event& ev = msg->event;
  const auto pid_field =
      msg->new_process ? ringside::Field::kProcessParentPid : ringside::Field::kProcessPid;
  if (!ev.has(pid_field) || ev.get_int(pid_field) != peer.pid) std::abort();
  ringside::fuzz::check_event_json(ev);
  return 0;
}
