#!/usr/bin/python3
"""Chat-room peer for benchmarks: every text message from any client goes to every client
(sender included) as `ID<client port>: <text>`, like ringcast's chat room.

Usage: /usr/bin/python3 python_websockets_chat.py [--host 127.0.0.1] [--port 9001]
                                                  [--cert FILE --key FILE]
With --cert and --key (PEM) it serves wss:// instead of ws://.
Needs Debian's python3-websockets (10.x): run it with /usr/bin/python3.
"""
import argparse
import asyncio
import ssl

import websockets

clients = set()


async def chat(ws, _path=None):
    clients.add(ws)
    name = f"ID{ws.remote_address[1]}: "
    try:
        async for msg in ws:
            if isinstance(msg, str):
                # broadcast() writes without awaiting drains: a slow client cannot stall the room.
                websockets.broadcast(clients, name + msg)
    except websockets.ConnectionClosed:
        pass
    finally:
        clients.discard(ws)


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9001)
    p.add_argument("--cert", help="PEM certificate (chain): serve wss:// (needs --key)")
    p.add_argument("--key", help="PEM private key of --cert")
    a = p.parse_args()
    if (a.cert is None) != (a.key is None):
        p.error("--cert and --key go together")
    tls = None
    if a.cert is not None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(a.cert, a.key)
    # backlog 4096: a 10,000-connection burst must not stall on SYN retransmits.
    async with websockets.serve(chat, a.host, a.port, backlog=4096, max_size=1 << 20,
                                ping_interval=None, compression=None, ssl=tls):
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
