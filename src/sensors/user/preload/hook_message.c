/* Encoding and parsing of hook messages (format: sensors/user/hook_protocol.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "hook_logic.h"

#define RS_TLV_INT_SIZE (RS_HOOK_TLV_HEADER_SIZE + 8)
#define RS_TLV_IDENTITY_SIZE (RS_HOOK_TLV_HEADER_SIZE + RS_HOOK_IDENTITY_SIZE)
#define RS_TLV_MAX_VALUE 0xFFFFu

static const char kFieldArgs[] = "process.args";
static const char kFieldCommandLine[] = "process.command_line";

/* Bytes reserved at the end of a message for the truncation marker and ringside.truncated. */
#define RS_TRAILER_SIZE                                                                        \
  (3 * RS_HOOK_TLV_HEADER_SIZE + sizeof RS_HOOK_TRUNCATED_MARKER - 1 + sizeof kFieldArgs - 1 + \
   sizeof kFieldCommandLine - 1)

static void put_header(uint8_t* p, uint16_t type, uint32_t seq, uint16_t event_type, uint16_t flags,
                       uint32_t length) {
  rs_put_u32(p, RS_HOOK_MAGIC);
  rs_put_u16(p + 4, RS_HOOK_VERSION);
  rs_put_u16(p + 6, type);
  rs_put_u32(p + 8, seq);
  rs_put_u16(p + 12, event_type);
  rs_put_u16(p + 14, flags);
  rs_put_u32(p + 16, length);
}

void rs_hook_writer_init(struct rs_hook_writer* w, uint8_t* buf, size_t cap, uint16_t type,
                         uint32_t seq, uint16_t event_type, uint16_t flags) {
  w->buf = buf;
  w->cap = cap > RS_HOOK_MAX_MESSAGE ? RS_HOOK_MAX_MESSAGE : cap;
  w->len = 0;
  if (w->cap < RS_HOOK_HEADER_SIZE) return;
  put_header(buf, type, seq, event_type, flags, 0);
  w->len = RS_HOOK_HEADER_SIZE;
}

static int put_tlv(struct rs_hook_writer* w, uint16_t field, const void* value, size_t len) {
  if (w->len < RS_HOOK_HEADER_SIZE || len > RS_TLV_MAX_VALUE) return -1;
  if (w->cap - w->len < RS_HOOK_TLV_HEADER_SIZE + len) return -1;
  uint8_t* p = w->buf + w->len;
  rs_put_u16(p, field);
  rs_put_u16(p + 2, (uint16_t)len);
  rs_copy(p + RS_HOOK_TLV_HEADER_SIZE, value, len);
  w->len += RS_HOOK_TLV_HEADER_SIZE + len;
  return 0;
}

int rs_hook_put_int(struct rs_hook_writer* w, uint16_t field, int64_t value) {
  uint8_t le[8];
  rs_put_u64(le, (uint64_t)value);
  return put_tlv(w, field, le, sizeof le);
}

int rs_hook_put_str(struct rs_hook_writer* w, uint16_t field, const char* s, size_t len) {
  return put_tlv(w, field, s, len);
}

size_t rs_hook_writer_finish(struct rs_hook_writer* w) {
  if (w->len < RS_HOOK_HEADER_SIZE) return 0;
  rs_put_u32(w->buf + 16, (uint32_t)(w->len - RS_HOOK_HEADER_SIZE));
  return w->len;
}

/* ---- process.exec */

static size_t str_tlv_size(const char* s) {
  return s == NULL ? 0 : RS_HOOK_TLV_HEADER_SIZE + rs_strlen(s);
}

static size_t count_args(char* const* argv) {
  size_t n = 0;
  if (argv != NULL) {
    while (argv[n] != NULL) ++n;
  }
  return n;
}

/* A spawn-type report's sender is the parent: its message names no other. */
static int sends_parent(const struct rs_exec_report* r) {
  return r->parent_pid > 0 && !r->new_process;
}

size_t rs_hook_exec_size(const struct rs_exec_report* r) {
  const size_t too_big = RS_HOOK_MAX_MESSAGE + 1;
  size_t n = RS_HOOK_HEADER_SIZE + str_tlv_size(r->hook) + str_tlv_size(r->executable) +
             str_tlv_size(r->working_directory) + str_tlv_size(r->command_line) +
             2 * RS_TLV_INT_SIZE;
  if (r->identity != NULL && r->identity->valid) n += RS_TLV_IDENTITY_SIZE;
  if (r->unsent != 0) n += RS_TLV_INT_SIZE;
  if (sends_parent(r)) n += RS_TLV_INT_SIZE;
  const size_t argc = count_args(r->argv);
  if (argc > RS_HOOK_MAX_LIST_ELEMENTS) return too_big;
  for (size_t i = 0; i < argc && n <= RS_HOOK_MAX_MESSAGE; ++i) n += str_tlv_size(r->argv[i]);
  if (r->command_line != NULL && rs_strlen(r->command_line) > RS_HOOK_MAX_COMMAND_LINE) {
    return too_big;
  }
  return n > RS_HOOK_MAX_MESSAGE ? too_big : n;
}

size_t rs_hook_encode_exec(const struct rs_exec_report* r, uint32_t seq, int want_verdict,
                           uint8_t* buf, size_t cap) {
  if (r->hook == NULL || r->executable == NULL) return 0;
  uint16_t flags = want_verdict ? RS_HOOK_FLAG_WANT_VERDICT : 0;
  if (r->new_process) flags |= RS_HOOK_FLAG_NEW_PROCESS;
  if (r->last) flags |= RS_HOOK_FLAG_LAST;
  struct rs_hook_writer w;
  rs_hook_writer_init(&w, buf, cap, RS_HOOK_MSG_EVENT, seq, RS_EVENT_PROCESS_EXEC, flags);
  /* A message that fits is written whole; cutting one needs room for every bounded field. */
  const int whole = rs_hook_exec_size(r) <= w.cap;
  if (!whole && w.cap < RS_HOOK_MIN_EXEC_BUFFER) return 0;

  const size_t hook_len = rs_strlen(r->hook);
  if (hook_len > RS_HOOK_MAX_HOOK_NAME) return 0;
  const size_t exe_len = rs_strlen(r->executable);
  const size_t argc = count_args(r->argv);
  if (rs_hook_put_str(&w, RS_FIELD_RINGSIDE_HOOK, r->hook, hook_len) != 0 ||
      rs_hook_put_str(&w, RS_FIELD_PROCESS_EXECUTABLE, r->executable, exe_len) != 0 ||
      (r->working_directory != NULL &&
       rs_hook_put_str(&w, RS_FIELD_PROCESS_WORKING_DIRECTORY, r->working_directory,
                       rs_strlen(r->working_directory)) != 0) ||
      rs_hook_put_int(&w, RS_FIELD_PROCESS_THREAD_ID, r->thread_id) != 0 ||
      rs_hook_put_int(&w, RS_FIELD_PROCESS_ARGS_COUNT, (int64_t)argc) != 0) {
    return 0;
  }
  if (r->identity != NULL && r->identity->valid) {
    uint8_t id[RS_HOOK_IDENTITY_SIZE];
    rs_put_u64(id, r->identity->dev);
    rs_put_u64(id + 8, r->identity->ino);
    rs_put_u64(id + 16, (uint64_t)r->identity->mtime_ns);
    if (put_tlv(&w, RS_HOOK_FIELD_EXECUTABLE_IDENTITY, id, sizeof id) != 0) return 0;
  }
  if (r->unsent != 0 && rs_hook_put_int(&w, RS_HOOK_FIELD_UNSENT, (int64_t)r->unsent) != 0) {
    return 0;
  }
  if (sends_parent(r) && rs_hook_put_int(&w, RS_FIELD_PROCESS_PARENT_PID, r->parent_pid) != 0) {
    return 0;
  }
  if (!whole && w.cap - w.len < RS_TRAILER_SIZE) return 0;
  /* From here on everything is cut to leave room for the trailer (never needed when whole). */
  const size_t limit = whole ? w.cap : w.cap - RS_TRAILER_SIZE;
  int cut_command_line = 0;
  if (r->command_line != NULL) {
    size_t len = rs_strlen(r->command_line);
    if (len > RS_HOOK_MAX_COMMAND_LINE) {
      len = RS_HOOK_MAX_COMMAND_LINE;
      cut_command_line = 1;
    }
    const size_t room = limit - w.len;
    if (room < RS_HOOK_TLV_HEADER_SIZE) {
      cut_command_line = 1;
    } else {
      if (room - RS_HOOK_TLV_HEADER_SIZE < len) {
        len = room - RS_HOOK_TLV_HEADER_SIZE;
        cut_command_line = 1;
      }
      rs_hook_put_str(&w, RS_FIELD_PROCESS_COMMAND_LINE, r->command_line, len);
    }
  }
  int cut_args = 0;
  for (size_t i = 0; i < argc; ++i) {
    const size_t len = rs_strlen(r->argv[i]);
    const int last_slot = i + 1 == RS_HOOK_MAX_LIST_ELEMENTS && argc > RS_HOOK_MAX_LIST_ELEMENTS;
    if (last_slot || len > RS_TLV_MAX_VALUE || limit - w.len < RS_HOOK_TLV_HEADER_SIZE + len) {
      cut_args = 1;
      break;
    }
    rs_hook_put_str(&w, RS_FIELD_PROCESS_ARGS, r->argv[i], len);
  }
  /* The trailer always fits: it was reserved above. */
  if (cut_args) {
    rs_hook_put_str(&w, RS_FIELD_PROCESS_ARGS, RS_HOOK_TRUNCATED_MARKER,
                    sizeof RS_HOOK_TRUNCATED_MARKER - 1);
    rs_hook_put_str(&w, RS_FIELD_RINGSIDE_TRUNCATED, kFieldArgs, sizeof kFieldArgs - 1);
  }
  if (cut_command_line) {
    rs_hook_put_str(&w, RS_FIELD_RINGSIDE_TRUNCATED, kFieldCommandLine,
                    sizeof kFieldCommandLine - 1);
  }
  return rs_hook_writer_finish(&w);
}

/* ---- parsing */

const char* rs_hook_status_string(int status) {
  switch (status) {
    case RS_HOOK_OK:
      return "ok";
    case RS_HOOK_ERR_SHORT:
      return "shorter than a message header";
    case RS_HOOK_ERR_MAGIC:
      return "bad magic";
    case RS_HOOK_ERR_VERSION:
      return "unsupported protocol version";
    case RS_HOOK_ERR_TYPE:
      return "unknown message type";
    case RS_HOOK_ERR_FLAGS:
      return "unknown flag bits";
    case RS_HOOK_ERR_LENGTH:
      return "header length does not match the message size";
    case RS_HOOK_ERR_OVERSIZE:
      return "message larger than the protocol maximum";
    case RS_HOOK_ERR_TLV:
      return "field header or value runs past the end of the message";
    case RS_HOOK_ERR_VERDICT:
      return "malformed verdict";
    default:
      return "unknown error";
  }
}

int rs_hook_parse_header(const uint8_t* buf, size_t len, struct rs_hook_header* h) {
  if (buf == NULL || len < RS_HOOK_HEADER_SIZE) return RS_HOOK_ERR_SHORT;
  h->magic = rs_get_u32(buf);
  h->version = rs_get_u16(buf + 4);
  h->type = rs_get_u16(buf + 6);
  h->seq = rs_get_u32(buf + 8);
  h->event_type = rs_get_u16(buf + 12);
  h->flags = rs_get_u16(buf + 14);
  h->length = rs_get_u32(buf + 16);
  if (h->magic != RS_HOOK_MAGIC) return RS_HOOK_ERR_MAGIC;
  if (h->version != RS_HOOK_VERSION) return RS_HOOK_ERR_VERSION;
  if (len > RS_HOOK_MAX_MESSAGE || h->length > RS_HOOK_MAX_MESSAGE - RS_HOOK_HEADER_SIZE) {
    return RS_HOOK_ERR_OVERSIZE;
  }
  if (h->length != len - RS_HOOK_HEADER_SIZE) return RS_HOOK_ERR_LENGTH;
  if (h->type != RS_HOOK_MSG_EVENT && h->type != RS_HOOK_MSG_VERDICT &&
      h->type != RS_HOOK_MSG_UNSENT) {
    return RS_HOOK_ERR_TYPE;
  }
  if ((h->flags & ~RS_HOOK_KNOWN_FLAGS) != 0) return RS_HOOK_ERR_FLAGS;
  return RS_HOOK_OK;
}

void rs_hook_tlv_begin(struct rs_hook_tlv_iter* it, const uint8_t* payload, size_t len) {
  it->p = payload;
  it->left = payload == NULL ? 0 : len;
}

int rs_hook_tlv_next(struct rs_hook_tlv_iter* it, struct rs_hook_tlv* tlv) {
  if (it->left == 0) return 0;
  if (it->left < RS_HOOK_TLV_HEADER_SIZE) return -1;
  tlv->field = rs_get_u16(it->p);
  tlv->length = rs_get_u16(it->p + 2);
  if (it->left - RS_HOOK_TLV_HEADER_SIZE < tlv->length) return -1;
  tlv->value = it->p + RS_HOOK_TLV_HEADER_SIZE;
  it->p += RS_HOOK_TLV_HEADER_SIZE + tlv->length;
  it->left -= RS_HOOK_TLV_HEADER_SIZE + tlv->length;
  return 1;
}

/* ---- socket addresses */

int rs_hook_address_from_sockaddr(const void* sa, size_t len, struct rs_hook_address* out) {
  if (sa == NULL || len < sizeof(sa_family_t)) return -1;
  const sa_family_t family = ((const struct sockaddr*)sa)->sa_family;
  for (size_t i = 0; i < sizeof out->addr; ++i) out->addr[i] = 0;
  if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in* in = (const struct sockaddr_in*)sa;
    out->family = 4;
    out->port = ntohs(in->sin_port);
    rs_copy(out->addr, &in->sin_addr, 4);
    return 0;
  }
  if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)sa;
    out->family = 6;
    out->port = ntohs(in6->sin6_port);
    rs_copy(out->addr, &in6->sin6_addr, 16);
    return 0;
  }
  return -1;
}

size_t rs_hook_address_to_sockaddr(const struct rs_hook_address* a, int socket_family, void* out,
                                   size_t cap) {
  if (socket_family == AF_INET && a->family == 4 && cap >= sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    unsigned char* z = (unsigned char*)&in;
    for (size_t i = 0; i < sizeof in; ++i) z[i] = 0;
    in.sin_family = AF_INET;
    in.sin_port = htons(a->port);
    rs_copy(&in.sin_addr, a->addr, 4);
    rs_copy(out, &in, sizeof in);
    return sizeof in;
  }
  if (socket_family == AF_INET6 && cap >= sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 in6;
    unsigned char* z = (unsigned char*)&in6;
    for (size_t i = 0; i < sizeof in6; ++i) z[i] = 0;
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(a->port);
    uint8_t* b = (uint8_t*)&in6.sin6_addr;
    if (a->family == 4) { /* ::ffff:a.b.c.d */
      b[10] = 0xFF;
      b[11] = 0xFF;
      rs_copy(b + 12, a->addr, 4);
    } else if (a->family == 6) {
      rs_copy(b, a->addr, 16);
    } else {
      return 0;
    }
    rs_copy(out, &in6, sizeof in6);
    return sizeof in6;
  }
  return 0;
}

void rs_hook_address_put(uint8_t* p, const struct rs_hook_address* a) {
  p[0] = a->family;
  p[1] = 0;
  rs_put_u16(p + 2, a->port);
  rs_copy(p + 4, a->addr, 16);
}

int rs_hook_address_get(const uint8_t* p, struct rs_hook_address* a) {
  if ((p[0] != 4 && p[0] != 6) || p[1] != 0) return -1;
  a->family = p[0];
  a->port = rs_get_u16(p + 2);
  rs_copy(a->addr, p + 4, 16);
  if (a->family == 4) {
    for (size_t i = 4; i < 16; ++i) {
      if (a->addr[i] != 0) return -1;
    }
  }
  return 0;
}

int rs_hook_put_address(struct rs_hook_writer* w, uint16_t field, const struct rs_hook_address* a) {
  uint8_t buf[RS_HOOK_ADDRESS_SIZE];
  rs_hook_address_put(buf, a);
  return put_tlv(w, field, buf, sizeof buf);
}

/* ---- verdicts */

size_t rs_hook_encode_unsent(uint64_t count, int last, uint8_t* buf, size_t cap) {
  struct rs_hook_writer w;
  rs_hook_writer_init(&w, buf, cap, RS_HOOK_MSG_UNSENT, 0, 0, last ? RS_HOOK_FLAG_LAST : 0);
  if (count == 0 || count > INT64_MAX ||
      rs_hook_put_int(&w, RS_HOOK_FIELD_UNSENT, (int64_t)count) != 0) {
    return 0;
  }
  return rs_hook_writer_finish(&w);
}

static size_t encode_verdict(uint32_t seq, int verdict, const char* rule, size_t rule_len,
                             const struct rs_hook_address* target, uint8_t* buf, size_t cap) {
  if (rule == NULL) rule_len = 0;
  if (rule_len > RS_HOOK_MAX_RULE) rule_len = RS_HOOK_MAX_RULE;
  const size_t extra = target != NULL ? RS_HOOK_ADDRESS_SIZE : 0;
  const size_t total = RS_HOOK_HEADER_SIZE + 4 + rule_len + extra;
  if (cap < total || verdict < RS_HOOK_VERDICT_ALLOW || verdict > RS_HOOK_VERDICT_REDIRECT) {
    return 0;
  }
  if ((verdict == RS_HOOK_VERDICT_REDIRECT) != (target != NULL)) return 0;
  put_header(buf, RS_HOOK_MSG_VERDICT, seq, 0, 0, (uint32_t)(4 + rule_len + extra));
  uint8_t* p = buf + RS_HOOK_HEADER_SIZE;
  p[0] = (uint8_t)verdict;
  p[1] = 0;
  rs_put_u16(p + 2, (uint16_t)rule_len);
  rs_copy(p + 4, rule, rule_len);
  if (target != NULL) rs_hook_address_put(p + 4 + rule_len, target);
  return total;
}

size_t rs_hook_encode_verdict(uint32_t seq, int verdict, const char* rule, size_t rule_len,
                              uint8_t* buf, size_t cap) {
  return encode_verdict(seq, verdict, rule, rule_len, NULL, buf, cap);
}

size_t rs_hook_encode_redirect(uint32_t seq, const char* rule, size_t rule_len,
                               const struct rs_hook_address* target, uint8_t* buf, size_t cap) {
  if (target == NULL) return 0;
  return encode_verdict(seq, RS_HOOK_VERDICT_REDIRECT, rule, rule_len, target, buf, cap);
}

int rs_hook_parse_verdict(const uint8_t* buf, size_t len, uint32_t* seq, int* verdict, char* rule,
                          size_t rule_cap) {
  return rs_hook_parse_verdict_target(buf, len, seq, verdict, rule, rule_cap, NULL);
}

int rs_hook_parse_verdict_target(const uint8_t* buf, size_t len, uint32_t* seq, int* verdict,
                                 char* rule, size_t rule_cap, struct rs_hook_address* target) {
  struct rs_hook_header h;
  const int st = rs_hook_parse_header(buf, len, &h);
  if (st != RS_HOOK_OK) return st;
  if (h.type != RS_HOOK_MSG_VERDICT || h.flags != 0 || h.length < 4) return RS_HOOK_ERR_VERDICT;
  const uint8_t* p = buf + RS_HOOK_HEADER_SIZE;
  const size_t rule_len = rs_get_u16(p + 2);
  const size_t extra = p[0] == RS_HOOK_VERDICT_REDIRECT ? RS_HOOK_ADDRESS_SIZE : 0;
  if (p[0] > RS_HOOK_VERDICT_REDIRECT || p[1] != 0 || rule_len > RS_HOOK_MAX_RULE ||
      rule_len + extra != h.length - 4) {
    return RS_HOOK_ERR_VERDICT;
  }
  struct rs_hook_address a;
  if (extra != 0 && rs_hook_address_get(p + 4 + rule_len, &a) != 0) return RS_HOOK_ERR_VERDICT;
  *seq = h.seq;
  *verdict = p[0];
  if (target != NULL && extra != 0) *target = a;
  if (rule != NULL && rule_cap > 0) {
    const size_t n = rule_len < rule_cap - 1 ? rule_len : rule_cap - 1;
    rs_copy(rule, p + 4, n);
    rule[n] = '\0';
  }
  return RS_HOOK_OK;
}
