// The evdev sensor in the real agent: this machine has no input devices, so a recorded stream
// (the byte format of /dev/input/event*) is written into a FIFO the policy names as a device.
// Blocking grabs the keyboard (EVIOCGRAB) and re-emits all but the blocked combination through
// a uinput copy; that test needs /dev/uinput (for its own virtual keyboard too) and skips with
// the reason where there is none.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/input.h>
#include <linux/uinput.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

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

// A virtual keyboard made through uinput, for the grab test.
class VirtualKeyboard {
 public:
  explicit VirtualKeyboard(const std::string& name) {
    fd_ = open("/dev/uinput", O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) return;
    ioctl(fd_, UI_SET_EVBIT, EV_KEY);
    ioctl(fd_, UI_SET_EVBIT, EV_SYN);
    for (int code = KEY_ESC; code <= KEY_MICMUTE; ++code) ioctl(fd_, UI_SET_KEYBIT, code);
    uinput_setup setup{};
    setup.id.bustype = BUS_VIRTUAL;
    std::snprintf(setup.name, sizeof setup.name, "%s", name.c_str());
    char sys[64] = {};
    if (ioctl(fd_, UI_DEV_SETUP, &setup) < 0 || ioctl(fd_, UI_DEV_CREATE) < 0 ||
        ioctl(fd_, UI_GET_SYSNAME(sizeof sys), sys) < 0) {
      return;
    }
    // /sys/devices/virtual/input/<sys>/eventN -> /dev/input/eventN
    std::error_code ec;
    for (int i = 0; i < 100 && path_.empty(); ++i) {
      for (const auto& e : std::filesystem::directory_iterator(
               "/sys/devices/virtual/input/" + std::string(sys), ec)) {
        const std::string n = e.path().filename().string();
        if (n.rfind("event", 0) == 0 && std::filesystem::exists("/dev/input/" + n)) {
          path_ = "/dev/input/" + n;
        }
      }
      if (path_.empty()) std::this_thread::sleep_for(20ms);
    }
  }
  ~VirtualKeyboard() {
    if (fd_ >= 0) {
      ioctl(fd_, UI_DEV_DESTROY);
      close(fd_);
    }
  }
  VirtualKeyboard(const VirtualKeyboard&) = delete;
  VirtualKeyboard& operator=(const VirtualKeyboard&) = delete;
  const std::string& path() const { return path_; }
  void key(uint16_t code, int value) {
    std::vector<uint8_t> s;
    add(s, EV_KEY, code, value);
    add(s, EV_SYN, SYN_REPORT, 0);
    if (write(fd_, s.data(), s.size()) != static_cast<ssize_t>(s.size())) ADD_FAILURE() << "write";
  }

 private:
  int fd_ = -1;
  std::string path_;
};

// The input device named `name`, or "" when none appears within ~2 s.
std::string input_device_named(const std::string& name) {
  for (int i = 0; i < 100; ++i) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/dev/input", ec)) {
      const int fd = open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      char n[256] = {};
      ioctl(fd, EVIOCGNAME(sizeof n - 1), n);
      close(fd);
      if (name == n) return e.path().string();
    }
    std::this_thread::sleep_for(20ms);
  }
  return "";
}

TEST(Evdev, GrabbedKeyboardLosesOnlyTheBlockedCombination) {
  RINGSIDE_REQUIRE_ROOT();
  if (access("/dev/uinput", W_OK) != 0) {
    GTEST_SKIP() << "needs /dev/uinput (" << strerror(errno)
                 << "): the test's virtual keyboard and the agent's re-emitting copy are uinput "
                    "devices";
  }
  VirtualKeyboard kbd("ringside-test-keyboard-" + std::to_string(getpid()));
  ASSERT_FALSE(kbd.path().empty()) << "the virtual keyboard did not appear";
  AgentProcess::Options o;
  o.levels = "kernel";
  o.domains = "keyboard";
  o.policy_yaml = "settings:\n  keyboard:\n    devices: [" + kbd.path() +
                  "]\n    block: [\"ctrl+alt+k\"]\nrules: []\n";
  std::string error;
  auto agent = AgentProcess::start(o, &error);
  ASSERT_NE(agent, nullptr) << error;
  const std::string copy = input_device_named("ringside: " + kbd.path());
  ASSERT_FALSE(copy.empty()) << agent->log();
  const int in = open(copy.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(in, 0) << strerror(errno);

  kbd.key(KEY_A, 1);
  kbd.key(KEY_A, 0);
  kbd.key(KEY_LEFTCTRL, 1);
  kbd.key(KEY_LEFTALT, 1);
  kbd.key(KEY_K, 1);
  kbd.key(KEY_K, 0);
  kbd.key(KEY_LEFTALT, 0);
  kbd.key(KEY_LEFTCTRL, 0);
  kbd.key(KEY_B, 1);
  kbd.key(KEY_B, 0);

  // What the system gets: every key press but K's.
  std::vector<uint16_t> pressed;
  for (int i = 0; i < 100 && (pressed.empty() || pressed.back() != KEY_B); ++i) {
    input_event ev{};
    while (read(in, &ev, sizeof ev) == static_cast<ssize_t>(sizeof ev)) {
      if (ev.type == EV_KEY && ev.value == 1) pressed.push_back(ev.code);
    }
    std::this_thread::sleep_for(20ms);
  }
  close(in);
  EXPECT_EQ(pressed, (std::vector<uint16_t>{KEY_A, KEY_LEFTCTRL, KEY_LEFTALT, KEY_B}));
  auto denied = agent->wait_for([](const json& e) {
    return str_field(e, "ringside.sensor") == "evdev" && str_field(e, "ringside.verdict") == "deny";
  });
  ASSERT_TRUE(denied) << agent->log();
  EXPECT_EQ(int_field(*denied, "key.code"), KEY_K);
  EXPECT_EQ(str_field(*denied, "ringside.rule"), "keyboard.block:ctrl+alt+k");
}

}  // namespace
}  // namespace ringside::e2e
