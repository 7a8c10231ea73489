// What every event goes through on its sensor's thread before it is emitted: enrichment from
// the process table and the hash cache, then the policy's decision.
#include "agent/agent.hpp"
#include "core/clock.hpp"

namespace ringside {

namespace {

constexpr size_t kAncestryDepth = 8;

// A process start time (wall clock, ns) in clock ticks since boot, as the process table keys
// processes; the inverse of the conversion the sensors made, with the same boot epoch.
int64_t start_ticks_of(int64_t start_ns) {
  return clock::boot_ns_to_ticks(clock::start_to_boot(start_ns));
}

std::string_view base_name(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

void Agent::enrich(Event& ev) {
  const auto pid = ev.get_int(Field::kProcessPid);
  // A hooked process that execs in place names its parent, for when it is gone before its
  // report is read; the process table (the kernel level's view) replaces that claim.
  const bool claimed_parent = ev.level() == Level::kUser && ev.has(Field::kProcessParentPid);
  const bool missing = !ev.has(Field::kProcessExecutable) || !ev.has(Field::kProcessParentPid) ||
                       !ev.has(Field::kUserId);
  if (pid && (missing || claimed_parent)) {
    // With the process's start time (kernel records have it) only that incarnation of the pid
    // is used: a stale entry for a reused pid never names the wrong executable.
    const auto start_ns = ev.get_int(Field::kProcessStart);
    const std::optional<int64_t> ticks =
        start_ns ? std::optional<int64_t>(start_ticks_of(*start_ns)) : std::nullopt;
    auto fill = [&ev, claimed_parent](std::string_view exe, int32_t ppid, uint32_t uid) {
      if (!ev.has(Field::kProcessExecutable) && !exe.empty())
        ev.set(Field::kProcessExecutable, exe);
      if ((claimed_parent || !ev.has(Field::kProcessParentPid)) && ppid > 0) {
        ev.set(Field::kProcessParentPid, static_cast<int64_t>(ppid));
      }
      if (!ev.has(Field::kUserId)) ev.set(Field::kUserId, static_cast<int64_t>(uid));
    };
    // From the table without a copy; from /proc (remembered) when the table has no answer and
    // something is missing (a claimed parent alone is not worth a read of /proc).
    if (!processes_.visit(static_cast<int32_t>(*pid), ticks,
                          [&](const ProcessInfo& p) { fill(p.executable, p.ppid, p.uid); }) &&
        missing) {
      const auto p = ticks ? processes_.brief_or_read(static_cast<int32_t>(*pid), *ticks)
                           : processes_.brief_or_read(static_cast<int32_t>(*pid));
      if (p) fill(p->executable, p->ppid, p->uid);
    }
  }
  if (!ev.has(Field::kProcessName)) {
    if (auto exe = ev.get_str(Field::kProcessExecutable); exe && !exe->empty()) {
      ev.set(Field::kProcessName, base_name(*exe));
    }
  }
  const bool is_exec = ev.type() == EventType::kProcessExec;
  if (!is_exec && ev.type() != EventType::kProcessFork) return;
  const auto ppid = ev.get_int(Field::kProcessParentPid);
  if (ppid && !ev.has(Field::kProcessParentExecutable)) {
    auto set_parent = [&ev](std::string_view exe) {
      if (!exe.empty()) ev.set(Field::kProcessParentExecutable, exe);
    };
    if (!processes_.visit(static_cast<int32_t>(*ppid), std::nullopt,
                          [&](const ProcessInfo& p) { set_parent(p.executable); })) {
      if (auto parent = processes_.brief_or_read(static_cast<int32_t>(*ppid))) {
        set_parent(parent->executable);
      }
    }
  }
  if (!is_exec) return;
  if (!ev.has(Field::kProcessParentName)) {
    if (auto pexe = ev.get_str(Field::kProcessParentExecutable)) {
      ev.set(Field::kProcessParentName, base_name(*pexe));
    }
  }
  if (!ev.has(Field::kRingsideAncestors) && (pid || ppid)) {
    ev.set(Field::kRingsideAncestors, {});
    auto add = [&ev](std::string_view exe) { ev.append(Field::kRingsideAncestors, exe); };
    // A spawn reported before the child exists, or a process already gone that named its
    // parent: the ancestry starts at the parent.
    if (!(pid && processes_.for_each_ancestor(static_cast<int32_t>(*pid), kAncestryDepth, add)) &&
        ppid) {
      if (auto pexe = ev.get_str(Field::kProcessParentExecutable)) add(std::string(*pexe));
      processes_.for_each_ancestor(static_cast<int32_t>(*ppid), kAncestryDepth - 1, add);
    }
  }
  if (!ev.has(Field::kProcessHashSha256)) {
    if (auto exe = ev.get_str(Field::kProcessExecutable); exe && !exe->empty()) {
      if (auto h = hashes_.sha256_of_path(*exe)) ev.set(Field::kProcessHashSha256, *h);
    }
  }
}

policy::Decision Agent::decide(Event& ev) {
  // The canary's helper is never blocked and never waits (docs/policy.md, canary).
  if (canary_) {
    if (auto pid = ev.get_int(Field::kProcessPid); pid && canary_->is_helper(*pid)) {
      ev.set_verdict(Verdict::kAllow, "");
      return {};
    }
  }
  const int64_t t0 = metrics_ ? clock::monotonic_ns() : 0;
  enrich(ev);
  const policy::Decision d = policy_for_this_thread().evaluate(ev, ev.level(), env_);
  ev.set_verdict(d.verdict, d.rule != nullptr ? std::string_view(d.rule->name) : "");
  if (metrics_) {
    metrics_->record_decision(ev.level(), d.verdict,
                              d.rule != nullptr ? std::string_view(d.rule->name) : "",
                              clock::monotonic_ns() - t0);
  }
  return d;
}

}  // namespace ringside
