// SPDX-License-Identifier: GPL-2.0
/* BPF-LSM half of kill-on-exec: refuses a denied exec with EPERM instead of killing the new
 * image after it loaded. A separate object, because many kernels refuse LSM programs (no
 * CONFIG_BPF_LSM, "bpf" not in lsm=, or no trampolines); the agent tries to load it at run time
 * and carries on without it. It shares the ring, counters and kill table of process.bpf.c
 * (bpf_map__reuse_fd).
 *
 * It decides with what is known before the image runs: the executable, its name, the
 * caller's cwd and the real uid. argv is not readable here (it sits in the new mm, not yet
 * current's), so entries that need it are unknown: a deny rule with an argv condition is left
 * to the tracepoint's kill, an allow rule with one ends the walk, as in user space. */
#include "process_common.h"

char LICENSE[] SEC("license") = "GPL";

/* search_binary_handler() calls security_bprm_check(bprm) for each binary format tried, with
 * the file open and the new credentials prepared (bprm->cred), before any point of no return;
 * an error here makes execve() fail in the caller. */
SEC("lsm/bprm_check_security")
int BPF_PROG(check_exec, struct linux_binprm* bprm, int ret) {
  __u32 zero = 0;
  struct exec_scratch* s;
  struct path_scratch* ps;
  struct task_struct* task;
  struct rs_rec_exec* r;
  void* table;
  __u32 total;

  if (ret) return ret;
  table = bpf_map_lookup_elem(&kexec_tables, &zero);
  if (!table) return 0;
  s = bpf_map_lookup_elem(&exec_scratch, &zero);
  ps = bpf_map_lookup_elem(&path_scratch, &zero);
  if (!s || !ps) return 0;
  task = bpf_get_current_task_btf();
  r = (struct rs_rec_exec*)s->raw;
  r->type = RS_REC_EXEC;
  r->flags = RS_EXEC_F_LSM_BLOCKED;
  r->ts_boot_ns = bpf_ktime_get_boot_ns();
  fill_exec_creds(r, task, BPF_CORE_READ(bprm, cred));
  r->args_count = BPF_CORE_READ(bprm, argc);
  r->truncated = 0;
  r->kill_rule = 0;
  r->kill_gen = 0;
  r->args_len = 0;
  ps->match.nargs = 0;
  ps->match.args_known = 0;
  ps->match.uid = r->uid;

  total = fill_exec_paths(r, ps, task, bprm, 0);
  if (total > RS_EXEC_DATA_MAX) total = RS_EXEC_DATA_MAX;
  r->size = sizeof(*r) + total;
  if (!match_table(table, ps, r->data)) return 0;

  r->kill_rule = ps->match.rule_index + 1;
  r->kill_gen = ps->match.gen;
  RS_COUNT(lsm_blocks);
  if (bpf_ringbuf_output(&events, r, sizeof(*r) + total, wake_flags(0))) RS_COUNT(ringbuf_full);
  return -RS_EPERM;
}
