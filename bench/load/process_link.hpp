// How a --processes child and its parent talk: a pair of pipes carrying framed messages,
// [tag: 1 byte][length: 4 bytes, native order][length bytes]. Blocking, one message at a
// time, in lockstep (the parent broadcasts a phase, every child answers); a pipe whose
// other end closed (that process died) is an error, never a hang.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

namespace ringcast::load {

class Link {
 public:
  static constexpr std::uint32_t kMaxBody = 64u << 20;

  Link() = default;
  Link(int rd, int wr) noexcept : rd_(rd), wr_(wr) {}
  ~Link() { close(); }
  Link(Link&& o) noexcept : rd_(o.rd_), wr_(o.wr_) { o.rd_ = o.wr_ = -1; }
  Link& operator=(Link&& o) noexcept;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Two connected ends (pipes in both directions); false with errno set on failure.
  static bool pair(Link& a, Link& b) noexcept;
  void close() noexcept;

  bool send(char tag, std::span<const std::uint8_t> body = {}) noexcept;
  // The next message, which must carry `want`; false on a closed pipe, an error, another tag
  // or a body over kMaxBody.
  bool recv(char want, std::vector<std::uint8_t>& body);

  template <typename T>
  bool send_value(char tag, const T& v) noexcept {
    static_assert(std::is_trivially_copyable_v<T>);
    return send(tag, {reinterpret_cast<const std::uint8_t*>(&v), sizeof v});
  }
  // A message whose body is exactly one T.
  template <typename T>
  bool recv_value(char want, T& out) {
    static_assert(std::is_trivially_copyable_v<T>);
    std::vector<std::uint8_t> body;
    if (!recv(want, body) || body.size() != sizeof out) return false;
    std::memcpy(&out, body.data(), sizeof out);
    return true;
  }

 private:
  int rd_ = -1, wr_ = -1;
};

}  // namespace ringcast::load
