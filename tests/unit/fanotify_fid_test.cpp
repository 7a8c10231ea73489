// fanotify file-handle records, the handle->path cache, rename pairing, modify coalescing and
// the decoding of an opener's system call, on synthetic input.

#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/syscall.h>

#include <gtest/gtest.h>

#include <cstring>
#include <utility>
#include <vector>

#include "fid_records.hpp"
#include "sensors/kernel/fanotify_fid.hpp"
#include "sensors/kernel/opener_call.hpp"

namespace ringside {
namespace {

using testing_fanotify::FidRecordBuilder;

FileHandleKey key(uint64_t fsid, const std::string& bytes) { return {fsid, 1, bytes}; }

TEST(FidRecords, ParsesDirectoryEntryAndObject) {
  const std::string rec =
      FidRecordBuilder(FAN_CREATE, 77)
          .entry(FAN_EVENT_INFO_TYPE_DFID_NAME, {0x1234, 0x5678}, "dirhandle", "new file")
          .object({0x1234, 0x5678}, "objhandle")
          .bytes();
  FidEvent e;
  ASSERT_TRUE(parse_fid_event(*reinterpret_cast<const fanotify_event_metadata*>(rec.data()), &e));
  EXPECT_EQ(e.mask, static_cast<uint64_t>(FAN_CREATE));
  EXPECT_EQ(e.pid, 77);
  ASSERT_TRUE(e.entry);
  EXPECT_EQ(e.entry->name, "new file");
  EXPECT_EQ(e.entry->dir.bytes, "dirhandle");
  EXPECT_EQ(e.entry->dir.fsid, fsid_key(0x1234, 0x5678));
  ASSERT_TRUE(e.object);
  EXPECT_EQ(e.object->bytes, "objhandle");
  EXPECT_FALSE(e.old_entry);
}

// Records are padded to 4 bytes only: the second event of a read can start 4-aligned. The walk
// copies each metadata out instead of reading a u64 in place.
TEST(FidRecords, WalkFindsEveryEventAtAnyFourByteOffset) {
  const std::string first =
      FidRecordBuilder(FAN_CREATE, 1)
          .entry(FAN_EVENT_INFO_TYPE_DFID_NAME, {1, 2}, "h", "a")  // 24 + 4+8+8+1+2 -> pad 4
          .bytes();
  ASSERT_EQ(first.size() % 4, 0U);
  const std::string second = FidRecordBuilder(FAN_DELETE, 2)
                                 .entry(FAN_EVENT_INFO_TYPE_DFID_NAME, {1, 2}, "hh", "bb")
                                 .bytes();
  alignas(8) char buf[512];
  const std::string both = first + second;
  ASSERT_LE(both.size(), sizeof buf);
  std::memcpy(buf, both.data(), both.size());
  std::vector<std::pair<int32_t, std::string>> seen;
  EXPECT_TRUE(
      for_each_event(buf, both.size(), [&](const fanotify_event_metadata& m, const char* ev) {
        FidEvent e;
        ASSERT_TRUE(parse_fid_event(m, ev, &e));
        ASSERT_TRUE(e.entry);
        seen.emplace_back(e.pid, e.entry->name);
      }));
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0], (std::pair<int32_t, std::string>{1, "a"}));
  EXPECT_EQ(seen[1], (std::pair<int32_t, std::string>{2, "bb"}));
  // A truncated tail is not an event; a metadata_len shorter than the metadata is malformed.
  EXPECT_TRUE(for_each_event(buf, both.size() - 1,
                             [&](const auto& m, const char*) { EXPECT_EQ(m.pid, 1); }));
  fanotify_event_metadata bad{};
  std::memcpy(&bad, first.data(), sizeof bad);
  bad.metadata_len = 8;
  FidEvent e;
  EXPECT_FALSE(parse_fid_event(bad, first.data(), &e));
}

TEST(FidRecords, ParsesBothNamesOfARename) {
  const std::string rec = FidRecordBuilder(FAN_RENAME, 5)
                              .entry(FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, {1, 2}, "d1", "old")
                              .entry(FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, {1, 2}, "d2", "new")
                              .bytes();
  FidEvent e;
  ASSERT_TRUE(parse_fid_event(*reinterpret_cast<const fanotify_event_metadata*>(rec.data()), &e));
  ASSERT_TRUE(e.old_entry && e.new_entry);
  EXPECT_EQ(e.old_entry->name, "old");
  EXPECT_EQ(e.new_entry->name, "new");
  EXPECT_EQ(e.new_entry->dir.bytes, "d2");
  EXPECT_FALSE(e.entry);
}

TEST(FidRecords, DirectoryFidWithoutNameIsTheDirectoryItself) {
  const std::string rec = FidRecordBuilder(FAN_ATTRIB | FAN_ONDIR, 5).dfid({1, 2}, "self").bytes();
  FidEvent e;
  ASSERT_TRUE(parse_fid_event(*reinterpret_cast<const fanotify_event_metadata*>(rec.data()), &e));
  ASSERT_TRUE(e.entry);
  EXPECT_EQ(e.entry->name, ".");
}

TEST(FidRecords, RejectsTruncatedAndUnterminatedRecords) {
  std::string rec = FidRecordBuilder(FAN_CREATE, 1)
                        .entry(FAN_EVENT_INFO_TYPE_DFID_NAME, {1, 2}, "h", "name")
                        .bytes();
  // A record whose header claims more than the event holds.
  std::string longer = rec;
  auto* hdr = reinterpret_cast<fanotify_event_info_header*>(longer.data() +
                                                            sizeof(fanotify_event_metadata));
  hdr->len = static_cast<uint16_t>(hdr->len + 64);
  FidEvent e;
  EXPECT_FALSE(
      parse_fid_event(*reinterpret_cast<const fanotify_event_metadata*>(longer.data()), &e));
  // A name without its NUL.
  std::string unterminated = rec;
  std::memset(unterminated.data() + unterminated.size() - 8, 'x', 8);
  EXPECT_FALSE(
      parse_fid_event(*reinterpret_cast<const fanotify_event_metadata*>(unterminated.data()), &e));
}

TEST(HandlePathCache, ForgetsADirectoryAndEverythingBelowIt) {
  HandlePathCache cache(16);
  cache.put(key(1, "a"), "/srv/a");
  cache.put(key(1, "ab"), "/srv/a/b");
  cache.put(key(1, "ax"), "/srv/ax");
  cache.put(key(2, "a"), "/other");
  EXPECT_EQ(cache.find(key(1, "ab")), "/srv/a/b");
  EXPECT_FALSE(cache.find(key(3, "a")));
  cache.forget_tree("/srv/a");
  EXPECT_FALSE(cache.find(key(1, "a")));
  EXPECT_FALSE(cache.find(key(1, "ab")));
  EXPECT_EQ(cache.find(key(1, "ax")), "/srv/ax");  // a sibling that only shares a prefix
  EXPECT_EQ(cache.find(key(2, "a")), "/other");    // same bytes, other filesystem
}

TEST(HandlePathCache, StartsOverPastItsCapacity) {
  HandlePathCache cache(2);
  cache.put(key(1, "a"), "/a");
  cache.put(key(1, "b"), "/b");
  cache.put(key(1, "a"), "/a2");  // an update does not count
  EXPECT_EQ(cache.size(), 2u);
  cache.put(key(1, "c"), "/c");
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find(key(1, "c")), "/c");
}

TEST(RenamePairer, PairsByKeyAndReportsLoneHalves) {
  RenamePairer p;
  p.moved_from("obj1", "/w/a", 10, 1000);
  p.moved_from("obj2", "/w/b", 11, 1000);
  auto m = p.moved_to("obj2", "/w/b2", 11);
  EXPECT_EQ(m.from, "/w/b");
  EXPECT_EQ(m.to, "/w/b2");
  auto in = p.moved_to("obj9", "/w/in", 12);  // moved in from elsewhere
  EXPECT_TRUE(in.from.empty());
  EXPECT_EQ(in.to, "/w/in");
  EXPECT_TRUE(p.expire(1050, 100).empty());
  auto out = p.expire(1100, 100);  // its MOVED_TO never came: moved out of sight
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].from, "/w/a");
  EXPECT_TRUE(out[0].to.empty());
  EXPECT_EQ(out[0].pid, 10);
  EXPECT_TRUE(p.empty());
}

TEST(ModifyCoalescer, OneEventPerWriteSessionAndPerInterval) {
  ModifyCoalescer c(1000, 8);
  EXPECT_TRUE(c.on_modify("f", 0));
  EXPECT_FALSE(c.on_modify("f", 10));
  EXPECT_FALSE(c.on_modify("f", 999));
  EXPECT_TRUE(c.on_modify("g", 20));    // another file
  EXPECT_TRUE(c.on_modify("f", 1000));  // still open, an interval later
  c.on_close_write("f");
  EXPECT_TRUE(c.on_modify("f", 1001));  // a new session
}

TEST(ModifyCoalescer, StaysBounded) {
  ModifyCoalescer c(1000, 2);
  EXPECT_TRUE(c.on_modify("a", 0));
  EXPECT_TRUE(c.on_modify("b", 0));
  EXPECT_TRUE(c.on_modify("c", 5000));  // a and b are quiet: forgotten
  EXPECT_TRUE(c.on_modify("a", 5001));
  EXPECT_FALSE(c.on_modify("c", 5002));
}

TEST(OpenerCall, ParsesProcSyscall) {
  auto a = parse_proc_syscall("257 0xffffff9c 0x7ffd1000 0x241 0x1b6 0x0 0x0 0x7ffd0ff8 0x7f00\n");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->nr, 257);
  EXPECT_EQ(a->args[0], 0xffffff9cu);
  EXPECT_EQ(a->args[2], 0x241u);
  EXPECT_FALSE(parse_proc_syscall("running\n"));
  EXPECT_FALSE(parse_proc_syscall("-1 0x7ffd0ff8 0x7f00\n"));
  EXPECT_FALSE(parse_proc_syscall("257 0x1 0x2\n"));
  EXPECT_FALSE(parse_proc_syscall(""));
}

TEST(OpenerCall, NamesTheSameFileByItsLastComponent) {
  EXPECT_TRUE(names_same_file("../x/secret", "/srv/x/secret"));
  EXPECT_TRUE(names_same_file("secret", "/srv/x/secret"));
  EXPECT_TRUE(names_same_file("/srv/x/", "/srv/x"));
  EXPECT_FALSE(names_same_file("other", "/srv/x/secret"));
  EXPECT_FALSE(names_same_file("", "/srv/x/secret"));
}

// This very process, blocked in no open call, is never mistaken for an opener.
TEST(OpenerCall, NothingWhenTheProcessIsNotOpening) {
  EXPECT_FALSE(read_opener_call(getpid(), "/etc/passwd"));
  EXPECT_FALSE(read_opener_call(0x7ffffff0, "/etc/passwd"));
}

}  // namespace
}  // namespace ringside
