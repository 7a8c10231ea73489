// The exec sensor's decision flow against a fake fanotify: what is answered, when, how often,
// what is reported and what is cached. No privileges needed.

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "agent/hash_cache.hpp"
#include "agent/process_table.hpp"
#include "sensors/kernel/exec_fanotify.hpp"

namespace ringside {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Pids of the fake events lie above PID_MAX_LIMIT (2^22), so none can be this test's own pid:
// the sensors let their own process through without asking the policy.
constexpr int32_t kFakePid = 1 << 22;

// Groups are eventfds (pollable like the real ones); events carry real descriptors of test
// files so that the sensor can readlink and hash them.
class FakeFanotify final : public Fanotify {
 public:
  struct MarkCall {
    int group;
    unsigned flags;
    uint64_t mask;
    int dirfd;
    std::string path;
    int event;  // id of the event whose descriptor was marked, 0 otherwise
  };

  Result<int> init(unsigned flags, unsigned event_f_flags) override {
    EXPECT_EQ(flags, FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK);
    EXPECT_EQ(event_f_flags, static_cast<unsigned>(O_RDONLY | O_LARGEFILE | O_CLOEXEC));
    const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    std::lock_guard lock(mu_);
    groups_.push_back(fd);
    return fd;
  }

  Result<void> mark(int group, unsigned flags, uint64_t mask, int dirfd,
                    const char* path) override {
    std::lock_guard lock(mu_);
    auto it = ids_.find(dirfd);
    marks_.push_back({group, flags, mask, dirfd, path != nullptr ? path : "",
                      (path == nullptr && it != ids_.end()) ? it->second : 0});
    return ok();
  }

  Result<size_t> read(int group, void* buf, size_t len) override {
    std::lock_guard lock(mu_);
    uint64_t v = 0;
    (void)!::read(group, &v, sizeof v);
    auto& q = queued_[group];
    size_t n = 0;
    while (!q.empty() && n + sizeof(fanotify_event_metadata) <= len) {
      std::memcpy(static_cast<char*>(buf) + n, &q.front(), sizeof(fanotify_event_metadata));
      n += sizeof(fanotify_event_metadata);
      q.pop_front();
    }
    if (!q.empty()) signal(group);
    return n;
  }

  Result<void> respond(int /*group*/, int event_fd, uint32_t response) override {
    std::lock_guard lock(mu_);
    auto it = ids_.find(event_fd);
    EXPECT_NE(it, ids_.end()) << "response for a descriptor that is not an open event";
    responses_.emplace_back(it == ids_.end() ? -1 : it->second, response);
    cv_.notify_all();
    return ok();
  }

  void close(int fd) override {
    std::lock_guard lock(mu_);
    ids_.erase(fd);
    closed_.push_back(fd);
    ::close(fd);
  }

  // Queues a FAN_OPEN_EXEC_PERM event for `file` on the newest group; returns its id.
  int push_exec(const std::string& file, int32_t pid) {
    const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0) << file;
    fanotify_event_metadata m{};
    m.event_len = sizeof m;
    m.vers = FANOTIFY_METADATA_VERSION;
    m.metadata_len = sizeof m;
    m.mask = FAN_OPEN_EXEC_PERM;
    m.fd = fd;
    m.pid = pid;
    std::lock_guard lock(mu_);
    const int id = ++next_id_;
    ids_[fd] = id;
    queued_[groups_.back()].push_back(m);
    signal(groups_.back());
    return id;
  }

  // The responses for event `id`, once at least one arrived (or `timeout` passed).
  std::vector<uint32_t> wait_responses(int id, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !responses_for(id).empty(); });
    return responses_for(id);
  }
  std::vector<uint32_t> responses(int id) {
    std::lock_guard lock(mu_);
    return responses_for(id);
  }
  std::vector<MarkCall> marks() {
    std::lock_guard lock(mu_);
    return marks_;
  }
  std::vector<int> groups() {
    std::lock_guard lock(mu_);
    return groups_;
  }
  bool closed(int fd) {
    std::lock_guard lock(mu_);
    return std::find(closed_.begin(), closed_.end(), fd) != closed_.end();
  }
  // A retired group closes when the last job using it is gone, shortly after the switch.
  bool wait_closed(int fd) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (!closed(fd) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(1ms);
    }
    return closed(fd);
  }

 private:
  void signal(int group) {
    const uint64_t one = 1;
    (void)!::write(group, &one, sizeof one);
  }
  std::vector<uint32_t> responses_for(int id) const {
    std::vector<uint32_t> out;
    for (const auto& [i, r] : responses_) {
      if (i == id) out.push_back(r);
    }
    return out;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> groups_;
  std::map<int, std::deque<fanotify_event_metadata>> queued_;
  std::map<int, int> ids_;  // open event descriptor -> event id
  int next_id_ = 0;
  std::vector<std::pair<int, uint32_t>> responses_;
  std::vector<MarkCall> marks_;
  std::vector<int> closed_;
};

class FakeContext final : public SensorContext {
 public:
  policy::Decision decide(Event& ev) override {
    ++decided;
    policy::Decision d = on_decide ? on_decide(ev) : pol->evaluate(ev, ev.level(), {});
    ev.set_verdict(d.verdict, d.rule != nullptr ? std::string_view(d.rule->name) : "");
    return d;
  }
  void emit(Event&& ev) override {
    std::lock_guard lock(mu);
    emitted.push_back(std::move(ev));
  }
  ProcessTable& processes() override { return table; }
  std::shared_ptr<const policy::Policy> policy() const override { return pol; }
  bool is_agent_file(std::string_view path) const override { return path == agent_file; }

  std::vector<Event> events() {
    std::lock_guard lock(mu);
    return emitted;
  }
  // Events are emitted after the answer: wait for `n` of them.
  std::vector<Event> wait_events(size_t n) {
    const auto until = Clock::now() + 5s;
    while (events().size() < n && Clock::now() < until) std::this_thread::sleep_for(1ms);
    return events();
  }

  std::shared_ptr<const policy::Policy> pol;
  std::function<policy::Decision(Event&)> on_decide;
  std::atomic<int> decided{0};
  std::string agent_file;
  ProcessTable table;
  std::mutex mu;
  std::vector<Event> emitted;
};

class ExecFanotifyDecision : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ringside-fan-unit-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    denied_ = write("denied", "denied content");
    allowed_ = write("allowed", "allowed content");
    struct stat st {};
    ASSERT_EQ(stat(dir_.c_str(), &st), 0);
    // The mount table the sensor plans with: one filesystem, the test directory's.
    mountinfo_ = (dir_ / "mountinfo").string();
    std::ofstream(mountinfo_) << "1 0 " << major(st.st_dev) << ":" << minor(st.st_dev)
                              << " / / rw - ext4 /dev/x rw\n";
  }
  void TearDown() override {
    if (sensor_) sensor_->stop();
    std::filesystem::remove_all(dir_);
  }

  std::string write(const std::string& name, const std::string& content) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::trunc) << content;
    return p;
  }

  // Loads `rules` (with settings) as the policy and starts the sensor on it.
  void start(const std::string& settings, const std::string& rules) {
    std::vector<policy::ParseError> errors;
    auto pol =
        policy::Policy::parse("settings: " + settings + "\nrules:\n" + rules, "t.yaml", &errors);
    ASSERT_TRUE(pol) << (errors.empty() ? pol.error().message : errors[0].to_string());
    ctx_.pol = *pol;
    ExecFanotifySensor::Options o;
    o.fanotify = fake_;
    o.mountinfo_path = mountinfo_;
    sensor_ = std::make_unique<ExecFanotifySensor>(o);
    ASSERT_TRUE(sensor_->start(ctx_));
    auto r = sensor_->apply_policy(*ctx_.pol);
    ASSERT_TRUE(r) << r.error().message;
  }

  std::string deny_path_rule() const {
    return "  - {name: no-denied, on: process.exec, match: {process.executable: " + denied_ +
           "}, action: deny}\n";
  }
  std::string deny_hash_rule() const {
    return "  - name: no-denied-content\n    on: process.exec\n    match:\n"
           "      process.executable: {prefix: " +
           dir_.string() + "/, sha256: " + sha256_hex("denied content") + "}\n    action: deny\n";
  }

  size_t ignore_marks_for(int id) {
    size_t n = 0;
    for (const auto& m : fake_->marks()) {
      if (m.event == id && (m.flags & FAN_MARK_IGNORED_MASK) != 0 &&
          (m.flags & FAN_MARK_ADD) != 0 && m.mask == FAN_OPEN_EXEC_PERM) {
        ++n;
      }
    }
    return n;
  }

  std::filesystem::path dir_;
  std::string denied_, allowed_, mountinfo_;
  std::shared_ptr<FakeFanotify> fake_ = std::make_shared<FakeFanotify>();
  FakeContext ctx_;
  std::unique_ptr<ExecFanotifySensor> sensor_;
};

const std::string kOpen = "{fail_mode: open, decision_deadline_ms: 2000}";
const std::string kClosed = "{fail_mode: closed, decision_deadline_ms: 2000}";

TEST_F(ExecFanotifyDecision, NoDenyRuleCreatesNoGroup) {
  start(kOpen, "  - {name: a, on: process.exec, match: {process.name: x}, action: alert}\n");
  EXPECT_TRUE(fake_->groups().empty());
  EXPECT_TRUE(fake_->marks().empty());
}

TEST_F(ExecFanotifyDecision, MarksTheDirectoryOfADeniedPath) {
  start(kOpen, deny_path_rule());
  ASSERT_EQ(fake_->groups().size(), 1u);
  const auto marks = fake_->marks();
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(marks[0].path, std::filesystem::canonical(dir_).string());
  EXPECT_EQ(marks[0].flags, static_cast<unsigned>(FAN_MARK_ADD));
  EXPECT_EQ(marks[0].mask, FAN_OPEN_EXEC_PERM | FAN_EVENT_ON_CHILD);
}

TEST_F(ExecFanotifyDecision, DeniesAnswersOnceAndReports) {
  start(kOpen, deny_path_rule());
  const int id = fake_->push_exec(denied_, kFakePid + 42);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_DENY});
  const auto events = ctx_.wait_events(1);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(fake_->responses(id).size(), 1u);
  ASSERT_EQ(events.size(), 1u);
  const Event& ev = events[0];
  EXPECT_EQ(ev.type(), EventType::kProcessExec);
  EXPECT_EQ(ev.get_str(Field::kRingsideSensor), "fanotify");
  EXPECT_EQ(ev.get_str(Field::kRingsideLevel), "kernel");
  EXPECT_EQ(ev.get_str(Field::kRingsideVerdict), "deny");
  EXPECT_EQ(ev.get_str(Field::kRingsideRule), "no-denied");
  EXPECT_EQ(ev.get_str(Field::kRingsideEnforcement), "blocked");
  EXPECT_EQ(ev.get_str(Field::kEventOutcome), "failure");
  EXPECT_EQ(ev.get_str(Field::kProcessExecutable), denied_);
  EXPECT_EQ(ev.get_int(Field::kProcessPid), kFakePid + 42);
  EXPECT_EQ(ev.get_str(Field::kProcessHashSha256), sha256_hex("denied content"));
  EXPECT_EQ(sensor_->stats().denied, 1u);
  EXPECT_EQ(sensor_->stats().seen, 1u);
  EXPECT_EQ(sensor_->stats().defaulted, 0u);
}

TEST_F(ExecFanotifyDecision, AllowIsSilentAndNotCachedUnderAPathRule) {
  start(kOpen, deny_path_rule());
  const int id = fake_->push_exec(allowed_, kFakePid + 43);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_ALLOW});
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(ctx_.events().empty());
  // Renaming or linking this inode to the denied name must not inherit the allow.
  EXPECT_EQ(ignore_marks_for(id), 0u);
}

TEST_F(ExecFanotifyDecision, AllowUnderAContentRuleIsCachedOnTheInode) {
  start(kOpen, deny_hash_rule());
  const int allowed = fake_->push_exec(allowed_, kFakePid + 44);
  EXPECT_EQ(fake_->wait_responses(allowed, 5s), std::vector<uint32_t>{FAN_ALLOW});
  const int denied = fake_->push_exec(denied_, kFakePid + 45);
  EXPECT_EQ(fake_->wait_responses(denied, 5s), std::vector<uint32_t>{FAN_DENY});
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(ignore_marks_for(allowed), 1u);
  EXPECT_EQ(ignore_marks_for(denied), 0u);
}

TEST_F(ExecFanotifyDecision, DeferredAllowsWithoutCaching) {
  start(kOpen, deny_hash_rule());
  ctx_.on_decide = [](Event&) { return policy::Decision{Verdict::kAllow, nullptr, true}; };
  const int id = fake_->push_exec(allowed_, kFakePid + 46);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_ALLOW});
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(ignore_marks_for(id), 0u);
  EXPECT_TRUE(ctx_.events().empty());
}

TEST_F(ExecFanotifyDecision, AlertAllowsAndReports) {
  start(kOpen, deny_hash_rule());
  ctx_.on_decide = [](Event&) { return policy::Decision{Verdict::kAlert, nullptr, false}; };
  const int id = fake_->push_exec(allowed_, kFakePid + 47);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_ALLOW});
  const auto events = ctx_.wait_events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].get_str(Field::kRingsideVerdict), "alert");
  EXPECT_EQ(events[0].get_str(Field::kEventOutcome), "success");
  EXPECT_EQ(ignore_marks_for(id), 0u);
}

// A decision slower than the deadline: the fail-mode default answers, once, and is counted.
TEST_F(ExecFanotifyDecision, LateDecisionGetsTheFailClosedDefault) {
  start("{fail_mode: closed, decision_deadline_ms: 30}", deny_hash_rule());
  ctx_.on_decide = [](Event&) {
    std::this_thread::sleep_for(400ms);
    return policy::Decision{};
  };
  const auto t0 = Clock::now();
  const int id = fake_->push_exec(allowed_, kFakePid + 48);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_DENY});
  EXPECT_LT(Clock::now() - t0, 300ms);
  std::this_thread::sleep_for(600ms);  // the late decision must not answer again
  EXPECT_EQ(fake_->responses(id).size(), 1u);
  EXPECT_EQ(sensor_->stats().defaulted, 1u);
  const auto events = ctx_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].get_str(Field::kRingsideEnforcement), "default");
  EXPECT_EQ(events[0].get_str(Field::kRingsideVerdict), "deny");
  EXPECT_EQ(events[0].get_str(Field::kProcessExecutable), allowed_);
  EXPECT_EQ(ignore_marks_for(id), 0u);
}

TEST_F(ExecFanotifyDecision, LateDecisionGetsTheFailOpenDefault) {
  start("{fail_mode: open, decision_deadline_ms: 30}", deny_hash_rule());
  ctx_.on_decide = [&](Event& ev) {
    std::this_thread::sleep_for(400ms);
    return ctx_.pol->evaluate(ev, ev.level(), {});
  };
  const int id = fake_->push_exec(denied_, kFakePid + 49);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_ALLOW});
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(fake_->responses(id).size(), 1u);
  EXPECT_EQ(sensor_->stats().defaulted, 1u);
  EXPECT_EQ(sensor_->stats().denied, 0u);
}

TEST_F(ExecFanotifyDecision, ThrowingDecisionAnswersTheDefaultOnceAtOnce) {
  start(kClosed, deny_hash_rule());
  ctx_.on_decide = [](Event&) -> policy::Decision { throw std::runtime_error("boom"); };
  const auto t0 = Clock::now();
  const int id = fake_->push_exec(allowed_, kFakePid + 50);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_DENY});
  EXPECT_LT(Clock::now() - t0, 1s);  // well before the 2 s deadline
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(fake_->responses(id).size(), 1u);
  EXPECT_EQ(sensor_->stats().defaulted, 1u);
  EXPECT_GE(sensor_->stats().errors, 1u);
}

TEST_F(ExecFanotifyDecision, OwnPidAndOwnFilesAreAllowedUndecided) {
  ctx_.agent_file = denied_;
  start(kClosed, deny_path_rule());
  const int own_pid = fake_->push_exec(allowed_, getpid());
  EXPECT_EQ(fake_->wait_responses(own_pid, 5s), std::vector<uint32_t>{FAN_ALLOW});
  const int own_file = fake_->push_exec(denied_, kFakePid + 51);
  EXPECT_EQ(fake_->wait_responses(own_file, 5s), std::vector<uint32_t>{FAN_ALLOW});
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(ctx_.decided.load(), 0);
  EXPECT_EQ(ignore_marks_for(own_file), 1u);
}

TEST_F(ExecFanotifyDecision, ManyEventsAreEachAnsweredExactlyOnce) {
  start(kOpen, deny_path_rule());
  std::vector<std::pair<int, bool>> ids;
  // More than the sensor keeps pending at once: the rest waits in the (fake) kernel queue.
  for (int i = 0; i < 600; ++i) {
    const bool deny = i % 3 == 0;
    ids.emplace_back(fake_->push_exec(deny ? denied_ : allowed_, kFakePid + 1000 + i), deny);
  }
  for (const auto& [id, deny] : ids) {
    EXPECT_EQ(fake_->wait_responses(id, 5s),
              std::vector<uint32_t>{deny ? uint32_t{FAN_DENY} : uint32_t{FAN_ALLOW}})
        << id;
  }
  std::this_thread::sleep_for(50ms);
  for (const auto& [id, deny] : ids) EXPECT_EQ(fake_->responses(id).size(), 1u);
  EXPECT_EQ(ctx_.wait_events(200).size(), 200u);
  EXPECT_EQ(sensor_->stats().seen, 600u);
  EXPECT_EQ(sensor_->stats().denied, 200u);
  EXPECT_EQ(sensor_->stats().defaulted, 0u);
}

TEST_F(ExecFanotifyDecision, NewPolicyReplacesTheGroupAndRetiresTheOld) {
  start(kOpen, deny_path_rule());
  ASSERT_EQ(fake_->groups().size(), 1u);
  const int old_group = fake_->groups()[0];
  auto next = policy::Policy::parse("rules:\n" + deny_hash_rule(), "t2.yaml", nullptr);
  ASSERT_TRUE(next);
  ctx_.pol = *next;
  ASSERT_TRUE(sensor_->apply_policy(**next));
  ASSERT_EQ(fake_->groups().size(), 2u);
  // The old group's marks are flushed (inode, mount and filesystem marks) and it is closed.
  size_t flushes = 0;
  for (const auto& m : fake_->marks()) {
    if (m.group == old_group && (m.flags & FAN_MARK_FLUSH) != 0) ++flushes;
  }
  EXPECT_EQ(flushes, 3u);
  EXPECT_TRUE(fake_->wait_closed(old_group));
  // The new group decides by the new policy: the old path rule is gone.
  const int id = fake_->push_exec(denied_, kFakePid + 52);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_DENY});
  const auto events = ctx_.wait_events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].get_str(Field::kRingsideRule), "no-denied-content");
  // A policy without deny rules leaves no group at all.
  auto none = policy::Policy::parse("rules: []\n", "t3.yaml", nullptr);
  ASSERT_TRUE(none);
  ctx_.pol = *none;
  ASSERT_TRUE(sensor_->apply_policy(**none));
  EXPECT_TRUE(fake_->wait_closed(fake_->groups()[1]));
}

TEST_F(ExecFanotifyDecision, StopAnswersWhatIsPending) {
  start("{fail_mode: closed, decision_deadline_ms: 10000}", deny_hash_rule());
  std::atomic<bool> release{false};
  ctx_.on_decide = [&](Event&) {
    const auto until = Clock::now() + 3s;
    while (!release.load() && Clock::now() < until) std::this_thread::sleep_for(5ms);
    return policy::Decision{};
  };
  const int id = fake_->push_exec(allowed_, kFakePid + 53);
  while (ctx_.decided.load() == 0) std::this_thread::sleep_for(1ms);
  std::thread releaser([&] {
    std::this_thread::sleep_for(1500ms);
    release.store(true);
  });
  const auto t0 = Clock::now();
  sensor_->stop();
  const auto took = Clock::now() - t0;
  releaser.join();
  // Answered by stop's grace period, long before the 10 s deadline, exactly once.
  EXPECT_EQ(fake_->responses(id), std::vector<uint32_t>{FAN_DENY});
  EXPECT_LT(took, 3s);
  EXPECT_EQ(sensor_->stats().defaulted, 1u);
  EXPECT_TRUE(fake_->closed(fake_->groups()[0]));
}

}  // namespace
}  // namespace ringside
