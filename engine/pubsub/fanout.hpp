// The fan-out kernel: append one reference to a shared frame to every subscriber's send
// queue. Per subscriber it is a bounds/budget check, one pointer store and a dirty mark:
// no allocation, no copy, no syscall, no atomic. Kept apart from the shard so the
// benchmark measures exactly the code the shard runs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/conn.hpp"
#include "engine/net/frame_pool.hpp"
#include "engine/pubsub/topic.hpp"

namespace ringcast::engine {

enum class Refusal : std::uint8_t {
  over_budget,  // the client's unsent bytes would pass max_backlog
  no_memory,    // its queue could not grow
};

// Queues `lease` on `c` (one reference). Refused deliveries call refuse(c, slot, why).
template <typename Refuse>
inline bool deliver(Conn& c, std::uint32_t slot, Lease* lease, std::size_t max_backlog,
                    std::vector<std::uint32_t>& dirty, Refuse&& refuse) noexcept {
  if (c.close_sent || c.state != ConnState::open) return false;
  std::size_t len = lease->frame->len;
  // An empty queue takes any message (up to --max-message), so big messages still flow.
  if (!c.queue.empty() && c.queue.queued_bytes() + len > max_backlog) {
    refuse(c, slot, Refusal::over_budget);
    return false;
  }
  if (!c.queue.push(lease)) {
    refuse(c, slot, Refusal::no_memory);
    return false;
  }
  if (!c.dirty) {
    c.dirty = true;
    dirty.push_back(slot);  // reserved to the slot count: never grows
  }
  return true;
}

// Delivers to every subscriber; the lease's count is raised once by the number queued.
// `deflated` (permessage-deflate): the same message compressed, for the subscribers that
// negotiated it (Conn::deflate); its own count is raised by those it went to.
template <typename Refuse>
inline std::uint32_t fan_out(std::span<const Subscriber> subs, std::span<Conn> conns, Lease* lease,
                             std::size_t max_backlog, std::vector<std::uint32_t>& dirty, Refuse&& refuse,
                             Lease* deflated = nullptr) noexcept {
  // Connections and their queue rings are scattered: fetch the connection's hot line
  // 16 ahead, then (its indices now cached) the ring slot the push will write 8 ahead.
  constexpr std::size_t kConnAhead = 16, kSlotAhead = 8;
  std::uint32_t queued = 0, compressed = 0;
  const std::size_t n = subs.size();
  if (deflated == nullptr) {
    for (std::size_t i = 0; i < n; ++i) {
      if (i + kConnAhead < n) __builtin_prefetch(&conns[subs[i + kConnAhead].slot], 1);
      if (i + kSlotAhead < n) __builtin_prefetch(conns[subs[i + kSlotAhead].slot].queue.next_slot(), 1);
      const Subscriber& s = subs[i];
      queued += deliver(conns[s.slot], s.slot, lease, max_backlog, dirty, refuse) ? 1 : 0;
    }
  } else {
    // The same loop with a choice per subscriber (its flag is on the line deliver reads).
    for (std::size_t i = 0; i < n; ++i) {
      if (i + kConnAhead < n) __builtin_prefetch(&conns[subs[i + kConnAhead].slot], 1);
      if (i + kSlotAhead < n) __builtin_prefetch(conns[subs[i + kSlotAhead].slot].queue.next_slot(), 1);
      const Subscriber& s = subs[i];
      Conn& c = conns[s.slot];
      const bool z = c.deflate;
      if (deliver(c, s.slot, z ? deflated : lease, max_backlog, dirty, refuse)) {
        ++queued;
        compressed += z ? 1 : 0;
      }
    }
    deflated->refs += compressed;
  }
  lease->refs += queued - compressed;
  return queued;
}

struct ConflateCount {
  std::uint32_t queued = 0;    // subscribers given `lease`
  std::uint32_t replaced = 0;  // subscribers whose unsent entry became `latest`
  std::uint64_t skipped = 0;   // publications those replacements took out of their queues
};

// Conflating fan-out: a subscriber whose last entry of the topic (queued[i], beside subs)
// is still unsent although it was queued before the shard's last flush (`flush`: it had its
// chance) gets that entry replaced by `latest` (the newest publication alone), so its
// backlog holds one entry per topic and ends on the latest value; every other subscriber
// gets `lease` (this pass's `messages`; a pass may queue a topic in several chunks) as
// fan_out gives it. `latest` may be `lease` (a pass of one publication) or nullptr (no
// replacement). References are counted here, as in fan_out.
template <typename Refuse>
inline ConflateCount conflate_out(std::span<const Subscriber> subs, std::span<Queued> queued, std::span<Conn> conns,
                                  Lease* lease, std::uint32_t messages, Lease* latest, std::uint32_t flush,
                                  LeasePool& leases, std::size_t max_backlog, std::vector<std::uint32_t>& dirty,
                                  Refuse&& refuse) noexcept {
  constexpr std::size_t kConnAhead = 16, kSlotAhead = 8;  // as in fan_out
  ConflateCount n;
  const std::size_t count = subs.size();
  for (std::size_t i = 0; i < count; ++i) {
    if (i + kConnAhead < count) __builtin_prefetch(&conns[subs[i + kConnAhead].slot], 1);
    if (i + kSlotAhead < count) __builtin_prefetch(conns[subs[i + kSlotAhead].slot].queue.next_slot(), 1);
    const Subscriber& s = subs[i];
    Conn& c = conns[s.slot];
    Queued& q = queued[i];
    bool open = !c.close_sent && c.state == ConnState::open;
    if (latest != nullptr && open && q.lease != nullptr && q.flush != flush &&
        c.queue.holds_unsent(q.pos, q.lease, c.inflight_entries)) {
      n.skipped += q.messages + messages - 1;
      ++latest->refs;  // before the replaced entry's reference goes (never the same lease)
      c.queue.replace(q.pos, latest, leases);
      // It keeps its stamp: the pass's later chunks of the topic replace it again.
      q = {.lease = latest, .pos = q.pos, .flush = q.flush, .messages = 1};
      ++n.replaced;
      continue;
    }
    std::uint32_t pos = c.queue.tail_pos();
    if (deliver(c, s.slot, lease, max_backlog, dirty, refuse)) {
      q = {.lease = lease, .pos = pos, .flush = flush, .messages = messages};
      ++n.queued;
    }
  }
  lease->refs += n.queued;
  return n;
}

struct FormCount {
  std::uint32_t raw = 0, full = 0, delta = 0;  // subscribers given each form
};

// Fan-out of a delta topic's publication (engine/pubsub/message.hpp): each subscriber
// gets the form forms[i] (beside subs) says, delta only when one was made (`delta` may be
// nullptr), and a subscriber of the forms then holds this publication (its next is a
// delta) if it was queued, or not (a refused one's next is full). References are counted
// here, as in fan_out.
template <typename Refuse>
inline FormCount forms_out(std::span<const Subscriber> subs, std::span<Form> forms, std::span<Conn> conns, Lease* raw,
                           Lease* full, Lease* delta, std::size_t max_backlog, std::vector<std::uint32_t>& dirty,
                           Refuse&& refuse) noexcept {
  // As in fan_out. (The kernels repeat these lines: one shared helper measured 1.4x slower
  // at 100,000 subscribers.)
  constexpr std::size_t kConnAhead = 16, kSlotAhead = 8;
  FormCount n;
  const std::size_t count = subs.size();
  for (std::size_t i = 0; i < count; ++i) {
    if (i + kConnAhead < count) __builtin_prefetch(&conns[subs[i + kConnAhead].slot], 1);
    if (i + kSlotAhead < count) __builtin_prefetch(conns[subs[i + kSlotAhead].slot].queue.next_slot(), 1);
    const Subscriber& s = subs[i];
    if (forms[i] == Form::raw) {
      n.raw += deliver(conns[s.slot], s.slot, raw, max_backlog, dirty, refuse) ? 1 : 0;
      continue;
    }
    bool as_delta = forms[i] == Form::delta && delta != nullptr;
    bool queued = deliver(conns[s.slot], s.slot, as_delta ? delta : full, max_backlog, dirty, refuse);
    forms[i] = queued ? Form::delta : Form::full;
    if (queued) ++(as_delta ? n.delta : n.full);
  }
  raw->refs += n.raw;
  full->refs += n.full;
  if (delta != nullptr) delta->refs += n.delta;
  return n;
}

}  // namespace ringcast::engine
