#include "protocol/origin.hpp"

namespace ringcast::protocol {
namespace {

char fold(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_folded(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (fold(a[i]) != fold(b[i])) return false;
  }
  return true;
}

template <bool kFold>
bool glob(std::string_view pattern, std::string_view text) noexcept {
  auto same = [](char x, char y) { return kFold ? fold(x) == fold(y) : x == y; };
  // One backtrack point: at worst pattern x text steps, never exponential.
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && same(pattern[p], text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) noexcept { return glob<true>(pattern, text); }

bool glob_match_exact(std::string_view pattern, std::string_view text) noexcept { return glob<false>(pattern, text); }

bool origin_allowed(std::string_view origin, std::string_view host, std::span<const std::string> allowed) noexcept {
  if (origin.empty()) return true;
  for (const std::string& pattern : allowed) {
    if (glob_match(pattern, origin)) return true;
  }
  // Same origin: the authority after "scheme://" is the request's Host (ports included).
  std::size_t sep = origin.find("://");
  if (sep == std::string_view::npos || host.empty()) return false;
  std::string_view authority = origin.substr(sep + 3);
  return authority.find('/') == std::string_view::npos && equal_folded(authority, host);
}

}  // namespace ringcast::protocol
