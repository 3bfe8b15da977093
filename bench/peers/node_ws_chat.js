#!/usr/bin/env node
// Chat-room peer for benchmarks on Node's `ws`: every text message from any client goes to
// every client (sender included) as `ID<client port>: <text>`, like ringcast's chat room.
// Usage: node node_ws_chat.js [--host 127.0.0.1] [--port 9002]   (npm install in bench/peers)
'use strict';
const { WebSocketServer, WebSocket } = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = arg('--host', '127.0.0.1');
const port = Number(arg('--port', '9002'));
// perMessageDeflate off: every peer sends plain frames, as ringcast-load does not offer it.
// backlog 4096: a 10,000-connection burst must not stall on SYN retransmits.
const wss = new WebSocketServer({ host, port, backlog: 4096, perMessageDeflate: false, clientTracking: true,
                                  maxPayload: 1 << 20 });

wss.on('connection', (ws, req) => {
  const name = `ID${req.socket.remotePort}: `;
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    // Encode the text once; every client gets the same bytes (ws frames each send itself).
    const out = Buffer.from(name + data.toString());
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(out, { binary: false });
    }
  });
  ws.on('error', () => {});
});
wss.on('listening', () => process.stderr.write(`node ws chat on ws://${host}:${port}/\n`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
