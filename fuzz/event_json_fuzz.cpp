// The JSON encoder and decoder on arbitrary values. An event built from the input (any bytes in
// any string field, any integers) is encoded to one line of valid JSON; decoding that line
// gives the same line again when encoded (the round trip the replay sensor relies on). The
// decoder is also fed the raw input and must refuse or accept it without crashing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "check_json.hpp"
#include "core/json_decode.hpp"
#include "fuzz_input.hpp"
#include "ringside/schema_gen.hpp"

using ringside::schema::FieldType;
using ringside::schema::kFieldInfo;
using ringside::schema::kNumEventTypes;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ringside::fuzz::Input in(data, size);
  const auto& type = ringside::schema::kEventTypes[in.take<uint8_t>() % kNumEventTypes];
  ringside::Event ev(static_cast<ringside::EventType>(type.id), in.take<int64_t>());
  for (int n = 0; n < 16 && !in.empty(); ++n) {
    const auto& info = kFieldInfo[in.take<uint8_t>() % kFieldInfo.size()];
    switch (info.type) {
      case FieldType::kInt:
      case FieldType::kTimestamp:
        ev.set(info.id, in.take<int64_t>());
        break;
      case FieldType::kString:
      case FieldType::kIp:
        ev.set(info.id, in.string(8192));
        break;
      case FieldType::kStrings:
        ev.append(info.id, in.string(8192));
        break;
    }
  }
  ringside::fuzz::check_event_json(ev);
  std::string line;
  ringside::append_event_json(line, ev);
  auto back = ringside::parse_event_json(line);
  if (back) {
    std::string again;
    ringside::append_event_json(again, *back);
    if (again != line) {
      std::fprintf(stderr, "round trip changed the line:\n%s%s", line.c_str(), again.c_str());
      std::abort();
    }
  }
  (void)ringside::parse_event_json(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
