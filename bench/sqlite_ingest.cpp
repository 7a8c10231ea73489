// SQLite store ingest rate: events written through SqliteSink (prepared statements, batched
// transactions, WAL) into a fresh database in a temporary directory, one thread, as the sink
// thread would. Prints rows/s measured; target >= 200 k rows/s.
//
//   build/bench/sqlite_ingest [ROWS] [DIR]

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "sinks/sqlite_sink.hpp"

using namespace ringside;

namespace {

constexpr int64_t kFirstTimestamp = 1700000000000000000;

std::vector<Event> sample_events() {
  std::vector<Event> out;
  for (int i = 0; i < 1000; ++i) {
    const int64_t ts = kFirstTimestamp + i;
    if (i % 2 == 0) {
      Event ev(EventType::kProcessExec, ts);
      ev.set_origin(Level::kKernel, "ebpf");
      ev.set(Field::kProcessPid, int64_t{1000 + i});
      ev.set(Field::kProcessParentPid, int64_t{1});
      ev.set(Field::kProcessStart, ts - 5000);
      ev.set(Field::kProcessExecutable, "/usr/bin/python3.11");
      ev.set(Field::kProcessName, "python3.11");
      ev.set(Field::kProcessArgs, {"python3", "-m", "http.server", "8080"});
      ev.set(Field::kProcessWorkingDirectory, "/home/user/project");
      ev.set(Field::kUserId, int64_t{1000});
      ev.set_verdict(Verdict::kAllow, "");
      out.push_back(std::move(ev));
    } else {
      Event ev(EventType::kFileOpen, ts);
      ev.set_origin(Level::kKernel, "fanotify");
      ev.set(Field::kProcessPid, int64_t{1000 + i});
      ev.set(Field::kProcessStart, ts - 5000);
      ev.set(Field::kProcessExecutable, "/usr/bin/python3.11");
      ev.set(Field::kFilePath, "/home/user/project/data/file-" + std::to_string(i) + ".json");
      ev.set(Field::kRingsideFileFlags, {"O_WRONLY", "O_CREAT", "O_TRUNC"});
      ev.set(Field::kFileInode, int64_t{123456 + i});
      ev.set_verdict(Verdict::kAllow, "");
      out.push_back(std::move(ev));
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const long rows = argc > 1 ? std::atol(argv[1]) : 1000000;
  std::string dir = argc > 2 ? argv[2] : "";
  bool made = false;
  if (dir.empty()) {
    char tmpl[] = "/tmp/ringside-ingest-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    dir = tmpl;
    made = true;
  }
  std::vector<Event> events = sample_events();
  double rate = 0;
  {
    // As the agent opens it (sinks/export_sinks.cpp): commits at most every 250 ms.
    auto sink =
        SqliteSink::open({.path = dir + "/events.db", .commit_interval_ns = 250LL * 1000 * 1000});
    if (!sink) {
      std::fprintf(stderr, "%s\n", sink.error().message.c_str());
      return 1;
    }
    rusage ru0{};
    getrusage(RUSAGE_SELF, &ru0);
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < rows; ++i) {
      // Time moves forward as it does in a real feed (the timestamp index grows at its end).
      Event& ev = events[static_cast<size_t>(i) % events.size()];
      ev.set_timestamp_ns(kFirstTimestamp + i * 1000);
      (*sink)->write(ev);
      // The sink thread flushes when the queue is momentarily empty; model a busy pipeline
      // that drains 4096 events at a time.
      if (i % 4096 == 4095) (*sink)->flush();
    }
    (*sink)->flush();
    (*sink)->flush();  // the idle flush that commits the rest, as the sink thread's next one
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rate = static_cast<double>(rows) / secs;
    rusage ru1{};
    getrusage(RUSAGE_SELF, &ru1);
    auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    const double cpu = tv(ru1.ru_utime) - tv(ru0.ru_utime) + tv(ru1.ru_stime) - tv(ru0.ru_stime);
    const auto st = (*sink)->detailed_stats();
    std::printf(
        "sqlite_ingest: %ld rows in %.3f s = %.0f rows/s (written %llu, failed %llu, "
        "%llu transactions, %llu checkpoints on the checkpointer thread, %llu on the sink "
        "thread), file %.1f MiB\n",
        rows, secs, rate, static_cast<unsigned long long>(st.written),
        static_cast<unsigned long long>(st.failed), static_cast<unsigned long long>(st.batches),
        static_cast<unsigned long long>(st.checkpoints),
        static_cast<unsigned long long>(st.inline_checkpoints),
        static_cast<double>((*sink)->used_bytes()) / (1024.0 * 1024.0));
    // On a shared machine the wall-clock rate includes waiting for the CPU and the disk.
    std::printf("sqlite_ingest: CPU time %.3f s (user + system) = %.0f rows per CPU-second\n", cpu,
                static_cast<double>(rows) / cpu);
  }
  if (made) std::filesystem::remove_all(dir);
  std::printf("sqlite_ingest: target 200000 rows/s %s\n", rate >= 200000 ? "met" : "missed");
  return 0;
}
