// The real `centrifuge` SDK (npm), driven by ringcast's client-protocol tests.
//   node centrifuge_client.js ws://127.0.0.1:PORT/connection/websocket [name]
//   (wss://: NODE_EXTRA_CA_CERTS for trust)
// stdin: one JSON command per line:
//   {"subscribe": "chan"} | {"unsubscribe": "chan"} |
//   {"publish": "chan", "data": <json>} | {"disconnect": true}
// stdout: one JSON event per line:
//   {"event": "connected", "client": "...", "port": <local port>} |
//   {"event": "disconnected", "code": N, "reason": "..."} | {"event": "connecting", "code": N} |
//   {"event": "subscribed", "channel": C} | {"event": "sub_error", "channel": C, "code": N} |
//   {"event": "unsubscribed", "channel": C, "code": N} |
//   {"event": "publication", "channel": C, "data": <json>} |
//   {"event": "published", "channel": C} | {"event": "publish_error", "channel": C, "code": N} |
//   {"event": "error", "message": "..."}
'use strict';
const readline = require('readline');
const WebSocket = require('ws');
const { Centrifuge } = require('centrifuge');

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

const client = new Centrifuge(url, {
  websocket: TrackedWebSocket,
  name: process.argv[3] || 'ringcast-test',
  minReconnectDelay: 200,
  maxReconnectDelay: 1000,
  timeout: 5000,
});
client.on('connecting', (ctx) => emit({ event: 'connecting', code: ctx.code }));
client.on('connected', (ctx) => {
  const port = lastSocket && lastSocket._socket ? lastSocket._socket.localPort : 0;
  emit({ event: 'connected', client: ctx.client, port });
});
client.on('disconnected', (ctx) => emit({ event: 'disconnected', code: ctx.code, reason: ctx.reason }));
client.on('error', (ctx) => emit({ event: 'error', message: String(ctx.error && ctx.error.message),
                                   code: ctx.error && ctx.error.code }));

const subs = new Map();
function subscribe(channel) {
  let sub = subs.get(channel);
  if (!sub) {
    sub = client.newSubscription(channel);
    subs.set(channel, sub);
    sub.on('subscribed', () => emit({ event: 'subscribed', channel }));
    sub.on('publication', (ctx) => emit({ event: 'publication', channel, data: ctx.data }));
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
  if ('subscribe' in cmd) {
    subscribe(cmd.subscribe);
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
  }
});
rl.on('close', () => { client.disconnect(); process.exit(0); });
// Never outlive the test that started us.
setTimeout(() => { emit({ event: 'error', message: 'node client timeout' }); process.exit(3); }, 120000).unref();

client.connect();
