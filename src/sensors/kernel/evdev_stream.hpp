// The evdev byte stream (struct input_event, as /dev/input/event* delivers it and as recorded
// streams store it) and its key events, translated with a KeyTranslator. No system calls here:
// the sensor and the unit tests feed bytes.
#pragma once

#include <linux/input.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sensors/key_translator.hpp"

namespace ringside::evdev {

// Cuts a byte stream into input_events; a partial event is kept for the next chunk.
class StreamDecoder {
 public:
  void feed(const uint8_t* data, size_t size, std::vector<input_event>& out);
  // Bytes of an incomplete event held back (at end of stream: a truncated stream).
  size_t pending() const { return partial_.size(); }

 private:
  std::vector<uint8_t> partial_;
};

struct KeyEvent {
  bool down = false;
  bool repeat = false;
  uint16_t code = 0;    // KEY_*
  int64_t time_ns = 0;  // from the event's timeval
  KeyTranslation translation;
};

// Follows key events through the translator. Anything that cannot come from a keyboard (an
// unknown event type, a key code past KEY_MAX, a key value other than 0, 1, 2) is counted as
// malformed and skipped.
class KeyDecoder {
 public:
  explicit KeyDecoder(KeyTranslator& translator) : translator_(translator) {}
  std::optional<KeyEvent> on_event(const input_event& ev);
  uint64_t malformed() const { return malformed_; }

 private:
  KeyTranslator& translator_;
  uint64_t malformed_ = 0;
  std::vector<bool> held_ = std::vector<bool>(KEY_MAX + 1, false);
};

// What a grabbed keyboard passes on (the sensor re-emits it through uinput): every event except
// the press that completes a blocked combination, that key's repeats, and its release. A
// combination is its modifiers (policy::kMod*, exactly) and the key codes of its key.
class ComboFilter {
 public:
  struct Combo {
    unsigned modifiers = 0;
    std::vector<uint16_t> codes;  // KEY_* codes of the combination's key
    std::string text;             // as written in the policy, e.g. "ctrl+alt+t"
  };
  explicit ComboFilter(std::vector<Combo> combos) : combos_(std::move(combos)) {}
  struct Outcome {
    bool forward = true;
    const std::string* blocked = nullptr;  // the combination a press completed
  };
  // `ev` as read; `key` its decoding (KeyDecoder), when it is a key event.
  Outcome on_event(const input_event& ev, const std::optional<KeyEvent>& key);
  bool empty() const { return combos_.empty(); }

 private:
  std::vector<Combo> combos_;
  std::vector<bool> swallowed_ = std::vector<bool>(KEY_MAX + 1, false);
};

// A device is a keyboard when it reports EV_KEY with the letter keys (mice and power buttons
// have EV_KEY too). `key_bits` is the EVIOCGBIT(EV_KEY) bitmap.
bool is_keyboard(const uint8_t* key_bits, size_t size);

}  // namespace ringside::evdev
