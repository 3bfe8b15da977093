#include "bench/load/command_reply.hpp"

#include <simdjson.h>

namespace ringcast::load {
namespace {

namespace od = simdjson::ondemand;

bool fail(CommandReply& out, const char* why) {
  out.error = why;
  return false;
}

// One publication {"data":...,"offset":N,...}: the data's text when it is a string (the
// generator's are), else empty.
bool read_publication(od::object pub, const std::function<void(std::string_view, std::uint64_t)>& f) {
  std::string data;
  std::uint64_t offset = 0;
  for (auto field : pub) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    od::value v;
    if (field.value().get(v)) return false;
    if (key == "data") {
      od::json_type t;
      if (v.type().get(t)) return false;
      std::string_view text;
      if (t == od::json_type::string) {
        if (v.get_string().get(text)) return false;
        data.assign(text);
      }
    } else if (key == "offset") {
      if (v.get_uint64().get(offset)) return false;
    }
  }
  f(data, offset);
  return true;
}

bool read_result(od::object r, CommandReply& out, const std::function<void(std::string_view, std::uint64_t)>& f) {
  for (auto field : r) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return fail(out, "malformed subscribe result");
    od::value v;
    if (field.value().get(v)) return fail(out, "malformed subscribe result");
    if (key == "epoch") {
      std::string_view e;
      if (v.get_string().get(e)) return fail(out, "subscribe result: epoch is not a string");
      out.epoch.assign(e);
    } else if (key == "offset") {
      if (v.get_uint64().get(out.offset)) return fail(out, "subscribe result: offset is not a number");
    } else if (key == "recovered") {
      if (v.get_bool().get(out.recovered)) return fail(out, "subscribe result: recovered is not a boolean");
    } else if (key == "publications") {
      od::array pubs;
      if (v.get_array().get(pubs)) return fail(out, "subscribe result: publications is not an array");
      for (auto p : pubs) {
        od::object pub;
        if (p.get_object().get(pub) || !read_publication(pub, f)) return fail(out, "malformed recovered publication");
        ++out.publications;
      }
    }
  }
  return true;
}

// One line: false when it is malformed; `out.found` when it answers `id`.
bool read_line(std::string_view line, std::uint32_t id, CommandReply& out,
               const std::function<void(std::string_view, std::uint64_t)>& f) {
  static thread_local od::parser parser;  // its buffers kept from reply to reply
  const simdjson::padded_string text(line);
  od::document doc;
  od::object reply;
  if (parser.iterate(text).get(doc) || doc.get_object().get(reply)) return fail(out, "a reply that is not a JSON object");
  // The id comes first in every reply the protocol writes (pushes have none).
  std::uint64_t got = 0;
  bool id_seen = false;
  for (auto field : reply) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return fail(out, "malformed reply");
    od::value v;
    if (field.value().get(v)) return fail(out, "malformed reply");
    if (key == "id") {
      if (v.get_uint64().get(got)) return fail(out, "reply id is not a number");
      id_seen = true;
      if (got != id) return true;
      out.found = true;
    } else if (!id_seen) {
      return true;  // a push, or a reply without its id first: not ours
    } else if (key == "error") {
      out.refused = true;
      od::object e;
      if (v.get_object().get(e)) return fail(out, "malformed error");
      std::uint64_t code = 0;
      std::string_view message;
      for (auto ef : e) {
        std::string_view k;
        od::value ev;
        if (ef.unescaped_key().get(k) || ef.value().get(ev)) return fail(out, "malformed error");
        if (k == "code" && ev.get_uint64().get(code)) return fail(out, "error code is not a number");
        if (k == "message" && ev.get_string().get(message)) return fail(out, "error message is not a string");
      }
      out.error = std::to_string(code) + " " + std::string(message);
    } else if (key == "subscribe") {
      od::object r;
      if (v.get_object().get(r)) return fail(out, "subscribe result is not an object");
      if (!read_result(r, out, f)) return false;
    }
  }
  return true;
}

}  // namespace

bool read_reply(std::string_view message, std::uint32_t id, CommandReply& out,
                          const std::function<void(std::string_view, std::uint64_t)>& on_publication) {
  out = CommandReply{};
  while (!message.empty()) {
    const std::size_t nl = message.find('\n');
    const std::string_view line = message.substr(0, nl);
    message = nl == std::string_view::npos ? std::string_view{} : message.substr(nl + 1);
    if (line.empty()) continue;
    if (!read_line(line, id, out, on_publication)) return false;
    if (out.found) return true;
  }
  return true;
}

}  // namespace ringcast::load
