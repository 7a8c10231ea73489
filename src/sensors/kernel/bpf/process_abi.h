/* Limits and flag values of the process sensor, shared by its BPF programs (process.bpf.c,
 * process_lsm.bpf.c) and the agent's decoder (sensors/kernel/process_records.cpp). Record
 * layouts come from the schema (<ringside/records.h>); these are the values inside them. */
#ifndef RINGSIDE_PROCESS_ABI_H
#define RINGSIDE_PROCESS_ABI_H

#include "path_abi.h" /* RS_PATH_MAX, RS_PATH_COMPONENTS */

/* rs_rec_exec data: argv first (at offset 0, so the per-element reads need no variable base),
 * then the executable path, the cwd and the name the program passed. */
#define RS_EXEC_ARGS_MAX 8192 /* bytes of argv kept, NULs included */
#define RS_EXEC_ARGC_MAX 128  /* argv elements kept (a power of two) */
#define RS_EXEC_DATA_MAX (RS_EXEC_ARGS_MAX + 3 * RS_PATH_MAX)

/* rs_rec_exec.truncated: which parts were cut to fit a limit. */
#define RS_TRUNC_EXE 0x1
#define RS_TRUNC_CWD 0x2
#define RS_TRUNC_ARGS 0x4
#define RS_TRUNC_FILENAME 0x8

/* rs_record_header.flags of an exec record. */
#define RS_EXEC_F_LSM_BLOCKED 0x1 /* refused by lsm/bprm_check_security: execve failed */

/* Kill-on-exec table (rs_rec_kexec_entry values; policy/kernel_exec_rules.hpp). */
#define RS_KEXEC_RULES 32
#define RS_KEXEC_CONDS 4
#define RS_KEXEC_ENTRIES (RS_KEXEC_RULES * RS_KEXEC_CONDS)
#define RS_KEXEC_PATTERN 128 /* pattern bytes, zero-padded; at most 127 used */

#define RS_KFIELD_EXECUTABLE 1
#define RS_KFIELD_NAME 2
#define RS_KFIELD_ARG 3
#define RS_KFIELD_CWD 4
#define RS_KFIELD_UID 5

#define RS_KOP_EQUALS 1
#define RS_KOP_PREFIX 2
#define RS_KOP_SUFFIX 3

#endif /* RINGSIDE_PROCESS_ABI_H */
