#include "protocol/json_value_internal.hpp"

#include <utility>

namespace ringcast::protocol::json {

Failure failure(simdjson::error_code e, const char* what) noexcept {
  bool type = e == simdjson::INCORRECT_TYPE || e == simdjson::NUMBER_OUT_OF_RANGE;
  return {type ? Fault::wrong_type : Fault::malformed, what};
}

std::optional<Failure> stream_position(od::value v, int depth, std::uint64_t& offset, std::string_view& epoch) {
  od::object o;
  if (auto e = v.get_object().get(o)) return failure(e, "since is not an object");
  for (auto f : o) {
    od::field field;
    std::string_view key;
    if (std::move(f).get(field) || field.unescaped_key().get(key)) return Failure{Fault::malformed, "bad since"};
    od::value x = field.value();
    if (key == "offset") {
      if (auto e = x.get_uint64().get(offset)) return failure(e, "since.offset is not an unsigned integer");
    } else if (key == "epoch") {
      if (auto e = x.get_string().get(epoch)) return failure(e, "since.epoch is not a string");
    } else if (auto bad = check(x, depth + 1)) {
      return bad;
    }
  }
  return std::nullopt;
}

// A value's type is known from its first byte, so any failure past that is malformed JSON.
std::optional<Failure> check(od::value v, int depth) {
  if (depth > kMaxDepth) return Failure{Fault::wrong_type, "JSON nested too deep"};
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) return Failure{Fault::malformed, "bad JSON value"};
  switch (type) {
    case od::json_type::object: {
      od::object o;
      if (v.get_object().get(o) != simdjson::SUCCESS) return Failure{Fault::malformed, "bad JSON object"};
      for (auto f : o) {
        od::field field;
        std::string_view key;
        if (std::move(f).get(field) != simdjson::SUCCESS) return Failure{Fault::malformed, "bad JSON object"};
        if (field.unescaped_key().get(key) != simdjson::SUCCESS) return Failure{Fault::malformed, "bad JSON key"};
        if (auto bad = check(field.value(), depth + 1)) return bad;
      }
      return std::nullopt;
    }
    case od::json_type::array: {
      od::array a;
      if (v.get_array().get(a) != simdjson::SUCCESS) return Failure{Fault::malformed, "bad JSON array"};
      for (auto item : a) {
        od::value x;
        if (std::move(item).get(x) != simdjson::SUCCESS) return Failure{Fault::malformed, "bad JSON array"};
        if (auto bad = check(x, depth + 1)) return bad;
      }
      return std::nullopt;
    }
    case od::json_type::string: {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) return Failure{Fault::malformed, "bad JSON string"};
      return std::nullopt;
    }
    case od::json_type::number: {
      od::number n;
      if (v.get_number().get(n) != simdjson::SUCCESS) return Failure{Fault::malformed, "bad JSON number"};
      return std::nullopt;
    }
    case od::json_type::boolean: {
      bool b;
      if (v.get_bool().get(b) != simdjson::SUCCESS) return Failure{Fault::malformed, "bad JSON literal"};
      return std::nullopt;
    }
    case od::json_type::null: {
      bool null = false;
      if (v.is_null().get(null) != simdjson::SUCCESS || !null) return Failure{Fault::malformed, "bad JSON literal"};
      return std::nullopt;
    }
  }
  return Failure{Fault::malformed, "bad JSON value"};
}

// Where the value starts, to where the parser went on after checking it.
std::optional<Failure> raw(od::document& doc, od::value v, std::string_view& out) {
  std::string_view token = v.raw_json_token();  // a scalar's whole text (and what spaces follow)
  const char* start = token.data();
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) return Failure{Fault::malformed, "bad JSON value"};
  if (auto bad = check(v, 1)) return bad;
  const char* end = nullptr;
  if (type != od::json_type::object && type != od::json_type::array) {
    end = start + token.size();  // the parser does not move past a scalar it has read
  } else if (auto e = doc.current_location().get(end)) {
    return failure(e, "bad value");
  }
  while (end > start && is_space(end[-1])) --end;
  out = {start, static_cast<std::size_t>(end - start)};
  return std::nullopt;
}

}  // namespace ringcast::protocol::json
