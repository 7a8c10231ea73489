/* Maps and helpers of the network sensor's BPF program (network.bpf.c, network_cgroup.h). */
#ifndef RINGSIDE_NETWORK_COMMON_H
#define RINGSIDE_NETWORK_COMMON_H

#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <ringside/records.h>

#include "network_abi.h"
#include "ring_common.h"

#define RS_AF_INET 2
#define RS_AF_INET6 10
#define RS_S_IFMT 00170000
#define RS_S_IFSOCK 0140000
#define RS_EINPROGRESS 115
#define RS_IPPROTO_TCP 6
#define RS_IPPROTO_UDP 17

/* Set before load: the agent's own process, whose operations are not reported. */
const volatile __u32 agent_tgid = 0;

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct rs_rec_net_counters);
} counters SEC(".maps");

#define RS_NCOUNT(field)                                                     \
  do {                                                                       \
    __u32 zero_ = 0;                                                         \
    struct rs_rec_net_counters* c_ = bpf_map_lookup_elem(&counters, &zero_); \
    if (c_) __sync_fetch_and_add(&c_->field, 1);                             \
  } while (0)

/* Who owns a flow (NFQUEUE attribution): written when a connection's tuple is known. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, RS_FLOWS);
  __type(key, struct rs_flow_key);
  __type(value, struct rs_flow_owner);
} flows SEC(".maps");

/* Who owns a local port (listeners, unconnected UDP): key proto << 16 | port. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, RS_PORT_OWNERS);
  __type(key, __u32);
  __type(value, struct rs_flow_owner);
} port_owners SEC(".maps");

/* The arguments of a call in flight, by thread, from sys_enter to sys_exit. */
struct call_args {
  __u64 addr; /* user struct sockaddr * (connect, bind, sendto) */
  __s32 fd;
  __u8 op;
  __u8 pad[3];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct call_args);
} calls SEC(".maps");

static __always_inline void set_actor(struct rs_rec_net_op* r) {
  __u64 id = bpf_get_current_pid_tgid();
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();

  r->pid = id >> 32;
  r->tid = (__u32)id;
  r->uid = (__u32)bpf_get_current_uid_gid();
  r->start_boot_ns = BPF_CORE_READ(task, group_leader, start_boottime);
}

static __always_inline struct rs_rec_net_op* rec_reserve(void) {
  struct rs_rec_net_op* r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
  if (!r) {
    RS_NCOUNT(ringbuf_full);
    return 0;
  }
  __builtin_memset(r, 0, sizeof(*r));
  r->type = RS_REC_NET_OP;
  r->size = sizeof(*r);
  r->ts_boot_ns = bpf_ktime_get_boot_ns();
  return r;
}

static __always_inline void rec_submit(struct rs_rec_net_op* r, int urgent) {
  bpf_ringbuf_submit(r, wake_flags(urgent));
}

static __always_inline int addr_eq(const __u8 a[16], const __u8 b[16]) {
  __u64 a0, a1, b0, b1;

  __builtin_memcpy(&a0, a, 8);
  __builtin_memcpy(&a1, a + 8, 8);
  __builtin_memcpy(&b0, b, 8);
  __builtin_memcpy(&b1, b + 8, 8);
  return a0 == b0 && a1 == b1;
}

/* An IPv6 address that is IPv4-mapped (::ffff:a.b.c.d) is written as IPv4. Returns 4 or 6. */
static __always_inline __u8 put_v6(__u8 out[16], const __u32 a[4]) {
  if (a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff)) {
    __builtin_memset(out, 0, 16);
    __builtin_memcpy(out, &a[3], 4);
    return 4;
  }
  __builtin_memcpy(out, a, 16);
  return 6;
}

static __always_inline __u8 put_v4(__u8 out[16], __u32 a) {
  __builtin_memset(out, 0, 16);
  __builtin_memcpy(out, &a, 4);
  return 4;
}

/* A struct sockaddr from user memory: family 4/6 (0 when unreadable or another family). */
static __always_inline __u8 read_user_sockaddr(__u64 uaddr, __u8 out[16], __u16* port) {
  struct sockaddr_in6 sa6 = {};
  __u16 family = 0;

  if (!uaddr) return 0;
  if (bpf_probe_read_user(&family, sizeof(family), (const void*)uaddr)) {
    RS_NCOUNT(read_errors);
    return 0;
  }
  if (family == RS_AF_INET) {
    struct sockaddr_in sa = {};
    if (bpf_probe_read_user(&sa, sizeof(sa), (const void*)uaddr)) return 0;
    *port = bpf_ntohs(sa.sin_port);
    return put_v4(out, sa.sin_addr.s_addr);
  }
  if (family != RS_AF_INET6) return 0;
  if (bpf_probe_read_user(&sa6, sizeof(sa6), (const void*)uaddr)) return 0;
  *port = bpf_ntohs(sa6.sin6_port);
  return put_v6(out, sa6.sin6_addr.in6_u.u6_addr32);
}

/* The socket an fd of the current task names, or 0. */
static __always_inline struct sock* fd_sock(__s32 fd) {
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  struct fdtable* fdt = BPF_CORE_READ(task, files, fdt);
  struct file* f = 0;
  struct socket* sock;
  __u64 fds;

  if (fd < 0 || !fdt || (__u32)fd >= BPF_CORE_READ(fdt, max_fds)) return 0;
  fds = (__u64)BPF_CORE_READ(fdt, fd);
  if (bpf_probe_read_kernel(&f, sizeof(f), (const void*)(fds + (__u64)fd * sizeof(f))) || !f)
    return 0;
  if ((BPF_CORE_READ(f, f_inode, i_mode) & RS_S_IFMT) != RS_S_IFSOCK) return 0;
  sock = BPF_CORE_READ(f, private_data);
  return sock ? BPF_CORE_READ(sock, sk) : 0;
}

/* Protocol, local and remote address of a socket into r (family 0: not an inet socket). */
static __always_inline int sock_tuple(struct sock* sk, struct rs_rec_net_op* r) {
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  __u16 proto = BPF_CORE_READ(sk, sk_protocol);
  __u32 a[4];

  if (proto != RS_IPPROTO_TCP && proto != RS_IPPROTO_UDP) return 0;
  r->proto = proto;
  r->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
  r->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (family == RS_AF_INET) {
    r->family = put_v4(r->saddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
    put_v4(r->daddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
    return 1;
  }
  if (family != RS_AF_INET6) return 0;
  BPF_CORE_READ_INTO(&a, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
  r->family = put_v6(r->saddr, a);
  BPF_CORE_READ_INTO(&a, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
  /* A dual-stack socket connected to an IPv4 peer has both ends mapped. */
  if (put_v6(r->daddr, a) == 4 && r->family == 6) {
    __u8 zero[16] = {};
    if (addr_eq(r->saddr, zero)) r->family = 4;
  }
  return 1;
}

/* Records an owner unless the map holds that very owner already: an LRU map's update takes a
 * fresh element every time (and may have to evict for it), while a lookup only marks the entry
 * used. A TCP connect is recorded by the sockops program and again when connect returns, and
 * every accept names its listener's port again. */
static __always_inline void put_owner(void* map, const void* key, const struct rs_flow_owner* o) {
  const struct rs_flow_owner* cur = bpf_map_lookup_elem(map, key);
  if (cur && cur->pid == o->pid && cur->tid == o->tid && cur->uid == o->uid) return;
  if (bpf_map_update_elem(map, key, o, BPF_ANY)) RS_NCOUNT(flows_full);
}

static __always_inline void own_flow(const struct rs_rec_net_op* r) {
  struct rs_flow_key k = {};
  struct rs_flow_owner o = {.pid = r->pid, .tid = r->tid, .uid = r->uid};

  k.proto = r->proto;
  k.v6 = r->family == 6;
  k.sport = r->sport;
  k.dport = r->dport;
  __builtin_memcpy(k.saddr, r->saddr, 16);
  __builtin_memcpy(k.daddr, r->daddr, 16);
  if (r->dport) put_owner(&flows, &k, &o);
  if (r->sport) {
    __u32 pk = ((__u32)r->proto << 16) | r->sport;
    put_owner(&port_owners, &pk, &o);
  }
}

#endif /* RINGSIDE_NETWORK_COMMON_H */
