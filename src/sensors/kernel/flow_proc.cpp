#include "sensors/kernel/flow_proc.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace ringside {

namespace {

// /proc/net addresses are the in-memory 32-bit words printed in hex: parsing each word as an
// integer and storing it back in host order gives the network-order bytes.
bool parse_address(std::string_view hex, uint8_t* out, size_t bytes) {
  if (hex.size() != bytes * 2) return false;
  for (size_t w = 0; w < bytes / 4; ++w) {
    const std::string word(hex.substr(w * 8, 8));
    char* end = nullptr;
    const uint32_t v = static_cast<uint32_t>(std::strtoul(word.c_str(), &end, 16));
    if (end != word.c_str() + 8) return false;
    std::memcpy(out + w * 4, &v, 4);
  }
  return true;
}

bool local_matches(const Flow& flow, std::string_view local, bool table_v6) {
  const size_t colon = local.find(':');
  if (colon == std::string_view::npos) return false;
  const uint16_t port = static_cast<uint16_t>(
      std::strtoul(std::string(local.substr(colon + 1)).c_str(), nullptr, 16));
  if (port != flow.sport) return false;
  uint8_t addr[16] = {};
  if (!parse_address(local.substr(0, colon), addr, table_v6 ? 16 : 4)) return false;
  if (!table_v6) return !flow.v6 && std::memcmp(addr, flow.saddr.data(), 4) == 0;
  if (flow.v6) return std::memcmp(addr, flow.saddr.data(), 16) == 0;
  // An IPv4 flow on a dual-stack socket: ::ffff:a.b.c.d, or :: for a wildcard-bound one.
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kAny[16] = {};
  if (std::memcmp(addr, kMapped, 12) == 0) return std::memcmp(addr + 12, flow.saddr.data(), 4) == 0;
  return std::memcmp(addr, kAny, 16) == 0;
}

}  // namespace

std::optional<ProcFlowOwners::SocketEntry> ProcFlowOwners::find_socket(const Flow& flow) const {
  const char* proto = flow.protocol == IPPROTO_TCP ? "tcp" : "udp";
  std::optional<SocketEntry> wildcard;
  for (const bool v6 : {false, true}) {
    std::ifstream in(root_ + "/net/" + proto + (v6 ? "6" : ""));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      char local[64], remote[64];
      unsigned uid = 0;
      unsigned long long inode = 0;
      if (std::sscanf(line.c_str(), " %*s %63s %63s %*s %*s %*s %*s %u %*s %llu", local, remote,
                      &uid, &inode) != 4) {
        continue;
      }
      if (inode == 0) continue;
      std::string_view lv(local);
      if (local_matches(flow, lv, v6)) return SocketEntry{inode, uid};
      // A UDP socket bound to the wildcard address on this port sends from any local address.
      if (!wildcard && flow.protocol == IPPROTO_UDP) {
        Flow any = flow;
        any.saddr = {};
        if (local_matches(any, lv, v6)) wildcard = SocketEntry{inode, uid};
      }
    }
  }
  return wildcard;
}

std::optional<FlowOwner> ProcFlowOwners::owner(const Flow& flow) const {
  const auto sock = find_socket(flow);
  if (!sock) return std::nullopt;
  const std::string want = "socket:[" + std::to_string(sock->inode) + "]";
  DIR* proc = opendir(root_.c_str());
  if (proc == nullptr) return std::nullopt;
  std::optional<FlowOwner> found;
  while (!found) {
    dirent* de = readdir(proc);
    if (de == nullptr) break;
    char* end = nullptr;
    const long pid = std::strtol(de->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    const std::string fd_dir = root_ + "/" + de->d_name + "/fd";
    DIR* fds = opendir(fd_dir.c_str());
    if (fds == nullptr) continue;
    while (dirent* f = readdir(fds)) {
      if (f->d_name[0] == '.') continue;
      char target[64];
      const ssize_t n = readlink((fd_dir + "/" + f->d_name).c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = '\0';
      if (want == target) {
        found = FlowOwner{static_cast<int32_t>(pid), 0, sock->uid};
        break;
      }
    }
    closedir(fds);
  }
  closedir(proc);
  return found;
}

}  // namespace ringside
