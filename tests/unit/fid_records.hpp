// Builds fanotify event records with file-handle information, byte for byte as the kernel lays
// them out (struct fanotify_event_metadata, then fanotify_event_info_fid records: header,
// fsid, struct file_handle, and for the *_DFID_NAME types a NUL-terminated name, each padded
// to 4 bytes).
#pragma once

#include <sys/fanotify.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace ringside::testing_fanotify {

struct Fsid {
  int32_t val0, val1;
};

class FidRecordBuilder {
 public:
  FidRecordBuilder(uint64_t mask, int32_t pid) : mask_(mask), pid_(pid) {}

  FidRecordBuilder& entry(uint8_t type, Fsid fsid, const std::string& handle,
                          const std::string& name) {
    add(type, fsid, handle, &name);
    return *this;
  }
  FidRecordBuilder& dfid(Fsid fsid, const std::string& handle) {
    add(FAN_EVENT_INFO_TYPE_DFID, fsid, handle, nullptr);
    return *this;
  }
  FidRecordBuilder& object(Fsid fsid, const std::string& handle) {
    add(FAN_EVENT_INFO_TYPE_FID, fsid, handle, nullptr);
    return *this;
  }

  std::string bytes() const {
    fanotify_event_metadata m{};
    m.vers = FANOTIFY_METADATA_VERSION;
    m.metadata_len = sizeof m;
    m.event_len = static_cast<uint32_t>(sizeof m + info_.size());
    m.mask = mask_;
    m.fd = FAN_NOFD;
    m.pid = pid_;
    std::string out(reinterpret_cast<const char*>(&m), sizeof m);
    return out + info_;
  }

 private:
  void add(uint8_t type, Fsid fsid, const std::string& handle, const std::string* name) {
    std::string rec(sizeof(fanotify_event_info_header), '\0');
    rec.append(reinterpret_cast<const char*>(&fsid), sizeof fsid);
    const uint32_t handle_bytes = static_cast<uint32_t>(handle.size());
    const int32_t handle_type = 1;
    rec.append(reinterpret_cast<const char*>(&handle_bytes), sizeof handle_bytes);
    rec.append(reinterpret_cast<const char*>(&handle_type), sizeof handle_type);
    rec += handle;
    if (name != nullptr) {
      rec += *name;
      rec.push_back('\0');
    }
    while (rec.size() % 4 != 0) rec.push_back('\0');
    fanotify_event_info_header h{};
    h.info_type = type;
    h.len = static_cast<uint16_t>(rec.size());
    std::memcpy(rec.data(), &h, sizeof h);
    info_ += rec;
  }

  uint64_t mask_;
  int32_t pid_;
  std::string info_;
};

}  // namespace ringside::testing_fanotify
