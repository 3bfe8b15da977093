// Drives one real Shard on the scripted backend (tests/support/scripted_backend.hpp): plays the
// clients (connect, bytes, frames, EOF, reset), the network (how much of each pending send
// goes out) and the clock. Every byte the server writes to a client is checked as it
// arrives: an HTTP answer, then (after a 101) valid server frames, and nothing after the
// close frame or a non-101 answer's body. Shared by tests/scripted/ and fuzz_connection.
//
// With TLS set up (the constructor's `tls`, or a Config whose tls names a pair) the shard
// also listens for wss: connect_wss() accepts there and plays the client with an OpenSSL
// session on memory BIOs (tests/support/tls_client.hpp). What the test sends through such a
// client is plaintext (encrypted on the way), what the server sends is decrypted before it
// reaches the client's ServerStream; partial sends, EOF, resets and the clock work as for
// plain clients.
#pragma once
#include <sys/eventfd.h>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/app/builtin_apps.hpp"
#include "engine/shard.hpp"
#include "tests/support/scripted_backend.hpp"
#include "tests/support/tls_client.hpp"
#include "tests/support/tls_pair.hpp"
#include "protocol/close.hpp"
#include "protocol/deflate_codec.hpp"
#include "protocol/frame.hpp"
#include "protocol/handshake.hpp"
#include "protocol/utf8.hpp"

namespace ringcast::engine::test {

// What one client asked before its upgrade: each whole request it sent (parsed as the
// server parses them), so the answer to HEAD is known to have no body.
class RequestTracker {
 public:
  void feed(std::span<const std::uint8_t> bytes, class ServerStream& answers);

 private:
  std::string buf_;
  bool done_ = false;  // upgraded, or bytes no server parses: nothing more to track
};

// What the server wrote to one client, checked and decoded: HTTP answers (one after
// another while they say keep-alive), then after a 101 server frames.
class ServerStream {
 public:
  struct Message {
    protocol::Opcode op;
    std::string payload;
    bool compressed = false;  // it came with RSV1 (permessage-deflate)
  };

  void feed(std::span<const std::uint8_t> bytes) {
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
    while (error_.empty() && parse_one()) {
    }
  }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }
  // The last answer's status: 0 until its head is complete (or, keep-alive, once it is whole).
  [[nodiscard]] int status() const noexcept { return statuses_.empty() ? 0 : statuses_.back(); }
  // The client sent one more whole request (a HEAD one, or not), in order.
  void expect_answer(bool to_head) { to_head_.push_back(to_head); }
  // Every answer's status, in order (keep-alive connections get several).
  [[nodiscard]] const std::vector<int>& statuses() const noexcept { return statuses_; }
  [[nodiscard]] const std::vector<Message>& messages() const noexcept { return messages_; }
  [[nodiscard]] bool close_seen() const noexcept { return close_seen_; }
  [[nodiscard]] std::uint16_t close_code() const noexcept { return close_code_; }  // 1005: none
  [[nodiscard]] std::size_t total() const noexcept { return total_; }

 private:
  bool fail(std::string why) {
    error_ = std::move(why);
    return false;
  }
  // Consumes one head, body or frame from buf_; false when it needs more bytes (or failed).
  bool parse_one() {
    if (buf_.empty()) return false;
    if (done_) return fail("bytes after the end of the answer");
    if (status_ == 0) return parse_head();
    if (body_left_ > 0) {
      std::size_t n = std::min(body_left_, buf_.size());
      consume(n);
      body_left_ -= n;
      if (body_left_ == 0 && status_ != 101) end_answer();
      return true;
    }
    if (close_seen_) return fail("bytes after the close frame");
    return parse_frame();
  }
  bool parse_head() {
    std::string_view s(reinterpret_cast<const char*>(buf_.data()), buf_.size());
    std::size_t end = s.find("\r\n\r\n");
    if (end == std::string_view::npos) return s.size() > 16384 ? fail("endless response head") : false;
    if (!s.starts_with("HTTP/1.1 ") || s.size() < 12) return fail("answer is not HTTP/1.1");
    status_ = std::atoi(std::string(s.substr(9, 3)).c_str());
    if (status_ < 100 || status_ > 599) return fail("bad status code");
    std::string_view head = s.substr(0, end);
    std::size_t cl = head.find("Content-Length: ");
    body_left_ = cl == std::string_view::npos ? 0 : std::strtoul(std::string(head.substr(cl + 16, 12)).c_str(), nullptr, 10);
    keep_alive_ = head.find("\r\nConnection: keep-alive") != std::string_view::npos;
    if (status_ == 101) deflate_ = head.find("\r\nSec-WebSocket-Extensions: permessage-deflate") != std::string_view::npos;
    statuses_.push_back(status_);
    // An answer to HEAD keeps its Content-Length but has no body.
    bool to_head = !to_head_.empty() && to_head_.front();
    if (!to_head_.empty()) to_head_.erase(to_head_.begin());
    if (to_head) body_left_ = 0;
    consume(end + 4);
    if (status_ == 101 && body_left_ != 0) return fail("101 with a body");
    if (status_ != 101 && body_left_ == 0) end_answer();
    return true;
  }
  // A whole non-101 answer: the end of the stream, or (keep-alive) the next head follows.
  void end_answer() {
    if (keep_alive_) {
      status_ = 0;
    } else {
      done_ = true;
    }
  }
  bool parse_frame() {
    if (buf_.size() < 2) return false;
    std::uint8_t b0 = buf_[0], b1 = buf_[1];
    if ((b0 & 0x80) == 0) return fail("server fragmented a message");
    const bool compressed = (b0 & 0x70) == 0x40 && deflate_ && ((b0 & 0x0F) == 1 || (b0 & 0x0F) == 2);
    if ((b0 & 0x70) != 0 && !compressed) return fail("server set RSV bits");
    if ((b1 & 0x80) != 0) return fail("server masked a frame");
    auto op = static_cast<protocol::Opcode>(b0 & 0x0F);
    std::uint8_t code = b0 & 0x0F;
    if (code != 1 && code != 2 && code != 8 && code != 9 && code != 10) return fail("reserved opcode from server");
    std::uint64_t len = b1 & 0x7F;
    std::size_t h = 2;
    if (len == 126) {
      if (buf_.size() < 4) return false;
      len = (std::uint64_t{buf_[2]} << 8) | buf_[3];
      if (len < 126) return fail("non-minimal 16-bit length");
      h = 4;
    } else if (len == 127) {
      if (buf_.size() < 10) return false;
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | buf_[static_cast<std::size_t>(i)];
      if (len <= 0xFFFF || (len >> 63) != 0) return fail("non-minimal 64-bit length");
      h = 10;
    }
    if (code >= 8 && len > protocol::kMaxControlPayload) return fail("control frame over 125 bytes");
    if (buf_.size() < h + len) return false;
    std::span<const std::uint8_t> payload(buf_.data() + h, static_cast<std::size_t>(len));
    std::vector<std::uint8_t> inflated;
    if (compressed) {  // permessage-deflate: the message the server compressed
      if (!inflater_) inflater_ = std::make_unique<protocol::Inflater>();
      if (inflater_->inflate(payload, inflated, std::size_t{1} << 26) != protocol::Inflater::Result::ok) {
        return fail("a compressed server message does not inflate");
      }
      payload = inflated;
    }
    if (op == protocol::Opcode::text && !protocol::is_valid_utf8(payload.data(), payload.size())) {
      return fail("invalid UTF-8 in a server text frame");
    }
    if (op == protocol::Opcode::close) {
      protocol::CloseParse cp = protocol::parse_close_payload(payload);
      if (cp.status != protocol::Status::ok) return fail("invalid close payload from server");
      close_seen_ = true;
      close_code_ = cp.code;
    }
    messages_.push_back({op, std::string(payload.begin(), payload.end()), compressed});
    consume(h + static_cast<std::size_t>(len));
    return true;
  }
  void consume(std::size_t n) {
    total_ += n;
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  std::vector<std::uint8_t> buf_;
  std::vector<Message> messages_;
  std::string error_;
  int status_ = 0;
  std::size_t body_left_ = 0, total_ = 0;
  bool done_ = false, close_seen_ = false, keep_alive_ = false;
  bool deflate_ = false;  // the 101 accepted permessage-deflate: RSV1 data frames are compressed
  std::unique_ptr<protocol::Inflater> inflater_;  // made on the first compressed message
  std::vector<int> statuses_;
  std::vector<bool> to_head_;  // per request the client sent and not answered yet: was it HEAD
  std::uint16_t close_code_ = 1005;
};

inline void RequestTracker::feed(std::span<const std::uint8_t> bytes, ServerStream& answers) {
  if (done_) return;
  buf_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  for (;;) {
    protocol::HttpRequest req;
    protocol::RequestParse r = protocol::parse_request(buf_, 0, protocol::HandshakeRules{}, req);
    if (r.status != protocol::Status::ok) {
      done_ = r.status == protocol::Status::error;
      return;
    }
    std::size_t total = r.consumed + (req.kind == protocol::RequestKind::websocket ? 0 : req.content_length);
    if (buf_.size() < total) return;
    answers.expect_answer(req.method == "HEAD");
    if (req.kind == protocol::RequestKind::websocket) {
      done_ = true;
      return;
    }
    buf_.erase(0, total);
  }
}

// `deflate`: offering permessage-deflate as browsers do.
inline std::string upgrade_request(std::string_view path, bool deflate = false) {
  std::string r = "GET ";
  r.append(path).append(
      " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n");
  if (deflate) r.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
  r.append("\r\n");
  return r;
}

inline std::vector<std::uint8_t> client_frame(protocol::Opcode op, std::string_view payload, bool fin = true,
                                              std::uint8_t rsv = 0, protocol::MaskKey mask = {1, 2, 3, 4}) {
  std::vector<std::uint8_t> out(protocol::frame_header_len(payload.size(), true) + payload.size());
  std::size_t n = protocol::encode_client_frame(
      out, op, {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()}, mask, fin, rsv);
  out.resize(n);
  return out;
}

// Limits small enough for scripted tests to reach (deadlines in ticks, a 4 KiB backlog).
inline Config scripted_config(std::size_t slots = 16) {
  Config cfg;
  cfg.max_connections_per_shard = slots;
  cfg.handshake_timeout = std::chrono::milliseconds(500);
  cfg.idle_timeout = std::chrono::milliseconds(2000);
  cfg.close_timeout = std::chrono::milliseconds(500);
  cfg.max_backlog = 4096;
  cfg.max_message = 1 << 16;
  return cfg;
}

class ShardDriver {
 public:
  struct Client {
    int fd = -1;
    std::uint16_t port = 0;
    ServerStream in;
    RequestTracker out;
    std::string path;  // what connect_ws asked for; empty when the script wrote the request
    std::shared_ptr<TlsClient> tls;  // a wss client's session; null: plain
    bool holding = false;            // not reading: what the network delivers waits in `unread`
    std::vector<std::uint8_t> unread;
  };

  // `tls`: also listen for wss, with a fresh self-signed pair (unless cfg.tls names one).
  explicit ShardDriver(const Config& cfg, bool tls = false) : apps_(cfg) {
    group_.config = cfg;
    apps_.install(group_);
    group_.shard_count = 1;
    group_.prewarm_frames = 64;  // a shard per test case (and per fuzz input)
    tls = tls || cfg.tls.enabled();
    if (tls) init_error_ = load_tls();
    auto io = std::make_unique<ScriptedBackend>();
    io_ = io.get();
    // The scripted backend plays the listeners; the shard only needs descriptors to own.
    ShardListeners listeners{eventfd(0, EFD_CLOEXEC), tls ? eventfd(0, EFD_CLOEXEC) : -1};
    io_->set_listeners(listeners.plain, listeners.tls);
    group_.shards.push_back(std::make_unique<Shard>(group_, 0, listeners, std::move(io)));
    shard_ = group_.shards.back().get();
    group_.metrics.push_back(&shard_->metrics());
    if (init_error_.empty()) init_error_ = shard_->init();
    if (init_error_.empty()) shard_->start();
    settle();
  }
  ShardDriver(const ShardDriver&) = delete;
  ShardDriver& operator=(const ShardDriver&) = delete;

  [[nodiscard]] const std::string& init_error() const noexcept { return init_error_; }
  [[nodiscard]] Shard& shard() noexcept { return *shard_; }
  [[nodiscard]] ScriptedBackend& io() noexcept { return *io_; }
  [[nodiscard]] ShardGroup& group() noexcept { return group_; }
  [[nodiscard]] std::vector<Client>& clients() noexcept { return clients_; }
  [[nodiscard]] const std::vector<Client>& clients() const noexcept { return clients_; }
  [[nodiscard]] Client& client(std::size_t i) noexcept { return clients_[i]; }

  // Runs turns until no completion is waiting; false if the shard has stopped.
  bool settle() {
    if (!running_) return false;  // the loop has ended: a real server calls turn() no more
    for (int i = 0; i < 64; ++i) {
      if (!shard_->turn()) return running_ = false;
      // The shard woke itself (handshakes left for the next turn): that turn comes now.
      if (!io().has_completions() && !io().complete_reads()) return true;
    }
    return true;
  }
  // One turn only (what is waiting, then the turn's work); false if the shard has stopped.
  bool turn() {
    if (!running_) return false;
    if (!shard_->turn()) running_ = false;
    return running_;
  }
  // Completions (or a wake-up) wait for a turn.
  [[nodiscard]] bool turn_pending() { return io().has_completions() || io().complete_reads(); }

  // A new client connection; its index, or -1 when the shard is not accepting.
  int connect() {
    int fd = next_fd_++;
    std::uint16_t port = static_cast<std::uint16_t>(40000 + fd);
    if (!io().accept(fd, port)) return -1;
    Client c;
    c.fd = fd;
    c.port = port;
    clients_.push_back(std::move(c));
    settle();
    return static_cast<int>(clients_.size() - 1);
  }
  // A new connection on the wss listener, its TLS client started; -1 when not accepting.
  // `hello`: the ClientHello goes out now (else it waits for take_ciphertext()/flush_tls()).
  // `run`: settle after (false: the accept, and the hello, wait for the next turn).
  int connect_tls(bool hello = true, bool run = true) {
    int fd = next_fd_++;
    std::uint16_t port = static_cast<std::uint16_t>(40000 + fd);
    if (!io().accept_tls(fd, port)) return -1;
    Client c;
    c.fd = fd;
    c.port = port;
    c.tls = std::make_shared<TlsClient>(client_max_version_);
    c.tls->start();
    clients_.push_back(std::move(c));
    std::size_t i = clients_.size() - 1;
    if (hello) push_tls(i);
    if (run) settle();
    return static_cast<int>(i);
  }
  // connect_tls() and the upgrade request for `path` (sent once the handshake is done).
  int connect_wss(std::string_view path, bool run = true) {
    int c = connect_tls(true, run);
    if (c < 0) return c;
    auto i = static_cast<std::size_t>(c);
    clients_[i].path = std::string(path);
    std::string req = upgrade_request(path);
    std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(req.data()), req.size());
    clients_[i].out.feed(bytes, clients_[i].in);
    clients_[i].tls->write(bytes);
    push_tls(i);
    if (run) settle();
    return c;
  }
  // The highest TLS version the next wss clients offer (TLS1_3_VERSION unless set).
  void set_client_max_version(int v) noexcept { client_max_version_ = v; }
  // A wss client's ciphertext not sent yet (the script sends it, or part of it, raw).
  std::vector<std::uint8_t> take_ciphertext(std::size_t c) { return clients_[c].tls->take(); }
  // Bytes on the wire as they are: no tracking, no TLS.
  void send_raw(std::size_t c, std::span<const std::uint8_t> bytes) {
    io().peer_send(clients_[c].fd, bytes);
    settle();
  }
  // A wss client's close_notify.
  void close_notify(std::size_t c) {
    clients_[c].tls->close_notify();
    push_tls(c);
    settle();
  }
  // The client stops (true) or resumes (false) reading what the network delivered.
  void hold_reads(std::size_t c, bool hold) {
    Client& cl = clients_[c];
    cl.holding = hold;
    if (!hold && !cl.unread.empty()) {
      std::vector<std::uint8_t> bytes;
      bytes.swap(cl.unread);
      take_in(c, bytes);
      settle();
    }
  }
  int connect_ws(std::string_view path, bool deflate = false) {
    int c = connect();
    if (c < 0) return c;
    clients_[static_cast<std::size_t>(c)].path = std::string(path);
    send(static_cast<std::size_t>(c), upgrade_request(path, deflate));
    return c;
  }

  void send(std::size_t c, std::span<const std::uint8_t> bytes) {
    clients_[c].out.feed(bytes, clients_[c].in);
    if (clients_[c].tls) {
      clients_[c].tls->write(bytes);
      push_tls(c);
    } else {
      io().peer_send(clients_[c].fd, bytes);
    }
    settle();
  }
  void send(std::size_t c, std::string_view s) {
    send(c, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  }
  void eof(std::size_t c) {
    io().peer_eof(clients_[c].fd);
    settle();
  }
  void reset(std::size_t c, int err = ECONNRESET) {
    io().peer_reset(clients_[c].fd, err);
    settle();
  }
  // The network takes up to `max` bytes of client c's pending send.
  std::size_t deliver(std::size_t c, std::size_t max = SIZE_MAX) {
    std::vector<std::uint8_t> out;
    std::size_t n = io().complete_send(clients_[c].fd, max, out);
    take_in(c, out);
    settle();
    return n;
  }
  // Every pending send goes out whole, until none is left (bounded).
  void deliver_all() {
    for (int round = 0; round < 1000; ++round) {
      bool any = false;
      for (std::size_t c = 0; c < clients_.size(); ++c) any |= deliver(c) > 0;
      if (!any) return;
    }
  }
  void advance(std::uint64_t ms) {
    io().advance(ms);
    settle();
  }

  // The first broken rule: the backend contract or a client's view of the server's bytes.
  [[nodiscard]] std::string violation() const {
    if (!io_->violation().empty()) return "backend: " + io_->violation();
    for (const Client& c : clients_) {
      if (!c.in.error().empty()) return "client fd " + std::to_string(c.fd) + ": " + c.in.error();
      if (c.tls && !c.tls->error().empty()) return "TLS client fd " + std::to_string(c.fd) + ": " + c.tls->error();
    }
    return {};
  }
  [[nodiscard]] bool running() const noexcept { return running_; }

 private:
  // A fresh self-signed pair (unless the config names one) into the group's store.
  std::string load_tls() {
    if (group_.config.tls.enabled()) return group_.tls.load(group_.config.tls);
    std::string dir = make_tls_dir("ringcast-scripted");
    TlsPairFiles pair = make_tls_pair(dir, "server");
    X509_free(pair.x509);
    group_.config.tls.cert_file = pair.cert;
    group_.config.tls.key_file = pair.key;
    std::string err = group_.tls.load(group_.config.tls);
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);  // loaded: the context holds the pair
    return err;
  }
  // What the network delivered to client c: decrypted first for a wss client, whose
  // answer (its Finished, the plaintext waiting for it) goes out at once.
  void take_in(std::size_t c, std::span<const std::uint8_t> bytes) {
    Client& cl = clients_[c];
    if (cl.holding) {
      cl.unread.insert(cl.unread.end(), bytes.begin(), bytes.end());
      return;
    }
    if (!cl.tls) {
      cl.in.feed(bytes);
      return;
    }
    std::vector<std::uint8_t> plain = cl.tls->receive(bytes);
    cl.in.feed(plain);
    push_tls(c);
  }
  void push_tls(std::size_t c) {
    std::vector<std::uint8_t> cipher = clients_[c].tls->take();
    if (!cipher.empty()) io().peer_send(clients_[c].fd, cipher);
  }

  BuiltinApps apps_;  // before the group: the shard calls them
  ShardGroup group_;
  Shard* shard_ = nullptr;
  ScriptedBackend* io_ = nullptr;  // owned by the shard
  std::string init_error_;
  std::vector<Client> clients_;
  int next_fd_ = 100;
  int client_max_version_ = TLS1_3_VERSION;
  bool running_ = true;
};

}  // namespace ringcast::engine::test
