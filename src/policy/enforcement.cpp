#include "policy/enforcement.hpp"

#include <algorithm>

#include "policy/immutable_rules.hpp"
#include "policy/kernel_exec_rules.hpp"
#include "policy/kernel_net_rules.hpp"

namespace ringside::policy {

bool known_before_exec(Field f) {
  switch (f) {
    case Field::kProcessExecutable:
    case Field::kProcessName:
    case Field::kProcessHashSha256:
    case Field::kProcessParentPid:
    case Field::kProcessParentExecutable:
    case Field::kProcessParentName:
    case Field::kProcessPid:
    case Field::kUserId:
    case Field::kUserEffectiveId:
    case Field::kGroupId:
    case Field::kRingsideAncestors:
    case Field::kRingsideLevel:
    case Field::kRingsideSensor:
      return true;
    default:
      return false;
  }
}

namespace {

void exec_points(const Rule& rule, std::vector<EnforcementPoint>& out) {
  const auto fields = rule.fields();
  if (rule.applies_at(Level::kKernel)) {
    const bool pre = std::all_of(fields.begin(), fields.end(), known_before_exec);
    if (pre) {
      out.push_back({Level::kKernel, "fanotify exec permission", true,
                     "execve fails with EPERM before the image runs"});
    }
    if (kernel_exec_rule_compilable(rule)) {
      out.push_back({Level::kKernel, "eBPF kill-on-exec", true,
                     "killed by SIGKILL at exec, before its first instruction"});
    }
    out.push_back({Level::kKernel, "BPF-LSM bprm_check_security", true,
                   "execve fails with EPERM (only where the kernel allows BPF-LSM)"});
    if (!pre && !kernel_exec_rule_compilable(rule)) {
      out.push_back({Level::kKernel, "agent kill after exec", false,
                     "killed by the agent once the exec is reported (the program may run "
                     "briefly)"});
    }
  }
  if (rule.applies_at(Level::kUser)) {
    out.push_back({Level::kUser, "interposer exec hooks", false,
                   "exec returns EACCES in hooked programs (static binaries and raw syscalls "
                   "bypass it)"});
  }
}

void file_points(const Rule& rule, EventType type, std::vector<EnforcementPoint>& out) {
  if (rule.applies_at(Level::kKernel)) {
    if (type == EventType::kFileOpen) {
      out.push_back({Level::kKernel, "fanotify open permission", true,
                     "open fails with EPERM before the file can be read or written"});
    } else if (immutable_enforceable(rule)) {
      out.push_back({Level::kKernel, "immutable attribute", true,
                     "the file is immutable while the rule is loaded: renaming it or over it, "
                     "unlinking, truncating, writing, chmod and linking fail with EPERM for "
                     "every process"});
    } else {
      out.push_back({Level::kKernel, "none on this kernel", false,
                     "reported only: blocking this action in the kernel needs BPF-LSM, which "
                     "this build loads only for exec"});
    }
  }
  if (rule.applies_at(Level::kUser)) {
    out.push_back({Level::kUser, "interposer file hooks", false,
                   "the call returns EACCES in hooked programs (static binaries, raw system "
                   "calls and io_uring bypass it)"});
  }
}

void network_points(const Rule& rule, EventType type, std::vector<EnforcementPoint>& out) {
  const bool redirect = rule.action == Action::kRedirect;
  if (rule.applies_at(Level::kKernel)) {
    if (type == EventType::kNetworkConnect || type == EventType::kNetworkSend ||
        type == EventType::kNetworkBind) {
      const char* hook = type == EventType::kNetworkConnect ? "cgroup/connect4/6"
                         : type == EventType::kNetworkSend  ? "cgroup/sendmsg4/6"
                                                            : "cgroup/bind4/6";
      if (kernel_net_rule_compilable(rule, type)) {
        out.push_back({Level::kKernel, std::string(hook) + " socket program", true,
                       redirect ? "the destination is rewritten in the kernel before the connect"
                                : "the call fails with EPERM, decided in the kernel"});
      } else {
        out.push_back({Level::kKernel, std::string(hook) + " socket program", false,
                       "not decided there: only equality on port, transport, address family, "
                       "user and executable, and cidr on the address, compile into it"});
      }
    }
    if (!redirect && (type == EventType::kNetworkConnect || type == EventType::kNetworkAccept ||
                      type == EventType::kNetworkDns)) {
      out.push_back({Level::kKernel, "NFQUEUE verdict", true,
                     "the connection's first packet is refused by the agent with the full policy "
                     "(rules the socket programs cannot express; settings.network.nfqueue)"});
    }
  }
  if (rule.applies_at(Level::kUser)) {
    out.push_back({Level::kUser, "interposer socket hooks", false,
                   redirect ? "connect() is pointed at the redirect address in hooked programs"
                            : "the call returns EACCES (getaddrinfo: EAI_FAIL) in hooked programs "
                              "(static binaries, raw system calls and io_uring bypass it)"});
  }
}

bool has_point(const std::vector<EnforcementPoint>& pts, const EnforcementPoint& p) {
  for (const auto& q : pts) {
    if (q.level == p.level && q.mechanism == p.mechanism) return true;
  }
  return false;
}

}  // namespace

std::vector<EnforcementPoint> enforcement_points(const Rule& rule) {
  std::vector<EnforcementPoint> all;
  if (rule.action != Action::kDeny && rule.action != Action::kRedirect) return all;
  for (EventType t : rule.on) {
    std::vector<EnforcementPoint> pts;
    if (t == EventType::kProcessExec) exec_points(rule, pts);
    const int ti = schema::event_type_index(static_cast<uint16_t>(t));
    if (ti >= 0 && schema::kEventTypes[ti].category == "file") file_points(rule, t, pts);
    if (ti >= 0 && schema::kEventTypes[ti].category == "network") network_points(rule, t, pts);
    if (t == EventType::kRingsideTamper && rule.applies_at(Level::kKernel)) {
      pts.push_back({Level::kKernel, "eBPF socket programs' cgroup links", true,
                     "a detached program is attached again (ringside.enforcement restored); "
                     "changed files are reported, not restored"});
    }
    for (auto& p : pts) {
      if (!has_point(all, p)) all.push_back(std::move(p));
    }
  }
  return all;
}

}  // namespace ringside::policy
