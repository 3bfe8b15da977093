#include "protocol/api_json.hpp"

#include <cstring>
#include <optional>

#include "protocol/json_value_internal.hpp"

namespace ringcast::protocol::api {
namespace {

namespace od = simdjson::ondemand;
using json::Failure;

struct MethodName {
  std::string_view name;
  Method method;
};
constexpr MethodName kMethods[] = {
    {"publish", Method::publish},
    {"broadcast", Method::broadcast},
    {"subscribe", Method::subscribe},
    {"unsubscribe", Method::unsubscribe},
    {"disconnect", Method::disconnect},
    {"refresh", Method::refresh},
    {"presence", Method::presence},
    {"presence_stats", Method::presence_stats},
    {"history", Method::history},
    {"history_remove", Method::history_remove},
    {"channels", Method::channels},
    {"info", Method::info},
    {"batch", Method::batch},
};

}  // namespace

Method method_of(std::string_view name) noexcept {
  for (const MethodName& m : kMethods) {
    if (m.name == name) return m.method;
  }
  return Method::unknown;
}

std::string_view method_name(Method m) noexcept {
  for (const MethodName& k : kMethods) {
    if (k.method == m) return k.name;
  }
  return "unknown";
}

struct RequestParser::Impl {
  od::parser parser;
  std::vector<char> body;  // with simdjson's padding after it

  std::optional<Failure> channel(od::value v, Request& out) {
    std::string_view ch;
    if (auto e = v.get_string().get(ch)) return json::failure(e, "channel is not a string");
    out.channels.push_back(ch);
    return std::nullopt;
  }

  std::optional<Failure> disconnect(od::value v, Request& out) {
    od::object o;
    if (v.get_object().get(o)) return Failure{json::Fault::wrong_type, "disconnect is not an object"};
    out.has_disconnect = true;
    for (auto f : o) {
      od::field field;
      std::string_view key;
      if (std::move(f).get(field) || field.unescaped_key().get(key)) return Failure{json::Fault::malformed, "bad key"};
      od::value x = field.value();
      if (key == "code") {
        std::uint64_t code = 0;
        if (auto e = x.get_uint64().get(code)) return json::failure(e, "disconnect.code is not an unsigned integer");
        if (code > UINT32_MAX) return Failure{json::Fault::wrong_type, "disconnect.code out of range"};
        out.disconnect_code = static_cast<std::uint32_t>(code);
      } else if (key == "reason") {
        if (auto e = x.get_string().get(out.disconnect_reason)) return json::failure(e, "disconnect.reason is not a string");
      } else if (auto bad = json::check(x, 2)) {
        return bad;
      }
    }
    return std::nullopt;
  }

  std::optional<Failure> since(od::value v, Request& out) {
    out.has_since = true;
    return json::stream_position(v, 1, out.since_offset, out.since_epoch);
  }

  // Copies `text` (padded) and starts a document over the copy.
  std::optional<Failure> start(std::string_view text, od::document& doc, od::object& o) {
    if (body.size() < text.size() + simdjson::SIMDJSON_PADDING) body.resize(text.size() + simdjson::SIMDJSON_PADDING);
    if (!text.empty()) std::memcpy(body.data(), text.data(), text.size());
    if (auto e = parser.iterate(body.data(), text.size(), body.size()).get(doc)) return json::failure(e, "not JSON");
    if (doc.get_object().get(o)) return Failure{json::Fault::malformed, "the body is not a JSON object"};
    return std::nullopt;
  }
  static std::optional<Failure> finish(od::document& doc) {
    const char* after = nullptr;  // past the end there is no location: anything else is trailing
    if (doc.current_location().get(after) == simdjson::SUCCESS) return Failure{json::Fault::malformed, "bytes after the body"};
    return std::nullopt;
  }

  std::optional<Failure> batch(std::string_view text, std::vector<BatchCommand>& out) {
    od::document doc;
    od::object o;
    if (auto bad = start(text, doc, o)) return bad;
    for (auto f : o) {
      od::field field;
      std::string_view key;
      if (std::move(f).get(field) || field.unescaped_key().get(key)) return Failure{json::Fault::malformed, "bad key"};
      od::value v = field.value();
      if (key == "commands") {
        od::array a;
        if (v.get_array().get(a)) return Failure{json::Fault::wrong_type, "commands is not an array"};
        out.clear();  // a repeated key: the last one holds
        for (auto item : a) {
          od::object cmd;
          if (std::move(item).get_object().get(cmd)) return Failure{json::Fault::wrong_type, "a command is not an object"};
          if (out.size() == kMaxBatchCommands) return Failure{json::Fault::wrong_type, "too many commands"};
          BatchCommand c;
          bool named = false;
          for (auto cf : cmd) {
            od::field m;
            std::string_view name;
            if (std::move(cf).get(m) || m.unescaped_key().get(name)) return Failure{json::Fault::malformed, "bad key"};
            if (named) return Failure{json::Fault::wrong_type, "a command with two methods"};
            named = true;
            c.name = name;
            c.method = method_of(name);
            if (auto bad = json::raw(doc, m.value(), c.params)) return bad;
          }
          if (!named) return Failure{json::Fault::wrong_type, "a command without a method"};
          out.push_back(c);
        }
      } else if (auto bad = json::check(v, 1)) {  // "parallel" and the rest: checked, ignored
        return bad;
      }
    }
    return finish(doc);
  }

  std::optional<Failure> request(std::string_view text, Method method, Request& out) {
    od::document doc;
    od::object o;
    if (auto bad = start(text, doc, o)) return bad;
    bool broadcast = method == Method::broadcast, history = method == Method::history;
    for (auto f : o) {
      od::field field;
      std::string_view key;
      if (std::move(f).get(field) || field.unescaped_key().get(key)) return Failure{json::Fault::malformed, "bad key"};
      od::value v = field.value();
      if (key == "data") {
        if (auto bad = json::raw(doc, v, out.data)) return bad;
      } else if (key == "channel" && !broadcast) {
        out.channels.clear();  // a repeated key: the last one holds, as for data
        if (auto bad = channel(v, out)) return bad;
      } else if (key == "channels" && broadcast) {
        od::array a;
        if (v.get_array().get(a)) return Failure{json::Fault::wrong_type, "channels is not an array"};
        out.channels.clear();  // a repeated key: the last one holds
        for (auto item : a) {
          od::value x;
          if (std::move(item).get(x)) return Failure{json::Fault::malformed, "bad channels array"};
          if (out.channels.size() == kMaxBroadcastChannels) return Failure{json::Fault::wrong_type, "too many channels"};
          if (auto bad = channel(x, out)) return bad;
        }
      } else if (key == "delta" && (method == Method::publish || broadcast)) {
        if (auto e = v.get_bool().get(out.delta)) return json::failure(e, "delta is not a boolean");
      } else if (key == "limit" && history) {
        if (auto e = v.get_int64().get(out.limit)) return json::failure(e, "limit is not an integer");
      } else if (key == "reverse" && history) {
        if (auto e = v.get_bool().get(out.reverse)) return json::failure(e, "reverse is not a boolean");
      } else if (key == "since" && history) {
        if (auto bad = since(v, out)) return bad;
      } else if (key == "user" && (method == Method::disconnect || method == Method::unsubscribe)) {
        if (auto e = v.get_string().get(out.user)) return json::failure(e, "user is not a string");
      } else if (key == "client" && (method == Method::disconnect || method == Method::unsubscribe)) {
        if (auto e = v.get_string().get(out.client)) return json::failure(e, "client is not a string");
      } else if (key == "whitelist" && method == Method::disconnect) {
        od::array a;
        if (v.get_array().get(a)) return Failure{json::Fault::wrong_type, "whitelist is not an array"};
        out.whitelist.clear();
        for (auto item : a) {
          std::string_view id;
          if (item.get_string().get(id)) return Failure{json::Fault::wrong_type, "whitelist holds a non-string"};
          if (out.whitelist.size() == kMaxBroadcastChannels) return Failure{json::Fault::wrong_type, "whitelist too long"};
          out.whitelist.push_back(id);
        }
      } else if (key == "disconnect" && method == Method::disconnect) {
        if (auto bad = disconnect(v, out)) return bad;
      } else if (key == "pattern" && method == Method::channels) {
        if (auto e = v.get_string().get(out.pattern)) return json::failure(e, "pattern is not a string");
      } else if (auto bad = json::check(v, 1)) {
        return bad;
      }
    }
    return finish(doc);
  }
};

RequestParser::RequestParser() : impl_(std::make_unique<Impl>()) {}
RequestParser::~RequestParser() = default;

RequestParser::Result RequestParser::parse(Method method, std::string_view body, Request& out) noexcept {
  out.channels.clear();
  out.data = {};
  out.delta = false;
  out.limit = 0;
  out.has_since = out.reverse = false;
  out.since_offset = 0;
  out.since_epoch = {};
  out.pattern = {};
  out.user = out.client = out.disconnect_reason = {};
  out.whitelist.clear();
  out.has_disconnect = false;
  out.disconnect_code = 0;
  Result r;
  if (auto bad = impl_->request(body, method, out)) {
    r.error = bad->fault == json::Fault::wrong_type ? ParseError::wrong_type : ParseError::not_json;
    r.what = bad->what;
  }
  return r;
}

RequestParser::Result RequestParser::parse_batch(std::string_view body, std::vector<BatchCommand>& out) noexcept {
  out.clear();
  Result r;
  if (auto bad = impl_->batch(body, out)) {
    r.error = bad->fault == json::Fault::wrong_type ? ParseError::wrong_type : ParseError::not_json;
    r.what = bad->what;
    out.clear();
  }
  return r;
}

void append_empty_result(std::string& out) { out += "{\"result\":{}}"; }

void append_publish_result(std::string& out, std::uint64_t offset, std::string_view epoch) {
  out += "{\"result\":{\"offset\":";
  out += std::to_string(offset);
  out += ",\"epoch\":";
  client::append_json_string(out, epoch);
  out += "}}";
}

void append_channels_result(std::string& out, std::span<const ChannelCount> channels) {
  out += "{\"result\":{\"channels\":{";
  for (std::size_t i = 0; i < channels.size(); ++i) {
    if (i != 0) out += ',';
    client::append_json_string(out, channels[i].channel);
    out += ":{\"num_clients\":";
    out += std::to_string(channels[i].clients);
    out += '}';
  }
  out += "}}}";
}

void append_info_result(std::string& out, const NodeInfo& node) {
  out += "{\"result\":{\"nodes\":[{\"uid\":";
  client::append_json_string(out, node.uid);
  out += ",\"name\":";
  client::append_json_string(out, node.name);
  out += ",\"version\":";
  client::append_json_string(out, node.version);
  out += ",\"num_clients\":";
  out += std::to_string(node.clients);
  out += ",\"num_channels\":";
  out += std::to_string(node.channels);
  out += ",\"uptime\":";
  out += std::to_string(node.uptime_seconds);
  out += "}]}}";
}

void append_presence_stats_result(std::string& out, std::size_t clients, std::size_t users) {
  out += "{\"result\":{\"num_clients\":";
  out += std::to_string(clients);
  out += ",\"num_users\":";
  out += std::to_string(users);
  out += "}}";
}

void append_presence_result(std::string& out, std::span<const client::ClientInfo> clients) {
  out += "{\"result\":{\"presence\":";
  client::append_presence_map(out, clients);
  out += "}}";
}

void append_history_result(std::string& out, std::span<const std::string_view> publications, std::string_view epoch,
                           std::uint64_t offset) {
  out += "{\"result\":{\"publications\":";
  client::append_raw_array(out, publications);
  out += ",\"epoch\":";
  client::append_json_string(out, epoch);
  out += ",\"offset\":";
  out += std::to_string(offset);
  out += "}}";
}

void append_error(std::string& out, client::ErrorCode code) {
  out += "{\"error\":{\"code\":";
  out += std::to_string(static_cast<std::uint32_t>(code));
  out += ",\"message\":";
  client::append_json_string(out, client::error_message(code));
  out += "}}";
}

}  // namespace ringcast::protocol::api
