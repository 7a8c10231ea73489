#include "sensors/kernel/fanotify_fid.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "sensors/kernel/fanotify_permission.hpp"

namespace ringside {

namespace {

// struct file_handle's fixed part: handle_bytes (u32) and handle_type (int).
constexpr size_t kHandleHeader = sizeof(uint32_t) + sizeof(int32_t);

bool under(std::string_view path, std::string_view dir) {
  if (path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/' || dir == "/";
}

// One fanotify_event_info_fid: fsid, file handle and (for the *_DFID_NAME types) a name.
bool parse_fid_record(const char* p, size_t len, bool with_name, FileHandleKey* key,
                      std::string* name) {
  constexpr size_t kFixed = sizeof(fanotify_event_info_fid);  // header + fsid
  if (len < kFixed + kHandleHeader) return false;
  fanotify_event_info_fid info;
  std::memcpy(&info, p, sizeof info);
  uint32_t handle_bytes = 0;
  int32_t handle_type = 0;
  std::memcpy(&handle_bytes, p + kFixed, sizeof handle_bytes);
  std::memcpy(&handle_type, p + kFixed + sizeof handle_bytes, sizeof handle_type);
  const size_t handle_end = kFixed + kHandleHeader + handle_bytes;
  if (handle_bytes > 128 || handle_end > len) return false;
  key->fsid = fsid_key(info.fsid.val[0], info.fsid.val[1]);
  key->type = handle_type;
  key->bytes.assign(p + kFixed + kHandleHeader, handle_bytes);
  if (!with_name) return true;
  const char* n = p + handle_end;
  const size_t room = len - handle_end;
  const void* nul = std::memchr(n, '\0', room);
  if (nul == nullptr) return false;
  name->assign(n, static_cast<size_t>(static_cast<const char*>(nul) - n));
  return true;
}

class SystemHandleResolver final : public HandleResolver {
 public:
  std::optional<std::string> path_of(int mount_fd, const FileHandleKey& key) override {
    alignas(file_handle) char buf[sizeof(file_handle) + 128];
    auto* fh = reinterpret_cast<file_handle*>(buf);
    if (key.bytes.size() > 128) return std::nullopt;
    fh->handle_bytes = static_cast<unsigned>(key.bytes.size());
    fh->handle_type = key.type;
    std::memcpy(fh->f_handle, key.bytes.data(), key.bytes.size());
    // O_PATH: no open of the file itself, so no fanotify event of any group.
    const int fd = open_by_handle_at(mount_fd, fh, O_PATH | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string path = fanotify_perm::fd_path(fd);
    close(fd);
    if (path.empty() || path.ends_with(" (deleted)")) return std::nullopt;
    return path;
  }
};

}  // namespace

size_t FileHandleKey::Hash::operator()(const FileHandleKey& k) const {
  return std::hash<std::string>()(k.bytes) ^ (std::hash<uint64_t>()(k.fsid) * 31) ^
         static_cast<size_t>(k.type);
}

uint64_t fsid_key(int32_t val0, int32_t val1) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(val1)) << 32) | static_cast<uint32_t>(val0);
}

bool parse_fid_event(const fanotify_event_metadata& m, const char* event, FidEvent* out) {
  out->mask = m.mask;
  out->pid = m.pid;
  const char* base = event;
  size_t off = m.metadata_len;
  if (off < FAN_EVENT_METADATA_LEN) return false;
  while (off < m.event_len) {
    if (m.event_len - off < sizeof(fanotify_event_info_header)) return false;
    fanotify_event_info_header h;
    std::memcpy(&h, base + off, sizeof h);
    if (h.len < sizeof h || h.len > m.event_len - off) return false;
    const char* p = base + off;
    DirEntryRef entry;
    switch (h.info_type) {
      case FAN_EVENT_INFO_TYPE_FID: {
        FileHandleKey key;
        if (!parse_fid_record(p, h.len, false, &key, nullptr)) return false;
        out->object = std::move(key);
        break;
      }
      case FAN_EVENT_INFO_TYPE_DFID_NAME:
      case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
      case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
        if (!parse_fid_record(p, h.len, true, &entry.dir, &entry.name)) return false;
        if (h.info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME) {
          out->old_entry = std::move(entry);
        } else if (h.info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME) {
          out->new_entry = std::move(entry);
        } else {
          out->entry = std::move(entry);
        }
        break;
      case FAN_EVENT_INFO_TYPE_DFID:
        if (!parse_fid_record(p, h.len, false, &entry.dir, nullptr)) return false;
        entry.name = ".";
        out->entry = std::move(entry);
        break;
      default:  // pidfd, error and types of later kernels: not needed here
        break;
    }
    off += h.len;
  }
  return true;
}

std::shared_ptr<HandleResolver> system_handle_resolver() {
  return std::make_shared<SystemHandleResolver>();
}

std::optional<std::string> HandlePathCache::find(const FileHandleKey& key) const {
  auto it = paths_.find(key);
  if (it == paths_.end()) return std::nullopt;
  return it->second;
}

void HandlePathCache::put(const FileHandleKey& key, std::string path) {
  if (paths_.size() >= capacity_ && paths_.find(key) == paths_.end()) paths_.clear();
  paths_[key] = std::move(path);
}

void HandlePathCache::forget_tree(std::string_view path) {
  std::erase_if(paths_, [&](const auto& kv) { return under(kv.second, path); });
}

void RenamePairer::moved_from(std::string key, std::string path, int32_t pid, int64_t now_ns) {
  waiting_.push_back({std::move(key), std::move(path), pid, now_ns});
}

RenamePairer::Move RenamePairer::moved_to(const std::string& key, std::string path, int32_t pid) {
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (it->key == key) {
      Move m{std::move(it->path), std::move(path), pid};
      waiting_.erase(it);
      return m;
    }
  }
  return Move{"", std::move(path), pid};
}

std::vector<RenamePairer::Move> RenamePairer::expire(int64_t now_ns, int64_t max_age_ns) {
  std::vector<Move> out;
  while (!waiting_.empty() && now_ns - waiting_.front().since_ns >= max_age_ns) {
    out.push_back({std::move(waiting_.front().path), "", waiting_.front().pid});
    waiting_.pop_front();
  }
  return out;
}

bool ModifyCoalescer::on_modify(const std::string& key, int64_t now_ns) {
  auto it = reported_.find(key);
  if (it != reported_.end()) {
    if (now_ns - it->second < interval_ns_) return false;
    it->second = now_ns;
    return true;
  }
  if (reported_.size() >= capacity_) {
    // Forget the sessions that have been quiet longest (an interval or more).
    std::erase_if(reported_, [&](const auto& kv) { return now_ns - kv.second >= interval_ns_; });
    if (reported_.size() >= capacity_) reported_.clear();
  }
  reported_.emplace(key, now_ns);
  return true;
}

}  // namespace ringside
