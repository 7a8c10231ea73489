/* The shared state file: mapped read-only by hooked processes, updated in place by the agent
 * under a sequence lock (layout and rules: sensors/user/hook_protocol.h). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hook_logic.h"
#include "hook_syscall.h"

/* A reader that keeps seeing an odd generation gives up: the writer died mid-update. */
#define RS_STATE_READ_ATTEMPTS 64

static int open_state(const char* path) {
  if (path == NULL) return -1;
  /* O_NONBLOCK: a FIFO planted at the path must not make a hooked process wait. */
  return rs_sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
}

const struct rs_hook_state* rs_hook_state_map(const char* path) {
  const int fd = open_state(path);
  if (fd < 0) return NULL;
  struct stat st;
  void* map = MAP_FAILED;
  if (rs_sys_fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      st.st_size >= (off_t)sizeof(struct rs_hook_state)) {
    map = rs_sys_mmap(NULL, sizeof(struct rs_hook_state), PROT_READ, MAP_SHARED, fd, 0);
    if (rs_sys_mmap_failed(map)) map = MAP_FAILED;
  }
  rs_sys_close(fd);
  return map == MAP_FAILED ? NULL : (const struct rs_hook_state*)map;
}

void rs_hook_state_unmap(const struct rs_hook_state* state) {
  if (state != NULL) rs_sys_munmap((void*)state, sizeof *state);
}

void rs_hook_state_read(const struct rs_hook_state* state, struct rs_hook_state_view* view) {
  view->valid = 0;
  if (state == NULL) return;
  for (int attempt = 0; attempt < RS_STATE_READ_ATTEMPTS; ++attempt) {
    const uint32_t before = __atomic_load_n(&state->generation, __ATOMIC_ACQUIRE);
    if ((before & 1U) != 0) continue;
    const uint32_t magic = __atomic_load_n(&state->magic, __ATOMIC_RELAXED);
    const uint16_t version = __atomic_load_n(&state->version, __ATOMIC_RELAXED);
    view->sync_ops = __atomic_load_n(&state->sync_ops, __ATOMIC_RELAXED);
    view->deadline_ms = __atomic_load_n(&state->deadline_ms, __ATOMIC_RELAXED);
    view->fail_closed = __atomic_load_n(&state->fail_closed, __ATOMIC_RELAXED);
    view->agent_pid = __atomic_load_n(&state->agent_pid, __ATOMIC_RELAXED);
    view->report_ops = __atomic_load_n(&state->report_ops, __ATOMIC_RELAXED);
    view->file_opens = __atomic_load_n(&state->file_opens, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&state->generation, __ATOMIC_RELAXED) != before) continue;
    view->generation = before;
    view->valid = magic == RS_HOOK_STATE_MAGIC && version == RS_HOOK_STATE_VERSION;
    return;
  }
}

void rs_hook_state_read_file(const char* path, struct rs_hook_state_view* view) {
  view->valid = 0;
  const int fd = open_state(path);
  if (fd < 0) return;
  /* A read is not atomic against the writer's stores: two equal copies with an even
   * generation are a consistent one (every update moves the generation on by two). */
  struct rs_hook_state a;
  struct rs_hook_state b;
  for (int attempt = 0; attempt < RS_STATE_READ_ATTEMPTS; ++attempt) {
    if (rs_sys_pread(fd, &a, sizeof a, 0) != (long)sizeof a ||
        rs_sys_pread(fd, &b, sizeof b, 0) != (long)sizeof b) {
      break; /* absent, or shorter than a state (never published) */
    }
    const unsigned char* pa = (const unsigned char*)&a;
    const unsigned char* pb = (const unsigned char*)&b;
    size_t same = 0;
    while (same < sizeof a && pa[same] == pb[same]) ++same;
    if (same != sizeof a || (a.generation & 1U) != 0) continue;
    rs_hook_state_read(&a, view);
    break;
  }
  rs_sys_close(fd);
}

void rs_hook_state_write(struct rs_hook_state* state, uint32_t sync_ops, uint32_t deadline_ms,
                         uint32_t fail_closed, int32_t agent_pid) {
  rs_hook_state_write_reporting(state, sync_ops, deadline_ms, fail_closed, agent_pid, 0,
                                RS_HOOK_OPENS_NONE);
}

void rs_hook_state_write_reporting(struct rs_hook_state* state, uint32_t sync_ops,
                                   uint32_t deadline_ms, uint32_t fail_closed, int32_t agent_pid,
                                   uint32_t report_ops, uint32_t file_opens) {
  const uint32_t start = __atomic_load_n(&state->generation, __ATOMIC_RELAXED) | 1U;
  __atomic_store_n(&state->generation, start, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  __atomic_store_n(&state->magic, RS_HOOK_STATE_MAGIC, __ATOMIC_RELAXED);
  __atomic_store_n(&state->version, (uint16_t)RS_HOOK_STATE_VERSION, __ATOMIC_RELAXED);
  __atomic_store_n(&state->size, (uint16_t)sizeof *state, __ATOMIC_RELAXED);
  __atomic_store_n(&state->sync_ops, sync_ops, __ATOMIC_RELAXED);
  __atomic_store_n(&state->deadline_ms, deadline_ms, __ATOMIC_RELAXED);
  __atomic_store_n(&state->fail_closed, fail_closed, __ATOMIC_RELAXED);
  __atomic_store_n(&state->agent_pid, agent_pid, __ATOMIC_RELAXED);
  __atomic_store_n(&state->report_ops, report_ops, __ATOMIC_RELAXED);
  __atomic_store_n(&state->file_opens, file_opens, __ATOMIC_RELAXED);
  __atomic_store_n(&state->generation, start + 1U, __ATOMIC_RELEASE);
}
