#include "agent/process_table.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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

// The numbers after "Uid:" or "Gid:" in /proc/PID/status (real, effective, ...); false when
// the line or its first number is missing.
bool read_ids(std::string_view status, std::string_view key, uint32_t* real, uint32_t* eff) {
  size_t at = status.find(key);
  if (at == std::string_view::npos) return false;
  std::string_view rest = status.substr(at + key.size());
  auto next = [&rest](uint32_t* out) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    auto r = std::from_chars(rest.data(), rest.data() + rest.size(), *out);
    rest.remove_prefix(static_cast<size_t>(r.ptr - rest.data()));
    return r.ec == std::errc();
  };
  const bool found = next(real);
  if (eff != nullptr) next(eff);
  return found;
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

std::optional<uint32_t> read_proc_real_uid(int32_t pid, const std::string& proc_root) {
  uint32_t uid = 0;
  const std::string status = read_small_file(proc_root + "/" + std::to_string(pid) + "/status");
  if (!read_ids(status, "\nUid:", &uid, nullptr)) return std::nullopt;
  return uid;
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

const ProcessInfo& ProcessTable::insert_locked(ProcessInfo info) {
  info.args.clear();
  info.args.shrink_to_fit();
  auto [it, fresh] = procs_.try_emplace(info.pid);
  Slot& slot = it->second;
  if (fresh) {
    slot.newest = std::move(info);
    ++count_;
    return slot.newest;
  }
  if (slot.newest.start_ticks == info.start_ticks) {
    slot.newest = std::move(info);
    return slot.newest;
  }
  if (slot.newest.start_ticks < info.start_ticks) {  // the pid was reused
    slot.older.push_back(std::move(slot.newest));
    slot.newest = std::move(info);
    ++count_;
    return slot.newest;
  }
  // An earlier incarnation reported late.
  for (ProcessInfo& o : slot.older) {
    if (o.start_ticks == info.start_ticks) {
      o = std::move(info);
      return o;
    }
  }
  slot.older.push_back(std::move(info));
  ++count_;
  return slot.older.back();
}

const ProcessInfo* ProcessTable::find_locked(int32_t pid) const {
  auto it = procs_.find(pid);
  return it == procs_.end() ? nullptr : &it->second.newest;
}

const ProcessInfo* ProcessTable::find_locked(int32_t pid, int64_t start, int64_t slack) const {
  auto it = procs_.find(pid);
  if (it == procs_.end()) return nullptr;
  const Slot& slot = it->second;
  auto started_at = [&slot](int64_t want) -> const ProcessInfo* {
    if (slot.newest.start_ticks == want) return &slot.newest;
    for (const ProcessInfo& o : slot.older) {
      if (o.start_ticks == want) return &o;
    }
    return nullptr;
  };
  const ProcessInfo* p = started_at(start);
  for (int64_t d = 1; p == nullptr && d <= slack; ++d) {
    p = started_at(start - d);
    if (p == nullptr) p = started_at(start + d);
  }
  return p;
}

const ProcessInfo& ProcessTable::fork_locked(int32_t pid, int32_t ppid, int64_t start_ticks,
                                             int64_t parent_start_ticks) {
  ProcessInfo child;
  const ProcessInfo* parent = find_locked(ppid, parent_start_ticks);
  if (parent == nullptr) parent = find_locked(ppid);
  if (parent != nullptr) child = *parent;
  child.pid = pid;
  child.ppid = ppid;
  child.start_ticks = start_ticks;
  child.exit_ns = 0;
  return insert_locked(std::move(child));
}

void ProcessTable::on_exec(ProcessInfo info) {
  std::unique_lock lock(mu_);
  insert_locked(std::move(info));
}

bool ProcessTable::on_exit(int32_t pid, int64_t start_ticks, int64_t when_ns) {
  std::unique_lock lock(mu_);
  ProcessInfo* p = find_locked(pid, start_ticks);
  if (p == nullptr) return true;
  if (p->exit_ns != 0) return false;
  p->exit_ns = when_ns;
  exited_.push_back({when_ns, Key{pid, start_ticks}});
  return true;
}

std::optional<ProcessInfo> ProcessTable::find(int32_t pid) const {
  std::shared_lock lock(mu_);
  const ProcessInfo* p = find_locked(pid);
  if (p == nullptr) return std::nullopt;
  return *p;
}

std::optional<ProcessInfo> ProcessTable::find(int32_t pid, int64_t start_ticks) const {
  std::shared_lock lock(mu_);
  const ProcessInfo* p = find_locked(pid, start_ticks, 0);
  if (p == nullptr) return std::nullopt;
  return *p;
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
    if (const ProcessInfo* p = find_locked(pid, start_ticks, 1)) {
      return ProcessBrief{p->ppid, p->uid, p->exit_ns, p->executable};
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
  const ProcessInfo* p = find_locked(pid, start_ticks, 0);
  return p != nullptr && p->exit_ns != 0;
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
  const size_t before = count_;
  while (!exited_.empty() && now_ns - exited_.front().first > grace_ns) {
    const auto [when, key] = exited_.front();
    exited_.pop_front();
    auto it = procs_.find(key.pid);
    if (it == procs_.end()) continue;
    Slot& slot = it->second;
    if (slot.newest.start_ticks == key.start) {
      if (slot.newest.exit_ns != when) continue;
      // Earlier incarnations ended before this one began: they go with it (one whose exit
      // was never reported would otherwise stay for good).
      count_ -= 1 + slot.older.size();
      procs_.erase(it);
      continue;
    }
    auto& older = slot.older;
    const int64_t start = key.start, exit_ns = when;  // a lambda cannot capture a binding
    auto o = std::find_if(older.begin(), older.end(), [&](const ProcessInfo& p) {
      return p.start_ticks == start && p.exit_ns == exit_ns;
    });
    if (o != older.end()) {
      older.erase(o);
      --count_;
    }
  }
  return before - count_;
}

size_t ProcessTable::size() const {
  std::shared_lock lock(mu_);
  return count_;
}

}  // namespace ringside
