// The lab's peers (auditd, snoopy, fatrace, fapolicyd, opensnitch): installing their Debian
// packages without letting them touch the host, and the host state the lab must leave as it
// found it.
//
// Installing is done so that no service starts and nothing is preloaded system-wide:
// a /usr/sbin/policy-rc.d that exits 101 while apt runs (an existing one is kept when it
// already refuses, never replaced or removed), debconf told not to add snoopy to
// /etc/ld.so.preload (and the file checked, restored if it changed anyway), the services
// masked for systemd.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace ringside::lab {

struct CommandResult {
  int status = -1;  // exit status; 128 + signal when killed (timeout: SIGKILL)
  bool timed_out = false;
  std::string out;  // standard output and error, interleaved
};

// Runs argv (PATH searched) with `input` on standard input, bounded by `timeout` (then
// SIGKILL). Never throws.
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::string& input = "");

// Starts argv (PATH searched) with standard output and error in `log`, in `cwd` when given.
Result<pid_t> spawn_logged(const std::vector<std::string>& argv, const std::string& log,
                           const std::string& cwd = "");
// Whether `pid` (a child) has exited; reaps it.
bool exited(pid_t pid);
// Sends `sig`, waits up to `grace`, then SIGKILL; always reaps; sets pid to 0.
void stop_pid(pid_t& pid, int sig = 15, std::chrono::milliseconds grace = std::chrono::seconds(3));
// The whole file ("" when it cannot be read); writes a file with `mode`.
std::string read_all(const std::string& path);
bool write_text(const std::string& path, const std::string& text, unsigned mode);

// Packages the peers come from, and which of them are not installed.
const std::vector<std::string>& peer_packages();
std::vector<std::string> missing_packages(const std::vector<std::string>& packages);

// Installs the missing peer packages as described above; idempotent (nothing to do: ok).
// `log` receives progress lines.
Result<void> install_peer_packages(const std::vector<std::string>& packages,
                                   const std::function<void(const std::string&)>& log);

// What the lab must not change on the host.
struct HostState {
  bool ld_preload_exists = false;
  std::string ld_preload;             // /etc/ld.so.preload
  std::string audit_rules;            // `auditctl -l`
  std::string audit_enabled;          // `auditctl -s` enabled value
  std::string iptables;               // `iptables -S` + `ip6tables -S`, the root namespace's rules
  std::vector<pid_t> peer_processes;  // running auditd, fatrace, fapolicyd, opensnitchd
  std::string snoopy_ini;             // /etc/snoopy.ini
};
HostState snapshot_host();
// Differences between two snapshots, one line each; empty when the same.
std::vector<std::string> host_differences(const HostState& before, const HostState& after);

// Pids whose executable is one of the peers' daemons.
std::vector<pid_t> peer_processes();
// "DAEMON already runs on this host (pid N)" when one of peer_processes() is `daemon`; "".
std::string already_running(const std::string& daemon);

}  // namespace ringside::lab
