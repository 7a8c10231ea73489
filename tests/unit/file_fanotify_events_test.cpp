// The file notification sensor against a fake fanotify and a fake handle resolver: marks,
// events from synthetic records, rename pairing, modify coalescing, the handle cache, own
// activity, scopes and overflow. No privileges needed.

#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "fake_context.hpp"
#include "fake_fanotify.hpp"
#include "fid_records.hpp"
#include "sensors/kernel/file_fanotify.hpp"

namespace ringside {
namespace {

using namespace std::chrono_literals;
using testing_fanotify::FakeContext;
using testing_fanotify::FakeFanotify;
using testing_fanotify::FidRecordBuilder;
using testing_fanotify::Fsid;
using testing_fanotify::kFakePid;

class FakeResolver final : public HandleResolver {
 public:
  std::optional<std::string> path_of(int /*mount_fd*/, const FileHandleKey& key) override {
    std::lock_guard lock(mu);
    ++calls[key.bytes];
    auto it = paths.find(key.bytes);
    if (it == paths.end()) return std::nullopt;
    return it->second;
  }
  void set(const std::string& handle, std::optional<std::string> path) {
    std::lock_guard lock(mu);
    paths[handle] = std::move(path);
  }
  int calls_for(const std::string& handle) {
    std::lock_guard lock(mu);
    return calls[handle];
  }
  std::mutex mu;
  std::map<std::string, std::optional<std::string>> paths;
  std::map<std::string, int> calls;
};

class FileFanotify : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ringside-filefan-unit-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    dir_ = std::filesystem::canonical(dir_);
    struct statfs sf {};
    ASSERT_EQ(statfs(dir_.c_str(), &sf), 0);
    std::memcpy(&fsid_, &sf.f_fsid, sizeof fsid_);
    resolver_->set("D", dir_.string());
  }
  void TearDown() override {
    if (sensor_) sensor_->stop();
    std::filesystem::remove_all(dir_);
  }

  std::string watch(const std::string& mark) const {
    return "settings:\n  file:\n    watch:\n      - {path: " + dir_.string() + ", mark: " + mark +
           "}\nrules: []\n";
  }
  void start(const std::string& policy_yaml, FileFanotifySensor::Options o = {}) {
    std::vector<policy::ParseError> errors;
    auto pol = policy::Policy::parse(policy_yaml, "t.yaml", &errors);
    ASSERT_TRUE(pol) << (errors.empty() ? pol.error().message : errors[0].to_string());
    ctx_.set_policy(*pol);
    o.fanotify = fake_;
    o.resolver = resolver_;
    sensor_ = std::make_unique<FileFanotifySensor>(o);
    ASSERT_TRUE(sensor_->start(ctx_));
    auto r = sensor_->apply_policy(*ctx_.policy());
    ASSERT_TRUE(r) << r.error().message;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  FidRecordBuilder in_dir(uint64_t mask, const std::string& name, int32_t pid = kFakePid,
                          const std::string& dir_handle = "D") const {
    FidRecordBuilder b(mask, pid);
    b.entry(FAN_EVENT_INFO_TYPE_DFID_NAME, fsid_, dir_handle, name);
    return b;
  }
  std::vector<Event> file_events(size_t n) {
    const auto all = ctx_.wait_events(n);
    std::vector<Event> out;
    for (const auto& e : all) {
      if (e.type() != EventType::kRingsideLost) out.push_back(e);
    }
    return out;
  }

  std::filesystem::path dir_;
  Fsid fsid_{};
  std::shared_ptr<FakeFanotify> fake_ = std::make_shared<FakeFanotify>();
  std::shared_ptr<FakeResolver> resolver_ = std::make_shared<FakeResolver>();
  FakeContext ctx_;
  std::unique_ptr<FileFanotifySensor> sensor_;
};

TEST_F(FileFanotify, MarksTheScopeWithRenameAndDirectoryEvents) {
  const std::string own = path("events.jsonl");
  std::ofstream(own) << "{}\n";
  ctx_.own_files = {own, "/nonexistent/elsewhere"};
  start(watch("filesystem"));
  ASSERT_EQ(fake_->inits().size(), 1u);
  EXPECT_EQ(fake_->inits()[0].flags, FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
                                         FAN_REPORT_DFID_NAME | FAN_REPORT_FID |
                                         FAN_REPORT_TARGET_FID | FAN_UNLIMITED_QUEUE);
  const auto marks = fake_->marks();
  ASSERT_EQ(marks.size(), 2u);
  EXPECT_EQ(marks[0].path, dir_.string());
  EXPECT_EQ(marks[0].flags, FAN_MARK_ADD | FAN_MARK_FILESYSTEM);
  EXPECT_EQ(marks[0].mask, FAN_CREATE | FAN_DELETE | FAN_ATTRIB | FAN_MODIFY | FAN_CLOSE_WRITE |
                               FAN_ONDIR | FAN_RENAME);
  // The agent's own output never produces events.
  EXPECT_EQ(marks[1].path, own);
  EXPECT_NE(marks[1].flags & FAN_MARK_IGNORED_SURV_MODIFY, 0u);
  EXPECT_NE(marks[1].mask & FAN_MODIFY, 0u);
}

TEST_F(FileFanotify, DirectoryScopeWatchesChildren) {
  start(watch("directory"));
  const auto marks = fake_->marks();
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(marks[0].flags, static_cast<unsigned>(FAN_MARK_ADD));
  EXPECT_NE(marks[0].mask & FAN_EVENT_ON_CHILD, 0u);
}

TEST_F(FileFanotify, CreateChmodDeleteWithResolvedPathsAndModes) {
  start(watch("filesystem"));
  const std::string f = path("new file");
  std::ofstream(f) << "x";
  ASSERT_EQ(chmod(f.c_str(), 0640), 0);
  fake_->push_raw(in_dir(FAN_CREATE, "new file").object(fsid_, "F").bytes());
  fake_->push_raw(in_dir(FAN_ATTRIB, "new file").object(fsid_, "F").bytes());
  fake_->push_raw(in_dir(FAN_DELETE | FAN_ONDIR, "old dir").bytes());
  const auto ev = file_events(3);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].type(), EventType::kFileCreate);
  EXPECT_EQ(ev[0].get_str(Field::kFilePath), f);
  EXPECT_EQ(ev[0].get_str(Field::kFileMode), "0640");
  EXPECT_EQ(ev[0].get_int(Field::kProcessPid), kFakePid);
  EXPECT_EQ(ev[0].get_str(Field::kRingsideSensor), "fanotify");
  EXPECT_EQ(ev[0].get_str(Field::kEventOutcome), "success");
  EXPECT_EQ(ev[1].type(), EventType::kFileChmod);
  EXPECT_EQ(ev[1].get_str(Field::kFileMode), "0640");
  EXPECT_EQ(ev[2].type(), EventType::kFileDelete);
  EXPECT_EQ(ev[2].get_str(Field::kFilePath), path("old dir"));
  // One resolution of the directory for all three.
  EXPECT_EQ(resolver_->calls_for("D"), 1);
}

TEST_F(FileFanotify, RenameCarriesBothNames) {
  start(watch("filesystem"));
  resolver_->set("D2", path("sub"));
  FidRecordBuilder b(FAN_RENAME, kFakePid);
  b.entry(FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, fsid_, "D", "a");
  b.entry(FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, fsid_, "D2", "b");
  b.object(fsid_, "F");
  fake_->push_raw(b.bytes());
  const auto ev = file_events(1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type(), EventType::kFileRename);
  EXPECT_EQ(ev[0].get_str(Field::kFilePath), path("a"));
  EXPECT_EQ(ev[0].get_str(Field::kFileTargetPath), path("sub/b"));
}

// Without CAP_SYS_ADMIN there is no unlimited queue: the group is made with the kernel's bound.
TEST_F(FileFanotify, WithoutTheUnlimitedQueueTheKernelsBoundIsUsed) {
  fake_->refuse_init(FAN_UNLIMITED_QUEUE, EPERM);
  start(watch("filesystem"));
  ASSERT_FALSE(fake_->inits().empty());
  EXPECT_EQ(fake_->inits().back().flags & FAN_UNLIMITED_QUEUE, 0u);
  EXPECT_NE(fake_->inits().back().flags & FAN_REPORT_TARGET_FID, 0u);
  fake_->push_raw(in_dir(FAN_CREATE, "new").object(fsid_, "N").bytes());
  const auto ev = file_events(1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].get_str(Field::kFilePath), path("new"));
}

TEST_F(FileFanotify, WithoutFanRenameMovesArePairedByHandle) {
  fake_->refuse_init(FAN_REPORT_TARGET_FID, EINVAL);
  fake_->refuse_mask(FAN_RENAME);
  FileFanotifySensor::Options o;
  o.rename_pair_ms = 30;
  start(watch("filesystem"), o);
  ASSERT_FALSE(fake_->marks().empty());
  EXPECT_NE(fake_->marks()[0].mask & FAN_MOVED_FROM, 0u);
  EXPECT_NE(fake_->marks()[0].mask & FAN_MOVED_TO, 0u);
  fake_->push_raw(in_dir(FAN_MOVED_FROM, "a").object(fsid_, "F").bytes());
  fake_->push_raw(in_dir(FAN_MOVED_TO, "b").object(fsid_, "F").bytes());
  fake_->push_raw(in_dir(FAN_MOVED_FROM, "gone").object(fsid_, "G").bytes());
  const auto ev = file_events(2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type(), EventType::kFileRename);
  EXPECT_EQ(ev[0].get_str(Field::kFilePath), path("a"));
  EXPECT_EQ(ev[0].get_str(Field::kFileTargetPath), path("b"));
  // Its MOVED_TO never came: moved out of the watched scopes.
  EXPECT_EQ(ev[1].get_str(Field::kFilePath), path("gone"));
  EXPECT_FALSE(ev[1].has(Field::kFileTargetPath));
  EXPECT_TRUE(ev[1].has(Field::kRingsideMessage));
}

TEST_F(FileFanotify, ModifyIsReportedOncePerWriteSession) {
  start(watch("filesystem"));
  for (int i = 0; i < 5; ++i) fake_->push_raw(in_dir(FAN_MODIFY, "log").object(fsid_, "L").bytes());
  fake_->push_raw(in_dir(FAN_MODIFY | FAN_CLOSE_WRITE, "log").object(fsid_, "L").bytes());
  fake_->push_raw(in_dir(FAN_CLOSE_WRITE, "untouched").object(fsid_, "U").bytes());
  fake_->push_raw(in_dir(FAN_MODIFY, "log").object(fsid_, "L").bytes());
  std::this_thread::sleep_for(200ms);
  const auto ev = file_events(2);
  ASSERT_EQ(ev.size(), 2u);
  for (const auto& e : ev) {
    EXPECT_EQ(e.type(), EventType::kFileModify);
    EXPECT_EQ(e.get_str(Field::kFilePath), path("log"));
  }
  EXPECT_EQ(sensor_->stats().seen, 8u);
}

TEST_F(FileFanotify, MergedCreateAndDeleteFollowWhetherTheNameExists) {
  start(watch("filesystem"));
  fake_->push_raw(in_dir(FAN_CREATE | FAN_DELETE, "tmp").bytes());  // created, then removed
  std::ofstream(path("again")) << "x";
  fake_->push_raw(in_dir(FAN_CREATE | FAN_DELETE, "again").bytes());  // removed, created anew
  const auto ev = file_events(4);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].type(), EventType::kFileCreate);
  EXPECT_EQ(ev[1].type(), EventType::kFileDelete);
  EXPECT_EQ(ev[2].type(), EventType::kFileDelete);
  EXPECT_EQ(ev[3].type(), EventType::kFileCreate);
  EXPECT_EQ(ev[3].get_str(Field::kFilePath), path("again"));
}

TEST_F(FileFanotify, OwnActivityAndPathsOutsideTheScopeAreNotReported) {
  start(watch("filesystem"));
  resolver_->set("OUT", "/elsewhere");
  fake_->push_raw(in_dir(FAN_CREATE, "mine", getpid()).bytes());
  fake_->push_raw(in_dir(FAN_CREATE, "x", kFakePid, "OUT").bytes());
  fake_->push_raw(in_dir(FAN_CREATE, "theirs").bytes());
  const auto ev = file_events(1);
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(ctx_.events().size(), 1u);
  EXPECT_EQ(ev[0].get_str(Field::kFilePath), path("theirs"));
}

TEST_F(FileFanotify, DirectoryRenameForgetsCachedPathsBelowIt) {
  start(watch("filesystem"));
  resolver_->set("S", path("sub"));
  fake_->push_raw(in_dir(FAN_CREATE, "f", kFakePid, "S").bytes());
  fake_->push_raw(in_dir(FAN_CREATE, "g", kFakePid, "S").bytes());
  ASSERT_EQ(file_events(2).size(), 2u);
  EXPECT_EQ(resolver_->calls_for("S"), 1);
  resolver_->set("S", path("sub2"));
  FidRecordBuilder mv(FAN_RENAME | FAN_ONDIR, kFakePid);
  mv.entry(FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, fsid_, "D", "sub");
  mv.entry(FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, fsid_, "D", "sub2");
  mv.object(fsid_, "S");
  fake_->push_raw(mv.bytes());
  fake_->push_raw(in_dir(FAN_CREATE, "h", kFakePid, "S").bytes());
  const auto ev = file_events(4);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[2].get_str(Field::kFileTargetPath), path("sub2"));
  EXPECT_EQ(ev[3].get_str(Field::kFilePath), path("sub2/h"));
}

TEST_F(FileFanotify, EventsUnderARemovedDirectoryResolveFromWhatCreationTaught) {
  start(watch("filesystem"));
  // The directory was created and is gone by the time its children's deletes are read.
  resolver_->set("S", std::nullopt);
  fake_->push_raw(in_dir(FAN_CREATE | FAN_ONDIR, "tree").object(fsid_, "S").bytes());
  fake_->push_raw(in_dir(FAN_DELETE, "leaf", kFakePid, "S").bytes());
  fake_->push_raw(in_dir(FAN_DELETE, "x", kFakePid, "UNKNOWN").bytes());
  const auto ev = file_events(2);
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].get_str(Field::kFilePath), path("tree/leaf"));
  EXPECT_EQ(resolver_->calls_for("S"), 0);
  EXPECT_EQ(sensor_->stats().errors, 1u);  // the one nobody could resolve
}

TEST_F(FileFanotify, OverflowIsCountedAndReportedAsLost) {
  start(watch("filesystem"));
  fanotify_event_metadata m{};
  m.event_len = sizeof m;
  m.vers = FANOTIFY_METADATA_VERSION;
  m.metadata_len = sizeof m;
  m.mask = FAN_Q_OVERFLOW;
  m.fd = FAN_NOFD;
  fake_->push_raw(std::string(reinterpret_cast<const char*>(&m), sizeof m));
  const auto all = ctx_.wait_events(1);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].type(), EventType::kRingsideLost);
  EXPECT_EQ(sensor_->stats().dropped, 1u);
}

TEST_F(FileFanotify, NewScopesAreMarkedAnewAndTheSameOnesAreKept) {
  start(watch("filesystem"));
  ASSERT_EQ(fake_->groups().size(), 1u);
  ASSERT_TRUE(sensor_->apply_policy(*ctx_.policy()));
  EXPECT_EQ(fake_->groups().size(), 1u);
  std::vector<policy::ParseError> errors;
  auto other = policy::Policy::parse(watch("directory"), "t2.yaml", &errors);
  ASSERT_TRUE(other);
  ASSERT_TRUE(sensor_->apply_policy(**other));
  ASSERT_EQ(fake_->groups().size(), 2u);
  EXPECT_TRUE(fake_->wait_closed(fake_->groups()[0]));
  EXPECT_EQ(fake_->marks().back().flags, static_cast<unsigned>(FAN_MARK_ADD));
}

}  // namespace
}  // namespace ringside
