// The query socket redirect inspectors use to learn where a redirected connection was going:
// a UNIX SOCK_SEQPACKET socket (by default /run/ringside/origdst.sock, next to the hook
// socket). Request "ORIGDST <local-port>" (the inspector's peer port, i.e. the redirected
// client's source port; optionally "ORIGDST <port> tcp"), reply "<ip> <port>" or
// "ERR <reason>". docs/redirect.md describes it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace ringside {

struct OrigDst {
  std::string ip;
  uint16_t port = 0;
};

// Looks up the original destination of the redirected TCP connection with this local port.
using OrigDstLookup = std::function<std::optional<OrigDst>(uint16_t local_port)>;

// One request's reply (pure; the server calls it for every message).
std::string origdst_reply(std::string_view request, const OrigDstLookup& lookup);

class OrigDstServer {
 public:
  OrigDstServer();
  ~OrigDstServer();
  OrigDstServer(const OrigDstServer&) = delete;
  OrigDstServer& operator=(const OrigDstServer&) = delete;

  // Binds `path` (a stale socket file is replaced; the directory is created), mode 0600:
  // only root (and the agent's user) may ask. Serves from its own thread until stop().
  Result<void> start(const std::string& path, OrigDstLookup lookup);
  void stop();
  uint64_t answered() const;
  uint64_t malformed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringside
