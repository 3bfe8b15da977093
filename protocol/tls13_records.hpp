// TLS 1.3 record protection once the handshake is over (RFC 8446 5, 7.1-7.3, 4.6.3):
// application data, alerts and KeyUpdate under the application traffic secrets. OpenSSL
// runs the handshake; a server connection then hands the two secrets over to Records and
// frees OpenSSL's session, so an established connection keeps two AEAD contexts, two
// secrets, two IVs and two sequence numbers instead of OpenSSL's whole session object.
// Bytes in, decisions out; the AEADs and HKDF are OpenSSL's libcrypto.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

struct evp_cipher_ctx_st;

namespace ringcast::protocol::tls13 {

// The cipher suites taken over (RFC 8446 B.4); a connection on any other stays in OpenSSL.
enum class Suite : std::uint8_t { aes_128_gcm_sha256, aes_256_gcm_sha384, chacha20_poly1305_sha256 };
[[nodiscard]] std::optional<Suite> suite_from_id(std::uint16_t iana_id) noexcept;

inline constexpr std::size_t kMaxSecret = 48;                 // SHA-384's length
inline constexpr std::size_t kHeader = 5;                     // type, legacy version, length
inline constexpr std::size_t kTag = 16;
inline constexpr std::size_t kMaxPlain = 16384;               // content per record (2^14)
inline constexpr std::size_t kMaxInner = kMaxPlain + 1;       // with the inner content type
inline constexpr std::size_t kMaxBody = kMaxPlain + 256;      // TLSCiphertext.length bound
inline constexpr std::size_t kOverhead = kHeader + 1 + kTag;  // what sealing adds to a record
inline constexpr std::size_t kKeyUpdateRecord = kOverhead + 5;

enum class ContentType : std::uint8_t { alert = 21, handshake = 22, application_data = 23 };

// The alerts this layer sends or names (RFC 8446 6).
enum class Alert : std::uint8_t {
  close_notify = 0,
  unexpected_message = 10,
  bad_record_mac = 20,
  record_overflow = 22,
  illegal_parameter = 47,
  decode_error = 50,
  internal_error = 80,
  user_canceled = 90,
};

// HKDF-Expand-Label(secret, label, "", out.size()) with the suite's hash (RFC 8446 7.1).
[[nodiscard]] bool expand_label(Suite suite, std::span<const std::uint8_t> secret, const char* label,
                                std::span<std::uint8_t> out) noexcept;

// One direction: its traffic secret, the AEAD key (in the context) and IV derived from it,
// and the sequence number of its next record.
class TrafficKeys {
 public:
  TrafficKeys() = default;
  ~TrafficKeys();
  TrafficKeys(const TrafficKeys&) = delete;
  TrafficKeys& operator=(const TrafficKeys&) = delete;

  [[nodiscard]] bool init(Suite suite, std::span<const std::uint8_t> secret, bool encrypt) noexcept;
  // The next generation of keys, as after a KeyUpdate: secret' = "traffic upd", sequence 0.
  [[nodiscard]] bool update() noexcept;

  // Seals `content` (<= kMaxPlain bytes, given in pieces) as one record of `type`, with
  // `padding` zero bytes, into `out` (kOverhead + content + padding bytes); returns its size.
  [[nodiscard]] std::size_t seal(ContentType type, std::span<const std::span<const std::uint8_t>> content,
                                 std::size_t padding, std::uint8_t* out) noexcept;
  // Opens a whole record (header included) into `out` (size - kHeader - kTag bytes): false
  // when it does not authenticate.
  [[nodiscard]] bool open(const std::uint8_t* record, std::size_t size, std::uint8_t* out) noexcept;

  [[nodiscard]] std::uint64_t sequence() const noexcept { return seq_; }
  void set_sequence(std::uint64_t seq) noexcept { seq_ = seq; }

 private:
  [[nodiscard]] bool install() noexcept;  // key and IV from secret_, into the context
  void nonce(std::uint8_t out[12]) const noexcept;

  evp_cipher_ctx_st* ctx_ = nullptr;
  std::uint64_t seq_ = 0;
  std::uint8_t secret_[kMaxSecret]{};
  std::uint8_t iv_[12]{};
  std::uint8_t secret_len_ = 0;
  Suite suite_ = Suite::aes_128_gcm_sha256;
  bool encrypt_ = false;
};

// A server's established connection: reads the client's records, seals its own.
class Records {
 public:
  // `client`/`server`: the application traffic secrets (CLIENT_/SERVER_TRAFFIC_SECRET_0);
  // `server_sent`: records the server already sent under its secret (session tickets).
  [[nodiscard]] bool init(Suite suite, std::span<const std::uint8_t> client, std::span<const std::uint8_t> server,
                          std::uint64_t server_sent) noexcept;
  [[nodiscard]] bool active() const noexcept { return active_; }

  // ---- reading ----
  // The size of the record starting at `in` (header included) once its header is there:
  // 0 while fewer than kHeader bytes are, kBadHeader (and failed()) for a record no client
  // may send here (not application_data on the outside, or longer than kMaxBody).
  static constexpr std::size_t kBadHeader = ~std::size_t{0};
  [[nodiscard]] std::size_t record_size(const std::uint8_t* in, std::size_t len) noexcept;

  enum class Got : std::uint8_t {
    data,     // `n` bytes of application data in `out` (0 for an empty record)
    nothing,  // a KeyUpdate or a user_canceled alert: nothing for the layers above
    closed,   // the client's close_notify
    failed,   // see failure(); alert() is what to send back (none after the client's own)
  };
  struct Opened {
    Got got;
    std::size_t n;
  };
  // Opens the whole record at `record` (`size` from record_size) into `out` (kMaxInner bytes).
  [[nodiscard]] Opened open(const std::uint8_t* record, std::size_t size, std::uint8_t* out) noexcept;

  // ---- writing ----
  // What seal() may add to its content: the record's overhead and, first, the KeyUpdate the
  // client asked for (or ours, before the AES-GCM record limit).
  static constexpr std::size_t kSealSlack = kOverhead + kKeyUpdateRecord;
  // Seals `content` (<= kMaxPlain bytes) as one application data record into `out`;
  // returns the bytes written (0: failed()).
  [[nodiscard]] std::size_t seal(std::span<const std::uint8_t> content, std::uint8_t* out) noexcept;
  // Seals an alert record (kOverhead + 2 bytes) into `out`; returns its size (0: failed()).
  [[nodiscard]] std::size_t seal_alert(Alert alert, std::uint8_t* out) noexcept;

  [[nodiscard]] bool failed() const noexcept { return failure_ != nullptr; }
  [[nodiscard]] const char* failure() const noexcept { return failure_; }  // for the log
  [[nodiscard]] std::optional<Alert> alert() const noexcept { return alert_; }

  // Keys are renewed after this many records (RFC 8446 5.5: AES-GCM allows 2^24.5).
  static constexpr std::uint64_t kRecordsPerKey = std::uint64_t{1} << 24;

 private:
  Opened fail(std::optional<Alert> alert, const char* why) noexcept;
  [[nodiscard]] Opened handshake_message(const std::uint8_t* msg, std::size_t len) noexcept;

  TrafficKeys rx_, tx_;
  const char* failure_ = nullptr;
  std::optional<Alert> alert_;
  bool active_ = false;
  bool update_owed_ = false;  // the client asked for our KeyUpdate: before our next data
};

}  // namespace ringcast::protocol::tls13
