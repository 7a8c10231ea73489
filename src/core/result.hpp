// Result<T>: the error style of ringside's C++ code. A value or an Error, never both; callers
// must look ([[nodiscard]]). Errors carry an errno (0 when none applies) and a message that
// already names what failed, so it can be shown to a user as it is.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ringside {

struct Error {
  std::string message;
  int code = 0;  // errno value, 0 when not a system error
};

// strerror, thread-safe (the GNU strerror_r returns the message, not an int).
inline std::string errno_text(int code) {
  char buf[128];
  return strerror_r(code, buf, sizeof buf);
}

// An Error from the current errno: "<what>: <strerror>".
inline Error errno_error(std::string_view what, int code = errno) {
  std::string msg(what);
  msg += ": ";
  msg += errno_text(code);
  return Error{std::move(msg), code};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

inline Result<void> ok() { return {}; }

}  // namespace ringside
