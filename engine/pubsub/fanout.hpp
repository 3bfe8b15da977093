// The fan-out kernel: append one reference to a shared frame to every subscriber's send
// queue. Per subscriber it is a bounds/budget check, one pointer store and a dirty mark:
// no allocation, no copy, no syscall, no atomic (forms_out's zip aside: it compresses a
// form once, the first time a deflate subscriber takes it). Kept apart from the shard so
// the benchmark measures exactly the code the shard runs.
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

// One message as each subscriber takes it: of[0] plain, of[1] permessage-deflate (the
// plain lease again when there is no compressed variant), picked by Conn::deflate without
// a branch. The kernels below count references per variant and add them once at the end.
struct Variants {
  Lease* of[2];
  static Variants of_pair(Lease* plain, Lease* deflated) noexcept {
    return {{plain, deflated != nullptr ? deflated : plain}};
  }
  [[nodiscard]] Lease* for_conn(const Conn& c) const noexcept { return of[c.deflate ? 1 : 0]; }
  void add_refs(const std::uint32_t (&n)[2]) const noexcept {
    of[0]->refs += n[0];
    of[1]->refs += n[1];
  }
};

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
// fan_out gives it. `latest` may be `lease` (a pass of one publication) or have no plain
// lease (no replacement). Each subscriber takes its variant of both. References are
// counted here, as in fan_out.
template <typename Refuse>
inline ConflateCount conflate_out(std::span<const Subscriber> subs, std::span<Queued> queued, std::span<Conn> conns,
                                  Variants lease, std::uint32_t messages, Variants latest, std::uint32_t flush,
                                  LeasePool& leases, std::size_t max_backlog, std::vector<std::uint32_t>& dirty,
                                  Refuse&& refuse) noexcept {
  constexpr std::size_t kConnAhead = 16, kSlotAhead = 8;  // as in fan_out
  ConflateCount n;
  std::uint32_t refs[2] = {0, 0};
  const bool replacing = latest.of[0] != nullptr;
  const std::size_t count = subs.size();
  for (std::size_t i = 0; i < count; ++i) {
    if (i + kConnAhead < count) __builtin_prefetch(&conns[subs[i + kConnAhead].slot], 1);
    if (i + kSlotAhead < count) __builtin_prefetch(conns[subs[i + kSlotAhead].slot].queue.next_slot(), 1);
    const Subscriber& s = subs[i];
    Conn& c = conns[s.slot];
    Queued& q = queued[i];
    bool open = !c.close_sent && c.state == ConnState::open;
    if (replacing && open && q.lease != nullptr && q.flush != flush &&
        c.queue.holds_unsent(q.pos, q.lease, c.inflight_entries)) {
      Lease* mine = latest.for_conn(c);
      n.skipped += q.messages + messages - 1;
      ++mine->refs;  // before the replaced entry's reference goes (never the same lease)
      c.queue.replace(q.pos, mine, leases);
      // It keeps its stamp: the pass's later chunks of the topic replace it again.
      q = {.lease = mine, .pos = q.pos, .flush = q.flush, .messages = 1};
      ++n.replaced;
      continue;
    }
    std::uint32_t pos = c.queue.tail_pos();
    Lease* mine = lease.for_conn(c);
    if (deliver(c, s.slot, mine, max_backlog, dirty, refuse)) {
      q = {.lease = mine, .pos = pos, .flush = flush, .messages = messages};
      ++n.queued;
      ++refs[c.deflate ? 1 : 0];
    }
  }
  lease.add_refs(refs);
  return n;
}

struct FormCount {
  std::uint32_t raw = 0, full = 0, delta = 0;  // subscribers given each form
};

// Fan-out of a delta topic's publication (engine/pubsub/message.hpp): each subscriber
// gets the form forms[i] (beside subs) says, delta only when one was made (v[2] has no
// plain lease otherwise), in its variant, and a subscriber of the forms then holds this
// publication (its next is a delta) if it was queued, or not (a refused one's next is
// full). v[raw, full, delta]: a compressed variant left nullptr is asked of zip(form) the
// first time a deflate subscriber takes that form (it returns the plain lease when
// compressing does not pay), so no form is compressed for nobody. References are counted
// here, as in fan_out.
template <typename Zip, typename Refuse>
inline FormCount forms_out(std::span<const Subscriber> subs, std::span<Form> forms, std::span<Conn> conns,
                           Variants (&v)[3], Zip&& zip, std::size_t max_backlog, std::vector<std::uint32_t>& dirty,
                           Refuse&& refuse) noexcept {
  // As in fan_out. (The kernels repeat these lines: one shared helper measured 1.4x slower
  // at 100,000 subscribers.)
  constexpr std::size_t kConnAhead = 16, kSlotAhead = 8;
  std::uint32_t refs[3][2] = {{0, 0}, {0, 0}, {0, 0}};  // [form][variant]
  const bool has_delta = v[2].of[0] != nullptr;
  const std::size_t count = subs.size();
  for (std::size_t i = 0; i < count; ++i) {
    if (i + kConnAhead < count) __builtin_prefetch(&conns[subs[i + kConnAhead].slot], 1);
    if (i + kSlotAhead < count) __builtin_prefetch(conns[subs[i + kSlotAhead].slot].queue.next_slot(), 1);
    const Subscriber& s = subs[i];
    Conn& c = conns[s.slot];
    const int z = c.deflate ? 1 : 0;
    const bool raw = forms[i] == Form::raw;
    const int form = raw ? 0 : forms[i] == Form::delta && has_delta ? 2 : 1;
    Lease*& mine = v[form].of[z];
    if (mine == nullptr) mine = zip(form);
    const bool queued = deliver(c, s.slot, mine, max_backlog, dirty, refuse);
    refs[form][z] += queued ? 1 : 0;
    if (!raw) forms[i] = queued ? Form::delta : Form::full;
  }
  for (int form = 0; form < 3; ++form) {
    if (v[form].of[0] == nullptr) continue;
    v[form].of[0]->refs += refs[form][0];
    if (refs[form][1] != 0) v[form].of[1]->refs += refs[form][1];
  }
  return {.raw = refs[0][0] + refs[0][1], .full = refs[1][0] + refs[1][1], .delta = refs[2][0] + refs[2][1]};
}

}  // namespace ringcast::engine
