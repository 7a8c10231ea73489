#include <gtest/gtest.h>
#include <sys/prctl.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/event.hpp"
#include "core/json.hpp"
#include "core/json_decode.hpp"

namespace ringside {
namespace {

using nlohmann::json;

TEST(Event, StoresTypedFields) {
  Event ev(EventType::kProcessExec, 1'700'000'000'123'456'789);
  ev.set(Field::kProcessPid, int64_t{42});
  ev.set(Field::kProcessExecutable, "/usr/bin/true");
  ev.set(Field::kProcessArgs, {"true", "--version"});
  ev.set(Field::kProcessWorkingDirectory, "/tmp");  // stored after the list
  ev.append(Field::kProcessArgs, "x y");
  EXPECT_EQ(ev.get_int(Field::kProcessPid), 42);
  EXPECT_EQ(ev.get_str(Field::kProcessExecutable), "/usr/bin/true");
  EXPECT_EQ(ev.get_list(Field::kProcessArgs).to_vector(),
            (std::vector<std::string>{"true", "--version", "x y"}));
  EXPECT_EQ(ev.get_str(Field::kProcessWorkingDirectory), "/tmp");
  EXPECT_FALSE(ev.has(Field::kProcessExitCode));
  EXPECT_EQ(ev.get_int(Field::kProcessExitCode), std::nullopt);
  EXPECT_EQ(ev.category(), "process");
  EXPECT_EQ(ev.action(), "exec");
  ev.clear(Field::kProcessPid);
  EXPECT_FALSE(ev.has(Field::kProcessPid));
}

TEST(Event, NulSeparatedArgs) {
  Event ev(EventType::kProcessExec, 0);
  ev.set_nul_separated(Field::kProcessArgs, std::string_view("ls\0-l\0/tmp\0", 10));
  EXPECT_EQ(ev.get_list(Field::kProcessArgs).to_vector(),
            (std::vector<std::string>{"ls", "-l", "/tmp"}));
}

// An event reset in place (EventBatch reuse) is the event a fresh one would be: none of the old
// fields, lists started empty whatever the old ones held, the same JSON.
TEST(Event, ResetHoldsNoneOfTheOldFields) {
  Event used(EventType::kProcessExec, 7);
  used.set_origin(Level::kUser, "preload");
  used.set(Field::kProcessPid, int64_t{42});
  used.set(Field::kProcessExecutable, "/usr/bin/old");
  used.set_nul_separated(Field::kProcessArgs, std::string_view("a\0b\0c", 5));
  used.set(Field::kRingsideAncestors, {"/sbin/init", "/usr/bin/bash"});
  used.set_verdict(Verdict::kDeny, "old-rule");

  auto fill = [](Event& ev) {
    ev.set_origin(Level::kKernel, "ebpf");
    ev.set(Field::kRingsideAncestors, {});  // an empty list first, then appended to
    ev.append(Field::kRingsideAncestors, "/usr/bin/sh");
    ev.set_nul_separated(Field::kProcessArgs, std::string_view("x", 1));
    ev.set(Field::kProcessExecutable, "/usr/bin/new");
  };
  used.reset(EventType::kProcessFork, 9);
  fill(used);
  Event fresh(EventType::kProcessFork, 9);
  fill(fresh);

  EXPECT_FALSE(used.has(Field::kProcessPid));
  EXPECT_FALSE(used.verdict().has_value());
  EXPECT_FALSE(used.has(Field::kRingsideRule));
  EXPECT_EQ(used.level(), Level::kKernel);
  EXPECT_EQ(used.get_list(Field::kRingsideAncestors).to_vector(),
            std::vector<std::string>{"/usr/bin/sh"});
  EXPECT_EQ(used.get_list(Field::kProcessArgs).to_vector(), std::vector<std::string>{"x"});
  std::string a;
  std::string b;
  append_event_json(a, used);
  append_event_json(b, fresh);
  EXPECT_EQ(a, b);
}

TEST(Json, NestedEcsShape) {
  Event ev(EventType::kProcessExec, 1'700'000'000'000'000'001);
  ev.set_origin(Level::kKernel, "ebpf");
  ev.set(Field::kProcessPid, int64_t{7});
  ev.set(Field::kProcessParentPid, int64_t{1});
  ev.set(Field::kProcessArgs, {"a", "b"});
  ev.set_verdict(Verdict::kDeny, "r1");
  std::string out;
  append_event_json(out, ev);
  ASSERT_EQ(out.back(), '\n');
  const json j = json::parse(out);
  EXPECT_EQ(j["@timestamp"], "2023-11-14T22:13:20.000000001Z");
  EXPECT_EQ(j["event"]["category"], "process");
  EXPECT_EQ(j["event"]["action"], "exec");
  EXPECT_EQ(j["process"]["pid"], 7);
  EXPECT_EQ(j["process"]["parent"]["pid"], 1);
  EXPECT_EQ(j["process"]["args"], json::array({"a", "b"}));
  EXPECT_EQ(j["ringside"]["level"], "kernel");
  EXPECT_EQ(j["ringside"]["sensor"], "ebpf");
  EXPECT_EQ(j["ringside"]["verdict"], "deny");
  EXPECT_EQ(j["ringside"]["rule"], "r1");
  EXPECT_FALSE(j.contains("file"));
  EXPECT_FALSE(j["process"].contains("executable"));
  for (const auto& [k, v] : j.items()) EXPECT_EQ(k.find('.'), std::string::npos) << k;
}

TEST(Json, HostileStringsStayValid) {
  std::string hostile = "a\nb\"c\\d\te\x01";
  hostile += "\xff\xfe";      // invalid UTF-8
  hostile += "\xc3\xa9";      // valid é
  hostile += "\xed\xa0\x80";  // encoded surrogate: invalid
  hostile += std::string(4096, 'x');
  Event ev(EventType::kFileOpen, 0);
  ev.set(Field::kFilePath, hostile);
  std::string out;
  append_event_json(out, ev);
  const json j = json::parse(out);  // throws on invalid JSON or UTF-8
  const std::string back = j["file"]["path"];
  EXPECT_EQ(back.substr(0, 10), "a\nb\"c\\d\te\x01");
  EXPECT_NE(back.find("\xc3\xa9"), std::string::npos);
  EXPECT_NE(back.find("\xef\xbf\xbd"), std::string::npos);
  EXPECT_EQ(back.size() >= 4096, true);
}

TEST(Json, RoundTripThroughDecoder) {
  Event ev(EventType::kProcessExit, 1'600'000'000'500'000'000);
  ev.set_origin(Level::kUser, "preload");
  ev.set(Field::kProcessPid, int64_t{99});
  ev.set(Field::kProcessExitCode, int64_t{-9});
  ev.set(Field::kProcessArgs, std::vector<std::string>{"x"});
  std::string out;
  append_event_json(out, ev);
  auto back = parse_event_json(out);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->type(), EventType::kProcessExit);
  EXPECT_EQ(back->timestamp_ns(), ev.timestamp_ns());
  EXPECT_EQ(back->get_int(Field::kProcessExitCode), -9);
  EXPECT_EQ(back->level(), Level::kUser);
  std::string again;
  append_event_json(again, *back);
  EXPECT_EQ(out, again);
}

// A line that names a level and no sensor decodes to an event that names none either: the decoder
// adds nothing the line did not say (the replay sensor names itself where a line named no sensor).
TEST(Json, ALevelWithoutASensorRoundTrips) {
  const std::string line =
      R"({"@timestamp":"2020-09-13T12:26:40.000000000Z","event":{"category":"ringside",)"
      R"("action":"tamper"},"ringside":{"level":"kernel"}})"
      "\n";
  auto back = parse_event_json(line);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->level(), Level::kKernel);
  EXPECT_FALSE(back->has(Field::kRingsideSensor));
  std::string again;
  append_event_json(again, *back);
  EXPECT_EQ(again, line);
}

TEST(Json, DecoderRejectsValuesOutsideTheirDomain) {
  auto bad_level = parse_event_json(
      R"({"event":{"category":"process","action":"exec"},"ringside":{"level":"kernal"}})");
  ASSERT_FALSE(bad_level);
  EXPECT_NE(bad_level.error().message.find("kernal"), std::string::npos);
  EXPECT_FALSE(parse_rfc3339("1500-01-01T00:00:00Z"));  // before 1677: outside int64 ns
  EXPECT_FALSE(parse_rfc3339("2300-01-01T00:00:00Z"));  // after 2262
  auto ok = parse_rfc3339("2262-04-11T23:47:16.854775807Z");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, INT64_MAX);
}

// A record's timestamp is a claim: out-of-range values saturate instead of overflowing.
TEST(Clock, BootToRealtimeSaturates) {
  EXPECT_EQ(clock::boot_to_realtime(INT64_MAX), INT64_MAX);
  EXPECT_GT(clock::boot_to_realtime(clock::boottime_ns()), 1600000000LL * 1000000000);
  EXPECT_EQ(clock::ticks_to_boot_ns(INT64_MAX), INT64_MAX);
}

// A process's start time is the key that joins its events from every sensor: converting the same
// boot time from several threads, interleaved with conversions of far-off times and across the
// once-a-second recheck of the epoch, gives one value, and the inverse gives the boot time back.
TEST(Clock, ProcessStartIsTheSameWhoeverConvertsItAndWhen) {
  const int64_t boot = clock::boottime_ns() - 3600LL * 1000000000;
  const int64_t first = clock::start_to_realtime(boot);
  EXPECT_EQ(clock::start_to_boot(first), boot);
  std::atomic<int> differing{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const int64_t until = clock::monotonic_ns() + 1300LL * 1000000;
      while (clock::monotonic_ns() < until) {
        (void)clock::boot_to_realtime(boot - t * 5000000000LL);
        (void)clock::start_to_realtime(clock::boottime_ns());
        if (clock::start_to_realtime(boot) != first) differing.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(differing.load(), 0);
  EXPECT_EQ(clock::start_to_realtime(INT64_MAX), INT64_MAX);
  const int64_t wall = clock::start_to_realtime(clock::boottime_ns());
  EXPECT_LT(std::llabs(wall - clock::realtime_ns()), 1000000000LL);
}

// The slack is the calling thread's: a batching thread allows it, the others keep theirs.
TEST(Clock, BatchSlackIsTheCallingThreadsAlone) {
  const int before = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  int batching = 0;
  std::thread t([&] {
    clock::allow_batch_slack();
    batching = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  });
  t.join();
  EXPECT_EQ(batching, clock::kBatchSlackNs);
  EXPECT_EQ(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0), before);
}

TEST(Json, DecoderRejectsUnknownFields) {
  EXPECT_FALSE(parse_event_json(R"({"event":{"category":"process","action":"exec"},"nope":1})"));
  EXPECT_FALSE(parse_event_json(R"({"event":{"category":"process","action":"teleport"}})"));
  EXPECT_FALSE(parse_event_json("not json"));
  EXPECT_FALSE(parse_event_json(R"({"process":{"pid":"seven"}})"));
}

TEST(Json, Rfc3339) {
  std::string s;
  append_rfc3339(s, 0);
  EXPECT_EQ(s, "1970-01-01T00:00:00.000000000Z");
  s.clear();
  append_rfc3339(s, -1);
  EXPECT_EQ(s, "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(*parse_rfc3339("2026-11-23T19:17:51.5Z"), 1'795'461'471'500'000'000);
  EXPECT_FALSE(parse_rfc3339("2026-11-23 19:17:51Z"));
}

}  // namespace
}  // namespace ringside
