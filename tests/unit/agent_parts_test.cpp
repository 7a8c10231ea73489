// Process table, hash cache, event queue and console line: the agent's parts, unprivileged.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/event_queue.hpp"
#include "agent/hash_cache.hpp"
#include "agent/process_table.hpp"
#include "sinks/console_sink.hpp"

namespace ringside {
namespace {

TEST(ProcessTable, ReadsOwnProcessFromProc) {
  auto me = read_proc_process(getpid());
  ASSERT_TRUE(me);
  EXPECT_EQ(me->pid, getpid());
  EXPECT_EQ(me->ppid, getppid());
  EXPECT_GT(me->start_ticks, 0);
  EXPECT_EQ(me->uid, getuid());
  EXPECT_EQ(me->euid, geteuid());
  EXPECT_EQ(me->gid, getgid());
  EXPECT_EQ(me->executable, std::filesystem::read_symlink("/proc/self/exe").string());
  EXPECT_EQ(me->cwd, std::filesystem::current_path().string());
  EXPECT_FALSE(me->args.empty());
  EXPECT_FALSE(read_proc_process(-5));
}

TEST(ProcessTable, ReadsARealUidFromProc) {
  EXPECT_EQ(read_proc_real_uid(getpid()), getuid());
  EXPECT_FALSE(read_proc_real_uid(-5));
  EXPECT_FALSE(read_proc_real_uid(getpid(), "/nonexistent"));
}

// pid 100, started at tick 10, running /bin/bash as uid 1000.
ProcessInfo bash_100() {
  ProcessInfo p;
  p.pid = 100;
  p.ppid = 1;
  p.start_ticks = 10;
  p.executable = "/bin/bash";
  p.uid = 1000;
  return p;
}

// The fork hook sees the child the table made (the parent's image and ids, the new pid).
TEST(ProcessTable, ForkShowsTheChildItMade) {
  ProcessTable t("/nonexistent");
  t.on_exec(bash_100());
  std::string seen;
  int32_t seen_pid = 0;
  t.on_fork(200, 100, 20, 10, [&](const ProcessInfo& child) {
    seen = child.executable;
    seen_pid = child.pid;
  });
  EXPECT_EQ(seen, "/bin/bash");
  EXPECT_EQ(seen_pid, 200);
  t.on_fork(300, 555, 30, 5, [&](const ProcessInfo& child) { seen = child.executable; });
  EXPECT_EQ(seen, "");  // parent unknown: nothing inherited
}

TEST(ProcessTable, ForkExecExitAndPidReuse) {
  ProcessTable t("/nonexistent");
  t.on_exec(bash_100());
  t.on_fork(200, 100, 20, 10);
  auto child = t.find(200);
  ASSERT_TRUE(child);
  EXPECT_EQ(child->executable, "/bin/bash");  // inherited until it execs
  EXPECT_EQ(child->uid, 1000u);
  ProcessInfo img = *child;
  img.executable = "/usr/bin/ls";
  t.on_exec(img);
  EXPECT_EQ(t.find(200)->executable, "/usr/bin/ls");
  EXPECT_EQ(t.ancestry(200, 8), std::vector<std::string>{"/bin/bash"});
  t.on_exit(200, 20, 1000);
  // pid 200 reused by a new process: the old incarnation stays reachable by its key.
  t.on_fork(200, 100, 30, 10);
  EXPECT_EQ(t.find(200)->start_ticks, 30);
  EXPECT_EQ(t.find(200, 20)->executable, "/usr/bin/ls");
  EXPECT_EQ(t.expire(1000 + 5, 1), 1u);
  EXPECT_FALSE(t.find(200, 20));
  EXPECT_TRUE(t.find(200, 30));
  // Expiry takes exits in order and keeps what is still within its grace period.
  t.on_exit(200, 30, 2000);
  t.on_fork(201, 100, 40, 10);
  EXPECT_TRUE(t.on_exit(201, 40, 2100));
  EXPECT_FALSE(t.on_exit(201, 40, 2200));  // a repeated exit report: refused, nothing changes
  EXPECT_TRUE(t.on_exit(999, 1, 2200));    // an unknown process's exit is still news
  EXPECT_EQ(t.expire(2050, 10), 1u);
  EXPECT_FALSE(t.find(200, 30));
  EXPECT_TRUE(t.find(201, 40));
  EXPECT_EQ(t.expire(2111, 10), 1u);
  EXPECT_FALSE(t.find(201, 40));
  EXPECT_EQ(t.expire(999999, 10), 0u);
}

TEST(HashCache, HashesCachesAndNoticesChanges) {
  const std::string path = std::filesystem::temp_directory_path() / "ringside-hash-test";
  {
    std::ofstream out(path, std::ios::trunc);
    out << "abc";
  }
  HashCache cache(16, 1 << 20);
  EXPECT_EQ(cache.sha256_of_path(path),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(cache.sha256_of_path(path), sha256_hex("abc"));
  EXPECT_EQ(cache.stats().hits, 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  {
    std::ofstream out(path, std::ios::trunc);
    out << "abcd";
  }
  EXPECT_EQ(cache.sha256_of_path(path), sha256_hex("abcd"));
  EXPECT_EQ(cache.stats().misses, 2u);
  HashCache small(16, 2);
  EXPECT_FALSE(small.sha256_of_path(path));
  EXPECT_EQ(small.stats().too_large, 1u);
  EXPECT_FALSE(cache.sha256_of_path("/nonexistent/file"));
  EXPECT_FALSE(cache.sha256_of_path("/tmp"));  // not a regular file
  std::filesystem::remove(path);
}

// Every queued event, oldest first, across the batches pop_all returned.
std::vector<int64_t> timestamps(const std::vector<EventBatch>& batches) {
  std::vector<int64_t> out;
  for (const EventBatch& b : batches) {
    for (const Event& ev : b) out.push_back(ev.timestamp_ns());
  }
  return out;
}

TEST(EventQueue, DropsAndCountsWhenFull) {
  EventQueue q(2);
  EXPECT_TRUE(q.push(Event(EventType::kProcessFork, 1)));
  EXPECT_TRUE(q.push(Event(EventType::kProcessFork, 2)));
  EXPECT_FALSE(q.push(Event(EventType::kProcessFork, 3)));
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_EQ(q.max_depth(), 2u);
  EXPECT_EQ(q.depth(), 2u);
  std::vector<EventBatch> out;
  EXPECT_TRUE(q.pop_all(out, std::chrono::milliseconds(0)));
  EXPECT_EQ(timestamps(out), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(q.depth(), 0u);
  q.close();
  EXPECT_FALSE(q.pop_all(out, std::chrono::milliseconds(0)));
  EXPECT_FALSE(q.push(Event(EventType::kProcessFork, 4)));
}

// A batch goes in whole while there is room; what does not fit is dropped and counted, in
// order, and the caller's batch is left empty either way.
TEST(EventQueue, BatchFillsToCapacityAndCountsTheRest) {
  EventQueue q(3);
  EventBatch batch;
  batch.next().reset(EventType::kProcessFork, 1);
  batch.next().reset(EventType::kProcessFork, 2);
  EXPECT_EQ(q.push_all(batch), 2u);  // into an empty queue
  EXPECT_TRUE(batch.empty());
  batch.next().reset(EventType::kProcessFork, 3);
  batch.next().reset(EventType::kProcessFork, 4);
  EXPECT_EQ(q.push_all(batch), 1u);  // one place left
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_EQ(q.pushed(), 3u);
  std::vector<EventBatch> out;
  EXPECT_TRUE(q.pop_all(out, std::chrono::milliseconds(0)));
  EXPECT_EQ(timestamps(out), (std::vector<int64_t>{1, 2, 3}));
  q.close();
  batch.next().reset(EventType::kProcessFork, 5);
  EXPECT_EQ(q.push_all(batch), 0u);
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(q.dropped(), 2u);
}

// Single events and batches come out in the order they went in.
TEST(EventQueue, SingleEventsAndBatchesKeepTheirOrder) {
  EventQueue q(100);
  EventBatch batch;
  q.push(Event(EventType::kProcessFork, 1));
  q.push(Event(EventType::kProcessFork, 2));
  batch.next().reset(EventType::kProcessFork, 3);
  q.push_all(batch);
  q.push(Event(EventType::kProcessFork, 4));
  batch.next().reset(EventType::kProcessFork, 5);
  batch.next().reset(EventType::kProcessFork, 6);
  q.push_all(batch);
  std::vector<EventBatch> out;
  EXPECT_TRUE(q.pop_all(out, std::chrono::milliseconds(0)));
  EXPECT_EQ(timestamps(out), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

// What the sink thread wrote comes back to the producers: the next batch a producer gets holds
// the written events, and building in them reuses their arenas (no allocation); an arena grown
// past EventBatch::kKeepArenaBytes is released instead.
TEST(EventQueue, WrittenEventsComeBackForReuse) {
  EventQueue q(100);
  EventBatch batch;
  Event& small = batch.next();
  small.reset(EventType::kProcessExec, 1);
  small.set(Field::kProcessExecutable, "/usr/bin/true");
  const std::string_view kept = *small.get_str(Field::kProcessExecutable);
  Event& large = batch.next();  // (small may have moved: not used again)
  large.reset(EventType::kProcessExec, 2);
  large.set(Field::kProcessExecutable, std::string(2 * EventBatch::kKeepArenaBytes, 'x'));
  q.push_all(batch);

  std::vector<EventBatch> out;
  ASSERT_TRUE(q.pop_all(out, std::chrono::milliseconds(0)));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].size(), 2u);
  // Written; the next pop_all hands them back, and a producer's next push_all gets them.
  ASSERT_TRUE(q.pop_all(out, std::chrono::milliseconds(0)));
  EXPECT_TRUE(out.empty());
  batch.next().reset(EventType::kProcessFork, 3);
  q.push_all(batch);
  EXPECT_TRUE(batch.empty());
  Event& reused = batch.next();
  reused.reset(EventType::kProcessFork, 4);
  EXPECT_FALSE(reused.has(Field::kProcessExecutable));  // none of the old event's fields
  reused.set(Field::kProcessExecutable, "/usr/bin/false");
  EXPECT_EQ(reused.get_str(Field::kProcessExecutable)->data(), kept.data());  // same arena
  Event& fresh = batch.next();
  fresh.reset(EventType::kProcessFork, 5);
  EXPECT_FALSE(fresh.has(Field::kProcessExecutable));
}

TEST(EventQueue, ManyProducersNothingLostBelowCapacity) {
  EventQueue q(1 << 20);
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&q, t] {
      EventBatch batch;
      for (int i = 0; i < 10000; ++i) {
        if (t % 2 == 0) {
          q.push(Event(EventType::kProcessExec, i));
        } else {
          batch.next().reset(EventType::kProcessExec, i);
          if (batch.size() == 64) q.push_all(batch);
        }
      }
      q.push_all(batch);
    });
  }
  size_t got = 0;
  std::vector<EventBatch> out;
  while (got < 40000 && q.pop_all(out, std::chrono::milliseconds(100))) {
    got += timestamps(out).size();
  }
  for (auto& p : producers) p.join();
  EXPECT_EQ(got, 40000u);
  EXPECT_EQ(q.dropped(), 0u);
}

TEST(ConsoleSink, CompactLine) {
  Event ev(EventType::kProcessExec, 0);
  ev.set_origin(Level::kKernel, "ebpf");
  ev.set(Field::kProcessPid, int64_t{42});
  ev.set(Field::kProcessParentPid, int64_t{1});
  ev.set(Field::kUserId, int64_t{0});
  ev.set(Field::kProcessExecutable, "/tmp/x y");
  ev.set(Field::kProcessArgs, {"x", "-v", "a\nb"});
  ev.set_verdict(Verdict::kAlert, "exec-from-tmp");
  const std::string line = format_console_line(ev, false);
  EXPECT_NE(line.find(" kernel ebpf "), std::string::npos) << line;
  EXPECT_NE(line.find("alert exec      pid=42 ppid=1 uid=0 '/tmp/x y' -v 'a\\nb'  [exec-from-tmp]"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace ringside
