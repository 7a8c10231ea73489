// Thin facade over fanotify(7): one method per system call and nothing else, so that the exec
// sensor's logic (reading, deciding, answering, caching) runs against a fake in unit tests and
// the real object needs no tests of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/result.hpp"

namespace ringside {

class Fanotify {
 public:
  virtual ~Fanotify() = default;
  // fanotify_init(2); returns the group's descriptor (pollable for queued events).
  virtual Result<int> init(unsigned flags, unsigned event_f_flags) = 0;
  // fanotify_mark(2). `path` may be null: the object is then `dirfd` itself.
  virtual Result<void> mark(int group, unsigned flags, uint64_t mask, int dirfd,
                            const char* path) = 0;
  // read(2) of queued event records into `buf`; 0 when none is queued (EAGAIN).
  virtual Result<size_t> read(int group, void* buf, size_t len) = 0;
  // write(2) of a struct fanotify_response for the permission event behind `event_fd`.
  virtual Result<void> respond(int group, int event_fd, uint32_t response) = 0;
  // close(2) of a group or an event descriptor.
  virtual void close(int fd) = 0;
};

// The kernel's fanotify.
std::shared_ptr<Fanotify> system_fanotify();

}  // namespace ringside
