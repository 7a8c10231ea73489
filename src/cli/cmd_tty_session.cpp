// ringside tty-session: runs a command with kernel TTY auditing switched on for it, as
// pam_tty_audit does for a login session (`session required pam_tty_audit.so enable=*`).
// Every line the command and its descendants read from a terminal becomes an AUDIT_TTY record,
// which the agent's audit_tty sensor reports as keyboard.tty_input.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "policy/policy.hpp"
#include "sensors/kernel/audit_netlink.hpp"

namespace ringside::cli {

namespace {

struct TtySessionArgs {
  std::string policy;
  bool log_passwd = false;
  bool no_log_passwd = false;
  std::vector<std::string> command;
};

int tty_session(const TtySessionArgs& a) {
  if (a.command.empty()) {
    std::cerr << "ringside tty-session: no command (usage: ringside tty-session -- CMD ARGS...)\n";
    return 2;
  }
  if (a.log_passwd && a.no_log_passwd) {
    std::cerr << "ringside tty-session: --log-passwd and --no-log-passwd exclude each other\n";
    return 2;
  }
  // Input read with echo off is logged only when the policy does not redact it.
  bool log_passwd = false;
  if (!a.policy.empty()) {
    std::vector<policy::ParseError> errors;
    auto pol = policy::Policy::load_file(a.policy, &errors);
    if (!pol) {
      for (const auto& e : errors) std::cerr << e.to_string() << "\n";
      if (errors.empty()) std::cerr << pol.error().message << "\n";
      return 2;
    }
    log_passwd = !(*pol)->settings().keyboard.redact_echo_off;
  }
  if (a.log_passwd) log_passwd = true;
  if (a.no_log_passwd) log_passwd = false;

  auto audit = AuditNetlink::open();
  if (!audit) {
    std::cerr << "ringside tty-session: " << audit.error().message << "\n";
    return 1;
  }
  auto status = audit->get_status();
  if (!status) {
    std::cerr << "ringside tty-session: AUDIT_GET: " << status.error().message << "\n";
    return 1;
  }
  // TTY records are written only while audit is enabled; switch it on for the session's
  // length if it is off, and back off afterwards.
  const bool enabled_here = status->enabled == 0;
  if (enabled_here) {
    if (auto r = audit->set_enabled(1); !r) {
      std::cerr << "ringside tty-session: cannot enable audit: " << r.error().message << "\n";
      return 1;
    }
  }
  auto restore = [&] {
    if (!enabled_here) return;
    if (auto r = audit->set_enabled(0); !r) {
      std::cerr << "ringside tty-session: could not switch audit off again: " << r.error().message
                << "\n";
    }
  };
  if (auto r = audit->set_tty(true, log_passwd); !r) {
    std::cerr << "ringside tty-session: AUDIT_TTY_SET: " << r.error().message << "\n";
    restore();
    return 1;
  }
  std::vector<char*> argv;
  for (const auto& s : a.command) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  // The session's own signals belong to the command; this process only waits and restores.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_int {
  }, old_quit{};
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  const pid_t child = fork();
  if (child == 0) {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGQUIT, &old_quit, nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "ringside tty-session: cannot run %s: %s\n", argv[0],
                 errno_text(errno).c_str());
    _exit(127);
  }
  if (child < 0) {
    std::cerr << "ringside tty-session: fork: " << errno_text(errno) << "\n";
    restore();
    return 1;
  }
  int wstatus = 0;
  while (waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
  }
  restore();
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  return 128 + WTERMSIG(wstatus);
}

}  // namespace

void add_tty_session(CLI::App& app, int& status) {
  auto args = std::make_shared<TtySessionArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tty-session",
      "Run CMD with kernel TTY auditing on (as pam_tty_audit does for logins): every line it "
      "reads from a terminal is reported by the agent's keyboard domain");
  cmd->add_option("--policy", args->policy,
                  "Policy whose settings.keyboard.redact_echo_off decides whether input typed "
                  "with echo off is logged (default: it is not)");
  cmd->add_flag("--log-passwd", args->log_passwd,
                "Ask the kernel to log input typed with echo off too (the agent still redacts "
                "it when the policy says so)");
  cmd->add_flag("--no-log-passwd", args->no_log_passwd,
                "Ask the kernel not to log input typed with echo off");
  cmd->add_option("command", args->command, "The command and its arguments (after --)")->required();
  cmd->callback([args, &status] { status = tty_session(*args); });
}

}  // namespace ringside::cli
