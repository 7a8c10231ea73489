#include "sinks/console_sink.hpp"

#include <unistd.h>

#include <ctime>

namespace ringside {

namespace {

void append_quoted_if_needed(std::string& out, std::string_view s) {
  const bool plain = !s.empty() && s.find_first_of(" \t\n\"'\\") == std::string_view::npos;
  if (plain) {
    for (char c : s) out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
    return;
  }
  out += '\'';
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  out += '\'';
}

void append_field(std::string& out, const Event& ev, Field f, std::string_view label) {
  if (auto v = ev.get_int(f)) {
    out += ' ';
    out += label;
    out += '=';
    out += std::to_string(*v);
  }
}

}  // namespace

std::string format_console_line(const Event& ev, bool color) {
  std::string out;
  const int64_t ns = ev.timestamp_ns();
  const time_t secs = static_cast<time_t>(ns / 1000000000);
  struct tm tm {};
  localtime_r(&secs, &tm);
  char ts[32];
  std::snprintf(ts, sizeof ts, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((ns / 1000000) % 1000));
  out += ts;
  char head[64];
  std::snprintf(head, sizeof head, " %-6s %-14s ", std::string(to_string(ev.level())).c_str(),
                std::string(ev.get_str(Field::kRingsideSensor).value_or("?")).c_str());
  out += head;
  const std::string_view verdict = ev.get_str(Field::kRingsideVerdict).value_or("-");
  const char* on = "";
  const char* off = "";
  if (color && verdict == "deny") on = "\033[1;31m", off = "\033[0m";
  if (color && verdict == "alert") on = "\033[1;33m", off = "\033[0m";
  char vbuf[48];
  std::snprintf(vbuf, sizeof vbuf, "%s%-5s%s ", on, std::string(verdict).c_str(), off);
  out += vbuf;
  char abuf[48];
  std::snprintf(abuf, sizeof abuf, "%-9s", std::string(ev.action()).c_str());
  out += abuf;
  append_field(out, ev, Field::kProcessPid, "pid");
  append_field(out, ev, Field::kProcessParentPid, "ppid");
  append_field(out, ev, Field::kUserId, "uid");
  if (auto exe = ev.get_str(Field::kProcessExecutable)) {
    out += ' ';
    append_quoted_if_needed(out, *exe);
  }
  const StringList args = ev.get_list(Field::kProcessArgs);
  bool first = true;
  for (std::string_view a : args) {
    if (first) {  // argv[0] repeats the program
      first = false;
      continue;
    }
    out += ' ';
    append_quoted_if_needed(out, a);
  }
  append_field(out, ev, Field::kProcessExitCode, "exit");
  for (Field f : {Field::kFilePath, Field::kFileTargetPath, Field::kDestinationIp,
                  Field::kDnsQuestionName, Field::kKeyText, Field::kRingsideMessage}) {
    if (auto s = ev.get_str(f)) {
      out += ' ';
      append_quoted_if_needed(out, *s);
    }
  }
  append_field(out, ev, Field::kDestinationPort, "port");
  if (auto rule = ev.get_str(Field::kRingsideRule)) {
    out += "  [";
    out += *rule;
    out += ']';
  }
  return out;
}

void ConsoleSink::write(const Event& ev) {
  buf_ += format_console_line(ev, color_);
  buf_ += '\n';
  ++pending_;
}

void ConsoleSink::flush() {
  size_t off = 0;
  while (off < buf_.size()) {
    const ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      failed_ += pending_;
      pending_ = 0;
      buf_.clear();
      return;
    }
    off += static_cast<size_t>(n);
  }
  written_ += pending_;
  pending_ = 0;
  buf_.clear();
}

}  // namespace ringside
