#include "sensors/key_translator.hpp"

#include <xkbcommon/xkbcommon.h>

#include "policy/policy.hpp"

namespace ringside {

struct KeyTranslator::Impl {
  xkb_context* ctx = nullptr;
  xkb_keymap* keymap = nullptr;
  xkb_state* state = nullptr;
  xkb_mod_index_t shift = XKB_MOD_INVALID, ctrl = XKB_MOD_INVALID, alt = XKB_MOD_INVALID,
                  super = XKB_MOD_INVALID;

  void init_indices() {
    shift = xkb_keymap_mod_get_index(keymap, XKB_MOD_NAME_SHIFT);
    ctrl = xkb_keymap_mod_get_index(keymap, XKB_MOD_NAME_CTRL);
    alt = xkb_keymap_mod_get_index(keymap, XKB_MOD_NAME_ALT);
    super = xkb_keymap_mod_get_index(keymap, XKB_MOD_NAME_LOGO);
  }
  bool active(xkb_mod_index_t i) const {
    return i != XKB_MOD_INVALID &&
           xkb_state_mod_index_is_active(state, i, XKB_STATE_MODS_EFFECTIVE) > 0;
  }
  ~Impl() {
    if (state != nullptr) xkb_state_unref(state);
    if (keymap != nullptr) xkb_keymap_unref(keymap);
    if (ctx != nullptr) xkb_context_unref(ctx);
  }
};

Result<std::unique_ptr<KeyTranslator>> KeyTranslator::from_names(const std::string& layout,
                                                                 const std::string& variant) {
  xkb_context* ctx = xkb_context_new(XKB_CONTEXT_NO_ENVIRONMENT_NAMES);
  if (ctx == nullptr) return Error{"xkbcommon: cannot create a context"};
  xkb_rule_names names{};
  names.rules = "evdev";
  names.model = "pc105";
  names.layout = layout.c_str();
  names.variant = variant.empty() ? nullptr : variant.c_str();
  xkb_keymap* keymap = xkb_keymap_new_from_names(ctx, &names, XKB_KEYMAP_COMPILE_NO_FLAGS);
  if (keymap == nullptr) {
    xkb_context_unref(ctx);
    return Error{"xkbcommon: cannot compile the keymap for layout '" + layout + "'" +
                 (variant.empty() ? "" : " variant '" + variant + "'") +
                 " (is xkb-data installed?)"};
  }
  return from_keymap(ctx, keymap);
}

std::unique_ptr<KeyTranslator> KeyTranslator::from_keymap(xkb_context* ctx, xkb_keymap* keymap) {
  std::unique_ptr<KeyTranslator> t(new KeyTranslator());
  t->impl_ = std::make_unique<Impl>();
  t->impl_->ctx = ctx;
  t->impl_->keymap = keymap;
  t->impl_->state = xkb_state_new(keymap);
  t->impl_->init_indices();
  return t;
}

KeyTranslator::~KeyTranslator() = default;

unsigned KeyTranslator::modifiers() const {
  unsigned m = 0;
  if (impl_->active(impl_->shift)) m |= policy::kModShift;
  if (impl_->active(impl_->ctrl)) m |= policy::kModControl;
  if (impl_->active(impl_->alt)) m |= policy::kModAlt;
  if (impl_->active(impl_->super)) m |= policy::kModSuper;
  return m;
}

std::vector<uint32_t> KeyTranslator::keycodes_for(std::string_view keysym_name) const {
  std::vector<uint32_t> out;
  const std::string name(keysym_name);
  const xkb_keysym_t want = xkb_keysym_from_name(name.c_str(), XKB_KEYSYM_CASE_INSENSITIVE);
  if (want == XKB_KEY_NoSymbol) return out;
  const xkb_keysym_t lower = xkb_keysym_to_lower(want);
  const xkb_keycode_t lo = xkb_keymap_min_keycode(impl_->keymap);
  const xkb_keycode_t hi = xkb_keymap_max_keycode(impl_->keymap);
  for (xkb_keycode_t kc = lo; kc <= hi && kc != 0; ++kc) {
    const xkb_keysym_t* syms = nullptr;
    const int n = xkb_keymap_key_get_syms_by_level(impl_->keymap, kc, 0, 0, &syms);
    if (n >= 1 && xkb_keysym_to_lower(syms[0]) == lower) out.push_back(kc);
  }
  return out;
}

std::string KeyTranslator::name_of(uint32_t xkb_keycode) const {
  const xkb_keysym_t sym = xkb_state_key_get_one_sym(impl_->state, xkb_keycode);
  if (sym == XKB_KEY_NoSymbol) return {};
  char buf[64];
  const int n = xkb_keysym_get_name(sym, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1))) : "";
}

KeyTranslation KeyTranslator::press(uint32_t xkb_keycode, bool repeat) {
  KeyTranslation t = peek(xkb_keycode);
  // An autorepeat does not change the modifier state again (a held Caps Lock repeating must
  // not toggle the lock).
  if (!repeat) xkb_state_update_key(impl_->state, xkb_keycode, XKB_KEY_DOWN);
  return t;
}

KeyTranslation KeyTranslator::peek(uint32_t xkb_keycode) const {
  KeyTranslation t;
  t.modifiers = modifiers();
  t.name = name_of(xkb_keycode);
  char buf[64];
  const int n = xkb_state_key_get_utf8(impl_->state, xkb_keycode, buf, sizeof buf);
  if (n > 0) {
    const std::string text(buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1)));
    // Control characters (Return, Tab, Escape, ctrl+letter) are not typed text here.
    if (!(text.size() == 1 && (static_cast<unsigned char>(text[0]) < 0x20 || text[0] == 0x7f))) {
      t.text = text;
    }
  }
  return t;
}

KeyTranslation KeyTranslator::release(uint32_t xkb_keycode) {
  KeyTranslation t;
  t.name = name_of(xkb_keycode);
  xkb_state_update_key(impl_->state, xkb_keycode, XKB_KEY_UP);
  t.modifiers = modifiers();
  return t;
}

void KeyTranslator::set_state(uint32_t depressed, uint32_t latched, uint32_t locked,
                              uint32_t group) {
  xkb_state_update_mask(impl_->state, depressed, latched, locked, 0, 0, group);
}

}  // namespace ringside
