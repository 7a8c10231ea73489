// The agent's own set-up of what its kernel sensors need: tracefs, which libbpf attaches
// tracepoints through.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

// A system without tracefs mounted (no systemd to mount it): the agent mounts it and its
// tracepoint sensors start. Played in a mount namespace of the test's own, where tracefs is
// unmounted; the host's mounts are not touched.
TEST(Tracefs, MountedByTheAgentWhenMissing) {
  RINGSIDE_REQUIRE_ROOT();
  ScratchDir dir("tracefs");
  dir.write("policy.yaml", "settings:\n  file:\n    opens: none\n    watch: [\"" + dir.path() +
                               "\"]\nrules: []\n");
  const std::string script = dir.write("play.sh", R"sh(#!/bin/sh
umount -l /sys/kernel/tracing 2>/dev/null
umount -l /sys/kernel/debug/tracing 2>/dev/null
if [ -e /sys/kernel/tracing/events ] || [ -e /sys/kernel/debug/tracing/events ]; then
  echo "tracefs still mounted in the namespace"; exit 3
fi
"$RINGSIDE" run --levels kernel --domains file --policy "$DIR/policy.yaml" \
  --jsonl "$DIR/events.jsonl" --ready-file "$DIR/ready.json" --hook-socket "$DIR/hook.sock" \
  --state-dir "$DIR/state" 2>"$DIR/agent.log" &
agent=$!
i=0
while [ ! -e "$DIR/ready.json" ] && [ $i -lt 150 ] && kill -0 $agent 2>/dev/null; do
  sleep 0.1; i=$((i + 1))
done
echo "tracefs mounts: $(grep -c ' - tracefs ' /proc/self/mountinfo)"
kill -TERM $agent
wait $agent
echo "agent exit $?"
)sh",
                                       0755);
  const bool host_before = std::filesystem::exists("/sys/kernel/tracing/events");
  const RunResult r = run({"unshare", "--mount", "--propagation", "private", "/bin/sh", script},
                          {"RINGSIDE=" + build_dir() + "/ringside", "DIR=" + dir.path()}, 60s);
  const std::string log = slurp(dir.file("agent.log"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << log;
  EXPECT_NE(r.out.find("tracefs mounts: 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("agent exit 0"), std::string::npos) << r.out << log;
  EXPECT_NE(log.find("tracefs was not mounted; mounted it on /sys/kernel/tracing"),
            std::string::npos)
      << log;
  const json ready = json::parse(slurp(dir.file("ready.json")), nullptr, false);
  ASSERT_TRUE(ready.is_object()) << log;
  bool live = false;
  for (const auto& sensor : ready["sensors"]) {
    live = live || (sensor["name"] == "file_ebpf" && sensor["state"] == "live");
  }
  EXPECT_TRUE(live) << ready.dump();
  EXPECT_EQ(std::filesystem::exists("/sys/kernel/tracing/events"), host_before)
      << "the host's mounts changed";
}

}  // namespace
}  // namespace ringside::e2e
