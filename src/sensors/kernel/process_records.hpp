// Decoding of the process sensor's ring records (schema `records:`, <ringside/records.h>) and
// their translation into Events and process-table entries. Pure functions: no kernel, no
// agent, so every check on a malformed record is unit-tested.
#pragma once

#include <ringside/records.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/process_table.hpp"
#include "core/event.hpp"
#include "core/result.hpp"

namespace ringside::process_records {

// An exec record with its variable part split. Everything points into the record's bytes,
// which must stay alive and be 8-byte aligned (ring buffer samples are).
struct ExecRecord {
  const rs_rec_exec* fixed = nullptr;
  std::string_view args;        // argv, NUL-separated (final NUL kept); empty when unread
  std::string_view executable;  // without the NUL; empty when unread
  std::string_view cwd;
  std::string_view filename;  // the name the program passed to execve
  bool lsm_blocked() const;
};

// The record type from the common header, or 0 when `size` cannot hold a header.
uint16_t record_type(const void* data, size_t size);

// Each checks the type, that the header's size matches `size` and fits the fixed part, and
// (exec) the alignment, that the variable lengths add up and every string is NUL-terminated.
Result<rs_rec_fork> decode_fork(const void* data, size_t size);
Result<rs_rec_exit> decode_exit(const void* data, size_t size);
Result<ExecRecord> decode_exec(const void* data, size_t size);

// wait(2) status word -> process.exit_code: the exit status for a normal exit, the negative
// signal number for a death by signal (-9 for SIGKILL; a core dump does not change it).
int64_t exit_code_from_status(int32_t status);

// ringside.truncated entries for rs_rec_exec.truncated bits.
std::vector<std::string_view> truncated_fields(uint16_t bits);

// Events with every field the record carries: origin (kernel, "ebpf"), @timestamp from the
// record's boot time, process.start, ids, and for exec the image, argv, cwd and credentials.
Event fork_event(const rs_rec_fork& r);
Event exec_event(const ExecRecord& r);
Event exit_event(const rs_rec_exit& r);
// The same built in `ev` (Event::reset first), for an event reused in place (EventBatch::next).
void fork_event(const rs_rec_fork& r, Event& ev);
void exec_event(const ExecRecord& r, Event& ev);
void exit_event(const rs_rec_exit& r, Event& ev);

// The process-table view of an exec (start time in /proc clock ticks).
ProcessInfo process_info(const ExecRecord& r);

}  // namespace ringside::process_records
