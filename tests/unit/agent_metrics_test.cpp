// The metrics endpoint's content without privileges: families, labels and values in the
// Prometheus text exposition format, the decision latency histogram, and a real scrape over
// loopback HTTP.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <sstream>

#include "metrics/agent_metrics.hpp"

namespace ringside {
namespace {

MetricsSnapshot sample_snapshot() {
  MetricsSnapshot s;
  MetricsSnapshot::SensorSample ebpf;
  ebpf.name = "process_ebpf";
  ebpf.mechanism = "ebpf";
  ebpf.level = "kernel";
  ebpf.domain = "process";
  ebpf.state = "live";
  ebpf.stats.seen = 42;
  ebpf.stats.dropped = 3;
  ebpf.stats.errors = 1;
  s.sensors.push_back(ebpf);
  s.sinks.push_back({"sqlite", 40, 2});
  s.queue_depth = 5;
  s.queue_capacity = 65536;
  s.queue_pushed = 45;
  s.queue_dropped = 0;
  s.sink_lag_seconds = 0.25;
  return s;
}

// Every non-comment line is "name{labels} value" or "name value"; every family has # TYPE.
void expect_valid_exposition(const std::string& text) {
  static const std::regex kSample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eEInfa]+$)");
  static const std::regex kType(R"(^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram)$)");
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_TRUE(std::regex_match(line, kType)) << line;
      continue;
    }
    EXPECT_TRUE(std::regex_match(line, kSample)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 10);
}

TEST(AgentMetrics, TextFormatCarriesEveryFamily) {
  AgentMetrics m(sample_snapshot);
  m.record_decision(Level::kKernel, Verdict::kAlert, "exec-from-tmp", 1500);   // 1.5 us
  m.record_decision(Level::kKernel, Verdict::kAlert, "exec-from-tmp", 30000);  // 30 us
  m.record_decision(Level::kUser, Verdict::kAllow, "", 3000000);               // 3 ms
  const std::string text = metrics_text(m.Collect());
  expect_valid_exposition(text);
  auto has = [&text](const std::string& line) {
    EXPECT_NE(text.find(line + "\n"), std::string::npos) << "missing: " << line << "\n" << text;
  };
  has(R"(ringside_sensor_events_seen_total{domain="process",level="kernel",mechanism="ebpf",sensor="process_ebpf"} 42)");
  has(R"(ringside_sensor_events_dropped_total{domain="process",level="kernel",mechanism="ebpf",sensor="process_ebpf"} 3)");
  has(R"(ringside_sensor_errors_total{domain="process",level="kernel",mechanism="ebpf",sensor="process_ebpf"} 1)");
  has(R"(ringside_verdicts_total{level="kernel",rule="exec-from-tmp",verdict="alert"} 2)");
  has(R"(ringside_verdicts_total{level="user",rule="",verdict="allow"} 1)");
  has(R"(ringside_decision_latency_seconds_bucket{le="1e-06"} 0)");
  has(R"(ringside_decision_latency_seconds_bucket{le="2e-06"} 1)");
  has(R"(ringside_decision_latency_seconds_bucket{le="5e-05"} 2)");
  has(R"(ringside_decision_latency_seconds_bucket{le="+Inf"} 3)");
  has(R"(ringside_decision_latency_seconds_count 3)");
  has(R"(ringside_queue_depth 5)");
  has(R"(ringside_sink_written_total{sink="sqlite"} 40)");
  has(R"(ringside_sink_failed_total{sink="sqlite"} 2)");
  has(R"(ringside_sink_lag_seconds 0.25)");
  has("# TYPE ringside_decision_latency_seconds histogram");
}

std::string http_get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
    (void)!::write(fd, req.data(), req.size());
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

TEST(MetricsServer, ServesOnLoopbackAndRefusesOtherAddresses) {
  auto refused = MetricsServer::start("0.0.0.0:0", std::make_shared<AgentMetrics>(sample_snapshot));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("loopback"), std::string::npos);

  auto metrics = std::make_shared<AgentMetrics>(sample_snapshot);
  auto server = MetricsServer::start("127.0.0.1:0", metrics);
  ASSERT_TRUE(server) << server.error().message;
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  metrics->record_decision(Level::kKernel, Verdict::kDeny, "r1", 1000);
  const std::string reply = http_get(port, "/metrics");
  EXPECT_NE(reply.find("200 OK"), std::string::npos) << reply;
  EXPECT_NE(reply.find(R"(ringside_verdicts_total{level="kernel",rule="r1",verdict="deny"} 1)"),
            std::string::npos)
      << reply;
  EXPECT_NE(http_get(port, "/nothing").find("404"), std::string::npos);
}

}  // namespace
}  // namespace ringside
