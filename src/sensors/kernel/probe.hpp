// Capability probes: which kernel and session mechanisms this machine offers, each with a
// one-line reason (the errno text, the missing file). `ringside doctor` prints them; the agent
// may use them to choose a mechanism. Probes are read-only except where a mechanism can only
// be tried for real: the fanotify probe mounts a scratch tmpfs (and unmounts it), the NFQUEUE
// probe binds and unbinds an unused queue, the proc connector probe subscribes and
// unsubscribes, the kprobe probe attaches and detaches a no-op program.
#pragma once

#include <string>
#include <vector>

#include "core/event.hpp"

namespace ringside::probe {

struct Capability {
  std::string name;       // stable key, e.g. "bpf_tp_btf"
  std::string mechanism;  // what it is, for people
  Level level = Level::kKernel;
  std::string area;  // process, file, network, keyboard (comma-separated), or all
  bool available = false;
  std::string reason;
};

Capability btf();
Capability bpf_ringbuf();
Capability bpf_tp_btf();
Capability bpf_fentry();
Capability bpf_lsm();
Capability kprobe();
Capability fanotify_permission();
Capability proc_connector();
Capability nfqueue();
Capability bpf_cgroup_sock();
Capability audit();
Capability x11();
Capability evdev();
Capability uinput();

// Every probe above, in that order.
std::vector<Capability> probe_all();

}  // namespace ringside::probe
