// Exports through the real agent: RFC 5424 syslog to a real rsyslog the test starts on loopback
// (own config, port, pid file and work directory; stopped by pid), Kafka to librdkafka's mock
// cluster with a broker outage, a Prometheus scrape with curl, and systemd's notify protocol
// (READY=1, WATCHDOG=1) on a socket the test owns.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "core/json.hpp"
#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

int free_port(int type) {
  const int fd = socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

std::string hostname() {
  char h[256] = {};
  gethostname(h, sizeof h - 1);
  return h;
}

const std::regex kRfc5424(
    R"(^<(\d{1,3})>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z ([!-~]{1,255}) ringside \d+ ([!-~]{1,32}) - (\{.*\})$)");

// rsyslogd in the foreground with its own configuration, writing every raw message received on
// a loopback TCP port to one file.
class Rsyslog {
 public:
  explicit Rsyslog(const ScratchDir& dir) : out_(dir.file("received.log")) {
    port_ = free_port(SOCK_STREAM);
    udp_port_ = free_port(SOCK_DGRAM);
    const std::string conf = dir.write(
        "rsyslog.conf", "global(workDirectory=\"" + dir.path() +
                            "\" maxMessageSize=\"64k\")\n"
                            "module(load=\"imtcp\")\n"
                            "input(type=\"imtcp\" port=\"" +
                            std::to_string(port_) +
                            "\" address=\"127.0.0.1\")\n"
                            "module(load=\"imudp\")\n"
                            "input(type=\"imudp\" port=\"" +
                            std::to_string(udp_port_) +
                            "\" address=\"127.0.0.1\")\n"
                            "template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n"
                            "*.* action(type=\"omfile\" file=\"" +
                            out_ + "\" template=\"raw\")\n");
    const std::string pidfile = dir.file("rsyslogd.pid");
    pid_ = fork();
    if (pid_ == 0) {
      execl("/usr/sbin/rsyslogd", "rsyslogd", "-n", "-f", conf.c_str(), "-i", pidfile.c_str(),
            nullptr);
      _exit(127);
    }
    // Ready when the port accepts.
    for (int i = 0; i < 100 && !listening(); ++i) std::this_thread::sleep_for(50ms);
  }
  ~Rsyslog() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      waitpid(pid_, &st, 0);
    }
  }
  bool listening() const {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
  }
  int port() const { return port_; }
  int udp_port() const { return udp_port_; }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(slurp(out_));
    std::string l;
    while (std::getline(in, l)) out.push_back(l);
    return out;
  }

 private:
  std::string out_;
  int port_ = 0;
  int udp_port_ = 0;
  pid_t pid_ = -1;
};

void syslog_round_trip(bool tcp) {
  if (access("/usr/sbin/rsyslogd", X_OK) != 0) GTEST_SKIP() << "rsyslogd not installed";
  ScratchDir rdir("rsyslog");
  Rsyslog rsyslog(rdir);
  ASSERT_TRUE(rsyslog.listening()) << "rsyslogd did not listen on " << rsyslog.port();
  AgentProcess::Options o;
  o.levels = "kernel";
  o.extra_args = {"--syslog", (tcp ? "tcp://127.0.0.1:" : "udp://127.0.0.1:") +
                                  std::to_string(tcp ? rsyslog.port() : rsyslog.udp_port())};
  std::string error;
  auto agent = AgentProcess::start(o, &error);
  ASSERT_NE(agent, nullptr) << error;
  // A hostile argument: newline, quotes, backslash, invalid UTF-8, 4 KiB.
  const std::string hostile = "mark\n\"q\" \\ \xff\xfe" + std::string(4096, 'h');
  auto r = run({"/bin/sh", "-c", "true", hostile});
  ASSERT_EQ(r.exit_code, 0);
  std::string want;  // the argument as the JSON encoder writes it
  append_json_string(want, hostile);
  std::string found;
  for (int i = 0; i < 100 && found.empty(); ++i) {
    for (const std::string& l : rsyslog.lines()) {
      if (l.find(want) != std::string::npos) found = l;
    }
    if (found.empty()) std::this_thread::sleep_for(100ms);
  }
  ASSERT_FALSE(found.empty()) << agent->log();
  std::smatch m;
  ASSERT_TRUE(std::regex_match(found, m, kRfc5424)) << found.substr(0, 300);
  EXPECT_EQ(m[3], "process.exec");
  const json payload = json::parse(m[4].str());
  EXPECT_EQ(payload["process"]["pid"], r.pid);
  EXPECT_EQ(payload["process"]["args"].back(), json::parse(want).get<std::string>());
  // The same event in the JSONL output has the same encoding.
  bool same = false;
  for (const json& ev : agent->events()) same = same || ev == payload;
  EXPECT_TRUE(same);
  EXPECT_EQ(agent->stop(), 0);
}

TEST(Exports, SyslogTcpReachesRsyslogAsRfc5424WithTheJsonIntact) {
  RINGSIDE_REQUIRE_ROOT();
  syslog_round_trip(true);
}

TEST(Exports, SyslogUdpReachesRsyslogAsRfc5424WithTheJsonIntact) {
  RINGSIDE_REQUIRE_ROOT();
  syslog_round_trip(false);
}

TEST(Exports, KafkaDeliversKeyedAndCountsAnOutage) {
  RINGSIDE_REQUIRE_ROOT();
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, 1);
  ASSERT_NE(mc, nullptr);
  rd_kafka_mock_topic_create(mc, "ringside.process", 1, 1);
  const std::string boot = rd_kafka_mock_cluster_bootstraps(mc);
  AgentProcess::Options o;
  o.levels = "kernel";
  o.extra_args = {"--kafka", boot, "--kafka-option", "message.timeout.ms=2000"};
  std::string error;
  auto agent = AgentProcess::start(o, &error);
  ASSERT_NE(agent, nullptr) << error;
  auto r = run({"/bin/sh", "-c", "true", "kafka-marker"});
  ASSERT_EQ(r.exit_code, 0);
  // Consume what the mock broker holds.
  rd_kafka_conf_t* cconf = rd_kafka_conf_new();
  rd_kafka_conf_set(cconf, "bootstrap.servers", boot.c_str(), err, sizeof err);
  rd_kafka_conf_set(cconf, "group.id", "e2e", err, sizeof err);
  rd_kafka_conf_set(cconf, "log_level", "0", err, sizeof err);
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof err);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, "ringside.process", 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(c, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  bool found = false;
  size_t messages = 0;
  for (int i = 0; i < 100 && !found; ++i) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++messages;
      EXPECT_EQ(std::string(static_cast<const char*>(m->key), m->key_len), hostname());
      const json ev = json::parse(std::string(static_cast<const char*>(m->payload), m->len));
      EXPECT_EQ(ev["event"]["category"], "process");
      found = ev["process"]["pid"] == r.pid && ev["event"]["action"] == "exec";
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  EXPECT_TRUE(found) << messages << " messages\n" << agent->log();
  // Outage: the broker goes down; the agent keeps running and counts failed deliveries.
  rd_kafka_mock_broker_set_down(mc, 1);
  uint64_t failed = 0;
  // Messages fail once message.timeout.ms (2 s) has passed without the broker; a sanitizer
  // build is slow to get there, so the wait is bounded by time, generously.
  const auto until = std::chrono::steady_clock::now() + 45s;
  while (failed == 0 && std::chrono::steady_clock::now() < until) {
    run({"/bin/true"});
    std::this_thread::sleep_for(100ms);
    const json st = agent->stats();
    if (st.contains("sinks") && st["sinks"].contains("kafka")) {
      failed = st["sinks"]["kafka"]["failed"].get<uint64_t>();
    }
  }
  EXPECT_GT(failed, 0u) << agent->log();
  EXPECT_EQ(::kill(agent->pid(), 0), 0);  // still running
  auto late = run({"/bin/sh", "-c", "true", "after-outage"});
  EXPECT_TRUE(
      agent->wait_for([&](const json& e) { return int_field(e, "process.pid") == late.pid; }));
  EXPECT_EQ(agent->stop(), 0);
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
}

// Sum of the samples of `name` whose labels contain `label`.
double metric(const std::string& text, const std::string& name, const std::string& label) {
  double sum = 0;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (l.rfind(name + "{", 0) != 0 && l.rfind(name + " ", 0) != 0) continue;
    if (l.find(label) == std::string::npos) continue;
    sum += std::stod(l.substr(l.rfind(' ') + 1));
  }
  return sum;
}

TEST(Exports, MetricsScrapeParsesAndMovesWithActivity) {
  RINGSIDE_REQUIRE_ROOT();
  const int port = free_port(SOCK_STREAM);
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  AgentProcess::Options o;
  o.levels = "kernel";
  o.extra_args = {"--metrics", addr};
  std::string error;
  auto agent = AgentProcess::start(o, &error);
  ASSERT_NE(agent, nullptr) << error;
  auto scrape = [&] {
    auto r = run({"curl", "-sS", "--max-time", "5", "http://" + addr + "/metrics"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  const std::string first = scrape();
  const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eEInfa]+$)");
  std::istringstream in(first);
  std::string l;
  int samples = 0;
  while (std::getline(in, l)) {
    if (l.empty() || l[0] == '#') continue;
    EXPECT_TRUE(std::regex_match(l, sample)) << l;
    ++samples;
  }
  EXPECT_GT(samples, 20);
  const std::string seen = "ringside_sensor_events_seen_total";
  const double before = metric(first, seen, "level=\"kernel\"");
  const double verdicts_before = metric(first, "ringside_verdicts_total", "verdict=");
  for (int i = 0; i < 5; ++i) run({"/bin/true"});
  double after = before;
  std::string second;
  for (int i = 0; i < 50 && after < before + 5; ++i) {
    std::this_thread::sleep_for(100ms);
    second = scrape();
    after = metric(second, seen, "level=\"kernel\"");
  }
  EXPECT_GE(after, before + 5) << second;
  EXPECT_GT(metric(second, "ringside_verdicts_total", "verdict="), verdicts_before);
  EXPECT_GT(metric(second, "ringside_decision_latency_seconds_count", ""), 0);
  EXPECT_NE(second.find("ringside_queue_depth "), std::string::npos);
  EXPECT_EQ(agent->stop(), 0);
}

// The stats file is replaced only when a counter changed: an idle agent leaves it alone, and a
// report shows in it within about a second.
TEST(Exports, TheStatsFileIsRewrittenOnlyWhenACounterChanged) {
  RINGSIDE_REQUIRE_ROOT();
  AgentProcess::Options o;
  o.levels = "user";  // nothing counts while no hooked program reports
  std::string error;
  auto agent = AgentProcess::start(o, &error);
  ASSERT_NE(agent, nullptr) << error;
  // A rewrite is a new file: another inode (or the same number again) and a new time.
  auto identity = [&] {
    struct stat st {};
    if (stat(agent->stats_path().c_str(), &st) != 0) return std::pair<ino_t, int64_t>{0, 0};
    return std::pair<ino_t, int64_t>{st.st_ino,
                                     st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
  };
  // Settled: the agent's own start-up events written, and the second that counted them over.
  const auto t0 = std::chrono::steady_clock::now();
  auto counter = [&](const char* pointer) {
    const json stats = agent->stats();  // discarded while the file is not there yet
    return stats.is_object() ? stats.value(json::json_pointer(pointer), 0) : 0;
  };
  auto written = [&] { return counter("/sinks/jsonl/written"); };
  while (written() < 1 && std::chrono::steady_clock::now() - t0 < 10s) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_GE(written(), 1) << agent->log();
  std::this_thread::sleep_for(1500ms);
  const auto idle = identity();
  ASSERT_NE(idle.first, 0U) << agent->log();
  std::this_thread::sleep_for(2500ms);  // two and a half of the agent's seconds, nothing new
  EXPECT_EQ(identity(), idle);

  const std::string target = programs() + "/hook_target";
  const RunResult r =
      run({programs() + "/hook_caller", "execv", target, "argv0", "one"}, agent->hook_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(agent->wait_for([&](const json& ev) {
    return str_field(ev, "ringside.hook") == "execv" &&
           str_field(ev, "process.executable") == target;
  }));
  const auto t1 = std::chrono::steady_clock::now();
  auto seen = [&] { return counter("/sensors/hook_server/seen"); };
  while ((identity() == idle || seen() < 1) && std::chrono::steady_clock::now() - t1 < 5s) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(identity(), idle);
  EXPECT_GE(seen(), 1);
  EXPECT_EQ(agent->stop(), 0);
}

TEST(Exports, SystemdNotifyReadyAndWatchdog) {
  RINGSIDE_REQUIRE_ROOT();
  ScratchDir dir("notify");
  const std::string sock = dir.file("notify.sock");
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", sock.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  setenv("NOTIFY_SOCKET", sock.c_str(), 1);
  setenv("WATCHDOG_USEC", "400000", 1);
  AgentProcess::Options o;
  o.levels = "kernel";
  std::string error;
  auto agent = AgentProcess::start(o, &error);
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  ASSERT_NE(agent, nullptr) << error;
  std::vector<std::string> got;
  bool ready = false;
  int watchdogs = 0;
  const auto end = std::chrono::steady_clock::now() + 5s;
  while ((!ready || watchdogs < 2) && std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[512];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) continue;
    const std::string msg(buf, static_cast<size_t>(n));
    ready = ready || msg.find("READY=1") != std::string::npos;
    if (msg.find("WATCHDOG=1") != std::string::npos) ++watchdogs;
  }
  EXPECT_TRUE(ready);
  EXPECT_GE(watchdogs, 2);
  EXPECT_EQ(agent->stop(), 0);
  close(fd);
}

}  // namespace
}  // namespace ringside::e2e
