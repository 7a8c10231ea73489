#include "agent/process_table.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <mutex>

namespace ringside {

namespace {

// /proc files are small and generated on read: one open, a read or two, close.
std::string read_small_file(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// The numbers after "Uid:" or "Gid:" in /proc/PID/status (real, effective, ...).
void read_ids(std::string_view status, std::string_view key, uint32_t* real, uint32_t* eff) {
  size_t at = status.find(key);
  if (at == std::string_view::npos) return;
  std::string_view rest = status.substr(at + key.size());
  auto next = [&rest](uint32_t* out) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    auto r = std::from_chars(rest.data(), rest.data() + rest.size(), *out);
    rest.remove_prefix(static_cast<size_t>(r.ptr - rest.data()));
  };
  next(real);
  if (eff != nullptr) next(eff);
}

std::string read_link(const std::string& path) {
  char buf[4096];
  const ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  if (n <= 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

template <class T>
bool to_num(std::string_view s, T& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc();
}

}  // namespace

std::optional<ProcessInfo> read_proc_process(int32_t pid, const std::string& proc_root,
                                             bool with_args) {
  const std::string dir = proc_root + "/" + std::to_string(pid);
  const std::string stat = read_small_file(dir + "/stat");
  // comm may hold spaces and parentheses; fields resume after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::vector<std::string_view> f;
  std::string_view rest(stat);
  rest.remove_prefix(close + 2);
  while (!rest.empty()) {
    const size_t sp = rest.find(' ');
    f.push_back(rest.substr(0, sp));
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  // f[0] is field 3 (state); ppid is field 4, starttime field 22.
  if (f.size() < 20) return std::nullopt;
  ProcessInfo p;
  p.pid = pid;
  if (!to_num(f[1], p.ppid) || !to_num(f[19], p.start_ticks)) return std::nullopt;
  p.executable = read_link(dir + "/exe");
  p.cwd = read_link(dir + "/cwd");
  if (with_args) {
    const std::string cmdline = read_small_file(dir + "/cmdline");
    size_t start = 0;
    while (start < cmdline.size()) {
      size_t end = cmdline.find('\0', start);
      if (end == std::string::npos) end = cmdline.size();
      p.args.emplace_back(cmdline.substr(start, end - start));
      start = end + 1;
    }
  }
  const std::string status = read_small_file(dir + "/status");
  read_ids(status, "\nUid:", &p.uid, &p.euid);
  read_ids(status, "\nGid:", &p.gid, nullptr);
  return p;
}

size_t ProcessTable::load_from_proc() {
  DIR* d = opendir(proc_root_.c_str());
  if (d == nullptr) return 0;
  std::vector<ProcessInfo> found;
  while (dirent* e = readdir(d)) {  // NOLINT(concurrency-mt-unsafe): one thread, own DIR*
    int32_t pid = 0;
    const std::string_view name(e->d_name);
    if (!to_num(name, pid) || pid <= 0) continue;
    if (auto p = read_proc_process(pid, proc_root_, false)) found.push_back(std::move(*p));
  }
  closedir(d);
  std::unique_lock lock(mu_);
  for (auto& p : found) insert_locked(std::move(p));
  return found.size();
}

void ProcessTable::insert_locked(ProcessInfo info) {
  info.args.clear();
  info.args.shrink_to_fit();
  const Key key{info.pid, info.start_ticks};
  auto it = newest_.find(info.pid);
  if (it == newest_.end() || it->second <= info.start_ticks) newest_[info.pid] = info.start_ticks;
  procs_[key] = std::move(info);
}

const ProcessInfo* ProcessTable::find_locked(int32_t pid) const {
  auto it = newest_.find(pid);
  if (it == newest_.end()) return nullptr;
  auto p = procs_.find(Key{pid, it->second});
  return p == procs_.end() ? nullptr : &p->second;
}

void ProcessTable::on_fork(int32_t pid, int32_t ppid, int64_t start_ticks,
                           int64_t parent_start_ticks) {
  std::unique_lock lock(mu_);
  ProcessInfo child;
  auto parent = procs_.find(Key{ppid, parent_start_ticks});
  if (parent != procs_.end()) {
    child = parent->second;
  } else if (const ProcessInfo* p = find_locked(ppid)) {
    child = *p;
  }
  child.pid = pid;
  child.ppid = ppid;
  child.start_ticks = start_ticks;
  child.exit_ns = 0;
  insert_locked(std::move(child));
}

void ProcessTable::on_exec(ProcessInfo info) {
  std::unique_lock lock(mu_);
  insert_locked(std::move(info));
}

void ProcessTable::on_exit(int32_t pid, int64_t start_ticks, int64_t when_ns) {
  std::unique_lock lock(mu_);
  auto it = procs_.find(Key{pid, start_ticks});
  if (it != procs_.end() && it->second.exit_ns == 0) {
    it->second.exit_ns = when_ns;
    exited_.push_back({when_ns, it->first});
  }
}

std::optional<ProcessInfo> ProcessTable::find(int32_t pid) const {
  std::shared_lock lock(mu_);
  const ProcessInfo* p = find_locked(pid);
  if (p == nullptr) return std::nullopt;
  return *p;
}

std::optional<ProcessInfo> ProcessTable::find(int32_t pid, int64_t start_ticks) const {
  std::shared_lock lock(mu_);
  auto it = procs_.find(Key{pid, start_ticks});
  if (it == procs_.end()) return std::nullopt;
  return it->second;
}

std::optional<ProcessInfo> ProcessTable::find_or_read(int32_t pid) {
  if (auto p = find(pid); p && p->exit_ns == 0) return p;
  auto fresh = read_proc_process(pid, proc_root_, false);
  if (!fresh) return find(pid);
  std::unique_lock lock(mu_);
  insert_locked(*fresh);
  return fresh;
}

std::optional<ProcessBrief> ProcessTable::brief(int32_t pid) const {
  std::shared_lock lock(mu_);
  const ProcessInfo* p = find_locked(pid);
  if (p == nullptr) return std::nullopt;
  return ProcessBrief{p->ppid, p->uid, p->exit_ns, p->executable};
}

std::optional<ProcessBrief> ProcessTable::brief_or_read(int32_t pid) {
  if (auto b = brief(pid); b && b->exit_ns == 0) return b;
  auto fresh = read_proc_process(pid, proc_root_, false);
  if (!fresh) return brief(pid);
  ProcessBrief b{fresh->ppid, fresh->uid, 0, fresh->executable};
  std::unique_lock lock(mu_);
  insert_locked(std::move(*fresh));
  return b;
}

std::optional<ProcessBrief> ProcessTable::brief_or_read(int32_t pid, int64_t start_ticks) {
  {
    std::shared_lock lock(mu_);
    for (const int64_t start : {start_ticks, start_ticks - 1, start_ticks + 1}) {
      auto it = procs_.find(Key{pid, start});
      if (it == procs_.end()) continue;
      const ProcessInfo& p = it->second;
      return ProcessBrief{p.ppid, p.uid, p.exit_ns, p.executable};
    }
  }
  auto fresh = read_proc_process(pid, proc_root_, false);
  // Gone, or the pid already belongs to another process: nothing rather than the wrong one.
  if (!fresh || fresh->start_ticks < start_ticks - 1 || fresh->start_ticks > start_ticks + 1) {
    return std::nullopt;
  }
  ProcessBrief b{fresh->ppid, fresh->uid, 0, fresh->executable};
  std::unique_lock lock(mu_);
  insert_locked(std::move(*fresh));
  return b;
}

bool ProcessTable::exited(int32_t pid, int64_t start_ticks) const {
  std::shared_lock lock(mu_);
  auto it = procs_.find(Key{pid, start_ticks});
  return it != procs_.end() && it->second.exit_ns != 0;
}

std::vector<std::string> ProcessTable::ancestry(int32_t pid, size_t max) const {
  std::vector<std::string> out;
  for_each_ancestor(pid, max, [&](std::string_view exe) { out.emplace_back(exe); });
  return out;
}

size_t ProcessTable::expire(int64_t now_ns, int64_t grace_ns) {
  // Exits are queued in the order they were reported, so only the expired head is visited,
  // not the whole table.
  std::unique_lock lock(mu_);
  size_t n = 0;
  while (!exited_.empty() && now_ns - exited_.front().first > grace_ns) {
    const auto [when, key] = exited_.front();
    exited_.pop_front();
    auto it = procs_.find(key);
    if (it == procs_.end() || it->second.exit_ns != when) continue;
    auto nw = newest_.find(key.pid);
    if (nw != newest_.end() && nw->second == key.start) newest_.erase(nw);
    procs_.erase(it);
    ++n;
  }
  return n;
}

size_t ProcessTable::size() const {
  std::shared_lock lock(mu_);
  return procs_.size();
}

}  // namespace ringside
