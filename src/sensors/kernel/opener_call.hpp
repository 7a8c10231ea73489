// What a process waiting in an open permission event asked for: its open(2) flags and the path
// as it typed it. fanotify gives neither (the event descriptor carries the group's flags), but
// the opener is blocked inside the system call, so /proc/PID/syscall shows the call and its
// arguments and process_vm_readv(2) reads the path argument. Only the thread-group leader's call
// is visible there; it is taken as the opener's only when the path it names ends in the name
// of the file being opened (a call of another thread, or none, gives nothing).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringside {

struct OpenerCall {
  int flags = 0;
  std::string requested_path;  // as the program named it
};

// One line of /proc/PID/syscall: the number and the six arguments; nothing when the task is
// running or not in a system call.
struct SyscallArgs {
  long nr = -1;
  uint64_t args[6] = {};
};
std::optional<SyscallArgs> parse_proc_syscall(std::string_view line);

// True when `requested` may name `resolved`: the last path components are equal (a relative
// path, "..", a symlinked directory all keep the file's own name).
bool names_same_file(std::string_view requested, std::string_view resolved);

// The open call `pid` is blocked in, when it is one and names `resolved_path`.
std::optional<OpenerCall> read_opener_call(int32_t pid, std::string_view resolved_path);

}  // namespace ringside
