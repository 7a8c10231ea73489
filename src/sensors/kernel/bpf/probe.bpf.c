// Capability probes: the smallest program of each type ringside relies on. Every program's
// autoload is off ("?" section prefix); sensors/kernel/probe.cpp turns on and loads one at a
// time, so that a type the kernel refuses fails alone and its errno is the answer.
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

// BTF-typed tracepoint: the process sensor's exec hook.
SEC("?tp_btf/sched_process_exec")
int BPF_PROG(probe_tp_btf, struct task_struct* p, pid_t old_pid, struct linux_binprm* bprm) {
  return 0;
}

// Function entry trampoline (refused with EPERM where lockdown or the hypervisor forbids it).
SEC("?fentry/hrtimer_nanosleep")
int BPF_PROG(probe_fentry) { return 0; }

// BPF-LSM: the hook that could refuse an exec in the kernel.
SEC("?lsm/bprm_check_security")
int BPF_PROG(probe_lsm, struct linux_binprm* bprm) { return 0; }

// kprobe: attached (and detached at once) to see whether the kernel offers kprobes at all.
SEC("?kprobe/hrtimer_nanosleep")
int BPF_KPROBE(probe_kprobe) { return 0; }

// cgroup socket address program: the network sensor's in-kernel connect/sendmsg/bind verdicts.
// Allows everything; the probe attaches it to an empty child cgroup it creates and removes.
SEC("?cgroup/connect4")
int probe_cgroup_sock(struct bpf_sock_addr* ctx) { return 1; }
