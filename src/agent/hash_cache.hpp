// SHA-256 of files, cached by (device, inode, mtime) so that a binary run a thousand times is
// hashed once and a modified one is hashed again. Bounded (least recently used out);
// files above a size limit are not hashed (counted).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/file_identity.hpp"

namespace ringside {

class HashCache {
 public:
  HashCache(size_t capacity, int64_t max_bytes) : capacity_(capacity), max_bytes_(max_bytes) {}

  // Hash of the file at `path`; the identity is taken from the opened descriptor. When the
  // caller already knows the identity (a BPF record carries it), a cache hit costs no system
  // call at all.
  std::optional<std::string> sha256_of_path(std::string_view path,
                                            const FileIdentity* known = nullptr);
  // Cache lookup only.
  std::optional<std::string> lookup(const FileIdentity& id);
  // Hash of an open file; `fd` is read with pread and left open.
  std::optional<std::string> sha256_of_fd(int fd);

  void set_max_bytes(int64_t max_bytes) { max_bytes_.store(max_bytes); }

  struct Stats {
    uint64_t hits = 0, misses = 0, too_large = 0, errors = 0;
  };
  Stats stats() const;

 private:
  using Key = FileIdentity;
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<uint64_t>()(k.ino * 1000003ULL ^ k.dev ^ static_cast<uint64_t>(k.mtime_ns));
    }
  };
  using Lru = std::list<std::pair<Key, std::string>>;

  size_t capacity_;
  std::atomic<int64_t> max_bytes_;
  std::mutex mu_;
  Lru lru_;
  std::unordered_map<Key, Lru::iterator, KeyHash> index_;
  std::atomic<uint64_t> hits_{0}, misses_{0}, too_large_{0}, errors_{0};
};

// Hex SHA-256 of a buffer (tests, small inputs).
std::string sha256_hex(std::string_view data);

}  // namespace ringside
