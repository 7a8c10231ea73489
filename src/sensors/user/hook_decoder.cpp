#include "sensors/user/hook_decoder.hpp"

#include <algorithm>
#include <array>
#include <bitset>
#include <string>
#include <string_view>

#include "sensors/user/preload/hook_logic.h"

namespace ringside {

namespace {

// The wire ids are the schema ids; the generated enum and the C header must agree.
static_assert(static_cast<uint16_t>(Field::kProcessExecutable) == RS_FIELD_PROCESS_EXECUTABLE);
static_assert(static_cast<uint16_t>(Field::kProcessArgs) == RS_FIELD_PROCESS_ARGS);
static_assert(static_cast<uint16_t>(Field::kRingsideHook) == RS_FIELD_RINGSIDE_HOOK);
static_assert(static_cast<uint16_t>(EventType::kProcessExec) == RS_EVENT_PROCESS_EXEC);

// What a hook may tell the agent for each event type it reports, and what it must.
struct HookEventSpec {
  EventType type;
  std::span<const Field> accepted;
  std::span<const Field> required;
};

constexpr std::array kExecAccepted = {
    Field::kProcessExecutable, Field::kProcessArgs,
    Field::kProcessArgsCount,  Field::kProcessWorkingDirectory,
    Field::kProcessThreadId,   Field::kProcessCommandLine,
    Field::kRingsideHook,      Field::kRingsideTruncated,
};
constexpr std::array kExecRequired = {Field::kProcessExecutable, Field::kRingsideHook};

constexpr std::array kHookEvents = {
    HookEventSpec{EventType::kProcessExec, kExecAccepted, kExecRequired},
};

const HookEventSpec* spec_for(uint16_t event_type) {
  for (const auto& s : kHookEvents) {
    if (static_cast<uint16_t>(s.type) == event_type) return &s;
  }
  return nullptr;
}

bool contains(std::span<const Field> fields, Field f) {
  return std::find(fields.begin(), fields.end(), f) != fields.end();
}

Error reject(std::string why) { return Error{"malformed hook message: " + std::move(why), 0}; }

std::string name_of(int index) { return std::string(schema::kFieldInfo[index].name); }

bool valid_hook_name(std::string_view s) {
  if (s.empty() || s.size() > RS_HOOK_MAX_HOOK_NAME) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

Result<HookMessage> decode_hook_message(std::span<const uint8_t> bytes, const HookPeer& peer,
                                        int64_t timestamp_ns) {
  if (bytes.size() > RS_HOOK_MAX_MESSAGE) {
    return reject(rs_hook_status_string(RS_HOOK_ERR_OVERSIZE));
  }
  rs_hook_header h{};
  const int st = rs_hook_parse_header(bytes.data(), bytes.size(), &h);
  if (st != RS_HOOK_OK) return reject(rs_hook_status_string(st));
  if (h.type != RS_HOOK_MSG_EVENT)
    return reject("message type " + std::to_string(h.type) + " is not an event");
  const HookEventSpec* spec = spec_for(h.event_type);
  if (spec == nullptr) {
    return reject("event type " + std::to_string(h.event_type) + " is not reported by hooks");
  }

  HookMessage m;
  m.seq = h.seq;
  m.want_verdict = (h.flags & RS_HOOK_FLAG_WANT_VERDICT) != 0;
  m.new_process = (h.flags & RS_HOOK_FLAG_NEW_PROCESS) != 0;
  m.last = (h.flags & RS_HOOK_FLAG_LAST) != 0;
  Event& ev = m.event;
  ev = Event(spec->type, timestamp_ns);

  std::bitset<schema::kNumFields> seen;
  rs_hook_tlv_iter it{};
  rs_hook_tlv_begin(&it, bytes.data() + RS_HOOK_HEADER_SIZE, h.length);
  rs_hook_tlv tlv{};
  int more = 0;
  while ((more = rs_hook_tlv_next(&it, &tlv)) > 0) {
    if (tlv.field == RS_HOOK_FIELD_EXECUTABLE_IDENTITY) {
      if (tlv.length != RS_HOOK_IDENTITY_SIZE) return reject("executable identity has a bad size");
      if (m.executable_identity) return reject("executable identity repeated");
      m.executable_identity = FileIdentity{rs_get_u64(tlv.value), rs_get_u64(tlv.value + 8),
                                           static_cast<int64_t>(rs_get_u64(tlv.value + 16))};
      continue;
    }
    const int index = schema::field_index(tlv.field);
    if (index < 0) return reject("unknown field id " + std::to_string(tlv.field));
    const auto& info = schema::kFieldInfo[index];
    const Field f = info.id;
    if (!contains(spec->accepted, f)) {
      return reject("field " + name_of(index) + " is not accepted from hooks");
    }
    const auto* p = reinterpret_cast<const char*>(tlv.value);
    const std::string_view value(p, tlv.length);
    switch (info.type) {
      case FieldType::kInt:
      case FieldType::kTimestamp:
        if (tlv.length != 8) {
          return reject("int field " + name_of(index) + " has length " +
                        std::to_string(tlv.length) + ", not 8");
        }
        if (seen[index]) return reject("field " + name_of(index) + " repeated");
        ev.set(f, static_cast<int64_t>(rs_get_u64(tlv.value)));
        break;
      case FieldType::kString:
      case FieldType::kIp:
        if (value.find('\0') != std::string_view::npos) {
          return reject("string field " + name_of(index) + " contains a NUL byte");
        }
        if (seen[index]) return reject("field " + name_of(index) + " repeated");
        ev.set(f, value);
        break;
      case FieldType::kStrings:
        if (value.find('\0') != std::string_view::npos) {
          return reject("list field " + name_of(index) + " contains a NUL byte");
        }
        if (ev.get_list(f).size() >= RS_HOOK_MAX_LIST_ELEMENTS) {
          return reject("list field " + name_of(index) + " has more elements than allowed");
        }
        ev.append(f, value);
        break;
    }
    seen[index] = true;
  }
  if (more < 0) return reject(rs_hook_status_string(RS_HOOK_ERR_TLV));

  for (Field f : spec->required) {
    if (!ev.has(f)) return reject("required field " + name_of(schema::field_index(f)) + " missing");
  }
  const std::string_view exe = *ev.get_str(Field::kProcessExecutable);
  if (exe.empty() || exe.front() != '/') return reject("process.executable is not absolute");
  if (!valid_hook_name(*ev.get_str(Field::kRingsideHook))) {
    return reject("ringside.hook is not a function name");
  }
  if (auto n = ev.get_int(Field::kProcessArgsCount); n && *n < 0) {
    return reject("process.args_count is negative");
  }

  ev.set_origin(Level::kUser, "preload");
  ev.set(Field::kEventOutcome, "unknown");
  if (peer.pid > 0) {
    ev.set(m.new_process ? Field::kProcessParentPid : Field::kProcessPid,
           static_cast<int64_t>(peer.pid));
  }
  ev.set(Field::kUserId, static_cast<int64_t>(peer.uid));
  ev.set(Field::kUserEffectiveId, static_cast<int64_t>(peer.euid));
  ev.set(Field::kGroupId, static_cast<int64_t>(peer.gid));
  return m;
}

}  // namespace ringside
