#include "sensors/user/hook_decoder.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <bitset>
#include <string>
#include <string_view>
#include <vector>

#include "policy/cidr.hpp"
#include "sensors/kernel/file_records.hpp"
#include "sensors/user/preload/hook_logic.h"

namespace ringside {

namespace {

// The wire ids are the schema ids; the generated enum and the C header must agree.
static_assert(static_cast<uint16_t>(Field::kProcessExecutable) == RS_FIELD_PROCESS_EXECUTABLE);
static_assert(static_cast<uint16_t>(Field::kProcessArgs) == RS_FIELD_PROCESS_ARGS);
static_assert(static_cast<uint16_t>(Field::kRingsideHook) == RS_FIELD_RINGSIDE_HOOK);
static_assert(static_cast<uint16_t>(EventType::kProcessExec) == RS_EVENT_PROCESS_EXEC);

// The protocol's own TLVs (RS_HOOK_FIELD_*) an event type may carry.
enum Raw : unsigned {
  kRawIdentity = 1U << 0,
  kRawOpenFlags = 1U << 1,
  kRawMode = 1U << 2,
  kRawLocal = 1U << 3,
  kRawRemote = 1U << 4,
  kRawSocketType = 1U << 5,
  kRawResolved = 1U << 6,  // repeated: one per answer
  kRawUnsent = 1U << 7,
};

// What a hook may tell the agent for each event type it reports, and what it must.
struct HookEventSpec {
  EventType type;
  std::span<const Field> accepted;
  std::span<const Field> required;
  unsigned raw = 0;           // Raw bits accepted
  unsigned raw_required = 0;  // Raw bits required
};

constexpr std::array kExecAccepted = {
    Field::kProcessExecutable, Field::kProcessArgs,
    Field::kProcessArgsCount,  Field::kProcessWorkingDirectory,
    Field::kProcessThreadId,   Field::kProcessCommandLine,
    Field::kRingsideHook,      Field::kRingsideTruncated,
    Field::kProcessParentPid,
};
constexpr std::array kExecRequired = {Field::kProcessExecutable, Field::kRingsideHook};

constexpr std::array kFileAccepted = {
    Field::kFilePath,          Field::kFileTargetPath, Field::kRingsideFileRequestedPath,
    Field::kProcessThreadId,   Field::kRingsideHook,   Field::kRingsideTruncated,
    Field::kProcessExecutable,
};
constexpr std::array kFileRequired = {Field::kRingsideHook, Field::kRingsideFileRequestedPath};
constexpr std::array kNetAccepted = {Field::kProcessThreadId, Field::kRingsideHook,
                                     Field::kDnsQuestionName, Field::kProcessExecutable};
constexpr std::array kNetRequired = {Field::kRingsideHook};
constexpr std::array kDnsRequired = {Field::kRingsideHook, Field::kDnsQuestionName};
constexpr unsigned kSocket = kRawLocal | kRawRemote | kRawSocketType;

constexpr std::array kHookEvents = {
    HookEventSpec{EventType::kProcessExec, kExecAccepted, kExecRequired, kRawIdentity},
    HookEventSpec{EventType::kFileOpen, kFileAccepted, kFileRequired, kRawOpenFlags | kRawMode,
                  kRawOpenFlags},
    HookEventSpec{EventType::kFileCreate, kFileAccepted, kFileRequired, kRawMode},
    HookEventSpec{EventType::kFileModify, kFileAccepted, kFileRequired},
    HookEventSpec{EventType::kFileRename, kFileAccepted, kFileRequired},
    HookEventSpec{EventType::kFileDelete, kFileAccepted, kFileRequired},
    HookEventSpec{EventType::kFileChmod, kFileAccepted, kFileRequired, kRawMode, kRawMode},
    HookEventSpec{EventType::kFileLink, kFileAccepted, kFileRequired},
    HookEventSpec{EventType::kNetworkConnect, kNetAccepted, kNetRequired, kSocket, kRawRemote},
    HookEventSpec{EventType::kNetworkAccept, kNetAccepted, kNetRequired, kSocket,
                  kRawLocal | kRawRemote},
    HookEventSpec{EventType::kNetworkBind, kNetAccepted, kNetRequired, kSocket, kRawLocal},
    HookEventSpec{EventType::kNetworkSend, kNetAccepted, kNetRequired, kSocket, kRawRemote},
    HookEventSpec{EventType::kNetworkDns, kNetAccepted, kDnsRequired, kRawResolved},
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

// The raw values of one message.
struct RawFields {
  unsigned seen = 0;
  int64_t open_flags = 0;
  int64_t mode = 0;
  rs_hook_address local{};
  rs_hook_address remote{};
  int64_t socket_type = 0;
  std::vector<rs_hook_address> resolved;
};

// Reads one RS_HOOK_FIELD_* TLV into raw; an error text when it is malformed or not accepted.
std::optional<std::string> read_raw(const rs_hook_tlv& tlv, const HookEventSpec& spec,
                                    RawFields& raw, HookMessage& m) {
  unsigned bit = 0;
  switch (tlv.field) {
    case RS_HOOK_FIELD_EXECUTABLE_IDENTITY:
      bit = kRawIdentity;
      break;
    case RS_HOOK_FIELD_OPEN_FLAGS:
      bit = kRawOpenFlags;
      break;
    case RS_HOOK_FIELD_MODE:
      bit = kRawMode;
      break;
    case RS_HOOK_FIELD_LOCAL_ADDRESS:
      bit = kRawLocal;
      break;
    case RS_HOOK_FIELD_REMOTE_ADDRESS:
      bit = kRawRemote;
      break;
    case RS_HOOK_FIELD_SOCKET_TYPE:
      bit = kRawSocketType;
      break;
    case RS_HOOK_FIELD_RESOLVED_ADDRESS:
      bit = kRawResolved;
      break;
    case RS_HOOK_FIELD_UNSENT:
      bit = kRawUnsent;
      break;
    default:
      return "unknown field id " + std::to_string(tlv.field);
  }
  if ((spec.raw & bit) == 0 && bit != kRawUnsent) {
    return "protocol field " + std::to_string(tlv.field) + " is not accepted for this event";
  }
  if ((raw.seen & bit) != 0 && bit != kRawResolved) {
    return "protocol field " + std::to_string(tlv.field) + " repeated";
  }
  raw.seen |= bit;
  if (bit == kRawResolved) {
    rs_hook_address a{};
    if (tlv.length != RS_HOOK_ADDRESS_SIZE || rs_hook_address_get(tlv.value, &a) != 0) {
      return "malformed resolved address";
    }
    if (raw.resolved.size() >= RS_HOOK_MAX_RESOLVED) return "more resolved addresses than allowed";
    raw.resolved.push_back(a);
    return std::nullopt;
  }
  switch (bit) {
    case kRawIdentity:
      if (tlv.length != RS_HOOK_IDENTITY_SIZE) return "executable identity has a bad size";
      m.executable_identity = FileIdentity{rs_get_u64(tlv.value), rs_get_u64(tlv.value + 8),
                                           static_cast<int64_t>(rs_get_u64(tlv.value + 16))};
      return std::nullopt;
    case kRawLocal:
    case kRawRemote:
      if (tlv.length != RS_HOOK_ADDRESS_SIZE ||
          rs_hook_address_get(tlv.value, bit == kRawLocal ? &raw.local : &raw.remote) != 0) {
        return "malformed socket address";
      }
      return std::nullopt;
    default:
      break;
  }
  if (tlv.length != 8) return "protocol field " + std::to_string(tlv.field) + " is not 8 bytes";
  const auto v = static_cast<int64_t>(rs_get_u64(tlv.value));
  // open flags and modes are C ints / mode_t: 32 bits, as the program passed them.
  if (v < INT32_MIN || v > int64_t{UINT32_MAX}) {
    return "protocol field " + std::to_string(tlv.field) + " out of range";
  }
  if (bit == kRawUnsent) {
    if (v < 0) return "unsent count is negative";
    m.unsent = static_cast<uint64_t>(v);
    return std::nullopt;
  }
  (bit == kRawOpenFlags ? raw.open_flags : bit == kRawMode ? raw.mode : raw.socket_type) = v;
  return std::nullopt;
}

std::string_view parent_of(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash + 1);
}

// Turns the raw values into event fields, as the kernel level writes them.
std::optional<std::string> apply_raw(const RawFields& raw, Event& ev) {
  const EventType type = ev.type();
  if (raw.seen & kRawOpenFlags) {
    file_records::for_each_open_flag(
        static_cast<uint32_t>(raw.open_flags),
        [&](std::string_view n) { ev.append(Field::kRingsideFileFlags, n); });
    const bool creates =
        (raw.open_flags & O_CREAT) != 0 || (raw.open_flags & O_TMPFILE) == O_TMPFILE;
    if (creates && (raw.seen & kRawMode)) {
      ev.set(Field::kFileMode, file_records::mode_text(static_cast<uint32_t>(raw.mode)));
    }
  } else if (raw.seen & kRawMode) {
    ev.set(Field::kFileMode, file_records::mode_text(static_cast<uint32_t>(raw.mode)));
  }
  if (type == EventType::kFileLink && !ev.has(Field::kFilePath)) {
    // symlink: its content, read from where the link is (the kernel level does the same).
    const std::string_view content = *ev.get_str(Field::kRingsideFileRequestedPath);
    const auto target = ev.get_str(Field::kFileTargetPath);
    if (!content.empty() && content.front() == '/') {
      ev.set(Field::kFilePath, file_records::normalize_lexically(content));
    } else if (target) {
      ev.set(Field::kFilePath, file_records::normalize_lexically(std::string(parent_of(*target)) +
                                                                 std::string(content)));
    }
  }
  for (Field f : {Field::kFilePath, Field::kFileTargetPath}) {
    if (auto p = ev.get_str(f); p && (p->empty() || p->front() != '/')) {
      return std::string(f == Field::kFilePath ? "file.path" : "file.target_path") +
             " is not absolute";
    }
  }
  if (type == EventType::kNetworkDns) {
    // Reported before the lookup (a verdict was needed): the query; after it: the answer.
    ev.set(Field::kDnsType, (raw.seen & kRawResolved) ? "answer" : "query");
    for (const auto& a : raw.resolved) ev.append(Field::kDnsResolvedIp, hook_address_text(a));
    return std::nullopt;
  }
  const rs_hook_address* typed = nullptr;
  if (raw.seen & kRawLocal) {
    ev.set(Field::kSourceIp, hook_address_text(raw.local));
    ev.set(Field::kSourcePort, static_cast<int64_t>(raw.local.port));
    typed = &raw.local;
  }
  if ((raw.seen & kRawRemote) && type != EventType::kNetworkBind) {
    ev.set(Field::kDestinationIp, hook_address_text(raw.remote));
    ev.set(Field::kDestinationPort, static_cast<int64_t>(raw.remote.port));
    typed = &raw.remote;
  }
  if (typed != nullptr) ev.set(Field::kNetworkType, hook_address_type(*typed));
  if (raw.seen & kRawSocketType) {
    if (raw.socket_type == SOCK_STREAM) ev.set(Field::kNetworkTransport, "tcp");
    if (raw.socket_type == SOCK_DGRAM) ev.set(Field::kNetworkTransport, "udp");
  }
  return std::nullopt;
}

bool is_mapped(const rs_hook_address& a) {
  static constexpr std::array<uint8_t, 12> kPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  return a.family == 6 && std::equal(kPrefix.begin(), kPrefix.end(), a.addr);
}

// An UNSENT message: one RS_HOOK_FIELD_UNSENT, nothing else.
Result<HookMessage> decode_unsent(const rs_hook_header& h, std::span<const uint8_t> bytes) {
  if (h.event_type != 0 || (h.flags & ~RS_HOOK_FLAG_LAST) != 0) {
    return reject("an unsent count has an event type or flags");
  }
  rs_hook_tlv_iter it{};
  rs_hook_tlv_begin(&it, bytes.data() + RS_HOOK_HEADER_SIZE, h.length);
  rs_hook_tlv tlv{};
  if (rs_hook_tlv_next(&it, &tlv) <= 0 || tlv.field != RS_HOOK_FIELD_UNSENT || tlv.length != 8) {
    return reject("an unsent message must hold one unsent count");
  }
  rs_hook_tlv rest{};
  if (rs_hook_tlv_next(&it, &rest) != 0) return reject("an unsent message holds more than a count");
  const auto v = static_cast<int64_t>(rs_get_u64(tlv.value));
  if (v <= 0) return reject("unsent count is not positive");
  HookMessage m;
  m.counts_only = true;
  m.last = (h.flags & RS_HOOK_FLAG_LAST) != 0;
  m.unsent = static_cast<uint64_t>(v);
  return m;
}

}  // namespace

std::string hook_address_text(const rs_hook_address& a) {
  policy::IpAddress ip;
  if (a.family == 4 || is_mapped(a)) {
    std::copy_n(a.addr + (a.family == 4 ? 0 : 12), 4, ip.bytes.begin());
  } else {
    ip.v6 = true;
    std::copy_n(a.addr, 16, ip.bytes.begin());
  }
  return ip.to_string();
}

std::string_view hook_address_type(const rs_hook_address& a) {
  return a.family == 4 || is_mapped(a) ? "ipv4" : "ipv6";
}

Result<HookMessage> decode_hook_message(std::span<const uint8_t> bytes, const HookPeer& peer,
                                        int64_t timestamp_ns) {
  if (bytes.size() > RS_HOOK_MAX_MESSAGE) {
    return reject(rs_hook_status_string(RS_HOOK_ERR_OVERSIZE));
  }
  rs_hook_header h{};
  const int st = rs_hook_parse_header(bytes.data(), bytes.size(), &h);
  if (st != RS_HOOK_OK) return reject(rs_hook_status_string(st));
  if (h.type == RS_HOOK_MSG_UNSENT) return decode_unsent(h, bytes);
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
  RawFields raw;
  int more = 0;
  while ((more = rs_hook_tlv_next(&it, &tlv)) > 0) {
    if (tlv.field >= RS_HOOK_FIELD_PRIVATE) {
      if (auto why = read_raw(tlv, *spec, raw, m)) return reject(std::move(*why));
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
  if ((raw.seen & spec->raw_required) != spec->raw_required) {
    return reject("a required protocol field is missing");
  }
  if (auto exe = ev.get_str(Field::kProcessExecutable);
      exe && (exe->empty() || exe->front() != '/')) {
    return reject("process.executable is not absolute");
  }
  if (!valid_hook_name(*ev.get_str(Field::kRingsideHook))) {
    return reject("ringside.hook is not a function name");
  }
  if (auto n = ev.get_int(Field::kProcessArgsCount); n && *n < 0) {
    return reject("process.args_count is negative");
  }
  if (auto ppid = ev.get_int(Field::kProcessParentPid)) {
    // An exec in place names its parent (the agent may read the message after the process has
    // gone); a spawn-type report is sent by the parent, which the peer credentials name.
    if (m.new_process) return reject("a spawn report names a parent pid");
    if (*ppid <= 0 || *ppid > INT32_MAX) return reject("process.parent.pid is out of range");
  }
  if (auto why = apply_raw(raw, ev)) return reject(std::move(*why));

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
