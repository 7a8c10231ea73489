// Glob patterns as ringside's policy defines them:
//   *      any run of characters except '/'
//   **     any run of characters, '/' included
//   ?      one character except '/'
//   [abc] [a-z] [!a-z]   one character from (or not from) a set
//   \x     the character x literally
// A pattern matches the whole value. Matching is an NFA simulation, linear in the value's
// length times the pattern's, so no pattern can make it blow up.
#pragma once

#include <bitset>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace ringside::policy {

class Glob {
 public:
  // Compiles `pattern`; the error says what is wrong and at which character (0-based column in
  // `Error::code`, so that the parser can point at it).
  static Result<Glob> compile(std::string_view pattern);

  bool matches(std::string_view value) const;
  const std::string& pattern() const { return pattern_; }

  // The literal text before the first wildcard (used to choose what to watch).
  std::string literal_prefix() const;
  // True when the pattern has no wildcard at all.
  bool is_literal() const;

 private:
  enum class Kind : unsigned char { kChar, kAny, kStar, kDoubleStar, kClass };
  struct Token {
    Kind kind;
    unsigned char ch = 0;
    bool negated = false;
    std::bitset<256> set;
  };
  bool literals_present(std::string_view value) const;
  bool matches_small(std::string_view value) const;
  bool matches_large(std::string_view value) const;

  std::string pattern_;
  std::vector<Token> tokens_;
  // Literal runs between wildcards, in order: each must occur in a matching value, which
  // rejects most values with a substring search before the automaton runs.
  std::vector<std::string> literals_;
  bool anchored_start_ = false;  // the pattern starts with literals_[0]
  bool anchored_end_ = false;    // the pattern ends with literals_.back()
};

}  // namespace ringside::policy
