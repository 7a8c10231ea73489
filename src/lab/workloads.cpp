#include "lab/workloads.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

extern char** environ;  // NOLINT: the exec'd program inherits the workload's environment

namespace ringside::lab {

int exec_workload(long n) {
  char* const argv[] = {const_cast<char*>("true"), nullptr};
  // A copy of true on a peer's own mount (RS_LAB_EXEC), or /bin/true.
  // The workload process has one thread.
  const char* env_program = std::getenv("RS_LAB_EXEC");  // NOLINT(concurrency-mt-unsafe)
  const char* program = env_program != nullptr && *env_program != '\0' ? env_program : "/bin/true";
  for (long i = 0; i < n; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      execve(program, argv, environ);
      _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      return 1;
    }
  }
  return 0;
}

namespace {

std::string file_name(const std::string& dir, long i) { return dir + "/f" + std::to_string(i); }

}  // namespace

bool make_open_files(const std::string& dir, long files) {
  for (long i = 0; i < files; ++i) {
    std::ofstream out(file_name(dir, i));
    out << "ringside open workload\n";
    if (!out) return false;
  }
  return true;
}

int open_workload(long n, const std::string& dir, long files) {
  if (files <= 0) return 1;
  std::vector<std::string> names;
  for (long i = 0; i < files; ++i) names.push_back(file_name(dir, i));
  for (long i = 0; i < n; ++i) {
    const int fd = open(names[static_cast<size_t>(i % files)].c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);
    } else if (errno != EPERM && errno != EACCES) {
      std::perror("open workload");
      return 1;
    }
  }
  return 0;
}

namespace {

// The placement every network workload shares: `cgroup` joined, then a network namespace of
// its own (or RS_LAB_NETNS's) with the loopback up. Prints why and returns false on failure.
bool enter_network(const std::string& cgroup) {
  if (!cgroup.empty() && cgroup != "-") {
    std::ofstream(cgroup + "/cgroup.procs") << getpid() << std::flush;
  }
  // A network namespace of its own, or the one RS_LAB_NETNS names (a peer confined there).
  const char* ns = std::getenv("RS_LAB_NETNS");  // NOLINT(concurrency-mt-unsafe): one thread
  if (ns != nullptr && *ns != '\0') {
    const int fd = open(ns, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      std::perror("network workload: setns(RS_LAB_NETNS)");
      return false;
    }
    close(fd);
  } else if (unshare(CLONE_NEWNET) != 0) {
    std::perror("network workload: unshare(CLONE_NEWNET)");
    return false;
  }
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  ioctl(s, SIOCGIFFLAGS, &ifr);
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
    std::perror("network workload: loopback up");
    close(s);
    return false;
  }
  close(s);
  return true;
}

// A TCP listener on 127.0.0.1:port (its address in *a); -1, said, on failure.
int listen_loopback(uint16_t port, int backlog, sockaddr_in* a) {
  *a = sockaddr_in{};
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(l, reinterpret_cast<sockaddr*>(a), sizeof(*a)) != 0 || listen(l, backlog) != 0) {
    std::perror("network workload: listen");
    close(l);
    return -1;
  }
  return l;
}

}  // namespace

int connect_workload(long n, const std::string& cgroup) {
  if (!enter_network(cgroup)) return 1;
  sockaddr_in a{};
  const int l = listen_loopback(7000, 128, &a);
  if (l < 0) return 1;
  for (long i = 0; i < n; ++i) {
    const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const linger lg{1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    if (connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      std::perror("connect workload: connect");
      return 1;
    }
    const int x = accept(l, nullptr, nullptr);
    if (x < 0) {
      std::perror("connect workload: accept");
      return 1;
    }
    close(c);
    close(x);
  }
  close(l);
  return 0;
}

int flow_workload(long bytes, const std::string& cgroup) {
  if (!enter_network(cgroup)) return 1;
  sockaddr_in a{};
  const int l = listen_loopback(7001, 1, &a);
  if (l < 0) return 1;
  const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    std::perror("flow workload: connect");
    return 1;
  }
  const int x = accept(l, nullptr, nullptr);
  close(l);
  if (x < 0) {
    std::perror("flow workload: accept");
    return 1;
  }
  // The receiver is a child process, so that sending and receiving each have a core.
  const pid_t reader = fork();
  if (reader == 0) {
    close(c);
    std::vector<char> buf(1 << 16);
    long got = 0;
    for (ssize_t r = 0; (r = read(x, buf.data(), buf.size())) > 0;) got += r;
    _exit(got == bytes ? 0 : 1);
  }
  close(x);
  const std::vector<char> chunk(1 << 16, 'r');
  for (long sent = 0; sent < bytes;) {
    const size_t want = static_cast<size_t>(std::min<long>(bytes - sent, 1 << 16));
    const ssize_t w = write(c, chunk.data(), want);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      std::perror("flow workload: write");
      close(c);
      return 1;
    }
    sent += w;
  }
  close(c);
  int status = 0;
  if (reader < 0 || waitpid(reader, &status, 0) != reader || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "flow workload: the receiver did not get every byte\n");
    return 1;
  }
  return 0;
}

}  // namespace ringside::lab
