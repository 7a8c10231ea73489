// The policy: rules parsed from YAML, checked against the schema, and evaluated against events.
//
// Semantics (docs/policy.md is the user-facing version):
//   - Rules are tried in file order; the first rule whose `on`, `levels` and every `match`
//     entry hold decides. No rule matching means allow, with no rule named.
//   - A condition on a field the event does not carry is *unknown*, not false. A rule with an
//     unknown condition cannot decide at that point: an enforcement point that lacks a field
//     (fanotify has no argv before exec) skips deny/alert rules it cannot decide and stops at
//     an allow rule it cannot decide, leaving the decision to a later point that has the field.
//   - On a string-list field (process.args) a condition holds when it holds for any element.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.hpp"
#include "core/result.hpp"
#include "policy/cidr.hpp"
#include "policy/glob.hpp"

namespace ringside::policy {

struct Position {
  int line = 0;    // 1-based
  int column = 0;  // 1-based
};

struct ParseError {
  std::string file;
  Position pos;
  std::string message;
  std::string to_string() const;  // "file:line:column: message"
};

enum class Op : uint8_t { kEquals, kPrefix, kSuffix, kGlob, kIn, kCidr, kSha256, kNot, kAll };
std::string_view to_string(Op op);

// One node of a field's condition tree.
struct Condition {
  Op op = Op::kEquals;
  std::vector<std::string> strings;  // equals/prefix/suffix/in/sha256 on string fields
  std::vector<int64_t> ints;         // equals/in on int fields
  std::vector<Glob> globs;
  std::vector<Cidr> cidrs;
  std::vector<Condition> children;  // not (one child), all (several)
  Position pos;
};

struct FieldMatch {
  Field field{};
  Condition condition;
  Position pos;
};

enum class Action : uint8_t { kAllow, kDeny, kAlert, kRedirect };
std::string_view to_string(Action action);

struct Endpoint {
  std::string host;
  uint16_t port = 0;
};

inline constexpr unsigned kLevelKernel = 1U << 0;
inline constexpr unsigned kLevelUser = 1U << 1;
inline constexpr unsigned kLevelAll = kLevelKernel | kLevelUser;

struct Rule {
  std::string name;
  std::string description;
  std::vector<EventType> on;
  std::vector<FieldMatch> match;
  Action action = Action::kAlert;
  unsigned levels = kLevelAll;
  std::optional<Endpoint> redirect;
  Position pos;

  bool applies_to(EventType type) const;
  bool applies_at(Level level) const {
    return (levels & (level == Level::kKernel ? kLevelKernel : kLevelUser)) != 0;
  }
  // The fields this rule's conditions read.
  std::vector<Field> fields() const;
};

enum class FailMode : uint8_t { kOpen, kClosed };

// Where kernel-level file monitoring looks. A fanotify mark of the given kind is placed on
// `path` (filesystem: the whole filesystem holding it; mount: that mount; directory: the
// directory's direct children), and events are reported for paths under `path`.
enum class MarkKind : uint8_t { kFilesystem, kMount, kDirectory };
std::string_view to_string(MarkKind kind);

struct WatchScope {
  std::string path;
  MarkKind mark = MarkKind::kFilesystem;
  Position pos;
};

// Which opens the kernel level reports: every open, only opens that can change the file
// (write access, O_CREAT, O_TRUNC), or none. Opens a file.open rule could match are always
// decided, whatever this says.
enum class OpenReporting : uint8_t { kAll, kWrites, kNone };

struct FileSettings {
  std::vector<WatchScope> watch{WatchScope{"/", MarkKind::kFilesystem, {}}};
  OpenReporting opens = OpenReporting::kWrites;
};

// When new connections go through NFQUEUE for a verdict from the full policy: never, only
// when the policy has network rules the cgroup socket programs cannot decide in the kernel,
// or always (every new connection, for attribution and observation).
enum class NfqueueUse : uint8_t { kOff, kRules, kAll };

struct NetworkSettings {
  // cgroup v2 directory the socket programs attach to; empty: the root of the cgroup2 mount.
  std::string cgroup;
  NfqueueUse nfqueue = NfqueueUse::kRules;
  uint16_t queue = 0;  // NFQUEUE number
  bool dns = true;     // parse DNS queries and answers on port 53
};

// What keyboard sensors record: the text each key produced, or metadata only (counts and
// timing; no key code, name or text).
enum class KeyRecording : uint8_t { kText, kMetadata };

inline constexpr unsigned kModShift = 1U << 0;
inline constexpr unsigned kModControl = 1U << 1;
inline constexpr unsigned kModAlt = 1U << 2;
inline constexpr unsigned kModSuper = 1U << 3;

// A key combination to block, e.g. "ctrl+alt+t": modifiers and one key named by its X keysym
// name ("t", "F12", "Delete"). `text` is the combination as written, shown as the rule.
struct KeyCombo {
  unsigned modifiers = 0;
  std::string key;
  std::string text;
  Position pos;
};

struct KeyboardSettings {
  KeyRecording record = KeyRecording::kText;
  std::string layout = "us";  // XKB layout the evdev sensor translates with
  std::string variant;        // XKB variant, e.g. nodeadkeys
  // Terminal input typed with echo off (passwords) is withheld: `ringside tty-session` asks
  // the kernel not to log it, and a line that arrives while the terminal's echo is off is
  // redacted by the agent.
  bool redact_echo_off = true;
  std::string display;  // X11 display of the x11 sensor; empty: $DISPLAY
  // evdev devices to read; empty: every keyboard under /dev/input (hot-plug aware). A path
  // that is not an input device (a file or FIFO) is read as a recorded event stream.
  std::vector<std::string> devices;
  std::vector<KeyCombo> block;
};

// The canary heartbeat (docs/policy.md): every `interval_ms` the agent performs a marked exec,
// open and connect and raises ringside.alert for a live sensor that missed one; 0: off.
struct CanarySettings {
  int64_t interval_ms = 0;
};

// The supervisor `ringside run` starts when not under systemd (docs/policy.md): it kills an
// agent that stops responding for longer than `bound_ms` and, with `restart`, starts it again.
struct SupervisorSettings {
  int64_t bound_ms = 5000;
  bool restart = true;
};

// Tamper watch (docs/policy.md): report changes to the preload configuration and to the
// agent's binary, policy and store, and detached BPF programs.
struct TamperSettings {
  bool watch = true;
};

struct Settings {
  FailMode fail_mode = FailMode::kOpen;
  int decision_deadline_ms = 200;
  // Largest executable or file hashed for sha256 rules and events (bytes).
  int64_t hash_max_bytes = 256LL << 20;
  FileSettings file;
  NetworkSettings network;
  KeyboardSettings keyboard;
  CanarySettings canary;
  SupervisorSettings supervisor;
  TamperSettings tamper;
};

// Three-valued result of a condition: a field the event lacks is unknown.
enum class Tri : uint8_t { kFalse, kTrue, kUnknown };

// What evaluation may need from outside: file hashes for sha256 conditions.
struct EvalEnv {
  // SHA-256 (lowercase hex) of the file at `path`, or empty when it cannot be computed.
  std::function<std::optional<std::string>(std::string_view path)> sha256_of;
};

struct Decision {
  Verdict verdict = Verdict::kAllow;
  const Rule* rule = nullptr;  // the deciding rule, owned by the Policy
  // True when a rule this point could not decide (unknown field) stopped evaluation; the
  // verdict is then allow and a later point with more fields must decide.
  bool deferred = false;
};

class Policy {
 public:
  // Parses a policy file; errors are "file:line:column: message", all of them, in order.
  static Result<std::shared_ptr<const Policy>> load_file(const std::string& path,
                                                         std::vector<ParseError>* errors);
  static Result<std::shared_ptr<const Policy>> parse(std::string_view yaml,
                                                     const std::string& file_name,
                                                     std::vector<ParseError>* errors);

  Decision evaluate(const Event& ev, Level level, const EvalEnv& env = {}) const;

  const std::vector<Rule>& rules() const { return rules_; }
  const Settings& settings() const { return settings_; }
  const std::string& source() const { return source_; }

  // Rules that can apply to this event type and level, in order.
  bool has_rules_for(EventType type, Level level, Action action) const;

 private:
  friend class PolicyParser;
  // Fills by_type_ once the rules are final.
  void index_rules();

  std::vector<Rule> rules_;
  // Indexes of the rules that apply to each event type id, in order, so that an event only
  // looks at rules that can match it.
  std::vector<std::vector<uint16_t>> by_type_;
  Settings settings_;
  std::string source_;
};

// Evaluates one condition on one event field (exposed for tests and the kernel compilers).
Tri evaluate_condition(const Condition& c, const Event& ev, Field field, const EvalEnv& env);

}  // namespace ringside::policy
