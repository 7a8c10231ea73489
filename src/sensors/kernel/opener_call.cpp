#include "sensors/kernel/opener_call.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

namespace ringside {

namespace {

constexpr size_t kMaxPath = 4096;
constexpr uint64_t kPage = 4096;

bool parse_number(std::string_view s, uint64_t* out) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool read_remote(int32_t pid, uint64_t addr, void* buf, size_t len, size_t* got) {
  iovec local{buf, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  const ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n < 0) return false;
  *got = static_cast<size_t>(n);
  return true;
}

// A NUL-terminated string of the other process, read page by page so that a string ending
// just before an unmapped page is still read.
std::optional<std::string> read_remote_string(int32_t pid, uint64_t addr) {
  std::string out;
  char buf[kPage];
  while (out.size() < kMaxPath) {
    const size_t chunk = static_cast<size_t>(kPage - (addr % kPage));
    size_t got = 0;
    if (!read_remote(pid, addr, buf, chunk, &got) || got == 0) return std::nullopt;
    const void* nul = std::memchr(buf, '\0', got);
    if (nul != nullptr) {
      out.append(buf, static_cast<size_t>(static_cast<const char*>(nul) - buf));
      return out;
    }
    out.append(buf, got);
    addr += got;
  }
  return std::nullopt;
}

std::string_view last_component(std::string_view p) {
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  const size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

}  // namespace

std::optional<SyscallArgs> parse_proc_syscall(std::string_view line) {
  SyscallArgs out;
  size_t i = 0;
  auto next = [&](std::string_view* tok) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\n')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\n') ++i;
    *tok = line.substr(start, i - start);
    return !tok->empty();
  };
  std::string_view tok;
  if (!next(&tok) || tok == "running" || tok == "-1") return std::nullopt;
  uint64_t nr = 0;
  if (!parse_number(tok, &nr)) return std::nullopt;
  out.nr = static_cast<long>(nr);
  for (uint64_t& a : out.args) {
    if (!next(&tok) || !parse_number(tok, &a)) return std::nullopt;
  }
  return out;
}

bool names_same_file(std::string_view requested, std::string_view resolved) {
  if (requested.empty()) return false;
  return last_component(requested) == last_component(resolved);
}

std::optional<OpenerCall> read_opener_call(int32_t pid, std::string_view resolved_path) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/syscall", pid);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[256];
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return std::nullopt;
  auto call = parse_proc_syscall(std::string_view(buf, static_cast<size_t>(n)));
  if (!call) return std::nullopt;
  uint64_t name_addr = 0;
  OpenerCall out;
  switch (call->nr) {
#ifdef SYS_open
    case SYS_open:
      name_addr = call->args[0];
      out.flags = static_cast<int>(call->args[1]);
      break;
#endif
#ifdef SYS_creat
    case SYS_creat:
      name_addr = call->args[0];
      out.flags = O_CREAT | O_WRONLY | O_TRUNC;
      break;
#endif
    case SYS_openat:
      name_addr = call->args[1];
      out.flags = static_cast<int>(call->args[2]);
      break;
#ifdef SYS_openat2
    case SYS_openat2: {
      name_addr = call->args[1];
      open_how how{};
      size_t got = 0;
      if (!read_remote(pid, call->args[2], &how, sizeof how.flags, &got) || got != sizeof how.flags)
        return std::nullopt;
      out.flags = static_cast<int>(how.flags);
      break;
    }
#endif
    default:
      return std::nullopt;
  }
  auto requested = read_remote_string(pid, name_addr);
  if (!requested || !names_same_file(*requested, resolved_path)) return std::nullopt;
  out.requested_path = std::move(*requested);
  return out;
}

}  // namespace ringside
