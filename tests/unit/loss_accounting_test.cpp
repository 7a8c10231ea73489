// Loss accounting: ringside.lost events per channel, the agent's per-channel totals, and the
// kernel's NFQUEUE drop counters.
#include <gtest/gtest.h>

#include "agent/loss_ledger.hpp"
#include "core/json.hpp"
#include "core/lost_event.hpp"
#include "metrics/agent_metrics.hpp"
#include "sensors/kernel/nfqueue_socket.hpp"

namespace ringside {
namespace {

TEST(LossChannel, ReportsWhatTheTotalAddsOnce) {
  LossChannel ch(Level::kKernel, "ebpf", "process_ebpf.ring", LossAccuracy::kExact);
  EXPECT_FALSE(ch.report(0, "ring buffer full").has_value());
  auto first = ch.report(7, "ring buffer full");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->type(), EventType::kRingsideLost);
  EXPECT_EQ(first->get_str(Field::kRingsideLostChannel), "process_ebpf.ring");
  EXPECT_EQ(first->get_int(Field::kRingsideLostCount), 7);
  EXPECT_EQ(first->get_int(Field::kRingsideLostTotal), 7);
  EXPECT_EQ(first->get_str(Field::kRingsideLostAccuracy), "exact");
  EXPECT_EQ(first->get_str(Field::kRingsideSensor), "ebpf");
  EXPECT_EQ(first->level(), Level::kKernel);
  EXPECT_FALSE(ch.report(7, "ring buffer full").has_value());  // nothing new
  auto second = ch.report(10, "ring buffer full");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->get_int(Field::kRingsideLostCount), 3);
  EXPECT_EQ(second->get_int(Field::kRingsideLostTotal), 10);
  EXPECT_EQ(ch.reported(), 10u);
  // A total that goes backwards (a counter read late) reports nothing and keeps the high mark.
  EXPECT_FALSE(ch.report(9, "ring buffer full").has_value());
  EXPECT_EQ(ch.reported(), 10u);
}

TEST(LossChannel, LowerBoundSaysAtLeast) {
  LossChannel ch(Level::kKernel, "fanotify", "file_fanotify.queue", LossAccuracy::kLowerBound);
  auto ev = ch.report(2, "fanotify queue overflow");
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->get_str(Field::kRingsideLostAccuracy), "lower_bound");
  const auto msg = ev->get_str(Field::kRingsideMessage);
  ASSERT_TRUE(msg.has_value());
  EXPECT_NE(msg->find("at least 2"), std::string_view::npos) << *msg;
  // The JSON nests the fields under ringside.lost.
  std::string json;
  append_event_json(json, *ev);
  EXPECT_NE(json.find(R"("lost":{)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("channel":"file_fanotify.queue")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("count":2)"), std::string::npos) << json;
}

TEST(LossLedger, KeepsTheHighestTotalPerChannel) {
  LossLedger ledger;
  ledger.observe(make_lost_event(Level::kUser, "agent", "event_queue", 5, 5, LossAccuracy::kExact,
                                 "event queue full"));
  ledger.observe(make_lost_event(Level::kKernel, "ebpf", "process_ebpf.ring", 3, 3,
                                 LossAccuracy::kExact, "ring buffer full"));
  ledger.observe(make_lost_event(Level::kUser, "agent", "event_queue", 2, 7, LossAccuracy::kExact,
                                 "event queue full"));
  // Out of order: an older report does not lower the total.
  ledger.observe(make_lost_event(Level::kUser, "agent", "event_queue", 5, 5, LossAccuracy::kExact,
                                 "event queue full"));
  ledger.observe(Event(EventType::kProcessExec, 1));  // not a loss: ignored
  const auto s = ledger.snapshot();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].channel, "event_queue");
  EXPECT_EQ(s[0].total, 7u);
  EXPECT_EQ(s[0].accuracy, "exact");
  EXPECT_EQ(s[1].channel, "process_ebpf.ring");
  EXPECT_EQ(s[1].total, 3u);
}

TEST(LossMetrics, OneSeriesPerChannel) {
  AgentMetrics m([] {
    MetricsSnapshot s;
    s.lost.push_back({"event_queue", "exact", 738});
    s.lost.push_back({"file_fanotify.queue", "lower_bound", 2});
    return s;
  });
  const std::string text = metrics_text(m.Collect());
  EXPECT_NE(text.find("# TYPE ringside_lost_records_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(ringside_lost_records_total{channel="event_queue",accuracy="exact"} 738)"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(ringside_lost_records_total{channel="file_fanotify.queue",accuracy="lower_bound"} 2)"),
      std::string::npos)
      << text;
}

TEST(NfqueueDrops, ParsesTheKernelTableForOneQueue) {
  const std::string text =
      "    0  12345     0 2 65531     0     0        4  1\n"
      "    7   4001     3 2 65531    11    22     1000  1\n";
  auto q7 = parse_queue_drops(text, 7);
  ASSERT_TRUE(q7.has_value());
  EXPECT_EQ(q7->queue_dropped, 11u);
  EXPECT_EQ(q7->user_dropped, 22u);
  EXPECT_EQ(q7->id_sequence, 1000u);
  auto q0 = parse_queue_drops(text, 0);
  ASSERT_TRUE(q0.has_value());
  EXPECT_EQ(q0->queue_dropped, 0u);
  EXPECT_FALSE(parse_queue_drops(text, 3).has_value());
  EXPECT_FALSE(parse_queue_drops("", 0).has_value());
  EXPECT_FALSE(parse_queue_drops("garbage\n1 2\n", 1).has_value());
}

}  // namespace
}  // namespace ringside
