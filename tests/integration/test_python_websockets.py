"""A third-party client: Python `websockets` (Debian's python3-websockets, asyncio API)
chats, echoes text/binary/large messages and pings through a real ringcast."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402

try:
    import websockets
except ImportError:  # checked in main(): a missing package is a setup problem, reported clearly
    websockets = None


def connect(url, **kw):
    # compression=None: the engine may or may not negotiate permessage-deflate; these
    # tests are about plain frames (ping_interval=None: no library pings behind our back).
    if url.startswith("wss://"):  # RINGCAST_TLS=1: trust the harness' certificate
        kw.setdefault("ssl", h.client_tls())
    return websockets.connect(url, max_size=None, compression=None, ping_interval=None,
                              open_timeout=10, close_timeout=5, **kw)


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def next_chat(ws, timeout=10):
    while True:
        msg = await asyncio.wait_for(ws.recv(), timeout)
        if isinstance(msg, str) and h.is_notice(msg):
            continue
        return msg


@test
def several_clients_chat():
    async def go(srv):
        clients = [await connect(srv.url("/pyroom")) for _ in range(5)]
        try:
            names = [f"ID{ws.local_address[1]}" for ws in clients]
            for i, ws in enumerate(clients):
                for k in range(3):
                    await ws.send(f"py {i} {k} ✓")
            for r in clients:
                got = [await next_chat(r) for _ in range(15)]
                for i, name in enumerate(names):
                    mine = [m for m in got if m.startswith(name + ": ")]
                    h.check(mine == [f"{name}: py {i} {k} ✓" for k in range(3)], f"{name}: {mine!r}")
        finally:
            for ws in clients:
                await ws.close()
        h.check(all(ws.close_code == 1000 for ws in clients), f"close codes {[ws.close_code for ws in clients]}")
    with h.Server() as srv:
        run(go(srv))


@test
def echo_text_binary_and_large():
    async def go(srv):
        async with connect(srv.url("/echo")) as ws:
            for msg in ("", "hello", "ünïcödé ✓" * 1000, b"", b"\x00\xff" * 40000,
                        "L" * (4 << 20), os.urandom(3 << 20)):
                await ws.send(msg)
                got = await asyncio.wait_for(ws.recv(), 30)
                h.check(type(got) is type(msg) and got == msg, f"echo of {type(msg).__name__} len {len(msg)}")
            # Fragmented send (an iterable of fragments).
            await ws.send(["frag", "mented ", "✓"])
            h.check(await asyncio.wait_for(ws.recv(), 10) == "fragmented ✓", "fragmented echo")
    with h.Server() as srv:
        run(go(srv))


@test
def library_ping_gets_pong():
    async def go(srv):
        async with connect(srv.url("/")) as ws:
            for payload in (b"", b"ping-payload"):
                waiter = await ws.ping(payload)
                await asyncio.wait_for(waiter, 5)
            latency = await asyncio.wait_for(ws.ping(), 5)
            h.check(latency is not None, "pong")
    with h.Server() as srv:
        run(go(srv))


@test
def oversize_message_closes_1009_in_the_library():
    async def go(srv):
        async with connect(srv.url("/echo")) as ws:
            await ws.send("x" * 2000)
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed:
                pass
            await asyncio.wait_for(ws.wait_closed(), 5)
            h.check(ws.close_code == 1009, f"close code {ws.close_code}")
    with h.Server("--max-message", "1000") as srv:
        run(go(srv))


@test
def server_shutdown_is_seen_as_1001():
    async def go(srv):
        async with connect(srv.url("/")) as ws:
            srv.proc.terminate()
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed:
                pass
            h.check(ws.close_code == 1001, f"close code {ws.close_code}")
    srv = h.Server()
    srv.start()
    try:
        run(go(srv))
        h.check(srv.proc.wait(10) == 0, "exit code")
    finally:
        srv.stop()


if __name__ == "__main__":
    if websockets is None:
        print("python3-websockets is not installed for /usr/bin/python3 (scripts/setup.sh --test installs it)")
        print("0 passed, 1 failed")
        sys.exit(1)
    h.main()
