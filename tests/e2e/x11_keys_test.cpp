// The X11 keyboard sensor against a real X server: an Xvfb the test starts (its own display,
// stopped by pid), a small client window that takes the focus and records what it receives,
// and xdotool typing into it. The user-level events must reassemble the typed text, follow
// Shift and a layout switch, name the focused window's process, and a blocked combination
// must not reach the client and be reported as a deny.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

bool on_path(const std::string& prog) {
  return run({"sh", "-c", "command -v " + prog}).exit_code == 0;
}

// Starts argv with extra environment; stdout/stderr to /dev/null.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_RDWR);
    dup2(null, 1);
    dup2(null, 2);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

void stop_pid(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(20ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Xvfb on a display number nobody uses, stopped by pid when the object dies.
class Xvfb {
 public:
  Xvfb() {
    for (int n = 90 + getpid() % 50; n < 190; ++n) {
      const std::string sock = "/tmp/.X11-unix/X" + std::to_string(n);
      const std::string lock = "/tmp/.X" + std::to_string(n) + "-lock";
      struct stat st {};
      if (stat(sock.c_str(), &st) == 0 || stat(lock.c_str(), &st) == 0) continue;
      display_ = ":" + std::to_string(n);
      pid_ = spawn({"Xvfb", display_, "-screen", "0", "640x480x24", "-nolisten", "tcp"}, {});
      for (int i = 0; i < 200; ++i) {
        if (stat(sock.c_str(), &st) == 0) return;
        std::this_thread::sleep_for(25ms);
      }
      stop_pid(pid_);
      pid_ = 0;
      return;
    }
  }
  ~Xvfb() { stop_pid(pid_); }
  bool ok() const { return pid_ > 0; }
  const std::string& display() const { return display_; }
  std::vector<std::string> env() const { return {"DISPLAY=" + display_}; }

 private:
  pid_t pid_ = 0;
  std::string display_;
};

struct X11Keys : ::testing::Test {
  void SetUp() override {
    if (!on_path("Xvfb") || !on_path("xdotool") || !on_path("setxkbmap")) {
      GTEST_SKIP() << "needs Xvfb, xdotool and setxkbmap (scripts/setup installs them)";
    }
    xvfb = std::make_unique<Xvfb>();
    ASSERT_TRUE(xvfb->ok()) << "Xvfb did not start";
  }
  void TearDown() override {
    if (agent) agent->stop();
    stop_pid(client);
  }
  void start(const std::string& keyboard_settings) {
    AgentProcess::Options o;
    o.levels = "user";
    o.domains = "keyboard";
    o.policy_yaml = "settings:\n  keyboard:\n    display: \"" + xvfb->display() + "\"\n" +
                    keyboard_settings + "rules: []\n";
    std::string error;
    agent = AgentProcess::start(o, &error);
    ASSERT_NE(agent, nullptr) << error;
    bool live = false;
    for (const auto& s : agent->ready()["sensors"]) {
      live = live || (s["name"] == "keyboard_x11" && s["state"] == "live");
    }
    ASSERT_TRUE(live) << agent->ready().dump(2);
    client = spawn({build_dir() + "/ringside-lab-x11-client", received.file("keys"), title},
                   xvfb->env());
    for (int i = 0; i < 200 && read_file(received.file("keys")).find("ready") == std::string::npos;
         ++i) {
      std::this_thread::sleep_for(25ms);
    }
    ASSERT_NE(read_file(received.file("keys")).find("ready"), std::string::npos)
        << "the client window did not get the focus";
  }
  RunResult xdotool(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"xdotool"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, xvfb->env());
  }
  // x11 key_down events so far, in order.
  std::vector<json> presses() const {
    std::vector<json> out;
    for (const auto& e : agent->events()) {
      if (str_field(e, "ringside.sensor") == "x11" && str_field(e, "event.action") == "key_down") {
        out.push_back(e);
      }
    }
    std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
      return int_field(a, "event.sequence") < int_field(b, "event.sequence");
    });
    return out;
  }
  std::string typed_text() const {
    std::string s;
    for (const auto& e : presses()) s += str_field(e, "key.text");
    return s;
  }
  bool wait_text(const std::string& want) const {
    for (int i = 0; i < 200; ++i) {
      if (typed_text() == want) return true;
      std::this_thread::sleep_for(25ms);
    }
    return false;
  }
  // What the client received: the text of every key press it got.
  std::string client_text() const {
    std::istringstream in(read_file(received.file("keys")));
    std::string line, out;
    while (std::getline(in, line)) {
      const size_t sp = line.find(' ');
      if (sp == std::string::npos) continue;
      const std::string hex = line.substr(sp + 1);
      for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
      }
    }
    return out;
  }

  std::unique_ptr<Xvfb> xvfb;
  std::unique_ptr<AgentProcess> agent;
  ScratchDir received{"x11keys"};
  std::string title = "ringside-key-client";
  pid_t client = 0;
};

TEST_F(X11Keys, TypedTextReassemblesWithShiftAndTheFocusedProcess) {
  start("");
  ASSERT_EQ(xdotool({"type", "--delay", "20", "Hello, World! 123"}).exit_code, 0);
  EXPECT_TRUE(wait_text("Hello, World! 123")) << typed_text() << "\n" << agent->log();
  EXPECT_EQ(client_text(), "Hello, World! 123") << "the client got every key";
  const auto p = presses();
  ASSERT_FALSE(p.empty());
  for (const auto& e : p) {
    EXPECT_EQ(str_field(e, "event.category"), "keyboard");
    EXPECT_EQ(str_field(e, "ringside.level"), "user");
    EXPECT_EQ(int_field(e, "process.pid"), client) << e.dump();
    EXPECT_EQ(str_field(e, "ringside.window.title"), title);
    EXPECT_EQ(str_field(e, "process.name"), "ringside-lab-x11-client");
    EXPECT_EQ(str_field(e, "ringside.verdict"), "allow");
  }
  // "H" is Shift + h: the Shift press comes first, then key code 35 (KEY_H) named "H".
  EXPECT_EQ(str_field(p[0], "key.name"), "Shift_L");
  EXPECT_EQ(int_field(p[0], "key.code"), 42);  // KEY_LEFTSHIFT
  EXPECT_EQ(field(p[0], "key.text"), nullptr);
  EXPECT_EQ(str_field(p[1], "key.name"), "H");
  EXPECT_EQ(int_field(p[1], "key.code"), 35);  // KEY_H
  EXPECT_EQ(str_field(p[1], "key.text"), "H");
  EXPECT_EQ(str_field(p[2], "key.text"), "e");
  // Every press has its release. The last release can trail the last press, so wait for it.
  const auto releases = [this] {
    size_t n = 0;
    for (const auto& e : agent->events()) {
      if (str_field(e, "event.action") == "key_up") ++n;
    }
    return n;
  };
  for (int i = 0; i < 200 && releases() < p.size(); ++i) std::this_thread::sleep_for(25ms);
  EXPECT_EQ(releases(), p.size());
}

TEST_F(X11Keys, LayoutSwitchIsFollowed) {
  start("");
  // Key codes 52 and 29 are KEY_Z and KEY_Y: "zy" in a US layout, "yz" in a German one.
  ASSERT_EQ(xdotool({"key", "52", "29"}).exit_code, 0);
  ASSERT_TRUE(wait_text("zy")) << typed_text();
  ASSERT_EQ(run({"setxkbmap", "de"}, xvfb->env()).exit_code, 0);
  std::this_thread::sleep_for(500ms);
  ASSERT_EQ(xdotool({"key", "52", "29"}).exit_code, 0);
  EXPECT_TRUE(wait_text("zyyz")) << typed_text() << "\n" << agent->log();
  EXPECT_EQ(client_text(), "zyyz");
  ASSERT_EQ(xdotool({"key", "shift+52"}).exit_code, 0);
  EXPECT_TRUE(wait_text("zyyzY")) << typed_text();
}

TEST_F(X11Keys, BlockedCombinationDoesNotReachTheClientAndIsDenied) {
  start("    block: [ctrl+alt+t]\n");
  ASSERT_EQ(xdotool({"type", "ab"}).exit_code, 0);
  ASSERT_EQ(xdotool({"key", "ctrl+alt+t"}).exit_code, 0);
  ASSERT_EQ(xdotool({"type", "c"}).exit_code, 0);
  auto denied = agent->wait_for([](const json& e) {
    return str_field(e, "event.action") == "key_down" && str_field(e, "ringside.verdict") == "deny";
  });
  ASSERT_TRUE(denied) << agent->log();
  EXPECT_EQ(str_field(*denied, "ringside.rule"), "keyboard.block:ctrl+alt+t");
  EXPECT_EQ(str_field(*denied, "ringside.enforcement"), "blocked");
  EXPECT_EQ(str_field(*denied, "key.name"), "t");
  EXPECT_EQ(int_field(*denied, "key.code"), 20);  // KEY_T
  ASSERT_TRUE(wait_text("abc")) << typed_text();  // ctrl+alt+t produces no text
  // The client got a, b, c and the modifiers, never the t.
  const std::string got = read_file(received.file("keys"));
  EXPECT_NE(got.find("\nc 63"), std::string::npos) << got;
  EXPECT_EQ(got.find("\nt "), std::string::npos) << got;
  EXPECT_NE(got.find("Control_L"), std::string::npos) << got;
  // Only the combination is blocked: t alone goes through.
  ASSERT_EQ(xdotool({"type", "t"}).exit_code, 0);
  std::this_thread::sleep_for(300ms);
  EXPECT_NE(read_file(received.file("keys")).find("\nt 74"), std::string::npos);
}

TEST_F(X11Keys, MetadataModeHasNoKeys) {
  start("    record: metadata\n");
  ASSERT_EQ(xdotool({"type", "--delay", "30", "secret"}).exit_code, 0);
  std::vector<json> p;
  for (int i = 0; i < 200 && (p = presses()).size() < 6; ++i) std::this_thread::sleep_for(25ms);
  ASSERT_EQ(p.size(), 6u);
  for (size_t i = 0; i < p.size(); ++i) {
    EXPECT_EQ(field(p[i], "key.text"), nullptr);
    EXPECT_EQ(field(p[i], "key.name"), nullptr);
    EXPECT_EQ(field(p[i], "key.code"), nullptr);
    EXPECT_EQ(str_field(p[i], "ringside.key.redacted"), "metadata");
    EXPECT_EQ(int_field(p[i], "ringside.key.count"), static_cast<int64_t>(i + 1));
  }
  EXPECT_GE(int_field(p[5], "ringside.key.interval_us"), 1000);
}

}  // namespace
}  // namespace ringside::e2e
