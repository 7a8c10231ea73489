// nfqueue_latency: what an NFQUEUE verdict on the first packet adds to a new connection.
//
// Runs as root inside a network namespace it creates (loopback only; nothing touches the
// host's namespace). A listener accepts on 127.0.0.1; the benchmark times N blocking TCP
// connects (connect() until it returns, then close) per round, in these modes, interleaved
// round by round so that drift hits every mode alike:
//
//   none       no agent
//   no-queue   the agent with the network domain at kernel level and settings.network
//              {nfqueue: off, dns: false}: its other network sensors, no queue rule
//   queued     the same agent with {nfqueue: all}: every SYN waits for the agent's verdict
//              (one allow rule-free policy: the full evaluation runs, nothing is denied)
//   bare-queue no agent: one thread of this program reads the queue (ringside's own queue
//              socket, sensors/kernel/nfqueue_socket.hpp) and accepts every packet at once, no
//              decision, no event; an iptables rule in this namespace queues each SYN. The
//              floor under any verdict taken in user space.
//
// It prints p50 / p90 / p99 / mean of the connect latency per mode (µs) and the difference of
// medians queued - no-queue, which is the cost of the queue round trip and the decision.
//
//   nfqueue_latency [--connects N] [--rounds R]

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "sensors/kernel/nfqueue_socket.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Agent {
  pid_t pid = 0;
  std::string dir;
};

int run_cmd(std::vector<std::string> argv) {
  std::vector<char*> c;
  for (auto& a : argv) c.push_back(a.data());
  c.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, c[0], nullptr, nullptr, c.data(), environ) != 0) return -1;
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Agent start_agent(const std::string& policy) {
  Agent a;
  a.dir = std::filesystem::temp_directory_path() / ("nfq_bench_" + std::to_string(getpid()));
  std::filesystem::create_directories(a.dir);
  std::ofstream(a.dir + "/policy.yaml") << policy;
  std::filesystem::remove(a.dir + "/ready.json");
  std::vector<std::string> args = {std::string(RINGSIDE_BUILD_DIR) + "/ringside",
                                   "run",
                                   "--policy",
                                   a.dir + "/policy.yaml",
                                   "--levels",
                                   "kernel",
                                   "--domains",
                                   "network",
                                   "--ready-file",
                                   a.dir + "/ready.json",
                                   "--jsonl",
                                   a.dir + "/events.jsonl",
                                   "--quiet"};
  std::vector<char*> c;
  for (auto& s : args) c.push_back(s.data());
  c.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, (a.dir + "/agent.log").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (posix_spawn(&a.pid, c[0], &fa, nullptr, c.data(), environ) != 0) {
    std::fprintf(stderr, "cannot start ringside\n");
    std::exit(1);
  }
  posix_spawn_file_actions_destroy(&fa);
  for (int i = 0; i < 1500; ++i) {
    struct stat st {};
    if (stat((a.dir + "/ready.json").c_str(), &st) == 0) return a;
    int status = 0;
    if (waitpid(a.pid, &status, WNOHANG) == a.pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::fprintf(stderr, "ringside did not become ready; see %s/agent.log\n", a.dir.c_str());
  std::exit(1);
}

void stop_agent(Agent& a) {
  if (a.pid <= 0) return;
  kill(a.pid, SIGTERM);
  int st = 0;
  waitpid(a.pid, &st, 0);
  a.pid = 0;
}

// The bare queue: SYNs to the benchmark's port queued to `queue`, accepted by a thread that does
// nothing else. Stops (rule removed, thread joined) when destroyed.
class BareQueue {
 public:
  static constexpr uint16_t kQueue = 4242;
  BareQueue() {
    auto io = ringside::open_nfqueue(kQueue, /*fail_open=*/true);
    if (!io) {
      std::fprintf(stderr, "nfqueue_latency: bare queue: %s\n", io.error().message.c_str());
      std::exit(1);
    }
    io_ = std::move(*io);
    if (run_cmd(rule("-I")) != 0) {
      std::fprintf(stderr, "nfqueue_latency: bare queue: iptables failed\n");
      std::exit(1);
    }
    thread_ = std::thread([this] {
      std::vector<uint8_t> buf(65536);
      while (!stop_) {
        pollfd p{io_->fd(), POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        auto n = io_->recv(buf);
        if (!n) continue;
        auto packets = ringside::parse_queue_datagram(std::span<const uint8_t>(buf.data(), *n));
        if (!packets) continue;
        for (const auto& pk : *packets) (void)io_->verdict(pk.id, ringside::kVerdictAccept, {});
      }
    });
  }
  ~BareQueue() {
    run_cmd(rule("-D"));
    stop_ = true;
    thread_.join();
  }
  BareQueue(const BareQueue&) = delete;
  BareQueue& operator=(const BareQueue&) = delete;

 private:
  static std::vector<std::string> rule(const char* op) {
    return {"iptables",
            "-w",
            op,
            "OUTPUT",
            "-p",
            "tcp",
            "--syn",
            "--dport",
            "18080",
            "-j",
            "NFQUEUE",
            "--queue-num",
            std::to_string(kQueue),
            "--queue-bypass"};
  }
  std::unique_ptr<ringside::NfqueueIo> io_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  int connects = 2000, rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--connects") == 0) connects = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "nfqueue_latency: needs root (network namespace, iptables)\n");
    return 2;
  }
  if (unshare(CLONE_NEWNET) != 0 || run_cmd({"ip", "link", "set", "lo", "up"}) != 0) {
    std::perror("nfqueue_latency: new network namespace");
    return 2;
  }
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(18080);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(lfd, 1024) != 0) {
    std::perror("nfqueue_latency: listen");
    return 2;
  }
  std::atomic<bool> stop{false};
  std::thread acceptor([&] {
    while (!stop) {
      const int c = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) close(c);
    }
  });

  const std::map<std::string, std::string> policies = {
      {"none", ""},
      {"no-queue", "settings:\n  network: {nfqueue: off, dns: false}\nrules: []\n"},
      {"queued", "settings:\n  network: {nfqueue: all, dns: false}\nrules: []\n"},
      {"bare-queue", ""}};
  const std::vector<std::string> order = {"none", "no-queue", "queued", "bare-queue"};
  std::map<std::string, std::vector<double>> lat;
  for (int r = 0; r < rounds; ++r) {
    for (const auto& mode : order) {
      Agent agent;
      std::unique_ptr<BareQueue> bare;
      if (mode == "bare-queue") {
        bare = std::make_unique<BareQueue>();
      } else if (!policies.at(mode).empty()) {
        agent = start_agent(policies.at(mode));
      }
      for (int i = 0; i < connects; ++i) {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const auto t0 = Clock::now();
        const int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        const auto t1 = Clock::now();
        if (rc != 0) {
          std::fprintf(stderr, "connect failed in mode %s: %s\n", mode.c_str(),
                       std::strerror(errno));
          return 1;
        }
        // Reset instead of TIME_WAIT, so ephemeral ports do not run out.
        linger lg{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
        lat[mode].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
      stop_agent(agent);
      bare.reset();
    }
  }
  stop = true;
  shutdown(lfd, SHUT_RDWR);
  // Wake the acceptor with one last connection.
  const int w = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  connect(w, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  close(w);
  acceptor.join();
  close(lfd);

  std::printf("loopback TCP connect latency, %d connects x %d rounds per mode (us)\n", connects,
              rounds);
  std::printf("%-10s %8s %8s %8s %8s\n", "mode", "p50", "p90", "p99", "mean");
  for (const auto& mode : order) {
    const auto& v = lat[mode];
    double sum = 0;
    for (double x : v) sum += x;
    std::printf("%-10s %8.1f %8.1f %8.1f %8.1f\n", mode.c_str(), pct(v, 0.5), pct(v, 0.9),
                pct(v, 0.99), sum / static_cast<double>(v.size()));
  }
  std::printf("added by the NFQUEUE verdict (median queued - median no-queue): %.1f us\n",
              pct(lat["queued"], 0.5) - pct(lat["no-queue"], 0.5));
  std::printf(
      "added by a bare queue that accepts at once (median bare-queue - median none): "
      "%.1f us\n",
      pct(lat["bare-queue"], 0.5) - pct(lat["none"], 0.5));
  return 0;
}
