// A SensorContext for sensor unit tests: decides with the test's policy (or a test hook), keeps
// what is emitted, and names the agent's own files.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/process_table.hpp"
#include "sensors/sensor.hpp"

namespace ringside::testing_fanotify {

class FakeContext final : public SensorContext {
 public:
  policy::Decision decide(Event& ev) override {
    ++decided;
    policy::Decision d = on_decide ? on_decide(ev) : policy()->evaluate(ev, ev.level(), {});
    ev.set_verdict(d.verdict, d.rule != nullptr ? std::string_view(d.rule->name) : "");
    return d;
  }
  void emit(Event&& ev) override {
    std::lock_guard lock(mu);
    emitted.push_back(std::move(ev));
  }
  ProcessTable& processes() override { return table; }
  std::shared_ptr<const policy::Policy> policy() const override {
    std::lock_guard lock(mu);
    return pol;
  }
  void set_policy(std::shared_ptr<const policy::Policy> p) {
    std::lock_guard lock(mu);
    pol = std::move(p);
  }
  bool is_agent_file(std::string_view path) const override {
    return std::find(own_files.begin(), own_files.end(), path) != own_files.end();
  }
  std::vector<std::string> agent_files() const override { return own_files; }

  std::vector<Event> events() {
    std::lock_guard lock(mu);
    return emitted;
  }
  // Events are emitted after the answer: wait for `n` of them.
  std::vector<Event> wait_events(size_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (events().size() < n && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return events();
  }

  std::function<policy::Decision(Event&)> on_decide;
  std::atomic<int> decided{0};
  std::vector<std::string> own_files;
  ProcessTable table;
  mutable std::mutex mu;
  std::shared_ptr<const policy::Policy> pol;  // set_policy() once sensors run
  std::vector<Event> emitted;
};

}  // namespace ringside::testing_fanotify
