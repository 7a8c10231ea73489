// End to end: tamper watch. Another process changing the agent's policy, store, binary or the
// preload configuration is reported as ringside.tamper naming that process, while the agent's
// own writes to its store are not; a socket program detached from its cgroup with
// `bpftool link detach` is reported, and attached again when a deny rule on ringside.tamper
// says so.

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "e2e_util.hpp"
#include "scratch_cgroup.hpp"

namespace ringside::e2e {
namespace {

bool is_tamper(const json& ev, const std::string& target, const std::string& change) {
  return str_field(ev, "event.action") == "tamper" &&
         str_field(ev, "ringside.tamper.target") == target &&
         str_field(ev, "ringside.tamper.change") == change;
}

std::string canonical(const std::string& path) {
  return std::filesystem::weakly_canonical(path).string();
}

class Tamper : public ::testing::Test {
 protected:
  void SetUp() override { RINGSIDE_REQUIRE_ROOT(); }
  void start(const std::string& policy, const std::string& domains = "process") {
    AgentProcess::Options o;
    o.policy_yaml = policy;
    o.levels = "kernel";
    o.domains = domains;
    o.extra_args = {"--db", store_.file("events.db")};
    std::string err;
    agent_ = AgentProcess::start(o, &err);
    ASSERT_NE(agent_, nullptr) << err;
  }
  std::vector<json> tampers() const {
    std::vector<json> out;
    for (const auto& e : agent_->events()) {
      if (str_field(e, "event.action") == "tamper") out.push_back(e);
    }
    return out;
  }

  ScratchDir store_{"tamper"};
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(Tamper, ChangesByAnotherProcessAreReportedWithTheProcess) {
  start("rules: []\n");
  // The policy: appended to by a shell (a reload follows, which is fine).
  const auto w = run({"sh", "-c", "echo '# edited' >> \"$0\"", agent_->policy_path()});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  auto ev = agent_->wait_for([](const json& e) { return is_tamper(e, "policy", "modify"); });
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "file.path"), canonical(agent_->policy_path()));
  EXPECT_EQ(int_field(*ev, "process.pid"), w.pid) << ev->dump();
  EXPECT_EQ(str_field(*ev, "ringside.level"), "kernel");
  EXPECT_EQ(str_field(*ev, "ringside.sensor"), "fanotify");
  EXPECT_EQ(str_field(*ev, "event.category"), "ringside");
  EXPECT_NE(str_field(*ev, "ringside.message").find(std::to_string(w.pid)), std::string::npos);

  // The store: its times changed by touch.
  const auto t = run({"touch", store_.file("events.db")});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  ev = agent_->wait_for([](const json& e) { return is_tamper(e, "store", "attributes"); });
  ASSERT_TRUE(ev) << agent_->log();
  // (Executable and name come from enrichment, which a process that already ended may miss.)
  EXPECT_EQ(int_field(*ev, "process.pid"), t.pid);

  // The binary: its times changed (a harmless stand-in for replacing it).
  const auto b = run({"touch", "-c", build_dir() + "/ringside"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  ev = agent_->wait_for([](const json& e) { return is_tamper(e, "agent_binary", "attributes"); });
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "file.path"), canonical(build_dir() + "/ringside"));
  EXPECT_EQ(int_field(*ev, "process.pid"), b.pid);

  // A file next to the watched ones is not reported.
  ASSERT_EQ(run({"touch", store_.file("unrelated")}).exit_code, 0);
  std::this_thread::sleep_for(500ms);
  for (const auto& e : tampers()) {
    EXPECT_NE(str_field(e, "file.path"), canonical(store_.file("unrelated"))) << e.dump();
    // The agent writes its store all along: never reported.
    EXPECT_NE(int_field(e, "process.pid"), agent_->pid()) << e.dump();
  }
}

TEST_F(Tamper, PreloadConfigurationChangeIsReported) {
  start("rules: []\n");
  // Harmless either way: new times on an existing file, or an empty file created and removed.
  const bool existed = access("/etc/ld.so.preload", F_OK) == 0;
  const auto r = existed ? run({"touch", "-c", "/etc/ld.so.preload"})
                         : run({"sh", "-c", ": > /etc/ld.so.preload && rm /etc/ld.so.preload"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ev = agent_->wait_for([&](const json& e) {
    return is_tamper(e, "preload_config", existed ? "attributes" : "create");
  });
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "file.path"), "/etc/ld.so.preload");
  EXPECT_EQ(int_field(*ev, "process.pid"), r.pid);
  if (!existed) {
    EXPECT_TRUE(agent_->wait_for([](const json& e) {
      return is_tamper(e, "preload_config", "delete");
    })) << agent_->log();
  }
}

TEST_F(Tamper, OffWhenThePolicySaysSo) {
  start("settings: {tamper: {watch: false}}\nrules: []\n");
  ASSERT_EQ(run({"touch", store_.file("events.db")}).exit_code, 0);
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(tampers().empty()) << tampers().front().dump();
}

TEST_F(Tamper, HookedProcessStrippingTheInterposerIsReported) {
  AgentProcess::Options o;
  o.levels = "kernel,user";
  o.domains = "process";
  std::string err;
  agent_ = AgentProcess::start(o, &err);
  ASSERT_NE(agent_, nullptr) << err;
  // A hooked shell starts env, which starts a shell without LD_PRELOAD; a second one keeps it.
  // (The agent reads the new program's environment when it sees the exec: a program that ends
  // within a few milliseconds is gone by then, docs/policy.md.)
  const auto r = run({"sh", "-c",
                      "env -u LD_PRELOAD sh -c 'sleep 0.3' ringside-stripped; "
                      "sh -c 'sleep 0.3' ringside-kept"},
                     agent_->hook_env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ev = agent_->wait_for([](const json& e) { return is_tamper(e, "preload_env", "stripped"); });
  ASSERT_TRUE(ev) << [this] {
    std::string s;
    for (const auto& e : agent_->events()) {
      if (str_field(e, "event.action") == "exec") s += e.dump() + "\n";
    }
    return s;
  }();
  // The unhooked program is the exec that carries the marker: same process, same executable.
  const auto exec = agent_->wait_for([](const json& e) {
    const json* args = field(e, "process.args");
    return str_field(e, "event.action") == "exec" && str_field(e, "ringside.level") == "kernel" &&
           args != nullptr && args->size() == 4 && (*args)[3] == "ringside-stripped";
  });
  ASSERT_TRUE(exec);
  EXPECT_EQ(int_field(*ev, "process.pid"), int_field(*exec, "process.pid"));
  EXPECT_EQ(str_field(*ev, "file.path"), str_field(*exec, "process.executable"));
  EXPECT_EQ(str_field(*ev, "ringside.sensor"), "ebpf");
  // Reported once: the kept one is not a tamper.
  std::this_thread::sleep_for(500ms);
  size_t n = 0;
  for (const auto& e : tampers()) n += is_tamper(e, "preload_env", "stripped") ? 1 : 0;
  EXPECT_EQ(n, 1u);
}

// The ids of the bpf links that attach `prog` to the cgroup with inode `cgroup_id`.
std::vector<std::string> cgroup_link_ids(const std::string& prog, uint64_t cgroup_id) {
  const auto r = run({"bpftool", "-j", "link", "show"});
  std::vector<std::string> ids;
  if (r.exit_code != 0) return ids;
  const json links = json::parse(r.out, nullptr, false);
  if (!links.is_array()) return ids;
  const auto progs = run({"bpftool", "-j", "prog", "show"});
  const json all = json::parse(progs.out, nullptr, false);
  for (const auto& l : links) {
    if (l.value("type", "") != "cgroup" || l.value("cgroup_id", uint64_t{0}) != cgroup_id) continue;
    for (const auto& p : all) {
      if (p.value("id", -1) == l.value("prog_id", -2) && p.value("name", "") == prog) {
        ids.push_back(std::to_string(l.value("id", 0)));
      }
    }
  }
  return ids;
}

class TamperBpf : public Tamper {
 protected:
  void SetUp() override {
    Tamper::SetUp();
    if (IsSkipped()) return;
    if (run({"bpftool", "version"}).exit_code != 0) GTEST_SKIP() << "bpftool is not installed";
    ASSERT_FALSE(cg_.path().empty()) << "cannot create a child cgroup";
    struct stat st {};
    ASSERT_EQ(stat(cg_.path().c_str(), &st), 0);
    cgroup_id_ = st.st_ino;
  }
  std::string policy(bool restore) const {
    std::string p =
        "settings: {network: {nfqueue: off, dns: false, cgroup: " + cg_.path() + "}}\nrules:\n";
    p += restore ? "  - {name: keep-programs, on: ringside.tamper, action: deny}\n"
                 : "  - {name: watch-programs, on: ringside.tamper, action: alert}\n";
    return p;
  }
  void TearDown() override {
    if (agent_) agent_->stop();
  }

  ScratchCgroup cg_{"tamper"};
  uint64_t cgroup_id_ = 0;
};

TEST_F(TamperBpf, DetachedSocketProgramIsReportedOnce) {
  start(policy(false), "network");
  const auto ids = cgroup_link_ids("rs_connect4", cgroup_id_);
  ASSERT_EQ(ids.size(), 1u) << "the agent's connect4 link on the scratch cgroup";
  ASSERT_EQ(run({"bpftool", "link", "detach", "id", ids[0]}).exit_code, 0);
  auto ev = agent_->wait_for([](const json& e) { return is_tamper(e, "bpf_program", "detach"); });
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.sensor"), "ebpf");
  EXPECT_EQ(str_field(*ev, "file.path"), cg_.path());
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "alert");
  EXPECT_EQ(str_field(*ev, "ringside.rule"), "watch-programs");
  EXPECT_NE(str_field(*ev, "ringside.message").find("rs_connect4"), std::string::npos);
  EXPECT_EQ(field(*ev, "ringside.enforcement"), nullptr);
  // Not attached again, and reported once.
  std::this_thread::sleep_for(2500ms);
  EXPECT_TRUE(cgroup_link_ids("rs_connect4", cgroup_id_).empty());
  size_t n = 0;
  for (const auto& e : tampers()) n += is_tamper(e, "bpf_program", "detach") ? 1 : 0;
  EXPECT_EQ(n, 1u);
}

TEST_F(TamperBpf, DenyRuleAttachesTheProgramsAgain) {
  start(policy(true), "network");
  const auto ids = cgroup_link_ids("rs_connect4", cgroup_id_);
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_EQ(run({"bpftool", "link", "detach", "id", ids[0]}).exit_code, 0);
  auto ev = agent_->wait_for([](const json& e) { return is_tamper(e, "bpf_program", "detach"); });
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "deny");
  EXPECT_EQ(str_field(*ev, "ringside.rule"), "keep-programs");
  EXPECT_EQ(str_field(*ev, "ringside.enforcement"), "restored");
  const auto now = cgroup_link_ids("rs_connect4", cgroup_id_);
  ASSERT_EQ(now.size(), 1u) << "attached again";
  EXPECT_NE(now[0], ids[0]) << "a new link";
}

}  // namespace
}  // namespace ringside::e2e
