// SPDX-License-Identifier: GPL-2.0
/* Kernel-level process sensor: fork, exec and exit of every process, from the scheduler's
 * BTF tracepoints, as schema records (<ringside/records.h>) in one ring buffer; and
 * kill-on-exec: an exec that matches a deny entry of the kill table gets SIGKILL before the
 * new image runs one instruction in user space. */
#include "process_common.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space at run time: wake the consumer for every exec record, because the policy
 * has deny rules only the agent can decide (a late kill should not wait for the next poll). */
__u32 exec_wakeup = 0;

/* kernel_clone() -> copy_process() builds the child; kernel_clone() then fires
 * trace_sched_process_fork(current, p) once the child is visible, before it first runs. Called
 * for threads too (CLONE_THREAD); only new thread groups are processes. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct* parent, struct task_struct* child) {
  struct rs_rec_fork* r;

  if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid)) return 0;
  if (BPF_CORE_READ(child, flags) & RS_PF_KTHREAD) return 0;
  r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
  if (!r) {
    RS_COUNT(ringbuf_full);
    return 0;
  }
  r->type = RS_REC_FORK;
  r->flags = 0;
  r->size = sizeof(*r);
  r->ts_boot_ns = bpf_ktime_get_boot_ns();
  r->pid = BPF_CORE_READ(child, tgid);
  r->tid = BPF_CORE_READ(child, pid);
  r->ppid = BPF_CORE_READ(child, real_parent, tgid);
  r->uid = BPF_CORE_READ(child, cred, uid.val);
  r->start_boot_ns = task_start_boot_ns(child);
  r->parent_start_boot_ns = task_start_boot_ns(BPF_CORE_READ(child, real_parent, group_leader));
  bpf_ringbuf_submit(r, wake_flags(0));
  return 0;
}

struct args_ctx {
  struct path_scratch* ps;
  __u8* data;
};

/* One argv element from the new mm (present: the kernel just copied it there). */
static long args_step(__u32 i, struct args_ctx* ctx) {
  struct path_scratch* ps = ctx->ps;
  struct args_state* a = &ps->args;
  __u32 off = a->off;
  long got;

  if (i >= RS_EXEC_ARGC_MAX || off >= a->total) return 1;
  if (off >= RS_EXEC_ARGS_MAX) return 1;
  got = bpf_probe_read_user_str(&ctx->data[off], RS_EXEC_ARGS_MAX - off,
                                (const void*)(a->start + off));
  if (got <= 0) {
    a->err = 1;
    return 1;
  }
  barrier_var(i); /* keep the mask: the verifier lost the bound checked above */
  ps->arg_off[i & (RS_EXEC_ARGC_MAX - 1)] = off;
  ps->arg_len[i & (RS_EXEC_ARGC_MAX - 1)] = got - 1;
  a->n = i + 1;
  a->off = off + got;
  return 0;
}

/* exec_binprm() fires trace_sched_process_exec(current, old_pid, bprm) once the new image is
 * loaded (begin_new_exec() installed the new mm and credentials, de_thread() made the caller
 * the only thread and the group leader) and before the return to user space: argv is in the
 * new mm, and a SIGKILL sent here is taken before the first user instruction. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct* p, pid_t old_pid, struct linux_binprm* bprm) {
  __u32 zero = 0;
  struct exec_scratch* s = bpf_map_lookup_elem(&exec_scratch, &zero);
  struct path_scratch* ps = bpf_map_lookup_elem(&path_scratch, &zero);
  struct rs_rec_exec* r;
  struct mm_struct* mm;
  __u32 args_len, total;

  if (!s || !ps) return 0;
  r = (struct rs_rec_exec*)s->raw;
  r->type = RS_REC_EXEC;
  r->flags = 0;
  r->ts_boot_ns = bpf_ktime_get_boot_ns();
  fill_exec_creds(r, p, BPF_CORE_READ(p, cred));
  r->args_count = BPF_CORE_READ(bprm, argc);
  r->truncated = 0;
  r->kill_rule = 0;
  r->kill_gen = 0;

  mm = BPF_CORE_READ(p, mm);
  ps->args.start = BPF_CORE_READ(mm, arg_start);
  ps->args.total = BPF_CORE_READ(mm, arg_end) - ps->args.start;
  ps->args.off = 0;
  ps->args.n = 0;
  ps->args.err = 0;
  struct args_ctx ac = {.ps = ps, .data = r->data};
  bpf_loop(RS_EXEC_ARGC_MAX, args_step, &ac, 0);
  args_len = ps->args.off;
  if (args_len > RS_EXEC_ARGS_MAX) args_len = RS_EXEC_ARGS_MAX;
  if (ps->args.err) RS_COUNT(read_errors);
  if (args_len < ps->args.total && !ps->args.err) {
    r->truncated |= RS_TRUNC_ARGS;
    RS_COUNT(args_truncated);
  }
  r->args_len = args_len;
  ps->match.nargs = ps->args.n;
  ps->match.args_known = args_len > 0;
  ps->match.uid = r->uid;

  total = fill_exec_paths(r, ps, p, bprm, args_len);
  if (total > RS_EXEC_DATA_MAX) total = RS_EXEC_DATA_MAX;
  r->size = sizeof(*r) + total;

  void* table = bpf_map_lookup_elem(&kexec_tables, &zero);
  if (table && match_table(table, ps, r->data)) {
    if (bpf_send_signal(RS_SIGKILL) == 0) {
      r->kill_rule = ps->match.rule_index + 1;
      r->kill_gen = ps->match.gen;
      RS_COUNT(kills);
    } else {
      RS_COUNT(kill_errors); /* the agent sees a deny without a kill and kills late */
    }
  }

  if (bpf_ringbuf_output(&events, r, sizeof(*r) + total, wake_flags(exec_wakeup)))
    RS_COUNT(ringbuf_full);
  return 0;
}

/* do_exit() computes group_dead = atomic_dec_and_test(&tsk->signal->live) before it fires
 * trace_sched_process_exit(tsk), so live == 0 here only for the group's last thread (on every
 * kernel; the tracepoint's own group_dead argument is recent). Two threads exiting at once may
 * both see 0; the agent drops the second record by the process key. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct* p) {
  struct rs_rec_exit* r;
  int group_code;

  if (BPF_CORE_READ(p, signal, live.counter) != 0) return 0;
  if (BPF_CORE_READ(p, flags) & RS_PF_KTHREAD) return 0;
  r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
  if (!r) {
    RS_COUNT(ringbuf_full);
    return 0;
  }
  r->type = RS_REC_EXIT;
  r->flags = 0;
  r->size = sizeof(*r);
  r->ts_boot_ns = bpf_ktime_get_boot_ns();
  r->pid = BPF_CORE_READ(p, tgid);
  r->ppid = BPF_CORE_READ(p, real_parent, tgid);
  r->uid = BPF_CORE_READ(p, cred, uid.val);
  r->start_boot_ns = task_start_boot_ns(BPF_CORE_READ(p, group_leader));
  /* What wait(2) reports: the group's code after exit_group() or a fatal signal, the task's
   * own otherwise. */
  group_code = BPF_CORE_READ(p, signal, group_exit_code);
  r->exit_code = group_code ? group_code : BPF_CORE_READ(p, exit_code);
  bpf_ringbuf_submit(r, wake_flags(0));
  return 0;
}
