// File scenarios: a marked file in the lab's scratch tmpfs (<scratch>/files/<name>-<run>) is
// opened, renamed over or truncated in each way a program can.

#include <unistd.h>

#include <cerrno>

#include "lab/scenario.hpp"

namespace ringside::lab {

namespace {

struct FileSpec {
  std::string name, title, op;
  std::string action = "open";
  std::string user_miss;
  std::string kernel_no_block;
  bool static_caller = false;
};

}  // namespace

std::vector<Scenario> file_scenarios(const LabEnv& env) {
  const std::string dir = env.scratch + "/files";
  const std::vector<FileSpec> specs = {
      {"libc_open", "open(2) through libc", "open"},
      {"fopen", "fopen(3)", "fopen"},
      {"openat_dirfd", "openat relative to a directory descriptor", "open-dirfd"},
      {"raw_syscall_open", "openat through a raw syscall instruction", "open-raw", "open",
       "raw syscall instruction bypasses the libc open the interposer hooks"},
      {"openat2", "openat2(2), which libc has no wrapper for", "openat2", "open",
       "openat2 has no libc wrapper: syscall(SYS_openat2) calls no hooked function"},
      {"io_uring_open", "IORING_OP_OPENAT through io_uring", "open-uring", "open",
       "io_uring submits the open without a libc call"},
      {"symlink_open", "open through a symbolic link to the file", "open"},
      {"hardlink_open", "open through a second hard link to a file", "open"},
      {"opath_reopen", "open(O_PATH), then reopen through /proc/self/fd/N", "open-opath"},
      // Refused at the kernel level by the immutable attribute (file_immutable).
      {"rename_over", "rename another file over the file", "rename", "rename"},
      {"truncate", "truncate(2) the file to 0 bytes", "truncate", "modify"},
      {"static_open", "open(2) from a statically linked program", "open", "open",
       "static binary: no dynamic loader, LD_PRELOAD never loads", "", true},
  };
  std::vector<Scenario> out;
  for (const auto& f : specs) {
    Scenario s;
    s.id = "file." + f.name;
    s.area = "file";
    s.title = f.title;
    const std::string path = dir + "/" + f.name + "-" + env.run_id;
    s.marker = path;
    const std::string program =
        env.bin_dir + (f.static_caller ? "/ringside-lab-static" : "/ringside-lab-step");
    std::string arg = path;
    std::string second;
    if (f.name == "symlink_open") arg = path + "-link";
    if (f.name == "openat_dirfd") {
      arg = dir;
      second = f.name + "-" + env.run_id;
    }
    const std::string rename_src = path + "-src";
    if (f.name == "rename_over") {
      arg = rename_src;
      second = path;
    }
    s.argv = {program, f.op, arg};
    if (!second.empty()) s.argv.push_back(second);
    s.category = "file";
    s.action = f.action;
    const std::string key = f.action == "rename" ? "file.target_path" : "file.path";
    s.identify.push_back({key, {path}});
    if (f.name == "opath_reopen") s.flags_exclude.push_back("O_PATH");
    s.require.push_back({"process.pid", {"@pid"}});
    if (f.name == "symlink_open") s.require.push_back({"ringside.file.requested_path", {arg}});
    if (f.name == "rename_over") s.require.push_back({"file.path", {rename_src}});
    s.rule_on = "file." + f.action;
    s.rule_match.emplace_back(key, yaml_quote(path));
    s.deny_errnos = {EPERM, EACCES};
    if (!f.user_miss.empty()) {
      s.miss_cause["user"] = f.user_miss;
      s.deny_cause["user"] = f.user_miss;
    }
    if (!f.kernel_no_block.empty()) s.deny_cause["kernel"] = f.kernel_no_block;
    const std::string name = f.name;
    s.prepare = [dir, path, name, rename_src]() -> std::string {
      if (name == "hardlink_open") {
        // The file is made under another name first; the marked path is its second link.
        unlink(path.c_str());
        std::string e = write_file(path + "-orig", "ringside lab\n", 0644);
        if (e.empty() && link((path + "-orig").c_str(), path.c_str()) != 0) e = "link failed";
        return e;
      }
      std::string e = write_file(path, "ringside lab\n", 0644);
      if (!e.empty()) return e;
      if (name == "symlink_open") {
        unlink((path + "-link").c_str());
        if (symlink(path.c_str(), (path + "-link").c_str()) != 0) return "symlink failed";
      }
      if (name == "rename_over") return write_file(rename_src, "replacement\n", 0644);
      return "";
    };
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ringside::lab
