// process_events: the agent's CPU per exec on the kernel-level path, without a kernel.
//
// Synthetic ring records of one fork + exec + exit go through what the eBPF sensor does with
// them — decode, event, process table, decide (enrichment + policy), emit — and through the
// JSONL encoder, one iteration per exec. The whole-process figure is bench/exec_storm; this one
// is stable enough to profile (valgrind --tool=callgrind bench/process_events).

#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/agent.hpp"
#include "core/clock.hpp"
#include "core/event_batch.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "sensors/kernel/bpf/process_abi.h"
#include "sensors/kernel/process_records.hpp"

namespace ringside {
namespace {

class NullSink final : public Sink {
 public:
  std::string_view name() const override { return "null"; }
  void write(const Event& ev) override {
    buf_.clear();
    append_event_json(buf_, ev);
    ++written_;
  }
  void flush() override {}
  SinkStats stats() const override { return {written_, 0}; }

 private:
  std::string buf_;
  uint64_t written_ = 0;
};

std::vector<uint64_t> exec_record(uint32_t pid, uint64_t start) {
  const std::string args("/usr/bin/true\0--version\0", 24);
  const std::string exe("/usr/bin/true\0", 14);
  const std::string cwd("/home/user/src\0", 15);
  const std::string filename("/bin/true\0", 10);
  const size_t size = sizeof(rs_rec_exec) + args.size() + exe.size() + cwd.size() + filename.size();
  std::vector<uint64_t> words(size / 8 + 2, 0);
  rs_rec_exec r{};
  r.type = RS_REC_EXEC;
  r.size = static_cast<uint32_t>(size);
  r.ts_boot_ns = start + 1000;
  r.pid = pid;
  r.ppid = static_cast<uint32_t>(getpid());
  r.tid = pid;
  r.start_boot_ns = start;
  r.args_count = 2;
  r.args_len = static_cast<uint16_t>(args.size());
  r.exe_len = static_cast<uint16_t>(exe.size());
  r.cwd_len = static_cast<uint16_t>(cwd.size());
  r.filename_len = static_cast<uint16_t>(filename.size());
  static const struct stat st = [] {
    struct stat s {};
    stat("/usr/bin/true", &s);
    return s;
  }();
  {  // the identity a BPF record carries
    r.exe_dev = (static_cast<uint64_t>(major(st.st_dev)) << 20) | minor(st.st_dev);
    r.exe_ino = st.st_ino;
    r.exe_mtime_ns = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }
  auto* bytes = reinterpret_cast<uint8_t*>(words.data());
  std::memcpy(bytes, &r, sizeof r);
  const std::string all = args + exe + cwd + filename;
  std::memcpy(bytes + sizeof r, all.data(), all.size());
  words.resize((size + 7) / 8);
  return words;
}

void BM_ForkExecExit(benchmark::State& state) {
  log().set_level(spdlog::level::err);
  std::ifstream in(std::string(RINGSIDE_SOURCE_DIR) + "/policy/default.yaml");
  std::stringstream yaml;
  yaml << in.rdbuf();
  auto pol = std::move(policy::Policy::parse(yaml.str(), "default", nullptr)).value();
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::make_unique<NullSink>());
  AgentOptions opts;
  opts.console = false;
  auto agent = std::move(Agent::create_with(opts, pol, {}, std::move(sinks))).value();
  if (!agent->start()) state.SkipWithError("agent did not start");
  ProcessTable& table = agent->processes();
  uint32_t pid = 1'000'000;
  EventBatch batch;  // as the sensor: events built in place, handed on in batches
  const auto parent = static_cast<uint32_t>(getpid());
  const auto parent_start = static_cast<uint64_t>(
      clock::ticks_to_boot_ns(table.find(static_cast<int32_t>(parent))->start_ticks));
  for (auto _ : state) {
    ++pid;
    const auto start = static_cast<uint64_t>(clock::boottime_ns());
    rs_rec_fork f{};
    f.type = RS_REC_FORK;
    f.size = sizeof f;
    f.ts_boot_ns = start;
    f.pid = f.tid = pid;
    f.ppid = parent;
    f.start_boot_ns = start;
    f.parent_start_boot_ns = parent_start;
    auto fork = process_records::decode_fork(&f, sizeof f);
    if (!fork) {
      state.SkipWithError(fork.error().message.c_str());
      break;
    }
    Event& fe = batch.next();
    process_records::fork_event(*fork, fe);
    table.on_fork(static_cast<int32_t>(pid), static_cast<int32_t>(parent),
                  clock::boot_ns_to_ticks(static_cast<int64_t>(start)),
                  clock::boot_ns_to_ticks(static_cast<int64_t>(parent_start)),
                  [&fe](const ProcessInfo& child) {
                    fe.set(Field::kProcessExecutable, child.executable);
                    fe.set(Field::kProcessParentExecutable, child.executable);
                  });
    agent->decide(fe);

    const auto words = exec_record(pid, start);
    auto exec = process_records::decode_exec(
        words.data(), reinterpret_cast<const rs_rec_exec*>(words.data())->size);
    if (!exec) {
      state.SkipWithError(exec.error().message.c_str());
      break;
    }
    Event& ee = batch.next();
    process_records::exec_event(*exec, ee);
    table.on_exec(process_records::process_info(*exec));
    // The sensor hashes by the identity in the record (no system call on a hit).
    const auto id = FileIdentity::from_kernel(exec->fixed->exe_dev, exec->fixed->exe_ino,
                                              static_cast<int64_t>(exec->fixed->exe_mtime_ns));
    if (auto h = agent->sha256_of(exec->executable, id)) ee.set(Field::kProcessHashSha256, *h);
    agent->decide(ee);

    rs_rec_exit x{};
    x.type = RS_REC_EXIT;
    x.size = sizeof x;
    x.ts_boot_ns = start + 2000;
    x.pid = pid;
    x.ppid = parent;
    x.start_boot_ns = start;
    auto exit = process_records::decode_exit(&x, sizeof x);
    if (!exit) {
      state.SkipWithError(exit.error().message.c_str());
      break;
    }
    Event& xe = batch.next();
    process_records::exit_event(*exit, xe);
    table.on_exit(static_cast<int32_t>(pid), clock::boot_ns_to_ticks(static_cast<int64_t>(start)),
                  xe.timestamp_ns());
    agent->decide(xe);
    // Like the sensor, hand events on in batches (once per ring poll), not one by one.
    if (batch.size() >= 240) agent->emit_all(batch);
    // Keep the table the size it has at a real exec rate (the agent keeps exited processes
    // for 10 s; exec_storm runs ~1500 execs/s), not the size 100 k execs/s would give.
    if (pid % 8192 == 0) table.expire(clock::realtime_ns(), 0);
  }
  agent->stop();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ForkExecExit)->MeasureProcessCPUTime()->UseRealTime();

}  // namespace
}  // namespace ringside

BENCHMARK_MAIN();
