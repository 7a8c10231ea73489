#include "sensors/kernel/process_records.hpp"

#include <cstring>
#include <string>

#include "core/clock.hpp"
#include "sensors/kernel/bpf/process_abi.h"

namespace ringside::process_records {

namespace {

constexpr std::string_view kSensor = "ebpf";
// The element that ends a cut argv (the interposer uses the same, RS_HOOK_TRUNCATED_MARKER).
constexpr std::string_view kTruncatedMarker = "[truncated]";

template <class Rec>
Result<void> check_fixed(const void* data, size_t size, uint16_t type, const char* what) {
  if (data == nullptr || size < sizeof(Rec)) {
    return Error{std::string(what) + " record too short (" + std::to_string(size) + " bytes)"};
  }
  rs_record_header h{};
  std::memcpy(&h, data, sizeof h);
  if (h.type != type) return Error{std::string(what) + " record of another type"};
  if (h.size != size) {
    return Error{std::string(what) + " record size " + std::to_string(h.size) + " != received " +
                 std::to_string(size)};
  }
  return ok();
}

template <class Rec>
Result<Rec> decode_fixed(const void* data, size_t size, uint16_t type, const char* what) {
  if (auto r = check_fixed<Rec>(data, size, type, what); !r) return std::move(r).error();
  Rec out{};
  std::memcpy(&out, data, sizeof out);
  return out;
}

// A string of `len` bytes (NUL included) at `*off`; advances `*off`. Empty view for len 0.
bool take(const char* base, size_t avail, size_t* off, size_t len, bool nul_required,
          std::string_view* out) {
  if (len == 0) {
    *out = {};
    return true;
  }
  if (len > avail - *off) return false;
  const char* p = base + *off;
  if (nul_required && p[len - 1] != '\0') return false;
  *out = std::string_view(p, nul_required ? len - 1 : len);
  *off += len;
  return true;
}

std::string_view base_name(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

int64_t wall(uint64_t boot_ns) { return clock::boot_to_realtime(static_cast<int64_t>(boot_ns)); }

}  // namespace

bool ExecRecord::lsm_blocked() const { return (fixed->flags & RS_EXEC_F_LSM_BLOCKED) != 0; }

uint16_t record_type(const void* data, size_t size) {
  if (data == nullptr || size < sizeof(rs_record_header)) return 0;
  rs_record_header h{};
  std::memcpy(&h, data, sizeof h);
  return h.type;
}

Result<rs_rec_fork> decode_fork(const void* data, size_t size) {
  return decode_fixed<rs_rec_fork>(data, size, RS_REC_FORK, "fork");
}

Result<rs_rec_exit> decode_exit(const void* data, size_t size) {
  return decode_fixed<rs_rec_exit>(data, size, RS_REC_EXIT, "exit");
}

Result<ExecRecord> decode_exec(const void* data, size_t size) {
  if (auto r = check_fixed<rs_rec_exec>(data, size, RS_REC_EXEC, "exec"); !r) {
    return std::move(r).error();
  }
  if (reinterpret_cast<uintptr_t>(data) % alignof(rs_rec_exec) != 0) {
    return Error{"exec record not aligned"};
  }
  ExecRecord r;
  r.fixed = static_cast<const rs_rec_exec*>(data);
  const rs_rec_exec& f = *r.fixed;
  const size_t var = size - sizeof(rs_rec_exec);
  const size_t want = size_t{f.args_len} + f.exe_len + f.cwd_len + f.filename_len;
  if (want != var) {
    return Error{"exec record lengths add up to " + std::to_string(want) + ", data has " +
                 std::to_string(var)};
  }
  const char* base = static_cast<const char*>(data) + sizeof(rs_rec_exec);
  size_t off = 0;
  if (!take(base, var, &off, f.args_len, false, &r.args) ||
      (!r.args.empty() && r.args.back() != '\0')) {
    return Error{"exec record argv not NUL-terminated"};
  }
  if (!take(base, var, &off, f.exe_len, true, &r.executable) ||
      !take(base, var, &off, f.cwd_len, true, &r.cwd) ||
      !take(base, var, &off, f.filename_len, true, &r.filename)) {
    return Error{"exec record string not NUL-terminated"};
  }
  if (r.executable.find('\0') != std::string_view::npos ||
      r.cwd.find('\0') != std::string_view::npos) {
    return Error{"exec record path with an embedded NUL"};
  }
  return r;
}

int64_t exit_code_from_status(int32_t status) {
  const int sig = status & 0x7f;
  if (sig == 0) return (status >> 8) & 0xff;
  return -static_cast<int64_t>(sig);
}

std::vector<std::string_view> truncated_fields(uint16_t bits) {
  std::vector<std::string_view> out;
  if (bits & RS_TRUNC_EXE) out.emplace_back("process.executable");
  if (bits & RS_TRUNC_ARGS) out.emplace_back("process.args");
  if (bits & RS_TRUNC_CWD) out.emplace_back("process.working_directory");
  if (bits & RS_TRUNC_FILENAME) out.emplace_back("ringside.file.requested_path");
  return out;
}

void fork_event(const rs_rec_fork& r, Event& ev) {
  ev.reset(EventType::kProcessFork, wall(r.ts_boot_ns));
  ev.set_origin(Level::kKernel, kSensor);
  ev.set(Field::kProcessPid, static_cast<int64_t>(r.pid));
  ev.set(Field::kProcessParentPid, static_cast<int64_t>(r.ppid));
  ev.set(Field::kProcessStart, clock::start_to_realtime(static_cast<int64_t>(r.start_boot_ns)));
  ev.set(Field::kUserId, static_cast<int64_t>(r.uid));
  ev.set(Field::kEventOutcome, "success");
}

void exec_event(const ExecRecord& r, Event& ev) {
  const rs_rec_exec& f = *r.fixed;
  ev.reset(EventType::kProcessExec, wall(f.ts_boot_ns));
  ev.set_origin(Level::kKernel, kSensor);
  ev.set(Field::kProcessPid, static_cast<int64_t>(f.pid));
  ev.set(Field::kProcessParentPid, static_cast<int64_t>(f.ppid));
  ev.set(Field::kProcessStart, clock::start_to_realtime(static_cast<int64_t>(f.start_boot_ns)));
  ev.set(Field::kUserId, static_cast<int64_t>(f.uid));
  ev.set(Field::kUserEffectiveId, static_cast<int64_t>(f.euid));
  ev.set(Field::kGroupId, static_cast<int64_t>(f.gid));
  ev.set(Field::kProcessArgsCount, static_cast<int64_t>(f.args_count));
  if (!r.executable.empty()) {
    ev.set(Field::kProcessExecutable, r.executable);
    ev.set(Field::kProcessName, base_name(r.executable));
  }
  if (!r.args.empty()) {
    ev.set_nul_separated(Field::kProcessArgs, r.args);
    if (f.truncated & RS_TRUNC_ARGS) ev.append(Field::kProcessArgs, kTruncatedMarker);
  }
  if (!r.cwd.empty()) ev.set(Field::kProcessWorkingDirectory, r.cwd);
  if (!r.filename.empty()) ev.set(Field::kRingsideFileRequestedPath, r.filename);
  for (std::string_view t : truncated_fields(f.truncated)) ev.append(Field::kRingsideTruncated, t);
}

void exit_event(const rs_rec_exit& r, Event& ev) {
  ev.reset(EventType::kProcessExit, wall(r.ts_boot_ns));
  ev.set_origin(Level::kKernel, kSensor);
  ev.set(Field::kProcessPid, static_cast<int64_t>(r.pid));
  ev.set(Field::kProcessParentPid, static_cast<int64_t>(r.ppid));
  ev.set(Field::kProcessStart, clock::start_to_realtime(static_cast<int64_t>(r.start_boot_ns)));
  ev.set(Field::kUserId, static_cast<int64_t>(r.uid));
  ev.set(Field::kProcessExitCode, exit_code_from_status(r.exit_code));
  ev.set(Field::kEventOutcome, "success");
}

namespace {

// An event from one of the in-place builders above, as a value.
template <class Record>
Event built(void (*build)(const Record&, Event&), const Record& r) {
  Event ev;
  build(r, ev);
  return ev;
}

}  // namespace

Event fork_event(const rs_rec_fork& r) { return built<rs_rec_fork>(fork_event, r); }
Event exec_event(const ExecRecord& r) { return built<ExecRecord>(exec_event, r); }
Event exit_event(const rs_rec_exit& r) { return built<rs_rec_exit>(exit_event, r); }

ProcessInfo process_info(const ExecRecord& r) {
  ProcessInfo p;
  p.pid = static_cast<int32_t>(r.fixed->pid);
  p.ppid = static_cast<int32_t>(r.fixed->ppid);
  p.start_ticks = clock::boot_ns_to_ticks(static_cast<int64_t>(r.fixed->start_boot_ns));
  p.executable = std::string(r.executable);
  p.cwd = std::string(r.cwd);
  p.uid = r.fixed->uid;
  p.euid = r.fixed->euid;
  p.gid = r.fixed->gid;
  return p;  // arguments travel with the event; the process table does not keep them
}

}  // namespace ringside::process_records
