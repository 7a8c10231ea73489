// Process scenarios: a marked program is executed in each way a program can start another one.
// The marker is an argument (rs-lab-<run>-<name>) and, where the image has a path, the
// executable: a copy of /bin/true at <scratch>/bin/<name>-<run>.

#include <cerrno>

#include "lab/scenario.hpp"

namespace ringside::lab {

namespace {

constexpr const char* kPreloadMissing = "LD_PRELOAD never loads";

struct ProcessSpec {
  std::string name, title, op;
  bool static_caller = false;
  bool exec_replaces = true;
  std::string pid;  // @pid | @child | "" (not known to the lab)
  bool exe_known = true;
  std::string user_miss;  // the declared reason the user level cannot see it
};

}  // namespace

std::vector<Scenario> process_scenarios(const LabEnv& env) {
  const std::vector<ProcessSpec> specs = {
      {"dynamic_exec", "execv from a dynamically linked program", "exec", false, true, "@pid", true,
       ""},
      {"static_exec", "execv from a statically linked program", "exec", true, true, "@pid", true,
       std::string("static binary: no dynamic loader, ") + kPreloadMissing},
      {"raw_syscall_exec", "execve through a raw syscall instruction", "exec-raw", false, true,
       "@pid", true, "raw syscall instruction bypasses the libc execve the interposer hooks"},
      {"vfork_exec", "vfork, then execv in the child", "exec-vfork", false, false, "@child", true,
       ""},
      {"posix_spawn", "posix_spawn of the program", "exec-spawn", false, false, "@child", true, ""},
      {"thread_exec", "execv from a thread that is not the main thread", "exec-thread", false, true,
       "@pid", true, ""},
      {"memfd_execveat", "the program copied into a memfd, run with execveat(AT_EMPTY_PATH)",
       "exec-memfd", false, true, "@pid", false, ""},
      {"fexecve", "fexecve of an open file descriptor", "exec-fexecve", false, true, "@pid", true,
       ""},
      {"shebang_script", "a #!/bin/sh script executed directly", "exec", false, true, "@pid", false,
       ""},
      {"cleared_env", "sh started with an empty environment execs the program", "exec-clearenv",
       false, true, "@pid", true,
       "cleared environment drops LD_PRELOAD: the program sh starts is not hooked"},
      {"system", "system(\"program marker\") through /bin/sh", "exec-system", false, false, "",
       true, ""},
  };
  std::vector<Scenario> out;
  for (const auto& p : specs) {
    Scenario s;
    s.id = "process." + p.name;
    s.area = "process";
    s.title = p.title;
    s.marker = "rs-lab-" + env.run_id + "-" + p.name;
    const bool script = p.name == "shebang_script";
    const std::string target =
        env.scratch + "/bin/" + p.name + "-" + env.run_id + (script ? ".sh" : "");
    const std::string program =
        env.bin_dir + (p.static_caller ? "/ringside-lab-static" : "/ringside-lab-step");
    s.argv = {program, p.op, p.name == "memfd_execveat" ? std::string("/bin/true") : target,
              s.marker};
    s.exec_replaces = p.exec_replaces;
    s.category = "process";
    s.action = "exec";
    s.args_contain = s.marker;
    if (p.exe_known) s.identify.push_back({"process.executable", {target}});
    // A spawned child is named by its parent, the step: the interposer reports posix_spawn in
    // the caller, before the child (and its pid) exists.
    if (p.pid == "@child") {
      s.require.push_back({"process.parent.pid", {"@pid"}});
    } else if (!p.pid.empty()) {
      s.require.push_back({"process.pid", {p.pid}});
    }
    s.rule_on = "process.exec";
    s.rule_match.emplace_back("process.args", yaml_quote(s.marker));
    if (p.exe_known) s.rule_match.emplace_back("process.executable", yaml_quote(target));
    s.deny_errnos = {EPERM, EACCES};
    if (!p.user_miss.empty()) {
      s.miss_cause["user"] = p.user_miss;
      s.deny_cause["user"] = p.user_miss;
    }
    s.prepare = [target, script] {
      if (script) return write_file(target, "#!/bin/sh\nexit 0\n", 0755);
      return copy_file("/bin/true", target, 0755);
    };
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ringside::lab
