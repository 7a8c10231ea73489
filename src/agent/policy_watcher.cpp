#include "agent/policy_watcher.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <filesystem>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace ringside {

namespace {

// A change is acted on once the directory has been quiet this long (an editor's write, fsync
// and rename come as one burst).
constexpr int kSettleMs = 100;

}  // namespace

Result<std::unique_ptr<PolicyWatcher>> PolicyWatcher::start(const std::string& policy_path,
                                                            std::function<void()> on_change) {
  std::unique_ptr<PolicyWatcher> w(new PolicyWatcher());
  std::error_code ec;
  const auto abs = std::filesystem::absolute(policy_path, ec);
  if (ec) return Error{"policy watch: " + policy_path + ": " + ec.message()};
  w->dir_ = abs.parent_path().string();
  w->name_ = abs.filename().string();
  w->on_change_ = on_change ? std::move(on_change) : [] { kill(getpid(), SIGHUP); };
  w->inotify_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (w->inotify_ < 0) return errno_error("policy watch: inotify_init1");
  constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM;
  if (inotify_add_watch(w->inotify_, w->dir_.c_str(), kMask) < 0) {
    return errno_error("policy watch: inotify_add_watch " + w->dir_);
  }
  w->wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->wake_ < 0) return errno_error("policy watch: eventfd");
  PolicyWatcher* self = w.get();
  w->thread_ = std::thread([self] { self->loop(); });
  name_thread(w->thread_, "rs-policy-watch");
  return w;
}

PolicyWatcher::~PolicyWatcher() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    if (write(wake_, &one, sizeof one) < 0) log().warn("policy watch: cannot wake its thread");
    thread_.join();
  }
  if (inotify_ >= 0) close(inotify_);
  if (wake_ >= 0) close(wake_);
}

void PolicyWatcher::loop() {
  alignas(inotify_event) std::array<char, 4096> buf{};
  bool changed = false;
  while (true) {
    std::array<pollfd, 2> fds{{{inotify_, POLLIN, 0}, {wake_, POLLIN, 0}}};
    const int n = poll(fds.data(), fds.size(), changed ? kSettleMs : -1);
    if (n < 0 && errno != EINTR) {
      log().error("policy watch: poll: {}", errno_text(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (n == 0 && changed) {  // quiet for kSettleMs after a change
      changed = false;
      pending_.store(true);
      log().info("policy file {}/{} changed on disk; reloading", dir_, name_);
      on_change_();
      continue;
    }
    if ((fds[0].revents & POLLIN) == 0) continue;
    while (true) {
      const ssize_t len = read(inotify_, buf.data(), buf.size());
      if (len <= 0) break;
      for (ssize_t off = 0; off < len;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf.data() + off);
        if ((ev->mask & IN_Q_OVERFLOW) != 0 || (ev->len > 0 && name_ == ev->name)) changed = true;
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    }
  }
}

Event policy_event(bool ok, const std::string& path, std::string_view trigger,
                   const std::string& message) {
  Event ev(EventType::kRingsidePolicy, clock::realtime_ns());
  ev.set_origin(Level::kUser, "agent");
  ev.set(Field::kEventOutcome, ok ? "success" : "failure");
  ev.set(Field::kFilePath, path);
  ev.set(Field::kRingsidePolicyTrigger, trigger);
  ev.set(Field::kRingsideMessage, message);
  return ev;
}

}  // namespace ringside
