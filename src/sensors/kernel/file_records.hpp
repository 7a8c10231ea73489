// Decoding of the file sensor's ring records (schema `records:` file_op, <ringside/records.h>)
// and their translation into events: open flags and modes as text, and the resolved paths of
// operations the kernel could only partly resolve. Pure functions (the one file system access,
// realpath, is injected), so every malformed record and every path case is unit-tested.
#pragma once

#include <ringside/records.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.hpp"
#include "core/result.hpp"

namespace ringside::file_records {

// A file_op record with its strings split. Views point into the record's bytes, which must
// stay alive and be 8-byte aligned (ring buffer samples are).
struct FileOpRecord {
  const rs_rec_file_op* fixed = nullptr;
  std::string_view path;        // resolved in the kernel from the file itself; empty if none
  std::string_view requested;   // first path as the program passed it
  std::string_view dir;         // directory `requested` is relative to, resolved in the kernel
  std::string_view target;      // second path as passed (rename, link, symlink)
  std::string_view target_dir;  // directory `target` is relative to
  std::string_view exe;         // the acting process's executable, when the record carries it

  uint16_t flags() const { return fixed->flags; }
  bool succeeded() const { return fixed->ret >= 0; }
};

// Checks the type, that the header's size matches `size`, the alignment, that the string
// lengths add up to the data, that every string is NUL-terminated without an embedded NUL, and
// that op is known.
Result<FileOpRecord> decode_file_op(const void* data, size_t size);

// The event type of an operation (RS_FOP_*): open, modify (truncate), delete, rename, chmod,
// link (hard and symbolic), create (mkdir).
std::optional<EventType> event_type_of(uint8_t op);

// Kernel open(2) flags as names, to `visit` one by one: the access mode first (O_RDONLY,
// O_WRONLY, O_RDWR), then every other known flag in a fixed order; unknown bits last, as one
// hexadecimal "0x..." entry.
void for_each_open_flag(uint32_t flags, const std::function<void(std::string_view)>& visit);
// The same as a list, without the unknown bits: those go to *unknown ("" when none) if given.
std::vector<std::string_view> open_flag_names(uint32_t flags, std::string* unknown);

// Permission bits (with set-id and sticky bits) as four octal digits, e.g. "0644", "4755".
std::string mode_text(uint32_t mode);

// "." and ".." and repeated slashes removed without looking at the file system.
std::string normalize_lexically(std::string_view path);

// realpath(3): the canonical path of an existing file, nothing when it cannot be resolved.
using RealPath = std::function<std::optional<std::string>(const std::string& path)>;

// The path `requested` names, relative to `dir` (already resolved by the kernel): `dir`
// joined with a plain last component as is; any directory part of `requested` resolved with
// `realpath` (it may hold symlinks or ".."), lexically when it no longer exists; the last
// component itself followed only when `follow` (chmod, truncate, a failed open).
std::string resolve_path(std::string_view dir, std::string_view requested, bool follow,
                         const RealPath& realpath);

// The event for a record, with every field it carries: origin (kernel, "ebpf"), @timestamp,
// process ids, user, start time, executable, file.path resolved, ringside.file.requested_path,
// file.target_path, flags, mode, inode, outcome, truncation.
Event file_event(const FileOpRecord& r, const RealPath& realpath);

// ringside.truncated entries for rs_rec_file_op.truncated bits.
std::vector<std::string_view> truncated_fields(uint8_t bits);

}  // namespace ringside::file_records
