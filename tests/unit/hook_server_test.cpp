// HookServerSensor against a fake agent: socket and state file life cycle, verdict replies,
// malformed input counted and dropped without harming later reports. Unprivileged.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/process_table.hpp"
#include "sensors/user/hook_server.hpp"
#include "sensors/user/preload/hook_logic.h"

namespace ringside {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::shared_ptr<const policy::Policy> parse_policy(const std::string& yaml) {
  std::vector<policy::ParseError> errors;
  auto p = policy::Policy::parse(yaml, "test.yaml", &errors);
  EXPECT_TRUE(p) << (errors.empty() ? std::string() : errors[0].to_string());
  return p ? *p : nullptr;
}

const char* const kDenyPolicy = R"(
settings:
  fail_mode: closed
  decision_deadline_ms: 150
rules:
  - name: no-forbidden
    on: process.exec
    levels: [user]
    match:
      process.executable: {glob: "/opt/*/forbidden"}
    action: deny
)";

class FakeAgent : public SensorContext {
 public:
  explicit FakeAgent(std::shared_ptr<const policy::Policy> p) : policy_(std::move(p)) {}
  policy::Decision decide(Event& ev) override {
    if (ev.get_str(Field::kProcessExecutable) == "/opt/slow") std::this_thread::sleep_for(300ms);
    const policy::Decision d = policy_->evaluate(ev, ev.level());
    ev.set_verdict(d.verdict, d.rule != nullptr ? std::string_view(d.rule->name) : "");
    return d;
  }
  void emit(Event&& ev) override {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(ev));
    cv_.notify_all();
  }
  ProcessTable& processes() override { return table_; }
  // A hash cache that knows every identity: the hash names the path it was asked for.
  std::optional<std::string> sha256_of(std::string_view path, const FileIdentity&) override {
    return "hash:" + std::string(path);
  }
  std::shared_ptr<const policy::Policy> policy() const override { return policy_; }
  bool is_agent_file(std::string_view) const override { return false; }

  // The n-th emitted event (0-based), waiting for it.
  std::optional<Event> event(size_t n) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, 5s, [&] { return events_.size() > n; })) return std::nullopt;
    return events_[n];
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return events_.size();
  }

 private:
  std::shared_ptr<const policy::Policy> policy_;
  ProcessTable table_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

class HookServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ringside-hook-server-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/run/ringside/hook.sock";  // parent directories do not exist yet
  }
  void TearDown() override {
    if (server_) server_->stop();
    fs::remove_all(dir_);
  }
  void start(const char* yaml) {
    agent_ = std::make_unique<FakeAgent>(parse_policy(yaml));
    server_ = std::make_unique<HookServerSensor>(socket_);
    auto r = server_->start(*agent_);
    ASSERT_TRUE(r) << r.error().message;
    auto p = server_->apply_policy(*agent_->policy());
    ASSERT_TRUE(p) << p.error().message;
  }
  rs_hook_state_view state() const {
    rs_hook_state_view v{};
    const rs_hook_state* s = rs_hook_state_map((socket_ + ".state").c_str());
    rs_hook_state_read(s, &v);
    rs_hook_state_unmap(s);
    return v;
  }
  static std::vector<uint8_t> exec_message(const char* exe, bool want, uint32_t seq) {
    char* argv[] = {const_cast<char*>("prog"), const_cast<char*>("arg"), nullptr};
    const rs_exec_report r{"execve", exe, argv, "/", nullptr, 1, 0};
    std::vector<uint8_t> buf(RS_HOOK_MAX_MESSAGE);
    buf.resize(rs_hook_encode_exec(&r, seq, want ? 1 : 0, buf.data(), buf.size()));
    return buf;
  }
  // True when the server closed this connection within a few seconds.
  static bool closed_by_server(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint8_t b[64];
    return recv(fd, b, sizeof b, 0) == 0;
  }
  int connect_blocking() const {
    const int fd = rs_hook_connect(socket_.c_str());
    EXPECT_GE(fd, 0);
    return fd;
  }

  std::string dir_, socket_;
  std::unique_ptr<FakeAgent> agent_;
  std::unique_ptr<HookServerSensor> server_;
};

// The suite name carries the file's name so that `ctest -R hook` selects it.
using hook_server = HookServerTest;

TEST_F(hook_server, PublishesStateAndAnswersVerdictRequests) {
  start(kDenyPolicy);
  struct stat st {};
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0666u);
  const auto v = state();
  ASSERT_TRUE(v.valid);
  EXPECT_EQ(v.sync_ops, static_cast<uint32_t>(RS_HOOK_OP_EXEC));
  EXPECT_EQ(v.deadline_ms, 150u);
  EXPECT_EQ(v.fail_closed, 1u);
  EXPECT_EQ(v.agent_pid, getpid());

  const int fd = connect_blocking();
  auto msg = exec_message("/opt/x/forbidden", true, 17);
  int verdict = -1;
  ASSERT_EQ(rs_hook_exchange(fd, msg.data(), msg.size(), 1, 17, 5000, &verdict), RS_HOOK_ANSWERED);
  EXPECT_EQ(verdict, RS_HOOK_VERDICT_DENY);
  msg = exec_message("/opt/x/fine", true, 18);
  ASSERT_EQ(rs_hook_exchange(fd, msg.data(), msg.size(), 1, 18, 5000, &verdict), RS_HOOK_ANSWERED);
  EXPECT_EQ(verdict, RS_HOOK_VERDICT_ALLOW);
  close(fd);

  auto denied = agent_->event(0);
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->get_str(Field::kRingsideVerdict), "deny");
  EXPECT_EQ(denied->get_str(Field::kRingsideRule), "no-forbidden");
  EXPECT_EQ(denied->get_str(Field::kRingsideEnforcement), "blocked");
  EXPECT_EQ(denied->get_int(Field::kProcessPid), getpid());
  EXPECT_EQ(denied->get_int(Field::kUserId), static_cast<int64_t>(getuid()));
  EXPECT_EQ(denied->get_str(Field::kRingsideSensor), "preload");
  auto allowed = agent_->event(1);
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->get_str(Field::kRingsideVerdict), "allow");
  const SensorStats s = server_->stats();
  EXPECT_EQ(s.seen, 2u);
  EXPECT_EQ(s.denied, 1u);
  EXPECT_EQ(s.errors, 0u);
}

TEST_F(hook_server, AnAnswerAfterTheDeadlineIsCountedAsDefaulted) {
  start(kDenyPolicy);  // deadline 150 ms
  const int fd = connect_blocking();
  auto msg = exec_message("/opt/slow", true, 5);
  int verdict = -1;
  EXPECT_EQ(rs_hook_exchange(fd, msg.data(), msg.size(), 1, 5, 150, &verdict), RS_HOOK_TIMEOUT);
  auto ev = agent_->event(0);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->get_str(Field::kRingsideEnforcement), "default");
  EXPECT_EQ(server_->stats().defaulted, 1u);
  // The late answer is skipped by the next question on the same connection.
  msg = exec_message("/opt/x/forbidden", true, 6);
  ASSERT_EQ(rs_hook_exchange(fd, msg.data(), msg.size(), 1, 6, 5000, &verdict), RS_HOOK_ANSWERED);
  EXPECT_EQ(verdict, RS_HOOK_VERDICT_DENY);
  close(fd);
}

TEST_F(hook_server, ObserveOnlyPolicyNeedsNoVerdict) {
  start("rules: []\n");
  EXPECT_EQ(state().sync_ops, 0u);
  const int fd = connect_blocking();
  auto msg = exec_message("/usr/bin/x", false, 1);
  int verdict = -1;
  EXPECT_EQ(rs_hook_exchange(fd, msg.data(), msg.size(), 0, 1, 100, &verdict), RS_HOOK_SENT);
  close(fd);  // closing right after the send must not lose the report
  auto ev = agent_->event(0);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->get_str(Field::kProcessExecutable), "/usr/bin/x");
  EXPECT_EQ(ev->get_list(Field::kProcessArgs).to_vector(),
            (std::vector<std::string>{"prog", "arg"}));
  EXPECT_FALSE(ev->has(Field::kRingsideEnforcement));
}

TEST_F(hook_server, ReportsServedAtAcceptAndTheRealUidFromTheKernel) {
  start("rules: []\n");
  // Many reporters, each sending once and closing at once, as fork children before exec do:
  // every report is served (at accept), none is lost, no connection is left behind.
  for (uint32_t i = 0; i < 50; ++i) {
    const int fd = connect_blocking();
    auto msg = exec_message("/usr/bin/quick", false, i);
    ASSERT_EQ(send(fd, msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
    close(fd);
  }
  for (size_t i = 0; i < 50; ++i) {
    auto ev = agent_->event(i);
    ASSERT_TRUE(ev) << i;
    EXPECT_FALSE(ev->has(Field::kProcessHashSha256));  // no identity, no lookup
    // user.id is the real uid: SCM_CREDENTIALS with the message, not /proc.
    EXPECT_EQ(ev->get_int(Field::kUserId), static_cast<int64_t>(getuid()));
    EXPECT_EQ(ev->get_int(Field::kUserEffectiveId), static_cast<int64_t>(geteuid()));
    EXPECT_EQ(ev->get_int(Field::kProcessPid), getpid());
  }
  EXPECT_EQ(server_->stats().seen, 50u);
  EXPECT_EQ(server_->stats().errors, 0u);

  // The last message of a connection: the agent closes it without waiting for the sender,
  // after the answer when one was asked for.
  server_.reset();
  start(kDenyPolicy);
  char* argv[] = {const_cast<char*>("prog"), nullptr};
  rs_exec_report r{"execve", "/opt/x/forbidden", argv, "/", nullptr, 1, 0};
  r.last = 1;
  const rs_file_id id{1, 1, 2, 3};
  r.identity = &id;
  std::vector<uint8_t> msg(RS_HOOK_MAX_MESSAGE);
  msg.resize(rs_hook_encode_exec(&r, 3, 1, msg.data(), msg.size()));
  const int fd = connect_blocking();
  int verdict = -1;
  ASSERT_EQ(rs_hook_exchange(fd, msg.data(), msg.size(), 1, 3, 5000, &verdict), RS_HOOK_ANSWERED);
  EXPECT_EQ(verdict, RS_HOOK_VERDICT_DENY);
  EXPECT_TRUE(closed_by_server(fd));
  close(fd);
  auto ev = agent_->event(0);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->get_str(Field::kProcessHashSha256), "hash:/opt/x/forbidden");  // from identity
}

// How many times the server's thread (named rs-hook-server) went to sleep and was woken: its
// voluntary context switches (being preempted on a busy machine is not a wake-up).
int64_t server_wakeups() {
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name != "rs-hook-server") continue;
    std::ifstream status(task.path() / "status");
    const std::string key = "voluntary_ctxt_switches:";
    for (std::string line; std::getline(status, line);) {
      if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size()));
    }
    return -1;
  }
  return -1;
}

// While nobody waits for a verdict, new connections gather for 20 ms and are accepted as the
// window ends. A stream spanning many windows is served whole, with about one wake-up per
// window; once it stops the listening socket is watched again: the idle server sleeps, and a
// lone report later is served at once.
TEST_F(hook_server, AStreamOfNewConnectionsIsTakenInWindowByWindow) {
  start("rules: []\n");
  constexpr uint32_t kStream = 60;
  const int64_t before = server_wakeups();
  ASSERT_GE(before, 0) << "no thread named rs-hook-server";
  const auto stream_start = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < kStream; ++i) {
    const int fd = connect_blocking();
    auto msg = exec_message("/usr/bin/stream", false, i);
    ASSERT_EQ(send(fd, msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
    close(fd);
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(agent_->event(kStream - 1));
  const int64_t during = server_wakeups() - before;
  const int64_t windows = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - stream_start)
                              .count() /
                          HookServerSensor::kGatherMs;
  std::cout << kStream << " connections 1 ms apart: " << during << " wake-ups of the server in "
            << windows << " windows\n";
  // Without gathering, one wake-up per connection; with it, about one per window.
  EXPECT_LT(during, static_cast<int64_t>(kStream) / 2);
  EXPECT_LE(during, windows + windows / 2 + 3);

  // Several windows with nothing new: the listening socket is watched again.
  std::this_thread::sleep_for(std::chrono::milliseconds(5 * HookServerSensor::kGatherMs));
  const int64_t quiet = server_wakeups();
  std::this_thread::sleep_for(300ms);
  // Idle it sleeps in epoll_wait (1 s); a window timer left running would wake it 300 ms /
  // kGatherMs times (15).
  EXPECT_LE(server_wakeups() - quiet, 3);

  const auto t0 = std::chrono::steady_clock::now();
  const int fd = connect_blocking();
  auto msg = exec_message("/usr/bin/lone", false, 1);
  ASSERT_EQ(send(fd, msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
  close(fd);
  auto ev = agent_->event(kStream);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->get_str(Field::kProcessExecutable), "/usr/bin/lone");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  EXPECT_EQ(server_->stats().seen, kStream + 1);
  EXPECT_EQ(server_->stats().errors, 0u);
}

TEST_F(hook_server, MalformedInputIsCountedDroppedAndHarmless) {
  start("rules: []\n");
  std::vector<std::vector<uint8_t>> garbage;
  garbage.push_back({0xde, 0xad, 0xbe, 0xef, 1,  2,  3,  4,  5,  6,  7,  8, 9,
                     10,   11,   12,   13,   14, 15, 16, 17, 18, 19, 20, 21});  // random bytes
  garbage.push_back({0x52, 0x53, 0x48, 0x4b, 1, 0});                            // truncated header
  auto huge = exec_message("/x", false, 1);
  rs_put_u32(huge.data() + 16, 0xFFFFFF00u);  // huge length claim
  garbage.push_back(huge);
  garbage.push_back(std::vector<uint8_t>(RS_HOOK_MAX_MESSAGE + 4000, 0x41));  // oversize
  for (const auto& g : garbage) {
    const int fd = connect_blocking();
    ASSERT_EQ(send(fd, g.data(), g.size(), 0), static_cast<ssize_t>(g.size()));
    EXPECT_TRUE(closed_by_server(fd)) << "connection kept after " << g.size() << " bad bytes";
    close(fd);
  }
  const int fd = connect_blocking();
  auto msg = exec_message("/usr/bin/after", false, 2);
  int verdict = -1;
  EXPECT_EQ(rs_hook_exchange(fd, msg.data(), msg.size(), 0, 2, 100, &verdict), RS_HOOK_SENT);
  auto ev = agent_->event(0);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->get_str(Field::kProcessExecutable), "/usr/bin/after");
  close(fd);
  EXPECT_EQ(agent_->count(), 1u);
  const SensorStats s = server_->stats();
  EXPECT_EQ(s.errors, garbage.size());
  EXPECT_EQ(s.seen, garbage.size() + 1);
}

// A process's last words (UNSENT) are counted as dropped reports; they are no event and no
// report seen, and the connection they end is closed.
TEST_F(hook_server, LastWordsCountTheReportsAProcessCouldNotSend) {
  start("rules: []\n");
  const int fd = connect_blocking();
  auto msg = exec_message("/usr/bin/first", false, 1);
  int verdict = -1;
  ASSERT_EQ(rs_hook_exchange(fd, msg.data(), msg.size(), 0, 1, 100, &verdict), RS_HOOK_SENT);
  uint8_t words[64];
  const size_t n = rs_hook_encode_unsent(17, 1, words, sizeof words);
  ASSERT_EQ(rs_hook_send_within(fd, words, n, 100), RS_HOOK_SENT);
  EXPECT_TRUE(closed_by_server(fd));
  close(fd);
  ASSERT_TRUE(agent_->event(0));
  const SensorStats s = server_->stats();
  EXPECT_EQ(s.dropped, 17u);
  EXPECT_EQ(s.seen, 1u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_EQ(agent_->count(), 1u);
}

TEST_F(hook_server, StopRemovesTheSocketAndReleasesWaiters) {
  start(kDenyPolicy);
  server_->stop();
  struct stat st {};
  EXPECT_NE(lstat(socket_.c_str(), &st), 0);
  const auto v = state();
  ASSERT_TRUE(v.valid);  // the file stays, so mappings stay valid
  EXPECT_EQ(v.sync_ops, 0u);
  EXPECT_EQ(v.agent_pid, 0);
}

TEST_F(hook_server, ReplacesAStaleSocketButNeverALiveOneOrAFile) {
  fs::create_directories(fs::path(socket_).parent_path());
  {  // a socket file nobody listens on, as a crashed agent leaves it
    const int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    close(fd);
  }
  start("rules: []\n");
  FakeAgent other(parse_policy("rules: []\n"));
  HookServerSensor second(socket_);
  auto r = second.start(other);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("another agent"), std::string::npos);
  server_->stop();
  server_.reset();

  std::ofstream(socket_) << "not a socket";
  HookServerSensor third(socket_);
  r = third.start(other);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a socket"), std::string::npos);
}

}  // namespace
}  // namespace ringside
