#include "sensors/kernel/late_kill.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace ringside {

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

}  // namespace

std::string_view enforcement_of(LateKillOutcome outcome) {
  return outcome == LateKillOutcome::kKilled ? "late_kill" : "none";
}

std::optional<ProcStart> proc_start(int32_t pid, const std::string& proc_root) {
  const std::string path = proc_root + "/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  const std::string_view stat(buf, static_cast<size_t>(n));
  // comm may hold spaces and parentheses; fields resume after the last ')': state is field 3,
  // starttime field 22.
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos || close + 2 >= stat.size()) return std::nullopt;
  std::string_view rest = stat.substr(close + 2);
  ProcStart out;
  out.zombie = rest.front() == 'Z' || rest.front() == 'X';
  for (int field = 3; field < 22; ++field) {
    const size_t sp = rest.find(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(sp + 1);
  }
  const auto r = std::from_chars(rest.data(), rest.data() + rest.size(), out.start_ticks);
  if (r.ec != std::errc()) return std::nullopt;
  return out;
}

LateKillResult late_kill(int32_t pid, int64_t start_ticks, const std::string& proc_root) {
  if (pid <= 1) return {LateKillOutcome::kFailed, EPERM};
  const int pidfd = pidfd_open(pid);
  if (pidfd < 0) {
    const int err = errno;
    if (err == ESRCH) return {LateKillOutcome::kGone, 0};
    return {LateKillOutcome::kFailed, err};
  }
  LateKillResult result{LateKillOutcome::kGone, 0};
  const auto now = proc_start(pid, proc_root);
  if (now && !now->zombie && now->start_ticks == start_ticks) {
    if (pidfd_send_signal(pidfd, SIGKILL) == 0) {
      result.outcome = LateKillOutcome::kKilled;
    } else if (errno != ESRCH) {
      result = {LateKillOutcome::kFailed, errno};
    }
  }
  ::close(pidfd);
  return result;
}

}  // namespace ringside
