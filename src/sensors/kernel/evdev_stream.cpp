#include "sensors/kernel/evdev_stream.hpp"

#include <algorithm>
#include <cstring>

namespace ringside::evdev {

void StreamDecoder::feed(const uint8_t* data, size_t size, std::vector<input_event>& out) {
  constexpr size_t kEv = sizeof(input_event);
  size_t off = 0;
  if (!partial_.empty()) {
    const size_t need = kEv - partial_.size();
    const size_t take = std::min(need, size);
    partial_.insert(partial_.end(), data, data + take);
    off = take;
    if (partial_.size() < kEv) return;
    input_event ev{};
    std::memcpy(&ev, partial_.data(), kEv);
    out.push_back(ev);
    partial_.clear();
  }
  while (size - off >= kEv) {
    input_event ev{};
    std::memcpy(&ev, data + off, kEv);
    out.push_back(ev);
    off += kEv;
  }
  partial_.assign(data + off, data + size);
}

ComboFilter::Outcome ComboFilter::on_event(const input_event& ev,
                                           const std::optional<KeyEvent>& key) {
  Outcome out;
  if (!key || ev.type != EV_KEY || ev.code > KEY_MAX) return out;
  if (swallowed_[ev.code]) {  // a repeat or the release of a blocked press
    if (!key->down) swallowed_[ev.code] = false;
    out.forward = false;
    return out;
  }
  if (!key->down || key->repeat) return out;
  for (const Combo& c : combos_) {
    if (c.modifiers != key->translation.modifiers) continue;
    if (std::find(c.codes.begin(), c.codes.end(), ev.code) == c.codes.end()) continue;
    swallowed_[ev.code] = true;
    out.forward = false;
    out.blocked = &c.text;
    return out;
  }
  return out;
}

std::optional<KeyEvent> KeyDecoder::on_event(const input_event& ev) {
  if (ev.type > EV_MAX) {
    ++malformed_;
    return std::nullopt;
  }
  if (ev.type != EV_KEY) return std::nullopt;  // EV_SYN, EV_MSC scan codes, EV_LED, ...
  if (ev.code > KEY_MAX || ev.value < 0 || ev.value > 2) {
    ++malformed_;
    return std::nullopt;
  }
  KeyEvent k;
  k.code = ev.code;
  k.time_ns = static_cast<int64_t>(ev.input_event_sec) * 1000000000LL +
              static_cast<int64_t>(ev.input_event_usec) * 1000LL;
  const uint32_t xkb = ev.code + kEvdevToXkbOffset;
  if (ev.value == 0) {
    if (!held_[ev.code]) {
      // A release without its press (the stream began while it was held): nothing to undo.
      k.translation.name = translator_.name_of(xkb);
    } else {
      k.translation = translator_.release(xkb);
    }
    held_[ev.code] = false;
    return k;
  }
  k.down = true;
  k.repeat = ev.value == 2 || held_[ev.code];
  k.translation = translator_.press(xkb, k.repeat);
  held_[ev.code] = true;
  return k;
}

bool is_keyboard(const uint8_t* key_bits, size_t size) {
  auto has = [&](unsigned code) {
    return code / 8 < size && (key_bits[code / 8] & (1U << (code % 8))) != 0;
  };
  for (unsigned code : {KEY_A, KEY_Z, KEY_Q, KEY_M, KEY_SPACE, KEY_ENTER}) {
    if (!has(code)) return false;
  }
  return true;
}

}  // namespace ringside::evdev
