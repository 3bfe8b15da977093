#include "protocol/client_reply.hpp"

#include <charconv>

namespace ringcast::protocol::client {
namespace {

void append_uint(std::string& out, std::uint64_t v) {
  char buf[20];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 20 digits always fit a uint64
  out.append(buf, end);
}

void append_id(std::string& out, std::uint32_t id) {
  out += '{';
  if (id != 0) {  // commands without an id (send) get no reply; 0 is never written
    out += "\"id\":";
    append_uint(out, id);
    out += ',';
  }
}

// "expires":true,"ttl":N after `sep` (nothing when it does not expire).
void append_expiry(std::string& out, Expiry e, std::string_view sep = ",") {
  if (!e.expires) return;
  out += sep;
  out += "\"expires\":true,\"ttl\":";
  append_uint(out, e.ttl);
}

}  // namespace

std::string_view error_message(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::internal: return "internal server error";
    case ErrorCode::unauthorized: return "unauthorized";
    case ErrorCode::unknown_channel: return "unknown channel";
    case ErrorCode::permission_denied: return "permission denied";
    case ErrorCode::method_not_found: return "method not found";
    case ErrorCode::already_subscribed: return "already subscribed";
    case ErrorCode::limit_exceeded: return "limit exceeded";
    case ErrorCode::bad_request: return "bad request";
    case ErrorCode::not_available: return "not available";
    case ErrorCode::token_expired: return "token expired";
    case ErrorCode::expired: return "expired";
    case ErrorCode::too_many_requests: return "too many requests";
    case ErrorCode::unrecoverable_position: return "unrecoverable position";
  }
  return "error";
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + s.size() / 8 + 2);  // JSON inside a string: its quotes double
  out += '"';
  std::size_t run = 0;  // bytes copied as they are, in one append
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out.push_back('\\');
        out.push_back('"');
        break;
      case '\\':
        out.push_back('\\');
        out.push_back('\\');
        break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void append_error(std::string& out, std::uint32_t id, ErrorCode code) {
  append_id(out, id);
  out += "\"error\":{\"code\":";
  append_uint(out, static_cast<std::uint32_t>(code));
  out += ",\"message\":";
  append_json_string(out, error_message(code));
  // As Centrifugo marks it: the SDK retries a temporary error (a subscribe with backoff)
  // instead of giving the subscription up.
  if (code == ErrorCode::internal) out += ",\"temporary\":true";
  out += "}}";
}

void append_empty_result(std::string& out, std::uint32_t id, Method method) {
  append_id(out, id);
  out += '"';
  out += method_name(method);
  out += "\":{}}";
}

void append_connect_result(std::string& out, std::uint32_t id, const ConnectResult& r) {
  append_id(out, id);
  out += "\"connect\":{\"client\":";
  append_json_string(out, r.client);
  out += ",\"version\":";
  append_json_string(out, r.version);
  append_expiry(out, r.expiry);
  if (!r.subs.empty()) {
    out += ",\"subs\":{";
    out += r.subs;
    out += '}';
  }
  if (r.ping_seconds != 0) {
    out += ",\"ping\":";
    append_uint(out, r.ping_seconds);
  }
  if (r.pong) out += ",\"pong\":true";
  out += "}}";
}

void append_refresh_result(std::string& out, std::uint32_t id, std::string_view client, std::string_view version,
                           Expiry expiry) {
  append_id(out, id);
  out += "\"refresh\":{\"client\":";
  append_json_string(out, client);
  out += ",\"version\":";
  append_json_string(out, version);
  append_expiry(out, expiry);
  out += "}}";
}

void append_expiry_result(std::string& out, std::uint32_t id, Method method, Expiry expiry) {
  append_id(out, id);
  out += '"';
  out += method_name(method);
  out += "\":{";
  append_expiry(out, expiry, "");
  out += "}}";
}

void append_unsubscribe_push(std::string& out, std::string_view channel, std::uint32_t code, std::string_view reason) {
  out += "{\"push\":{\"channel\":";
  append_json_string(out, channel);
  out += ",\"unsubscribe\":{\"code\":";
  append_uint(out, code);
  out += ",\"reason\":";
  append_json_string(out, reason);
  out += "}}}";
}

void append_raw_array(std::string& out, std::span<const std::string_view> items) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ',';
    out += items[i];
  }
  out += ']';
}

void append_client_info(std::string& out, const ClientInfo& info) {
  out += "{\"user\":";
  append_json_string(out, info.user);
  out += ",\"client\":";
  append_json_string(out, info.client);
  if (!info.conn_info.empty()) {
    out += ",\"conn_info\":";
    out += info.conn_info;
  }
  if (!info.chan_info.empty()) {
    out += ",\"chan_info\":";
    out += info.chan_info;
  }
  out += '}';
}

void append_presence_stats_result(std::string& out, std::uint32_t id, std::size_t clients, std::size_t users) {
  append_id(out, id);
  out += "\"presence_stats\":{\"num_clients\":";
  append_uint(out, clients);
  out += ",\"num_users\":";
  append_uint(out, users);
  out += "}}";
}

void append_presence_map(std::string& out, std::span<const ClientInfo> clients) {
  out += '{';
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (i != 0) out += ',';
    append_json_string(out, clients[i].client);
    out += ':';
    append_client_info(out, clients[i]);
  }
  out += '}';
}

void append_presence_result(std::string& out, std::uint32_t id, std::span<const ClientInfo> clients) {
  append_id(out, id);
  out += "\"presence\":{\"presence\":";
  append_presence_map(out, clients);
  out += "}}";
}

void append_publication(std::string& out, const Publication& pub, DataForm form) {
  out += '{';
  char sep = ' ';  // becomes ',' after the first field
  auto field = [&](std::string_view name) {
    if (sep == ',') out += ',';
    sep = ',';
    out += name;
  };
  if (!pub.data.empty()) {
    field("\"data\":");
    if (form == DataForm::raw) out += pub.data;
    else append_json_string(out, pub.data);
  }
  if (pub.info != nullptr) {
    field("\"info\":");
    append_client_info(out, *pub.info);
  }
  if (pub.offset != 0) {
    field("\"offset\":");
    append_uint(out, pub.offset);
  }
  if (form == DataForm::delta) field("\"delta\":true");
  out += '}';
}

void append_publication_push(std::string& out, std::string_view channel, const Publication& pub, DataForm form) {
  out += "{\"push\":{\"channel\":";
  append_json_string(out, channel);
  out += ",\"pub\":";
  append_publication(out, pub, form);
  out += "}}";
}

namespace {
constexpr std::string_view kDataField = "{\"data\":";

// The length of the JSON value at the start of `s`, which must be valid JSON (the
// parser checked it before it became a record): strings and nesting are tracked, nothing
// else is checked.
std::size_t value_length(std::string_view s) noexcept {
  std::size_t i = 0;
  int depth = 0;
  bool in_string = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped byte
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return i;  // the record's own end: a scalar ran up to it
      if (--depth == 0) return i + 1;
    } else if (c == ',' && depth == 0) {
      return i;
    }
  }
  return i;
}
}  // namespace

std::string_view record_data(std::string_view record) noexcept {
  if (!record.starts_with(kDataField)) return {};
  std::string_view rest = record.substr(kDataField.size());
  return rest.substr(0, value_length(rest));
}

void append_record_as_full(std::string& out, std::string_view record) {
  std::string_view data = record_data(record);
  if (data.empty()) {
    out += record;
    return;
  }
  out += kDataField;
  append_json_string(out, data);
  out += record.substr(kDataField.size() + data.size());
}

void append_record_as_delta(std::string& out, std::string_view record, std::string_view delta) {
  const std::string_view data = record_data(record);
  if (data.empty()) {  // nothing to be a delta of
    out += record;
    return;
  }
  out += kDataField;
  append_json_string(out, delta);
  // The rest of its fields, then the flag before its closing brace.
  const std::string_view rest = record.substr(kDataField.size() + data.size());
  out += rest.substr(0, rest.size() - 1);
  out += ",\"delta\":true}";
}

void append_record_with_offset(std::string& out, std::string_view record, std::uint64_t offset) {
  // "{...}": its fields end before the last brace; "{}" has none.
  const std::string_view inner = record.size() >= 2 ? record.substr(1, record.size() - 2) : std::string_view();
  out += '{';
  out += inner;
  if (!inner.empty()) out += ',';
  out += "\"offset\":";
  append_uint(out, offset);
  out += '}';
}

void append_publication_push(std::string& out, std::string_view channel, std::string_view publication) {
  out += "{\"push\":{\"channel\":";
  append_json_string(out, channel);
  out += ",\"pub\":";
  out += publication;
  out += "}}";
}

void append_history_result(std::string& out, std::uint32_t id, std::span<const std::string_view> publications,
                           std::string_view epoch, std::uint64_t offset) {
  append_id(out, id);
  out += "\"history\":{";
  if (!publications.empty()) {
    out += "\"publications\":";
    append_raw_array(out, publications);
    out += ',';
  }
  out += "\"epoch\":";
  append_json_string(out, epoch);
  out += ",\"offset\":";
  append_uint(out, offset);
  out += "}}";
}

namespace {

// {...}: a subscription's fields, in a subscribe result or a connect result's subs.
void append_subscription(std::string& out, const SubscribeResult& r) {
  out += '{';
  std::size_t start = out.size();
  append_expiry(out, r.expiry, "");
  auto flag = [&](std::string_view name, bool on) {
    if (!on) return;
    if (out.size() != start) out += ',';
    out += name;
  };
  flag("\"recoverable\":true", r.recoverable);
  flag("\"positioned\":true", r.positioned);
  if (r.recoverable || r.positioned) {
    out += ",\"epoch\":";
    append_json_string(out, r.epoch);
    out += ",\"offset\":";
    append_uint(out, r.offset);
  }
  if (!r.publications.empty()) {
    out += ",\"publications\":";
    if (r.delta) {
      out += '[';
      for (std::size_t i = 0; i < r.publications.size(); ++i) {
        if (i != 0) out += ',';
        append_record_as_full(out, r.publications[i]);
      }
      out += ']';
    } else {
      append_raw_array(out, r.publications);
    }
  }
  flag("\"recovered\":true", r.recovered);
  flag("\"was_recovering\":true", r.was_recovering);
  flag("\"delta\":true", r.delta);
  out += '}';
}

}  // namespace

void append_subscribe_result(std::string& out, std::uint32_t id, const SubscribeResult& r) {
  append_id(out, id);
  out += "\"subscribe\":";
  append_subscription(out, r);
  out += '}';
}

void append_server_sub(std::string& out, std::string_view channel, const SubscribeResult& r) {
  if (!out.empty()) out += ',';
  append_json_string(out, channel);
  out += ':';
  append_subscription(out, r);
}

}  // namespace ringcast::protocol::client
