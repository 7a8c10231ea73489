/* Maps and helpers shared by the process sensor's two BPF objects: process.bpf.c (the
 * sched_process_* tracepoints and kill-on-exec) and process_lsm.bpf.c (BPF-LSM, a separate
 * object because many kernels refuse it). The agent loads process.bpf.c first and hands its
 * ring, counters and kill table to the LSM object (bpf_map__reuse_fd); each keeps its own
 * scratch maps.
 *
 * Verification stays cheap and independent of the limits: every loop whose length depends on
 * data (argv elements, path components, table entries, arguments tried by a condition) runs
 * under bpf_loop() with its state in a per-CPU map, so the verifier checks each body once. */
#ifndef RINGSIDE_PROCESS_COMMON_H
#define RINGSIDE_PROCESS_COMMON_H

#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <ringside/records.h>

#include "path_walk.h"
#include "process_abi.h"
#include "ring_common.h"

#define RS_SIGKILL 9
#define RS_EPERM 1
#define RS_PF_KTHREAD 0x00200000 /* task_struct.flags: kernel thread */

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct rs_rec_counters);
} counters SEC(".maps");

/* The kill-on-exec table. User space builds a new inner array for every policy and swaps it
 * into slot 0 with one update; a program looks the inner map up once per exec, so it walks one
 * table from start to end even while a swap happens. An empty slot means no table. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, 1);
  __type(key, __u32);
  /* sizes, not __type(): clang emits only a forward declaration for a type named inside
   * __array(), and libbpf needs the inner value's size */
  __array(
      values, struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, RS_KEXEC_ENTRIES);
        __uint(key_size, sizeof(__u32));
        __uint(value_size, sizeof(struct rs_rec_kexec_entry));
      });
} kexec_tables SEC(".maps");

/* The exec record is assembled here (too big for the stack) and copied into the ring with
 * bpf_ringbuf_output at its actual size. */
struct exec_scratch {
  __u8 raw[sizeof(struct rs_rec_exec) + RS_EXEC_DATA_MAX];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct exec_scratch);
} exec_scratch SEC(".maps");

/* State of the bpf_loop bodies; kept in a map so that every value is unknown to the verifier
 * after a loop and the states of the caller converge at once. */
struct args_state {
  __u64 start, total;
  __u32 off, n, err, pad;
};

struct match_state {
  __u32 exe_off, exe_len, name_off, name_len, cwd_off, cwd_len;
  __u32 nargs, args_known, uid;
  __u32 rule_false, rule_unknown, found;
  __u32 kill, rule_index, gen, pad;
};

struct path_scratch {
  struct path_walk pw;
  __u16 arg_off[RS_EXEC_ARGC_MAX];
  __u16 arg_len[RS_EXEC_ARGC_MAX];
  __u64 window[RS_KEXEC_PATTERN / 8];
  struct args_state args;
  struct match_state match;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct path_scratch);
} path_scratch SEC(".maps");

static __always_inline struct rs_rec_counters* counters_get(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&counters, &zero);
}

#define RS_COUNT(field)                          \
  do {                                           \
    struct rs_rec_counters* c_ = counters_get(); \
    if (c_) c_->field++;                         \
  } while (0)

/* task_struct.start_boottime (5.5+; real_start_time before): the value /proc/PID/stat reports
 * as starttime, so user space keys processes the same way from either source. */
struct task_struct___pre55 {
  __u64 real_start_time;
} __attribute__((preserve_access_index));

static __always_inline __u64 task_start_boot_ns(struct task_struct* t) {
  if (bpf_core_field_exists(t->start_boottime)) return BPF_CORE_READ(t, start_boottime);
  return BPF_CORE_READ((struct task_struct___pre55*)t, real_start_time);
}

/* inode mtime: i_mtime_sec/i_mtime_nsec (6.11+), __i_mtime (6.6-6.10), i_mtime before. */
struct inode___66 {
  struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));
struct inode___pre66 {
  struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

static __always_inline __u64 inode_mtime_ns(struct inode* ino) {
  __s64 sec;
  __s64 nsec;
  if (bpf_core_field_exists(ino->i_mtime_sec)) {
    sec = BPF_CORE_READ(ino, i_mtime_sec);
    nsec = BPF_CORE_READ(ino, i_mtime_nsec);
  } else if (bpf_core_field_exists(((struct inode___66*)ino)->__i_mtime)) {
    sec = BPF_CORE_READ((struct inode___66*)ino, __i_mtime.tv_sec);
    nsec = BPF_CORE_READ((struct inode___66*)ino, __i_mtime.tv_nsec);
  } else {
    sec = BPF_CORE_READ((struct inode___pre66*)ino, i_mtime.tv_sec);
    nsec = BPF_CORE_READ((struct inode___pre66*)ino, i_mtime.tv_nsec);
  }
  return (__u64)sec * 1000000000ULL + (__u64)nsec;
}

/* ---- paths (path_walk.h) ---- */

/* Writes the absolute path of (dentry, vfsmnt), as seen from the root (root_dentry,
 * root_mnt), NUL-terminated at data[off]. Returns its length with the NUL, 0 when it could not
 * be read; *leaf gets the length of the last component; *cut is set when a limit kept only the
 * deepest components. */
static __always_inline __u32 put_path(struct path_scratch* ps, __u8* data, __u32 off,
                                      struct dentry* dentry, struct vfsmount* vfsmnt,
                                      struct dentry* root_dentry, struct vfsmount* root_mnt,
                                      __u32* leaf, int* cut) {
  __u32 pos = walk_path(&ps->pw, dentry, vfsmnt, root_dentry, root_mnt, leaf, cut);
  if (pos >= RS_PATH_MAX) return 0;
  __u32 len = RS_PATH_MAX - pos;
  if (off > RS_EXEC_DATA_MAX - RS_PATH_MAX) return 0;
  if (bpf_probe_read_kernel(&data[off], len, &ps->pw.buf[pos])) return 0;
  return len;
}

/* ---- the kill-on-exec matcher (policy/kernel_exec_rules.hpp gives the semantics) ---- */

enum { RS_TRI_FALSE = 0, RS_TRI_TRUE = 1, RS_TRI_UNKNOWN = 2 };

struct match_ctx {
  void* table;
  struct path_scratch* ps;
  __u8* data;
};

struct arg_ctx {
  struct path_scratch* ps;
  __u8* data;
  const struct rs_rec_kexec_entry* e;
};

/* equals / prefix / suffix of e->pattern on data[off, off + len): the compared bytes are
 * copied into a zeroed window and compared word by word with the zero-padded pattern. */
static __always_inline int str_match(struct path_scratch* ps, __u8* data, __u32 off, __u32 len,
                                     const struct rs_rec_kexec_entry* e) {
  __u32 plen = e->pattern_len;
  __u32 start = off;
  __u64 diff = 0;

  if (plen >= RS_KEXEC_PATTERN) return 0;
  if (e->op == RS_KOP_EQUALS) {
    if (len != plen) return 0;
  } else if (e->op == RS_KOP_PREFIX) {
    if (len < plen) return 0;
  } else if (e->op == RS_KOP_SUFFIX) {
    if (len < plen) return 0;
    start = off + len - plen;
  } else {
    return 0;
  }
  if (start > RS_EXEC_DATA_MAX) return 0;
#pragma unroll
  for (int k = 0; k < RS_KEXEC_PATTERN / 8; k++) ps->window[k] = 0;
  if (bpf_probe_read_kernel(ps->window, plen & (RS_KEXEC_PATTERN - 1), data + start)) return 0;
  const __u64* pat = (const __u64*)e->pattern;
#pragma unroll
  for (int k = 0; k < RS_KEXEC_PATTERN / 8; k++) diff |= ps->window[k] ^ pat[k];
  return diff == 0;
}

static long arg_step(__u32 i, struct arg_ctx* a) {
  struct path_scratch* ps = a->ps;
  __u32 k = i;
  if (i >= RS_EXEC_ARGC_MAX) return 1;
  barrier_var(k); /* keep the mask: the verifier does not carry the bound above */
  k &= RS_EXEC_ARGC_MAX - 1;
  if (str_match(ps, a->data, ps->arg_off[k], ps->arg_len[k], a->e)) {
    ps->match.found = 1;
    return 1;
  }
  return 0;
}

static __always_inline int eval_cond(struct match_ctx* m, const struct rs_rec_kexec_entry* e) {
  struct match_state* st = &m->ps->match;
  int hit;

  switch (e->field) {
    case RS_KFIELD_EXECUTABLE:
      if (!st->exe_len) return RS_TRI_UNKNOWN;
      hit = str_match(m->ps, m->data, st->exe_off, st->exe_len, e);
      break;
    case RS_KFIELD_NAME:
      if (!st->exe_len) return RS_TRI_UNKNOWN;
      hit = str_match(m->ps, m->data, st->name_off, st->name_len, e);
      break;
    case RS_KFIELD_CWD:
      if (!st->cwd_len) return RS_TRI_UNKNOWN;
      hit = str_match(m->ps, m->data, st->cwd_off, st->cwd_len, e);
      break;
    case RS_KFIELD_UID:
      hit = st->uid == e->uid;
      break;
    case RS_KFIELD_ARG: {
      /* any element matches; a negation applies to that aggregate */
      struct arg_ctx a = {.ps = m->ps, .data = m->data, .e = e};
      if (!st->args_known) return RS_TRI_UNKNOWN;
      st->found = 0;
      bpf_loop(st->nargs, arg_step, &a, 0);
      hit = st->found;
      break;
    }
    default:
      return RS_TRI_UNKNOWN;
  }
  if (e->negate) hit = !hit;
  return hit ? RS_TRI_TRUE : RS_TRI_FALSE;
}

/* One table entry: condition idx % 4 of rule slot idx / 4. A rule decides at its last
 * condition: any false condition -> next rule; an unknown one -> a deny rule is skipped and an
 * allow/alert rule ends the walk (as in user space); all true -> first match, the walk ends. */
static long cond_step(__u32 idx, struct match_ctx* m) {
  struct match_state* st = &m->ps->match;
  __u32 c = idx % RS_KEXEC_CONDS;
  __u32 first = idx - c;
  const struct rs_rec_kexec_entry* e0 = bpf_map_lookup_elem(m->table, &first);
  const struct rs_rec_kexec_entry* e = bpf_map_lookup_elem(m->table, &idx);
  if (!e0 || !e) return 1;
  __u32 n = e0->n_conditions;
  if (n == 0) return 1; /* end of the table */
  if (c == 0) {
    st->rule_false = 0;
    st->rule_unknown = 0;
  }
  if (c < n && !st->rule_false) {
    int t = eval_cond(m, e);
    if (t == RS_TRI_FALSE) st->rule_false = 1;
    if (t == RS_TRI_UNKNOWN) st->rule_unknown = 1;
  }
  if (c + 1 != n) return 0;
  if (st->rule_false) return 0;
  if (st->rule_unknown) return e0->kill ? 0 : 1;
  if (e0->kill) {
    st->kill = 1;
    st->rule_index = e0->rule_index;
    st->gen = e0->gen;
  }
  return 1;
}

/* Walks `table` for the subjects already in ps->match; true when a kill entry matched. */
static __always_inline int match_table(void* table, struct path_scratch* ps, __u8* data) {
  struct match_ctx m = {.table = table, .ps = ps, .data = data};
  ps->match.kill = 0;
  ps->match.rule_false = 0;
  ps->match.rule_unknown = 0;
  bpf_loop(RS_KEXEC_ENTRIES, cond_step, &m, 0);
  return ps->match.kill;
}

/* ---- the parts of an exec record both objects fill ---- */

static __always_inline void fill_exec_creds(struct rs_rec_exec* r, struct task_struct* task,
                                            const struct cred* cred) {
  r->pid = BPF_CORE_READ(task, tgid);
  r->tid = BPF_CORE_READ(task, pid);
  r->ppid = BPF_CORE_READ(task, real_parent, tgid);
  r->uid = BPF_CORE_READ(cred, uid.val);
  r->euid = BPF_CORE_READ(cred, euid.val);
  r->gid = BPF_CORE_READ(cred, gid.val);
  r->start_boot_ns = task_start_boot_ns(BPF_CORE_READ(task, group_leader));
}

/* Executable path, cwd and the name the program passed, after `args_len` bytes of argv.
 * Sets the lengths, truncation bits and inode identity in `r` and the subjects of the matcher
 * in ps->match; returns the number of data bytes. */
static __always_inline __u32 fill_exec_paths(struct rs_rec_exec* r, struct path_scratch* ps,
                                             struct task_struct* task, struct linux_binprm* bprm,
                                             __u32 args_len) {
  struct file* file = BPF_CORE_READ(bprm, file);
  struct inode* ino = BPF_CORE_READ(file, f_inode);
  struct dentry* root_dentry = BPF_CORE_READ(task, fs, root.dentry);
  struct vfsmount* root_mnt = BPF_CORE_READ(task, fs, root.mnt);
  const char* filename = BPF_CORE_READ(bprm, filename);
  __u8* data = r->data;
  __u32 off = args_len;
  __u32 leaf = 0;
  int cut = 0;
  long got;

  r->exe_ino = BPF_CORE_READ(ino, i_ino);
  r->exe_dev = BPF_CORE_READ(ino, i_sb, s_dev);
  r->exe_mtime_ns = inode_mtime_ns(ino);

  if (off > RS_EXEC_ARGS_MAX) off = RS_EXEC_ARGS_MAX;
  __u32 exe_len = put_path(ps, data, off, BPF_CORE_READ(file, f_path.dentry),
                           BPF_CORE_READ(file, f_path.mnt), root_dentry, root_mnt, &leaf, &cut);
  if (cut) r->truncated |= RS_TRUNC_EXE;
  ps->match.exe_off = off;
  ps->match.exe_len = exe_len ? exe_len - 1 : 0;
  ps->match.name_len = leaf < exe_len ? leaf : 0;
  ps->match.name_off = off + ps->match.exe_len - ps->match.name_len;
  r->exe_len = exe_len;
  off += exe_len;

  __u32 cwd_len = put_path(ps, data, off, BPF_CORE_READ(task, fs, pwd.dentry),
                           BPF_CORE_READ(task, fs, pwd.mnt), root_dentry, root_mnt, &leaf, &cut);
  if (cut) r->truncated |= RS_TRUNC_CWD;
  ps->match.cwd_off = off;
  ps->match.cwd_len = cwd_len ? cwd_len - 1 : 0;
  r->cwd_len = cwd_len;
  off += cwd_len;
  if (r->truncated & (RS_TRUNC_EXE | RS_TRUNC_CWD)) RS_COUNT(path_truncated);
  if (!exe_len || !cwd_len) RS_COUNT(read_errors);

  r->filename_len = 0;
  if (off > RS_EXEC_DATA_MAX - RS_PATH_MAX) return off;
  got = bpf_probe_read_kernel_str(&data[off], RS_PATH_MAX, filename);
  if (got > 0) {
    r->filename_len = got;
    off += got;
  } else {
    RS_COUNT(read_errors);
  }
  return off;
}

#endif /* RINGSIDE_PROCESS_COMMON_H */
