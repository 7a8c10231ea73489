// Kafka export through librdkafka: each event's JSON object as one message keyed by the host
// name, to one topic per category ("<prefix><category>", e.g. ringside.process) or to a single
// topic. Delivery reports are counted (delivered / failed); a broker outage shows as failed
// deliveries once message.timeout.ms passes, never as a stall: produce() does not block, and a
// full local queue counts the event as failed.
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sinks/sink.hpp"

namespace ringside {

struct KafkaSinkOptions {
  std::string brokers;                     // bootstrap.servers
  std::string topic;                       // single topic; empty: one topic per category
  std::string topic_prefix = "ringside.";  // per-category topics
  std::string key;                         // message key; empty: the host name
  // Extra librdkafka settings (key, value), applied last; e.g. message.timeout.ms.
  std::vector<std::pair<std::string, std::string>> config;
};

struct KafkaStats {
  uint64_t produced = 0;   // handed to librdkafka
  uint64_t delivered = 0;  // acknowledged by a broker
  uint64_t failed = 0;     // delivery failed, or could not be queued
};

class KafkaSink final : public Sink {
 public:
  static Result<std::unique_ptr<KafkaSink>> open(const KafkaSinkOptions& options);
  ~KafkaSink() override;

  std::string_view name() const override { return "kafka"; }
  void write(const Event& ev) override;
  void flush() override;  // serves delivery reports
  SinkStats stats() const override { return {st_.delivered, st_.failed}; }
  const KafkaStats& detailed_stats() const { return st_; }
  // Topic an event goes to.
  std::string topic_for(const Event& ev) const;
  const std::string& key() const { return opts_.key; }

 private:
  explicit KafkaSink(KafkaSinkOptions options) : opts_(std::move(options)) {}
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  KafkaSinkOptions opts_;
  rd_kafka_t* rk_ = nullptr;
  std::string json_;
  uint64_t warnings_ = 0;
  KafkaStats st_;
};

}  // namespace ringside
