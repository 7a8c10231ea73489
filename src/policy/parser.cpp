// YAML -> Policy, with every error pointing at file:line:column.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "policy/policy.hpp"
#include "policy/settings_parser.hpp"
#include "policy/yaml_util.hpp"

namespace ringside::policy {

std::string ParseError::to_string() const {
  return file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " + message;
}

std::string_view to_string(Op op) {
  switch (op) {
    case Op::kEquals:
      return "equals";
    case Op::kPrefix:
      return "prefix";
    case Op::kSuffix:
      return "suffix";
    case Op::kGlob:
      return "glob";
    case Op::kIn:
      return "in";
    case Op::kCidr:
      return "cidr";
    case Op::kSha256:
      return "sha256";
    case Op::kNot:
      return "not";
    case Op::kAll:
      return "all";
  }
  return "?";
}

std::string_view to_string(MarkKind kind) {
  switch (kind) {
    case MarkKind::kFilesystem:
      return "filesystem";
    case MarkKind::kMount:
      return "mount";
    case MarkKind::kDirectory:
      return "directory";
  }
  return "?";
}

std::string_view to_string(Action action) {
  switch (action) {
    case Action::kAllow:
      return "allow";
    case Action::kDeny:
      return "deny";
    case Action::kAlert:
      return "alert";
    case Action::kRedirect:
      return "redirect";
  }
  return "?";
}

namespace {

bool is_hex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

const schema::FieldInfo* find_field(std::string_view name) {
  for (const auto& f : schema::kFieldInfo) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// Fields an event type may carry (common + its own).
bool type_has_field(EventType type, Field field) {
  const int ti = schema::event_type_index(static_cast<uint16_t>(type));
  const int fi = schema::field_index(field);
  if (ti < 0 || fi < 0) return false;
  for (int16_t c : schema::kCommonFields) {
    if (c == fi) return true;
  }
  const auto& et = schema::kEventTypes[ti];
  for (size_t i = 0; i < et.num_fields; ++i) {
    if (et.fields[i] == fi) return true;
  }
  return false;
}

bool is_path_field(Field f) {
  return f == Field::kProcessExecutable || f == Field::kFilePath ||
         f == Field::kProcessParentExecutable || f == Field::kFileTargetPath;
}

}  // namespace

class PolicyParser {
 public:
  PolicyParser(std::string file, std::vector<ParseError>* errors)
      : file_(std::move(file)), errors_(errors) {}

  std::shared_ptr<Policy> parse(std::string_view text) {
    auto policy = std::make_shared<Policy>();
    policy->source_ = file_;
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      error({e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg);
      return nullptr;
    }
    if (!root.IsMap()) {
      error(pos_of(root), "a policy is a mapping with a 'rules' list, found " + node_kind(root));
      return nullptr;
    }
    bool have_rules = false;
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      if (key == "version") {
        if (!kv.second.IsScalar() || kv.second.Scalar() != "1") {
          error(pos_of(kv.second), "unsupported policy version " + node_kind(kv.second) +
                                       " (this build reads version 1)");
        }
      } else if (key == "settings") {
        parse_settings(kv.second, policy->settings_);
      } else if (key == "rules") {
        have_rules = true;
        parse_rules(kv.second, policy->rules_);
      } else {
        error(pos_of(kv.first),
              "unknown top-level key '" + key + "' (expected version, settings, rules)");
      }
    }
    if (!have_rules) error(pos_of(root), "the policy has no 'rules' list");
    check_duplicate_keys(root);
    if (!ok_) return nullptr;
    policy->index_rules();
    return policy;
  }

 private:
  void error(Position p, std::string msg) {
    ok_ = false;
    if (errors_) errors_->push_back({file_, p, std::move(msg)});
  }

  // yaml-cpp keeps the last of duplicate keys silently; a policy must not.
  void check_duplicate_keys(const YAML::Node& n) {
    if (n.IsMap()) {
      std::set<std::string> seen;
      for (const auto& kv : n) {
        if (kv.first.IsScalar() && !seen.insert(kv.first.Scalar()).second) {
          error(pos_of(kv.first), "duplicate key '" + kv.first.Scalar() + "'");
        }
        check_duplicate_keys(kv.second);
      }
    } else if (n.IsSequence()) {
      for (const auto& e : n) check_duplicate_keys(e);
    }
  }

  void parse_settings(const YAML::Node& n, Settings& s) {
    policy::parse_settings(n, s, [this](Position p, std::string msg) { error(p, std::move(msg)); });
  }

  void parse_rules(const YAML::Node& n, std::vector<Rule>& rules) {
    if (n.IsNull()) return;
    if (!n.IsSequence()) {
      error(pos_of(n), "'rules' must be a list, found " + node_kind(n));
      return;
    }
    std::set<std::string> names;
    for (const auto& r : n) {
      Rule rule;
      if (!parse_rule(r, rule)) continue;
      if (!names.insert(rule.name).second) {
        error(rule.pos, "rule name '" + rule.name + "' is used twice; names must be unique");
        continue;
      }
      rules.push_back(std::move(rule));
    }
  }

  bool parse_rule(const YAML::Node& n, Rule& rule) {
    rule.pos = pos_of(n);
    if (!n.IsMap()) {
      error(pos_of(n), "a rule is a mapping (name, on, match, action), found " + node_kind(n));
      return false;
    }
    const size_t errors_before = errors_ ? errors_->size() : 0;
    const bool ok_before = ok_;
    ok_ = true;
    YAML::Node match_node, redirect_node;
    bool have_name = false, have_on = false, have_action = false;
    bool have_match = false, have_redirect = false;
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "name") {
        have_name = true;
        if (!v.IsScalar() || v.Scalar().empty()) {
          error(pos_of(v), "rule name must be a non-empty string, found " + node_kind(v));
        } else {
          rule.name = v.Scalar();
          rule.pos = pos_of(v);
        }
      } else if (key == "description") {
        if (v.IsScalar()) rule.description = v.Scalar();
      } else if (key == "on") {
        have_on = true;
        parse_on(v, rule);
      } else if (key == "match") {
        match_node = v;
        have_match = true;
      } else if (key == "action") {
        have_action = true;
        const std::string a = v.IsScalar() ? v.Scalar() : "";
        if (a == "deny") {
          rule.action = Action::kDeny;
        } else if (a == "alert") {
          rule.action = Action::kAlert;
        } else if (a == "allow") {
          rule.action = Action::kAllow;
        } else if (a == "redirect") {
          rule.action = Action::kRedirect;
        } else {
          error(pos_of(v), "action must be deny, alert, allow or redirect, found " + node_kind(v));
        }
      } else if (key == "levels") {
        parse_levels(v, rule);
      } else if (key == "redirect") {
        redirect_node = v;
        have_redirect = true;
      } else {
        error(pos_of(kv.first), "unknown rule key '" + key +
                                    "' (expected name, description, on, match, action, levels, "
                                    "redirect)");
      }
    }
    if (!have_name) error(pos_of(n), "rule has no 'name'");
    if (!have_on) error(pos_of(n), "rule '" + rule.name + "' has no 'on' (e.g. on: process.exec)");
    if (!have_action) error(pos_of(n), "rule '" + rule.name + "' has no 'action'");
    if (have_match) parse_match(match_node, rule);
    if (rule.action == Action::kRedirect) {
      if (!have_redirect) {
        error(pos_of(n), "action redirect needs 'redirect: HOST:PORT'");
      } else {
        parse_redirect(redirect_node, rule);
      }
      for (EventType t : rule.on) {
        if (t != EventType::kNetworkConnect) {
          error(pos_of(n), "action redirect applies to network.connect only");
          break;
        }
      }
    } else if (have_redirect) {
      error(pos_of(redirect_node), "'redirect' is only meaningful with action: redirect");
    }
    if (rule.action == Action::kDeny) {
      for (EventType t : rule.on) {
        if (t == EventType::kProcessExit || t == EventType::kProcessFork) {
          error(pos_of(n),
                "rule '" + rule.name + "': a " +
                    std::string(t == EventType::kProcessExit ? "process.exit" : "process.fork") +
                    " cannot be denied (use alert, or deny process.exec)");
        }
      }
    }
    const bool rule_ok = ok_;
    ok_ = ok_before && rule_ok;
    (void)errors_before;
    return rule_ok;
  }

  void parse_on(const YAML::Node& v, Rule& rule) {
    auto add = [&](const YAML::Node& item) {
      if (!item.IsScalar()) {
        error(pos_of(item), "'on' takes category.action names, found " + node_kind(item));
        return;
      }
      const std::string& s = item.Scalar();
      const size_t dot = s.find('.');
      const std::string cat = s.substr(0, dot);
      const std::string act = dot == std::string::npos ? "" : s.substr(dot + 1);
      bool found = false;
      for (const auto& et : schema::kEventTypes) {
        if (et.category == cat && (act == "*" || et.action == act)) {
          if (std::find(rule.on.begin(), rule.on.end(), et.id) == rule.on.end()) {
            rule.on.push_back(et.id);
          }
          found = true;
        }
      }
      if (!found) {
        error(pos_of(item), "unknown event '" + s +
                                "' (expected category.action, e.g. "
                                "process.exec, file.open, network.connect)");
      }
    };
    if (v.IsSequence()) {
      if (v.size() == 0) error(pos_of(v), "'on' is empty");
      for (const auto& item : v) add(item);
    } else {
      add(v);
    }
  }

  void parse_levels(const YAML::Node& v, Rule& rule) {
    rule.levels = 0;
    auto add = [&](const YAML::Node& item) {
      const std::string s = item.IsScalar() ? item.Scalar() : "";
      if (s == "kernel") {
        rule.levels |= kLevelKernel;
      } else if (s == "user") {
        rule.levels |= kLevelUser;
      } else {
        error(pos_of(item), "level must be kernel or user, found " + node_kind(item));
      }
    };
    if (v.IsSequence()) {
      for (const auto& item : v) add(item);
    } else {
      add(v);
    }
    if (rule.levels == 0) rule.levels = kLevelAll;
  }

  void parse_redirect(const YAML::Node& v, Rule& rule) {
    const std::string s = v.IsScalar() ? v.Scalar() : "";
    const size_t colon = s.rfind(':');
    std::optional<int64_t> port;
    if (colon != std::string::npos) port = parse_int(s.substr(colon + 1));
    if (colon == std::string::npos || !port || *port < 1 || *port > 65535) {
      error(pos_of(v), "redirect must be HOST:PORT, found " + node_kind(v));
      return;
    }
    std::string host = s.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    if (!IpAddress::parse(host)) {
      error(pos_of(v), "redirect host must be an IP address, found '" + host + "'");
      return;
    }
    rule.redirect = Endpoint{host, static_cast<uint16_t>(*port)};
  }

  void parse_match(const YAML::Node& n, Rule& rule) {
    if (!n.IsMap()) {
      error(pos_of(n), "'match' must be a mapping of field: condition, found " + node_kind(n));
      return;
    }
    for (const auto& kv : n) {
      const std::string name = kv.first.as<std::string>();
      const schema::FieldInfo* fi = find_field(name);
      if (fi == nullptr) {
        error(pos_of(kv.first), "unknown field '" + name + "' (see docs/events.md)");
        continue;
      }
      for (EventType t : rule.on) {
        if (!type_has_field(t, fi->id)) {
          const int ti = schema::event_type_index(static_cast<uint16_t>(t));
          error(pos_of(kv.first), "field '" + name + "' never appears on " +
                                      std::string(schema::kEventTypes[ti].category) + "." +
                                      std::string(schema::kEventTypes[ti].action));
          break;
        }
      }
      FieldMatch fm;
      fm.field = fi->id;
      fm.pos = pos_of(kv.first);
      if (parse_condition(kv.second, *fi, fm.condition)) rule.match.push_back(std::move(fm));
    }
  }

  // Parses a value against a field type; pushes into strings or ints.
  bool parse_value(const YAML::Node& v, const schema::FieldInfo& fi, Condition& c) {
    if (!v.IsScalar()) {
      error(pos_of(v),
            "field '" + std::string(fi.name) + "' expects a single value, found " + node_kind(v));
      return false;
    }
    if (fi.type == FieldType::kInt || fi.type == FieldType::kTimestamp) {
      auto i = parse_int(v.Scalar());
      if (!i) {
        error(pos_of(v),
              "field '" + std::string(fi.name) + "' is an integer, found " + node_kind(v));
        return false;
      }
      c.ints.push_back(*i);
    } else if (fi.type == FieldType::kIp) {
      auto ip = IpAddress::parse(v.Scalar());
      if (!ip) {
        error(pos_of(v),
              "field '" + std::string(fi.name) + "' is an IP address, found " + node_kind(v));
        return false;
      }
      c.strings.push_back(ip->to_string());
    } else {
      c.strings.push_back(v.Scalar());
    }
    return true;
  }

  bool parse_condition(const YAML::Node& v, const schema::FieldInfo& fi, Condition& c) {
    c.pos = pos_of(v);
    if (v.IsScalar()) {
      c.op = Op::kEquals;
      return parse_value(v, fi, c);
    }
    if (v.IsSequence()) {  // a bare list means `in`
      c.op = Op::kIn;
      bool ok = true;
      for (const auto& item : v) ok = parse_value(item, fi, c) && ok;
      return ok;
    }
    if (!v.IsMap() || v.size() == 0) {
      error(pos_of(v), "condition for '" + std::string(fi.name) +
                           "' must be a value, a list, or an operator mapping, found " +
                           node_kind(v));
      return false;
    }
    std::vector<Condition> parts;
    bool ok = true;
    for (const auto& kv : v) {
      Condition part;
      ok = parse_operator(kv.first, kv.second, fi, part) && ok;
      parts.push_back(std::move(part));
    }
    if (parts.size() == 1) {
      c = std::move(parts.front());
    } else {
      c.op = Op::kAll;
      c.children = std::move(parts);
    }
    return ok;
  }

  bool parse_operator(const YAML::Node& key, const YAML::Node& arg, const schema::FieldInfo& fi,
                      Condition& c) {
    const std::string op = key.as<std::string>();
    c.pos = pos_of(key);
    const bool is_string_field = fi.type == FieldType::kString || fi.type == FieldType::kStrings;
    auto string_values = [&](bool allow_list) {
      if (arg.IsSequence() && allow_list) {
        bool ok = arg.size() > 0;
        if (!ok) error(pos_of(arg), "'" + op + "' needs at least one value");
        for (const auto& item : arg) {
          if (!item.IsScalar()) {
            error(pos_of(item), "'" + op + "' takes strings, found " + node_kind(item));
            ok = false;
          } else {
            c.strings.push_back(item.Scalar());
          }
        }
        return ok;
      }
      if (!arg.IsScalar()) {
        error(pos_of(arg), "'" + op + "' takes a string, found " + node_kind(arg));
        return false;
      }
      c.strings.push_back(arg.Scalar());
      return true;
    };
    auto require_string_field = [&]() {
      if (!is_string_field) {
        error(c.pos, "operator '" + op + "' needs a text field; '" + std::string(fi.name) +
                         "' is " +
                         (fi.type == FieldType::kIp ? "an IP address (use cidr)" : "a number"));
        return false;
      }
      return true;
    };
    if (op == "equals") {
      c.op = Op::kEquals;
      return parse_value(arg, fi, c);
    }
    if (op == "prefix" || op == "suffix") {
      c.op = op == "prefix" ? Op::kPrefix : Op::kSuffix;
      return require_string_field() && string_values(true);
    }
    if (op == "glob") {
      c.op = Op::kGlob;
      if (!require_string_field() || !string_values(true)) return false;
      bool ok = true;
      for (size_t i = 0; i < c.strings.size(); ++i) {
        auto g = Glob::compile(c.strings[i]);
        if (!g) {
          const YAML::Node& at = arg.IsSequence() ? arg[i] : arg;
          Position p = pos_of(at);
          // Point at the offending character when the scalar is on one line, unquoted or not.
          const int quote = (at.Tag() == "!" ? 1 : 0);
          p.column += g.error().code + quote;
          error(p, g.error().message);
          ok = false;
        } else {
          c.globs.push_back(std::move(g).value());
        }
      }
      return ok;
    }
    if (op == "in") {
      c.op = Op::kIn;
      if (!arg.IsSequence() || arg.size() == 0) {
        error(pos_of(arg), "'in' takes a non-empty list, found " + node_kind(arg));
        return false;
      }
      bool ok = true;
      for (const auto& item : arg) ok = parse_value(item, fi, c) && ok;
      return ok;
    }
    if (op == "cidr") {
      c.op = Op::kCidr;
      if (fi.type != FieldType::kIp) {
        error(c.pos, "operator 'cidr' needs an IP address field; '" + std::string(fi.name) +
                         "' is not one");
        return false;
      }
      if (!string_values(true)) return false;
      bool ok = true;
      for (size_t i = 0; i < c.strings.size(); ++i) {
        auto block = Cidr::parse(c.strings[i]);
        if (!block) {
          error(pos_of(arg.IsSequence() ? arg[i] : arg), block.error().message);
          ok = false;
        } else {
          c.cidrs.push_back(*block);
        }
      }
      return ok;
    }
    if (op == "sha256") {
      c.op = Op::kSha256;
      if (!is_path_field(fi.id) && fi.id != Field::kProcessHashSha256 &&
          fi.id != Field::kFileHashSha256) {
        error(c.pos,
              "operator 'sha256' applies to a file path field (process.executable, "
              "file.path, process.parent.executable), not '" +
                  std::string(fi.name) + "'");
        return false;
      }
      if (!string_values(true)) return false;
      bool ok = true;
      for (size_t i = 0; i < c.strings.size(); ++i) {
        std::string& h = c.strings[i];
        if (!is_hex64(h)) {
          error(pos_of(arg.IsSequence() ? arg[i] : arg),
                "sha256 must be 64 hexadecimal characters, found '" + h + "'");
          ok = false;
        }
        std::transform(h.begin(), h.end(), h.begin(),
                       [](char ch) { return static_cast<char>(std::tolower(ch)); });
      }
      return ok;
    }
    if (op == "not") {
      c.op = Op::kNot;
      Condition child;
      const bool ok = parse_condition(arg, fi, child);
      c.children.push_back(std::move(child));
      return ok;
    }
    error(c.pos, "unknown operator '" + op +
                     "' (expected equals, prefix, suffix, glob, in, cidr, sha256, not)");
    return false;
  }

  std::string file_;
  std::vector<ParseError>* errors_;
  bool ok_ = true;
};

Result<std::shared_ptr<const Policy>> Policy::parse(std::string_view yaml,
                                                    const std::string& file_name,
                                                    std::vector<ParseError>* errors) {
  std::vector<ParseError> local;
  std::vector<ParseError>* sink = errors ? errors : &local;
  const size_t before = sink->size();
  PolicyParser parser(file_name, sink);
  std::shared_ptr<Policy> p;
  try {
    p = parser.parse(yaml);
  } catch (const YAML::Exception& e) {
    sink->push_back({file_name, {e.mark.line + 1, e.mark.column + 1}, e.msg});
  }
  if (!p) {
    std::sort(sink->begin() + static_cast<std::ptrdiff_t>(before), sink->end(),
              [](const ParseError& a, const ParseError& b) {
                return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
              });
    std::string msg = sink->size() > before ? (*sink)[before].to_string() : file_name + ": invalid";
    return Error{msg, 0};
  }
  return std::shared_ptr<const Policy>(std::move(p));
}

Result<std::shared_ptr<const Policy>> Policy::load_file(const std::string& path,
                                                        std::vector<ParseError>* errors) {
  std::ifstream in(path);
  if (!in) {
    const int code = errno;
    if (errors) errors->push_back({path, {0, 0}, std::string("cannot read: ") + errno_text(code)});
    return errno_error("cannot read policy " + path, code);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path, errors);
}

}  // namespace ringside::policy
