// One TLS connection's OpenSSL session, driven by the shard's own I/O: OpenSSL never
// touches the socket. A BIO of ours reads the ciphertext of the receive buffer being fed
// (all of it before the call returns: a partial record stays inside OpenSSL) and writes
// what OpenSSL sends (handshake flights, records, alerts) into a frame from the shard's
// pool. The send side seals queued plaintext into as few records as fit (a 16 KiB record
// costs about what a 100 B one does, apart from AES), so small broadcast frames share
// records; the shared plaintext frames are released as soon as they are sealed.
//
// Output has two frames: `out` gathers what OpenSSL writes; wire() hands it over for the
// one send in flight, during which new output goes to a fresh `out` (the kernel may still
// be reading the wire frame). Idle, a stream holds no frame and OpenSSL no buffer
// (SSL_MODE_RELEASE_BUFFERS).
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/core/byte_buffer.hpp"
#include "engine/metrics.hpp"
#include "engine/net/frame_pool.hpp"
#include "engine/net/tls_ptr.hpp"
#include "engine/net/tls_context.hpp"

struct ssl_st;
struct bio_st;

namespace ringcast::engine {

class TlsStream {
 public:
  // A server-side session on `ctx`; nullptr when memory ran out.
  [[nodiscard]] static TlsStream* create(SslCtx* ctx, FramePool& pool) noexcept;
  ~TlsStream();
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
  // Drives the handshake, then decrypts into `out` (a record is at most 16 KiB).
  [[nodiscard]] Read read(std::uint8_t* out, std::size_t cap) noexcept;

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
  // The client's first flight was read (what follows is cheap: its Finished).
  [[nodiscard]] bool handshake_started() const noexcept { return started_; }
  [[nodiscard]] bool failed() const noexcept { return failed_; }
  [[nodiscard]] TlsFailure failure() const noexcept { return failure_; }
  [[nodiscard]] const char* reason() const noexcept { return reason_; }  // OpenSSL's, for the log

  // Ciphertext that waits for a handshake slot in a later turn (the per-turn bound).
  [[nodiscard]] ByteBuffer& held() noexcept { return held_; }

 private:
  TlsStream(ssl_st* ssl, FramePool& pool) noexcept : ssl_(ssl), pool_(pool) {}
  friend struct TlsBio;
  [[nodiscard]] int bio_read(char* buf, int len) noexcept;
  [[nodiscard]] bool bio_write(const char* data, int len) noexcept;
  // Makes `out` hold `n` more bytes (a bigger frame of at least `grow_to` when it must move).
  [[nodiscard]] bool room_for(std::size_t n, std::size_t grow_to) noexcept;
  void fail(int ssl_error) noexcept;

  ssl_st* ssl_;
  FramePool& pool_;
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
