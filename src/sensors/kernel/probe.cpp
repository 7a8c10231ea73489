#include "sensors/kernel/probe.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/input.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <poll.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "probe.skel.h"
#include "sensors/kernel/bpf_object.hpp"

namespace ringside::probe {

namespace {

constexpr int kReplyTimeoutMs = 500;

// A descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

Capability make(std::string name, std::string mechanism, Level level, std::string area) {
  Capability c;
  c.name = std::move(name);
  c.mechanism = std::move(mechanism);
  c.level = level;
  c.area = std::move(area);
  return c;
}

Capability& result(Capability& c, bool available, std::string reason) {
  c.available = available;
  c.reason = std::move(reason);
  return c;
}

// Loads one program of the probe object, optionally attaches it; "" on success, else why not.
std::string try_program(const char* name, bool attach) {
  // libbpf's own messages (verifier logs of a refused program) go to the debug log; the errno
  // is the probe's answer.
  bpf::route_libbpf_output();
  const bpf::LibbpfCapture capture;
  std::string why;
  struct probe* skel = probe__open();
  if (skel == nullptr) {
    why = "open probe object: " + errno_text(errno);
  } else {
    bpf_program* prog = bpf_object__find_program_by_name(skel->obj, name);
    if (prog == nullptr) {
      why = std::string("program ") + name + " missing";
    } else {
      bpf_program__set_autoload(prog, true);
      const std::string section = bpf_program__section_name(prog);
      if (const int err = probe__load(skel); err != 0) {
        why = "load " + section + ": " + errno_text(-err);
      } else if (attach) {
        bpf_link* link = bpf_program__attach(prog);
        if (link == nullptr) {
          why = "attach " + section + ": " + errno_text(errno);
        } else {
          bpf_link__destroy(link);
        }
      }
    }
    probe__destroy(skel);
  }
  return why;
}

std::string read_file(const std::string& path, int* err) {
  std::ifstream in(path);
  if (!in) {
    *err = errno != 0 ? errno : ENOENT;
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  *err = 0;
  return ss.str();
}

// The next netlink message from the kernel, or nothing with `*err` set.
std::string netlink_recv(int fd, int* err) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, kReplyTimeoutMs) <= 0) {
    *err = ETIMEDOUT;
    return {};
  }
  char buf[8192];
  const ssize_t n = recv(fd, buf, sizeof buf, 0);
  if (n < 0) {
    *err = errno;
    return {};
  }
  *err = 0;
  return std::string(buf, static_cast<size_t>(n));
}

// Sends `len` bytes to the kernel on a netlink socket and returns its first reply.
std::string netlink_exchange(int fd, const void* msg, size_t len, int* err) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, msg, len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    *err = errno;
    return {};
  }
  return netlink_recv(fd, err);
}

// The errno of an NLMSG_ERROR reply (0 for an ack), or -1 when the reply is something else.
int netlink_error(const std::string& reply) {
  if (reply.size() < NLMSG_HDRLEN + sizeof(nlmsgerr)) return -1;
  const auto* h = reinterpret_cast<const nlmsghdr*>(reply.data());
  if (h->nlmsg_type != NLMSG_ERROR) return -1;
  const auto* e = reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(h));
  return -e->error;
}

// Binds or unbinds nfnetlink_queue number `queue`; returns the kernel's errno (0 = ok).
int nfqueue_command(int fd, uint16_t queue, uint8_t command) {
  struct {
    nlmsghdr h;
    nfgenmsg g;
    nlattr a;
    nfqnl_msg_config_cmd cmd;
  } __attribute__((packed)) msg{};
  msg.h.nlmsg_len = sizeof msg;
  msg.h.nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG;
  msg.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  msg.h.nlmsg_seq = 1;
  msg.g.nfgen_family = AF_UNSPEC;
  msg.g.version = NFNETLINK_V0;
  msg.g.res_id = htons(queue);
  msg.a.nla_len = sizeof(nlattr) + sizeof(nfqnl_msg_config_cmd);
  msg.a.nla_type = NFQA_CFG_CMD;
  msg.cmd.command = command;
  msg.cmd.pf = htons(AF_INET);
  int err = 0;
  const std::string reply = netlink_exchange(fd, &msg, sizeof msg, &err);
  if (err != 0) return err;
  const int e = netlink_error(reply);
  return e < 0 ? EPROTO : e;
}

// Sends one proc connector multicast control op; returns the acknowledged errno (0 = ok).
int proc_connector_op(int fd, proc_cn_mcast_op op, bool want_ack) {
  // nlmsghdr | cn_msg (ends in a flexible array, so laid out by hand) | the op
  alignas(nlmsghdr) char msg[NLMSG_HDRLEN + sizeof(cn_msg) + sizeof(proc_cn_mcast_op)] = {};
  auto* h = reinterpret_cast<nlmsghdr*>(msg);
  h->nlmsg_len = sizeof msg;
  h->nlmsg_type = NLMSG_DONE;
  h->nlmsg_pid = static_cast<uint32_t>(getpid());
  auto* c = reinterpret_cast<cn_msg*>(msg + NLMSG_HDRLEN);
  c->id.idx = CN_IDX_PROC;
  c->id.val = CN_VAL_PROC;
  c->len = sizeof(proc_cn_mcast_op);
  std::memcpy(msg + NLMSG_HDRLEN + sizeof(cn_msg), &op, sizeof op);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    return errno;
  }
  if (!want_ack) return 0;
  // The kernel answers with a PROC_EVENT_NONE record carrying the error; other process
  // events may arrive first.
  for (int i = 0; i < 64; ++i) {
    int err = 0;
    const std::string reply = netlink_recv(fd, &err);
    if (err != 0) return err;
    if (reply.size() < NLMSG_HDRLEN + sizeof(cn_msg) + sizeof(proc_event)) continue;
    proc_event ev;
    std::memcpy(&ev, reply.data() + NLMSG_HDRLEN + sizeof(cn_msg), sizeof ev);
    if (ev.what == proc_event::PROC_EVENT_NONE) return static_cast<int>(ev.event_data.ack.err);
  }
  return ETIMEDOUT;
}

std::string find_program(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
      std::string p = std::string(dir) + name;
      if (access(p.c_str(), X_OK) == 0) return p;
    }
  }
  return {};
}

bool test_bit(const unsigned long* bits, unsigned bit) {
  constexpr unsigned kBits = sizeof(unsigned long) * 8;
  return ((bits[bit / kBits] >> (bit % kBits)) & 1UL) != 0;
}

}  // namespace

Capability btf() {
  Capability c = make("btf", "kernel BTF (/sys/kernel/btf/vmlinux)", Level::kKernel, "all");
  struct stat st {};
  if (stat("/sys/kernel/btf/vmlinux", &st) != 0) {
    return result(c, false, "/sys/kernel/btf/vmlinux: " + errno_text(errno));
  }
  return result(c, true, "/sys/kernel/btf/vmlinux, " + std::to_string(st.st_size) + " bytes");
}

Capability bpf_ringbuf() {
  Capability c = make("bpf_ringbuf", "BPF ring buffer", Level::kKernel, "all");
  if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 1) {
    return result(c, true, "BPF_MAP_TYPE_RINGBUF supported");
  }
  // The feature probe says only yes or no; creating one tells why not (EPERM, EINVAL, ...).
  const int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, nullptr, 0, 0,
                                static_cast<uint32_t>(sysconf(_SC_PAGESIZE)), nullptr);
  if (fd >= 0) {
    close(fd);
    return result(c, true, "BPF_MAP_TYPE_RINGBUF map created");
  }
  return result(c, false, "create BPF_MAP_TYPE_RINGBUF: " + errno_text(errno));
}

Capability bpf_tp_btf() {
  Capability c = make("bpf_tp_btf", "eBPF tp_btf programs", Level::kKernel, "process");
  const std::string why = try_program("probe_tp_btf", false);
  if (!why.empty()) return result(c, false, why);
  return result(c, true, "tp_btf/sched_process_exec loads");
}

Capability bpf_fentry() {
  Capability c = make("bpf_fentry", "eBPF fentry/fexit programs", Level::kKernel, "all");
  const std::string why = try_program("probe_fentry", false);
  if (!why.empty()) return result(c, false, why);
  return result(c, true, "fentry/hrtimer_nanosleep loads");
}

Capability bpf_lsm() {
  Capability c = make("bpf_lsm", "BPF-LSM (bprm_check_security)", Level::kKernel, "process");
  std::string reason;
  int err = 0;
  const std::string lsms = read_file("/sys/kernel/security/lsm", &err);
  bool listed = false;
  if (err != 0) {
    reason = "/sys/kernel/security/lsm: " + errno_text(err);
  } else {
    std::stringstream ss(lsms);
    std::string item;
    while (std::getline(ss, item, ',')) listed = listed || item == "bpf" || item == "bpf\n";
    if (!listed) reason = "bpf is not an active LSM (" + lsms.substr(0, lsms.find('\n')) + ")";
  }
  const std::string why = try_program("probe_lsm", false);
  if (!why.empty()) reason += (reason.empty() ? "" : "; ") + why;
  if (listed && why.empty()) return result(c, true, "listed in /sys/kernel/security/lsm; loads");
  return result(c, false, reason);
}

Capability kprobe() {
  Capability c = make("kprobe", "kprobes", Level::kKernel, "all");
  const std::string why = try_program("probe_kprobe", true);
  if (why.empty()) return result(c, true, "kprobe/hrtimer_nanosleep attaches");
  struct stat st {};
  const bool pmu = stat("/sys/bus/event_source/devices/kprobe", &st) == 0;
  return result(c, false, why + (pmu ? "" : " (no kprobe PMU in /sys/bus/event_source/devices)"));
}

Capability bpf_cgroup_sock() {
  Capability c =
      make("bpf_cgroup_sock", "eBPF cgroup socket programs (connect4/6, sendmsg4/6, bind4/6)",
           Level::kKernel, "network");
  std::string root;
  {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (root.empty() && std::getline(in, line)) {
      const auto dash = line.find(" - ");
      if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
      std::istringstream f(line.substr(0, dash));
      std::string id, parent, devno, mroot;
      f >> id >> parent >> devno >> mroot >> root;
    }
  }
  if (root.empty()) return result(c, false, "no cgroup2 file system mounted");
  bpf::route_libbpf_output();
  const bpf::LibbpfCapture capture;
  struct probe* skel = probe__open();
  if (skel == nullptr) return result(c, false, "open probe object: " + errno_text(errno));
  bpf_program__set_autoload(skel->progs.probe_cgroup_sock, true);
  std::string why;
  if (const int err = probe__load(skel); err != 0) {
    why = "load cgroup/connect4: " + errno_text(-err);
  } else {
    // An empty child cgroup: the program never sees a real connect.
    const std::string dir = root + "/ringside-probe-" + std::to_string(getpid());
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      why = "mkdir " + dir + ": " + errno_text(errno);
    } else {
      const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      bpf_link* link =
          fd < 0 ? nullptr : bpf_program__attach_cgroup(skel->progs.probe_cgroup_sock, fd);
      if (link == nullptr) why = "attach cgroup/connect4 to " + dir + ": " + errno_text(errno);
      if (link != nullptr) bpf_link__destroy(link);
      if (fd >= 0) close(fd);
      rmdir(dir.c_str());
    }
  }
  probe__destroy(skel);
  if (!why.empty()) return result(c, false, why);
  return result(c, true, "cgroup/connect4 loads and attaches to a child of " + root);
}

Capability fanotify_permission() {
  Capability c = make("fanotify_permission", "fanotify permission events (FAN_OPEN_EXEC_PERM)",
                      Level::kKernel, "process,file");
  const int group = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK,
                                  O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (group < 0) return result(c, false, "fanotify_init(FAN_CLASS_CONTENT): " + errno_text(errno));
  Fd g(group);
  // A mark is placed only on a filesystem made for the purpose, which nobody executes from.
  char dir[] = "/tmp/ringside-probe-XXXXXX";
  if (mkdtemp(dir) == nullptr) return result(c, false, "mkdtemp: " + errno_text(errno));
  std::string why;
  if (mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700") != 0) {
    why = "mount a scratch tmpfs: " + errno_text(errno);
  } else {
    if (fanotify_mark(group, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC_PERM | FAN_OPEN_PERM,
                      AT_FDCWD, dir) != 0) {
      why = "fanotify_mark(FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC_PERM): " + errno_text(errno);
    } else {
      fanotify_mark(group, FAN_MARK_FLUSH | FAN_MARK_FILESYSTEM, 0, AT_FDCWD, nullptr);
    }
    if (umount2(dir, 0) != 0) umount2(dir, MNT_DETACH);
  }
  rmdir(dir);
  if (!why.empty()) return result(c, false, why);
  return result(c, true, "FAN_OPEN_EXEC_PERM filesystem mark accepted on a scratch tmpfs");
}

Capability proc_connector() {
  Capability c = make("proc_connector", "proc connector (netlink)", Level::kKernel, "process");
  Fd fd(socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR));
  if (!fd.ok()) return result(c, false, "socket(NETLINK_CONNECTOR): " + errno_text(errno));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = CN_IDX_PROC;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    return result(c, false, "bind to CN_IDX_PROC: " + errno_text(errno));
  }
  const int err = proc_connector_op(fd.get(), PROC_CN_MCAST_LISTEN, true);
  if (err == 0) (void)proc_connector_op(fd.get(), PROC_CN_MCAST_IGNORE, false);
  if (err != 0) return result(c, false, "PROC_CN_MCAST_LISTEN: " + errno_text(err));
  return result(c, true, "PROC_CN_MCAST_LISTEN acknowledged");
}

Capability nfqueue() {
  Capability c = make("nfqueue", "netfilter NFQUEUE", Level::kKernel, "network");
  const std::string iptables = find_program({"iptables-legacy", "iptables"});
  if (iptables.empty()) return result(c, false, "no iptables or iptables-legacy binary");
  Fd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd.ok()) return result(c, false, "socket(NETLINK_NETFILTER): " + errno_text(errno));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    return result(c, false, "bind netlink: " + errno_text(errno));
  }
  // A queue number nothing of ringside uses, different per probing process.
  const auto queue = static_cast<uint16_t>(64000 + getpid() % 1000);
  const int err = nfqueue_command(fd.get(), queue, NFQNL_CFG_CMD_BIND);
  if (err == EBUSY) {
    return result(
        c, true, iptables + "; nfnetlink_queue answers (queue " + std::to_string(queue) + " busy)");
  }
  if (err != 0) return result(c, false, "nfnetlink_queue bind: " + errno_text(err));
  (void)nfqueue_command(fd.get(), queue, NFQNL_CFG_CMD_UNBIND);
  return result(c, true, iptables + "; nfnetlink_queue bind ok");
}

Capability audit() {
  Capability c = make("audit", "kernel audit (TTY records)", Level::kKernel, "keyboard");
  Fd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
  if (!fd.ok()) return result(c, false, "socket(NETLINK_AUDIT): " + errno_text(errno));
  nlmsghdr h{};
  h.nlmsg_len = NLMSG_HDRLEN;
  h.nlmsg_type = AUDIT_GET;
  h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  h.nlmsg_seq = 1;
  int err = 0;
  std::string reply = netlink_exchange(fd.get(), &h, sizeof h, &err);
  if (err != 0) return result(c, false, "AUDIT_GET: " + errno_text(err));
  // The ack (error 0) may come before the status record.
  if (netlink_error(reply) == 0) {
    reply = netlink_recv(fd.get(), &err);
    if (err != 0) return result(c, true, "AUDIT_GET acknowledged");
  }
  const int e = netlink_error(reply);
  if (e > 0) return result(c, false, "AUDIT_GET: " + errno_text(e));
  const auto* rh = reinterpret_cast<const nlmsghdr*>(reply.data());
  if (reply.size() >= NLMSG_HDRLEN + offsetof(audit_status, pid) + sizeof(uint32_t) &&
      rh->nlmsg_type == AUDIT_GET) {
    const auto* st = reinterpret_cast<const audit_status*>(NLMSG_DATA(rh));
    return result(c, true,
                  "AUDIT_GET ok (enabled " + std::to_string(st->enabled) + ", daemon pid " +
                      std::to_string(st->pid) + ")");
  }
  return result(c, true, "AUDIT_GET answered");
}

Capability x11() {
  Capability c = make("x11", "X11 (XInput2 raw keys)", Level::kUser, "keyboard");
  const char* display = std::getenv("DISPLAY");  // NOLINT: read once, not kept
  if (display == nullptr || *display == '\0') return result(c, false, "DISPLAY is not set");
  const std::string d(display);
  const size_t colon = d.rfind(':');
  if (colon == std::string::npos) return result(c, false, "DISPLAY '" + d + "' has no ':'");
  const std::string host = d.substr(0, colon);
  const long number = std::strtol(d.c_str() + colon + 1, nullptr, 10);
  if (host.empty() || host == "unix") {
    const std::string path = "/tmp/.X11-unix/X" + std::to_string(number);
    int path_errno = 0;  // the socket file's error says more than the abstract name's
    for (bool abstract : {false, true}) {
      Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_un sa{};
      sa.sun_family = AF_UNIX;
      const size_t off = abstract ? 1 : 0;
      std::memcpy(sa.sun_path + off, path.c_str(), path.size());
      const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + off + path.size() +
                                              (abstract ? 0 : 1));
      if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), len) == 0) {
        return result(c, true, std::string(abstract ? "@" : "") + path + " accepts connections");
      }
      if (!abstract) path_errno = errno;
    }
    return result(c, false, path + ": " + errno_text(path_errno));
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(6000 + number);
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return result(c, false, host + ": " + gai_strerror(rc));
  }
  std::string why = "no address";
  bool connected = false;
  for (addrinfo* a = res; a != nullptr && !connected; a = a->ai_next) {
    Fd fd(socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    connected = fd.ok() && connect(fd.get(), a->ai_addr, a->ai_addrlen) == 0;
    if (!connected) why = errno_text(errno);
  }
  freeaddrinfo(res);
  if (!connected) return result(c, false, host + ":" + port + ": " + why);
  return result(c, true, host + ":" + port + " accepts connections");
}

Capability evdev() {
  Capability c = make("evdev", "evdev keyboards (/dev/input/event*)", Level::kKernel, "keyboard");
  std::error_code ec;
  std::filesystem::directory_iterator dir("/dev/input", ec);
  if (ec) return result(c, false, "/dev/input: " + ec.message());
  int devices = 0, keyboards = 0;
  std::string first_error;
  for (const auto& entry : dir) {
    const std::string path = entry.path().string();
    if (entry.path().filename().string().rfind("event", 0) != 0) continue;
    ++devices;
    Fd fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd.ok()) {
      if (first_error.empty()) first_error = path + ": " + errno_text(errno);
      continue;
    }
    unsigned long types[(EV_MAX + 1) / (8 * sizeof(unsigned long)) + 1] = {};
    unsigned long keys[(KEY_MAX + 1) / (8 * sizeof(unsigned long)) + 1] = {};
    if (ioctl(fd.get(), EVIOCGBIT(0, sizeof types), types) < 0 || !test_bit(types, EV_KEY)) {
      continue;
    }
    if (ioctl(fd.get(), EVIOCGBIT(EV_KEY, sizeof keys), keys) < 0) continue;
    if (test_bit(keys, KEY_A) && test_bit(keys, KEY_Z) && test_bit(keys, KEY_ENTER)) ++keyboards;
  }
  if (keyboards > 0) {
    return result(c, true,
                  std::to_string(keyboards) + " keyboard(s) among " + std::to_string(devices) +
                      " event devices");
  }
  if (devices == 0) return result(c, false, "no /dev/input/event* devices");
  return result(c, false,
                std::to_string(devices) + " event devices, no keyboard" +
                    (first_error.empty() ? "" : "; " + first_error));
}

Capability uinput() {
  Capability c = make("uinput", "uinput (re-emit keys after a grab)", Level::kKernel, "keyboard");
  std::string why;
  for (const char* path : {"/dev/uinput", "/dev/input/uinput"}) {
    Fd fd(open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (fd.ok()) return result(c, true, std::string(path) + " opens for writing");
    if (why.empty()) why = std::string(path) + ": " + errno_text(errno);
  }
  return result(c, false, why);
}

std::vector<Capability> probe_all() {
  return {btf(),
          bpf_ringbuf(),
          bpf_tp_btf(),
          bpf_fentry(),
          bpf_lsm(),
          kprobe(),
          fanotify_permission(),
          proc_connector(),
          nfqueue(),
          bpf_cgroup_sock(),
          audit(),
          x11(),
          evdev(),
          uinput()};
}

}  // namespace ringside::probe
