#include "sensors/kernel/fanotify.hpp"

#include <fcntl.h>
#include <sys/fanotify.h>
#include <unistd.h>

namespace ringside {

namespace {

// Permission groups live at high descriptor numbers. When the agent dies, the kernel releases
// its files in reverse order of their numbers, and releasing a group waits until no event
// holds a reference to one of its marks. A process waiting on a permission group holds
// references to the other groups' marks the same event met (e.g. the notification group's
// filesystem mark), so a notification group released before that permission group would wait
// for a caller that waits for the dead agent: both would hang for good. Released first, the
// permission groups answer their pending events (allow) before any other group is released.
constexpr int kPermissionFdFloor = 768;

int move_high(int fd) {
  const int high = fcntl(fd, F_DUPFD_CLOEXEC, kPermissionFdFloor);
  if (high < 0) return fd;  // keep the low one (descriptor limit below the floor)
  ::close(fd);
  return high;
}

class SystemFanotify final : public Fanotify {
 public:
  Result<int> init(unsigned flags, unsigned event_f_flags) override {
    const int fd = fanotify_init(flags, event_f_flags);
    if (fd < 0) return errno_error("fanotify_init");
    if ((flags & (FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT)) != 0) return move_high(fd);
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
