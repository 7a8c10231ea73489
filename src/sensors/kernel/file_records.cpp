#include "sensors/kernel/file_records.hpp"

#include <fcntl.h>

#include <cstdio>
#include <cstring>

#include "core/clock.hpp"
#include "sensors/kernel/bpf/file_abi.h"

namespace ringside::file_records {

namespace {

constexpr std::string_view kSensor = "ebpf";

// The kernel's O_LARGEFILE (64-bit C libraries define theirs as 0; the kernel and io_uring
// set it on every open).
#if defined(__aarch64__)
constexpr uint32_t kKernelLargefile = 0400000;
#else
constexpr uint32_t kKernelLargefile = 0100000;
#endif

struct FlagName {
  uint32_t bit;
  std::string_view name;
};

// Every flag besides the access mode. O_SYNC and O_TMPFILE include O_DSYNC and O_DIRECTORY;
// for_each_open_flag names only the larger one.
constexpr FlagName kOpenFlags[] = {
    {O_CREAT, "O_CREAT"},
    {O_EXCL, "O_EXCL"},
    {O_NOCTTY, "O_NOCTTY"},
    {O_TRUNC, "O_TRUNC"},
    {O_APPEND, "O_APPEND"},
    {O_NONBLOCK, "O_NONBLOCK"},
    {O_DSYNC, "O_DSYNC"},
    {O_ASYNC, "O_ASYNC"},
    {O_DIRECT, "O_DIRECT"},
    {kKernelLargefile, "O_LARGEFILE"},
    {O_DIRECTORY, "O_DIRECTORY"},
    {O_NOFOLLOW, "O_NOFOLLOW"},
    {O_NOATIME, "O_NOATIME"},
    {O_CLOEXEC, "O_CLOEXEC"},
    {RS_O_SYNC_BIT, "O_SYNC"},
    {O_PATH, "O_PATH"},
    {RS_O_TMPFILE_BIT, "O_TMPFILE"},
};

int64_t wall(uint64_t boot_ns) { return clock::boot_to_realtime(static_cast<int64_t>(boot_ns)); }

// The string of `len` bytes (NUL included) at `*off`; advances `*off`. Empty for len 0.
bool take(const char* base, size_t avail, size_t* off, size_t len, std::string_view* out) {
  if (len == 0) {
    *out = {};
    return true;
  }
  if (len > avail - *off) return false;
  const char* p = base + *off;
  if (p[len - 1] != '\0') return false;
  *out = std::string_view(p, len - 1);
  if (out->find('\0') != std::string_view::npos) return false;
  *off += len;
  return true;
}

std::string join(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

// Splits off the last component ("a/b/" -> "a/b" and "b"); parent is empty when there is none.
void split_last(std::string_view path, std::string_view* parent, std::string_view* last) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    *parent = {};
    *last = path;
    return;
  }
  *parent = slash == 0 ? path.substr(0, 1) : path.substr(0, slash);
  *last = path.substr(slash + 1);
}

}  // namespace

Result<FileOpRecord> decode_file_op(const void* data, size_t size) {
  if (data == nullptr || size < sizeof(rs_rec_file_op)) {
    return Error{"file_op record too short (" + std::to_string(size) + " bytes)"};
  }
  if (reinterpret_cast<uintptr_t>(data) % alignof(rs_rec_file_op) != 0) {
    return Error{"file_op record not aligned"};
  }
  FileOpRecord r;
  r.fixed = static_cast<const rs_rec_file_op*>(data);
  const rs_rec_file_op& f = *r.fixed;
  if (f.type != RS_REC_FILE_OP) return Error{"file_op record of another type"};
  if (f.size != size) {
    return Error{"file_op record size " + std::to_string(f.size) + " != received " +
                 std::to_string(size)};
  }
  if (!event_type_of(f.op)) return Error{"file_op record with unknown op " + std::to_string(f.op)};
  const size_t var = size - sizeof(rs_rec_file_op);
  const size_t want = size_t{f.path_len} + f.requested_len + f.dir_len + f.target_len +
                      f.target_dir_len + f.exe_len;
  if (want != var) {
    return Error{"file_op record lengths add up to " + std::to_string(want) + ", data has " +
                 std::to_string(var)};
  }
  const char* base = static_cast<const char*>(data) + sizeof(rs_rec_file_op);
  size_t off = 0;
  if (!take(base, var, &off, f.path_len, &r.path) ||
      !take(base, var, &off, f.requested_len, &r.requested) ||
      !take(base, var, &off, f.dir_len, &r.dir) ||
      !take(base, var, &off, f.target_len, &r.target) ||
      !take(base, var, &off, f.target_dir_len, &r.target_dir) ||
      !take(base, var, &off, f.exe_len, &r.exe)) {
    return Error{"file_op record string not NUL-terminated or with an embedded NUL"};
  }
  return r;
}

std::optional<EventType> event_type_of(uint8_t op) {
  switch (op) {
    case RS_FOP_OPEN:
      return EventType::kFileOpen;
    case RS_FOP_TRUNCATE:
      return EventType::kFileModify;
    case RS_FOP_UNLINK:
    case RS_FOP_RMDIR:
      return EventType::kFileDelete;
    case RS_FOP_RENAME:
      return EventType::kFileRename;
    case RS_FOP_CHMOD:
      return EventType::kFileChmod;
    case RS_FOP_LINK:
    case RS_FOP_SYMLINK:
      return EventType::kFileLink;
    case RS_FOP_MKDIR:
      return EventType::kFileCreate;
    default:
      return std::nullopt;
  }
}

void for_each_open_flag(uint32_t flags, const std::function<void(std::string_view)>& visit) {
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      visit("O_RDONLY");
      break;
    case O_WRONLY:
      visit("O_WRONLY");
      break;
    case O_RDWR:
      visit("O_RDWR");
      break;
    default:
      visit("O_ACCMODE");  // 3: no read or write, ioctl only
      break;
  }
  uint32_t left = flags & ~static_cast<uint32_t>(O_ACCMODE);
  if (left & RS_O_SYNC_BIT) left &= ~static_cast<uint32_t>(O_DSYNC);
  if (left & RS_O_TMPFILE_BIT) left &= ~static_cast<uint32_t>(O_DIRECTORY);
  uint32_t known = 0;
  for (const FlagName& f : kOpenFlags) {
    known |= f.bit;
    if (left & f.bit) visit(f.name);
  }
  if ((left & ~known) != 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", left & ~known);
    visit(buf);
  }
}

std::vector<std::string_view> open_flag_names(uint32_t flags, std::string* unknown) {
  std::vector<std::string_view> out;
  if (unknown != nullptr) unknown->clear();
  for_each_open_flag(flags, [&](std::string_view name) {
    if (name.substr(0, 2) != "0x") {
      out.push_back(name);  // names of known flags are literals: the views stay valid
    } else if (unknown != nullptr) {
      *unknown = std::string(name);
    }
  });
  return out;
}

std::string mode_text(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

std::string normalize_lexically(std::string_view path) {
  const bool absolute = !path.empty() && path.front() == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    const std::string_view part = path.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);
      }
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out = absolute ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out += '/';
    out += parts[k];
  }
  return out.empty() ? "." : out;
}

std::string resolve_path(std::string_view dir, std::string_view requested, bool follow,
                         const RealPath& realpath) {
  if (requested.empty()) return {};
  const bool absolute = requested.front() == '/';
  if (!absolute && dir.empty()) return {};  // its directory could not be read
  const std::string full = absolute ? std::string(requested) : join(dir, requested);
  std::string_view parent;
  std::string_view last;
  split_last(requested, &parent, &last);
  if (follow || last == "." || last == ".." || last.empty() || last == "/") {
    if (auto r = realpath(full)) return *r;
  }
  if (!absolute && parent.empty() && last != "." && last != "..") {
    return join(dir, last);  // the directory the kernel resolved, and a plain name
  }
  std::string_view full_parent;
  std::string_view full_last;
  split_last(full, &full_parent, &full_last);
  if (full_last != "." && full_last != ".." && !full_parent.empty()) {
    if (auto p = realpath(std::string(full_parent))) return join(*p, full_last);
  }
  return normalize_lexically(full);
}

std::vector<std::string_view> truncated_fields(uint8_t bits) {
  std::vector<std::string_view> out;
  if (bits & (RS_FTRUNC_PATH | RS_FTRUNC_DIR)) out.emplace_back("file.path");
  if (bits & RS_FTRUNC_REQUESTED) out.emplace_back("ringside.file.requested_path");
  if (bits & (RS_FTRUNC_TARGET | RS_FTRUNC_TARGET_DIR)) out.emplace_back("file.target_path");
  if (bits & RS_FTRUNC_EXE) out.emplace_back("process.executable");
  return out;
}

Event file_event(const FileOpRecord& r, const RealPath& realpath) {
  const rs_rec_file_op& f = *r.fixed;
  const EventType type = event_type_of(f.op).value_or(EventType::kFileOpen);
  Event ev(type, wall(f.ts_boot_ns));
  ev.set_origin(Level::kKernel, kSensor);
  ev.set(Field::kProcessPid, static_cast<int64_t>(f.pid));
  ev.set(Field::kProcessThreadId, static_cast<int64_t>(f.tid));
  if (f.ppid != 0) ev.set(Field::kProcessParentPid, static_cast<int64_t>(f.ppid));
  ev.set(Field::kUserId, static_cast<int64_t>(f.uid));
  if (f.start_boot_ns != 0)
    ev.set(Field::kProcessStart, clock::start_to_realtime(static_cast<int64_t>(f.start_boot_ns)));
  if (!r.exe.empty()) ev.set(Field::kProcessExecutable, r.exe);
  ev.set(Field::kEventOutcome, f.ret >= 0 ? "success" : "failure");
  if (!r.requested.empty()) ev.set(Field::kRingsideFileRequestedPath, r.requested);

  const bool follow = f.op == RS_FOP_OPEN || f.op == RS_FOP_TRUNCATE ||
                      (f.op == RS_FOP_CHMOD && !(f.at_flags & AT_SYMLINK_NOFOLLOW)) ||
                      (f.op == RS_FOP_LINK && (f.at_flags & AT_SYMLINK_FOLLOW));
  std::string path;
  std::string target;
  if (!r.path.empty()) {
    path = std::string(r.path);
  } else if (f.op == RS_FOP_SYMLINK) {
    // What the link points to, read from where the link is (not followed further).
    target = resolve_path(r.target_dir, r.target, false, realpath);
    if (!r.requested.empty()) {
      path = r.requested.front() == '/'
                 ? normalize_lexically(r.requested)
                 : normalize_lexically(target.substr(0, target.rfind('/') + 1) +
                                       std::string(r.requested));
    }
  } else {
    path = resolve_path(r.dir, r.requested, follow, realpath);
  }
  if (target.empty() && !r.target.empty()) {
    target = resolve_path(r.target_dir, r.target, false, realpath);
  }
  if (!path.empty()) ev.set(Field::kFilePath, path);
  if (!target.empty()) ev.set(Field::kFileTargetPath, target);

  if (f.op == RS_FOP_OPEN) {
    for_each_open_flag(f.open_flags,
                       [&](std::string_view name) { ev.append(Field::kRingsideFileFlags, name); });
    if (f.open_flags & (O_CREAT | RS_O_TMPFILE_BIT)) ev.set(Field::kFileMode, mode_text(f.mode));
    if (f.ino != 0) ev.set(Field::kFileInode, static_cast<int64_t>(f.ino));
  } else if (f.op == RS_FOP_CHMOD || f.op == RS_FOP_MKDIR) {
    ev.set(Field::kFileMode, mode_text(f.mode));
  }
  for (std::string_view t : truncated_fields(f.truncated)) ev.append(Field::kRingsideTruncated, t);
  return ev;
}

}  // namespace ringside::file_records
