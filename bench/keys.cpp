// keys: how fast a key becomes an event at each level, and what the agent pays for it.
//
// User level (x11): an Xvfb on a free display, `ringside run --levels user --domains keyboard`
// watching it; this program injects --rate key presses per second for --seconds through XTEST
// (the way xdotool types). Latency per key press: the agent's event time (taken when its sensor
// read the raw event from the server) minus the time the press was handed to the server, both
// CLOCK_REALTIME. For comparison, the same program also reads the raw key events as a second
// client of the server. Agent CPU: all its threads, from the kernel's accounting, over the
// typing time.
//
// Kernel level (audit_tty): `ringside tty-session -- bash` on a pty running a read loop; this
// program writes --rate lines per second. Latency per line: from the write to the line's
// tty_input event appearing in the agent's JSONL output (so it includes the shell's read, the
// kernel's record, the agent and its sink). Agent CPU per line.
//
//   keys [--seconds N] [--rate R]        (root: audit needs CAP_AUDIT_CONTROL)

#include <X11/Xlib.h>
#include <X11/extensions/XInput2.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "lab/ab.hpp"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// "2026-11-23T23:16:01.333123456Z" -> ns since the epoch.
int64_t parse_ts(const std::string& s) {
  tm t{};
  if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &t) == nullptr) return 0;
  int64_t ns = static_cast<int64_t>(timegm(&t)) * 1000000000LL;
  const size_t dot = s.find('.');
  if (dot != std::string::npos) {
    int64_t frac = 0, scale = 100000000;
    for (size_t i = dot + 1; i < s.size() && isdigit(s[i]) && scale > 0; ++i, scale /= 10) {
      frac += (s[i] - '0') * scale;
    }
    ns += frac;
  }
  return ns;
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& out = "/dev/null") {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

void stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 250 && waitpid(pid, nullptr, WNOHANG) != pid; ++i) usleep(20000);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, WNOHANG);
}

std::vector<json> read_events(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

std::string str(const json& e, const char* a, const char* b) {
  if (!e.contains(a) || !e[a].contains(b) || !e[a][b].is_string()) return "";
  return e[a][b].get<std::string>();
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Agent {
  pid_t pid = 0;
  std::string jsonl;
  bool start(const std::string& dir, const std::string& levels, const std::string& policy) {
    const std::string pol = dir + "/policy.yaml", ready = dir + "/ready.json";
    std::ofstream(pol) << policy;
    jsonl = dir + "/events.jsonl";
    pid = spawn({std::string(RINGSIDE_BUILD_DIR) + "/ringside", "run", "--policy", pol, "--levels",
                 levels, "--domains", "keyboard", "--jsonl", jsonl, "--ready-file", ready,
                 "--hook-socket", dir + "/hook.sock", "-q"},
                dir + "/agent.log");
    struct stat st {};
    for (int i = 0; i < 400 && stat(ready.c_str(), &st) != 0; ++i) usleep(25000);
    return stat(ready.c_str(), &st) == 0;
  }
};

void report(const char* level, const char* what, std::vector<double> lat_us, double cpu_ns,
            double seconds, size_t n) {
  const double per_item_us = n > 0 ? cpu_ns / 1000.0 / static_cast<double>(n) : 0;
  std::printf(
      "%-6s %-28s n=%-5zu latency p50 %8.1f us  p99 %8.1f us   agent CPU %.3f %% of one "
      "core, %.1f us per %s (= %.2f %% of one core at 100/s)\n",
      level, what, n, pct(lat_us, 0.5), pct(lat_us, 0.99), 100.0 * cpu_ns / (seconds * 1e9),
      per_item_us, std::string(what).find("line") != std::string::npos ? "line" : "key",
      per_item_us * 100 / 1e4);
}

int bench_x11(const std::string& dir, int seconds, int rate) {
  int n = 150;
  std::string display;
  for (; n < 250; ++n) {
    struct stat st {};
    if (stat(("/tmp/.X11-unix/X" + std::to_string(n)).c_str(), &st) != 0 &&
        stat(("/tmp/.X" + std::to_string(n) + "-lock").c_str(), &st) != 0) {
      break;
    }
  }
  display = ":" + std::to_string(n);
  const pid_t xvfb = spawn({"Xvfb", display, "-screen", "0", "640x480x24", "-nolisten", "tcp"});
  Display* dpy = nullptr;
  for (int i = 0; i < 200 && dpy == nullptr; ++i) {
    usleep(25000);
    dpy = XOpenDisplay(display.c_str());
  }
  if (dpy == nullptr) {
    std::fprintf(stderr, "keys: Xvfb did not start on %s\n", display.c_str());
    stop(xvfb);
    return 1;
  }
  int op = 0, ev = 0, err = 0, major = 2, minor = 2;
  XQueryExtension(dpy, "XInputExtension", &op, &ev, &err);
  XIQueryVersion(dpy, &major, &minor);
  unsigned char bits[XIMaskLen(XI_LASTEVENT)] = {};
  XISetMask(bits, XI_RawKeyPress);
  XIEventMask mask{XIAllMasterDevices, static_cast<int>(sizeof bits), bits};
  XISelectEvents(dpy, DefaultRootWindow(dpy), &mask, 1);
  XSync(dpy, False);
  Agent agent;
  if (!agent.start(dir, "user",
                   "settings:\n  keyboard:\n    display: \"" + display + "\"\nrules: []\n")) {
    std::fprintf(stderr, "keys: the agent did not start (see %s/agent.log)\n", dir.c_str());
    stop(xvfb);
    return 1;
  }
  // The keys are injected here, through the XTEST extension on a connection of its own, at
  // exactly `rate` presses per second (a press and its release each time).
  Display* inj = XOpenDisplay(display.c_str());
  int xt_ev = 0, xt_err = 0, xt_major = 0, xt_minor = 0;
  if (inj == nullptr || !XTestQueryExtension(inj, &xt_ev, &xt_err, &xt_major, &xt_minor)) {
    std::fprintf(stderr, "keys: no XTEST extension on %s\n", display.c_str());
    if (inj != nullptr) XCloseDisplay(inj);
    stop(agent.pid);
    XCloseDisplay(dpy);
    stop(xvfb);
    return 1;
  }
  const int keys = seconds * rate;
  std::vector<int64_t> sent;  // when each press was handed to the server
  std::vector<int64_t> seen;  // when this (other) client read each raw key press
  sent.reserve(static_cast<size_t>(keys));
  const int xfd = ConnectionNumber(dpy);
  auto drain = [&](int timeout_ms) {
    pollfd p{xfd, POLLIN, 0};
    poll(&p, 1, timeout_ms);
    while (XPending(dpy) > 0) {
      XEvent e;
      XNextEvent(dpy, &e);
      if (e.type == GenericEvent && e.xcookie.extension == op && XGetEventData(dpy, &e.xcookie)) {
        if (e.xcookie.evtype == XI_RawKeyPress) seen.push_back(now_ns());
        XFreeEventData(dpy, &e.xcookie);
      }
    }
  };
  const uint64_t cpu0 = ringside::lab::process_cpu_ns(agent.pid);
  const auto t0 = Clock::now();
  for (int i = 0; i < keys; ++i) {
    const auto due = t0 + std::chrono::microseconds(1000000LL * i / rate);
    while (Clock::now() < due) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now());
      drain(static_cast<int>(std::max<int64_t>(0, left.count())));
    }
    const KeyCode kc = XKeysymToKeycode(inj, static_cast<KeySym>(XK_a + i % 26));
    sent.push_back(now_ns());
    XTestFakeKeyEvent(inj, kc, True, CurrentTime);
    XFlush(inj);
    XTestFakeKeyEvent(inj, kc, False, CurrentTime);
    XFlush(inj);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  for (int i = 0; i < 50 && seen.size() < sent.size(); ++i) drain(10);
  usleep(300000);
  const double cpu = static_cast<double>(ringside::lab::process_cpu_ns(agent.pid) - cpu0);
  stop(agent.pid);
  XCloseDisplay(inj);
  std::vector<double> lat;
  size_t i = 0;
  for (const auto& e : read_events(agent.jsonl)) {
    if (str(e, "event", "action") != "key_down" || i >= sent.size()) continue;
    lat.push_back(static_cast<double>(parse_ts(e["@timestamp"].get<std::string>()) - sent[i++]) /
                  1000.0);
  }
  std::vector<double> other;
  for (size_t k = 0; k < seen.size() && k < sent.size(); ++k) {
    other.push_back(static_cast<double>(seen[k] - sent[k]) / 1000.0);
  }
  report("user", "x11 key press (inject->event)", lat, cpu, secs, lat.size());
  std::printf(
      "       injected %zu presses in %.1f s (%.0f/s, each with its release); another client "
      "of the server read them after p50 %.1f us, p99 %.1f us\n",
      sent.size(), secs, static_cast<double>(sent.size()) / secs, pct(other, 0.5),
      pct(other, 0.99));
  XCloseDisplay(dpy);
  stop(xvfb);
  return lat.size() == sent.size() ? 0 : 1;
}

int bench_audit(const std::string& dir, int seconds, int rate) {
  Agent agent;
  if (!agent.start(dir, "kernel", "rules: []\n")) {
    std::fprintf(stderr, "keys: the agent did not start (see %s/agent.log)\n", dir.c_str());
    return 1;
  }
  int master = -1;
  const pid_t session = forkpty(&master, nullptr, nullptr, nullptr);
  if (session == 0) {
    execl((std::string(RINGSIDE_BUILD_DIR) + "/ringside").c_str(), "ringside", "tty-session", "--",
          "bash", "--norc", "--noprofile", "-c", "while read -r l; do :; done", nullptr);
    _exit(127);
  }
  std::thread drain([master] {
    char buf[4096];
    while (read(master, buf, sizeof buf) > 0) {
    }
  });
  usleep(500000);
  const int lines = seconds * rate;
  std::vector<int64_t> sent(static_cast<size_t>(lines));
  std::vector<double> lat;
  const uint64_t cpu0 = ringside::lab::process_cpu_ns(agent.pid);
  const auto t0 = Clock::now();
  size_t found = 0;
  std::ifstream in;
  std::string pending;
  for (int i = 0; i < lines ||
                  (found < sent.size() && Clock::now() - t0 < std::chrono::seconds(seconds + 5));) {
    if (i < lines && Clock::now() >= t0 + std::chrono::microseconds(1000000LL * i / rate)) {
      const std::string line = "line-" + std::to_string(i) + "\n";
      sent[static_cast<size_t>(i)] = now_ns();
      if (write(master, line.data(), line.size()) < 0) break;
      ++i;
    }
    if (!in.is_open()) in.open(agent.jsonl);
    std::string l;
    while (in.is_open() && std::getline(in, l)) {
      if (in.eof()) {  // a partial line: keep it for the next read
        pending += l;
        break;
      }
      l = pending + l;
      pending.clear();
      auto e = json::parse(l, nullptr, false);
      if (e.is_discarded() || str(e, "event", "action") != "tty_input") continue;
      const std::string t = str(e, "key", "text");
      if (t.rfind("line-", 0) != 0) continue;
      const size_t idx = std::strtoul(t.c_str() + 5, nullptr, 10);
      if (idx < sent.size()) lat.push_back(static_cast<double>(now_ns() - sent[idx]) / 1000.0);
      ++found;
    }
    in.clear();
    usleep(200);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = static_cast<double>(ringside::lab::process_cpu_ns(agent.pid) - cpu0);
  kill(session, SIGKILL);
  waitpid(session, nullptr, 0);
  close(master);
  drain.join();
  stop(agent.pid);
  report("kernel", "audit_tty line (write->jsonl)", lat, cpu, secs, lat.size());
  // The record's own time stamp is the start of the reading system call (audit's syscall
  // context), before the line was even written: no use for latency, so the JSONL time is taken.
  std::printf(
      "       wrote %d lines, %zu reported; latency includes the sink's batching (up to "
      "100 ms)\n",
      lines, lat.size());
  return lat.size() == static_cast<size_t>(lines) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 10, rate = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
    if (a == "--rate") rate = std::atoi(argv[i + 1]);
  }
  if (seconds <= 0 || rate <= 0 || rate > 1000) {
    std::fprintf(stderr, "usage: keys [--seconds N] [--rate 1..1000]\n");
    return 2;
  }
  char tmpl[] = "/tmp/rs-keys-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::printf("keys: %d s at %d keys (lines) per second\n", seconds, rate);
  int rc = 0;
  if (system("command -v Xvfb >/dev/null") == 0) {
    rc |= bench_x11(dir, seconds, rate);
  } else {
    std::printf("user   x11: skipped (needs Xvfb)\n");
  }
  if (geteuid() == 0) {
    rc |= bench_audit(dir, seconds, rate);
  } else {
    std::printf("kernel audit_tty: skipped (needs root)\n");
  }
  std::printf("kernel evdev: not measured (no input devices on this machine)\n");
  if (system(("rm -rf " + dir).c_str()) != 0)
    std::fprintf(stderr, "keys: cannot remove %s\n", dir.c_str());
  return rc;
}
