// End to end: nobody can speak for another process on the hook socket. The agent takes the
// sender's pid from the kernel (SO_PEERCRED), so a message that names another pid — in its
// payload or in SCM_CREDENTIALS — is either refused and counted or attributed to its real
// sender; the socket and its state file have the documented owner and modes.

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "e2e_util.hpp"
#include "hook_logic.h"
#include "sensors/user/hook_protocol.h"

namespace ringside::e2e {
namespace {

constexpr uid_t kNobody = 65534;

struct Spoof {
  uid_t uid = 0;                // run the sender as this user
  pid_t claim_pid = 0;          // SCM_CREDENTIALS naming this pid (0: none)
  int64_t payload_pid = 0;      // a process.pid TLV in the payload (0: none)
  bool retry_honestly = false;  // after a refused claim, send the same report without it
};

// Forks a sender that reports an exec of `exe` to the agent; returns its pid and exit code
// (0: sent; otherwise the errno of the first refused send).
std::pair<pid_t, int> send_spoofed(const std::string& socket_path, const std::string& exe,
                                   const Spoof& s) {
  const pid_t child = fork();
  if (child == 0) {
    if (s.uid != 0 && (setgroups(0, nullptr) != 0 || setgid(s.uid) != 0 || setuid(s.uid) != 0)) {
      _exit(100);
    }
    const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, socket_path.c_str(), sizeof a.sun_path - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) _exit(101);
    char* argv[] = {const_cast<char*>(exe.c_str()), nullptr};
    rs_exec_report r{};
    r.hook = "execve";
    r.executable = exe.c_str();
    r.argv = argv;
    r.working_directory = "/";
    r.thread_id = getpid();
    std::vector<uint8_t> buf(RS_HOOK_MAX_MESSAGE);
    size_t n = rs_hook_encode_exec(&r, 1, 0, buf.data(), buf.size() - 12);
    if (n == 0) _exit(102);
    if (s.payload_pid != 0) {  // append {u16 field, u16 length 8, i64 value}, fix the length
      const uint16_t field = RS_FIELD_PROCESS_PID, len = 8;
      std::memcpy(&buf[n], &field, 2);
      std::memcpy(&buf[n + 2], &len, 2);
      std::memcpy(&buf[n + 4], &s.payload_pid, 8);
      n += 12;
      const uint32_t payload = static_cast<uint32_t>(n - RS_HOOK_HEADER_SIZE);
      std::memcpy(&buf[16], &payload, 4);
    }
    auto send_one = [&](pid_t claim) {
      iovec iov{buf.data(), n};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))] = {};
      if (claim != 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_CREDENTIALS;
        cm->cmsg_len = CMSG_LEN(sizeof(ucred));
        const ucred u{claim, getuid(), getgid()};
        std::memcpy(CMSG_DATA(cm), &u, sizeof u);
      }
      return sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 ? errno : 0;
    };
    int rc = send_one(s.claim_pid);
    if (rc != 0 && s.retry_honestly && send_one(0) != 0) rc = 103;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // served before we go
    _exit(rc);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return {child, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

class HookSpoof : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    AgentProcess::Options o;
    o.levels = "user";
    o.domains = "process";
    std::string err;
    agent_ = AgentProcess::start(o, &err);
    ASSERT_NE(agent_, nullptr) << err;
    // The agent's scratch directory must be enterable by nobody.
    chmod(std::filesystem::path(agent_->socket_path()).parent_path().c_str(), 0755);
  }
  std::optional<json> exec_event(const std::string& exe, std::chrono::milliseconds t = 5s) const {
    return agent_->wait_for(
        [&](const json& ev) {
          return str_field(ev, "ringside.sensor") == "preload" &&
                 str_field(ev, "process.executable") == exe;
        },
        t);
  }
  int64_t hook_errors() const {
    std::this_thread::sleep_for(1200ms);  // the counters file is rewritten every second
    const json s = agent_->stats();
    const json* v = field(s, "sensors");
    if (v == nullptr || !v->contains("hook_server")) return -1;
    return (*v)["hook_server"].value("errors", int64_t{-1});
  }
  std::unique_ptr<AgentProcess> agent_;
};

// Root may put any pid into SCM_CREDENTIALS; the event still names the sender.
TEST_F(HookSpoof, ClaimedCredentialsPidIsIgnored) {
  const std::string exe = "/usr/bin/ringside-spoof-root";
  const auto [pid, rc] = send_spoofed(agent_->socket_path(), exe, {0, 1, 0, false});
  ASSERT_EQ(rc, 0) << std::strerror(rc);
  auto ev = exec_event(exe);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(int_field(*ev, "process.pid"), pid);
  EXPECT_EQ(int_field(*ev, "user.id"), 0);
}

// An unprivileged sender cannot even send another pid (the kernel refuses); its honest
// report carries its own pid and uid.
TEST_F(HookSpoof, UnprivilegedClaimRefusedByTheKernel) {
  const std::string exe = "/usr/bin/ringside-spoof-nobody";
  const auto [pid, rc] = send_spoofed(agent_->socket_path(), exe, {kNobody, 1, 0, true});
  ASSERT_EQ(rc, EPERM) << "sendmsg with another pid's credentials: " << std::strerror(rc);
  auto ev = exec_event(exe);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(int_field(*ev, "process.pid"), pid);
  EXPECT_EQ(int_field(*ev, "user.id"), kNobody);
}

// A pid in the payload is an agent-owned field: the message is dropped and counted.
TEST_F(HookSpoof, PidInPayloadIsRefusedAndCounted) {
  const int64_t before = hook_errors();
  const std::string exe = "/usr/bin/ringside-spoof-payload";
  const auto [pid, rc] = send_spoofed(agent_->socket_path(), exe, {kNobody, 0, 1, false});
  ASSERT_EQ(rc, 0);
  EXPECT_FALSE(exec_event(exe, 1500ms)) << "a report naming another pid was accepted";
  EXPECT_GE(hook_errors(), before + 1);
  EXPECT_NE(agent_->log().find("dropped a message from pid " + std::to_string(pid)),
            std::string::npos)
      << agent_->log();
}

// Anyone may connect (0666, owned by the agent's user); the state file every hooked process
// maps — it says which operations wait for verdicts — is writable by the agent only.
TEST_F(HookSpoof, SocketAndStateFileModes) {
  struct stat st {};
  ASSERT_EQ(stat(agent_->socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0666U);
  EXPECT_EQ(st.st_uid, 0U);
  const std::string state = agent_->socket_path() + RS_HOOK_STATE_SUFFIX;
  ASSERT_EQ(stat(state.c_str(), &st), 0) << state;
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0644U);
  EXPECT_EQ(st.st_uid, 0U);
}

}  // namespace
}  // namespace ringside::e2e
