// The exec sensor's group (internal): a fanotify permission group that keeps the exec mark plan
// it was built from, so that a decision is cached by the rules that planned the marks.
#pragma once

#include "sensors/kernel/exec_mark_plan.hpp"
#include "sensors/kernel/fanotify_permission.hpp"

namespace ringside::exec_fanotify {

struct Group final : fanotify_perm::Group {
  using fanotify_perm::Group::Group;
  ExecMarkPlan plan;
};

}  // namespace ringside::exec_fanotify
