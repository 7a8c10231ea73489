#include "sensors/kernel/origdst_server.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace ringside {

namespace {

constexpr size_t kMaxClients = 64;
constexpr size_t kMaxRequest = 128;

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\n' && s[j] != '\r' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

std::string origdst_reply(std::string_view request, const OrigDstLookup& lookup) {
  const auto w = words(request);
  if (w.empty() || w[0] != "ORIGDST") return "ERR expected: ORIGDST <port> [tcp]";
  if (w.size() < 2 || w.size() > 3) return "ERR expected: ORIGDST <port> [tcp]";
  if (w.size() == 3 && w[2] != "tcp") return "ERR only tcp connections are redirected";
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(w[1].data(), w[1].data() + w[1].size(), port);
  if (ec != std::errc() || end != w[1].data() + w[1].size() || port == 0 || port > 65535) {
    return "ERR bad port";
  }
  auto found = lookup(static_cast<uint16_t>(port));
  if (!found) return "ERR no redirected connection from that port";
  return found->ip + " " + std::to_string(found->port);
}

struct OrigDstServer::Impl {
  int listen_fd = -1;
  int stop_fd = -1;
  std::string path;
  OrigDstLookup lookup;
  std::thread thread;
  std::atomic<uint64_t> answered{0}, malformed{0};

  void run();
  void close_all();
};

OrigDstServer::OrigDstServer() : impl_(std::make_unique<Impl>()) {}
OrigDstServer::~OrigDstServer() { stop(); }

Result<void> OrigDstServer::start(const std::string& path, OrigDstLookup lookup) {
  Impl& m = *impl_;
  if (m.listen_fd >= 0) return ok();
  sockaddr_un sa{};
  if (path.size() >= sizeof(sa.sun_path)) return Error{"origdst socket path too long: " + path};
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  m.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (m.listen_fd < 0) return errno_error("origdst: socket");
  unlink(path.c_str());
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  if (bind(m.listen_fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    auto e = errno_error("origdst: bind " + path);
    m.close_all();
    return e;
  }
  if (chmod(path.c_str(), 0600) != 0 || listen(m.listen_fd, 16) != 0) {
    auto e = errno_error("origdst: listen " + path);
    m.close_all();
    unlink(path.c_str());
    return e;
  }
  m.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m.stop_fd < 0) {
    auto e = errno_error("origdst: eventfd");
    m.close_all();
    unlink(path.c_str());
    return e;
  }
  m.path = path;
  m.lookup = std::move(lookup);
  m.thread = std::thread([&m] { m.run(); });
  name_thread(m.thread, "rs-origdst");
  pthread_setname_np(m.thread.native_handle(), "rs-origdst");
  return ok();
}

void OrigDstServer::Impl::run() {
  std::vector<pollfd> fds{{stop_fd, POLLIN, 0}, {listen_fd, POLLIN, 0}};
  char buf[kMaxRequest + 1];
  while (true) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      log().error("origdst: poll failed: {}", errno_text(errno));
      break;
    }
    if (fds[0].revents != 0) break;
    if (fds[1].revents & POLLIN) {
      const int c = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c >= 0 && fds.size() - 2 < kMaxClients) {
        fds.push_back({c, POLLIN, 0});
      } else if (c >= 0) {
        close(c);  // too many inspectors at once; they retry
      }
    }
    for (size_t i = 2; i < fds.size();) {
      bool drop = (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
      if (!drop && (fds[i].revents & POLLIN)) {
        const ssize_t n = recv(fds[i].fd, buf, kMaxRequest, 0);
        if (n <= 0) {
          drop = n == 0 || (errno != EAGAIN && errno != EINTR);
        } else {
          const std::string reply = origdst_reply(std::string_view(buf, n), lookup);
          if (reply.rfind("ERR", 0) == 0 && reply.find("no redirected") == std::string::npos) {
            malformed.fetch_add(1, std::memory_order_relaxed);
          }
          answered.fetch_add(1, std::memory_order_relaxed);
          if (send(fds[i].fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            drop = true;
          }
        }
      }
      if (drop) {
        close(fds[i].fd);
        fds.erase(fds.begin() + static_cast<long>(i));
        continue;
      }
      ++i;
    }
  }
  for (size_t i = 2; i < fds.size(); ++i) close(fds[i].fd);
}

void OrigDstServer::Impl::close_all() {
  if (listen_fd >= 0) close(listen_fd);
  if (stop_fd >= 0) close(stop_fd);
  listen_fd = stop_fd = -1;
}

void OrigDstServer::stop() {
  Impl& m = *impl_;
  if (m.listen_fd < 0) return;
  const uint64_t one = 1;
  if (write(m.stop_fd, &one, sizeof(one)) < 0) log().warn("origdst: cannot wake the server");
  if (m.thread.joinable()) m.thread.join();
  m.close_all();
  unlink(m.path.c_str());
}

uint64_t OrigDstServer::answered() const { return impl_->answered.load(); }
uint64_t OrigDstServer::malformed() const { return impl_->malformed.load(); }

}  // namespace ringside
