#include "protocol/client_command.hpp"

#include <simdjson.h>

#include <cstring>
#include <optional>
#include <utility>
#include <vector>

namespace ringcast::protocol::client {
namespace {

namespace od = simdjson::ondemand;

// Deeper `data` than this is refused (the walk below recurses once per level).
constexpr int kMaxDepth = 64;

struct Failure {
  ParseError error;
  const char* what;
};

// A type or range the protocol does not allow is the command's fault; anything else is
// not JSON at all.
Failure from(simdjson::error_code e, const char* what) {
  bool type = e == simdjson::INCORRECT_TYPE || e == simdjson::NUMBER_OUT_OF_RANGE;
  return {type ? ParseError::bad_command : ParseError::not_json, what};
}

// Walks `v` to its end so that every byte of it is checked. Its type is known from its
// first byte, so any failure past that is malformed JSON.
std::optional<Failure> validate(od::value v, int depth) {
  if (depth > kMaxDepth) return Failure{ParseError::bad_command, "JSON nested too deep"};
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) return Failure{ParseError::not_json, "bad JSON value"};
  switch (type) {
    case od::json_type::object: {
      od::object o;
      if (v.get_object().get(o) != simdjson::SUCCESS) return Failure{ParseError::not_json, "bad JSON object"};
      for (auto f : o) {
        od::field field;
        std::string_view key;
        if (std::move(f).get(field) != simdjson::SUCCESS) return Failure{ParseError::not_json, "bad JSON object"};
        if (field.unescaped_key().get(key) != simdjson::SUCCESS) return Failure{ParseError::not_json, "bad JSON key"};
        if (auto bad = validate(field.value(), depth + 1)) return bad;
      }
      return std::nullopt;
    }
    case od::json_type::array: {
      od::array a;
      if (v.get_array().get(a) != simdjson::SUCCESS) return Failure{ParseError::not_json, "bad JSON array"};
      for (auto item : a) {
        od::value x;
        if (std::move(item).get(x) != simdjson::SUCCESS) return Failure{ParseError::not_json, "bad JSON array"};
        if (auto bad = validate(x, depth + 1)) return bad;
      }
      return std::nullopt;
    }
    case od::json_type::string: {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) return Failure{ParseError::not_json, "bad JSON string"};
      return std::nullopt;
    }
    case od::json_type::number: {
      od::number n;
      if (v.get_number().get(n) != simdjson::SUCCESS) return Failure{ParseError::not_json, "bad JSON number"};
      return std::nullopt;
    }
    case od::json_type::boolean: {
      bool b;
      if (v.get_bool().get(b) != simdjson::SUCCESS) return Failure{ParseError::not_json, "bad JSON literal"};
      return std::nullopt;
    }
    case od::json_type::null: {
      bool null = false;
      if (v.is_null().get(null) != simdjson::SUCCESS || !null) return Failure{ParseError::not_json, "bad JSON literal"};
      return std::nullopt;
    }
  }
  return Failure{ParseError::not_json, "bad JSON value"};
}

struct MethodKey {
  std::string_view key;
  Method method;
};
constexpr MethodKey kMethods[] = {
    {"connect", Method::connect},         {"subscribe", Method::subscribe},
    {"unsubscribe", Method::unsubscribe}, {"publish", Method::publish},
    {"presence", Method::presence},       {"presence_stats", Method::presence_stats},
    {"history", Method::history},         {"ping", Method::ping},
    {"send", Method::send},               {"rpc", Method::rpc},
    {"refresh", Method::refresh},         {"sub_refresh", Method::sub_refresh},
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

std::string_view method_name(Method m) noexcept {
  for (const MethodKey& k : kMethods) {
    if (k.method == m) return k.key;
  }
  return "none";
}

struct CommandParser::Impl {
  od::parser parser;
  std::vector<char> frame;  // the frame being parsed, with simdjson's padding after it

  std::optional<Failure> string(od::value v, std::string_view& out, const char* what) {
    if (auto e = v.get_string().get(out)) return from(e, what);
    return std::nullopt;
  }
  std::optional<Failure> boolean(od::value v, bool& out, const char* what) {
    if (auto e = v.get_bool().get(out)) return from(e, what);
    return std::nullopt;
  }
  std::optional<Failure> unsigned64(od::value v, std::uint64_t& out, const char* what) {
    if (auto e = v.get_uint64().get(out)) return from(e, what);
    return std::nullopt;
  }
  // The value's own bytes, checked whole: where it starts, to where the parser went on.
  std::optional<Failure> raw(od::document& doc, od::value v, std::string_view& out) {
    const char* start = v.raw_json_token().data();
    if (auto bad = validate(v, 1)) return bad;
    const char* end = nullptr;
    if (auto e = doc.current_location().get(end)) return from(e, "bad data");
    while (end > start && is_space(end[-1])) --end;
    out = {start, static_cast<std::size_t>(end - start)};
    return std::nullopt;
  }

  std::optional<Failure> since(od::value v, Command& c) {
    od::object o;
    if (auto e = v.get_object().get(o)) return from(e, "since is not an object");
    c.has_since = true;
    for (auto f : o) {
      od::field field;
      std::string_view key;
      if (auto e = std::move(f).get(field)) return from(e, "bad since");
      if (auto e = field.unescaped_key().get(key)) return from(e, "bad since");
      std::optional<Failure> bad;
      if (key == "offset") {
        bad = unsigned64(field.value(), c.offset, "since.offset is not an unsigned integer");
      } else if (key == "epoch") {
        bad = string(field.value(), c.epoch, "since.epoch is not a string");
      } else {
        bad = validate(field.value(), 3);
      }
      if (bad) return bad;
    }
    return std::nullopt;
  }

  std::optional<Failure> params(od::document& doc, od::value v, Command& c) {
    od::object o;
    if (auto e = v.get_object().get(o)) return from(e, "method parameters are not an object");
    for (auto f : o) {
      od::field field;
      std::string_view key;
      if (auto e = std::move(f).get(field)) return from(e, "bad parameters");
      if (auto e = field.unescaped_key().get(key)) return from(e, "bad parameter name");
      od::value x = field.value();
      std::optional<Failure> bad;
      if (key == "channel") {
        bad = string(x, c.channel, "channel is not a string");
      } else if (key == "token") {
        bad = string(x, c.token, "token is not a string");
      } else if (key == "data") {
        bad = raw(doc, x, c.data);
      } else if (key == "name") {
        bad = string(x, c.name, "name is not a string");
      } else if (key == "version") {
        bad = string(x, c.version, "version is not a string");
      } else if (key == "method") {
        bad = string(x, c.rpc_method, "method is not a string");
      } else if (key == "epoch") {
        bad = string(x, c.epoch, "epoch is not a string");
      } else if (key == "delta") {
        bad = string(x, c.delta, "delta is not a string");
      } else if (key == "offset") {
        bad = unsigned64(x, c.offset, "offset is not an unsigned integer");
      } else if (key == "limit") {
        if (auto e = x.get_int64().get(c.limit)) bad = from(e, "limit is not an integer");
      } else if (key == "recover") {
        bad = boolean(x, c.recover, "recover is not a boolean");
      } else if (key == "positioned") {
        bad = boolean(x, c.positioned, "positioned is not a boolean");
      } else if (key == "recoverable") {
        bad = boolean(x, c.recoverable, "recoverable is not a boolean");
      } else if (key == "join_leave") {
        bad = boolean(x, c.join_leave, "join_leave is not a boolean");
      } else if (key == "reverse") {
        bad = boolean(x, c.reverse, "reverse is not a boolean");
      } else if (key == "since") {
        bad = since(x, c);
      } else {
        bad = validate(x, 2);  // not ours (yet): checked and ignored
      }
      if (bad) return bad;
    }
    return std::nullopt;
  }

  std::optional<Failure> line(const char* p, std::size_t len, std::size_t capacity, Command& c) {
    od::document doc;
    if (auto e = parser.iterate(simdjson::padded_string_view(p, len, capacity)).get(doc)) return from(e, "not JSON");
    od::object root;
    if (doc.get_object().get(root) != simdjson::SUCCESS) {
      return Failure{ParseError::not_json, "a command is not a JSON object"};
    }
    bool have_method = false;
    for (auto f : root) {
      od::field field;
      std::string_view key;
      if (auto e = std::move(f).get(field)) return from(e, "bad command");
      if (auto e = field.unescaped_key().get(key)) return from(e, "bad command field name");
      od::value x = field.value();
      if (key == "id") {
        std::uint64_t id = 0;
        if (auto e = x.get_uint64().get(id)) return from(e, "id is not an unsigned integer");
        if (id > UINT32_MAX) return Failure{ParseError::bad_command, "id above 2^32 - 1"};
        c.id = static_cast<std::uint32_t>(id);
        continue;
      }
      const MethodKey* m = nullptr;
      for (const MethodKey& k : kMethods) {
        if (k.key == key) m = &k;
      }
      if (m == nullptr) {
        if (auto bad = validate(x, 1)) return bad;
        continue;
      }
      if (have_method) return Failure{ParseError::bad_command, "two methods in one command"};
      have_method = true;
      c.method = m->method;
      if (auto bad = params(doc, x, c)) return bad;
    }
    const char* after = nullptr;  // past the end there is no location: anything else is trailing
    if (doc.current_location().get(after) == simdjson::SUCCESS) {
      return Failure{ParseError::not_json, "bytes after the command"};
    }
    return std::nullopt;
  }
};

CommandParser::CommandParser() : impl_(std::make_unique<Impl>()) {}
CommandParser::~CommandParser() = default;

CommandParser::Result CommandParser::parse(std::string_view frame, CommandSink& sink) noexcept {
  Result r;
  std::vector<char>& buf = impl_->frame;
  if (buf.size() < frame.size() + simdjson::SIMDJSON_PADDING) buf.resize(frame.size() + simdjson::SIMDJSON_PADDING);
  if (!frame.empty()) std::memcpy(buf.data(), frame.data(), frame.size());
  const char* p = buf.data();
  const char* end = p + frame.size();
  const char* padded_end = buf.data() + buf.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* line_end = nl == nullptr ? end : nl;
    const char* s = p;
    while (s < line_end && is_space(*s)) ++s;
    if (s < line_end) {
      Command c;
      auto len = static_cast<std::size_t>(line_end - s);
      if (auto bad = impl_->line(s, len, static_cast<std::size_t>(padded_end - s), c)) {
        r.error = bad->error;
        r.what = bad->what;
        return r;
      }
      ++r.commands;
      if (!sink.on_command(c)) return r;
    }
    p = nl == nullptr ? end : nl + 1;
  }
  return r;
}

}  // namespace ringcast::protocol::client
