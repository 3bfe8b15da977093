// ringcast-load's reading of received messages: which ones are deliveries, and the lost /
// out-of-order bookkeeping per (subscriber, publisher) pair.
#include "bench/load/accounting.hpp"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace ringcast::load {
namespace {

constexpr Receiver kSub{true, false, 0};
Receiver pub(std::uint32_t id) { return {false, true, id}; }
Receiver chat_client(std::uint32_t id) { return {true, true, id}; }

MessageKind classify_text(std::string_view text, std::uint32_t publishers, const Receiver& to) {
  Record r;
  const bool ok = parse_record({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, r);
  return classify(ok, r, publishers, to);
}

TEST(Classify, ByReceiverRole) {
  const Record r{1, 5, 100};
  EXPECT_EQ(classify(true, r, 2, kSub), MessageKind::delivery);
  EXPECT_EQ(classify(true, r, 2, pub(1)), MessageKind::own_echo);
  EXPECT_EQ(classify(true, r, 2, pub(0)), MessageKind::not_subscribed);
  EXPECT_EQ(classify(true, r, 2, chat_client(1)), MessageKind::own_echo);
  EXPECT_EQ(classify(true, r, 2, chat_client(0)), MessageKind::delivery);
}

TEST(Classify, UnparsedOrUnknownPublisherIsForeign) {
  const Record r{1, 5, 100};
  EXPECT_EQ(classify(false, r, 2, kSub), MessageKind::foreign);
  EXPECT_EQ(classify(true, r, 1, kSub), MessageKind::foreign);       // publisher ids are 0..0
  EXPECT_EQ(classify(true, r, 0, kSub), MessageKind::foreign);       // connect -p 0: no publishers
  EXPECT_EQ(classify(true, Record{UINT32_MAX, 1, 1}, UINT32_MAX, kSub), MessageKind::foreign);
}

TEST(Classify, WhatAChatServerSends) {
  EXPECT_EQ(classify_text("ID40312: xxxx|p0|s1|t99|", 1, kSub), MessageKind::delivery);
  EXPECT_EQ(classify_text("ID40312: xxxx|p0|s1|t99|", 1, pub(0)), MessageKind::own_echo);
  EXPECT_EQ(classify_text("ID40312 joined", 1, kSub), MessageKind::foreign);
  EXPECT_EQ(classify_text("ID40312 left", 1, pub(0)), MessageKind::foreign);
  EXPECT_EQ(classify_text("ID40312: xxxx|p0|s1|t9", 1, kSub), MessageKind::foreign);  // truncated
  EXPECT_EQ(classify_text("ID40312: xxxx|p3|s1|t99|", 3, kSub), MessageKind::foreign);
}

TEST(SequenceTable, InOrderHasNoGaps) {
  SequenceTable t;
  t.reset(1, 1);
  for (std::uint32_t s = 1; s <= 100; ++s) {
    const SequenceTable::Seen seen = t.note(0, 0, s);
    EXPECT_EQ(seen.gap, 0u);
    EXPECT_FALSE(seen.out_of_order);
  }
  EXPECT_EQ(t.last(0, 0), 100u);
  const std::vector<std::uint32_t> published{100};
  EXPECT_EQ(t.missing(0, published), 0u);
}

TEST(SequenceTable, GapsLateAndDuplicates) {
  SequenceTable t;
  t.reset(1, 1);
  EXPECT_EQ(t.note(0, 0, 4).gap, 3u);  // 1..3 never came before 4
  EXPECT_EQ(t.note(0, 0, 5).gap, 0u);
  EXPECT_EQ(t.note(0, 0, 9).gap, 3u);  // 6, 7, 8
  SequenceTable::Seen late = t.note(0, 0, 7);
  EXPECT_TRUE(late.out_of_order);
  EXPECT_EQ(late.gap, 0u);
  EXPECT_TRUE(t.note(0, 0, 9).out_of_order);  // duplicate
  EXPECT_EQ(t.last(0, 0), 9u);                // neither moves the high-water mark back
  EXPECT_EQ(t.note(0, 0, 10).gap, 0u);
}

TEST(SequenceTable, LanesAreOrderedOnlyWithinThemselves) {
  // Publisher 1 over 3 channels: seq s goes to lane (1 + s) % 3, so lane 2 carries 1, 4, 7.
  SequenceTable t;
  t.reset(1, 2, 3);
  EXPECT_EQ(t.note(0, 1, 3).gap, 0u);  // lane 1: the first of 3, 6, 9
  EXPECT_EQ(t.note(0, 1, 2).gap, 0u);  // lane 0, arriving after a later lane-1 one: in order
  EXPECT_FALSE(t.note(0, 1, 1).out_of_order);
  EXPECT_EQ(t.note(0, 1, 7).gap, 1u);  // lane 2: 4 skipped
  EXPECT_TRUE(t.note(0, 1, 4).out_of_order);
  EXPECT_EQ(t.last(0, 1, 2), 7u);
  const std::uint32_t published[] = {0, 9};
  // Lane 0 has 2 (5 and 8 after it), lane 1 3 (6 and 9), lane 2 7 (nothing after): 4.
  EXPECT_EQ(t.missing(0, published), 4u);
  SequenceTable fresh;
  fresh.reset(1, 1, 3);
  const std::uint32_t one[] = {7};
  EXPECT_EQ(fresh.missing(0, one), 7u) << "nothing seen: all of them";
}

TEST(SequenceTable, PairsAreIndependent) {
  SequenceTable t;
  t.reset(3, 2);
  EXPECT_EQ(t.note(0, 0, 1).gap, 0u);
  EXPECT_EQ(t.note(0, 1, 1).gap, 0u);
  EXPECT_EQ(t.note(1, 0, 2).gap, 1u);
  EXPECT_EQ(t.note(2, 1, 3).gap, 2u);
  EXPECT_EQ(t.last(0, 0), 1u);
  EXPECT_EQ(t.last(0, 1), 1u);
  EXPECT_EQ(t.last(1, 0), 2u);
  EXPECT_EQ(t.last(1, 1), 0u);
  EXPECT_EQ(t.last(2, 0), 0u);
  EXPECT_EQ(t.last(2, 1), 3u);
}

TEST(SequenceTable, MissingIsWhatNeverArrivedAfterTheLast) {
  SequenceTable t;
  t.reset(2, 3);
  // Row 0 saw publisher 0 up to 3 (of 5), publisher 1 nothing (of 4), publisher 2 all 2.
  t.note(0, 0, 1);
  t.note(0, 0, 3);
  t.note(0, 2, 2);
  const std::vector<std::uint32_t> published{5, 4, 2};
  EXPECT_EQ(t.missing(0, published), 2u + 4u + 0u);
  EXPECT_EQ(t.missing(0, published, 1), 2u);  // a chat client is not owed its own messages
  EXPECT_EQ(t.missing(1, published), 11u);   // row 1 heard nothing
  // More received than published (a foreign publisher id reusing ours): never negative.
  t.note(1, 0, 50);
  EXPECT_EQ(t.missing(1, published), 6u);
  // A shorter published list (publishers that never started) only counts what it has.
  EXPECT_EQ(t.missing(0, std::vector<std::uint32_t>{5}), 2u);
}

TEST(SequenceTable, LostIsGapsPlusMissing) {
  // One subscriber, publisher sent 10: received 1 2 4 5 7 (3 and 6 skipped, 8..10 never came).
  SequenceTable t;
  t.reset(1, 1);
  std::uint64_t gaps = 0;
  for (std::uint32_t s : {1u, 2u, 4u, 5u, 7u}) gaps += t.note(0, 0, s).gap;
  const std::vector<std::uint32_t> published{10};
  EXPECT_EQ(gaps, 2u);
  EXPECT_EQ(gaps + t.missing(0, published), 5u);
}

}  // namespace
}  // namespace ringcast::load
