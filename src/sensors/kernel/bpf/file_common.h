/* Maps, per-operation state and helpers of the file sensor's BPF program (file.bpf.c).
 *
 * One record per operation, built where its result is known:
 *   - opens and fd operations (openat, openat2, open, creat, ftruncate, fchmod): at sys_exit
 *     alone, from the registers the call was made with. The resolved path comes from the file
 *     itself, so a path string changed by another thread during the call can only change
 *     ringside.file.requested_path, never hide the target; an entry hook would cost every open
 *     a second program run for nothing.
 *   - every other operation (unlink, rename, mkdir, ...) is resolved from its strings, so they
 *     are copied at sys_enter, before the call reads them, into a table of operations in
 *     flight keyed by thread, and the record is built at sys_exit;
 *   - io_uring: the submission copies the kernel's own copy of the strings into a table keyed
 *     by request, the completion builds the record. */
#ifndef RINGSIDE_FILE_COMMON_H
#define RINGSIDE_FILE_COMMON_H

#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <ringside/records.h>

#include "file_abi.h"
#include "path_walk.h"
#include "ring_common.h"

#define RS_INFLIGHT_OPS 256   /* string-carrying system calls in flight at once */
#define RS_INFLIGHT_URING 256 /* io_uring file requests between submission and completion */

/* Set before load: the agent's own process (its operations are never reported, or its own
 * JSONL writes would feed back) and the syscall-number -> RS_SC_* table. */
const volatile __u32 agent_tgid = 0;
const volatile __u8 nr_kind[RS_FILE_NR_MAX] = {};

/* Bumped by the agent when it forgets the executables it was sent: each is sent again. */
__u32 exe_generation = 1;

/* The arguments of one operation, normalised over the system calls and io_uring opcodes. */
struct op_args {
  __u32 pid, tid, uid;
  __u32 nr; /* system call number (0: slot free); io_uring: 0 */
  __s32 dfd, dfd2, fd;
  __u32 open_flags, mode, at_flags;
  __u8 op, want, pad[2];
  __u32 uring_slot; /* io_uring open into a fixed file slot: no fd to resolve */
};

/* Operations resolved from their strings, copied when the operation starts. */
struct op_pending {
  struct op_args a;
  __u16 name_len, name2_len, pad[2];
  /* The user pointers, for a name whose page was not in memory at entry (read at exit, once
   * the call itself has faulted it in). */
  __u64 uname, uname2;
  char name[RS_PATH_MAX];
  char name2[RS_PATH_MAX];
};

/* What the record builder is working on; in the scratch map so that one copy of the builder
 * is verified with every value unknown. */
struct emit_state {
  struct op_args a;
  __s64 ret;
  __u64 name, name2; /* the path strings: user pointers (name_user) or kernel memory */
  __u32 name_user;
  __s32 fd;   /* fd whose file gives the resolved path, -1 for none */
  __u32 hits; /* scope kinds matched (bit 1 << RS_SCOPE_*) */
  __u32 nscopes;
  __u32 off; /* bytes of the record's data written so far */
  __u32 pad;
};

/* The executable last sent from this CPU, so that a run of operations by one process costs
 * no lookup in exe_sent. */
struct exe_seen {
  __u64 exe; /* struct file * of mm->exe_file */
  __u32 tgid, generation;
};

struct file_scratch {
  __u8 rec[sizeof(struct rs_rec_file_op) + RS_FILE_DATA_MAX];
  struct emit_state em;
  struct exe_seen last_exe;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct file_scratch);
} scratch SEC(".maps");

/* Paths are walked here (a per-CPU value is at most 32 KiB, so not in `scratch`). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct path_walk);
} walk_scratch SEC(".maps");

/* The executable each process was last reported with (tgid -> struct exe_seen). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 8192);
  __type(key, __u32);
  __type(value, struct exe_seen);
} exe_sent SEC(".maps");

/* Where an operation in flight is assembled before it is copied into its table (a per-CPU
 * value is at most 32 KiB, so not in `scratch`). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct op_pending);
} staging SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct rs_rec_file_counters);
} counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, RS_INFLIGHT_OPS);
  __type(key, __u32); /* thread id */
  __type(value, struct op_pending);
} op_inflight SEC(".maps");

/* LRU: a request whose completion posts no CQE (IOSQE_CQE_SKIP_SUCCESS) never comes back. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, RS_INFLIGHT_URING);
  __type(key, __u64); /* struct io_kiocb * */
  __type(value, struct op_pending);
} uring_inflight SEC(".maps");

/* The scope table: user space builds a new inner array for every policy and swaps it into
 * slot 0 with one update, so a program sees either the old settings or the new ones. An empty
 * slot (before the first policy) reports nothing. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, 1);
  __type(key, __u32);
  __array(
      values, struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, RS_FILE_SCOPES + 1);
        __uint(key_size, sizeof(__u32));
        __uint(value_size, sizeof(struct rs_rec_file_scope));
      });
} scope_tables SEC(".maps");

/* Per-CPU counters: the programs run with preemption disabled. */
#define RS_FCOUNT(field)                                                      \
  do {                                                                        \
    __u32 zero_ = 0;                                                          \
    struct rs_rec_file_counters* c_ = bpf_map_lookup_elem(&counters, &zero_); \
    if (c_) c_->field++;                                                      \
  } while (0)

static __always_inline struct file_scratch* scratch_get(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&scratch, &zero);
}

static __always_inline struct path_walk* walk_get(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&walk_scratch, &zero);
}

static __always_inline struct op_pending* staging_get(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&staging, &zero);
}

/* The current scope table and its header; NULL before the first policy. */
static __always_inline void* scope_table(const struct rs_rec_file_scope** header) {
  __u32 zero = 0;
  void* table = bpf_map_lookup_elem(&scope_tables, &zero);
  *header = 0;
  if (!table) return 0;
  *header = bpf_map_lookup_elem(table, &zero);
  return *header ? table : 0;
}

/* The file behind descriptor `fd` of `task` (files->fdt->fd[fd]), NULL when there is none. */
static __always_inline struct file* fd_file(struct task_struct* task, __s32 fd) {
  struct fdtable* fdt = task->files->fdt;
  __u64 fds, f = 0;

  if (fd < 0 || !fdt || (__u32)fd >= fdt->max_fds) return 0;
  fds = (__u64)fdt->fd; /* struct file **: a number to the verifier */
  if (bpf_probe_read_kernel(&f, sizeof(f), (const void*)(fds + (__u64)fd * sizeof(f)))) return 0;
  return f ? RS_CAST(f, struct file) : 0;
}

/* ---- scopes: is a resolved path under a watched or rule prefix? ---- */

struct scope_ctx {
  struct file_scratch* s;
  struct path_walk* pw;
  void* table; /* the scope table (inner map) */
  __u32 pos;   /* where the path starts in pw->buf */
};

/* One prefix entry against the path, word by word in place (the walk buffer's slack half
 * keeps every read inside it). A path shorter than a prefix differs at its NUL, as prefixes
 * hold no NUL. */
static long scope_step(__u32 i, struct scope_ctx* c) {
  struct file_scratch* s = c->s;
  struct path_walk* pw = c->pw;
  __u32 idx = i + 1, pos = c->pos, len, at;
  const struct rs_rec_file_scope* entry = bpf_map_lookup_elem(c->table, &idx);
  const __u64* pat;

  if (!entry || pos >= RS_PATH_MAX) return 1;
  len = entry->prefix_len;
  if (len == 0 || len >= RS_FILE_PREFIX_MAX) return 0;
  pat = (const __u64*)entry->prefix;
  for (__u32 k = 0; k < RS_FILE_PREFIX_MAX / 8; k++) {
    if (k * 8 >= len) break;
    at = pos + k * 8;
    if (at > sizeof(pw->buf) - 8) return 0;
    __u64 diff = *(const __u64*)&pw->buf[at] ^ pat[k];
    if (k * 8 + 8 > len) diff &= (1ULL << ((len - k * 8) * 8)) - 1; /* little-endian */
    if (diff) return 0;
  }
  if (!(entry->scope_flags & RS_SCOPE_F_PARTIAL) && len > 1) {
    at = pos + len;
    if (at >= sizeof(pw->buf)) return 0;
    __u8 next = pw->buf[at];
    if (next != '/' && next != '\0') return 0;
  }
  s->em.hits |= 1U << (entry->kind & 7);
  return 0;
}

/* Fills s->em.hits for the path starting at pw->buf[pos]. */
static __always_inline void match_scopes(struct file_scratch* s, struct path_walk* pw, void* table,
                                         __u32 pos) {
  struct scope_ctx c = {.s = s, .pw = pw, .table = table, .pos = pos};
  s->em.hits = 0;
  bpf_loop(s->em.nscopes, scope_step, &c, 0);
}

#endif /* RINGSIDE_FILE_COMMON_H */
