// The netlink side of NFQUEUE: a thin facade (one method per system call: recv, send a
// verdict) over a NETLINK_NETFILTER socket bound to one queue, and the pure parser of what the
// kernel sends, so that everything above it is unit-tested without privileges.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace ringside {

// Netfilter hooks a queued packet can come from (NF_INET_*).
inline constexpr uint8_t kHookLocalIn = 1;
inline constexpr uint8_t kHookLocalOut = 3;
// enum ip_conntrack_info values the kernel reports in NFQA_CT_INFO.
inline constexpr int kCtNew = 2;
inline constexpr int kCtIsReply = 3;

struct QueuedPacket {
  uint32_t id = 0;
  uint8_t hook = 0;
  uint32_t mark = 0;
  std::optional<uint32_t> uid;  // owner of the local socket, when the kernel knows it
  std::optional<uint32_t> gid;
  int ct_info = -1;              // enum ip_conntrack_info; -1 when not reported
  std::vector<uint8_t> payload;  // the IP packet
};

// Parses one datagram read from the queue socket (one or more netlink messages). Messages for
// another queue or of another type are skipped; malformed ones make it fail.
Result<std::vector<QueuedPacket>> parse_queue_datagram(std::span<const uint8_t> data);

// The kernel's loss counters of one queue, from /proc/net/netfilter/nfnetlink_queue (one line
// per bound queue: number, peer port id, packets waiting, copy mode, copy range, queue_dropped,
// user_dropped, last id, 1). queue_dropped: the queue was full; user_dropped: the packet could
// not be put into our socket. With fail-open the kernel accepts such packets and counts neither.
struct QueueDropCounts {
  uint64_t queue_dropped = 0, user_dropped = 0, id_sequence = 0;
};
std::optional<QueueDropCounts> parse_queue_drops(std::string_view proc_text, uint16_t queue);

// Verdicts: accept, or repeat the hook with a mark (the chain's first rules reject marked
// packets, which makes a TCP connect fail at once with a reset instead of timing out).
inline constexpr uint32_t kVerdictAccept = 1;  // NF_ACCEPT
inline constexpr uint32_t kVerdictRepeat = 4;  // NF_REPEAT

class NfqueueIo {
 public:
  virtual ~NfqueueIo() = default;
  virtual int fd() const = 0;
  // One datagram; an Error with code ENOBUFS when the kernel dropped messages for us.
  virtual Result<size_t> recv(std::span<uint8_t> buf) = 0;
  virtual Result<void> verdict(uint32_t id, uint32_t verdict, std::optional<uint32_t> mark) = 0;
};

// Binds queue `queue` (copying whole packets, with conntrack state and socket uid/gid). With
// `fail_open` the kernel accepts packets instead of dropping them when the queue is full.
Result<std::unique_ptr<NfqueueIo>> open_nfqueue(uint16_t queue, bool fail_open);

}  // namespace ringside
