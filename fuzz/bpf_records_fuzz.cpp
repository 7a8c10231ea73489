// The decoders of the eBPF sensors' ring buffer records (process and file) on arbitrary bytes.
// The kernel writes these, but a decoder that trusts lengths is one verifier-accepted bug away
// from reading out of bounds: every record is either refused or becomes valid JSON.
#include <ringside/records.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "check_json.hpp"
#include "sensors/kernel/file_records.hpp"
#include "sensors/kernel/process_records.hpp"

namespace pr = ringside::process_records;
namespace fr = ringside::file_records;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Ring buffer samples are 8-byte aligned; so is this copy.
  if (size > (1U << 20)) return 0;  // far larger than any record or read buffer
  std::vector<uint64_t> aligned((size + 7) / 8);
  if (size > 0) std::memcpy(aligned.data(), data, size);
  const void* rec = aligned.data();
  switch (pr::record_type(rec, size)) {
    case RS_REC_FORK:
      if (auto r = pr::decode_fork(rec, size)) ringside::fuzz::check_event_json(pr::fork_event(*r));
      break;
    case RS_REC_EXIT:
      if (auto r = pr::decode_exit(rec, size)) ringside::fuzz::check_event_json(pr::exit_event(*r));
      break;
    case RS_REC_EXEC:
      if (auto r = pr::decode_exec(rec, size)) {
        ringside::fuzz::check_event_json(pr::exec_event(*r));
        (void)pr::process_info(*r);
      }
      break;
    case RS_REC_FILE_OP:
      if (auto r = fr::decode_file_op(rec, size)) {
        // No file system access from a fuzzer: a path resolves to itself.
        const fr::RealPath same = [](const std::string& p) {
          return std::optional<std::string>(p);
        };
        ringside::fuzz::check_event_json(fr::file_event(*r, same));
      }
      break;
    default:
      break;
  }
  return 0;
}
