#include "sinks/kafka_sink.hpp"

#include <unistd.h>

#include "core/json.hpp"
#include "core/log.hpp"

namespace ringside {

namespace {

constexpr int kCloseFlushMs = 5000;

void on_log(const rd_kafka_t* /*rk*/, int level, const char* fac, const char* buf) {
  if (level <= 3) {
    log().warn("kafka: {}: {}", fac, buf);
  } else {
    log().debug("kafka: {}: {}", fac, buf);
  }
}

}  // namespace

Result<std::unique_ptr<KafkaSink>> KafkaSink::open(const KafkaSinkOptions& options) {
  if (options.brokers.empty()) return Error{"kafka: no brokers given"};
  std::unique_ptr<KafkaSink> sink(new KafkaSink(options));
  if (sink->opts_.key.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    sink->opts_.key = host;
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::vector<std::pair<std::string, std::string>> settings = {
      {"bootstrap.servers", options.brokers},
      {"client.id", "ringside"},
      {"message.timeout.ms", "30000"},
      {"queue.buffering.max.messages", "200000"},
      {"linger.ms", "50"}};
  settings.insert(settings.end(), options.config.begin(), options.config.end());
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Error{"kafka: setting " + k + "=" + v + ": " + err};
    }
  }
  rd_kafka_conf_set_opaque(conf, sink.get());
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaSink::on_delivery);
  rd_kafka_conf_set_error_cb(conf, &KafkaSink::on_error);
  rd_kafka_conf_set_log_cb(conf, &on_log);
  sink->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (sink->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Error{std::string("kafka: cannot create the producer: ") + err};
  }
  return sink;
}

KafkaSink::~KafkaSink() {
  if (rk_ == nullptr) return;
  rd_kafka_flush(rk_, kCloseFlushMs);
  const int left = rd_kafka_outq_len(rk_);
  if (left > 0) {
    st_.failed += static_cast<uint64_t>(left);
    log().warn("kafka: {} messages undelivered at exit", left);
  }
  rd_kafka_destroy(rk_);
}

std::string KafkaSink::topic_for(const Event& ev) const {
  if (!opts_.topic.empty()) return opts_.topic;
  return opts_.topic_prefix + std::string(ev.category());
}

void KafkaSink::on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++self->st_.delivered;
    return;
  }
  ++self->st_.failed;
  if (self->warnings_++ < 5 || self->warnings_ % 1000 == 0) {
    log().warn("kafka: delivery failed: {} (total failed {})", rd_kafka_err2str(msg->err),
               self->st_.failed);
  }
}

void KafkaSink::on_error(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  if (self->warnings_++ < 5 || self->warnings_ % 1000 == 0) {
    log().warn("kafka: {}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), reason);
  }
}

void KafkaSink::write(const Event& ev) {
  json_.clear();
  append_event_json(json_, ev);
  if (!json_.empty() && json_.back() == '\n') json_.pop_back();
  const std::string topic = topic_for(ev);
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(opts_.key.data(), opts_.key.size()),
      RD_KAFKA_V_VALUE(json_.data(), json_.size()), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++st_.produced;
  } else {
    ++st_.failed;
    if (warnings_++ < 5 || warnings_ % 1000 == 0) {
      log().warn("kafka: cannot queue a message for {}: {} (total failed {})", topic,
                 rd_kafka_err2str(err), st_.failed);
    }
  }
  rd_kafka_poll(rk_, 0);
}

void KafkaSink::flush() { rd_kafka_poll(rk_, 0); }

}  // namespace ringside
