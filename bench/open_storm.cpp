// open_storm: what file monitoring and open blocking cost a program that opens files.
//
// Whole-process A/B with interleaved rounds (lab/ab.hpp): a workload process does N x
// (open O_RDONLY, close) over a set of files in a scratch tmpfs the benchmark mounts (and
// unmounts) itself, so that every fanotify mark of every mode stays on it. Modes:
//
//   none              no agent
//   recorded          kernel level, file domain, settings.file.opens: all, the scratch mount
//                     watched: every open is recorded (eBPF) and reported
//   interposer        user level, file domain, the workload under LD_PRELOAD of the interposer
//                     (skipped, with the reason, when its file hooks report nothing)
//   interposer-idle   the same with settings.file.opens: writes and no rule: the read-only
//                     opens are hooked but not reported (the cost of a hook with nothing to do)
//   deny-content      kernel level, 1 % of the files denied by content (sha256): allowed files
//                     are decided once and then cached (ignore marks); denied ones fail each time
//   cached-allows     kernel level, a content rule no file matches: every open is allowed and
//                     cached after its first; the floor under deny-content, whose denied opens
//                     add a round trip each (fanotify has no cache for a deny)
//   deny-path         kernel level, 1 % of the paths denied by name: on the same filesystem an
//                     allow cannot be cached (a rename or hard link could carry it onto a denied
//                     name), so every open is a permission event; shown for comparison
//   empty-probes      no agent; empty eBPF programs (bpftrace) on sys_enter_openat and
//                     sys_exit_openat: the floor any tracepoint-based recording stands on
//   fan:*             the same policies for an agent with only the fanotify file sensors (this
//                     program hosts it: `open_storm run ...`, a real Agent with policy,
//                     enrichment, JSONL sink and counters), to tell their cost from the eBPF
//                     file sensor's
//   bare-cached       no agent; a responder that allows every open and puts an ignore mark on
//                     the file (this program, `--bare-cached`): the floor under any fanotify
//                     permission mark whose allows are cached
//   bare-deny         the same responder denying deny-content's files by inode, each time:
//                     the floor under deny-content
//
// Then the first-decision latency: opens of COUNT distinct files never opened before, under a
// deny rule's scope, each timed in the workload (p50/p99), back to back and spaced 1 ms apart
// (the agent's reader asleep), for a path rule and a content rule (small files are hashed on
// the reader), against the same opens without an agent and with a bare responder (a thread
// that allows every permission event at once: the floor under any decision in user space).
//
//   open_storm [--iterations N] [--files F] [--rounds R] [--latency-count C] [--json FILE]
//              [--only MODE,MODE...]   (those storm modes and none; no latency runs)
//   open_storm --workload N DIR F          (the storm itself)
//   open_storm --latency DIR C GAP_US OUT  (timed first opens)
//   open_storm run --policy P ...          (the fanotify-only agent)

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/fanotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "agent/agent.hpp"
#include "agent/hash_cache.hpp"
#include "lab/ab.hpp"
#include "lab/workloads.hpp"
#include "sensors/kernel/file_fanotify.hpp"
#include "sensors/kernel/open_fanotify.hpp"
#include "sinks/jsonl_sink.hpp"

namespace {

using ringside::lab::Mode;
using ringside::lab::ModeResult;

int64_t now_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

std::string file_name(const std::string& dir, const char* prefix, long i) {
  return dir + "/" + prefix + std::to_string(i);
}

// Opens of files nobody opened since the agent started, each timed.
int latency(const std::string& dir, long count, long gap_us, const std::string& out) {
  std::vector<std::string> names;
  for (long i = 0; i < count; ++i) names.push_back(file_name(dir, "l", i));
  std::vector<double> us;
  us.reserve(static_cast<size_t>(count));
  for (const auto& name : names) {
    const int64_t t0 = now_ns();
    const int fd = open(name.c_str(), O_RDONLY | O_CLOEXEC);
    const int64_t t1 = now_ns();
    if (fd < 0) {
      std::perror("open_storm latency");
      return 1;
    }
    close(fd);
    us.push_back(static_cast<double>(t1 - t0) / 1e3);
    if (gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
  }
  std::sort(us.begin(), us.end());
  const auto at = [&](double q) { return us[static_cast<size_t>(q * (us.size() - 1))]; };
  std::ofstream(out) << nlohmann::json{
      {"p50", at(0.5)},
      {"p90", at(0.9)},
      {"p99", at(0.99)},
      {"max", us.back()}}.dump();
  return 0;
}

// A tmpfs for the whole run; every mark any mode places is on it.
class Scratch {
 public:
  Scratch() {
    char tmpl[] = "/tmp/ringside-open-storm-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
    if (mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=256m,mode=0755") != 0) {
      const std::string why = std::strerror(errno);
      rmdir(path_.c_str());
      throw std::runtime_error("mount tmpfs on " + path_ + ": " + why);
    }
  }
  ~Scratch() {
    if (umount2(path_.c_str(), 0) != 0) umount2(path_.c_str(), MNT_DETACH);
    rmdir(path_.c_str());
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Files with distinct contents ("<prefix><i>\n"); returns the content of each.
std::vector<std::string> make_files(const std::string& dir, const char* prefix, long count) {
  std::filesystem::create_directories(dir);
  std::vector<std::string> contents;
  for (long i = 0; i < count; ++i) {
    contents.push_back(std::string(prefix) + std::to_string(i) + "\n");
    std::ofstream(file_name(dir, prefix, i), std::ios::trunc) << contents.back();
  }
  return contents;
}

// Drops the agent counted: its queue and every sensor.
uint64_t drops_of(const std::string& stats) {
  const auto j = nlohmann::json::parse(stats, nullptr, false);
  if (j.is_discarded()) return 0;
  uint64_t n = j.contains("queue") ? j["queue"].value("dropped", uint64_t{0}) : 0;
  if (j.contains("sensors")) {
    for (const auto& [name, s] : j["sensors"].items()) n += s.value("dropped", uint64_t{0});
  }
  return n;
}

std::string watch_settings(const std::string& dir, const std::string& opens) {
  return "settings:\n  file:\n    watch: [{path: " + dir +
         ", mark: filesystem}]\n    opens: " + opens + "\n";
}

volatile sig_atomic_t g_bare_stop = 0;

// The floor under a first decision: a responder that allows every open at once, nothing else
// (no path, no process, no policy, no event), on one thread. Called like `ringside run` with
// `--bare DIR`: marks DIR's filesystem (the benchmark's scratch tmpfs) for FAN_OPEN_PERM,
// writes the ready file, answers until SIGTERM; closing the group releases whatever waits.
// With `cache`, it also puts an ignore mark on each file it allowed, as the agent's decision
// cache does: every open after a file's first is then the kernel's alone, the floor under any
// fanotify permission mark. `deny` (comma-separated paths) are denied, by inode, each time,
// by a responder that never sleeps (it reads in a loop, yielding the CPU between reads, and so
// takes a whole CPU): the floor under a deny rule, whose denied opens cannot be cached.
int bare_responder(const std::string& dir, const std::string& ready, bool cache,
                   const std::string& deny) {
  std::set<ino_t> denied;
  std::stringstream names(deny);
  for (std::string name; std::getline(names, name, ',');) {
    struct stat st {};
    if (!name.empty() && stat(name.c_str(), &st) == 0) denied.insert(st.st_ino);
  }
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_bare_stop = 1; };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  const int fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK,
                               O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (fd < 0 || fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_PERM, AT_FDCWD,
                              dir.c_str()) != 0) {
    std::perror("open_storm bare");
    return 1;
  }
  std::ofstream(ready) << "{\"pid\": " << getpid() << "}\n";
  alignas(fanotify_event_metadata) char buf[4096];
  while (g_bare_stop == 0) {
    if (denied.empty()) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
    }
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
      if (!denied.empty()) sched_yield();
      continue;
    }
    auto* m = reinterpret_cast<fanotify_event_metadata*>(buf);
    for (ssize_t left = n; FAN_EVENT_OK(m, left); m = FAN_EVENT_NEXT(m, left)) {
      if (m->fd < 0) continue;
      struct stat st {};
      const bool deny_it = !denied.empty() && fstat(m->fd, &st) == 0 && denied.contains(st.st_ino);
      const fanotify_response r{m->fd, static_cast<__u32>(deny_it ? FAN_DENY : FAN_ALLOW)};
      if (write(fd, &r, sizeof r) != sizeof r) std::perror("open_storm bare: answer");
      if (cache && !deny_it &&
          fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, FAN_OPEN_PERM, m->fd, nullptr) !=
              0) {
        std::perror("open_storm bare: ignore mark");
      }
      close(m->fd);
    }
  }
  close(fd);
  return 0;
}

// A real agent with only the fanotify file sensors, called like `ringside run`.
int host_fanotify_agent(int argc, char** argv) {
  for (int i = 2; i + 1 < argc; ++i) {
    const std::string a = argv[i];
    if (a != "--bare" && a != "--bare-cached") continue;
    std::string ready, deny;
    for (int j = 2; j + 1 < argc; ++j) {
      if (std::string(argv[j]) == "--ready-file") ready = argv[j + 1];
      if (std::string(argv[j]) == "--bare-deny") deny = argv[j + 1];
    }
    return bare_responder(argv[i + 1], ready, a == "--bare-cached", deny);
  }
  ringside::AgentOptions o;
  o.kernel_level = true;
  o.user_level = false;
  o.domains = {ringside::Domain::kFile};
  o.console = false;
  for (int i = 2; i + 1 < argc; ++i) {
    const std::string a = argv[i];
    std::string* target = a == "--policy"       ? &o.policy_path
                          : a == "--jsonl"      ? &o.jsonl_path
                          : a == "--ready-file" ? &o.ready_file
                          : a == "--stats-file" ? &o.stats_file
                                                : nullptr;
    if (target != nullptr) *target = argv[++i];
  }
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) o.agent_binary.assign(exe, static_cast<size_t>(n));
  ringside::block_agent_signals();
  std::vector<ringside::policy::ParseError> errors;
  auto pol = ringside::policy::Policy::load_file(o.policy_path, &errors);
  if (!pol) {
    std::fprintf(stderr, "open_storm run: %s\n",
                 errors.empty() ? pol.error().message.c_str() : errors[0].to_string().c_str());
    return 2;
  }
  std::vector<std::unique_ptr<ringside::Sensor>> sensors;
  sensors.push_back(std::make_unique<ringside::FileFanotifySensor>());
  sensors.push_back(std::make_unique<ringside::OpenFanotifySensor>());
  std::vector<std::unique_ptr<ringside::Sink>> sinks;
  auto sink = ringside::JsonlSink::open(o.jsonl_path);
  if (!sink) {
    std::fprintf(stderr, "open_storm run: %s\n", sink.error().message.c_str());
    return 1;
  }
  sinks.push_back(std::move(sink).value());
  auto agent =
      ringside::Agent::create_with(o, std::move(pol).value(), std::move(sensors), std::move(sinks));
  if (!agent) return 1;
  if (auto r = (*agent)->start(); !r) {
    std::fprintf(stderr, "open_storm run: %s\n", r.error().message.c_str());
    return 1;
  }
  (*agent)->run_until_signal();
  (*agent)->stop();
  return 0;
}

struct Options {
  long iterations = 100000, files = 100, latency_count = 2000;
  int rounds = 5;
  std::string json_out;
  std::string self, build;
  std::string only;  // comma-separated storm modes to run (with none); empty: all
};

// The A/B over the storm; returns the results (interposer left out when it reports nothing).
std::vector<ModeResult> run_storm(const Options& o, const std::string& storm_dir,
                                  nlohmann::json& js) {
  const auto contents = make_files(storm_dir, "f", o.files);
  // 1 % of the files (at least one), spread over the set.
  const long denied = std::max(1L, o.files / 100);
  std::string hashes, paths, denied_paths;
  for (long k = 0; k < denied; ++k) {
    const long i = (k * o.files) / denied + o.files / (2 * denied);
    hashes += (k ? ", " : "") + ringside::sha256_hex(contents[static_cast<size_t>(i)]);
    paths += (k ? ", " : "") + file_name(storm_dir, "f", i);
    denied_paths += (k ? "," : "") + file_name(storm_dir, "f", i);
  }
  const std::vector<std::string> kernel = {"--levels", "kernel", "--domains", "file"};
  // The fanotify-only agent reads no level or domain, but an agent mode needs arguments.
  const std::vector<std::string> fan = {"--fanotify-only", "yes"};
  const std::string deny_content = watch_settings(storm_dir, "writes") +
                                   "rules:\n  - name: storm-content\n    on: file.open\n"
                                   "    match:\n      file.path: {prefix: " +
                                   storm_dir + "/, sha256: [" + hashes + "]}\n    action: deny\n";
  // The same content rule matching no file: every open allowed and, after its first, cached
  // (an ignore mark on the inode): what fanotify costs an open the agent never sees.
  const std::string cached_allows = watch_settings(storm_dir, "writes") +
                                    "rules:\n  - name: storm-none\n    on: file.open\n"
                                    "    match:\n      file.path: {prefix: " +
                                    storm_dir + "/, sha256: [" +
                                    ringside::sha256_hex("no file has this content") +
                                    "]}\n    action: deny\n";
  const std::string deny_path = watch_settings(storm_dir, "writes") +
                                "rules:\n  - name: storm-path\n    on: file.open\n"
                                "    match: {file.path: {in: [" +
                                paths + "]}}\n    action: deny\n";
  const std::string preload = o.build + "/libringside-preload.so";
  const Mode interposer{"interposer",
                        {"--levels", "user", "--domains", "file"},
                        watch_settings(storm_dir, "all") + "rules: []\n",
                        {"LD_PRELOAD=" + preload, "RINGSIDE_SOCKET={socket}"}};
  const Mode interposer_idle{"interposer-idle",
                             {"--levels", "user", "--domains", "file"},
                             watch_settings(storm_dir, "writes") + "rules: []\n",
                             {"LD_PRELOAD=" + preload, "RINGSIDE_SOCKET={socket}"}};
  std::vector<Mode> modes = {
      {"none", {}, "", {}},
      {"recorded", kernel, watch_settings(storm_dir, "all") + "rules: []\n", {}},
      interposer,
      interposer_idle,
      {"cached-allows", kernel, cached_allows, {}},
      {"deny-content", kernel, deny_content, {}},
      {"deny-path", kernel, deny_path, {}},
      {"fan:cached-allows", fan, cached_allows, {}, o.self},
      {"fan:deny-content", fan, deny_content, {}, o.self},
      {"fan:deny-path", fan, deny_path, {}, o.self},
      {"bare-cached", {"--bare-cached", storm_dir}, cached_allows, {}, o.self},
      {"bare-deny",
       {"--bare-cached", storm_dir, "--bare-deny", denied_paths},
       deny_content,
       {},
       o.self},
  };
  // What the openat tracepoints cost with programs that do nothing (the floor under
  // `recorded`: the file sensor's programs sit on the same two, and fentry is refused here).
  std::string no_probes;
  Mode empty = ringside::lab::empty_probes_mode(
      "empty-probes",
      {"tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_openat"},
      std::filesystem::path(storm_dir).parent_path().string(), &no_probes);
  if (no_probes.empty()) {
    modes.insert(modes.begin() + 2, empty);
  } else {
    js["empty_probes_skipped"] = no_probes;
  }
  ringside::lab::AbConfig cfg;
  cfg.ringside = o.build + "/ringside";
  cfg.rounds = o.rounds;
  cfg.workload = {o.self, "--workload", std::to_string(o.iterations), storm_dir,
                  std::to_string(o.files)};

  // The interposer's file hooks may not exist yet: a short probe run says.
  std::string skipped;
  if (!std::filesystem::exists(preload)) {
    skipped = preload + " is not built";
  } else {
    ringside::lab::AbConfig probe = cfg;
    probe.rounds = 1;
    probe.workload = {o.self, "--workload", "200", storm_dir, std::to_string(o.files)};
    const auto r = ringside::lab::run_ab(probe, {interposer});
    if (r[0].samples.empty() || r[0].samples[0].agent_events == 0) {
      skipped = "the interposer reported no file event for 200 opens (no file hooks)";
    }
  }
  if (!skipped.empty()) {
    std::erase_if(modes, [](const Mode& m) { return m.name.starts_with("interposer"); });
    js["interposer_skipped"] = skipped;
  }
  ringside::lab::keep_modes(modes, o.only);
  std::fprintf(stderr, "open_storm: %ld x open+close over %ld files per run, %d rounds\n",
               o.iterations, o.files, o.rounds);
  return ringside::lab::run_ab(cfg, modes);
}

struct Latency {
  std::string name;
  nlohmann::json result;
};

// First decisions: fresh files before every run, so that none is cached or in any cache.
std::vector<Latency> run_latency(const Options& o, const std::string& dir) {
  const std::vector<std::string> kernel = {"--levels", "kernel", "--domains", "file"};
  const std::vector<std::string> fan = {"--fanotify-only", "yes"};
  const std::string path_policy = watch_settings(dir, "writes") +
                                  "rules:\n  - {name: first-path, on: file.open, match: "
                                  "{file.path: " +
                                  dir + "/never}, action: deny}\n";
  const std::string content_policy =
      watch_settings(dir, "writes") +
      "rules:\n  - name: first-content\n    on: file.open\n    match:\n"
      "      file.path: {prefix: " +
      dir + "/, sha256: " + ringside::sha256_hex("never this content") + "}\n    action: deny\n";
  std::vector<Latency> out;
  for (long gap : {0L, 1000L}) {
    const std::string tag = gap == 0 ? ", back to back" : ", spaced 1 ms";
    const std::vector<std::pair<std::string, Mode>> runs = {
        {"no agent" + tag, {"none", {}, "", {}}},
        {"agent, path rule" + tag, {"path", kernel, path_policy}},
        {"agent, content rule" + tag, {"content", kernel, content_policy}},
        {"fanotify only, path rule" + tag, {"path", fan, path_policy, {}, o.self}},
        {"fanotify only, content rule" + tag, {"content", fan, content_policy, {}, o.self}},
        {"bare responder (allows at once)" + tag,
         {"bare", {"--bare", dir}, path_policy, {}, o.self}},
    };
    for (const auto& [name, mode] : runs) {
      ringside::lab::AbConfig cfg;
      cfg.ringside = o.build + "/ringside";
      cfg.rounds = 1;
      const std::string result = std::filesystem::path(dir).parent_path().string() + "/lat.json";
      cfg.workload = {
          o.self, "--latency", dir, std::to_string(o.latency_count), std::to_string(gap), result};
      cfg.prepare = [&](const Mode&) {
        std::filesystem::remove_all(dir);
        make_files(dir, "l", o.latency_count);
      };
      ringside::lab::run_ab(cfg, {mode});
      out.push_back({name, nlohmann::json::parse(read_file(result), nullptr, false)});
    }
  }
  return out;
}

void print(const Options& o, const std::vector<ModeResult>& results,
           const std::vector<Latency>& latencies, nlohmann::json& js) {
  const double base = results[0].median_wall() / static_cast<double>(o.iterations);
  std::printf("%-17s %11s %7s %15s %12s %8s\n", "mode", "wall/open", "ratio", "agent CPU/open",
              "events/run", "drops");
  js["modes"] = nlohmann::json::array();
  for (const ModeResult& r : results) {
    const double wall = r.median_wall() / static_cast<double>(o.iterations);
    const double cpu = r.median_agent_cpu() / static_cast<double>(o.iterations);
    uint64_t drops = 0;
    for (const auto& s : r.samples) drops += drops_of(s.agent_stats);
    if (r.name == "none") {
      std::printf("%-17s %8.2f us %7.3f %15s %12s %8s\n", r.name.c_str(), wall / 1e3, 1.0, "-", "-",
                  "-");
    } else {
      std::printf("%-17s %8.2f us %7.3f %12.2f us %12.0f %8llu\n", r.name.c_str(), wall / 1e3,
                  wall / base, cpu / 1e3, r.median_events(),
                  static_cast<unsigned long long>(drops));
    }
    js["modes"].push_back({{"name", r.name},
                           {"wall_ns_per_open", wall},
                           {"ratio", wall / base},
                           {"agent_cpu_ns_per_open", cpu},
                           {"events_per_run", r.median_events()},
                           {"drops", drops}});
  }
  if (js.contains("interposer_skipped")) {
    std::printf("%-17s skipped: %s\n", "interposer",
                js["interposer_skipped"].get<std::string>().c_str());
  }
  std::printf("\nfirst decision: open of %ld never-opened files under a deny rule's scope\n",
              o.latency_count);
  for (const auto& l : latencies) {
    if (l.result.is_discarded()) {
      std::printf("  %-42s (no result)\n", l.name.c_str());
      continue;
    }
    std::printf("  %-42s p50 %6.1f us  p90 %6.1f us  p99 %6.1f us  max %7.1f us\n", l.name.c_str(),
                l.result["p50"].get<double>(), l.result["p90"].get<double>(),
                l.result["p99"].get<double>(), l.result["max"].get<double>());
    js["first_decision"][l.name] = l.result;
  }
  std::printf(
      "\ntargets: recorded <= 1.15x with 0 drops; deny rules warm <= 1.20x; first decision "
      "p99 <= 50 us\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "run") return host_fanotify_agent(argc, argv);
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--workload" && i + 3 < argc) {
      return ringside::lab::open_workload(std::atol(argv[i + 1]), argv[i + 2],
                                          std::atol(argv[i + 3]));
    }
    if (a == "--latency" && i + 4 < argc) {
      return latency(argv[i + 1], std::atol(argv[i + 2]), std::atol(argv[i + 3]), argv[i + 4]);
    }
    if (a == "--iterations" && i + 1 < argc) {
      o.iterations = std::atol(argv[++i]);
    } else if (a == "--files" && i + 1 < argc) {
      o.files = std::max(1L, std::atol(argv[++i]));
    } else if (a == "--rounds" && i + 1 < argc) {
      o.rounds = std::atoi(argv[++i]);
    } else if (a == "--latency-count" && i + 1 < argc) {
      o.latency_count = std::max(100L, std::atol(argv[++i]));
    } else if (a == "--json" && i + 1 < argc) {
      o.json_out = argv[++i];
    } else if (a == "--only" && i + 1 < argc) {
      o.only = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: open_storm [--iterations N] [--files F] [--rounds R] "
                   "[--latency-count C] [--json FILE] [--only MODE,...]\n");
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "open_storm: the agent's kernel level and the scratch mount need root\n");
    return 2;
  }
  o.build = RINGSIDE_BUILD_DIR;
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  o.self.assign(self, static_cast<size_t>(n));
  try {
    Scratch scratch;
    nlohmann::json js{{"benchmark", "open_storm"},
                      {"iterations", o.iterations},
                      {"files", o.files},
                      {"rounds", o.rounds}};
    const auto results = run_storm(o, scratch.path() + "/storm", js);
    const auto latencies =
        o.only.empty() ? run_latency(o, scratch.path() + "/first") : std::vector<Latency>{};
    print(o, results, latencies, js);
    if (!o.json_out.empty()) std::ofstream(o.json_out) << js.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "open_storm: %s\n", e.what());
    return 1;
  }
  return 0;
}
