// The open sensor's decision flow against a fake fanotify: what is answered, by whom, when, how
// often, what is reported and what is cached. No privileges needed.

#include <signal.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/hash_cache.hpp"
#include "fake_context.hpp"
#include "fake_fanotify.hpp"
#include "sensors/kernel/open_fanotify.hpp"

namespace ringside {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing_fanotify::FakeContext;
using testing_fanotify::FakeFanotify;
using testing_fanotify::kFakePid;

constexpr uint64_t kOpenAndRead = FAN_OPEN_PERM | FAN_ACCESS_PERM;

class OpenFanotifyDecision : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ringside-open-unit-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    dir_ = std::filesystem::canonical(dir_);
    denied_ = write("denied", "denied content");
    allowed_ = write("allowed", "allowed content");
    struct stat st {};
    ASSERT_EQ(stat(dir_.c_str(), &st), 0);
    mountinfo_ = (dir_ / "mountinfo").string();
    std::ofstream(mountinfo_) << "1 0 " << major(st.st_dev) << ":" << minor(st.st_dev)
                              << " / / rw - ext4 /dev/x rw\n";
  }
  void TearDown() override {
    if (sensor_) sensor_->stop();
    if (child_ > 0) {
      kill(child_, SIGKILL);
      waitpid(child_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  std::string write(const std::string& name, const std::string& content) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::trunc) << content;
    return p;
  }

  void start(const std::string& settings, const std::string& rules) {
    auto pol = parse(settings, rules);
    ASSERT_TRUE(pol);
    ctx_.set_policy(pol);
    OpenFanotifySensor::Options o;
    o.fanotify = fake_;
    o.mountinfo_path = mountinfo_;
    sensor_ = std::make_unique<OpenFanotifySensor>(o);
    ASSERT_TRUE(sensor_->start(ctx_));
    auto r = sensor_->apply_policy(*ctx_.policy());
    ASSERT_TRUE(r) << r.error().message;
  }
  static std::shared_ptr<const policy::Policy> parse(const std::string& settings,
                                                     const std::string& rules) {
    std::vector<policy::ParseError> errors;
    auto pol =
        policy::Policy::parse("settings: " + settings + "\nrules:\n" + rules, "t.yaml", &errors);
    EXPECT_TRUE(pol) << (errors.empty() ? pol.error().message : errors[0].to_string());
    return pol ? *pol : nullptr;
  }

  std::string deny_path_rule() const {
    return "  - {name: no-denied, on: file.open, match: {file.path: " + denied_ +
           "}, action: deny}\n";
  }
  std::string deny_content_rule() const {
    return "  - name: no-denied-content\n    on: file.open\n    match:\n"
           "      file.path: {prefix: " +
           dir_.string() + "/, sha256: " + sha256_hex("denied content") + "}\n    action: deny\n";
  }

  // A child that only waits: a real process whose executable is this test program.
  pid_t spawn_child() {
    child_ = fork();
    if (child_ == 0) {
      pause();
      _exit(0);
    }
    return child_;
  }

  std::filesystem::path dir_;
  std::string denied_, allowed_, mountinfo_;
  std::shared_ptr<FakeFanotify> fake_ = std::make_shared<FakeFanotify>();
  FakeContext ctx_;
  std::unique_ptr<OpenFanotifySensor> sensor_;
  pid_t child_ = 0;
};

const std::string kOpen = "{fail_mode: open, decision_deadline_ms: 2000}";
const std::string kClosed = "{fail_mode: closed, decision_deadline_ms: 2000}";

TEST_F(OpenFanotifyDecision, NoDenyRuleCreatesNoGroup) {
  start(kOpen,
        "  - {name: a, on: file.open, match: {file.path: {prefix: /srv/}}, action: alert}\n");
  EXPECT_TRUE(fake_->groups().empty());
  EXPECT_TRUE(fake_->marks().empty());
}

TEST_F(OpenFanotifyDecision, MarksTheDirectoryOfADeniedPathForOpens) {
  start(kOpen, deny_path_rule());
  ASSERT_EQ(fake_->inits().size(), 1u);
  EXPECT_EQ(fake_->inits()[0].flags, FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK);
  const auto marks = fake_->marks();
  ASSERT_GE(marks.size(), 1u);
  EXPECT_EQ(marks[0].path, dir_.string());
  EXPECT_EQ(marks[0].flags, static_cast<unsigned>(FAN_MARK_ADD));
  EXPECT_EQ(marks[0].mask, FAN_OPEN_PERM | FAN_EVENT_ON_CHILD);
}

TEST_F(OpenFanotifyDecision, DeniesOnceAndReports) {
  start(kOpen, deny_path_rule());
  const int id = fake_->push_perm(denied_, kFakePid + 42);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_DENY});
  const auto events = ctx_.wait_events(1);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(fake_->responses(id).size(), 1u);
  ASSERT_EQ(events.size(), 1u);
  const Event& ev = events[0];
  EXPECT_EQ(ev.type(), EventType::kFileOpen);
  EXPECT_EQ(ev.get_str(Field::kRingsideSensor), "fanotify");
  EXPECT_EQ(ev.get_str(Field::kRingsideLevel), "kernel");
  EXPECT_EQ(ev.get_str(Field::kRingsideVerdict), "deny");
  EXPECT_EQ(ev.get_str(Field::kRingsideRule), "no-denied");
  EXPECT_EQ(ev.get_str(Field::kRingsideEnforcement), "blocked");
  EXPECT_EQ(ev.get_str(Field::kEventOutcome), "failure");
  EXPECT_EQ(ev.get_str(Field::kFilePath), denied_);
  EXPECT_EQ(ev.get_int(Field::kProcessPid), kFakePid + 42);
  struct stat st {};
  ASSERT_EQ(stat(denied_.c_str(), &st), 0);
  EXPECT_EQ(ev.get_int(Field::kFileInode), static_cast<int64_t>(st.st_ino));
  EXPECT_FALSE(ev.has(Field::kFileHashSha256));  // a path rule needs no hash
  EXPECT_EQ(sensor_->stats().denied, 1u);
  EXPECT_EQ(sensor_->stats().defaulted, 0u);
}

TEST_F(OpenFanotifyDecision, AllowIsSilentAndNotCachedUnderAPathRule) {
  start(kOpen, deny_path_rule());
  const int id = fake_->push_perm(allowed_, kFakePid + 43);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_ALLOW});
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(ctx_.events().empty());
  // Renaming or linking this inode to the denied name must not inherit the allow.
  EXPECT_EQ(fake_->ignore_marks_for(id, FAN_OPEN_PERM), 0u);
}

TEST_F(OpenFanotifyDecision, ContentRuleMarksReadsHashesAndCachesAllows) {
  start(kOpen, deny_content_rule());
  const auto marks = fake_->marks();
  ASSERT_GE(marks.size(), 1u);
  EXPECT_EQ(marks[0].flags, FAN_MARK_ADD | FAN_MARK_FILESYSTEM);
  EXPECT_EQ(marks[0].mask, kOpenAndRead);
  const int allowed = fake_->push_perm(allowed_, kFakePid + 44);
  EXPECT_EQ(fake_->wait_responses(allowed, 5s), std::vector<uint32_t>{FAN_ALLOW});
  const int denied = fake_->push_perm(denied_, kFakePid + 45);
  EXPECT_EQ(fake_->wait_responses(denied, 5s), std::vector<uint32_t>{FAN_DENY});
  const auto events = ctx_.wait_events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].get_str(Field::kFileHashSha256), sha256_hex("denied content"));
  EXPECT_EQ(events[0].get_str(Field::kRingsideRule), "no-denied-content");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(fake_->ignore_marks_for(allowed, kOpenAndRead), 1u);
  EXPECT_EQ(fake_->ignore_marks_for(denied, kOpenAndRead), 0u);
}

TEST_F(OpenFanotifyDecision, ReadOfDeniedContentIsDeniedAndSaysSo) {
  start(kOpen, deny_content_rule());
  const int id = fake_->push_perm(denied_, kFakePid + 46, FAN_ACCESS_PERM);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_DENY});
  const auto events = ctx_.wait_events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].has(Field::kRingsideMessage));
  EXPECT_FALSE(events[0].has(Field::kRingsideFileFlags));
}

TEST_F(OpenFanotifyDecision, OwnPidAndOwnFilesAreAllowedUndecided) {
  const std::string own = write("own-output", "agent output");
  ctx_.own_files = {own};
  start(kClosed, deny_path_rule());
  // The agent's files get an ignore mark by name, before any event.
  bool exempted = false;
  for (const auto& m : fake_->marks()) {
    exempted = exempted || (m.path == own && (m.flags & FAN_MARK_IGNORED_MASK) != 0 &&
                            (m.flags & FAN_MARK_IGNORED_SURV_MODIFY) != 0);
  }
  EXPECT_TRUE(exempted);
  const int own_pid = fake_->push_perm(denied_, getpid());
  EXPECT_EQ(fake_->wait_responses(own_pid, 5s), std::vector<uint32_t>{FAN_ALLOW});
  const int own_file = fake_->push_perm(own, kFakePid + 47);
  EXPECT_EQ(fake_->wait_responses(own_file, 5s), std::vector<uint32_t>{FAN_ALLOW});
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(ctx_.decided.load(), 0);
  EXPECT_EQ(fake_->ignore_marks_for(own_file, FAN_OPEN_PERM), 1u);
}

TEST_F(OpenFanotifyDecision, ProcessRuleDeniesOnlyThatProgramAndIsNeverCached) {
  const pid_t child = spawn_child();
  const std::string self_exe = std::filesystem::canonical("/proc/self/exe").string();
  start(kOpen,
        "  - name: not-this-program\n    on: file.open\n    match:\n      file.path: {prefix: " +
            dir_.string() + "/}\n      process.executable: " + self_exe + "\n    action: deny\n");
  const int by_child = fake_->push_perm(allowed_, child);
  EXPECT_EQ(fake_->wait_responses(by_child, 5s), std::vector<uint32_t>{FAN_DENY});
  // A process that is gone has no executable: the rule cannot hold.
  const int by_other = fake_->push_perm(allowed_, 0x7ffffff0);
  EXPECT_EQ(fake_->wait_responses(by_other, 5s), std::vector<uint32_t>{FAN_ALLOW});
  const auto events = ctx_.wait_events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].get_str(Field::kProcessExecutable), self_exe);
  EXPECT_EQ(events[0].get_int(Field::kProcessPid), child);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(fake_->ignore_marks_for(by_other, FAN_OPEN_PERM), 0u);
}

TEST_F(OpenFanotifyDecision, LateDecisionGetsTheFailClosedDefault) {
  start("{fail_mode: closed, decision_deadline_ms: 30}", deny_content_rule());
  ctx_.on_decide = [](Event&) {
    std::this_thread::sleep_for(400ms);
    return policy::Decision{};
  };
  const auto t0 = Clock::now();
  const int id = fake_->push_perm(allowed_, kFakePid + 48);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_DENY});
  EXPECT_LT(Clock::now() - t0, 300ms);
  std::this_thread::sleep_for(600ms);  // the late decision must not answer again
  EXPECT_EQ(fake_->responses(id).size(), 1u);
  EXPECT_EQ(sensor_->stats().defaulted, 1u);
  const auto events = ctx_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].get_str(Field::kRingsideEnforcement), "default");
  EXPECT_EQ(events[0].get_str(Field::kRingsideVerdict), "deny");
  EXPECT_EQ(events[0].get_str(Field::kFilePath), allowed_);
  EXPECT_EQ(fake_->ignore_marks_for(id, kOpenAndRead), 0u);
}

// Files above the reader's hashing budget are hashed on a worker; the reader's own deadline
// check answers for them.
TEST_F(OpenFanotifyDecision, LateDecisionOnAWorkerGetsTheDefaultToo) {
  const std::string big = write("big", std::string(1 << 20, 'b'));
  start("{fail_mode: closed, decision_deadline_ms: 30}", deny_content_rule());
  ctx_.on_decide = [&](Event&) {
    std::this_thread::sleep_for(400ms);
    return policy::Decision{};
  };
  const auto t0 = Clock::now();
  const int id = fake_->push_perm(big, kFakePid + 61);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_DENY});
  EXPECT_LT(Clock::now() - t0, 300ms);
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(fake_->responses(id).size(), 1u);
  EXPECT_EQ(sensor_->stats().defaulted, 1u);
  const auto events = ctx_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].get_str(Field::kFilePath), big);
  EXPECT_EQ(events[0].get_str(Field::kRingsideEnforcement), "default");
}

TEST_F(OpenFanotifyDecision, LateDecisionGetsTheFailOpenDefault) {
  start("{fail_mode: open, decision_deadline_ms: 30}", deny_content_rule());
  ctx_.on_decide = [&](Event& ev) {
    std::this_thread::sleep_for(400ms);
    return ctx_.policy()->evaluate(ev, ev.level(), {});
  };
  const int id = fake_->push_perm(denied_, kFakePid + 49);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_ALLOW});
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(fake_->responses(id).size(), 1u);
  EXPECT_EQ(sensor_->stats().defaulted, 1u);
  EXPECT_EQ(sensor_->stats().denied, 0u);
}

TEST_F(OpenFanotifyDecision, ManyEventsAreEachAnsweredExactlyOnce) {
  start(kOpen, deny_path_rule());
  std::vector<std::pair<int, bool>> ids;
  for (int i = 0; i < 600; ++i) {
    const bool deny = i % 3 == 0;
    ids.emplace_back(fake_->push_perm(deny ? denied_ : allowed_, kFakePid + 1000 + i), deny);
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

TEST_F(OpenFanotifyDecision, NewPolicyReplacesTheGroupAndItsCache) {
  start(kOpen, deny_content_rule());
  const int cached = fake_->push_perm(allowed_, kFakePid + 50);
  EXPECT_EQ(fake_->wait_responses(cached, 5s), std::vector<uint32_t>{FAN_ALLOW});
  ASSERT_EQ(fake_->groups().size(), 1u);
  const int old_group = fake_->groups()[0];
  auto next = parse(kOpen, deny_path_rule());
  ctx_.set_policy(next);
  ASSERT_TRUE(sensor_->apply_policy(*next));
  ASSERT_EQ(fake_->groups().size(), 2u);
  EXPECT_TRUE(fake_->wait_closed(old_group));  // its ignore marks went with it
  const int id = fake_->push_perm(denied_, kFakePid + 51);
  EXPECT_EQ(fake_->wait_responses(id, 5s), std::vector<uint32_t>{FAN_DENY});
  const auto events = ctx_.wait_events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].get_str(Field::kRingsideRule), "no-denied");
  auto none = parse(kOpen, "  []\n");
  ctx_.set_policy(none);
  ASSERT_TRUE(sensor_->apply_policy(*none));
  EXPECT_TRUE(fake_->wait_closed(fake_->groups()[1]));
}

TEST_F(OpenFanotifyDecision, StopAnswersWhatIsPending) {
  start("{fail_mode: closed, decision_deadline_ms: 10000}", deny_content_rule());
  std::atomic<bool> release{false};
  ctx_.on_decide = [&](Event&) {
    const auto until = Clock::now() + 3s;
    while (!release.load() && Clock::now() < until) std::this_thread::sleep_for(5ms);
    return policy::Decision{};
  };
  const int id = fake_->push_perm(allowed_, kFakePid + 52);
  while (ctx_.decided.load() == 0) std::this_thread::sleep_for(1ms);
  std::thread releaser([&] {
    std::this_thread::sleep_for(1500ms);
    release.store(true);
  });
  const auto t0 = Clock::now();
  sensor_->stop();
  const auto took = Clock::now() - t0;
  releaser.join();
  EXPECT_EQ(fake_->responses(id), std::vector<uint32_t>{FAN_DENY});
  EXPECT_LT(took, 3s);
  EXPECT_EQ(sensor_->stats().defaulted, 1u);
  EXPECT_TRUE(fake_->closed(fake_->groups()[0]));
}

}  // namespace
}  // namespace ringside
