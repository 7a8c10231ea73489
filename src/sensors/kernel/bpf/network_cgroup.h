/* The cgroup socket programs of the network sensor (part of network.bpf.c): deny, alert on or
 * redirect connects, sends and binds from the policy tables the agent compiles
 * (policy/kernel_net_rules.hpp), in the caller's context, without a round trip.
 *
 * Hook points and why there:
 *   - cgroup/connect4/6 (__sys_connect -> inet_stream_connect / udp connect ->
 *     BPF_CGROUP_RUN_PROG_INET{4,6}_CONNECT_LOCK): before the kernel acts on the address, so a
 *     deny fails the call with EPERM and a redirect rewrites the destination it connects to.
 *   - cgroup/sendmsg4/6 (udp_sendmsg / udpv6_sendmsg on an unconnected socket ->
 *     BPF_CGROUP_RUN_PROG_UDP{4,6}_SENDMSG_LOCK): each datagram sent to an explicit address.
 *   - cgroup/bind4/6 (inet_bind / inet6_bind -> BPF_CGROUP_RUN_PROG_INET_BIND_LOCK).
 *   - sockops BPF_SOCK_OPS_TCP_CONNECT_CB (tcp_connect, after inet_hash_connect chose the local
 *     port and before the SYN is sent): the connection's full tuple; the owner the connect
 *     program noted by socket cookie becomes the flow's owner before its first packet reaches
 *     NFQUEUE, and a redirected connection's original destination is filed under its local
 *     port for the agent's ORIGDST queries. */
#ifndef RINGSIDE_NETWORK_CGROUP_H
#define RINGSIDE_NETWORK_CGROUP_H

#include "network_common.h"

/* Index 0: the live table slot (0 or 1); the agent fills the other slot and switches. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} net_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2 * RS_NET_RULES);
  __type(key, __u32);
  __type(value, struct rs_net_rule);
} net_rules SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, RS_NET_CIDRS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct rs_net_lpm_key);
  __type(value, __u64);
} net_cidrs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, RS_ORIGDST);
  __type(key, __u64); /* socket cookie */
  __type(value, struct rs_origdst);
} redirect_by_cookie SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, RS_ORIGDST);
  __type(key, __u32); /* proto << 16 | local port */
  __type(value, struct rs_origdst);
} origdst SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64); /* socket cookie of a TCP connect in progress */
  __type(value, struct rs_flow_owner);
} connecting SEC(".maps");

struct sock_op {
  __u8 hook, proto, family, pad;
  __u16 port, pad2;
  __u8 addr[16];
};

static __always_inline int port_in(const struct rs_net_rule* e, __u16 port) {
  int in = 0;
  for (int j = 0; j < RS_NET_PORTS; j++)
    if (j < e->n_ports && e->ports[j] == port) in = 1;
  return in;
}

static __always_inline int uid_in(const struct rs_net_rule* e, __u32 uid) {
  int in = 0;
  for (int j = 0; j < RS_NET_UIDS; j++)
    if (j < e->n_uids && e->uids[j] == uid) in = 1;
  return in;
}

static __always_inline int exe_in(const struct rs_net_rule* e, __u64 ino, __u32 dev) {
  int in = 0;
  for (int j = 0; j < RS_NET_EXES; j++)
    if (j < e->n_exes && e->exes[j].ino == ino && e->exes[j].dev == dev) in = 1;
  return in;
}

/* The first table entry that holds for this operation, or 0. */
static __always_inline const struct rs_net_rule* decide(const struct sock_op* op) {
  __u32 zero = 0, uid = (__u32)bpf_get_current_uid_gid(), dev = 0;
  __u32* slotp = bpf_map_lookup_elem(&net_config, &zero);
  struct rs_net_lpm_key k = {};
  __u64 cidr_bits = 0, ino = 0, *bits;
  int exe_read = 0;

  if (!slotp) return 0;
  k.slot = *slotp & 1;
  __u32 first = k.slot * RS_NET_RULES;
  const struct rs_net_rule* e = bpf_map_lookup_elem(&net_rules, &first);
  if (!e || e->action == RS_NACT_END) return 0; /* no rules: nothing more to do */
  k.prefixlen = 32 + 128;
  if (op->family == 4) {
    k.addr[10] = 0xff;
    k.addr[11] = 0xff;
    __builtin_memcpy(&k.addr[12], op->addr, 4);
  } else {
    __builtin_memcpy(k.addr, op->addr, 16);
  }
  bits = bpf_map_lookup_elem(&net_cidrs, &k);
  if (bits) cidr_bits = *bits;
  for (__u32 i = 0; i < RS_NET_RULES; i++) {
    __u32 idx = k.slot * RS_NET_RULES + i;
    e = bpf_map_lookup_elem(&net_rules, &idx);
    if (!e || e->action == RS_NACT_END) return 0;
    if (!(e->hooks & op->hook)) continue;
    if (e->proto && e->proto != op->proto) continue;
    if (e->family && e->family != op->family) continue;
    if (e->cidr && (int)((cidr_bits >> i) & 1) != (e->cidr == RS_NCIDR_IN)) continue;
    if (e->n_ports && port_in(e, op->port) == e->ports_negate) continue;
    if (e->n_uids && uid_in(e, uid) == e->uids_negate) continue;
    if (e->n_exes) {
      if (!exe_read) {
        struct task_struct* task = (struct task_struct*)bpf_get_current_task();
        struct inode* inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
        ino = BPF_CORE_READ(inode, i_ino);
        dev = BPF_CORE_READ(inode, i_sb, s_dev);
        exe_read = 1;
      }
      if (exe_in(e, ino, dev) == e->exes_negate) continue;
    }
    return e;
  }
  return 0;
}

static __always_inline void report(const struct sock_op* op, const struct rs_net_rule* e,
                                   const struct rs_origdst* orig) {
  struct rs_rec_net_op* r = rec_reserve();
  if (!r) return;
  set_actor(r);
  r->op = op->hook == RS_NHOOK_CONNECT ? RS_NOP_CONNECT
          : op->hook == RS_NHOOK_SEND  ? RS_NOP_SEND
                                       : RS_NOP_BIND;
  r->source = RS_NSRC_CGROUP;
  r->action = e->action;
  r->rule = e->rule_index + 1;
  r->gen = e->gen;
  r->proto = op->proto;
  r->family = op->family;
  if (op->hook == RS_NHOOK_BIND) {
    __builtin_memcpy(r->saddr, op->addr, 16);
    r->sport = op->port;
  } else {
    __builtin_memcpy(r->daddr, op->addr, 16);
    r->dport = op->port;
  }
  if (orig) {
    __builtin_memcpy(r->orig_daddr, orig->addr, 16);
    r->orig_dport = orig->port;
    r->orig_family = orig->family;
  }
  rec_submit(r, e->action == RS_NACT_DENY);
}

static __always_inline int sock_addr_op(struct bpf_sock_addr* ctx, __u8 hook, int v6) {
  __u64 id = bpf_get_current_pid_tgid();
  struct sock_op op = {.hook = hook};
  const struct rs_net_rule* e;

  if ((__u32)(id >> 32) == agent_tgid) return 1;
  op.proto = ctx->protocol;
  op.port = bpf_ntohs(ctx->user_port);
  if (v6) {
    __u32 a[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
    op.family = put_v6(op.addr, a);
  } else {
    op.family = put_v4(op.addr, ctx->user_ip4);
  }
  if (hook == RS_NHOOK_CONNECT && op.proto == RS_IPPROTO_TCP) {
    /* Noted for the sockops program, which sees the tuple but not the process. */
    __u64 cookie = bpf_get_socket_cookie(ctx);
    struct rs_flow_owner o = {
        .pid = id >> 32, .tid = (__u32)id, .uid = (__u32)bpf_get_current_uid_gid()};
    bpf_map_update_elem(&connecting, &cookie, &o, BPF_ANY);
  }
  e = decide(&op);
  if (!e) return 1;
  switch (e->action) {
    case RS_NACT_DENY:
      RS_NCOUNT(denied);
      report(&op, e, 0);
      return 0;
    case RS_NACT_ALERT:
      report(&op, e, 0);
      return 1;
    case RS_NACT_REDIRECT: {
      struct rs_origdst orig = {
          .port = op.port, .family = op.family, .proto = op.proto, .pid = id >> 32};
      struct sock_op to = op;
      __u64 cookie;
      if (hook != RS_NHOOK_CONNECT || (!v6 && e->redirect_family != 4)) {
        RS_NCOUNT(redirect_failed);
        return 1;
      }
      __builtin_memcpy(orig.addr, op.addr, 16);
      if (v6) {
        __u32 a[4] = {};
        if (e->redirect_family == 4) {
          a[2] = bpf_htonl(0xffff);
          __builtin_memcpy(&a[3], e->redirect_addr, 4);
        } else {
          __builtin_memcpy(a, e->redirect_addr, 16);
        }
        ctx->user_ip6[0] = a[0];
        ctx->user_ip6[1] = a[1];
        ctx->user_ip6[2] = a[2];
        ctx->user_ip6[3] = a[3];
      } else {
        __u32 ip4;
        __builtin_memcpy(&ip4, e->redirect_addr, 4);
        ctx->user_ip4 = ip4;
      }
      ctx->user_port = bpf_htons(e->redirect_port);
      cookie = bpf_get_socket_cookie(ctx);
      bpf_map_update_elem(&redirect_by_cookie, &cookie, &orig, BPF_ANY);
      RS_NCOUNT(redirected);
      __builtin_memcpy(to.addr, e->redirect_addr, 16);
      to.port = e->redirect_port;
      to.family = e->redirect_family;
      report(&to, e, &orig);
      return 1;
    }
    default: /* allow, or a rule later points decide */
      return 1;
  }
}

SEC("cgroup/connect4")
int rs_connect4(struct bpf_sock_addr* ctx) { return sock_addr_op(ctx, RS_NHOOK_CONNECT, 0); }

SEC("cgroup/connect6")
int rs_connect6(struct bpf_sock_addr* ctx) { return sock_addr_op(ctx, RS_NHOOK_CONNECT, 1); }

SEC("cgroup/sendmsg4")
int rs_sendmsg4(struct bpf_sock_addr* ctx) { return sock_addr_op(ctx, RS_NHOOK_SEND, 0); }

SEC("cgroup/sendmsg6")
int rs_sendmsg6(struct bpf_sock_addr* ctx) { return sock_addr_op(ctx, RS_NHOOK_SEND, 1); }

SEC("cgroup/bind4")
int rs_bind4(struct bpf_sock_addr* ctx) { return sock_addr_op(ctx, RS_NHOOK_BIND, 0); }

SEC("cgroup/bind6")
int rs_bind6(struct bpf_sock_addr* ctx) { return sock_addr_op(ctx, RS_NHOOK_BIND, 1); }

SEC("sockops")
int rs_sockops(struct bpf_sock_ops* skops) {
  struct rs_rec_net_op t = {};
  struct rs_flow_owner* o;
  struct rs_origdst* od;
  __u64 cookie;

  if (skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB) return 1;
  cookie = bpf_get_socket_cookie(skops);
  o = bpf_map_lookup_elem(&connecting, &cookie);
  if (o) {
    t.pid = o->pid;
    t.tid = o->tid;
    t.uid = o->uid;
    t.proto = RS_IPPROTO_TCP;
    t.sport = skops->local_port;
    t.dport = bpf_ntohl(skops->remote_port);
    if (skops->family == RS_AF_INET) {
      t.family = put_v4(t.saddr, skops->local_ip4);
      put_v4(t.daddr, skops->remote_ip4);
    } else {
      __u32 a[4] = {skops->local_ip6[0], skops->local_ip6[1], skops->local_ip6[2],
                    skops->local_ip6[3]};
      __u32 b[4] = {skops->remote_ip6[0], skops->remote_ip6[1], skops->remote_ip6[2],
                    skops->remote_ip6[3]};
      t.family = put_v6(t.saddr, a);
      put_v6(t.daddr, b);
    }
    own_flow(&t);
    bpf_map_delete_elem(&connecting, &cookie);
  }
  od = bpf_map_lookup_elem(&redirect_by_cookie, &cookie);
  if (od) {
    __u32 key = ((__u32)RS_IPPROTO_TCP << 16) | skops->local_port;
    bpf_map_update_elem(&origdst, &key, od, BPF_ANY);
    bpf_map_delete_elem(&redirect_by_cookie, &cookie);
  }
  return 1;
}

#endif /* RINGSIDE_NETWORK_CGROUP_H */
