// `ringside lab --quick` end to end: the real agent at each level, monitor and deny, over the
// whole scenario battery, then the three report files. Checks what issue #7 accepts: the kernel
// level sees every process, file and network scenario and blocks every deny-mode one (except
// the documented ones no kernel mechanism here can refuse), every user-level miss has its
// cause, and the HTML page renders in headless Chromium without console errors and is not
// blank. Long (about half a minute): suite LabSlow, run once, not again under ASan.

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

// The distinct byte values of a PNG's decompressed image data (filter bytes included): a
// single-colour image has a handful, a page with text and charts has hundreds.
size_t png_distinct_bytes(const std::string& png, std::string* error) {
  if (png.size() < 8 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
    *error = "not a PNG";
    return 0;
  }
  std::string idat;
  for (size_t at = 8; at + 12 <= png.size();) {
    const uint32_t len = be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (at + 12 + len > png.size()) break;
    if (type == "IDAT") idat += png.substr(at + 8, len);
    at += 12 + len;
  }
  z_stream z{};
  if (inflateInit(&z) != Z_OK) {
    *error = "inflateInit";
    return 0;
  }
  z.next_in = reinterpret_cast<Bytef*>(idat.data());
  z.avail_in = static_cast<uInt>(idat.size());
  std::set<uint8_t> seen;
  std::vector<uint8_t> buf(1 << 16);
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = buf.data();
    z.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&z, Z_NO_FLUSH);
    for (size_t i = 0; i < buf.size() - z.avail_out; ++i) seen.insert(buf[i]);
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) *error = "inflate failed: " + std::to_string(rc);
  return seen.size();
}

class LabSlow : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root()) return;
    out_ = std::make_unique<ScratchDir>("lab");
    const auto t0 = std::chrono::steady_clock::now();
    run_ = run({build_dir() + "/ringside", "lab", "--quick", "--out", out_->path()}, {}, 240s);
    elapsed_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("ringside lab --quick took %.1f s (exit %d)\n", elapsed_s_, run_.exit_code);
    report_ = json::parse(slurp(out_->file("report.json")), nullptr, false);
  }
  // The kernel cells that are not as expected and any pass run again because its agent
  // reported nothing, printed last so that the cause is in the tail of the output.
  static void TearDownTestSuite() {
    if (report_.is_object()) {
      for (const auto& n : report_["noise"]) {
        const std::string text = n.get<std::string>();
        if (text.find("was run again") != std::string::npos) {
          std::printf("lab: %s\n", text.c_str());
        }
      }
      for (const auto& s : report_["scenarios"]) {
        if (s["area"] == "keyboard") continue;
        for (const auto& c : s["cells"]) {
          if (c["level"] != "kernel") continue;
          if (c["result"] == (c["mode"] == "monitor" ? "seen" : "blocked")) continue;
          std::printf("lab: kernel cell not as expected: %s %s\n", s["id"].dump().c_str(),
                      c.dump().c_str());
        }
      }
    }
    out_.reset();
  }

  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    ASSERT_EQ(run_.exit_code, 0) << run_.err.substr(run_.err.size() > 4000 ? run_.err.size() - 4000
                                                                           : 0);
    ASSERT_TRUE(report_.is_object()) << "report.json does not parse";
  }

  static inline std::unique_ptr<ScratchDir> out_;
  static inline RunResult run_;
  static inline double elapsed_s_ = 0;
  static inline json report_;
};

TEST_F(LabSlow, QuickRunWritesTheThreeReportsWithinThreeMinutes) {
  for (const char* f : {"report.json", "report.md", "report.html"}) {
    EXPECT_GT(std::filesystem::file_size(out_->file(f)), 1000u) << f;
  }
  EXPECT_LT(elapsed_s_, 180.0);
  EXPECT_GE(report_["scenarios"].size(), 30u);
  EXPECT_TRUE(report_["errors"].empty()) << report_["errors"].dump(2);
  // Progress was shown while it ran.
  EXPECT_NE(run_.err.find("[lab] kernel/monitor process.static_exec"), std::string::npos);
}

TEST_F(LabSlow, KernelLevelSeesAndBlocksEveryProcessFileAndNetworkScenario) {
  // Renaming over a file and truncating one included: the immutable attribute refuses them.
  int cells = 0;
  for (const auto& s : report_["scenarios"]) {
    const std::string id = s["id"];
    if (s["area"] == "keyboard") continue;
    for (const auto& c : s["cells"]) {
      if (c["level"] != "kernel") continue;
      ++cells;
      EXPECT_EQ(c["result"], c["mode"] == "monitor" ? "seen" : "blocked") << id << ": " << c.dump();
    }
  }
  EXPECT_GE(cells, 60);
  for (const auto& sum : report_["summary"]) {
    if (sum["level"] != "kernel" || sum["area"] == "keyboard") continue;
    EXPECT_DOUBLE_EQ(sum["coverage_pct"].get<double>(), 100.0) << sum.dump();
    EXPECT_DOUBLE_EQ(sum["block_pct"].get<double>(), 100.0) << sum.dump();
  }
}

// The report's matrix is reproducible: a second run (scenarios only) gives the same result in
// every cell.
TEST_F(LabSlow, TwoRunsAgreeOnEveryCell) {
  ScratchDir second("lab-again");
  const RunResult r = run({build_dir() + "/ringside", "lab", "--quick", "--no-overhead",
                           "--no-peers", "--out", second.path()},
                          {}, 240s);
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(r.err.size() > 4000 ? r.err.size() - 4000 : 0);
  const json again = json::parse(slurp(second.file("report.json")), nullptr, false);
  ASSERT_TRUE(again.is_object());
  std::map<std::string, std::string> first_cells;
  for (const auto& s : report_["scenarios"]) {
    for (const auto& c : s["cells"]) {
      first_cells[s["id"].get<std::string>() + " " + c["level"].get<std::string>() + "/" +
                  c["mode"].get<std::string>()] = c["result"];
    }
  }
  size_t compared = 0;
  for (const auto& s : again["scenarios"]) {
    for (const auto& c : s["cells"]) {
      const std::string key = s["id"].get<std::string>() + " " + c["level"].get<std::string>() +
                              "/" + c["mode"].get<std::string>();
      ASSERT_TRUE(first_cells.count(key)) << key;
      EXPECT_EQ(c["result"].get<std::string>(), first_cells[key]) << key << ": " << c.dump();
      ++compared;
    }
  }
  EXPECT_EQ(compared, first_cells.size());
  std::printf("two lab runs: %zu cells compared\n", compared);
}

TEST_F(LabSlow, EveryUserLevelMissHasItsCause) {
  int misses = 0;
  std::set<std::string> causes;
  for (const auto& s : report_["scenarios"]) {
    for (const auto& c : s["cells"]) {
      if (c["level"] != "user") continue;
      EXPECT_NE(c["result"], "error") << s["id"] << ": " << c.dump();
      if (c["result"] != "missed" && c["result"] != "not_blocked") continue;
      ++misses;
      ASSERT_TRUE(c.contains("cause")) << s["id"];
      const std::string cause = c["cause"];
      EXPECT_EQ(cause.rfind("unexpected", 0), std::string::npos) << s["id"] << ": " << cause;
      causes.insert(cause.substr(0, cause.find(':')));
    }
  }
  // The user level's known blind spots were measured, not assumed: each one missed here.
  EXPECT_GE(misses, 10);
  for (const char* kind :
       {"static binary", "raw syscall instruction bypasses the libc execve the interposer hooks",
        "io_uring submits the open without a libc call", "cleared environment drops LD_PRELOAD"}) {
    EXPECT_EQ(causes.count(kind), 1u) << kind;
  }
}

TEST_F(LabSlow, KeystrokesAreSeenAtTheLevelTheyPassThrough) {
  std::map<std::string, json> cell;  // "scenario level mode" -> cell
  for (const auto& s : report_["scenarios"]) {
    for (const auto& c : s["cells"]) {
      cell[s["id"].get<std::string>() + " " + c["level"].get<std::string>() + " " +
           c["mode"].get<std::string>()] = c;
    }
  }
  // A terminal line: kernel TTY audit sees it, the X server never does.
  EXPECT_EQ(cell["keyboard.tty_line kernel monitor"]["result"], "seen")
      << cell["keyboard.tty_line kernel monitor"].dump();
  EXPECT_EQ(cell["keyboard.tty_line user monitor"]["result"], "missed");
  // Typed through XTEST: the X11 sensor sees it, the kernel's input layer never does.
  const json& x11 = cell["keyboard.x11_typing user monitor"];
  if (x11["result"] == "skipped") GTEST_SKIP() << "no X server here: " << x11.dump();
  EXPECT_EQ(x11["result"], "seen") << x11.dump();
  const json& kx11 = cell["keyboard.x11_typing kernel monitor"];
  EXPECT_EQ(kx11["result"], "missed") << kx11.dump();
  EXPECT_EQ(kx11["cause"].get<std::string>().rfind("XTEST input", 0), 0u) << kx11.dump();
  // A key combination: seen by the X11 sensor and, in deny mode, held by its passive grab
  // (the focused window never got the key); the kernel level cannot hold XTEST input.
  const json& combo = cell["keyboard.x11_combination user monitor"];
  EXPECT_EQ(combo["result"], "seen") << combo.dump();
  const json& held = cell["keyboard.x11_combination user deny"];
  EXPECT_EQ(held["result"], "blocked") << held.dump();
  EXPECT_NE(held["detail"].get<std::string>().find("failed with EACCES"), std::string::npos)
      << held.dump();
  const json& kheld = cell["keyboard.x11_combination kernel deny"];
  EXPECT_EQ(kheld["result"], "not_blocked") << kheld.dump();
  EXPECT_EQ(kheld["cause"].get<std::string>().rfind("XTEST input", 0), 0u) << kheld.dump();
  EXPECT_EQ(cell["keyboard.x11_typing user deny"]["result"], "skipped");
}

TEST_F(LabSlow, CorrelationJoinsBothLevelsAndListsTheBypasses) {
  int both = 0;
  for (const auto& c : report_["correlated"]) {
    if (c["ringside"]["seen_by"] == json({"kernel", "user"})) ++both;
  }
  EXPECT_GE(both, 15);
  bool static_bypass = false;
  for (const auto& b : report_["bypasses"]) {
    static_bypass = static_bypass || (b["scenario"] == "process.static_exec" &&
                                      b["ringside"]["seen_by"] == json({"kernel"}));
  }
  EXPECT_TRUE(static_bypass) << report_["bypasses"].dump(2);
  // The correlated records as events, one per line.
  std::istringstream lines(slurp(out_->file("correlated.jsonl")));
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) {
    const json ev = json::parse(line, nullptr, false);
    ASSERT_FALSE(ev.is_discarded());
    EXPECT_TRUE(ev["ringside"]["seen_by"].is_array());
    ++n;
  }
  EXPECT_EQ(n, report_["correlated"].size());
}

TEST_F(LabSlow, HtmlRendersInHeadlessChromiumWithoutConsoleErrors) {
  if (!std::filesystem::exists("/usr/bin/chromium")) {
    GTEST_SKIP() << "chromium is not installed (scripts/setup installs it)";
  }
  ScratchDir profile("chromium");
  const std::string shot = profile.file("report.png");
  const RunResult r = run(
      {"chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
       "--user-data-dir=" + profile.path(), "--enable-logging=stderr", "--v=0",
       "--screenshot=" + shot, "--window-size=1200,2000", "file://" + out_->file("report.html")},
      {}, 90s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("Uncaught"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("ERROR:CONSOLE"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(":CONSOLE("), std::string::npos) << r.err;
  std::string error;
  const size_t distinct = png_distinct_bytes(slurp(shot), &error);
  EXPECT_TRUE(error.empty()) << error;
  EXPECT_GT(distinct, 32u) << "the screenshot looks blank";
}

}  // namespace
}  // namespace ringside::e2e
