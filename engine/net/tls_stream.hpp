// One TLS connection, driven by the shard's own I/O: OpenSSL never touches the socket.
// OpenSSL runs the handshake on a BIO of ours that reads the ciphertext of the receive
// buffer being fed (all of it before the call returns: a partial record stays inside
// OpenSSL) and writes what OpenSSL sends (flights, tickets, alerts) into a frame from the
// shard's pool. A TLS 1.3 connection then hands its traffic secrets over to
// protocol::tls13::Records and frees the OpenSSL session (14 kB a connection): its records
// are read and sealed here, partial ones waiting in a spill buffer. TLS 1.2 (and a suite
// Records does not take) stays in OpenSSL for the connection's life.
//
// The send side seals queued plaintext into as few records as fit (a 16 KiB record costs
// about what a 100 B one does, apart from AES), so small broadcast frames share records;
// the shared plaintext frames are released as soon as they are sealed.
//
// Output has two frames: `out` gathers what is written; wire() hands it over for the one
// send in flight, during which new output goes to a fresh `out` (the kernel may still be
// reading the wire frame). Idle, a stream holds no frame and no record buffer.
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "engine/core/byte_buffer.hpp"
#include "engine/metrics.hpp"
#include "engine/net/frame_pool.hpp"
#include "engine/net/tls_ptr.hpp"
#include "engine/net/tls_context.hpp"
#include "protocol/tls13_records.hpp"

struct ssl_st;
struct bio_st;

namespace ringcast::engine {

class TlsStream {
 public:
  // Whose record layer serves the connection after a TLS 1.3 handshake: Records (the
  // server's), or OpenSSL's for its life (what TLS 1.2 always gets; benchmarks and tests
  // compare the two).
  enum class Layer : std::uint8_t { records, openssl };
  // A server-side session on `ctx`; nullptr when memory ran out.
  [[nodiscard]] static TlsStream* create(SslCtx* ctx, FramePool& pool, Layer layer = Layer::records) noexcept;
  ~TlsStream();
  // Installs on `ctx` what the hand-over to Records needs (the traffic secrets and the count
  // of tickets sent, from OpenSSL's key-log and ticket callbacks).
  static void prepare_context(SslCtx* ctx) noexcept;
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  enum class Status : std::uint8_t {
    data,       // `n` bytes of plaintext were read
    want_more,  // every byte given was consumed; more ciphertext is needed
    closed,     // the peer's close_notify
    failed,     // a fatal error: failure() says which (an alert may wait in the output)
  };
  struct Read {
    std::size_t n;
    Status status;
  };

  // Ciphertext to read from, until the next give(); read() consumes all of it.
  void give(const std::uint8_t* data, std::size_t len) noexcept {
    in_ = data;
    in_len_ = len;
  }
  void forget_input() noexcept { in_len_ = 0; }
  // Drives the handshake, then decrypts into `out` (kPlainBuffer bytes: a record's content).
  static constexpr std::size_t kPlainBuffer = protocol::tls13::kMaxInner;
  [[nodiscard]] Read read(std::uint8_t* out) noexcept;

  // Encrypts from `iov` (queued plaintext) until `budget` bytes or the end; returns how
  // many were sealed (failed() on error). Small pieces are gathered in `scratch`
  // (kRecord bytes) so that records are full.
  static constexpr std::size_t kRecord = 16384;
  // What the shard seals per send: 4 records' worth, so that they and their overhead (64 B
  // reserved per record) fill exactly a 64 KiB pool frame. That frame is the most a wss
  // connection holds beyond --max-backlog (its sealed bytes left the queue).
  static constexpr std::size_t kSealBudget = 4 * kRecord - 4 * 64;
  // What OpenSSL may write on its own (handshake flights, tickets, alerts, key updates)
  // before it is sent: past it the write fails and so does the connection (a peer that
  // makes us answer without ever reading). seal()'s output is bounded by its budget.
  static constexpr std::size_t kMaxOutput = 64u << 10;
  [[nodiscard]] std::size_t seal(const iovec* iov, std::size_t n, std::size_t budget, std::uint8_t* scratch) noexcept;
  // Queues our close_notify (once, after the handshake).
  void close_notify() noexcept;

  // The ciphertext to send next (empty: nothing to send); stays the same until wire_sent().
  [[nodiscard]] std::span<const std::uint8_t> wire() noexcept;
  void wire_sent(std::size_t n) noexcept;
  [[nodiscard]] bool has_output() const noexcept { return wire_ != nullptr || (out_ != nullptr && out_->len > 0); }

  [[nodiscard]] bool established() const noexcept { return established_; }
  // Past the handshake on Records (TLS 1.3), OpenSSL's session freed.
  [[nodiscard]] bool own_records() const noexcept { return ssl_ == nullptr; }
  // The client's first flight was read (what follows is cheap: its Finished).
  [[nodiscard]] bool handshake_started() const noexcept { return started_; }
  [[nodiscard]] bool failed() const noexcept { return failed_; }
  [[nodiscard]] TlsFailure failure() const noexcept { return failure_; }
  [[nodiscard]] const char* reason() const noexcept { return reason_; }  // OpenSSL's, for the log

  // Ciphertext that waits for a handshake slot in a later turn (the per-turn bound).
  [[nodiscard]] ByteBuffer& held() noexcept { return held_; }

 private:
  struct Handover;  // what the handshake leaves for Records
  TlsStream(ssl_st* ssl, FramePool& pool) noexcept;
  friend struct TlsBio;
  friend struct TlsCallbacks;
  [[nodiscard]] int bio_read(char* buf, int len) noexcept;
  [[nodiscard]] bool bio_write(const char* data, int len) noexcept;
  // Makes `out` hold `n` more bytes (a bigger frame of at least `grow_to` when it must move).
  [[nodiscard]] bool room_for(std::size_t n, std::size_t grow_to) noexcept;
  void fail(int ssl_error) noexcept;
  void hand_over() noexcept;
  [[nodiscard]] Read read_records(std::uint8_t* out) noexcept;
  [[nodiscard]] bool take_partial(std::size_t n) noexcept;
  [[nodiscard]] Read fail_records() noexcept;
  [[nodiscard]] bool write_records(const std::uint8_t* p, std::size_t len) noexcept;

  ssl_st* ssl_;  // nullptr once Records took over
  FramePool& pool_;
  std::unique_ptr<Handover> handover_;  // during the handshake only
  protocol::tls13::Records records_;
  ByteBuffer partial_;  // a record split across receives (Records only)
  Frame* out_ = nullptr;   // output being written
  Frame* wire_ = nullptr;  // output being sent
  std::uint32_t wire_off_ = 0;
  const std::uint8_t* in_ = nullptr;
  std::size_t in_len_ = 0;
  ByteBuffer held_;
  bool established_ = false, failed_ = false, notify_sent_ = false, started_ = false;
  bool sealing_ = false;  // inside seal(): its records are not OpenSSL's own output
  std::uint32_t own_ = 0; // bytes of OpenSSL's own output in `out` (capped by kMaxOutput)
  TlsFailure failure_ = TlsFailure::protocol;
  const char* reason_ = "";
};

}  // namespace ringcast::engine
