"""Chat-room semantics: names, broadcast to every client (sender included), per-sender
order, join/leave notices (and --announce off), room isolation."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402


@test
def sender_gets_its_own_message_with_its_name():
    with h.Server() as srv:
        c = h.RawClient(srv.port)
        try:
            c.send_text("hello")
            got = h.recv_texts_until(c, lambda t: not h.is_notice(t), what="own message")
            h.check(got[-1] == f"{c.name}: hello", f"expected {c.name!r}: hello, got {got[-1]!r}")
            c.send_text("")
            got = h.recv_texts_until(c, lambda t: not h.is_notice(t), what="empty message")
            h.check(got[-1] == f"{c.name}: ", f"empty message came back as {got[-1]!r}")
        finally:
            c.close()


@test
def unicode_text_is_broadcast_byte_exact():
    text = "héllo wörld ✓ 𝄞 日本語 \u0000 end"
    with h.Server() as srv:
        a, b = h.open_clients(srv.port, 2)
        try:
            a.send_text(text)
            for c in (a, b):
                got = h.recv_chat(c, 1)
                h.check(got == [(a.name, text)], f"{c.name} got {got!r}")
        finally:
            h.close_all([a, b])


@test
def join_and_leave_are_announced_to_the_room():
    with h.Server() as srv:
        a = h.RawClient(srv.port)
        try:
            b = h.RawClient(srv.port)
            h.recv_texts_until(a, lambda t: t == f"{b.name} joined", what=f"'{b.name} joined'")
            c = h.RawClient(srv.port)
            for x in (a, b):
                h.recv_texts_until(x, lambda t: t == f"{c.name} joined", what=f"'{c.name} joined'")
            b.close()
            for x in (a, c):
                got = h.recv_texts_until(x, lambda t: t == f"{b.name} left", what=f"'{b.name} left'")
                h.check(all(h.is_notice(t) for t in got), f"{x.name}: unexpected {got!r}")
            # An abrupt TCP close (no close frame) is a leave too.
            c.sock.close()
            h.recv_texts_until(a, lambda t: t == f"{c.name} left", what=f"'{c.name} left' after RST/EOF")
        finally:
            a.close()


@test
def announce_off_sends_no_join_or_leave_notices_but_chat_flows():
    with h.Server("--announce", "off") as srv:
        a = h.RawClient(srv.port)
        b = h.RawClient(srv.port)
        c = h.RawClient(srv.port, "/other")
        try:
            # b's join: nothing reaches a. The first text a sees is b's message, not a notice.
            h.expect_silence(a, 0.3)
            b.send_text("hi")
            for x in (a, b):
                h.check(x.recv_text(timeout=5) == f"{b.name}: hi", f"{x.name}: b's message first")
            # A later join, a clean leave and an abrupt one: still silence for the others.
            d = h.RawClient(srv.port)
            h.expect_silence(a, 0.3)
            d.close()
            e = h.RawClient(srv.port)
            e.sock.close()
            for x in (a, b, c):
                h.expect_silence(x, 0.3)
            h.wait_until(lambda: h.metric(h.metrics(srv), "ringcast_connections") == 3,
                         what="d and e gone")
            # Messages still go to every member (sender included) and stay in their room.
            a.send_text("still here")
            for x in (a, b):
                h.check(x.recv_text(timeout=5) == f"{a.name}: still here", f"{x.name}: a's message")
            c.send_text("elsewhere")
            h.check(c.recv_text(timeout=5) == f"{c.name}: elsewhere", "other room's own message")
            for x in (a, b):
                h.expect_silence(x, 0.3)
        finally:
            h.close_all([a, b, c])


@test
def twenty_clients_all_receive_every_message_in_order():
    n, per_client = 20, 5
    with h.Server() as srv:
        clients = h.open_clients(srv.port, n)
        try:
            names = {c.name for c in clients}
            h.check(len(names) == n, "client ports are not unique")
            for k in range(per_client):
                for i, c in enumerate(clients):
                    c.send_text(f"msg {i}.{k} from {c.name}")
            for r in clients:
                got = h.recv_chat(r, n * per_client, timeout=30)
                by_sender = {}
                for sender, body in got:
                    h.check(sender in names, f"{r.name}: unknown sender {sender}")
                    by_sender.setdefault(sender, []).append(body)
                for i, c in enumerate(clients):
                    want = [f"msg {i}.{k} from {c.name}" for k in range(per_client)]
                    h.check(by_sender.get(c.name) == want,
                            f"{r.name} got from {c.name}: {by_sender.get(c.name)!r}, want {want!r}")
            for r in clients:
                h.expect_silence(r, 0.05, ignore_notices=True)
        finally:
            h.close_all(clients)


@test
def rooms_are_isolated():
    with h.Server() as srv:
        a1, a2 = h.open_clients(srv.port, 2, "/alpha")
        b1 = h.RawClient(srv.port, "/beta")
        d1 = h.RawClient(srv.port, "/")
        everyone = [a1, a2, b1, d1]
        try:
            # a2's join may be announced from another shard: it must reach a1 before the
            # silence checks below, or it would look like a leak.
            h.recv_texts_until(a1, lambda t: t == f"{a2.name} joined", what="a2's join")
            a1.send_text("secret alpha")
            for c in (a1, a2):
                h.check(h.recv_chat(c, 1) == [(a1.name, "secret alpha")], f"{c.name}: alpha message")
            b1.send_text("beta marker")
            d1.send_text("default marker")
            for c, marker, sender in ((b1, "beta marker", b1.name), (d1, "default marker", d1.name)):
                got = h.recv_texts_until(c, lambda t, m=marker: t.endswith(": " + m), what=marker)
                for t in got:
                    h.check("alpha" not in t, f"{c.name} in another room saw {t!r}")
                    h.check(not t.startswith(f"{a1.name}") and not t.startswith(f"{a2.name}"),
                            f"{c.name} saw alpha member's notice/message {t!r}")
                h.check(got[-1] == f"{sender}: {marker}", f"{c.name}: got {got[-1]!r}")
            # Nothing from the other rooms leaks into alpha either.
            h.expect_silence(a1, 0.3)
            h.expect_silence(a2, 0.3)
            # Leaving alpha is not announced in beta.
            a2.close()
            h.recv_texts_until(a1, lambda t: t == f"{a2.name} left", what="alpha leave")
            h.expect_silence(b1, 0.3)
        finally:
            h.close_all(everyone)


@test
def same_room_name_means_same_room_across_connections():
    with h.Server() as srv:
        a = h.RawClient(srv.port, "/room42")
        b = h.RawClient(srv.port, "/room42")
        try:
            b.send_text("x")
            h.check(h.recv_chat(a, 1) == [(b.name, "x")], "room42 message")
        finally:
            h.close_all([a, b])


@test
def a_departed_client_does_not_block_the_room():
    with h.Server() as srv:
        clients = h.open_clients(srv.port, 5)
        try:
            gone = clients.pop(2)
            gone.sock.close()
            for c in clients:
                h.recv_texts_until(c, lambda t: t == f"{gone.name} left", what="leave notice")
            clients[0].send_text("still here")
            for c in clients:
                h.check(h.recv_chat(c, 1) == [(clients[0].name, "still here")], f"{c.name}")
        finally:
            h.close_all(clients)


@test
def binary_is_relayed_unchanged_to_the_room():
    # engine/server.hpp: binary messages in a chat room are relayed as they are (no name).
    data = bytes(range(256)) * 3 + b"\xff\xfe"
    with h.Server() as srv:
        a, b = h.open_clients(srv.port, 2, "/bin")
        other = h.RawClient(srv.port, "/elsewhere")
        try:
            a.send(h.OP_BINARY, data)
            for c in (a, b):
                while True:
                    op, pl = c.recv_message(timeout=5)
                    if op == h.OP_TEXT and h.is_notice(pl.decode()):
                        continue
                    break
                h.check((op, pl) == (h.OP_BINARY, data), f"{c.name}: got op {op}, {pl[:40]!r}")
            h.expect_silence(other, 0.3, ignore_notices=True)
            # Text after binary still carries the name.
            b.send_text("text again")
            h.check(h.recv_chat(a, 1) == [(b.name, "text again")], "text after binary")
        finally:
            h.close_all([a, b, other])


@test
def echo_is_private_not_a_room():
    with h.Server() as srv:
        a, b = h.open_clients(srv.port, 2, "/echo")
        room = h.RawClient(srv.port, "/")
        try:
            a.send_text("just for me")
            h.check(a.recv_message(timeout=5) == (h.OP_TEXT, b"just for me"), "echo")
            h.expect_silence(b, 0.3)
            h.expect_silence(room, 0.3, ignore_notices=True)
        finally:
            h.close_all([a, b, room])



def lines_reach_both(srv, a, b, lines, gap):
    """`a` says `lines`, `gap` seconds apart; both members get them all, in order. Returns
    the send operations and messages out the server counted meanwhile."""
    before = h.metrics(srv)
    for text in lines:
        a.send_text(text)
        time.sleep(gap)
    for c in (a, b):
        got = h.recv_chat(c, len(lines))
        h.check(got == [(a.name, t) for t in lines], f"{c.name} got {got!r}")
    after = h.metrics(srv)
    return (h.metric(after, "ringcast_sends_total") - h.metric(before, "ringcast_sends_total"),
            h.metric(after, "ringcast_messages_out_total") - h.metric(before, "ringcast_messages_out_total"))


@test
def coalesce_holds_broadcasts_into_fewer_sends_without_losing_any():
    # 20 lines 10 ms apart: sent at once, each is one send per member; held for 300 ms,
    # they ride in one or two sends. Every line still arrives, in order, to every member.
    lines = [f"line {i}" for i in range(20)]
    with h.Server("--coalesce", "300ms", "--announce", "off") as srv:
        a, b = h.open_clients(srv.port, 2)
        try:
            sends, deliveries = lines_reach_both(srv, a, b, lines, 0.01)
            h.check(deliveries == 2 * len(lines), f"{deliveries} deliveries")
            h.check(sends * 3 <= deliveries, f"{sends} sends for {deliveries} deliveries: not coalesced")
            # A reply to the client's own frame is not held: the pong comes well before 300 ms.
            t0 = time.monotonic()
            a.send(h.OP_PING, b"p")
            while True:
                _, op, payload = a.recv_frame(timeout=5)
                if op == h.OP_PONG:
                    break
            h.check(payload == b"p", f"pong payload {payload!r}")
            h.check(time.monotonic() - t0 < 0.2, "the pong waited for the coalesce timer")
        finally:
            h.close_all([a, b])


@test
def coalesce_auto_holds_nothing_on_an_idle_shard():
    # Lines 20 ms apart into a small room: each pass is microseconds, so auto holds nothing:
    # every line is its own send, as without --coalesce; all arrive, in order.
    lines = [f"line {i}" for i in range(10)]
    with h.Server("--coalesce", "auto", "--announce", "off", "--threads", "1") as srv:
        a, b = h.open_clients(srv.port, 2)
        try:
            sends, deliveries = lines_reach_both(srv, a, b, lines, 0.02)
            # (the sends count the first /metrics answer too)
            h.check(deliveries == 2 * len(lines) and sends >= deliveries, f"{sends} sends for {deliveries} deliveries")
        finally:
            h.close_all([a, b])


if __name__ == "__main__":
    h.main()
