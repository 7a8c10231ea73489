// The interposer's wire format: what the hook encodes, the agent decodes to the same event;
// anything malformed is rejected with a reason, never guessed at, never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sensors/user/hook_decoder.hpp"
#include "sensors/user/preload/hook_logic.h"

namespace ringside {
namespace {

constexpr HookPeer kPeer{4242, 1000, 1001, 1002};

std::vector<uint8_t> encode(const rs_exec_report& r, bool want = false, uint32_t seq = 7) {
  std::vector<uint8_t> buf(RS_HOOK_MAX_MESSAGE);
  const size_t n = rs_hook_encode_exec(&r, seq, want ? 1 : 0, buf.data(), buf.size());
  buf.resize(n);
  return buf;
}

std::vector<std::string> list(const Event& ev, Field f) { return ev.get_list(f).to_vector(); }

// A message built field by field with the generic writer.
struct Builder {
  explicit Builder(uint16_t event_type = RS_EVENT_PROCESS_EXEC, uint16_t flags = 0,
                   uint16_t type = RS_HOOK_MSG_EVENT)
      : buf(RS_HOOK_MAX_MESSAGE) {
    rs_hook_writer_init(&w, buf.data(), buf.size(), type, 1, event_type, flags);
  }
  Builder& str(uint16_t f, std::string_view s) {
    EXPECT_EQ(rs_hook_put_str(&w, f, s.data(), s.size()), 0);
    return *this;
  }
  Builder& num(uint16_t f, int64_t v) {
    EXPECT_EQ(rs_hook_put_int(&w, f, v), 0);
    return *this;
  }
  Builder& valid() {
    return str(RS_FIELD_RINGSIDE_HOOK, "execve").str(RS_FIELD_PROCESS_EXECUTABLE, "/bin/x");
  }
  std::vector<uint8_t> done() {
    std::vector<uint8_t> out(buf.begin(),
                             buf.begin() + static_cast<long>(rs_hook_writer_finish(&w)));
    return out;
  }
  std::vector<uint8_t> buf;
  rs_hook_writer w{};
};

std::string rejection(const std::vector<uint8_t>& bytes) {
  auto r = decode_hook_message(bytes, kPeer, 1);
  if (r) return "";
  return r.error().message;
}

// Suite names carry the file's name so that `ctest -R hook` selects them.
TEST(hook_protocol, ExecRoundTripCarriesEveryField) {
  char* argv[] = {const_cast<char*>("prog"), const_cast<char*>("one"),
                  const_cast<char*>("two words"), const_cast<char*>(""), nullptr};
  const rs_exec_report r{"execvp", "/usr/bin/prog", argv, "/home/u", nullptr, 99, 0};
  const auto bytes = encode(r, /*want=*/true, 31);
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.size(), rs_hook_exec_size(&r));
  auto m = decode_hook_message(bytes, kPeer, 123456789);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->seq, 31u);
  EXPECT_TRUE(m->want_verdict);
  EXPECT_FALSE(m->new_process);
  const Event& ev = m->event;
  EXPECT_EQ(ev.type(), EventType::kProcessExec);
  EXPECT_EQ(ev.timestamp_ns(), 123456789);
  EXPECT_EQ(ev.level(), Level::kUser);
  EXPECT_EQ(ev.get_str(Field::kRingsideSensor), "preload");
  EXPECT_EQ(ev.get_str(Field::kRingsideLevel), "user");
  EXPECT_EQ(ev.get_str(Field::kEventOutcome), "unknown");
  EXPECT_EQ(ev.get_str(Field::kRingsideHook), "execvp");
  EXPECT_EQ(ev.get_str(Field::kProcessExecutable), "/usr/bin/prog");
  EXPECT_EQ(list(ev, Field::kProcessArgs),
            (std::vector<std::string>{"prog", "one", "two words", ""}));
  EXPECT_EQ(ev.get_int(Field::kProcessArgsCount), 4);
  EXPECT_EQ(ev.get_str(Field::kProcessWorkingDirectory), "/home/u");
  EXPECT_EQ(ev.get_int(Field::kProcessThreadId), 99);
  EXPECT_FALSE(ev.has(Field::kProcessCommandLine));
  EXPECT_FALSE(ev.has(Field::kRingsideTruncated));
  // Identity comes from the peer, and an exec-type sender is the process itself.
  EXPECT_EQ(ev.get_int(Field::kProcessPid), 4242);
  EXPECT_FALSE(ev.has(Field::kProcessParentPid));
  EXPECT_EQ(ev.get_int(Field::kUserId), 1000);
  EXPECT_EQ(ev.get_int(Field::kUserEffectiveId), 1001);
  EXPECT_EQ(ev.get_int(Field::kGroupId), 1002);
}

TEST(hook_protocol, LastMessageOnItsConnection) {
  char* argv[] = {const_cast<char*>("x"), nullptr};
  rs_exec_report r{"execv", "/x", argv, "/", nullptr, 1, 0};
  auto m = decode_hook_message(encode(r), kPeer, 1);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_FALSE(m->last);
  r.last = 1;
  const auto bytes = encode(r);
  EXPECT_EQ(rs_get_u16(bytes.data() + 14), RS_HOOK_FLAG_LAST);
  m = decode_hook_message(bytes, kPeer, 1);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->last);
}

// An exec report carries the count of reports the process could not send before it: the new
// image would not know it.
TEST(hook_protocol, ExecReportCarriesTheUnsentCount) {
  char* argv[] = {const_cast<char*>("x"), nullptr};
  rs_exec_report r{"execv", "/x", argv, "/", nullptr, 1, 0};
  r.unsent = 41;
  EXPECT_EQ(rs_hook_exec_size(&r), encode(r).size());
  auto m = decode_hook_message(encode(r), kPeer, 1);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->unsent, 41u);
  EXPECT_FALSE(m->counts_only);
  EXPECT_EQ(m->event.get_str(Field::kProcessExecutable), "/x");
}

// A process's last words: an UNSENT message is a count and nothing else.
TEST(hook_protocol, UnsentMessageIsACountOnly) {
  uint8_t buf[64];
  const size_t n = rs_hook_encode_unsent(3000, 1, buf, sizeof buf);
  ASSERT_GT(n, 0u);
  auto m = decode_hook_message(std::vector<uint8_t>(buf, buf + n), kPeer, 1);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->counts_only);
  EXPECT_TRUE(m->last);
  EXPECT_EQ(m->unsent, 3000u);
  EXPECT_EQ(rs_hook_encode_unsent(0, 0, buf, sizeof buf), 0u) << "nothing to say";
  EXPECT_EQ(rs_hook_encode_unsent(5, 0, buf, 10), 0u) << "does not fit";

  // Anything more, less or different is refused.
  using B = Builder;
  EXPECT_EQ(rejection(B(0, 0, RS_HOOK_MSG_UNSENT).num(RS_HOOK_FIELD_UNSENT, 2).done()), "");
  EXPECT_NE(rejection(B(0, 0, RS_HOOK_MSG_UNSENT).done()), "");
  EXPECT_NE(rejection(B(0, 0, RS_HOOK_MSG_UNSENT).num(RS_HOOK_FIELD_UNSENT, 0).done()), "");
  EXPECT_NE(rejection(B(0, 0, RS_HOOK_MSG_UNSENT).num(RS_HOOK_FIELD_UNSENT, -4).done()), "");
  EXPECT_NE(rejection(B(0, 0, RS_HOOK_MSG_UNSENT)
                          .num(RS_HOOK_FIELD_UNSENT, 2)
                          .num(RS_HOOK_FIELD_UNSENT, 2)
                          .done()),
            "");
  EXPECT_NE(rejection(B(0, 0, RS_HOOK_MSG_UNSENT).str(RS_HOOK_FIELD_UNSENT, "1234").done()), "");
  EXPECT_NE(rejection(B(0, 0, RS_HOOK_MSG_UNSENT).str(RS_FIELD_RINGSIDE_HOOK, "x").done()), "");
  EXPECT_NE(
      rejection(
          B(RS_EVENT_PROCESS_EXEC, 0, RS_HOOK_MSG_UNSENT).num(RS_HOOK_FIELD_UNSENT, 2).done()),
      "");
  EXPECT_NE(
      rejection(
          B(0, RS_HOOK_FLAG_WANT_VERDICT, RS_HOOK_MSG_UNSENT).num(RS_HOOK_FIELD_UNSENT, 2).done()),
      "");
}

TEST(hook_protocol, ExecutableIdentityTravelsOutsideTheEvent) {
  char* argv[] = {const_cast<char*>("x"), nullptr};
  const rs_file_id id{1, 0x803, 123456789012ULL, -5};
  rs_exec_report r{"execv", "/x", argv, "/", nullptr, 1, 0};
  r.identity = &id;
  const auto bytes = encode(r);
  EXPECT_EQ(bytes.size(), rs_hook_exec_size(&r));
  auto m = decode_hook_message(bytes, kPeer, 1);
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_TRUE(m->executable_identity);
  EXPECT_EQ(*m->executable_identity, (FileIdentity{0x803, 123456789012ULL, -5}));
  const rs_file_id none{0, 1, 2, 3};  // not a regular file: not sent
  r.identity = &none;
  m = decode_hook_message(encode(r), kPeer, 1);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_FALSE(m->executable_identity);

  const uint8_t id_bytes[RS_HOOK_IDENTITY_SIZE] = {};
  auto with = [&](size_t len, int times) {
    Builder b;
    b.valid();
    for (int i = 0; i < times; ++i) {
      EXPECT_EQ(rs_hook_put_str(&b.w, RS_HOOK_FIELD_EXECUTABLE_IDENTITY,
                                reinterpret_cast<const char*>(id_bytes), len),
                0);
    }
    return b.done();
  };
  EXPECT_EQ(rejection(with(RS_HOOK_IDENTITY_SIZE, 1)), "");
  EXPECT_NE(rejection(with(RS_HOOK_IDENTITY_SIZE - 1, 1)).find("identity"), std::string::npos);
  EXPECT_NE(rejection(with(RS_HOOK_IDENTITY_SIZE, 2)).find("repeated"), std::string::npos);
}

TEST(hook_protocol, SpawnTypeSenderIsTheParent) {
  char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>("echo hi"),
                  nullptr};
  const rs_exec_report r{"system", "/usr/bin/dash", argv, "/", "echo hi", 5, 1};
  auto m = decode_hook_message(encode(r), kPeer, 1);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->new_process);
  EXPECT_FALSE(m->want_verdict);
  EXPECT_EQ(m->event.get_int(Field::kProcessParentPid), 4242);
  EXPECT_FALSE(m->event.has(Field::kProcessPid));
  EXPECT_EQ(m->event.get_str(Field::kProcessCommandLine), "echo hi");
}

// An exec in place names its parent: the agent may read the report after the process has
// exited and been reaped, when /proc can no longer say. A spawn report's sender is the parent.
TEST(hook_protocol, ExecInPlaceNamesItsParent) {
  char* argv[] = {const_cast<char*>("x"), nullptr};
  rs_exec_report r{"execv", "/x", argv, "/", nullptr, 1, 0};
  r.parent_pid = 77;
  EXPECT_EQ(rs_hook_exec_size(&r), encode(r).size());
  auto m = decode_hook_message(encode(r), kPeer, 1);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->event.get_int(Field::kProcessPid), 4242);
  EXPECT_EQ(m->event.get_int(Field::kProcessParentPid), 77);

  r.new_process = 1;  // the encoder leaves it out: the peer is the parent
  m = decode_hook_message(encode(r), kPeer, 1);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->event.get_int(Field::kProcessParentPid), 4242);

  Builder spawn_naming(RS_EVENT_PROCESS_EXEC, RS_HOOK_FLAG_NEW_PROCESS);
  spawn_naming.valid().num(RS_FIELD_PROCESS_PARENT_PID, 77);
  EXPECT_NE(rejection(spawn_naming.done()).find("spawn report names a parent"), std::string::npos);
  for (int64_t bad : {int64_t{0}, int64_t{-5}, int64_t{1} << 40}) {
    Builder b;
    b.valid().num(RS_FIELD_PROCESS_PARENT_PID, bad);
    EXPECT_NE(rejection(b.done()).find("process.parent.pid is out of range"), std::string::npos)
        << bad;
  }
}

TEST(hook_protocol, PeerOutsideOurPidNamespaceSetsNoPid) {
  char* argv[] = {const_cast<char*>("x"), nullptr};
  const rs_exec_report r{"execv", "/x", argv, nullptr, nullptr, 1, 0};
  auto m = decode_hook_message(encode(r), HookPeer{0, 1, 1, 1}, 1);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_FALSE(m->event.has(Field::kProcessPid));
  EXPECT_FALSE(m->event.has(Field::kProcessWorkingDirectory));
}

TEST(hook_protocol, TooManyArgumentsEndWithTheMarker) {
  std::vector<std::string> store;
  for (int i = 0; i < 3000; ++i) store.push_back("a" + std::to_string(i));
  std::vector<char*> argv;
  for (auto& s : store) argv.push_back(s.data());
  argv.push_back(nullptr);
  const rs_exec_report r{"execve", "/bin/x", argv.data(), "/", nullptr, 1, 0};
  EXPECT_GT(rs_hook_exec_size(&r), static_cast<size_t>(RS_HOOK_MAX_MESSAGE));
  auto m = decode_hook_message(encode(r), kPeer, 1);
  ASSERT_TRUE(m) << m.error().message;
  const auto args = list(m->event, Field::kProcessArgs);
  ASSERT_EQ(args.size(), static_cast<size_t>(RS_HOOK_MAX_LIST_ELEMENTS));
  EXPECT_EQ(args[0], "a0");
  EXPECT_EQ(args[RS_HOOK_MAX_LIST_ELEMENTS - 2], "a1022");
  EXPECT_EQ(args.back(), RS_HOOK_TRUNCATED_MARKER);
  EXPECT_EQ(m->event.get_int(Field::kProcessArgsCount), 3000);
  EXPECT_EQ(list(m->event, Field::kRingsideTruncated), std::vector<std::string>{"process.args"});
}

TEST(hook_protocol, OversizeArgumentsAreCutToTheMessageLimit) {
  std::vector<std::string> store(200, std::string(1000, 'x'));
  std::vector<char*> argv;
  for (auto& s : store) argv.push_back(s.data());
  argv.push_back(nullptr);
  const std::string cmd(RS_HOOK_MAX_COMMAND_LINE + 10, 'c');
  const rs_exec_report r{"popen", "/bin/sh", argv.data(), "/", cmd.c_str(), 1, 1};
  const auto bytes = encode(r);
  ASSERT_FALSE(bytes.empty());
  EXPECT_LE(bytes.size(), static_cast<size_t>(RS_HOOK_MAX_MESSAGE));
  auto m = decode_hook_message(bytes, kPeer, 1);
  ASSERT_TRUE(m) << m.error().message;
  const auto args = list(m->event, Field::kProcessArgs);
  ASSERT_GT(args.size(), 10u);
  ASSERT_LT(args.size(), 200u);
  EXPECT_EQ(args.back(), RS_HOOK_TRUNCATED_MARKER);
  for (size_t i = 0; i + 1 < args.size(); ++i) EXPECT_EQ(args[i], store[i]);
  EXPECT_EQ(m->event.get_str(Field::kProcessCommandLine)->size(),
            static_cast<size_t>(RS_HOOK_MAX_COMMAND_LINE));
  EXPECT_EQ(list(m->event, Field::kRingsideTruncated),
            (std::vector<std::string>{"process.args", "process.command_line"}));
  EXPECT_EQ(m->event.get_int(Field::kProcessArgsCount), 200);
}

TEST(hook_protocol, EncoderRefusesWhatItCannotSend) {
  char* argv[] = {nullptr};
  const rs_exec_report no_exe{"execve", nullptr, argv, nullptr, nullptr, 1, 0};
  uint8_t small[RS_HOOK_MIN_EXEC_BUFFER];
  EXPECT_EQ(rs_hook_encode_exec(&no_exe, 1, 0, small, sizeof small), 0u);
  const rs_exec_report ok_report{"execve", "/x", argv, nullptr, nullptr, 1, 0};
  // A message that fits is written whole into any buffer; one that does not is cut only in a
  // buffer with room for every bounded field.
  const size_t size = rs_hook_exec_size(&ok_report);
  EXPECT_EQ(rs_hook_encode_exec(&ok_report, 1, 0, small, size), size);
  EXPECT_EQ(rs_hook_encode_exec(&ok_report, 1, 0, small, size - 1), 0u);
  EXPECT_GT(rs_hook_encode_exec(&ok_report, 1, 0, small, sizeof small), 0u);
  std::vector<std::string> store(40, std::string(100, 'a'));
  std::vector<char*> many;
  for (auto& a : store) many.push_back(a.data());
  many.push_back(nullptr);
  const rs_exec_report big{"execve", "/x", many.data(), nullptr, nullptr, 1, 0};
  ASSERT_GT(rs_hook_exec_size(&big), sizeof small);
  EXPECT_EQ(rs_hook_encode_exec(&big, 1, 0, small, RS_HOOK_MIN_EXEC_BUFFER - 1), 0u);
  EXPECT_GT(rs_hook_encode_exec(&big, 1, 0, small, sizeof small), 0u);  // cut to fit
  const std::string long_hook(RS_HOOK_MAX_HOOK_NAME + 1, 'h');
  const rs_exec_report bad_hook{long_hook.c_str(), "/x", argv, nullptr, nullptr, 1, 0};
  EXPECT_EQ(rs_hook_encode_exec(&bad_hook, 1, 0, small, sizeof small), 0u);
}

TEST(hook_protocol, GenericWriterRoundTripsEveryFieldType) {
  Builder b;
  b.valid()
      .num(RS_FIELD_PROCESS_THREAD_ID, -5)
      .num(RS_FIELD_PROCESS_ARGS_COUNT, INT64_MAX)
      .str(RS_FIELD_PROCESS_ARGS, "a")
      .str(RS_FIELD_PROCESS_ARGS, "")
      .str(RS_FIELD_PROCESS_COMMAND_LINE, "\xff\xfe binary ok");
  auto m = decode_hook_message(b.done(), kPeer, 1);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->event.get_int(Field::kProcessThreadId), -5);
  EXPECT_EQ(m->event.get_int(Field::kProcessArgsCount), INT64_MAX);
  EXPECT_EQ(list(m->event, Field::kProcessArgs), (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(m->event.get_str(Field::kProcessCommandLine), "\xff\xfe binary ok");
}

TEST(hook_protocol, MalformedMessagesAreRejectedWithAReason) {
  const auto good = Builder().valid().done();
  ASSERT_EQ(rejection(good), "");

  EXPECT_NE(rejection({1, 2, 3}).find("shorter than a message header"), std::string::npos);
  auto bad_magic = good;
  bad_magic[0] ^= 0xff;
  EXPECT_NE(rejection(bad_magic).find("bad magic"), std::string::npos);
  auto bad_version = good;
  bad_version[4] = 99;
  EXPECT_NE(rejection(bad_version).find("version"), std::string::npos);
  auto claims_more = good;
  rs_put_u32(claims_more.data() + 16, static_cast<uint32_t>(good.size()));  // past the end
  EXPECT_NE(rejection(claims_more).find("does not match"), std::string::npos);
  auto huge_claim = good;
  rs_put_u32(huge_claim.data() + 16, 0xFFFFFFF0u);
  EXPECT_NE(rejection(huge_claim).find("larger than"), std::string::npos);
  auto cut = good;
  cut.pop_back();  // the last TLV's value now runs past the end
  rs_put_u32(cut.data() + 16, static_cast<uint32_t>(cut.size() - RS_HOOK_HEADER_SIZE));
  EXPECT_NE(rejection(cut).find("past the end"), std::string::npos);
  auto bad_flags = good;
  rs_put_u16(bad_flags.data() + 14, 0x8000);
  EXPECT_NE(rejection(bad_flags).find("flag"), std::string::npos);
  std::vector<uint8_t> oversize(RS_HOOK_MAX_MESSAGE + 1, 0);
  std::copy(good.begin(), good.begin() + RS_HOOK_HEADER_SIZE, oversize.begin());
  EXPECT_NE(rejection(oversize).find("larger than"), std::string::npos);

  EXPECT_NE(rejection(Builder().valid().str(999, "x").done()).find("unknown field id 999"),
            std::string::npos);
  EXPECT_NE(rejection(Builder().valid().num(RS_FIELD_PROCESS_PID, 1).done())
                .find("process.pid is not accepted"),
            std::string::npos);
  EXPECT_NE(rejection(Builder().valid().num(RS_FIELD_USER_ID, 0).done()).find("user.id"),
            std::string::npos);
  EXPECT_NE(rejection(Builder().valid().str(RS_FIELD_PROCESS_THREAD_ID, "abcd").done())
                .find("has length 4, not 8"),
            std::string::npos);
  EXPECT_NE(
      rejection(
          Builder().valid().str(RS_FIELD_PROCESS_WORKING_DIRECTORY, std::string("a\0b", 3)).done())
          .find("NUL"),
      std::string::npos);
  EXPECT_NE(
      rejection(Builder().valid().str(RS_FIELD_PROCESS_EXECUTABLE, "/y").done()).find("repeated"),
      std::string::npos);
  EXPECT_NE(rejection(Builder().str(RS_FIELD_RINGSIDE_HOOK, "execve").done())
                .find("process.executable missing"),
            std::string::npos);
  EXPECT_NE(rejection(Builder()
                          .str(RS_FIELD_RINGSIDE_HOOK, "execve")
                          .str(RS_FIELD_PROCESS_EXECUTABLE, "relative/x")
                          .done())
                .find("not absolute"),
            std::string::npos);
  EXPECT_NE(rejection(Builder()
                          .str(RS_FIELD_RINGSIDE_HOOK, "Exec Ve!")
                          .str(RS_FIELD_PROCESS_EXECUTABLE, "/x")
                          .done())
                .find("ringside.hook"),
            std::string::npos);
  EXPECT_NE(rejection(Builder(RS_EVENT_KEYBOARD_KEY_DOWN).valid().done()).find("event type 50"),
            std::string::npos);
  EXPECT_NE(rejection(Builder(RS_EVENT_PROCESS_EXEC, 0, RS_HOOK_MSG_VERDICT).valid().done())
                .find("not an event"),
            std::string::npos);
  Builder many;
  many.valid();
  for (int i = 0; i <= RS_HOOK_MAX_LIST_ELEMENTS; ++i) many.str(RS_FIELD_PROCESS_ARGS, "a");
  EXPECT_NE(rejection(many.done()).find("more elements"), std::string::npos);
}

TEST(hook_protocol, EveryPrefixOfAValidMessageIsRejected) {
  char* argv[] = {const_cast<char*>("prog"), const_cast<char*>("x"), nullptr};
  const rs_exec_report r{"execv", "/bin/prog", argv, "/tmp", nullptr, 3, 0};
  const auto bytes = encode(r);
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(n));
    EXPECT_NE(rejection(prefix), "") << "prefix of " << n << " bytes accepted";
  }
}

TEST(hook_protocol, RandomMutationsNeverCrashTheDecoder) {
  char* argv[] = {const_cast<char*>("prog"), const_cast<char*>("x"), nullptr};
  const rs_exec_report r{"execv", "/bin/prog", argv, "/tmp", "cmd", 3, 1};
  const auto bytes = encode(r);
  std::mt19937 rng(12345);
  int rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    auto m = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) m[rng() % m.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) m.resize(rng() % (m.size() + 1));
    if (!decode_hook_message(m, kPeer, 1)) ++rejected;
  }
  EXPECT_GT(rejected, 10000);  // most random damage is caught, none of it crashes
  std::vector<uint8_t> noise(512);
  for (int i = 0; i < 2000; ++i) {
    for (auto& b : noise) b = static_cast<uint8_t>(rng());
    EXPECT_FALSE(decode_hook_message(noise, kPeer, 1));
  }
}

TEST(hook_protocol, VerdictRoundTripAndValidation) {
  uint8_t buf[RS_HOOK_HEADER_SIZE + 4 + RS_HOOK_MAX_RULE];
  const std::string rule = "no-forbidden-exec";
  const size_t n =
      rs_hook_encode_verdict(77, RS_HOOK_VERDICT_DENY, rule.data(), rule.size(), buf, sizeof buf);
  ASSERT_EQ(n, RS_HOOK_HEADER_SIZE + 4 + rule.size());
  uint32_t seq = 0;
  int verdict = -1;
  char name[RS_HOOK_MAX_RULE + 1];
  ASSERT_EQ(rs_hook_parse_verdict(buf, n, &seq, &verdict, name, sizeof name), RS_HOOK_OK);
  EXPECT_EQ(seq, 77u);
  EXPECT_EQ(verdict, RS_HOOK_VERDICT_DENY);
  EXPECT_EQ(std::string(name), rule);

  const std::string long_rule(500, 'r');
  const size_t cut = rs_hook_encode_verdict(1, RS_HOOK_VERDICT_ALERT, long_rule.data(),
                                            long_rule.size(), buf, sizeof buf);
  ASSERT_EQ(cut, sizeof buf);
  ASSERT_EQ(rs_hook_parse_verdict(buf, cut, &seq, &verdict, name, sizeof name), RS_HOOK_OK);
  EXPECT_EQ(std::string(name).size(), static_cast<size_t>(RS_HOOK_MAX_RULE));
  EXPECT_EQ(rs_hook_encode_verdict(1, 7, nullptr, 0, buf, sizeof buf), 0u);

  buf[RS_HOOK_HEADER_SIZE] = 9;  // not a verdict value
  EXPECT_EQ(rs_hook_parse_verdict(buf, cut, &seq, &verdict, nullptr, 0), RS_HOOK_ERR_VERDICT);
  const auto event = Builder().valid().done();
  EXPECT_EQ(rs_hook_parse_verdict(event.data(), event.size(), &seq, &verdict, nullptr, 0),
            RS_HOOK_ERR_VERDICT);
}

}  // namespace
}  // namespace ringside
