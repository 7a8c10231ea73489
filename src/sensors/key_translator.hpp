// Key code -> key name and text under a keyboard layout and the modifiers held so far, with
// xkbcommon: the one translation both keyboard sensors share. The evdev sensor compiles the
// configured layout (rules "evdev"); the X11 sensor takes the X server's current keymap.
// Key codes are XKB key codes: Linux input codes + 8 (X11 key codes are XKB key codes).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

struct xkb_keymap;
struct xkb_context;

namespace ringside {

inline constexpr uint32_t kEvdevToXkbOffset = 8;

struct KeyTranslation {
  std::string name;        // keysym name, e.g. "a", "Shift_L", "adiaeresis"; "" for NoSymbol
  std::string text;        // UTF-8 text the press produces (empty for modifiers, control keys)
  unsigned modifiers = 0;  // policy::kMod* held when the key was pressed (before it)
};

class KeyTranslator {
 public:
  // A keymap compiled from RMLVO names (rules evdev, model pc105).
  static Result<std::unique_ptr<KeyTranslator>> from_names(const std::string& layout,
                                                           const std::string& variant);
  // Takes ownership of a keymap built elsewhere (the X server's) and of the context.
  static std::unique_ptr<KeyTranslator> from_keymap(xkb_context* ctx, xkb_keymap* keymap);
  ~KeyTranslator();
  KeyTranslator(const KeyTranslator&) = delete;
  KeyTranslator& operator=(const KeyTranslator&) = delete;

  // A key went down (repeat: an autorepeat of a held key) or up; updates the modifier and
  // lock state. The translation of a press is taken before the key's own effect (so Shift_L
  // reports no modifier, and 'a' after it reports Shift).
  KeyTranslation press(uint32_t xkb_keycode, bool repeat = false);
  KeyTranslation release(uint32_t xkb_keycode);
  // A press's translation at the current state, leaving the state alone (for a sensor whose
  // state follows the X server's own).
  KeyTranslation peek(uint32_t xkb_keycode) const;
  // The name of a key at the current state, without changing it.
  std::string name_of(uint32_t xkb_keycode) const;
  // The XKB key codes whose first symbol (first layout, no modifier) is the keysym named
  // `keysym_name` ("t", "F12", "Delete"); letters match either case.
  std::vector<uint32_t> keycodes_for(std::string_view keysym_name) const;
  // Sets the locked/latched/depressed modifiers and group (from the X server's state).
  void set_state(uint32_t depressed, uint32_t latched, uint32_t locked, uint32_t group);
  // Modifiers held now, as policy::kMod* bits.
  unsigned modifiers() const;

 private:
  KeyTranslator() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringside
