/* Limits and values of the file sensor, shared by its BPF program (file.bpf.c) and the agent's
 * decoder (sensors/kernel/file_records.cpp) and loader (sensors/kernel/file_ebpf.cpp). Record
 * layouts come from the schema (<ringside/records.h>: rs_rec_file_op, rs_rec_file_counters,
 * rs_rec_file_scope); these are the values inside them. */
#ifndef RINGSIDE_FILE_ABI_H
#define RINGSIDE_FILE_ABI_H

#include "path_abi.h" /* RS_PATH_MAX, RS_PATH_COMPONENTS */

/* rs_rec_file_op data: up to six NUL-terminated strings, in this order, each RS_PATH_MAX at
 * most: path (resolved from the file itself), requested, dir, target, target_dir, exe. */
#define RS_FILE_STRINGS 6
#define RS_FILE_DATA_MAX (RS_FILE_STRINGS * RS_PATH_MAX)

/* rs_rec_file_op.op: the operation, whichever system call or io_uring opcode made it. */
#define RS_FOP_OPEN 1
#define RS_FOP_TRUNCATE 2
#define RS_FOP_UNLINK 3
#define RS_FOP_RMDIR 4
#define RS_FOP_RENAME 5
#define RS_FOP_CHMOD 6
#define RS_FOP_LINK 7
#define RS_FOP_SYMLINK 8
#define RS_FOP_MKDIR 9
#define RS_FOP_MAX 9

/* rs_record_header.flags of a file_op record. */
#define RS_FILE_F_URING 0x1      /* submitted through io_uring (else a system call) */
#define RS_FILE_F_IN_SCOPE 0x2   /* the kernel found path under a watched scope */
#define RS_FILE_F_RULE 0x4       /* path is under a prefix a file rule names */
#define RS_FILE_F_UNFILTERED 0x8 /* not compared with the scopes: the agent filters it */
#define RS_FILE_F_OPENS_OK 0x10  /* an open the `opens` setting reports */

/* rs_rec_file_op.truncated: strings cut to fit RS_PATH_MAX or RS_PATH_COMPONENTS. */
#define RS_FTRUNC_PATH 0x1
#define RS_FTRUNC_REQUESTED 0x2
#define RS_FTRUNC_DIR 0x4
#define RS_FTRUNC_TARGET 0x8
#define RS_FTRUNC_TARGET_DIR 0x10
#define RS_FTRUNC_EXE 0x20

/* System calls the program hooks, by kind. The agent fills the program's syscall-number table
 * (nr_kind) from <sys/syscall.h> before load, so the BPF code never hard-codes numbers, and
 * attaches the program to syscalls:sys_{enter,exit}_<name> of each one this kernel has. */
#define RS_SC_OPEN 1
#define RS_SC_OPENAT 2
#define RS_SC_OPENAT2 3
#define RS_SC_CREAT 4
#define RS_SC_TRUNCATE 5
#define RS_SC_FTRUNCATE 6
#define RS_SC_UNLINK 7
#define RS_SC_UNLINKAT 8
#define RS_SC_RMDIR 9
#define RS_SC_RENAME 10
#define RS_SC_RENAMEAT 11
#define RS_SC_RENAMEAT2 12
#define RS_SC_CHMOD 13
#define RS_SC_FCHMOD 14
#define RS_SC_FCHMODAT 15
#define RS_SC_FCHMODAT2 16
#define RS_SC_LINK 17
#define RS_SC_LINKAT 18
#define RS_SC_SYMLINK 19
#define RS_SC_SYMLINKAT 20
#define RS_SC_MKDIR 21
#define RS_SC_MKDIRAT 22
#define RS_FILE_NR_MAX 512 /* syscall numbers below this are looked up in nr_kind */

/* The scope table (rs_rec_file_scope entries; swapped whole). Entry 0 is the header: its
 * scope_flags are the settings below, its prefix_len the number of prefix entries after it. */
#define RS_FILE_SCOPES 32      /* prefix entries after the header */
#define RS_FILE_PREFIX_MAX 256 /* prefix bytes compared in the kernel, zero-padded */
#define RS_SCOPE_HEADER 1
#define RS_SCOPE_WATCH 2 /* a watched path: report what lies under it */
#define RS_SCOPE_RULE 3  /* a prefix a file rule names: the agent evaluates what lies under it */

/* Header flags. */
#define RS_SCOPE_OPENS_MASK 0x3
#define RS_SCOPE_OPENS_NONE 0
#define RS_SCOPE_OPENS_WRITES 1
#define RS_SCOPE_OPENS_ALL 2
#define RS_SCOPE_WATCH_ALL 0x4  /* every path is in scope (a watch on "/", or too many) */
#define RS_SCOPE_RULE_OPENS 0x8 /* file.open rules exist: opens are evaluated whatever `opens` */
#define RS_SCOPE_RULE_ALL 0x10  /* some such rule is not bounded by a path prefix */

/* Prefix entry flags. */
#define RS_SCOPE_F_PARTIAL 0x1 /* only the first RS_FILE_PREFIX_MAX - 1 bytes are compared */

/* Kernel open(2) flag values the program tests (the same on every architecture). */
#define RS_O_ACCMODE 03
#define RS_O_CREAT 0100
#define RS_O_TRUNC 01000
#define RS_O_SYNC_BIT 04000000     /* O_SYNC is this and O_DSYNC */
#define RS_O_TMPFILE_BIT 020000000 /* O_TMPFILE is this and O_DIRECTORY */
#define RS_AT_FDCWD (-100)
#define RS_AT_REMOVEDIR 0x200
#define RS_AT_EMPTY_PATH 0x1000

#endif /* RINGSIDE_FILE_ABI_H */
