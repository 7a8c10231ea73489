// The lab's peers on the real host (slow: installs missing packages, starts auditd, fatrace and
// fapolicyd): each runnable peer sees the dynamic exec; fapolicyd blocks the exec its rule
// names; a peer that cannot run says why; and the host is left as it was found — no audit
// rule, /etc/ld.so.preload and /etc/snoopy.ini unchanged, no peer process, no iptables rule in
// the root namespace.

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>

#include "e2e_util.hpp"
#include "lab/peer_setup.hpp"
#include "lab/peers.hpp"

namespace ringside::e2e {
namespace {

class PeerSpace {
 public:
  PeerSpace() {
    char tmpl[] = "/tmp/ringside-peers-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/scratch");
    std::filesystem::create_directories(dir_ + "/work");
    mounted_ = mount("tmpfs", (dir_ + "/scratch").c_str(), "tmpfs", 0, "size=64m") == 0;
  }
  ~PeerSpace() {
    if (mounted_) umount2((dir_ + "/scratch").c_str(), MNT_DETACH);
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  bool ok() const { return mounted_; }
  lab::PeerEnv env() const { return {dir_ + "/work", dir_ + "/scratch"}; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

const lab::PeerStepResult* step(const lab::PeerResult& p, const std::string& id) {
  for (const auto& s : p.steps) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

TEST(LabPeersSlow, EachRunnablePeerSeesTheExecAndTheHostIsRestored) {
  RINGSIDE_REQUIRE_ROOT();
  PeerSpace space;
  ASSERT_TRUE(space.ok());
  const lab::HostState before = lab::snapshot_host();
  auto installed = lab::install_peer_packages(lab::peer_packages(), [](const std::string&) {});
  if (!installed)
    GTEST_SKIP() << "peer packages could not be installed: " << installed.error().message;
  EXPECT_TRUE(lab::missing_packages(lab::peer_packages()).empty());
  const auto results = lab::run_peers(space.env(), "e2e",
                                      lab::default_peer_steps(space.env().scratch, "e2e"), nullptr);
  ASSERT_EQ(results.size(), 5U);
  int runnable = 0;
  for (const auto& p : results) {
    SCOPED_TRACE(p.name);
    if (!p.available) {
      EXPECT_FALSE(p.reason.empty());
      continue;
    }
    ++runnable;
    const auto* exec = step(p, "process.dynamic_exec");
    ASSERT_NE(exec, nullptr);
    EXPECT_TRUE(exec->ran) << exec->detail;
    EXPECT_TRUE(exec->saw);
    EXPECT_FALSE(exec->blocked);
    if (p.name == "auditd" || p.name == "fatrace") {
      const auto* file = step(p, "file.create");
      ASSERT_NE(file, nullptr);
      EXPECT_TRUE(file->saw);  // a -w watch / a mount mark on the scratch mount
    }
    if (p.name == "snoopy") {
      const auto* file = step(p, "file.create");
      ASSERT_NE(file, nullptr);
      EXPECT_FALSE(file->saw);  // it logs execs only, and the path is not on a command line
    }
    if (p.name == "fapolicyd") {
      const auto* denied = step(p, "process.dynamic_exec.denied");
      ASSERT_NE(denied, nullptr);
      EXPECT_FALSE(denied->ran);
      EXPECT_TRUE(denied->blocked) << denied->detail;
      EXPECT_NE(denied->detail.find("not permitted"), std::string::npos) << denied->detail;
    }
  }
  // On this host auditd, snoopy, fatrace and fapolicyd run (the packages were installed above).
  EXPECT_GE(runnable, 4);
  // opensnitch is listed with its reason, which is true of its package: the daemon carries the
  // NFQUEUE rules it installs.
  EXPECT_EQ(results.back().name, "opensnitch");
  EXPECT_FALSE(results.back().available);
  EXPECT_NE(results.back().reason.find("NFQUEUE"), std::string::npos);
  EXPECT_NE(lab::read_all("/usr/bin/opensnitchd").find("ctstate NEW,RELATED.*NFQUEUE"),
            std::string::npos);
  const lab::HostState after = lab::snapshot_host();
  std::string diffs;
  for (const auto& d : lab::host_differences(before, after)) diffs += d + "\n";
  EXPECT_EQ(diffs, "");
  EXPECT_EQ(after.audit_rules.find("ringside-lab"), std::string::npos) << after.audit_rules;
  EXPECT_EQ(after.iptables, before.iptables);
}

}  // namespace
}  // namespace ringside::e2e
