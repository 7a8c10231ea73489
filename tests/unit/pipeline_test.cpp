// The whole pipeline without a kernel: replayed events -> enrichment -> policy -> sinks.

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include "agent/agent.hpp"
#include "core/json.hpp"
#include "sensors/replay/replay_sensor.hpp"
#include "sinks/jsonl_sink.hpp"

namespace ringside {
namespace {

class MemorySink final : public Sink {
 public:
  explicit MemorySink(std::vector<Event>* out) : out_(out) {}
  std::string_view name() const override { return "memory"; }
  void write(const Event& ev) override { out_->push_back(ev); }
  void flush() override {}
  SinkStats stats() const override { return {out_->size(), 0}; }

 private:
  std::vector<Event>* out_;
};

std::shared_ptr<const policy::Policy> load(const std::string& yaml) {
  std::vector<policy::ParseError> errors;
  auto r = policy::Policy::parse(yaml, "t.yaml", &errors);
  EXPECT_TRUE(r) << (errors.empty() ? "" : errors[0].to_string());
  return r ? *r : nullptr;
}

Event exec_event(int pid, const std::string& exe) {
  Event ev(EventType::kProcessExec, 1000 + pid);
  ev.set(Field::kProcessPid, int64_t{pid});
  ev.set(Field::kProcessParentPid, static_cast<int64_t>(getpid()));
  ev.set(Field::kProcessExecutable, exe);
  ev.set(Field::kUserId, int64_t{0});
  return ev;
}

TEST(Pipeline, ReplayedEventsAreDecidedEnrichedAndWritten) {
  auto pol = load(R"(rules:
  - {name: tmp, on: process.exec, match: {process.executable: {prefix: /tmp/}}, action: alert}
  - {name: bad, on: process.exec, match: {process.name: bad}, action: deny}
)");
  std::vector<Event> written;
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::make_unique<MemorySink>(&written));
  std::vector<std::unique_ptr<Sensor>> sensors;
  auto* replay = new ReplaySensor(
      {exec_event(1001, "/tmp/x"), exec_event(1002, "/opt/bad"), exec_event(1003, "/usr/bin/env")},
      ReplaySensor::Options{});
  sensors.emplace_back(replay);
  AgentOptions opts;
  auto agent = Agent::create_with(opts, pol, std::move(sensors), std::move(sinks));
  ASSERT_TRUE(agent);
  ASSERT_TRUE((*agent)->start());
  replay->wait_done();
  (*agent)->stop();
  ASSERT_EQ(written.size(), 3u);
  EXPECT_EQ(written[0].get_str(Field::kRingsideVerdict), "alert");
  EXPECT_EQ(written[0].get_str(Field::kRingsideRule), "tmp");
  EXPECT_EQ(written[1].get_str(Field::kRingsideVerdict), "deny");
  EXPECT_EQ(written[1].get_str(Field::kProcessName), "bad");  // enrichment derived the name
  EXPECT_EQ(written[2].get_str(Field::kRingsideVerdict), "allow");
  EXPECT_FALSE(written[2].has(Field::kRingsideRule));
  EXPECT_EQ(written[2].get_str(Field::kRingsideSensor), "replay");
  // Sequence numbers are gap-free in emission order.
  for (size_t i = 0; i < written.size(); ++i) {
    EXPECT_EQ(written[i].get_int(Field::kEventSequence), static_cast<int64_t>(i + 1));
  }
  // The parent (this test) is real: enrichment filled its executable from /proc.
  EXPECT_EQ(written[0].get_str(Field::kProcessParentExecutable),
            std::filesystem::read_symlink("/proc/self/exe").string());
}

// A hooked process names its parent when it execs in place. The process table's knowledge
// wins (this test is in it: the table is seeded from /proc at start); the claim stands for a
// process the table does not know, such as one already reaped before its report was read, and
// the ancestry starts at the parent it named.
TEST(Pipeline, ClaimedParentStandsOnlyForAProcessAlreadyGone) {
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_GT(gone, 0);
  ASSERT_EQ(waitpid(gone, nullptr, 0), gone);
  Event alive = exec_event(getpid(), "/bin/true");
  alive.set(Field::kProcessParentPid, int64_t{1});
  alive.set_origin(Level::kUser, "preload");
  Event reaped = exec_event(gone, "/bin/true");  // claims this test as its parent
  reaped.set_origin(Level::kUser, "preload");
  std::vector<Event> written;
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::make_unique<MemorySink>(&written));
  std::vector<std::unique_ptr<Sensor>> sensors;
  auto* replay = new ReplaySensor({alive, reaped}, ReplaySensor::Options{});
  sensors.emplace_back(replay);
  auto agent = Agent::create_with({}, load("rules: []\n"), std::move(sensors), std::move(sinks));
  ASSERT_TRUE(agent);
  ASSERT_TRUE((*agent)->start());
  replay->wait_done();
  (*agent)->stop();
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0].get_int(Field::kProcessParentPid), static_cast<int64_t>(getppid()));
  EXPECT_EQ(written[1].get_int(Field::kProcessParentPid), static_cast<int64_t>(getpid()));
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  EXPECT_EQ(written[1].get_str(Field::kProcessParentExecutable), self);
  const auto ancestors = written[1].get_list(Field::kRingsideAncestors).to_vector();
  ASSERT_FALSE(ancestors.empty());
  EXPECT_EQ(ancestors.front(), self);
}

TEST(Pipeline, JsonlRoundTripThroughReplay) {
  const std::string dir = std::filesystem::temp_directory_path() / "ringside-pipeline-test";
  std::filesystem::create_directories(dir);
  const std::string in_path = dir + "/in.jsonl", out_path = dir + "/out.jsonl";
  {
    std::ofstream in(in_path, std::ios::trunc);
    std::string line;
    Event ev = exec_event(77, "/bin/true");
    ev.set_origin(Level::kUser, "preload");
    append_event_json(line, ev);
    in << line << "\n";  // blank lines are skipped
  }
  auto replay = ReplaySensor::from_jsonl(in_path, {});
  ASSERT_TRUE(replay) << replay.error().message;
  auto* r = replay->get();
  std::vector<std::unique_ptr<Sensor>> sensors;
  sensors.push_back(std::move(replay).value());
  std::vector<std::unique_ptr<Sink>> sinks;
  std::filesystem::remove(out_path);
  sinks.push_back(std::move(JsonlSink::open(out_path)).value());
  auto agent = Agent::create_with({}, load("rules: []\n"), std::move(sensors), std::move(sinks));
  ASSERT_TRUE((*agent)->start());
  r->wait_done();
  (*agent)->stop();
  std::ifstream out(out_path);
  std::string line;
  ASSERT_TRUE(std::getline(out, line));
  EXPECT_NE(line.find("\"level\":\"user\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"sensor\":\"preload\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"verdict\":\"allow\""), std::string::npos) << line;
  std::filesystem::remove_all(dir);
}

TEST(Pipeline, BadReplayFileNamesTheLine) {
  const std::string path = std::filesystem::temp_directory_path() / "ringside-bad-replay.jsonl";
  {
    std::ofstream out(path, std::ios::trunc);
    out << "{\"event\":{\"category\":\"process\",\"action\":\"exec\"}}\n{oops\n";
  }
  auto r = ReplaySensor::from_jsonl(path, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind(path + ":2: ", 0), 0u) << r.error().message;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ringside
