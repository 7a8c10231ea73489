// The bounded buffer between the fanotify drainer and the handler: what fits waits in order,
// what does not is counted record by record (descriptors closed), and close() lets the handler
// empty it before it ends. No privileges needed.
#include <sys/fanotify.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "sensors/kernel/fanotify_buffer.hpp"

namespace ringside {
namespace {

using namespace std::chrono_literals;

struct Group {
  int id = 0;
};
using Buffer = FanotifyBuffer<Group>;

// `n` bare records (metadata only), the i-th with descriptor `fd0 + i` (or FAN_NOFD).
std::vector<char> records(int n, int fd0 = FAN_NOFD, uint64_t mask = FAN_CREATE) {
  std::vector<char> out;
  for (int i = 0; i < n; ++i) {
    fanotify_event_metadata m{};
    m.event_len = sizeof m;
    m.vers = FANOTIFY_METADATA_VERSION;
    m.metadata_len = sizeof m;
    m.mask = mask;
    m.fd = fd0 == FAN_NOFD ? FAN_NOFD : fd0 + i;
    m.pid = 1;
    const auto* p = reinterpret_cast<const char*>(&m);
    out.insert(out.end(), p, p + sizeof m);
  }
  return out;
}

TEST(FanotifyBuffer, QueuesInOrderWithinTheBudgetAndCountsWhatDoesNotFit) {
  const auto ten = records(10);
  Buffer buf(2 * ten.size());
  auto g1 = std::make_shared<Group>(Group{1});
  auto g2 = std::make_shared<Group>(Group{2});
  std::vector<int> closed;
  auto close_fd = [&](int fd) { closed.push_back(fd); };
  EXPECT_EQ(buf.push(g1, ten.data(), ten.size(), close_fd), 0u);
  EXPECT_EQ(buf.push(g2, ten.data(), ten.size(), close_fd), 0u);
  const auto three = records(3, 100);
  EXPECT_EQ(buf.push(g1, three.data(), three.size(), close_fd), 3u) << "over the budget";
  EXPECT_EQ(closed, (std::vector<int>{100, 101, 102}));
  const auto overflow = records(1, FAN_NOFD, FAN_Q_OVERFLOW);
  EXPECT_EQ(buf.push(g1, overflow.data(), overflow.size(), close_fd), 0u)
      << "the kernel's overflow record is not one of ours to count";

  Buffer::Chunk c;
  ASSERT_EQ(buf.pop(&c, 0ms), Buffer::Pop::kChunk);
  EXPECT_EQ(c.group->id, 1);
  EXPECT_EQ(c.bytes, ten);
  // Room again for what was taken.
  EXPECT_EQ(buf.push(g1, three.data(), three.size(), close_fd), 0u);
  ASSERT_EQ(buf.pop(&c, 0ms), Buffer::Pop::kChunk);
  EXPECT_EQ(c.group->id, 2);
  ASSERT_EQ(buf.pop(&c, 0ms), Buffer::Pop::kChunk);
  EXPECT_EQ(c.bytes, three);
  EXPECT_EQ(buf.pop(&c, 10ms), Buffer::Pop::kTimeout);
}

TEST(FanotifyBuffer, CloseLetsTheHandlerEmptyItFirst) {
  const auto five = records(5);
  Buffer buf(1 << 20);
  auto g = std::make_shared<Group>();
  auto ignore = [](int) {};
  buf.push(g, five.data(), five.size(), ignore);
  buf.close();
  Buffer::Chunk c;
  EXPECT_EQ(buf.pop(&c, 0ms), Buffer::Pop::kChunk);
  EXPECT_EQ(buf.pop(&c, 1s), Buffer::Pop::kClosed) << "closed and empty: no wait";
  buf.reset();
  EXPECT_EQ(buf.pop(&c, 0ms), Buffer::Pop::kTimeout);
}

TEST(FanotifyBuffer, AWaitingHandlerWakesForAChunk) {
  const auto one = records(1);
  Buffer buf(1 << 20);
  auto g = std::make_shared<Group>();
  std::thread pusher([&] {
    std::this_thread::sleep_for(20ms);
    buf.push(g, one.data(), one.size(), [](int) {});
  });
  Buffer::Chunk c;
  EXPECT_EQ(buf.pop(&c, 10s), Buffer::Pop::kChunk);
  pusher.join();
}

}  // namespace
}  // namespace ringside
