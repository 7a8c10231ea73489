#include "core/json_decode.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <ctime>

namespace ringside {

namespace {

using nlohmann::json;

Result<void> read_object(const json& obj, const std::string& prefix, Event& ev,
                         std::string_view& category, std::string_view& action, std::string& cat_buf,
                         std::string& act_buf) {
  for (const auto& [key, value] : obj.items()) {
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object()) {
      auto r = read_object(value, name, ev, category, action, cat_buf, act_buf);
      if (!r) return r;
      continue;
    }
    if (name == "event.category") {
      cat_buf = value.get<std::string>();
      category = cat_buf;
      continue;
    }
    if (name == "event.action") {
      act_buf = value.get<std::string>();
      action = act_buf;
      continue;
    }
    const schema::FieldInfo* fi = nullptr;
    for (const auto& f : schema::kFieldInfo) {
      if (f.name == name) fi = &f;
    }
    if (fi == nullptr) return Error{"unknown field '" + name + "'"};
    switch (fi->type) {
      case FieldType::kInt:
        if (!value.is_number_integer()) return Error{"field '" + name + "' must be an integer"};
        ev.set(fi->id, value.get<int64_t>());
        break;
      case FieldType::kTimestamp: {
        if (!value.is_string()) return Error{"field '" + name + "' must be an RFC 3339 string"};
        auto ts = parse_rfc3339(value.get<std::string>());
        if (!ts) return std::move(ts).error();
        ev.set(fi->id, *ts);
        break;
      }
      case FieldType::kString:
      case FieldType::kIp:
        if (!value.is_string()) return Error{"field '" + name + "' must be a string"};
        ev.set(fi->id, value.get<std::string>());
        break;
      case FieldType::kStrings:
        if (!value.is_array()) return Error{"field '" + name + "' must be a list"};
        ev.set(fi->id, std::vector<std::string>{});
        for (const auto& s : value) {
          if (!s.is_string()) return Error{"field '" + name + "' must hold strings"};
          ev.append(fi->id, s.get<std::string>());
        }
        break;
    }
  }
  return ok();
}

}  // namespace

Result<int64_t> parse_rfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fffffffff]Z
  auto num = [&](size_t pos, size_t len, int& out) {
    if (pos + len > t.size()) return false;
    auto r = std::from_chars(t.data() + pos, t.data() + pos + len, out);
    return r.ec == std::errc() && r.ptr == t.data() + pos + len;
  };
  struct tm tm {};
  if (t.size() < 20 || !num(0, 4, tm.tm_year) || t[4] != '-' || !num(5, 2, tm.tm_mon) ||
      t[7] != '-' || !num(8, 2, tm.tm_mday) || (t[10] != 'T' && t[10] != 't') ||
      !num(11, 2, tm.tm_hour) || t[13] != ':' || !num(14, 2, tm.tm_min) || t[16] != ':' ||
      !num(17, 2, tm.tm_sec)) {
    return Error{"'" + std::string(t) + "' is not an RFC 3339 UTC timestamp"};
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t frac = 0;
  size_t i = 19;
  if (i < t.size() && t[i] == '.') {
    ++i;
    int digits = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (t[i] - '0');
        ++digits;
      }
      ++i;
    }
    for (; digits < 9; ++digits) frac *= 10;
  }
  if (i + 1 != t.size() || (t[i] != 'Z' && t[i] != 'z')) {
    return Error{"'" + std::string(t) + "' must end in Z (UTC)"};
  }
  const time_t secs = timegm(&tm);
  int64_t ns = 0;
  if (__builtin_mul_overflow(static_cast<int64_t>(secs), int64_t{1000000000}, &ns) ||
      __builtin_add_overflow(ns, frac, &ns)) {
    return Error{"'" + std::string(t) + "' is outside the range of nanosecond timestamps"};
  }
  return ns;
}

Result<Event> parse_event_json(std::string_view line) {
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error{"not a JSON object"};
  Event ev(EventType::kProcessExec, 0);
  std::string_view category, action;
  std::string cat_buf, act_buf;
  try {
    auto r = read_object(j, "", ev, category, action, cat_buf, act_buf);
    if (!r) return std::move(r).error();
  } catch (const json::exception& e) {
    return Error{std::string("bad event JSON: ") + e.what()};
  }
  bool found = false;
  for (const auto& et : schema::kEventTypes) {
    if (et.category == category && et.action == action) {
      Event typed(et.id, ev.timestamp_ns());
      found = true;
      // Copy every stored field into an event of the right type.
      for (const auto& fi : schema::kFieldInfo) {
        if (fi.id == Field::kTimestamp || fi.id == Field::kEventCategory ||
            fi.id == Field::kEventAction || !ev.has(fi.id)) {
          continue;
        }
        switch (fi.type) {
          case FieldType::kInt:
          case FieldType::kTimestamp:
            typed.set(fi.id, *ev.get_int(fi.id));
            break;
          case FieldType::kString:
          case FieldType::kIp:
            typed.set(fi.id, *ev.get_str(fi.id));
            break;
          case FieldType::kStrings:
            typed.set(fi.id, ev.get_list(fi.id).to_vector());
            break;
        }
      }
      if (auto lvl = ev.get_str(Field::kRingsideLevel)) {
        if (*lvl != "user" && *lvl != "kernel") {
          return Error{"ringside.level must be kernel or user, found '" + std::string(*lvl) + "'"};
        }
        // The sensor, when the line names one, was copied above; a line without one keeps none
        // (decoding then encoding gives the same line back).
        typed.set_level(*lvl == "user" ? Level::kUser : Level::kKernel);
      }
      return typed;
    }
  }
  if (!found) {
    return Error{"unknown event type '" + std::string(category) + "." + std::string(action) + "'"};
  }
  return ev;
}

}  // namespace ringside
