// Which file, and which version of it: what caches keyed by file content (hashes, decisions)
// use, so that a replaced or modified file is never mistaken for the one that was seen.
#pragma once

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdint>

namespace ringside {

struct FileIdentity {
  uint64_t dev = 0;  // user-space dev_t encoding (as stat(2) returns it)
  uint64_t ino = 0;
  int64_t mtime_ns = 0;

  bool operator==(const FileIdentity& o) const {
    return dev == o.dev && ino == o.ino && mtime_ns == o.mtime_ns;
  }

  static FileIdentity of(const struct stat& st) {
    return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
            static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  }
  // From the kernel's own dev_t encoding (MAJOR << 20 | MINOR), as BPF programs read it.
  static FileIdentity from_kernel(uint64_t kdev, uint64_t ino, int64_t mtime_ns) {
    const auto major = static_cast<unsigned>(kdev >> 20);
    const auto minor = static_cast<unsigned>(kdev & 0xFFFFF);
    return {static_cast<uint64_t>(makedev(major, minor)), ino, mtime_ns};
  }
};

}  // namespace ringside
