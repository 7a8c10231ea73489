// core::Event: one operation seen by one sensor, in the shape schema/events.yaml defines.
//
// Storage is flat and allocation-light: integer fields live in a fixed array, strings and
// string lists in one arena, and a bitmask says which fields are present. Field access is by
// schema::Field; the slot of each field comes from the generated tables.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringside/schema_gen.hpp"

namespace ringside {

using schema::EventType;
using schema::Field;
using schema::FieldType;

enum class Level : uint8_t { kKernel, kUser };
enum class Verdict : uint8_t { kAllow, kDeny, kAlert };

std::string_view to_string(Level level);
std::string_view to_string(Verdict verdict);

// A read-only view of a string list stored in an Event's arena.
class StringList {
 public:
  class Iterator {
   public:
    Iterator(const char* p, uint32_t left) : p_(p), left_(left) {}
    std::string_view operator*() const;
    Iterator& operator++();
    bool operator!=(const Iterator& o) const { return left_ != o.left_; }

   private:
    const char* p_;
    uint32_t left_;
  };
  StringList() = default;
  StringList(const char* data, uint32_t count) : data_(data), count_(count) {}
  Iterator begin() const { return {data_, count_}; }
  Iterator end() const { return {nullptr, 0}; }
  uint32_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  std::vector<std::string> to_vector() const;

 private:
  const char* data_ = nullptr;
  uint32_t count_ = 0;
};

class Event {
 public:
  Event() = default;
  Event(EventType type, int64_t timestamp_ns);
  // Makes this the event Event(type, timestamp_ns) would be, keeping the arena's allocation
  // (an event reused in place, see EventBatch).
  void reset(EventType type, int64_t timestamp_ns);
  // Frees the string arena when its allocation is larger than `bytes` (it holds no field then:
  // for an event about to be reused).
  void release_arena_above(size_t bytes);

  EventType type() const { return type_; }
  std::string_view category() const;
  std::string_view action() const;
  int64_t timestamp_ns() const { return ints_[kTimestampSlot]; }
  void set_timestamp_ns(int64_t ns) { ints_[kTimestampSlot] = ns; }

  bool has(Field f) const;
  void clear(Field f);

  void set(Field f, int64_t value);
  void set(Field f, std::string_view value);
  void set(Field f, const char* value) { set(f, std::string_view(value)); }
  void set(Field f, const std::string& value) { set(f, std::string_view(value)); }
  void set(Field f, std::initializer_list<std::string_view> values);
  void set(Field f, const std::vector<std::string>& values);
  // Appends to a string-list field (creating it when absent).
  void append(Field f, std::string_view value);
  // Sets a string list from `count` consecutive NUL-terminated strings (argv as the kernel
  // keeps it); a missing final NUL is tolerated.
  void set_nul_separated(Field f, std::string_view blob);

  // Typed getters; empty when the field is absent or of another type.
  std::optional<int64_t> get_int(Field f) const;
  std::optional<std::string_view> get_str(Field f) const;
  StringList get_list(Field f) const;
  // The same by dense field index (schema::field_index), for encoders that walk the schema:
  // the field must be present and of the getter's type.
  int64_t int_at(int index) const { return ints_[schema::kFieldInfo[index].slot]; }
  std::string_view str_at(int index) const {
    const Span s = strs_[schema::kFieldInfo[index].slot];
    return {arena_.data() + s.offset, s.length};
  }
  StringList list_at(int index) const {
    const Span s = lists_[schema::kFieldInfo[index].slot];
    return {arena_.data() + s.offset, s.length};
  }

  // Convenience for the header fields every sensor sets.
  void set_origin(Level level, std::string_view sensor);
  void set_level(Level level);  // ringside.level alone (a decoded line may name no sensor)
  Level level() const { return level_; }
  std::optional<Verdict> verdict() const { return verdict_; }
  void set_verdict(Verdict v, std::string_view rule);

  const std::array<uint64_t, schema::kFieldMaskWords>& present() const { return present_; }

 private:
  struct Span {
    uint32_t offset = 0;
    uint32_t length = 0;  // bytes (strings) or element count (lists)
  };
  static constexpr int kTimestampSlot = 0;  // asserted in event.cpp
  // One allocation holds a typical event's strings (an exec with its arguments).
  static constexpr size_t kArenaReserve = 512;

  void mark(int index) { present_[index / 64] |= uint64_t{1} << (index % 64); }
  bool marked(int index) const { return ((present_[index / 64] >> (index % 64)) & 1U) != 0; }
  Span store(std::string_view s);
  // Makes `f` present as an empty list at the end of the arena.
  void start_list(Field f);

  EventType type_{};
  Level level_ = Level::kKernel;
  std::optional<Verdict> verdict_;
  std::array<uint64_t, schema::kFieldMaskWords> present_{};
  std::array<int64_t, schema::kNumIntSlots> ints_{};
  std::array<Span, schema::kNumStrSlots> strs_{};
  std::array<Span, schema::kNumListSlots> lists_{};
  std::string arena_;
};

}  // namespace ringside
