#include "sensors/kernel/fanotify.hpp"

#include <sys/fanotify.h>
#include <unistd.h>

namespace ringside {

namespace {

class SystemFanotify final : public Fanotify {
 public:
  Result<int> init(unsigned flags, unsigned event_f_flags) override {
    const int fd = fanotify_init(flags, event_f_flags);
    if (fd < 0) return errno_error("fanotify_init");
    return fd;
  }

  Result<void> mark(int group, unsigned flags, uint64_t mask, int dirfd,
                    const char* path) override {
    if (fanotify_mark(group, flags, mask, dirfd, path) != 0) {
      return errno_error(std::string("fanotify_mark ") + (path != nullptr ? path : "(fd)"));
    }
    return ok();
  }

  Result<size_t> read(int group, void* buf, size_t len) override {
    while (true) {
      const ssize_t n = ::read(group, buf, len);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return size_t{0};
      return errno_error("read fanotify events");
    }
  }

  Result<void> respond(int group, int event_fd, uint32_t response) override {
    const fanotify_response r{event_fd, response};
    while (true) {
      const ssize_t n = ::write(group, &r, sizeof r);
      if (n == static_cast<ssize_t>(sizeof r)) return ok();
      if (n < 0 && errno == EINTR) continue;
      return errno_error("fanotify response");
    }
  }

  void close(int fd) override { ::close(fd); }
};

}  // namespace

std::shared_ptr<Fanotify> system_fanotify() { return std::make_shared<SystemFanotify>(); }

}  // namespace ringside
