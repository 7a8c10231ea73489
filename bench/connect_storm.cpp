// connect_storm: what kernel-level network monitoring and in-kernel connect rules cost a
// program that opens TCP connections.
//
// Whole-process A/B with interleaved rounds (lab/ab.hpp): a workload process joins a child
// cgroup the benchmark creates (and removes), enters a network namespace of its own (loopback
// only), listens on 127.0.0.1 and does N x (socket, connect, accept, close both). Modes:
//
//   none      no agent
//   kernel    kernel level, network domain, no rules: the eBPF tracepoints report every
//             connect and accept (2 events per iteration), the socket programs attached to the
//             benchmark's cgroup with an empty table
//   empty-probes  no agent; empty eBPF programs (bpftrace) on the syscall and sock tracepoints
//             the network sensor uses: the floor under `kernel` (the socket programs aside)
//   deny      as kernel, with 8 deny rules (ports, a CIDR block, transport) that the connect
//             walks in the cgroup/connect4 program and passes: the in-kernel decision's cost
//   nfqueue   `ringside run --levels kernel --domains network` with settings.network.nfqueue:
//             all, in a network namespace of its own that the workload joins: every new
//             connection's first packet waits for the agent's verdict (eBPF sensor included)
//   interposer `ringside run --levels user --domains network`, the workload under LD_PRELOAD of
//             the interposer: its connect and accept hooks report to the agent
//
// The kernel and deny agents are a real Agent (policy, enrichment, decisions, JSONL sink,
// counters) hosted by this program with the eBPF network sensor alone (`connect_storm run ...`,
// called like `ringside run`), so that their figures are the sensor's and not NFQUEUE's, which
// `ringside run --domains network` also starts.
//
// Then an established flow: one loopback TCP connection carries --flow-bytes from the workload
// to its child (each on a core), in the modes none, kernel, nfqueue and interposer; the
// throughput ratio to none.
//
//   connect_storm [--iterations N] [--rounds R] [--flow-bytes B (0: no flow runs)] [--json FILE]
//   connect_storm --workload N CGROUP   (the storm itself)
//   connect_storm --flow BYTES CGROUP   (the flow itself)
//   connect_storm run --policy P ...    (the network-sensor-only agent)

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/agent.hpp"
#include "lab/ab.hpp"
#include "lab/workloads.hpp"
#include "sensors/kernel/network_ebpf.hpp"
#include "sinks/jsonl_sink.hpp"

namespace {

// A real agent with only the eBPF network sensor, called like `ringside run`.
int host_agent(int argc, char** argv) {
  ringside::AgentOptions o;
  o.kernel_level = true;
  o.user_level = false;
  o.domains = {ringside::Domain::kNetwork};
  o.console = false;
  for (int i = 2; i + 1 < argc; ++i) {
    const std::string a = argv[i];
    std::string* target = a == "--policy"        ? &o.policy_path
                          : a == "--jsonl"       ? &o.jsonl_path
                          : a == "--ready-file"  ? &o.ready_file
                          : a == "--stats-file"  ? &o.stats_file
                          : a == "--hook-socket" ? &o.hook_socket
                                                 : nullptr;
    if (target != nullptr) *target = argv[++i];
  }
  ringside::block_agent_signals();
  std::vector<ringside::policy::ParseError> errors;
  auto pol = ringside::policy::Policy::load_file(o.policy_path, &errors);
  if (!pol) {
    std::fprintf(stderr, "connect_storm run: %s\n",
                 errors.empty() ? pol.error().message.c_str() : errors[0].to_string().c_str());
    return 2;
  }
  std::vector<std::unique_ptr<ringside::Sensor>> sensors;
  const std::string query =
      (std::filesystem::path(o.hook_socket).parent_path() / "origdst.sock").string();
  sensors.push_back(std::make_unique<ringside::NetworkEbpfSensor>(query));
  std::vector<std::unique_ptr<ringside::Sink>> sinks;
  auto sink = ringside::JsonlSink::open(o.jsonl_path);
  if (!sink) {
    std::fprintf(stderr, "connect_storm run: %s\n", sink.error().message.c_str());
    return 1;
  }
  sinks.push_back(std::move(sink).value());
  auto agent =
      ringside::Agent::create_with(o, std::move(pol).value(), std::move(sensors), std::move(sinks));
  if (!agent) return 1;
  if (auto r = (*agent)->start(); !r) {
    std::fprintf(stderr, "connect_storm run: %s\n", r.error().message.c_str());
    return 1;
  }
  (*agent)->run_until_signal();
  (*agent)->stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "run") return host_agent(argc, argv);
  long iterations = 5000;
  int rounds = 5;
  long flow_bytes = 1L << 30;
  std::string json_out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--workload" && i + 2 < argc)
      return ringside::lab::connect_workload(std::atol(argv[i + 1]), argv[i + 2]);
    if (a == "--flow" && i + 2 < argc)
      return ringside::lab::flow_workload(std::atol(argv[i + 1]), argv[i + 2]);
    if (a == "--flow-bytes" && i + 1 < argc) {
      flow_bytes = std::atol(argv[++i]);
    } else if (a == "--iterations" && i + 1 < argc) {
      iterations = std::atol(argv[++i]);
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      json_out = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: connect_storm [--iterations N] [--rounds R] [--flow-bytes B] "
                   "[--json FILE]\n");
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "connect_storm: the agent's kernel level needs root\n");
    return 2;
  }
  const std::string root = ringside::cgroup2_root();
  if (root.empty()) {
    std::fprintf(stderr, "connect_storm: no cgroup2 file system\n");
    return 2;
  }
  const std::string cgroup = root + "/ringside-connect-storm-" + std::to_string(getpid());
  if (mkdir(cgroup.c_str(), 0755) != 0) {
    std::perror("connect_storm: mkdir cgroup");
    return 1;
  }
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = '\0';
  const std::string settings =
      "settings:\n  network:\n    cgroup: " + cgroup + "\n    nfqueue: off\n";
  std::string deny_rules = "rules:\n";
  for (int port : {1, 2, 3, 4, 5, 6}) {
    deny_rules += "  - {name: no-" + std::to_string(port) +
                  ", on: network.connect, match: {destination.port: " + std::to_string(port) +
                  "}, action: deny}\n";
  }
  deny_rules +=
      "  - {name: no-net10, on: network.connect, match: {destination.ip: {cidr: 10.0.0.0/8}}, "
      "action: deny}\n"
      "  - {name: no-udp-53, on: network.connect, match: {network.transport: udp, "
      "destination.port: 53}, action: deny}\n";
  ringside::lab::AbConfig cfg;
  cfg.ringside = std::string(RINGSIDE_BUILD_DIR) + "/ringside";
  cfg.rounds = rounds;
  cfg.workload = {self, "--workload", std::to_string(iterations), cgroup};
  ringside::lab::Mode nfqueue{
      "nfqueue",
      {"--levels", "kernel", "--domains", "network"},
      "settings:\n  network:\n    cgroup: " + cgroup + "\n    nfqueue: all\nrules: []\n",
      {}};
  nfqueue.agent_own_netns = true;
  const ringside::lab::Mode interposer{
      "interposer",
      {"--levels", "user", "--domains", "network"},
      settings + "rules: []\n",
      {"LD_PRELOAD=" + std::string(RINGSIDE_BUILD_DIR) + "/libringside-preload.so",
       "RINGSIDE_SOCKET={socket}"}};
  const ringside::lab::Mode none{"none", {}, "", {}};
  const ringside::lab::Mode kernel{
      "kernel", {"--levels", "kernel"}, settings + "rules: []\n", {}, self};
  std::vector<ringside::lab::Mode> modes = {
      none,
      kernel,
      {"deny", {"--levels", "kernel"}, settings + deny_rules, {}, self},
      nfqueue,
      interposer};
  // The floor under `kernel`: programs that do nothing on the tracepoints the network sensor
  // uses (its socket programs on the cgroup are not included).
  std::string no_probes;
  const std::string scratch = "/tmp/ringside-connect-storm-" + std::to_string(getpid());
  mkdir(scratch.c_str(), 0700);
  const auto empty = ringside::lab::empty_probes_mode(
      "empty-probes",
      {"tracepoint:syscalls:sys_enter_connect", "tracepoint:syscalls:sys_exit_connect",
       "tracepoint:syscalls:sys_enter_bind", "tracepoint:syscalls:sys_exit_bind",
       "tracepoint:syscalls:sys_enter_sendto", "tracepoint:syscalls:sys_exit_sendto",
       "tracepoint:syscalls:sys_enter_sendmsg", "tracepoint:syscalls:sys_exit_sendmsg",
       "tracepoint:syscalls:sys_exit_accept", "tracepoint:syscalls:sys_exit_accept4",
       "tracepoint:sock:inet_sock_set_state"},
      scratch, &no_probes);
  if (no_probes.empty()) {
    modes.insert(modes.begin() + 2, empty);
  } else {
    std::fprintf(stderr, "connect_storm: no empty-probes mode: %s\n", no_probes.c_str());
  }
  std::fprintf(stderr,
               "connect_storm: %ld x TCP connect+accept+close on loopback per run, %d rounds\n",
               iterations, rounds);
  std::vector<ringside::lab::ModeResult> results, flows;
  try {
    results = ringside::lab::run_ab(cfg, modes);
    if (flow_bytes > 0) {
      std::fprintf(stderr, "connect_storm: one flow of %ld bytes per run, %d rounds\n", flow_bytes,
                   rounds);
      cfg.workload = {self, "--flow", std::to_string(flow_bytes), cgroup};
      flows = ringside::lab::run_ab(cfg, {none, kernel, nfqueue, interposer});
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "connect_storm: %s\n", e.what());
    rmdir(cgroup.c_str());
    std::filesystem::remove_all(scratch);
    return 1;
  }
  rmdir(cgroup.c_str());
  std::filesystem::remove_all(scratch);
  const double base = results[0].median_wall() / static_cast<double>(iterations);
  std::printf("%-10s %14s %8s %19s %12s\n", "mode", "wall/connect", "ratio", "agent CPU/connect",
              "events/run");
  std::ostringstream js;
  js << "{\"benchmark\":\"connect_storm\",\"iterations\":" << iterations << ",\"rounds\":" << rounds
     << ",\"modes\":[";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    const double wall = r.median_wall() / static_cast<double>(iterations);
    const double cpu = r.median_agent_cpu() / static_cast<double>(iterations);
    if (i == 0) {
      std::printf("%-10s %11.2f us %8.3f %19s %12s\n", r.name.c_str(), wall / 1e3, 1.0, "-", "-");
    } else {
      std::printf("%-10s %11.2f us %8.3f %16.2f us %12.0f\n", r.name.c_str(), wall / 1e3,
                  wall / base, cpu / 1e3, r.median_events());
    }
    js << (i ? "," : "") << "{\"name\":\"" << r.name << "\",\"wall_ns_per_connect\":" << wall
       << ",\"ratio\":" << wall / base << ",\"agent_cpu_ns_per_connect\":" << cpu
       << ",\"events_per_run\":" << r.median_events() << "}";
  }
  js << "]";
  if (!flows.empty()) {
    std::printf("\n%-10s %14s %10s %19s\n", "flow mode", "throughput", "vs none", "agent CPU/GiB");
    const double gib = static_cast<double>(flow_bytes) / static_cast<double>(1L << 30);
    const double base_rate = static_cast<double>(flow_bytes) / flows[0].median_wall();
    js << ",\"flow_bytes\":" << flow_bytes << ",\"flows\":[";
    for (size_t i = 0; i < flows.size(); ++i) {
      const auto& r = flows[i];
      const double rate = static_cast<double>(flow_bytes) / r.median_wall();  // bytes per ns
      std::printf("%-10s %9.0f MiB/s %9.1f %% %16.1f ms\n", r.name.c_str(),
                  rate * 1e9 / (1024.0 * 1024.0), 100.0 * rate / base_rate,
                  i == 0 ? 0.0 : r.median_agent_cpu() / 1e6 / gib);
      js << (i ? "," : "") << "{\"name\":\"" << r.name << "\",\"bytes_per_s\":" << rate * 1e9
         << ",\"vs_none\":" << rate / base_rate << ",\"agent_cpu_ns\":" << r.median_agent_cpu()
         << "}";
    }
    js << "]";
  }
  js << "}\n";
  std::printf(
      "targets: kernel monitoring <= 1.05x wall; nfqueue <= 1.3x; established-flow throughput "
      "within 2 %% of none\n");
  if (!json_out.empty()) std::ofstream(json_out) << js.str();
  return 0;
}
