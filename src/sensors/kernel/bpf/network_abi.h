/* Values and map layouts of the network sensor, shared by its BPF program (network.bpf.c) and
 * the agent (sensors/kernel/network_ebpf.cpp, network_records.cpp, policy/kernel_net_rules).
 * The ring record (rs_rec_net_op) and the counters come from the schema (<ringside/records.h>);
 * the policy table below holds arrays of u16/u32/structs, which the schema's record syntax does
 * not express, so it is declared here with its size checked by both compilers. */
#ifndef RINGSIDE_NETWORK_ABI_H
#define RINGSIDE_NETWORK_ABI_H

#ifdef __cplusplus
#include <cstdint>
typedef uint8_t rs_u8;
typedef uint16_t rs_u16;
typedef uint32_t rs_u32;
typedef uint64_t rs_u64;
#else
typedef __u8 rs_u8;
typedef __u16 rs_u16;
typedef __u32 rs_u32;
typedef __u64 rs_u64;
#endif

/* rs_rec_net_op.op */
#define RS_NOP_CONNECT 1
#define RS_NOP_ACCEPT 2
#define RS_NOP_BIND 3
#define RS_NOP_SEND 4
#define RS_NOP_MAX 4

/* rs_rec_net_op.source: which hook produced the record */
#define RS_NSRC_SYSCALL 1 /* a system call's exit */
#define RS_NSRC_URING 2   /* an io_uring request's completion */
#define RS_NSRC_CGROUP 3  /* a cgroup socket program's verdict (deny, alert, redirect) */

/* rs_net_rule.action and rs_rec_net_op.action */
#define RS_NACT_END 0      /* ends the table */
#define RS_NACT_ALLOW 1    /* allow; later entries are not tried */
#define RS_NACT_DENY 2     /* the call fails with EPERM */
#define RS_NACT_ALERT 3    /* allowed and reported */
#define RS_NACT_REDIRECT 4 /* connect: the destination is rewritten */
#define RS_NACT_DEFER 5    /* a rule the kernel cannot decide: allow, later points decide */

/* rs_net_rule.hooks */
#define RS_NHOOK_CONNECT 0x1
#define RS_NHOOK_SEND 0x2
#define RS_NHOOK_BIND 0x4

/* rs_net_rule.cidr */
#define RS_NCIDR_NONE 0
#define RS_NCIDR_IN 1
#define RS_NCIDR_NOT_IN 2

#define RS_NET_RULES 32 /* entries per table; bit i of an LPM value is entry i */
#define RS_NET_PORTS 8
#define RS_NET_UIDS 4
#define RS_NET_EXES 4
#define RS_NET_CIDRS 1024 /* LPM entries over both tables */

struct rs_net_exe {
  rs_u64 ino;
  rs_u32 dev; /* kernel encoding: major << 20 | minor */
  rs_u32 pad;
};

/* One entry of a rule table: every condition present must hold. The table is an array map of
 * 2 * RS_NET_RULES entries, two tables of which net_config names the live one, so that a new
 * policy is written into the other table and switched to with one store. */
struct rs_net_rule {
  rs_u32 rule_index; /* index into the policy's rules, names the rule in events */
  rs_u8 action;      /* RS_NACT_* */
  rs_u8 hooks;       /* RS_NHOOK_* */
  rs_u8 proto;       /* 0: any; IPPROTO_TCP or IPPROTO_UDP */
  rs_u8 family;      /* 0: any; 4 or 6 (of the address after normalisation) */
  rs_u8 cidr;        /* RS_NCIDR_*: destination (bind: local) address in the rule's blocks */
  rs_u8 n_ports;     /* destination (bind: local) port is one of ports[0..n) */
  rs_u8 ports_negate;
  rs_u8 n_uids; /* user id is one of uids[0..n) */
  rs_u8 uids_negate;
  rs_u8 n_exes; /* executable is one of exes[0..n) (inode and device) */
  rs_u8 exes_negate;
  rs_u8 redirect_family; /* 4 or 6 */
  rs_u16 redirect_port;  /* host order */
  rs_u16 gen;            /* table generation, echoed in records */
  rs_u16 ports[RS_NET_PORTS];
  rs_u32 uids[RS_NET_UIDS];
  rs_u32 pad0;
  struct rs_net_exe exes[RS_NET_EXES];
  rs_u8 redirect_addr[16]; /* IPv4 in the first 4 bytes */
};

/* LPM trie key: the table slot, then the address as IPv6 (IPv4 mapped into ::ffff:0:0/96);
 * prefixlen counts the slot's 32 bits. The value is a u64 set of table entries whose blocks
 * contain the prefix (each entry's bit is also set in every longer prefix inside it). */
struct rs_net_lpm_key {
  rs_u32 prefixlen;
  rs_u32 slot;
  rs_u8 addr[16];
};

/* Flow -> owner map key: addresses as in rs_rec_net_op (IPv4 in the first 4 bytes, v6 = 0),
 * s = local, d = remote; ports host order. */
struct rs_flow_key {
  rs_u8 proto;
  rs_u8 v6;
  rs_u16 sport;
  rs_u16 dport;
  rs_u16 pad;
  rs_u8 saddr[16];
  rs_u8 daddr[16];
};

struct rs_flow_owner {
  rs_u32 pid;
  rs_u32 tid;
  rs_u32 uid;
  rs_u32 pad;
};

/* Local port -> owner (listeners, unconnected UDP sockets): key proto << 16 | port. */

/* The original destination of a redirected connection, by socket cookie (set by
 * cgroup/connect4/6) and then by local port (proto << 16 | port, set by the sockops program
 * when the connection's port is chosen). */
struct rs_origdst {
  rs_u8 addr[16];
  rs_u16 port; /* host order */
  rs_u8 family;
  rs_u8 proto;
  rs_u32 pid;
};

#define RS_FLOWS 65536
#define RS_PORT_OWNERS 16384
#define RS_ORIGDST 16384

#ifdef __cplusplus
static_assert(sizeof(rs_net_rule) == 136, "rs_net_rule layout");
static_assert(sizeof(rs_net_lpm_key) == 24, "rs_net_lpm_key layout");
static_assert(sizeof(rs_flow_key) == 40, "rs_flow_key layout");
static_assert(sizeof(rs_origdst) == 24, "rs_origdst layout");
#else
_Static_assert(sizeof(struct rs_net_rule) == 136, "rs_net_rule layout");
_Static_assert(sizeof(struct rs_net_lpm_key) == 24, "rs_net_lpm_key layout");
_Static_assert(sizeof(struct rs_flow_key) == 40, "rs_flow_key layout");
_Static_assert(sizeof(struct rs_origdst) == 24, "rs_origdst layout");
#endif

#endif /* RINGSIDE_NETWORK_ABI_H */
