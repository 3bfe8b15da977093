#!/usr/bin/python3
"""permessage-deflate end to end (issue 14): a broadcast is compressed once, whichever
shards its subscribers are on, and each subscriber gets the variant it negotiated; short
messages go plain; real third-party clients (Node `ws` with perMessageDeflate, Python
`websockets`, which offers it by default) chat through a room compressing both ways.
The wire-level cases (negotiation, sizes, bombs, RSV1 misuse) are the conformance suite's
deflate group."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from conformance import wire  # noqa: E402

try:
    import websockets
except ImportError:  # scripts/setup.sh --test installs python3-websockets
    websockets = None

OFFER = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}


def member(srv, room, deflate):
    """A raw client in `room`, offering permessage-deflate or not."""
    if h.TLS:
        wire.WRAP = h.TlsSocket
    c = wire.Conn(srv.port).handshake(f"/{room}", OFFER if deflate else None)
    h.check(c.deflate == deflate, f"negotiated {c.response_headers.get('sec-websocket-extensions')!r}")
    return c


def next_event(node, kind, timeout=10):
    """The node client's next `kind` event (anything else on the way but notices fails)."""
    while True:
        ev = node.events.get(timeout=timeout)
        if ev["event"] == kind:
            return ev
        h.check(ev["event"] not in ("error", "exit", "close", "garbage"), f"node: {ev}; {node.stderr()}")


@test
def a_broadcast_is_compressed_once_for_every_shard_and_plain_for_the_rest():
    with h.Server("--threads", "2", "--announce", "off") as srv:
        zipped = [member(srv, "room", True) for _ in range(6)]  # over both shards
        plain = [member(srv, "room", False) for _ in range(2)]
        sender = member(srv, "room", False)
        text = ('{"comment":"\u5f39\u5e55 %d","user":"viewer"}' * 40).encode()
        sender.send_frame(wire.OP_TEXT, text)
        want = f"ID{sender.sock.getsockname()[1]}: ".encode() + text
        for c in zipped:
            c.expect_message(wire.OP_TEXT, want, compressed=True)
        for c in plain + [sender]:
            c.expect_message(wire.OP_TEXT, want, compressed=False)
        m = h.metrics(srv)
        h.check(h.metric(m, "ringcast_messages_deflated_total") == 1, "compressed once for both shards")
        h.check(h.metric(m, "ringcast_deflate_connections_total") == 6, "six negotiated it")
        # Below --deflate-min-size (128): plain to everyone.
        sender.send_frame(wire.OP_TEXT, b"short")
        for c in zipped:
            c.expect_message(wire.OP_TEXT, want[:want.index(b" ") + 1] + b"short", compressed=False)
        h.check(h.metric(h.metrics(srv), "ringcast_messages_deflated_total") == 1, "short ones are not compressed")
        for c in zipped + plain + [sender]:
            c.close_socket()


@test
def deflate_off_sends_everything_plain():
    with h.Server("--announce", "off", "--deflate", "off") as srv:
        a, b = member(srv, "r", False), wire.Conn(srv.port).handshake("/r", OFFER)
        h.check(not b.deflate, "declined")
        a.send_frame(wire.OP_TEXT, b"x" * 1000)
        b.expect_message(wire.OP_TEXT, f"ID{a.sock.getsockname()[1]}: ".encode() + b"x" * 1000, compressed=False)
        a.close_socket()
        b.close_socket()


@test
def node_ws_and_python_websockets_chat_compressed_both_ways():
    if websockets is None:
        raise h.SkipTest("python3-websockets is missing")
    if h.TLS:
        raise h.SkipTest("the python client here speaks plain ws")
    if not os.path.isfile(os.path.join(h.NODE_DIR, "node_modules", "ws", "package.json")):
        raise h.SkipTest("node ws is missing (scripts/setup.sh --test installs it)")
    with h.Server("--announce", "off") as srv:
        node = h.NodeProcess("chat_client.js", srv.url("/lobby"), "--deflate")
        try:
            opened = next_event(node, "open")
            h.check(opened["extensions"].startswith("permessage-deflate"), f"node ws: {opened}")
            big = "ticker BTC-USD 101.25 " * 100

            async def python_side():
                async with websockets.connect(srv.url("/lobby"), max_size=None, ping_interval=None) as ws:
                    h.check(ws.response_headers.get("Sec-WebSocket-Extensions", "").startswith("permessage-deflate"),
                            "websockets negotiated it")
                    node.cmd(send=big)  # compressed by node, inflated by ringcast, compressed again
                    got = await asyncio.wait_for(ws.recv(), 10)
                    h.check(got == f"ID{opened['port']}: {big}", f"python got {got[:60]!r}")
                    await ws.send(big + "back")
                    return ws.local_address[1]

            port = asyncio.run(python_side())
            own = next_event(node, "message")  # the room echoes its own message first
            h.check(own["data"] == f"ID{opened['port']}: {big}", f"node's own: {own['data'][:60]!r}")
            got = next_event(node, "message")
            h.check(got["data"] == f"ID{port}: {big}back", f"node got {got['data'][:60]!r}")
        finally:
            node.kill()
        m = h.metrics(srv)
        h.check(h.metric(m, "ringcast_deflate_connections_total") == 2, "both negotiated it")
        h.check(h.metric(m, "ringcast_inflated_bytes_total") >= 2 * len(big), "both sent compressed")
        h.check(h.metric(m, "ringcast_messages_deflated_total") >= 2, "both got compressed broadcasts")


if __name__ == "__main__":
    h.main()
