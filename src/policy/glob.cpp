#include "policy/glob.hpp"

#include <cstdint>

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
          if (b < a)
            return fail(i, "range '" + std::string(pattern.substr(i, 3)) + "' is reversed");
          for (unsigned v = a; v <= b; ++v) t.set.set(v);
          i += 3;
        } else {
          t.set.set(a);
          ++i;
        }
      }
      if (!closed)
        return fail(open, "'[' at character " + std::to_string(open + 1) + " is never closed");
    } else {
      t.kind = Kind::kChar;
      t.ch = c;
      ++i;
    }
    g.tokens_.push_back(t);
  }
  std::string run;
  for (const Token& t : g.tokens_) {
    if (t.kind == Kind::kChar) {
      run += static_cast<char>(t.ch);
    } else if (!run.empty()) {
      g.literals_.push_back(std::move(run));
      run.clear();
    }
  }
  if (!run.empty()) g.literals_.push_back(std::move(run));
  g.anchored_start_ = !g.tokens_.empty() && g.tokens_.front().kind == Kind::kChar;
  g.anchored_end_ = !g.tokens_.empty() && g.tokens_.back().kind == Kind::kChar;
  return g;
}

bool Glob::literals_present(std::string_view value) const {
  if (literals_.empty()) return true;
  if (anchored_start_ && value.substr(0, literals_.front().size()) != literals_.front()) {
    return false;
  }
  if (anchored_end_) {
    const std::string& last = literals_.back();
    if (value.size() < last.size() || value.substr(value.size() - last.size()) != last) {
      return false;
    }
  }
  size_t from = 0;
  for (const std::string& lit : literals_) {
    const size_t at = value.find(lit, from);
    if (at == std::string_view::npos) return false;
    from = at + lit.size();
  }
  return true;
}

bool Glob::matches(std::string_view value) const {
  if (!literals_present(value)) return false;
  return tokens_.size() < 64 ? matches_small(value) : matches_large(value);
}

// The automaton with its state set in one machine word (patterns of fewer than 64 tokens).
bool Glob::matches_small(std::string_view value) const {
  const size_t n = tokens_.size();
  uint64_t star_mask = 0;  // states k whose token is a star (they loop and may be skipped)
  for (size_t k = 0; k < n; ++k) {
    if (tokens_[k].kind == Kind::kStar || tokens_[k].kind == Kind::kDoubleStar) {
      star_mask |= uint64_t{1} << k;
    }
  }
  auto close = [&](uint64_t s) {
    // A star state also enables the next state; chains of stars propagate left to right.
    for (uint64_t stars = s & star_mask; stars != 0;) {
      const int k = __builtin_ctzll(stars);
      stars &= stars - 1;
      const uint64_t next = uint64_t{1} << (k + 1);
      if (!(s & next)) {
        s |= next;
        if (star_mask & next) stars |= next;
      }
    }
    return s;
  };
  uint64_t cur = close(1);
  for (char raw : value) {
    const auto c = static_cast<unsigned char>(raw);
    uint64_t next = 0;
    for (uint64_t live = cur & ((uint64_t{1} << n) - 1); live != 0; live &= live - 1) {
      const int k = __builtin_ctzll(live);
      const Token& t = tokens_[static_cast<size_t>(k)];
      const uint64_t self = uint64_t{1} << k;
      switch (t.kind) {
        case Kind::kChar:
          if (t.ch == c) next |= self << 1;
          break;
        case Kind::kAny:
          if (c != '/') next |= self << 1;
          break;
        case Kind::kClass:
          if (t.set.test(c) != t.negated && c != '/') next |= self << 1;
          break;
        case Kind::kStar:
          if (c != '/') next |= self;
          break;
        case Kind::kDoubleStar:
          next |= self;
          break;
      }
    }
    if (next == 0) return false;
    cur = close(next);
  }
  return (cur >> n) & 1U;
}

bool Glob::matches_large(std::string_view value) const {
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
