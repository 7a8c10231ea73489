// The Kafka sink against librdkafka's built-in mock cluster (no broker is packaged here; the
// mock speaks the Kafka protocol on loopback): per-category topics, the host-name key, delivery
// reports counted, and a broker outage counted as failed deliveries instead of stalling.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "sinks/kafka_sink.hpp"

namespace ringside {
namespace {

struct MockCluster {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* mc = nullptr;
  MockCluster() {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk != nullptr) mc = rd_kafka_mock_cluster_new(rk, 1);
  }
  ~MockCluster() {
    if (mc != nullptr) rd_kafka_mock_cluster_destroy(mc);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mc); }
};

Event exec_event(int pid) {
  Event ev(EventType::kProcessExec, 1700000000000000000 + pid);
  ev.set_origin(Level::kKernel, "ebpf");
  ev.set(Field::kProcessPid, static_cast<int64_t>(pid));
  ev.set(Field::kProcessExecutable, "/usr/bin/true");
  return ev;
}

// Reads every message of `topic` partition 0 from the start.
std::vector<std::pair<std::string, std::string>> consume(const std::string& bootstraps,
                                                         const std::string& topic, size_t want) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "ringside-test", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(c, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<std::pair<std::string, std::string>> out;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (out.size() < want && std::chrono::steady_clock::now() < end) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      out.emplace_back(std::string(static_cast<const char*>(m->key), m->key_len),
                       std::string(static_cast<const char*>(m->payload), m->len));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  return out;
}

TEST(KafkaSink, DeliversKeyedMessagesPerCategory) {
  MockCluster mock;
  ASSERT_NE(mock.mc, nullptr);
  rd_kafka_mock_topic_create(mock.mc, "ringside.process", 1, 1);
  auto sink = KafkaSink::open({.brokers = mock.bootstraps(), .config = {{"log_level", "0"}}});
  ASSERT_TRUE(sink) << sink.error().message;
  EXPECT_EQ((*sink)->topic_for(exec_event(1)), "ringside.process");
  for (int i = 1; i <= 5; ++i) (*sink)->write(exec_event(i));
  for (int i = 0; i < 100 && (*sink)->detailed_stats().delivered < 5; ++i) {
    (*sink)->flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ((*sink)->detailed_stats().delivered, 5u);
  EXPECT_EQ((*sink)->detailed_stats().failed, 0u);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const auto msgs = consume(mock.bootstraps(), "ringside.process", 5);
  ASSERT_EQ(msgs.size(), 5u);
  for (size_t i = 0; i < msgs.size(); ++i) {
    EXPECT_EQ(msgs[i].first, host);
    const auto j = nlohmann::json::parse(msgs[i].second);
    EXPECT_EQ(j["process"]["pid"], static_cast<int>(i) + 1);
    EXPECT_EQ(j["event"]["action"], "exec");
  }
}

TEST(KafkaSink, SingleTopicMode) {
  KafkaSink* raw = nullptr;
  auto sink = KafkaSink::open({.brokers = "127.0.0.1:1", .topic = "all-events"});
  ASSERT_TRUE(sink) << sink.error().message;
  raw = sink->get();
  EXPECT_EQ(raw->topic_for(exec_event(1)), "all-events");
  auto bad = KafkaSink::open({.brokers = "x:1", .config = {{"no.such.setting", "1"}}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("no.such.setting"), std::string::npos);
}

TEST(KafkaSink, BrokerOutageIsCountedNotFatal) {
  MockCluster mock;
  ASSERT_NE(mock.mc, nullptr);
  rd_kafka_mock_topic_create(mock.mc, "ringside.process", 1, 1);
  auto sink = KafkaSink::open({.brokers = mock.bootstraps(),
                               .config = {{"message.timeout.ms", "1500"},
                                          {"reconnect.backoff.max.ms", "500"},
                                          {"log_level", "0"}}});
  ASSERT_TRUE(sink) << sink.error().message;
  (*sink)->write(exec_event(1));
  for (int i = 0; i < 100 && (*sink)->detailed_stats().delivered < 1; ++i) {
    (*sink)->flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ((*sink)->detailed_stats().delivered, 1u);
  rd_kafka_mock_broker_set_down(mock.mc, 1);
  for (int i = 2; i <= 4; ++i) (*sink)->write(exec_event(i));
  for (int i = 0; i < 100 && (*sink)->detailed_stats().failed < 3; ++i) {
    (*sink)->flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ((*sink)->detailed_stats().failed, 3u);
  EXPECT_EQ((*sink)->stats().failed, 3u);
  // The broker returns: deliveries resume (a message sent while the client still reconnects
  // may time out, so keep sending until one gets through).
  rd_kafka_mock_broker_set_up(mock.mc, 1);
  for (int i = 0; i < 300 && (*sink)->detailed_stats().delivered < 2; ++i) {
    (*sink)->write(exec_event(100 + i));
    (*sink)->flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE((*sink)->detailed_stats().delivered, 2u);
}

}  // namespace
}  // namespace ringside
