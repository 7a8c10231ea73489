// JSON lines to a file or to standard output ("-").
#pragma once

#include <memory>
#include <string>

#include "sinks/sink.hpp"

namespace ringside {

class JsonlSink final : public Sink {
 public:
  // Opens (appends to) `path`; "-" means standard output.
  static Result<std::unique_ptr<JsonlSink>> open(const std::string& path);
  ~JsonlSink() override;

  std::string_view name() const override { return "jsonl"; }
  void write(const Event& ev) override;
  void flush() override;
  SinkStats stats() const override { return {written_, failed_}; }

 private:
  JsonlSink(int fd, bool owned) : fd_(fd), owned_(owned) {}
  int fd_;
  bool owned_;
  std::string buf_;
  uint64_t pending_ = 0;  // events in buf_
  uint64_t written_ = 0, failed_ = 0;
};

}  // namespace ringside
