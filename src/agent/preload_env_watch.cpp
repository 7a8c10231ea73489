#include "agent/preload_env_watch.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/tamper_event.hpp"

namespace ringside {

namespace {

constexpr std::string_view kLibrary = "libringside-preload.so";
constexpr size_t kMaxHooked = 65536;  // past this the set starts over

std::optional<std::string> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<std::string> read_link(const std::string& path) {
  std::error_code ec;
  auto target = std::filesystem::read_symlink(path, ec);
  if (ec) return std::nullopt;
  return target.string();
}

}  // namespace

PreloadEnvWatch::PreloadEnvWatch(ReadFile read_file, ReadFile read_link_fn, std::string proc_root)
    : read_(read_file ? std::move(read_file) : ReadFile(read_whole)),
      read_link_(read_link_fn ? std::move(read_link_fn) : ReadFile(read_link)),
      proc_root_(std::move(proc_root)) {}

bool PreloadEnvWatch::env_preloads(std::string_view environ) {
  size_t pos = 0;
  while (pos < environ.size()) {
    size_t end = environ.find('\0', pos);
    if (end == std::string_view::npos) end = environ.size();
    const std::string_view kv = environ.substr(pos, end - pos);
    if (kv.rfind("LD_PRELOAD=", 0) == 0 && kv.find(kLibrary) != std::string_view::npos) {
      return true;
    }
    pos = end + 1;
  }
  return false;
}

bool PreloadEnvWatch::config_preloads(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string word;
  while (in >> word) {
    if (word[0] == '#') {
      std::getline(in, word);
      continue;
    }
    if (word.find(kLibrary) != std::string::npos) return true;
  }
  return false;
}

std::optional<Event> PreloadEnvWatch::observe(const Event& ev) {
  const auto pid = ev.get_int(Field::kProcessPid);
  if (!pid) return std::nullopt;
  const auto p = static_cast<int32_t>(*pid);
  if (ev.level() == Level::kUser) {
    std::lock_guard lock(mu_);
    if (hooked_.size() >= kMaxHooked) hooked_.clear();
    hooked_.insert(p);
    return std::nullopt;
  }
  if (ev.type() == EventType::kProcessExit) {
    std::lock_guard lock(mu_);
    hooked_.erase(p);
    return std::nullopt;
  }
  if (ev.type() != EventType::kProcessExec) return std::nullopt;
  const auto ppid = ev.get_int(Field::kProcessParentPid);
  {
    std::lock_guard lock(mu_);
    if (hooked_.count(p) == 0 && (!ppid || hooked_.count(static_cast<int32_t>(*ppid)) == 0)) {
      return std::nullopt;
    }
  }
  const auto exe = ev.get_str(Field::kProcessExecutable);
  const std::string dir = proc_root_ + "/" + std::to_string(p);
  const auto environ = read_(dir + "/environ");
  // The environment read must be this program's: not one it exec'd since.
  const auto now_exe = read_link_(dir + "/exe");
  if (!environ || !exe || now_exe != *exe || env_preloads(*environ)) return std::nullopt;
  if (auto config = read_("/etc/ld.so.preload"); config && config_preloads(*config)) {
    return std::nullopt;
  }
  {
    std::lock_guard lock(mu_);
    hooked_.erase(p);  // unhooked now: its children are not expected to be hooked
  }
  const std::string exe_text(*exe);
  const auto sensor = ev.get_str(Field::kRingsideSensor);
  Event out = tamper_event(sensor ? *sensor : "kernel", "preload_env", "stripped", exe_text,
                           "pid " + std::to_string(p) + " (" + exe_text +
                               ") started without the interposer in " +
                               "LD_PRELOAD, after its process or parent had reported through it");
  out.set(Field::kProcessPid, *pid);
  if (ppid) out.set(Field::kProcessParentPid, *ppid);
  return out;
}

}  // namespace ringside
