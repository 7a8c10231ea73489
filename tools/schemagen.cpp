// schemagen: turns schema/events.yaml into the sources every other part of ringside uses.
//
//   schemagen SCHEMA OUTDIR
//
// writes OUTDIR/ringside/schema_gen.hpp, OUTDIR/schema_gen.cpp, OUTDIR/ringside/records.h and
// OUTDIR/events.md. Errors name the schema file and line and exit with status 2.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Field {
  int id = 0;
  std::string name;
  std::string type;
  std::string doc;
  int slot = 0;
};

struct EventType {
  int id = 0;
  std::string category;
  std::string action;
  std::string doc;
  std::vector<std::string> fields;
};

struct RecordField {
  std::string name;
  std::string type;
  size_t size = 0;
  size_t align = 1;
  size_t offset = 0;
  bool flexible = false;
};

struct Record {
  int id = 0;
  std::string name;
  std::string doc;
  std::vector<RecordField> fields;
  size_t size = 0;
};

std::string g_schema_path;

[[noreturn]] void die(const YAML::Node& node, const std::string& msg) {
  const YAML::Mark m = node.Mark();
  std::fprintf(stderr, "%s:%d:%d: %s\n", g_schema_path.c_str(), m.line + 1, m.column + 1,
               msg.c_str());
  std::exit(2);
}

// "process.parent.pid" -> "kProcessParentPid"; "@timestamp" -> "kTimestamp".
std::string const_name(const std::string& dotted) {
  std::string out = "k";
  bool upper = true;
  for (char c : dotted) {
    if (c == '.' || c == '_' || c == '@') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::string macro_name(const std::string& dotted) {
  std::string out;
  for (char c : dotted) {
    if (c == '@') continue;
    out += (c == '.') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string cpp_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

RecordField parse_record_field(const YAML::Node& n) {
  RecordField f;
  f.name = n["name"].as<std::string>();
  f.type = n["type"].as<std::string>();
  static const std::map<std::string, std::pair<size_t, size_t>> kScalars = {
      {"u8", {1, 1}}, {"u16", {2, 2}}, {"u32", {4, 4}}, {"u64", {8, 8}},
      {"i8", {1, 1}}, {"i16", {2, 2}}, {"i32", {4, 4}}, {"i64", {8, 8}},
  };
  if (auto it = kScalars.find(f.type); it != kScalars.end()) {
    f.size = it->second.first;
    f.align = it->second.second;
  } else if (f.type == "u8[]") {
    f.flexible = true;
  } else if (f.type.rfind("char[", 0) == 0 || f.type.rfind("u8[", 0) == 0) {
    const size_t open = f.type.find('[');
    f.size = std::stoul(f.type.substr(open + 1));
    f.align = 1;
  } else {
    die(n["type"], "unknown record field type '" + f.type + "'");
  }
  return f;
}

std::string c_type(const RecordField& f) {
  const std::string& t = f.type;
  if (t[0] == 'u' && t.find('[') == std::string::npos) return "__" + t;
  if (t[0] == 'i') return "__s" + t.substr(1);
  return "__u8";
}

// Lays out fields with C alignment rules; a hole is an error so that both compilers agree and
// no uninitialised padding ever leaves the kernel.
void layout(Record& r, const YAML::Node& where) {
  size_t off = 0;
  size_t max_align = 1;
  for (size_t i = 0; i < r.fields.size(); ++i) {
    RecordField& f = r.fields[i];
    if (f.flexible && i + 1 != r.fields.size())
      die(where, "record " + r.name + ": u8[] must be last");
    if (off % f.align != 0) {
      die(where, "record " + r.name + ": field " + f.name + " would leave a hole at offset " +
                     std::to_string(off) + "; add explicit padding");
    }
    f.offset = off;
    off += f.size;
    max_align = std::max(max_align, f.align);
  }
  if (off % max_align != 0) die(where, "record " + r.name + ": size not a multiple of alignment");
  r.size = off;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  // Leave an unchanged file alone so that dependent objects are not rebuilt.
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::stringstream old;
    old << in.rdbuf();
    if (old.str() == text) return;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) {
    std::fprintf(stderr, "schemagen: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

struct JsonNode {
  std::string key;
  int field = -1;  // dense field index for leaves
  std::vector<int> children;
  std::set<int> descendants;
};

int add_json_path(std::vector<JsonNode>& nodes, const std::string& name, int field_index) {
  // '@timestamp' is a top-level key; everything else nests on '.'.
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    parts.push_back(name.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  int cur = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    nodes[cur].descendants.insert(field_index);
    int found = -1;
    for (int c : nodes[cur].children) {
      if (nodes[c].key == parts[i]) found = c;
    }
    if (found < 0) {
      JsonNode n;
      n.key = parts[i];
      nodes.push_back(n);
      found = static_cast<int>(nodes.size() - 1);
      nodes[cur].children.push_back(found);
    }
    if (i + 1 == parts.size()) {
      if (nodes[found].field >= 0 || !nodes[found].children.empty()) return -1;
      nodes[found].field = field_index;
      nodes[found].descendants.insert(field_index);
    } else if (nodes[found].field >= 0) {
      return -1;
    }
    cur = found;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: schemagen SCHEMA OUTDIR\n");
    return 2;
  }
  g_schema_path = argv[1];
  const std::filesystem::path out_dir = argv[2];
  YAML::Node root;
  try {
    root = YAML::LoadFile(g_schema_path);
  } catch (const YAML::Exception& e) {
    std::fprintf(stderr, "%s:%d:%d: %s\n", g_schema_path.c_str(), e.mark.line + 1,
                 e.mark.column + 1, e.msg.c_str());
    return 2;
  }
  const std::string version = root["version"].as<std::string>();

  // Fields.
  std::vector<Field> fields;
  std::map<std::string, int> by_name;
  std::set<int> ids;
  int int_slots = 0, str_slots = 0, list_slots = 0;
  for (const auto& n : root["fields"]) {
    Field f;
    f.id = n["id"].as<int>();
    f.name = n["name"].as<std::string>();
    f.type = n["type"].as<std::string>();
    f.doc = n["doc"] ? n["doc"].as<std::string>() : "";
    if (f.id <= 0 || f.id > 1023) die(n["id"], "field id out of range 1..1023");
    if (!ids.insert(f.id).second) die(n["id"], "duplicate field id " + std::to_string(f.id));
    if (by_name.count(f.name)) die(n["name"], "duplicate field name " + f.name);
    if (f.type == "int" || f.type == "timestamp") {
      f.slot = int_slots++;
    } else if (f.type == "string" || f.type == "ip") {
      f.slot = str_slots++;
    } else if (f.type == "strings") {
      f.slot = list_slots++;
    } else {
      die(n["type"], "unknown field type '" + f.type + "'");
    }
    by_name[f.name] = static_cast<int>(fields.size());
    fields.push_back(f);
  }
  auto field_ref = [&](const YAML::Node& n) {
    const auto name = n.as<std::string>();
    auto it = by_name.find(name);
    if (it == by_name.end()) die(n, "unknown field '" + name + "'");
    return it->second;
  };
  std::vector<int> common;
  for (const auto& n : root["common"]) common.push_back(field_ref(n));

  // Event types.
  std::vector<EventType> events;
  std::set<int> event_ids;
  for (const auto& n : root["events"]) {
    EventType e;
    e.id = n["id"].as<int>();
    e.category = n["category"].as<std::string>();
    e.action = n["action"].as<std::string>();
    e.doc = n["doc"] ? n["doc"].as<std::string>() : "";
    if (!event_ids.insert(e.id).second) die(n["id"], "duplicate event id");
    for (const auto& f : n["fields"]) e.fields.push_back(fields[field_ref(f)].name);
    events.push_back(e);
  }

  // Records.
  std::vector<RecordField> header;
  for (const auto& n : root["record_header"]) header.push_back(parse_record_field(n));
  std::vector<Record> records;
  for (const auto& n : root["records"]) {
    Record r;
    r.id = n["id"].as<int>();
    r.name = n["name"].as<std::string>();
    r.doc = n["doc"] ? n["doc"].as<std::string>() : "";
    for (const auto& h : header) r.fields.push_back(h);
    for (const auto& f : n["fields"]) r.fields.push_back(parse_record_field(f));
    layout(r, n);
    records.push_back(r);
  }

  // JSON tree: node 0 is the root object.
  std::vector<JsonNode> tree(1);
  for (size_t i = 0; i < fields.size(); ++i) {
    if (add_json_path(tree, fields[i].name, static_cast<int>(i)) != 0) {
      std::fprintf(stderr, "%s: field %s clashes with another field's object path\n",
                   g_schema_path.c_str(), fields[i].name.c_str());
      return 2;
    }
  }
  // Lay the tree out breadth-first so that each node's children are contiguous.
  std::vector<int> order{0};
  std::map<int, int> new_index{{0, 0}};
  for (size_t i = 0; i < order.size(); ++i) {
    for (int c : tree[order[i]].children) {
      new_index[c] = static_cast<int>(order.size());
      order.push_back(c);
    }
  }

  // ---- schema_gen.hpp
  std::ostringstream h;
  h << "// Generated by tools/schemagen from schema/events.yaml. Do not edit.\n"
       "#pragma once\n\n#include <array>\n#include <cstddef>\n#include <cstdint>\n"
       "#include <string_view>\n\nnamespace ringside::schema {\n\n"
    << "inline constexpr std::string_view kVersion = " << cpp_string(version) << ";\n\n"
    << "enum class FieldType : uint8_t { kInt, kString, kStrings, kIp, kTimestamp };\n\n"
    << "enum class Field : uint16_t {\n";
  for (const auto& f : fields) h << "  " << const_name(f.name) << " = " << f.id << ",\n";
  h << "};\n\ninline constexpr size_t kNumFields = " << fields.size() << ";\n"
    << "inline constexpr size_t kNumIntSlots = " << int_slots << ";\n"
    << "inline constexpr size_t kNumStrSlots = " << str_slots << ";\n"
    << "inline constexpr size_t kNumListSlots = " << list_slots << ";\n"
    << "inline constexpr size_t kMaxFieldId = 1023;\n\n"
    << "struct FieldInfo {\n  Field id;\n  std::string_view name;\n  FieldType type;\n"
       "  uint8_t slot;\n  std::string_view doc;\n};\n\n"
    << "// Dense order; index with field_index().\n"
    << "extern const std::array<FieldInfo, kNumFields> kFieldInfo;\n\n"
    << "// Dense index of a field id, or -1 for an id the schema does not define.\n"
    << "int field_index(uint16_t id) noexcept;\n"
    << "constexpr int field_index(Field f) noexcept {\n  switch (f) {\n";
  for (size_t i = 0; i < fields.size(); ++i) {
    h << "    case Field::" << const_name(fields[i].name) << ": return " << i << ";\n";
  }
  h << "  }\n  return -1;\n}\n\n"
    << "enum class EventType : uint16_t {\n";
  for (const auto& e : events) {
    h << "  " << const_name(e.category + "." + e.action) << " = " << e.id << ",\n";
  }
  h << "};\n\ninline constexpr size_t kNumEventTypes = " << events.size() << ";\n\n"
    << "struct EventTypeInfo {\n  EventType id;\n  std::string_view category;\n"
       "  std::string_view action;\n  std::string_view doc;\n"
       "  // Fields this type may carry beyond the common ones (dense indexes).\n"
       "  const int16_t* fields;\n  size_t num_fields;\n};\n\n"
    << "extern const std::array<EventTypeInfo, kNumEventTypes> kEventTypes;\n"
    << "extern const std::array<int16_t, " << common.size() << "> kCommonFields;\n\n"
    << "// Index into kEventTypes, or -1.\n"
    << "int event_type_index(uint16_t id) noexcept;\n\n"
    << "// The nested JSON object tree; node 0 is the root. Leaves carry a dense field index.\n"
    << "struct JsonNode {\n  std::string_view key;\n  // The key as it is written: quoted, with "
       "its colon.\n  std::string_view key_json;\n  int16_t field;\n  uint16_t first_child;\n"
       "  uint16_t num_children;\n  // Dense indexes of every field below this node, as a "
       "bitmask.\n"
       "  std::array<uint64_t, "
    << (fields.size() + 63) / 64 << "> mask;\n};\n\n"
    << "inline constexpr size_t kFieldMaskWords = " << (fields.size() + 63) / 64 << ";\n"
    << "extern const std::array<JsonNode, " << tree.size() << "> kJsonTree;\n\n"
    << "}  // namespace ringside::schema\n";
  write_file(out_dir / "ringside" / "schema_gen.hpp", h.str());

  // ---- schema_gen.cpp
  std::ostringstream c;
  c << "// Generated by tools/schemagen from schema/events.yaml. Do not edit.\n"
       "#include \"ringside/schema_gen.hpp\"\n\nnamespace ringside::schema {\n\n"
    << "const std::array<FieldInfo, kNumFields> kFieldInfo = {{\n";
  for (const auto& f : fields) {
    std::string t = f.type == "int"       ? "kInt"
                    : f.type == "string"  ? "kString"
                    : f.type == "strings" ? "kStrings"
                    : f.type == "ip"      ? "kIp"
                                          : "kTimestamp";
    c << "    {Field::" << const_name(f.name) << ", " << cpp_string(f.name) << ", FieldType::" << t
      << ", " << f.slot << ", " << cpp_string(f.doc) << "},\n";
  }
  c << "}};\n\nint field_index(uint16_t id) noexcept {\n  switch (id) {\n";
  for (size_t i = 0; i < fields.size(); ++i) {
    c << "    case " << fields[i].id << ": return " << i << ";\n";
  }
  c << "    default: return -1;\n  }\n}\n\n";
  for (size_t i = 0; i < events.size(); ++i) {
    c << "static const int16_t kEventFields" << i << "[] = {";
    for (const auto& f : events[i].fields) c << by_name[f] << ", ";
    c << "-1};\n";
  }
  c << "\nconst std::array<EventTypeInfo, kNumEventTypes> kEventTypes = {{\n";
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    c << "    {EventType::" << const_name(e.category + "." + e.action) << ", "
      << cpp_string(e.category) << ", " << cpp_string(e.action) << ", " << cpp_string(e.doc)
      << ", kEventFields" << i << ", " << e.fields.size() << "},\n";
  }
  c << "}};\n\nconst std::array<int16_t, " << common.size() << "> kCommonFields = {";
  for (int f : common) c << f << ", ";
  c << "};\n\nint event_type_index(uint16_t id) noexcept {\n  switch (id) {\n";
  for (size_t i = 0; i < events.size(); ++i) {
    c << "    case " << events[i].id << ": return " << i << ";\n";
  }
  c << "    default: return -1;\n  }\n}\n\n"
    << "const std::array<JsonNode, " << tree.size() << "> kJsonTree = {{\n";
  const size_t words = (fields.size() + 63) / 64;
  for (int old : order) {
    const JsonNode& n = tree[old];
    std::vector<uint64_t> mask(words, 0);
    for (int d : n.descendants) mask[d / 64] |= (uint64_t{1} << (d % 64));
    const int first = n.children.empty() ? 0 : new_index[n.children.front()];
    c << "    {" << cpp_string(n.key) << ", " << cpp_string("\"" + n.key + "\":") << ", " << n.field
      << ", " << first << ", " << n.children.size() << ", {";
    for (uint64_t w : mask) c << "0x" << std::hex << w << std::dec << "ULL, ";
    c << "}},\n";
  }
  c << "}};\n\n}  // namespace ringside::schema\n";
  write_file(out_dir / "schema_gen.cpp", c.str());

  // ---- records.h (C; shared with BPF programs and the interposer)
  std::ostringstream r;
  r << "/* Generated by tools/schemagen from schema/events.yaml. Do not edit. */\n"
       "#ifndef RINGSIDE_RECORDS_H\n#define RINGSIDE_RECORDS_H\n\n"
       "#ifndef __VMLINUX_H__\n#include <linux/types.h>\n#endif\n\n"
       "#ifdef __cplusplus\n#define RS_STATIC_ASSERT static_assert\n#else\n"
       "#define RS_STATIC_ASSERT _Static_assert\n#endif\n\n"
    << "#define RS_SCHEMA_VERSION " << cpp_string(version) << "\n\n"
    << "/* Stable field ids (hook protocol TLVs use them). */\n";
  for (const auto& f : fields)
    r << "#define RS_FIELD_" << macro_name(f.name) << " " << f.id << "\n";
  r << "\n/* Stable event type ids. */\n";
  for (const auto& e : events) {
    r << "#define RS_EVENT_" << macro_name(e.category + "." + e.action) << " " << e.id << "\n";
  }
  r << "\n/* Ring buffer record types. */\n";
  for (const auto& rec : records)
    r << "#define RS_REC_" << macro_name(rec.name) << " " << rec.id << "\n";
  r << "\nstruct rs_record_header {\n";
  size_t hdr_size = 0;
  for (const auto& f : header) {
    r << "  " << c_type(f) << " " << f.name << ";\n";
    hdr_size += f.size;
  }
  r << "};\nRS_STATIC_ASSERT(sizeof(struct rs_record_header) == " << hdr_size
    << ", \"rs_record_header layout\");\n";
  for (const auto& rec : records) {
    r << "\n/* " << rec.doc << " */\nstruct rs_rec_" << rec.name << " {\n";
    for (const auto& f : rec.fields) {
      r << "  " << c_type(f) << " " << f.name;
      if (f.flexible) {
        r << "[]";
      } else if (f.type.find('[') != std::string::npos) {
        r << "[" << f.size << "]";
      }
      r << ";\n";
    }
    r << "};\nRS_STATIC_ASSERT(sizeof(struct rs_rec_" << rec.name << ") == " << rec.size
      << ", \"rs_rec_" << rec.name << " size\");\n";
    for (const auto& f : rec.fields) {
      r << "RS_STATIC_ASSERT(__builtin_offsetof(struct rs_rec_" << rec.name << ", " << f.name
        << ") == " << f.offset << ", \"rs_rec_" << rec.name << "." << f.name << " offset\");\n";
    }
  }
  r << "\n#endif /* RINGSIDE_RECORDS_H */\n";
  write_file(out_dir / "ringside" / "records.h", r.str());

  // ---- events.md
  std::ostringstream md;
  md << "# Event reference\n\n"
        "<!-- Generated by tools/schemagen from schema/events.yaml; a test keeps this copy "
        "current. Edit the schema, then run `scripts/build` and copy build/gen/events.md here. "
        "-->\n\n"
     << "Schema version **" << version
     << "**. Every event is one JSON object per line with "
        "nested objects (never dotted keys). Field names follow the Elastic Common Schema where "
        "ECS has one; `ringside.*` fields are ringside's own.\n\n"
        "## Values that do not fit\n\n"
        "- Strings are UTF-8. Paths and arguments are bytes on Linux: every byte that is not "
        "part of a valid UTF-8 sequence becomes U+FFFD (one per byte), as ECS recommends, and "
        "control characters are escaped (`\\u00XX`), so every line stays valid JSON. The raw "
        "bytes are not kept.\n"
        "- A value cut to fit a limit (the BPF records' argument and path buffers, the hook "
        "message's 64 KiB) says so: a cut list ends with the element `\"[truncated]\"`, "
        "`ringside.truncated` names every field that was cut, and `process.args_count` keeps "
        "the real number of arguments. A cut path keeps its deepest components.\n"
        "- Records a channel lost are reported as `ringside.lost` events with the channel and "
        "the count (docs/architecture.md, loss accounting).\n\n"
     << "## Fields\n\n| id | field | type | meaning |\n|---:|---|---|---|\n";
  for (const auto& f : fields) {
    md << "| " << f.id << " | `" << f.name << "` | " << f.type << " | " << f.doc << " |\n";
  }
  md << "\n## Event types\n\nEvery type may carry the common fields: ";
  for (size_t i = 0; i < common.size(); ++i) {
    md << (i ? ", " : "") << "`" << fields[common[i]].name << "`";
  }
  md << ".\n\n| id | event.category | event.action | meaning | further fields |\n"
        "|---:|---|---|---|---|\n";
  for (const auto& e : events) {
    md << "| " << e.id << " | " << e.category << " | " << e.action << " | " << e.doc << " | ";
    for (size_t i = 0; i < e.fields.size(); ++i) md << (i ? ", " : "") << "`" << e.fields[i] << "`";
    md << " |\n";
  }
  md << "\n## Kernel records\n\nRecords the BPF programs write into the ring buffer "
        "(`records.h`, layout asserted by both compilers).\n\n";
  for (const auto& rec : records) {
    md << "- `rs_rec_" << rec.name << "` (type " << rec.id << ", " << rec.size
       << " bytes fixed): " << rec.doc << "\n";
  }
  write_file(out_dir / "events.md", md.str());
  return 0;
}
