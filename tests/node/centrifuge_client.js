// The real `centrifuge` SDK (npm), driven by ringcast's client-protocol tests.
//   node centrifuge_client.js ws://127.0.0.1:PORT/connection/websocket [name] [token]
//   (wss://: NODE_EXTRA_CA_CERTS for trust). With a token, the SDK's getToken asks the test:
//   it emits token_needed and waits for a {"token": T} line ("" : unauthorized).
// stdin: one JSON command per line:
//   {"subscribe": "chan"[, "token": T][, "delta": "fossil"][, "data": <json>]} | {"unsubscribe": "chan"} |
//   {"delta_stats": "chan"}  (the subscription's deltaStats()) |
//   {"publish": "chan", "data": <json>} | {"disconnect": true} |
//   {"drop": true}  (the transport breaks under the SDK: it reconnects and recovers) |
//   {"history": "chan", "limit": N[, "since": {...}, "reverse": B]}  (a subscription's history) |
//   {"presence_stats": "chan"} | {"presence": "chan"}  (a subscription's) |
//   {"token": T} | {"sub_token": "chan", "token": T}  (answers to token_needed)
// stdout: one JSON event per line:
//   {"event": "connected", "client": "...", "port": <local port>} |
//   {"event": "disconnected", "code": N, "reason": "..."} | {"event": "connecting", "code": N} |
//   {"event": "subscribed", "channel": C, "recoverable": B, "positioned": B, "wasRecovering": B,
//    "recovered": B, "position": {"offset": N, "epoch": E} | null} |
//   {"event": "sub_error", "channel": C, "code": N} |
//   {"event": "unsubscribed", "channel": C, "code": N} |
//   {"event": "publication", "channel": C, "data": <json>, "info": <the publisher, or null>,
//    "offset": N | null} |
//   {"event": "dropped"} (after a drop command) | {"event": "token_needed"} | {"event": "sub_token_needed", "channel": C} |
//   {"event": "server_subscribed", ...as subscribed} | {"event": "server_publication", ...as publication} |
//   {"event": "published", "channel": C} | {"event": "publish_error", "channel": C, "code": N} |
//   {"event": "history", "channel": C, "publications": [{"offset": N, "data": D}...], "epoch": E,
//    "offset": N} | {"event": "history_error", "channel": C, "code": N} |
//   {"event": "presence_stats", "channel": C, "clients": N, "users": N} |
//   {"event": "presence", "channel": C, "clients": {<client id>: {"user": U, ...}}} |
//   {"event": "presence_error", "channel": C, "code": N} |
//   {"event": "delta_stats", "channel": C, ...the SDK's deltaStats()} |
//   {"event": "error", "message": "..."}
'use strict';
const readline = require('readline');
const WebSocket = require('ws');
const { Centrifuge, UnauthorizedError } = require('centrifuge');

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: node centrifuge_client.js ws://HOST:PORT/connection/websocket [name]\n');
  process.exit(2);
}
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// The SDK's own WebSocket is `ws` here; the local port is read off its socket.
let lastSocket = null;
class TrackedWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    lastSocket = this;
  }
}

// getToken calls wait for the test's answer on stdin, in order per channel ('' : connection).
const tokenWaiters = new Map();
function askToken(key, event) {
  emit(event);
  return new Promise((resolve, reject) => {
    if (!tokenWaiters.has(key)) tokenWaiters.set(key, []);
    tokenWaiters.get(key).push({ resolve, reject });
  });
}
function answerToken(key, token) {
  const waiting = tokenWaiters.get(key) || [];
  const w = waiting.shift();
  if (!w) return;
  if (token === '') w.reject(new UnauthorizedError('the test refused a token'));
  else w.resolve(token);
}

const options = {
  websocket: TrackedWebSocket,
  name: process.argv[3] || 'ringcast-test',
  minReconnectDelay: 200,
  maxReconnectDelay: 1000,
  timeout: 5000,
};
if (process.argv[4] !== undefined) {
  options.token = process.argv[4];
  options.getToken = () => askToken('', { event: 'token_needed' });
}
const client = new Centrifuge(url, options);
client.on('connecting', (ctx) => emit({ event: 'connecting', code: ctx.code }));
client.on('connected', (ctx) => {
  const port = lastSocket && lastSocket._socket ? lastSocket._socket.localPort : 0;
  emit({ event: 'connected', client: ctx.client, port });
});
client.on('disconnected', (ctx) => emit({ event: 'disconnected', code: ctx.code, reason: ctx.reason }));
// A subscription's events, the same for the client's own and the server-side ones.
const subscribedEvent = (event, channel, ctx) => ({
  event, channel, recoverable: ctx.recoverable, positioned: ctx.positioned,
  wasRecovering: ctx.wasRecovering, recovered: ctx.recovered,
  position: ctx.streamPosition ? { offset: Number(ctx.streamPosition.offset), epoch: ctx.streamPosition.epoch } : null,
});
const publicationEvent = (event, channel, ctx) => ({
  event, channel, data: ctx.data, info: ctx.info || null,
  offset: ctx.offset === undefined ? null : Number(ctx.offset),
});
// Server-side subscriptions (a token's channels claim) are the client's own events.
client.on('subscribed', (ctx) => emit(subscribedEvent('server_subscribed', ctx.channel, ctx)));
client.on('publication', (ctx) => emit(publicationEvent('server_publication', ctx.channel, ctx)));
client.on('error', (ctx) => emit({ event: 'error', message: String(ctx.error && ctx.error.message),
                                   code: ctx.error && ctx.error.code }));

const subs = new Map();
function subscribe(channel, token, delta, data) {
  let sub = subs.get(channel);
  if (!sub) {
    const opts = {};
    if (delta !== undefined) opts.delta = delta;
    if (data !== undefined) opts.data = data;
    if (token !== undefined) {
      opts.token = token;
      opts.getToken = () => askToken(channel, { event: 'sub_token_needed', channel });
    }
    sub = client.newSubscription(channel, opts);
    subs.set(channel, sub);
    sub.on('subscribed', (ctx) => emit(subscribedEvent('subscribed', channel, ctx)));
    sub.on('publication', (ctx) => emit(publicationEvent('publication', channel, ctx)));
    sub.on('error', (ctx) => emit({ event: 'sub_error', channel, code: ctx.error && ctx.error.code,
                                    message: String(ctx.error && ctx.error.message) }));
    sub.on('unsubscribed', (ctx) => emit({ event: 'unsubscribed', channel, code: ctx.code }));
  }
  sub.subscribe();
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if ('sub_token' in cmd) {
    answerToken(cmd.sub_token, cmd.token);
  } else if ('token' in cmd && !('subscribe' in cmd)) {
    answerToken('', cmd.token);
  } else if ('subscribe' in cmd) {
    subscribe(cmd.subscribe, cmd.token, cmd.delta, cmd.data);
  } else if ('unsubscribe' in cmd) {
    const sub = subs.get(cmd.unsubscribe);
    if (sub) sub.unsubscribe();
  } else if ('publish' in cmd) {
    const channel = cmd.publish;
    client.publish(channel, cmd.data).then(
      () => emit({ event: 'published', channel }),
      (err) => emit({ event: 'publish_error', channel, code: err && err.code, message: String(err && err.message) }));
  } else if ('disconnect' in cmd) {
    client.disconnect();
  } else if ('history' in cmd) {
    const channel = cmd.history;
    const opts = { limit: cmd.limit };
    if (cmd.since) opts.since = cmd.since;
    if (cmd.reverse) opts.reverse = true;
    subs.get(channel).history(opts).then(
      (r) => emit({ event: 'history', channel, epoch: r.epoch, offset: Number(r.offset),
                    publications: r.publications.map((p) => ({ offset: Number(p.offset), data: p.data })) }),
      (err) => emit({ event: 'history_error', channel, code: err && err.code }));
  } else if ('presence_stats' in cmd) {
    const channel = cmd.presence_stats;
    subs.get(channel).presenceStats().then(
      (r) => emit({ event: 'presence_stats', channel, clients: r.numClients, users: r.numUsers }),
      (err) => emit({ event: 'presence_error', channel, code: err && err.code }));
  } else if ('presence' in cmd) {
    const channel = cmd.presence;
    subs.get(channel).presence().then(
      (r) => emit({ event: 'presence', channel, clients: r.clients }),
      (err) => emit({ event: 'presence_error', channel, code: err && err.code }));
  } else if ('delta_stats' in cmd) {
    emit({ event: 'delta_stats', channel: cmd.delta_stats, ...subs.get(cmd.delta_stats).deltaStats() });
  } else if ('drop' in cmd) {
    // Emitted once the socket is gone: whatever the server sends from now on is lost.
    if (lastSocket) lastSocket.terminate();
    emit({ event: 'dropped' });
  }
});
rl.on('close', () => { client.disconnect(); process.exit(0); });
// Never outlive the test that started us.
setTimeout(() => { emit({ event: 'error', message: 'node client timeout' }); process.exit(3); }, 120000).unref();

client.connect();
