#include "metrics/agent_metrics.hpp"
#include "core/thread_name.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prometheus/text_serializer.h>

#include <exception>
#include <limits>
#include <sstream>

namespace ringside {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

ClientMetric counter(std::vector<ClientMetric::Label> labels, double v) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = v;
  return m;
}

ClientMetric gauge(std::vector<ClientMetric::Label> labels, double v) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = v;
  return m;
}

}  // namespace

void AgentMetrics::record_decision(Level level, Verdict verdict, std::string_view rule,
                                   int64_t latency_ns) {
  const double secs = static_cast<double>(latency_ns) / 1e9;
  size_t b = 0;
  while (b < kLatencyBuckets.size() && secs > kLatencyBuckets[b]) ++b;
  buckets_[b].fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns_.fetch_add(static_cast<uint64_t>(latency_ns), std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  auto key = std::make_tuple(level, verdict, std::string(rule));
  ++verdicts_[key];
}

std::vector<MetricFamily> AgentMetrics::Collect() const {
  const MetricsSnapshot s = snapshot_ ? snapshot_() : MetricsSnapshot{};
  std::vector<MetricFamily> out;
  struct SensorCounter {
    const char* name;
    const char* help;
    uint64_t SensorStats::*member;
  };
  for (const SensorCounter& c :
       {SensorCounter{"ringside_sensor_events_seen_total",
                      "Records a sensor read from its mechanism.", &SensorStats::seen},
        SensorCounter{"ringside_sensor_events_dropped_total",
                      "Records a sensor lost (ring buffer full, queue overflow).",
                      &SensorStats::dropped},
        SensorCounter{"ringside_sensor_errors_total", "Errors a sensor met.", &SensorStats::errors},
        SensorCounter{"ringside_sensor_denied_total", "Operations a sensor denied.",
                      &SensorStats::denied},
        SensorCounter{"ringside_sensor_defaulted_total",
                      "Blocking decisions answered with the default verdict.",
                      &SensorStats::defaulted}}) {
    MetricFamily f = family(c.name, c.help, MetricType::Counter);
    for (const auto& sensor : s.sensors) {
      f.metric.push_back(counter({{"domain", sensor.domain},
                                  {"level", sensor.level},
                                  {"mechanism", sensor.mechanism},
                                  {"sensor", sensor.name}},
                                 static_cast<double>(sensor.stats.*c.member)));
    }
    out.push_back(std::move(f));
  }
  MetricFamily up = family("ringside_sensor_up", "1 when the sensor is live.", MetricType::Gauge);
  for (const auto& sensor : s.sensors) {
    up.metric.push_back(
        gauge({{"level", sensor.level}, {"sensor", sensor.name}}, sensor.state == "live" ? 1 : 0));
  }
  out.push_back(std::move(up));

  MetricFamily verdicts =
      family("ringside_verdicts_total", "Policy decisions by level, verdict and rule.",
             MetricType::Counter);
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, n] : verdicts_) {
      const auto& [level, verdict, rule] = key;
      verdicts.metric.push_back(counter({{"level", std::string(to_string(level))},
                                         {"rule", rule},
                                         {"verdict", std::string(to_string(verdict))}},
                                        static_cast<double>(n)));
    }
  }
  out.push_back(std::move(verdicts));

  MetricFamily latency =
      family("ringside_decision_latency_seconds",
             "Time to enrich an event and evaluate the policy.", MetricType::Histogram);
  ClientMetric h;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kLatencyBuckets.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound =
        i < kLatencyBuckets.size() ? kLatencyBuckets[i] : std::numeric_limits<double>::infinity();
    h.histogram.bucket.push_back(b);
  }
  h.histogram.sample_count = cumulative;
  h.histogram.sample_sum =
      static_cast<double>(latency_sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  latency.metric.push_back(std::move(h));
  out.push_back(std::move(latency));

  auto one = [&out](const char* name, const char* help, MetricType type, double v) {
    MetricFamily f = family(name, help, type);
    f.metric.push_back(type == MetricType::Counter ? counter({}, v) : gauge({}, v));
    out.push_back(std::move(f));
  };
  one("ringside_queue_depth", "Events waiting for the sink thread.", MetricType::Gauge,
      static_cast<double>(s.queue_depth));
  one("ringside_queue_max_depth", "Deepest the event queue has been.", MetricType::Gauge,
      static_cast<double>(s.queue_max_depth));
  one("ringside_queue_capacity", "Events the queue holds before it drops.", MetricType::Gauge,
      static_cast<double>(s.queue_capacity));
  one("ringside_queue_events_total", "Events queued for the sinks.", MetricType::Counter,
      static_cast<double>(s.queue_pushed));
  one("ringside_queue_dropped_total", "Events dropped because the queue was full.",
      MetricType::Counter, static_cast<double>(s.queue_dropped));
  one("ringside_sink_lag_seconds", "Age of the newest event when the sinks last wrote it.",
      MetricType::Gauge, s.sink_lag_seconds);
  MetricFamily written =
      family("ringside_sink_written_total", "Events a sink delivered.", MetricType::Counter);
  MetricFamily failed =
      family("ringside_sink_failed_total", "Events a sink could not deliver.", MetricType::Counter);
  for (const auto& sink : s.sinks) {
    written.metric.push_back(counter({{"sink", sink.name}}, static_cast<double>(sink.written)));
    failed.metric.push_back(counter({{"sink", sink.name}}, static_cast<double>(sink.failed)));
  }
  out.push_back(std::move(written));
  out.push_back(std::move(failed));
  MetricFamily lost = family("ringside_lost_records_total",
                             "Records lost per channel, as reported in ringside.lost events "
                             "(accuracy lower_bound: at least this many).",
                             MetricType::Counter);
  for (const auto& l : s.lost) {
    lost.metric.push_back(
        counter({{"channel", l.channel}, {"accuracy", l.accuracy}}, static_cast<double>(l.total)));
  }
  out.push_back(std::move(lost));
  return out;
}

std::string metrics_text(const std::vector<MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& addr,
                                                            std::shared_ptr<AgentMetrics> metrics) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos) return Error{"metrics: '" + addr + "' is not HOST:PORT"};
  const std::string host = addr.substr(0, colon);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (inet_pton(AF_INET, (host == "localhost" ? "127.0.0.1" : host).c_str(), &sa.sin_addr) != 1 ||
      (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
    return Error{"metrics: '" + addr + "' is not a loopback address (127.0.0.1:PORT)"};
  }
  const std::string port = addr.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return Error{"metrics: bad port in '" + addr + "'"};
  }
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(port)));
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->metrics_ = std::move(metrics);
  server->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  const int one = 1;
  setsockopt(server->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (server->listen_fd_ < 0 ||
      bind(server->listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      listen(server->listen_fd_, 16) != 0) {
    return errno_error("metrics: cannot listen on " + addr);
  }
  socklen_t len = sizeof sa;
  getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  server->port_ = ntohs(sa.sin_port);
  server->stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (server->stop_fd_ < 0) return errno_error("metrics: eventfd");
  server->thread_ = std::thread([s = server.get()] { s->serve(); });
  name_thread(server->thread_, "rs-metrics");
  return server;
}

MetricsServer::~MetricsServer() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

void MetricsServer::serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    answer(fd);
    close(fd);
  }
}

// One request per connection, answered with Connection: close. A client gets two seconds to
// send its request line; anything but GET /metrics is 404 (or 405 for other methods).
void MetricsServer::answer(int fd) {
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string req;
  char buf[2048];
  while (req.find("\r\n\r\n") == std::string::npos && req.size() < 16384) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    req.append(buf, static_cast<size_t>(n));
  }
  const size_t eol = req.find("\r\n");
  const std::string line = req.substr(0, eol == std::string::npos ? req.size() : eol);
  std::string status = "200 OK";
  std::string body;
  std::string type = "text/plain; version=0.0.4; charset=utf-8";
  if (line.rfind("GET ", 0) != 0 && line.rfind("HEAD ", 0) != 0) {
    status = "405 Method Not Allowed";
    body = "only GET\n";
  } else {
    const size_t sp = line.find(' ');
    const std::string path = line.substr(sp + 1, line.find(' ', sp + 1) - sp - 1);
    if (path == "/metrics" || path.rfind("/metrics?", 0) == 0) {
      body = metrics_text(metrics_->Collect());
      scrapes_.fetch_add(1, std::memory_order_relaxed);
    } else {
      status = "404 Not Found";
      body = "try /metrics\n";
      type = "text/plain; charset=utf-8";
    }
  }
  std::string out = "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
                    "\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n\r\n";
  if (line.rfind("HEAD ", 0) != 0) out += body;
  size_t off = 0;
  while (off < out.size()) {
    const ssize_t n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace ringside
