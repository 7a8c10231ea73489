// Decoding of the eBPF file sensor's ring records from raw bytes, including truncated and
// malformed ones, open flag and mode text, and the paths the agent resolves.

#include "sensors/kernel/file_records.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "sensors/kernel/bpf/file_abi.h"

namespace ringside::file_records {
namespace {

// 8-byte aligned storage, as ring buffer samples are.
class RecordBuffer {
 public:
  explicit RecordBuffer(size_t size) : words_((size + 7) / 8 + 1, 0), size_(size) {}
  uint8_t* data() { return reinterpret_cast<uint8_t*>(words_.data()); }
  size_t size() const { return size_; }
  rs_rec_file_op* rec() { return reinterpret_cast<rs_rec_file_op*>(data()); }

 private:
  std::vector<uint64_t> words_;
  size_t size_;
};

// The strings of a record, each with its NUL ("" for absent).
struct Parts {
  std::string path, requested, dir, target, target_dir, exe;
};

std::string z(const std::string& s) { return s + std::string(1, '\0'); }

RecordBuffer record(uint8_t op, const Parts& p, int32_t ret = 0) {
  auto len = [](const std::string& s) { return s.empty() ? size_t{0} : s.size() + 1; };
  const size_t var =
      len(p.path) + len(p.requested) + len(p.dir) + len(p.target) + len(p.target_dir) + len(p.exe);
  RecordBuffer b(sizeof(rs_rec_file_op) + var);
  rs_rec_file_op r{};
  r.type = RS_REC_FILE_OP;
  r.size = static_cast<uint32_t>(b.size());
  r.ts_boot_ns = static_cast<uint64_t>(clock::boottime_ns());
  r.pid = 4242;
  r.tid = 4243;
  r.ppid = 17;
  r.uid = 1000;
  r.ret = ret;
  r.start_boot_ns = r.ts_boot_ns - 1000;
  r.op = op;
  r.path_len = static_cast<uint16_t>(len(p.path));
  r.requested_len = static_cast<uint16_t>(len(p.requested));
  r.dir_len = static_cast<uint16_t>(len(p.dir));
  r.target_len = static_cast<uint16_t>(len(p.target));
  r.target_dir_len = static_cast<uint16_t>(len(p.target_dir));
  r.exe_len = static_cast<uint16_t>(len(p.exe));
  std::memcpy(b.data(), &r, sizeof r);
  std::string all;
  for (const std::string* s : {&p.path, &p.requested, &p.dir, &p.target, &p.target_dir, &p.exe}) {
    if (!s->empty()) all += z(*s);
  }
  std::memcpy(b.data() + sizeof r, all.data(), all.size());
  return b;
}

// A realpath that knows a few canonical names and fails for everything else.
RealPath fake_realpath(std::map<std::string, std::string> known) {
  return [known = std::move(known)](const std::string& p) -> std::optional<std::string> {
    auto it = known.find(p);
    if (it == known.end()) return std::nullopt;
    return it->second;
  };
}

std::vector<std::string> names(uint32_t flags) {
  std::vector<std::string> out;
  for_each_open_flag(flags, [&](std::string_view n) { out.emplace_back(n); });
  return out;
}

TEST(FileRecords, DecodesAndSplitsEveryString) {
  auto b = record(RS_FOP_RENAME, {"", "a b\n\"c\"", "/work dir", "../new", "/work dir", "/bin/mv"});
  auto r = decode_file_op(b.data(), b.size());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->fixed->pid, 4242u);
  EXPECT_TRUE(r->path.empty());
  EXPECT_EQ(r->requested, "a b\n\"c\"");
  EXPECT_EQ(r->dir, "/work dir");
  EXPECT_EQ(r->target, "../new");
  EXPECT_EQ(r->target_dir, "/work dir");
  EXPECT_EQ(r->exe, "/bin/mv");
  EXPECT_TRUE(r->succeeded());
}

TEST(FileRecords, RejectsMalformedRecords) {
  const Parts p{"/x/y", "y", "", "", "", ""};
  {
    auto b = record(RS_FOP_OPEN, p);
    EXPECT_FALSE(decode_file_op(b.data(), sizeof(rs_rec_file_op) - 1));  // too short
    EXPECT_FALSE(decode_file_op(nullptr, b.size()));
    EXPECT_FALSE(decode_file_op(b.data(), b.size() + 8));  // header size != received
  }
  {
    auto b = record(RS_FOP_OPEN, p);
    b.rec()->type = RS_REC_EXEC;
    EXPECT_FALSE(decode_file_op(b.data(), b.size()));
  }
  {
    auto b = record(RS_FOP_MAX + 1, p);
    auto r = decode_file_op(b.data(), b.size());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("unknown op"), std::string::npos);
  }
  {
    auto b = record(RS_FOP_OPEN, p);
    b.rec()->requested_len = 3;  // lengths no longer add up
    EXPECT_FALSE(decode_file_op(b.data(), b.size()));
  }
  {
    auto b = record(RS_FOP_OPEN, p);
    b.data()[sizeof(rs_rec_file_op) + 4] = 'X';  // path's NUL overwritten
    EXPECT_FALSE(decode_file_op(b.data(), b.size()));
  }
  {
    auto b = record(RS_FOP_OPEN, p);
    b.data()[sizeof(rs_rec_file_op) + 2] = '\0';  // embedded NUL in the path
    EXPECT_FALSE(decode_file_op(b.data(), b.size()));
  }
  {
    auto b = record(RS_FOP_OPEN, p);
    std::vector<uint8_t> shifted(b.size() + 8);
    std::memcpy(shifted.data() + 1, b.data(), b.size());
    EXPECT_FALSE(decode_file_op(shifted.data() + 1, b.size()));  // misaligned
  }
}

TEST(FileRecords, TruncatedAndMutatedRecordsNeverCrash) {
  auto good = record(RS_FOP_LINK, {"", "old", "/d", "new", "/d", "/bin/ln"});
  // Every shorter length, with the header claiming that length: all rejected.
  for (size_t n = 0; n < good.size(); ++n) {
    RecordBuffer b(n);
    std::memcpy(b.data(), good.data(), n);
    if (n >= sizeof(rs_record_header)) b.rec()->size = static_cast<uint32_t>(n);
    EXPECT_FALSE(decode_file_op(b.data(), n)) << n;
  }
  // Random bytes over a valid record: decoded or rejected, and a decoded one stays in bounds.
  std::mt19937 rng(7);
  size_t decoded = 0;
  for (int round = 0; round < 2000; ++round) {
    RecordBuffer b(good.size());
    std::memcpy(b.data(), good.data(), good.size());
    for (int k = 0; k < 3; ++k) b.data()[rng() % good.size()] = static_cast<uint8_t>(rng());
    auto r = decode_file_op(b.data(), b.size());
    if (!r) continue;
    ++decoded;
    const char* lo = reinterpret_cast<const char*>(b.data()) + sizeof(rs_rec_file_op);
    const char* hi = reinterpret_cast<const char*>(b.data()) + b.size();
    for (std::string_view s : {r->path, r->requested, r->dir, r->target, r->target_dir, r->exe}) {
      if (s.empty()) continue;
      EXPECT_GE(s.data(), lo);
      EXPECT_LE(s.data() + s.size(), hi);
    }
    (void)file_event(*r, fake_realpath({}));
  }
  EXPECT_GT(decoded, 0u);  // mutations outside the lengths still decode
}

TEST(FileRecords, OpenFlagNames) {
  EXPECT_EQ(names(O_RDONLY), (std::vector<std::string>{"O_RDONLY"}));
  EXPECT_EQ(names(O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC),
            (std::vector<std::string>{"O_WRONLY", "O_CREAT", "O_TRUNC", "O_CLOEXEC"}));
  EXPECT_EQ(names(O_RDWR | O_APPEND | O_EXCL),
            (std::vector<std::string>{"O_RDWR", "O_EXCL", "O_APPEND"}));
  EXPECT_EQ(names(O_PATH | O_DIRECTORY | O_NOFOLLOW),
            (std::vector<std::string>{"O_RDONLY", "O_DIRECTORY", "O_NOFOLLOW", "O_PATH"}));
  // Composite flags print as themselves, without their parts.
  EXPECT_EQ(names(O_RDWR | O_TMPFILE), (std::vector<std::string>{"O_RDWR", "O_TMPFILE"}));
  EXPECT_EQ(names(O_WRONLY | O_SYNC), (std::vector<std::string>{"O_WRONLY", "O_SYNC"}));
  EXPECT_EQ(names(O_WRONLY | O_DSYNC), (std::vector<std::string>{"O_WRONLY", "O_DSYNC"}));
  EXPECT_EQ(names(3), (std::vector<std::string>{"O_ACCMODE"}));
  // The kernel's O_LARGEFILE (io_uring and 64-bit opens set it; the C library's is 0).
#if defined(__x86_64__)
  EXPECT_EQ(names(0100000), (std::vector<std::string>{"O_RDONLY", "O_LARGEFILE"}));
#endif
  // Unknown bits last, in hexadecimal; the list form hands them out separately.
  EXPECT_EQ(names(O_RDONLY | O_CREAT | 0x80000000u),
            (std::vector<std::string>{"O_RDONLY", "O_CREAT", "0x80000000"}));
  std::string unknown;
  const auto listed = open_flag_names(O_WRONLY | 0x80000000u, &unknown);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0], "O_WRONLY");
  EXPECT_EQ(unknown, "0x80000000");
  open_flag_names(O_RDONLY, &unknown);
  EXPECT_EQ(unknown, "");
}

TEST(FileRecords, ModeText) {
  EXPECT_EQ(mode_text(0644), "0644");
  EXPECT_EQ(mode_text(04755), "4755");
  EXPECT_EQ(mode_text(0), "0000");
  EXPECT_EQ(mode_text(0100600), "0600");  // file type bits dropped
}

TEST(FileRecords, NormalizeLexically) {
  EXPECT_EQ(normalize_lexically("/a/./b//c/../d"), "/a/b/d");
  EXPECT_EQ(normalize_lexically("/../x"), "/x");
  EXPECT_EQ(normalize_lexically("a/../../b"), "../b");
  EXPECT_EQ(normalize_lexically("/"), "/");
  EXPECT_EQ(normalize_lexically("./"), ".");
}

TEST(FileRecords, ResolvePath) {
  const RealPath rp = fake_realpath({{"/w/sub", "/real/sub"},
                                     {"/w/link-to-file", "/real/file"},
                                     {"/w", "/w"},
                                     {"/", "/"},
                                     {"/w/sub/..", "/w"}});
  // A plain name: the kernel's directory and the name, no file system access needed.
  EXPECT_EQ(resolve_path("/w", "f", false, fake_realpath({})), "/w/f");
  // A directory part may hold symlinks: resolved, the last component kept.
  EXPECT_EQ(resolve_path("/w", "sub/f", false, rp), "/real/sub/f");
  EXPECT_EQ(resolve_path("/", "/w/sub/f", false, rp), "/real/sub/f");
  // Operations that follow the last component (chmod, truncate) get the target.
  EXPECT_EQ(resolve_path("/w", "link-to-file", true, rp), "/real/file");
  EXPECT_EQ(resolve_path("/w", "link-to-file", false, rp), "/w/link-to-file");
  // ".." as the last component is always resolved.
  EXPECT_EQ(resolve_path("/w", "sub/..", false, rp), "/w");
  // A directory that no longer exists: lexically.
  EXPECT_EQ(resolve_path("/w", "gone/../x/./f", false, rp), "/w/x/f");
  // Unknown directory for a relative path: nothing rather than a wrong path.
  EXPECT_EQ(resolve_path("", "f", false, rp), "");
  EXPECT_EQ(resolve_path("/w", "", false, rp), "");
}

TEST(FileRecords, OpenEvent) {
  auto b = record(RS_FOP_OPEN, {"/real/target", "../via/link", "", "", "", "/usr/bin/cat"}, 3);
  b.rec()->open_flags = O_WRONLY | O_CREAT | O_TRUNC;
  b.rec()->mode = 0640;
  b.rec()->ino = 77;
  auto r = decode_file_op(b.data(), b.size());
  ASSERT_TRUE(r) << r.error().message;
  const Event ev = file_event(*r, fake_realpath({}));
  EXPECT_EQ(ev.type(), EventType::kFileOpen);
  EXPECT_EQ(ev.level(), Level::kKernel);
  EXPECT_EQ(*ev.get_str(Field::kRingsideSensor), "ebpf");
  EXPECT_EQ(*ev.get_int(Field::kProcessPid), 4242);
  EXPECT_EQ(*ev.get_int(Field::kProcessThreadId), 4243);
  EXPECT_EQ(*ev.get_int(Field::kProcessParentPid), 17);
  EXPECT_EQ(*ev.get_int(Field::kUserId), 1000);
  EXPECT_EQ(*ev.get_str(Field::kProcessExecutable), "/usr/bin/cat");
  EXPECT_EQ(*ev.get_str(Field::kFilePath), "/real/target");
  EXPECT_EQ(*ev.get_str(Field::kRingsideFileRequestedPath), "../via/link");
  EXPECT_EQ(ev.get_list(Field::kRingsideFileFlags).to_vector(),
            (std::vector<std::string>{"O_WRONLY", "O_CREAT", "O_TRUNC"}));
  EXPECT_EQ(*ev.get_str(Field::kFileMode), "0640");
  EXPECT_EQ(*ev.get_int(Field::kFileInode), 77);
  EXPECT_EQ(*ev.get_str(Field::kEventOutcome), "success");
  EXPECT_TRUE(ev.has(Field::kProcessStart));
  EXPECT_FALSE(ev.has(Field::kRingsideTruncated));
}

TEST(FileRecords, FailedOpenIsResolvedFromItsDirectory) {
  auto b = record(RS_FOP_OPEN, {"", "missing", "/w", "", "", ""}, -2);
  b.rec()->open_flags = O_RDONLY;
  auto r = decode_file_op(b.data(), b.size());
  ASSERT_TRUE(r);
  const Event ev = file_event(*r, fake_realpath({}));
  EXPECT_EQ(*ev.get_str(Field::kFilePath), "/w/missing");
  EXPECT_EQ(*ev.get_str(Field::kEventOutcome), "failure");
  EXPECT_FALSE(ev.has(Field::kFileMode));  // not a creating open
  EXPECT_FALSE(ev.has(Field::kProcessExecutable));
}

TEST(FileRecords, RenameLinkSymlinkMkdirChmodEvents) {
  const RealPath rp = fake_realpath({{"/w", "/w"}, {"/w/in", "/real/in"}});
  {
    auto b = record(RS_FOP_RENAME, {"", "old", "/w", "in/new", "/w", ""});
    auto r = decode_file_op(b.data(), b.size());
    ASSERT_TRUE(r);
    const Event ev = file_event(*r, rp);
    EXPECT_EQ(ev.type(), EventType::kFileRename);
    EXPECT_EQ(*ev.get_str(Field::kFilePath), "/w/old");
    EXPECT_EQ(*ev.get_str(Field::kFileTargetPath), "/real/in/new");
    EXPECT_EQ(*ev.get_str(Field::kRingsideFileRequestedPath), "old");
  }
  {
    auto b = record(RS_FOP_SYMLINK, {"", "../t/x", "", "in/l", "/w", ""});
    auto r = decode_file_op(b.data(), b.size());
    ASSERT_TRUE(r);
    const Event ev = file_event(*r, rp);
    EXPECT_EQ(ev.type(), EventType::kFileLink);
    EXPECT_EQ(*ev.get_str(Field::kFileTargetPath), "/real/in/l");
    EXPECT_EQ(*ev.get_str(Field::kFilePath), "/real/t/x");  // the content, from the link's dir
    EXPECT_EQ(*ev.get_str(Field::kRingsideFileRequestedPath), "../t/x");
  }
  {
    auto b = record(RS_FOP_MKDIR, {"", "d", "/w", "", "", ""});
    b.rec()->mode = 0750;
    auto r = decode_file_op(b.data(), b.size());
    ASSERT_TRUE(r);
    const Event ev = file_event(*r, rp);
    EXPECT_EQ(ev.type(), EventType::kFileCreate);
    EXPECT_EQ(*ev.get_str(Field::kFileMode), "0750");
  }
  {
    auto b = record(RS_FOP_CHMOD, {"/w/f", "", "", "", "", ""});  // fchmod: from the fd
    b.rec()->mode = 0600;
    b.rec()->truncated = RS_FTRUNC_PATH;
    auto r = decode_file_op(b.data(), b.size());
    ASSERT_TRUE(r);
    const Event ev = file_event(*r, rp);
    EXPECT_EQ(ev.type(), EventType::kFileChmod);
    EXPECT_EQ(*ev.get_str(Field::kFilePath), "/w/f");
    EXPECT_EQ(*ev.get_str(Field::kFileMode), "0600");
    EXPECT_EQ(ev.get_list(Field::kRingsideTruncated).to_vector(),
              std::vector<std::string>{"file.path"});
  }
  EXPECT_EQ(event_type_of(RS_FOP_TRUNCATE), EventType::kFileModify);
  EXPECT_EQ(event_type_of(RS_FOP_UNLINK), EventType::kFileDelete);
  EXPECT_EQ(event_type_of(RS_FOP_RMDIR), EventType::kFileDelete);
  EXPECT_EQ(event_type_of(0), std::nullopt);
}

}  // namespace
}  // namespace ringside::file_records
