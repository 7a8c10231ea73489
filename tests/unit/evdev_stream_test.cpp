// The evdev reader on recorded streams (the byte format of /dev/input/event*): Shift, Caps
// Lock, AltGr, key repeat, the German layout's z/y swap, chunked reads, truncated and garbage
// streams; then the whole sensor reading a recorded stream file.

#include <gtest/gtest.h>
#include <linux/input.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>

#include "fake_context.hpp"
#include "policy/keyboard_settings.hpp"
#include "sensors/kernel/evdev.hpp"
#include "sensors/kernel/evdev_stream.hpp"

namespace ringside::evdev {
namespace {

// Builds a recorded stream the way a keyboard writes it: each key change followed by EV_SYN.
class Recording {
 public:
  Recording& key(uint16_t code, int value) {
    add(EV_MSC, MSC_SCAN, code);  // keyboards send the scan code first
    add(EV_KEY, code, value);
    add(EV_SYN, SYN_REPORT, 0);
    return *this;
  }
  Recording& tap(uint16_t code) { return key(code, 1).key(code, 0); }
  Recording& with(uint16_t modifier, uint16_t code) {
    return key(modifier, 1).tap(code).key(modifier, 0);
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  void add(uint16_t type, uint16_t code, int32_t value) {
    input_event ev{};
    ev.input_event_sec = 1700000000;
    ev.input_event_usec = static_cast<long>(usec_ += 1000);
    ev.type = type;
    ev.code = code;
    ev.value = value;
    const auto* p = reinterpret_cast<const uint8_t*>(&ev);
    bytes_.insert(bytes_.end(), p, p + sizeof ev);
  }
  std::vector<uint8_t> bytes_;
  uint64_t usec_ = 0;
};

struct Decoded {
  std::string text;
  std::vector<KeyEvent> keys;
  uint64_t malformed = 0;
  size_t pending = 0;
};

Decoded decode(const std::vector<uint8_t>& bytes, const std::string& layout = "us",
               size_t chunk = 4096) {
  auto t = KeyTranslator::from_names(layout, "");
  EXPECT_TRUE(t) << t.error().message;
  Decoded d;
  if (!t) return d;
  StreamDecoder stream;
  KeyDecoder keys(**t);
  std::vector<input_event> events;
  for (size_t off = 0; off < bytes.size(); off += chunk) {
    events.clear();
    stream.feed(bytes.data() + off, std::min(chunk, bytes.size() - off), events);
    for (const auto& ev : events) {
      if (auto k = keys.on_event(ev)) {
        if (k->down) d.text += k->translation.text;
        d.keys.push_back(std::move(*k));
      }
    }
  }
  d.malformed = keys.malformed();
  d.pending = stream.pending();
  return d;
}

TEST(EvdevStream, ShiftAndPunctuation) {
  Recording r;
  r.with(KEY_LEFTSHIFT, KEY_H).tap(KEY_E).tap(KEY_L).tap(KEY_L).tap(KEY_O);
  r.tap(KEY_COMMA).tap(KEY_SPACE).with(KEY_RIGHTSHIFT, KEY_W).with(KEY_LEFTSHIFT, KEY_1);
  r.tap(KEY_1).tap(KEY_2).tap(KEY_3).tap(KEY_ENTER);
  const Decoded d = decode(r.bytes());
  EXPECT_EQ(d.text, "Hello, W!123");
  EXPECT_EQ(d.malformed, 0u);
  EXPECT_EQ(d.pending, 0u);
  ASSERT_GE(d.keys.size(), 4u);
  EXPECT_EQ(d.keys[0].code, KEY_LEFTSHIFT);
  EXPECT_EQ(d.keys[0].translation.name, "Shift_L");
  EXPECT_TRUE(d.keys[0].down);
  EXPECT_EQ(d.keys[1].translation.name, "H");
  EXPECT_EQ(d.keys[1].translation.modifiers, policy::kModShift);
  EXPECT_EQ(d.keys[1].time_ns, 1700000000LL * 1000000000LL + 5000LL * 1000LL);
  EXPECT_FALSE(d.keys[2].down);
  EXPECT_EQ(d.keys.back().translation.name, "Return");
  EXPECT_EQ(d.keys.back().translation.text, "");
}

TEST(EvdevStream, CapsLockTogglesAndShiftInverts) {
  Recording r;
  r.tap(KEY_CAPSLOCK).tap(KEY_A).with(KEY_LEFTSHIFT, KEY_B).tap(KEY_1).tap(KEY_CAPSLOCK).tap(KEY_C);
  EXPECT_EQ(decode(r.bytes()).text, "Ab1c");
}

TEST(EvdevStream, AltGrOnGermanLayout) {
  Recording r;
  r.with(KEY_RIGHTALT, KEY_Q).with(KEY_RIGHTALT, KEY_E).tap(KEY_SEMICOLON);
  EXPECT_EQ(decode(r.bytes(), "de").text, "@\u20ac\u00f6");
}

TEST(EvdevStream, GermanLayoutSwapsZAndY) {
  Recording r;
  r.tap(KEY_Z).tap(KEY_Y).with(KEY_LEFTSHIFT, KEY_Z);
  EXPECT_EQ(decode(r.bytes(), "us").text, "zyZ");
  EXPECT_EQ(decode(r.bytes(), "de").text, "yzY");
}

TEST(EvdevStream, KeyRepeatRepeatsTextButNotLocks) {
  Recording r;
  r.key(KEY_A, 1).key(KEY_A, 2).key(KEY_A, 2).key(KEY_A, 0);
  // A held Caps Lock repeating must toggle the lock once, not on every repeat.
  r.key(KEY_CAPSLOCK, 1).key(KEY_CAPSLOCK, 2).key(KEY_CAPSLOCK, 2).key(KEY_CAPSLOCK, 0).tap(KEY_B);
  const Decoded d = decode(r.bytes());
  EXPECT_EQ(d.text, "aaaB");
  ASSERT_GE(d.keys.size(), 3u);
  EXPECT_FALSE(d.keys[0].repeat);
  EXPECT_TRUE(d.keys[1].repeat);
  EXPECT_TRUE(d.keys[2].repeat);
}

TEST(EvdevStream, ChunkedReadsGiveTheSameText) {
  Recording r;
  r.with(KEY_LEFTSHIFT, KEY_H).tap(KEY_I).tap(KEY_SPACE).tap(KEY_T).tap(KEY_H).tap(KEY_E);
  for (size_t chunk :
       {size_t{1}, size_t{5}, size_t{7}, sizeof(input_event) - 1, sizeof(input_event) + 3}) {
    EXPECT_EQ(decode(r.bytes(), "us", chunk).text, "Hi the") << "chunk " << chunk;
  }
}

TEST(EvdevStream, TruncatedStreamKeepsTheTailAndReportsIt) {
  Recording r;
  r.tap(KEY_O).tap(KEY_K);
  auto bytes = r.bytes();
  bytes.resize(bytes.size() - 5);  // the last EV_SYN is cut
  const Decoded d = decode(bytes);
  EXPECT_EQ(d.text, "ok");
  EXPECT_EQ(d.pending, sizeof(input_event) - 5);
}

TEST(EvdevStream, GarbageIsCountedAndNeverCrashes) {
  std::mt19937 rng(42);
  std::vector<uint8_t> junk(sizeof(input_event) * 500);
  for (auto& b : junk) b = static_cast<uint8_t>(rng());
  const Decoded d = decode(junk);
  EXPECT_GT(d.malformed, 400u) << "random events are mostly impossible ones";

  // A well-formed stream with impossible events in it: they are skipped, the rest decoded.
  Recording r;
  r.tap(KEY_X);
  auto bytes = r.bytes();
  input_event bad{};
  bad.type = EV_KEY;
  bad.code = KEY_MAX + 5;
  bad.value = 1;
  const auto* p = reinterpret_cast<const uint8_t*>(&bad);
  bytes.insert(bytes.end(), p, p + sizeof bad);
  bad.code = KEY_Y;
  bad.value = 7;
  bytes.insert(bytes.end(), p, p + sizeof bad);
  Recording tail;
  tail.tap(KEY_Y);
  bytes.insert(bytes.end(), tail.bytes().begin(), tail.bytes().end());
  const Decoded mixed = decode(bytes);
  EXPECT_EQ(mixed.text, "xy");
  EXPECT_EQ(mixed.malformed, 2u);
}

// What a grabbed keyboard passes on to its uinput copy: the recording through the decoder and
// the filter, as the sensor runs them; returns the text the copy would type, and the blocked
// combinations in order.
struct Filtered {
  std::string passed_text;
  std::vector<std::string> blocked;
  size_t passed_events = 0;
};

Filtered filter(const std::vector<uint8_t>& bytes, const std::vector<std::string>& combos,
                const std::string& layout = "us") {
  Filtered out;
  auto t = KeyTranslator::from_names(layout, "");
  EXPECT_TRUE(t) << t.error().message;
  auto copy = KeyTranslator::from_names(layout, "");  // the state of whoever reads the copy
  if (!t || !copy) return out;
  std::vector<ComboFilter::Combo> cs;
  for (const std::string& text : combos) {
    std::string why;
    auto kc = policy::parse_key_combo(text, &why);
    EXPECT_TRUE(kc) << why;
    if (!kc) continue;
    ComboFilter::Combo c{kc->modifiers, {}, kc->text};
    for (uint32_t xkb : (*t)->keycodes_for(kc->key)) {
      c.codes.push_back(static_cast<uint16_t>(xkb - kEvdevToXkbOffset));
    }
    EXPECT_FALSE(c.codes.empty()) << text;
    cs.push_back(std::move(c));
  }
  StreamDecoder stream;
  KeyDecoder keys(**t);
  KeyDecoder reader(**copy);
  ComboFilter f(std::move(cs));
  std::vector<input_event> events;
  stream.feed(bytes.data(), bytes.size(), events);
  for (const auto& ev : events) {
    auto k = keys.on_event(ev);
    const auto o = f.on_event(ev, k);
    if (o.blocked != nullptr) out.blocked.push_back(*o.blocked);
    if (!o.forward) continue;
    ++out.passed_events;
    if (auto r = reader.on_event(ev); r && r->down) out.passed_text += r->translation.text;
  }
  return out;
}

TEST(ComboFilter, BlockedCombinationIsKeptAndEverythingElsePasses) {
  Recording r;
  r.tap(KEY_A)
      .key(KEY_LEFTCTRL, 1)
      .key(KEY_LEFTALT, 1)
      .tap(KEY_T)  // ctrl+alt+t: blocked
      .key(KEY_LEFTALT, 0)
      .key(KEY_LEFTCTRL, 0)
      .tap(KEY_T)                   // t alone passes
      .with(KEY_LEFTCTRL, KEY_C)    // ctrl+c passes
      .with(KEY_LEFTSHIFT, KEY_B);  // B
  const Filtered f = filter(r.bytes(), {"ctrl+alt+t"});
  ASSERT_EQ(f.blocked.size(), 1U);
  EXPECT_EQ(f.blocked[0], "ctrl+alt+t");
  EXPECT_EQ(f.passed_text, "atB");
  // Every event but the blocked press and its release (their scan codes and reports pass).
  const size_t all = r.bytes().size() / sizeof(input_event);
  EXPECT_EQ(f.passed_events, all - 2);
}

TEST(ComboFilter, RepeatsAndReleaseOfABlockedKeyAreKept) {
  Recording r;
  r.key(KEY_LEFTCTRL, 1)
      .key(KEY_LEFTALT, 1)
      .key(KEY_DELETE, 1)
      .key(KEY_DELETE, 2)
      .key(KEY_DELETE, 2)
      .key(KEY_LEFTALT, 0)  // modifiers let go while Delete repeats: still kept
      .key(KEY_DELETE, 2)
      .key(KEY_DELETE, 0)
      .key(KEY_LEFTCTRL, 0)
      .tap(KEY_DELETE);  // Delete alone passes
  const Filtered f = filter(r.bytes(), {"ctrl+alt+Delete"});
  ASSERT_EQ(f.blocked.size(), 1U);
  const size_t all = r.bytes().size() / sizeof(input_event);
  EXPECT_EQ(f.passed_events, all - 5);  // the press, three repeats, the release
}

TEST(ComboFilter, ModifiersMustMatchExactlyAndTheKeyFollowsTheLayout) {
  Recording r;
  r.key(KEY_LEFTCTRL, 1)
      .key(KEY_LEFTSHIFT, 1)
      .tap(KEY_Z)
      .key(KEY_LEFTSHIFT, 0)
      .key(KEY_LEFTCTRL, 0);
  r.with(KEY_LEFTCTRL, KEY_Y);
  // ctrl+z on a German keyboard is the key labelled Z, which sends KEY_Y; ctrl+shift+z is not
  // ctrl+z.
  const Filtered de = filter(r.bytes(), {"ctrl+z"}, "de");
  ASSERT_EQ(de.blocked.size(), 1U);
  const Filtered us = filter(r.bytes(), {"ctrl+z"}, "us");
  EXPECT_TRUE(us.blocked.empty());
}

TEST(EvdevStream, KeyboardCapabilities) {
  uint8_t bits[KEY_MAX / 8 + 1] = {};
  EXPECT_FALSE(is_keyboard(bits, sizeof bits));
  for (unsigned c : {KEY_A, KEY_Z, KEY_Q, KEY_M, KEY_SPACE, KEY_ENTER})
    bits[c / 8] |= 1U << (c % 8);
  EXPECT_TRUE(is_keyboard(bits, sizeof bits));
  uint8_t mouse[KEY_MAX / 8 + 1] = {};
  mouse[BTN_LEFT / 8] |= 1U << (BTN_LEFT % 8);
  EXPECT_FALSE(is_keyboard(mouse, sizeof mouse));
}

TEST(EvdevSensor, ReadsARecordedStreamFile) {
  char path[] = "/tmp/rs-evdev-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  Recording r;
  r.with(KEY_LEFTSHIFT, KEY_Z).tap(KEY_Y);
  ASSERT_EQ(write(fd, r.bytes().data(), r.bytes().size() - 3),
            static_cast<ssize_t>(r.bytes().size() - 3));  // truncated at the end
  close(fd);

  testing_fanotify::FakeContext ctx;
  std::vector<policy::ParseError> errors;
  auto pol = policy::Policy::parse(std::string("settings:\n  keyboard:\n    layout: de\n    "
                                               "devices: [") +
                                       path + "]\nrules: []\n",
                                   "p.yaml", &errors);
  ASSERT_TRUE(pol);
  ctx.set_policy(*pol);
  EvdevSensor sensor;
  ASSERT_TRUE(sensor.start(ctx));
  auto events = ctx.wait_events(6);
  sensor.stop();
  unlink(path);
  std::string text;
  for (const auto& ev : events) {
    EXPECT_EQ(ev.level(), Level::kKernel);
    EXPECT_EQ(*ev.get_str(Field::kRingsideKeyDevice), std::string(path) + " (recorded stream)");
    if (auto t = ev.get_str(Field::kKeyText)) text += *t;
  }
  EXPECT_EQ(text, "Yz");
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[0].type(), EventType::kKeyboardKeyDown);
  EXPECT_EQ(*events[0].get_int(Field::kKeyCode), KEY_LEFTSHIFT);
  EXPECT_EQ(*events[1].get_str(Field::kKeyName), "Y");
  EXPECT_EQ(sensor.stats().seen, 6u);
  EXPECT_EQ(sensor.stats().errors, 1u) << "the truncated tail is reported";
}

TEST(EvdevSensor, MetadataModeCarriesNoKeys) {
  char path[] = "/tmp/rs-evdev-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  Recording r;
  r.tap(KEY_P).tap(KEY_W);
  ASSERT_EQ(write(fd, r.bytes().data(), r.bytes().size()), static_cast<ssize_t>(r.bytes().size()));
  close(fd);
  testing_fanotify::FakeContext ctx;
  std::vector<policy::ParseError> errors;
  auto pol = policy::Policy::parse(std::string("settings:\n  keyboard:\n    record: metadata\n"
                                               "    devices: [") +
                                       path + "]\nrules: []\n",
                                   "p.yaml", &errors);
  ASSERT_TRUE(pol);
  ctx.set_policy(*pol);
  EvdevSensor sensor;
  ASSERT_TRUE(sensor.start(ctx));
  auto events = ctx.wait_events(4);
  sensor.stop();
  unlink(path);
  ASSERT_EQ(events.size(), 4u);
  for (const auto& ev : events) {
    EXPECT_FALSE(ev.has(Field::kKeyText));
    EXPECT_FALSE(ev.has(Field::kKeyCode));
    EXPECT_FALSE(ev.has(Field::kKeyName));
    EXPECT_EQ(*ev.get_str(Field::kRingsideKeyRedacted), "metadata");
  }
  EXPECT_EQ(*events[0].get_int(Field::kRingsideKeyCount), 1);
  EXPECT_EQ(*events[2].get_int(Field::kRingsideKeyCount), 2);
  EXPECT_TRUE(events[2].has(Field::kRingsideKeyIntervalUs));
}

}  // namespace
}  // namespace ringside::evdev
