#include "core/event.hpp"

#include <cassert>
#include <cstring>

namespace ringside {

using schema::field_index;
using schema::kFieldInfo;

static_assert(schema::kFieldInfo.size() == schema::kNumFields);

namespace {

constexpr int index_of(Field f) { return field_index(f); }

const schema::FieldInfo& info(Field f) { return kFieldInfo[index_of(f)]; }

bool is_int(FieldType t) { return t == FieldType::kInt || t == FieldType::kTimestamp; }
bool is_str(FieldType t) { return t == FieldType::kString || t == FieldType::kIp; }

}  // namespace

std::string_view to_string(Level level) { return level == Level::kKernel ? "kernel" : "user"; }

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAllow:
      return "allow";
    case Verdict::kDeny:
      return "deny";
    case Verdict::kAlert:
      return "alert";
  }
  return "allow";
}

std::string_view StringList::Iterator::operator*() const {
  uint32_t len = 0;
  std::memcpy(&len, p_, sizeof len);
  return {p_ + sizeof len, len};
}

StringList::Iterator& StringList::Iterator::operator++() {
  uint32_t len = 0;
  std::memcpy(&len, p_, sizeof len);
  p_ += sizeof len + len;
  --left_;
  return *this;
}

std::vector<std::string> StringList::to_vector() const {
  std::vector<std::string> out;
  out.reserve(count_);
  for (std::string_view s : *this) out.emplace_back(s);
  return out;
}

Event::Event(EventType type, int64_t timestamp_ns) { reset(type, timestamp_ns); }

void Event::reset(EventType type, int64_t timestamp_ns) {
  type_ = type;
  level_ = Level::kKernel;
  verdict_.reset();
  // Slots of absent fields are never read (every getter checks present_ first): they keep
  // whatever they held.
  present_ = {};
  arena_.clear();
  if (arena_.capacity() < kArenaReserve) arena_.reserve(kArenaReserve);
  static_assert(field_index(Field::kTimestamp) >= 0);
  assert(kFieldInfo[field_index(Field::kTimestamp)].slot == kTimestampSlot);
  set(Field::kTimestamp, timestamp_ns);
  mark(index_of(Field::kEventCategory));
  mark(index_of(Field::kEventAction));
}

void Event::release_arena_above(size_t bytes) {
  if (arena_.capacity() > bytes) {
    present_ = {};
    std::string().swap(arena_);
  }
}

std::string_view Event::category() const {
  const int i = schema::event_type_index(static_cast<uint16_t>(type_));
  return i < 0 ? std::string_view("unknown") : schema::kEventTypes[i].category;
}

std::string_view Event::action() const {
  const int i = schema::event_type_index(static_cast<uint16_t>(type_));
  return i < 0 ? std::string_view("unknown") : schema::kEventTypes[i].action;
}

bool Event::has(Field f) const {
  const int i = index_of(f);
  return marked(i);
}

void Event::clear(Field f) {
  const int i = index_of(f);
  present_[i / 64] &= ~(uint64_t{1} << (i % 64));
}

Event::Span Event::store(std::string_view s) {
  Span span{static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(s.size())};
  arena_.append(s);
  return span;
}

void Event::set(Field f, int64_t value) {
  const auto& fi = info(f);
  assert(is_int(fi.type));
  if (!is_int(fi.type)) return;
  ints_[fi.slot] = value;
  mark(index_of(f));
}

void Event::set(Field f, std::string_view value) {
  const auto& fi = info(f);
  assert(is_str(fi.type));
  if (!is_str(fi.type)) return;
  strs_[fi.slot] = store(value);
  mark(index_of(f));
}

void Event::start_list(Field f) {
  const auto& fi = info(f);
  assert(fi.type == FieldType::kStrings);
  if (fi.type != FieldType::kStrings) return;
  lists_[fi.slot] = Span{static_cast<uint32_t>(arena_.size()), 0};
  mark(index_of(f));
}

void Event::set(Field f, std::initializer_list<std::string_view> values) {
  start_list(f);
  for (std::string_view v : values) append(f, v);
}

void Event::set(Field f, const std::vector<std::string>& values) {
  start_list(f);
  for (const auto& v : values) append(f, v);
}

void Event::append(Field f, std::string_view value) {
  const auto& fi = info(f);
  assert(fi.type == FieldType::kStrings);
  if (fi.type != FieldType::kStrings) return;
  Span& list = lists_[fi.slot];
  const auto len = static_cast<uint32_t>(value.size());
  if (!has(f)) {
    list = Span{static_cast<uint32_t>(arena_.size()), 0};
  } else if (list.length > 0) {
    // Elements must stay contiguous: when something was stored after this list, move it to
    // the end of the arena first.
    uint32_t end = list.offset;
    for (StringList::Iterator it(arena_.data() + list.offset, list.length), e(nullptr, 0); it != e;
         ++it) {
      end += static_cast<uint32_t>(sizeof(uint32_t) + (*it).size());
    }
    if (end != arena_.size()) {
      const std::string moved = arena_.substr(list.offset, end - list.offset);
      list.offset = static_cast<uint32_t>(arena_.size());
      arena_.append(moved);
    }
  } else {
    list.offset = static_cast<uint32_t>(arena_.size());
  }
  arena_.append(reinterpret_cast<const char*>(&len), sizeof len);
  arena_.append(value);
  ++list.length;
  mark(index_of(f));
}

void Event::set_nul_separated(Field f, std::string_view blob) {
  start_list(f);
  size_t start = 0;
  while (start < blob.size()) {
    size_t end = blob.find('\0', start);
    if (end == std::string_view::npos) end = blob.size();
    append(f, blob.substr(start, end - start));
    start = end + 1;
  }
}

std::optional<int64_t> Event::get_int(Field f) const {
  const int i = index_of(f);
  const auto& fi = kFieldInfo[i];
  if (!is_int(fi.type) || !marked(i)) return std::nullopt;
  return ints_[fi.slot];
}

std::optional<std::string_view> Event::get_str(Field f) const {
  if (f == Field::kEventCategory) return category();
  if (f == Field::kEventAction) return action();
  const int i = index_of(f);
  const auto& fi = kFieldInfo[i];
  if (!is_str(fi.type) || !marked(i)) return std::nullopt;
  const Span s = strs_[fi.slot];
  return std::string_view(arena_.data() + s.offset, s.length);
}

StringList Event::get_list(Field f) const {
  const int i = index_of(f);
  const auto& fi = kFieldInfo[i];
  if (fi.type != FieldType::kStrings || !marked(i)) return {};
  const Span s = lists_[fi.slot];
  return {arena_.data() + s.offset, s.length};
}

void Event::set_origin(Level level, std::string_view sensor) {
  set_level(level);
  set(Field::kRingsideSensor, sensor);
}

void Event::set_level(Level level) {
  level_ = level;
  set(Field::kRingsideLevel, to_string(level));
}

void Event::set_verdict(Verdict v, std::string_view rule) {
  verdict_ = v;
  set(Field::kRingsideVerdict, to_string(v));
  if (rule.empty()) {
    clear(Field::kRingsideRule);
  } else {
    set(Field::kRingsideRule, rule);
  }
}

}  // namespace ringside
