// Tamper watch's pure parts: which (directory handle, name) is a watched file, the change a
// fanotify mask names, and the list of watched files.

#include "agent/tamper_watch.hpp"

#include "agent/preload_env_watch.hpp"

#include <sys/fanotify.h>

#include <gtest/gtest.h>

#include <map>

namespace ringside {
namespace {

FileHandleKey key(uint64_t fsid, const std::string& bytes) {
  FileHandleKey k;
  k.fsid = fsid;
  k.type = 1;
  k.bytes = bytes;
  return k;
}

FidEvent child_event(uint64_t mask, const FileHandleKey& dir, const std::string& name) {
  FidEvent ev;
  ev.mask = mask;
  ev.entry = DirEntryRef{dir, name};
  return ev;
}

TEST(TamperMatcher, MatchesNameInItsOwnDirectoryOnly) {
  TamperMatcher m;
  const auto etc = key(7, "etc"), pol = key(7, "pol");
  m.add(etc, {"/etc/ld.so.preload", "preload_config"});
  m.add(pol, {"/srv/ringside/policy.yaml", "policy"});
  auto hit = m.match(child_event(FAN_MODIFY, etc, "ld.so.preload"));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->path, "/etc/ld.so.preload");
  EXPECT_EQ(hit->target, "preload_config");
  EXPECT_EQ(hit->change, "modify");
  // Same name, other directory; other name, same directory; same handle, other filesystem.
  EXPECT_FALSE(m.match(child_event(FAN_MODIFY, pol, "ld.so.preload")));
  EXPECT_FALSE(m.match(child_event(FAN_MODIFY, etc, "passwd")));
  EXPECT_FALSE(m.match(child_event(FAN_MODIFY, key(8, "etc"), "ld.so.preload")));
  hit = m.match(child_event(FAN_ATTRIB, pol, "policy.yaml"));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->target, "policy");
  EXPECT_EQ(hit->change, "attributes");
}

TEST(TamperMatcher, RenameOverAWatchedFileMatchesEitherName) {
  TamperMatcher m;
  const auto dir = key(1, "d");
  m.add(dir, {"/d/policy.yaml", "policy"});
  FidEvent ev;
  ev.mask = FAN_RENAME;
  ev.old_entry = DirEntryRef{dir, "policy.yaml.new"};
  ev.new_entry = DirEntryRef{dir, "policy.yaml"};
  auto hit = m.match(ev);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->path, "/d/policy.yaml");
  EXPECT_EQ(m.match(child_event(FAN_MOVED_TO, dir, "policy.yaml"))->change, "rename");
  EXPECT_EQ(m.match(child_event(FAN_DELETE, dir, "policy.yaml"))->change, "delete");
  EXPECT_EQ(m.match(child_event(FAN_CREATE, dir, "policy.yaml"))->change, "create");
}

TEST(TamperTargets, PreloadConfigBinaryLibraryPolicyAndStore) {
  const auto t = tamper_targets("/opt/ringside/bin/ringside", "/etc/ringside/policy.yaml",
                                "/var/lib/ringside/events.db");
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[0].path, "/etc/ld.so.preload");
  EXPECT_EQ(t[1].path, "/opt/ringside/bin/ringside");
  EXPECT_EQ(t[2].path, "/opt/ringside/bin/libringside-preload.so");
  EXPECT_EQ(t[2].target, "agent_binary");
  EXPECT_EQ(t[3].target, "policy");
  EXPECT_EQ(t[4].target, "store");
  EXPECT_EQ(tamper_targets("", "", "").size(), 1u);
}

Event exec_event(Level level, int64_t pid, int64_t ppid) {
  Event ev(EventType::kProcessExec, 1);
  ev.set_origin(level, level == Level::kUser ? "preload" : "ebpf");
  ev.set(Field::kProcessPid, pid);
  ev.set(Field::kProcessParentPid, ppid);
  ev.set(Field::kProcessExecutable, "/usr/bin/true");
  return ev;
}

TEST(PreloadEnvWatch, HookedProcessStartingAProgramWithoutTheInterposerIsReported) {
  using namespace std::string_literals;
  std::map<std::string, std::string> files{
      {"/p/10/environ", "PATH=/bin\0LD_PRELOAD=/opt/r/libringside-preload.so\0"s},
      {"/p/11/environ", "PATH=/bin\0HOME=/root\0"s},
      {"/p/12/environ", "PATH=/bin\0"s}};
  PreloadEnvWatch w(
      [&](const std::string& path) -> std::optional<std::string> {
        auto it = files.find(path);
        if (it == files.end()) return std::nullopt;
        return it->second;
      },
      [](const std::string& path) -> std::optional<std::string> {
        if (path == "/p/13/exe") return "/usr/bin/env";  // exec'd again since
        return "/usr/bin/true";
      },
      "/p");
  // Pid 10 reported through the interposer; its child 11 execs with a stripped environment.
  EXPECT_FALSE(w.observe(exec_event(Level::kUser, 10, 1)));
  EXPECT_FALSE(w.observe(exec_event(Level::kKernel, 10, 1)));  // still preloads it
  auto t = w.observe(exec_event(Level::kKernel, 11, 10));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->type(), EventType::kRingsideTamper);
  EXPECT_EQ(t->get_str(Field::kRingsideTamperTarget), "preload_env");
  EXPECT_EQ(t->get_str(Field::kRingsideTamperChange), "stripped");
  EXPECT_EQ(t->get_int(Field::kProcessPid), 11);
  // Pid 13 is already another program than its exec event names: not checked.
  files["/p/13/environ"] = "PATH=/bin\0"s;
  EXPECT_FALSE(w.observe(exec_event(Level::kKernel, 13, 10)));
  // Pid 12's parent never reported: not expected to be hooked.
  EXPECT_FALSE(w.observe(exec_event(Level::kKernel, 12, 99)));
  // With the library in /etc/ld.so.preload nothing is stripped.
  files["/etc/ld.so.preload"] =
      "# comment libringside-preload.so\n/usr/lib/libringside-preload.so\n";
  EXPECT_FALSE(w.observe(exec_event(Level::kKernel, 11, 10)));
  files["/etc/ld.so.preload"] = "# /usr/lib/libringside-preload.so\n";
  EXPECT_TRUE(w.observe(exec_event(Level::kKernel, 11, 10)));
  // Reported pids are unhooked from then on: their own next exec is not expected hooked.
  EXPECT_FALSE(w.observe(exec_event(Level::kKernel, 14, 11)));
  // After pid 10 exits it is forgotten.
  Event exit_ev(EventType::kProcessExit, 2);
  exit_ev.set_origin(Level::kKernel, "ebpf");
  exit_ev.set(Field::kProcessPid, int64_t{10});
  EXPECT_FALSE(w.observe(exit_ev));
  EXPECT_FALSE(w.observe(exec_event(Level::kKernel, 11, 10)));
}

}  // namespace
}  // namespace ringside
