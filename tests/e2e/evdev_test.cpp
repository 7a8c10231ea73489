// The evdev sensor in the real agent: this machine has no input devices, so a recorded stream
// (the byte format of /dev/input/event*) is written into a FIFO the policy names as a device.
// Blocking needs uinput; that test skips with the reason.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/input.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

void add(std::vector<uint8_t>& out, uint16_t type, uint16_t code, int32_t value) {
  input_event ev{};
  ev.input_event_sec = 1700000000;
  ev.type = type;
  ev.code = code;
  ev.value = value;
  const auto* p = reinterpret_cast<const uint8_t*>(&ev);
  out.insert(out.end(), p, p + sizeof ev);
}

void key(std::vector<uint8_t>& out, uint16_t code, int32_t value) {
  add(out, EV_KEY, code, value);
  add(out, EV_SYN, SYN_REPORT, 0);
}

TEST(Evdev, RecordedStreamThroughTheAgent) {
  RINGSIDE_REQUIRE_ROOT();
  ScratchDir dir("evdev");
  const std::string fifo = dir.file("kbd.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << strerror(errno);
  AgentProcess::Options o;
  o.levels = "kernel";
  o.domains = "keyboard";
  o.policy_yaml =
      "settings:\n  keyboard:\n    layout: de\n    devices: [" + fifo + "]\nrules: []\n";
  std::string error;
  auto agent = AgentProcess::start(o, &error);
  ASSERT_NE(agent, nullptr) << error;

  // "Yz!" on a German keyboard: Shift+Z (the Y key's label is on KEY_Z), KEY_Y, Shift+1.
  std::vector<uint8_t> s;
  key(s, KEY_LEFTSHIFT, 1);
  key(s, KEY_Z, 1);
  key(s, KEY_Z, 0);
  key(s, KEY_LEFTSHIFT, 0);
  key(s, KEY_Y, 1);
  key(s, KEY_Y, 0);
  key(s, KEY_RIGHTSHIFT, 1);
  key(s, KEY_1, 1);
  key(s, KEY_1, 0);
  key(s, KEY_RIGHTSHIFT, 0);
  const int fd = open(fifo.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << strerror(errno);
  ASSERT_EQ(write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  close(fd);

  std::string text;
  std::vector<json> downs;
  for (int i = 0; i < 200 && downs.size() < 5; ++i) {
    downs.clear();
    for (const auto& e : agent->events()) {
      if (str_field(e, "ringside.sensor") == "evdev" &&
          str_field(e, "event.action") == "key_down") {
        downs.push_back(e);
      }
    }
    std::this_thread::sleep_for(25ms);
  }
  ASSERT_EQ(downs.size(), 5u) << agent->log();  // LShift, Z, Y, RShift, 1
  for (const auto& e : downs) {
    text += str_field(e, "key.text");
    EXPECT_EQ(str_field(e, "ringside.level"), "kernel");
    EXPECT_EQ(str_field(e, "event.category"), "keyboard");
    EXPECT_EQ(str_field(e, "ringside.key.device"), fifo + " (recorded stream)");
  }
  EXPECT_EQ(text, "Yz!");
  EXPECT_EQ(int_field(downs[1], "key.code"), KEY_Z);
  EXPECT_EQ(str_field(downs[1], "key.name"), "Y");
  EXPECT_EQ(str_field(downs[0], "key.name"), "Shift_L");
  auto up = agent->wait_for([](const json& e) {
    return str_field(e, "event.action") == "key_up" && int_field(e, "key.code") == KEY_Y;
  });
  ASSERT_TRUE(up);
  EXPECT_EQ(str_field(*up, "key.name"), "z");
  EXPECT_EQ(field(*up, "key.text"), nullptr);
}

}  // namespace
}  // namespace ringside::e2e
