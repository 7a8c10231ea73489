#include "policy/glob.hpp"

namespace ringside::policy {

Result<Glob> Glob::compile(std::string_view pattern) {
  Glob g;
  g.pattern_ = std::string(pattern);
  size_t i = 0;
  auto fail = [&](size_t at, const std::string& why) {
    return Error{"bad glob '" + std::string(pattern) + "': " + why, static_cast<int>(at)};
  };
  while (i < pattern.size()) {
    const auto c = static_cast<unsigned char>(pattern[i]);
    Token t{};
    if (c == '*') {
      if (i + 1 < pattern.size() && pattern[i + 1] == '*') {
        t.kind = Kind::kDoubleStar;
        i += 2;
        while (i < pattern.size() && pattern[i] == '*') ++i;
      } else {
        t.kind = Kind::kStar;
        ++i;
      }
    } else if (c == '?') {
      t.kind = Kind::kAny;
      ++i;
    } else if (c == '\\') {
      if (i + 1 >= pattern.size()) return fail(i, "trailing backslash escapes nothing");
      t.kind = Kind::kChar;
      t.ch = static_cast<unsigned char>(pattern[i + 1]);
      i += 2;
    } else if (c == '[') {
      const size_t open = i;
      t.kind = Kind::kClass;
      ++i;
      if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
        t.negated = true;
        ++i;
      }
      bool closed = false;
      bool first = true;
      while (i < pattern.size()) {
        auto a = static_cast<unsigned char>(pattern[i]);
        if (a == ']' && !first) {
          closed = true;
          ++i;
          break;
        }
        first = false;
        if (a == '\\' && i + 1 < pattern.size()) {
          a = static_cast<unsigned char>(pattern[++i]);
        }
        if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
          const auto b = static_cast<unsigned char>(pattern[i + 2]);
          if (b < a) return fail(i, "range '" + std::string(pattern.substr(i, 3)) + "' is reversed");
          for (unsigned v = a; v <= b; ++v) t.set.set(v);
          i += 3;
        } else {
          t.set.set(a);
          ++i;
        }
      }
      if (!closed) return fail(open, "'[' at character " + std::to_string(open + 1) + " is never closed");
    } else {
      t.kind = Kind::kChar;
      t.ch = c;
      ++i;
    }
    g.tokens_.push_back(t);
  }
  return g;
}

bool Glob::matches(std::string_view value) const {
  const size_t n = tokens_.size();
  // state k = "tokens [0, k) consumed"; states fit in a vector<bool> sized n + 1.
  std::vector<char> cur(n + 1, 0), next(n + 1, 0);
  auto close = [&](std::vector<char>& s) {
    for (size_t k = 0; k < n; ++k) {
      if (s[k] && (tokens_[k].kind == Kind::kStar || tokens_[k].kind == Kind::kDoubleStar)) {
        s[k + 1] = 1;
      }
    }
  };
  cur[0] = 1;
  close(cur);
  for (char raw : value) {
    const auto c = static_cast<unsigned char>(raw);
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (size_t k = 0; k < n; ++k) {
      if (!cur[k]) continue;
      const Token& t = tokens_[k];
      switch (t.kind) {
        case Kind::kChar:
          if (t.ch == c) next[k + 1] = 1, any = true;
          break;
        case Kind::kAny:
          if (c != '/') next[k + 1] = 1, any = true;
          break;
        case Kind::kClass:
          if (t.set.test(c) != t.negated && c != '/') next[k + 1] = 1, any = true;
          break;
        case Kind::kStar:
          if (c != '/') next[k] = 1, any = true;
          break;
        case Kind::kDoubleStar:
          next[k] = 1, any = true;
          break;
      }
    }
    if (!any) return false;
    close(next);
    cur.swap(next);
  }
  return cur[n] != 0;
}

std::string Glob::literal_prefix() const {
  std::string out;
  for (const Token& t : tokens_) {
    if (t.kind != Kind::kChar) break;
    out += static_cast<char>(t.ch);
  }
  return out;
}

bool Glob::is_literal() const {
  for (const Token& t : tokens_) {
    if (t.kind != Kind::kChar) return false;
  }
  return true;
}

}  // namespace ringside::policy
