// The /proc fallback of flow attribution on a fake /proc tree: socket tables in the kernel's
// text format and descriptor links naming socket inodes.
#include "sensors/kernel/flow_proc.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ringside {
namespace {

namespace fs = std::filesystem;

class FlowProcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("flow_proc_" + std::to_string(getpid()));
    fs::create_directories(root_ / "net");
    const char* header =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n";
    // 127.0.0.1:40000 -> 127.0.0.1:9999, SYN_SENT, uid 1000, inode 5551
    std::ofstream(root_ / "net/tcp") << header
                                     << "   0: 0100007F:9C40 0100007F:270F 02 00000000:00000000 "
                                        "00:00000000 00000000  1000        0 5551 1 0 0 10 0\n";
    // [::ffff:127.0.0.1]:40001 on a dual-stack socket, uid 0, inode 5552
    std::ofstream(root_ / "net/tcp6")
        << header
        << "   0: 0000000000000000FFFF00000100007F:9C41 0000000000000000FFFF00000100007F:270F 02 "
           "00000000:00000000 00:00000000 00000000     0        0 5552 1 0 0 10 0\n";
    std::ofstream(root_ / "net/udp") << header
                                     << "   0: 00000000:0035 00000000:0000 07 00000000:00000000 "
                                        "00:00000000 00000000   101        0 5553 2 0 0\n";
    std::ofstream(root_ / "net/udp6") << header;
    fs::create_directories(root_ / "321/fd");
    fs::create_symlink("socket:[5551]", root_ / "321/fd/3");
    fs::create_directories(root_ / "654/fd");
    fs::create_symlink("/dev/null", root_ / "654/fd/0");
    fs::create_symlink("socket:[5552]", root_ / "654/fd/7");
  }
  void TearDown() override { fs::remove_all(root_); }

  static Flow flow(uint8_t proto, const char* src, uint16_t sport) {
    Flow f;
    f.protocol = proto;
    inet_pton(AF_INET, src, f.saddr.data());
    inet_pton(AF_INET, "127.0.0.1", f.daddr.data());
    f.sport = sport;
    f.dport = 9999;
    return f;
  }
  fs::path root_;
};

TEST_F(FlowProcTest, FindsTheOwnerOfAnIpv4Socket) {
  ProcFlowOwners owners(root_.string());
  auto o = owners.owner(flow(IPPROTO_TCP, "127.0.0.1", 40000));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->pid, 321);
  EXPECT_EQ(o->uid, 1000U);
}

TEST_F(FlowProcTest, FindsAnIpv4FlowOnADualStackSocket) {
  ProcFlowOwners owners(root_.string());
  auto o = owners.owner(flow(IPPROTO_TCP, "127.0.0.1", 40001));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->pid, 654);
  EXPECT_EQ(o->uid, 0U);
}

TEST_F(FlowProcTest, WildcardUdpSocketAndUnknownFlows) {
  ProcFlowOwners owners(root_.string());
  auto s = owners.find_socket(flow(IPPROTO_UDP, "10.0.0.1", 53));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->inode, 5553U);
  EXPECT_FALSE(owners.owner(flow(IPPROTO_UDP, "10.0.0.1", 53)));  // no process holds it
  EXPECT_FALSE(owners.owner(flow(IPPROTO_TCP, "127.0.0.1", 40002)));
  EXPECT_FALSE(ProcFlowOwners("/nonexistent").owner(flow(IPPROTO_TCP, "127.0.0.1", 40000)));
}

}  // namespace
}  // namespace ringside
