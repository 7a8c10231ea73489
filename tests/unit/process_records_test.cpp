// Decoding of the eBPF process sensor's ring records from raw bytes, including truncated and
// malformed ones, and their translation into events.

#include "sensors/kernel/process_records.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "sensors/kernel/bpf/process_abi.h"

namespace ringside::process_records {
namespace {

// 8-byte aligned storage, as ring buffer samples are.
class RecordBuffer {
 public:
  explicit RecordBuffer(size_t size) : words_((size + 7) / 8 + 1, 0), size_(size) {}
  uint8_t* data() { return reinterpret_cast<uint8_t*>(words_.data()); }
  size_t size() const { return size_; }

 private:
  std::vector<uint64_t> words_;
  size_t size_;
};

struct ExecParts {
  std::string args = std::string("/opt/x/tool\0--flag\0value\0", 25);
  std::string exe = std::string("/opt/x/tool\0", 12);
  std::string cwd = std::string("/home/a b\0", 10);
  std::string filename = std::string("./tool\0", 7);
};

RecordBuffer exec_record(const ExecParts& p, uint16_t truncated = 0) {
  const size_t var = p.args.size() + p.exe.size() + p.cwd.size() + p.filename.size();
  RecordBuffer b(sizeof(rs_rec_exec) + var);
  rs_rec_exec r{};
  r.type = RS_REC_EXEC;
  r.size = static_cast<uint32_t>(b.size());
  r.ts_boot_ns = static_cast<uint64_t>(clock::boottime_ns());
  r.pid = 4242;
  r.ppid = 17;
  r.tid = 4242;
  r.uid = 1000;
  r.euid = 0;
  r.gid = 100;
  r.start_boot_ns = r.ts_boot_ns - 1000;
  r.args_count = 3;
  r.args_len = static_cast<uint16_t>(p.args.size());
  r.exe_len = static_cast<uint16_t>(p.exe.size());
  r.cwd_len = static_cast<uint16_t>(p.cwd.size());
  r.filename_len = static_cast<uint16_t>(p.filename.size());
  r.truncated = truncated;
  std::memcpy(b.data(), &r, sizeof r);
  const std::string all = p.args + p.exe + p.cwd + p.filename;
  std::memcpy(b.data() + sizeof r, all.data(), all.size());
  return b;
}

TEST(ProcessRecords, DecodesExecAndSplitsItsStrings) {
  auto b = exec_record(ExecParts{});
  ASSERT_EQ(record_type(b.data(), b.size()), RS_REC_EXEC);
  auto r = decode_exec(b.data(), b.size());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->fixed->pid, 4242u);
  EXPECT_EQ(r->executable, "/opt/x/tool");
  EXPECT_EQ(r->cwd, "/home/a b");
  EXPECT_EQ(r->filename, "./tool");
  EXPECT_EQ(r->args.size(), 25u);
  EXPECT_FALSE(r->lsm_blocked());

  const Event ev = exec_event(*r);
  EXPECT_EQ(ev.type(), EventType::kProcessExec);
  EXPECT_EQ(*ev.get_int(Field::kProcessPid), 4242);
  EXPECT_EQ(*ev.get_int(Field::kProcessParentPid), 17);
  EXPECT_EQ(*ev.get_int(Field::kUserId), 1000);
  EXPECT_EQ(*ev.get_int(Field::kUserEffectiveId), 0);
  EXPECT_EQ(*ev.get_int(Field::kGroupId), 100);
  EXPECT_EQ(*ev.get_int(Field::kProcessArgsCount), 3);
  EXPECT_EQ(*ev.get_str(Field::kProcessExecutable), "/opt/x/tool");
  EXPECT_EQ(*ev.get_str(Field::kProcessName), "tool");
  EXPECT_EQ(*ev.get_str(Field::kProcessWorkingDirectory), "/home/a b");
  EXPECT_EQ(*ev.get_str(Field::kRingsideFileRequestedPath), "./tool");
  EXPECT_EQ(*ev.get_str(Field::kRingsideSensor), "ebpf");
  EXPECT_EQ(ev.get_list(Field::kProcessArgs).to_vector(),
            (std::vector<std::string>{"/opt/x/tool", "--flag", "value"}));
  EXPECT_FALSE(ev.has(Field::kRingsideTruncated));
  const int64_t now = clock::realtime_ns();
  EXPECT_LT(std::llabs(ev.timestamp_ns() - now), 2000000000LL);

  const ProcessInfo info = process_info(*r);
  EXPECT_EQ(info.pid, 4242);
  EXPECT_EQ(info.executable, "/opt/x/tool");
  EXPECT_TRUE(info.args.empty());
  EXPECT_EQ(info.start_ticks,
            clock::boot_ns_to_ticks(static_cast<int64_t>(r->fixed->start_boot_ns)));
}

TEST(ProcessRecords, TruncatedExecListsTheCutFieldsAndMarksArgv) {
  ExecParts p;
  p.args = std::string("a\0b\0", 4);
  auto b = exec_record(p, RS_TRUNC_ARGS | RS_TRUNC_CWD);
  auto r = decode_exec(b.data(), b.size());
  ASSERT_TRUE(r) << r.error().message;
  const Event ev = exec_event(*r);
  EXPECT_EQ(ev.get_list(Field::kProcessArgs).to_vector(),
            (std::vector<std::string>{"a", "b", "[truncated]"}));
  EXPECT_EQ(ev.get_list(Field::kRingsideTruncated).to_vector(),
            (std::vector<std::string>{"process.args", "process.working_directory"}));
}

TEST(ProcessRecords, UnreadPartsAreAbsentNotEmpty) {
  ExecParts p;
  p.args.clear();
  p.cwd.clear();
  auto b = exec_record(p);
  auto r = decode_exec(b.data(), b.size());
  ASSERT_TRUE(r) << r.error().message;
  const Event ev = exec_event(*r);
  EXPECT_FALSE(ev.has(Field::kProcessArgs));
  EXPECT_FALSE(ev.has(Field::kProcessWorkingDirectory));
  EXPECT_TRUE(ev.has(Field::kProcessExecutable));
}

TEST(ProcessRecords, RejectsMalformedExecRecords) {
  auto good = exec_record(ExecParts{});
  // Shorter than the fixed part, and a header that does not match the received size.
  EXPECT_FALSE(decode_exec(good.data(), sizeof(rs_rec_exec) - 1));
  EXPECT_FALSE(decode_exec(good.data(), good.size() - 1));
  EXPECT_FALSE(decode_exec(nullptr, 0));
  EXPECT_EQ(record_type(good.data(), 3), 0);

  auto set_fixed = [](RecordBuffer& b, auto edit) {
    rs_rec_exec r{};
    std::memcpy(&r, b.data(), sizeof r);
    edit(r);
    std::memcpy(b.data(), &r, sizeof r);
  };
  {  // lengths that do not add up to the data
    auto b = exec_record(ExecParts{});
    set_fixed(b, [](rs_rec_exec& r) { r.cwd_len += 1; });
    auto r = decode_exec(b.data(), b.size());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("lengths"), std::string::npos);
  }
  {  // a string without its NUL
    ExecParts p;
    p.exe = "/opt/x/toolX";
    auto b = exec_record(p);
    EXPECT_FALSE(decode_exec(b.data(), b.size()));
  }
  {  // argv without its final NUL
    ExecParts p;
    p.args = "abc";
    auto b = exec_record(p);
    EXPECT_FALSE(decode_exec(b.data(), b.size()));
  }
  {  // a path with a NUL inside
    ExecParts p;
    p.exe = std::string("/opt\0x\0", 7);
    auto b = exec_record(p);
    EXPECT_FALSE(decode_exec(b.data(), b.size()));
  }
  {  // another record type
    auto b = exec_record(ExecParts{});
    set_fixed(b, [](rs_rec_exec& r) { r.type = RS_REC_FORK; });
    EXPECT_FALSE(decode_exec(b.data(), b.size()));
  }
  {  // misaligned bytes
    auto b = exec_record(ExecParts{});
    std::vector<uint64_t> words(b.size() / 8 + 2);
    auto* shifted = reinterpret_cast<uint8_t*>(words.data()) + 4;
    std::memcpy(shifted, b.data(), b.size());
    EXPECT_FALSE(decode_exec(shifted, b.size()));
  }
}

TEST(ProcessRecords, DecodesForkAndExit) {
  rs_rec_fork f{};
  f.type = RS_REC_FORK;
  f.size = sizeof f;
  f.ts_boot_ns = static_cast<uint64_t>(clock::boottime_ns());
  f.pid = 10;
  f.ppid = 9;
  f.uid = 5;
  f.start_boot_ns = f.ts_boot_ns;
  auto fr = decode_fork(&f, sizeof f);
  ASSERT_TRUE(fr) << fr.error().message;
  const Event fe = fork_event(*fr);
  EXPECT_EQ(fe.type(), EventType::kProcessFork);
  EXPECT_EQ(*fe.get_int(Field::kProcessPid), 10);
  EXPECT_EQ(*fe.get_int(Field::kProcessParentPid), 9);
  EXPECT_EQ(*fe.get_int(Field::kUserId), 5);
  EXPECT_FALSE(decode_fork(&f, sizeof f - 8));
  EXPECT_FALSE(decode_exit(&f, sizeof f));  // a fork is not an exit

  rs_rec_exit x{};
  x.type = RS_REC_EXIT;
  x.size = sizeof x;
  x.pid = 10;
  x.ppid = 9;
  x.exit_code = 7 << 8;
  auto xr = decode_exit(&x, sizeof x);
  ASSERT_TRUE(xr) << xr.error().message;
  EXPECT_EQ(*exit_event(*xr).get_int(Field::kProcessExitCode), 7);
  x.size = sizeof x + 8;
  EXPECT_FALSE(decode_exit(&x, sizeof x));
}

TEST(ProcessRecords, ExitStatusBecomesCodeOrNegativeSignal) {
  EXPECT_EQ(exit_code_from_status(0), 0);
  EXPECT_EQ(exit_code_from_status(7 << 8), 7);
  EXPECT_EQ(exit_code_from_status(255 << 8), 255);
  EXPECT_EQ(exit_code_from_status(9), -9);           // SIGKILL
  EXPECT_EQ(exit_code_from_status(15), -15);         // SIGTERM
  EXPECT_EQ(exit_code_from_status(0x80 | 11), -11);  // SIGSEGV with a core dump
}

TEST(ProcessRecords, TruncationBitsNameFields) {
  EXPECT_TRUE(truncated_fields(0).empty());
  EXPECT_EQ(truncated_fields(RS_TRUNC_EXE | RS_TRUNC_FILENAME),
            (std::vector<std::string_view>{"process.executable", "ringside.file.requested_path"}));
}

}  // namespace
}  // namespace ringside::process_records
