// The walk over a buffer read from a fanotify group with FAN_REPORT_DFID_NAME |
// FAN_REPORT_FID | FAN_REPORT_TARGET_FID, on arbitrary bytes: the walk the file sensor runs
// (for_each_event) and the parser of each event's information records (handles, names,
// old/new directory entries). A malformed record is refused; every event visited lies inside
// the buffer and so do the names parsed from it.
#include <sys/fanotify.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "sensors/kernel/fanotify_fid.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A read(2) buffer, as the sensor's, is aligned; events inside it need not be.
  if (size > (1U << 20)) return 0;
  std::vector<uint64_t> aligned((size + 7) / 8);
  if (size > 0) std::memcpy(aligned.data(), data, size);
  const char* buf = reinterpret_cast<const char*>(aligned.data());
  ringside::for_each_event(buf, size, [&](const fanotify_event_metadata& m, const char* event) {
    if (event < buf || event + m.event_len > buf + size) std::abort();
    ringside::FidEvent e;
    if (!ringside::parse_fid_event(m, event, &e)) return;
    for (const auto* ref : {&e.entry, &e.old_entry, &e.new_entry}) {
      if (*ref && (*ref)->name.size() > m.event_len) std::abort();
    }
  });
  return 0;
}
