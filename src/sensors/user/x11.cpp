// X11 keyboard sensor (see x11.hpp).
#include "sensors/user/x11.hpp"

#include <X11/XKBlib.h>
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/extensions/XInput2.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <xkbcommon/xkbcommon-x11.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <thread>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "sensors/key_event.hpp"
#include "sensors/key_translator.hpp"

namespace ringside {

namespace {

// Xlib reports protocol errors through one process-wide handler; the sensor's requests that
// can fail (XGrabKey: BadAccess when another client holds the combination) are checked with
// XSync right after, on the sensor's own thread.
std::atomic<int> g_last_x_error{0};

int on_x_error(Display* /*dpy*/, XErrorEvent* e) {
  g_last_x_error = e->error_code;
  return 0;
}

// The X server went away: Xlib must not exit() the agent.
void on_io_error_exit(Display* /*dpy*/, void* user) {
  static_cast<std::atomic<bool>*>(user)->store(true);
}

struct Grab {
  KeyCode keycode = 0;
  unsigned x_mods = 0;
  unsigned modifiers = 0;  // policy::kMod*
  std::string combo;
};

unsigned x_mask_of(unsigned mods) {
  unsigned m = 0;
  if ((mods & policy::kModShift) != 0) m |= ShiftMask;
  if ((mods & policy::kModControl) != 0) m |= ControlMask;
  if ((mods & policy::kModAlt) != 0) m |= Mod1Mask;
  if ((mods & policy::kModSuper) != 0) m |= Mod4Mask;
  return m;
}

// Lock and NumLock must not defeat a grab: each combination is grabbed with them too.
constexpr unsigned kIgnoredMasks[] = {0, LockMask, Mod2Mask, LockMask | Mod2Mask};

}  // namespace

struct X11Sensor::Impl {
  Result<void> start(SensorContext& c);
  void stop();
  void run();
  Result<void> load_keymap();
  void sync_state();
  void grab_combos();
  void ungrab_combos();
  void on_raw(const XIRawEvent& raw, bool down);
  void refresh_focus();
  std::string device_name(int id);

  std::string display_name;
  SensorContext* ctx = nullptr;
  SensorCounters counters;
  Display* dpy = nullptr;
  Window root = 0;
  int xi_opcode = 0;
  int xkb_event = 0;
  xcb_connection_t* xcb = nullptr;  // for xkbcommon-x11's keymap queries
  int32_t xkb_device = -1;
  std::unique_ptr<KeyTranslator> translator;
  std::vector<Grab> grabs;
  std::map<int, std::string> devices;
  Window focus = 0;
  int32_t focus_pid = 0;
  std::string focus_title;
  Atom net_wm_pid = 0, net_wm_name = 0, utf8_string = 0;
  KeyEventReporter reporter{Level::kUser, "x11"};
  std::atomic<bool> server_gone{false};
  int wake = -1;
  std::thread reader;
  bool running = false;
  std::atomic<bool> stopping{false};
};

Result<void> X11Sensor::Impl::load_keymap() {
  xkb_context* xctx = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
  if (xctx == nullptr) return Error{"x11: xkbcommon context"};
  xkb_keymap* keymap =
      xkb_x11_keymap_new_from_device(xctx, xcb, xkb_device, XKB_KEYMAP_COMPILE_NO_FLAGS);
  if (keymap == nullptr) {
    xkb_context_unref(xctx);
    return Error{"x11: cannot read the X server's keymap (xkb_x11_keymap_new_from_device)"};
  }
  translator = KeyTranslator::from_keymap(xctx, keymap);
  sync_state();
  return ok();
}

void X11Sensor::Impl::sync_state() {
  XkbStateRec st{};
  if (XkbGetState(dpy, XkbUseCoreKbd, &st) == Success) {
    translator->set_state(st.base_mods, st.latched_mods, st.locked_mods,
                          static_cast<uint32_t>(st.group));
  }
}

void X11Sensor::Impl::grab_combos() {
  const auto pol = ctx->policy();
  grabs.clear();
  for (const auto& combo : pol->settings().keyboard.block) {
    const KeySym sym = XStringToKeysym(combo.key.c_str());
    const KeyCode kc = sym == NoSymbol ? 0 : XKeysymToKeycode(dpy, sym);
    if (kc == 0) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      log().warn("x11: cannot block {}: no key produces '{}' in the current keymap", combo.text,
                 combo.key);
      continue;
    }
    Grab g{kc, x_mask_of(combo.modifiers), combo.modifiers, combo.text};
    g_last_x_error = 0;
    for (unsigned extra : kIgnoredMasks) {
      XGrabKey(dpy, kc, g.x_mods | extra, root, False, GrabModeAsync, GrabModeAsync);
    }
    XSync(dpy, False);
    if (g_last_x_error != 0) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      log().warn("x11: cannot block {}: another client holds it (X error {})", combo.text,
                 g_last_x_error.load());
      for (unsigned extra : kIgnoredMasks) XUngrabKey(dpy, kc, g.x_mods | extra, root);
      continue;
    }
    log().info("x11: blocking {} (passive grab on key code {})", combo.text, kc);
    grabs.push_back(std::move(g));
  }
}

void X11Sensor::Impl::ungrab_combos() {
  for (const auto& g : grabs) {
    for (unsigned extra : kIgnoredMasks) XUngrabKey(dpy, g.keycode, g.x_mods | extra, root);
  }
  grabs.clear();
}

Result<void> X11Sensor::Impl::start(SensorContext& c) {
  if (running) return ok();
  ctx = &c;
  std::string name = display_name;
  if (name.empty()) name = c.policy()->settings().keyboard.display;
  if (name.empty()) {
    const char* env = std::getenv("DISPLAY");  // NOLINT: read once at start
    if (env != nullptr) name = env;
  }
  if (name.empty()) return Error{"x11: no X display (set DISPLAY or settings.keyboard.display)"};
  XSetErrorHandler(on_x_error);
  dpy = XOpenDisplay(name.c_str());
  if (dpy == nullptr) return Error{"x11: cannot open display " + name};
  auto fail = [this](Error e) {
    stop();
    return e;
  };
  XSetIOErrorExitHandler(dpy, on_io_error_exit, &server_gone);
  root = DefaultRootWindow(dpy);
  int ev = 0, err = 0;
  if (!XQueryExtension(dpy, "XInputExtension", &xi_opcode, &ev, &err)) {
    return fail(Error{"x11: the X server on " + name + " has no XInput extension"});
  }
  int major = 2, minor = 2;
  if (XIQueryVersion(dpy, &major, &minor) != Success) {
    return fail(Error{"x11: XInput 2.2 is not available on " + name});
  }
  int xkb_major = XkbMajorVersion, xkb_minor = XkbMinorVersion, xkb_op = 0, xkb_err = 0;
  if (!XkbQueryExtension(dpy, &xkb_op, &xkb_event, &xkb_err, &xkb_major, &xkb_minor)) {
    return fail(Error{"x11: the X server on " + name + " has no XKB extension"});
  }
  xcb = xcb_connect(name.c_str(), nullptr);
  if (xcb == nullptr || xcb_connection_has_error(xcb) != 0) {
    return fail(Error{"x11: xcb cannot connect to " + name});
  }
  if (xkb_x11_setup_xkb_extension(xcb, XKB_X11_MIN_MAJOR_XKB_VERSION, XKB_X11_MIN_MINOR_XKB_VERSION,
                                  XKB_X11_SETUP_XKB_EXTENSION_NO_FLAGS, nullptr, nullptr, nullptr,
                                  nullptr) == 0) {
    return fail(Error{"x11: xkbcommon-x11 cannot set up XKB on " + name});
  }
  xkb_device = xkb_x11_get_core_keyboard_device_id(xcb);
  if (xkb_device < 0) return fail(Error{"x11: no core keyboard on " + name});
  if (auto r = load_keymap(); !r) return fail(std::move(r).error());
  net_wm_pid = XInternAtom(dpy, "_NET_WM_PID", False);
  net_wm_name = XInternAtom(dpy, "_NET_WM_NAME", False);
  utf8_string = XInternAtom(dpy, "UTF8_STRING", False);

  unsigned char bits[XIMaskLen(XI_LASTEVENT)] = {};
  XISetMask(bits, XI_RawKeyPress);
  XISetMask(bits, XI_RawKeyRelease);
  XIEventMask mask{XIAllMasterDevices, static_cast<int>(sizeof bits), bits};
  XISelectEvents(dpy, root, &mask, 1);
  XkbSelectEvents(dpy, XkbUseCoreKbd, XkbNewKeyboardNotifyMask | XkbMapNotifyMask,
                  XkbNewKeyboardNotifyMask | XkbMapNotifyMask);
  XkbSelectEventDetails(dpy, XkbUseCoreKbd, XkbStateNotify, XkbAllStateComponentsMask,
                        XkbModifierStateMask | XkbGroupStateMask);
  grab_combos();
  XSync(dpy, False);
  wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return fail(errno_error("x11: eventfd"));
  log().info("x11: watching raw key events on display {}", name);
  stopping = false;
  running = true;
  reader = std::thread([this] { run(); });
  name_thread(reader, "rs-x11");
  return ok();
}

std::string X11Sensor::Impl::device_name(int id) {
  auto it = devices.find(id);
  if (it != devices.end()) return it->second;
  int n = 0;
  std::string name = "X11 device " + std::to_string(id);
  if (XIDeviceInfo* info = XIQueryDevice(dpy, id, &n); info != nullptr) {
    if (n > 0 && info[0].name != nullptr) name = std::string("X11 ") + info[0].name;
    XIFreeDeviceInfo(info);
  }
  devices.emplace(id, name);
  return name;
}

// The focused window's process and title: the focus may be a child of the client's top-level
// window, so the tree is walked up to the first window carrying _NET_WM_PID.
void X11Sensor::Impl::refresh_focus() {
  Window w = 0;
  int revert = 0;
  XGetInputFocus(dpy, &w, &revert);
  if (w == focus) return;
  focus = w;
  focus_pid = 0;
  focus_title.clear();
  while (w != 0 && w != PointerRoot && w != root) {
    Atom type = 0;
    int format = 0;
    unsigned long items = 0, after = 0;
    unsigned char* data = nullptr;
    if (focus_pid == 0 &&
        XGetWindowProperty(dpy, w, net_wm_pid, 0, 1, False, XA_CARDINAL, &type, &format, &items,
                           &after, &data) == Success &&
        data != nullptr) {
      if (format == 32 && items == 1)
        focus_pid = static_cast<int32_t>(*reinterpret_cast<long*>(data));
      XFree(data);
      data = nullptr;
    }
    if (focus_title.empty() &&
        XGetWindowProperty(dpy, w, net_wm_name, 0, 1024, False, utf8_string, &type, &format, &items,
                           &after, &data) == Success &&
        data != nullptr) {
      focus_title.assign(reinterpret_cast<char*>(data), items);
      XFree(data);
      data = nullptr;
    }
    if (focus_title.empty()) {
      char* title = nullptr;
      if (XFetchName(dpy, w, &title) != 0 && title != nullptr) {
        focus_title = title;
        XFree(title);
      }
    }
    if (focus_pid != 0) break;
    Window root_ret = 0, parent = 0, *children = nullptr;
    unsigned int count = 0;
    if (XQueryTree(dpy, w, &root_ret, &parent, &children, &count) == 0) break;
    if (children != nullptr) XFree(children);
    w = parent;
  }
}

void X11Sensor::Impl::on_raw(const XIRawEvent& raw, bool down) {
  counters.seen.fetch_add(1, std::memory_order_relaxed);
  const auto keycode = static_cast<uint32_t>(raw.detail);
  KeyReport r;
  r.down = down;
  r.code = static_cast<uint16_t>(keycode >= kEvdevToXkbOffset ? keycode - kEvdevToXkbOffset : 0);
  r.time_ns = clock::realtime_ns();
  r.translation =
      down ? translator->peek(keycode) : KeyTranslation{translator->name_of(keycode), "", 0};
  if (down && (raw.flags & XIKeyRepeat) == 0) refresh_focus();
  r.pid = focus_pid;
  r.window_title = focus_title;
  r.device = device_name(raw.sourceid);
  if (down) {
    for (const auto& g : grabs) {
      if (g.keycode == keycode && g.modifiers == r.translation.modifiers) {
        r.blocked_combo = &g.combo;
        counters.denied.fetch_add(1, std::memory_order_relaxed);
        break;
      }
    }
  }
  reporter.report(*ctx, r);
}

void X11Sensor::Impl::run() {
  const int xfd = ConnectionNumber(dpy);
  while (!stopping.load(std::memory_order_relaxed) && !server_gone) {
    pollfd fds[2] = {{xfd, POLLIN, 0}, {wake, POLLIN, 0}};
    // Events already read into Xlib's queue do not make the socket readable.
    if (XPending(dpy) == 0 && ::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      log().error("x11: poll failed: {}", errno_text(errno));
      break;
    }
    if ((fds[1].revents & POLLIN) != 0) break;
    while (!server_gone && XPending(dpy) > 0) {
      XEvent ev;
      XNextEvent(dpy, &ev);
      if (ev.type == GenericEvent && ev.xcookie.extension == xi_opcode &&
          XGetEventData(dpy, &ev.xcookie)) {
        const auto* raw = static_cast<const XIRawEvent*>(ev.xcookie.data);
        if (ev.xcookie.evtype == XI_RawKeyPress) on_raw(*raw, true);
        if (ev.xcookie.evtype == XI_RawKeyRelease) on_raw(*raw, false);
        XFreeEventData(dpy, &ev.xcookie);
      } else if (ev.type == xkb_event) {
        const auto* xkb = reinterpret_cast<const XkbAnyEvent*>(&ev);
        if (xkb->xkb_type == XkbStateNotify) {
          const auto* s = reinterpret_cast<const XkbStateNotifyEvent*>(&ev);
          translator->set_state(s->base_mods, s->latched_mods, s->locked_mods,
                                static_cast<uint32_t>(s->group));
        } else if (xkb->xkb_type == XkbNewKeyboardNotify || xkb->xkb_type == XkbMapNotify) {
          // A new layout (setxkbmap): translate with it from now on, and grab again, since
          // the blocked keys may sit on other key codes.
          if (auto r = load_keymap(); !r) {
            counters.errors.fetch_add(1, std::memory_order_relaxed);
            log().error("{}", r.error().message);
          }
          ungrab_combos();
          grab_combos();
          log().info("x11: keymap changed; translating with the new one");
        }
      } else if (ev.type == MappingNotify) {
        XRefreshKeyboardMapping(&ev.xmapping);
      }
      // KeyPress/KeyRelease here come from the passive grabs: the blocked key, already
      // reported from its raw event.
    }
  }
  if (server_gone) {
    counters.errors.fetch_add(1, std::memory_order_relaxed);
    log().error("x11: the connection to the X server was lost; the x11 sensor stopped");
  }
}

void X11Sensor::Impl::stop() {
  if (running) {
    running = false;
    stopping = true;
    const uint64_t one = 1;
    if (::write(wake, &one, sizeof one) < 0) {
      log().warn("x11: cannot wake the reader: {}", errno_text(errno));
    }
    if (reader.joinable()) reader.join();
  }
  if (dpy != nullptr) {
    // A lost connection is left alone: Xlib must not write to it again.
    if (!server_gone) {
      ungrab_combos();
      XCloseDisplay(dpy);
    }
    dpy = nullptr;
  }
  translator.reset();
  if (xcb != nullptr) xcb_disconnect(xcb);
  xcb = nullptr;
  if (wake >= 0) ::close(wake);
  wake = -1;
}

X11Sensor::X11Sensor(std::string display) : impl_(std::make_unique<Impl>()) {
  impl_->display_name = std::move(display);
}

X11Sensor::~X11Sensor() { stop(); }

Result<void> X11Sensor::start(SensorContext& ctx) { return impl_->start(ctx); }

void X11Sensor::stop() { impl_->stop(); }

SensorStats X11Sensor::stats() const { return SensorStats::from(impl_->counters); }

}  // namespace ringside
