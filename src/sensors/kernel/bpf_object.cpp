#include "sensors/kernel/bpf_object.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "core/log.hpp"

namespace ringside::bpf {

namespace {

thread_local LibbpfCapture* t_capture = nullptr;

int print_to_log(enum libbpf_print_level level, const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  char small[512];
  const int n = std::vsnprintf(small, sizeof small, format, args);
  if (n <= 0) {
    va_end(copy);
    return 0;
  }
  std::string line;
  if (static_cast<size_t>(n) < sizeof small) {
    line.assign(small, static_cast<size_t>(n));
  } else {  // a verifier log: one message, many lines
    line.resize(static_cast<size_t>(n) + 1);
    std::vsnprintf(line.data(), line.size(), format, copy);
    line.resize(static_cast<size_t>(n));
  }
  va_end(copy);
  if (line.rfind("libbpf: ", 0) == 0) line.erase(0, 8);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.empty()) return 0;
  if (t_capture != nullptr) {
    log().debug("libbpf: {}", line);
    t_capture->add(std::move(line));
    return n;
  }
  if (level == LIBBPF_WARN) {
    log().warn("libbpf: {}", line);
  } else {
    log().debug("libbpf: {}", line);
  }
  return n;
}

// The verifier's complaint: the last line of a program load log before its statistics.
std::string verifier_reason(std::string_view log_text) {
  const size_t end = log_text.find("-- END PROG LOAD LOG --");
  if (end == std::string_view::npos) return {};
  std::string_view body = log_text.substr(0, end);
  std::string_view last;
  while (!body.empty()) {
    const size_t nl = body.rfind('\n', body.size() - 1);
    std::string_view line = nl == std::string_view::npos ? body : body.substr(nl + 1);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(0, nl);
    if (line.empty() || line.rfind("processed ", 0) == 0 ||
        line.rfind("verification time", 0) == 0 || line.rfind("stack depth", 0) == 0) {
      continue;
    }
    last = line;
    break;
  }
  return std::string(last);
}

bool looks_like_failure(std::string_view s) {
  for (std::string_view word : {"failed", "error", "Error", "invalid", "Invalid", "not permitted",
                                "refused", "unsupported"}) {
    if (s.find(word) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

void route_libbpf_output() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(print_to_log); });
}

LibbpfCapture::LibbpfCapture() : previous_(t_capture) { t_capture = this; }

LibbpfCapture::~LibbpfCapture() { t_capture = previous_; }

void LibbpfCapture::add(std::string line) { lines_.push_back(std::move(line)); }

std::string LibbpfCapture::reason() const {
  for (auto it = lines_.rbegin(); it != lines_.rend(); ++it) {
    if (std::string v = verifier_reason(*it); !v.empty()) return "verifier: " + v;
  }
  // The first failure is the cause; later lines are its consequences ("failed to load
  // object", "failed to load BPF skeleton"). CO-RE notes about relocations guarded by
  // bpf_core_field_exists ("substituting insn ... w/ invalid insn") are not failures.
  for (const std::string& line : lines_) {
    if (line.find("load failed") != std::string::npos) return line;
  }
  for (const std::string& line : lines_) {
    if (looks_like_failure(line) && line.find("': relo #") == std::string::npos) return line;
  }
  return lines_.empty() ? std::string() : lines_.back();
}

Error libbpf_error(std::string_view what, int err, const LibbpfCapture* capture) {
  const int code = err < 0 ? -err : err;
  Error e = errno_error(what, code);
  if (capture != nullptr) {
    const std::string why = capture->reason();
    if (!why.empty()) e.message += " (libbpf: " + why + ")";
  }
  return e;
}

bool cgroup_link_detached(int link_fd) {
  bpf_link_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(link_fd, &info, &len) != 0) return false;
  // The kernel reports cgroup id 0 once the link lost its cgroup.
  return info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id == 0;
}

void destroy_links(std::vector<bpf_link*>& links) {
  std::vector<std::thread> threads;
  threads.reserve(links.size());
  for (bpf_link* l : links) {
    if (l == nullptr) continue;
    if (links.size() > 1) {
      try {
        threads.emplace_back([l] { bpf_link__destroy(l); });
        continue;
      } catch (const std::system_error&) {  // no thread to spare: here, one after the other
      }
    }
    bpf_link__destroy(l);
  }
  for (auto& t : threads) t.join();
  links.clear();
}

namespace {

constexpr const char* kTracefsRoots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

bool tracefs_present() {
  for (const char* root : kTracefsRoots) {
    if (access((std::string(root) + "/events").c_str(), F_OK) == 0) return true;
  }
  return false;
}

// Mounts tracefs on /sys/kernel/tracing when no tracefs is to be found; once per process.
void ensure_tracefs() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (tracefs_present()) return;
    if (mount("tracefs", kTracefsRoots[0], "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) ==
        0) {
      log().info("tracefs was not mounted; mounted it on {}", kTracefsRoots[0]);
    } else {
      log().warn("tracefs is not mounted and mounting it on {} failed: {}", kTracefsRoots[0],
                 std::strerror(errno));
    }
  });
}

}  // namespace

bool tracepoint_exists(const std::string& category, const std::string& name) {
  ensure_tracefs();
  for (const char* root : kTracefsRoots) {
    const std::string dir = std::string(root) + "/events/" + category + "/" + name;
    if (access(dir.c_str(), F_OK) == 0) return true;
  }
  return false;
}

}  // namespace ringside::bpf
