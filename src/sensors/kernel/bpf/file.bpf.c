// SPDX-License-Identifier: GPL-2.0
/* Kernel-level file sensor: one rs_rec_file_op record per file operation with its result, the
 * acting process, the path as the program named it and the path resolved in the kernel, from
 * system calls and io_uring submissions.
 *
 * Hook points and why there:
 *   - syscalls:sys_exit_<call> (do_syscall_64 -> syscall_exit_to_user_mode -> syscall_exit_work
 *     -> trace_sys_exit -> perf_syscall_exit): the result, after the operation. For an open the
 *     new fd is installed, so the opened file itself gives the resolved path (through symlinks,
 *     "..", /proc/self/fd/N, hard links); opens and fd operations are handled here alone, their
 *     arguments read from the saved user registers.
 *   - syscalls:sys_enter_<call> (do_syscall_64 -> syscall_enter_from_user_mode ->
 *     syscall_trace_enter -> trace_sys_enter -> perf_syscall_enter), only for the calls resolved
 *     from their strings (truncate, unlink*, rmdir, rename*, chmod, fchmodat*, link*, symlink*,
 *     mkdir*): the strings, copied before the call reads them.
 *     The agent attaches file_exit and file_enter<n> to the events of each call in nr_kind
 *     rather than to the raw sys_enter/sys_exit, which would run for every system call of the
 *     machine.
 *   - io_uring:io_uring_submit_req (io_submit_sqe -> io_init_req, whose ->prep getname()s the
 *     paths -> trace_io_uring_submit_req): the arguments of IORING_OP_OPENAT, OPENAT2,
 *     UNLINKAT, RENAMEAT, MKDIRAT, SYMLINKAT and LINKAT, read from the kernel's copy; kernels
 *     before 5.19 name it io_uring_submit_sqe (uring_submit_sqe, chosen at load).
 *   - io_uring:io_uring_complete (io_fill_cqe_req -> trace_io_uring_complete): the result,
 *     posted by a task of the submitting process (the submitter, its io-wq worker or SQPOLL
 *     thread, which share its file table).
 *
 * Filtering happens before any path is built: the agent's own process, then (opens) the
 * `opens` setting on the flags; an opened file's path is walked once and compared with the
 * scope table; everything else is filtered by the agent on the path it resolves. */
#include "file_common.h"
#include "file_syscalls.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline __u8 open_want(const struct rs_rec_file_scope* hdr, __u32 flags) {
  __u32 opens = hdr->scope_flags & RS_SCOPE_OPENS_MASK;
  int writes = (flags & RS_O_ACCMODE) != 0 || (flags & (RS_O_CREAT | RS_O_TRUNC)) != 0 ||
               (flags & RS_O_TMPFILE_BIT) != 0;
  __u8 want = 0;

  if (opens == RS_SCOPE_OPENS_ALL || (opens == RS_SCOPE_OPENS_WRITES && writes))
    want |= RS_FILE_F_OPENS_OK;
  if (hdr->scope_flags & RS_SCOPE_RULE_OPENS) want |= RS_FILE_F_RULE;
  return want;
}

/* Copies the path walked into pw (starting at pos) to r->data[*off]. */
static __always_inline __u32 put_walked(struct rs_rec_file_op* r, struct path_walk* pw, __u32* off,
                                        __u32 pos) {
  __u32 len;

  if (pos >= RS_PATH_MAX || *off > RS_FILE_DATA_MAX - RS_PATH_MAX) return 0;
  len = RS_PATH_MAX - pos;
  if (bpf_probe_read_kernel(&r->data[*off], len, &pw->buf[pos])) return 0;
  *off += len;
  return len;
}

/* The directory a path string is relative to: the root for an absolute one, else dirfd or the
 * cwd; written at r->data[*off]. */
static __always_inline __u32 put_dir(struct rs_rec_file_op* r, struct path_walk* pw,
                                     struct task_struct* task, __u32* off, __s32 dfd, int absolute,
                                     int own_files, int* cut) {
  struct fs_struct* fs = task->fs;
  struct dentry* root_d = fs->root.dentry;
  struct vfsmount* root_m = fs->root.mnt;
  struct dentry* d;
  struct vfsmount* m;
  __u32 leaf;

  if (absolute) {
    d = root_d;
    m = root_m;
  } else if (dfd == RS_AT_FDCWD) {
    d = fs->pwd.dentry;
    m = fs->pwd.mnt;
  } else {
    struct file* f = own_files ? fd_file(task, dfd) : 0;
    if (!f) return 0;
    d = f->f_path.dentry;
    m = f->f_path.mnt;
  }
  return put_walked(r, pw, off, walk_path(pw, d, m, root_d, root_m, &leaf, cut));
}

/* A path string as the program passed it, at r->data[*off]. */
static __always_inline __u32 put_name(struct rs_rec_file_op* r, __u32* off, __u64 name, int user,
                                      int* cut) {
  long got;

  *cut = 0;
  if (!name || *off > RS_FILE_DATA_MAX - RS_PATH_MAX) return 0;
  if (user)
    got = bpf_probe_read_user_str(&r->data[*off], RS_PATH_MAX, (const void*)name);
  else
    got = bpf_probe_read_kernel_str(&r->data[*off], RS_PATH_MAX, (const void*)name);
  if (got <= 0) {
    RS_FCOUNT(read_errors);
    return 0;
  }
  *cut = got == RS_PATH_MAX;
  *off += got;
  return got;
}

/* The executable of the acting process, when it has not been sent for this process image
 * (exe_sent; the agent keeps what it was sent), so that a process gone before its records
 * are read is still named. */
static __always_inline __u32 put_exe(struct file_scratch* s, struct path_walk* pw,
                                     struct task_struct* task, __u32* off, int* cut) {
  struct rs_rec_file_op* r = (struct rs_rec_file_op*)s->rec;
  struct file* exe = task->mm->exe_file;
  struct exe_seen now = {.exe = (__u64)exe, .tgid = r->pid, .generation = exe_generation};
  struct exe_seen* sent;
  struct fs_struct* fs = task->fs;
  __u32 leaf;

  *cut = 0;
  if (!exe) return 0;
  if (s->last_exe.exe == now.exe && s->last_exe.tgid == now.tgid &&
      s->last_exe.generation == now.generation)
    return 0;
  s->last_exe = now;
  sent = bpf_map_lookup_elem(&exe_sent, &now.tgid);
  if (sent && sent->exe == now.exe && sent->generation == now.generation) return 0;
  bpf_map_update_elem(&exe_sent, &now.tgid, &now, BPF_ANY);
  return put_walked(r, pw, off,
                    walk_path(pw, exe->f_path.dentry, exe->f_path.mnt, fs->root.dentry,
                              fs->root.mnt, &leaf, cut));
}

/* Reads a value the program stored in a map back as the verifier sees it then: unknown. Done
 * between the parts of a record, so that the states of the paths through one part converge
 * before the next instead of multiplying. */
#define RS_RELOAD(x) (*(volatile typeof(x)*)&(x))

/* Builds and sends the record for s->em; one copy per program, verified once. */
static __noinline int emit(struct file_scratch* s) {
  struct emit_state* e = &s->em;
  struct rs_rec_file_op* r = (struct rs_rec_file_op*)s->rec;
  struct task_struct* task = bpf_get_current_task_btf();
  struct path_walk* pw = walk_get();
  int own_files = (bpf_get_current_pid_tgid() >> 32) == e->a.pid;
  __u32 flags = e->a.want & (RS_FILE_F_OPENS_OK | RS_FILE_F_URING);
  __u32 off = 0, req_off, leaf, pos;
  int cut = 0;

  if (!pw) return 0;
  r->type = RS_REC_FILE_OP;
  r->ts_boot_ns = bpf_ktime_get_boot_ns();
  r->pid = e->a.pid;
  r->tid = e->a.tid;
  r->uid = e->a.uid;
  r->ret = (__s32)e->ret;
  r->start_boot_ns = task->group_leader->start_boottime;
  r->ino = 0;
  r->dev = 0;
  r->open_flags = e->a.open_flags;
  r->mode = e->a.mode;
  r->at_flags = e->a.at_flags;
  r->ppid = task->real_parent->tgid;
  r->op = e->a.op;
  r->truncated = 0;
  r->path_len = 0;
  r->requested_len = 0;
  r->dir_len = 0;
  r->target_len = 0;
  r->target_dir_len = 0;
  r->exe_len = 0;
  *(__u32*)r->pad0 = 0;
  *(__u16*)&r->pad0[4] = 0;

  /* 1. The file itself: an opened file, the object of an fd operation. An open is compared
   * with the scopes here, on the one walk of its path. */
  struct file* f = own_files && e->fd >= 0 ? fd_file(task, e->fd) : 0;
  if (f) {
    struct fs_struct* fs = task->fs;
    pos =
        walk_path(pw, f->f_path.dentry, f->f_path.mnt, fs->root.dentry, fs->root.mnt, &leaf, &cut);
    if (pos < RS_PATH_MAX && e->a.op == RS_FOP_OPEN) {
      const struct rs_rec_file_scope* hdr;
      void* table = scope_table(&hdr);
      __u32 hflags;
      if (!table) return 0;
      hflags = hdr->scope_flags;
      e->nscopes = hdr->prefix_len < RS_FILE_SCOPES ? hdr->prefix_len : RS_FILE_SCOPES;
      e->hits = 0;
      if (!(hflags & RS_SCOPE_WATCH_ALL) || !(hflags & RS_SCOPE_RULE_ALL))
        match_scopes(s, pw, table, pos);
      if ((flags & RS_FILE_F_OPENS_OK) &&
          ((hflags & RS_SCOPE_WATCH_ALL) || (e->hits & (1U << RS_SCOPE_WATCH))))
        flags |= RS_FILE_F_IN_SCOPE;
      if ((e->a.want & RS_FILE_F_RULE) &&
          ((hflags & RS_SCOPE_RULE_ALL) || (e->hits & (1U << RS_SCOPE_RULE))))
        flags |= RS_FILE_F_RULE;
      if (!(flags & (RS_FILE_F_IN_SCOPE | RS_FILE_F_RULE))) return 0;
    }
    r->path_len = put_walked(r, pw, &off, pos);
    if (r->path_len) {
      if (cut) r->truncated |= RS_FTRUNC_PATH;
      struct inode* ino = f->f_inode;
      r->ino = ino->i_ino;
      r->dev = ino->i_sb->s_dev;
    }
  }
  /* Only an opened file was compared with the scopes; the agent filters the rest. */
  if (!r->path_len || e->a.op != RS_FOP_OPEN) flags |= RS_FILE_F_UNFILTERED;
  r->flags = flags;
  e->off = off;

  /* 2. The first path as passed, and (without a resolved path) its directory. A symlink's
   * first path is the link's content, resolved against nothing. */
  off = RS_RELOAD(e->off);
  req_off = off;
  r->requested_len = put_name(r, &off, e->name, e->name_user, &cut);
  if (cut) r->truncated |= RS_FTRUNC_REQUESTED;
  if (!r->path_len && r->requested_len && e->a.op != RS_FOP_SYMLINK && req_off < RS_FILE_DATA_MAX) {
    int absolute = r->data[req_off] == '/';
    r->dir_len = put_dir(r, pw, task, &off, e->a.dfd, absolute, own_files, &cut);
    if (cut) r->truncated |= RS_FTRUNC_DIR;
  }
  e->off = off;

  /* 3. The second path (rename, link, symlink) and its directory. */
  off = RS_RELOAD(e->off);
  req_off = off;
  r->target_len = put_name(r, &off, e->name2, e->name_user, &cut);
  if (cut) r->truncated |= RS_FTRUNC_TARGET;
  if (r->target_len && req_off < RS_FILE_DATA_MAX) {
    int absolute = r->data[req_off] == '/';
    r->target_dir_len = put_dir(r, pw, task, &off, e->a.dfd2, absolute, own_files, &cut);
    if (cut) r->truncated |= RS_FTRUNC_TARGET_DIR;
  }
  e->off = off;

  /* 4. The executable, once per process image. */
  off = RS_RELOAD(e->off);
  if (own_files) {
    r->exe_len = put_exe(s, pw, task, &off, &cut);
    if (cut) r->truncated |= RS_FTRUNC_EXE;
  }
  e->off = off;

  if (r->truncated) RS_FCOUNT(path_truncated);
  off = RS_RELOAD(e->off);
  if (off > RS_FILE_DATA_MAX) return 0;
  r->size = sizeof(*r) + off;
  if (bpf_ringbuf_output(&events, r, sizeof(*r) + off, wake_flags(0))) {
    RS_FCOUNT(ringbuf_full);
    if (r->exe_len) { /* send it again with the next record */
      s->last_exe.exe = 0;
      bpf_map_delete_elem(&exe_sent, &r->pid);
    }
  }
  return 0;
}

/* The entry of a call resolved from its strings: they are copied now, before the call reads
 * them, into op_inflight. `args` holds its arguments (the unused ones zero). */
static __always_inline int enter(__u32 nr, const unsigned long* args) {
  const struct rs_rec_file_scope* hdr;
  __u64 id = bpf_get_current_pid_tgid();
  struct op_pending* st;
  __u64 name, name2;
  long got;
  __u8 kind;

  if (nr >= RS_FILE_NR_MAX) return 0;
  kind = nr_kind[nr];
  if (!kind || exit_only(kind)) return 0;
  if ((__u32)(id >> 32) == agent_tgid) return 0;
  if (!scope_table(&hdr)) return 0;
  st = staging_get();
  if (!st) return 0;
  __builtin_memset(&st->a, 0, sizeof(st->a));
  parse_args(kind, args, &st->a, &name, &name2);
  set_actor(&st->a, id);
  st->a.nr = nr;
  st->name_len = 0;
  st->name2_len = 0;
  st->uname = name;
  st->uname2 = name2;
  got = bpf_probe_read_user_str(st->name, sizeof(st->name), (const void*)name);
  if (got > 0) st->name_len = got;
  if (name2) {
    got = bpf_probe_read_user_str(st->name2, sizeof(st->name2), (const void*)name2);
    if (got > 0) st->name2_len = got;
  }
  if (bpf_map_update_elem(&op_inflight, &st->a.tid, st, BPF_ANY)) RS_FCOUNT(pending_full);
  return 0;
}

/* A tracepoint program may only read as much of its event as the event has (the kernel
 * refuses to attach it otherwise), and sys_enter_<call> events hold only the call's own
 * arguments: one program per argument count, the agent attaches each call's. */
#define RS_ARG(n, i) ((n) > (i) ? ctx->args[i] : 0)
#define RS_ENTER_PROG(n)                                               \
  SEC("tp")                                                            \
  int file_enter##n(struct trace_event_raw_sys_enter* ctx) {           \
    unsigned long args[6] = {RS_ARG(n, 0), RS_ARG(n, 1), RS_ARG(n, 2), \
                             RS_ARG(n, 3), RS_ARG(n, 4), 0};           \
    return enter((__u32)ctx->id, args);                                \
  }

RS_ENTER_PROG(1)
RS_ENTER_PROG(2)
RS_ENTER_PROG(3)
RS_ENTER_PROG(4)
RS_ENTER_PROG(5)

/* Hands an operation in flight to emit() with its result. A name that could not be read at
 * entry (its page not yet in memory: a non-sleeping program cannot fault it in) is read now,
 * after the call has read it. */
static __always_inline int finish(struct file_scratch* s, struct op_pending* p, long ret) {
  struct emit_state* e = &s->em;
  long got;
  if (!p->name_len && p->uname) {
    got = bpf_probe_read_user_str(p->name, sizeof(p->name), (const void*)p->uname);
    if (got > 0) p->name_len = got;
  }
  if (!p->name2_len && p->uname2) {
    got = bpf_probe_read_user_str(p->name2, sizeof(p->name2), (const void*)p->uname2);
    if (got > 0) p->name2_len = got;
  }
  e->a = p->a;
  e->ret = ret;
  e->name = p->name_len ? (__u64)p->name : 0;
  e->name2 = p->name2_len ? (__u64)p->name2 : 0;
  e->name_user = 0;
  e->fd = -1;
  if (p->a.op == RS_FOP_OPEN && ret >= 0 && !p->a.uring_slot) e->fd = ret;
  /* linkat(fd, "", ..., AT_EMPTY_PATH) links the file behind fd */
  if (p->a.op == RS_FOP_LINK && (p->a.at_flags & RS_AT_EMPTY_PATH) && p->name_len <= 1)
    e->fd = p->a.dfd;
  return emit(s);
}

/* An open or fd operation, from the registers the call was made with (unchanged at exit:
 * the call's result goes to the return register only). */
static __always_inline int exit_direct(__u8 kind, long ret) {
  struct pt_regs* regs = (struct pt_regs*)bpf_task_pt_regs(bpf_get_current_task_btf());
  const struct rs_rec_file_scope* hdr;
  struct file_scratch* s;
  __u64 id = bpf_get_current_pid_tgid();
  __u64 name, name2;

  if ((__u32)(id >> 32) == agent_tgid) return 0;
  if (!scope_table(&hdr)) return 0;
  s = scratch_get();
  if (!s) return 0;
  unsigned long args[6] = {PT_REGS_PARM1_SYSCALL(regs),
                           PT_REGS_PARM2_SYSCALL(regs),
                           PT_REGS_PARM3_SYSCALL(regs),
                           PT_REGS_PARM4_SYSCALL(regs),
                           0,
                           0};
  struct emit_state* e = &s->em;
  __builtin_memset(&e->a, 0, sizeof(e->a));
  parse_args(kind, args, &e->a, &name, &name2);
  if (e->a.op == RS_FOP_OPEN) {
    e->a.want = open_want(hdr, e->a.open_flags);
    if (!e->a.want) return 0;
  }
  set_actor(&e->a, id);
  e->ret = ret;
  e->name = name;
  e->name2 = 0;
  e->name_user = 1;
  e->fd = e->a.op == RS_FOP_OPEN ? (ret >= 0 ? (__s32)ret : -1) : e->a.fd;
  return emit(s);
}

SEC("tp")
int file_exit(struct trace_event_raw_sys_exit* ctx) {
  __u32 nr = (__u32)ctx->id;
  long ret = ctx->ret;
  struct file_scratch* s;
  __u8 kind;

  if (nr >= RS_FILE_NR_MAX) return 0;
  kind = nr_kind[nr];
  if (!kind) return 0;
  if (exit_only(kind)) return exit_direct(kind, ret);
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  struct op_pending* p = bpf_map_lookup_elem(&op_inflight, &tid);
  if (!p) return 0;
  s = scratch_get();
  if (s && p->a.nr == nr) finish(s, p, ret);
  bpf_map_delete_elem(&op_inflight, &tid);
  return 0;
}

/* ---- io_uring ---- */

/* The submission event before 5.19 (same arguments, other name). */
struct trace_event_raw_io_uring_submit_sqe {
  struct trace_entry ent;
  void* ctx;
  void* req;
  u8 opcode;
} __attribute__((preserve_access_index));

static __always_inline int uring_capture(void* req, __u8 opcode) {
  const struct rs_rec_file_scope* hdr;
  struct filename *fname = 0, *fname2 = 0;
  struct op_pending* st;
  __u64 id, key = (__u64)req;

  switch (opcode) {
    case IORING_OP_OPENAT:
    case IORING_OP_OPENAT2:
    case IORING_OP_UNLINKAT:
    case IORING_OP_RENAMEAT:
    case IORING_OP_MKDIRAT:
    case IORING_OP_SYMLINKAT:
    case IORING_OP_LINKAT:
      break;
    default:
      return 0;
  }
  id = bpf_get_current_pid_tgid();
  if ((__u32)(id >> 32) == agent_tgid || !req) return 0;
  if (!scope_table(&hdr)) return 0;
  st = staging_get();
  if (!st) return 0;
  __builtin_memset(&st->a, 0, sizeof(st->a));
  set_actor(&st->a, id);
  st->a.fd = -1;
  st->a.dfd = RS_AT_FDCWD;
  st->a.dfd2 = RS_AT_FDCWD;
  st->a.want = RS_FILE_F_URING;
  /* Each opcode's state overlays the request from its start (io_kiocb_to_cmd). */
  switch (opcode) {
    case IORING_OP_OPENAT:
    case IORING_OP_OPENAT2: {
      struct io_open* o = req;
      st->a.op = RS_FOP_OPEN;
      st->a.dfd = BPF_CORE_READ(o, dfd);
      st->a.open_flags = BPF_CORE_READ(o, how.flags);
      st->a.mode = BPF_CORE_READ(o, how.mode);
      st->a.uring_slot = BPF_CORE_READ(o, file_slot);
      fname = BPF_CORE_READ(o, filename);
      __u8 want = open_want(hdr, st->a.open_flags);
      if (!want) return 0;
      st->a.want |= want;
      break;
    }
    case IORING_OP_UNLINKAT: {
      struct io_unlink* u = req;
      st->a.dfd = BPF_CORE_READ(u, dfd);
      st->a.at_flags = BPF_CORE_READ(u, flags);
      st->a.op = (st->a.at_flags & RS_AT_REMOVEDIR) ? RS_FOP_RMDIR : RS_FOP_UNLINK;
      fname = BPF_CORE_READ(u, filename);
      break;
    }
    case IORING_OP_RENAMEAT: {
      struct io_rename* rn = req;
      st->a.op = RS_FOP_RENAME;
      st->a.dfd = BPF_CORE_READ(rn, old_dfd);
      st->a.dfd2 = BPF_CORE_READ(rn, new_dfd);
      st->a.at_flags = BPF_CORE_READ(rn, flags);
      fname = BPF_CORE_READ(rn, oldpath);
      fname2 = BPF_CORE_READ(rn, newpath);
      break;
    }
    case IORING_OP_MKDIRAT: {
      struct io_mkdir* mk = req;
      st->a.op = RS_FOP_MKDIR;
      st->a.dfd = BPF_CORE_READ(mk, dfd);
      st->a.mode = BPF_CORE_READ(mk, mode);
      fname = BPF_CORE_READ(mk, filename);
      break;
    }
    default: { /* SYMLINKAT, LINKAT */
      struct io_link* lk = req;
      st->a.op = opcode == IORING_OP_SYMLINKAT ? RS_FOP_SYMLINK : RS_FOP_LINK;
      st->a.dfd = BPF_CORE_READ(lk, old_dfd);
      st->a.dfd2 = BPF_CORE_READ(lk, new_dfd);
      st->a.at_flags = BPF_CORE_READ(lk, flags);
      fname = BPF_CORE_READ(lk, oldpath);
      fname2 = BPF_CORE_READ(lk, newpath);
      break;
    }
  }
  st->name_len = 0;
  st->name2_len = 0;
  st->uname = 0; /* kernel copies: nothing to read again */
  st->uname2 = 0;
  long got = bpf_probe_read_kernel_str(st->name, sizeof(st->name), BPF_CORE_READ(fname, name));
  if (got > 0) st->name_len = got;
  if (fname2) {
    got = bpf_probe_read_kernel_str(st->name2, sizeof(st->name2), BPF_CORE_READ(fname2, name));
    if (got > 0) st->name2_len = got;
  }
  if (bpf_map_update_elem(&uring_inflight, &key, st, BPF_ANY)) RS_FCOUNT(pending_full);
  return 0;
}

SEC("tp/io_uring/io_uring_submit_req")
int uring_submit(struct trace_event_raw_io_uring_submit_req* ctx) {
  return uring_capture(ctx->req, ctx->opcode);
}

SEC("tp/io_uring/io_uring_submit_sqe")
int uring_submit_sqe(struct trace_event_raw_io_uring_submit_sqe* ctx) {
  if (!bpf_core_field_exists(ctx->req)) return 0;
  return uring_capture(ctx->req, ctx->opcode);
}

SEC("tp/io_uring/io_uring_complete")
int uring_complete(struct trace_event_raw_io_uring_complete* ctx) {
  __u64 key = (__u64)ctx->req;
  struct op_pending* p = bpf_map_lookup_elem(&uring_inflight, &key);
  struct file_scratch* s;

  if (!p) return 0;
  s = scratch_get();
  if (s) finish(s, p, ctx->res);
  bpf_map_delete_elem(&uring_inflight, &key);
  return 0;
}
