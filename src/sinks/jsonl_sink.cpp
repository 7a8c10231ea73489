#include "sinks/jsonl_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "core/json.hpp"
#include "core/log.hpp"

namespace ringside {

namespace {
constexpr size_t kFlushBytes = 256 * 1024;
}

Result<std::unique_ptr<JsonlSink>> JsonlSink::open(const std::string& path) {
  if (path == "-") return std::unique_ptr<JsonlSink>(new JsonlSink(STDOUT_FILENO, false));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return errno_error("cannot open JSONL output " + path);
  return std::unique_ptr<JsonlSink>(new JsonlSink(fd, true));
}

JsonlSink::~JsonlSink() {
  flush();
  if (owned_) close(fd_);
}

void JsonlSink::write(const Event& ev) {
  append_event_json(buf_, ev);
  ++pending_;
  if (buf_.size() >= kFlushBytes) flush();
}

void JsonlSink::flush() {
  size_t off = 0;
  while (off < buf_.size()) {
    const ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      log().warn("jsonl: write failed: {}; {} events lost", errno_text(errno), pending_);
      failed_ += pending_;
      pending_ = 0;
      buf_.clear();
      return;
    }
    off += static_cast<size_t>(n);
  }
  written_ += pending_;
  pending_ = 0;
  buf_.clear();
}

}  // namespace ringside
