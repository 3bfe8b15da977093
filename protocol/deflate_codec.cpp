#include "protocol/deflate_codec.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace ringcast::protocol {
namespace {

constexpr std::uint8_t kTail[4] = {0x00, 0x00, 0xff, 0xff};
constexpr std::size_t kStep = 16384;  // output grown by at least this much at a time

}  // namespace

struct Inflater::State {
  z_stream z{};
};

Inflater::Inflater() : state_(std::make_unique<State>()) {
  if (inflateInit2(&state_->z, -kDeflateWindowBits) != Z_OK) state_.reset();
}

Inflater::~Inflater() {
  if (state_) inflateEnd(&state_->z);
}

Inflater::Result Inflater::inflate(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out, std::size_t limit) {
  out.clear();
  if (!state_) return Result::corrupt;
  if (in.empty()) return Result::ok;  // no bytes at all: taken for an empty message, as senders mean it
  z_stream& z = state_->z;
  Result result = Result::ok;
  bool ended = false;  // the message ended on a final block: no tail to add
  // The message, then the tail. The output never has room past limit + 1 bytes: one more
  // than allowed tells a message of exactly `limit` from a longer one.
  for (int part = 0; part < 2 && !ended && result == Result::ok; ++part) {
    const std::span<const std::uint8_t> bytes = part == 0 ? in : std::span<const std::uint8_t>(kTail);
    z.next_in = const_cast<Bytef*>(bytes.data());
    z.avail_in = static_cast<uInt>(bytes.size());
    while (z.avail_in != 0) {
      if (out.size() == out.capacity()) {
        if (out.size() > limit) {
          result = Result::too_big;
          break;
        }
        out.reserve(std::min(limit + 1, std::max(out.capacity() * 2, out.size() + kStep)));
      }
      const std::size_t had = out.size(), room = out.capacity() - had;
      out.resize(out.capacity());
      z.next_out = out.data() + had;
      z.avail_out = static_cast<uInt>(room);
      const int rc = ::inflate(&z, Z_SYNC_FLUSH);
      out.resize(had + room - z.avail_out);
      if (rc == Z_STREAM_END) {
        // A block with BFINAL set (RFC 7692 section 7.2.3.4): what follows it in the
        // message starts afresh (there, one byte that makes the tail an empty block).
        if (part == 0 && z.avail_in != 0) {
          inflateReset(&z);
          continue;
        }
        ended = part == 0;
        break;
      }
      if (rc == Z_BUF_ERROR && z.avail_out == 0) continue;  // wants room
      if (rc != Z_OK) {
        result = Result::corrupt;
        break;
      }
    }
    if (result == Result::ok && out.size() > limit) result = Result::too_big;
  }
  // After the tail the stream must sit at a block boundary (zlib: bit 7 of data_type): a
  // message cut short is not a shorter message.
  if (result == Result::ok && !ended && (z.data_type & 128) == 0) result = Result::corrupt;
  inflateReset(&z);
  return result;
}

struct Deflater::State {
  z_stream z{};
};

Deflater::Deflater(int level) : state_(std::make_unique<State>()) {
  if (deflateInit2(&state_->z, level, Z_DEFLATED, -kDeflateWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) state_.reset();
}

Deflater::~Deflater() {
  if (state_) deflateEnd(&state_->z);
}

bool Deflater::deflate(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out) {
  out.clear();
  if (!state_) return false;
  z_stream& z = state_->z;
  // deflateBound covers a finished stream; a sync flush adds its empty block (5 bytes) and
  // a few for the block headers.
  out.resize(deflateBound(&z, static_cast<uLong>(in.size())) + 16);
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = ::deflate(&z, Z_SYNC_FLUSH);
  const bool ok = (rc == Z_OK || rc == Z_BUF_ERROR) && z.avail_in == 0 && z.avail_out != 0;
  out.resize(out.size() - z.avail_out);
  deflateReset(&z);
  if (!ok || out.size() < sizeof kTail || std::memcmp(out.data() + out.size() - sizeof kTail, kTail, sizeof kTail) != 0) {
    out.clear();
    return false;
  }
  out.resize(out.size() - sizeof kTail);
  return true;
}

}  // namespace ringcast::protocol
