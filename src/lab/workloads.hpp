// The workloads whose cost the overhead measurements compare (the lab's overhead section and
// the exec_storm, open_storm and connect_storm benchmarks): each runs in its own process and
// returns 0 when every operation did what it should.
#pragma once

#include <string>

namespace ringside::lab {

// N x (fork, execve /bin/true, wait); with RS_LAB_EXEC=PATH in the environment, PATH instead
// (a copy of true on a peer's own mount).
int exec_workload(long n);

// N x open(O_RDONLY) + close over `files` existing files dir/f0 .. dir/f<files-1>, round robin.
// Opens denied with EPERM/EACCES are skipped (a deny rule's storm); any other failure is one.
int open_workload(long n, const std::string& dir, long files);
// Creates the files open_workload reads.
bool make_open_files(const std::string& dir, long files);

// Joins `cgroup` (cgroup v2 directory; "-" or empty: stays), enters a network namespace of its
// own (or, when the environment has RS_LAB_NETNS=PATH, that one: a peer confined there) with
// the loopback up, listens on 127.0.0.1:7000 and does N x (socket, connect, accept, close
// both; RST on close so that no TIME_WAIT piles up).
int connect_workload(long n, const std::string& cgroup);

// An established flow: placed as connect_workload, one TCP connection on the loopback carries
// `bytes` from this process to a child that reads them all (each has a core of its own).
int flow_workload(long bytes, const std::string& cgroup);

}  // namespace ringside::lab
