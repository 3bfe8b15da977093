#include "protocol/client_command.hpp"

#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "protocol/client_reply.hpp"
#include "protocol/json_value_internal.hpp"

namespace ringcast::protocol::client {
namespace {

namespace od = simdjson::ondemand;
using json::Failure;
using json::is_space;

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
  std::vector<SubPosition> positions;  // the current command's subs (capacity kept)

  std::optional<Failure> string(od::value v, std::string_view& out, const char* what) {
    if (auto e = v.get_string().get(out)) return json::failure(e, what);
    return std::nullopt;
  }
  std::optional<Failure> boolean(od::value v, bool& out, const char* what) {
    if (auto e = v.get_bool().get(out)) return json::failure(e, what);
    return std::nullopt;
  }
  std::optional<Failure> unsigned64(od::value v, std::uint64_t& out, const char* what) {
    if (auto e = v.get_uint64().get(out)) return json::failure(e, what);
    return std::nullopt;
  }
  // connect's subs: {"<channel>":{"recover":true,"offset":N,"epoch":"..."},...}
  std::optional<Failure> subs(od::value v, Command& c) {
    od::object o;
    if (auto e = v.get_object().get(o)) return json::failure(e, "subs is not an object");
    positions.clear();
    for (auto f : o) {
      od::field field;
      SubPosition p;
      if (auto e = std::move(f).get(field)) return json::failure(e, "bad subs");
      if (auto e = field.unescaped_key().get(p.channel)) return json::failure(e, "bad subs channel");
      if (positions.size() == kMaxConnectSubs) return Failure{json::Fault::wrong_type, "subs names over 1024 channels"};
      od::object sub;
      if (auto e = field.value().get_object().get(sub)) return json::failure(e, "a subs entry is not an object");
      for (auto g : sub) {
        od::field sf;
        std::string_view key;
        if (auto e = std::move(g).get(sf)) return json::failure(e, "bad subs entry");
        if (auto e = sf.unescaped_key().get(key)) return json::failure(e, "bad subs entry field name");
        std::optional<Failure> bad;
        if (key == "recover") bad = boolean(sf.value(), p.recover, "subs recover is not a boolean");
        else if (key == "offset") bad = unsigned64(sf.value(), p.offset, "subs offset is not an unsigned integer");
        else if (key == "epoch") bad = string(sf.value(), p.epoch, "subs epoch is not a string");
        else bad = json::check(sf.value(), 4);
        if (bad) return bad;
      }
      positions.push_back(p);
    }
    c.subs = positions;
    return std::nullopt;
  }

  std::optional<Failure> since(od::value v, Command& c) {
    c.has_since = true;
    return json::stream_position(v, 2, c.offset, c.epoch);
  }

  std::optional<Failure> params(od::document& doc, od::value v, Command& c) {
    od::object o;
    if (auto e = v.get_object().get(o)) return json::failure(e, "method parameters are not an object");
    for (auto f : o) {
      od::field field;
      std::string_view key;
      if (auto e = std::move(f).get(field)) return json::failure(e, "bad parameters");
      if (auto e = field.unescaped_key().get(key)) return json::failure(e, "bad parameter name");
      od::value x = field.value();
      std::optional<Failure> bad;
      if (key == "channel") {
        bad = string(x, c.channel, "channel is not a string");
      } else if (key == "token") {
        bad = string(x, c.token, "token is not a string");
      } else if (key == "data") {
        bad = json::raw(doc, x, c.data);
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
        if (auto e = x.get_int64().get(c.limit)) bad = json::failure(e, "limit is not an integer");
      } else if (key == "flag") {
        bad = unsigned64(x, c.flag, "flag is not an unsigned integer");
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
      } else if (key == "subs") {
        bad = subs(x, c);
      } else {
        bad = json::check(x, 2);  // not ours (yet): checked and ignored
      }
      if (bad) return bad;
    }
    return std::nullopt;
  }

  std::optional<Failure> line(const char* p, std::size_t len, std::size_t capacity, Command& c) {
    od::document doc;
    if (auto e = parser.iterate(simdjson::padded_string_view(p, len, capacity)).get(doc)) return json::failure(e, "not JSON");
    od::object root;
    if (doc.get_object().get(root) != simdjson::SUCCESS) {
      return Failure{json::Fault::malformed, "a command is not a JSON object"};
    }
    bool have_method = false;
    for (auto f : root) {
      od::field field;
      std::string_view key;
      if (auto e = std::move(f).get(field)) return json::failure(e, "bad command");
      if (auto e = field.unescaped_key().get(key)) return json::failure(e, "bad command field name");
      od::value x = field.value();
      if (key == "id") {
        std::uint64_t id = 0;
        if (auto e = x.get_uint64().get(id)) return json::failure(e, "id is not an unsigned integer");
        if (id > UINT32_MAX) return Failure{json::Fault::wrong_type, "id above 2^32 - 1"};
        c.id = static_cast<std::uint32_t>(id);
        continue;
      }
      const MethodKey* m = nullptr;
      for (const MethodKey& k : kMethods) {
        if (k.key == key) m = &k;
      }
      if (m == nullptr) {
        if (auto bad = json::check(x, 1)) return bad;
        continue;
      }
      if (have_method) return Failure{json::Fault::wrong_type, "two methods in one command"};
      have_method = true;
      c.method = m->method;
      if (auto bad = params(doc, x, c)) return bad;
    }
    const char* after = nullptr;  // past the end there is no location: anything else is trailing
    if (doc.current_location().get(after) == simdjson::SUCCESS) {
      return Failure{json::Fault::malformed, "bytes after the command"};
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
        r.error = bad->fault == json::Fault::wrong_type ? ParseError::bad_command : ParseError::not_json;
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

void append_command_line(std::string& out, const Command& c) {
  out += "{\"id\":";
  out += std::to_string(c.id);
  out.append(",\"").append(method_name(c.method)).append("\":{\"channel\":");
  append_json_string(out, c.channel);
  auto text = [&](std::string_view name, std::string_view v) {
    if (v.empty()) return;
    out.append(",\"").append(name).append("\":");
    append_json_string(out, v);
  };
  auto number = [&](std::string_view name, auto v) {
    if (v != 0) out.append(",\"").append(name).append("\":").append(std::to_string(v));
  };
  auto flag = [&](std::string_view name, bool v) {
    if (v) out.append(",\"").append(name).append("\":true");
  };
  text("token", c.token);
  text("delta", c.delta);
  if (!c.data.empty()) out.append(",\"data\":").append(c.data);
  if (c.has_since) {  // the position is the since's
    out += ",\"since\":{\"epoch\":";
    append_json_string(out, c.epoch);
    out.append(",\"offset\":").append(std::to_string(c.offset)).append("}");
  } else {
    text("epoch", c.epoch);
    number("offset", c.offset);
  }
  number("flag", c.flag);
  number("limit", c.limit);
  flag("recover", c.recover);
  flag("positioned", c.positioned);
  flag("recoverable", c.recoverable);
  flag("join_leave", c.join_leave);
  flag("reverse", c.reverse);
  out += "}}";
}

}  // namespace ringcast::protocol::client
