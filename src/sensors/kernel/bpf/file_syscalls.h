/* The system calls of the file sensor (file.bpf.c): which are handled at exit alone, and how
 * each one's arguments map onto struct op_args. Numbers never appear here: the agent fills
 * nr_kind from <sys/syscall.h> with the RS_SC_* kind of each call. */
#ifndef RINGSIDE_FILE_SYSCALLS_H
#define RINGSIDE_FILE_SYSCALLS_H

#include "file_common.h"

/* Opens and fd operations are handled at exit alone (their arguments are still in the saved
 * registers, and the opened file itself gives the resolved path); the rest are captured at
 * entry into op_inflight. */
static __always_inline int exit_only(__u8 kind) {
  return kind == RS_SC_OPEN || kind == RS_SC_OPENAT || kind == RS_SC_OPENAT2 ||
         kind == RS_SC_CREAT || kind == RS_SC_FTRUNCATE || kind == RS_SC_FCHMOD;
}

/* The acting thread, process and user. */
static __always_inline void set_actor(struct op_args* a, __u64 pid_tgid) {
  a->pid = pid_tgid >> 32;
  a->tid = (__u32)pid_tgid;
  a->uid = (__u32)bpf_get_current_uid_gid();
}

/* Normalises the arguments of a hooked call (`args`: its registers, the unused ones zero) into
 * *a and the two path pointers. */
static __always_inline void parse_args(__u8 kind, const unsigned long* args, struct op_args* a,
                                       __u64* name, __u64* name2) {
  a->dfd = RS_AT_FDCWD;
  a->dfd2 = RS_AT_FDCWD;
  a->fd = -1;
  *name = 0;
  *name2 = 0;
  switch (kind) {
    case RS_SC_OPEN:
      a->op = RS_FOP_OPEN;
      *name = args[0];
      a->open_flags = args[1];
      a->mode = args[2];
      break;
    case RS_SC_OPENAT:
      a->op = RS_FOP_OPEN;
      a->dfd = args[0];
      *name = args[1];
      a->open_flags = args[2];
      a->mode = args[3];
      break;
    case RS_SC_OPENAT2: {
      struct open_how how = {};
      a->op = RS_FOP_OPEN;
      a->dfd = args[0];
      *name = args[1];
      bpf_probe_read_user(&how, sizeof(how), (const void*)args[2]);
      a->open_flags = how.flags;
      a->mode = how.mode;
      break;
    }
    case RS_SC_CREAT:
      a->op = RS_FOP_OPEN;
      *name = args[0];
      a->open_flags = RS_O_CREAT | RS_O_TRUNC | 01; /* O_WRONLY */
      a->mode = args[1];
      break;
    case RS_SC_FTRUNCATE:
      a->op = RS_FOP_TRUNCATE;
      a->fd = args[0];
      break;
    case RS_SC_FCHMOD:
      a->op = RS_FOP_CHMOD;
      a->fd = args[0];
      a->mode = args[1];
      break;
    case RS_SC_TRUNCATE:
      a->op = RS_FOP_TRUNCATE;
      *name = args[0];
      break;
    case RS_SC_UNLINK:
      a->op = RS_FOP_UNLINK;
      *name = args[0];
      break;
    case RS_SC_UNLINKAT:
      a->dfd = args[0];
      *name = args[1];
      a->at_flags = args[2];
      a->op = (a->at_flags & RS_AT_REMOVEDIR) ? RS_FOP_RMDIR : RS_FOP_UNLINK;
      break;
    case RS_SC_RMDIR:
      a->op = RS_FOP_RMDIR;
      *name = args[0];
      break;
    case RS_SC_RENAME:
    case RS_SC_LINK:
      a->op = kind == RS_SC_RENAME ? RS_FOP_RENAME : RS_FOP_LINK;
      *name = args[0];
      *name2 = args[1];
      break;
    case RS_SC_RENAMEAT:
    case RS_SC_RENAMEAT2:
    case RS_SC_LINKAT:
      a->op = kind == RS_SC_LINKAT ? RS_FOP_LINK : RS_FOP_RENAME;
      a->dfd = args[0];
      *name = args[1];
      a->dfd2 = args[2];
      *name2 = args[3];
      if (kind != RS_SC_RENAMEAT) a->at_flags = args[4];
      break;
    case RS_SC_CHMOD:
    case RS_SC_MKDIR:
      a->op = kind == RS_SC_CHMOD ? RS_FOP_CHMOD : RS_FOP_MKDIR;
      *name = args[0];
      a->mode = args[1];
      break;
    case RS_SC_FCHMODAT:
    case RS_SC_FCHMODAT2:
    case RS_SC_MKDIRAT:
      a->op = kind == RS_SC_MKDIRAT ? RS_FOP_MKDIR : RS_FOP_CHMOD;
      a->dfd = args[0];
      *name = args[1];
      a->mode = args[2];
      if (kind == RS_SC_FCHMODAT2) a->at_flags = args[3];
      break;
    case RS_SC_SYMLINK:
      a->op = RS_FOP_SYMLINK;
      *name = args[0];
      *name2 = args[1];
      break;
    case RS_SC_SYMLINKAT:
      a->op = RS_FOP_SYMLINK;
      *name = args[0];
      a->dfd2 = args[1];
      *name2 = args[2];
      break;
  }
}

#endif /* RINGSIDE_FILE_SYSCALLS_H */
