// The kill-on-exec table as the BPF programs read it: compile_kernel_exec_rules() output laid
// out as rs_rec_kexec_entry values (entry slot * 4 + i is condition i of table rule `slot`),
// ready to be written into a fresh inner array map and swapped in whole.
#pragma once

#include <ringside/records.h>

#include <cstdint>
#include <vector>

#include "policy/kernel_exec_rules.hpp"

namespace ringside {

struct KexecTable {
  std::vector<rs_rec_kexec_entry> entries;  // RS_KEXEC_ENTRIES values, unused ones zeroed
  size_t rules = 0;                         // table rules in use (0: no table at all)
};

// Encodes `program`; every entry carries `generation` so that an exec record names the table
// (and so the policy) that decided it. Rules beyond the table's capacity are not encoded
// (compile_kernel_exec_rules never produces more).
KexecTable encode_kexec_table(const policy::KernelExecProgram& program, uint16_t generation);

// True when the policy has process.exec deny rules for the kernel level that the table does not
// carry — the agent must decide (and kill late) those, so exec records should wake it at once.
bool needs_late_kill(const policy::Policy& policy, const policy::KernelExecProgram& program);

}  // namespace ringside
