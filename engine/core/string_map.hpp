// A hash map keyed by std::string that is looked up by std::string_view without building
// a string (C++20 heterogeneous lookup): a publish or subscribe finds its topic, stream or
// presence record by name without allocating.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ringcast::engine {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

}  // namespace ringcast::engine
