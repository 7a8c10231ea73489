#include "sensors/user/hook_state_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensors/user/preload/hook_logic.h"

namespace ringside {

Result<std::unique_ptr<HookStateFile>> HookStateFile::open(const std::string& path,
                                                           int32_t agent_pid) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("cannot open hook state file " + path);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    auto e = errno_error("cannot stat hook state file " + path);
    close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    close(fd);
    return Error{"hook state file " + path + " is not a regular file owned by the agent's user"};
  }
  // Grow only: a hooked process must never find its mapping past the end of the file.
  if (st.st_size < static_cast<off_t>(sizeof(rs_hook_state)) &&
      ftruncate(fd, sizeof(rs_hook_state)) != 0) {
    auto e = errno_error("cannot size hook state file " + path);
    close(fd);
    return e;
  }
  if (fchmod(fd, 0644) != 0) {
    auto e = errno_error("cannot chmod hook state file " + path);
    close(fd);
    return e;
  }
  void* map = mmap(nullptr, sizeof(rs_hook_state), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int map_errno = errno;
  close(fd);
  if (map == MAP_FAILED) return errno_error("cannot map hook state file " + path, map_errno);
  std::unique_ptr<HookStateFile> f(
      new HookStateFile(path, static_cast<rs_hook_state*>(map), agent_pid));
  f->publish(0, 0, false);
  return f;
}

HookStateFile::~HookStateFile() { munmap(map_, sizeof(rs_hook_state)); }

void HookStateFile::publish(uint32_t sync_ops, uint32_t deadline_ms, bool fail_closed,
                            uint32_t report_ops, uint32_t file_opens) {
  deadline_ms_ = deadline_ms;
  rs_hook_state_write_reporting(map_, sync_ops, deadline_ms, fail_closed ? 1 : 0, agent_pid_,
                                report_ops, file_opens);
}

void HookStateFile::clear() { rs_hook_state_write(map_, 0, deadline_ms_, 0, 0); }

}  // namespace ringside
