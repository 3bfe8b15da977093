// Per-channel publication history: a bounded stream of records (a publication's bytes)
// numbered by offset from 1, in a stream named by an epoch that changes whenever the
// stream is lost and made anew (first use, a restart, idle past its meta TTL), so an
// offset from an old stream is never taken for one of the new.
//
// Process-wide: any shard appends and reads under the lock of the bucket its name hashes
// to. That lock also orders a channel: a publisher numbers the publication and hands it
// to every shard while holding it (Shard::publish_in_order), so every shard sees a
// channel's publications in offset order, and a subscriber that joins under it
// (Session::subscribe_in_order) gets exactly the offsets after what it read.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/core/string_map.hpp"

namespace ringcast::engine {

struct StreamLimits {
  std::size_t size = 0;                   // records kept, the newest
  std::chrono::milliseconds ttl{0};       // records kept this long after the last append
  std::chrono::milliseconds meta_ttl{0};  // offset and epoch kept this long after the last use
};

class Stream {
 public:
  static constexpr std::size_t kEpochLength = 8;
  [[nodiscard]] std::string_view epoch() const noexcept { return {epoch_.data(), epoch_.size()}; }
  // The last offset given (0: none yet).
  [[nodiscard]] std::uint64_t top() const noexcept { return top_; }
  // The oldest offset still kept; top() + 1 when none is.
  [[nodiscard]] std::uint64_t first() const noexcept { return top_ + 1 - count_; }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  // The record of `offset`, first() <= offset <= top().
  [[nodiscard]] std::string_view at(std::uint64_t offset) const noexcept {
    return ring_[(head_ + static_cast<std::size_t>(offset - first())) % ring_.size()];
  }
  // Numbers one record top() + 1, dropping the oldest past the size limit: fill(offset,
  // bytes) writes it into a cleared string (which keeps the capacity of the record it
  // replaces, so a full stream appends without allocating). Returns the offset.
  template <typename Fill>
  std::uint64_t append(std::int64_t now_ms, Fill&& fill) {
    std::string* slot;
    if (count_ < limits_.size) {
      if (ring_.size() == count_) ring_.emplace_back();  // grows only while filling
      slot = &ring_[(head_ + count_) % ring_.size()];
      ++count_;
    } else {
      slot = &ring_[head_];
      head_ = (head_ + 1) % ring_.size();
    }
    slot->clear();
    fill(top_ + 1, *slot);
    touch(now_ms);
    expires_ms_ = now_ms + limits_.ttl.count();
    return ++top_;
  }
  // Drops every record; the offset and epoch stay (the server API's history_remove).
  void clear() noexcept;

  // --broker: the stream is a copy of the channel's stream in Redis, which shard 0's feed
  // loads (mirror_from, then append) and keeps up to date while this node subscribes to the
  // channel. Not mirrored: never loaded, or the feed lost it (its epoch and top stay, to
  // tell what a reload brings that local subscribers missed).
  [[nodiscard]] bool mirrored() const noexcept { return mirrored_; }
  [[nodiscard]] bool ever_mirrored() const noexcept { return ever_mirrored_; }
  void set_mirrored(bool on) noexcept { mirrored_ = on; }
  // The node no longer subscribes to the channel: nobody here was told anything of it the
  // next load must keep to.
  void drop_mirror() noexcept { mirrored_ = ever_mirrored_ = false; }
  // Starts the copy over: Redis's `epoch` (kEpochLength chars), no record, `top` the last
  // offset given.
  void mirror_from(std::string_view epoch, std::uint64_t top) noexcept;
  // The latest publication's data where its namespace sends deltas: the base the next
  // one's delta is made from ("" until one is kept; a new stream starts without).
  [[nodiscard]] std::string_view delta_base() const noexcept { return delta_base_; }
  void keep_delta_base(std::string_view data) { delta_base_.assign(data); }

 private:
  friend class History;
  // A stream nothing was published to is kept only as long as a publication would be:
  // subscribing to names nobody publishes in cannot pile streams up for the meta TTL.
  void touch(std::int64_t now_ms) noexcept {
    forget_ms_ = now_ms + (top_ == 0 ? limits_.ttl : limits_.meta_ttl).count();
  }
  // Applies the TTLs at `now_ms`: false when the whole stream is to be forgotten (never
  // while mirrored: the node's subscribers were told its epoch and top).
  bool age(std::int64_t now_ms) noexcept;

  StreamLimits limits_;
  std::array<char, kEpochLength> epoch_{};
  std::uint64_t top_ = 0;
  std::vector<std::string> ring_;  // oldest at head_ once full; in order from 0 until then
  std::size_t head_ = 0, count_ = 0;
  std::int64_t expires_ms_ = 0;  // the records go at this time
  std::int64_t forget_ms_ = 0;   // the stream goes at this time
  std::string delta_base_;
  bool mirrored_ = false, ever_mirrored_ = false;
};

class History {
 public:
  // A stream with its bucket locked (stream == nullptr: none by that name). Keep it no
  // longer than the call that needs it: it blocks every stream of its bucket.
  struct Handle {
    Stream* stream = nullptr;
    std::unique_lock<std::mutex> lock;
    explicit operator bool() const noexcept { return stream != nullptr; }
    Stream* operator->() const noexcept { return stream; }
  };
  // Locks `name`'s bucket and finds its stream, aged to `now_ms`; `create`: making a new
  // one (a new epoch) when there is none. `limits` apply to a stream made here.
  [[nodiscard]] Handle open(std::string_view name, const StreamLimits& limits, std::int64_t now_ms, bool create);
  // Streams kept now (for /metrics).
  [[nodiscard]] std::size_t streams() const;
  // Ages one bucket per call, in turn (a shard calls it every 100 ms), so what outlived its
  // TTLs goes even where nobody touches the bucket again.
  void sweep_next(std::int64_t now_ms);
  // Milliseconds on the clock every caller passes as now_ms.
  [[nodiscard]] static std::int64_t now_ms() noexcept;
  // A new stream's name: random, kEpochLength letters and digits.
  [[nodiscard]] static std::array<char, Stream::kEpochLength> new_epoch();

 private:
  struct alignas(64) Bucket {
    mutable std::mutex mu;
    StringMap<Stream> streams;
    std::int64_t swept_ms = 0;
  };
  static constexpr std::size_t kBuckets = 64;
  // Forgets what outlived its TTLs in `b` (at most once a second): memory follows use.
  static void sweep(Bucket& b, std::int64_t now_ms);
  std::array<Bucket, kBuckets> buckets_;
  std::atomic<std::size_t> next_sweep_{0};
};

}  // namespace ringcast::engine
