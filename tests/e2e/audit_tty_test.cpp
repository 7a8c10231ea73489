// Kernel TTY audit against the real kernel: a bash session on a pty, run under
// `ringside tty-session`, is typed into; the agent's audit_tty sensor must report each line
// with the terminal and the reading process, and never the text typed with echo off.

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "e2e_util.hpp"
#include "pty_session.hpp"
#include "sensors/kernel/audit_netlink.hpp"

namespace ringside::e2e {
namespace {

// Parent pid of a live process, -1 when it is gone.
int parent_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(s.substr(close + 2));
  std::string state;
  int ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

struct AuditTty : ::testing::Test {
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (audit netlink)";
    auto a = AuditNetlink::open();
    if (!a) GTEST_SKIP() << "kernel audit unavailable: " << a.error().message;
    auto st = a->get_status();
    if (!st) GTEST_SKIP() << "kernel audit unavailable: AUDIT_GET: " << st.error().message;
    audit_was_enabled = st->enabled;
  }
  void start_agent(const std::string& policy) {
    AgentProcess::Options o;
    o.levels = "kernel";
    o.domains = "keyboard";
    o.policy_yaml = policy;
    std::string error;
    agent = AgentProcess::start(o, &error);
    ASSERT_NE(agent, nullptr) << error;
  }
  std::unique_ptr<PtySession> session(const std::vector<std::string>& extra) {
    std::vector<std::string> argv{build_dir() + "/ringside", "tty-session"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    for (const char* a : {"--", "bash", "--norc", "--noprofile", "-i"}) argv.emplace_back(a);
    return std::make_unique<PtySession>(argv, std::vector<std::string>{"TERM=dumb", "PS1=$ "});
  }
  // Every tty_input event's text, joined.
  std::string all_text() const {
    std::string all;
    for (const auto& e : agent->events()) {
      if (str_field(e, "event.action") == "tty_input") all += str_field(e, "key.text") + "\n";
    }
    return all;
  }

  uint32_t audit_was_enabled = 0;
  std::unique_ptr<AgentProcess> agent;
};

TEST_F(AuditTty, LineTypedInASessionIsReportedWithItsProcess) {
  start_agent("rules: []\n");
  auto s = session({});
  ASSERT_GT(s->pid(), 0);
  std::this_thread::sleep_for(500ms);
  s->type("echo marker-123\n");
  // bash reads its command line in raw mode (readline): the kernel writes that buffer when the
  // terminal goes back to line mode (`read`) or the process ends.
  s->type("read line\n");
  s->type("second-line-456\n");
  auto ev = agent->wait_for([](const json& e) {
    return str_field(e, "event.action") == "tty_input" &&
           str_field(e, "key.text").find("marker-123") != std::string::npos;
  });
  ASSERT_TRUE(ev) << agent->log() << "\nsession output:\n" << s->output();
  EXPECT_EQ(str_field(*ev, "event.category"), "keyboard");
  EXPECT_EQ(str_field(*ev, "ringside.level"), "kernel");
  EXPECT_EQ(str_field(*ev, "ringside.sensor"), "audit_tty");
  EXPECT_EQ(str_field(*ev, "tty.name").rfind("pts/", 0), 0u) << ev->dump();
  EXPECT_EQ(str_field(*ev, "process.name"), "bash");
  EXPECT_EQ(int_field(*ev, "user.id"), 0);
  const int bash = static_cast<int>(int_field(*ev, "process.pid"));
  EXPECT_EQ(parent_of(bash), s->pid()) << "the reading process is the session's shell";
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "allow");

  // The line `read` took in line mode is its own record.
  auto line = agent->wait_for([&](const json& e) {
    return str_field(e, "event.action") == "tty_input" &&
           str_field(e, "key.text") == "second-line-456\n";
  });
  ASSERT_TRUE(line) << all_text();
  EXPECT_EQ(int_field(*line, "process.pid"), bash);
  EXPECT_EQ(str_field(*line, "tty.name"), str_field(*ev, "tty.name"));
  s->type("exit\n");
  EXPECT_EQ(s->wait(5s), 0);
}

TEST_F(AuditTty, EchoOffInputIsNotLoggedByDefault) {
  start_agent("rules: []\n");
  auto s = session({});
  ASSERT_GT(s->pid(), 0);
  std::this_thread::sleep_for(500ms);
  s->type("stty -echo; read x; stty echo; read y\n");
  s->type("hunter2-secret\n");
  s->type("after-secret-789\n");
  auto after = agent->wait_for(
      [](const json& e) { return str_field(e, "key.text") == "after-secret-789\n"; });
  ASSERT_TRUE(after) << all_text() << agent->log();
  s->type("exit\n");
  s->wait(5s);
  EXPECT_EQ(all_text().find("hunter2"), std::string::npos) << all_text();
}

TEST_F(AuditTty, EchoOffLineArrivingIsRedactedByTheAgent) {
  // The kernel is asked to log echo-off input (--log-passwd); the policy still redacts it.
  start_agent("settings:\n  keyboard:\n    redact_echo_off: true\nrules: []\n");
  auto s = session({"--log-passwd"});
  ASSERT_GT(s->pid(), 0);
  std::this_thread::sleep_for(500ms);
  s->type("stty -echo; read x; sleep 2; stty echo; read y\n");
  s->type("pw-secret-B\n");
  auto redacted = agent->wait_for([](const json& e) {
    return str_field(e, "event.action") == "tty_input" &&
           str_field(e, "ringside.key.redacted") == "echo_off";
  });
  ASSERT_TRUE(redacted) << all_text() << agent->log();
  EXPECT_EQ(field(*redacted, "key.text"), nullptr) << redacted->dump();
  EXPECT_EQ(str_field(*redacted, "process.name"), "bash");
  std::this_thread::sleep_for(2s);
  s->type("visible-after\n");
  ASSERT_TRUE(agent->wait_for([](const json& e) {
    return str_field(e, "key.text") == "visible-after\n";
  })) << all_text();
  s->type("exit\n");
  s->wait(5s);
  EXPECT_EQ(all_text().find("pw-secret-B"), std::string::npos) << all_text();
}

TEST_F(AuditTty, MetadataModeCarriesNoText) {
  start_agent("settings:\n  keyboard:\n    record: metadata\nrules: []\n");
  auto s = session({});
  ASSERT_GT(s->pid(), 0);
  std::this_thread::sleep_for(500ms);
  s->type("read x\n");
  s->type("meta-line\n");
  auto ev = agent->wait_for([](const json& e) {
    return str_field(e, "event.action") == "tty_input" && int_field(e, "ringside.key.count") == 10;
  });
  ASSERT_TRUE(ev) << agent->log();
  EXPECT_EQ(str_field(*ev, "ringside.key.redacted"), "metadata");
  EXPECT_EQ(field(*ev, "key.text"), nullptr);
  s->type("exit\n");
  s->wait(5s);
  EXPECT_EQ(all_text().find("meta-line"), std::string::npos);
}

TEST_F(AuditTty, AgentRestoresTheAuditState) {
  start_agent("rules: []\n");
  auto during = AuditNetlink::open();
  ASSERT_TRUE(during);
  auto st = during->get_status();
  ASSERT_TRUE(st);
  EXPECT_NE(st->enabled, 0u) << "the sensor switches audit on while it runs";
  ASSERT_EQ(agent->stop(), 0);
  auto after = during->get_status();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->enabled, audit_was_enabled);
}

}  // namespace
}  // namespace ringside::e2e
