// A WebSocket client built on the `ws` package, driven by ringcast's integration tests.
//   node chat_client.js ws://127.0.0.1:PORT/room [--deflate]   (or wss://: NODE_EXTRA_CA_CERTS for trust)
//   --deflate: offer permessage-deflate and compress every message sent (threshold 0)
// stdin: one JSON command per line: {"send": "text"} | {"sendBinary": "<base64>"} |
//        {"ping": "text"} | {"close": 1000}
// stdout: one JSON event per line: {"event": "open", "port": <local port>} |
//        {"event": "message", "binary": false, "data": "..."} (binary data as base64) |
//        {"event": "pong", "data": "..."} | {"event": "close", "code": N, "reason": "..."} |
//        {"event": "error", "message": "..."}
'use strict';
const readline = require('readline');
const WebSocket = require('ws');

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: node chat_client.js ws://HOST:PORT/PATH\n');
  process.exit(2);
}
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const deflate = process.argv.includes('--deflate');
const ws = new WebSocket(url, { perMessageDeflate: deflate ? { threshold: 0 } : false, maxPayload: 64 * 1024 * 1024 });

ws.on('open', () => emit({ event: 'open', port: ws._socket.localPort, extensions: ws.extensions }));
ws.on('message', (data, isBinary) => {
  emit({ event: 'message', binary: isBinary,
         data: isBinary ? Buffer.from(data).toString('base64') : data.toString('utf8') });
});
ws.on('pong', (data) => emit({ event: 'pong', data: data.toString('utf8') }));
ws.on('close', (code, reason) => {
  emit({ event: 'close', code, reason: reason.toString('utf8') });
  process.exit(0);
});
ws.on('error', (err) => emit({ event: 'error', message: String(err && err.message) }));

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if ('send' in cmd) ws.send(cmd.send);
  else if ('sendBinary' in cmd) ws.send(Buffer.from(cmd.sendBinary, 'base64'));
  else if ('ping' in cmd) ws.ping(cmd.ping);
  else if ('close' in cmd) ws.close(cmd.close);
});
rl.on('close', () => { if (ws.readyState === WebSocket.OPEN) ws.close(1000); });
// Never outlive the test that started us.
setTimeout(() => { emit({ event: 'error', message: 'node client timeout' }); process.exit(3); }, 120000).unref();
