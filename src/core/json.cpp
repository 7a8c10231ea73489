#include "core/json.hpp"

#include <charconv>
#include <ctime>

namespace ringside {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0U) == 0x80U;
  };
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;   // overlong
    if (b0 == 0xED && b1 >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xF0 && b1 < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && b1 >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_2(std::string& out, unsigned v) {
  out += static_cast<char>('0' + v / 10);
  out += static_cast<char>('0' + v % 10);
}

void append_leaf(std::string& out, const Event& ev, int index) {
  const auto& fi = schema::kFieldInfo[index];
  switch (fi.type) {
    case FieldType::kInt:
      append_int(out, *ev.get_int(fi.id));
      break;
    case FieldType::kTimestamp:
      out += '"';
      append_rfc3339(out, *ev.get_int(fi.id));
      out += '"';
      break;
    case FieldType::kString:
    case FieldType::kIp:
      append_json_string(out, *ev.get_str(fi.id));
      break;
    case FieldType::kStrings: {
      out += '[';
      bool first = true;
      for (std::string_view s : ev.get_list(fi.id)) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, s);
      }
      out += ']';
      break;
    }
  }
}

bool any_present(const Event& ev, const schema::JsonNode& node) {
  const auto& present = ev.present();
  for (size_t w = 0; w < schema::kFieldMaskWords; ++w) {
    if (present[w] & node.mask[w]) return true;
  }
  return false;
}

void append_object(std::string& out, const Event& ev, const schema::JsonNode& node) {
  out += '{';
  bool first = true;
  for (uint16_t c = 0; c < node.num_children; ++c) {
    const schema::JsonNode& child = schema::kJsonTree[node.first_child + c];
    if (!any_present(ev, child)) continue;
    if (!first) out += ',';
    first = false;
    out += '"';
    out += child.key;  // schema keys need no escaping
    out += "\":";
    if (child.field >= 0) {
      append_leaf(out, ev, child.field);
    } else {
      append_object(out, ev, child);
    }
  }
  out += '}';
}

}  // namespace

namespace {
bool plain_ascii(unsigned char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; }
}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    // Copy runs of characters that need no escaping in one go.
    size_t run = i;
    while (run < s.size() && plain_ascii(static_cast<unsigned char>(s[run]))) ++run;
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        ++i;
        continue;
      case '\\':
        out += "\\\\";
        ++i;
        continue;
      case '\n':
        out += "\\n";
        ++i;
        continue;
      case '\r':
        out += "\\r";
        ++i;
        continue;
      case '\t':
        out += "\\t";
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7F) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      ++i;
      continue;
    }
    const size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  out += '"';
}

void append_rfc3339(std::string& out, int64_t ns) {
  int64_t secs = ns / 1000000000;
  int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  const auto t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  append_int(out, tm.tm_year + 1900);
  out += '-';
  append_2(out, static_cast<unsigned>(tm.tm_mon + 1));
  out += '-';
  append_2(out, static_cast<unsigned>(tm.tm_mday));
  out += 'T';
  append_2(out, static_cast<unsigned>(tm.tm_hour));
  out += ':';
  append_2(out, static_cast<unsigned>(tm.tm_min));
  out += ':';
  append_2(out, static_cast<unsigned>(tm.tm_sec));
  out += '.';
  char digits[9];
  for (int i = 8; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  out.append(digits, sizeof digits);
  out += 'Z';
}

void append_event_json(std::string& out, const Event& ev) {
  // event.category / event.action come from the type, not from storage.
  const schema::JsonNode& root = schema::kJsonTree[0];
  out += '{';
  bool first = true;
  for (uint16_t c = 0; c < root.num_children; ++c) {
    const schema::JsonNode& child = schema::kJsonTree[root.first_child + c];
    if (!any_present(ev, child)) continue;
    if (!first) out += ',';
    first = false;
    out += '"';
    out += child.key;
    out += "\":";
    if (child.key == "event") {
      // Write category and action from the type table, the rest from storage.
      out += "{\"category\":";
      append_json_string(out, ev.category());
      out += ",\"action\":";
      append_json_string(out, ev.action());
      for (uint16_t g = 0; g < child.num_children; ++g) {
        const schema::JsonNode& leaf = schema::kJsonTree[child.first_child + g];
        const auto id = schema::kFieldInfo[leaf.field].id;
        if (id == Field::kEventCategory || id == Field::kEventAction) continue;
        if (!ev.has(id)) continue;
        out += ",\"";
        out += leaf.key;
        out += "\":";
        append_leaf(out, ev, leaf.field);
      }
      out += '}';
    } else if (child.field >= 0) {
      append_leaf(out, ev, child.field);
    } else {
      append_object(out, ev, child);
    }
  }
  out += "}\n";
}

}  // namespace ringside
