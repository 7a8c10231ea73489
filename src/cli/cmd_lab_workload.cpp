// ringside lab-workload AREA OPS WORK_DIR CGROUP: one overhead workload in its own process
// (lab/overhead.hpp), started by `ringside lab` and the benchmarks; not for people.

#include <cstdlib>

#include "cli/commands.hpp"
#include "lab/overhead.hpp"

namespace ringside::cli {

void add_lab_workload(CLI::App& app, int& status) {
  auto args = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("lab-workload", "");
  cmd->group("");
  cmd->add_option("args", *args)->expected(4)->required();
  cmd->callback([args, &status] {
    const long ops = std::atol((*args)[1].c_str());
    status = lab::run_lab_workload((*args)[0], ops, (*args)[2], (*args)[3]);
  });
}

}  // namespace ringside::cli
