// A small reader over a fuzzer's input: takes integers and strings off the front so one byte
// string can describe a structured value (an event, a record header) as well as raw bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ringside::fuzz {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), left_(size) {}

  bool empty() const { return left_ == 0; }
  size_t left() const { return left_; }

  template <typename T>
  T take() {
    T v{};
    const size_t n = left_ < sizeof v ? left_ : sizeof v;
    if (n > 0) std::memcpy(&v, p_, n);
    p_ += n;
    left_ -= n;
    return v;
  }

  // A string of up to `max` bytes; its length comes from the input.
  std::string_view string(size_t max) {
    size_t n = take<uint16_t>();
    if (n > max) n = max;
    if (n > left_) n = left_;
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    left_ -= n;
    return s;
  }

  std::string_view rest() {
    std::string_view s(reinterpret_cast<const char*>(p_), left_);
    p_ += left_;
    left_ = 0;
    return s;
  }

 private:
  const uint8_t* p_;
  size_t left_;
};

}  // namespace ringside::fuzz
