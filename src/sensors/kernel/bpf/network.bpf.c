// SPDX-License-Identifier: GPL-2.0
/* Kernel-level network sensor: one rs_rec_net_op record per connect, accept, bind and send to
 * an explicit address, with its result and the acting process; the flow -> owner maps NFQUEUE
 * attributes packets with; and (network_cgroup.h) the cgroup socket programs that deny,
 * alert on or redirect connections from policy tables without a round trip to the agent.
 *
 * Hook points and why there:
 *   - syscalls:sys_enter_{connect,bind,sendto,sendmsg} (do_syscall_64 -> syscall_trace_enter
 *     -> trace_sys_enter): the fd and the user's sockaddr pointer, kept by thread until the
 *     exit; calls on non-inet sockets and sends without an address (connected sockets) are
 *     dropped here, before any map write.
 *   - syscalls:sys_exit_{connect,bind,sendto,sendmsg,accept,accept4}: the result; the socket's
 *     own tuple (the local port the kernel chose, the peer an accept returned) is read from the
 *     fd's struct sock. A connect whose socket peer differs from what the program asked for was
 *     redirected; the record keeps both.
 *   - sock:inet_sock_set_state (tcp_set_state): TCP_LISTEN in the listen(2) caller's context
 *     names the owner of a listening port.
 *   - io_uring:io_uring_submit_req (io_submit_sqe -> trace_io_uring_submit_req) with
 *     io_uring:io_uring_complete: IORING_OP_CONNECT, ACCEPT, SENDMSG, SENDMSG_ZC; the request's
 *     fd and address are read at submission (submitter's context), the result and the socket's
 *     tuple at completion (a task sharing the submitter's file table).
 *   - cgroup/connect4/6, sendmsg4/6, bind4/6 and sockops: network_cgroup.h. */
#include "network_common.h"

char LICENSE[] SEC("license") = "GPL";

/* ---- system calls ---- */

static __always_inline int enter_addr(__u8 op, __s32 fd, __u64 uaddr) {
  __u64 id = bpf_get_current_pid_tgid();
  struct call_args a = {.addr = uaddr, .fd = fd, .op = op};
  __u16 family = 0;

  if ((__u32)(id >> 32) == agent_tgid || !uaddr) return 0;
  if (bpf_probe_read_user(&family, sizeof(family), (const void*)uaddr)) return 0;
  if (family != RS_AF_INET && family != RS_AF_INET6) return 0;
  __u32 tid = (__u32)id;
  if (bpf_map_update_elem(&calls, &tid, &a, BPF_ANY)) RS_NCOUNT(args_full);
  return 0;
}

SEC("tp/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter* ctx) {
  return enter_addr(RS_NOP_CONNECT, ctx->args[0], ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_bind")
int enter_bind(struct trace_event_raw_sys_enter* ctx) {
  return enter_addr(RS_NOP_BIND, ctx->args[0], ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_sendto")
int enter_sendto(struct trace_event_raw_sys_enter* ctx) {
  return enter_addr(RS_NOP_SEND, ctx->args[0], ctx->args[4]);
}

SEC("tp/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct trace_event_raw_sys_enter* ctx) {
  struct user_msghdr m = {};

  if (!ctx->args[1] || bpf_probe_read_user(&m, sizeof(m), (const void*)ctx->args[1])) return 0;
  return enter_addr(RS_NOP_SEND, ctx->args[0], (__u64)m.msg_name);
}

/* Fills r from the socket and the requested address; 0 when there is nothing to report. */
static __always_inline int describe(struct rs_rec_net_op* r, struct sock* sk, __u64 uaddr) {
  __u8 req[16];
  __u16 req_port = 0;
  __u8 req_family = read_user_sockaddr(uaddr, req, &req_port);
  int have_sock = sk ? sock_tuple(sk, r) : 0;

  if (!have_sock && !req_family) return 0;
  if (!have_sock) r->family = req_family;
  switch (r->op) {
    case RS_NOP_CONNECT:
      if (!req_family) break;
      if (!have_sock || r->dport == 0 || (r->ret < 0 && r->ret != -RS_EINPROGRESS)) {
        __builtin_memcpy(r->daddr, req, 16);
        r->dport = req_port;
        r->family = req_family;
      } else if (r->dport != req_port || !addr_eq(r->daddr, req)) {
        /* The kernel connected elsewhere than asked: a cgroup program redirected it. */
        __builtin_memcpy(r->orig_daddr, req, 16);
        r->orig_dport = req_port;
        r->orig_family = req_family;
      }
      break;
    case RS_NOP_BIND:
      if (r->ret < 0 || !have_sock) {
        __builtin_memcpy(r->saddr, req, 16);
        r->sport = req_port;
        r->family = req_family;
      }
      __builtin_memset(r->daddr, 0, 16);
      r->dport = 0;
      break;
    case RS_NOP_SEND:
      if (!req_family) return 0;
      __builtin_memcpy(r->daddr, req, 16);
      r->dport = req_port;
      break;
  }
  return 1;
}

static __always_inline int exit_addr(long ret) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  struct call_args* p = bpf_map_lookup_elem(&calls, &tid);
  struct call_args a;
  struct rs_rec_net_op* r;

  if (!p) return 0;
  a = *p;
  bpf_map_delete_elem(&calls, &tid);
  r = rec_reserve();
  if (!r) return 0;
  set_actor(r);
  r->op = a.op;
  r->source = RS_NSRC_SYSCALL;
  r->ret = ret;
  if (!describe(r, fd_sock(a.fd), a.addr)) {
    bpf_ringbuf_discard(r, 0);
    return 0;
  }
  if (ret >= 0 || ret == -RS_EINPROGRESS) own_flow(r);
  rec_submit(r, 0);
  return 0;
}

SEC("tp/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit* ctx) { return exit_addr(ctx->ret); }

SEC("tp/syscalls/sys_exit_bind")
int exit_bind(struct trace_event_raw_sys_exit* ctx) { return exit_addr(ctx->ret); }

SEC("tp/syscalls/sys_exit_sendto")
int exit_sendto(struct trace_event_raw_sys_exit* ctx) { return exit_addr(ctx->ret); }

SEC("tp/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct trace_event_raw_sys_exit* ctx) { return exit_addr(ctx->ret); }

/* accept/accept4: the new fd's socket names both ends. Failed accepts (EAGAIN in event loops)
 * are not reported. */
static __always_inline int accepted(long fd, __u8 source) {
  __u64 id = bpf_get_current_pid_tgid();
  struct rs_rec_net_op* r;
  struct sock* sk;

  if ((__u32)(id >> 32) == agent_tgid || fd < 0) return 0;
  sk = fd_sock(fd);
  if (!sk) return 0;
  r = rec_reserve();
  if (!r) return 0;
  set_actor(r);
  r->op = RS_NOP_ACCEPT;
  r->source = source;
  r->ret = fd;
  if (!sock_tuple(sk, r)) {
    bpf_ringbuf_discard(r, 0);
    return 0;
  }
  own_flow(r);
  rec_submit(r, 0);
  return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit* ctx) {
  return accepted(ctx->ret, RS_NSRC_SYSCALL);
}

SEC("tp/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit* ctx) {
  return accepted(ctx->ret, RS_NSRC_SYSCALL);
}

/* ---- listening sockets ---- */

SEC("tp/sock/inet_sock_set_state")
int sock_state(struct trace_event_raw_inet_sock_set_state* ctx) {
  __u64 id;
  struct rs_flow_owner o = {};
  __u32 key;

  if (ctx->newstate != TCP_LISTEN || ctx->protocol != RS_IPPROTO_TCP) return 0;
  id = bpf_get_current_pid_tgid();
  o.pid = id >> 32;
  o.tid = (__u32)id;
  o.uid = (__u32)bpf_get_current_uid_gid();
  key = ((__u32)RS_IPPROTO_TCP << 16) | ctx->sport;
  if (bpf_map_update_elem(&port_owners, &key, &o, BPF_ANY)) RS_NCOUNT(flows_full);
  return 0;
}

/* ---- io_uring ---- */

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 1024);
  __type(key, __u64); /* struct io_kiocb * */
  __type(value, struct call_args);
} uring_calls SEC(".maps");

SEC("tp/io_uring/io_uring_submit_req")
int uring_submit(struct trace_event_raw_io_uring_submit_req* ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  struct io_kiocb* req = ctx->req;
  struct call_args a = {};
  __u64 key = (__u64)req;
  __u16 family = 0;

  if ((__u32)(id >> 32) == agent_tgid || !req) return 0;
  switch (ctx->opcode) {
    case IORING_OP_CONNECT: {
      struct io_connect* c = (void*)req;
      a.op = RS_NOP_CONNECT;
      a.addr = (__u64)BPF_CORE_READ(c, addr);
      break;
    }
    case IORING_OP_ACCEPT:
      a.op = RS_NOP_ACCEPT;
      break;
    case IORING_OP_SENDMSG:
    case IORING_OP_SENDMSG_ZC: {
      struct io_sr_msg* s = (void*)req;
      struct user_msghdr m = {};
      if (bpf_probe_read_user(&m, sizeof(m), BPF_CORE_READ(s, umsg))) return 0;
      a.op = RS_NOP_SEND;
      a.addr = (__u64)m.msg_name;
      break;
    }
    default:
      return 0;
  }
  if (a.op != RS_NOP_ACCEPT) {
    if (!a.addr || bpf_probe_read_user(&family, sizeof(family), (const void*)a.addr)) return 0;
    if (family != RS_AF_INET && family != RS_AF_INET6) return 0;
  }
  if (BPF_CORE_READ(req, flags) & REQ_F_FIXED_FILE) return 0; /* no fd in the file table */
  a.fd = BPF_CORE_READ(req, cqe.fd);
  if (bpf_map_update_elem(&uring_calls, &key, &a, BPF_ANY)) RS_NCOUNT(args_full);
  return 0;
}

SEC("tp/io_uring/io_uring_complete")
int uring_complete(struct trace_event_raw_io_uring_complete* ctx) {
  __u64 key = (__u64)ctx->req;
  struct call_args* p = bpf_map_lookup_elem(&uring_calls, &key);
  struct call_args a;
  struct rs_rec_net_op* r;
  long res = ctx->res;

  if (!p) return 0;
  a = *p;
  bpf_map_delete_elem(&uring_calls, &key);
  if (a.op == RS_NOP_ACCEPT) return accepted(res, RS_NSRC_URING);
  r = rec_reserve();
  if (!r) return 0;
  set_actor(r);
  r->op = a.op;
  r->source = RS_NSRC_URING;
  r->ret = res;
  /* The address is read again at completion: the program must keep it until then. */
  if (!describe(r, fd_sock(a.fd), a.addr)) {
    bpf_ringbuf_discard(r, 0);
    return 0;
  }
  if (res >= 0) own_flow(r);
  rec_submit(r, 0);
  return 0;
}

#include "network_cgroup.h"
