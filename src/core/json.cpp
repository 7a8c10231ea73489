#include "core/json.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstring>
#include <ctime>

#include <emmintrin.h>

namespace ringside {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Characters copied as they are: printable ASCII except the quote and the backslash.
constexpr auto kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7F; ++c) t[static_cast<size_t>(c)] = c != '"' && c != '\\';
  return t;
}();

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

// Writes into a std::string through a raw cursor: room is made in large steps, so the
// per-character cost is a store, not a capacity check and a terminator.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out), used_(out.size()) { grow(kFirst); }
  ~Writer() { out_.resize(used()); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void need(size_t n) {
    if (static_cast<size_t>(end_ - cur_) < n) grow(n);
  }
  void put(char c) {
    need(1);
    *cur_++ = c;
  }
  void put(std::string_view s) {
    need(s.size());
    std::memcpy(cur_, s.data(), s.size());
    cur_ += s.size();
  }
  void put_int(int64_t v) {
    need(24);
    cur_ = std::to_chars(cur_, cur_ + 24, v).ptr;
  }
  void put_string(std::string_view s);
  void put_timestamp(int64_t ns);

 private:
  size_t used() const { return static_cast<size_t>(cur_ - out_.data()); }
  // resize() zero-fills what it adds, so room is added in modest steps (the string's own
  // capacity still grows geometrically underneath).
  static constexpr size_t kChunk = 2048;
  static constexpr size_t kFirst = 1024;  // one event's line, mostly: less to zero per event
  void grow(size_t n) {
    const size_t u = cur_ == nullptr ? used_ : used();
    out_.resize(u + std::max(n, cur_ == nullptr ? kFirst : kChunk));
    cur_ = out_.data() + u;
    end_ = out_.data() + out_.size();
  }

  std::string& out_;
  size_t used_;
  char* cur_ = nullptr;
  char* end_ = nullptr;
};

void Writer::put_string(std::string_view s) {
  need(s.size() * 6 + 2);  // worst case: every byte becomes \u00XX
  char* p = cur_;
  *p++ = '"';
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Sixteen plain bytes at a time (most paths, names and arguments are plain ASCII): a byte
    // below 0x20 or with the high bit set compares below 0x20 as a signed char.
    while (i + 16 <= n) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
      const __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
                                                        _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7F))),
                                           _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                                        _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
      if (_mm_movemask_epi8(special) != 0) break;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p), x);
      p += 16;
      i += 16;
    }
    // Then byte by byte to the next byte to escape or the end of this block of sixteen (the
    // tail of the string, or the block the loop above stopped at): a short string, the most
    // common kind, costs one pass of this loop.
    const size_t stop = std::min(n, i + 16);
    while (i < stop && kPlain[static_cast<unsigned char>(s[i])]) *p++ = s[i++];
    if (i == stop) continue;
    const auto c = static_cast<unsigned char>(s[i]);
    const char* esc = nullptr;
    switch (c) {
      case '"':
        esc = "\\\"";
        break;
      case '\\':
        esc = "\\\\";
        break;
      case '\n':
        esc = "\\n";
        break;
      case '\r':
        esc = "\\r";
        break;
      case '\t':
        esc = "\\t";
        break;
      default:
        break;
    }
    if (esc != nullptr) {
      *p++ = esc[0];
      *p++ = esc[1];
      ++i;
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      p[0] = '\\';
      p[1] = 'u';
      p[2] = '0';
      p[3] = '0';
      p[4] = kHex[c >> 4];
      p[5] = kHex[c & 0xF];
      p += 6;
      ++i;
      continue;
    }
    const size_t len = utf8_sequence_length(s, i);
    if (len == 0) {
      // U+FFFD REPLACEMENT CHARACTER
      *p++ = static_cast<char>(0xEF);
      *p++ = static_cast<char>(0xBF);
      *p++ = static_cast<char>(0xBD);
      ++i;
    } else {
      std::memcpy(p, s.data() + i, len);
      p += len;
      i += len;
    }
  }
  *p++ = '"';
  cur_ = p;
}

void put_2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

void Writer::put_timestamp(int64_t ns) {
  int64_t secs = ns / 1000000000;
  int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  // "YYYY-MM-DDTHH:MM:SS." changes once a second: format it once per second and thread.
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local char prefix[32];
  thread_local size_t prefix_len = 0;
  if (secs != cached_secs) {
    const auto t = static_cast<time_t>(secs);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char* q = std::to_chars(prefix, prefix + 12, tm.tm_year + 1900).ptr;
    *q++ = '-';
    put_2(q, static_cast<unsigned>(tm.tm_mon + 1));
    q[2] = '-';
    put_2(q + 3, static_cast<unsigned>(tm.tm_mday));
    q[5] = 'T';
    put_2(q + 6, static_cast<unsigned>(tm.tm_hour));
    q[8] = ':';
    put_2(q + 9, static_cast<unsigned>(tm.tm_min));
    q[11] = ':';
    put_2(q + 12, static_cast<unsigned>(tm.tm_sec));
    q[14] = '.';
    prefix_len = static_cast<size_t>(q + 15 - prefix);
    cached_secs = secs;
  }
  need(prefix_len + 10);
  std::memcpy(cur_, prefix, prefix_len);
  cur_ += prefix_len;
  for (int i = 8; i >= 0; --i) {
    cur_[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  cur_[9] = 'Z';
  cur_ += 10;
}

void put_leaf(Writer& w, const Event& ev, int index) {
  const auto& fi = schema::kFieldInfo[index];
  switch (fi.type) {
    case FieldType::kInt:
      w.put_int(ev.int_at(index));
      break;
    case FieldType::kTimestamp:
      w.put('"');
      w.put_timestamp(ev.int_at(index));
      w.put('"');
      break;
    case FieldType::kString:
    case FieldType::kIp:
      w.put_string(ev.str_at(index));
      break;
    case FieldType::kStrings: {
      w.put('[');
      bool first = true;
      for (std::string_view s : ev.list_at(index)) {
        if (!first) w.put(',');
        first = false;
        w.put_string(s);
      }
      w.put(']');
      break;
    }
  }
}

bool any_present(const std::array<uint64_t, schema::kFieldMaskWords>& present,
                 const schema::JsonNode& node) {
  for (size_t word = 0; word < schema::kFieldMaskWords; ++word) {
    if (present[word] & node.mask[word]) return true;
  }
  return false;
}

// The JSON layout of one kind of event (its type and which fields it has): the literal text
// between the values, and the field of each value. Events of one kind share it, so encoding one
// is a flat loop of copies and values instead of a walk of the schema tree.
struct Layout {
  EventType type{};
  std::array<uint64_t, schema::kFieldMaskWords> mask{};
  bool valid = false;
  std::string text;  // the literals, back to back
  struct Step {
    uint32_t literal_end;  // text up to here (from the previous step's end) comes first
    int16_t field;         // then this field's value; -1 after the last literal
  };
  std::vector<Step> steps;

  void literal(std::string_view s) { text += s; }
  void value(int field) {
    steps.push_back({static_cast<uint32_t>(text.size()), static_cast<int16_t>(field)});
  }
};

void lay_out_object(Layout& l, const schema::JsonNode& node) {
  l.literal("{");
  bool first = true;
  for (uint16_t c = 0; c < node.num_children; ++c) {
    const schema::JsonNode& child = schema::kJsonTree[node.first_child + c];
    if (!any_present(l.mask, child)) continue;
    if (!first) l.literal(",");
    first = false;
    l.literal(child.key_json);  // schema keys need no escaping
    if (child.field >= 0) {
      l.value(child.field);
    } else {
      lay_out_object(l, child);
    }
  }
  l.literal("}");
}

void lay_out(Layout& l, const Event& ev) {
  l.type = ev.type();
  l.mask = ev.present();
  l.valid = true;
  l.text.clear();
  l.steps.clear();
  // event.category / event.action come from the type, not from storage.
  const schema::JsonNode& root = schema::kJsonTree[0];
  l.literal("{");
  bool first = true;
  for (uint16_t c = 0; c < root.num_children; ++c) {
    const schema::JsonNode& child = schema::kJsonTree[root.first_child + c];
    if (!any_present(l.mask, child)) continue;
    if (!first) l.literal(",");
    first = false;
    l.literal(child.key_json);
    if (child.key == "event") {
      std::string fixed = "{\"category\":";
      append_json_string(fixed, ev.category());
      fixed += ",\"action\":";
      append_json_string(fixed, ev.action());
      l.literal(fixed);
      for (uint16_t g = 0; g < child.num_children; ++g) {
        const schema::JsonNode& leaf = schema::kJsonTree[child.first_child + g];
        const auto id = schema::kFieldInfo[leaf.field].id;
        if (id == Field::kEventCategory || id == Field::kEventAction || !ev.has(id)) continue;
        l.literal(",");
        l.literal(leaf.key_json);
        l.value(leaf.field);
      }
      l.literal("}");
    } else if (child.field >= 0) {
      l.value(child.field);
    } else {
      lay_out_object(l, child);
    }
  }
  l.literal("}\n");
  l.value(-1);
}

// The layouts this thread met last (a pipeline carries few kinds of event at a time).
const Layout& layout_of(const Event& ev) {
  constexpr size_t kLayouts = 32;
  thread_local std::array<Layout, kLayouts> cache;
  thread_local size_t next = 0;
  for (const Layout& l : cache) {
    if (l.valid && l.type == ev.type() && l.mask == ev.present()) return l;
  }
  Layout& l = cache[next];
  next = (next + 1) % kLayouts;
  lay_out(l, ev);
  return l;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  Writer w(out);
  w.put_string(s);
}

void append_rfc3339(std::string& out, int64_t ns) {
  Writer w(out);
  w.put_timestamp(ns);
}

void append_event_json(std::string& out, const Event& ev) {
  const Layout& layout = layout_of(ev);
  Writer w(out);
  uint32_t from = 0;
  for (const Layout::Step& step : layout.steps) {
    w.put(std::string_view(layout.text).substr(from, step.literal_end - from));
    from = step.literal_end;
    if (step.field >= 0) put_leaf(w, ev, step.field);
  }
}

}  // namespace ringside
