// What ringcast keeps in Redis and sends through it, every node alike (issue 15):
//
//   <prefix>.p.<channel>  the pub/sub channel a node subscribes to while it has subscribers
//   <prefix>.m.<channel>  a hash: "e" the stream's epoch, "o" its last offset
//   <prefix>.s.<channel>  the stream: one entry per publication, id "<offset>-1", field "d"
//   <prefix>.r.<room>     a chat room's (or an embedding publish()'s topic's) pub/sub channel
//   <prefix>.h.<channel>  presence: a hash, client id -> its presence value (below)
//   <prefix>.z.<channel>  presence: a sorted set, client id -> when it expires (wall-clock ms)
//   <prefix>.u.<channel>  presence: a hash, user -> how many clients it has there (stats without a walk)
//
// A publication goes out as one script (kPublishScript): numbering it, keeping it and
// publishing it happen atomically, so every node receives a channel's publications in
// offset order, whichever node published them. The message each node receives is an
// envelope: "<offset>:<epoch>:<record>" (offset 0 and no epoch for a channel without
// history), the record being the publication as the client protocol writes it, with a
// 'd' before it where the publisher asked for a delta (the server API's "delta": each node
// makes the Fossil delta from its own copy of the stream, which holds the same records).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::engine::broker {

inline constexpr std::string_view kDefaultPrefix = "ringcast";

enum class Key : char { pubsub = 'p', meta = 'm', stream = 's', room = 'r', presence = 'h', presence_expiry = 'z',
                       presence_users = 'u' };

// "<prefix>.<k>.<channel>" into `out` (replacing it).
void key_of(std::string& out, std::string_view prefix, Key k, std::string_view channel);

// A pub/sub topic of this node (engine/pubsub/topic.hpp: a channel's, "\x01<channel>", or a
// room's) as the broker names it: its pub/sub key, and the name it is spread over the
// addresses by (the channel's or the room's).
void pubsub_key_of_topic(std::string& out, std::string_view prefix, std::string_view topic);
[[nodiscard]] std::string_view broker_name(std::string_view topic) noexcept;
// The topic a pub/sub key names, into `out`; false when the key is none of ours.
[[nodiscard]] bool topic_of_pubsub_key(std::string& out, std::string_view prefix, std::string_view key);

// A chat room's message: "t" or "b" (text or binary), the sending node (no ':'), ':' and
// the bytes, as every member gets them (the sender's node delivered it at once itself).
void write_room_message(std::string& out, std::string_view node, bool binary, std::string_view prefix,
                        std::string_view bytes);
struct RoomMessage {
  std::string_view node;
  bool binary = false;
  std::string_view bytes;
};
[[nodiscard]] bool parse_room_message(std::string_view payload, RoomMessage& out) noexcept;

// For a channel with history. KEYS: meta, stream, pubsub. ARGV: an epoch for a new stream
// (used when the meta hash is gone: first use, or idle past its TTL; the old stream is
// dropped with it; no ':' in it), the history size (>= 1), the stream's TTL and the meta
// TTL in seconds (0: none), the record, and optionally "d" (the publisher asked for a
// delta: the envelope says so; the stream keeps the record alone). Returns {offset, epoch}, or an error before any
// write when an argument is wrong. A channel without history is one PUBLISH of the
// envelope with offset 0.
extern const std::string_view kPublishScript;

// For a channel with history, what a node loads before it serves the channel from its own
// copy (and again after losing the feed). KEYS: meta, stream, pubsub. ARGV: how many of
// the newest records (>= 1), an epoch for a new stream (as the publish script's: the meta
// hash is made here when missing, so the epoch a subscriber is told is the one
// publications will carry), the meta TTL in seconds (0: none), the load's marker. Returns
// {epoch, last offset, XREVRANGE's entries (newest first: [id "<offset>-1", ["d",
// record]])}, and PUBLISHes the marker: on the node's feed, what comes before it is in
// the snapshot and what comes after is not (the reply travels on another connection).
// An empty marker publishes nothing: a read (the server API's history on a node without
// a copy).
extern const std::string_view kLoadScript;
// A load's reply is one RESP reply of 4 + 5 values per record: past this many records it
// outgrows the link's limits (protocol/resp.hpp's max_values), so --broker refuses a
// history_size above it.
inline constexpr std::size_t kMaxLoadedHistory = 200000;

// The server API's history_remove: the channel's stream goes (its offset and epoch stay),
// and kClearMarker on its pub/sub channel tells every node's copy to drop its records too,
// in order with the publications. KEYS: stream, pubsub. No ARGV.
extern const std::string_view kRemoveHistoryScript;
inline constexpr std::string_view kClearMarker = "clear";

// Presence, every node's clients of a channel in one place. Each node adds its client on
// subscribe and again every keepalive (the expiry moves on), and removes it on leave; a
// node that dies leaves its clients to expire. KEYS: presence, presence_expiry,
// presence_users. kPresenceAddScript ARGV: the keys' TTL in seconds, the expiry (ms),
// client id, its value (the TTLs are only lengthened). kPresenceRemoveScript ARGV: client
// id. kPresenceScript ARGV: now (ms), the most clients answered: drops the expired, returns
// the hash (HGETALL's [id, value, ...]), or an error past that many (a reply that stays
// within the link's limits). kPresenceStatsScript ARGV: now: the same, returns {clients,
// distinct users}.
inline constexpr std::size_t kMaxPresenceRead = 100000;
extern const std::string_view kPresenceAddScript;
extern const std::string_view kPresenceRemoveScript;
extern const std::string_view kPresenceScript;
extern const std::string_view kPresenceStatsScript;

// A client's presence value: "<n>:<user><m>:<conn_info><chan_info>" (n, m: decimal byte
// counts), so the stats script counts users without parsing JSON.
void write_presence_value(std::string& out, std::string_view user, std::string_view conn_info,
                          std::string_view chan_info);
struct PresenceValue {
  std::string_view user, conn_info, chan_info;
};
[[nodiscard]] bool parse_presence_value(std::string_view value, PresenceValue& out) noexcept;

// Every script above, as the command links load them (EVALSHA names them by SHA-1).
enum class Script : std::uint8_t {
  publish,
  load,
  remove_history,
  presence_add,
  presence_remove,
  presence,
  presence_stats
};
inline constexpr std::size_t kScriptCount = 7;
[[nodiscard]] std::string_view script_text(Script s) noexcept;

// A script's SHA-1 in hex, as EVALSHA names it.
[[nodiscard]] std::string script_sha1(std::string_view script);

// The offset of a stream entry id "<offset>-1"; 0 when it is not one.
[[nodiscard]] std::uint64_t entry_offset(std::string_view id) noexcept;

// The envelope a node receives. Returns false for anything else (logged and dropped).
struct Envelope {
  std::uint64_t offset = 0;
  std::string_view epoch;
  std::string_view record;
  bool delta = false;  // the publisher asked for a delta
};
[[nodiscard]] bool parse_envelope(std::string_view payload, Envelope& out) noexcept;
// `epoch` holds no ':', and is empty exactly when `offset` is 0; `record` starts with '{'.
void write_envelope(std::string& out, std::uint64_t offset, std::string_view epoch, std::string_view record,
                    bool delta = false);

// A load's marker, "load:<node>:<tag>" (no envelope starts with a letter): `node` names
// the loading node (no ':'), `tag` its load.
void write_load_marker(std::string& out, std::string_view node, std::uint64_t tag);
// True for any load's marker (every node on the channel gets them), read into node and tag.
[[nodiscard]] bool parse_load_marker(std::string_view payload, std::string_view& node, std::uint64_t& tag) noexcept;

}  // namespace ringcast::engine::broker
