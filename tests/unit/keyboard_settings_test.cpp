// settings.keyboard: defaults, every option, and each mistake reported at file:line:column.

#include <gtest/gtest.h>

#include "policy/keyboard_settings.hpp"
#include "policy/policy.hpp"

namespace ringside::policy {
namespace {

std::string first_error(const std::string& yaml) {
  std::vector<ParseError> errors;
  auto r = Policy::parse(yaml, "k.yaml", &errors);
  EXPECT_FALSE(r) << "expected an error for:\n" << yaml;
  return errors.empty() ? "" : errors.front().to_string();
}

TEST(KeyboardSettings, Defaults) {
  std::vector<ParseError> errors;
  auto p = Policy::parse("rules: []\n", "k.yaml", &errors);
  ASSERT_TRUE(p);
  const KeyboardSettings& k = (*p)->settings().keyboard;
  EXPECT_EQ(k.record, KeyRecording::kText);
  EXPECT_EQ(k.layout, "us");
  EXPECT_TRUE(k.redact_echo_off);
  EXPECT_TRUE(k.block.empty());
  EXPECT_TRUE(k.devices.empty());
}

TEST(KeyboardSettings, EveryOption) {
  std::vector<ParseError> errors;
  auto p = Policy::parse(R"(settings:
  keyboard:
    record: metadata
    layout: de
    variant: nodeadkeys
    redact_echo_off: false
    display: ":99"
    devices: [/dev/input/event3, /tmp/recorded.bin]
    block: [ctrl+alt+t, Shift+F12, super+l]
rules: []
)",
                         "k.yaml", &errors);
  ASSERT_TRUE(p) << (errors.empty() ? "" : errors[0].to_string());
  const KeyboardSettings& k = (*p)->settings().keyboard;
  EXPECT_EQ(k.record, KeyRecording::kMetadata);
  EXPECT_EQ(k.layout, "de");
  EXPECT_EQ(k.variant, "nodeadkeys");
  EXPECT_FALSE(k.redact_echo_off);
  EXPECT_EQ(k.display, ":99");
  ASSERT_EQ(k.devices.size(), 2u);
  EXPECT_EQ(k.devices[1], "/tmp/recorded.bin");
  ASSERT_EQ(k.block.size(), 3u);
  EXPECT_EQ(k.block[0].modifiers, kModControl | kModAlt);
  EXPECT_EQ(k.block[0].key, "t");
  EXPECT_EQ(k.block[0].text, "ctrl+alt+t");
  EXPECT_EQ(k.block[0].pos.line, 9);
  EXPECT_EQ(k.block[1].modifiers, kModShift);
  EXPECT_EQ(k.block[1].key, "F12");
  EXPECT_EQ(k.block[2].modifiers, kModSuper);
}

TEST(KeyboardSettings, ErrorsNamePosition) {
  EXPECT_EQ(first_error("settings:\n  keyboard:\n    record: keys\nrules: []\n"),
            "k.yaml:3:13: record must be text or metadata, found 'keys'");
  EXPECT_EQ(first_error("settings:\n  keyboard:\n    layout: \"de us\"\nrules: []\n"),
            "k.yaml:3:13: layout must be an XKB name such as us or de, found 'de us'");
  EXPECT_EQ(first_error("settings:\n  keyboard:\n    redact_echo_off: maybe\nrules: []\n"),
            "k.yaml:3:22: redact_echo_off must be true or false, found 'maybe'");
  EXPECT_EQ(first_error("settings:\n  keyboard:\n    display: 99\nrules: []\n"),
            "k.yaml:3:14: display must be an X11 display name such as :0, found '99'");
  EXPECT_EQ(first_error("settings:\n  keyboard:\n    devices: [event3]\nrules: []\n"),
            "k.yaml:3:15: a device must be an absolute path, found 'event3'");
  EXPECT_EQ(first_error("settings:\n  keyboard:\n    block: [ctrl+alt]\nrules: []\n"),
            "k.yaml:3:13: key combination 'ctrl+alt' names no key after its modifiers, found "
            "'ctrl+alt'");
  EXPECT_EQ(first_error("settings:\n  keyboard:\n    block: [hyper+x]\nrules: []\n"),
            "k.yaml:3:13: unknown modifier 'hyper' (ctrl, shift, alt, super), found 'hyper+x'");
  EXPECT_EQ(first_error("settings:\n  keyboard:\n    block: ctrl+x\nrules: []\n"),
            "k.yaml:3:12: block must be a list of key combinations such as ctrl+alt+t, found "
            "'ctrl+x'");
  EXPECT_EQ(first_error("settings:\n  keyboard:\n    grab: yes\nrules: []\n"),
            "k.yaml:3:5: unknown keyboard setting 'grab' (expected record, layout, variant, "
            "redact_echo_off, display, devices, block)");
  EXPECT_EQ(first_error("settings:\n  keyboard: on\nrules: []\n"),
            "k.yaml:2:13: 'keyboard' settings must be a mapping (record, layout, variant, "
            "redact_echo_off, display, devices, block), found 'on'");
}

TEST(KeyboardSettings, ComboParsing) {
  std::string why;
  auto c = parse_key_combo("alt+ctrl+Delete", &why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(c->text, "ctrl+alt+Delete");
  EXPECT_FALSE(parse_key_combo("ctrl++x", &why));
  EXPECT_EQ(why, "empty part in key combination 'ctrl++x'");
  EXPECT_FALSE(parse_key_combo("ctrl+ctrl+x", &why));
  EXPECT_EQ(why, "modifier 'ctrl' repeated");
  EXPECT_FALSE(parse_key_combo("ctrl+a b", &why));
  EXPECT_EQ(combo_text(kModShift | kModSuper, "q"), "shift+super+q");
}

}  // namespace
}  // namespace ringside::policy
