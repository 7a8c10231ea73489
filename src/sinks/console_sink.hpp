// One compact human-readable line per event, for a person watching `ringside run`:
//   19:17:51.123 kernel ebpf     alert exec  pid=1234 ppid=1 uid=0 /tmp/x -v  [exec-from-tmp]
#pragma once

#include <cstdio>
#include <string>

#include "sinks/sink.hpp"

namespace ringside {

// Formats the line (without a trailing newline); exposed for tests.
std::string format_console_line(const Event& ev, bool color);

class ConsoleSink final : public Sink {
 public:
  ConsoleSink(int fd, bool color) : fd_(fd), color_(color) {}
  std::string_view name() const override { return "console"; }
  void write(const Event& ev) override;
  void flush() override;
  SinkStats stats() const override { return {written_, failed_}; }

 private:
  int fd_;
  bool color_;
  std::string buf_;
  uint64_t pending_ = 0, written_ = 0, failed_ = 0;
};

}  // namespace ringside
