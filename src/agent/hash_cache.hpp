// SHA-256 of files, cached by (device, inode, size, mtime) so that a binary run a thousand
// times is hashed once and a modified one is hashed again. Bounded (least recently used out);
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

namespace ringside {

class HashCache {
 public:
  HashCache(size_t capacity, int64_t max_bytes) : capacity_(capacity), max_bytes_(max_bytes) {}

  // Hash of the file at `path` (opened without following a final symlink's replacement race:
  // the identity is taken from the opened descriptor).
  std::optional<std::string> sha256_of_path(std::string_view path);
  // Hash of an open file; `fd` is read with pread and left open.
  std::optional<std::string> sha256_of_fd(int fd);

  void set_max_bytes(int64_t max_bytes) { max_bytes_.store(max_bytes); }

  struct Stats {
    uint64_t hits = 0, misses = 0, too_large = 0, errors = 0;
  };
  Stats stats() const;

 private:
  struct Key {
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    bool operator==(const Key& o) const {
      return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns;
    }
  };
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
