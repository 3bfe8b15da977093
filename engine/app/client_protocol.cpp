#include "engine/app/client_protocol.hpp"

#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

#include "engine/app/broker_presence.hpp"
#include "engine/app/channel_publisher.hpp"
#include "engine/pubsub/channel_topic.hpp"
#include "engine/app/client_state.hpp"
#include "engine/app/history_query.hpp"
#include "engine/app/presence_copy.hpp"
#include "engine/ws/http_app.hpp"
#include "engine/app/user_command.hpp"
#include "engine/cli.hpp"
#include "engine/log.hpp"
#include "engine/pubsub/encode.hpp"
#include "engine/pubsub/topic.hpp"
#include "protocol/client_command.hpp"
#include "protocol/client_reply.hpp"
#include "protocol/jwt.hpp"
#include "protocol/subscribe_data.hpp"

namespace ringcast::engine {
namespace {

namespace client = protocol::client;
using client::ErrorCode;
using client::Method;
using protocol::JwtError;

// Session::app_state bits.
constexpr std::uint8_t kConnected = 1;
// --broker: history reads one connection may have waiting for their channel's stream, and
// presence reads waiting for Redis.
constexpr std::uint32_t kMaxHeldReads = 16;

LogLimiter g_bad_input_log;
LogLimiter g_token_log;
LogLimiter g_broker_log;

// Token times are wall-clock seconds since the epoch.
std::int64_t now_seconds() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::int64_t seconds(std::chrono::milliseconds d) noexcept { return (d.count() + 999) / 1000; }

// The reply's view of an expiry time (0: never).
client::Expiry expiry_at(std::int64_t expire_at, std::int64_t now) noexcept {
  if (expire_at == 0) return {};
  return {.expires = true, .ttl = static_cast<std::uint32_t>(std::clamp<std::int64_t>(expire_at - now, 0, UINT32_MAX))};
}

// Centrifugo's expire_at claim overrides exp for how long the credentials hold (0: forever).
std::int64_t lifetime_end(const protocol::JwtClaims& c) noexcept { return c.has_expire_at ? c.expire_at : c.exp; }

// Takes `channel` out of the presence `st` recorded it in, if it did.
// Takes `client` out of `channel`'s presence, this node's and (--broker) every node's.
void drop_presence(Session& s, std::string_view channel, std::string_view client) {
  s.presence().remove(channel, client);
  if (Broker* b = s.broker()) (void)b->presence_remove(channel, client);  // refused: it expires
}

void leave(const ClientProtocol& app, Session& s, ClientState& st, std::string_view channel) {
  auto it = std::find(st.presence.begin(), st.presence.end(), channel);
  if (it == st.presence.end()) return;
  char id[37];
  app.format_client_id(s.id(), id);
  drop_presence(s, channel, {id, 36});
  st.presence.erase(it);
}

// One frame's commands, answered into one reply frame. Thread-local: the App object is
// shared by every shard, and these buffers keep their capacity from frame to frame.
class FrameHandler final : public client::CommandSink {
 public:
  // `replay`: a held command running again (Session::hold_until_ready): not counted or
  // rate-limited twice; `expired`: its channel was not ready in time.
  // `answer`: a presence read's reply from Redis (Session::query_broker) for the command
  // in `frame`, which runs again to answer it (nullptr with `answering`: none came).
  void run(const ClientProtocol& app, Session& s, std::string_view frame, bool replay = false, bool expired = false,
           bool answering = false, const protocol::resp::Reply* answer = nullptr) {
    app_ = &app;
    s_ = &s;
    replay_ = replay;
    expired_ = expired;
    answering_ = answering;
    answer_ = answer;
    replies_.clear();
    disconnect_ = {};
    why_ = "";
    client::CommandParser::Result r = parser_.parse(frame, *this);
    if (r.error != client::ParseError::none && disconnect_.code == 0) {
      disconnect_ = client::kBadRequest;
      why_ = r.what;
    }
    if (!replies_.empty()) s.reply(protocol::Opcode::text, as_bytes(replies_));
    if (disconnect_.code != 0) {
      g_bad_input_log.log(LogLevel::debug, "client protocol: ID%u closed %u (%.*s): %s",
                          static_cast<unsigned>(s.peer_port()), static_cast<unsigned>(disconnect_.code),
                          static_cast<int>(disconnect_.reason.size()), disconnect_.reason.data(), why_);
      s.close(disconnect_.code, disconnect_.reason);
    }
  }

  bool on_command(const client::Command& cmd) override {
    if (answering_) {  // Redis answered a presence read
      return (cmd.method != Method::presence && cmd.method != Method::presence_stats) ||
             presence(cmd, cmd.method == Method::presence_stats);
    }
    if (replay_) {  // a held command runs again
      if (cmd.method == Method::subscribe) return subscribe(cmd);
      return cmd.method != Method::history || history(cmd);
    }
    if (cmd.method != Method::none || cmd.id == 0) {  // an unknown method is counted as error 104
      s_->metrics().client_commands[static_cast<std::size_t>(cmd.method)].add();
    }
    bool connected = (s_->app_state() & kConnected) != 0;
    if (cmd.method == Method::none) {  // `{}` is a pong (it was heard); with an id, a method we do not know
      return cmd.id == 0 || error(cmd, ErrorCode::method_not_found);
    }
    if (!admitted(cmd.method)) {
      g_bad_input_log.log(LogLevel::debug, "client protocol: ID%u %.*s over client.rate_limit",
                          static_cast<unsigned>(s_->peer_port()), static_cast<int>(client::method_name(cmd.method).size()),
                          client::method_name(cmd.method).data());
      return error(cmd, ErrorCode::too_many_requests);
    }
    if (cmd.method == Method::connect) {
      if (connected) return disconnect(client::kBadRequest, "a second connect");
      return connect(cmd);
    }
    if (!connected) return disconnect(client::kBadRequest, "a command before connect");
    switch (cmd.method) {
      case Method::subscribe: return subscribe(cmd);
      case Method::unsubscribe: return unsubscribe(cmd);
      case Method::publish: return publish(cmd);
      case Method::ping: return result(cmd);
      case Method::send: return true;  // asynchronous and unanswered: no handler takes it yet
      case Method::rpc: return error(cmd, ErrorCode::method_not_found);
      case Method::refresh: return refresh(cmd);
      case Method::sub_refresh: return sub_refresh(cmd);
      case Method::history: return history(cmd);
      case Method::presence: return presence(cmd, false);
      case Method::presence_stats: return presence(cmd, true);
      case Method::none:
      case Method::connect: break;
    }
    return true;
  }

  // The server API took `channel` from this connection: the 2000 unsubscribe push tells
  // the SDK not to come back.
  // With `code` 2500 (insufficient state: the broker's feed lost what this subscription
  // had not got) the SDK subscribes again and recovers; its grant stays for that.
  void server_unsubscribe(const ClientProtocol& app, Session& s, std::string_view channel,
                          std::uint32_t code = client::kUnsubscribeServer, std::string_view reason = "server unsubscribe") {
    std::uint32_t topic = s.find_topic(channel_topic(key_, channel));
    if (topic == kNoTopic || !s.subscribed(topic)) return;
    ClientState* st = find_client_state(s);
    const bool server_side = st != nullptr && std::ranges::find(st->server_side, channel) != st->server_side.end();
    if (server_side && code == client::kUnsubscribeInsufficient) {
      // The SDK drops a server-side subscription on any unsubscribe push, never to come
      // back: the connection starts over instead, as Centrifugo's does, and recovers.
      s.close(client::kInsufficientState.code, client::kInsufficientState.reason);
      return;
    }
    (void)s.unsubscribe(topic);
    if (st != nullptr) {
      leave(app, s, *st, channel);
      if (code == client::kUnsubscribeServer) st->drop_grant(channel);
      if (server_side) std::erase(st->server_side, channel);
    }
    replies_.clear();
    client::append_unsubscribe_push(replies_, channel, code, reason);
    s.reply(protocol::Opcode::text, as_bytes(replies_));
  }

  // Every ping interval: ends what outlived its token (past the grace the config gives the
  // SDK's refresh), then pings.
  void keepalive(const ClientProtocol& app, Session& s) {
    replies_.clear();
    if (ClientState* st = find_client_state(s)) {
      std::int64_t now = now_seconds();
      const ClientProtocolConfig& cfg = app.config();
      if (st->expire_at != 0 && now - seconds(cfg.expired_close_delay) >= st->expire_at) {  // no overflow near INT64_MAX
        g_bad_input_log.log(LogLevel::debug, "client protocol: ID%u connection expired", static_cast<unsigned>(s.peer_port()));
        s.close(client::kExpired.code, client::kExpired.reason);
        return;
      }
      std::int64_t sub_deadline = now - seconds(cfg.expired_sub_close_delay);
      std::erase_if(st->grants, [&](const ClientGrant& g) {
        if (g.expire_at == 0 || g.expire_at > sub_deadline) return false;
        if (std::uint32_t topic = s.find_topic(channel_topic(key_, g.channel)); topic != kNoTopic) s.unsubscribe(topic);
        leave(app, s, *st, g.channel);
        client::append_unsubscribe_push(replies_, g.channel, client::kUnsubscribeExpired, "subscription expired");
        replies_ += '\n';
        return true;
      });
    }
    if (ClientState* st = find_client_state(s); st != nullptr && s.broker() != nullptr) {
      // Presence in Redis expires unless refreshed: every keepalive moves it on.
      char id[37];
      app.format_client_id(s.id(), id);
      for (const std::string& channel : st->presence) add_to_broker(app, s, *st, channel, {id, 36});
    }
    replies_ += client::kPing;
    s.reply(protocol::Opcode::text, as_bytes(replies_));
  }

 private:
  bool connect(const client::Command& cmd) {
    const ClientProtocolConfig& cfg = app_->config();
    std::int64_t now = now_seconds();
    client::Expiry expiry;
    server_subs_.clear();
    if (!cmd.token.empty()) {
      if (JwtError e = verify(cmd.token, cfg.token, now); e != JwtError::none) {
        return refuse_token(cmd, e, cfg.token, "connection");
      }
      if (!claims_.channel.empty()) return token_mismatch(TokenFailure::not_connection, "a subscription token to connect");
      std::int64_t end = lifetime_end(claims_);
      if (end != 0 && end <= now) return error(cmd, ErrorCode::expired);  // expire_at already past
      ClientState& st = client_state(*s_);
      st.user = claims_.sub;
      st.conn_info = claims_.info;
      st.expire_at = end;
      expiry = expiry_at(end, now);
      if (!server_side_subscriptions(cmd.subs)) return false;
    } else if (!cfg.allow_anonymous_connect_without_token) {
      return disconnect(client::kBadRequest, "no token, and client.allow_anonymous_connect_without_token is off");
    }
    s_->app_state() |= kConnected;
    char id[37];
    next_line();
    client::append_connect_result(replies_, cmd.id,
                                  {.client = client_id(id),
                                   .version = app_->version(),
                                   .expiry = expiry,
                                   .subs = server_subs_,
                                   .ping_seconds = static_cast<std::uint32_t>(seconds(cfg.ping_interval)),
                                   .pong = true});
    return true;
  }

  // The connection token's `channels`: subscribed by the server, without the namespace's
  // permissions (the backend that signed the token decided), within client.channel_limit.
  // Where the namespace keeps history with force_recovery (force_positioning) they count
  // offsets as a client's recoverable (positioned) subscription does, and recover from
  // where connect's `subs` says the client stands. Each goes into server_subs_ as the
  // connect reply's entry. False after a disconnect: a channel of no configured
  // namespace, or over the limit.
  bool server_side_subscriptions(std::span<const client::SubPosition> positions) {
    for (std::string_view ch : claims_.channels) {
      const ChannelOptions* o = ch.empty() || ch.size() > app_->config().channel_max_length ? nullptr
                                                                                            : app_->config().options_for(ch);
      if (o == nullptr) return token_mismatch(TokenFailure::malformed, "a channels claim naming an unknown channel");
      if (s_->subscriptions() >= app_->config().channel_limit) {
        return disconnect(client::kChannelLimit, "a channels claim over client.channel_limit");
      }
      bool recoverable = o->has_history() && o->force_recovery;
      bool positioned = recoverable || (o->has_history() && o->force_positioning);
      if (recoverable || positioned) {
        client::SubPosition from;
        for (const client::SubPosition& p : positions) {
          if (p.channel == ch) from = p;
        }
        client::SubscribeResult r{.expiry = {}, .recoverable = recoverable, .positioned = positioned,
                                  .was_recovering = false, .recovered = false, .epoch = {}, .offset = 0,
                                  .publications = {}, .delta = false};
        if (std::optional<ErrorCode> e = join_stream(ch, *o, r, from, false, 0, true)) {
          if (*e == ErrorCode::internal) return disconnect(client::kServerError, "no memory for a subscription's join");
          continue;  // a duplicate in the claim
        }
      } else {
        if (!s_->subscribe(topic_key(ch), o->topic_options())) continue;
        client::append_server_sub(server_subs_, ch, {});
      }
      client_state(*s_).server_side.emplace_back(ch);
      enter(*o, ch);
    }
    return true;
  }

  // A new connection token for this connection: the same user, a new lifetime and info.
  bool refresh(const client::Command& cmd) {
    if (cmd.token.empty()) return disconnect(client::kBadRequest, "refresh without a token");
    std::int64_t now = now_seconds();
    if (JwtError e = verify(cmd.token, app_->config().token, now); e != JwtError::none) {
      return refuse_token(cmd, e, app_->config().token, "refresh");
    }
    if (!claims_.channel.empty()) return token_mismatch(TokenFailure::not_connection, "a subscription token to refresh");
    if (claims_.sub != user()) return token_mismatch(TokenFailure::other_user, "a refresh token for another user");
    std::int64_t end = lifetime_end(claims_);
    if (end != 0 && end <= now) return error(cmd, ErrorCode::expired);
    ClientState& st = client_state(*s_);
    st.conn_info = claims_.info;
    st.expire_at = end;
    if (cmd.id == 0) return true;
    char id[37];
    next_line();
    client::append_refresh_result(replies_, cmd.id, client_id(id), app_->version(), expiry_at(end, now));
    return true;
  }

  // False when client.rate_limit refuses the command now (it is charged otherwise).
  bool admitted(Method m) {
    const RateLimits& rl = app_->config().rate_limit;
    if (rl.cells() == 0) return true;
    ClientState& st = client_state(*s_);
    if (st.rate_cells.size() != rl.cells()) st.rate_cells.assign(rl.cells(), 0);
    auto now = std::chrono::steady_clock::now().time_since_epoch();
    return rl.admit(m, st.rate_cells, std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  }

  // The options of a channel a command names, or nullptr after answering why not.
  const ChannelOptions* channel_options(const client::Command& cmd) {
    if (cmd.channel.empty()) {
      disconnect(client::kBadRequest, "a command without a channel");
      return nullptr;
    }
    if (cmd.channel.size() > app_->config().channel_max_length) {
      error(cmd, ErrorCode::limit_exceeded);
      return nullptr;
    }
    const ChannelOptions* o = app_->config().options_for(cmd.channel);
    if (o == nullptr) error(cmd, ErrorCode::unknown_channel);
    return o;
  }

  std::string_view topic_key(std::string_view channel) { return channel_topic(key_, channel); }

  // The connection's id as the replies and publications write it, formatted into `buf`.
  std::string_view client_id(char (&buf)[37]) const noexcept {
    app_->format_client_id(s_->id(), buf);
    return {buf, 36};
  }

  // Centrifugo's permission shape for publish, history and presence: any connection with
  // a user, or a subscriber of the channel; anonymous ones only where the switch says so.
  bool may(const client::Command& cmd, bool for_client, bool for_subscriber, bool for_anonymous) {
    std::uint32_t topic = s_->find_topic(topic_key(cmd.channel));
    bool subscriber = topic != kNoTopic && s_->subscribed(topic);
    return (for_client || (for_subscriber && subscriber)) && (!user().empty() || for_anonymous);
  }

  // The connection's user ("" for anonymous).
  std::string_view user() noexcept {
    ClientState* st = find_client_state(*s_);
    return st != nullptr ? std::string_view(st->user) : std::string_view();
  }

  // A subscription token for this connection and `channel`, verified into claims_: none,
  // or the command was answered (true: go on with the frame's next command).
  std::optional<bool> check_subscription_token(const client::Command& cmd, std::int64_t now) {
    const TokenConfig& tc = app_->config().subscription_token_config();
    if (JwtError e = verify(cmd.token, tc, now); e != JwtError::none) return refuse_token(cmd, e, tc, "subscription");
    if (claims_.channel != cmd.channel) return token_mismatch(TokenFailure::other_channel, "a subscription token for another channel");
    if (claims_.sub != user()) return token_mismatch(TokenFailure::other_user, "a subscription token for another user");
    std::int64_t end = lifetime_end(claims_);
    if (end != 0 && end <= now) return error(cmd, ErrorCode::expired);
    return std::nullopt;
  }

  // Remembers a subscription token's lifetime and channel info (nothing to keep: none).
  void keep_grant(std::string_view channel) {
    std::int64_t end = lifetime_end(claims_);
    ClientState* st = find_client_state(*s_);
    if (end == 0 && claims_.info.empty() && (st == nullptr || st->grant(channel) == nullptr)) return;
    if (st == nullptr) st = &client_state(*s_);
    ClientGrant* g = st->grant(channel);
    if (g == nullptr) g = &st->grants.emplace_back(ClientGrant{.channel = std::string(channel), .chan_info = {}, .expire_at = 0});
    g->chan_info = claims_.info;
    g->expire_at = end;
  }

  bool subscribe(const client::Command& cmd) {
    const ChannelOptions* o = channel_options(cmd);
    if (o == nullptr) return disconnect_.code == 0;
    std::int64_t now = now_seconds();
    if (!cmd.token.empty()) {
      // A valid token grants the channel whatever the namespace allows clients.
      if (std::optional<bool> answered = check_subscription_token(cmd, now)) return *answered;
    } else {
      bool allowed = !cmd.channel.starts_with('$') && o->allow_subscribe_for_client &&
                     (!user().empty() || o->allow_subscribe_for_anonymous);
      if (!allowed) return error(cmd, ErrorCode::permission_denied);
    }
    // Subscribes held for --broker count: they become subscriptions.
    if (s_->subscriptions() + s_->held(true) >= app_->config().channel_limit) {
      return error(cmd, ErrorCode::limit_exceeded);
    }
    client::Expiry expiry;
    if (!cmd.token.empty()) expiry = expiry_at(lifetime_end(claims_), now);
    bool recoverable = o->has_history() && (o->force_recovery || (o->allow_recovery && cmd.recoverable));
    // Recovery implies a position, as in Centrifugo.
    bool positioned = recoverable || (o->has_history() && (o->force_positioning || (o->allow_positioning && cmd.positioned)));
    // Centrifugo's negotiation: a type the namespace does not allow subscribes without deltas.
    bool deltas = o->delta && cmd.delta == "fossil";
    if (recoverable || positioned) {
      client::SubscribeResult r{.expiry = expiry, .recoverable = recoverable, .positioned = positioned,
                                .was_recovering = false, .recovered = false, .epoch = {}, .offset = 0,
                                .publications = {}, .delta = deltas};
      client::SubPosition from{.channel = cmd.channel, .epoch = cmd.epoch, .offset = cmd.offset, .recover = cmd.recover};
      held_ = false;
      if (std::optional<ErrorCode> e =
              join_stream(cmd.channel, *o, r, from, (cmd.flag & client::kRejectUnrecovered) != 0, cmd.id, false, &cmd)) {
        return error(cmd, *e);
      }
      if (held_) return true;  // answered when it runs again, once the stream is loaded
      if (!cmd.token.empty()) keep_grant(cmd.channel);
      enter(*o, cmd.channel);
      return true;
    }
    std::optional<std::uint8_t> rate = rate_class_asked(cmd, *o);
    if (!rate) return error(cmd, ErrorCode::bad_request);
    // --broker: answered once Redis confirmed this node's subscription to the channel, so
    // what is published after the reply reaches it.
    if (Broker* b = s_->broker(); b != nullptr && !b->confirmed(topic_key(cmd.channel))) {
      if (s_->subscribed(s_->find_topic(topic_key(cmd.channel)))) return error(cmd, ErrorCode::already_subscribed);
      if (expired_ || !b->all_up() || !hold(cmd.channel, &cmd)) return error(cmd, ErrorCode::internal);
      return true;  // answered when it runs again
    }
    if (!s_->subscribe(topic_key(cmd.channel), o->topic_options(), deltas, *rate)) {
      return error(cmd, ErrorCode::already_subscribed);
    }
    if (!cmd.token.empty()) keep_grant(cmd.channel);
    enter(*o, cmd.channel);
    if (cmd.id == 0) return true;
    next_line();
    client::append_subscribe_result(replies_, cmd.id, {.expiry = expiry, .recoverable = false, .positioned = false,
                                                       .was_recovering = false, .recovered = false, .epoch = {},
                                                       .offset = 0, .publications = {}, .delta = deltas});
    return true;
  }

  // A max-frequency channel's subscription may ask for a slower rate in its data
  // ({"max_frequency":"500ms"}): the rate class it gets (0: the namespace's own, also in
  // any other namespace); nullopt when it asks in a way that is not a duration.
  std::optional<std::uint8_t> rate_class_asked(const client::Command& cmd, const ChannelOptions& o) {
    if (o.max_frequency.count() == 0 || cmd.data.empty()) return 0;
    client::SubscribeData d;
    if (!client::read_subscribe_data(cmd.data, d)) return std::nullopt;
    if (d.max_frequency.empty()) return 0;
    // A unit is required ("500ms", "1s"): a bare number would read as seconds.
    if (d.max_frequency.back() >= '0' && d.max_frequency.back() <= '9') return std::nullopt;
    std::optional<std::chrono::milliseconds> asked = parse_duration(d.max_frequency);
    if (!asked) return std::nullopt;
    return rate_class(static_cast<std::uint32_t>(o.max_frequency.count()), static_cast<std::uint64_t>(asked->count()));
  }

  // A subscription that counts offsets joins its channel's stream under the stream's lock:
  // the reply says where the stream stands (with what a recover from `from` missed, if it
  // still holds it), and the subscription gets every publication after that, in order,
  // none twice. The reply is written under the lock (its publications are views into the
  // stream): the subscribe result with `id` (none for id 0), which the join sends at its
  // place; or, for a server-side subscription, the entry in server_subs_, sent with the
  // connect reply ahead of anything the join lets through. Returns the error to answer, if any.
  // With --broker the stream must be this node's copy of Redis's (Stream::mirrored): until
  // it is, `to_hold` (a client's subscribe) waits for it, and a server-side subscription
  // fails (3004: the SDK connects again) while its load keeps the channel for a while.
  std::optional<ErrorCode> join_stream(std::string_view channel, const ChannelOptions& o, client::SubscribeResult r,
                        const client::SubPosition& from, bool reject_unrecovered, std::uint32_t id,
                        bool server_side = false, const client::Command* to_hold = nullptr) {
    if (s_->subscribed(s_->find_topic(topic_key(channel)))) return ErrorCode::already_subscribed;
    std::int64_t now = History::now_ms();
    History::Handle stream = s_->history().open(channel, stream_limits(app_->config(), o), now, true);
    if (Broker* b = s_->broker(); b != nullptr && !stream->mirrored()) {
      if (expired_ || !b->all_up()) return ErrorCode::internal;  // fail fast: the protocol's error
      if (!hold(channel, to_hold) || to_hold == nullptr) return ErrorCode::internal;
      held_ = true;
      return std::nullopt;
    }
    r.epoch = stream->epoch();
    r.offset = stream->top();
    records_.clear();
    r.was_recovering = from.recover;
    if (from.recover && r.recoverable) {
      r.recovered = recover(*stream.stream, from, o.cache_recovery);
      (r.recovered ? s_->metrics().recoveries_ok : s_->metrics().recoveries_failed).add();
      if (!r.recovered && reject_unrecovered) return ErrorCode::unrecoverable_position;
      r.publications = records_;
      // The position recovered from: each publication in the reply moves the SDK's on.
      if (r.recovered && !records_.empty()) r.offset = from.offset;
    }
    reply_.clear();
    std::size_t entry = server_subs_.size();
    if (server_side) client::append_server_sub(server_subs_, channel, r);
    else if (id != 0) client::append_subscribe_result(reply_, id, r);
    if (!s_->subscribe_in_order(topic_key(channel), as_bytes(reply_), o.topic_options(), r.delta)) {
      server_subs_.resize(entry);
      return ErrorCode::internal;
    }
    return std::nullopt;
  }

  // What a recover from `from` missed since its epoch and offset, into records_ (cache
  // mode: the latest publication only). False when the stream no longer holds all of it
  // (another epoch, trimmed past it, or more than recovery_max_publication_limit).
  bool recover(const Stream& st, const client::SubPosition& from, bool cache) {
    bool same_stream = from.epoch.empty() || from.epoch == st.epoch();  // no epoch: any (Centrifugo's rule)
    if (same_stream && from.offset == st.top()) return true;  // missed nothing
    if (cache) {
      if (st.size() == 0) return false;
      records_.push_back(st.at(st.top()));
      return true;
    }
    if (!same_stream || from.offset > st.top() || from.offset + 1 < st.first() ||
        st.top() - from.offset > app_->config().recovery_max_publication_limit) {
      return false;
    }
    for (std::uint64_t off = from.offset + 1; off <= st.top(); ++off) records_.push_back(st.at(off));
    return true;
  }

  // A new subscription token for a channel this connection holds.
  bool sub_refresh(const client::Command& cmd) {
    if (cmd.channel.empty() || cmd.token.empty()) {
      return disconnect(client::kBadRequest, "sub_refresh without a channel or a token");
    }
    std::uint32_t topic = s_->find_topic(topic_key(cmd.channel));
    if (topic == kNoTopic || !s_->subscribed(topic)) return error(cmd, ErrorCode::permission_denied);
    std::int64_t now = now_seconds();
    if (std::optional<bool> answered = check_subscription_token(cmd, now)) return *answered;
    keep_grant(cmd.channel);
    if (cmd.id == 0) return true;
    next_line();
    client::append_expiry_result(replies_, cmd.id, Method::sub_refresh, expiry_at(lifetime_end(claims_), now));
    return true;
  }

  // A channel's history, where its namespace keeps one and lets this connection read it.
  bool history(const client::Command& cmd) {
    const ChannelOptions* o = channel_options(cmd);
    if (o == nullptr) return disconnect_.code == 0;
    if (!o->has_history()) return error(cmd, ErrorCode::not_available);
    if (!may(cmd, o->allow_history_for_client, o->allow_history_for_subscriber, o->allow_history_for_anonymous)) {
      return error(cmd, ErrorCode::permission_denied);
    }
    const ClientProtocolConfig& cfg = app_->config();
    // A read makes no stream here (clients could make one per name): none answers an
    // empty one.
    History::Handle stream = s_->history().open(cmd.channel, stream_limits(cfg, *o), History::now_ms(), false);
    if (Broker* b = s_->broker(); b != nullptr && (!stream || !stream->mirrored())) {
      // --broker: the stream is Redis's. Held until this node holds a copy (its feed
      // subscribes to the channel meanwhile, and lets it go once answered). Loading it
      // gives a channel never published to its epoch in Redis, as Centrifugo's Redis
      // engine's history does; the copy here ages out with the history TTL.
      stream = {};
      if (s_->held(false) - s_->held(true) >= kMaxHeldReads) return error(cmd, ErrorCode::limit_exceeded);
      if (expired_ || !b->all_up() || !hold(cmd.channel, &cmd)) return error(cmd, ErrorCode::internal);
      return true;
    }
    if (!stream) {
      if (cmd.has_since && !cmd.epoch.empty()) return error(cmd, ErrorCode::unrecoverable_position);
      if (cmd.id == 0) return true;
      next_line();
      client::append_history_result(replies_, cmd.id, {}, {}, 0);
      return true;
    }
    HistoryQuery q{.limit = cmd.limit,
                   .has_since = cmd.has_since,
                   .reverse = cmd.reverse,
                   .since_offset = cmd.offset,
                   .since_epoch = cmd.epoch};
    if (!select_history(*stream.stream, q, cfg.history_max_publication_limit, records_)) {
      return error(cmd, ErrorCode::unrecoverable_position);
    }
    if (cmd.id == 0) return true;
    next_line();
    client::append_history_result(replies_, cmd.id, records_, stream->epoch(), stream->top());
    return true;
  }

  // Who is in a channel that keeps presence, or how many (the namespace must let this
  // connection ask).
  bool presence(const client::Command& cmd, bool stats) {
    const ChannelOptions* o = channel_options(cmd);
    if (o == nullptr) return disconnect_.code == 0;
    if (!o->presence) return error(cmd, ErrorCode::not_available);
    if (!may(cmd, o->allow_presence_for_client, o->allow_presence_for_subscriber, o->allow_presence_for_anonymous)) {
      return error(cmd, ErrorCode::permission_denied);
    }
    if (cmd.id == 0) return true;
    if (s_->broker() != nullptr) return broker_presence(cmd, stats);
    next_line();
    if (stats) {
      Presence::Stats st = s_->presence().stats(cmd.channel);
      client::append_presence_stats_result(replies_, cmd.id, st.clients, st.users);
    } else {
      client::append_presence_result(replies_, cmd.id, present_.read(s_->presence(), cmd.channel));
    }
    return true;
  }

  // --broker: every node's presence, from Redis. The command is asked first, and runs
  // again with the reply (answering_) to be answered.
  bool broker_presence(const client::Command& cmd, bool stats) {
    if (!answering_) {
      if (s_->queries() >= kMaxHeldReads) return error(cmd, ErrorCode::limit_exceeded);
      held_line_.clear();
      client::append_command_line(held_line_, cmd);
      const Broker::Query q = stats ? Broker::Query::presence_stats : Broker::Query::presence;
      if (!s_->query_broker(q, cmd.channel, held_line_)) return error(cmd, ErrorCode::internal);
      return true;
    }
    PresenceCounts counts;
    if (answer_ == nullptr || (stats ? !read_broker_presence_stats(*answer_, counts)
                                     : !read_broker_presence(*answer_, infos_))) {
      g_broker_log.log(LogLevel::warn, "client protocol: a presence read of '%.*s' got no answer from Redis",
                       static_cast<int>(cmd.channel.size()), cmd.channel.data());
      return error(cmd, ErrorCode::internal);
    }
    next_line();
    if (stats) {
      client::append_presence_stats_result(replies_, cmd.id, counts.clients, counts.users);
    } else {
      client::append_presence_result(replies_, cmd.id, infos_);
    }
    return true;
  }

  // Records this connection in a channel that keeps presence (once it is subscribed).
  void enter(const ChannelOptions& o, std::string_view channel) {
    if (!o.presence) return;
    ClientState& st = client_state(*s_);
    const ClientGrant* g = st.grant(channel);
    const std::string_view chan_info = g != nullptr ? std::string_view(g->chan_info) : std::string_view();
    char id[37];
    s_->presence().add(channel, client_id(id), {.user = st.user, .conn_info = st.conn_info, .chan_info = std::string(chan_info)});
    if (s_->broker() != nullptr) add_to_broker(*app_, *s_, st, channel, {id, 36});
    st.presence.emplace_back(channel);
  }

  // --broker: `client` (of `st`) added to, or refreshed in, every node's presence in `channel`.
  void add_to_broker(const ClientProtocol& app, Session& s, const ClientState& st, std::string_view channel,
                     std::string_view client) {
    const ClientGrant* g = st.grant(channel);
    add_broker_presence(*s.broker(), app.config(), channel, client, st.user, st.conn_info,
                        g != nullptr ? std::string_view(g->chan_info) : std::string_view(), value_);
  }

  bool unsubscribe(const client::Command& cmd) {
    if (cmd.channel.empty()) return disconnect(client::kBadRequest, "unsubscribe without a channel");
    if (std::uint32_t topic = s_->find_topic(topic_key(cmd.channel)); topic != kNoTopic) {
      s_->unsubscribe(topic);
      // A subscribe still held for --broker never runs: answered as failed, before this
      // reply (the SDK's subscribe flow it belonged to is over).
      dropped_.clear();
      s_->drop_held(topic, dropped_);
      for (std::uint32_t id : dropped_) {
        client::Command held;
        held.id = id;
        (void)error(held, ErrorCode::internal);
      }
    }
    if (ClientState* st = find_client_state(*s_)) {
      leave(*app_, *s_, *st, cmd.channel);
      st->drop_grant(cmd.channel);
    }
    return result(cmd);  // not subscribed: nothing to undo, the same answer
  }

  bool publish(const client::Command& cmd) {
    const ChannelOptions* o = channel_options(cmd);
    if (o == nullptr) return disconnect_.code == 0;
    if (cmd.data.empty()) return disconnect(client::kBadRequest, "publish without data");
    if (!may(cmd, o->allow_publish_for_client, o->allow_publish_for_subscriber, o->allow_publish_for_anonymous)) {
      return error(cmd, ErrorCode::permission_denied);
    }
    if (o->max_publication_size != 0 && cmd.data.size() > o->max_publication_size) {
      g_bad_input_log.log(LogLevel::debug, "client protocol: ID%u publish of %zu bytes over max_publication_size %zu",
                          static_cast<unsigned>(s_->peer_port()), cmd.data.size(), o->max_publication_size);
      return error(cmd, ErrorCode::limit_exceeded);
    }
    s_->metrics().publications_client.add();
    ClientState* st = find_client_state(*s_);
    char id[37];
    const ClientGrant* g = st != nullptr ? st->grant(cmd.channel) : nullptr;
    client::ClientInfo info{.user = st != nullptr ? std::string_view(st->user) : std::string_view(),
                            .client = client_id(id),
                            .conn_info = st != nullptr ? std::string_view(st->conn_info) : std::string_view(),
                            .chan_info = g != nullptr ? std::string_view(g->chan_info) : std::string_view()};
    if (!publisher_.publish(*s_, app_->config(), *o, cmd.channel, {.data = cmd.data, .offset = 0, .info = &info}).ok) {
      return error(cmd, ErrorCode::internal);
    }
    return result(cmd);
  }

  // Verifies `token` with one kind's key into claims_. No key configured: every token of
  // the kind is invalid (bad_signature), and refuse_token says why.
  JwtError verify(std::string_view token, const TokenConfig& tc, std::int64_t now) {
    if (tc.hmac_secret_key.empty()) return JwtError::bad_signature;
    return jwt_.verify(token, as_bytes(tc.hmac_secret_key), now, {.audience = tc.audience, .issuer = tc.issuer},
                       claims_);
  }

  // Answers a token that failed: an expired one gets 109 so the SDK fetches a new one; any
  // other ends the connection with 3500 (the SDK does not retry it). Logged with the cause.
  bool refuse_token(const client::Command& cmd, JwtError e, const TokenConfig& tc, const char* kind) {
    s_->metrics().token_failures[static_cast<std::size_t>(token_failure(e, tc))].add();
    if (e == JwtError::expired) return error(cmd, ErrorCode::token_expired);
    const char* why = tc.hmac_secret_key.empty() ? "no hmac_secret_key is configured for it" : protocol::jwt_error_text(e);
    g_token_log.log(LogLevel::info, "client protocol: ID%u %s token refused: %s", static_cast<unsigned>(s_->peer_port()),
                    kind, why);
    return disconnect(client::kInvalidToken, why);
  }
  static TokenFailure token_failure(JwtError e, const TokenConfig& tc) noexcept {
    if (tc.hmac_secret_key.empty()) return TokenFailure::no_key;
    switch (e) {
      case JwtError::malformed: return TokenFailure::malformed;
      case JwtError::bad_algorithm: return TokenFailure::bad_algorithm;
      case JwtError::bad_signature: return TokenFailure::bad_signature;
      case JwtError::expired: return TokenFailure::expired;
      case JwtError::not_yet_valid: return TokenFailure::not_yet_valid;
      case JwtError::wrong_audience: return TokenFailure::wrong_audience;
      case JwtError::wrong_issuer: return TokenFailure::wrong_issuer;
      case JwtError::none: break;
    }
    return TokenFailure::malformed;
  }
  bool token_mismatch(TokenFailure f, const char* why) {
    s_->metrics().token_failures[static_cast<std::size_t>(f)].add();
    g_token_log.log(LogLevel::info, "client protocol: ID%u token refused: %s", static_cast<unsigned>(s_->peer_port()), why);
    return disconnect(client::kInvalidToken, why);
  }

  void next_line() {
    if (!replies_.empty()) replies_ += '\n';
  }
  bool result(const client::Command& cmd) {
    if (cmd.id == 0) return true;
    next_line();
    client::append_empty_result(replies_, cmd.id, cmd.method);
    return true;
  }
  bool error(const client::Command& cmd, ErrorCode code) {
    s_->metrics().client_errors[static_cast<std::size_t>(code) - 100].add();
    if (cmd.id == 0) return true;
    next_line();
    client::append_error(replies_, cmd.id, code);
    return true;
  }
  bool disconnect(client::Disconnect d, const char* why) {
    disconnect_ = d;
    why_ = why;
    return false;
  }

  client::CommandParser parser_;
  protocol::JwtVerifier jwt_;
  protocol::JwtClaims claims_;
  std::string server_subs_;  // the connect reply's subs entries (client::append_server_sub)
  const ClientProtocol* app_ = nullptr;
  Session* s_ = nullptr;
  ChannelPublisher publisher_;
  PresenceCopy present_;
  std::vector<std::string_view> records_;  // a recovery's publications, views into a locked stream
  bool replay_ = false, expired_ = false, held_ = false, answering_ = false;
  const protocol::resp::Reply* answer_ = nullptr;
  std::vector<client::ClientInfo> infos_;  // a presence answer's, views into Redis's reply
  std::string value_;                      // a presence value for Redis
  std::string held_line_;  // a held command (subscribe or history), written back
  std::vector<std::uint32_t> dropped_;  // ids of held subscribes an unsubscribe dropped

  // Holds `cmd` (nullptr: nothing to run again, the channel only kept ready for a while)
  // until this node is ready to serve `channel`. False: the shard holds too many.
  bool hold(std::string_view channel, const client::Command* cmd) {
    held_line_.clear();
    if (cmd != nullptr) client::append_command_line(held_line_, *cmd);
    return s_->hold_until_ready(topic_key(channel), channel, held_line_, cmd != nullptr ? cmd->id : 0,
                                cmd != nullptr && cmd->method == Method::subscribe);
  }
  std::string replies_, key_, reply_;
  client::Disconnect disconnect_{};
  const char* why_ = "";
};

thread_local FrameHandler t_handler;

}  // namespace

ClientProtocol::ClientProtocol(const ClientProtocolConfig& cfg, std::string_view version)
    : cfg_(cfg), version_(version) {
  // Not secret, only distinct across restarts: a short read leaves zeros, still valid ids.
  if (getrandom(process_random_.data(), process_random_.size(), 0) < 0) process_random_ = {};
}

void ClientProtocol::format_client_id(const Session::Id& id, char (&out)[37]) const noexcept {
  std::uint8_t b[16];
  for (std::size_t i = 0; i < 6; ++i) b[i] = process_random_[i];
  b[6] = static_cast<std::uint8_t>(id.shard >> 8);
  b[7] = static_cast<std::uint8_t>(id.shard);
  for (std::size_t i = 0; i < 4; ++i) {
    b[8 + i] = static_cast<std::uint8_t>(id.slot >> (24 - 8 * i));
    b[12 + i] = static_cast<std::uint8_t>(id.gen >> (24 - 8 * i));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t o = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = kHex[b[i] >> 4];
    out[o++] = kHex[b[i] & 15];
  }
  out[o] = '\0';
}

void ClientProtocol::on_message(Session& s, protocol::Opcode op, std::span<const std::uint8_t> payload) {
  if (op != protocol::Opcode::text) {
    s.close(client::kBadRequest.code, client::kBadRequest.reason);  // the JSON protocol travels as text
    return;
  }
  t_handler.run(*this, s, {reinterpret_cast<const char*>(payload.data()), payload.size()});
}

void ClientProtocol::on_released(Session& s, std::span<const std::uint8_t> request, bool loaded) {
  if ((s.app_state() & kConnected) == 0 || request.empty()) return;
  t_handler.run(*this, s, {reinterpret_cast<const char*>(request.data()), request.size()}, true, !loaded);
}

void ClientProtocol::on_query_reply(Session& s, std::span<const std::uint8_t> request,
                                    const protocol::resp::Reply* reply) {
  if ((s.app_state() & kConnected) == 0) return;
  t_handler.run(*this, s, {reinterpret_cast<const char*>(request.data()), request.size()}, false, false, true, reply);
}

void ClientProtocol::on_keepalive(Session& s, bool heard) {
  bool connected = (s.app_state() & kConnected) != 0;
  if (!connected || !heard) {
    client::Disconnect d = connected ? client::kNoPong : client::kStale;
    g_bad_input_log.log(LogLevel::debug, "client protocol: ID%u closed %u (%.*s)", static_cast<unsigned>(s.peer_port()),
                        static_cast<unsigned>(d.code), static_cast<int>(d.reason.size()), d.reason.data());
    s.close(d.code, d.reason);
  } else {
    t_handler.keepalive(*this, s);
  }
}

void ClientProtocol::on_command(Session& s, std::span<const std::uint8_t> command) {
  // The shard calls this for each of its connections with the same bytes: decoded once.
  thread_local std::vector<std::uint8_t> seen;
  thread_local UserCommand c;
  thread_local bool valid = false;
  if (!std::equal(seen.begin(), seen.end(), command.begin(), command.end())) {
    seen.assign(command.begin(), command.end());
    valid = decode(seen, c);
  }
  if ((s.app_state() & kConnected) == 0 || !valid) return;
  if (c.kind == UserCommand::Kind::resubscribe) {  // whoever the user
    t_handler.server_unsubscribe(*this, s, c.channel, c.code, c.reason);
    return;
  }
  ClientState* st = find_client_state(s);
  if ((st != nullptr ? std::string_view(st->user) : std::string_view()) != c.user) return;
  char id[37];
  format_client_id(s.id(), id);
  std::string_view client(id, 36);
  if ((!c.client.empty() && c.client != client) || std::find(c.keep.begin(), c.keep.end(), client) != c.keep.end()) {
    return;
  }
  if (c.kind == UserCommand::Kind::disconnect) {
    g_bad_input_log.log(LogLevel::debug, "client protocol: ID%u closed %u by the server API",
                        static_cast<unsigned>(s.peer_port()), static_cast<unsigned>(c.code));
    s.close(c.code, c.reason);
  } else {
    t_handler.server_unsubscribe(*this, s, c.channel);
  }
}

void ClientProtocol::on_second(HttpHost& host) {
  std::int64_t now = History::now_ms();
  online_pushed_ms_.resize(cfg_.namespaces.size() + 1, 0);
  std::vector<const ChannelOptions*> due;
  for (std::size_t i = 0; i <= cfg_.namespaces.size(); ++i) {
    const ChannelOptions& o = i < cfg_.namespaces.size() ? cfg_.namespaces[i] : cfg_.without_namespace;
    if (o.online_push_interval.count() == 0 || now - online_pushed_ms_[i] < o.online_push_interval.count()) continue;
    online_pushed_ms_[i] = now;
    due.push_back(&o);
  }
  if (due.empty()) return;
  struct Count {
    std::string channel;
    Presence::Stats stats;
  };
  std::vector<Count> counts;  // copied out of presence's locks, then published
  host.presence().for_each_channel([&](std::string_view channel, Presence::Stats st) {
    if (std::find(due.begin(), due.end(), cfg_.options_for(channel)) != due.end()) counts.push_back({std::string(channel), st});
  });
  for (const Count& c : counts) {
    // --broker: every node's count, from Redis (pushed when it answers).
    if (host.broker() == nullptr) {
      push_online(host, c.channel, c.stats.clients, c.stats.users);
    } else if (!host.query_broker(*this, Broker::Query::presence_stats, c.channel, c.channel)) {
      g_broker_log.log(LogLevel::warn, "client protocol: the online count of '%s' not read: Redis's link is down or full",
                       c.channel.c_str());
    }
  }
}

void ClientProtocol::on_node_query_reply(HttpHost& host, std::span<const std::uint8_t> request,
                                         const protocol::resp::Reply* reply) {
  const std::string_view channel(reinterpret_cast<const char*>(request.data()), request.size());
  PresenceCounts counts;
  if (reply == nullptr || !read_broker_presence_stats(*reply, counts)) return;  // the next interval tries again
  push_online(host, channel, counts.clients, counts.users);
}

void ClientProtocol::push_online(HttpHost& host, std::string_view channel, std::size_t clients, std::size_t users) {
  thread_local std::string key, data, push;
  std::uint32_t topic = host.find_topic(channel_topic(key, channel));
  if (topic == kNoTopic) return;
  data = "{\"online\":" + std::to_string(clients) + ",\"users\":" + std::to_string(users) + "}";
  push.clear();
  protocol::client::append_publication_push(push, channel, {.data = data, .offset = 0, .info = nullptr});
  (void)host.publish_text(topic, push, false);
}

void ClientProtocol::on_close(Session& s) noexcept {
  if (ClientState* st = find_client_state(s); st != nullptr && !st->presence.empty()) {
    char id[37];
    format_client_id(s.id(), id);
    for (const std::string& channel : st->presence) drop_presence(s, channel, {id, 36});
  }
  forget_client_state(s);
}

}  // namespace ringcast::engine
