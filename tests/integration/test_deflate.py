#!/usr/bin/python3
"""permessage-deflate end to end (issue 14): a broadcast is compressed once, whichever
shards its subscribers are on, and each subscriber gets the variant it negotiated; short
messages go plain; real third-party clients (Node `ws` with perMessageDeflate, Python
`websockets`, which offers it by default) chat through a room compressing both ways.
The wire-level cases (negotiation, sizes, bombs, RSV1 misuse) are the conformance suite's
deflate group."""
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from conformance import wire  # noqa: E402
from protocol_clients import API, OPEN, PATH, call, server  # noqa: E402

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


@test
def a_turns_small_broadcasts_are_combined_per_variant():
    # Four messages in one write reach the room in one turn, so the shard copies them into
    # one frame per variant: deflate members get each long one compressed, in order.
    with h.Server("--announce", "off") as srv:
        zipped = [member(srv, "room", True) for _ in range(3)]
        plain = member(srv, "room", False)
        sender = member(srv, "room", False)
        texts = [b"price BTC-USD 101.25 " * 15, b"short", b"price ETH-USD 3.5 " * 20, b"q" * 600]
        sender.send(b"".join(wire.frame(wire.OP_TEXT, t) for t in texts))
        prefix = f"ID{sender.sock.getsockname()[1]}: ".encode()
        for c in zipped:
            for t in texts:
                c.expect_message(wire.OP_TEXT, prefix + t, compressed=len(t) > 100)
        for c in [plain, sender]:
            for t in texts:
                c.expect_message(wire.OP_TEXT, prefix + t, compressed=False)
        h.check(h.metric(h.metrics(srv), "ringcast_messages_deflated_total") == 3, "each long one compressed once")
        for c in zipped + [plain, sender]:
            c.close_socket()


PUSHES = {"allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True}
CHANNELS = dict(API, client=dict(OPEN["client"], ping_interval="25s"),
                channel=dict(OPEN["channel"], namespaces=[
                    {"name": "feed", **PUSHES},
                    {"name": "px", **PUSHES, "conflate": True},
                    {"name": "book", **PUSHES, "history_size": 10, "history_ttl": "60s",
                     "allowed_delta_types": ["fossil"]}]))


def subscriber(srv, channel, deflate, **params):
    """A raw protocol client subscribed to `channel`, offering permessage-deflate or not."""
    if h.TLS:
        wire.WRAP = h.TlsSocket
    c = wire.Conn(srv.port).handshake(PATH, OFFER if deflate else None)
    h.check(c.deflate == deflate, "negotiated as offered")
    c.send_frame(wire.OP_TEXT, json.dumps({"id": 1, "connect": {}}).encode() + b"\n" +
                 json.dumps({"id": 2, "subscribe": {"channel": channel, **params}}).encode())
    replies = []
    while len(replies) < 2:
        replies += c.recv_message()[1].split(b"\n")
    h.check(all(b'"error"' not in r for r in replies), f"subscribe {channel}: {replies}")
    return c


@test
def channel_publications_go_to_each_subscriber_in_its_variant():
    # Plain fan-out, a conflating channel and a delta channel (each form compressed once).
    with server(CHANNELS) as srv:
        book = {"bids": [[50000 - k, 100 + k] for k in range(20)], "asks": [[50001 + k, 200] for k in range(20)]}
        for channel, params in [("feed:a", {}), ("px:a", {}), ("book:a", {"delta": "fossil"})]:
            zipped = [subscriber(srv, channel, True, **params) for _ in range(2)]
            plain = subscriber(srv, channel, False, **params)
            before = h.metric(h.metrics(srv), "ringcast_messages_deflated_total")
            for seq in range(3):
                status, answer = call(srv, "publish", {"channel": channel, "data": dict(book, seq=seq), "delta": True})
                h.check(status == 200, f"publish {channel}: {status} {answer}")
                _, want = plain.recv_message(compressed=False)
                for c in zipped:  # a delta (under --deflate-min-size) goes plain
                    c.expect_message(wire.OP_TEXT, want, compressed=len(want) >= 128)
            made = h.metric(h.metrics(srv), "ringcast_messages_deflated_total") - before
            # Only what a deflate subscriber took: the book's full form once, then deltas.
            want_made = 1 if channel == "book:a" else 3
            h.check(made == want_made, f"{channel}: {made} compressions for 3 publications")
            for c in zipped + [plain]:
                c.close_socket()


if __name__ == "__main__":
    h.main()
