// ringside policy check FILE: validate a policy and say where each rule takes effect.

#include <iostream>

#include "cli/commands.hpp"
#include "policy/enforcement.hpp"
#include "policy/kernel_exec_rules.hpp"
#include "policy/policy.hpp"

namespace ringside::cli {

namespace {

std::string on_list(const policy::Rule& r) {
  std::string out;
  for (EventType t : r.on) {
    const auto& et = schema::kEventTypes[schema::event_type_index(static_cast<uint16_t>(t))];
    if (!out.empty()) out += ", ";
    out += std::string(et.category) + "." + std::string(et.action);
  }
  return out;
}

int check(const std::string& path) {
  std::vector<policy::ParseError> errors;
  auto pol = policy::Policy::load_file(path, &errors);
  if (!pol) {
    for (const auto& e : errors) std::cerr << e.to_string() << "\n";
    if (errors.empty()) std::cerr << pol.error().message << "\n";
    return 2;
  }
  const auto& p = **pol;
  std::cout << path << ": " << p.rules().size() << " rule(s), fail mode "
            << (p.settings().fail_mode == policy::FailMode::kOpen ? "open" : "closed")
            << ", decision deadline " << p.settings().decision_deadline_ms << " ms\n";
  for (const auto& r : p.rules()) {
    std::cout << "\n"
              << r.name << "  (" << policy::to_string(r.action) << " on " << on_list(r) << ")\n";
    if (r.action == policy::Action::kAlert || r.action == policy::Action::kAllow) {
      std::cout << "  reported at every level it applies to; nothing to enforce\n";
      continue;
    }
    const auto points = policy::enforcement_points(r);
    if (points.empty()) {
      std::cout << "  not enforced by this build: events are reported with the verdict only\n";
      continue;
    }
    bool any_guaranteed = false;
    for (const auto& pt : points) {
      any_guaranteed = any_guaranteed || pt.guaranteed;
      std::cout << "  " << (pt.level == Level::kKernel ? "kernel" : "user  ") << "  "
                << (pt.guaranteed ? "guaranteed" : "advisory  ") << "  " << pt.mechanism << ": "
                << pt.effect << "\n";
    }
    if (!any_guaranteed) {
      std::cout << "  note: no kernel-level guarantee; a program that bypasses the hooks is not "
                   "stopped\n";
    }
  }
  const auto kprog = policy::compile_kernel_exec_rules(p);
  for (const auto& note : kprog.notes) std::cout << "\nnote: " << note << "\n";
  return 0;
}

}  // namespace

void add_policy(CLI::App& app, int& status) {
  CLI::App* cmd = app.add_subcommand("policy", "Work with policy files");
  cmd->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  CLI::App* chk = cmd->add_subcommand(
      "check", "Validate FILE; print where each rule is enforced (errors: file:line:column)");
  chk->add_option("FILE", *file, "Policy file")->required();
  chk->callback([file, &status] { status = check(*file); });
}

}  // namespace ringside::cli
