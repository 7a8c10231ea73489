// Decoding of the network sensor's ring records (schema `records:` net_op, <ringside/records.h>)
// and their translation into events, and the merge of a cgroup program's verdict with the
// system call record of the same operation. Pure functions, unit-tested without a kernel.
#pragma once

#include <ringside/records.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/event.hpp"
#include "core/result.hpp"
#include "sensors/kernel/flow.hpp"

namespace ringside::network_records {

// Checks type, size, alignment, op, source, family and (cgroup records) action.
Result<const rs_rec_net_op*> decode_net_op(const void* data, size_t size);

std::optional<EventType> event_type_of(uint8_t op);

// "1.2.3.4" / "2001:db8::1" from the record's 16 bytes and family (4 or 6).
std::string ip_text(const uint8_t addr[16], uint8_t family);

// The event of a record: process, addresses, ports, transport, type, outcome; a redirected
// connect carries ringside.network.original_destination ("ip port"). Cgroup records get
// sensor "cgroup_sock", the others "ebpf". The verdict is left to the caller.
Event net_event(const rs_rec_net_op& r);

// Whether a system call record reports the same operation as a cgroup verdict record seen
// just before on the same thread (same op, transport, destination or, for bind, local port).
bool same_operation(const rs_rec_net_op& cgroup, const rs_rec_net_op& syscall);

// /proc/PID/exe of the process with this pid when it started at `start_ticks` (clock ticks
// since boot, /proc/PID/stat field 22); empty when that process is gone.
std::string proc_executable(uint32_t pid, int64_t start_ticks,
                            const std::string& proc_root = "/proc");

// The flow a record's socket is (local = source), for the owner map and tests.
Flow flow_of(const rs_rec_net_op& r);

}  // namespace ringside::network_records
