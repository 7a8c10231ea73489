// evdev keyboard sensor (see evdev.hpp).
#include "sensors/kernel/evdev.hpp"

#include <fcntl.h>
#include <linux/uinput.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string_view>
#include <thread>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "sensors/kernel/evdev_stream.hpp"
#include "sensors/key_event.hpp"

namespace ringside {

namespace {

constexpr const char* kInputDir = "/dev/input";
constexpr const char* kUinput = "/dev/uinput";
// The devices the sensor creates to re-emit a grabbed keyboard are named so; it never reads them.
constexpr std::string_view kReemitPrefix = "ringside: ";

struct Device {
  std::string path;
  std::string label;  // "path (name)"
  int fd = -1;
  bool recorded = false;  // a file or FIFO, not an input device
  evdev::StreamDecoder stream;
  std::unique_ptr<evdev::KeyDecoder> keys;
  // Grabbed (EVIOCGRAB) to block combinations: what passes is written to `uinput`.
  int uinput = -1;
  std::unique_ptr<evdev::ComboFilter> filter;
};

// Releases a grabbed device's grab and its re-emitting device.
void ungrab(Device& d) {
  if (d.uinput < 0) return;
  (void)::ioctl(d.fd, EVIOCGRAB, 0);
  (void)::ioctl(d.uinput, UI_DEV_DESTROY);
  ::close(d.uinput);
  d.uinput = -1;
}

}  // namespace

struct EvdevSensor::Impl {
  Result<void> start(SensorContext& c);
  void stop();
  void run();
  Result<void> open_device(const std::string& path, bool explicit_path);
  void close_device(int fd, const char* why);
  void read_device(Device& d);
  void rescan();
  Result<void> grab(Device& d, const uint8_t* key_bits, size_t size);

  SensorContext* ctx = nullptr;
  SensorCounters counters;
  std::unique_ptr<KeyTranslator> translator;
  std::map<int, Device> devices;  // by fd
  KeyEventReporter reporter{Level::kKernel, "evdev"};
  // Combinations to block by grabbing each keyboard (empty: only observe).
  std::vector<evdev::ComboFilter::Combo> combos;
  int inotify = -1;
  int wake = -1;
  bool watching_dev = false;  // /dev/input absent: watching /dev for it to appear
  std::thread reader;
  bool running = false;
  std::atomic<bool> stopping{false};
};

Result<void> EvdevSensor::Impl::open_device(const std::string& path, bool explicit_path) {
  for (const auto& [fd, d] : devices) {
    if (d.path == path) return ok();
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return errno_error("evdev: open " + path);
  struct stat st {};
  (void)::fstat(fd, &st);
  Device d;
  d.path = path;
  d.fd = fd;
  d.recorded = !S_ISCHR(st.st_mode);
  if (d.recorded) {
    d.label = path + " (recorded stream)";
  } else {
    uint8_t bits[KEY_MAX / 8 + 1] = {};
    if (::ioctl(fd, EVIOCGBIT(EV_KEY, sizeof bits), bits) < 0 ||
        !evdev::is_keyboard(bits, sizeof bits)) {
      ::close(fd);
      if (explicit_path) return Error{"evdev: " + path + " is not a keyboard"};
      return ok();  // a mouse, a power button: not ours
    }
    char name[256] = {};
    (void)::ioctl(fd, EVIOCGNAME(sizeof name - 1), name);
    if (std::string_view(name).starts_with(kReemitPrefix)) {  // our own re-emitting device
      ::close(fd);
      return ok();
    }
    d.label = path + " (" + name + ")";
    if (!combos.empty()) {
      if (auto r = grab(d, bits, sizeof bits); !r) {
        counters.errors.fetch_add(1, std::memory_order_relaxed);
        log().warn("{}; {} is only observed", r.error().message, d.label);
      }
    }
  }
  d.keys = std::make_unique<evdev::KeyDecoder>(*translator);
  log().info("evdev: reading {}", d.label);
  devices.emplace(fd, std::move(d));
  return ok();
}

// Creates a uinput keyboard with the device's keys, then takes the device for ourselves: from
// here on its events reach the system only through what read_device() writes to the copy.
Result<void> EvdevSensor::Impl::grab(Device& d, const uint8_t* key_bits, size_t size) {
  const int u = ::open(kUinput, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (u < 0) return errno_error("evdev: open " + std::string(kUinput));
  auto fail = [&](const char* what) {
    auto e = errno_error(std::string("evdev: ") + what + " for " + d.label);
    ::close(u);
    return e;
  };
  if (::ioctl(u, UI_SET_EVBIT, EV_KEY) < 0 || ::ioctl(u, UI_SET_EVBIT, EV_SYN) < 0 ||
      ::ioctl(u, UI_SET_EVBIT, EV_MSC) < 0 || ::ioctl(u, UI_SET_MSCBIT, MSC_SCAN) < 0) {
    return fail("uinput event types");
  }
  for (size_t code = 0; code < size * 8 && code <= KEY_MAX; ++code) {
    if ((key_bits[code / 8] & (1U << (code % 8))) == 0) continue;
    if (::ioctl(u, UI_SET_KEYBIT, static_cast<int>(code)) < 0) return fail("uinput key bits");
  }
  uinput_setup setup{};
  (void)::ioctl(d.fd, EVIOCGID, &setup.id);
  const std::string name = std::string(kReemitPrefix) + d.path;
  std::snprintf(setup.name, sizeof setup.name, "%s", name.c_str());
  if (::ioctl(u, UI_DEV_SETUP, &setup) < 0 || ::ioctl(u, UI_DEV_CREATE) < 0) {
    return fail("create the uinput device");
  }
  if (::ioctl(d.fd, EVIOCGRAB, 1) < 0) {
    auto e = errno_error("evdev: grab " + d.label);
    (void)::ioctl(u, UI_DEV_DESTROY);
    ::close(u);
    return e;
  }
  d.uinput = u;
  d.filter = std::make_unique<evdev::ComboFilter>(combos);
  log().info(
      "evdev: {} grabbed; its keys are re-emitted through uinput, less the blocked "
      "combinations",
      d.label);
  return ok();
}

void EvdevSensor::Impl::rescan() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kInputDir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("event", 0) != 0) continue;
    if (auto r = open_device(entry.path().string(), false); !r) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      log().warn("{}", r.error().message);
    }
  }
}

Result<void> EvdevSensor::Impl::start(SensorContext& c) {
  if (running) return ok();
  ctx = &c;
  const auto pol = c.policy();
  const auto& ks = pol->settings().keyboard;
  auto t = KeyTranslator::from_names(ks.layout, ks.variant);
  if (!t) return std::move(t).error();
  translator = std::move(t).value();
  combos.clear();
  if (!ks.block.empty()) {
    if (::access(kUinput, W_OK) != 0) {
      log().warn(
          "evdev: key combinations are not blocked at the kernel level: grabbing a keyboard "
          "needs {} to re-emit the other keys ({}); the x11 sensor blocks them",
          kUinput, errno_text(errno));
    } else {
      for (const policy::KeyCombo& kc : ks.block) {
        evdev::ComboFilter::Combo combo{kc.modifiers, {}, kc.text};
        for (uint32_t xkb : translator->keycodes_for(kc.key)) {
          if (xkb >= kEvdevToXkbOffset) {
            combo.codes.push_back(static_cast<uint16_t>(xkb - kEvdevToXkbOffset));
          }
        }
        if (combo.codes.empty()) {
          log().warn("evdev: '{}' is not on layout {}; not blocked at this level", kc.key,
                     ks.layout);
          continue;
        }
        combos.push_back(std::move(combo));
      }
    }
  }
  wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return errno_error("evdev: eventfd");
  if (!ks.devices.empty()) {
    for (const auto& path : ks.devices) {
      if (auto r = open_device(path, true); !r) {
        stop();
        return r;
      }
    }
  } else {
    inotify = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify < 0) {
      auto e = errno_error("evdev: inotify_init1");
      stop();
      return e;
    }
    if (::inotify_add_watch(inotify, kInputDir, IN_CREATE | IN_ATTRIB) < 0) {
      // No input devices at all (a VM, a container): wait for the directory to appear.
      if (::inotify_add_watch(inotify, "/dev", IN_CREATE) < 0) {
        auto e = errno_error("evdev: inotify on /dev");
        stop();
        return e;
      }
      watching_dev = true;
      log().info("evdev: {} does not exist; watching /dev for it", kInputDir);
    } else {
      rescan();
    }
    if (devices.empty()) log().info("evdev: no keyboard yet; new devices are picked up");
  }
  stopping = false;
  running = true;
  reader = std::thread([this] { run(); });
  name_thread(reader, "rs-evdev");
  return ok();
}

void EvdevSensor::Impl::close_device(int fd, const char* why) {
  auto it = devices.find(fd);
  if (it == devices.end()) return;
  if (it->second.stream.pending() > 0) {
    counters.errors.fetch_add(1, std::memory_order_relaxed);
    log().warn("evdev: {} ended inside an event ({} bytes of a truncated event skipped)",
               it->second.label, it->second.stream.pending());
  }
  log().info("evdev: {} closed ({})", it->second.label, why);
  ungrab(it->second);
  ::close(fd);
  devices.erase(it);
}

void EvdevSensor::Impl::read_device(Device& d) {
  uint8_t buf[sizeof(input_event) * 64 + 7];
  std::vector<input_event> events;
  while (true) {
    const ssize_t n = ::read(d.fd, buf, sizeof buf);
    if (n == 0) return close_device(d.fd, "end of stream");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      if (errno != ENODEV) counters.errors.fetch_add(1, std::memory_order_relaxed);
      return close_device(d.fd, errno == ENODEV ? "unplugged" : "read error");
    }
    events.clear();
    d.stream.feed(buf, static_cast<size_t>(n), events);
    for (const input_event& ie : events) {
      if (ie.type == EV_SYN && ie.code == SYN_DROPPED) {
        // The kernel's buffer for this client overflowed: events were lost.
        counters.dropped.fetch_add(1, std::memory_order_relaxed);
        log().warn("evdev: {} reported SYN_DROPPED (events lost)", d.label);
        continue;
      }
      const uint64_t bad_before = d.keys->malformed();
      auto k = d.keys->on_event(ie);
      evdev::ComboFilter::Outcome passed;
      if (d.filter) {
        passed = d.filter->on_event(ie, k);
        if (passed.forward && ::write(d.uinput, &ie, sizeof ie) != sizeof ie) {
          counters.dropped.fetch_add(1, std::memory_order_relaxed);  // a key the system lost
        }
      }
      if (d.keys->malformed() != bad_before) {
        counters.errors.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (!k) continue;
      counters.seen.fetch_add(1, std::memory_order_relaxed);
      KeyReport r;
      r.down = k->down;
      r.code = k->code;
      r.translation = std::move(k->translation);
      r.time_ns = d.recorded || k->time_ns <= 0 ? clock::realtime_ns() : k->time_ns;
      r.device = d.label;
      r.blocked_combo = passed.blocked;
      reporter.report(*ctx, r);
    }
    if (static_cast<size_t>(n) < sizeof buf && !d.recorded) return;
  }
}

void EvdevSensor::Impl::run() {
  while (!stopping.load(std::memory_order_relaxed)) {
    std::vector<pollfd> fds;
    fds.push_back({wake, POLLIN, 0});
    if (inotify >= 0) fds.push_back({inotify, POLLIN, 0});
    for (const auto& [fd, d] : devices) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      log().error("evdev: poll failed: {}", errno_text(errno));
      break;
    }
    if ((fds[0].revents & POLLIN) != 0) break;
    size_t i = 1;
    if (inotify >= 0) {
      if ((fds[1].revents & POLLIN) != 0) {
        alignas(inotify_event) char buf[4096];
        while (::read(inotify, buf, sizeof buf) > 0) {
        }
        if (watching_dev && ::inotify_add_watch(inotify, kInputDir, IN_CREATE | IN_ATTRIB) >= 0) {
          watching_dev = false;
        }
        if (!watching_dev) rescan();
      }
      i = 2;
    }
    for (; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto it = devices.find(fds[i].fd);
      if (it == devices.end()) continue;
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) read_device(it->second);
    }
  }
}

void EvdevSensor::Impl::stop() {
  if (running) {
    running = false;
    stopping = true;
    const uint64_t one = 1;
    if (::write(wake, &one, sizeof one) < 0) {
      log().warn("evdev: cannot wake the reader: {}", errno_text(errno));
    }
    if (reader.joinable()) reader.join();
  }
  for (auto& [fd, d] : devices) {
    ungrab(d);
    ::close(fd);
  }
  devices.clear();
  if (inotify >= 0) ::close(inotify);
  if (wake >= 0) ::close(wake);
  inotify = wake = -1;
}

EvdevSensor::EvdevSensor() : impl_(std::make_unique<Impl>()) {}

EvdevSensor::~EvdevSensor() { stop(); }

Result<void> EvdevSensor::start(SensorContext& ctx) { return impl_->start(ctx); }

void EvdevSensor::stop() { impl_->stop(); }

SensorStats EvdevSensor::stats() const { return SensorStats::from(impl_->counters); }

}  // namespace ringside
