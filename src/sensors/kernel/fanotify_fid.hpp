// The parts of the file notification sensor that work on fanotify's file-handle records
// (FAN_REPORT_DFID_NAME, FAN_REPORT_FID, FAN_REPORT_TARGET_FID), kept apart so that they are
// tested on synthetic records:
//
//   for_each_event     the events of one read(2) buffer, each metadata copied out aligned
//   parse_fid_event    the information records after one event's metadata
//   HandleResolver     file handle -> path (open_by_handle_at on a descriptor of the marked
//                      filesystem, then the path of that descriptor); injectable
//   HandlePathCache    directory handle -> path, forgotten for a whole subtree when a directory
//                      is renamed or removed, learnt from creations and renames (the handle of
//                      the new entry comes with the event), so that events queued under a
//                      directory that is gone by the time they are read still resolve
//   RenamePairer       where the kernel has no FAN_RENAME: MOVED_FROM and MOVED_TO of one
//                      rename carry the same object handle (or at least the same pid), which
//                      pairs them
//   ModifyCoalescer    one file.modify per write session (first write after an open for
//                      writing, and again at most once per interval for a writer that keeps
//                      the file open); a close after writing ends the session
#pragma once

#include <sys/fanotify.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringside {

// A file handle as the kernel reports it: filesystem id plus handle type and bytes.
struct FileHandleKey {
  uint64_t fsid = 0;
  int32_t type = 0;
  std::string bytes;

  bool operator==(const FileHandleKey& o) const {
    return fsid == o.fsid && type == o.type && bytes == o.bytes;
  }
  struct Hash {
    size_t operator()(const FileHandleKey& k) const;
  };
};

struct DirEntryRef {
  FileHandleKey dir;
  std::string name;  // "." when the event is about the directory itself
};

struct FidEvent {
  uint64_t mask = 0;
  int32_t pid = 0;
  std::optional<DirEntryRef> entry;                 // DFID_NAME / DFID
  std::optional<DirEntryRef> old_entry, new_entry;  // FAN_RENAME
  std::optional<FileHandleKey> object;              // FID of the object itself
};

// Calls visit(metadata, event_bytes) for each complete event in `buf` (the FAN_EVENT_OK /
// FAN_EVENT_NEXT walk). The kernel pads information records to 4 bytes only, so an event that
// follows one can start 4-aligned while its metadata holds a u64: each metadata is copied out
// rather than read in place. Stops at an event of another metadata version (returns false).
template <typename Visit>
bool for_each_event(const char* buf, size_t len, Visit&& visit) {
  size_t off = 0;
  while (len - off >= FAN_EVENT_METADATA_LEN) {
    fanotify_event_metadata m;
    std::memcpy(&m, buf + off, sizeof m);
    if (m.event_len < FAN_EVENT_METADATA_LEN || m.event_len > len - off) break;
    if (m.vers != FANOTIFY_METADATA_VERSION) return false;
    visit(static_cast<const fanotify_event_metadata&>(m), buf + off);
    off += m.event_len;
  }
  return true;
}

// Parses the information records of one event (`event` points at its first byte, where the
// metadata `m` was copied from); false when a record is malformed.
bool parse_fid_event(const fanotify_event_metadata& m, const char* event, FidEvent* out);
// The same for metadata read in place, followed by its records.
inline bool parse_fid_event(const fanotify_event_metadata& m, FidEvent* out) {
  return parse_fid_event(m, reinterpret_cast<const char*>(&m), out);
}

// 64-bit filesystem id as fanotify and statfs(2) report it.
uint64_t fsid_key(int32_t val0, int32_t val1);

class HandleResolver {
 public:
  virtual ~HandleResolver() = default;
  // Current path of the object `key` names, through `mount_fd` (a descriptor on a mount of
  // its filesystem); nothing when it no longer exists.
  virtual std::optional<std::string> path_of(int mount_fd, const FileHandleKey& key) = 0;
};
std::shared_ptr<HandleResolver> system_handle_resolver();

class HandlePathCache {
 public:
  explicit HandlePathCache(size_t capacity) : capacity_(capacity) {}
  std::optional<std::string> find(const FileHandleKey& key) const;
  // Past the capacity the cache starts over (every entry can be resolved again).
  void put(const FileHandleKey& key, std::string path);
  // `path` was renamed or removed: forget it and everything below it.
  void forget_tree(std::string_view path);
  size_t size() const { return paths_.size(); }

 private:
  size_t capacity_;
  std::unordered_map<FileHandleKey, std::string, FileHandleKey::Hash> paths_;
};

// Keys: the object's handle where the kernel reports it (FAN_REPORT_TARGET_FID), else the
// acting pid (the kernel queues a rename's MOVED_FROM and MOVED_TO one after the other).
class RenamePairer {
 public:
  struct Move {
    std::string from, to;  // empty when that side was not seen (moved in or out of sight)
    int32_t pid = 0;
  };
  void moved_from(std::string key, std::string path, int32_t pid, int64_t now_ns);
  // The rename this MOVED_TO completes (from empty when its MOVED_FROM was not seen).
  Move moved_to(const std::string& key, std::string path, int32_t pid);
  // MOVED_FROMs older than `max_age_ns` without a MOVED_TO: moved out of sight.
  std::vector<Move> expire(int64_t now_ns, int64_t max_age_ns);
  bool empty() const { return waiting_.empty(); }

 private:
  struct Waiting {
    std::string key;
    std::string path;
    int32_t pid;
    int64_t since_ns;
  };
  std::deque<Waiting> waiting_;
};

class ModifyCoalescer {
 public:
  ModifyCoalescer(int64_t interval_ns, size_t capacity)
      : interval_ns_(interval_ns), capacity_(capacity) {}
  // A write to the file `key`: true when it is reported.
  bool on_modify(const std::string& key, int64_t now_ns);
  // The file was closed after writing: its next write starts a new session.
  void on_close_write(const std::string& key) { reported_.erase(key); }

 private:
  int64_t interval_ns_;
  size_t capacity_;
  std::unordered_map<std::string, int64_t> reported_;  // key -> when last reported
};

}  // namespace ringside
