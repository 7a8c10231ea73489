#include "e2e_util.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace ringside::e2e {

std::string build_dir() { return RINGSIDE_BUILD_DIR; }
std::string programs() { return build_dir() + "/tests/programs"; }
std::string source_dir() { return RINGSIDE_SOURCE_DIR; }
bool is_root() { return geteuid() == 0; }

bool stop_all_threads(pid_t pid) {
  if (kill(pid, SIGSTOP) != 0) return false;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    std::error_code ec;
    for (const auto& t : std::filesystem::directory_iterator(dir, ec)) {
      std::string stat;
      std::getline(std::ifstream(t.path() / "stat"), stat);
      const size_t paren = stat.rfind(')');
      if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'T') {
        all = false;
      }
    }
    if (all && !ec) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

int listen_tcp(uint16_t port, int backlog) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, backlog) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

ScratchDir::ScratchDir(const std::string& tag) {
  std::string tmpl = "/tmp/ringside-" + tag + "-XXXXXX";
  char* p = mkdtemp(tmpl.data());
  if (p == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = p;
  chmod(path_.c_str(), 0755);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ScratchDir::write(const std::string& name, const std::string& content, int mode) const {
  const std::string p = file(name);
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  chmod(p.c_str(), static_cast<mode_t>(mode));
  return p;
}

const json* field(const json& ev, std::string_view dotted) {
  const json* cur = &ev;
  size_t start = 0;
  while (true) {
    const size_t dot = dotted.find('.', start);
    const std::string key(dotted.substr(start, dot - start));
    if (!cur->is_object() || !cur->contains(key)) return nullptr;
    cur = &(*cur)[key];
    if (dot == std::string_view::npos) return cur;
    start = dot + 1;
  }
}

std::string str_field(const json& ev, std::string_view dotted) {
  const json* f = field(ev, dotted);
  return (f != nullptr && f->is_string()) ? f->get<std::string>() : std::string();
}

int64_t int_field(const json& ev, std::string_view dotted, int64_t missing) {
  const json* f = field(ev, dotted);
  return (f != nullptr && f->is_number_integer()) ? f->get<int64_t>() : missing;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

std::vector<char*> make_envp(const std::vector<std::string>& extra,
                             std::vector<std::string>& store) {
  store.clear();
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string key = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& x : extra) overridden = overridden || x.substr(0, x.find('=')) == key;
    if (!overridden) store.push_back(entry);
  }
  for (const auto& x : extra) store.push_back(x);
  std::vector<char*> out;
  for (auto& s : store) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

RunResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
              std::chrono::milliseconds timeout) {
  RunResult r;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    r.spawn_errno = errno;
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  std::vector<std::string> args(argv);
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> env_store;
  auto envp = make_envp(env, env_store);
  const int rc = posix_spawnp(&r.pid, cargv[0], &fa, nullptr, cargv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    r.spawn_errno = rc;
    close(out_pipe[0]);
    close(err_pipe[0]);
    return r;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(r.pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  waitpid(r.pid, &status, 0);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  return r;
}

std::string copy_program(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  chmod(to.c_str(), 0755);
  return to;
}

std::unique_ptr<AgentProcess> AgentProcess::start(const Options& o, std::string* error) {
  std::unique_ptr<AgentProcess> a(new AgentProcess());
  a->dir_ = std::make_unique<ScratchDir>("agent");
  a->policy_ = a->dir_->write("policy.yaml", o.policy_yaml);
  a->jsonl_ = a->dir_->file("events.jsonl");
  a->ready_file_ = a->dir_->file("ready.json");
  a->socket_ = a->dir_->file("hook.sock");
  a->log_ = a->dir_->file("agent.log");
  a->stats_file_ = a->dir_->file("stats.json");
  std::vector<std::string> args = {build_dir() + "/ringside",
                                   "run",
                                   "--policy",
                                   a->policy_,
                                   "--levels",
                                   o.levels,
                                   "--domains",
                                   o.domains,
                                   "--jsonl",
                                   a->jsonl_,
                                   "--ready-file",
                                   a->ready_file_,
                                   "--hook-socket",
                                   a->socket_,
                                   "--quiet",
                                   "--stats-file",
                                   a->stats_file_};
  // The agent's persistent state in the scratch directory, unless the test names its own (one
  // it keeps across a restart).
  if (std::find(o.extra_args.begin(), o.extra_args.end(), "--state-dir") == o.extra_args.end()) {
    args.push_back("--state-dir");
    args.push_back(a->dir_->file("state"));
  }
  if (o.force_fallback) args.push_back("--force-fallback");
  if (!o.supervisor) args.push_back("--no-supervisor");
  for (const auto& x : o.extra_args) args.push_back(x);
  std::vector<char*> cargv;
  for (auto& s : args) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, a->log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> env_store;
  auto envp = make_envp({}, env_store);
  const int rc = posix_spawn(&a->pid_, cargv[0], &fa, nullptr, cargv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    *error = std::string("cannot start ringside: ") + std::strerror(rc);
    return nullptr;
  }
  const auto deadline = std::chrono::steady_clock::now() + o.ready_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    struct stat st {};
    if (stat(a->ready_file_.c_str(), &st) == 0) {
      a->ready_ = json::parse(slurp(a->ready_file_), nullptr, false);
      return a;
    }
    int status = 0;
    if (waitpid(a->pid_, &status, WNOHANG) == a->pid_) {
      a->pid_ = 0;
      *error = "ringside exited before it was ready:\n" + slurp(a->log_);
      return nullptr;
    }
    std::this_thread::sleep_for(20ms);
  }
  *error = "ringside was not ready in time:\n" + slurp(a->log_);
  return nullptr;
}

AgentProcess::~AgentProcess() {
  if (pid_ > 0) stop();
}

std::string AgentProcess::log() const { return slurp(log_); }

json AgentProcess::ready_now() const { return json::parse(slurp(ready_file_), nullptr, false); }

json AgentProcess::stats() const { return json::parse(slurp(stats_file_), nullptr, false); }

std::vector<json> AgentProcess::events() const {
  std::vector<json> out;
  std::istringstream in(slurp(jsonl_));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.push_back(json::parse(line, nullptr, false));
  }
  return out;
}

std::optional<json> AgentProcess::wait_for(const std::function<bool(const json&)>& pred,
                                           std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    for (const auto& ev : events()) {
      if (!ev.is_discarded() && pred(ev)) return ev;
    }
    std::this_thread::sleep_for(25ms);
  } while (std::chrono::steady_clock::now() < deadline);
  return std::nullopt;
}

std::vector<std::string> AgentProcess::hook_env() const {
  return {"LD_PRELOAD=" + build_dir() + "/libringside-preload.so", "RINGSIDE_SOCKET=" + socket_};
}

int AgentProcess::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = 0;
  return -SIGKILL;
}

void AgentProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = 0;
}

void AgentProcess::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

}  // namespace ringside::e2e
