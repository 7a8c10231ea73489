// The NFQUEUE sensor's threads over a fake queue and a fake iptables: every packet is answered
// exactly once, a decision that misses the deadline is answered with the fail-mode default by
// the timer (and counted), packets lost in the socket are answered by id, and rules are
// cleaned up at start and stop.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/eventfd.h>
#include <unistd.h>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include <deque>
#include <mutex>
#include <thread>

#include "fake_context.hpp"
#include "sensors/kernel/nfqueue.hpp"

namespace ringside {
namespace {

using testing_fanotify::FakeContext;
using namespace std::chrono_literals;

std::vector<uint8_t> syn_packet(uint16_t sport, uint16_t dport) {
  std::vector<uint8_t> b(40, 0);
  const uint8_t ip[20] = {0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1};
  std::copy(ip, ip + 20, b.begin());
  b[20] = static_cast<uint8_t>(sport >> 8);
  b[21] = static_cast<uint8_t>(sport);
  b[22] = static_cast<uint8_t>(dport >> 8);
  b[23] = static_cast<uint8_t>(dport);
  b[32] = 0x50;
  b[33] = 0x02;  // SYN
  return b;
}

struct Verdict {
  uint32_t id, verdict;
  std::optional<uint32_t> mark;
};

class FakeQueue final : public NfqueueIo {
 public:
  FakeQueue() : efd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE)) {}
  ~FakeQueue() override { close(efd_); }
  int fd() const override { return efd_; }
  Result<size_t> recv(std::span<uint8_t> buf) override {
    uint64_t v = 0;
    if (read(efd_, &v, sizeof v) != sizeof v) return errno_error("fake recv");
    std::lock_guard lock(mu_);
    std::vector<uint8_t> d = std::move(datagrams_.front());
    datagrams_.pop_front();
    std::copy(d.begin(), d.end(), buf.begin());
    return d.size();
  }
  Result<void> verdict(uint32_t id, uint32_t v, std::optional<uint32_t> mark) override {
    std::lock_guard lock(mu_);
    verdicts_.push_back({id, v, mark});
    return ok();
  }
  void push(uint32_t id, const std::vector<uint8_t>& payload) {
    alignas(nlmsghdr) char buf[1024] = {};
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_PACKET, 41);
    nfqnl_msg_packet_hdr hdr{};
    hdr.packet_id = htonl(id);
    hdr.hook = kHookLocalOut;
    mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof hdr, &hdr);
    mnl_attr_put(nlh, NFQA_PAYLOAD, payload.size(), payload.data());
    {
      std::lock_guard lock(mu_);
      datagrams_.emplace_back(buf, buf + nlh->nlmsg_len);
    }
    const uint64_t one = 1;
    (void)!write(efd_, &one, sizeof one);
  }
  std::vector<Verdict> verdicts() {
    std::lock_guard lock(mu_);
    return verdicts_;
  }
  std::vector<Verdict> wait_verdicts(size_t n) {
    for (int i = 0; i < 2500 && verdicts().size() < n; ++i) std::this_thread::sleep_for(2ms);
    return verdicts();
  }

 private:
  int efd_;
  std::mutex mu_;
  std::deque<std::vector<uint8_t>> datagrams_;
  std::vector<Verdict> verdicts_;
};

class RecordingRunner final : public CommandRunner {
 public:
  explicit RecordingRunner(std::vector<std::string>* log) : log_(log) {}
  Result<std::string> run(const std::vector<std::string>& argv, std::string_view) override {
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    log_->push_back(line);
    if (argv.size() > 2 && (argv[2] == "-D" || argv[2] == "-C")) return Error{"no such rule"};
    return std::string();
  }

 private:
  std::vector<std::string>* log_;
};

class NfqueueSensorTest : public ::testing::Test {
 protected:
  void start(const std::string& yaml) {
    std::vector<policy::ParseError> errors;
    auto p = policy::Policy::parse(yaml, "t.yaml", &errors);
    ASSERT_TRUE(p);
    ctx_.set_policy(*p);
    auto* q = queue_ = new FakeQueue();
    sensor_ = std::make_unique<NfqueueSensor>(
        nullptr,
        [q](uint16_t, bool) -> Result<std::unique_ptr<NfqueueIo>> {
          return std::unique_ptr<NfqueueIo>(q);
        },
        std::make_unique<RecordingRunner>(&commands_));
    ASSERT_TRUE(sensor_->start(ctx_));
    ASSERT_TRUE(sensor_->apply_policy(**p));
  }
  void TearDown() override {
    if (sensor_) sensor_->stop();
  }
  FakeContext ctx_;
  FakeQueue* queue_ = nullptr;  // owned by the sensor
  std::vector<std::string> commands_;
  std::unique_ptr<NfqueueSensor> sensor_;
};

// The decider also tries the /proc owner lookup (no eBPF owners here), which can take tens of
// ms on a loaded machine: the tests that expect decisions in time give them a second.
std::string policy(int deadline_ms) {
  return "settings:\n  decision_deadline_ms: " + std::to_string(deadline_ms) +
         "\n  network: {nfqueue: all, queue: 41, dns: false}\n"
         "rules:\n"
         "  - {name: no-9999, on: network.connect, match: {destination.port: 9999}, action: "
         "deny}\n";
}

TEST_F(NfqueueSensorTest, AnswersEachPacketOnceWithThePolicyVerdict) {
  ASSERT_NO_FATAL_FAILURE(start(policy(1000)));
  queue_->push(1, syn_packet(40000, 9999));
  queue_->push(2, syn_packet(40001, 80));
  auto v = queue_->wait_verdicts(2);
  ASSERT_EQ(v.size(), 2U);
  EXPECT_EQ(v[0].id, 1U);
  EXPECT_EQ(v[0].verdict, kVerdictRepeat);
  EXPECT_EQ(v[0].mark, kRejectMark);
  EXPECT_EQ(v[1].id, 2U);
  EXPECT_EQ(v[1].verdict, kVerdictAccept);
  auto evs = ctx_.wait_events(2);
  ASSERT_EQ(evs.size(), 2U);
  EXPECT_EQ(*evs[0].get_str(Field::kRingsideRule), "no-9999");
  std::this_thread::sleep_for(100ms);  // past the deadline: no second answer
  EXPECT_EQ(queue_->verdicts().size(), 2U);
  const SensorStats st = sensor_->stats();
  EXPECT_EQ(st.seen, 2U);
  EXPECT_EQ(st.denied, 1U);
  EXPECT_EQ(st.defaulted, 0U);
  // The stale chains were cleaned before the rules went in.
  ASSERT_FALSE(commands_.empty());
  EXPECT_EQ(commands_[0], "iptables -w -D OUTPUT -j RINGSIDE-OUT");
  EXPECT_NE(std::find(commands_.begin(), commands_.end(), "iptables-restore -w --noflush"),
            commands_.end());
}

TEST_F(NfqueueSensorTest, SlowDecisionGetsTheFailModeDefaultAtTheDeadline) {
  std::atomic<bool> release{false};
  ctx_.on_decide = [&](Event& ev) {
    while (!release) std::this_thread::sleep_for(1ms);
    return ctx_.policy()->evaluate(ev, ev.level(), {});
  };
  ASSERT_NO_FATAL_FAILURE(start(policy(50)));
  const auto t0 = std::chrono::steady_clock::now();
  queue_->push(5, syn_packet(40002, 9999));
  auto v = queue_->wait_verdicts(1);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(v.size(), 1U);
  EXPECT_EQ(v[0].verdict, kVerdictAccept);  // fail mode open
  EXPECT_GE(took, 45ms);
  EXPECT_LT(took, 3000ms);  // generous: a loaded 2-core machine
  release = true;
  auto evs = ctx_.wait_events(1);
  ASSERT_EQ(evs.size(), 1U);
  EXPECT_EQ(*evs[0].get_str(Field::kRingsideEnforcement), "default");
  EXPECT_EQ(*evs[0].get_str(Field::kRingsideVerdict), "deny");  // what the policy said, late
  EXPECT_EQ(queue_->verdicts().size(), 1U);  // the late decision did not answer again
  EXPECT_EQ(sensor_->stats().defaulted, 1U);
  EXPECT_EQ(sensor_->stats().denied, 0U);
}

TEST_F(NfqueueSensorTest, PacketsLostInTheSocketAreAnsweredById) {
  ASSERT_NO_FATAL_FAILURE(start(policy(1000)));
  queue_->push(10, syn_packet(40003, 80));
  queue_->push(14, syn_packet(40004, 80));  // 11..13 never arrived
  auto v = queue_->wait_verdicts(5);
  ASSERT_EQ(v.size(), 5U);
  std::vector<uint32_t> ids;
  for (const auto& x : v) ids.push_back(x.id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<uint32_t>{10, 11, 12, 13, 14}));
  EXPECT_EQ(sensor_->stats().dropped, 3U);
  EXPECT_EQ(sensor_->stats().defaulted, 3U);
}

TEST_F(NfqueueSensorTest, StopRemovesTheRules) {
  ASSERT_NO_FATAL_FAILURE(start(policy(1000)));
  commands_.clear();
  sensor_->stop();
  EXPECT_NE(std::find(commands_.begin(), commands_.end(), "iptables -w -X RINGSIDE-OUT"),
            commands_.end());
  EXPECT_NE(std::find(commands_.begin(), commands_.end(), "ip6tables -w -X RINGSIDE-IN"),
            commands_.end());
}

}  // namespace
}  // namespace ringside
