#include "lab/ab.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ringside::lab {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<char*> cstrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> environment_with(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  for (const auto& x : extra) {
    const std::string key = x.substr(0, x.find('='));
    std::erase_if(env, [&](const std::string& s) { return s.substr(0, s.find('=')) == key; });
    env.push_back(x);
  }
  return env;
}

pid_t spawn(std::vector<std::string> argv, std::vector<std::string> env, const std::string& err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  if (!err.empty())
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  auto a = cstrings(argv);
  auto e = cstrings(env);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, a[0], &fa, nullptr, a.data(), e.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

int wait_exit(pid_t pid, rusage* usage = nullptr) {
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  if (usage != nullptr) *usage = ru;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

double cpu_ns(const rusage& ru) {
  return (static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9) +
         (static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3);
}

uint64_t count_lines(const std::string& path) {
  std::ifstream in(path);
  uint64_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

// The "pid" of a ready file; `fallback` when it has none.
pid_t agent_pid_from_ready(const std::string& ready, pid_t fallback) {
  std::ifstream in(ready);
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_object() && j.contains("pid") && j["pid"].is_number_integer()) {
    return j["pid"].get<pid_t>();
  }
  return fallback;
}

Sample run_once(const AbConfig& cfg, const Mode& mode, const std::string& dir) {
  Sample s;
  pid_t agent = 0;
  pid_t measured = 0;  // the process whose CPU and RSS are the agent's
  const std::string socket = dir + "/hook.sock", jsonl = dir + "/events.jsonl",
                    ready = dir + "/ready.json", policy = dir + "/policy.yaml",
                    stats = dir + "/stats.json";
  std::filesystem::remove(jsonl);
  std::filesystem::remove(ready);
  std::filesystem::remove(stats);
  if (cfg.prepare) cfg.prepare(mode);
  if (mode.start) agent = mode.start();
  if (!mode.start && !mode.agent_args.empty()) {
    std::ofstream(policy) << mode.policy_yaml;
    const std::string& program = mode.agent.empty() ? cfg.ringside : mode.agent;
    std::vector<std::string> argv = {program,         "run",  "--policy",     policy,
                                     "--jsonl",       jsonl,  "--ready-file", ready,
                                     "--hook-socket", socket, "--quiet"};
    argv.insert(argv.end(), {"--stats-file", stats});
    argv.insert(argv.end(), mode.agent_args.begin(), mode.agent_args.end());
    if (mode.agent_own_netns) argv.insert(argv.begin(), {"unshare", "--net", "--"});
    agent = spawn(argv, environment_with({}), dir + "/agent.log");
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (!std::filesystem::exists(ready)) {
      int st = 0;
      if (waitpid(agent, &st, WNOHANG) == agent || Clock::now() > deadline) {
        kill(agent, SIGKILL);
        wait_exit(agent);
        std::ifstream log(dir + "/agent.log");
        std::stringstream ss;
        ss << log.rdbuf();
        throw std::runtime_error("agent for mode " + mode.name + " did not start:\n" + ss.str());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // start-up work settles
    // The agent may run under a supervisor (`ringside run` forks it): measure the process the
    // ready file names, the one with the sensors.
    measured = agent_pid_from_ready(ready, agent);
  }
  std::vector<std::string> env;
  for (const auto& e : mode.workload_env) env.push_back(replace_all(e, "{socket}", socket));
  if (mode.agent_own_netns && measured > 0) {
    env.push_back("RS_LAB_NETNS=/proc/" + std::to_string(measured) + "/ns/net");
  }
  if (mode.start) measured = agent;
  const uint64_t cpu0 = measured ? process_cpu_ns(measured) : 0;
  const auto t0 = Clock::now();
  rusage ru{};
  int rc = 0;
  try {
    const pid_t w = spawn(cfg.workload, environment_with(env), "");
    rc = wait_exit(w, &ru);
  } catch (...) {
    rc = -1;
  }
  const auto t1 = Clock::now();
  if (rc != 0) {
    if (mode.stop) {
      mode.stop();
    } else if (agent) {
      kill(agent, SIGTERM);
      wait_exit(agent);
    }
    throw std::runtime_error("workload failed in mode " + mode.name);
  }
  s.wall_ns =
      static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  s.workload_cpu_ns = cpu_ns(ru);
  if (mode.stop) {
    if (agent) {
      std::this_thread::sleep_for(std::chrono::milliseconds(cfg.drain_ms));
      s.agent_cpu_ns = static_cast<double>(process_cpu_ns(measured) - cpu0);
      s.agent_rss_kib = static_cast<double>(process_rss_kib(measured));
    }
    mode.stop();
    return s;
  }
  if (agent) {
    std::this_thread::sleep_for(std::chrono::milliseconds(cfg.drain_ms));
    s.agent_cpu_ns = static_cast<double>(process_cpu_ns(measured) - cpu0);
    s.agent_rss_kib = static_cast<double>(process_rss_kib(measured));
    kill(agent, SIGTERM);
    wait_exit(agent);
    s.agent_events = count_lines(jsonl);
    std::ifstream in(stats);
    std::stringstream text;
    text << in.rdbuf();
    s.agent_stats = text.str();
  }
  return s;
}

}  // namespace

uint64_t process_cpu_ns(pid_t pid) {
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  uint64_t total = 0;
  DIR* d = opendir(task_dir.c_str());
  if (d == nullptr) return 0;
  while (dirent* e = readdir(d)) {  // NOLINT(concurrency-mt-unsafe): own DIR*
    if (e->d_name[0] == '.') continue;
    std::ifstream in(task_dir + "/" + e->d_name + "/schedstat");
    uint64_t on_cpu = 0;
    if (in >> on_cpu) total += on_cpu;
  }
  closedir(d);
  return total;
}

uint64_t process_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double ModeResult::median_wall() const {
  std::vector<double> v;
  for (const auto& s : samples) v.push_back(s.wall_ns);
  return median(v);
}

double ModeResult::median_agent_cpu() const {
  std::vector<double> v;
  for (const auto& s : samples) v.push_back(s.agent_cpu_ns);
  return median(v);
}

double ModeResult::median_workload_cpu() const {
  std::vector<double> v;
  for (const auto& s : samples) v.push_back(s.workload_cpu_ns);
  return median(v);
}

double ModeResult::median_agent_rss() const {
  std::vector<double> v;
  for (const auto& s : samples) v.push_back(s.agent_rss_kib);
  return median(v);
}

namespace {

std::vector<double> pair_ratios(const ModeResult& base, const ModeResult& mode) {
  std::vector<double> r;
  for (size_t i = 0; i < base.samples.size() && i < mode.samples.size(); ++i) {
    if (base.samples[i].wall_ns > 0) r.push_back(mode.samples[i].wall_ns / base.samples[i].wall_ns);
  }
  return r;
}

}  // namespace

double pair_ratio(const ModeResult& base, const ModeResult& mode) {
  return median(pair_ratios(base, mode));
}

double pair_spread_pct(const ModeResult& base, const ModeResult& mode) {
  const auto r = pair_ratios(base, mode);
  if (r.size() < 2) return 0;
  const auto [lo, hi] = std::minmax_element(r.begin(), r.end());
  const double m = median(r);
  return m > 0 ? 100.0 * (*hi - *lo) / m : 0;
}

double ModeResult::median_events() const {
  std::vector<double> v;
  for (const auto& s : samples) v.push_back(static_cast<double>(s.agent_events));
  return median(v);
}

std::vector<ModeResult> run_ab(const AbConfig& cfg, const std::vector<Mode>& modes) {
  char tmpl[] = "/tmp/ringside-bench-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::vector<ModeResult> results;
  for (const auto& m : modes) results.push_back({m.name, {}});
  for (int r = 0; r < cfg.rounds; ++r) {
    // Rotate the order every round so that no mode always runs first or last.
    for (size_t k = 0; k < modes.size(); ++k) {
      const size_t i = (k + static_cast<size_t>(r)) % modes.size();
      try {
        results[i].samples.push_back(run_once(cfg, modes[i], dir));
      } catch (...) {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
        throw;
      }
      const Sample& last = results[i].samples.back();
      char line[160];
      const int n = std::snprintf(line, sizeof line, "  round %d/%d %-10s %.3f s", r + 1,
                                  cfg.rounds, modes[i].name.c_str(), last.wall_ns / 1e9);
      if (last.agent_cpu_ns > 0 && n > 0 && static_cast<size_t>(n) < sizeof line) {
        std::snprintf(line + n, sizeof line - static_cast<size_t>(n), ", agent CPU %.1f ms",
                      last.agent_cpu_ns / 1e6);
      }
      if (cfg.progress) {
        cfg.progress(line);
      } else {
        std::fprintf(stderr, "%s\n", line);
      }
    }
  }
  std::filesystem::remove_all(dir);
  return results;
}

Mode empty_probes_mode(const std::string& name, const std::vector<std::string>& probes,
                       const std::string& dir, std::string* why_not) {
  Mode m{name, {}, "", {}};
  const char* candidates[] = {"/usr/bin/bpftrace", "/usr/sbin/bpftrace", "/usr/local/bin/bpftrace"};
  std::string program;
  for (const char* c : candidates) {
    if (access(c, X_OK) == 0) program = c;
  }
  if (program.empty()) {
    *why_not = "bpftrace is not installed";
    return m;
  }
  std::string script;
  for (const auto& p : probes) script += (script.empty() ? "" : ",") + p;
  script += " { }";
  auto pid = std::make_shared<pid_t>(0);
  const std::string log = dir + "/bpftrace.log";
  m.start = [program, script, log, pid]() -> pid_t {
    const std::string out = log + ".out";
    std::filesystem::remove(log);
    std::filesystem::remove(out);
    *pid = spawn({program, "-o", out, "-e", script}, environment_with({}), log);
    // bpftrace says "Attaching N probes..." as it attaches (a fraction of a second for a few
    // tracepoints): wait for that, then a margin.
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (true) {
      std::ifstream in(out);
      std::stringstream text;
      text << in.rdbuf();
      if (text.str().find("Attaching") != std::string::npos) break;
      int st = 0;
      if (waitpid(*pid, &st, WNOHANG) == *pid || Clock::now() > deadline) {
        if (Clock::now() > deadline) {
          kill(*pid, SIGKILL);
          wait_exit(*pid);
        }
        std::ifstream err(log);
        std::stringstream ss;
        ss << err.rdbuf();
        *pid = 0;
        throw std::runtime_error("bpftrace did not attach: " + ss.str());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return *pid;
  };
  m.stop = [pid] {
    if (*pid <= 0) return;
    kill(*pid, SIGINT);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    int st = 0;
    while (waitpid(*pid, &st, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        kill(*pid, SIGKILL);
        wait_exit(*pid);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    *pid = 0;
  };
  return m;
}

void keep_modes(std::vector<Mode>& modes, const std::string& only) {
  if (only.empty()) return;
  std::erase_if(modes, [&](const Mode& m) {
    return m.name != "none" && ("," + only + ",").find("," + m.name + ",") == std::string::npos;
  });
}

}  // namespace ringside::lab
